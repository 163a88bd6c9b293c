"""The loopback listener of the Desktop app flow: RFC 8252 §7.3 redirect, §8.3 loopback interface.

A ``wsgiref`` server bound to the loopback IP literal on an ephemeral port, run one request at a
time until this attempt's redirect arrives (RFC 8252 §8.9: only a request carrying this attempt's
``state`` counts; a stray ``/favicon.ico`` or a forged callback is answered and ignored). The access
log is dropped: its request line holds ``?code=``. The flow itself is :mod:`gapps_runbook.oauth.loopback`.

The browser's landing page answers only once the redirect was settled (the code exchanged, the token
kept), with the real outcome: "Authorized as ..." or the error's one line and its fix
(:class:`Landing`, :func:`landing_html`). Each connection may stay silent for :data:`READ_SECONDS`
at most, reading and writing alike, so a browser that never sends or never reads cannot hold the step.

An attempt that ends without its redirect (Cancel, or the wait timed out) keeps its port answering for
:data:`ENDED_SECONDS` in a daemon thread (:func:`linger`) with a page that says so and where to start again
(:func:`ended_landing`), so Allow in a consent tab left open reaches the runbook, not the browser's "This site
can't be reached"; the approval's code is not redeemed.

Where the app's server asks for it (:data:`PARK_ENV`, set by ``gapps-runbook app`` for its kernels), each
listener announces its port in that folder while it waits (:func:`announce`) and withdraws it when its attempt
ends (authorized, failed, cancelled, timed out). A kernel that dies mid-attempt (its page was left) cannot
withdraw: the server then keeps that port answering for a while with :func:`abandoned_landing`, so Allow in
a consent tab opened for that attempt says the attempt was abandoned and where to start again, instead of
the browser's "This site can't be reached" (RFC 8252 §7.3: the redirect to the loopback port is the only way
back to the application).
"""

from __future__ import annotations

import hmac
import html
import json
import logging
import os
import socket
import threading
import time
import urllib.parse
import wsgiref.simple_server
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AccessDenied, Cancelled, FlowTimeout, RunbookError
from ..safety.redact import redact, register_secret
from ..steps import AUTHORIZE

_LOGGER = logging.getLogger(__name__)
HOST = "127.0.0.1"  #: RFC 8252 §8.3: the loopback IP literal; never "localhost", never all interfaces
READ_SECONDS = 0.5  #: how long one read or write may block (an idle preconnect; a browser that never reads)
CLOSE_TAB = "You can close this tab and return to the runbook."
FOREIGN_PAGE = "This address does not belong to the runbook's current authorization attempt."
PARK_ENV = "GAPPS_RUNBOOK_LOOPBACK_PARK"
"""A folder (0700) of the app's server where its kernels' listeners announce their ports while they wait."""
ABANDONED_TITLE = "This authorization was abandoned"
ENDED_SECONDS = 900.0
"""How long the port of an attempt that ended without its redirect keeps answering with :func:`ended_landing`."""
_ANNOUNCED = {"profile": ""}
"""What this process's announcements say besides the port: the profile the app's kernel serves."""


class LoopbackServer(wsgiref.simple_server.WSGIServer):
    """One thread, no SO_REUSEADDR (as google-auth-oauthlib's), no tracebacks on stderr.

    Attributes:
        announcement: Its port's announcement (:func:`announce`), withdrawn when it closes; None without one.
    """

    allow_reuse_address = False
    announcement: Path | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        _LOGGER.debug("a connection to the loopback listener failed")

    def server_close(self) -> None:
        """Close the socket and withdraw the announcement: the attempt ended here, nobody abandoned it."""
        super().server_close()
        self.withdraw()

    def withdraw(self) -> None:
        """Remove the port's announcement (this process answers on it, or nobody does)."""
        if self.announcement is not None:
            self.announcement.unlink(missing_ok=True)
            self.announcement = None


class QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    """Drops the access log: its request line holds ``?code=``, a secret until redeemed (RFC 8252 §8.1)."""

    timeout = READ_SECONDS

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the superclass's name)
        pass


@dataclass(frozen=True)
class Landing:
    """What the browser's tab says once the redirect was settled: a heading and one line (no secret).

    Attributes:
        ok: True once the token is stored.
        title: The heading ("Authorized", "The token exchange failed", ...).
        line: One line: the account, or the error and its fix.
    """

    ok: bool
    title: str
    line: str
    again: str = ""
    """Where to start again (a link to the app's step 03), or "" (the page says to close the tab)."""


