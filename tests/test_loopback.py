"""Loopback flow (RFC 8252 §7.3/§8.3/§8.9, RFC 7636) against the real emulator over loopback."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator

import pytest
import requests

from gapps_runbook import errors
from gapps_runbook.oauth import loopback, loopback_listener
from gapps_runbook.oauth.clients import ClientConfig
from gapps_runbook.oauth.clock import FakeClock
from gapps_runbook.emulator import Emulator, serve
from gapps_runbook.oauth.endpoints import Endpoints, discover
from gapps_runbook.oauth.transport import RequestsTransport

from fakes import FakeTransport, client_id, reply

CALENDAR = (
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/calendar.events.readonly",
)
HTTP = RequestsTransport()
CANARY = "CANARY7q2"  # the emulator's planted secrets all contain this; no redaction pattern knows it


def _canary_factory(kind: str) -> str:
    return f"{CANARY}-{kind}-{os.urandom(8).hex()}"


@pytest.fixture(scope="module")
def emulator_site() -> Iterator[tuple[Emulator, Endpoints]]:
    emulator = Emulator(auto_approve=True, secret_factory=_canary_factory)
    with serve(emulator) as running:
        yield emulator, discover(RequestsTransport(), running.base_url)


@pytest.fixture
def emulator(emulator_site: tuple[Emulator, Endpoints]) -> Emulator:
    return emulator_site[0]


@pytest.fixture
def endpoints(emulator_site: tuple[Emulator, Endpoints]) -> Endpoints:
    return emulator_site[1]


@pytest.fixture
def client(emulator: Emulator) -> ClientConfig:
    registered = emulator.desktop_client
    return ClientConfig(client_id=registered.client_id, client_secret=registered.client_secret, client_type="desktop")


@pytest.fixture
def listeners(monkeypatch: pytest.MonkeyPatch) -> list[socket.socket]:
    """Every listening socket the loopback module opens (a spy on our own server class)."""
    opened: list[socket.socket] = []
    original = loopback_listener.LoopbackServer.server_activate

    def spy(self: loopback_listener.LoopbackServer) -> None:
        opened.append(self.socket)
        original(self)

    monkeypatch.setattr(loopback_listener.LoopbackServer, "server_activate", spy)
    return opened


def _query(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def _port(url: str) -> int:
    return urllib.parse.urlsplit(_query(url)["redirect_uri"]).port or 0


def _assert_closed(port: int) -> None:
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))


def _follow(url: str) -> requests.Response:
    """The demo's opener: fetch the URL; the emulator approves and redirects to the listener."""
    return requests.get(url, timeout=10)


