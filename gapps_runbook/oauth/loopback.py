"""The "Desktop app" loopback flow: RFC 8252 §7.3 redirect, §8.3 loopback listener, RFC 7636 PKCE.

Google's device flow refuses Calendar scopes, so a "Desktop app" client sends the browser to the
authorization endpoint, which redirects it to ``http://127.0.0.1:<port>/``. RFC 8252 §8.3: listen on
the loopback IP literal only ("the use of localhost is NOT RECOMMENDED"), on an ephemeral port, and
only until the response arrives; §8.9: check ``state``; RFC 7636 §4.2: send an S256 ``code_challenge``.

google-auth-oauthlib's ``InstalledAppFlow`` builds the URL, the PKCE pair and the token request. Its
``run_local_server`` is not used: it serves one request only (a stray ``/favicon.ico`` uses up the
callback), cannot be cancelled, and logs ``?code=`` at INFO; the listener here is the same ``wsgiref``
server, run until this attempt's ``state`` arrives. :func:`complete` is paste-back mode, for a kernel
on another machine than the browser.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import socket
import threading
import urllib.parse
import wsgiref.simple_server
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests
from google_auth_oauthlib.flow import InstalledAppFlow
from oauthlib.oauth2.rfc6749.errors import InsecureTransportError, MismatchingStateError, OAuth2Error

from .clock import SYSTEM_CLOCK, Clock
from ..errors import CONSOLE_CREDENTIALS, STEP_AUTHORIZE, STEP_CLIENT, Cancelled, ConfigError, FlowTimeout
from ..errors import InputError, OAuthError, TransportError
from ..safety.redact import register_secret
from .tokens import Token, parse_token_response
from .transport import Response, host_of, oauth_json

if TYPE_CHECKING:
    from .clients import ClientConfig
    from .endpoints import Endpoints

_LOGGER = logging.getLogger(__name__)
HOST = "127.0.0.1"  #: RFC 8252 §8.3: the loopback IP literal; never "localhost", never all interfaces
_LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
_POLL_SECONDS = 0.5  #: how often ``cancelled``, the opener and the deadline are checked
_READ_SECONDS = 0.5  #: how long a connection may stay silent (a browser's idle preconnect)
_TOKEN_TIMEOUT = 30.0
_INSECURE_ENV = "OAUTHLIB_INSECURE_TRANSPORT"
_insecure_lock = threading.Lock()
_PASTE_FIX = "after clicking Allow, copy the browser's whole address (http://127.0.0.1:...) and paste it"
SUCCESS_PAGE = "Authorization received. You can close this tab and return to the runbook."
REFUSAL_PAGE = "Authorization was not granted. You can close this tab and return to the runbook."
FOREIGN_PAGE = "This address does not belong to the runbook's current authorization attempt."


@dataclass
class LoopbackAuthorization:
    """One attempt: ``url`` to open (S256 ``code_challenge``, ``state``), ``redirect_uri``
    (``http://127.0.0.1:<port>/``), the ``state`` the redirect must carry back (RFC 8252 §8.9), and the
    google-auth-oauthlib ``flow`` holding the PKCE verifier for the token exchange."""

    url: str
    redirect_uri: str
    state: str = field(repr=False)
    flow: InstalledAppFlow = field(repr=False, compare=False)


def start(endpoints: Endpoints, client: ClientConfig, scopes: Iterable[str], *, port: int = 0) -> LoopbackAuthorization:
    """Build the authorization request (RFC 6749 §4.1.1, RFC 7636 §4.2 S256, offline access, consent).

    Args:
        endpoints: The provider's authorization and token endpoints.
        client: A "desktop" client.
        scopes: The scopes to request.
        port: The redirect URI's port; 0 picks a free one (paste-back mode).

    Raises:
        ConfigError: Not a Desktop app client, or an endpoint is plain http off loopback.
    """
    _check_client(client)
    _check_endpoints(endpoints)
    register_secret(client.client_secret)
    redirect_uri = f"http://{HOST}:{port or _free_port()}/"
    config = {"installed": {
        "client_id": client.client_id, "client_secret": client.client_secret, "redirect_uris": [f"http://{HOST}"],
        "auth_uri": endpoints.authorization_endpoint, "token_uri": endpoints.token_endpoint,
    }}
    flow = InstalledAppFlow.from_client_config(
        config, scopes=list(scopes), redirect_uri=redirect_uri, autogenerate_code_verifier=True
    )
    with _loopback_http(endpoints.authorization_endpoint):
        url, state = flow.authorization_url(access_type="offline", prompt="consent")
    register_secret(flow.code_verifier)
    return LoopbackAuthorization(url, redirect_uri, state, flow)


def run(
    endpoints: Endpoints,
    client: ClientConfig,
    scopes: Iterable[str],
    *,
    open_url: Callable[[str], None],
    timeout: float = 300.0,
    clock: Clock = SYSTEM_CLOCK,
    cancelled: Callable[[], bool] = lambda: False,
) -> Token:
    """Listen on 127.0.0.1 (ephemeral port), open the URL, await the redirect, exchange the code.

    The listener runs in the calling thread (a notebook may run this in a background thread) and
    is closed as soon as the callback arrives, at the timeout, or on cancel.

    Args:
        endpoints, client, scopes: As for :func:`start`.
        open_url: Shows or opens the URL. It runs in a daemon thread, so it may block (the demo
            fetches the URL and follows the redirect here); an exception it raises ends the wait.
        timeout: Seconds to wait for the browser, on ``clock.monotonic``.
        clock: The deadline and the token's expiry stamp.
        cancelled: Polled at least every second; True ends the wait.

    Raises:
        FlowTimeout: No callback within ``timeout``.
        Cancelled: ``cancelled()`` returned True.
        OAuthError: The user refused (``AccessDenied``) or the token endpoint refused the code.
    """
    server = wsgiref.simple_server.make_server(HOST, 0, _CallbackApp(None), _LoopbackServer, _QuietHandler)
    try:
        authorization = start(endpoints, client, scopes, port=server.server_port)
        app = _CallbackApp(authorization)
        server.set_app(app)
        deadline = clock.monotonic() + timeout
        opener_failed = _open_in_thread(open_url, authorization.url)
        while app.callback_url is None:
            _check_waiting(opener_failed, cancelled, deadline - clock.monotonic(), timeout)
            server.timeout = min(_POLL_SECONDS, max(deadline - clock.monotonic(), 0.0))
            server.handle_request()
    finally:
        server.server_close()
    return complete(authorization, str(app.callback_url), clock=clock)


def complete(authorization: LoopbackAuthorization, redirected_url: str, *, clock: Clock = SYSTEM_CLOCK) -> Token:
    """Finish an attempt with the address the browser was sent back to (RFC 6749 §4.1.2); get the token.

    Args:
        authorization: The attempt from :func:`start`.
        redirected_url: ``http://127.0.0.1:PORT/?state=...&code=...`` as the browser shows it.
        clock: Stamps the token's expiry.

    Raises:
        InputError: Not this attempt's redirect address, wrong ``state``, or no ``code``.
        AccessDenied: The user clicked Cancel on the consent page.
        OAuthError: Another error in the redirect, or from the token endpoint.
        TransportError: The token endpoint could not be reached.
    """
    params = _callback_params(authorization, redirected_url)
    if "error" in params:
        raise OAuthError.from_response(400, params)
    code = params.get("code", "")
    if not code:
        raise InputError("the pasted URL has no authorization code", fix=_PASTE_FIX)
    register_secret(code)
    return _exchange(authorization, code, clock)


def _check_client(client: ClientConfig) -> None:
    if client.client_type != "desktop":
        raise ConfigError(
            f"the loopback flow needs a 'Desktop app' client, not a {client.client_type!r} client",
            fix=f"create a 'Desktop app' client on the Clients page ({CONSOLE_CREDENTIALS}), then {STEP_CLIENT}",
        )


def _check_endpoints(endpoints: Endpoints) -> None:
    """RFC 9700 §2.6: https, or plain http on loopback only (the embedded emulator)."""
    for name, url in (("authorization", endpoints.authorization_endpoint), ("token", endpoints.token_endpoint)):
        scheme = urllib.parse.urlsplit(url or "").scheme
        if (scheme == "https" and host_of(url)) or (scheme == "http" and _is_loopback(url)):
            continue
        raise ConfigError(
            f"the provider's {name} endpoint {host_of(url) or '(none)'} is not an https URL",
            fix="use the provider's https issuer URL, or the device flow if it has no authorization endpoint",
        )


def _is_loopback(url: str) -> bool:
    return urllib.parse.urlsplit(url).hostname in _LOOPBACK_NAMES


@contextlib.contextmanager
def _loopback_http(url: str) -> Iterator[None]:
    """Let oauthlib use plain http for ``url`` only if it is on loopback, and only inside this block."""
    if not (url.startswith("http://") and _is_loopback(url)):
        yield
        return
    with _insecure_lock:
        previous = os.environ.get(_INSECURE_ENV)
        os.environ[_INSECURE_ENV] = "1"
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(_INSECURE_ENV, None)
            else:
                os.environ[_INSECURE_ENV] = previous


def _free_port() -> int:
    """A port free on 127.0.0.1 now; the paste-back redirect lands there with no one listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _open_in_thread(open_url: Callable[[str], None], url: str) -> list[BaseException]:
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


def _check_waiting(opener_failed: list[BaseException], cancelled: Callable[[], bool], remaining: float,
                   timeout: float) -> None:
    if cancelled():
        raise Cancelled("the authorization was cancelled before the browser came back")
    if opener_failed:
        raise opener_failed[0]
    if remaining <= 0:
        raise FlowTimeout(f"the browser did not come back to the runbook within {timeout:g} s")


class _LoopbackServer(wsgiref.simple_server.WSGIServer):
    """One thread, no SO_REUSEADDR (as google-auth-oauthlib's), no tracebacks on stderr."""

    allow_reuse_address = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        _LOGGER.debug("a connection to the loopback listener failed")


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    """Drops the access log: its request line holds ``?code=`` (security reference, T6)."""

    timeout = _READ_SECONDS

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the superclass's name)
        pass


class _CallbackApp:
    """Answers every request; keeps the first GET of ``/`` that carries this attempt's ``state``."""

    def __init__(self, authorization: LoopbackAuthorization | None) -> None:
        self.authorization = authorization
        self.callback_url: str | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        query = environ.get("QUERY_STRING", "")
        params = urllib.parse.parse_qs(query)
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("PATH_INFO") != "/" or self.callback_url:
            return _page(start_response, "404 Not Found", "Not found.")
        expected = self.authorization.state if self.authorization else ""
        if not expected or not _same(params.get("state", [""])[0], expected):
            _LOGGER.warning("refused a request to the loopback listener without this attempt's state")
            return _page(start_response, "400 Bad Request", FOREIGN_PAGE)
        for code in params.get("code", []):
            register_secret(code)
        self.callback_url = f"{self.authorization.redirect_uri}?{query}"
        return _page(start_response, "200 OK", SUCCESS_PAGE if "code" in params else REFUSAL_PAGE)


def _page(start_response: Callable[..., Any], status: str, text: str) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")])
    return [text.encode("utf-8")]


def _same(given: str, expected: str) -> bool:
    # surrogatepass: a paste read with surrogateescape can hold lone surrogates, which strict UTF-8 refuses
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def _callback_params(authorization: LoopbackAuthorization, redirected_url: str) -> dict[str, str]:
    """The redirect's query parameters, once the URL is known to be this attempt's redirect."""
    text = redirected_url.strip()
    expected = urllib.parse.urlsplit(authorization.redirect_uri)
    try:
        parts = urllib.parse.urlsplit(text if "://" in text else f"http://{text}")  # raises on "http://[x"
        same_place = (parts.scheme, parts.hostname, parts.port) == ("http", expected.hostname, expected.port)
    except ValueError:  # a port that is not a number, or a bad IPv6 literal
        parts, same_place = expected, False
    if not same_place or (parts.path or "/") != expected.path:
        raise InputError(f"the pasted URL does not start with {authorization.redirect_uri}", fix=_PASTE_FIX)
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    if any(len(values) > 1 for values in query.values()):
        raise InputError("the pasted URL repeats a parameter", fix=_PASTE_FIX)
    params = {key: values[0] for key, values in query.items()}
    if not _same(params.get("state", ""), authorization.state):
        raise InputError(
            "the pasted URL belongs to another authorization attempt: start again",
            fix=f"run {STEP_AUTHORIZE} again and paste the address that attempt leads to",
        )
    return params


def _exchange(authorization: LoopbackAuthorization, code: str, clock: Clock) -> Token:
    """Exchange the code and PKCE verifier (RFC 6749 §4.1.3, RFC 7636 §4.5); the reply's body decides."""
    flow = authorization.flow
    url = flow.client_config["token_uri"]
    replies: list[requests.Response] = []
    hook = _capture(replies)
    flow.oauth2session.register_compliance_hook("access_token_response", hook)
    try:
        with _loopback_http(url):
            flow.fetch_token(code=code, include_client_id=True, timeout=_TOKEN_TIMEOUT)
    except (requests.RequestException, OAuth2Error, Warning) as exc:
        _raise_unless_replied(exc, url, replied=bool(replies))
    finally:
        flow.oauth2session.compliance_hook["access_token_response"].discard(hook)
    reply = replies[-1]
    body = oauth_json(Response(reply.status_code, {k.lower(): v for k, v in reply.headers.items()}, reply.content), url)
    body.setdefault("scope", " ".join(flow.oauth2session.scope or ()))  # RFC 6749 §5.1: absent = as requested
    return parse_token_response(body, now=clock.time())


def _capture(replies: list[requests.Response]) -> Callable[[requests.Response], requests.Response]:
    """A requests-oauthlib hook keeping the raw reply and registering its tokens before anything logs them."""

    def hook(reply: requests.Response) -> requests.Response:
        replies.append(reply)
        with contextlib.suppress(ValueError):
            body = reply.json()
            for key in ("access_token", "refresh_token", "id_token"):
                if isinstance(body, dict) and isinstance(body.get(key), str):
                    register_secret(body[key])
        return reply

    return hook


def _raise_unless_replied(exc: Exception, url: str, *, replied: bool) -> None:
    """Map a failure of ``fetch_token``; once the server replied, its body is read instead.

    oauthlib also raises ``Warning("Scope has changed ...")`` when fewer scopes were granted: the
    body's ``scope`` then tells the caller which ones (security reference, T19).
    """
    if isinstance(exc, requests.Timeout):
        raise TransportError(f"{host_of(url)} did not answer the token request within {_TOKEN_TIMEOUT:g} s") from None
    if isinstance(exc, requests.RequestException):
        raise TransportError(f"could not reach the token endpoint {host_of(url)} ({type(exc).__name__})") from None
    if isinstance(exc, MismatchingStateError):
        raise InputError("the redirect belongs to another authorization attempt: start again", fix=_PASTE_FIX) from None
    if isinstance(exc, InsecureTransportError):
        raise ConfigError(
            f"the token endpoint {host_of(url)} is not https", fix="use the provider's https URL"
        ) from None
    if isinstance(exc, OAuth2Error) and not replied:
        body = {"error": exc.error, "error_description": exc.description or ""}
        raise OAuthError.from_response(exc.status_code, body) from None
    if not replied:
        raise TransportError(f"the token request to {host_of(url)} failed ({type(exc).__name__})") from None
