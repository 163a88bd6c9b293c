"""The one I/O seam: every HTTP request the runbook makes goes through a :class:`Transport`.

The protocol modules build requests and parse responses as plain data; they call a transport
passed in by the caller. :class:`RequestsTransport` is the real one; tests pass the emulator over
loopback, or a plain callable. :func:`send` adds bounded, jittered retries for the requests where
retrying is safe (refresh, revoke, inspection, API calls), honouring ``Retry-After``.

``requests`` is imported only when a :class:`RequestsTransport` first sends (about 50 ms): the
:class:`Transport` protocol, :class:`Response` and the helpers here need none of it, so commands
that make no request (``--help``, ``status``) never load it (figure B2 in docs/performance.md).
"""

from __future__ import annotations

import json
import random
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .clock import SYSTEM_CLOCK, Clock
from ..errors import OAuthError, ProtocolError, TransportError

if TYPE_CHECKING:
    import requests

USER_AGENT = "gapps-runbook/0.1"
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Response:
    """An HTTP response: status, lower-cased headers, raw body."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> dict[str, Any]:
        """The body as a JSON object, or :class:`ProtocolError` (the body is never quoted: it may hold a secret)."""
        try:
            value = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: "[[[[..." thousands deep
            raise ProtocolError(f"the server answered HTTP {self.status} with a body that is not JSON") from None
        if not isinstance(value, dict):
            raise ProtocolError(f"the server answered HTTP {self.status} with JSON that is not an object")
        return value


class Transport(Protocol):
    """Sends one HTTP request. Raises :class:`TransportError` when no response arrived."""

    def __call__(
        self,
        method: str,
        url: str,
        *,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Response: ...


RETRYABLE_STATUSES: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})
"""HTTP statuses that say "try again later" (RFC 9110 §15.5.9, §15.6; RFC 6585 §4), for every retry here."""


def host_of(url: str) -> str:
    """The host[:port] of ``url``: what error messages name, never the path or query."""
    return urllib.parse.urlsplit(url).netloc or url.split("?")[0]


_SESSION_GUARD = threading.Lock()
"""Two threads' first requests through one transport make one session (module-level: a transport stays picklable)."""


class RequestsTransport:
    """A :class:`Transport` on a ``requests.Session``. Form bodies only; no redirects followed.

    The session (and ``requests`` itself) is created on the first request, not here: a
    :class:`~gapps_runbook.runbook.Site` always holds a transport, and most commands never send.

    Args:
        session: The session to use; a new one (made on first use) by default.
        timeout: Seconds to wait for a connection and for each read, when the caller names none.
    """

    def __init__(self, session: requests.Session | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._session = session
        if session is not None:
            session.headers["User-Agent"] = USER_AGENT
        self.timeout = timeout

    @property
    def session(self) -> requests.Session:
        """The session, made (with the ``User-Agent``) on first use."""
        if self._session is None:
            with _SESSION_GUARD:
                if self._session is None:
                    import requests

                    session = requests.Session()
                    session.headers["User-Agent"] = USER_AGENT
                    self._session = session
        return self._session

    def __call__(
        self,
        method: str,
        url: str,
        *,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Response:
        import requests  # already loaded by ``session``; a dictionary look-up from here on

        timeout = self.timeout if timeout is None else timeout
        session = self.session
        try:
            reply = session.request(
                method,
                url,
                data=dict(data) if data is not None else None,
                params=dict(params) if params is not None else None,
                headers=dict(headers or {}),
                timeout=timeout,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise TransportError(f"{host_of(url)} did not answer within {timeout:g} s") from None
        except requests.ConnectionError as exc:
            raise TransportError(f"could not connect to {host_of(url)} ({_reason(exc)})") from None
        except requests.RequestException as exc:
            raise TransportError(f"request to {host_of(url)} failed ({type(exc).__name__})") from None
        return Response(reply.status_code, {k.lower(): v for k, v in reply.headers.items()}, reply.content)


def _reason(exc: BaseException) -> str:
    """A short cause for a connection error, without the URL requests puts in its message."""
    text = str(exc).lower()
    for needle, reason in (
        ("refused", "connection refused"),
        ("reset", "connection reset"),
        ("aborted", "connection aborted"),
        ("name or service", "host not found"),
        ("resolve", "host not found"),
        ("remotedisconnected", "connection closed by the server"),
        ("closed connection", "connection closed by the server"),
    ):
        if needle in text:
            return reason
    return type(exc).__name__


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter, as google-auth's ``ExponentialBackoff`` (3 attempts, 1 s, x2).

    Attributes:
        attempts: Total attempts, the first included.
        initial: Wait before the second attempt, in seconds.
        factor: Growth of the wait per attempt.
        cap: Longest wait, ``Retry-After`` included.
        jitter: Relative random spread of each wait (0.1 = plus or minus 10 %).
        statuses: HTTP statuses worth another attempt.
    """

    attempts: int = 3
    initial: float = 1.0
    factor: float = 2.0
    cap: float = 30.0
    jitter: float = 0.1
    statuses: frozenset[int] = RETRYABLE_STATUSES

    def delay(self, attempt: int, retry_after: str | None, rng: Callable[[], float]) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        wait = self.initial * self.factor ** (attempt - 1)
        wait *= 1 + self.jitter * (2 * rng() - 1)
        hinted = parse_retry_after(retry_after)
        if hinted is not None:
            wait = max(wait, hinted)
        return min(wait, self.cap)


NO_RETRY = RetryPolicy(attempts=1)
SAFE_RETRY = RetryPolicy()


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    import email.utils  # with socket and selectors: loaded by the first HTTP-date answer, not by `status` (B2)

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    base = now if now is not None else SYSTEM_CLOCK.time()
    return max(0.0, when.timestamp() - base)


def send(
    transport: Transport,
    method: str,
    url: str,
    *,
    retry: RetryPolicy = NO_RETRY,
    clock: Clock = SYSTEM_CLOCK,
    rng: Callable[[], float] = random.random,
    **kwargs: Any,
) -> Response:
    """Send a request, retrying connection errors and retryable statuses per ``retry``.

    Returns the last response (which may still be a 5xx); raises :class:`TransportError` when the
    last attempt got no response at all.
    """
    for attempt in range(1, retry.attempts + 1):
        last = attempt == retry.attempts
        try:
            response = transport(method, url, **kwargs)
        except TransportError:
            if last:
                raise
            clock.sleep(retry.delay(attempt, None, rng))
            continue
        if response.status not in retry.statuses or last:
            return response
        clock.sleep(retry.delay(attempt, response.header("retry-after"), rng))
    raise AssertionError("unreachable")  # pragma: no cover


def oauth_json(response: Response, url: str) -> dict[str, Any]:
    """The JSON body of a successful OAuth response, or the matching error.

    Non-2xx with an OAuth error body becomes :class:`OAuthError` (by the body's code, not the
    status); a 5xx or 429 without one becomes :class:`TransportError`.
    """
    if 200 <= response.status < 300:
        return response.json()
    try:
        body = response.json()
    except ProtocolError:
        body = {}
    if "error" in body or "error_code" in body:
        if isinstance(body.get("error"), dict):  # a Google API envelope, not an OAuth error
            body = {}
        else:
            raise OAuthError.from_response(response.status, body)
    raise TransportError(f"{host_of(url)} answered HTTP {response.status}")
