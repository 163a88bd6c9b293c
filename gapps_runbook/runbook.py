"""The runbook's steps, one function each: what the CLI commands and the notebooks call.

The vendor procedure, step by step:

1. ``check_console``: which flow and client type the chosen scopes need, before any network call.
2. ``save_client`` / ``import_client_json``: product name, client ID and secret, into the profile.
3. ``authorize``: "generate the authorization code": device flow where Google allows it, the Desktop
   app loopback flow (PKCE) otherwise; the token is stored only once its account checks out.
4. ``status``, ``refresh``, ``verify``, ``revoke``: the token status panel.

A :class:`Site` binds one profile (one site, one server) to a transport, a clock and the provider's
endpoints. Every step records its outcome in the profile's settings so ``00_start_here`` and
``gapps-runbook status`` can show where a site stands.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from .oauth import device_flow, tokeninfo, loopback, scopes, tokens
from .oauth import verify as verify_module
from .oauth.client_ids import validate_client_id, validate_client_secret
from .oauth.clients import ClientConfig, ClientType, load_client_json
from .oauth.clock import SYSTEM_CLOCK, Clock
from .oauth.endpoints import Endpoints, resolve
from .errors import (
    STEP_AUTHORIZE,
    STEP_CLIENT,
    ConfigError,
    ExitCode,
    InputError,
    OAuthError,
    RunbookError,
    TransportError,
    VerifyFailed,
)
from .profile.store import Profile, ProfileStore
from .oauth.transport import RequestsTransport, Transport

Flow = Literal["auto", "device", "desktop"]
DEFAULT_SERVICES = ("calendar", "openid")


class AccountMismatch(RunbookError):
    """The approving Google account is not the one the profile expects (RFC 8628 §5.4 remote phishing)."""

    exit_code = ExitCode.DENIED
    fix = f"run {STEP_AUTHORIZE} again and approve with the expected account, or change the profile's expected account"


@dataclass
class Site:
    """One profile plus the means to reach its provider.

    Args:
        profile: The profile on disk.
        transport: The HTTP seam.
        clock: Time source.
        issuer: Provider issuer URL; overrides the profile's. None: the profile's, else Google.
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
        """The provider's endpoints: ``issuer``, else the profile's, else Google's built-in values."""
        if self._endpoints is None:
            issuer = self.issuer or self.profile.load_settings().get("issuer")
            endpoints = self._endpoints = resolve(self.transport, issuer)
            if self.issuer:  # remembered, so later steps of this site need no --issuer
                self.profile.update_settings(lambda s: s.update(issuer=endpoints.issuer))
        return self._endpoints

    def client(self) -> ClientConfig:
        """The stored client, or :class:`ConfigError` pointing at step 02."""
        client = self.profile.load_client()
        if client is None:
            raise ConfigError(f"profile {self.profile.name!r} has no OAuth client yet", fix=f"run {STEP_CLIENT}")
        return client

    def token(self) -> tokens.Token:
        """The stored token, or :class:`ConfigError` pointing at step 02 or 03, whichever comes first."""
        self.client()
        token = self.profile.load_token()
        if token is None:
            raise ConfigError(f"profile {self.profile.name!r} has no token yet", fix=f"run {STEP_AUTHORIZE}")
        return token

    def mark(self, step: str, status: str, detail: str = "") -> None:
        """Record a step's outcome (shown by ``00_start_here`` and ``status --all``)."""
        at = datetime.datetime.fromtimestamp(self.clock.time(), datetime.timezone.utc).isoformat(timespec="seconds")

        def update(settings: dict[str, Any]) -> None:
            settings.setdefault("steps", {})[step] = {"status": status, "at": at, "detail": detail}

        self.profile.update_settings(update)


def requested_scopes(site: Site, *, services: Iterable[str] | None = None, scope_list: Iterable[str] | None = None) -> tuple[str, ...]:
    """Scopes from explicit scopes, else services, else the profile's, else Calendar read-only + OpenID."""
    google = site.endpoints.google_dialect if scope_list else True  # another provider's scopes are its own
    explicit = [scopes.normalize_scope(s, google=google) for s in scope_list or ()]
    if services:
        explicit += list(scopes.scopes_for(services))
    if explicit:
        return tuple(dict.fromkeys(explicit))
    stored = site.profile.load_settings().get("scopes")
    return tuple(stored) if stored else scopes.scopes_for(DEFAULT_SERVICES)


