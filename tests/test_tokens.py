"""tokens.py: RFC 6749 §5.1 parsing, §6 refresh, RFC 7009 revoke, google-auth authorized_user JSON."""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import replace
from typing import Any

import pytest
from google.oauth2.credentials import Credentials

from gapps_runbook.profile.authorized_user import authorized_user_info, token_from_authorized_user
from gapps_runbook.oauth.clients import ClientConfig
from gapps_runbook.oauth.clock import FakeClock
from gapps_runbook.oauth.endpoints import GOOGLE, Endpoints
from gapps_runbook.errors import (
    ConfigError,
    InputError,
    InvalidClient,
    InvalidGrant,
    ProtocolError,
    StoreError,
    TemporarilyUnavailable,
    TransportError,
)
from gapps_runbook.safety.redact import fingerprint, redact
from gapps_runbook.oauth.revocation import revoke
from gapps_runbook.oauth.tokens import Token, parse_token_response, refresh

from fakes import FakeTransport, reply


ACCESS = "ya29.planted-access-token-0123456789"
REFRESH = "1//planted-refresh-token-0123456789"
SECRET = "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34"
CLIENT = ClientConfig("1234-abcdefghijklmnopqrstuvwxyz012345.apps.googleusercontent.com", SECRET, "device")
NOW = 1_800_000_000.0


def token_body(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"access_token": ACCESS, "expires_in": 3599, "token_type": "Bearer",
                            "scope": "openid https://www.googleapis.com/auth/calendar.readonly"}
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


def make_token(**kw: Any) -> Token:
    base = dict(access_token=ACCESS, expires_at=NOW + 3599, scopes=("openid",), refresh_token=REFRESH, issued_at=NOW)
    base.update(kw)
    return Token(**base)


def id_token_with(claims: dict[str, Any]) -> str:
    part = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJSUzI1NiJ9.{part}.signature-not-checked"


# --- parse_token_response (RFC 6749 §5.1) -------------------------------------------------------


def test_parse_google_device_response() -> None:
    token = parse_token_response(token_body(refresh_token=REFRESH, refresh_token_expires_in=604799), now=NOW)
    assert token.access_token == ACCESS
    assert token.expires_at == NOW + 3599
    assert token.scopes == ("openid", "https://www.googleapis.com/auth/calendar.readonly")
    assert token.refresh_token == REFRESH
    assert token.refresh_token_expires_at == NOW + 604799
    assert token.issued_at == NOW
    assert token.token_id == fingerprint(ACCESS)


@pytest.mark.parametrize("token_type", ["bearer", "BEARER", "Bearer"])
def test_token_type_is_case_insensitive(token_type: str) -> None:
    assert parse_token_response(token_body(token_type=token_type), now=NOW).token_type == "Bearer"


@pytest.mark.parametrize(
    "change",
    [
        {"access_token": None},
        {"access_token": ""},
        {"access_token": 42},
        {"expires_in": None},
        {"expires_in": "soon"},
        {"expires_in": -1},
        {"expires_in": True},
        {"expires_in": 3599.5},
        {"token_type": None},
        {"token_type": "mac"},
        {"scope": ["openid"]},
        {"refresh_token": 7},
    ],
)
def test_invalid_token_responses_are_protocol_errors(change: dict[str, Any]) -> None:
    body = token_body(refresh_token=REFRESH)
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    with pytest.raises(ProtocolError) as info:
        parse_token_response(body, now=NOW)
    assert ACCESS not in str(info.value) and REFRESH not in str(info.value)


def test_expires_in_as_digit_string_is_accepted() -> None:
    assert parse_token_response(token_body(expires_in="3599"), now=NOW).expires_at == NOW + 3599


def test_missing_scope_keeps_previous_scopes_and_refresh_token() -> None:
    previous = make_token(scopes=("a", "b"), refresh_token_expires_at=NOW + 100, account="me@example.com")
    fresh = parse_token_response(token_body(scope=None, access_token="ya29.new-access-token-xyz"),
                                 now=NOW + 50, previous=previous)
    assert fresh.scopes == ("a", "b")
    assert fresh.refresh_token == REFRESH
    assert fresh.refresh_token_expires_at == NOW + 100
    assert fresh.account == "me@example.com"
    assert fresh.expires_at == NOW + 50 + 3599


def test_new_refresh_token_replaces_the_old_one() -> None:
    fresh = parse_token_response(token_body(refresh_token="1//rotated-refresh-token-000"), now=NOW,
                                 previous=make_token(refresh_token_expires_at=NOW + 5))
    assert fresh.refresh_token == "1//rotated-refresh-token-000"
    assert fresh.refresh_token_expires_at is None


