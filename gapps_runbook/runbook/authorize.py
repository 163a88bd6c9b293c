"""Step 03, "generate the authorization code": the device flow where Google allows it, the Desktop app
loopback flow with PKCE otherwise (or paste-back), and the account check before anything is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from ..errors import (AccessDenied, AccountMismatch, Cancelled, ExpiredToken, FlowTimeout, InputError,
                      RunbookError)
from ..oauth import scopes, tokens, userinfo
from ..oauth.clients import ClientConfig
from ..profile import refresh_journal
from .setup import Flow, raise_for_preflight
from .site import Site, in_provider_words
from .state import ATTEMPT_RECORD, authorization_problem, begin_attempt, end_attempt
from .token_status import status

DESKTOP_TIMEOUT = 300.0
"""Seconds the Desktop app flow waits for the browser when the caller names no timeout."""

if TYPE_CHECKING:
    from ..oauth import device_flow, loopback


@dataclass(frozen=True)
class AuthResult:
    """What step 03 produced: the stored token, the flow used and the approving account."""

    token: tokens.Token
    flow: Literal["device", "desktop"]
    account: str | None


@in_provider_words
def authorize(
    site: Site,
    requested: tuple[str, ...],
    *,
    flow: Flow = "auto",
    legacy_device_scopes: bool = False,
    on_device_code: Callable[[device_flow.DeviceAuthorization], None] | None = None,
    on_status: Callable[[str], None] | None = None,
    open_url: Callable[[str], object] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    timeout: float | None = None,
    pasted: Callable[[], str | None] = lambda: None,
) -> AuthResult:
    """Step 03: preflight, run the right flow, check the account, store the token.

    The desktop flow keeps the token while the browser waits for the landing page, so the page says
    what really happened ("Authorized as ...", or the error and its fix). ``pasted`` returns the address
    a browser on another machine ended on (checked first with :func:`check_pasted`), or None: it finishes
    the same attempt, as the listener would.
    """
    client = site.client()
    verdict = scopes.preflight(
        requested, flow=flow, endpoints=site.endpoints, client=client, legacy_device_scopes=legacy_device_scopes
    )
    raise_for_preflight(verdict)
    begin_attempt(site, f"waiting for approval ({verdict.flow} flow)")
    try:
        if verdict.flow == "device":
            token = _device(site, client, requested, on_device_code, on_status, cancelled, timeout)
        else:
            if open_url is None:
                raise InputError("the desktop flow needs a way to open the authorization link", fix="pass open_url")
            return _desktop(site, client, requested, open_url, cancelled, timeout or DESKTOP_TIMEOUT, pasted)
        return _keep(site, client, token, verdict.flow, requested)
    except RunbookError as exc:
        _failed(site, exc, {"scopes": list(requested), "flow": flow})
        raise
    finally:
        end_attempt(site)


def _desktop(site: Site, client: ClientConfig, requested: tuple[str, ...], open_url: Callable[[str], object],
             cancelled: Callable[[], bool], timeout: float, pasted: Callable[[], str | None]) -> AuthResult:
    """The loopback flow; the token is kept (account checked, stored) before the browser is answered."""
    kept: list[AuthResult] = []

    def keep(token: tokens.Token) -> str | None:
        kept.append(_keep(site, client, token, "desktop", requested))
        return kept[-1].account

    from ..oauth import loopback  # the listener's HTTP server: loaded when a flow runs (`status` stays quick, B2)

    loopback.run(site.transport, site.endpoints, client, requested, open_url=open_url, timeout=timeout,
                 clock=site.clock, cancelled=cancelled, keep=keep, pasted=pasted)
    return kept[-1]


_ATTEMPT_WORDS: tuple[tuple[type[RunbookError], str], ...] = (
    (Cancelled, "cancelled"), (AccessDenied, "denied"), (ExpiredToken, "expired"), (FlowTimeout, "timed out"))
"""How a new attempt that got no token ended, as step 03's verdict words it."""


