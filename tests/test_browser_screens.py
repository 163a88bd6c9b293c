"""Every screen says what it is doing, in Chromium: JupyterLab's notebooks and the no-code app (Voila).

The emulator is served in this process and does NOT auto-approve; it logs every request it receives
(:attr:`gapps_runbook.emulator.Emulator.requests`), which is how these tests see what a screen sent. The
tests run in file order:

a. opening 03 in JupyterLab (Run All) sends no request to the emulator before a click, for the device flow
   and for the Desktop app flow: the form says which flow, which scopes (by their one name) and where ("the
   emulator"); its start button then asks (a device code; a sign-in link whose button is "Open the sign-in
   page"); the device card's Copy says "Copied" and the code is on the clipboard (``03_before_a_click.png``);
b. the same in the app, on page 03 (``app_03_before_a_click.png``);
c. app page 04: "Copy summary for the ticket" copies the summary (read back from the clipboard) and says
   "Copied", its hint beside it; after Revoke nothing on the page claims the old token, and a copy holds no
   "Refresh token: yes" (``app_04_copied_summary.png``, ``app_04_after_revoke.png``).

Discovery (the provider's public metadata, which step 01 reads too) is no request of an authorization: the
requests counted are every other path. With ``GAPPS_SCREENSHOTS=docs/screenshots`` the final states are saved
there. Skipped only when ``/usr/bin/chromium`` is missing.
"""

from __future__ import annotations

import re
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gapps_runbook import runbook
from gapps_runbook.emulator import RunningEmulator
from gapps_runbook.steps import STEPS

from sites import (APP_READY, BROWSER_MARKS, CODE_RE, LONG, START_03, authorized_ready_site, free_port, open_and_run,
                   ready_site, server_env, shoot, start_command, stop_process)

pytestmark = BROWSER_MARKS
DEADLINE = LONG / 1000


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, emu: RunningEmulator) -> Path:
    """``dev`` (device flow, openid) and ``desk`` (Desktop app flow, Calendar + openid), steps 01-02 done, with
    workspaces; ``app-dev`` the same as ``dev`` for the app; ``done``: authorized (Desktop app flow)."""
    home = tmp_path_factory.mktemp("screens") / "home"
    for name in ("dev", "app-dev"):
        ready_site(home, emu, name, flow="device", services=("openid",), workspace=name == "dev")
    ready_site(home, emu, "desk", flow="desktop", services=("calendar", "openid"))
    authorized_ready_site(home, emu, "done")
    return home


@pytest.fixture(scope="module")
def ready_home(home: Path) -> Path:
    """What ``lab`` serves: this module's ``home``."""
    return home


@pytest.fixture(scope="module")
def clipboard(chromium: Any) -> Any:
    """The module's Chromium context, allowed to write and read the clipboard (as a person's browser asks)."""
    chromium.grant_permissions(["clipboard-read", "clipboard-write"])
    return chromium


def sent_since(emu: RunningEmulator, before: int) -> list[str]:
    """The paths the emulator received since ``before`` requests, discovery left out."""
    return [f"{r.method} {r.path}" for r in emu.emulator.requests[before:] if not r.path.startswith("/.well-known/")]


def expect_plan(panel: Any, flow: str, names: tuple[str, ...]) -> Any:
    """03's intro: the flow, the scopes by their one name, the provider; its start button; returns the button."""
    from playwright.sync_api import expect

    plan = panel.locator(".gapps-plan").filter(visible=True)
    expect(plan).to_contain_text("(the emulator)", timeout=LONG)
    expect(plan).to_contain_text("device code (the device flow)" if flow == "device" else "(the Desktop app flow)")
    expect(plan).to_contain_text("Scopes: " + ", ".join(names) + ". Nothing is sent before you click.")
    start = panel.get_by_role("button", name=START_03).filter(visible=True)
    expect(start).to_have_text("Ask for a code" if flow == "device" else "Make the sign-in link")
    return start


def copy_code(page: Any, panel: Any) -> None:
    """The device card: its link is styled as a link; Copy says "Copied" and the code is on the clipboard."""
    from playwright.sync_api import expect

    code_box = panel.locator(".widget-html-content div[style*='user-select']").filter(visible=True)
    expect(code_box).to_have_text(CODE_RE, timeout=LONG)
    link = panel.locator(".widget-html-content a[href$='/device']").filter(visible=True).first
    assert link.evaluate("a => getComputedStyle(a).textDecorationLine") == "underline"
    assert link.evaluate("a => getComputedStyle(a).color") == "rgb(26, 115, 232)"  # not the text's black
    copy = panel.locator("button.gapps-copy").filter(visible=True)
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == code_box.inner_text().strip()


