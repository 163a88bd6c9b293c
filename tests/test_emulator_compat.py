"""The emulator with the clients the runbook builds on: google-auth, HTTP Basic client auth, werkzeug's test client."""

from __future__ import annotations

from collections.abc import Callable

import google.auth.transport.requests
import pytest
import requests
from google.oauth2.credentials import Credentials
from werkzeug.test import Client

from gapps_runbook.emulator import Emulator, RunningEmulator, serve

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
LEGACY_GRANT = "http://oauth.net/grant_type/device/1.0"


def device_token(running: RunningEmulator) -> dict:
    client = running.emulator.device_client
    code = requests.post(running.base_url + "/device/code", data={"client_id": client.client_id, "scope": "email"})
    data = {"device_code": code.json()["device_code"], "grant_type": DEVICE_GRANT}
    reply = requests.post(running.base_url + "/token", data=data, auth=(client.client_id, client.client_secret))
    assert reply.status_code == 200, reply.text  # client_secret_basic
    return reply.json()


def test_google_auth_credentials_refresh(make_emulator: Callable[..., RunningEmulator]) -> None:
    running = make_emulator(auto_approve=True)
    client = running.emulator.device_client
    token = device_token(running)
    credentials = Credentials(
        token=None,
        refresh_token=token["refresh_token"],
        token_uri=running.base_url + "/token",
        client_id=client.client_id,
        client_secret=client.client_secret,
        scopes=["https://www.googleapis.com/auth/userinfo.email", "openid"],
    )
    credentials.refresh(google.auth.transport.requests.Request())
    assert credentials.token and credentials.token.startswith("ya29.")
    assert credentials.valid and credentials.refresh_token == token["refresh_token"]


def test_legacy_grant_type_only_in_legacy_mode(make_emulator: Callable[..., RunningEmulator]) -> None:
    for legacy, expected in ((True, 200), (False, 400)):
        running = make_emulator(auto_approve=True, legacy_device_scopes=legacy)
        client = running.emulator.device_client
        code = requests.post(running.base_url + "/device/code", data={"client_id": client.client_id, "scope": "email"})
        data = {"client_id": client.client_id, "client_secret": client.client_secret,
                "code": code.json()["device_code"], "grant_type": LEGACY_GRANT}  # fmt: skip
        reply = requests.post(running.base_url + "/token", data=data)
        assert reply.status_code == expected, reply.text
        if expected == 400:
            assert reply.json()["error"] == "unsupported_grant_type"


def test_wsgi_app_works_in_process() -> None:
    emulator = Emulator()
    reply = Client(emulator.wsgi_app).get("/.well-known/openid-configuration", base_url="http://127.0.0.1:9999")
    assert reply.status_code == 200
    assert reply.get_json()["token_endpoint"] == "http://127.0.0.1:9999/token"


def test_serve_shuts_down_cleanly() -> None:
    with serve() as running:
        url = running.base_url + "/.well-known/openid-configuration"
        assert requests.get(url).status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)
