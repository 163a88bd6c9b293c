"""inspection.py: Google tokeninfo, RFC 7662 introspection, token-response fallback."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from gapps_runbook.oauth.clients import ClientConfig
from gapps_runbook.oauth.clock import FakeClock
from gapps_runbook.oauth.endpoints import GOOGLE, Endpoints
from gapps_runbook.errors import ConfigError, InvalidToken, ProtocolError, TransportError
from gapps_runbook.oauth.tokeninfo import TokenInfo, inspect_token, scope_diff
from gapps_runbook.oauth.tokens import Token

from fakes import FakeTransport, reply


ACCESS = "ya29.inspection-planted-token-abcdef"
SECRET = "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3"
CLIENT_ID = "999-abcdefghijklmnopqrstuvwxyz012345.apps.googleusercontent.com"
CLIENT = ClientConfig(CLIENT_ID, SECRET, "device")
NOW = 1_800_000_000.0
TOKEN = Token(ACCESS, NOW + 3599, ("openid", "https://www.googleapis.com/auth/calendar.readonly"),
              account="eng@example.com", issued_at=NOW)
TOKENINFO = {"azp": CLIENT_ID, "aud": CLIENT_ID, "sub": "1234567890", "exp": "1800003599", "expires_in": "3560",
             "scope": "openid https://www.googleapis.com/auth/calendar.readonly", "email": "eng@example.com",
             "email_verified": "true", "access_type": "offline"}
RFC = Endpoints("https://idp.example", "https://idp.example/authorize", "https://idp.example/token",
                introspection_endpoint="https://idp.example/introspect")
PLAIN = Endpoints("https://idp.example", "https://idp.example/authorize", "https://idp.example/token")


def test_tokeninfo_posts_token_in_body_and_parses_strings() -> None:
    transport = FakeTransport(reply(200, TOKENINFO))
    info = inspect_token(transport, GOOGLE, TOKEN, clock=FakeClock(NOW), client=CLIENT)
    (call,) = transport.calls
    assert (call.method, call.url, call.params) == ("POST", GOOGLE.tokeninfo_endpoint, None)
    assert "?" not in call.url and call.data == {"access_token": ACCESS}
    assert info == TokenInfo(scopes=("openid", "https://www.googleapis.com/auth/calendar.readonly"), expires_in=3560,
                             email="eng@example.com", audience=CLIENT_ID, subject="1234567890", source="tokeninfo")


def test_tokeninfo_without_email_scope() -> None:
    body = {k: v for k, v in TOKENINFO.items() if k not in ("email", "sub", "email_verified")}
    info = inspect_token(FakeTransport(reply(200, body)), GOOGLE, TOKEN, clock=FakeClock(NOW))
    assert info.email is None and info.subject is None


@pytest.mark.parametrize("body", [{"error": "invalid_token", "error_description": "Invalid Value"},
                                  {"error_description": "Invalid Value"}])
def test_dead_token_is_invalid_token(body: dict[str, str]) -> None:
    transport = FakeTransport(reply(400, body))
    with pytest.raises(InvalidToken) as info:
        inspect_token(transport, GOOGLE, TOKEN, clock=FakeClock(NOW))
    assert len(transport.calls) == 1
    assert ACCESS not in str(info.value) and ACCESS not in repr(info.value)


def test_tokeninfo_retries_5xx() -> None:
    clock = FakeClock(NOW)
    transport = FakeTransport(reply(503), reply(503), reply(200, TOKENINFO))
    assert inspect_token(transport, GOOGLE, TOKEN, clock=clock).expires_in == 3560
    assert len(transport.calls) == 3 and len(clock.sleeps) == 2


def test_tokeninfo_gives_up_after_retries() -> None:
    transport = FakeTransport(reply(500), reply(500), reply(500))
    with pytest.raises(TransportError):
        inspect_token(transport, GOOGLE, TOKEN, clock=FakeClock(NOW))


@pytest.mark.parametrize("change", [{"expires_in": "soon"}, {"scope": ["openid"]}, {"email": 5}])
def test_tokeninfo_bad_types(change: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError):
        inspect_token(FakeTransport(reply(200, {**TOKENINFO, **change})), GOOGLE, TOKEN, clock=FakeClock(NOW))


def test_token_for_another_client_is_config_error() -> None:
    other = "111-zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz.apps.googleusercontent.com"
    transport = FakeTransport(reply(200, {**TOKENINFO, "azp": other, "aud": other}))
    with pytest.raises(ConfigError) as info:
        inspect_token(transport, GOOGLE, TOKEN, clock=FakeClock(NOW), client=CLIENT)
    text = str(info.value)
    assert other in text and "eng@example.com" in text and "account" in text
    assert SECRET not in text and ACCESS not in text


def test_introspection_with_basic_auth() -> None:
    body = {"active": True, "scope": "openid email", "exp": int(NOW) + 100, "client_id": CLIENT_ID,
            "username": "eng@example.com", "sub": "u1"}
    transport = FakeTransport(reply(200, body))
    info = inspect_token(transport, RFC, TOKEN, clock=FakeClock(NOW), client=CLIENT)
    (call,) = transport.calls
    assert call.url == RFC.introspection_endpoint
    assert call.data == {"token": ACCESS, "token_type_hint": "access_token"}
    scheme, value = call.headers["Authorization"].split()
    assert scheme == "Basic"
    assert base64.b64decode(value).decode() == f"{CLIENT_ID}:{SECRET}"
    assert info == TokenInfo(("openid", "email"), 100, "eng@example.com", CLIENT_ID, "u1", "introspection")


def test_introspection_with_form_auth_when_discovery_lists_only_post() -> None:
    post_only = Endpoints(**{**RFC.to_json(), "token_endpoint_auth_methods_supported": ("client_secret_post",)})
    transport = FakeTransport(reply(200, {"active": True, "scope": "openid"}))
    inspect_token(transport, post_only, TOKEN, clock=FakeClock(NOW), client=CLIENT)
    assert transport.calls[0].data["client_secret"] == SECRET
    assert not transport.calls[0].headers


def test_inactive_token() -> None:
    with pytest.raises(InvalidToken):
        inspect_token(FakeTransport(reply(200, {"active": False})), RFC, TOKEN, clock=FakeClock(NOW), client=CLIENT)
    with pytest.raises(ProtocolError):
        inspect_token(FakeTransport(reply(200, {"scope": "x"})), RFC, TOKEN, clock=FakeClock(NOW), client=CLIENT)


def test_fallback_to_the_token_response() -> None:
    transport = FakeTransport()
    info = inspect_token(transport, PLAIN, TOKEN, clock=FakeClock(NOW + 99), client=CLIENT)
    assert info == TokenInfo(TOKEN.scopes, 3500, "eng@example.com", None, None, "token_response")
    assert transport.calls == []
    with pytest.raises(InvalidToken):
        inspect_token(transport, PLAIN, TOKEN, clock=FakeClock(NOW + 4000))


def test_scope_diff() -> None:
    requested = ["openid", "email", "https://www.googleapis.com/auth/calendar.readonly",
                 "https://www.googleapis.com/auth/calendar.events.readonly"]
    granted = ["https://www.googleapis.com/auth/userinfo.email", "openid",
               "https://www.googleapis.com/auth/calendar.readonly", "https://www.googleapis.com/auth/drive.file"]
    missing, extra = scope_diff(requested, granted)
    assert missing == ("https://www.googleapis.com/auth/calendar.events.readonly",)
    assert extra == ("https://www.googleapis.com/auth/drive.file",)
    assert scope_diff(["a", "a"], ["a"]) == ((), ())


# --- against the emulator, over loopback --------------------------------------------------------------

from collections.abc import Callable  # noqa: E402

from gapps_runbook.oauth.device_flow import DevicePoller, request_device_code  # noqa: E402
from gapps_runbook.emulator import RunningEmulator  # noqa: E402
from gapps_runbook.oauth.endpoints import discover  # noqa: E402
from gapps_runbook.oauth.revocation import revoke  # noqa: E402
from gapps_runbook.oauth.transport import RequestsTransport  # noqa: E402


def test_emulator_tokeninfo_then_revoked(make_emulator: Callable[..., RunningEmulator]) -> None:
    clock = FakeClock()
    running = make_emulator(clock=clock, auto_approve=True)
    device = running.emulator.device_client
    client = ClientConfig(device.client_id, device.client_secret, "device")
    transport = RequestsTransport()
    endpoints = discover(transport, running.base_url)
    auth = request_device_code(transport, endpoints, client, ["openid", "email"], clock=clock)
    token = DevicePoller(transport, endpoints, client, auth, clock=clock).wait()
    clock.advance(100)
    info = inspect_token(transport, endpoints, token, clock=clock, client=client)
    assert info.source == "tokeninfo" and info.audience == client.client_id
    assert info.email == running.emulator.account and info.subject
    assert info.expires_in == pytest.approx(3599 - 100, abs=1)
    assert scope_diff(["openid", "email"], info.scopes) == ((), ())
    posts = [r for r in running.emulator.requests if r.path == "/tokeninfo"]
    assert [(r.method, r.keys) for r in posts] == [("POST", ("access_token",))]

    desktop_id = running.emulator.desktop_client.client_id
    other = ClientConfig(desktop_id, "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er12", "desktop")
    with pytest.raises(ConfigError):
        inspect_token(transport, endpoints, token, clock=clock, client=other)
    revoke(transport, endpoints, token, clock=clock)
    with pytest.raises(InvalidToken):
        inspect_token(transport, endpoints, token, clock=clock)


# --- found by the F1 fuzzer (tests/test_fuzz.py) -------------------------------------------------

from gapps_runbook.oauth.tokeninfo import parse_introspection, parse_tokeninfo  # noqa: E402


@pytest.mark.parametrize("expires_in", ["--5", "\u00b2", "-\u00b2", "9" * 5000, 2**31],
                         ids=["--5", "superscript", "-superscript", "5000 digits", "2**31"])
def test_fuzz_tokeninfo_expires_in_that_is_no_number_is_a_protocol_error(expires_in: Any) -> None:
    """F1 fuzzer: "--5" passed lstrip("-").isdigit() and int() raised ValueError."""
    with pytest.raises(ProtocolError, match="expires_in"):
        parse_tokeninfo({"scope": "openid", "expires_in": expires_in})


def test_fuzz_tokeninfo_negative_expires_in_still_reads_as_zero() -> None:
    assert parse_tokeninfo({"expires_in": "-5"}).expires_in == 0
    assert parse_tokeninfo({"expires_in": -(10**400)}).expires_in == 0


@pytest.mark.parametrize(
    "exp", [float("nan"), float("inf"), -float("inf"), 10**400], ids=["nan", "inf", "-inf", "10**400"]
)
def test_fuzz_introspection_exp_out_of_range_is_a_protocol_error(exp: Any) -> None:
    """F1 fuzzer: int(nan) raised ValueError, int(inf) and 10**400 - now raised OverflowError."""
    with pytest.raises(ProtocolError, match="exp"):
        parse_introspection({"active": True, "exp": exp}, now=1_800_000_000.0)
