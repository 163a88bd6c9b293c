"""The device verification page as a browser uses it: plain form posts, no JavaScript (Google's device-flow guide)."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser

import requests

from gapps_runbook.oauth.clock import FakeClock
from gapps_runbook.emulator import RunningEmulator

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class Forms(HTMLParser):
    """Collects each form's action, method, input values and submit buttons."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action"), "method": a.get("method"), "fields": {}, "buttons": []})
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")
        elif tag == "button" and self.forms:
            self.forms[-1]["buttons"].append((a.get("name"), a.get("value")))


def only_form(text: str) -> dict:
    forms = Forms(text).forms
    assert len(forms) == 1, text
    return forms[0]


def start(running: RunningEmulator) -> dict:
    client = running.emulator.device_client
    reply = requests.post(running.base_url + "/device/code", data={"client_id": client.client_id, "scope": "email"})
    return reply.json()


def poll(running: RunningEmulator, device_code: str) -> requests.Response:
    client = running.emulator.device_client
    data = {"client_id": client.client_id, "client_secret": client.client_secret, "device_code": device_code,
            "grant_type": DEVICE_GRANT}  # fmt: skip
    return requests.post(running.base_url + "/token", data=data)


def consent_page(running: RunningEmulator, typed: str) -> requests.Response:
    entry = requests.get(running.base_url + "/device")
    assert entry.status_code == 200 and entry.headers["Content-Type"].startswith("text/html")
    form = only_form(entry.text)
    assert (form["action"], form["method"]) == ("/device", "post") and "user_code" in form["fields"]
    return requests.post(running.base_url + form["action"], data={"user_code": typed})


def test_approve_through_the_page_as_another_account(make_emulator: Callable[..., RunningEmulator]) -> None:
    clock = FakeClock()
    running = make_emulator(clock=clock)
    code = start(running)
    page = consent_page(running, code["user_code"].replace("-", ""))  # dash optional
    assert page.status_code == 200
    assert "gapps-runbook demo" in page.text and "userinfo.email" in page.text
    form = only_form(page.text)
    assert set(form["buttons"]) == {("action", "allow"), ("action", "deny")}
    assert form["fields"]["account"] == "engineer@example.com"
    fields = {**form["fields"], "account": "erin@example.com", "action": "allow"}
    done = requests.post(running.base_url + form["action"], data=fields)
    assert done.status_code == 200 and "Success" in done.text and "erin@example.com" in done.text
    token = poll(running, code["device_code"])
    assert token.status_code == 200
    info = requests.get(running.base_url + "/tokeninfo", params={"access_token": token.json()["access_token"]})
    assert info.json()["email"] == "erin@example.com"


def test_deny_through_the_page(emulator: RunningEmulator) -> None:
    code = start(emulator)
    form = only_form(consent_page(emulator, code["user_code"]).text)
    done = requests.post(emulator.base_url + "/device", data={**form["fields"], "action": "deny"})
    assert done.status_code == 200 and "denied" in done.text
    assert poll(emulator, code["device_code"]).json()["error"] == "access_denied"


def test_user_code_is_case_sensitive(emulator: RunningEmulator) -> None:
    code = start(emulator)
    page = consent_page(emulator, code["user_code"].lower())
    assert page.status_code == 400 and "Invalid code" in page.text
    assert poll(emulator, code["device_code"]).status_code == 428


def test_expired_code_message(make_emulator: Callable[..., RunningEmulator]) -> None:
    clock = FakeClock()
    running = make_emulator(clock=clock)
    code = start(running)
    clock.advance(1800)
    page = consent_page(running, code["user_code"])
    assert page.status_code == 400 and "expired" in page.text


def test_used_code_message(make_emulator: Callable[..., RunningEmulator]) -> None:
    running = make_emulator()
    code = start(running)
    running.emulator.approve(code["user_code"])
    page = consent_page(running, code["user_code"])
    assert page.status_code == 400 and "already used" in page.text


def test_page_escapes_what_it_echoes(emulator: RunningEmulator) -> None:
    page = consent_page(emulator, '<script>alert("x")</script>')
    assert page.status_code == 400
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text


def test_testing_mode_shows_unverified_warning(make_emulator: Callable[..., RunningEmulator]) -> None:
    running = make_emulator(publishing_status="testing")
    page = consent_page(running, start(running)["user_code"])
    assert "hasn't verified this app" in page.text