def test_account_comes_from_the_id_token_email() -> None:
    token = parse_token_response(token_body(id_token=id_token_with({"email": "eng@example.com"})), now=NOW)
    assert token.account == "eng@example.com"
    assert parse_token_response(token_body(id_token="not-a-jwt-value"), now=NOW).account is None


def test_secrets_are_registered_and_not_in_repr() -> None:
    id_token = id_token_with({"email": "x@example.com", "nonce": "abcdef"})
    token = parse_token_response(token_body(refresh_token="1//never-seen-before-refresh", id_token=id_token), now=NOW)
    text = repr(token)
    for secret in (token.access_token, "1//never-seen-before-refresh", id_token):
        assert secret not in text
        assert redact(f"leak {secret} here") == "leak [redacted] here"


def test_expiry_arithmetic() -> None:
    token = make_token(expires_at=NOW + 100)
    assert token.expires_in(NOW) == 100
    assert token.expires_in(NOW + 500) == 0
    assert not token.is_expired(NOW)
    assert token.is_expired(NOW + 41)  # inside the 60 s leeway
    assert not token.is_expired(NOW + 41, leeway=0)
    assert token.is_expired(NOW + 100, leeway=0)


# --- refresh (RFC 6749 §6) -----------------------------------------------------------------------


def test_refresh_posts_form_and_keeps_old_refresh_token() -> None:
    transport = FakeTransport(reply(200, token_body(access_token="ya29.second-access-token-1")))
    clock = FakeClock(NOW)
    fresh = refresh(transport, GOOGLE, CLIENT, make_token(), clock=clock)
    (call,) = transport.calls
    assert (call.method, call.url, call.params) == ("POST", GOOGLE.token_endpoint, None)
    assert call.data == {"grant_type": "refresh_token", "refresh_token": REFRESH,
                         "client_id": CLIENT.client_id, "client_secret": SECRET}
    assert fresh.access_token == "ya29.second-access-token-1"
    assert fresh.refresh_token == REFRESH
    assert fresh.expires_at == NOW + 3599


def test_refresh_without_refresh_token_sends_nothing() -> None:
    transport = FakeTransport()
    with pytest.raises(InputError) as info:
        refresh(transport, GOOGLE, CLIENT, make_token(refresh_token=None), clock=FakeClock())
    assert "authorize again" in str(info.value)
    assert transport.calls == []


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}, InvalidGrant),
        (401, {"error": "invalid_client", "error_description": "Unauthorized"}, InvalidClient),
    ],
)
def test_refresh_oauth_errors_take_exactly_one_attempt(status: int, body: dict[str, str], error: type) -> None:
    transport = FakeTransport(reply(status, body), reply(200, token_body()))
    clock = FakeClock(NOW)
    with pytest.raises(error) as info:
        refresh(transport, GOOGLE, CLIENT, make_token(), clock=clock)
    assert len(transport.calls) == 1
    assert clock.sleeps == []
    for secret in (SECRET, REFRESH, ACCESS):
        assert secret not in str(info.value) and secret not in repr(info.value)


def test_refresh_retries_503_twice_then_succeeds() -> None:
    transport = FakeTransport(reply(503), reply(503), reply(200, token_body()))
    clock = FakeClock(NOW)
    refresh(transport, GOOGLE, CLIENT, make_token(), clock=clock)
    assert len(transport.calls) == 3
    assert len(clock.sleeps) == 2
    assert 0.9 <= clock.sleeps[0] <= 1.1 and 1.8 <= clock.sleeps[1] <= 2.2  # 1 s, x2, +-10 %


def test_refresh_honours_retry_after() -> None:
    transport = FakeTransport(reply(429, headers={"retry-after": "7"}), reply(200, token_body()))
    clock = FakeClock(NOW)
    refresh(transport, GOOGLE, CLIENT, make_token(), clock=clock)
    assert clock.sleeps == [7.0]


def test_refresh_retries_connection_errors_and_gives_up() -> None:
    transport = FakeTransport(*[TransportError("could not connect to oauth2.googleapis.com")] * 3)
    with pytest.raises(TransportError):
        refresh(transport, GOOGLE, CLIENT, make_token(), clock=FakeClock())
    assert len(transport.calls) == 3


