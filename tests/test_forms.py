"""The ipywidgets forms (one module per step notebook), in process: real widgets, real emulator over loopback.

Buttons are clicked with ``Button.click()`` and observers fire by setting ``.value``, as a person's
browser would make the kernel do. Threads (polling, countdowns) are joined or waited on for a
condition, never slept on for a fixed time.
"""

from __future__ import annotations

import ast
import dis
import html
import inspect
import queue
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w
import pytest
import requests

from gapps_runbook.views import render
from gapps_runbook.notebook import actions, forms_common, step00, step01, step02, step03, step04
from gapps_runbook.notebook.forms_common import Form
from gapps_runbook import cli, runbook
from gapps_runbook.oauth import scopes
from gapps_runbook import notebook as rb
from gapps_runbook.emulator.facts import random_client_id
from gapps_runbook.errors import ConfigError

CODE_RE = re.compile(r"user-select:all'>([A-Z]{4}-[A-Z]{4})<")


@pytest.fixture
def home(home: Path) -> str:
    """The shared ``home`` as text: the forms' fields and ``cli.run``'s argv take strings."""
    return str(home)


def _site(home: str, emu: Any, name: str = "default") -> runbook.Site:
    return actions.open_site(name, home, emu.base_url)


def _device(home: str, emu: Any) -> tuple[runbook.Site, Any]:
    site = _site(home, emu)
    client = emu.emulator.register_client(random_client_id(), "GOCSPX-" + uuid.uuid4().hex[:28], "device")
    runbook.save_client(site, client_id=client.client_id, client_secret=client.client_secret, client_type="device")
    return site, client


def _desktop(home: str, emu: Any) -> runbook.Site:
    site = _site(home, emu)
    client = emu.emulator.desktop_client
    runbook.save_client(site, client_id=client.client_id, client_secret=client.client_secret, client_type="desktop")
    return site


def _approve_in_browser(url: str) -> str:
    """Play the browser on the emulator's consent page: approve, return where it redirects."""
    page = requests.get(url, allow_redirects=False, timeout=10)
    if page.status_code in (302, 303):
        return page.headers["Location"]
    form = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page.text))
    action = re.search(r'<form[^>]*action="([^"]+)"', page.text).group(1)
    answer = requests.post(requests.compat.urljoin(url, action), data={**form, "action": "allow"},
                           allow_redirects=False, timeout=10)
    return answer.headers["Location"]


def _authorized(home: str, emu: Any) -> runbook.Site:
    site = _desktop(home, emu)
    runbook.authorize(site, scopes.scopes_for(("calendar", "openid")), flow="desktop",
                      open_url=lambda url: requests.get(_approve_in_browser(url), timeout=10), timeout=30)
    return site


def _all_widgets(root: w.Widget) -> list[w.Widget]:
    found, todo = [], [root]
    while todo:
        widget = todo.pop()
        found.append(widget)
        todo.extend(getattr(widget, "children", ()))
    return found


# --- 01 ---------------------------------------------------------------------------------------


def test_checklist_ticks_are_saved_and_incomplete_while_the_preflight_fails(home: str, emu: Any) -> None:
    site = _site(home, emu)
    form = step01.ConsoleChecklistForm(site, project_id="proj-7")
    keys = [key for _box, key in form.ticks]
    assert keys == ["project", "api:calendar", "audience", "scopes", "client:desktop"]
    links = " ".join(child.value for row in form.items.children for child in row.children if isinstance(child, w.HTML))
    assert "apis/library/calendar-json.googleapis.com?project=proj-7" in links
    assert "auth/clients/create?project=proj-7" in links and "auth/audience?project=proj-7" in links

    for box, _key in form.ticks:
        box.value = True
    assert "Checklist: complete (5/5 ticked)" in form.summary.value
    assert site.profile.load_settings()["checklist"] == dict.fromkeys(keys, True)

    form.flow.value = "device"  # Calendar in Google's device flow: refused, and the client item changes
    assert "Preflight FAILED" in form.verdict_html.value and "invalid_scope" in form.verdict_html.value
    assert "not complete" in form.summary.value and "preflight fails" in form.summary.value
    assert [k for _b, k in form.ticks][-1] == "client:device"
    assert "Not saved yet" in form.saved.value  # a preview: nothing stored changed
    assert site.profile.load_settings()["checklist"] == dict.fromkeys(keys, True)
    assert "preflight" not in site.profile.load_settings().get("steps", {})
    form.flow.value = "auto"  # back: the Desktop app client's tick is still there
    assert "Checklist: complete (5/5 ticked)" in form.summary.value
    form.flow.value = "device"
    form.save.click()  # saved: recorded as step 01's outcome
    assert site.profile.load_settings()["steps"]["preflight"]["status"] == "failed"
    assert "Saved in profile" in form.saved.value


# --- 02 ---------------------------------------------------------------------------------------


def test_client_form_saves_then_clears_the_password(home: str, emu: Any) -> None:
    site = _site(home, emu)
    client = emu.emulator.desktop_client
    form = step02.ClientForm(site, client_type="desktop")
    form.product.value = "PBX Calendar"
    form.client_id.value = client.client_id
    assert "looks like a client ID" in form.id_hint.value
    form.secret.value = client.client_secret

    form.save.click()

    assert form.secret.value == ""
    assert form.message.value == ""
    assert client.client_id in form.stored.value and "fingerprint" in form.stored.value
    stored = site.profile.load_client()
    assert (stored.client_id, stored.client_secret, stored.product_name) == (client.client_id, client.client_secret, "PBX Calendar")
    state = repr(w.Widget.get_manager_state(drop_defaults=False))
    assert client.client_secret not in state


