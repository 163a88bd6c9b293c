"""The app keeps a person's place, in Chromium: ``gapps-runbook app`` as a subprocess (the fixtures of
:mod:`test_browser_app`), the emulator served in this process and approved at by the test, as a person would.

a. the page and the profile are in the address: a reload, Back and Forward return to the same page on the
   same profile; a profile switch on 00 rewrites the address, so a reload keeps it; Back moves between the
   app's pages;
b. leaving while step 03 waits asks first: answering "Stay" keeps the page, its kernel and the attempt
   (Voilà's own shutdown does not run); "Leave" ends that kernel;
c. a consent tab whose attempt was abandoned (its app page was reloaded): Allow lands on a page on the
   attempt's loopback port that says so, with a link back to step 03 on that profile; nothing is stored
   (``app_03_abandoned_landing.png``).

Each test starts from page 00 and moves with clicks: Chromium shows a ``beforeunload`` question only on a page
a person has used (its user activation).
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path
from typing import Any

from gapps_runbook import runbook
from gapps_runbook.commands.app import listening
from gapps_runbook.commands.lab import wait_until
from gapps_runbook.oauth.loopback_listener import ABANDONED_TITLE
from gapps_runbook.steps import STEPS

from app_browser import (APP_PROFILES, app, browser, expect_page, kernels, leave, move, open_app,  # noqa: F401
                         page, page_url)
from sites import BROWSER_MARKS, LONG, WAITING, shoot

READY_PROFILES = APP_PROFILES

pytestmark = BROWSER_MARKS
DEADLINE = LONG / 1000


def at(page: Any) -> dict[str, str]:
    """The page's address's query (``page``, ``profile``; the token), read from the page itself."""
    return dict(urllib.parse.parse_qsl(str(page.evaluate("location.search")).lstrip("?")))


def expect_at(page: Any, index: int, profile: str) -> None:
    """Page ``index`` on ``profile``: shown (its heading, the header's site) and in the address."""
    from playwright.sync_api import expect

    expect_page(page, index)
    expect(page.locator(".gapps-app .gapps-header").filter(visible=True)).to_contain_text(f"Site {profile}",
                                                                                          timeout=LONG)
    assert wait_until(lambda: (at(page).get("page"), at(page).get("profile")) == (STEPS[index].number, profile),
                      DEADLINE, poll=0.2), page.url


def start_waiting(page: Any) -> Any:
    """On 03 for a profile without a token: the Desktop app attempt waiting (a click starts it where 03 asks
    for one). Returns the app's panel."""
    from playwright.sync_api import expect

    panel = page.locator(".gapps-app")
    waiting = panel.get_by_text(WAITING).filter(visible=True)
    start = panel.get_by_role("button", name="Make the sign-in link").filter(visible=True)
    expect(waiting.or_(start)).to_be_visible(timeout=LONG)
    if start.count():
        start.click()
    expect(waiting).to_have_count(1, timeout=LONG)
    expect(panel.locator("a.gapps-link-button").filter(visible=True)).to_be_visible(timeout=LONG)
    return panel


def to_03_waiting(page: Any, app: dict[str, Any], profile: str) -> Any:
    """Open the app on ``profile``, click Next to 03, start the attempt; the panel."""
    open_app(page, page_url(app, profile))
    for index in range(1, 4):
        move(page, "Next", index)
    return start_waiting(page)


def test_a_reload_back_and_forward_keep_page_and_profile(page: Any, app: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    assert wait_until(lambda: kernels(app["proc"]) == [], DEADLINE), "the last test's page left its kernel"
    open_app(page, page_url(app, "site-a"))
    expect_at(page, 0, "site-a")
    for index in (1, 2):
        move(page, "Next", index)
    expect_at(page, 2, "site-a")

    page.reload()
    expect_at(page, 2, "site-a")
    page.go_back()
    expect_at(page, 1, "site-a")
    page.go_back()
    expect_at(page, 0, "site-a")
    page.go_forward()
    expect_at(page, 1, "site-a")
    page.go_forward()
    expect_at(page, 2, "site-a")

    for index in (1, 0):
        move(page, "Back", index)
    page.get_by_label("Profile").select_option("desk")  # 00's picker: the address follows, no new entry
    expect_at(page, 0, "desk")
    page.reload()
    expect_at(page, 0, "desk")
    expect(page.get_by_label("Profile")).to_have_value("desk")
    move(page, "Next", 1)
    expect_at(page, 1, "desk")
    page.go_back()  # within the app: the page before, on the profile it was on
    expect_at(page, 0, "desk")
    page.go_back()  # the entry Back made before the switch: 01 on site-a
    expect_at(page, 1, "site-a")
    page.go_forward()
    expect_at(page, 0, "desk")
    expect(page.get_by_label("Profile")).to_have_value("desk")
    shoot(page, "app_00_after_reload_back_forward", focus=None)


def test_b_leaving_while_03_waits_asks_first(page: Any, app: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    assert wait_until(lambda: kernels(app["proc"]) == [], DEADLINE), "the last test's page left its kernel"
    panel = to_03_waiting(page, app, "desk")
    before = kernels(app["proc"])
    assert len(before) == 1
    asked: list[str] = []

    def stay(dialog: Any) -> None:
        asked.append(dialog.type)
        dialog.dismiss()

    page.once("dialog", stay)
    page.evaluate("() => { setTimeout(() => location.reload(), 0); }")
    assert wait_until(lambda: page.evaluate("1") and asked, DEADLINE, poll=0.2), "no question before leaving"
    assert asked == ["beforeunload"]
    expect(panel.get_by_text(WAITING).filter(visible=True)).to_have_count(1)  # the same attempt, still counting
    expect_at(page, 3, "desk")
    countdown = panel.get_by_text(WAITING).filter(visible=True).inner_text()
    expect(panel.get_by_text(WAITING).filter(visible=True)).not_to_have_text(countdown, timeout=LONG)  # it ticks
    assert kernels(app["proc"]) == before, "the kernel was shut down although the person stayed"

    page.once("dialog", lambda dialog: (asked.append(dialog.type), dialog.accept()))
    page.reload()
    expect_at(page, 3, "desk")
    assert asked == ["beforeunload", "beforeunload"]
    assert wait_until(lambda: before[0] not in kernels(app["proc"]), DEADLINE), "the left page's kernel still runs"


def test_c_allow_after_the_attempt_was_abandoned_lands_on_a_page_that_says_so(page: Any, app: dict[str, Any],
                                                                             home: Path) -> None:
    from playwright.sync_api import expect

    assert wait_until(lambda: kernels(app["proc"]) == [], DEADLINE), "the last test's page left its kernel"
    panel = to_03_waiting(page, app, "desk")
    link = panel.locator("a.gapps-link-button").filter(visible=True)
    redirect = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link.get_attribute("href") or "").query))
    port = urllib.parse.urlsplit(redirect["redirect_uri"]).port
    assert port
    with page.context.expect_page(timeout=LONG) as opened:
        link.click()
    consent = opened.value
    expect(consent.get_by_role("heading", name=re.compile("wants access"))).to_be_visible(timeout=LONG)
    before = kernels(app["proc"])

    page.once("dialog", lambda dialog: dialog.accept())  # the person leaves: the attempt is abandoned
    page.reload()
    expect_at(page, 3, "desk")
    assert wait_until(lambda: before[0] not in kernels(app["proc"]), DEADLINE), "the left page's kernel still runs"
    assert wait_until(lambda: listening(port), DEADLINE), "nothing answers on the abandoned attempt's port"

    consent.get_by_role("button", name="Allow").click()
    expect(consent.locator("h1")).to_have_text(ABANDONED_TITLE, timeout=LONG)
    assert consent.url.startswith(f"http://127.0.0.1:{port}/")
    expect(consent.locator("#outcome")).to_contain_text("nothing was stored")
    shoot(consent, "app_03_abandoned_landing", focus=None)
    assert runbook.Site.open("desk", home=home).profile.load_token() is None

    consent.locator("#again").click()  # back to the app, at 03, on the attempt's profile
    expect_at(consent, 3, "desk")
    leave(consent)
