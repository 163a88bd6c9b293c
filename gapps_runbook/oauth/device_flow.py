"""The device authorization grant: RFC 8628 §3.1-3.5, in Google's dialect.

- §3.1 device authorization request: :func:`device_request`, :func:`request_device_code`;
- §3.2 device authorization response: :func:`parse_device_response`, :class:`DeviceAuthorization`;
- §3.3 user interaction: the caller shows ``user_code`` and ``verification_uri``;
- §3.4 device access token request and §3.5 response: :class:`DevicePoller` (one step, plus a loop).

Google's dialect differs from the RFC (reference §1-2):

- the response names the URL ``verification_url``, not ``verification_uri`` (normalised in
  :func:`parse_device_response` only), and carries no ``verification_uri_complete``;
- no ``client_secret`` at ``/device/code``, but polling requires it (RFC 8628 §3.1 lets a
  confidential client authenticate at both: other providers get it at both, by ``client_secret_post``;
  a public client, RFC 6749 §2.1, has none and sends only ``client_id``);
- ``authorization_pending`` comes back as HTTP 428, ``slow_down`` and ``access_denied`` as 403
  (the RFC says 400), so polling classifies by the body's ``error``, never the status;
- quota errors come as ``{"error_code": "rate_limit_exceeded"}`` (HTTP 403); they back off.

Polling (RFC 8628 §3.5, security.md §4): never earlier than the interval; ``slow_down`` adds 5 s for
this and all later polls; connection errors, 5xx, 429 and a 2xx body that is not JSON (a proxy's
page) back off by doubling (capped; never sooner than a ``Retry-After``) and continue; any other
error stops at once; the code's lifetime is enforced on the monotonic clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .clock import SYSTEM_CLOCK, Clock
from ..errors import (
    AuthorizationPending,
    Cancelled,
    ConfigError,
    FlowTimeout,
    InputError,
    OAuthError,
    ProtocolError,
    RunbookError,
    SlowDown,
    TransportError,
    UnknownOAuthError,
)
from ..safety.redact import register_secret
from .tokens import Token, parse_token_response
from .transport import NO_RETRY, Transport, host_of, oauth_json, parse_retry_after, send, wire_int

if TYPE_CHECKING:
    from .clients import ClientConfig
    from .endpoints import Endpoints

DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL = 5  # RFC 8628 §3.2: "If no value is provided, clients MUST use 5 as the default."
DEFAULT_EXPIRES_IN = 1800  # Google's documented lifetime (reference §1)
SLOW_DOWN_STEP = 5  # RFC 8628 §3.5: "increased by 5 seconds for this and all subsequent requests"
_SLICE = 1.0  # longest single sleep, so cancellation is noticed within a second
_RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class DeviceAuthorization:
    """A device authorization response (RFC 8628 §3.2).

    Attributes:
        device_code: The device verification code (secret: never shown, never saved).
        user_code: The code the user types (case-sensitive at Google).
        verification_uri: Where the user types it (Google's ``verification_url``).
        expires_in: Lifetime of both codes, in seconds.
        interval: Minimum seconds between polls.
        issued_at: Monotonic time just before the request was sent.
    """

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    expires_in: int
    interval: int
    issued_at: float

    def expires_at(self) -> float:
        """The monotonic deadline after which the codes are dead."""
        return self.issued_at + self.expires_in


def device_request(client: ClientConfig, scopes: Iterable[str], *, authenticate: bool = False) -> dict[str, str]:
    """The form of the device authorization request (RFC 8628 §3.1).

    Google takes only ``client_id`` and ``scope`` here: no ``client_secret`` (reference §1).

    Args:
        client: The OAuth client ("TVs and Limited Input devices" at Google).
        scopes: Scopes to request.
        authenticate: Add ``client_secret`` (RFC 6749 §2.3.1 ``client_secret_post``) when the client
            has one: RFC 8628 §3.1 requires confidential clients to authenticate here. Not at Google.

    Returns:
        The form fields.

    Raises:
        InputError: No scope was given.
    """
    scope = " ".join(s for s in scopes if s)
    if not scope:
        raise InputError("no scope to request", fix="choose at least one service or scope in runbook step 01")
    form = {"client_id": client.client_id, "scope": scope}
    if authenticate and client.client_secret:
        form["client_secret"] = client.client_secret
    return form


def _positive_int(body: Mapping[str, Any], key: str, default: int) -> int:
    """A positive number of seconds, ``default`` if absent (strings accepted: :func:`transport.wire_int`)."""
    if body.get(key) is None:
        return default
    value = wire_int(body[key])
    if value is None or value <= 0:
        raise ProtocolError(f"the device authorization response's {key} is not a positive integer of seconds")
    return value


def _required_str(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"the device authorization response has no {key}")
    return value


def parse_device_response(body: Mapping[str, Any], *, now: float) -> DeviceAuthorization:
    """Read a device authorization response (RFC 8628 §3.2), Google's spelling included.

    Args:
        body: The JSON object from the device authorization endpoint.
        now: Monotonic time just before the request was sent (start of the codes' lifetime).

    Returns:
        The authorization; ``device_code`` is registered for redaction.

    Raises:
        ProtocolError: A required field is missing or has the wrong type.
    """
    device_code = _required_str(body, "device_code")
    register_secret(device_code)
    # Google sends "verification_url" where RFC 8628 §3.2 says "verification_uri" (reference §1;
    # golang/oauth2 "workaround misspelling of verification_uri"). This is the only place that knows.
    uri = body.get("verification_uri") or body.get("verification_url")
    if not isinstance(uri, str) or not uri.startswith(("https://", "http://")):
        raise ProtocolError("the device authorization response has no verification_uri (or verification_url)")
    return DeviceAuthorization(
        device_code=device_code,
        user_code=_required_str(body, "user_code"),
        verification_uri=uri,
        expires_in=_positive_int(body, "expires_in", DEFAULT_EXPIRES_IN),
        interval=_positive_int(body, "interval", DEFAULT_INTERVAL),
        issued_at=now,
    )


def request_device_code(
    transport: Transport,
    endpoints: Endpoints,
    client: ClientConfig,
    scopes: Iterable[str],
    *,
    clock: Clock = SYSTEM_CLOCK,
) -> DeviceAuthorization:
    """Ask for a device code and user code (RFC 8628 §3.1-3.2). One attempt: re-issuing is the user's call.

    Args:
        transport: The HTTP seam.
        endpoints: The provider; ``device_authorization_endpoint`` is used.
        client: The OAuth client.
        scopes: Scopes to request.
        clock: Monotonic clock that starts the codes' lifetime.

    Returns:
        The authorization to show and poll.

    Raises:
        ConfigError: The provider has no device authorization endpoint.
        OAuthError: Decoded by body code; ``InvalidScope``'s fix steers to the desktop flow.
        TransportError: No usable answer.
    """
    url = endpoints.device_authorization_endpoint
    if not url:
        raise ConfigError(
            f"the provider {host_of(endpoints.issuer)} has no device authorization endpoint (RFC 8628)",
            fix="use the Desktop app flow (flow desktop), see runbook step 01",
        )
    form = device_request(client, scopes, authenticate=not endpoints.google_dialect)
    started = clock.monotonic()
    response = send(transport, "POST", url, data=form, retry=NO_RETRY, clock=clock)
    return parse_device_response(oauth_json(response, url), now=started)


class DevicePoller:
    """Polls the token endpoint for a device authorization (RFC 8628 §3.4-3.5).

    ``poll_once`` is the step (one request); ``wait`` is the loop. State lives on the instance, so a
    widget's background thread can run ``wait`` while the UI thread reads ``status``.

    Attributes:
        interval: Current polling interval in seconds (grows by 5 s on each ``slow_down``).
        next_poll_at: Monotonic time before which no request is sent.
        state: ``"pending"``, ``"slow_down"``, ``"network"``, ``"approved"``, ``"failed"``,
            ``"expired"`` or ``"cancelled"``.
        status: The same, in words for the user ("waiting for approval").
        polls: Number of token requests sent.

    Args:
        transport: The HTTP seam.
        endpoints: The provider; ``token_endpoint`` is used.
        client: The OAuth client; Google requires its secret when polling.
        authorization: What :func:`request_device_code` returned.
        clock: Monotonic clock and sleep; wall clock for the token's expiry.
        max_backoff: Cap, in seconds, of the doubled wait after network trouble.
    """

    def __init__(
        self,
        transport: Transport,
        endpoints: Endpoints,
        client: ClientConfig,
        authorization: DeviceAuthorization,
        *,
        clock: Clock = SYSTEM_CLOCK,
        max_backoff: float = 60.0,
    ) -> None:
        self._transport = transport
        self._url = endpoints.token_endpoint
        self._client = client
        self.authorization = authorization
        self._clock = clock
        self.max_backoff = max_backoff
        self.interval = float(authorization.interval)
        self.next_poll_at = authorization.issued_at + self.interval
        self.state = "pending"
        self.status = "waiting for approval"
        self.polls = 0
        self._failures = 0  # consecutive network failures, for the doubling backoff
        self._retry_after: float | None = None  # the last answer's Retry-After, in seconds
        self._lock = threading.Lock()
        self._on_status: Callable[[str], None] | None = None
        register_secret(client.client_secret)

    def token_request(self) -> dict[str, str]:
        """The form of the device access token request (RFC 8628 §3.4), with Google's client_secret."""
        form = {
            "client_id": self._client.client_id,
            "device_code": self.authorization.device_code,
            "grant_type": DEVICE_GRANT_TYPE,
        }
        if self._client.client_secret:
            form["client_secret"] = self._client.client_secret
        return form

    def poll_once(self) -> Token:
        """Send one token request, waiting first if the interval has not passed (RFC 8628 §3.4).

        Returns:
            The token, once the user approved.

        Raises:
            AuthorizationPending: Not yet approved; poll again after ``interval``.
            SlowDown: Too fast; ``interval`` grew by 5 s.
            TransportError: No answer, or 5xx/429; the next poll is backed off (not a ProtocolError).
            OAuthError: A terminal error (``access_denied``, ``expired_token``, ``invalid_client``...).
            ProtocolError: The answer is not the protocol; terminal.
        """
        with self._lock:
            early = self.next_poll_at - self._clock.monotonic()
            if early > 0:
                self._clock.sleep(early)
            sent_at = self._clock.monotonic()
            self.polls += 1
            self._retry_after = None
            try:
                token = self._exchange()
            except RunbookError as exc:
                self._after_error(exc, sent_at)
                raise
            self._set_status("approved", "approved")
            return token

    def _exchange(self) -> Token:
        """One request and its decoding; errors by the body's ``error`` code, never the HTTP status."""
        response = send(self._transport, "POST", self._url, data=self.token_request(), retry=NO_RETRY)
        self._retry_after = parse_retry_after(response.header("retry-after"), self._clock.time())
        if 200 <= response.status < 300:
            try:
                body = response.json()
            except ProtocolError as exc:  # a proxy's or captive portal's page: network trouble, backed off
                raise TransportError(exc.message) from None
            return parse_token_response(body, now=self._clock.time(), monotonic=self._clock.monotonic())
        try:
            oauth_json(response, self._url)  # raises the OAuthError the body names
        except OAuthError:
            raise
        except TransportError:
            if response.status in _RETRYABLE_STATUSES:
                raise  # 5xx/429 without an OAuth body: network trouble, backed off
        raise ProtocolError(f"{host_of(self._url)} answered HTTP {response.status} without an error code")

    def _after_error(self, exc: RunbookError, sent_at: float) -> None:
        """Schedule the next poll (or none) for the error ``exc`` from the poll sent at ``sent_at``."""
        kind = classify(exc)
        if kind == "slow_down":
            self.interval += SLOW_DOWN_STEP
        if kind in ("pending", "slow_down"):
            self._failures = 0
            self.next_poll_at = sent_at + self.interval
            text = "waiting for approval" if kind == "pending" else f"slowing down: polling every {self.interval:g} s"
            self._set_status(kind, text)
        elif kind == "backoff":
            self._failures += 1
            delay = max(self.interval, min(self.interval * 2**self._failures, self.max_backoff))
            delay = max(delay, min(self._retry_after or 0.0, self.max_backoff))
            self.next_poll_at = sent_at + delay
            self._set_status("network", f"network trouble: retrying in {delay:g} s")
        else:
            self._set_status("failed", f"stopped: {exc.message}")

    def _set_status(self, state: str, text: str) -> None:
        self.state, self.status = state, text
        if self._on_status is not None:
            self._on_status(text)

    def wait(
        self,
        *,
        cancelled: Callable[[], bool] = lambda: False,
        on_status: Callable[[str], None] | None = None,
        timeout: float | None = None,
    ) -> Token:
        """Poll until the user approves, the code expires, or the wait is cancelled (RFC 8628 §3.5).

        Args:
            cancelled: Checked at least once a second; True stops the wait.
            on_status: Called with each new status line ("slowing down: polling every 10 s").
            timeout: Optional extra local limit in seconds, from now.

        Returns:
            The token.

        Raises:
            FlowTimeout: The code's lifetime (monotonic) or ``timeout`` passed.
            Cancelled: ``cancelled()`` returned True.
            OAuthError: A terminal error such as ``access_denied`` or ``expired_token``.
            ProtocolError: The server's answer is not the protocol.
        """
        self._on_status = on_status
        limit = None if timeout is None else self._clock.monotonic() + timeout
        try:
            self._set_status(self.state, self.status)
            while True:
                self._sleep_until_due(cancelled, limit)
                try:
                    return self.poll_once()
                except RunbookError as exc:
                    if classify(exc) == "stop":
                        raise
        finally:
            self._on_status = None

    def _sleep_until_due(self, cancelled: Callable[[], bool], limit: float | None) -> None:
        """Sleep in slices of at most 1 s until ``next_poll_at``, checking cancel and deadlines."""
        deadline = self.authorization.expires_at()
        while True:
            if cancelled():
                self._set_status("cancelled", "cancelled")
                raise Cancelled("the device authorization was cancelled before it was approved")
            now = self._clock.monotonic()
            if now >= deadline:
                self._set_status("expired", "code expired")
                minutes = max(1, round(self.authorization.expires_in / 60))
                raise FlowTimeout(f"the code expired ({minutes} min) before it was approved")
            if limit is not None and now >= limit:
                self._set_status("expired", "gave up waiting")
                raise FlowTimeout("stopped waiting for approval: the local time limit passed")
            if now >= self.next_poll_at:
                return
            bounds = [self.next_poll_at - now, deadline - now, _SLICE] + ([limit - now] if limit is not None else [])
            self._clock.sleep(min(bounds))


def classify(exc: BaseException) -> str:
    """What polling does after ``exc`` (RFC 8628 §3.5): pending, slow_down, backoff or stop.

    Args:
        exc: The error ``poll_once`` raised.

    Returns:
        ``"pending"`` and ``"slow_down"`` continue at the interval; ``"backoff"`` (no answer, 5xx,
        429, Google's quota error) continues after a doubled wait; ``"stop"`` ends polling.
    """
    if isinstance(exc, AuthorizationPending):
        return "pending"
    if isinstance(exc, SlowDown):
        return "slow_down"
    if isinstance(exc, UnknownOAuthError) and exc.status in _RETRYABLE_STATUSES:
        return "backoff"  # a 5xx/429 with a code this runbook does not know
    if isinstance(exc, OAuthError):
        return "backoff" if exc.retryable else "stop"
    if isinstance(exc, TransportError) and not isinstance(exc, ProtocolError):
        return "backoff"
    return "stop"