def test_client_form_clears_the_password_even_when_the_save_fails(home: str, emu: Any) -> None:
    form = step02.ClientForm(_site(home, emu), client_type="desktop")
    form.client_id.value = emu.emulator.desktop_client.client_id
    form.secret.value = "GOCSPX-too-short"
    form.save.click()
    assert form.secret.value == ""
    assert "GOCSPX- secrets have 35" in form.saved.value and "Fix:" in form.saved.value  # beside the Save button
    assert "Traceback" not in form.message.value + str(form.out.outputs)


def test_client_id_is_checked_inline_with_the_fix(home: str, emu: Any) -> None:
    form = step02.ClientForm(_site(home, emu))
    form.client_id.value = "123456789012"
    assert "only a project number" in form.id_hint.value and "Fix: copy it from" in form.id_hint.value  # beside it
    assert form.message.value == ""


def test_upload_of_the_client_json_fills_the_form_and_confirms_beside_the_upload(home: str, emu: Any) -> None:
    import datetime
    import json

    site = _site(home, emu)
    client = emu.emulator.desktop_client
    data = json.dumps({"installed": {"client_id": client.client_id, "client_secret": client.client_secret,
                                     "project_id": "pbx-123", "redirect_uris": ["http://localhost"]}}).encode()
    form = step02.ClientForm(site, client_type="desktop")
    form.product.value = "PBX Calendar"
    form.upload.value = ({"name": "client.json", "type": "application/json", "size": len(data),
                          "content": memoryview(data), "last_modified": datetime.datetime.now(datetime.timezone.utc)},)
    assert site.profile.load_client().client_type == "desktop"
    assert client.client_id in form.stored.value
    assert [entry["name"] for entry in form.upload.value] == ["client.json"]  # the button counts it: "(1)"
    assert all(bytes(entry["content"]) == b"" for entry in form.upload.value)  # its content is gone
    assert (form.client_id.value, form.client_type.value, form.project.value) == (client.client_id, "desktop",
                                                                                  "pbx-123")
    assert form.secret.value == "" and form.secret.placeholder.startswith("stored")
    assert "saved its client in profile" in form.uploaded.value and form.saved.value == ""
    assert form.product.value == "PBX Calendar"
    state = repr(w.Widget.get_manager_state(drop_defaults=False))
    assert client.client_secret not in state


def test_a_bad_upload_is_one_line_beside_the_upload(home: str, emu: Any) -> None:
    import datetime

    site = _site(home, emu)
    form = step02.ClientForm(site)
    form.upload.value = ({"name": "notes.json", "type": "application/json", "size": 9,
                          "content": memoryview(b"not json!"), "last_modified": datetime.datetime.now(datetime.timezone.utc)},)
    assert form.upload.value == ()
    assert "Fix:" in form.uploaded.value and form.saved.value == "" and form.message.value == ""
    assert site.profile.load_client() is None


# --- 03 ---------------------------------------------------------------------------------------


def _start(form: step03.AuthorizeForm) -> step03.AuthorizeForm:
    """Opening 03 starts nothing; its start button (what a person clicks) does."""
    assert form.thread is None and form.phase == "ready" and form.new_code.description == form.start_label
    form.new_code.click()
    return form


@pytest.mark.parametrize("flow", ["device", "desktop"])
def test_opening_03_sends_nothing_and_says_what_it_will_ask_and_where(home: str, emu: Any, flow: str) -> None:
    site = _device(home, emu)[0] if flow == "device" else _desktop(home, emu)
    _ = site.endpoints  # discovery (the provider's public metadata) is no request of the authorization
    before = len(emu.emulator.requests)
    form = step03.AuthorizeForm(site, scopes.scopes_for(("openid",) if flow == "device" else ("calendar", "openid")),
                                flow=flow, timeout=60)
    host = emu.base_url.removeprefix("http://")
    intro = form.intro.value
    assert f"<b>{host} (the emulator)</b>" in intro and "Nothing is sent before you click" in intro
    assert ("device code (the device flow)" if flow == "device" else "(the Desktop app flow)") in intro
    assert "<code>email</code>" in intro and "userinfo" not in intro
    assert form.new_code.description == ("Ask for a code" if flow == "device" else "Make the sign-in link")
    assert form.card.value == "" and form.cancel.layout.display == "none" and form.thread is None
    assert emu.emulator.requests[before:] == []
    form.new_code.click()
    _wait_for(lambda: form.card.value)
    assert emu.emulator.requests[before:] != [] or flow == "desktop"  # the click asked (desktop: a local link)
    form.stop()


def test_device_card_shows_the_code_then_authorized_and_the_code_disappears(home: str, emu: Any) -> None:
    site, _client = _device(home, emu)
    form = _start(step03.AuthorizeForm(site, scopes.scopes_for(("openid",)), flow="device", timeout=60))
    code = _wait_for(lambda: CODE_RE.search(form.card.value)).group(1)
    assert "<svg" in form.card.value and "/device" in form.card.value and "Copy" in form.card.value
    countdown = r"Code expires in ((\d+ min )?\d+ s|\d+ min) \(until \d\d:\d\d UTC\)"
    assert re.fullmatch(countdown, _wait_for(lambda: form.countdown.value))
    assert "xpires in" not in form.card.value  # the lifetime is shown once, counting down
    assert form.cancel.disabled is False and form.new_code.description == "New code"
    assert form.thread.is_alive()  # the cell returned; polling runs in the background

    emu.emulator.approve(code)
    form.thread.join(30)

    assert "Authorized" in form.result.value and "engineer@example.com" in form.result.value
    assert site.profile.load_token().token_id in form.result.value
    assert code not in form.card.value and form.card.value == "" and form.countdown.value == ""
    assert form.cancel.disabled is True and form.new_code.description == "Authorize again"
    form.ticker.join(3)
    assert not form.ticker.is_alive()