def landing_for(exc: BaseException, stage: str) -> Landing:
    """The landing page of a failed attempt: ``stage`` is "exchange" (the code for a token) or "keep".

    Args:
        exc: What ended the attempt; a RunbookError's one line (redacted) is shown, never a traceback.
        stage: Where it failed: "exchange" (the redirect or the token endpoint) or "keep" (the account
            check and the profile, in the runbook).
    """
    if isinstance(exc, RunbookError):
        line = str(exc)
    else:
        line = f"unexpected error ({type(exc).__name__}): {redact(str(exc))[:200]} The runbook shows the details."
    if isinstance(exc, AccessDenied):
        return Landing(False, "Access was not granted", line)
    if stage == "exchange":
        return Landing(False, "The token exchange failed", line)
    return Landing(False, "The token was not stored", line)


def landing_html(landing: Landing) -> str:
    """The landing page itself: a small HTML page, every text escaped, no script, no secret; one link at most
    (:attr:`Landing.again`)."""
    colour = "#1b5e20" if landing.ok else "#b00020"
    after = (f"<p><a id='again' href='{html.escape(landing.again)}'>Start again at step {AUTHORIZE.number} "
             f"({html.escape(AUTHORIZE.title)})</a></p>" if landing.again else f"<p>{html.escape(CLOSE_TAB)}</p>")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(landing.title)} - gapps-runbook</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:44em;margin:4em auto;padding:0 1em;color:#202124}"
        f"h1{{font-size:1.6em;color:{colour}}}p{{overflow-wrap:anywhere}}</style></head><body>"
        f"<h1>{html.escape(landing.title)}</h1><p id='outcome'>{html.escape(landing.line)}</p>{after}</body></html>"
    )


def abandoned_landing(again: str = "") -> Landing:
    """What a consent tab says when its attempt's page was left before the browser came back.

    Args:
        again: The app's address of step 03 on the attempt's profile, or "".
    """
    return Landing(False, ABANDONED_TITLE,
                   "The runbook page that started this authorization was closed or reloaded before the browser came "
                   "back, so nothing was stored and this approval cannot be used. Fix: make a new sign-in link in "
                   f"step {AUTHORIZE.number} ({AUTHORIZE.title}) and approve that one.", again)


def ended_landing(exc: Cancelled | FlowTimeout) -> Landing:
    """What a consent tab says when its attempt ended in the runbook (Cancel, or the wait timed out) first."""
    if isinstance(exc, Cancelled):
        title, why = "This authorization was cancelled", "Cancel was clicked in the runbook"
    else:
        title, why = "This sign-in link timed out", "the runbook stopped waiting for the browser"
    return Landing(False, title, f"{why.capitalize()} before this approval came back, so nothing was stored and "
                   f"this approval cannot be used. Fix: make a new sign-in link in step {AUTHORIZE.number} "
                   f"({AUTHORIZE.title}) and approve that one.")


class EndedApp:
    """Answers an ended attempt's port: :func:`landing_html` of its :class:`Landing` (410 Gone) for ``GET /``,
    404 otherwise. The code a late redirect carries is not redeemed (its attempt's verifier is gone)."""

    def __init__(self, landing: Landing) -> None:
        self.page = landing_html(landing).encode("utf-8")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("PATH_INFO") != "/":
            return _page(start_response, "404 Not Found", "Not found.")
        start_response("410 Gone", [("Content-Type", "text/html; charset=utf-8"), *LANDING_HEADERS])
        return [self.page]


def linger(server: LoopbackServer, landing: Landing, seconds: float | None = None) -> threading.Thread:
    """Keep ``server``'s port answering with ``landing`` (:class:`EndedApp`) for ``seconds``, then close it.

    It runs in a daemon thread (the process may end sooner: the port closes with it) and withdraws the port's
    announcement at once: this process answers on it now.

    Args:
        server: The ended attempt's listener, still open.
        landing: The page (:func:`ended_landing`).
        seconds: How long; :data:`ENDED_SECONDS` by default.

    Returns:
        The thread (started).
    """
    server.withdraw()
    server.set_app(EndedApp(landing))
    deadline = time.monotonic() + (ENDED_SECONDS if seconds is None else seconds)

    def serve() -> None:
        try:
            while (left := deadline - time.monotonic()) > 0:
                server.timeout = min(1.0, left)
                server.handle_request()
        finally:
            server.server_close()

    thread = threading.Thread(target=serve, name="gapps-runbook-ended-attempt", daemon=True)
    thread.start()
    return thread