def _wait_for(condition: Callable[[], object], seconds: float = 30) -> object:
    """``condition()`` once it is truthy (checked every 10 ms), else its last value after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return value


def _redirect_of(url: str) -> str:
    """Where the emulator sends the browser back to (the paste-back URL)."""
    reply = requests.get(url, allow_redirects=False, timeout=10)
    assert reply.status_code in (302, 303), reply.status_code
    return reply.headers["Location"]


# --- start(): the authorization request ------------------------------------------------------


def test_authorization_url_carries_s256_pkce_state_and_offline_consent(
    endpoints: Endpoints, client: ClientConfig
) -> None:
    authorization = loopback.start(endpoints, client, CALENDAR)
    params = _query(authorization.url)
    verifier = authorization.code_verifier
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    assert authorization.url.startswith(endpoints.authorization_endpoint + "?")
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) >= 43 and params["code_challenge"] == expected
    assert 43 <= len(verifier) <= 128
    assert params["state"] == authorization.state and len(authorization.state) >= 22
    assert params["response_type"] == "code" and params["client_id"] == client.client_id
    assert params["access_type"] == "offline" and params["prompt"] == "consent"
    assert params["scope"].split() == list(CALENDAR)
    assert params["redirect_uri"] == authorization.redirect_uri
    assert authorization.redirect_uri.startswith("http://127.0.0.1:") and _port(authorization.url) > 0
    assert verifier not in repr(authorization) and client.client_secret not in repr(authorization)


def test_each_attempt_has_fresh_state_and_verifier(endpoints: Endpoints, client: ClientConfig) -> None:
    first, second = (loopback.start(endpoints, client, CALENDAR) for _ in range(2))
    assert first.state != second.state
    assert first.code_verifier != second.code_verifier


def test_start_refuses_a_device_client(endpoints: Endpoints, client: ClientConfig) -> None:
    device = ClientConfig(client_id=client.client_id, client_secret=client.client_secret, client_type="device")
    with pytest.raises(errors.ConfigError) as caught:
        loopback.start(endpoints, device, CALENDAR)
    assert "Desktop app" in str(caught.value) and errors.CONSOLE_CREDENTIALS in str(caught.value)


@pytest.mark.parametrize("field", ["authorization_endpoint", "token_endpoint"])
def test_start_refuses_plain_http_off_loopback(
    endpoints: Endpoints, client: ClientConfig, field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # even when the user's environment allows it
    bad = Endpoints(**{**endpoints.to_json(), field: "http://oauth.example.com/x"})
    with pytest.raises(errors.ConfigError, match="oauth.example.com"):
        loopback.start(bad, client, CALENDAR)


# --- run(): the listener ----------------------------------------------------------------------


def test_run_end_to_end_binds_loopback_only_and_closes_after_callback(
    endpoints: Endpoints, client: ClientConfig, listeners: list[socket.socket]
) -> None:
    pages: list[requests.Response] = []
    bound: list[tuple[str, int]] = []

    def open_url(url: str) -> None:
        bound.append(listeners[0].getsockname())
        pages.append(_follow(url))

    token = loopback.run(HTTP, endpoints, client, CALENDAR, open_url=open_url, timeout=30)
    host, port = bound[0]
    assert host == "127.0.0.1" and port > 0
    assert listeners[0].fileno() == -1
    _assert_closed(port)
    assert _wait_for(lambda: pages), "the browser got no answer"
    assert pages[0].status_code == 200 and "close this tab" in pages[0].text and "runbook" in pages[0].text
    assert "<h1>Authorized</h1>" in pages[0].text
    assert token.scopes == CALENDAR and token.refresh_token and token.access_token


def test_run_ignores_stray_requests_and_refuses_wrong_state(endpoints: Endpoints, client: ClientConfig) -> None:
    statuses: dict[str, int] = {}

    def open_url(url: str) -> None:
        base = f"http://127.0.0.1:{_port(url)}"
        statuses["favicon"] = requests.get(base + "/favicon.ico", timeout=5).status_code
        statuses["no state"] = requests.get(base + "/?code=stray", timeout=5).status_code
        statuses["wrong state"] = requests.get(base + "/?state=forged&code=forged", timeout=5).status_code
        statuses["post"] = requests.post(base + "/", data={"state": _query(url)["state"]}, timeout=5).status_code
        statuses["callback"] = _follow(url).status_code

    token = loopback.run(HTTP, endpoints, client, CALENDAR, open_url=open_url, timeout=30)
    assert _wait_for(lambda: "callback" in statuses), "the browser got no answer"  # run() returns as it answers
    assert statuses == {"favicon": 404, "no state": 400, "wrong state": 400, "post": 404, "callback": 200}
    assert token.scopes == CALENDAR


def _refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_run_times_out_then_its_port_says_so_until_it_closes(
    endpoints: Endpoints, client: ClientConfig, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Allow in a consent tab after the wait ended lands on a page that says so (not "can't be reached")."""
    monkeypatch.setattr(loopback_listener, "ENDED_SECONDS", 3.0)
    clock = FakeClock()
    shown: list[str] = []

    def open_url(url: str) -> None:
        shown.append(url)
        clock.advance(301)

    with pytest.raises(errors.FlowTimeout):
        loopback.run(HTTP, endpoints, client, CALENDAR, open_url=open_url, clock=clock)
    exchanges = sum(r.path == "/token" for r in emulator.requests)
    late = requests.get(shown[0], timeout=10)  # the emulator approves and redirects to the ended attempt's port
    assert late.status_code == 410 and "<h1>This sign-in link timed out</h1>" in late.text, late.text
    assert "Fix: make a new sign-in link in step 03" in late.text and CANARY not in late.text
    assert sum(r.path == "/token" for r in emulator.requests) == exchanges  # the late code is not redeemed
    assert requests.get(f"http://127.0.0.1:{_port(shown[0])}/favicon.ico", timeout=10).status_code == 404
    assert _wait_for(lambda: _refused(_port(shown[0])), 30), "the ended attempt's port is still open"