def check_console(
    site: Site,
    requested: tuple[str, ...],
    *,
    flow: Flow = "auto",
    publishing_status: Literal["testing", "production"] | None = None,
    legacy_device_scopes: bool = False,
) -> scopes.Preflight:
    """Step 01: the preflight verdict for these scopes; saves scopes, flow and publishing status."""
    settings = site.profile.load_settings()
    publishing_status = publishing_status or settings.get("publishing_status")
    result = scopes.preflight(
        requested,
        flow=flow,
        endpoints=site.endpoints,
        client=site.profile.load_client(),
        legacy_device_scopes=legacy_device_scopes,
        publishing_status=publishing_status,
    )

    def update(s: dict[str, Any]) -> None:
        s.update(scopes=list(requested), flow=result.flow)
        if publishing_status:
            s["publishing_status"] = publishing_status

    site.profile.update_settings(update)
    site.mark("preflight", "ok" if result.ok else "failed", _first_error(result))
    return result


def _first_error(result: scopes.Preflight) -> str:
    return next((f.message for f in result.findings if f.level == "error"), "")


def raise_for_preflight(result: scopes.Preflight) -> None:
    """Turn the first error finding into a :class:`ConfigError` (exit 3) before any network call."""
    for finding in result.findings:
        if finding.level == "error":
            raise ConfigError(finding.message, fix=finding.fix)


def save_client(
    site: Site,
    *,
    client_id: str,
    client_secret: str,
    client_type: ClientType,
    product_name: str = "",
    project_id: str | None = None,
) -> ClientConfig:
    """Step 02: validate and store the client (typed in, as on the server's admin panel).

    An empty ``client_secret`` means a public client (RFC 6749 §2.1), allowed only for providers
    that are not Google's dialect: Google's installed-app clients always have a secret.
    """
    google = site.endpoints.google_dialect
    if not client_secret and google:
        raise InputError(
            "the client secret is empty, but Google's OAuth clients always have one "
            "(public clients without a secret exist only at other providers)",
            fix=f"copy the secret from the console's Clients page in {STEP_CLIENT}",
        )
    client = ClientConfig(
        client_id=validate_client_id(client_id, google=google),
        client_secret=validate_client_secret(client_secret, google=google) if client_secret else "",
        client_type=client_type,
        product_name=product_name.strip(),
        project_id=project_id or None,
    )
    return _store_client(site, client)


def import_client_json(
    site: Site, path: Path, *, client_type: ClientType | None = None, product_name: str = ""
) -> ClientConfig:
    """Step 02: import the client JSON downloaded from the console's Clients page."""
    client = load_client_json(path, endpoints=site.endpoints, client_type=client_type, product_name=product_name)
    return _store_client(site, client)


def _store_client(site: Site, client: ClientConfig) -> ClientConfig:
    previous = site.profile.load_client()
    site.profile.save_client(client, site.endpoints)
    changed = previous is not None and previous.client_id != client.client_id
    site.mark("client", "ok", "client changed: authorize again" if changed else "")
    if changed:
        site.mark("authorize", "stale", "the client was replaced; a new client needs a new authorization")
    return client


def pin_account(site: Site, email: str | None) -> None:
    """Pin the Google account that must approve this profile's authorization ("" or None unpins).

    With a pin, a token approved by any other account is refused and not stored: this defeats a
    code entered by somebody else (RFC 8628 §5.4, §5.5). Without one, the account is shown.
    """
    value = (email or "").strip() or None
    if value is not None and ("@" not in value or any(c.isspace() for c in value)):
        raise InputError(f"{value!r} is not an email address", fix="pass the Google account, e.g. admin@example.com")
    site.profile.update_settings(lambda s: s.update(expected_account=value))


