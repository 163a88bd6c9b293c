"""Google Contacts (the People API, ``contacts.readonly``), added through the one service catalog.

The catalog entry is the only place the service is defined: preflight refuses it in the device flow,
the checklist enables the People API, verify proves it allowed (and Gmail refused) and the emulator
answers ``people.connections.list`` like Google, all by reading the entry.
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import requests

import gapps_runbook
from gapps_runbook import cli
from gapps_runbook.emulator import RunningEmulator
from gapps_runbook.errors import ExitCode
from gapps_runbook.oauth import scopes
from gapps_runbook.oauth.clock import FakeClock
from gapps_runbook.oauth.endpoints import GOOGLE
from gapps_runbook.oauth.tokens import Token
from gapps_runbook.oauth.verify import verify
from gapps_runbook.runbook.checklist import checklist_items

import fakes
from fakes import reply
from sites import browser

CONTACTS = "https://www.googleapis.com/auth/contacts.readonly"
CALENDAR = "https://www.googleapis.com/auth/calendar.readonly"
PEOPLE = scopes.SERVICES["contacts"]
ACCESS = "ya29.contacts-planted-access-token-xyz"
NOW = 1_800_000_000.0
CONNECTIONS = "/v1/people/me/connections"


@pytest.fixture(autouse=True)
def no_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    """The auto-approving emulator plays the person; no real browser is launched."""
    monkeypatch.setattr("webbrowser.open", browser)


def run(home: Path, emu: RunningEmulator | None, *args: str) -> int:
    issuer = ["--issuer", emu.base_url] if emu is not None else []
    return cli.run(["--home", str(home), "--profile", "site-c", *issuer, *args])


def envelope(code: int, status: str, reason: str, message: str, **metadata: str) -> dict[str, Any]:
    """Google's error body for the People API (https://cloud.google.com/apis/design/errors)."""
    info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com",
            "metadata": metadata}
    return {"error": {"code": code, "message": message, "status": status, "details": [info]}}


# -- the catalog entry --------------------------------------------------------------------------------


def test_the_entry_is_the_people_api_with_contacts_readonly() -> None:
    assert PEOPLE.scopes == (CONTACTS,) and scopes.scopes_for(["contacts"]) == (CONTACTS,)
    assert (PEOPLE.title, PEOPLE.api_id) == ("People API", "people.googleapis.com")
    assert PEOPLE.library_url() == "https://console.cloud.google.com/apis/library/people.googleapis.com"
    assert not PEOPLE.device_flow
    probe, = PEOPLE.probes
    assert (probe.call, probe.request_path) == ("people.connections.list", CONNECTIONS)
    assert dict(probe.params) == {"personFields": "names,emailAddresses", "pageSize": "1"}
    assert (probe.items, probe.total, PEOPLE.noun) == ("connections", "totalItems", "contact(s)")


PEOPLE_MARKERS = ("people.googleapis.com", "/v1/people", "google.people.v1", "contact(s)", "People API",
                  "personFields", "totalItems")
# The emulator's own record of Google's consent wording and of the pre-2016 device-flow list name the
# contacts scope as facts about Google, not as the service.
SCOPE_FACTS = {"emulator/facts.py", "emulator/pages.py"}


def package_sources() -> dict[str, str]:
    root = Path(gapps_runbook.__file__).parent
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in root.rglob("*.py")}


def test_contacts_is_defined_only_by_its_catalog_entry() -> None:
    """The People API is named in the catalog entry and in the emulator's answer for its method, nowhere else:
    preflight, the checklist, verify, its report and wording, and the emulator's routes and faults read it."""
    sources = package_sources()
    naming = {path for path, text in sources.items() if any(m in text for m in PEOPLE_MARKERS)}
    assert naming == {"oauth/scope_catalog.py", "emulator/apis.py"}
    scope = {path for path, text in sources.items() if "contacts.readonly" in text}
    assert scope == {"oauth/scope_catalog.py"} | SCOPE_FACTS
    keyed = {path for path, text in sources.items() if re.search(r"[\"']contacts[\"']", text)}
    assert keyed <= {"oauth/scope_catalog.py", "runs/demo.py"} | SCOPE_FACTS  # the demo asks for it by its key


@pytest.mark.parametrize("reader", ["oauth/preflight.py", "runbook/checklist.py", "oauth/verify.py",
                                    "oauth/verify_report.py", "views/lastmile.py", "emulator/routes.py",
                                    "emulator/faults.py"])
def test_the_readers_name_no_service_of_the_catalog(reader: str) -> None:
    text = package_sources()[reader]
    for service in scopes.probed_services():
        names = {service.api_id, service.api_path, service.noun, *(p.rpc for p in service.probes),
                 *(p.request_path for p in service.probes)}
        assert not [n for n in names if n and n in text], (reader, service.key)


# -- preflight and the checklist ----------------------------------------------------------------------


