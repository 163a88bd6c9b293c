"""The support engineer's session in a real browser (issue 8): JupyterLab on workspaces made by ``lab``'s code.

One JupyterLab (127.0.0.1, its own Jupyter dirs, autosave every 2 s) serves ``<home>/workspaces``, made by
:func:`gapps_runbook.runs.workspace.prepare` for profile ``site-a`` (steps 01-02 done: the emulator's device
client, ``openid``) and ``wrong`` (a client whose secret the emulator refuses). The emulator is served in
this process and does NOT auto-approve: the tests approve at its ``/device`` page like a person. One
Chromium (Debian's, through Playwright) is shared; the tests run in file order and build on each other:

a. 03: the device card shows a code, approved in a second page; the card turns "Authorized";
b. 00: a step link opens 03 inside JupyterLab, without a page reload (a marker on ``window`` survives);
c. 01 run again after the authorization: the saved choices (device flow, openid only) are on the form;
d. 04, then a browser reload: the token's id is still shown;
e. every kernel shut down, 03 reopened: its static summary ("Authorized") shows, no widget error;
f. 02 of ``wrong``: "Test client" says invalid_client; a secret typed (not saved) into the Password box is
   in no autosaved notebook (:func:`gapps_runbook.safety.leakscan.scan_paths`);
g. ``site-b``: 04 open ("No token") while 03, opened beside it, is authorized; 04 shows the token and is
   saved; every kernel shut down, 04 reopened: its dated snapshot holds the token id, not "No token";
h. 00's Reload reads the profiles again: one made meanwhile is offered, the chosen one stays;
i. Kernel > Restart under 04: one line says to run the notebook again; the dead buttons are gone, the
   dated snapshot stands in their place.

With ``GAPPS_SCREENSHOTS=docs/screenshots`` each step's final state is saved there (1280x900 PNG); otherwise
nothing tracked is written. Skipped only when ``/usr/bin/chromium`` is missing.
"""

from __future__ import annotations

import re
import secrets
import subprocess
from pathlib import Path
from typing import Any

import requests

from gapps_runbook import runbook
from gapps_runbook.emulator import RunningEmulator
from gapps_runbook.safety.leakscan import scan_paths

from gapps_runbook.notebook.display import RESTARTED
from sites import (BROWSER_MARKS, CODE_RE, KERNEL_IDLE, LONG, REPO, SNAPSHOT, approve_device_code,
                   open_and_run, open_beside, ready_site, save, shoot, shut_down_kernels,
                   start_03)

pytestmark = BROWSER_MARKS
READY_PROFILES = {  # ``home``: site-a and site-b (device flow, openid), wrong (a refused secret); workspaces
    name: {"flow": "device", "services": ("openid",), "secret": secret, "product": "gapps-runbook browser session"}
    for name, secret in (("site-a", None), ("wrong", "GOCSPX-" + "x" * 28), ("site-b", None))
}


def test_a_device_flow_is_approved_by_a_person_and_the_card_turns_authorized(
        page: Any, lab: dict[str, Any], emu: RunningEmulator, home: Path) -> None:
    from playwright.sync_api import expect

    panel = open_and_run(page, lab, "site-a/03_authorize.ipynb")
    start_03(panel)
    code = approve_device_code(page, panel, emu)
    expect(panel.get_by_text("Authorized", exact=True).filter(visible=True).first).to_be_visible(timeout=LONG)
    assert code not in panel.inner_text(), "the user code is still on the page"
    save(page, home / "workspaces" / "site-a" / "03_authorize.ipynb", "<b>Authorized</b>")  # test_e reopens it
    shoot(page, "03_authorize")
    assert runbook.Site.open("site-a", home=home).profile.load_token() is not None