def test_run_can_be_cancelled_from_another_thread(endpoints: Endpoints, client: ClientConfig) -> None:
    shown: list[str] = []
    cancel = threading.Event()
    outcome: list[BaseException] = []

    def worker() -> None:
        try:
            loopback.run(HTTP, endpoints, client, CALENDAR, open_url=shown.append, cancelled=cancel.is_set)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    assert _wait_for(lambda: shown, 5)
    cancel.set()
    thread.join(3)
    assert not thread.is_alive()
    assert isinstance(outcome[0], errors.Cancelled)
    late = requests.get(shown[0], timeout=10)
    assert late.status_code == 410 and "<h1>This authorization was cancelled</h1>" in late.text, late.text


def test_run_reports_the_openers_failure(endpoints: Endpoints, client: ClientConfig) -> None:
    def open_url(url: str) -> None:
        raise errors.InputError("no browser here")

    with pytest.raises(errors.InputError, match="no browser here"):
        loopback.run(HTTP, endpoints, client, CALENDAR, open_url=open_url, timeout=30)


def test_run_maps_a_refusal_to_access_denied(endpoints: Endpoints, client: ClientConfig) -> None:
    def open_url(url: str) -> None:
        query = urllib.parse.urlencode({"state": _query(url)["state"], "error": "access_denied"})
        requests.get(f"http://127.0.0.1:{_port(url)}/?{query}", timeout=5)

    with pytest.raises(errors.AccessDenied):
        loopback.run(HTTP, endpoints, client, CALENDAR, open_url=open_url, timeout=30)


# --- the landing page: answered after the exchange, with the real outcome (issue 8, item 4) ----------


def _browse(pages: list[requests.Response]) -> Callable[[str], None]:
    """The person's browser: follows the consent page's redirect home and keeps the page it lands on."""
    return lambda url: pages.append(_follow(url))


def test_the_landing_page_answers_after_the_token_is_kept_and_names_the_account(
    endpoints: Endpoints, client: ClientConfig
) -> None:
    pages: list[requests.Response] = []
    kept: list[bool] = []

    def keep(token: object) -> str:
        kept.append(not pages)  # the browser is still waiting for its answer
        return "engineer@example.com"

    loopback.run(HTTP, endpoints, client, CALENDAR, open_url=_browse(pages), timeout=30, keep=keep)
    assert _wait_for(lambda: pages) and kept == [True]
    page = pages[0]
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "<h1>Authorized</h1>" in page.text and "Authorized as engineer@example.com" in page.text
    assert "close this tab" in page.text and "<script" not in page.text and "<a " not in page.text
    assert page.headers["Cache-Control"] == "no-store" and "default-src 'none'" in page.headers["Content-Security-Policy"]


def test_a_wrong_secret_lands_on_the_exchange_failed_page_with_step_02s_fix(
    endpoints: Endpoints, client: ClientConfig
) -> None:
    wrong = ClientConfig(client_id=client.client_id, client_secret="GOCSPX-" + "w" * 28, client_type="desktop")
    pages: list[requests.Response] = []
    with pytest.raises(errors.InvalidClient) as caught:
        loopback.run(HTTP, endpoints, wrong, CALENDAR, open_url=_browse(pages), timeout=30,
                     keep=lambda token: pytest.fail("a refused exchange has no token to keep"))
    assert _wait_for(lambda: pages), "the browser got no answer"
    text = pages[0].text
    assert "<h1>The token exchange failed</h1>" in text and "invalid_client" in text
    assert "the client secret is wrong" in text and "Fix: enter the client&#x27;s secret again in runbook step 02" in text
    assert wrong.client_secret not in text and client.client_secret not in text
    line = str(caught.value)
    assert line.startswith("invalid_client: the token exchange failed, the client secret is wrong") and "\n" not in line
    assert "runbook step 02" in line


def test_what_keep_refuses_is_on_the_landing_page_and_raised(endpoints: Endpoints, client: ClientConfig) -> None:
    pages: list[requests.Response] = []

    def keep(token: object) -> str:
        raise errors.AccountMismatch("the token was approved by someone@example.com, but the profile expects x@example.com")

    with pytest.raises(errors.AccountMismatch):
        loopback.run(HTTP, endpoints, client, CALENDAR, open_url=_browse(pages), timeout=30, keep=keep)
    assert _wait_for(lambda: pages)
    assert "<h1>The token was not stored</h1>" in pages[0].text and "someone@example.com" in pages[0].text