@pytest.mark.parametrize("profile", ["dev", "desk"])
def test_a_opening_03_in_jupyterlab_sends_nothing_before_a_click(clipboard: Any, page: Any, lab: dict[str, Any],
                                                                  emu: RunningEmulator, profile: str) -> None:
    from playwright.sync_api import expect

    flow = "device" if profile == "dev" else "desktop"
    before = len(emu.emulator.requests)
    panel = open_and_run(page, lab, f"{profile}/03_authorize.ipynb")
    names = ("openid", "email") if flow == "device" else (
        "https://www.googleapis.com/auth/calendar.readonly", "https://www.googleapis.com/auth/calendar.events.readonly",
        "openid", "email")
    start = expect_plan(panel, flow, names)
    expect(page.get_by_role("button", name=re.compile(r"^Python 3 \(ipykernel\) \| Idle$"))).to_be_visible()
    assert sent_since(emu, before) == [], "opening 03 sent requests before a click"
    if flow == "device":
        shoot(page, "03_before_a_click")
    start.click()
    if flow == "device":
        copy_code(page, panel)
        assert any("device" in path for path in sent_since(emu, before))  # the click asked for the code
    else:
        expect(panel.locator("a.gapps-link-button").filter(visible=True)).to_have_text("Open the sign-in page",
                                                                                       timeout=LONG)
    panel.get_by_role("button", name="Cancel").click()


@pytest.fixture(scope="module")
def app(home: Path, emu: RunningEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``gapps-runbook app`` as a subprocess; its URL once it printed "The app is ready: URL"."""
    jupyter = tmp_path_factory.mktemp("jupyter")
    env = server_env(jupyter, GAPPS_RUNBOOK_HOME=str(home))
    command = [sys.executable, "-m", "gapps_runbook", "--issuer", emu.base_url, "app", "--profile", "app-dev",
               "--no-browser", "--port", str(free_port())]
    proc, seen = start_command(command, env, jupyter / "app.log")
    try:
        yield {"url": seen[-1].removeprefix(APP_READY), "proc": proc}
    finally:
        stop_process(proc, 30)


def open_page(page: Any, app: dict[str, Any], profile: str, index: int) -> Any:
    """The app on ``profile``, moved with Next to page ``index``; the app's box."""
    from playwright.sync_api import expect

    parts = urllib.parse.urlsplit(app["url"])
    query = urllib.parse.urlencode(dict(urllib.parse.parse_qsl(parts.query), profile=profile))
    page.goto(urllib.parse.urlunsplit(parts._replace(query=query)))
    for step in range(index + 1):
        if step:
            page.locator(".gapps-app button[title='Next']").click()
        title = f"{STEPS[step].number} {STEPS[step].title.capitalize()}"
        expect(page.locator(".gapps-app h2")).to_have_text(title, timeout=LONG)
        expect(page.locator(".gapps-app .gapps-form").first).to_be_visible(timeout=LONG)
    return page.locator(".gapps-app")


def test_b_opening_03_in_the_app_sends_nothing_before_a_click(clipboard: Any, app: dict[str, Any],
                                                              emu: RunningEmulator) -> None:
    page = clipboard.new_page()
    try:
        before = len(emu.emulator.requests)
        panel = open_page(page, app, "app-dev", 3)
        start = expect_plan(panel, "device", ("openid", "email"))
        assert sent_since(emu, before) == [], "opening the app's 03 sent requests before a click"
        shoot(page, "app_03_before_a_click", focus=None)
        start.click()
        copy_code(page, panel)
        assert any("device" in path for path in sent_since(emu, before))
        panel.get_by_role("button", name="Cancel").click()
    finally:
        page.close(run_before_unload=True)


def test_c_04_copies_its_summary_and_clears_what_revoke_made_untrue(clipboard: Any, app: dict[str, Any],
                                                                    home: Path) -> None:
    from playwright.sync_api import expect

    token = runbook.Site.open("done", home=home).profile.load_token()
    assert token is not None
    page = clipboard.new_page()
    try:
        panel = open_page(page, app, "done", 4)
        copy = panel.locator(".gapps-copy-summary").filter(visible=True)
        button = copy.locator("button.gapps-copy")
        expect(button).to_have_text("Copy summary for the ticket", timeout=LONG)
        expect(copy).to_contain_text("no secret in it")  # the hint, beside the button
        button.click()
        expect(button).to_have_text("Copied")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert f"Token id: {token.token_id}" in copied and "Refresh token: yes" in copied
        assert token.refresh_token not in copied and token.access_token not in copied
        expect(copy.locator("pre")).to_be_visible()
        shoot(page, "app_04_copied_summary", focus=None)

        panel.get_by_role("button", name="Revoke...").click()
        panel.get_by_role("button", name="Yes, revoke: the server loses API access").click()
        expect(panel.get_by_text("Revoked, and proven")).to_be_visible(timeout=LONG)
        expect(copy.locator("pre")).to_be_hidden()
        expect(panel).not_to_contain_text("Refresh token: yes")
        expect(button).to_have_text("Copy summary for the ticket")  # a new summary, not yet copied
        button.click()
        expect(button).to_have_text("Copied")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert token.token_id not in copied and "Refresh token: yes" not in copied
        shoot(page, "app_04_after_revoke", focus=None)
    finally:
        page.close(run_before_unload=True)
