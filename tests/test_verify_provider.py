"""verify_provider.py: a provider without Google's APIs is checked with UserInfo and RFC 7662 (issue 7)."""

from __future__ import annotations

import json

from gapps_runbook.errors import TransportError
from gapps_runbook.oauth.clients import ClientConfig
from gapps_runbook.oauth.clock import FakeClock
from gapps_runbook.oauth.endpoints import Endpoints
from gapps_runbook.oauth.transport import Response
from gapps_runbook.oauth.verify import verify

import fakes
from fakes import ACCESS, NOW, get_only, reply, token

PLAIN = Endpoints("https://idp.example", "https://idp.example/a", "https://idp.example/t")
OIDC = Endpoints("https://idp.example", "https://idp.example/a", "https://idp.example/t",
                 userinfo_endpoint="https://idp.example/userinfo", introspection_endpoint="https://idp.example/introspect")
CLIENT = ClientConfig("kiosk-7", "kiosk-secret-planted-0123456789", "device")


def test_provider_with_nothing_to_check_is_unverifiable_not_ok() -> None:
    """Issue 7: a provider without Google's APIs used to give 'skipped' checks and exit 0."""
    transport = get_only()
    report = verify(transport, PLAIN, token("calendar:read"), clock=FakeClock(NOW))
    (check,) = report.checks
    assert check.outcome == "unverifiable" and not check.ok and check.fix
    assert not report.ok and report.proved_nothing and not report.skipped
    assert "api_base" in check.detail and "UserInfo" in check.detail and "introspection" in check.detail
    assert report.verdict.startswith("unverifiable: the provider idp.example offers nothing")
    assert check.summary == "Provider idp.example: unverifiable, nothing could be checked"
    assert report.to_json()["proved_nothing"] is True and report.to_json()["ok"] is False
    assert transport.calls == []


def test_userinfo_without_openid_scope_and_introspection_without_client_is_unverifiable() -> None:
    report = verify(get_only(), OIDC, token("calendar:read"), clock=FakeClock(NOW))
    assert report.proved_nothing and not report.ok
    assert "openid scope" in report.checks[0].detail and "needs a client with a secret" in report.checks[0].detail


def test_public_client_does_not_introspect() -> None:
    public = ClientConfig("tv-app", "", "device")
    report = verify(get_only(), OIDC, token("calendar:read"), clock=FakeClock(NOW), client=public)
    assert report.proved_nothing and "has none" in report.checks[0].detail


def test_userinfo_proves_the_token() -> None:
    transport = get_only(reply(200, {"sub": "248289761001", "email": "alice@example.org"}))
    report = verify(transport, OIDC, token("openid", "calendar:read"), clock=FakeClock(NOW))
    (check,) = report.checks
    assert (check.api, check.call, check.outcome, check.ok) == ("userinfo", "GET /userinfo", "allowed", True)
    assert report.ok and not report.proved_nothing
    assert check.summary == "UserInfo GET /userinfo: allowed, as expected"
    assert check.line.startswith("ok  UserInfo GET /userinfo: allowed, as expected. HTTP 200")
    (call,) = transport.calls
    assert (call.method, call.url, call.headers) == ("GET", OIDC.userinfo_endpoint, {"Authorization": f"Bearer {ACCESS}"})


def test_userinfo_401_is_a_refusal_that_fails_the_report() -> None:
    refused = Response(401, {"www-authenticate": 'Bearer error="invalid_token"'})
    report = verify(get_only(refused), OIDC, token("openid"), clock=FakeClock(NOW))
    (check,) = report.checks
    assert (check.outcome, check.ok) == ("refused", False) and "invalid_token" in check.detail
    assert "refresh" in check.fix and not report.ok and not report.proved_nothing
    assert report.verdict.startswith("not verified: UserInfo GET /userinfo: refused, expected allowed")


def test_userinfo_without_sub_is_an_error() -> None:
    report = verify(get_only(reply(200, {"email": "a@b"})), OIDC, token("openid"), clock=FakeClock(NOW))
    assert report.checks[0].outcome == "error" and "sub" in report.checks[0].detail and not report.ok


def test_introspection_active_proves_the_token_with_client_authentication() -> None:
    body = {"active": True, "client_id": CLIENT.client_id, "scope": "calendar:read", "exp": int(NOW) + 100}
    transport = fakes.FakeTransport(reply(200, body))
    report = verify(transport, OIDC, token("calendar:read"), clock=FakeClock(NOW), client=CLIENT)
    (check,) = report.checks
    assert (check.api, check.call, check.outcome) == ("introspection", "POST /introspect", "allowed")
    assert report.ok and "expires in 100 s" in check.detail
    assert transport.calls[0].data["token"] == ACCESS
    assert CLIENT.client_secret not in json.dumps(report.to_json()) + repr(report)


def test_introspection_inactive_is_refused() -> None:
    transport = fakes.FakeTransport(reply(200, {"active": False}))
    report = verify(transport, OIDC, token("calendar:read"), clock=FakeClock(NOW), client=CLIENT)
    assert report.checks[0].outcome == "refused" and not report.ok


def test_userinfo_and_introspection_both_run_and_both_must_pass() -> None:
    transport = fakes.FakeTransport(reply(200, {"sub": "1"}), reply(200, {"active": False}))
    report = verify(transport, OIDC, token("openid"), clock=FakeClock(NOW), client=CLIENT)
    assert [c.outcome for c in report.checks] == ["allowed", "refused"] and not report.ok


def test_provider_check_network_trouble_is_marked_network() -> None:
    failures = [TransportError("could not connect to idp.example")] * 3
    report = verify(get_only(*failures), OIDC, token("openid"), clock=FakeClock(NOW))
    assert report.checks[0].outcome == "error" and report.checks[0].network and not report.ok