def test_a_refusal_lands_on_access_was_not_granted(endpoints: Endpoints, client: ClientConfig) -> None:
    pages: list[requests.Response] = []

    def open_url(url: str) -> None:
        query = urllib.parse.urlencode({"state": _query(url)["state"], "error": "access_denied"})
        pages.append(requests.get(f"http://127.0.0.1:{_port(url)}/?{query}", timeout=5))

    with pytest.raises(errors.AccessDenied):
        loopback.run(HTTP, endpoints, client, CALENDAR, open_url=open_url, timeout=30)
    assert _wait_for(lambda: pages) and "<h1>Access was not granted</h1>" in pages[0].text


def test_a_browser_that_never_reads_nor_closes_cannot_hold_the_step(
    endpoints: Endpoints, client: ClientConfig
) -> None:
    """An idle preconnect first, then the callback sent on a socket that is never read from nor closed."""
    held: list[socket.socket] = []

    def open_url(url: str) -> None:
        location = _redirect_of(url)
        idle = socket.create_connection(("127.0.0.1", _port(url)))  # a preconnect that never sends a byte
        callback = socket.create_connection(("127.0.0.1", _port(url)))
        target = location.split(f":{_port(url)}", 1)[1]
        callback.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        held.extend([idle, callback])

    started = time.monotonic()
    try:
        token = loopback.run(HTTP, endpoints, client, CALENDAR, open_url=open_url, timeout=30)
        took = time.monotonic() - started
    finally:
        for sock in held:
            sock.close()
    assert token.access_token and took < 10, f"run took {took:.1f} s"


def test_a_pasted_address_finishes_the_same_attempt_without_the_listener(
    endpoints: Endpoints, client: ClientConfig, listeners: list[socket.socket]
) -> None:
    shown: list[str] = []
    box: list[str] = []

    def open_url(url: str) -> None:  # the browser on another machine: its redirect never reaches this listener
        shown.append(url)
        location = _redirect_of(url)
        loopback.check_paste(url, location)
        box.append(location)

    token = loopback.run(HTTP, endpoints, client, CALENDAR, open_url=open_url, timeout=30,
                         pasted=lambda: box[0] if box else None, keep=lambda token: "engineer@example.com")
    assert token.refresh_token and listeners[0].fileno() == -1
    _assert_closed(_port(shown[0]))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda url, location: location.replace("127.0.0.1", "192.0.2.1"), "does not start with"),
        (lambda url, location: location.replace(_query(url)["state"], "other"), "belongs to another authorization"),
        (lambda url, location: location.split("&code=")[0], "has no authorization code"),
        (lambda url, location: "", "does not start with"),
    ],
)
def test_check_paste_refuses_what_cannot_finish_the_attempt(
    endpoints: Endpoints, client: ClientConfig, mutate: Callable[[str, str], str], message: str
) -> None:
    authorization = loopback.start(endpoints, client, CALENDAR)
    location = f"{authorization.redirect_uri}?state={authorization.state}&code=4/abc&scope=openid"
    loopback.check_paste(authorization.url, location)  # the right address passes, nothing sent
    with pytest.raises(errors.InputError, match=message):
        loopback.check_paste(authorization.url, mutate(authorization.url, location))


# --- complete(): paste-back and the token exchange ---------------------------------------------


def test_paste_back_exchanges_the_code(endpoints: Endpoints, client: ClientConfig) -> None:
    authorization = loopback.start(endpoints, client, CALENDAR)
    token = loopback.complete(HTTP, authorization, "  " + _redirect_of(authorization.url) + "\n")
    assert token.scopes == CALENDAR and token.refresh_token


def test_paste_back_accepts_an_address_without_scheme(endpoints: Endpoints, client: ClientConfig) -> None:
    authorization = loopback.start(endpoints, client, CALENDAR)
    pasted = _redirect_of(authorization.url).removeprefix("http://")
    assert loopback.complete(HTTP, authorization, pasted).access_token


