"""The no-code app in a real browser (issue 8 item 2): ``gapps-runbook app`` run as a person runs it, in Chromium.

``gapps-runbook --issuer <emulator> app --profile site-a --no-browser`` runs as a subprocess (its own Jupyter
folders); the emulator is served in this process and does NOT auto-approve: the test approves at its
``/device`` page in a second page, like a person. Every request of the browser is recorded (``route``). The
kernels the app started are its ipykernel descendants (psutil). The tests run in file order:

a. no kernel runs before the first page is opened;
b. a whole device-flow session through the pages: client typed on 02, code on 03 approved in a second page,
   the card turns "Authorized", 04 shows the token's id (each page's final state is a screenshot);
b2. a whole Desktop-app (loopback + PKCE) session on profile ``desk`` (Calendar + openid): page 03's link
   button opens the emulator's consent page in a new tab, Allow there lands that tab on the runbook's own
   "Authorized as ..." page (the kernel's listener on 127.0.0.1), the card turns "Authorized", 04 shows the
   stored token's id; back on 03, "Authorize again" then Cancel keeps the good token and 03 ok, as 00 shows
   when Back reaches it (no Reload click) (``app_03_desktop_*.png``);
c. Back and Next move between the pages in the same kernel;
d. opening the app and moving through every page without clicking an action changes no stored file
   (an authorized profile, and one whose 03 would ask for a device code: it waits for a click);
d2. live pages, the first walk: a profile authorized with the Desktop app flow; 01 switched to the device
   flow (openid only), a TVs client stored on 02: 03 offers the device flow (the code card), no reload; the
   header above every page follows each step (``app_03_after_switching_to_device.png``);
d3. two tabs on one profile (two kernels): a revoke on 04 in one; the other's Export on 05 refuses with one
   line and shows no token, its 04 then "No token" (``app_05_token_changed_in_another_tab.png``);
d4. a good token, then "Authorize again" denied in the browser: 03 and 00 say 03 ok and that the stored token
   still works (``app_03_denied_with_a_good_token.png``, ``app_00_after_a_denied_reauthorization.png``);
e. closed pages leave no kernel (the page's shutdown beacon is accepted: no 403 in the app's log);
f. no request left loopback.

With ``GAPPS_SCREENSHOTS=docs/screenshots`` each page's final state is saved there as ``app_NN_<step>.png``.
Skipped only when ``/usr/bin/chromium`` is missing.
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from gapps_runbook import runbook
from gapps_runbook.commands.lab import wait_until
from gapps_runbook.emulator import RunningEmulator
from gapps_runbook.oauth.endpoints import LOOPBACK_HOSTS
from gapps_runbook.steps import STEPS

from sites import (BROWSER_MARKS, CODE_RE, LONG, WAITING, approve_device_code, approve_in_new_tab,
                   authorized_ready_site, cancel_with_a_good_token, expect_desktop_card_authorized, shoot, START_03, start_03)

from app_browser import (APP_PROFILES, DEADLINE, app, browser, expect_page, kernels, leave, move,  # noqa: F401
                         open_app, page, page_url, shot, stored)

pytestmark = BROWSER_MARKS
READY_PROFILES = APP_PROFILES


def test_a_no_kernel_runs_before_a_page_is_opened(app: dict[str, Any]) -> None:
    assert app["url"].startswith("http://127.0.0.1:") and "profile=site-a" in app["url"]
    assert kernels(app["proc"]) == []


def test_b_a_device_flow_session_through_the_pages(page: Any, app: dict[str, Any], emu: RunningEmulator,
                                                   home: Path) -> None:
    from playwright.sync_api import expect

    open_app(page, app["url"])
    assert wait_until(lambda: len(kernels(app["proc"])) == 1, DEADLINE)
    shot(page, 0)
    move(page, "Next", 1)
    shot(page, 1)
    move(page, "Next", 2)
    client = emu.emulator.device_client
    page.get_by_label("Product name").fill("Acme PBX")
    page.get_by_label("Client ID").fill(client.client_id)
    page.get_by_label("Client ID").press("Enter")
    page.get_by_label("Secret").fill(client.client_secret)
    page.get_by_label("Client type").select_option(label="TVs and Limited Input devices")
    page.get_by_role("button", name="Save client").click()
    expect(page.get_by_text("Saved in profile site-a")).to_be_visible(timeout=LONG)
    shot(page, 2)
    move(page, "Next", 3)
    start_03(page)
    code = approve_device_code(page, page, emu)
    expect(page.get_by_text("Authorized", exact=True).first).to_be_visible(timeout=LONG)
    assert code not in page.locator(".gapps-app").inner_text(), "the user code is still on the page"
    shot(page, 3)
    token = runbook.Site.open("site-a", home=home).profile.load_token()
    assert token is not None
    move(page, "Next", 4)
    expect(page.get_by_text(token.token_id).first).to_be_visible(timeout=LONG)
    shot(page, 4)
    move(page, "Next", 5)
    shot(page, 5)
    assert client.client_secret not in page.content()


def test_b2_a_desktop_flow_session_through_the_pages(page: Any, app: dict[str, Any], emu: RunningEmulator,
                                                     home: Path) -> None:
    from playwright.sync_api import expect

    assert wait_until(lambda: kernels(app["proc"]) == [], DEADLINE), "the last test's page left its kernel"
    open_app(page, page_url(app, "desk"))
    for index in range(1, 4):
        move(page, "Next", index)
    panel = page.locator(".gapps-app")
    start_03(panel)
    expect(panel.get_by_text(WAITING).filter(visible=True)).to_have_count(1, timeout=LONG)  # one countdown
    expect(panel.get_by_role("button", name="Cancel")).to_be_enabled()
    shoot(page, "app_03_desktop_waiting", focus=None)

    landing = approve_in_new_tab(page, panel)
    expect(landing.locator("h1")).to_have_text("Authorized", timeout=LONG)
    expect(landing.locator("#outcome")).to_contain_text(f"Authorized as {emu.emulator.state.account}")
    shoot(landing, "app_03_desktop_landing", focus=None)
    landing.close()

    expect_desktop_card_authorized(panel)
    shoot(page, "app_03_desktop_authorized", focus=None)
    token = runbook.Site.open("desk", home=home).profile.load_token()
    assert token is not None and token.account == emu.emulator.state.account
    move(page, "Next", 4)
    expect(panel.get_by_text(token.token_id).filter(visible=True).first).to_be_visible(timeout=LONG)
    shoot(page, "app_03_desktop_then_04", focus=None)

    move(page, "Back", 3)  # Cancel with a good token in place is no failure
    cancel_with_a_good_token(page, panel)
    shoot(page, "app_03_desktop_cancelled", focus=None)
    site = runbook.Site.open("desk", home=home)
    assert site.profile.load_settings()["steps"]["authorize"]["status"] == "ok"
    assert site.profile.load_token().token_id == token.token_id  # type: ignore[union-attr]

    for index in reversed(range(3)):
        move(page, "Back", index)
    # 00 was built when first shown (03 "not run", no token); shown again, it reads the records again itself
    row = panel.locator("tr", has=page.locator("td", has_text=re.compile(
        rf"^{STEPS[3].number} {STEPS[3].title.capitalize()}\b"))).filter(visible=True)
    expect(row.locator("td").nth(1)).to_have_text("ok", timeout=LONG)  # Step, Status, When, Detail
    expect(row).not_to_contain_text("failed")
    shoot(page, "app_03_desktop_cancelled_then_00", focus=None)
    assert emu.emulator.desktop_client.client_secret not in page.content()


def test_c_back_and_next_move_between_pages_in_the_same_kernel(page: Any, app: dict[str, Any]) -> None:
    assert wait_until(lambda: kernels(app["proc"]) == [], DEADLINE), "the last test's page left its kernel"
    open_app(page, app["url"])
    assert wait_until(lambda: len(kernels(app["proc"])) == 1, DEADLINE)
    first = kernels(app["proc"])
    for index in range(1, len(STEPS)):
        move(page, "Next", index)
    for index in reversed(range(len(STEPS) - 1)):
        move(page, "Back", index)
    assert kernels(app["proc"]) == first


@pytest.mark.parametrize("profile", ["site-a", "fresh"])
def test_d_opening_every_page_changes_nothing_stored(page: Any, app: dict[str, Any], home: Path,
                                                     profile: str) -> None:
    from playwright.sync_api import expect

    before = stored(home)
    open_app(page, page_url(app, profile))
    for index in range(1, len(STEPS)):
        move(page, "Next", index)
        if index == 3 and profile == "fresh":  # 03 asks for nothing on opening; its button is there to click
            expect(page.get_by_role("button", name=START_03).filter(visible=True)).to_be_visible(timeout=LONG)
    for index in reversed(range(len(STEPS) - 1)):
        move(page, "Back", index)
    assert stored(home) == before


def header_verdict(panel: Any, step: str) -> Any:
    """The header's verdict chip of ``step`` ("03")."""
    return panel.locator(f".gapps-header [data-step='{step}']").filter(visible=True)


