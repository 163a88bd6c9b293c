"""The loopback listener of the Desktop app flow: RFC 8252 §7.3 redirect, §8.3 loopback interface.

A ``wsgiref`` server bound to the loopback IP literal on an ephemeral port, run one request at a
time until this attempt's redirect arrives (RFC 8252 §8.9: only a request carrying this attempt's
``state`` counts; a stray ``/favicon.ico`` or a forged callback is answered and ignored). The access
log is dropped: its request line holds ``?code=``. The flow itself is :mod:`gapps_runbook.oauth.loopback`.
"""

from __future__ import annotations

import hmac
import logging
import socket
import threading
import urllib.parse
import wsgiref.simple_server
from collections.abc import Callable
from typing import Any

from ..errors import Cancelled, FlowTimeout
from ..safety.redact import register_secret

_LOGGER = logging.getLogger(__name__)
HOST = "127.0.0.1"  #: RFC 8252 §8.3: the loopback IP literal; never "localhost", never all interfaces
READ_SECONDS = 0.5  #: how long a connection may stay silent (a browser's idle preconnect)
SUCCESS_PAGE = "Authorization received. You can close this tab and return to the runbook."
REFUSAL_PAGE = "Authorization was not granted. You can close this tab and return to the runbook."
FOREIGN_PAGE = "This address does not belong to the runbook's current authorization attempt."


class LoopbackServer(wsgiref.simple_server.WSGIServer):
    """One thread, no SO_REUSEADDR (as google-auth-oauthlib's), no tracebacks on stderr."""

    allow_reuse_address = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        _LOGGER.debug("a connection to the loopback listener failed")


class QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    """Drops the access log: its request line holds ``?code=`` (security reference, T6)."""

    timeout = READ_SECONDS

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the superclass's name)
        pass


class CallbackApp:
    """Answers every request; keeps the first GET of ``/`` that carries the expected ``state``.

    Args:
        state: This attempt's ``state``; None until the attempt exists (every request is then foreign).
        redirect_uri: The attempt's redirect URI, to rebuild the address the browser was sent to.

    Attributes:
        callback_url: ``redirect_uri?query`` of the callback, once it arrived.
    """

    def __init__(self, state: str | None = None, redirect_uri: str = "") -> None:
        self.state = state
        self.redirect_uri = redirect_uri
        self.callback_url: str | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        query = environ.get("QUERY_STRING", "")
        params = urllib.parse.parse_qs(query)
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("PATH_INFO") != "/" or self.callback_url:
            return _page(start_response, "404 Not Found", "Not found.")
        if not self.state or not same(params.get("state", [""])[0], self.state):
            _LOGGER.warning("refused a request to the loopback listener without this attempt's state")
            return _page(start_response, "400 Bad Request", FOREIGN_PAGE)
        for code in params.get("code", []):
            register_secret(code)
        self.callback_url = f"{self.redirect_uri}?{query}"
        return _page(start_response, "200 OK", SUCCESS_PAGE if "code" in params else REFUSAL_PAGE)


def _page(start_response: Callable[..., Any], status: str, text: str) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")])
    return [text.encode("utf-8")]


def same(given: str, expected: str) -> bool:
    """Constant-time comparison of two ``state`` values (RFC 8252 §8.9)."""
    # surrogatepass: a paste read with surrogateescape can hold lone surrogates, which strict UTF-8 refuses
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def make_listener() -> LoopbackServer:
    """A listener on 127.0.0.1, ephemeral port, answering every request as foreign until given an app."""
    server = wsgiref.simple_server.make_server(HOST, 0, CallbackApp(), LoopbackServer, QuietHandler)
    return server  # type: ignore[return-value]


def free_port() -> int:
    """A port free on 127.0.0.1 now; the paste-back redirect lands there with no one listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def open_in_thread(open_url: Callable[[str], None], url: str) -> list[BaseException]:
    """Call ``open_url`` in a daemon thread (a blocking opener must not starve the listener).

    Returns:
        A list that receives the opener's exception, for the waiting loop to raise in its own thread.
    """
    failed: list[BaseException] = []

    def target() -> None:
        try:
            open_url(url)
        except BaseException as exc:
            failed.append(exc)

    threading.Thread(target=target, name="gapps-runbook-open-url", daemon=True).start()
    return failed


def check_waiting(opener_failed: list[BaseException], cancelled: Callable[[], bool], remaining: float,
                  timeout: float) -> None:
    """Raise when the wait must end: cancelled, the opener failed, or ``timeout`` passed."""
    if cancelled():
        raise Cancelled("the authorization was cancelled before the browser came back")
    if opener_failed:
        raise opener_failed[0]
    if remaining <= 0:
        raise FlowTimeout(f"the browser did not come back to the runbook within {timeout:g} s")


__all__ = ["HOST", "CallbackApp", "LoopbackServer", "QuietHandler", "free_port", "make_listener", "same"]