def test_paste_back_refuses_another_attempts_url(endpoints: Endpoints, client: ClientConfig) -> None:
    first, second = (loopback.start(endpoints, client, CALENDAR) for _ in range(2))
    pasted = _redirect_of(first.url).replace(str(_port(first.url)), str(_port(second.url)))
    with pytest.raises(errors.InputError, match="belongs to another authorization attempt: start again"):
        loopback.complete(HTTP, second, pasted)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda url: url.replace("127.0.0.1", "192.0.2.1"), "does not start with"),
        (lambda url: url.replace("http://", "https://"), "does not start with"),
        (lambda url: url.replace("/?", "/cb?"), "does not start with"),
        (lambda url: url + "&code=second", "repeats a parameter"),
        (lambda url: url.split("?")[0] + "?state=" + _query(url)["state"], "has no authorization code"),
    ],
)
def test_paste_back_validates_the_pasted_url(
    endpoints: Endpoints, client: ClientConfig, mutate: Callable[[str], str], message: str
) -> None:
    authorization = loopback.start(endpoints, client, CALENDAR)
    with pytest.raises(errors.InputError, match=message) as caught:
        loopback.complete(HTTP, authorization, mutate(_redirect_of(authorization.url)))
    assert "Fix:" in str(caught.value) and "\n" not in str(caught.value)


def test_paste_back_of_a_refusal_is_access_denied(endpoints: Endpoints, client: ClientConfig) -> None:
    authorization = loopback.start(endpoints, client, CALENDAR)
    query = urllib.parse.urlencode({"error": "access_denied", "state": authorization.state})
    with pytest.raises(errors.AccessDenied):
        loopback.complete(HTTP, authorization, f"{authorization.redirect_uri}?{query}")


def test_a_code_is_exchanged_once(endpoints: Endpoints, client: ClientConfig) -> None:
    authorization = loopback.start(endpoints, client, CALENDAR)
    pasted = _redirect_of(authorization.url)
    loopback.complete(HTTP, authorization, pasted)
    with pytest.raises(errors.InvalidGrant):
        loopback.complete(HTTP, authorization, pasted)


def test_a_wrong_verifier_is_invalid_grant(endpoints: Endpoints, client: ClientConfig) -> None:
    authorization = loopback.start(endpoints, client, CALENDAR)
    pasted = _redirect_of(authorization.url)
    forged = dataclasses.replace(authorization, code_verifier="x" * 64)
    with pytest.raises(errors.InvalidGrant):
        loopback.complete(HTTP, forged, pasted)


def test_a_wrong_secret_is_invalid_client(endpoints: Endpoints, client: ClientConfig) -> None:
    wrong = ClientConfig(client_id=client.client_id, client_secret="GOCSPX-not-the-secret-0000", client_type="desktop")
    authorization = loopback.start(endpoints, wrong, CALENDAR)
    with pytest.raises(errors.InvalidClient):
        loopback.complete(HTTP, authorization, _redirect_of(authorization.url))


def test_unreachable_token_endpoint_is_a_transport_error(endpoints: Endpoints, client: ClientConfig) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{probe.getsockname()[1]}"
    unreachable = Endpoints(**{**endpoints.to_json(), "token_endpoint": f"http://{dead}/token"})
    authorization = loopback.start(unreachable, client, CALENDAR)
    query = urllib.parse.urlencode({"state": authorization.state, "code": "4/planted-code-value-123"})
    with pytest.raises(errors.TransportError) as caught:
        loopback.complete(HTTP, authorization, f"{authorization.redirect_uri}?{query}")
    assert dead in str(caught.value) and "planted" not in str(caught.value) and "/token" not in str(caught.value)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("503", errors.TemporarilyUnavailable),
        ("500", errors.InternalFailure),
        ("502", errors.TransportError),
        ("malformed", errors.ProtocolError),
        ("reset", errors.TransportError),
    ],
)
def test_token_endpoint_faults_map_to_the_error_tree(
    emulator: Emulator, endpoints: Endpoints, client: ClientConfig, fault: str, expected: type[Exception]
) -> None:
    authorization = loopback.start(endpoints, client, CALENDAR)
    pasted = _redirect_of(authorization.url)
    emulator.fail_next(urllib.parse.urlsplit(endpoints.token_endpoint).path, fault)
    with pytest.raises(expected) as caught:
        loopback.complete(HTTP, authorization, pasted)
    assert isinstance(caught.value, errors.RunbookError) and CANARY not in str(caught.value)