def test_d2_the_first_walk_turns_03_to_the_device_flow_without_a_reload(page: Any, app: dict[str, Any],
                                                                      emu: RunningEmulator, home: Path) -> None:
    """Authorized with the Desktop app flow; 01 switched to the device flow (openid only: Calendar is refused
    there), a TVs client stored on 02: 03 then offers the device flow, in the same page (no reload)."""
    from playwright.sync_api import expect

    from gapps_runbook.oauth import scopes

    assert wait_until(lambda: kernels(app["proc"]) == [], DEADLINE), "the last test's page left its kernel"
    authorized_ready_site(home, emu, "walk")
    open_app(page, page_url(app, "walk"))
    panel = page.locator(".gapps-app")
    expect(header_verdict(panel, "03")).to_have_attribute("data-verdict", "ok")
    for index in range(1, 4):
        move(page, "Next", index)
    expect(panel.get_by_text("Already authorized for these scopes.").filter(visible=True)).to_be_visible()
    for index in (2, 1):
        move(page, "Back", index)
    panel.locator(".widget-toggle-button", has_text=re.compile(r"^device$")).click()
    panel.get_by_label("Google Calendar API (calendar)").uncheck()
    panel.get_by_role("button", name="Save these choices").click()  # a changed choice is a preview until saved
    wanted = " ".join(sorted(scopes.scopes_for(("openid",))))
    facts = lambda: runbook.Site.open("walk", home=home).facts()  # noqa: E731
    assert wait_until(lambda: (facts()["flow"], facts()["scopes"]) == ("device", wanted), DEADLINE), facts()
    expect(header_verdict(panel, "02")).to_have_attribute("data-verdict", "stale", timeout=LONG)  # a desktop client
    move(page, "Next", 2)
    expect(panel.get_by_label("Client type")).to_have_value("TVs and Limited Input devices")  # 01 chose its flow
    client = emu.emulator.device_client
    panel.get_by_label("Client ID").fill(client.client_id)
    panel.get_by_label("Client ID").press("Enter")
    panel.get_by_label("Secret").fill(client.client_secret)
    panel.get_by_role("button", name="Save client").click()
    expect(panel.get_by_text("Saved in profile walk")).to_be_visible(timeout=LONG)
    expect(header_verdict(panel, "03")).to_have_attribute("data-verdict", "stale", timeout=LONG)
    move(page, "Next", 3)
    start_03(panel)
    expect(panel.locator(".widget-html-content div[style*='user-select']")).to_have_text(CODE_RE, timeout=LONG)
    text = panel.inner_text()
    assert "Already authorized" not in text and "desktop flow" not in text and "Desktop app" not in text
    expect(panel.locator("a.gapps-link-button")).to_have_count(0)
    expect(header_verdict(panel, "03")).to_have_attribute("data-verdict", "in progress", timeout=LONG)
    shoot(page, "app_03_after_switching_to_device", focus=None)


