"""The procedure's closing note, tested: "a Calendar token does not open Gmail".

One call per service of the catalog (:mod:`.scope_catalog`) that has a probe, with the access token
as a bearer header (RFC 6750 §2.1), each with an expected outcome:

- a service whose scopes were granted: the first of its probes those scopes open, expected allowed
  (Calendar: ``calendarList.list``, or ``events.list`` on ``primary`` for a token with only an events
  scope, which ``calendarList`` refuses);
- a service marked ``always_verified`` (Calendar, and Gmail, the control) with none of its scopes
  granted: its first probe, expected refused.

Google's error envelope (https://cloud.google.com/apis/design/errors) decides the outcome:
``ACCESS_TOKEN_SCOPE_INSUFFICIENT`` is a refusal; ``SERVICE_DISABLED``/``accessNotConfigured`` and
401 are errors with their own fix. A token the local clock calls expired is never sent: refresh it first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .clock import SYSTEM_CLOCK, Clock
from .endpoints import GOOGLE
from ..errors import STEP_AUTHORIZE, STEP_STATUS, ApiError, InvalidToken, TransportError
from ..safety.redact import redact
from .scope_catalog import Probe, Service, probed_services
from .transport import SAFE_RETRY, Response, RetryPolicy, Transport, host_of, send
from .verify_provider import provider_checks
from .verify_report import Check, Outcome, VerifyReport

__all__ = ["Check", "Outcome", "VerifyReport", "api_base_for", "api_error", "plan", "sample", "verify"]

if TYPE_CHECKING:
    from .clients import ClientConfig
    from .endpoints import Endpoints
    from .tokens import Token


_SCOPE_REASONS = frozenset({"ACCESS_TOKEN_SCOPE_INSUFFICIENT", "insufficientPermissions"})
_DISABLED_REASONS = frozenset({"SERVICE_DISABLED", "accessNotConfigured"})
_REAUTH_FIX = f"refresh the token ({STEP_STATUS}) or authorize again ({STEP_AUTHORIZE})"


@dataclass(frozen=True)
class _Call:
    service: Service
    probe: Probe
    url: str
    expected: Literal["allowed", "refused"]


def plan(endpoints: Endpoints, scopes: tuple[str, ...]) -> list[_Call]:
    """The calls to make and what to expect of each, from the granted scopes.

    Args:
        endpoints: The provider; ``api_base`` must be set.
        scopes: The granted scopes.

    Returns:
        One call per probed service that was granted or is ``always_verified``, in catalog order.
    """
    granted = set(scopes)
    calls = []
    for service in probed_services():
        opened = next((p for p in service.probes if granted & p.accepts), None)
        if opened is None and not service.always_verified:
            continue
        probe = opened or service.probes[0]
        url = api_base_for(endpoints, service) + probe.request_path
        calls.append(_Call(service, probe, url, "allowed" if opened else "refused"))
    return calls


def api_base_for(endpoints: Endpoints, service: Service) -> str:
    """Where the service is served: Google's own host for it when it has one (Gmail, People), else ``api_base``.

    The emulator (and any other ``api_base``) serves every API under its one base.
    """
    base = (endpoints.api_base or "").rstrip("/")
    return service.google_base if service.google_base and base == GOOGLE.api_base else base


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
    try:
        response = send(transport, "GET", call.url, params=dict(call.probe.params) or None, headers=headers,
                        retry=retry, clock=clock)
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
        return dataclasses.replace(check, sample=sample(call.probe, response.json()) if check.ok else None)
    return _judge(call, api_error(response))


def sample(probe: Probe, body: Any) -> dict[str, Any] | None:
    """Proof from real data in a probe's answer: how many entries, and the primary one's name.

    Args:
        probe: The probe answered; its ``items``, ``total`` and ``primary`` keys say where to look.
        body: The response's JSON.

    Returns:
        ``{"count": int, "more": bool}`` plus ``"total": int | None`` when the API reports a total and
        ``"primary": str | None`` (redacted) when its list marks a primary entry; None when the probe
        counts nothing or the body has no such list.
    """
    items = body.get(probe.items) if probe.items and isinstance(body, dict) else None
    if not isinstance(items, list):
        return None
    entries = [i for i in items if isinstance(i, dict)]
    found: dict[str, Any] = {"count": len(entries), "more": bool(body.get("nextPageToken"))}
    if probe.total:
        total = body.get(probe.total)
        found["total"] = total if type(total) is int and total >= 0 else None
    if probe.primary:
        primary = next((i.get(probe.primary) for i in entries if i.get("primary") is True), None)
        found["primary"] = redact(primary) if isinstance(primary, str) else None
    return found


def _check(call: _Call, outcome: Outcome, detail: str, fix: str = "", *, network: bool = False) -> Check:
    ok = outcome == call.expected
    return Check(call.service.key, call.probe.call, call.expected, outcome, redact(detail), ok, "" if ok else fix,
                 network)


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
    """Decode a Google API error envelope (https://cloud.google.com/apis/design/errors) into an :class:`ApiError`.

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


def _judge(call: _Call, error: ApiError) -> Check:
    """Turn an API error into a check outcome.

    Args:
        call: The call made.
        error: The decoded envelope.

    Returns:
        ``refused`` for a missing scope; ``error`` (with a fix) for a disabled API, a dead token, or else.
    """
    title = call.service.title
    said = f"HTTP {error.status} {error.reason or 'no reason'}: {error.message}"
    if error.reason in _SCOPE_REASONS:
        return _check(call, "refused", f"refused: token lacks the scope ({said})",
                      fix=f"authorize again with the {title} scope ({STEP_AUTHORIZE})")
    if error.reason in _DISABLED_REASONS:
        return _check(call, "error", f"the {title} is not enabled in the client's project ({said})",
                      fix=f"enable the {title} on the console's API Library page ({call.service.library_url()}), "
                      "wait a minute, then run this step again")
    if error.status == 401:
        return _check(call, "error", f"the token is invalid, expired or revoked ({said})", fix=_REAUTH_FIX)
    return _check(call, "error", said, fix="see the detail; run this step again later if it is a server error")
