"""The procedure's closing note, tested: "a Calendar token does not open Gmail".

Two calls with the access token (RFC 6750 §2.1 bearer header), each with an expected outcome:

- Calendar: ``calendarList.list`` when ``calendar`` or ``calendar.readonly`` was granted, else
  ``events.list`` on ``primary`` when only ``calendar.events(.readonly)`` was (``calendarList`` refuses
  those, reference §9); with no Calendar scope at all, ``calendarList.list`` is expected to be refused.
- Gmail: ``users.getProfile``, expected refused unless a Gmail scope was granted.

Google's error envelope (reference §9) decides the outcome: ``ACCESS_TOKEN_SCOPE_INSUFFICIENT`` is a
refusal; ``SERVICE_DISABLED``/``accessNotConfigured`` and 401 are errors with their own fix.
A token the local clock calls expired is never sent: refresh it first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .clock import SYSTEM_CLOCK, Clock
from .endpoints import GOOGLE
from ..errors import CONSOLE_LIBRARY, STEP_AUTHORIZE, STEP_STATUS, ApiError, InvalidToken, TransportError
from ..safety.redact import redact
from .transport import SAFE_RETRY, Response, RetryPolicy, Transport, host_of, send
from .verify_provider import provider_checks
from .verify_report import Check, Outcome, VerifyReport

__all__ = ["Check", "Outcome", "VerifyReport", "api_error", "calendar_sample", "gmail_base", "plan", "verify"]

if TYPE_CHECKING:
    from .clients import ClientConfig
    from .endpoints import Endpoints
    from .tokens import Token


_AUTH = "https://www.googleapis.com/auth/"
CALENDAR_LIST_SCOPES = frozenset({_AUTH + "calendar", _AUTH + "calendar.readonly"})
CALENDAR_EVENTS_SCOPES = CALENDAR_LIST_SCOPES | {_AUTH + "calendar.events", _AUTH + "calendar.events.readonly"}
GMAIL_PREFIXES = (_AUTH + "gmail.", "https://mail.google.com/")
# Google serves Gmail on its own host; the emulator (and any other api_base) serves it under the base.
GOOGLE_GMAIL_BASE = "https://gmail.googleapis.com"
_SCOPE_REASONS = frozenset({"ACCESS_TOKEN_SCOPE_INSUFFICIENT", "insufficientPermissions"})
_DISABLED_REASONS = frozenset({"SERVICE_DISABLED", "accessNotConfigured"})
CALENDAR_PAGE = "250"  # calendarList.list's largest page: one call counts up to 250 calendars
_REAUTH_FIX = f"refresh the token ({STEP_STATUS}) or authorize again ({STEP_AUTHORIZE})"


@dataclass(frozen=True)
class _Call:
    api: str
    call: str
    url: str
    expected: Literal["allowed", "refused"]


def plan(endpoints: Endpoints, scopes: tuple[str, ...]) -> list[_Call]:
    """The calls to make and what to expect of each, from the granted scopes (reference §9).

    Args:
        endpoints: The provider; ``api_base`` must be set.
        scopes: The granted scopes.

    Returns:
        The Calendar call, then the Gmail call.
    """
    base = (endpoints.api_base or "").rstrip("/")
    granted = set(scopes)
    calendar_list = f"{base}/calendar/v3/users/me/calendarList"
    if granted & CALENDAR_LIST_SCOPES:
        calendar = _Call("calendar", "calendarList.list", calendar_list, "allowed")
    elif granted & CALENDAR_EVENTS_SCOPES:
        calendar = _Call("calendar", "events.list", f"{base}/calendar/v3/calendars/primary/events", "allowed")
    else:
        calendar = _Call("calendar", "calendarList.list", calendar_list, "refused")
    gmail_expected: Literal["allowed", "refused"] = (
        "allowed" if any(s.startswith(GMAIL_PREFIXES) for s in granted) else "refused"
    )
    gmail = _Call("gmail", "users.getProfile", f"{gmail_base(endpoints)}/gmail/v1/users/me/profile", gmail_expected)
    return [calendar, gmail]


def gmail_base(endpoints: Endpoints) -> str:
    """Base URL for Gmail: Google's own ``gmail.googleapis.com`` (the one quirk), else ``api_base``."""
    base = (endpoints.api_base or "").rstrip("/")
    return GOOGLE_GMAIL_BASE if base == GOOGLE.api_base else base


def verify(
    transport: Transport,
    endpoints: Endpoints,
    token: Token,
    *,
    clock: Clock = SYSTEM_CLOCK,
    retry: RetryPolicy = SAFE_RETRY,
    client: ClientConfig | None = None,
) -> VerifyReport:
    """Call Calendar and Gmail with ``token`` and compare each outcome with what its scopes allow.

    A provider without Google's APIs (no ``api_base``) is checked with what it offers instead:
    UserInfo (OpenID Connect Core §5.3) and RFC 7662 introspection (:mod:`.verify_provider`).

    Args:
        transport: The HTTP seam.
        endpoints: The provider; ``api_base`` locates the APIs.
        token: A fresh access token (refresh it first).
        clock: Wall clock for the expiry check; sleep between retries.
        retry: Retry policy for connection errors and 408/429/5xx (the calls are GETs).
        client: The profile's client: RFC 7662 introspection authenticates with it (no ``api_base`` only).

    Returns:
        The report; without ``api_base`` and with nothing else to call, one ``unverifiable`` check
        and ``report.ok`` False.

    Raises:
        InvalidToken: The local clock says the token has expired; nothing was sent.
    """
    if token.is_expired(clock.time(), monotonic=clock.monotonic()):
        raise InvalidToken(
            "the access token has expired (or expires within a minute) by the local clock; it was not sent",
            fix=f"refresh the token first ({STEP_STATUS})",
        )
    if not endpoints.api_base:
        return VerifyReport(provider_checks(transport, endpoints, token, client=client, clock=clock, retry=retry))
    checks = tuple(_run(transport, call, token, clock=clock, retry=retry) for call in plan(endpoints, token.scopes))
    return VerifyReport(checks)


