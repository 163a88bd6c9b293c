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
   in no autosaved notebook (:func:`gapps_runbook.safety.leakscan.scan_paths`).

With ``GAPPS_SCREENSHOTS=docs/screenshots`` each step's final state is saved there (1280x900 PNG); otherwise
nothing tracked is written. Skipped only when ``/usr/bin/chromium`` is missing.
"""

from __future__ import annotations

import re
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from gapps_runbook import runbook
from gapps_runbook.emulator import RunningEmulator
from gapps_runbook.safety.leakscan import scan_paths

# chromium and page are fixtures; CHROMIUM and CHROMIUM_ARGS stay importable from here for test_browser_app.py
from sites import (BROWSER_MARKS, CODE_RE, KERNEL_IDLE, LONG, REPO, approve_device_code, chromium, emu,  # noqa: F401
                   lab, open_and_run, page, ready_site, save, shoot)

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, emu: RunningEmulator) -> Path:
    """Profiles ``site-a`` (steps 01-02 done, device flow, openid) and ``wrong`` (a refused secret); their workspaces."""
    home = tmp_path_factory.mktemp("session") / "home"
    for name, secret in (("site-a", None), ("wrong", "GOCSPX-" + "x" * 28)):
        ready_site(home, emu, name, flow="device", services=("openid",), secret=secret,
                   product="gapps-runbook browser session")
    return home


def test_a_device_flow_is_approved_by_a_person_and_the_card_turns_authorized(
        page: Any, lab: dict[str, Any], emu: RunningEmulator, home: Path) -> None:
    from playwright.sync_api import expect

    panel = open_and_run(page, lab, "site-a/03_authorize.ipynb")
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
