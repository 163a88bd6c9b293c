"""Interop: google-auth loads the authorized_user.json the runbook stored, refreshes and calls the APIs.

After a real Desktop-app authorization against the emulator, the stored file is read with
``Credentials.from_authorized_user_file`` exactly as an integrator's code would. google-auth ignores
the file's ``token_uri`` and always uses Google's (``from_authorized_user_info``), so the test points the
credentials back at the emulator with ``with_token_uri`` before refreshing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2.credentials import Credentials

from gapps_runbook import runbook
from gapps_runbook.oauth import scopes
from gapps_runbook.runs.demo import browser_for_emulator
from gapps_runbook.emulator import RunningEmulator

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"


@pytest.fixture
def authorized(tmp_path: Path, make_emulator) -> tuple[RunningEmulator, runbook.Site]:
    """A profile holding a Calendar + OpenID token from a real desktop-flow authorization."""
    running: RunningEmulator = make_emulator(auto_approve=True)
    site = runbook.Site.open("interop", home=tmp_path / "home", issuer=running.base_url)
    desktop = running.emulator.desktop_client
    runbook.save_client(site, client_id=desktop.client_id, client_secret=desktop.client_secret, client_type="desktop")
    requested = scopes.scopes_for(("calendar", "openid"))
    runbook.authorize(site, requested, flow="desktop", open_url=browser_for_emulator, timeout=60)
    return running, site


def test_google_auth_loads_refreshes_and_calls_calendar(authorized: tuple[RunningEmulator, runbook.Site]) -> None:
    running, site = authorized
    path = site.profile.file("authorized_user.json")
    stored = json.loads(path.read_text())
    assert stored["type"] == "authorized_user" and stored["token_uri"] == site.endpoints.token_endpoint

    creds = Credentials.from_authorized_user_file(str(path))
    assert creds.token_uri == GOOGLE_TOKEN_URI  # the file's token_uri is ignored (from_authorized_user_info)
    assert creds.valid and creds.token == stored["token"] and set(creds.scopes) == set(stored["scopes"])
    assert creds.client_id == running.emulator.desktop_client.client_id

    creds = creds.with_token_uri(site.endpoints.token_endpoint)
    before = len(running.emulator.requests)
    creds.refresh(Request())
    assert creds.valid and creds.token != stored["token"]
    refreshes = [r for r in running.emulator.requests[before:] if r.path == "/token"]
    assert len(refreshes) == 1 and "refresh_token" in refreshes[0].keys

    session = AuthorizedSession(creds)
    calendar = session.get(running.base_url + "/calendar/v3/users/me/calendarList", timeout=10)
    assert calendar.status_code == 200
    assert calendar.json()["kind"] == "calendar#calendarList"

    gmail = session.get(running.base_url + "/gmail/v1/users/me/profile", timeout=10)
    assert gmail.status_code == 403
    error = gmail.json()["error"]
    assert error["status"] == "PERMISSION_DENIED"
    assert "ACCESS_TOKEN_SCOPE_INSUFFICIENT" in [d.get("reason") for d in error["details"]]


def test_without_with_token_uri_google_auth_would_go_to_google(authorized: tuple[RunningEmulator, runbook.Site]) -> None:
    """Why the override is needed: a file written for the emulator still names Google's token URI once loaded."""
    _running, site = authorized
    info = json.loads(site.profile.file("authorized_user.json").read_text())
    creds = Credentials.from_authorized_user_info(info)
    assert creds.token_uri == GOOGLE_TOKEN_URI != info["token_uri"]
    direct = Credentials(token=None, refresh_token=info["refresh_token"], token_uri=info["token_uri"],
                         client_id=info["client_id"], client_secret=info["client_secret"], scopes=info["scopes"])
    direct.refresh(Request())  # built directly, the emulator's token_uri is kept
    assert direct.valid
