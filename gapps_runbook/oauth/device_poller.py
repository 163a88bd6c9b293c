"""Polling for the device access token: RFC 8628 §3.4 (request) and §3.5 (response), a step plus a loop.

:meth:`DevicePoller.poll_once` sends one token request; :meth:`DevicePoller.wait` is the loop. Polling
(RFC 8628 §3.5): never earlier than the interval; ``slow_down`` adds 5 s for this and
all later polls; connection errors, 5xx, 429 and a 2xx body that is not JSON (a proxy's page) back
off by doubling (capped; never sooner than a ``Retry-After``) and continue; any other error stops at
once; the code's lifetime is enforced on the monotonic clock. Errors are classified by the body's
``error``, never the status: Google answers ``authorization_pending`` with HTTP 428 and ``slow_down``
with 403 where the RFC says 400, and quota errors as ``{"error_code": "rate_limit_exceeded"}``.

The request and the response are :mod:`gapps_runbook.oauth.device_flow`; the authorization polled for is
:class:`~gapps_runbook.oauth.device_authorization.DeviceAuthorization`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import (
    AuthorizationPending,
    Cancelled,
    FlowTimeout,
    InvalidGrant,
    OAuthError,
    ProtocolError,
    RunbookError,
    SlowDown,
    TransportError,
    UnknownOAuthError,
)
from ..safety.redact import register_secret
from .client_auth import authenticate
from .clock import SYSTEM_CLOCK, Clock, duration_text
from .tokens import Token, parse_token_response
from .transport import NO_RETRY, RETRYABLE_STATUSES, Transport, host_of, oauth_json, parse_retry_after, send

if TYPE_CHECKING:
    from .client_config import ClientConfig
    from .device_authorization import DeviceAuthorization
    from .endpoints import Endpoints

DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_STEP = 5  # RFC 8628 §3.5: "increased by 5 seconds for this and all subsequent requests"
_SLICE = 1.0  # longest single sleep, so cancellation is noticed within a second


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
        authorization: What :func:`device_flow.request_device_code` returned.
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
        self._endpoints = endpoints
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

    def token_request(self) -> tuple[dict[str, str], dict[str, str]]:
        """The device access token request (RFC 8628 §3.4) as ``(form, headers)``, client authenticated.

        Google requires its ``client_secret`` here (``client_secret_post``); other providers get the
        method :func:`client_auth.method_for` picks.
        """
        form = {"device_code": self.authorization.device_code, "grant_type": DEVICE_GRANT_TYPE}
        return authenticate(form, self._client, self._endpoints)

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
        form, headers = self.token_request()
        response = send(self._transport, "POST", self._url, data=form, headers=headers, retry=NO_RETRY)
        self._retry_after = parse_retry_after(response.header("retry-after"), self._clock.time())
        if 200 <= response.status < 300:
            try:
                body = response.json()
            except ProtocolError as exc:  # a proxy's or captive portal's page: network trouble, backed off
                raise TransportError(exc.message) from None
            return parse_token_response(body, now=self._clock.time(), monotonic=self._clock.monotonic(), url=self._url)
        try:
            oauth_json(response, self._url)  # raises the OAuthError the body names
        except InvalidGrant as exc:  # the device code is unknown: a new code fixes it, not a consent screen
            exc.fix = exc.device_code_fix
            raise
        except OAuthError:
            raise
        except TransportError:
            if response.status in RETRYABLE_STATUSES:
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
                lifetime = duration_text(self.authorization.expires_in)
                raise FlowTimeout(f"the code expired ({lifetime}) before it was approved")
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
    if isinstance(exc, UnknownOAuthError) and exc.status in RETRYABLE_STATUSES:
        return "backoff"  # a 5xx/429 with a code this runbook does not know
    if isinstance(exc, OAuthError):
        return "backoff" if exc.retryable else "stop"
    if isinstance(exc, TransportError) and not isinstance(exc, ProtocolError):
        return "backoff"
    return "stop"


__all__ = ["DEVICE_GRANT_TYPE", "SLOW_DOWN_STEP", "DevicePoller", "classify"]