class CallbackApp:
    """Answers every request; settles the first GET of ``/`` that carries the expected ``state``.

    Args:
        state: This attempt's ``state``; None until the attempt exists (every request is then foreign).
        redirect_uri: The attempt's redirect URI, to rebuild the address the browser was sent to.
        settle: Called with the callback's address before the browser is answered (the code exchange,
            the token kept); its :class:`Landing` is the page. Must not raise. None: a plain "received".

    Attributes:
        callback_url: ``redirect_uri?query`` of the callback, once it arrived.
    """

    def __init__(self, state: str | None = None, redirect_uri: str = "",
                 settle: Callable[[str], Landing] | None = None) -> None:
        self.state = state
        self.redirect_uri = redirect_uri
        self.settle = settle
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
        landing = self.settle(self.callback_url) if self.settle else Landing(True, "Received", CLOSE_TAB)
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), *LANDING_HEADERS])
        return [landing_html(landing).encode("utf-8")]


LANDING_HEADERS = [("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer"),
                   ("X-Content-Type-Options", "nosniff"),
                   ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")]
"""Every answer of a listener: never cached, no referrer (the address holds ``?code=``), no script."""


def _page(start_response: Callable[..., Any], status: str, text: str) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), *LANDING_HEADERS])
    return [text.encode("utf-8")]


def same(given: str, expected: str) -> bool:
    """Constant-time comparison of two ``state`` values (RFC 8252 §8.9)."""
    # surrogatepass: a paste read with surrogateescape can hold lone surrogates, which strict UTF-8 refuses
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def make_listener() -> LoopbackServer:
    """A listener on 127.0.0.1, ephemeral port, answering every request as foreign until given an app;
    announced in :data:`PARK_ENV`'s folder when the environment names one."""
    server = wsgiref.simple_server.make_server(HOST, 0, CallbackApp(), LoopbackServer, QuietHandler)
    folder = os.environ.get(PARK_ENV)
    if folder:
        server.announcement = announce(Path(folder), server.server_port)
    return server


def announce_for(profile: str) -> None:
    """Name the profile this process's later announcements carry (an app kernel serves one at a time)."""
    _ANNOUNCED["profile"] = profile


@dataclass(frozen=True)
class Announcement:
    """A waiting listener's port, announced by the process that listens (:func:`announce`).

    Attributes:
        path: The announcement's file (``<port>.json``).
        pid: The listening process.
        port: The listener's port on 127.0.0.1.
        profile: The profile its attempt is for, "" when unknown.
    """

    path: Path
    pid: int
    port: int
    profile: str


def announce(folder: Path, port: int) -> Path | None:
    """Write ``<port>.json`` (this process's id, the port, :func:`announce_for`'s profile) into ``folder``.

    Returns:
        The file, or None when it could not be written (the attempt goes on, unannounced).
    """
    path = folder / f"{port}.json"
    part = folder / f".{port}.part"
    try:
        part.write_text(json.dumps({"pid": os.getpid(), "port": port, "profile": _ANNOUNCED["profile"]}),
                        encoding="utf-8")
        part.replace(path)  # whole or absent for the reader
    except OSError:
        _LOGGER.debug("could not announce the loopback listener's port in %s", folder)
        return None
    return path


def announcements(folder: Path) -> list[Announcement]:
    """The announcements in ``folder``; an unreadable or malformed one is skipped (and left for its writer)."""
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            note = json.loads(path.read_text(encoding="utf-8"))
            found.append(Announcement(path, int(note["pid"]), int(note["port"]), str(note.get("profile") or "")))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found


def free_port() -> int:
    """A port free on 127.0.0.1 now; the paste-back redirect lands there with no one listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def open_in_thread(open_url: Callable[[str], object], url: str) -> list[BaseException]:
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


__all__ = ["ABANDONED_TITLE", "ENDED_SECONDS", "HOST", "LANDING_HEADERS", "PARK_ENV", "Announcement", "CallbackApp",
           "EndedApp", "Landing", "LoopbackServer", "QuietHandler", "abandoned_landing", "announce", "announce_for",
           "announcements", "ended_landing", "free_port", "landing_for", "landing_html", "linger", "make_listener",
           "same"]
