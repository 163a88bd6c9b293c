"""The "Desktop app" loopback flow: RFC 8252 §7.3 redirect, §8.3 loopback listener, RFC 7636 PKCE.

Google's device flow refuses Calendar scopes, so a "Desktop app" client sends the browser to the
authorization endpoint, which redirects it to ``http://127.0.0.1:<port>/``. RFC 8252 §8.3: listen on
the loopback IP literal only ("the use of localhost is NOT RECOMMENDED"), on an ephemeral port, and
only until the response arrives (:mod:`gapps_runbook.oauth.loopback_listener`); §8.9: check
``state``; RFC 7636 §4.2: send an S256 ``code_challenge``. :func:`complete` is paste-back mode, for
a kernel on another machine than the browser.

Everything is built here: the PKCE pair (:func:`pkce_pair`), the authorization URL (:func:`start`)
and the code exchange (:func:`complete`), which goes through the injected
:class:`~gapps_runbook.oauth.transport.Transport` with the one client authentication
(:func:`client_auth.authenticate`) like every other token request. google-auth-oauthlib's
``InstalledAppFlow`` is not used: it forces requests-oauthlib's own HTTP session (no injected
transport, so no emulator seam or retry policy), it needs the process-wide
``OAUTHLIB_INSECURE_TRANSPORT`` switch for the loopback emulator's plain http, and its
``run_local_server`` logs the redirect's ``?code=`` at INFO.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import (CONSOLE_CREDENTIALS, STEP_AUTHORIZE, STEP_CLIENT, Cancelled, ConfigError, FlowTimeout,
                      InputError, InvalidClient, OAuthError, RunbookError)
from ..safety.redact import register_secret
from .client_auth import authenticate
from .clock import SYSTEM_CLOCK, Clock
from .endpoints import LOOPBACK_HOSTS
from .loopback_listener import (HOST, CallbackApp, Landing, check_waiting, ended_landing, free_port, landing_for,
                                linger, make_listener, open_in_thread, same)
from .tokens import Token, parse_token_response
from .transport import NO_RETRY, Transport, host_of, oauth_json, send

if TYPE_CHECKING:
    from .clients import ClientConfig
    from .endpoints import Endpoints

_POLL_SECONDS = 0.5  #: how often ``cancelled``, the opener and the deadline are checked
_PASTE_FIX = "after clicking Allow, copy the browser's whole address (http://127.0.0.1:...) and paste it"


@dataclass(frozen=True)
class LoopbackAuthorization:
    """One attempt of the authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636).

    Attributes:
        url: The authorization URL to open (S256 ``code_challenge``, ``state``).
        redirect_uri: ``http://127.0.0.1:<port>/``.
        state: The value the redirect must carry back (RFC 8252 §8.9).
        code_verifier: The PKCE verifier (RFC 7636 §4.1; secret), sent with the code.
        scopes: The requested scopes: the grant when the token response names none (RFC 6749 §5.1).
        client: The client that asked; it authenticates the exchange.
        endpoints: The provider; its token endpoint takes the code.
    """

    url: str
    redirect_uri: str
    state: str = field(repr=False)
    code_verifier: str = field(repr=False)
    scopes: tuple[str, ...]
    client: ClientConfig = field(repr=False, compare=False)
    endpoints: Endpoints = field(repr=False, compare=False)


def pkce_pair() -> tuple[str, str]:
    """A fresh ``(code_verifier, code_challenge)`` for S256 (RFC 7636 §4.1-4.2).

    RFC 7636 §4.1: the verifier is 43-128 characters of ``[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"``;
    64 random bytes in base64url give 86. §4.2: ``BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))``.
    """
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def start(endpoints: Endpoints, client: ClientConfig, scopes: Iterable[str], *, port: int = 0) -> LoopbackAuthorization:
    """Build the authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3 S256); no I/O.

    Google's dialect adds ``access_type=offline`` (a refresh token) and ``prompt=consent`` (a new one
    on every consent; Google's installed-app guide, Step 2:
    https://developers.google.com/identity/protocols/oauth2/native-app#step-2:-send-a-request-to-googles-oauth-2.0-server).

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
    requested = tuple(scopes)
    redirect_uri = f"http://{HOST}:{port or free_port()}/"
    verifier, challenge = pkce_pair()
    register_secret(verifier)
    state = secrets.token_urlsafe(32)
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(requested),
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if endpoints.google_dialect:
        query.update(access_type="offline", prompt="consent")
    base = endpoints.authorization_endpoint
    url = base + ("&" if "?" in base else "?") + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    return LoopbackAuthorization(url, redirect_uri, state, verifier, requested, client, endpoints)