def test_cancel_stops_polling_and_new_code_starts_over(home: str, emu: Any) -> None:
    site, _client = _device(home, emu)
    form = _start(step03.AuthorizeForm(site, scopes.scopes_for(("openid",)), flow="device", timeout=60))
    first = _wait_for(lambda: CODE_RE.search(form.card.value)).group(1)
    form.cancel.click()
    assert not form.thread.is_alive()
    assert "Cancelled" in form.message.value and "Fix: run runbook step 03" in form.message.value
    assert "Error" not in form.message.value  # a cancel is said plainly, not in red
    assert first not in form.card.value  # a dead code is not left on screen nor in widget state

    form.new_code.click()
    second = _wait_for(lambda: (m := CODE_RE.search(form.card.value)) and m.group(1) != first and m).group(1)
    assert second != first and form.message.value == ""
    form.stop()


def test_running_the_cell_again_stops_the_previous_forms_threads(home: str, emu: Any) -> None:
    site, _client = _device(home, emu)
    first = _start(step03.AuthorizeForm(site, scopes.scopes_for(("openid",)), flow="device", timeout=60))
    _wait_for(lambda: CODE_RE.search(first.card.value))
    second = _start(step03.AuthorizeForm(site, scopes.scopes_for(("openid",)), flow="device", timeout=60))
    assert not first.thread.is_alive() and second.thread.is_alive()
    second.stop()
    panel = step04.TokenStatusForm(site)
    step04.TokenStatusForm(site).close()
    panel.ticker.join(3)
    assert not panel.ticker.is_alive()


def _link(form: step03.AuthorizeForm) -> str:
    """The Desktop card's link (a button opening a new tab), once shown."""
    card = _wait_for(lambda: "Open the sign-in page" in form.card.value and form.card.value)
    assert "gapps-link-button" in card and 'target="_blank"' in card and "noopener" in card
    return html.unescape(re.search(r'href="([^"]+)"', card).group(1))


def test_desktop_flow_shows_the_link_and_finishes_in_the_background(home: str, emu: Any) -> None:
    site = _desktop(home, emu)
    form = _start(step03.AuthorizeForm(site, scopes.scopes_for(("calendar", "openid")), timeout=600))
    url = _link(form)
    waiting = r"Waiting for approval in the browser \((9 min \d+ s|10 min) left, until \d\d:\d\d UTC\)"
    assert re.fullmatch(waiting, _wait_for(lambda: form.countdown.value))
    assert form.status.value == "" and form.cancel.disabled is False and form.paste_finish.disabled is False
    landing = requests.get(_approve_in_browser(url), timeout=30)  # the browser comes back to the listener
    form.thread.join(30)
    assert "Authorized" in form.result.value and form.card.value == "" and form.countdown.value == ""
    assert "<h1>Authorized</h1>" in landing.text and "engineer@example.com" in landing.text  # after the exchange
    assert form.cancel.disabled is True and form.paste_box.layout.display == "none"


def test_paste_back_is_a_normal_way_to_finish_the_same_attempt(home: str, emu: Any) -> None:
    site = _desktop(home, emu)
    form = _start(step03.AuthorizeForm(site, scopes.scopes_for(("calendar", "openid")), timeout=60))
    url = _link(form)
    assert "Approved on another computer?" in form.summary_html() and form.message.value == ""
    form.paste.value = "http://127.0.0.1:1/?state=nope&code=4/x"  # a typo: said beside the box, the wait goes on
    form.paste_finish.click()
    assert "does not start with" in form.paste_error.value and form.message.value == ""
    assert form.thread.is_alive() and form.paste.value == ""
    form.paste.value = _approve_in_browser(url)  # the address the other computer's browser could not load
    form.paste_finish.click()
    assert form.paste_error.value == "" and form.paste.value == ""
    form.thread.join(30)
    assert form.message.value == "" and "Error" not in form.summary_html()
    assert "Authorized" in form.result.value and site.profile.load_token() is not None


def test_a_wrong_secret_says_the_exchange_failed_with_step_02s_fix(home: str, emu: Any) -> None:
    site = _site(home, emu)
    client = emu.emulator.desktop_client
    runbook.save_client(site, client_id=client.client_id, client_secret="GOCSPX-" + "w" * 28, client_type="desktop")
    form = _start(step03.AuthorizeForm(site, scopes.scopes_for(("calendar", "openid")), timeout=60))
    landing = requests.get(_approve_in_browser(_link(form)), timeout=30)
    form.thread.join(30)
    assert "<h1>The token exchange failed</h1>" in landing.text and "runbook step 02" in landing.text
    assert "invalid_client: the token exchange failed, the client secret is wrong" in form.message.value
    assert "runbook step 02" in form.message.value and form.card.value == "" and form.countdown.value == ""
    assert form.cancel.disabled is True and form.new_code.description == "Start again"


