"""Calendar and Gmail on the emulator: scope checks and Google's error envelopes (https://cloud.google.com/apis/design/errors)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable

import pytest
import requests

from gapps_runbook.oauth.clock import FakeClock
from gapps_runbook.oauth.scope_catalog import SERVICES, probed_services
from gapps_runbook.emulator import RunningEmulator, apis

AUTH = "https://www.googleapis.com/auth/"
CALENDAR_LIST, EVENTS = (p.request_path for p in SERVICES["calendar"].probes)
GMAIL = SERVICES["gmail"].probes[0].request_path
PROBES = [(s, p) for s in probed_services() for p in s.probes]


def token_for(running: RunningEmulator, scope: str) -> str:
    """An access token for ``scope`` through the loopback flow (the emulator must auto-approve)."""
    client = running.emulator.desktop_client
    redirect = "http://127.0.0.1:1/"
    params = {"client_id": client.client_id, "redirect_uri": redirect, "response_type": "code", "scope": scope}
    consent = requests.get(running.base_url + "/o/oauth2/v2/auth", params=params, allow_redirects=False)
    assert consent.status_code == 302, consent.text
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(consent.headers["Location"]).query))
    data = {"client_id": client.client_id, "client_secret": client.client_secret, "code": query["code"],
            "redirect_uri": redirect, "grant_type": "authorization_code"}  # fmt: skip
    reply = requests.post(running.base_url + "/token", data=data)
    assert reply.status_code == 200, reply.text
    return reply.json()["access_token"]


@pytest.fixture
def auto(make_emulator: Callable[..., RunningEmulator]) -> RunningEmulator:
    return make_emulator(auto_approve=True, account="dana@example.com")


def get(running: RunningEmulator, path: str, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(running.base_url + path, headers=headers)


def detail(reply: requests.Response) -> dict:
    return reply.json()["error"]["details"][0]


def test_calendar_allowed_and_gmail_refused(auto: RunningEmulator) -> None:
    token = token_for(auto, AUTH + "calendar.readonly " + AUTH + "calendar.events.readonly")
    calendars = get(auto, CALENDAR_LIST, token)
    assert calendars.status_code == 200
    body = calendars.json()
    assert body["kind"] == "calendar#calendarList"
    assert body["items"][0]["primary"] is True and body["items"][0]["id"] == "dana@example.com"
    events = get(auto, EVENTS, token)
    assert events.status_code == 200
    assert events.json()["kind"] == "calendar#events" and len(events.json()["items"]) == 2
    gmail = get(auto, GMAIL, token)
    assert gmail.status_code == 403
    error = gmail.json()["error"]
    assert (error["code"], error["status"]) == (403, "PERMISSION_DENIED")
    assert error["message"] == "Request had insufficient authentication scopes."
    assert error["errors"][0]["reason"] == "insufficientPermissions"
    assert detail(gmail)["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    assert detail(gmail)["metadata"] == {
        "service": "gmail.googleapis.com",
        "method": "caribou.api.proto.MailboxService.GetProfile",
    }


def test_events_readonly_alone_cannot_list_calendars(auto: RunningEmulator) -> None:
    token = token_for(auto, AUTH + "calendar.events.readonly")
    refused = get(auto, CALENDAR_LIST, token)
    assert refused.status_code == 403
    assert detail(refused)["metadata"] == {
        "service": "calendar-json.googleapis.com",
        "method": "calendar.v3.CalendarList.List",
    }
    assert get(auto, EVENTS, token).status_code == 200


def test_gmail_profile_with_gmail_scope(auto: RunningEmulator) -> None:
    token = token_for(auto, AUTH + "gmail.readonly")
    reply = get(auto, GMAIL, token)
    assert reply.status_code == 200
    assert reply.json()["emailAddress"] == "dana@example.com"


def test_missing_token_is_credentials_missing(emulator: RunningEmulator) -> None:
    reply = get(emulator, CALENDAR_LIST, None)
    assert reply.status_code == 401
    error = reply.json()["error"]
    assert error["status"] == "UNAUTHENTICATED"
    assert error["errors"][0]["reason"] == "required"
    assert detail(reply)["reason"] == "CREDENTIALS_MISSING"
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


def test_invalid_and_expired_tokens(make_emulator: Callable[..., RunningEmulator]) -> None:
    clock = FakeClock()
    running = make_emulator(clock=clock, auto_approve=True)
    garbage = get(running, EVENTS, "ya29.garbage")
    assert garbage.status_code == 401
    assert garbage.json()["error"]["errors"][0]["message"] == "Invalid Credentials"
    token = token_for(running, AUTH + "calendar.readonly")
    clock.advance(3600)
    expired = get(running, EVENTS, token)
    assert expired.status_code == 401
    assert detail(expired)["reason"] == "ACCESS_TOKEN_EXPIRED"
    assert detail(expired)["metadata"]["method"] == "calendar.v3.Events.List"
    assert token not in expired.text


def test_other_calendar_is_not_found(auto: RunningEmulator) -> None:
    token = token_for(auto, AUTH + "calendar.readonly")
    reply = get(auto, "/calendar/v3/calendars/someone-else@example.com/events", token)
    assert reply.status_code == 404
    assert reply.json()["error"]["errors"][0]["reason"] == "notFound"


def test_every_catalog_method_has_an_answer() -> None:
    assert set(apis.ANSWERS) == set(apis.METHODS) == {p.rpc for _, p in PROBES}


@pytest.mark.parametrize(("service", "probe"), PROBES, ids=[p.call for _, p in PROBES])
def test_every_probe_is_served_and_refuses_a_token_without_its_scope(auto: RunningEmulator, service, probe) -> None:
    """The catalog's request is the emulator's route; a token for another scope gets Google's 403 for it."""
    other = next(s for s in ("openid email", AUTH + "drive.file") if not set(s.split()) & probe.accepts)
    reply = get(auto, probe.request_path, token_for(auto, other))
    assert reply.status_code == 403, reply.text
    assert detail(reply)["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    assert detail(reply)["metadata"] == {"service": service.api_id, "method": probe.rpc}
    opened = next(iter(set(service.scopes) & probe.accepts or probe.accepts))
    assert get(auto, probe.request_path + "?" + urllib.parse.urlencode(probe.params),
               token_for(auto, opened)).status_code == 200