def _failed(site: Site, exc: RunbookError, inputs: dict[str, object]) -> None:
    """Record a failed, denied, expired or cancelled attempt.

    While the stored authorization still holds (:func:`.state.read` judges 03 ok without this attempt),
    the attempt is recorded on its own and step 03 stays ok ("the new attempt was denied; the stored
    token ... still works"); otherwise step 03 is failed.
    """
    end_attempt(site)
    outcome = next((word for kind, word in _ATTEMPT_WORDS if isinstance(exc, kind)), "failed")
    if _still_good(site) or (isinstance(exc, Cancelled) and site.profile.load_token() is not None):
        # a good authorization stays ok; a cancel leaves a stored token's verdict (ok or stale) as it was
        site.record(ATTEMPT_RECORD, outcome, exc.message)
        site.audit("authorize", outcome, f"{exc.message}; the stored token is still in place", inputs)
    else:
        site.mark("authorize", "failed", str(exc), inputs=inputs)


def _still_good(site: Site) -> bool:
    """Whether step 03's record is ok and the stored authorization is current (:func:`.state.authorization_problem`)."""
    record = (site.profile.load_settings().get("steps") or {}).get("authorize") or {}
    return record.get("status") == "ok" and authorization_problem(site, status(site)) is None


def _keep(site: Site, client: ClientConfig, token: tokens.Token, flow: Literal["device", "desktop"],
          requested: tuple[str, ...]) -> AuthResult:
    """Check the approving account, then store the token, the scopes requested for it, and the step's record."""
    account = _check_account(site, client, token)
    if token.monotonic_expires_at is None:  # the loopback flow stamps only the wall clock
        token = replace(token, monotonic_expires_at=site.clock.monotonic() + token.expires_in(site.clock.time()))
    token = replace(token, account=account)
    site.profile.save_token(token, client, site.endpoints)
    refresh_journal.end(site.profile)  # a new grant: an earlier interrupted refresh no longer matters
    site.profile.update_settings(lambda s: s.update(authorized_scopes=list(requested)))
    site.mark("authorize", "ok", f"{flow} flow, account {account or 'unknown'}",
              inputs={"scopes": list(requested), "flow": flow, "account": account or ""})
    end_attempt(site)
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


def check_pasted(url: str, pasted: str) -> None:
    """Refuse a pasted address that cannot finish the attempt whose link ``url`` was shown (no I/O).

    Raises:
        InputError: Not the link's redirect address, another attempt's, or neither a code nor an error in it.
    """
    from ..oauth import loopback  # loaded when a flow runs (B2)

    loopback.check_paste(url, pasted)


@in_provider_words
def start_paste(site: Site, requested: tuple[str, ...]) -> loopback.LoopbackAuthorization:
    """Preflight for the desktop flow, then a new attempt whose link the person opens (paste-back mode)."""
    verdict = scopes.preflight(requested, flow="desktop", endpoints=site.endpoints, client=site.client())
    raise_for_preflight(verdict)
    from ..oauth import loopback  # loaded when a flow runs (B2)

    return loopback.start(site.endpoints, site.client(), requested)


@in_provider_words
def finish_paste(site: Site, pending: loopback.LoopbackAuthorization, pasted: str) -> AuthResult:
    """Complete a paste-back authorization with the URL the browser was redirected to."""
    client = site.client()
    try:
        from ..oauth import loopback  # loaded when a flow runs (B2)

        token = loopback.complete(site.transport, pending, pasted, clock=site.clock)
        return _keep(site, client, token, "desktop", tuple(pending.scopes))
    except RunbookError as exc:
        _failed(site, exc, {"scopes": list(pending.scopes), "flow": "desktop"})
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
    from ..oauth import device_flow  # loaded when a flow runs (B2)

    grant = device_flow.request_device_code(site.transport, site.endpoints, client, requested, clock=site.clock)
    if on_device_code is not None:
        on_device_code(grant)
    poller = device_flow.DevicePoller(site.transport, site.endpoints, client, grant, clock=site.clock)
    return poller.wait(cancelled=cancelled, on_status=on_status, timeout=timeout)


def _check_account(site: Site, client: ClientConfig, token: tokens.Token) -> str | None:
    """The approving account (ID token, else UserInfo, else tokeninfo); refuse another account than the pinned one."""
    account = token.account or userinfo.account(site.transport, site.endpoints, token, clock=site.clock)
    expected = site.profile.load_settings().get("expected_account")
    if expected and (account or "").lower() != expected.lower():
        raise AccountMismatch(
            f"the token was approved by {account or 'an unknown account'}, but profile "
            f"{site.profile.name!r} expects {expected}; it was not stored"
        )
    return account


