"""The emulator's loopback + PKCE grant, refresh, tokeninfo and revoke over real loopback."""

from __future__ import annotations

import base64
import hashlib
import re
import urllib.parse
from collections.abc import Callable

import pytest
import requests

from gapps_runbook.oauth.clock import FakeClock
from gapps_runbook.emulator import RunningEmulator

CAL = "https://www.googleapis.com/auth/calendar.readonly"
VERIFIER = "v" * 20 + "-verifier-with-43-or-more-characters-ok"
REDIRECT = "http://127.0.0.1:53682/"


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def authorize(
    running: RunningEmulator, *, method: str = "S256", account: str | None = None, redirect_uri: str = REDIRECT
) -> dict[str, str]:
    """Drive the consent page like a browser; the query of the 302 redirect."""
    client = running.emulator.desktop_client
    params = {
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": f"openid email {CAL}",
        "state": "st4te",
        "code_challenge": s256(VERIFIER) if method == "S256" else VERIFIER,
        "code_challenge_method": method,
        "access_type": "offline",
    }
    page = requests.get(running.base_url + "/o/oauth2/v2/auth", params=params, allow_redirects=False)
    assert page.status_code == 200, page.text
    assert 'value="allow"' in page.text and 'value="deny"' in page.text
    assert CAL in page.text and running.emulator.account in page.text
    consent_id = re.search(r'name="consent_id" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    form = {"consent_id": consent_id, "action": "allow", "account": account or running.emulator.account}
    answer = requests.post(running.base_url + "/o/oauth2/v2/auth", data=form, allow_redirects=False)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(redirect_uri + "?")
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def exchange(
    running: RunningEmulator, code: str, verifier: str = VERIFIER, redirect_uri: str = REDIRECT
) -> requests.Response:
    client = running.emulator.desktop_client
    data = {
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": redirect_uri,
        "grant_type": "authorization_code",
    }
    return requests.post(running.base_url + "/token", data=data)


def refresh(running: RunningEmulator, refresh_token: str) -> requests.Response:
    client = running.emulator.desktop_client
    data = {
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "refresh_token": refresh_token,
        "grant_type": "refresh_token",
    }
    return requests.post(running.base_url + "/token", data=data)


def tokeninfo(running: RunningEmulator, access_token: str) -> requests.Response:
    return requests.get(running.base_url + "/tokeninfo", params={"access_token": access_token})


@pytest.mark.parametrize("method", ["S256", "plain"])
def test_auth_code_with_pkce(emulator: RunningEmulator, method: str) -> None:
    query = authorize(emulator, method=method, account="carol@example.com")
    assert query["state"] == "st4te"
    reply = exchange(emulator, query["code"])
    assert reply.status_code == 200, reply.text
    token = reply.json()
    assert token["refresh_token"].startswith("1//")
    assert CAL in token["scope"].split()
    assert tokeninfo(emulator, token["access_token"]).json()["email"] == "carol@example.com"


def test_auth_code_is_single_use(emulator: RunningEmulator) -> None:
    code = authorize(emulator)["code"]
    assert exchange(emulator, code).status_code == 200
    again = exchange(emulator, code)
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_grant", "error_description": "Bad Request"}


def test_wrong_verifier_is_refused(emulator: RunningEmulator) -> None:
    reply = exchange(emulator, authorize(emulator)["code"], verifier="x" * 43)
    assert reply.status_code == 400
    assert reply.json() == {"error": "invalid_grant", "error_description": "Invalid code verifier."}


def test_garbage_code_is_malformed(emulator: RunningEmulator) -> None:
    reply = exchange(emulator, "4/not-a-code")
    assert reply.json() == {"error": "invalid_grant", "error_description": "Malformed auth code."}


def test_redirect_uri_must_match(emulator: RunningEmulator) -> None:
    code = authorize(emulator, redirect_uri="http://localhost:8080/")["code"]
    reply = exchange(emulator, code, redirect_uri="http://localhost:8081/")
    assert reply.status_code == 400
    assert reply.json()["error"] == "redirect_uri_mismatch"


def test_deny_redirects_with_access_denied(emulator: RunningEmulator) -> None:
    client = emulator.emulator.desktop_client
    params = {"client_id": client.client_id, "redirect_uri": REDIRECT, "response_type": "code", "scope": "email",
              "state": "s1"}  # fmt: skip
    page = requests.get(emulator.base_url + "/o/oauth2/v2/auth", params=params)
    consent_id = re.search(r'name="consent_id" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    form = {"consent_id": consent_id, "action": "deny"}
    answer = requests.post(emulator.base_url + "/o/oauth2/v2/auth", data=form, allow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["Location"] == REDIRECT + "?error=access_denied&state=s1"


@pytest.mark.parametrize(
    ("which", "redirect_uri", "error"),
    [
        ("device", REDIRECT, "redirect_uri_mismatch"),
        ("desktop", "https://example.com/callback", "redirect_uri_mismatch"),
        ("desktop", "urn:ietf:wg:oauth:2.0:oob", "redirect_uri_mismatch"),
        ("unknown", REDIRECT, "invalid_client"),
    ],
)
def test_authorization_error_pages(emulator: RunningEmulator, which: str, redirect_uri: str, error: str) -> None:
    emu = emulator.emulator
    client_id = {"device": emu.device_client.client_id, "desktop": emu.desktop_client.client_id}.get(which, "1-x")
    params = {"client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code", "scope": "email"}
    page = requests.get(emulator.base_url + "/o/oauth2/v2/auth", params=params, allow_redirects=False)
    assert page.status_code in (400, 401)
    assert page.headers["Content-Type"].startswith("text/html")
    assert f"Error {page.status_code}: {error}" in page.text


def test_auto_approve_redirects_at_once(make_emulator: Callable[..., RunningEmulator]) -> None:
    running = make_emulator(auto_approve=True)
    client = running.emulator.desktop_client
    params = {"client_id": client.client_id, "redirect_uri": "http://localhost:9/cb", "response_type": "code",
              "scope": "email", "state": "z"}  # fmt: skip
    reply = requests.get(running.base_url + "/o/oauth2/v2/auth", params=params, allow_redirects=False)
    assert reply.status_code == 302
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(reply.headers["Location"]).query))
    assert query["state"] == "z"
    assert exchange(running, query["code"], redirect_uri="http://localhost:9/cb").status_code == 200


def test_refresh_returns_no_refresh_token(emulator: RunningEmulator) -> None:
    token = exchange(emulator, authorize(emulator)["code"]).json()
    reply = refresh(emulator, token["refresh_token"])
    assert reply.status_code == 200
    body = reply.json()
    assert "refresh_token" not in body
    assert body["access_token"] != token["access_token"]
    assert body["expires_in"] == 3599 and body["token_type"] == "Bearer"
    assert tokeninfo(emulator, body["access_token"]).status_code == 200


def test_testing_mode_refresh_token_expires_after_7_days(make_emulator: Callable[..., RunningEmulator]) -> None:
    clock = FakeClock()
    running = make_emulator(clock=clock, publishing_status="testing")
    token = exchange(running, authorize(running)["code"]).json()
    assert token["refresh_token_expires_in"] == 604799
    clock.advance(6 * 86400)
    assert refresh(running, token["refresh_token"]).status_code == 200
    clock.advance(86400)
    reply = refresh(running, token["refresh_token"])
    assert reply.status_code == 400
    assert reply.json() == {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}


def test_production_refresh_token_does_not_expire(make_emulator: Callable[..., RunningEmulator]) -> None:
    clock = FakeClock()
    running = make_emulator(clock=clock)
    token = exchange(running, authorize(running)["code"]).json()
    assert "refresh_token_expires_in" not in token
    clock.advance(30 * 86400)
    assert refresh(running, token["refresh_token"]).status_code == 200


def test_tokeninfo_valid_values_are_strings(emulator: RunningEmulator) -> None:
    token = exchange(emulator, authorize(emulator)["code"]).json()
    info = tokeninfo(emulator, token["access_token"]).json()
    client_id = emulator.emulator.desktop_client.client_id
    assert info["azp"] == info["aud"] == client_id
    assert all(isinstance(v, str) for v in info.values())
    assert info["access_type"] == "offline" and info["email_verified"] == "true"
    assert 0 < int(info["expires_in"]) <= 3599 and info["exp"].isdigit()
    assert CAL in info["scope"].split() and info["sub"].isdigit()


def test_tokeninfo_without_email_scope_has_no_identity(make_emulator: Callable[..., RunningEmulator]) -> None:
    running = make_emulator(legacy_device_scopes=True, auto_approve=True)
    client = running.emulator.device_client
    code = requests.post(running.base_url + "/device/code", data={"client_id": client.client_id, "scope": CAL}).json()
    data = {"client_id": client.client_id, "client_secret": client.client_secret, "device_code": code["device_code"],
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code"}  # fmt: skip
    token = requests.post(running.base_url + "/token", data=data).json()
    info = tokeninfo(running, token["access_token"]).json()
    assert not {"sub", "email", "email_verified"} & set(info)


def test_tokeninfo_invalid_and_expired(make_emulator: Callable[..., RunningEmulator]) -> None:
    clock = FakeClock()
    running = make_emulator(clock=clock)
    bad = tokeninfo(running, "ya29.garbage")
    assert bad.status_code == 400
    assert bad.json() == {"error": "invalid_token", "error_description": "Invalid Value"}
    token = exchange(running, authorize(running)["code"]).json()
    clock.advance(3600)
    assert tokeninfo(running, token["access_token"]).json()["error_description"] == "Invalid Value"


def test_revoke_then_tokeninfo_and_refresh_fail(emulator: RunningEmulator) -> None:
    token = exchange(emulator, authorize(emulator)["code"]).json()
    reply = requests.post(emulator.base_url + "/revoke", data={"token": token["access_token"]})
    assert reply.status_code == 200
    assert tokeninfo(emulator, token["access_token"]).status_code == 400
    assert refresh(emulator, token["refresh_token"]).json()["error_description"] == "Token has been expired or revoked."
    again = requests.post(emulator.base_url + "/revoke", data={"token": token["refresh_token"]})
    assert again.status_code == 400 and again.json()["error"] == "invalid_token"
    assert token["refresh_token"] not in again.text


def test_revoke_accepts_query_token_and_refuses_get(emulator: RunningEmulator) -> None:
    token = exchange(emulator, authorize(emulator)["code"]).json()
    got = requests.get(emulator.base_url + "/revoke", params={"token": token["refresh_token"]})
    assert got.status_code == 404
    posted = requests.post(emulator.base_url + "/revoke", params={"token": token["refresh_token"]})
    assert posted.status_code == 200
    assert tokeninfo(emulator, token["access_token"]).status_code == 400