def test_d3_a_revoke_in_one_tab_is_refused_by_the_others_next_action(browser: dict[str, Any], app: dict[str, Any],
                                                                     emu: RunningEmulator, home: Path,
                                                                     tmp_path: Path) -> None:
    """Two tabs on one profile (two kernels): A revokes on 04; B, on 05 since before, refuses its Export with
    one line and shows no token; B's 04 then shows "No token"."""
    from playwright.sync_api import expect

    from gapps_runbook.notebook.step04 import TOKEN_CHANGED

    assert wait_until(lambda: kernels(app["proc"]) == [], DEADLINE), "the last test's page left its kernel"
    authorized_ready_site(home, emu, "tabs")
    first, second = (browser["context"].new_page() for _ in range(2))
    try:
        for one in (first, second):
            open_app(one, page_url(app, "tabs"))
        for index in range(1, 6):
            move(second, "Next", index)
        b = second.locator(".gapps-app")
        target = tmp_path / "tabs.age"
        b.get_by_label("Export to").fill(str(target))
        b.get_by_label("Passphrase").first.fill("correct horse battery staple")
        b.get_by_label("Again").fill("correct horse battery staple")
        expect(b.locator(".gapps-token")).to_have_attribute("data-health", "ok")

        for index in range(1, 5):
            move(first, "Next", index)
        a = first.locator(".gapps-app")
        a.get_by_role("button", name="Revoke...").click()
        a.get_by_role("button", name="Yes, revoke").click()
        expect(a.get_by_text("Revoked, and proven")).to_be_visible(timeout=LONG)
        expect(a.locator(".gapps-token")).to_have_attribute("data-health", "none", timeout=LONG)

        b.get_by_role("button", name="Export").click()
        expect(b.get_by_text(TOKEN_CHANGED)).to_be_visible(timeout=LONG)
        expect(b.locator(".gapps-token")).to_have_attribute("data-health", "none", timeout=LONG)
        expect(b.locator(".gapps-token")).to_have_text("no token")
        assert not target.exists()
        shoot(second, "app_05_token_changed_in_another_tab", focus=None)
        move(second, "Back", 4)
        expect(b.get_by_text("No token", exact=True)).to_be_visible(timeout=LONG)
    finally:
        for one in (first, second):
            one.close(run_before_unload=True)