def _run(transport: Transport, call: _Call, token: Token, *, clock: Clock, retry: RetryPolicy) -> Check:
    """Make one call (RFC 6750 §2.1 bearer header) and judge it."""
    headers = {"Authorization": f"Bearer {token.access_token}"}
    page = CALENDAR_PAGE if call.call == "calendarList.list" and call.expected == "allowed" else "1"
    try:
        response = send(
            transport, "GET", call.url, params={"maxResults": page}, headers=headers, retry=retry, clock=clock
        )
    except TransportError as exc:
        return _check(call, "error", f"no answer from {host_of(call.url)}: {exc.message}", exc.fix, network=True)
    if response.status in retry.statuses:
        host, reason = host_of(call.url), _reason(response)
        detail = f"{host} answered HTTP {response.status} {reason}after {retry.attempts} attempt(s)"
        return _check(call, "error", detail, TransportError.fix, network=True)
    if 200 <= response.status < 300:
        if not _is_json(response):
            host = host_of(call.url)
            detail = f"{host} answered HTTP {response.status} with a body that is not JSON (a proxy's page?)"
            return _check(call, "error", detail, TransportError.fix, network=True)
        check = _check(call, "allowed", f"HTTP {response.status}: the call worked",
                       fix="the token opens an API its scopes do not name: inspect it (runbook step 04)")
        sample = calendar_sample(response.json()) if call.call == "calendarList.list" and check.ok else None
        return dataclasses.replace(check, sample=sample)
    return _judge(call, api_error(response))


def calendar_sample(body: Any) -> dict[str, Any] | None:
    """Proof from real data in a ``calendarList.list`` answer: how many calendars, the primary one's name.

    Args:
        body: The response's JSON.

    Returns:
        ``{"count": int, "more": bool, "primary": str | None}`` (``primary`` redacted), or None when
        the body has no ``items`` list.
    """
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return None
    entries = [i for i in items if isinstance(i, dict)]
    primary = next((i.get("summary") for i in entries if i.get("primary") is True), None)
    return {"count": len(entries), "more": bool(body.get("nextPageToken")),
            "primary": redact(primary) if isinstance(primary, str) else None}


def _check(call: _Call, outcome: Outcome, detail: str, fix: str = "", *, network: bool = False) -> Check:
    ok = outcome == call.expected
    return Check(call.api, call.call, call.expected, outcome, redact(detail), ok, "" if ok else fix, network)


def _is_json(response: Response) -> bool:
    try:
        response.json()
    except TransportError:  # ProtocolError
        return False
    return True


def _reason(response: Response) -> str:
    """``(UNAVAILABLE) `` from an API error envelope, or nothing."""
    error = api_error(response)
    return f"({error.reason}) " if error.reason else ""


def api_error(response: Response) -> ApiError:
    """Decode a Google API error envelope (reference §9) into an :class:`ApiError`.

    The reason is the ``google.rpc.ErrorInfo`` reason when present, else the legacy ``errors[0].reason``.

    Args:
        response: A non-2xx API response.

    Returns:
        The error, with ``status`` and ``reason`` (empty when the body is not an envelope).
    """
    envelope = _envelope(response)
    message = envelope.get("message") if isinstance(envelope.get("message"), str) else ""
    reason = _error_info_reason(envelope) or _legacy_reason(envelope)
    return ApiError(message or f"HTTP {response.status}", status=response.status, reason=reason)


def _envelope(response: Response) -> Mapping[str, Any]:
    try:
        error = response.json().get("error")
    except TransportError:  # ProtocolError: not JSON
        return {}
    return error if isinstance(error, dict) else {}


def _error_info_reason(envelope: Mapping[str, Any]) -> str:
    details = envelope.get("details")
    for item in details if isinstance(details, list) else []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("google.rpc.ErrorInfo"):
            reason = item.get("reason")
            if isinstance(reason, str):
                return reason
    return ""


def _legacy_reason(envelope: Mapping[str, Any]) -> str:
    errors = envelope.get("errors")
    first = errors[0] if isinstance(errors, list) and errors else {}
    reason = first.get("reason") if isinstance(first, dict) else None
    return reason if isinstance(reason, str) else ""


_API_TITLES = {"calendar": "Google Calendar API", "gmail": "Gmail API"}


def _judge(call: _Call, error: ApiError) -> Check:
    """Turn an API error into a check outcome.

    Args:
        call: The call made.
        error: The decoded envelope.

    Returns:
        ``refused`` for a missing scope; ``error`` (with a fix) for a disabled API, a dead token, or else.
    """
    title = _API_TITLES.get(call.api, call.api)
    said = f"HTTP {error.status} {error.reason or 'no reason'}: {error.message}"
    if error.reason in _SCOPE_REASONS:
        return _check(call, "refused", f"refused: token lacks the scope ({said})",
                      fix=f"authorize again with the {title} scope ({STEP_AUTHORIZE})")
    if error.reason in _DISABLED_REASONS:
        return _check(call, "error", f"the {title} is not enabled in the client's project ({said})",
                      fix=f"enable the {title} on the console's API Library page ({CONSOLE_LIBRARY}), wait a minute, "
                      "then run this step again")
    if error.status == 401:
        return _check(call, "error", f"the token is invalid, expired or revoked ({said})", fix=_REAUTH_FIX)
    return _check(call, "error", said, fix="see the detail; run this step again later if it is a server error")
