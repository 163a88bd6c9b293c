"""The emulator over real loopback: discovery, /device/code and device-grant polling (Google's device-flow guide)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import requests

from gapps_runbook.oauth.clock import FakeClock
from gapps_runbook.emulator import RunningEmulator, Scenario
from gapps_runbook.oauth.endpoints import Endpoints

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CALENDAR = "https://www.googleapis.com/auth/calendar.readonly https://www.googleapis.com/auth/calendar.events.readonly"


def start(running: RunningEmulator, scope: str = "openid email", client: Any = None) -> requests.Response:
    client = client or running.emulator.device_client
    return requests.post(running.base_url + "/device/code", data={"client_id": client.client_id, "scope": scope})


def poll(running: RunningEmulator, device_code: str, client: Any = None) -> requests.Response:
    client = client or running.emulator.device_client
    data = {
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "device_code": device_code,
        "grant_type": DEVICE_GRANT,
    }
    return requests.post(running.base_url + "/token", data=data)


def assert_error(response: requests.Response, status: int, error: str, description: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    if description is not None:
        assert body["error_description"] == description


@pytest.fixture
def clocked(make_emulator: Callable[..., RunningEmulator]) -> tuple[RunningEmulator, FakeClock]:
    clock = FakeClock()
    return make_emulator(clock=clock), clock


def test_discovery_parses_with_endpoints(emulator: RunningEmulator) -> None:
    reply = requests.get(emulator.base_url + "/.well-known/openid-configuration")
    assert reply.status_code == 200
    document = reply.json()
    endpoints = Endpoints.from_discovery(document, issuer=emulator.base_url)
    base = emulator.base_url
    assert endpoints.issuer == base
    assert endpoints.authorization_endpoint == base + "/o/oauth2/v2/auth"
    assert endpoints.token_endpoint == base + "/token"
    assert endpoints.device_authorization_endpoint == base + "/device/code"
    assert endpoints.revocation_endpoint == base + "/revoke"
    assert endpoints.tokeninfo_endpoint == base + "/tokeninfo"
    assert endpoints.api_base == base
    assert endpoints.google_dialect
    assert document["code_challenge_methods_supported"] == ["S256", "plain"]
    assert DEVICE_GRANT in document["grant_types_supported"]
    assert "openid" in document["scopes_supported"]


def test_default_clients_are_google_shaped(emulator: RunningEmulator) -> None:
    emu = emulator.emulator
    for client in (emu.device_client, emu.desktop_client):
        assert re.fullmatch(r"\d{12}-[a-z0-9]{32}\.apps\.googleusercontent\.com", client.client_id)
        assert re.fullmatch(r"GOCSPX-[A-Za-z0-9_-]{28}", client.client_secret)
        assert client.product_name == "gapps-runbook demo"
        assert client.client_secret not in repr(client)
    assert (emu.device_client.client_type, emu.desktop_client.client_type) == ("device", "desktop")


def test_device_code_response_has_google_fields(emulator: RunningEmulator) -> None:
    reply = start(emulator)
    assert reply.status_code == 200
    body = reply.json()
    assert set(body) == {"device_code", "user_code", "verification_url", "expires_in", "interval"}
    assert re.fullmatch(r"[A-Z]{4}-[A-Z]{4}", body["user_code"])
    assert body["verification_url"] == emulator.base_url + "/device"
    assert (body["expires_in"], body["interval"]) == (1800, 5)
    assert "verification_uri_complete" not in body


def test_device_code_accepts_a_json_body(emulator: RunningEmulator) -> None:
    client = emulator.emulator.device_client
    reply = requests.post(emulator.base_url + "/device/code", json={"client_id": client.client_id, "scope": "profile"})
    assert reply.status_code == 200
    assert "device_code" in reply.json()


def test_device_happy_path_with_approve(clocked: tuple[RunningEmulator, FakeClock]) -> None:
    running, clock = clocked
    body = start(running, "openid email").json()
    assert_error(poll(running, body["device_code"]), 428, "authorization_pending", "Precondition Required")
    running.emulator.approve(body["user_code"], account="alice@example.com")
    clock.advance(5)
    reply = poll(running, body["device_code"])
    assert reply.status_code == 200, reply.text
    token = reply.json()
    assert token["access_token"].startswith("ya29.")
    assert token["refresh_token"].startswith("1//")
    assert token["expires_in"] == 3599
    assert token["token_type"] == "Bearer"
    assert set(token["scope"].split()) == {"openid", "https://www.googleapis.com/auth/userinfo.email"}
    assert token["id_token"].count(".") == 2
    assert "refresh_token_expires_in" not in token  # production
    info = requests.get(running.base_url + "/tokeninfo", params={"access_token": token["access_token"]}).json()
    assert info["email"] == "alice@example.com"
    clock.advance(5)
    assert_error(poll(running, body["device_code"]), 400, "invalid_grant")  # claimed: single use


def test_polling_too_fast_gets_slow_down(clocked: tuple[RunningEmulator, FakeClock]) -> None:
    running, clock = clocked
    device_code = start(running).json()["device_code"]
    assert poll(running, device_code).status_code == 428
    clock.advance(2)
    assert_error(poll(running, device_code), 403, "slow_down", "Forbidden")
    clock.advance(5)  # the client did not add 5 s: still too fast for interval 10
    assert_error(poll(running, device_code), 403, "slow_down")
    clock.advance(15)
    assert poll(running, device_code).status_code == 428


def test_denied_session_gets_access_denied(clocked: tuple[RunningEmulator, FakeClock]) -> None:
    running, clock = clocked
    body = start(running).json()
    running.emulator.deny(body["user_code"])
    assert_error(poll(running, body["device_code"]), 403, "access_denied", "Forbidden")


def test_expired_device_code(clocked: tuple[RunningEmulator, FakeClock]) -> None:
    running, clock = clocked
    body = start(running).json()
    clock.advance(1801)
    assert_error(poll(running, body["device_code"]), 400, "expired_token", "Bad Request")
    with pytest.raises(ValueError):
        running.emulator.approve(body["user_code"])


def test_calendar_scope_is_refused_in_faithful_mode(emulator: RunningEmulator) -> None:
    reply = start(emulator, "openid " + CALENDAR)
    assert_error(
        reply, 400, "invalid_scope", "Invalid device flow scope: https://www.googleapis.com/auth/calendar.readonly"
    )


def test_legacy_mode_accepts_calendar_scopes(make_emulator: Callable[..., RunningEmulator]) -> None:
    running = make_emulator(legacy_device_scopes=True, auto_approve=True)
    body = start(running, CALENDAR).json()
    token = poll(running, body["device_code"]).json()
    assert set(token["scope"].split()) == set(CALENDAR.split())
    assert "id_token" not in token


def test_unknown_client_at_device_code(emulator: RunningEmulator) -> None:
    reply = requests.post(emulator.base_url + "/device/code", data={"client_id": "123-abc", "scope": "email"})
    assert_error(reply, 401, "invalid_client", "The OAuth client was not found.")


def test_desktop_client_at_device_code(emulator: RunningEmulator) -> None:
    reply = start(emulator, client=emulator.emulator.desktop_client)
    assert_error(reply, 401, "invalid_client")
    body = reply.json()
    assert body["error_description"].startswith("Only clients of type 'TVs and Limited Input devices' can use")
    assert body["error_uri"].endswith("/limited-input-device#creatingcred")


def test_wrong_and_missing_client_secret(emulator: RunningEmulator) -> None:
    client = emulator.emulator.device_client
    device_code = start(emulator).json()["device_code"]
    data = {"client_id": client.client_id, "device_code": device_code, "grant_type": DEVICE_GRANT}
    wrong = requests.post(emulator.base_url + "/token", data={**data, "client_secret": "GOCSPX-wrong"})
    assert_error(wrong, 401, "invalid_client", "Unauthorized")
    missing = requests.post(emulator.base_url + "/token", data=data)
    assert_error(missing, 400, "invalid_request", "client_secret is missing.")
    for reply in (wrong, missing):
        assert client.client_secret not in reply.text and device_code not in reply.text


def test_unsupported_grant_type(emulator: RunningEmulator) -> None:
    client = emulator.emulator.device_client
    data = {"client_id": client.client_id, "client_secret": client.client_secret, "grant_type": "password"}
    assert_error(requests.post(emulator.base_url + "/token", data=data), 400, "unsupported_grant_type")


def test_scenario_approve_after_and_approve_as(clocked: tuple[RunningEmulator, FakeClock]) -> None:
    running, clock = clocked
    emu = running.emulator
    emu.script(emu.device_client.client_id, Scenario(approve_after=2, approve_as="bob@example.com"))
    device_code = start(running).json()["device_code"]
    replies = []
    for _ in range(3):
        replies.append(poll(running, device_code))
        clock.advance(5)
    assert [r.status_code for r in replies] == [428, 428, 200]
    info = requests.get(running.base_url + "/tokeninfo", params={"access_token": replies[-1].json()["access_token"]})
    assert info.json()["email"] == "bob@example.com"


def test_scenario_slow_down_then_deny(clocked: tuple[RunningEmulator, FakeClock]) -> None:
    running, clock = clocked
    emu = running.emulator
    device_code = start(running).json()["device_code"]
    emu.script(emu.device_client.client_id, Scenario(slow_down=1, deny=True))  # applies to pending sessions too
    assert_error(poll(running, device_code), 403, "slow_down")
    clock.advance(10)
    assert_error(poll(running, device_code), 403, "access_denied")


def test_scenario_expire(emulator: RunningEmulator) -> None:
    emu = emulator.emulator
    emu.script(emu.device_client.client_id, Scenario(expire=True))
    assert_error(poll(emulator, start(emulator).json()["device_code"]), 400, "expired_token")


def test_auto_approve_approves_at_first_poll(make_emulator: Callable[..., RunningEmulator]) -> None:
    running = make_emulator(auto_approve=True, account="auto@example.com")
    reply = poll(running, start(running, "email").json()["device_code"])
    assert reply.status_code == 200
    info = requests.post(running.base_url + "/tokeninfo", data={"access_token": reply.json()["access_token"]})
    assert info.json()["email"] == "auto@example.com"


def test_unknown_device_code_is_invalid_grant(emulator: RunningEmulator) -> None:
    assert_error(poll(emulator, "AH-1Ng-not-a-code"), 400, "invalid_grant")


def test_requests_are_recorded_by_key_only(emulator: RunningEmulator) -> None:
    device_code = start(emulator).json()["device_code"]
    poll(emulator, device_code)
    records = emulator.emulator.requests
    assert [(r.method, r.path) for r in records] == [("POST", "/device/code"), ("POST", "/token")]
    assert records[1].keys == ("client_id", "client_secret", "device_code", "grant_type")
    assert device_code not in repr(records)


@pytest.mark.parametrize("path", ["/token", "/device/code", "/revoke", "/tokeninfo"])
def test_fuzz_deeply_nested_json_body_is_a_400_not_a_500(path: str) -> None:
    """F1 fuzzer: werkzeug's get_json(silent=True) let RecursionError through, and the app answered 500."""
    from werkzeug.test import Client

    from gapps_runbook.emulator import Emulator

    response = Client(Emulator().wsgi_app).post(path, data=b"[" * 5000 + b"]" * 5000, content_type="application/json")
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