def test_cancel_with_a_good_token_in_place_is_no_failure(home: str, emu: Any) -> None:
    site = _authorized(home, emu)
    form = step03.AuthorizeForm(site, scopes.scopes_for(("calendar", "openid")), timeout=60)
    assert form.cancel.disabled is True and form.paste_box.layout.display == "none"
    form.new_code.click()  # "Authorize again"
    _link(form)
    assert form.result.value == "" and form.cancel.disabled is False  # the old result goes while waiting
    form.cancel.click()
    assert not form.thread.is_alive()
    assert "still in place" in form.message.value and "Error" not in form.message.value
    assert "Already authorized" in form.result.value and form.new_code.description == "Authorize again"
    assert site.profile.load_settings()["steps"]["authorize"]["status"] == "ok"


def test_device_flow_with_calendar_is_refused_before_any_network_call(home: str, emu: Any) -> None:
    site, _client = _device(home, emu)
    _ = site.endpoints  # discovery is not the call under test
    before = len(emu.emulator.requests)
    with pytest.raises(ConfigError, match="device flow rejects calendar.readonly"):
        step03.AuthorizeForm(site, scopes.scopes_for(("calendar",)), flow="device")
    assert emu.emulator.requests[before:] == []


def test_already_authorized_is_shown_instead_of_a_new_code(home: str, emu: Any) -> None:
    site = _authorized(home, emu)
    form = step03.AuthorizeForm(site, scopes.scopes_for(("calendar", "openid")))
    assert form.thread is None and "Already authorized" in form.result.value
    assert form.new_code.description == "Authorize again"


# --- 04 ---------------------------------------------------------------------------------------


def test_status_panel_counts_down_verifies_and_revokes_with_proof(home: str, emu: Any) -> None:
    site = _authorized(home, emu)
    form = step04.TokenStatusForm(site)
    token_id = site.profile.load_token().token_id
    assert token_id in form.table.value and "requested, NOT granted" not in form.table.value
    assert re.fullmatch(r"Access token expires in ((\d+ min )?\d+ s|\d+ min) \(until \d\d:\d\d UTC\)",
                        form.expires.value)
    assert "Expires in" not in form.table.value  # said once, by the countdown

    form.verify.click()
    assert "ok  Calendar calendarList.list: allowed, as expected" in form.checks.value
    assert "ok  Gmail users.getProfile: refused, as expected" in form.checks.value
    assert "Calendar allowed, Gmail refused" not in form.verify.description  # the words come from the report

    form.refresh.click()
    assert site.profile.load_token().token_id != token_id and "Refreshed" in form.message.value

    form.revoke.click()
    assert form.confirm_box.layout.display == "flex" and site.profile.load_token() is not None
    form.keep.click()
    assert form.confirm_box.layout.display == "none" and site.profile.load_token() is not None
    form.revoke.click()
    form.confirm.click()
    assert "Revoked, and proven" in form.checks.value
    assert "refused (invalid_token)" in form.checks.value and "refused (invalid_grant)" in form.checks.value
    assert form.expires.value == "No token" and "none: run runbook step 03" in form.table.value

    form.close()
    form.ticker.join(3)
    assert not form.ticker.is_alive()


def test_errors_in_callbacks_show_as_one_line(home: str, emu: Any) -> None:
    site = _desktop(home, emu)
    form = step04.TokenStatusForm(site)
    form.refresh.click()
    assert "no token" in form.message.value and "Fix: run runbook step 03 (authorize)" in form.message.value
    assert "Traceback" not in form.message.value and form.out.outputs == ()
    form.close()


# --- 00 ---------------------------------------------------------------------------------------


def test_profile_picker_shows_each_sites_steps(home: str, emu: Any) -> None:
    _desktop(home, emu)
    other = _site(home, emu, "site-b")
    runbook.check_console(other, scopes.scopes_for(("calendar",)), flow="device")
    form = step00.StartHereForm(home=home)
    assert form.picker.options == ("default", "site-b")
    def verdict(number: str) -> str:
        cell = form.table.value.split(f"{number} ", 1)[1].split("</td><td", 1)[1]
        return cell.split("<b>", 1)[1].split("</b>", 1)[0]

    assert verdict("02") == "ok"
    form.picker.value = "site-b"
    assert verdict("01") == "failed" and verdict("02") == "not run"
    assert "03_authorize.ipynb" in form.table.value and "profile = &#x27;site-b&#x27;" in form.hint.value


# --- thin callbacks, same functions on both paths ---------------------------------------------


STEP_MODULES = (step00, step01, step02, step03, step04)
FORM_MODULES = {m.__name__ for m in (forms_common, *STEP_MODULES)}


def _callbacks(form: Form) -> list[Callable[..., Any]]:
    """Every click handler and observer a form registered on its widgets (ours only)."""
    found = []
    for widget in _all_widgets(form.box):
        if isinstance(widget, w.Button):
            found += widget._click_handlers.callbacks
        for per_type in widget._trait_notifiers.values():
            found += [h for handlers in per_type.values() for h in handlers if getattr(h, "__module__", "") in FORM_MODULES]
    return found


def _calls_package(fn: Callable[..., Any], owner: type, depth: int = 2) -> bool:
    """True if ``fn`` (or a method of ``owner`` it calls, ``depth`` deep) calls the runbook, an action or the site."""
    code = getattr(fn, "__func__", fn).__code__
    names = _attribute_chain(code)
    if any(name.startswith("act_") or name == "open_site" for name in names.get("actions", ())):
        return True
    if names.get("runbook") or "site" in names.get("self", ()):
        return True
    helpers = [getattr(owner, n) for n in names.get("self", ()) if inspect.isfunction(getattr(owner, n, None))]
    return depth > 0 and any(_calls_package(h, owner, depth - 1) for h in helpers)


