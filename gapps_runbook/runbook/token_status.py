"""Step 04, the token status panel: status (token id, expiry in seconds, scopes), refresh, verify, revoke, hand-off.

Who owns the refresh token: the profile, until it is handed off to an application at a provider that
rotates refresh tokens (RFC 9700 §4.14.2: each refresh retires the token it spent). From then on the
application alone refreshes it; the profile's settings record where (``handed_off``) and :func:`refresh`
refuses with a line naming the file. A provider "may rotate" once a refresh of the profile has returned a
new refresh token (settings ``refresh_token_rotation``) or when the settings say so; Google does not rotate.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from ..errors import (
    STEP_AUTHORIZE, InvalidGrant, NoToken, ProtocolError, RefreshInterrupted, RunbookError, TransportError,
    VerifyFailed,
)
from ..oauth import revocation, tokeninfo, tokens
from ..oauth import verify as verify_module
from ..oauth.clients import ClientConfig
from ..oauth.clock import iso_utc
from ..oauth.endpoints import GOOGLE_ISSUER
from ..oauth.transport import NO_RETRY, SAFE_RETRY, Transport
from ..profile import handoff as handoff_module
from ..profile import refresh_journal
from ..profile.store import Profile
from .site import Site, in_provider_words

REFRESH_LOCK_TIMEOUT = 120.0
"""Seconds a refresh may wait for another process's refresh of the same profile (3 attempts of 30 s and backoff)."""


