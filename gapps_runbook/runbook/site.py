"""A site: one profile (one server's connection) bound to a transport, a clock and its provider.

Every step of :mod:`gapps_runbook.runbook` takes a :class:`Site`. It resolves the provider's endpoints
once (Google's built in, or discovery for ``--issuer``), refuses an issuer other than the one its client and
token belong to (they would be sent there), hands out the stored client and token with
errors that name the step to run, records each step's outcome, and rewords fix lines for providers
other than Google (:func:`in_provider_words`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from ..errors import STEP_CLIENT, ConfigError, InputError, NoToken, RunbookError
from ..oauth.clients import ClientConfig
from ..oauth.clock import SYSTEM_CLOCK, Clock, iso_utc
from ..oauth.endpoints import GOOGLE, Endpoints, resolve
from ..oauth.tokens import Token
from ..oauth.transport import RequestsTransport, Transport
from ..profile import audit
from ..profile.store import CLIENT_FILE, TOKEN_FILE, Profile, ProfileStore
from ..steps import by_record

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Site:
    """One profile plus the means to reach its provider.

    Args:
        profile: The profile on disk.
        transport: The HTTP seam.
        clock: Time source.
        issuer: Provider issuer URL. None: the profile's, else Google. Another issuer than the profile's is
            refused once the profile holds a client or a token (:meth:`endpoints`).
    """

    profile: Profile
    transport: Transport = field(default_factory=RequestsTransport)
    clock: Clock = SYSTEM_CLOCK
    issuer: str | None = None
    _endpoints: Endpoints | None = field(default=None, repr=False)

    @classmethod
    def open(
        cls,
        name: str = "default",
        *,
        home: Path | None = None,
        issuer: str | None = None,
        transport: Transport | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> Site:
        """Open (creating if needed) the profile ``name`` under ``home``."""
        profile = ProfileStore(home).profile(name)
        return cls(profile, transport or RequestsTransport(), clock, issuer)

    @property
    def endpoints(self) -> Endpoints:
        """The provider's endpoints: ``issuer``, else the profile's, else Google's built-in values.

        Raises:
            InputError: ``issuer`` is not the profile's and the profile holds a client or a token, which
                would be sent to it (checked before any request).
        """
        if self._endpoints is None:
            stored = self.profile.load_settings().get("issuer")
            if self.issuer:
                self._check_issuer(self.issuer, stored)
            issuer = self.issuer or stored
            endpoints = self._endpoints = resolve(self.transport, issuer)
            if self.issuer:  # remembered, so later steps of this site need no --issuer
                self.profile.update_settings(lambda s: s.update(issuer=endpoints.issuer))
        return self._endpoints

    def _check_issuer(self, issuer: str, stored: str | None) -> None:
        """Refuse ``issuer`` when it is not ``stored``, the one the profile's client and token were made with."""
        own = stored or GOOGLE.issuer
        holds = any(os.path.lexists(self.profile.file(name)) for name in (CLIENT_FILE, TOKEN_FILE))
        if issuer.rstrip("/") == own.rstrip("/") or not holds:
            return
        raise InputError(
            f"profile {self.profile.name!r} belongs to the issuer {own}, not {issuer}: its client and token are "
            "sent to their own provider only",
            fix=f"leave out --issuer (and GAPPS_RUNBOOK_ISSUER): the profile remembers its issuer; for {issuer}, "
                "use another --profile",
        )

    def client(self) -> ClientConfig:
        """The stored client, or :class:`ConfigError` pointing at step 02."""
        client = self.profile.load_client()
        if client is None and not self.profile.exists():  # a mistyped --profile must not read as "set one up"
            known = self.profile.store.names()
            listed = f"the profiles here are {', '.join(known)}" if known else "there is no profile here yet"
            raise ConfigError(f"there is no profile {self.profile.name!r} ({listed})",
                              fix=f"check the profile name (and the runbook home), or set this one up: {STEP_CLIENT}")
        if client is None:
            raise ConfigError(f"profile {self.profile.name!r} has no OAuth client yet", fix=f"run {STEP_CLIENT}")
        return client

    def token(self) -> Token:
        """The stored token, or :class:`NoToken` (exit 7) pointing at step 03; the client comes first."""
        self.client()
        token = self.profile.load_token()
        if token is None:
            raise NoToken(f"profile {self.profile.name!r} holds no token (never authorized, or revoked)")
        return token

    def mark(self, step: str, status: str, detail: str = "", *, inputs: Mapping[str, Any] | None = None) -> None:
        """Record a step's outcome (judged by :mod:`.state`) and append it to the audit log.

        The step record holds outcome, time (UTC), operator, the sha256 of the canonical JSON of the
        step's non-secret ``inputs`` and the values of the facts the step rests on (``Step.rests_on``),
        so a later change of one of them makes the record stale; the audit line adds the redacted inputs.
        """
        with self.profile.locked():
            self.record(step, status, detail, inputs=inputs)
            self.audit(step, status, detail, inputs)

    def record(self, step: str, status: str, detail: str = "", *, inputs: Mapping[str, Any] | None = None) -> None:
        """Write a step's record only (:meth:`mark` without the audit line)."""
        at, who, digest = self._stamp(inputs)
        found = by_record(step)
        facts = self.facts()
        rests_on = {name: facts.get(name, "") for name in (found.rests_on if found else ())}

        def update(settings: dict[str, Any]) -> None:
            settings.setdefault("steps", {})[step] = {"status": status, "at": at, "detail": detail, "operator": who,
                                                      "inputs_sha256": digest, "rests_on": rests_on}

        self.profile.update_settings(update)

    def facts(self) -> dict[str, str]:
        """The profile's facts that step records rest on (``Step.rests_on``): no secret, no network call."""
        settings = self.profile.load_settings()
        client = self.profile.load_client()
        token = self.profile.load_token()
        flow = str(settings.get("flow") or "")
        return {"flow": flow if flow in ("device", "desktop") else "",  # "auto": step 01 has not chosen yet
                "scopes": " ".join(sorted(settings.get("scopes") or ())),
                "client_id": client.client_id if client else "", "client_type": client.client_type if client else "",
                "token_id": token.token_id if token else ""}

    def audit(self, step: str, outcome: str, detail: str = "", inputs: Mapping[str, Any] | None = None) -> None:
        """Append one line to the profile's audit log only (the step record is left as it is)."""
        at, who, digest = self._stamp(inputs)
        audit.append(self.profile, {"when": at, "who": who, "step": step, "outcome": outcome, "detail": detail,
                                    "parameters": dict(inputs or {}), "inputs_sha256": digest})

    def _stamp(self, inputs: Mapping[str, Any] | None) -> tuple[str, str, str]:
        at = iso_utc(self.clock.time())
        return at, audit.operator(), audit.inputs_hash(inputs or {})

    def foreign_issuer(self) -> str | None:
        """The issuer when it is known and not Google's dialect (its fix lines must not send people to Google)."""
        if self._endpoints is not None:
            return None if self._endpoints.google_dialect else self._endpoints.issuer
        return None


def in_provider_words(step: F) -> F:
    """Decorate a step ``fn(site, ...)``: a :class:`RunbookError` it raises at a provider other than
    Google gets a fix line naming that provider's pages, not Google's console (:meth:`RunbookError.for_provider`).
    """

    @functools.wraps(step)
    def wrapper(site: Site, *args: Any, **kwargs: Any) -> Any:
        try:
            return step(site, *args, **kwargs)
        except RunbookError as exc:
            issuer = site.foreign_issuer()
            if issuer is not None:
                exc.for_provider(issuer)
            raise

    return cast(F, wrapper)