def test_d4_00_after_a_denied_reauthorization_keeps_03_ok(page: Any, app: dict[str, Any], emu: RunningEmulator,
                                                          home: Path) -> None:
    """A good token, then "Authorize again" that the person denies: 03 stays ok on 00 and in the header,
    saying the stored token still works."""
    from playwright.sync_api import expect

    from gapps_runbook.emulator.records import Scenario

    assert wait_until(lambda: kernels(app["proc"]) == [], DEADLINE), "the last test's page left its kernel"
    site = authorized_ready_site(home, emu, "denied")
    token = site.profile.load_token()
    assert token is not None
    open_app(page, page_url(app, "denied"))
    for index in range(1, 4):
        move(page, "Next", index)
    panel = page.locator(".gapps-app")
    panel.get_by_role("button", name="Authorize again").click()
    button = panel.locator("a.gapps-link-button").filter(visible=True)
    expect(button).to_have_text("Open the sign-in page", timeout=LONG)
    emu.emulator.state.scenario = Scenario(deny=True)
    try:
        with page.context.expect_page(timeout=LONG) as opened:
            button.click()
        landing = opened.value
        expect(landing.locator("h1")).to_be_visible(timeout=LONG)  # the kernel's listener answered the denial
        landing.close()
        expect(panel.get_by_text(re.compile(r"^Error:")).filter(visible=True)).to_be_visible(timeout=LONG)
    finally:
        emu.emulator.state.scenario = Scenario()
    expect(panel.get_by_text("Already authorized for these scopes.").filter(visible=True)).to_be_visible()
    expect(header_verdict(panel, "03")).to_have_attribute("data-verdict", "ok", timeout=LONG)
    shoot(page, "app_03_denied_with_a_good_token", focus=None)
    for index in reversed(range(3)):
        move(page, "Back", index)
    row = panel.locator("tr", has=page.locator("td", has_text=re.compile(
        rf"^{STEPS[3].number} {STEPS[3].title.capitalize()}\b"))).filter(visible=True)
    expect(row.locator("td").nth(1)).to_have_text("ok", timeout=LONG)
    expect(row).to_contain_text(f"the stored token {token.token_id} still works")
    shoot(page, "app_00_after_a_denied_reauthorization", focus=None)


def test_e_closed_pages_leave_no_kernel(browser: dict[str, Any], app: dict[str, Any]) -> None:
    pages = [browser["context"].new_page() for _ in range(2)]
    for one in pages:
        open_app(one, app["url"])
    assert wait_until(lambda: len(kernels(app["proc"])) >= 2, DEADLINE)
    for one in pages:
        one.close(run_before_unload=True)
    assert wait_until(lambda: kernels(app["proc"]) == [], DEADLINE), \
        f"kernels still running after their pages closed: {kernels(app['proc'])}"
    text = Path(app["log"]).read_text(errors="replace")
    assert "'_xsrf' argument missing" not in text and "403 POST /voila/api/shutdown" not in text
    assert "no page connected" not in text  # the pages' own shutdown did it, not the backstop


def test_f_no_request_left_loopback(browser: dict[str, Any]) -> None:
    seen = browser["seen"]
    assert any("/voila/" in url for url in seen) and any(url.startswith("ws://") for url in seen)
    away = sorted({url for url in seen if urllib.parse.urlsplit(url).hostname not in LOOPBACK_HOSTS})
    assert away == []
