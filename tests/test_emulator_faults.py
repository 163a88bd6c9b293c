"""Injected faults, hostile input, secrets, client files and the CLI loop of the emulator."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gapps_runbook.emulator import FAULTS, Emulator, RunningEmulator, run_forever, serve
from gapps_runbook.errors import InputError, OAuthError, TemporarilyUnavailable, TransportError
from gapps_runbook.oauth.scope_catalog import probed_services
from gapps_runbook.oauth.transport import RequestsTransport, oauth_json

DISCOVERY = "/.well-known/openid-configuration"


@pytest.mark.parametrize(
    ("fault", "status", "kind"),
    [("500", 500, "json"), ("503", 503, "json"), ("502", 502, "html"), ("504", 504, "html"), ("408", 408, "html")],
)
def test_http_faults_then_recovery(emulator: RunningEmulator, fault: str, status: int, kind: str) -> None:
    emulator.emulator.fail_next("/token", fault, times=2)
    for _ in range(2):
        reply = requests.post(emulator.base_url + "/token", data={})
        assert reply.status_code == status
        if kind == "json":
            assert "error" in reply.json()
        else:
            assert reply.headers["Content-Type"].startswith("text/html")
            assert f"Error {status}" in reply.text
    assert requests.post(emulator.base_url + "/token", data={}).status_code == 400  # the real answer again


def test_503_decodes_as_retryable_oauth_error(emulator: RunningEmulator) -> None:
    emulator.emulator.fail_next("/token", "503")
    response = RequestsTransport()("POST", emulator.base_url + "/token", data={})
    with pytest.raises(OAuthError) as caught:
        oauth_json(response, emulator.base_url + "/token")
    assert isinstance(caught.value, TemporarilyUnavailable) and caught.value.retryable


@pytest.mark.parametrize("path", [p.request_path for s in probed_services() for p in s.probes])
def test_api_path_faults_use_the_api_envelope(emulator: RunningEmulator, path: str) -> None:
    emulator.emulator.fail_next(path, "500")
    reply = requests.get(emulator.base_url + path)
    assert reply.status_code == 500 and reply.json()["error"]["status"] == "INTERNAL"


def test_429_has_retry_after(emulator: RunningEmulator) -> None:
    emulator.emulator.fail_next(DISCOVERY, "429")
    reply = requests.get(emulator.base_url + DISCOVERY)
    assert reply.status_code == 429 and reply.headers["Retry-After"] == "1"
    assert requests.get(emulator.base_url + DISCOVERY).status_code == 200


def test_malformed_is_200_without_json(emulator: RunningEmulator) -> None:
    emulator.emulator.fail_next("/token", "malformed")
    reply = requests.post(emulator.base_url + "/token", data={})
    assert reply.status_code == 200
    with pytest.raises(ValueError):
        reply.json()


def test_reset_drops_the_connection(emulator: RunningEmulator) -> None:
    emulator.emulator.fail_next("/device/code", "reset")
    with pytest.raises(requests.ConnectionError):
        requests.post(emulator.base_url + "/device/code", data={"client_id": "x"})
    emulator.emulator.fail_next("/device/code", "reset")
    with pytest.raises(TransportError):
        RequestsTransport()("POST", emulator.base_url + "/device/code", data={})
    assert requests.post(emulator.base_url + "/device/code", data={}).status_code == 400


def test_timeout_waits_real_seconds_then_answers(emulator: RunningEmulator) -> None:
    emulator.emulator.timeout_seconds = 0.4
    emulator.emulator.fail_next(DISCOVERY, "timeout", times=2)
    with pytest.raises(requests.Timeout):
        requests.get(emulator.base_url + DISCOVERY, timeout=0.1)
    late = requests.get(emulator.base_url + DISCOVERY, timeout=5)  # waits, then the real answer
    assert late.status_code == 200 and "issuer" in late.json()


def test_fail_next_rejects_unknown_faults(emulator: RunningEmulator) -> None:
    assert FAULTS == {"500", "502", "503", "504", "429", "408", "timeout", "reset", "malformed"}
    with pytest.raises(ValueError):
        emulator.emulator.fail_next("/token", "418")
    with pytest.raises(ValueError):
        emulator.emulator.fail_next("/token", "500", times=0)


# -- hostile input -----------------------------------------------------------------------------------

API_PATHS = [p.request_path for s in probed_services() for p in s.probes]
PATHS = ["/device/code", "/token", "/tokeninfo", "/revoke", "/o/oauth2/v2/auth", "/device", DISCOVERY,
         *API_PATHS, "/nope", "/token/extra"]  # fmt: skip
KEYS = ["client_id", "client_secret", "scope", "grant_type", "device_code", "code", "code_verifier", "redirect_uri",
        "refresh_token", "token", "access_token", "user_code", "action", "account", "consent_id", "response_type",
        "code_challenge", "code_challenge_method", "state"]  # fmt: skip
VALUES = ["<device_id>", "<device_secret>", "<desktop_id>", "authorization_code", "refresh_token", "allow", "deny",
          "urn:ietf:params:oauth:grant-type:device_code", "email", "S256", "http://127.0.0.1:1/", "code"]  # fmt: skip


@pytest.fixture(scope="module")
def shared() -> Iterator[RunningEmulator]:
    with serve(Emulator(legacy_device_scopes=True)) as running:
        yield running


def _fill(value: str, emu: Emulator) -> str:
    return {
        "<device_id>": emu.device_client.client_id,
        "<device_secret>": emu.device_client.client_secret,
        "<desktop_id>": emu.desktop_client.client_id,
    }.get(value, value)


def _check(reply: requests.Response, emu: Emulator) -> None:
    assert reply.status_code < 500, reply.text
    assert "Traceback" not in reply.text
    kind = reply.headers.get("Content-Type", "")
    assert kind.startswith(("application/json", "text/html")) or reply.status_code == 302
    if kind.startswith("application/json"):
        json.loads(reply.text)
    assert emu.device_client.client_secret not in reply.text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(PATHS),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    fields=st.dictionaries(
        st.sampled_from(KEYS) | st.text(max_size=8), st.sampled_from(VALUES) | st.text(max_size=30), max_size=6
    ),
    as_json=st.booleans(),
)
def test_random_fields_never_cause_5xx(
    shared: RunningEmulator, path: str, method: str, fields: dict[str, str], as_json: bool
) -> None:
    emu = shared.emulator
    data = {k: _fill(v, emu) for k, v in fields.items()}
    url = shared.base_url + path
    if method == "GET":
        reply = requests.get(url, params=data, allow_redirects=False)
    elif as_json:
        reply = requests.request(method, url, json=data, allow_redirects=False)
    else:
        reply = requests.request(method, url, data=data, allow_redirects=False)
    _check(reply, emu)


@settings(max_examples=40, deadline=None)
@given(
    path=st.sampled_from(PATHS[:6]),
    body=st.binary(max_size=200),
    content_type=st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "multipart/form-data", "text/plain", "a/b; x=\x01"]
    ),
)
def test_garbage_bodies_never_cause_5xx(shared: RunningEmulator, path: str, body: bytes, content_type: str) -> None:
    reply = requests.post(shared.base_url + path, data=body, headers={"Content-Type": content_type})
    _check(reply, shared.emulator)


def test_json_with_nested_values_is_invalid_request(emulator: RunningEmulator) -> None:
    reply = requests.post(emulator.base_url + "/token", json={"client_id": {"a": 1}})
    assert reply.status_code == 400 and reply.json()["error"] == "invalid_request"
    assert (
        requests.post(emulator.base_url + "/token", data=b"{", headers={"Content-Type": "application/json"}).json()[
            "error"
        ]
        == "invalid_request"
    )


def test_oversized_body_is_413(emulator: RunningEmulator) -> None:
    reply = requests.post(emulator.base_url + "/token", data={"scope": "x" * (2 * 1024 * 1024)})
    assert reply.status_code == 413


def test_wrong_method_is_405(emulator: RunningEmulator) -> None:
    reply = requests.get(emulator.base_url + "/token")
    assert reply.status_code == 405 and "POST" in reply.headers["Allow"]


# -- secrets -----------------------------------------------------------------------------------------


def test_planted_secrets_never_appear_in_errors_or_records(make_emulator: Callable[..., RunningEmulator]) -> None:
    counter = iter(range(10**6))

    def factory(kind: str) -> str:
        return f"CANARY{kind}{next(counter)}xyz"

    running = make_emulator(secret_factory=factory, auto_approve=True)
    emu = running.emulator
    assert emu.device_client.client_secret.startswith("CANARYclient_secret")
    client = emu.device_client
    code = requests.post(running.base_url + "/device/code", data={"client_id": client.client_id, "scope": "email"})
    device_code = code.json()["device_code"]
    assert device_code.startswith("CANARYdevice_code")
    form = {"client_id": client.client_id, "client_secret": client.client_secret, "device_code": device_code,
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code"}  # fmt: skip
    token = requests.post(running.base_url + "/token", data=form).json()
    assert token["access_token"].startswith("CANARYaccess_token") and token["id_token"].startswith("CANARYid_token")
    errors = [
        requests.post(running.base_url + "/token", data=form),  # claimed code
        requests.post(running.base_url + "/token", data={**form, "client_secret": "GOCSPX-wrong"}),
        requests.post(running.base_url + "/revoke", data={"token": token["refresh_token"]}),
        requests.post(running.base_url + "/revoke", data={"token": token["refresh_token"]}),
        requests.get(running.base_url + "/tokeninfo", params={"access_token": token["access_token"]}),
        requests.get(running.base_url + "/calendar/v3/users/me/calendarList",
                     headers={"Authorization": "Bearer " + token["access_token"]}),
    ]  # fmt: skip
    assert [r.status_code for r in errors] == [400, 401, 200, 400, 400, 401]
    for reply in errors:
        assert "CANARY" not in reply.text
    assert "CANARY" not in repr(emu.requests) and "CANARY" not in repr(emu.clients)


# -- client files and the CLI loop -------------------------------------------------------------------


def test_load_clients(emulator: RunningEmulator, tmp_path: Path) -> None:
    path = tmp_path / "clients.json"
    entry = {"client_id": "42-tv.apps.googleusercontent.com", "client_secret": "GOCSPX-" + "s" * 28,
             "client_type": "device", "product_name": "Lobby TV"}  # fmt: skip
    path.write_text(json.dumps([entry]))
    loaded = emulator.emulator.load_clients(path)
    assert [c.product_name for c in loaded] == ["Lobby TV"]
    reply = requests.post(emulator.base_url + "/device/code", data={"client_id": entry["client_id"], "scope": "email"})
    assert reply.status_code == 200
    path.write_text(json.dumps([{"client_id": "x", "client_secret": "GOCSPX-topsecret", "client_type": "tv"}]))
    with pytest.raises(InputError) as caught:
        emulator.emulator.load_clients(path)
    assert "topsecret" not in str(caught.value)
    path.write_text("{not json")
    with pytest.raises(InputError):
        emulator.emulator.load_clients(path)


def test_run_forever_prints_clients_and_ready_line() -> None:
    emu = Emulator(auto_approve=True)
    lines: list[str] = []
    ready, stop = threading.Event(), threading.Event()

    def echo(line: str) -> None:
        lines.append(line)
        if line.startswith("Emulator ready at "):
            ready.set()

    thread = threading.Thread(target=run_forever, args=(emu, "127.0.0.1", 0, echo), kwargs={"stop": stop})
    thread.start()
    try:
        assert ready.wait(10)
        base = lines[-1].removeprefix("Emulator ready at ")
        assert requests.get(base + DISCOVERY).json()["issuer"] == base
    finally:
        stop.set()
        thread.join(10)
    text = "\n".join(lines)
    assert emu.device_client.client_id in text and emu.desktop_client.client_secret in text
    assert "EMULATOR-ONLY" in text and "auto-approve: on" in text
    assert any(line == f"Emulator ready at {base}" for line in lines)