def test_preflight_refuses_contacts_in_the_device_flow_and_picks_desktop() -> None:
    forced = scopes.preflight(["contacts.readonly"], flow="device", endpoints=GOOGLE)
    assert not forced.ok and "device_scope_rejected" in forced.codes("error")
    assert forced.recommended_flow == "desktop"
    assert scopes.preflight(scopes.scopes_for(["contacts"]), endpoints=GOOGLE).flow == "desktop"


def test_cli_preflight_service_contacts_refuses_the_device_flow_before_any_call(
    tmp_path: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = run(tmp_path, emulator, "preflight", "--service", "contacts", "--flow", "device")
    out = capsys.readouterr().out
    assert rc == ExitCode.MISCONFIGURED
    assert "contacts.readonly with invalid_scope" in out and "flow desktop" in out
    assert "People API (people.googleapis.com)" in out
    assert not [r for r in emulator.emulator.requests if r.path in ("/device/code", "/token", CONNECTIONS)]


def test_cli_preflight_against_google_sends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("preflight made a network call")

    monkeypatch.setattr(requests.Session, "request", no_network)
    assert run(tmp_path, None, "preflight", "--service", "contacts", "--flow", "device") == ExitCode.MISCONFIGURED
    assert "invalid_scope" in capsys.readouterr().out


def test_checklist_enables_the_people_api() -> None:
    verdict = scopes.preflight(scopes.scopes_for(["calendar", "contacts"]), endpoints=GOOGLE)
    items = {i.key: i for i in checklist_items(verdict, "bridge-1")}
    assert items["api:contacts"].text == "Enable the People API (people.googleapis.com)"
    assert items["api:contacts"].url == "https://console.cloud.google.com/apis/library/people.googleapis.com?project=bridge-1"
    assert "contacts.readonly" in items["scopes"].text and "api:calendar" in items


# -- verify at Google (scripted answers) ---------------------------------------------------------------


def token(*granted: str) -> Token:
    return Token(ACCESS, NOW + 3599, granted)


def test_verify_calls_people_on_its_own_host_and_counts_from_total_items() -> None:
    body = {"connections": [{"resourceName": "people/c1", "etag": "%E1"}], "totalPeople": 42, "totalItems": 42,
            "nextPageToken": "next"}
    gmail = envelope(403, "PERMISSION_DENIED", "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "Request had insufficient "
                     "authentication scopes.", service="gmail.googleapis.com")
    transport = fakes.FakeTransport(reply(200, {"items": []}), reply(200, body), reply(403, gmail), forbid_body=True)
    report = verify(transport, GOOGLE, token(CALENDAR, CONTACTS), clock=FakeClock(NOW))
    assert report.ok
    assert [(c.api, c.call, c.outcome) for c in report.checks] == [
        ("calendar", "calendarList.list", "allowed"), ("contacts", "people.connections.list", "allowed"),
        ("gmail", "users.getProfile", "refused")]
    people = transport.calls[1]
    assert people.url == "https://people.googleapis.com/v1/people/me/connections"
    assert people.params == {"personFields": "names,emailAddresses", "pageSize": "1"}
    assert report.checks[1].sample == {"count": 1, "more": True, "total": 42}


def test_verify_without_contacts_does_not_call_people() -> None:
    transport = fakes.FakeTransport(reply(200, {"items": []}), reply(403, {}), forbid_body=True)
    report = verify(transport, GOOGLE, token(CALENDAR), clock=FakeClock(NOW))
    assert [c.api for c in report.checks] == ["calendar", "gmail"]
    assert not [c for c in transport.calls if "people" in c.url]


def test_people_api_not_enabled_is_an_error_with_the_library_link() -> None:
    message = ("People API has not been used in project 1234 before or it is disabled. Enable it by visiting "
               "https://console.developers.google.com/apis/api/people.googleapis.com/overview?project=1234 then "
               "retry. If you enabled this API recently, wait a few minutes for the action to propagate to our "
               "systems and retry.")
    disabled = envelope(403, "PERMISSION_DENIED", "SERVICE_DISABLED", message,
                        service="people.googleapis.com", consumer="projects/1234")
    transport = fakes.FakeTransport(reply(200, {"items": []}), reply(403, disabled), reply(403, {}), forbid_body=True)
    report = verify(transport, GOOGLE, token(CALENDAR, CONTACTS), clock=FakeClock(NOW))
    people = report.checks[1]
    assert (people.outcome, people.ok, people.network) == ("error", False, False)
    assert people.detail.startswith("the People API is not enabled in the client's project (HTTP 403 SERVICE_DISABLED")
    assert "https://console.cloud.google.com/apis/library/people.googleapis.com" in people.fix
    assert not report.ok


def test_people_insufficient_scope_is_a_refusal() -> None:
    scope = envelope(403, "PERMISSION_DENIED", "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "Request had insufficient "
                     "authentication scopes.", service="people.googleapis.com",
                     method="google.people.v1.PeopleService.ListConnections")
    transport = fakes.FakeTransport(reply(200, {"items": []}), reply(403, scope), reply(403, {}), forbid_body=True)
    people = verify(transport, GOOGLE, token(CALENDAR, CONTACTS), clock=FakeClock(NOW)).checks[1]
    assert (people.expected, people.outcome) == ("allowed", "refused")
    assert "authorize again with the People API scope" in people.fix


# -- the emulator answers like Google -------------------------------------------------------------------


def token_for(running: RunningEmulator, scope: str) -> str:
    """An access token for ``scope`` through the loopback flow (the emulator auto-approves)."""
    client = running.emulator.desktop_client
    redirect = "http://127.0.0.1:1/"
    params = {"client_id": client.client_id, "redirect_uri": redirect, "response_type": "code", "scope": scope}
    consent = requests.get(running.base_url + "/o/oauth2/v2/auth", params=params, allow_redirects=False, timeout=10)
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(consent.headers["Location"]).query))["code"]
    data = {"client_id": client.client_id, "client_secret": client.client_secret, "code": code,
            "redirect_uri": redirect, "grant_type": "authorization_code"}
    return requests.post(running.base_url + "/token", data=data, timeout=10).json()["access_token"]