def test_fewer_granted_scopes_come_back_as_granted(endpoints: Endpoints, client: ClientConfig) -> None:
    """The grant may differ from the request (RFC 6749 §3.3); the token carries what was granted."""
    authorization = loopback.start(endpoints, client, ("email", CALENDAR[0]))
    token = loopback.complete(HTTP, authorization, _redirect_of(authorization.url))
    assert token.scopes == ("https://www.googleapis.com/auth/userinfo.email", CALENDAR[0], "openid")


@pytest.mark.parametrize("before", [None, "keep-me"])
def test_the_insecure_transport_switch_is_never_touched(
    endpoints: Endpoints, client: ClientConfig, monkeypatch: pytest.MonkeyPatch, before: str | None
) -> None:
    """oauthlib's process-wide OAUTHLIB_INSECURE_TRANSPORT was set during each exchange; nothing reads it now."""
    if before is None:
        monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT", raising=False)
    else:
        monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", before)
    seen: list[str | None] = []

    def watching(method: str, url: str, **kwargs: object) -> object:
        seen.append(os.environ.get("OAUTHLIB_INSECURE_TRANSPORT"))
        return HTTP(method, url, **kwargs)  # type: ignore[arg-type]

    authorization = loopback.start(endpoints, client, CALENDAR)
    loopback.complete(watching, authorization, _redirect_of(authorization.url))  # type: ignore[arg-type]
    assert seen == [before] and os.environ.get("OAUTHLIB_INSECURE_TRANSPORT") == before