@dataclass(frozen=True)
class TokenStatus:
    """The procedure's status panel: token id and expiry in seconds, plus what was granted.

    ``missing_scopes`` are the scopes requested at authorization that the provider withheld (the person
    unticked them on the consent screen); ``requested_since`` are scopes step 01 asks for now that were
    not requested when the token was authorized (authorize again to add them).

    ``refresh_interrupted`` is True while ``refresh.pending`` stands: a refresh was cut off and the stored
    refresh token may be used up; the token is then not usable until a refresh rolls forward or a new
    grant is stored (``has_refresh_token`` is False meanwhile). ``handed_off_to`` is the file of the
    application that owns the refresh token (:func:`handoff` at a rotating provider), else None; the
    profile may not refresh it then, so ``has_refresh_token`` is False too. ``refused_at`` is when the provider
    answered a refresh of this token with ``invalid_grant`` (revoked or expired), else None: the grant is over,
    whatever the local clock says, so ``has_refresh_token`` is False as well.
    """

    profile: str
    client_id: str | None
    token_id: str | None
    expires_in: int | None
    scopes: tuple[str, ...]
    missing_scopes: tuple[str, ...]
    account: str | None
    has_refresh_token: bool
    refresh_token_expires_in: int | None
    requested_since: tuple[str, ...] = ()
    refresh_interrupted: bool = False
    """A refresh was cut off while the provider may have rotated the refresh token (``refresh.pending``)."""
    handed_off_to: str | None = None
    """The application file that owns the refresh token since a hand-off at a provider that rotates them."""
    refused_at: str | None = None
    """When the provider refused this token's refresh token (``invalid_grant``), ISO 8601 UTC."""

    def to_json(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def status(site: Site) -> TokenStatus:
    """Step 04: what the profile holds, from the local clock; no network call.

    The grant is compared with the scopes requested at authorization (``authorized_scopes``, saved with
    the token); a profile authorized before they were saved has none, so nothing is called withheld.
    """
    client = site.profile.load_client()
    token = site.profile.load_token()
    now = site.clock.time()
    settings = site.profile.load_settings()
    requested = tuple(settings.get("scopes") or ())
    if token is None:
        return TokenStatus(site.profile.name, client and client.client_id, None, None, (), requested, None, False, None)
    at_authorization = tuple(settings.get("authorized_scopes") or ())
    withheld, _extra = tokeninfo.scope_diff(at_authorization, token.scopes)
    since, _extra = tokeninfo.scope_diff(requested, (*token.scopes, *withheld))
    refresh_left = None
    if token.refresh_token_expires_at is not None:
        refresh_left = max(0, int(token.refresh_token_expires_at - now))
    interrupted = refresh_journal.pending(site.profile) is not None
    owner = handed_off(settings, token)
    refused = _about(settings.get("refused"), token)
    return TokenStatus(
        site.profile.name, client and client.client_id, token.token_id,
        token.expires_in(now, site.clock.monotonic()), token.scopes, tuple(withheld), token.account,
        token.refresh_token is not None and not interrupted and not owner and not refused, refresh_left,
        tuple(since), interrupted, str(owner.get("to")) if owner else None, str(refused["at"]) if refused else None,
    )


def handed_off(settings: dict[str, Any], token: tokens.Token) -> dict[str, Any] | None:
    """The ``handed_off`` record when it is about the stored token (a new grant ends it), else None."""
    return _about(settings.get("handed_off"), token)


def _about(record: Any, token: tokens.Token) -> dict[str, Any] | None:
    """``record`` when it is a settings record about ``token`` (its ``token_issued_at``), else None."""
    if isinstance(record, dict) and record.get("token_issued_at") == token.issued_at:
        return record
    return None


def may_rotate(site: Site) -> bool:
    """Whether the provider may rotate refresh tokens: seen on a refresh of this profile, or set in its settings.

    Google never rotates (its refresh tokens live until revoked or unused for six months).
    """
    if site.endpoints.issuer == GOOGLE_ISSUER:
        return False
    return bool(site.profile.load_settings().get("refresh_token_rotation"))


def _refuse_if_handed_off(site: Site, token: tokens.Token) -> None:
    record = handed_off(site.profile.load_settings(), token)
    if record is not None:
        raise NoToken(
            f"profile {site.profile.name!r} handed its refresh token to the application at {record.get('to')} on "
            f"{record.get('at')}; the provider rotates refresh tokens, so only that file refreshes the grant",
            fix=f"let the application refresh; to take the grant back, authorize again ({STEP_AUTHORIZE})")


@in_provider_words
def refresh(site: Site) -> tokens.Token:
    """Step 04: refresh now (RFC 6749 §6), holding the profile lock from reading the token to storing the new one.

    The lock makes concurrent refreshes of one profile take turns, so each sends the newest refresh
    token (a provider that rotates them refuses a used one). The new token is written (atomic, fsync)
    before anything else is done with the answer, and :mod:`~gapps_runbook.profile.refresh_journal`
    explains an ``invalid_grant`` that follows a refresh cut off after the provider rotated the token.

    Raises:
        NoToken: Nothing to refresh (exit 7).
        RefreshInterrupted: An earlier refresh died after the provider rotated the token (exit 7).
        InvalidGrant: The grant is revoked or expired (exit 7).
    """
    client = site.client()
    with site.profile.locked(REFRESH_LOCK_TIMEOUT):
        token = site.token()
        _refuse_if_handed_off(site, token)
        old_id = token.token_id
        interrupted_at = refresh_journal.pending(site.profile)
        if interrupted_at is not None:
            token = _roll_forward(site, token)
        site.endpoints  # noqa: B018 - discovery first: a provider that cannot be reached leaves no refresh pending
        refresh_journal.begin(site.profile, now=site.clock.time())
        fresh = _refresh_once(site, client, token, interrupted_at)
        fresh = replace(fresh, account=fresh.account or token.account)
        site.profile.save_token(fresh, client, site.endpoints)
        refresh_journal.end(site.profile)
        site.profile.discard_token_temps()  # the stored token is the newest now
        if fresh.refresh_token and token.refresh_token and fresh.refresh_token != token.refresh_token:
            _note_rotation(site)
    site.mark("refresh", "ok", f"new token id {fresh.token_id}", inputs={"token_id": old_id})
    return fresh


def _roll_forward(site: Site, token: tokens.Token) -> tokens.Token:
    """After an interrupted refresh: the newer token a killed write left in a temp file, adopted; else ``token``."""
    adopted = site.profile.roll_forward_token()
    if adopted is None:
        return token
    site.audit("refresh", "rolled forward", "adopted the token an interrupted refresh had written but not renamed",
               {"token_id": adopted.token_id})
    return adopted


def _note_rotation(site: Site) -> None:
    """Remember that this provider rotates refresh tokens (a hand-off then proves without spending one)."""
    if not site.profile.load_settings().get("refresh_token_rotation"):
        site.profile.update_settings(lambda s: s.update(refresh_token_rotation="seen"))


def _refresh_once(site: Site, client: ClientConfig, token: tokens.Token, interrupted_at: str | None) -> tokens.Token:
    """One refresh, retried once after a lost answer; the journal is kept while the provider may have rotated unseen.

    A lost answer may have carried a rotated refresh token, so an ``invalid_grant`` on the retry (or
    after an earlier interrupted refresh) is reported as :class:`RefreshInterrupted`, not as a bare refusal.
    """
    try:
        try:
            return tokens.refresh(site.transport, site.endpoints, client, token, clock=site.clock, retry=NO_RETRY)
        except ProtocolError:
            raise  # an answer that is not the protocol (a portal's page) is not retried, as before
        except TransportError:
            interrupted_at = interrupted_at or iso_utc(site.clock.time())
            site.clock.sleep(SAFE_RETRY.initial)  # the rest of SAFE_RETRY's attempts: 3 in all, as for any refresh
            rest = dataclasses.replace(SAFE_RETRY, attempts=SAFE_RETRY.attempts - 1)
            return tokens.refresh(site.transport, site.endpoints, client, token, clock=site.clock, retry=rest)
    except InvalidGrant:
        if interrupted_at is None:
            refresh_journal.end(site.profile)
            refused = {"token_issued_at": token.issued_at, "at": iso_utc(site.clock.time())}
            site.profile.update_settings(lambda s: s.update(refused=refused))  # status: the grant is over
            raise
        raise RefreshInterrupted(
            f"a refresh of profile {site.profile.name!r} started at {interrupted_at} was interrupted after the "
            "provider had rotated the refresh token, so the stored one is used up"
        ) from None
    except TransportError:
        raise  # no answer: the provider may have rotated; the marker stays to explain what follows
    except RunbookError:
        refresh_journal.end(site.profile)  # the provider answered with a refusal: nothing was rotated
        raise


def fresh_token(site: Site) -> tokens.Token:
    """The stored token, refreshed first if the local clock says it is (about to be) expired.

    Either clock decides: a wall clock set back since receipt does not stretch the token's life,
    because the monotonic expiry stamped at receipt still runs out (docs/reliability.md C1).
    """
    token = site.token()
    if token.is_expired(site.clock.time(), monotonic=site.clock.monotonic()):
        token = refresh(site)
    return token


@in_provider_words
def verify(site: Site) -> verify_module.VerifyReport:
    """Step 04: the Calendar call must succeed and the Gmail call must be refused."""
    token = fresh_token(site)
    report = verify_module.verify(site.transport, site.endpoints, token, clock=site.clock, client=site.client())
    site.mark("verify", "ok" if report.ok else "failed", report.verdict, inputs={"scopes": list(token.scopes)})
    trouble = next((c for c in report.checks if c.network and not c.ok), None)
    if trouble is not None:  # no verdict on the token: network class (exit 6), not "authorize again"
        raise TransportError(f"verify could not finish: {trouble.api} {trouble.call}: {trouble.detail}")
    return report


def raise_for_verify(report: verify_module.VerifyReport) -> None:
    """Turn the first failed check into :class:`VerifyFailed` (a check that could not run is not a failure:
    a report that proved nothing is the caller's to refuse, see ``VerifyReport.proved_nothing``)."""
    for check in report.checks:
        if not check.ok and check.outcome not in ("skipped", "unverifiable"):
            raise VerifyFailed(
                f"verify failed: {check.api} {check.call} was expected {check.expected} but was {check.outcome}",
                fix=check.fix or None,
            )


@in_provider_words
def revoke(site: Site) -> bool:
    """Step 04: revoke at the provider (RFC 7009); the local copy is deleted only after a 200."""
    token = site.token()
    already = revocation.revoke(site.transport, site.endpoints, token, clock=site.clock, client=site.client())
    site.profile.delete_token()
    site.mark("revoke", "ok", f"token id {token.token_id}", inputs={"token_id": token.token_id})
    site.mark("authorize", "revoked", "the token was revoked: authorize again to restore API access")
    return bool(already)


@in_provider_words
def handoff(site: Site, to: Path, *, fmt: Literal["authorized_user", "env"] = "authorized_user",
            owner: str | None = None) -> handoff_module.HandoffResult:
    """Hand the token to the application's file (:mod:`gapps_runbook.profile.handoff`), keeping the grant alive.

    Held under the profile lock from reading the token to recording the owner, so a concurrent refresh
    runs wholly before (the file gets its token) or after (it refuses). At a provider that may rotate
    (:func:`may_rotate`) the refresh token is not spent: the token is refreshed first through the profile
    if its access token is about to expire, the file is written and its access token checked, and the
    profile records that the application owns the refresh token (:func:`refresh` then refuses). Elsewhere
    google-auth refreshes the file; if the provider rotates during that proof, the new token goes to the
    file and the profile records the application as the owner all the same.

    Raises:
        NoToken: Nothing to hand off, the profile already handed it off, or the provider refused (exit 7).
    """
    with site.profile.locked(REFRESH_LOCK_TIMEOUT):
        token = site.token()
        _refuse_if_handed_off(site, token)
        rotating = may_rotate(site)
        if rotating and token.is_expired(site.clock.time(), leeway=300.0, monotonic=site.clock.monotonic()):
            token = refresh(site)
        result = handoff_module.handoff(token, site.client(), site.endpoints, Path(to), fmt=fmt, owner=owner,
                                        proof="access_token" if rotating else "refresh", transport=site.transport,
                                        clock=site.clock)
        if result.application_owns:
            _record_owner(site, token, result)
    detail = f"{result.path} ({result.fmt}), proved by {result.proof}"
    site.mark("handoff", "ok", detail + ("; the application owns the refresh token" if result.application_owns else ""),
              inputs={"to": str(result.path), "format": result.fmt, "application_owns": result.application_owns})
    return result


def _record_owner(site: Site, token: tokens.Token, result: handoff_module.HandoffResult) -> None:
    """Record in the settings that the application at ``result.path`` owns the refresh token of ``token``."""
    record = {"to": str(Path(result.path).absolute()), "at": iso_utc(site.clock.time()), "format": result.fmt,
              "token_issued_at": token.issued_at}

    def edit(settings: dict[str, Any]) -> None:
        settings["handed_off"] = record
        settings.setdefault("refresh_token_rotation", "seen")

    site.profile.update_settings(edit)


def probe_refresh(profile: Profile, issuer: str | None = None, transport: Transport | None = None) -> None:
    """Refresh ``profile``'s token at its provider: an import's probe of a staged profile before it replaces one.

    Raises:
        InvalidGrant: The provider refused the refresh token (exit 7).
        TransportError: The provider could not be reached (exit 6).
    """
    site = Site(profile, issuer=issuer) if transport is None else Site(profile, transport, issuer=issuer)
    refresh(site)