def _attribute_chain(code: Any) -> dict[str, set[str]]:
    """``{base name: {attributes loaded from it}}`` for ``actions.x``, ``runbook.x`` and ``self.x`` in bytecode."""
    chains: dict[str, set[str]] = {}
    previous = None
    for instruction in dis.get_instructions(code):
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_FAST", "LOAD_DEREF"):
            previous = instruction.argval
        elif instruction.opname in ("LOAD_ATTR", "LOAD_METHOD") and previous in ("actions", "runbook", "self"):
            chains.setdefault(previous, set()).add(instruction.argval)
            previous = None
        else:
            previous = None
    for const in code.co_consts:
        if inspect.iscode(const):
            for base, attrs in _attribute_chain(const).items():
                chains.setdefault(base, set()).update(attrs)
    return chains


def _thin_problem(handler: Callable[..., Any], owner: type) -> str | None:
    target = inspect.unwrap(handler)
    if not hasattr(handler, "__wrapped__"):
        return f"{target.__qualname__} is not wrapped by Form.guard (Output.capture + one-line errors)"
    lines = len(inspect.getsource(target).splitlines())
    if getattr(target, "_ui_only", False):
        return None if lines <= 4 else f"{target.__qualname__} is ui_only but has {lines} lines"
    if lines > 14:
        return f"{target.__qualname__} has {lines} lines: move the logic into gapps_runbook.notebook"
    if not _calls_package(target, owner):
        return f"{target.__qualname__} calls no gapps_runbook function (runbook.*, actions.act_*, the site)"
    return None


def test_every_form_callback_is_guarded_and_thin(home: str, emu: Any) -> None:
    site = _authorized(home, emu)
    built = [step00.StartHereForm(home=home), step01.ConsoleChecklistForm(site), step02.ClientForm(site),
             step03.AuthorizeForm(site, scopes.scopes_for(("calendar", "openid")), reauthorize=False),
             step04.TokenStatusForm(site)]
    seen = 0
    for form in built:
        for handler in _callbacks(form):
            seen += 1
            assert _thin_problem(handler, type(form)) is None
    assert seen >= 20
    built[-1].close()


def test_the_thinness_check_can_fail() -> None:
    form = Form()

    def fat(_button: Any) -> None:
        total = 0
        for i in range(3):
            total += i
        form.note(str(total))

    assert "calls no gapps_runbook function" in _thin_problem(form.guard(fat), Form)
    assert "not wrapped" in _thin_problem(fat, Form)