def test_b_a_step_link_in_00_opens_the_step_inside_jupyterlab_without_a_reload(page: Any, lab: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    panel = open_and_run(page, lab, "site-a/00_start_here.ipynb")
    shoot(page, "00_start_here")
    page.evaluate("window.__stillHere = 'yes'")
    panel.locator(".gapps-form a[data-commandlinker-command]", has_text="authorize").first.click()
    expect(page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current", has_text="03_authorize.ipynb")) \
        .to_be_visible(timeout=LONG)
    assert page.evaluate("window.__stillHere") == "yes", "the page was reloaded"
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1


def test_c_01_run_again_after_authorizing_shows_the_saved_choices(page: Any, lab: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    panel = open_and_run(page, lab, "site-a/01_console_checklist.ipynb")
    expect(panel.locator(".widget-toggle-button.mod-active")).to_have_text("device", timeout=LONG)
    expect(panel.get_by_role("checkbox", name=re.compile(r"\(openid\)"))).to_be_checked()
    expect(panel.get_by_role("checkbox", name=re.compile(r"\(calendar\)"))).not_to_be_checked()
    shoot(page, "01_console_checklist")


def test_d_a_browser_reload_mid_session_keeps_the_state(page: Any, lab: dict[str, Any], home: Path) -> None:
    from playwright.sync_api import expect

    token = runbook.Site.open("site-a", home=home).profile.load_token()
    assert token is not None
    panel = open_and_run(page, lab, "site-a/04_token_status.ipynb")
    expect(panel.get_by_text(token.token_id).filter(visible=True).first).to_be_visible(timeout=LONG)
    save(page, home / "workspaces" / "site-a" / "04_token_status.ipynb", token.token_id)  # on disk, not just "clean"
    page.reload()
    expect(page.locator(".jp-NotebookPanel:visible .jp-Notebook").get_by_text(token.token_id).filter(visible=True).first) \
        .to_be_visible(timeout=LONG)
    shoot(page, "04_token_status")


def test_e_a_notebook_reopened_after_its_kernel_is_gone_shows_its_summary(page: Any, lab: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    auth = {"Authorization": f"token {lab['token']}"}
    for kernel in requests.get(f"{lab['url']}/api/kernels", headers=auth, timeout=10).json():
        requests.delete(f"{lab['url']}/api/kernels/{kernel['id']}", headers=auth, timeout=30).raise_for_status()
    page.goto(f"{lab['url']}/lab/tree/site-a/03_authorize.ipynb?reset&token={lab['token']}")
    panel = page.locator(".jp-NotebookPanel:visible .jp-Notebook")
    expect(panel.locator(".gapps-static").get_by_text("Authorized", exact=True)).to_be_visible(timeout=LONG)
    expect(page.get_by_role("button", name=KERNEL_IDLE)).to_be_visible(timeout=LONG)  # a new, empty kernel
    expect(panel.get_by_text("Error displaying widget")).to_be_hidden()
    expect(panel.locator(".gapps-static").get_by_text(CODE_RE)).to_have_count(0)
    shoot(page, "03_authorize_reopened", ".gapps-static")


def test_f_test_client_catches_a_wrong_secret_and_no_typed_secret_is_autosaved(
        page: Any, lab: dict[str, Any], home: Path) -> None:
    from playwright.sync_api import expect

    panel = open_and_run(page, lab, "wrong/02_client_credentials.ipynb")
    typed = "GOCSPX-" + secrets.token_urlsafe(21)[:28]  # typed, never saved: must reach no file
    panel.locator(".gapps-form input[type=password]").fill(typed)
    panel.get_by_role("button", name="Test client").click()
    expect(panel.get_by_text(re.compile("invalid_client")).filter(visible=True).first).to_be_visible(timeout=LONG)
    saved = home / "workspaces" / "wrong" / "02_client_credentials.ipynb"
    from gapps_runbook.commands.lab import wait_until

    assert wait_until(lambda: "invalid_client" in saved.read_text(encoding="utf-8"), 60), "no autosave came"
    assert scan_paths([home / "workspaces"], [typed]) == []
    shoot(page, "02_client_credentials")
    assert subprocess.run(["git", "status", "--porcelain", "notebooks/"], cwd=REPO, capture_output=True,
                          text=True, check=True).stdout == ""


def test_g_a_reopened_workspace_shows_04s_dated_snapshot_with_the_token_it_held(
        page: Any, lab: dict[str, Any], emu: RunningEmulator, home: Path) -> None:
    from playwright.sync_api import expect

    status = open_and_run(page, lab, "site-b/04_token_status.ipynb")
    expect(status.locator(".gapps-form").get_by_text("No token", exact=True)).to_be_visible(timeout=LONG)
    authorize = open_beside(page, "03_authorize.ipynb")  # 04's tab stays open, its kernel counting
    start_03(authorize)
    approve_device_code(page, authorize, emu)
    expect(authorize.get_by_text("Authorized", exact=True).filter(visible=True).first).to_be_visible(timeout=LONG)
    token = runbook.Site.open("site-b", home=home).profile.load_token()
    assert token is not None
    page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="04_token_status.ipynb").click()
    expect(status.locator(".gapps-form").get_by_text(token.token_id).first).to_be_visible(timeout=LONG)
    save(page, home / "workspaces" / "site-b" / "04_token_status.ipynb", token.token_id)  # the summary followed

    shut_down_kernels(lab)
    page.goto(f"{lab['url']}/lab/tree/site-b/04_token_status.ipynb?reset&token={lab['token']}")
    panel = page.locator(".jp-NotebookPanel:visible .jp-Notebook")
    snapshot = panel.locator(".gapps-static")
    expect(snapshot.get_by_text(token.token_id)).to_be_visible(timeout=LONG)
    expect(snapshot.get_by_text(SNAPSHOT)).to_be_visible()
    expect(snapshot.get_by_text("No token")).to_have_count(0)
    expect(snapshot.get_by_text(RESTARTED)).to_be_hidden()  # no restart: the kernel is new, not restarted
    expect(page.get_by_role("button", name=KERNEL_IDLE)).to_be_visible(timeout=LONG)
    expect(panel.get_by_text("Error displaying widget")).to_be_hidden()
    shoot(page, "04_token_status_reopened", ".gapps-static")


def test_h_reload_in_00_reads_the_profiles_again_and_keeps_the_chosen_one(
        page: Any, lab: dict[str, Any], emu: RunningEmulator, home: Path) -> None:
    from playwright.sync_api import expect

    panel = open_and_run(page, lab, "site-b/00_start_here.ipynb")
    picker = panel.locator(".gapps-form select").first
    expect(picker).to_have_value("site-b")
    expect(picker.locator("option", has_text="site-c")).to_have_count(0)
    ready_site(home, emu, "site-c", flow="device", services=("openid",), workspace=False)  # made meanwhile
    panel.get_by_role("button", name="Reload").click()
    expect(picker.locator("option", has_text="site-c")).to_have_count(1, timeout=LONG)
    expect(picker).to_have_value("site-b")
    expect(panel.locator(".gapps-form").get_by_text("Set profile = 'site-b'", exact=False)).to_be_visible()


def test_i_a_kernel_restart_says_to_run_the_notebook_again_and_shows_no_dead_buttons(
        page: Any, lab: dict[str, Any], home: Path) -> None:
    from playwright.sync_api import expect

    panel = open_and_run(page, lab, "site-b/04_token_status.ipynb")
    verify = panel.get_by_role("button", name="Verify: call the APIs")
    expect(verify).to_be_enabled(timeout=LONG)
    expect(panel.get_by_text(RESTARTED)).to_be_hidden()
    page.get_by_role("menuitem", name="Kernel", exact=True).click()
    page.get_by_role("menuitem", name=re.compile(r"^Restart Kernel")).first.click()
    page.locator(".jp-Dialog").get_by_role("button", name="Confirm Kernel Restart").click()
    expect(panel.get_by_text(RESTARTED)).to_be_visible(timeout=LONG)
    expect(page.get_by_role("button", name=KERNEL_IDLE)).to_be_visible(timeout=LONG)  # the new kernel is up
    expect(panel.get_by_text(RESTARTED)).to_be_visible()  # and the line stays until the notebook runs again
    expect(verify).to_be_hidden()  # a dead button is not shown as if it worked
    expect(panel.locator(".gapps-form").filter(visible=True)).to_have_count(0)
    expect(panel.locator(".gapps-static").get_by_text(SNAPSHOT)).to_be_visible()
    token = runbook.Site.open("site-b", home=home).profile.load_token()
    assert token is not None
    expect(panel.locator(".gapps-static").get_by_text(token.token_id).first).to_be_visible()
    shoot(page, "04_token_status_restarted", ".gapps-static")