def test_refresh_5xx_with_oauth_body_after_retries() -> None:
    body = {"error": "temporarily_unavailable"}
    transport = FakeTransport(reply(503, body), reply(503, body), reply(503, body))
    with pytest.raises(TemporarilyUnavailable):
        refresh(transport, GOOGLE, CLIENT, make_token(), clock=FakeClock())
    assert len(transport.calls) == 3


# --- revoke (RFC 7009) ---------------------------------------------------------------------------


def test_revoke_sends_refresh_token_in_the_body_not_the_query() -> None:
    transport = FakeTransport(reply(200, {}))
    assert revoke(transport, GOOGLE, make_token(), clock=FakeClock()) is False
    (call,) = transport.calls
    assert call.method == "POST"
    assert call.url == GOOGLE.revocation_endpoint and "?" not in call.url
    assert call.params is None
    assert call.data == {"token": REFRESH}


def test_revoke_authenticates_the_client_at_other_providers_only() -> None:
    rfc = Endpoints(issuer="https://as.example.org", authorization_endpoint="",
                    token_endpoint="https://as.example.org/token", revocation_endpoint="https://as.example.org/revoke")
    transport = FakeTransport(reply(200, {}), reply(200, {}), reply(200, {}))
    revoke(transport, rfc, make_token(), clock=FakeClock(), client=CLIENT)  # RFC 7009 §2.1
    revoke(transport, rfc, make_token(), clock=FakeClock(), client=ClientConfig("tv-app", "", "device"))
    revoke(transport, GOOGLE, make_token(), clock=FakeClock(), client=CLIENT)
    basic = "Basic " + base64.b64encode(f"{CLIENT.client_id}:{SECRET}".encode()).decode()
    assert [(c.data, c.headers) for c in transport.calls] == [
        ({"token": REFRESH}, {"Authorization": basic}),  # discovery lists no methods: client_secret_basic
        ({"token": REFRESH, "client_id": "tv-app"}, None),  # a public client: none
        ({"token": REFRESH}, None),  # Google takes the token alone
    ]


def test_refresh_at_a_basic_provider_sends_the_secret_in_the_header_only() -> None:
    rfc = Endpoints(issuer="https://as.example.org", authorization_endpoint="",
                    token_endpoint="https://as.example.org/token",
                    token_endpoint_auth_methods_supported=("client_secret_basic",))
    transport = FakeTransport(reply(200, token_body()))
    refresh(transport, rfc, CLIENT, make_token(), clock=FakeClock(NOW))
    (call,) = transport.calls
    assert call.data == {"grant_type": "refresh_token", "refresh_token": REFRESH}
    pair = base64.b64decode(call.headers["Authorization"].removeprefix("Basic ")).decode()
    assert pair == f"{CLIENT.client_id}:{SECRET}"


def test_revoke_without_refresh_token_revokes_the_access_token() -> None:
    transport = FakeTransport(reply(200))
    revoke(transport, GOOGLE, make_token(refresh_token=None), clock=FakeClock())
    assert transport.calls[0].data == {"token": ACCESS}


def test_revoke_invalid_token_is_already_revoked() -> None:
    transport = FakeTransport(reply(400, {"error": "invalid_token", "error_description": "Token expired or revoked"}))
    assert revoke(transport, GOOGLE, make_token(), clock=FakeClock()) is True
    assert len(transport.calls) == 1


def test_revoke_503_after_retries_keeps_the_local_token() -> None:
    transport = FakeTransport(reply(503), reply(503), reply(503))
    clock = FakeClock()
    with pytest.raises(TransportError) as info:
        revoke(transport, GOOGLE, make_token(), clock=clock)
    assert len(transport.calls) == 3 and len(clock.sleeps) == 2
    assert "local token was kept" in str(info.value)
    assert REFRESH not in str(info.value)


def test_revoke_connection_error_keeps_the_local_token() -> None:
    transport = FakeTransport(*[TransportError("could not connect to oauth2.googleapis.com")] * 3)
    with pytest.raises(TransportError) as info:
        revoke(transport, GOOGLE, make_token(), clock=FakeClock())
    assert "local token was kept" in info.value.fix


def test_revoke_other_oauth_error_is_raised() -> None:
    transport = FakeTransport(reply(401, {"error": "invalid_client"}))
    with pytest.raises(InvalidClient):
        revoke(transport, GOOGLE, make_token(), clock=FakeClock())


def test_revoke_400_without_code_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        revoke(FakeTransport(reply(400, {"nope": 1})), GOOGLE, make_token(), clock=FakeClock())