def run(
    transport: Transport,
    endpoints: Endpoints,
    client: ClientConfig,
    scopes: Iterable[str],
    *,
    open_url: Callable[[str], object],
    timeout: float = 300.0,
    clock: Clock = SYSTEM_CLOCK,
    cancelled: Callable[[], bool] = lambda: False,
    keep: Callable[[Token], str | None] | None = None,
    pasted: Callable[[], str | None] = lambda: None,
) -> Token:
    """Listen on 127.0.0.1 (ephemeral port), open the URL, await the redirect, exchange the code.

    The listener runs in the calling thread (a notebook may run this in a background thread) and
    is closed as soon as the callback arrives. At the timeout or on cancel it answers for a while longer,
    in a daemon thread, with a page that says the attempt ended (:func:`.loopback_listener.linger`). The
    browser is answered only after the exchange and ``keep``, with the real outcome
    (:func:`.loopback_listener.landing_for`).

    Args:
        transport: The HTTP seam for the code exchange.
        endpoints, client, scopes: As for :func:`start`.
        open_url: Shows or opens the URL. It runs in a daemon thread, so it may block (the demo
            fetches the URL and follows the redirect here); an exception it raises ends the wait.
        timeout: Seconds to wait for the browser, on ``clock.monotonic``.
        clock: The deadline and the token's expiry stamp.
        cancelled: Polled at least every second; True ends the wait.
        keep: Called with the token while the browser waits for its answer (the runbook checks the
            account and stores the token there); returns the account the landing page names. An
            exception it raises is shown on the landing page, then raised here.
        pasted: Polled like ``cancelled``: the address a browser on another machine ended on (paste-back,
            checked first with :func:`check_paste`), or None. It finishes this same attempt.

    Raises:
        FlowTimeout: No callback within ``timeout``.
        Cancelled: ``cancelled()`` returned True.
        OAuthError: The user refused (``AccessDenied``) or the token endpoint refused the code.
    """
    server = make_listener()
    outcome: dict[str, Token | Exception] = {}  # "token" or "error", set by the callback's thread
    ended: Landing | None = None  # the attempt ended here first: its port says so for a while
    try:
        authorization = start(endpoints, client, scopes, port=server.server_port)

        def settle(callback_url: str) -> Landing:
            return _settle(transport, authorization, callback_url, clock, keep, outcome)

        app = CallbackApp(authorization.state, authorization.redirect_uri, settle)
        server.set_app(app)
        deadline = clock.monotonic() + timeout
        opener_failed = open_in_thread(open_url, authorization.url)
        while not outcome:
            check_waiting(opener_failed, cancelled, deadline - clock.monotonic(), timeout)
            address = pasted()
            if address:
                settle(address)
                break
            server.timeout = min(_POLL_SECONDS, max(deadline - clock.monotonic(), 0.0))
            server.handle_request()
    except (Cancelled, FlowTimeout) as exc:
        ended = ended_landing(exc)
        raise
    finally:
        if ended is None:
            server.server_close()
        else:
            linger(server, ended)
    result = outcome["error"] if "error" in outcome else outcome["token"]
    if isinstance(result, Exception):
        raise result
    return result


def _settle(transport: Transport, authorization: LoopbackAuthorization, callback_url: str, clock: Clock,
            keep: Callable[[Token], str | None] | None, outcome: dict[str, Token | Exception]) -> Landing:
    """Exchange the callback's code and keep the token; record the token or the error; the landing page."""
    stage = "exchange"
    try:
        token = complete(transport, authorization, callback_url, clock=clock)
        stage = "keep"
        account = keep(token) if keep is not None else token.account
    except Exception as exc:  # shown to the browser, then raised by run() in the caller's thread
        if isinstance(exc, RunbookError) and not authorization.endpoints.google_dialect:
            exc.for_provider(authorization.endpoints.issuer)  # the provider's pages, before the browser sees it
        outcome["error"] = exc
        return landing_for(exc, stage)
    outcome["token"] = token
    who = f"Authorized as {account}" if account else "Authorized"
    return Landing(True, "Authorized", f"{who}: the runbook stored the token.")


