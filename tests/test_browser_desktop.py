"""Step 03's Desktop app (loopback) flow in a real browser (issue 8, items 3-4): JupyterLab, Chromium, a person.

One JupyterLab (127.0.0.1, its own Jupyter dirs, autosave every 2 s) serves ``<home>/workspaces``, made by
:func:`gapps_runbook.runs.workspace.prepare` for profile ``desk`` (steps 01-02 done: the emulator's Desktop
app client, Calendar + openid) and ``desk-wrong`` (the same client ID with a secret the emulator refuses).
The emulator is served in this process and does NOT auto-approve: the tests click Allow on its consent page,
in the tab the card's link button opens, like a person. The kernel's loopback listener answers that tab.
The tests run in file order and build on each other:

a. 03 of ``desk``: the card waits ("Waiting for approval in the browser (... left, until HH:MM UTC)") with the
   link as a button; the new tab shows the consent page; after Allow it lands on the runbook's own page,
   answered after the token exchange: "Authorized as engineer@example.com"; the card turns Authorized; 04
   shows the token id;
b. 03 of ``desk-wrong``: the landing page says the token exchange failed (invalid_client, the client secret
   is wrong) and names step 02's fix; the card says the same; no secret on either;
c. 03 of ``desk`` again, "Authorize again", then Cancel: the stored token is still in place, said plainly
   (not in red); 03's record stays ok and 00 does not show it failed;
d. the first walk on from there: 04 verifies ``desk``'s token; 01 switches to the device flow with openid
   only; 02 stores the emulator's TVs and Limited Input devices client; 03 then offers the device flow (a
   device code, no Desktop link); 00 shows 03 and 04 stale after 02's new client, each with the step to redo.

With ``GAPPS_SCREENSHOTS=docs/screenshots`` each final state is saved there (1280x900 PNG, ``03_desktop_*``).
Skipped, with the reason shown, only when ``/usr/bin/chromium`` is missing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any


from gapps_runbook import runbook
from gapps_runbook.emulator import RunningEmulator

from sites import (BROWSER_MARKS, CODE_RE, LONG, WAITING, approve_in_new_tab,
                   cancel_with_a_good_token, expect_desktop_card_authorized, open_and_run, save, shoot,
                   start_03)

ACCOUNT = "engineer@example.com"
WRONG_SECRET = "GOCSPX-" + ("Wr0ng" * 6)[:28]

pytestmark = BROWSER_MARKS
READY_PROFILES = {  # ``home``: Desktop app client, Calendar + openid; a refused secret for desk-wrong; workspaces
    name: {"flow": "desktop", "services": ("calendar", "openid"), "secret": secret, "product": "gapps-runbook desktop session"}
    for name, secret in (("desk", None), ("desk-wrong", WRONG_SECRET))
}


def test_a_the_desktop_flow_is_approved_in_the_tab_the_button_opens_and_lands_on_authorized(
        page: Any, lab: dict[str, Any], home: Path) -> None:
    from playwright.sync_api import expect

    panel = open_and_run(page, lab, "desk/03_authorize.ipynb")
    start_03(panel)
    expect(panel.get_by_text(WAITING).filter(visible=True)).to_have_count(1, timeout=LONG)  # one countdown
    expect(panel.get_by_text("Approved on another computer?").filter(visible=True)).to_be_visible()
    expect(panel.get_by_role("button", name="Cancel")).to_be_enabled()
    expect(panel.get_by_text("starting...")).to_have_count(0)
    shoot(page, "03_desktop_waiting")

    landing = approve_in_new_tab(page, panel)
    expect(landing.locator("h1")).to_have_text("Authorized")
    expect(landing.locator("#outcome")).to_contain_text(f"Authorized as {ACCOUNT}")
    expect(landing.get_by_text("You can close this tab")).to_be_visible()
    shoot(landing, "03_desktop_landing_authorized", None)
    landing.close()

    expect_desktop_card_authorized(panel)
    saved = home / "workspaces" / "desk" / "03_authorize.ipynb"
    save(page, saved, "<b>Authorized</b>")  # the static summary on disk: the kernel may go, the page may reload
    shoot(page, "03_desktop_authorized")
    token = runbook.Site.open("desk", home=home).profile.load_token()
    assert token is not None and token.account == ACCOUNT
    text = saved.read_text(encoding="utf-8")
    assert "code_challenge" not in text and "state=" not in text  # the link was transient

    status = open_and_run(page, lab, "desk/04_token_status.ipynb")
    expect(status.get_by_text(token.token_id).filter(visible=True).first).to_be_visible(timeout=LONG)
    shoot(page, "03_desktop_then_04")


def test_b_a_wrong_secret_lands_on_the_exchange_failed_page_with_step_02s_fix(
        page: Any, lab: dict[str, Any], home: Path) -> None:
    from playwright.sync_api import expect

    panel = open_and_run(page, lab, "desk-wrong/03_authorize.ipynb")
    start_03(panel)
    landing = approve_in_new_tab(page, panel)
    expect(landing.locator("h1")).to_have_text("The token exchange failed")
    outcome = landing.locator("#outcome")
    expect(outcome).to_contain_text("invalid_client: the token exchange failed, the client secret is wrong")
    expect(outcome).to_contain_text("Fix: enter the client's secret again in runbook step 02")
    assert WRONG_SECRET not in landing.content()
    shoot(landing, "03_desktop_landing_failed", None)
    landing.close()

    card = panel.get_by_text(re.compile("invalid_client: the token exchange failed, the client secret is wrong"))
    expect(card.filter(visible=True).first).to_be_visible(timeout=LONG)
    expect(panel.get_by_text(re.compile("Fix: enter the client's secret again in runbook step 02"))
           .filter(visible=True).first).to_be_visible()
    expect(panel.get_by_role("button", name="Cancel")).to_have_count(0)  # hidden: nothing to cancel
    expect(panel.get_by_role("button", name="Start again")).to_be_enabled()
    assert WRONG_SECRET not in panel.inner_text()
    shoot(page, "03_desktop_failed")
    assert runbook.Site.open("desk-wrong", home=home).profile.load_token() is None


def test_c_cancel_with_a_good_token_in_place_is_no_failure(page: Any, lab: dict[str, Any], home: Path) -> None:
    from playwright.sync_api import expect

    panel = open_and_run(page, lab, "desk/03_authorize.ipynb")
    expect(panel.get_by_text("Already authorized for these scopes.").filter(visible=True)).to_be_visible()
    cancel_with_a_good_token(page, panel)
    shoot(page, "03_desktop_cancelled")
    step = runbook.Site.open("desk", home=home).profile.load_settings()["steps"]["authorize"]
    assert step["status"] == "ok"

    start = open_and_run(page, lab, "desk/00_start_here.ipynb")
    row = start.locator(".gapps-form tr", has=page.locator("a", has_text="authorize")).filter(visible=True).first
    expect(row).to_contain_text("ok", timeout=LONG)
    expect(row).not_to_contain_text("failed")
    shoot(page, "03_desktop_cancelled_then_00")


def test_d_the_first_walk_to_the_device_flow_makes_03_offer_it_and_00_say_what_is_stale(
        page: Any, lab: dict[str, Any], home: Path, emu: RunningEmulator) -> None:
    from playwright.sync_api import expect

    from gapps_runbook.commands.lab import wait_until

    site = runbook.Site.open("desk", home=home)

    def record(name: str) -> dict[str, Any]:
        return dict((site.profile.load_settings().get("steps") or {}).get(name) or {})

    status = open_and_run(page, lab, "desk/04_token_status.ipynb")
    status.get_by_role("button", name="Verify: call the APIs").click()
    assert wait_until(lambda: record("verify").get("status") == "ok", LONG / 1000), record("verify")

    checklist = open_and_run(page, lab, "desk/01_console_checklist.ipynb")
    checklist.locator(".widget-toggle-button", has_text="device").click()
    checklist.get_by_role("checkbox", name=re.compile(r"\(calendar\)")).uncheck()
    expect(checklist.get_by_text("Not saved yet").filter(visible=True)).to_be_visible(timeout=LONG)  # a preview
    checklist.get_by_role("button", name="Save these choices").click()
    assert wait_until(lambda: site.profile.load_settings().get("flow") == "device"
                      and not any("calendar" in s for s in site.profile.load_settings().get("scopes") or ()),
                      LONG / 1000), "01's choices were not saved"

    client = emu.emulator.device_client
    credentials = open_and_run(page, lab, "desk/02_client_credentials.ipynb")
    form = credentials.locator(".gapps-form")
    form.get_by_placeholder("123456789012-....apps.googleusercontent.com").fill(client.client_id)
    form.get_by_placeholder("123456789012-....apps.googleusercontent.com").press("Tab")
    form.locator("input[type=password]").fill(client.client_secret or "")
    expect(form.locator("select").first).to_have_value(re.compile("TVs"))  # 01's flow chose the type
    form.get_by_role("button", name="Save client").click()
    expect(form.get_by_text("Saved in profile desk")).to_be_visible(timeout=LONG)
    assert site.profile.load_client().client_id == client.client_id  # type: ignore[union-attr]

    authorize = open_and_run(page, lab, "desk/03_authorize.ipynb")
    start_03(authorize)
    expect(authorize.locator(".widget-html-content div[style*='user-select']")).to_have_text(CODE_RE, timeout=LONG)
    expect(authorize.locator("a.gapps-link-button")).to_have_count(0)  # not the Desktop app link
    shoot(page, "03_first_walk_device")  # left waiting: nothing is written while an attempt waits

    start = open_and_run(page, lab, "desk/00_start_here.ipynb")
    for title in ("authorize", "token status"):
        row = start.locator(".gapps-form tr").filter(
            has=page.locator("td:first-child a", has_text=re.compile(title, re.I))).filter(visible=True).first
        expect(row).to_contain_text("stale", timeout=LONG)
        expect(row).to_contain_text("Run 03 authorize")
    shoot(page, "00_first_walk_stale")