def test_revoke_without_endpoint_is_config_error() -> None:
    endpoints = Endpoints(issuer="https://idp.example", authorization_endpoint="https://idp.example/a",
                          token_endpoint="https://idp.example/t")
    transport = FakeTransport()
    with pytest.raises(ConfigError):
        revoke(transport, endpoints, make_token(), clock=FakeClock())
    assert transport.calls == []


# --- authorized_user JSON (google-auth's from_authorized_user_info) --------------------------------------------------------


def test_google_auth_loads_authorized_user_info() -> None:
    token = make_token(expires_at=NOW + 3599.7, scopes=("openid", "https://www.googleapis.com/auth/calendar.readonly"),
                       account="eng@example.com")
    info = json.loads(json.dumps(authorized_user_info(token, CLIENT, GOOGLE)))
    assert info["type"] == "authorized_user"
    assert info["expiry"].endswith("Z")
    creds = Credentials.from_authorized_user_info(info)
    assert creds.token == ACCESS
    assert creds.refresh_token == REFRESH
    assert creds.client_id == CLIENT.client_id and creds.client_secret == SECRET
    assert creds.scopes == list(token.scopes)
    assert creds.account == "eng@example.com"
    expected = dt.datetime.fromtimestamp(int(NOW + 3599), tz=dt.timezone.utc).replace(tzinfo=None)
    assert creds.expiry == expected


def test_authorized_user_round_trip() -> None:
    token = make_token(expires_at=NOW + 3599, refresh_token_expires_at=NOW + 604799, account="eng@example.com")
    back = token_from_authorized_user(authorized_user_info(token, CLIENT, GOOGLE), now=NOW)
    assert back == replace(token, token_type="Bearer")


def test_reads_what_google_auth_writes() -> None:
    expiry = dt.datetime(2027, 1, 15, 8, 0, 0, 123456)
    creds = Credentials(token=ACCESS, refresh_token=REFRESH, token_uri=GOOGLE.token_endpoint,
                        client_id=CLIENT.client_id, client_secret=SECRET, scopes=["openid"], expiry=expiry)
    token = token_from_authorized_user(json.loads(creds.to_json()), now=NOW)
    assert token.expires_at == dt.datetime(2027, 1, 15, 8, 0, 0, tzinfo=dt.timezone.utc).timestamp()
    assert token.scopes == ("openid",) and token.refresh_token == REFRESH


def test_missing_expiry_counts_as_expired() -> None:
    token = token_from_authorized_user({"token": ACCESS, "refresh_token": REFRESH, "scopes": "a b"}, now=NOW)
    assert token.is_expired(NOW, leeway=0)
    assert token.scopes == ("a", "b")


@pytest.mark.parametrize("bad", [{"expiry": "yesterday"}, {"expiry": 5}, {"scopes": [1]}, {"token": 5},
                                 {"gapps_runbook": {"issued_at": "x"}}])
def test_corrupt_authorized_user_is_store_error(bad: dict[str, Any]) -> None:
    info = {"token": ACCESS, "refresh_token": REFRESH, "expiry": "2027-01-01T00:00:00Z", **bad}
    with pytest.raises(StoreError) as exc:
        token_from_authorized_user(info, now=NOW)
    assert ACCESS not in str(exc.value)


# --- against the emulator, over loopback --------------------------------------------------------------

from collections.abc import Callable  # noqa: E402

from gapps_runbook.oauth.device_flow import DevicePoller, request_device_code  # noqa: E402
from gapps_runbook.emulator import RunningEmulator  # noqa: E402
from gapps_runbook.oauth.endpoints import discover  # noqa: E402
from gapps_runbook.oauth.transport import RequestsTransport  # noqa: E402


MakeEmulator = Callable[..., RunningEmulator]


def emulated_token(make_emulator: MakeEmulator, scopes: tuple[str, ...] = ("openid", "email"),
                   **options: Any) -> tuple[RunningEmulator, FakeClock, Endpoints, ClientConfig, Token]:
    clock = FakeClock()
    running = make_emulator(clock=clock, auto_approve=True, **options)
    device = running.emulator.device_client
    client = ClientConfig(device.client_id, device.client_secret, "device")
    transport = RequestsTransport()
    endpoints = discover(transport, running.base_url)
    auth = request_device_code(transport, endpoints, client, scopes, clock=clock)
    return running, clock, endpoints, client, DevicePoller(transport, endpoints, client, auth, clock=clock).wait()


def token_posts(running: RunningEmulator) -> int:
    return sum(1 for r in running.emulator.requests if r.path == "/token")


