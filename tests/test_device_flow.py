"""device_flow.py: RFC 8628 §3.1-3.5 in Google's dialect, polling timed on a FakeClock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gapps_runbook.oauth.clients import ClientConfig
from gapps_runbook.oauth.clock import FakeClock
from gapps_runbook.oauth.device_flow import (
    DEVICE_GRANT_TYPE,
    DeviceAuthorization,
    DevicePoller,
    device_request,
    parse_device_response,
    request_device_code,
)
from gapps_runbook.oauth.endpoints import GOOGLE, Endpoints
from gapps_runbook.errors import (
    AccessDenied,
    AuthorizationPending,
    Cancelled,
    ConfigError,
    ExpiredToken,
    FlowTimeout,
    InputError,
    InvalidClient,
    InvalidScope,
    OAuthError,
    ProtocolError,
    RunbookError,
    SlowDown,
    TransportError,
)
from gapps_runbook.safety.redact import redact
from gapps_runbook.oauth.transport import Response

from fakes import FakeTransport, reply

SECRET = "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5"
CLIENT = ClientConfig("5678-abcdefghijklmnopqrstuvwxyz012345.apps.googleusercontent.com", SECRET, "device")
DEVICE_CODE = "4/4-GMMhmHCXhWEzkobqIHGG_EnNYYsAkukHspeYUk9E8"
SCOPES = ("openid", "email")
GOOGLE_DEVICE = {"device_code": DEVICE_CODE, "user_code": "GQVQ-JKEC",
                 "verification_url": "https://www.google.com/device", "expires_in": 1800, "interval": 5}
TOKEN = {"access_token": "ya29.device-flow-access-token", "expires_in": 3599, "token_type": "Bearer",
         "refresh_token": "1//device-flow-refresh-token", "scope": "openid"}


# Google's statuses (its device-flow guide, Step 6) and the RFC's (400) for the same bodies.
PENDING_GOOGLE = reply(428, {"error": "authorization_pending", "error_description": "Precondition Required"})
PENDING_RFC = reply(400, {"error": "authorization_pending"})
SLOW_GOOGLE = reply(403, {"error": "slow_down", "error_description": "Forbidden"})
SLOW_RFC = reply(400, {"error": "slow_down"})
DENIED_GOOGLE = reply(403, {"error": "access_denied", "error_description": "Forbidden"})
DENIED_RFC = reply(400, {"error": "access_denied"})
EXPIRED = reply(400, {"error": "expired_token", "error_description": "Bad Request"})
OK = reply(200, TOKEN)


def scripted(clock: FakeClock, *script: Response | Exception) -> FakeTransport:
    """Token and device endpoints take a form, never query parameters; each call stamped on ``clock``."""
    return FakeTransport(*script, clock=clock, forbid_params=True)


def authorization(clock: FakeClock, *, interval: int = 5, expires_in: int = 1800) -> DeviceAuthorization:
    return DeviceAuthorization(DEVICE_CODE, "GQVQ-JKEC", "https://www.google.com/device", expires_in, interval,
                               issued_at=clock.monotonic())


def poller(clock: FakeClock, *script: Response | Exception, **kw: Any) -> tuple[DevicePoller, FakeTransport]:
    transport = scripted(clock, *script)
    auth_kw = {k: kw.pop(k) for k in ("interval", "expires_in") if k in kw}
    return DevicePoller(transport, GOOGLE, CLIENT, authorization(clock, **auth_kw), clock=clock, **kw), transport


# --- §3.1-3.2 ------------------------------------------------------------------------------------


def test_device_request_at_google_has_client_id_and_no_client_secret() -> None:
    assert device_request(CLIENT, GOOGLE, SCOPES) == ({"client_id": CLIENT.client_id, "scope": "openid email"}, {})
    with pytest.raises(InputError):
        device_request(CLIENT, GOOGLE, [])


def test_device_request_authenticates_a_confidential_client_at_other_providers() -> None:
    """RFC 8628 §3.1: a confidential client authenticates; discovery listing no method means Basic."""
    rfc = Endpoints("https://idp.example", "", "https://idp.example/token",
                    device_authorization_endpoint="https://idp.example/device")
    form, headers = device_request(CLIENT, rfc, SCOPES)
    assert form == {"scope": "openid email", "client_id": CLIENT.client_id}  # oauthlib requires it beside Basic
    assert headers["Authorization"].startswith("Basic ")
    post_only = Endpoints(**{**rfc.to_json(), "token_endpoint_auth_methods_supported": ("client_secret_post",)})
    form, headers = device_request(CLIENT, post_only, SCOPES)
    assert (form, headers) == ({"scope": "openid email", "client_id": CLIENT.client_id, "client_secret": SECRET}, {})
    public = ClientConfig("tv-app", "", "device")
    assert device_request(public, rfc, SCOPES) == ({"scope": "openid email", "client_id": "tv-app"}, {})


@pytest.mark.parametrize(
    ("value", "expected"),
    [("https://idp.example/device?user_code=WDJB-MJHT", "https://idp.example/device?user_code=WDJB-MJHT"),
     ("http://127.0.0.1:8765/device?user_code=X", "http://127.0.0.1:8765/device?user_code=X"),
     ("javascript:alert(1)", None), ("https://[x", None), ("/device", None), (42, None), (None, None)],
)
def test_verification_uri_complete_is_kept_only_as_an_http_url(value: object, expected: str | None) -> None:
    """RFC 8628 §3.2: optional; anything but an http(s) URL is ignored, never an error."""
    body = {"device_code": DEVICE_CODE, "user_code": "WDJB-MJHT", "verification_uri": "https://idp.example/device",
            "verification_uri_complete": value}
    assert parse_device_response(body, now=0.0).verification_uri_complete == expected


def test_google_verification_url_is_normalised() -> None:
    auth = parse_device_response(GOOGLE_DEVICE, now=100.0)
    assert auth.verification_uri == "https://www.google.com/device"
    assert (auth.user_code, auth.expires_in, auth.interval, auth.issued_at) == ("GQVQ-JKEC", 1800, 5, 100.0)
    assert auth.expires_at() == 1900.0


def test_rfc_verification_uri_and_defaults() -> None:
    body = {"device_code": DEVICE_CODE, "user_code": "WDJB-MJHT", "verification_uri": "https://idp.example/device"}
    auth = parse_device_response(body, now=0.0)
    assert (auth.verification_uri, auth.interval, auth.expires_in) == ("https://idp.example/device", 5, 1800)


def test_interval_as_string_is_accepted() -> None:
    assert parse_device_response({**GOOGLE_DEVICE, "interval": "7", "expires_in": "600"}, now=0.0).interval == 7


@pytest.mark.parametrize(
    "change",
    [{"device_code": None}, {"user_code": ""}, {"verification_url": None}, {"verification_url": "www.google.com"},
     {"interval": "five"}, {"interval": 0}, {"interval": True}, {"expires_in": -5}, {"expires_in": 1.5},
     {"device_code": 12}],
)
def test_invalid_device_responses(change: dict[str, Any]) -> None:
    body = {k: v for k, v in {**GOOGLE_DEVICE, **change}.items() if v is not None}
    with pytest.raises(ProtocolError) as info:
        parse_device_response(body, now=0.0)
    assert DEVICE_CODE not in str(info.value)


@pytest.mark.parametrize(("change", "field"), [
    ({"user_code": None}, "user_code: is missing"), ({"device_code": None}, "device_code: is missing"),
    ({"user_code": 7}, "user_code: is not a string"), ({"verification_url": None}, "verification_uri"),
    ({"verification_url": ["https://x"]}, "verification_url: is not a string"),
    ({"interval": "5s"}, "interval: is not"),
])
def test_malformed_device_response_names_the_provider_the_endpoint_and_the_field(change: dict[str, Any],
                                                                                   field: str) -> None:
    """A 200 without user_code (or with a field of the wrong type): one line, never a KeyError."""
    body = {k: v for k, v in {**GOOGLE_DEVICE, **change}.items() if v is not None}
    clock = FakeClock()
    rfc = Endpoints("https://idp.example", "", "https://idp.example/token",
                    device_authorization_endpoint="https://idp.example/oauth/device")
    with pytest.raises(ProtocolError) as info:
        request_device_code(scripted(clock, reply(200, body)), rfc, CLIENT, SCOPES, clock=clock)
    text = str(info.value)
    assert text.startswith("the device authorization response from provider idp.example (/oauth/device): ")
    assert field.replace(": ", " ") in text and "\n" not in text and DEVICE_CODE not in text
    assert "--issuer" in info.value.fix


def test_malformed_token_response_while_polling_names_the_provider_the_endpoint_and_the_field() -> None:
    clock = FakeClock()
    poll, _ = poller(clock, reply(200, {**TOKEN, "token_type": None, "access_token": 12}))
    with pytest.raises(ProtocolError) as info:
        poll.poll_once()
    assert str(info.value).startswith("the token response from provider oauth2.googleapis.com (/token): access_token")


def test_device_code_is_secret() -> None:
    auth = parse_device_response({**GOOGLE_DEVICE, "device_code": "AH-1Ng-unique-device-code-xyz"}, now=0.0)
    assert "AH-1Ng-unique-device-code-xyz" not in repr(auth)
    assert "AH-1Ng-unique-device-code-xyz" not in redact("x AH-1Ng-unique-device-code-xyz y")
    assert "GQVQ-JKEC" in repr(auth)


def test_request_device_code_posts_client_id_and_scope() -> None:
    clock = FakeClock()
    transport = scripted(clock, reply(200, GOOGLE_DEVICE))
    auth = request_device_code(transport, GOOGLE, CLIENT, SCOPES, clock=clock)
    (call,) = transport.calls
    assert (call.method, call.url) == ("POST", GOOGLE.device_authorization_endpoint)
    assert call.data == {"client_id": CLIENT.client_id, "scope": "openid email"}
    assert auth.issued_at == clock.monotonic()


def test_invalid_scope_steers_to_desktop_flow() -> None:
    clock = FakeClock()
    body = {"error": "invalid_scope",
            "error_description": "Invalid device flow scope: https://www.googleapis.com/auth/calendar.readonly"}
    transport = scripted(clock, reply(400, body))
    with pytest.raises(InvalidScope) as info:
        request_device_code(transport, GOOGLE, CLIENT, ["https://www.googleapis.com/auth/calendar.readonly"],
                            clock=clock)
    assert "desktop" in info.value.fix.lower()


def test_wrong_client_type_is_invalid_client() -> None:
    clock = FakeClock()
    transport = scripted(clock, reply(401, {"error": "invalid_client", "error_description": "Only clients of "
                                                 "type 'TVs and Limited Input devices' can use the OAuth 2.0 flow"}))
    with pytest.raises(InvalidClient):
        request_device_code(transport, GOOGLE, CLIENT, SCOPES, clock=clock)


def test_device_code_request_is_not_retried() -> None:
    clock = FakeClock()
    transport = scripted(clock, reply(503), reply(200, GOOGLE_DEVICE))
    with pytest.raises(TransportError):
        request_device_code(transport, GOOGLE, CLIENT, SCOPES, clock=clock)
    assert len(transport.calls) == 1


def test_provider_without_device_endpoint() -> None:
    endpoints = Endpoints("https://idp.example", "https://idp.example/a", "https://idp.example/t")
    transport = scripted(FakeClock())
    with pytest.raises(ConfigError) as info:
        request_device_code(transport, endpoints, CLIENT, SCOPES)
    assert info.value.fix == 'use the Desktop app flow (--flow desktop, or flow = "desktop" in notebook 03)'
    assert transport.calls == []


# --- §3.4-3.5: poll_once ---------------------------------------------------------------------------


def test_poll_request_form_includes_client_secret() -> None:
    clock = FakeClock()
    p, transport = poller(clock, OK)
    token = p.poll_once()
    (call,) = transport.calls
    assert call.url == GOOGLE.token_endpoint
    assert call.data == {"client_id": CLIENT.client_id, "client_secret": SECRET, "device_code": DEVICE_CODE,
                         "grant_type": DEVICE_GRANT_TYPE}
    assert not call.headers  # Google: client_secret_post
    assert token.refresh_token == "1//device-flow-refresh-token"
    assert p.state == "approved"


def test_poll_once_never_polls_early() -> None:
    clock = FakeClock()
    start = clock.monotonic()
    p, transport = poller(clock, PENDING_GOOGLE, PENDING_GOOGLE)
    with pytest.raises(AuthorizationPending):
        p.poll_once()
    with pytest.raises(AuthorizationPending):
        p.poll_once()
    assert [c.at - start for c in transport.calls] == [5.0, 10.0]


@pytest.mark.parametrize(("response", "error"), [(PENDING_GOOGLE, AuthorizationPending),
                                                 (PENDING_RFC, AuthorizationPending), (SLOW_GOOGLE, SlowDown),
                                                 (SLOW_RFC, SlowDown), (DENIED_GOOGLE, AccessDenied),
                                                 (DENIED_RFC, AccessDenied), (EXPIRED, ExpiredToken)])
def test_google_and_rfc_statuses_classify_by_body(response: Response, error: type) -> None:
    p, _ = poller(FakeClock(), response)
    with pytest.raises(error):
        p.poll_once()


def test_slow_down_adds_five_seconds() -> None:
    p, _ = poller(FakeClock(), SLOW_GOOGLE)
    with pytest.raises(SlowDown):
        p.poll_once()
    assert p.interval == 10
    assert p.status == "slowing down: polling every 10 s"


def test_poll_5xx_without_body_is_transport_error_and_backs_off() -> None:
    clock = FakeClock()
    p, transport = poller(clock, reply(502))
    with pytest.raises(TransportError) as info:
        p.poll_once()
    assert not isinstance(info.value, ProtocolError)
    assert p.next_poll_at == transport.calls[0].at + 10
    assert p.status == "network trouble: retrying in 10 s"


def test_poll_4xx_without_code_is_protocol_error() -> None:
    p, _ = poller(FakeClock(), reply(404, {"message": "nope"}))
    with pytest.raises(ProtocolError):
        p.poll_once()


# --- wait: the loop --------------------------------------------------------------------------------


def test_wait_happy_path_with_statuses() -> None:
    clock = FakeClock()
    start = clock.monotonic()
    seen: list[str] = []
    p, transport = poller(clock, PENDING_GOOGLE, SLOW_GOOGLE, TransportError("connection reset"), PENDING_RFC, OK)
    token = p.wait(on_status=seen.append)
    assert token.access_token == "ya29.device-flow-access-token"
    assert [c.at - start for c in transport.calls] == [5, 10, 20, 40, 50]
    assert seen == ["waiting for approval", "waiting for approval", "slowing down: polling every 10 s",
                    "network trouble: retrying in 20 s", "waiting for approval", "approved"]
    assert max(clock.sleeps) <= 1.0


@pytest.mark.parametrize("terminal", [DENIED_GOOGLE, DENIED_RFC, EXPIRED, reply(401, {"error": "invalid_client"}),
                                      reply(400, {"error": "invalid_grant"}), reply(200, {"oops": 1}),
                                      reply(400, {"error": "admin_policy_enforced"})])
def test_terminal_errors_stop_at_once(terminal: Response) -> None:
    p, transport = poller(FakeClock(), PENDING_GOOGLE, terminal)
    with pytest.raises(RunbookError) as info:
        p.wait()
    assert len(transport.calls) == 2 and not transport.script
    assert p.state == "failed"
    assert SECRET not in str(info.value) and DEVICE_CODE not in str(info.value)


def test_access_denied_message_has_no_secret() -> None:
    p, _ = poller(FakeClock(), DENIED_GOOGLE)
    with pytest.raises(AccessDenied) as info:
        p.wait()
    for text in (str(info.value), repr(info.value), repr(p.authorization)):
        assert SECRET not in text and DEVICE_CODE not in text


def test_local_deadline_on_monotonic_clock() -> None:
    clock = FakeClock()
    start = clock.monotonic()
    p, transport = poller(clock, *[PENDING_GOOGLE] * 20, expires_in=30)
    with pytest.raises(FlowTimeout) as info:
        p.wait()
    assert [c.at - start for c in transport.calls] == [5, 10, 15, 20, 25]
    assert clock.monotonic() - start == pytest.approx(30)
    assert "expired" in info.value.message and "step 03" in info.value.fix


@pytest.mark.parametrize(("expires_in", "shown"), [(20, "(20 s)"), (90, "(1 min 30 s)"), (1800, "(30 min)")])
def test_expiry_message_shows_the_codes_lifetime_in_seconds_when_short(expires_in: int, shown: str) -> None:
    """A 20 s code said "(1 min)" when the lifetime was rounded to whole minutes (clock.duration_text now)."""
    p, _ = poller(FakeClock(), *[PENDING_GOOGLE] * expires_in, interval=5, expires_in=expires_in)
    with pytest.raises(FlowTimeout) as info:
        p.wait()
    assert f"the code expired {shown} before it was approved" in info.value.message


def test_wall_clock_jump_does_not_move_the_deadline() -> None:
    clock = FakeClock()
    p, transport = poller(clock, PENDING_GOOGLE, OK, expires_in=30)
    clock.jump(10_000)
    assert p.wait().access_token
    assert len(transport.calls) == 2


def test_extra_timeout() -> None:
    clock = FakeClock()
    start = clock.monotonic()
    p, transport = poller(clock, *[PENDING_GOOGLE] * 20)
    with pytest.raises(FlowTimeout):
        p.wait(timeout=12)
    assert clock.monotonic() - start == pytest.approx(12)
    assert len(transport.calls) == 2


def test_cancel_is_noticed_within_a_second() -> None:
    clock = FakeClock()
    start = clock.monotonic()
    p, transport = poller(clock, *[PENDING_GOOGLE] * 20, interval=30)
    with pytest.raises(Cancelled):
        p.wait(cancelled=lambda: clock.monotonic() - start >= 7.5)
    assert 7.5 <= clock.monotonic() - start <= 8.5
    assert transport.calls == []
    assert p.state == "cancelled"


def test_wait_from_a_background_thread() -> None:
    clock = FakeClock()
    release = threading.Event()
    result: list[Any] = []

    class Gate(FakeTransport):
        def __call__(self, *args: Any, **kwargs: Any) -> Response:
            assert release.wait(5)
            return super().__call__(*args, **kwargs)

    transport = Gate(PENDING_GOOGLE, OK, clock=clock, forbid_params=True)
    p = DevicePoller(transport, GOOGLE, CLIENT, authorization(clock), clock=clock)
    worker = threading.Thread(target=lambda: result.append(p.wait()))
    worker.start()
    assert p.status == "waiting for approval"  # readable from the UI thread while the worker waits
    release.set()
    worker.join(5)
    assert not worker.is_alive() and result[0].access_token and p.state == "approved"


# --- the polling invariants, over many scripted sequences --------------------------------------------

TRANSIENT = {
    "pending428": lambda: PENDING_GOOGLE,
    "pending400": lambda: PENDING_RFC,
    "slow403": lambda: SLOW_GOOGLE,
    "slow400": lambda: SLOW_RFC,
    "network": lambda: TransportError("connection refused"),
    "503": lambda: reply(503),
    "500body": lambda: reply(500, {"error": "server_error"}),
    "429": lambda: reply(429),
    "quota": lambda: reply(403, {"error_code": "rate_limit_exceeded"}),
}
FINAL: dict[str, tuple[Callable[[], Response], type | None]] = {
    "ok": (lambda: OK, None),
    "denied": (lambda: DENIED_GOOGLE, AccessDenied),
    "expired": (lambda: EXPIRED, ExpiredToken),
    "invalid_client": (lambda: reply(401, {"error": "invalid_client"}), InvalidClient),
    "unknown": (lambda: reply(400, {"error": "weird"}), OAuthError),
    "malformed": (lambda: reply(200, {"access_token": 3}), ProtocolError),
}


def expected_schedule(events: list[str], interval: float, cap: float) -> list[float]:
    """The poll times the rules allow, from issue time 0: the model the poller must match."""
    times, at, failures = [], interval, 0
    for event in events:
        times.append(at)
        if event.startswith("slow"):
            interval += 5
        if event.startswith(("pending", "slow")):
            failures, at = 0, at + interval
        else:
            failures += 1
            at += max(interval, min(interval * 2**failures, cap))
    return [*times, at]


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(st.sampled_from(sorted(TRANSIENT)), max_size=14),
    final=st.sampled_from(sorted(FINAL)),
    interval=st.integers(1, 10),
    cap=st.sampled_from([10.0, 30.0, 60.0]),
)
def test_polling_never_early_slow_down_sticks_backoff_capped(events: list[str], final: str, interval: int,
                                                                 cap: float) -> None:
    clock = FakeClock()
    start = clock.monotonic()
    make_final, error = FINAL[final]
    script = [TRANSIENT[e]() for e in events] + [make_final()]
    p, transport = poller(clock, *script, interval=interval, expires_in=10**7, max_backoff=cap)
    if error is None:
        assert p.wait().access_token == "ya29.device-flow-access-token"
    else:
        with pytest.raises(error):
            p.wait()
    times = [c.at - start for c in transport.calls]
    # every request was made, and none after the last scripted answer (terminal errors stop at once)
    assert len(times) == len(script) and not transport.script
    assert times == pytest.approx(expected_schedule(events, interval, cap))
    # never earlier than the interval in force, which only grows (+5 per slow_down, for all later polls)
    current = float(interval)
    previous = 0.0
    for event, at, following in zip(events, times, times[1:], strict=False):  # the last event has no following poll
        assert at - previous >= current - 1e-9
        current += 5 if event.startswith("slow") else 0
        assert following - at >= current - 1e-9
        previous = at
    assert p.interval == interval + 5 * sum(e.startswith("slow") for e in events)
    assert all(s <= 1.0 for s in clock.sleeps)


# --- against the emulator, over loopback --------------------------------------------------------------

from gapps_runbook.emulator import RunningEmulator, Scenario  # noqa: E402
from gapps_runbook.oauth.endpoints import discover  # noqa: E402
from gapps_runbook.oauth.transport import RequestsTransport  # noqa: E402

CALENDAR = "https://www.googleapis.com/auth/calendar.readonly"
MakeEmulator = Callable[..., RunningEmulator]


def emulated(make_emulator: MakeEmulator, **options: Any) -> tuple[RunningEmulator, FakeClock, Any, ClientConfig]:
    clock = FakeClock()
    running = make_emulator(clock=clock, **options)
    device = running.emulator.device_client
    endpoints = discover(RequestsTransport(), running.base_url)
    return running, clock, endpoints, ClientConfig(device.client_id, device.client_secret, "device")


def test_emulator_device_flow_happy_path(make_emulator: MakeEmulator) -> None:
    running, clock, endpoints, client = emulated(make_emulator)
    transport = RequestsTransport()
    auth = request_device_code(transport, endpoints, client, ["openid", "email"], clock=clock)
    assert auth.verification_uri == running.base_url + "/device" and auth.interval == 5
    seen: list[str] = []

    def on_status(text: str) -> None:
        seen.append(text)
        if text == "waiting for approval" and seen.count(text) == 3:  # two 428 answers, then approve
            running.emulator.approve(auth.user_code)

    token = DevicePoller(transport, endpoints, client, auth, clock=clock).wait(on_status=on_status)
    assert token.refresh_token and token.account == running.emulator.account
    assert "https://www.googleapis.com/auth/userinfo.email" in token.scopes
    polls = [r.time for r in running.emulator.requests if r.path == "/token"]
    assert [round(b - a, 6) for a, b in zip(polls, polls[1:], strict=False)] == [5, 5]
    assert seen[-1] == "approved"


def test_emulator_slow_down_and_network_faults(make_emulator: MakeEmulator) -> None:
    running, clock, endpoints, client = emulated(make_emulator)
    running.emulator.script(client.client_id, Scenario(slow_down=1, approve_after=1))
    transport = RequestsTransport()
    auth = request_device_code(transport, endpoints, client, ["openid"], clock=clock)
    running.emulator.fail_next("/token", "503")
    poller = DevicePoller(transport, endpoints, client, auth, clock=clock)
    assert poller.wait().access_token
    polls = [r.time for r in running.emulator.requests if r.path == "/token"]
    # 503 -> back off 10 s; slow_down -> interval 10; pending; approved.
    assert [round(b - a, 6) for a, b in zip(polls, polls[1:], strict=False)] == [10, 10, 10]
    assert poller.interval == 10


def test_emulator_denied(make_emulator: MakeEmulator) -> None:
    running, clock, endpoints, client = emulated(make_emulator)
    transport = RequestsTransport()
    auth = request_device_code(transport, endpoints, client, ["openid"], clock=clock)
    running.emulator.deny(auth.user_code)
    with pytest.raises(AccessDenied):
        DevicePoller(transport, endpoints, client, auth, clock=clock).wait()


def test_emulator_refuses_calendar_scope_with_desktop_fix(make_emulator: MakeEmulator) -> None:
    _, clock, endpoints, client = emulated(make_emulator)
    with pytest.raises(InvalidScope) as info:
        request_device_code(RequestsTransport(), endpoints, client, ["openid", CALENDAR], clock=clock)
    assert CALENDAR in str(info.value) and "desktop" in info.value.fix.lower()


def test_emulator_code_expires(make_emulator: MakeEmulator) -> None:
    _, clock, endpoints, client = emulated(make_emulator)
    transport = RequestsTransport()
    auth = request_device_code(transport, endpoints, client, ["openid"], clock=clock)
    with pytest.raises((FlowTimeout, ExpiredToken)):
        DevicePoller(transport, endpoints, client, auth, clock=clock).wait()


# --- found by the F1 fuzzer (tests/test_fuzz.py) -------------------------------------------------


@pytest.mark.parametrize("key", ["expires_in", "interval"])
@pytest.mark.parametrize("value", ["\u00b2", "\uff13\uff10", "9" * 5000, 10**400, 2**31],
                         ids=["superscript", "fullwidth", "5000 digits", "10**400", "2**31"])
def test_fuzz_device_seconds_that_are_no_lifetime_are_protocol_errors(key: str, value: Any) -> None:
    """F1 fuzzer: "²" made int() raise ValueError; 10**400 was accepted and expires_at() overflowed later."""
    body = {"device_code": "4/planted-device-code-0123456789", "user_code": "GQVQ-JKEC",
            "verification_url": "https://www.google.com/device", key: value}
    with pytest.raises(ProtocolError, match=key):
        parse_device_response(body, now=1000.0)