def test_runtime_imports_neither_google_auth_oauthlib_nor_requests_oauthlib() -> None:
    code = ("import sys, gapps_runbook.oauth.loopback, gapps_runbook.oauth.tokens, gapps_runbook.oauth.device_flow\n"
            "print(sorted(m for m in sys.modules if 'oauthlib' in m))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_no_secret_reaches_logs_messages_or_reprs(
    endpoints: Endpoints, client: ClientConfig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    authorization = loopback.start(endpoints, client, CALENDAR)
    pasted = _redirect_of(authorization.url)
    token = loopback.complete(HTTP, authorization, pasted)
    with pytest.raises(errors.InvalidGrant) as reused:
        loopback.complete(HTTP, authorization, pasted)
    secrets = [
        client.client_secret,
        _query(pasted)["code"],
        authorization.code_verifier,
        token.access_token,
        token.refresh_token or "",
    ]
    shown = "\n".join(
        [caplog.text, str(reused.value), repr(reused.value), repr(token), repr(authorization)]
        + [str(record.args) for record in caplog.records]
    )
    assert all(CANARY in secret for secret in secrets[:2] + secrets[3:])  # only registration can mask these
    assert [secret for secret in secrets if secret in shown] == []
    assert any(record.name.startswith("urllib3") for record in caplog.records)  # the HTTP stack did log


def test_listener_logs_no_code(endpoints: Endpoints, client: ClientConfig, caplog: pytest.LogCaptureFixture,
                               capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    codes: list[str] = []

    def open_url(url: str) -> None:
        location = _redirect_of(url)
        codes.append(_query(location)["code"])
        requests.get(location, timeout=5)

    loopback.run(HTTP, endpoints, client, CALENDAR, open_url=open_url, timeout=30)
    out, err = capfd.readouterr()
    assert codes[0] not in caplog.text + out + err


@pytest.mark.parametrize("pasted", ["http://[/?state={state}&code=4/abc", "http://[::1/?state={state}", "[abc"])
def test_fuzz_unparsable_pasted_url_is_an_input_error(pasted: str) -> None:
    """F1 fuzzer: urlsplit raised ValueError ("Invalid IPv6 URL") out of complete() before any check."""
    site = Endpoints(issuer="http://127.0.0.1:8765", authorization_endpoint="http://127.0.0.1:8765/o/oauth2/v2/auth",
                     token_endpoint="http://127.0.0.1:8765/token")  # fmt: skip
    desktop = ClientConfig(client_id("q" * 32), "GOCSPX-" + "Q" * 28, "desktop")
    authorization = loopback.start(site, desktop, ["openid"], port=54321)
    with pytest.raises(errors.InputError, match="does not start with"):
        loopback.complete(HTTP, authorization, pasted.format(state=authorization.state))


@pytest.mark.parametrize(
    ("query", "error"),
    [("state=\udcff&code=4/abc", errors.InputError), ("state={state}&error=\udcff", errors.OAuthError)],
    ids=["state", "error"],
)
def test_fuzz_lone_surrogates_in_a_pasted_url_are_typed_errors(query: str, error: type[Exception]) -> None:
    """F1 fuzzer: state "\\ud800" made hmac's encode("utf-8") raise UnicodeEncodeError out of complete()."""
    site = Endpoints(issuer="http://127.0.0.1:8765", authorization_endpoint="http://127.0.0.1:8765/o/oauth2/v2/auth",
                     token_endpoint="http://127.0.0.1:8765/token")  # fmt: skip
    desktop = ClientConfig(client_id("q" * 32), "GOCSPX-" + "Q" * 28, "desktop")
    authorization = loopback.start(site, desktop, ["openid"], port=54321)
    with pytest.raises(error):
        loopback.complete(HTTP, authorization, "http://127.0.0.1:54321/?" + query.format(state=authorization.state))


# --- the exchange at the transport seam ---------------------------------------------------------

RFC_SITE = Endpoints(issuer="https://as.example.org", authorization_endpoint="https://as.example.org/authorize",
                     token_endpoint="https://as.example.org/token")  # fmt: skip
RFC_CLIENT = ClientConfig("kiosk-7", "kiosk secret/+0123456789", "desktop")


def _pasted(authorization: loopback.LoopbackAuthorization, code: str = "4/code-value-0123456789") -> str:
    return f"{authorization.redirect_uri}?" + urllib.parse.urlencode({"state": authorization.state, "code": code})


def test_exchange_posts_code_verifier_and_redirect_with_basic_auth_at_an_rfc_provider() -> None:
    """RFC 6749 §4.1.3 + RFC 7636 §4.5 through the transport; discovery listing no method means Basic."""
    authorization = loopback.start(RFC_SITE, RFC_CLIENT, ["calendar:read"], port=54321)
    transport = FakeTransport(reply(200, {"access_token": "at-0123456789abcdef", "expires_in": 60,
                                          "token_type": "bearer"}))
    clock = FakeClock()
    token = loopback.complete(transport, authorization, _pasted(authorization), clock=clock)
    (call,) = transport.calls
    assert (call.method, call.url) == ("POST", RFC_SITE.token_endpoint)
    assert call.data == {"grant_type": "authorization_code", "code": "4/code-value-0123456789",
                         "redirect_uri": "http://127.0.0.1:54321/", "code_verifier": authorization.code_verifier}
    pair = base64.b64decode(call.headers["Authorization"].removeprefix("Basic ")).decode()
    assert pair == "kiosk-7:kiosk%20secret%2F%2B0123456789"  # RFC 6749 §2.3.1: form-encoded, then base64
    assert token.scopes == ("calendar:read",)  # no scope in the answer: as requested (RFC 6749 §5.1)
    assert token.expires_at == clock.time() + 60 and token.monotonic_expires_at == clock.monotonic() + 60


def test_rfc_authorization_url_has_no_google_parameters() -> None:
    params = _query(loopback.start(RFC_SITE, RFC_CLIENT, ["calendar:read"], port=54321).url)
    assert "access_type" not in params and "prompt" not in params and params["code_challenge_method"] == "S256"


def test_exchange_at_google_posts_the_client_secret_in_the_body(endpoints: Endpoints, client: ClientConfig) -> None:
    authorization = loopback.start(endpoints, client, CALENDAR, port=54321)
    transport = FakeTransport(reply(400, {"error": "invalid_grant", "error_description": "Bad Request"}))
    with pytest.raises(errors.InvalidGrant):
        loopback.complete(transport, authorization, _pasted(authorization))
    (call,) = transport.calls
    assert call.data is not None and call.headers is None
    assert (call.data["client_id"], call.data["client_secret"]) == (client.client_id, client.client_secret)


def test_pkce_pair_is_s256_of_a_43_to_128_character_verifier() -> None:
    verifier, challenge = loopback.pkce_pair()
    assert 43 <= len(verifier) <= 128 and set(verifier) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    assert challenge == base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    assert loopback.pkce_pair()[0] != verifier