def test_emulator_refresh_keeps_refresh_token_and_testing_expiry(make_emulator: MakeEmulator) -> None:
    # Testing mode gives 7-day refresh tokens unless only basic scopes were granted (Google's OAuth 2.0 overview, #expiration).
    drive = ("openid", "https://www.googleapis.com/auth/drive.file")
    running, clock, endpoints, client, token = emulated_token(make_emulator, drive, publishing_status="testing")
    assert token.refresh_token_expires_at == pytest.approx(token.issued_at + 604799)
    clock.advance(3000)
    fresh = refresh(RequestsTransport(), endpoints, client, token, clock=clock)
    assert fresh.access_token != token.access_token
    assert fresh.refresh_token == token.refresh_token
    assert fresh.refresh_token_expires_at == token.refresh_token_expires_at
    assert fresh.expires_at == pytest.approx(clock.time() + 3599)


def test_emulator_refresh_retries_faults(make_emulator: MakeEmulator) -> None:
    running, clock, endpoints, client, token = emulated_token(make_emulator)
    before = token_posts(running)
    running.emulator.fail_next("/token", "503", times=2)
    refresh(RequestsTransport(), endpoints, client, token, clock=clock)
    assert token_posts(running) - before == 3
    running.emulator.fail_next("/token", "429")
    sleeps = len(clock.sleeps)
    refresh(RequestsTransport(), endpoints, client, token, clock=clock)
    assert clock.sleeps[sleeps:] and clock.sleeps[sleeps] >= 1.0  # Retry-After: 1


def test_emulator_revoke_then_refresh_is_invalid_grant_once(make_emulator: MakeEmulator) -> None:
    running, clock, endpoints, client, token = emulated_token(make_emulator)
    transport = RequestsTransport()
    assert revoke(transport, endpoints, token, clock=clock) is False
    assert revoke(transport, endpoints, token, clock=clock) is True  # already revoked: idempotent
    before = token_posts(running)
    with pytest.raises(InvalidGrant) as info:
        refresh(transport, endpoints, client, token, clock=clock)
    assert token_posts(running) - before == 1
    assert token.refresh_token not in str(info.value) and client.client_secret not in str(info.value)
    revokes = [r for r in running.emulator.requests if r.path == "/revoke"]
    assert revokes and all(r.method == "POST" and "token" in r.keys for r in revokes)


def test_emulator_wrong_secret_is_invalid_client(make_emulator: MakeEmulator) -> None:
    running, clock, endpoints, client, token = emulated_token(make_emulator)
    wrong = ClientConfig(client.client_id, "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ng12", "device")
    before = token_posts(running)
    with pytest.raises(InvalidClient):
        refresh(RequestsTransport(), endpoints, wrong, token, clock=clock)
    assert token_posts(running) - before == 1


# --- found by the F1 fuzzer (tests/test_fuzz.py) -------------------------------------------------


@pytest.mark.parametrize("expires_in", ["\u00b2", "\u0661\u0662", "9" * 5000, 10**400, 2**31, -1],
                         ids=["superscript", "arabic", "5000 digits", "10**400", "2**31", "-1"])
def test_fuzz_expires_in_that_is_no_lifetime_is_a_protocol_error(expires_in: Any) -> None:
    """F1 fuzzer: "²" passed isdigit() and int() raised ValueError; 10**400 overflowed the float expiry."""
    with pytest.raises(ProtocolError, match="expires_in"):
        parse_token_response(token_body(expires_in=expires_in), now=NOW)


def test_fuzz_deeply_nested_id_token_payload_gives_no_account() -> None:
    """F1 fuzzer: json.loads raised RecursionError on an ID token payload thousands of arrays deep."""
    payload = base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode().rstrip("=")
    token = parse_token_response(token_body(id_token=f"eyJhbGciOiJSUzI1NiJ9.{payload}.sig"), now=NOW)
    assert token.account is None


@pytest.mark.parametrize(
    "issued_at", [10**400, float("nan"), float("inf"), -1e300], ids=["10**400", "nan", "inf", "-1e300"]
)
def test_fuzz_stored_time_out_of_range_is_a_store_error(issued_at: Any) -> None:
    """F1 fuzzer: float(10**400) raised OverflowError; NaN and infinity were taken as times."""
    info = {"token": ACCESS, "refresh_token": REFRESH, "gapps_runbook": {"issued_at": issued_at}}
    with pytest.raises(StoreError, match="issued_at"):
        token_from_authorized_user(info, now=NOW)