def check_paste(url: str, pasted: str) -> None:
    """Refuse, before anything is sent, a pasted address that cannot finish the attempt of ``url`` (no I/O).

    Args:
        url: The authorization URL shown (its ``redirect_uri`` and ``state`` say where the browser must end).
        pasted: What the person pasted.

    Raises:
        InputError: Not this attempt's redirect address, another attempt's ``state``, or neither a code nor
            an error in it.
    """
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    params = _callback_params(query.get("redirect_uri", ""), query.get("state", ""), pasted)
    if "error" not in params and not params.get("code"):
        raise InputError("the pasted URL has no authorization code", fix=_PASTE_FIX)


def complete(
    transport: Transport, authorization: LoopbackAuthorization, redirected_url: str, *, clock: Clock = SYSTEM_CLOCK
) -> Token:
    """Finish an attempt with the address the browser was sent back to (RFC 6749 §4.1.2); get the token.

    Args:
        transport: The HTTP seam for the code exchange.
        authorization: The attempt from :func:`start`.
        redirected_url: ``http://127.0.0.1:PORT/?state=...&code=...`` as the browser shows it.
        clock: Stamps the token's expiry.

    Raises:
        InputError: Not this attempt's redirect address, wrong ``state``, or no ``code``.
        AccessDenied: The user clicked Cancel on the consent page.
        OAuthError: Another error in the redirect, or from the token endpoint.
        TransportError: The token endpoint could not be reached.
    """
    params = _callback_params(authorization.redirect_uri, authorization.state, redirected_url)
    if "error" in params:
        raise OAuthError.from_response(400, params)
    code = params.get("code", "")
    if not code:
        raise InputError("the pasted URL has no authorization code", fix=_PASTE_FIX)
    register_secret(code)
    return _exchange(transport, authorization, code, clock)


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
    try:
        return urllib.parse.urlsplit(url).hostname in LOOPBACK_HOSTS
    except ValueError:  # a bad IPv6 literal
        return False


def _callback_params(redirect_uri: str, state: str, redirected_url: str) -> dict[str, str]:
    """The redirect's query parameters, once the URL is known to be this attempt's redirect."""
    text = redirected_url.strip()
    expected = urllib.parse.urlsplit(redirect_uri)
    try:
        parts = urllib.parse.urlsplit(text if "://" in text else f"http://{text}")  # raises on "http://[x"
        same_place = (parts.scheme, parts.hostname, parts.port) == ("http", expected.hostname, expected.port)
    except ValueError:  # a port that is not a number, or a bad IPv6 literal
        parts, same_place = expected, False
    if not same_place or (parts.path or "/") != expected.path:
        raise InputError(f"the pasted URL does not start with {redirect_uri}", fix=_PASTE_FIX)
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    if any(len(values) > 1 for values in query.values()):
        raise InputError("the pasted URL repeats a parameter", fix=_PASTE_FIX)
    params = {key: values[0] for key, values in query.items()}
    if not state or not same(params.get("state", ""), state):
        raise InputError(
            "the pasted URL belongs to another authorization attempt: start again",
            fix=f"run {STEP_AUTHORIZE} again and paste the address that attempt leads to",
        )
    return params


def _exchange(transport: Transport, authorization: LoopbackAuthorization, code: str, clock: Clock) -> Token:
    """Exchange the code and PKCE verifier (RFC 6749 §4.1.3, RFC 7636 §4.5), client authenticated.

    One attempt: a code is single-use, so a retry after a lost answer would only get ``invalid_grant``.
    A response without ``scope`` granted what was requested (RFC 6749 §5.1).
    """
    url = authorization.endpoints.token_endpoint
    form, headers = authenticate(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": authorization.redirect_uri,
            "code_verifier": authorization.code_verifier,
        },
        authorization.client,
        authorization.endpoints,
    )
    response = send(transport, "POST", url, data=form, headers=headers, retry=NO_RETRY, clock=clock)
    try:
        body = oauth_json(response, url)
    except InvalidClient as exc:  # the consent page took the client ID: what the token endpoint refused is the secret
        raise InvalidClient(
            f"the token exchange failed, the client secret is wrong ({exc.description or 'Unauthorized'}; the "
            "consent page accepted the client ID)", status=exc.status, error_uri=exc.error_uri,
            fix=f"enter the client's secret again in {STEP_CLIENT}, copied from the console's Clients page "
            f"({CONSOLE_CREDENTIALS}), then {STEP_AUTHORIZE}",
        ) from None
    if body.get("scope") is None:
        body["scope"] = " ".join(authorization.scopes)
    return parse_token_response(body, now=clock.time(), monotonic=clock.monotonic(), url=url)


__all__ = ["LoopbackAuthorization", "check_paste", "complete", "pkce_pair", "run", "start"]