def people(running: RunningEmulator, token_value: str, **params: str) -> requests.Response:
    return requests.get(running.base_url + CONNECTIONS, params=params, timeout=10,
                        headers={"Authorization": f"Bearer {token_value}"})


def test_emulator_lists_the_seeded_contacts_with_the_fields_asked(make_emulator: Any) -> None:
    running = make_emulator(auto_approve=True)
    access = token_for(running, CONTACTS)
    first = people(running, access, personFields="names,emailAddresses", pageSize="2")
    assert first.status_code == 200 and first.headers["Content-Type"].startswith("application/json")
    body = first.json()
    assert (body["totalItems"], body["totalPeople"], len(body["connections"])) == (3, 3, 2)
    person = body["connections"][0]
    assert person["resourceName"].startswith("people/c") and person["names"][0]["displayName"] == "Ada Lovelace"
    assert person["emailAddresses"][0]["value"] == "ada@example.com"
    rest = people(running, access, personFields="names", pageSize="2", pageToken=body["nextPageToken"]).json()
    assert len(rest["connections"]) == 1 and "nextPageToken" not in rest
    assert "emailAddresses" not in rest["connections"][0]


@pytest.mark.parametrize(("params", "said"), [({}, "personFields mask is required"),
                                              ({"personFields": "names,shoeSize"}, '"shoeSize"'),
                                              ({"personFields": "names", "pageSize": "0"}, "pageSize")])
def test_emulator_refuses_a_bad_request_as_google_does(make_emulator: Any, params: dict[str, str], said: str) -> None:
    running = make_emulator(auto_approve=True)
    answer = people(running, token_for(running, CONTACTS), **params)
    assert answer.status_code == 400
    assert answer.json()["error"]["status"] == "INVALID_ARGUMENT" and said in answer.json()["error"]["message"]


def test_emulator_refuses_a_calendar_token_naming_the_people_method(make_emulator: Any) -> None:
    running = make_emulator(auto_approve=True)
    answer = people(running, token_for(running, CALENDAR), personFields="names")
    assert answer.status_code == 403
    info = answer.json()["error"]["details"][0]
    assert info["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    assert info["metadata"] == {"service": "people.googleapis.com",
                                "method": "google.people.v1.PeopleService.ListConnections"}
    assert "contacts.readonly" in answer.headers["WWW-Authenticate"]


# -- the CLI end to end ----------------------------------------------------------------------------------


def test_cli_verify_on_a_contacts_and_calendar_token(
    tmp_path: Path, make_emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    running = make_emulator(auto_approve=True)
    home = tmp_path / "home"
    client = running.emulator.desktop_client
    secret = tmp_path / "secret.txt"
    secret.write_text(client.client_secret + "\n")
    secret.chmod(0o600)
    assert run(home, running, "client", "set", "--client-id", client.client_id, "--client-type", "desktop",
               "--secret-file", str(secret)) == 0
    assert run(home, running, "authorize", "--service", "calendar", "--service", "contacts") == 0
    capsys.readouterr()
    assert run(home, running, "verify") == 0
    out = capsys.readouterr().out
    assert "ok  Contacts people.connections.list: allowed, as expected" in out
    assert "ok  Calendar calendarList.list: allowed, as expected" in out
    assert "ok  Gmail users.getProfile: refused, as expected" in out
    assert "Proof from real data: 3 contact(s) in the account" in out
    assert "Proof from real data: 1 calendar(s) in the account" in out
    asked = [r for r in running.emulator.requests if r.path == CONNECTIONS]
    assert len(asked) == 1