@dataclass(frozen=True)
class AuthResult:
    """What step 03 produced: the stored token, the flow used and the approving account."""

    token: tokens.Token
    flow: Literal["device", "desktop"]
    account: str | None


def authorize(
    site: Site,
    requested: tuple[str, ...],
    *,
    flow: Flow = "auto",
    legacy_device_scopes: bool = False,
    on_device_code: Callable[[device_flow.DeviceAuthorization], None] | None = None,
    on_status: Callable[[str], None] | None = None,
    open_url: Callable[[str], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    timeout: float | None = None,
) -> AuthResult:
    """Step 03: preflight, run the right flow, check the account, store the token."""
    client = site.client()
    verdict = scopes.preflight(
        requested, flow=flow, endpoints=site.endpoints, client=client, legacy_device_scopes=legacy_device_scopes
    )
    raise_for_preflight(verdict)
    try:
        if verdict.flow == "device":
            token = _device(site, client, requested, on_device_code, on_status, cancelled, timeout)
        else:
            if open_url is None:
                raise InputError("the desktop flow needs a way to open the authorization link", fix="pass open_url")
            token = loopback.run(
                site.endpoints, client, requested, open_url=open_url, timeout=timeout or 300.0,
                clock=site.clock, cancelled=cancelled,
            )
        return _keep(site, client, token, verdict.flow)
    except RunbookError as exc:
        site.mark("authorize", "failed", str(exc))
        raise


def _keep(site: Site, client: ClientConfig, token: tokens.Token, flow: Literal["device", "desktop"]) -> AuthResult:
    """Check the approving account, then store the token and record the step."""
    account = _check_account(site, client, token)
    if token.monotonic_expires_at is None:  # the loopback flow stamps only the wall clock
        token = replace(token, monotonic_expires_at=site.clock.monotonic() + token.expires_in(site.clock.time()))
    token = replace(token, account=account)
    site.profile.save_token(token, client, site.endpoints)
    site.mark("authorize", "ok", f"{flow} flow, account {account or 'unknown'}")
    return AuthResult(token, flow, account)


def authorize_by_paste(
    site: Site,
    requested: tuple[str, ...],
    *,
    show_url: Callable[[str], None],
    ask: Callable[[], str],
) -> AuthResult:
    """Step 03, desktop flow for a kernel on another machine than the browser: paste the redirect URL back."""
    pending = start_paste(site, requested)
    show_url(pending.url)
    return finish_paste(site, pending, ask())


def start_paste(site: Site, requested: tuple[str, ...]) -> loopback.LoopbackAuthorization:
    """Preflight for the desktop flow, then a new attempt whose link the person opens (paste-back mode)."""
    verdict = scopes.preflight(requested, flow="desktop", endpoints=site.endpoints, client=site.client())
    raise_for_preflight(verdict)
    return loopback.start(site.endpoints, site.client(), requested)


def finish_paste(site: Site, pending: loopback.LoopbackAuthorization, pasted: str) -> AuthResult:
    """Complete a paste-back authorization with the URL the browser was redirected to."""
    client = site.client()
    try:
        return _keep(site, client, loopback.complete(pending, pasted, clock=site.clock), "desktop")
    except RunbookError as exc:
        site.mark("authorize", "failed", str(exc))
        raise


def _device(
    site: Site,
    client: ClientConfig,
    requested: tuple[str, ...],
    on_device_code: Callable[[device_flow.DeviceAuthorization], None] | None,
    on_status: Callable[[str], None] | None,
    cancelled: Callable[[], bool],
    timeout: float | None,
) -> tokens.Token:
    grant = device_flow.request_device_code(site.transport, site.endpoints, client, requested, clock=site.clock)
    if on_device_code is not None:
        on_device_code(grant)
    poller = device_flow.DevicePoller(site.transport, site.endpoints, client, grant, clock=site.clock)
    return poller.wait(cancelled=cancelled, on_status=on_status, timeout=timeout)


def _check_account(site: Site, client: ClientConfig, token: tokens.Token) -> str | None:
    """The approving account (id_token, else tokeninfo); refuse a token for another account than pinned."""
    account = token.account or tokens.account_from_id_token(token.id_token)
    if account is None:
        try:
            account = tokeninfo.inspect_token(site.transport, site.endpoints, token, clock=site.clock).email
        except (OAuthError, TransportError):
            account = None
    expected = site.profile.load_settings().get("expected_account")
    if expected and (account or "").lower() != expected.lower():
        raise AccountMismatch(
            f"the token was approved by {account or 'an unknown account'}, but profile "
            f"{site.profile.name!r} expects {expected}; it was not stored"
        )
    return account


@dataclass(frozen=True)
class TokenStatus:
    """The procedure's status panel: token id and expiry in seconds, plus what was granted."""

    profile: str
    client_id: str | None
    token_id: str | None
    expires_in: int | None
    scopes: tuple[str, ...]
    missing_scopes: tuple[str, ...]
    account: str | None
    has_refresh_token: bool
    refresh_token_expires_in: int | None

    def to_json(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def status(site: Site) -> TokenStatus:
    """Step 04: what the profile holds, from the local clock; no network call."""
    client = site.profile.load_client()
    token = site.profile.load_token()
    now = site.clock.time()
    requested = tuple(site.profile.load_settings().get("scopes") or ())
    if token is None:
        return TokenStatus(site.profile.name, client and client.client_id, None, None, (), requested, None, False, None)
    missing, _extra = tokeninfo.scope_diff(requested, token.scopes)
    refresh_left = None
    if token.refresh_token_expires_at is not None:
        refresh_left = max(0, int(token.refresh_token_expires_at - now))
    return TokenStatus(
        site.profile.name, client and client.client_id, token.token_id,
        token.expires_in(now, site.clock.monotonic()), token.scopes,
        tuple(missing), token.account, token.refresh_token is not None, refresh_left,
    )


def refresh(site: Site) -> tokens.Token:
    """Step 04: refresh now (RFC 6749 §6) and store the result under the profile lock."""
    client = site.client()
    token = site.token()
    fresh = tokens.refresh(site.transport, site.endpoints, client, token, clock=site.clock)
    fresh = replace(fresh, account=fresh.account or token.account)
    site.profile.save_token(fresh, client, site.endpoints)
    site.mark("refresh", "ok")
    return fresh


def fresh_token(site: Site) -> tokens.Token:
    """The stored token, refreshed first if the local clock says it is (about to be) expired.

    Either clock decides: a wall clock set back since receipt does not stretch the token's life,
    because the monotonic expiry stamped at receipt still runs out (docs/reliability.md C1).
    """
    token = site.token()
    if token.is_expired(site.clock.time(), monotonic=site.clock.monotonic()):
        token = refresh(site)
    return token


def verify(site: Site) -> verify_module.VerifyReport:
    """Step 04: the Calendar call must succeed and the Gmail call must be refused."""
    report = verify_module.verify(site.transport, site.endpoints, fresh_token(site), clock=site.clock)
    site.mark("verify", "ok" if report.ok else "failed")
    trouble = next((c for c in report.checks if c.network and not c.ok), None)
    if trouble is not None:  # no verdict on the token: network class (exit 6), not "authorize again"
        raise TransportError(f"verify could not finish: {trouble.api} {trouble.call}: {trouble.detail}")
    return report


def raise_for_verify(report: verify_module.VerifyReport) -> None:
    """Turn the first failed check into :class:`VerifyFailed` (skipped checks are not failures)."""
    for check in report.checks:
        if not check.ok and check.outcome != "skipped":
            raise VerifyFailed(
                f"verify failed: {check.api} {check.call} was expected {check.expected} but was {check.outcome}",
                fix=check.fix or None,
            )


def revoke(site: Site) -> bool:
    """Step 04: revoke at the provider (RFC 7009); the local copy is deleted only after a 200."""
    token = site.token()
    already = tokens.revoke(site.transport, site.endpoints, token, clock=site.clock, client=site.client())
    site.profile.delete_token()
    site.mark("revoke", "ok")
    site.mark("authorize", "revoked", "the token was revoked: authorize again to restore API access")
    return bool(already)