RUNBOOK_STEPS = ("requested_scopes", "check_console", "raise_for_preflight", "save_client", "import_client_json",
                 "authorize", "finish_paste", "status", "refresh", "verify", "revoke_and_prove")


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every call of a runbook step function (calls go through)."""
    calls: list[str] = []
    for name in RUNBOOK_STEPS:
        original = getattr(runbook, name)

        def spy(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(runbook, name, spy)
    return calls


def test_headless_and_interactive_paths_call_the_same_runbook_functions(
    tmp_path: Path, emu: Any, recorder: list[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GAPPS_TEST_SECRET", emu.emulator.desktop_client.client_secret)
    client = emu.emulator.desktop_client
    both: dict[str, tuple[set[str], set[str]]] = {}

    def run(step: str, headless: Callable[[str], None], interactive: Callable[[str], None]) -> None:
        recorder.clear()
        headless(str(tmp_path / "headless"))
        first = set(recorder)
        recorder.clear()
        interactive(str(tmp_path / "interactive"))
        both[step] = (first, set(recorder))

    issuer = emu.base_url
    def chosen(h: str) -> None:  # opening 01 saves nothing; a person's choice, or Save these choices, does
        step01.ConsoleChecklistForm(actions.open_site("default", h, issuer)).save.click()

    run("01", lambda h: rb.console_checklist(home=h, issuer=issuer, interactive=False), chosen)

    def typed(h: str) -> None:
        form = step02.ClientForm(actions.open_site("default", h, issuer))
        form.client_id.value, form.secret.value = client.client_id, client.client_secret
        form.save.click()

    run("02", lambda h: rb.client_credentials(home=h, interactive=False, client_id=client.client_id,
                                              client_secret_env="GAPPS_TEST_SECRET"), typed)

    def card(h: str) -> None:
        site = actions.open_site("default", h, "")
        form = _start(step03.AuthorizeForm(site, runbook.requested_scopes(actions.open_site("default", h, ""))))
        url = re.search(r'href="([^"]+)"', _wait_for(lambda: "sign-in page" in form.card.value and form.card.value)).group(1)
        requests.get(_approve_in_browser(url.replace("&amp;", "&")), timeout=10)
        form.thread.join(30)
        assert "Authorized" in form.result.value

    monkeypatch.setattr(rb, "_browser", lambda kind: lambda url: requests.get(_approve_in_browser(url), timeout=10))
    run("03", lambda h: rb.authorize(home=h, interactive=False, timeout=30), card)

    def panel(h: str) -> None:
        form = step04.TokenStatusForm(actions.open_site("default", h, ""))
        for button in (form.refresh, form.verify, form.revoke, form.confirm):
            button.click()
        assert form.message.value == "" or "Refreshed" in form.message.value
        form.close()

    run("04", lambda h: rb.token_status(home=h, interactive=False, refresh=True, verify=True, revoke=True), panel)

    # headless 01 also raises the verdict's first error, so a failing preflight stops the papermill run
    assert both["01"][0] - {"raise_for_preflight"} == both["01"][1] == {"requested_scopes", "check_console"}
    assert both["02"][0] == both["02"][1] == {"save_client"}
    # the form refuses a failing plan before its thread starts; headless, runbook.authorize does the same inside
    assert both["03"][0] - {"raise_for_preflight"} == both["03"][1] - {"raise_for_preflight"}
    assert both["03"][0] >= {"requested_scopes", "authorize"}
    assert both["04"][0] == both["04"][1] == {"status", "refresh", "verify", "revoke_and_prove"}


def _wait_for(probe: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll a condition a background thread will make true (widgets update from threads)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_import_gapps_runbook_does_not_import_ipywidgets() -> None:
    code = "import sys, gapps_runbook, gapps_runbook.notebook; assert 'ipywidgets' not in sys.modules, 'ipywidgets'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.notebook
def test_in_a_real_kernel_allow_stdin_shows_the_card_and_the_cell_returns_at_once(tmp_path: Path, emu: Any) -> None:
    """What JupyterLab does: execute with allow_stdin=True; the card comes back as widgets, updated by a thread.

    The form asks for nothing until its start button is clicked (a second cell clicks it, as the browser's
    click would). The cell's reply comes before anybody approves, so the cell did not wait for the approval; iopub is read
    until every expected message was seen (in whatever order the kernel sends them), with a generous deadline.
    """
    from jupyter_client.manager import start_new_kernel

    home = str(tmp_path / "home")
    _device(home, emu)
    manager, kc = start_new_kernel(kernel_name="python3", env={**_clean_env(), "GAPPS_RUNBOOK_HOME": home},
                                   startup_timeout=120)
    try:
        msg_id = kc.execute("from gapps_runbook import notebook as rb\n"
                            "form = rb.authorize(services=['openid'], flow='device', timeout=120)", allow_stdin=True)
        reply = kc.get_shell_msg(timeout=120)
        while reply["parent_header"].get("msg_id") != msg_id:  # a late reply to start-up's kernel_info polls
            reply = kc.get_shell_msg(timeout=120)
        assert reply["content"]["status"] == "ok"
        messages = _iopub_until(kc, [], _widget_view)
        assert _user_code(messages) is None  # opening asked for nothing
        kc.execute("form.new_code.click()", allow_stdin=True)
        messages = _iopub_until(kc, messages, _user_code)
        emu.emulator.approve(_user_code(messages))
        _iopub_until(kc, messages, lambda seen: any(m["msg_type"] == "comm_msg" and "Authorized" in json_dumps(m)
                                                    for m in seen))
    finally:
        kc.stop_channels()
        manager.shutdown_kernel(now=True)
    assert actions.open_site("default", home, "").profile.load_token() is not None


def _widget_view(messages: list[dict[str, Any]]) -> bool:
    return any(m["msg_type"] == "display_data" and "application/vnd.jupyter.widget-view+json" in m["content"]["data"]
               for m in messages)


def _user_code(messages: list[dict[str, Any]]) -> str | None:
    return next((found.group(1) for m in messages if (found := CODE_RE.search(json_dumps(m)))), None)


def json_dumps(message: dict[str, Any]) -> str:
    import json

    return json.dumps(message.get("content", {}), default=str)


def _iopub_until(kc: Any, messages: list[dict[str, Any]], done: Callable[[list[dict[str, Any]]], Any],
                 timeout: float = 120.0) -> list[dict[str, Any]]:
    """Read iopub into ``messages`` until ``done(messages)`` holds: a condition on all seen, not on an order."""
    deadline = time.monotonic() + timeout
    while not done(messages):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"not seen on iopub in {timeout:.0f} s; got {[m['msg_type'] for m in messages]}")
        try:
            messages.append(kc.get_iopub_msg(timeout=min(left, 5.0)))
        except queue.Empty:
            continue
    return messages


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("GAPPS_RUNBOOK_")}


def test_render_and_the_cli_import_no_ipywidgets() -> None:
    code = ("import sys, gapps_runbook.views.render, gapps_runbook.cli; "
            "assert 'ipywidgets' not in sys.modules, 'ipywidgets'")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- one form module per step notebook; no pass-through actions (issue 7) -----------------------


def test_each_step_has_its_own_form_module_and_the_entry_points_survive_importing_them() -> None:
    for module, form in zip(STEP_MODULES, ("StartHereForm", "ConsoleChecklistForm", "ClientForm", "AuthorizeForm",
                                           "TokenStatusForm"), strict=True):
        assert issubclass(getattr(module, form), Form)
        lines = len(inspect.getsource(module).splitlines())
        assert lines < 300, f"{module.__name__} has {lines} lines"
    for name in ("start_here", "console_checklist", "client_credentials", "authorize", "token_status"):
        assert inspect.isfunction(getattr(rb, name)), f"rb.{name} was shadowed by a submodule"  # no step module
    assert not (Path(rb.__file__).parent / "forms.py").exists()


def _pass_through(fn: ast.FunctionDef) -> bool:
    """A body that is only ``return runbook.x(a, b=c)`` with its own arguments handed on unchanged."""
    body = [n for n in fn.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
    if len(body) != 1 or not isinstance(body[0], (ast.Return, ast.Expr)) or not isinstance(body[0].value, ast.Call):
        return False
    call = body[0].value
    func = call.func
    to_runbook = isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "runbook"
    unchanged = all(isinstance(a, ast.Name) for a in [*call.args, *(k.value for k in call.keywords)])
    return to_runbook and unchanged


def test_no_action_only_passes_through_to_the_runbook() -> None:
    tree = ast.parse(inspect.getsource(actions))
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert [n.name for n in defs if n.name.startswith("act_") and _pass_through(n)] == []
    sample = ast.parse('def act_pin(site, email):\n    """Doc."""\n    runbook.pin_account(site, email=email)\n')
    assert _pass_through(sample.body[0])  # the check can fail


# --- one renderer per view (issue 7) -----------------------------------------------------------


def _grant(expires_in: int, complete: str | None = None) -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(user_code="WXYZ-BCDF", verification_uri="https://example.test/device", expires_in=expires_in,
                           verification_uri_complete=complete)


def test_a_20_s_device_code_shows_20_s_never_0_min() -> None:
    grant = _grant(20)
    assert "(expires in 20 s)" in render.device_code_lines(grant)
    assert "Expires in 20 s." in render.device_code_html(grant, qr=False)
    assert render.code_countdown(20) == "Code expires in 20 s"
    assert render.code_countdown(570) == "Code expires in 9 min 30 s"
    assert render.code_countdown(0) == "The code expired: click New code"
    assert "0 min" not in render.device_code_lines(grant) + render.device_code_html(grant, qr=False)


def test_the_device_card_link_is_styled_and_copy_says_copied() -> None:
    card = render.device_code_html(_grant(1800), qr=False)
    assert (f'<a href="https://example.test/device" target="_blank" rel="noopener" style="{render.LINK_STYLE}">'
            in card)
    copy = html.unescape(re.search(r'<button class="gapps-copy" type="button" onclick="([^"]*)"', card).group(1))
    assert 'navigator.clipboard.writeText("WXYZ-BCDF")' in copy and "b.textContent='Copied'" in copy
    assert "Not copied: select the text" in copy  # a refused clipboard is said, not hidden


def test_the_sign_in_button_names_no_provider_and_03_says_what_it_will_ask_and_where() -> None:
    assert ">Open the sign-in page</a>" in render.link_html("https://example.test/auth?x=1")
    assert "Google" not in render.link_html("https://example.test/auth?x=1")
    line = render.plan_line("device", ("openid", "email"), "127.0.0.1:8765 (the emulator)", "Ask for a code")
    assert line == ("Ask for a code asks 127.0.0.1:8765 (the emulator) for a device code (the device flow), to enter "
                    "on its page from any device. Scopes: openid, email. Nothing is sent before you click.")
    desktop = render.plan_html("desktop", (scopes.SCOPE_PREFIX + "userinfo.email",), "accounts.google.com",
                               "Make the sign-in link")
    assert "<b>Make the sign-in link</b> makes a sign-in link for <b>accounts.google.com</b> (the Desktop app" in desktop
    assert "<code>email</code>" in desktop and "userinfo" not in desktop


def test_one_name_per_scope_where_asked_and_where_granted() -> None:
    from types import SimpleNamespace

    long_email = scopes.SCOPE_PREFIX + "userinfo.email"
    assert render.scope_name(long_email) == "email" and render.scope_name("email") == "email"
    assert render.scope_name(scopes.SCOPE_PREFIX + "calendar.readonly") == scopes.SCOPE_PREFIX + "calendar.readonly"
    st = SimpleNamespace(profile="p", client_id="c", token_id="t", expires_in=60, account="a", has_refresh_token=True,
                         handed_off_to=None, refresh_token_expires_in=None, scopes=("openid", long_email),
                         missing_scopes=(), requested_since=())
    import gapps_runbook.views.render as module

    health = module.health
    module.health = lambda _st: SimpleNamespace(word="ok")  # type: ignore[assignment]
    try:
        asked, granted = render.status_rows(st, ("openid", "email")), render.status_rows(st)  # type: ignore[arg-type]
    finally:
        module.health = health  # type: ignore[assignment]
    assert ("granted", "email") in asked and ("granted", "email") in granted
    assert all(long_email != value for _label, value in asked + granted)


def test_an_exports_time_on_00_is_the_short_utc_time() -> None:
    from gapps_runbook.oauth.clock import utc_text

    assert utc_text("2026-12-06 04:35 UTC") == "2026-12-06 04:35 UTC"  # an export record's own form


def test_the_complete_verification_link_is_shown_and_is_what_the_qr_code_encodes() -> None:
    complete = "https://example.test/device?user_code=WXYZ-BCDF"
    line, card = render.device_code_lines(_grant(1800, complete)), render.device_code_html(_grant(1800, complete))
    assert "https://example.test/device and enter the code WXYZ-BCDF" in line and complete in line
    assert html.escape(complete) in card and "WXYZ-BCDF" in card
    assert render.qr_svg(complete) in card and render.qr_svg("https://example.test/device") not in card
    plain = render.device_code_html(_grant(1800))
    assert "user_code=" not in plain + render.device_code_lines(_grant(1800))
    assert render.qr_svg("https://example.test/device") in plain


def test_the_form_and_the_cli_print_the_same_status_and_verify_words(
    home: str, emu: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    site = _authorized(home, emu)
    form = step04.TokenStatusForm(site)
    form.verify.click()
    capsys.readouterr()
    assert cli.run(["--home", home, "verify"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed and printed[-1].startswith("verified: ")
    for line in printed:  # the very lines, in the form's HTML
        assert html.escape(line) in form.checks.value
    assert cli.run(["--home", home, "status"]) == 0
    status = capsys.readouterr().out.splitlines()
    rows = render.status_rows(runbook.status(site))
    seconds = re.compile(r"\d+ s")
    panel = render.table_lines(rows) + render.step_lines(runbook.state.read(site))
    assert [seconds.sub("N s", x) for x in status] == [seconds.sub("N s", x) for x in panel]
    shown = [row for row in rows if row[0] != "Expires in"]  # the form says it once, in its live countdown
    assert seconds.sub("N s", form.table.value) == seconds.sub("N s", render.table_html(shown))
    assert "Expires in" in "\n".join(status)  # the CLI's one copy
    form.close()


# --- issue 8: state that holds, the last mile -------------------------------------------------


def test_01_form_opens_with_the_saved_choices(home: str, emu: Any) -> None:
    site = _site(home, emu)
    actions.act_preflight(site, ["openid"], "device", "production")
    form = step01.ConsoleChecklistForm(site)  # the notebook's defaults: nothing explicit
    assert [k for k, box in form.services.items() if box.value] == ["openid"]
    assert (form.flow.value, form.publishing.value) == ("device", "production")
    assert site.profile.load_settings()["scopes"] == list(scopes.scopes_for(("openid",)))


def test_02_test_client_button_says_accepted_or_invalid_client_beside_it(home: str, emu: Any) -> None:
    form = step02.ClientForm(_desktop(home, emu))
    form.test.click()
    assert "accepted the client ID and secret" in form.tested.value
    bad = _site(home, emu, "bad")
    runbook.save_client(bad, client_id=emu.emulator.desktop_client.client_id, client_secret="GOCSPX-" + "x" * 28,
                        client_type="desktop")
    form = step02.ClientForm(bad)
    form.test.click()
    assert "invalid_client" in form.tested.value and "GOCSPX-x" not in form.tested.value


def test_04_refresh_clears_verify_revoke_disables_and_the_summary_has_no_secret(home: str, emu: Any) -> None:
    site = _authorized(home, emu)
    form = step04.TokenStatusForm(site)
    try:
        assert "authorized_user.json" in form.where.value and "from_authorized_user_file" in form.where.value
        form.verify.click()
        assert "Proof from real data: 1 calendar(s)" in form.checks.value
        form.refresh.click()
        assert form.checks.value == ""  # the old results are gone
        token = site.profile.load_token()
        copied = html.unescape(form.copy.value)  # what the Copy button copies (in the browser), and its hint beside it
        assert f"Token id: {token.token_id}" in copied and "Refresh token: yes" in copied
        assert "Copy summary for the ticket</button> <small>Copies the steps" in copied
        assert token.refresh_token not in copied and token.access_token not in copied
        assert form.copy in form.private  # a button and its text: not in the saved summary
        form.handed.value = "Handed off to /etc/app/token.json"  # an output about this token
        form.revoke.click()
        form.confirm.click()
        assert all(b.disabled for b in (form.refresh, form.verify, form.revoke, form.handoff))
        copied = html.unescape(form.copy.value)  # after Revoke nothing shown claims the old token
        assert token.token_id not in copied and "Refresh token: yes" not in copied and form.handed.value == ""
        requests_done = runbook.authorize(site, scopes.scopes_for(("calendar", "openid")), flow="desktop", timeout=30,
                                          open_url=lambda url: requests.get(_approve_in_browser(url), timeout=10))
        assert requests_done.token.token_id
        _wait_for(lambda: not form.refresh.disabled)  # the countdown thread sees the new token
    finally:
        form.close()


class _Handle:
    """A display handle that keeps what the form sent (``show_form``'s summary handle, outside a kernel)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    def update(self, bundle: dict[str, str], raw: bool = False) -> None:
        self.sent.append(bundle)


def test_the_saved_summary_follows_what_a_background_thread_shows_and_is_dated(home: str, emu: Any) -> None:
    from gapps_runbook.notebook.display import RESTARTED, static_bundle

    site = _desktop(home, emu)
    form = step04.TokenStatusForm(site)
    try:
        handle = _Handle()
        form.static = handle
        form.watch()
        assert form.expires.value == "No token" and handle.sent == []
        token = _authorized(home, emu).profile.load_token()
        shown = _wait_for(lambda: [b for b in handle.sent if token.token_id in b["text/html"]])[-1]["text/html"]
        assert "No token" not in shown and "Access token expires in" in shown  # the countdown, as it was then
        assert re.search(r"Snapshot taken \d{4}-\d\d-\d\d \d\d:\d\d UTC: run this notebook to see the live state",
                         shown)
        assert f"<div class='gapps-restarted' hidden><b>{html.escape(RESTARTED)}</b>" in shown  # CSS shows it
    finally:
        form.close()
    assert "Snapshot taken 1970-01-01 00:00 UTC" in static_bundle("", 0.0)["text/html"]


def test_reload_in_00_offers_a_profile_made_since_and_keeps_the_chosen_one(home: str, emu: Any) -> None:
    _desktop(home, emu)
    _site(home, emu, "site-b").profile.set_checklist("x", True)
    form = step00.StartHereForm(home=home, profile="site-b")
    assert form.picker.options == ("default", "site-b")
    _site(home, emu, "site-c").profile.set_checklist("x", True)
    form.reload.click()
    assert form.picker.options == ("default", "site-b", "site-c") and form.picker.value == "site-b"
    assert form.site.profile.name == "site-b" and "profile = &#x27;site-b&#x27;" in form.hint.value
