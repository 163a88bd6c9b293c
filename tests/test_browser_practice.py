"""Practice without a terminal: from ``gapps-runbook app --emulator`` to an exported token, in the browser alone.

``gapps-runbook --home HOME app --emulator --no-browser`` runs as a subprocess, the app and the emulator it
starts both on free ports (``--port``, ``GAPPS_RUNBOOK_EMULATOR_PORT=0``); nothing is set up beforehand: no
profile, no client, no token. Chromium then does what a person does, typing no code and no command:

1. app 00: what the runbook does, and why Calendar and Contacts use the Desktop app flow;
2. 01: Calendar and Contacts ticked, the Desktop app flow, every console item ticked;
3. 02: its link to the emulator's page opens it in a new tab; "Download client JSON" of the Desktop app client
   (labelled practice only); the file uploaded on 02: the form fills itself and says "saved" beside the upload;
4. 03: the Desktop app (loopback) flow: the emulator's consent page, as Google's, in a new tab; Allow;
5. 04: Verify: Calendar and Contacts allowed, Gmail refused;
6. 05: a passphrase, Export: the success line.

The profile on disk then holds that client and a token for Calendar and Contacts, and no request left
loopback. With ``GAPPS_SCREENSHOTS=docs/screenshots`` each step's page is saved as ``practice_*.png``.
Skipped only when ``/usr/bin/chromium`` is missing.
"""

from __future__ import annotations

import json
import re
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gapps_runbook import runbook
from gapps_runbook.emulator.command import PORT_ENV
from gapps_runbook.emulator.landing import PRACTICE_ONLY
from gapps_runbook.oauth.endpoints import LOOPBACK_HOSTS
from gapps_runbook.oauth.scopes import SERVICES
from gapps_runbook.steps import STEPS

from sites import APP_READY, BROWSER_MARKS, LONG, START_03, free_port, server_env, shoot, start_command, stop_process

pytestmark = BROWSER_MARKS
PROFILE = "practice"
PASSPHRASE = "staple orbit lantern meadow 42"


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``gapps-runbook app --emulator`` on free ports (its own home and Jupyter folders): the app's URL, the
    emulator's URL (both as printed), the home, and where the export goes."""
    root = tmp_path_factory.mktemp("practice")
    home, jupyter = root / "home", root / "jupyter"
    env = server_env(jupyter, **{PORT_ENV: "0", "JUPYTER_DATA_DIR": str(jupyter / "data")})
    command = [sys.executable, "-m", "gapps_runbook", "--home", str(home), "app", "--emulator", "--profile", PROFILE,
               "--no-browser", "--port", str(free_port())]
    log = root / "app.log"
    proc, seen = start_command(command, env, log)
    try:
        found = {"app": seen[-1].removeprefix(APP_READY)}
        for line in seen:
            started = re.match(r"Started the practice emulator on (http://127\.0\.0\.1:\d+) ", line)
            if started:
                found["emulator"] = started.group(1)
        assert "emulator" in found, "the app did not start the practice emulator"
        assert not found["emulator"].endswith(":8765"), "the test's emulator took the practice port"
        yield {**found, "home": home, "log": log, "export": root / "practice.age"}
    finally:
        stop_process(proc, 30)


@pytest.fixture
def seen(chromium: Any) -> list[str]:
    """Every URL the browser asks for (pages, scripts, websockets)."""
    urls: list[str] = []

    def record(route: Any) -> None:
        urls.append(route.request.url)
        route.continue_()

    chromium.route("**/*", record)
    chromium.on("page", lambda page: page.on("websocket", lambda ws: urls.append(ws.url)))
    return urls


def expect_page(page: Any, index: int) -> None:
    """App page ``index`` is shown, with its form."""
    from playwright.sync_api import expect

    step = STEPS[index]
    expect(page.locator(".gapps-app h2")).to_have_text(f"{step.number} {step.title.capitalize()}", timeout=LONG)
    expect(page.locator(".gapps-app .gapps-form").first).to_be_visible(timeout=LONG)


NO_CODE = re.compile(r"\$[A-Z_]{3,}|~/|from_authorized_user_file|\w+ = '|import \w+")
"""What an app page must not show: an unexpanded variable, a home-relative path, Python."""


def next_page(page: Any, index: int) -> None:
    """Click Next; wait for page ``index``, the last one checked for code first."""
    shown = page.locator(".gapps-app").inner_text()
    assert not NO_CODE.search(shown), NO_CODE.search(shown)
    page.locator(".gapps-app button[title='Next']").click()
    expect_page(page, index)


def download_client_json(page: Any, emulator: str, folder: Path) -> tuple[Path, str]:
    """From 02's link, the emulator's page in a new tab: download the Desktop app client's JSON as a person does.

    Returns:
        The saved file and the client ID the page lists beside the link.
    """
    from playwright.sync_api import expect

    link = page.locator(".gapps-app a.gapps-practice-page")
    expect(link).to_have_attribute("href", emulator + "/")
    with page.context.expect_page(timeout=LONG) as opened:
        link.click()
    landing = opened.value
    desktop = landing.locator("ul.clients li", has_text="(Desktop app)")
    expect(desktop).to_have_count(1, timeout=LONG)
    expect(desktop.locator(".practice")).to_have_text(PRACTICE_ONLY)
    client_id = desktop.locator("code").first.inner_text()
    shoot(landing, "practice_emulator_landing", focus=None)
    with landing.expect_download(timeout=LONG) as started:
        desktop.get_by_role("link", name="Download client JSON").click()
    download = started.value
    assert download.suggested_filename == f"client_secret_{client_id}.json"  # the console's file name
    target = folder / download.suggested_filename
    download.save_as(str(target))
    landing.close()
    return target, client_id


def intro_00(page: Any) -> None:
    """00 opens with what the runbook does and why Calendar and Contacts use the Desktop app flow."""
    from playwright.sync_api import expect

    from gapps_runbook.notebook.step00 import INTRO

    panel = page.locator(".gapps-app")
    for line in INTRO:
        expect(panel.get_by_text(line, exact=True)).to_be_visible(timeout=LONG)
    assert "device flow" in INTRO[-1] and "refuses" in INTRO[-1]
    shoot(page, "practice_00_start_here", focus=None)


def tick_01(page: Any) -> None:
    """01: Calendar and Contacts (and nothing else), the Desktop app flow, in production; every item ticked."""
    from playwright.sync_api import expect

    panel = page.locator(".gapps-app")
    for key in SERVICES:
        box = panel.get_by_label(re.compile(rf"\({key}\)$"))
        box.set_checked(key in ("calendar", "contacts"))
    panel.locator(".widget-toggle-button", has_text=re.compile(r"^desktop$")).click()
    panel.get_by_label("Publishing").select_option(label="In production")
    panel.get_by_role("button", name="Save these choices").click()
    expect(panel.get_by_text(f"Saved in profile {PROFILE}")).to_be_visible(timeout=LONG)
    items = panel.locator(".gapps-wrap input[type=checkbox]")
    expect(items.first).to_be_visible(timeout=LONG)
    for index in range(items.count()):
        items.nth(index).check()
    expect(panel.get_by_text(re.compile(r"^Checklist: complete \("))).to_be_visible(timeout=LONG)
    shoot(page, "practice_01_checklist", focus=None)


def upload_02(page: Any, path: Path, client_id: str) -> None:
    """02: the file uploaded; the form shows the client and says so beside the upload."""
    from playwright.sync_api import expect

    panel = page.locator(".gapps-app")
    upload = panel.locator(".widget-upload")
    with page.expect_file_chooser(timeout=LONG) as chooser:
        upload.click()  # the browser's file dialog, as a person picks the downloaded file
    chooser.value.set_files(str(path))
    note = panel.locator(".widget-hbox", has=page.locator(".widget-upload")).get_by_text(re.compile(rf"saved its client in profile {PROFILE}"))
    expect(note).to_be_visible(timeout=LONG)  # beside the upload control, not beside Save
    expect(upload).to_have_text(re.compile(r"Client JSON \(1\)"))
    expect(panel.get_by_label("Client ID")).to_have_value(client_id)
    expect(panel.get_by_label("Client type")).to_have_value("Desktop app")
    expect(panel.locator(".widget-hbox", has=page.get_by_role("button", name="Save client"))).not_to_contain_text(
        "Saved")
    shoot(page, "practice_02_uploaded", focus=None)


def authorize_03(page: Any) -> None:
    """03: start the Desktop app flow with a click (03 sends nothing before one), Allow on the emulator's consent
    page in the tab it opens; the card says "Authorized"."""
    from playwright.sync_api import expect

    panel = page.locator(".gapps-app")
    link = panel.locator("a.gapps-link-button").filter(visible=True)
    start = panel.get_by_role("button", name=START_03).filter(visible=True)
    expect(start).to_be_visible(timeout=LONG)
    expect(link).to_have_count(0)  # no sign-in link before the click
    start.click()
    expect(link).to_be_visible(timeout=LONG)
    shoot(page, "practice_03_waiting", focus=None)
    with page.context.expect_page(timeout=LONG) as opened:
        link.click()
    consent = opened.value
    expect(consent.get_by_role("heading", name=re.compile("wants access to your Google Account"))).to_be_visible(
        timeout=LONG)
    text = consent.locator("body").inner_text()
    assert "Calendar" in text and "contacts" in text.lower()
    consent.get_by_role("button", name="Allow").click()
    expect(consent.locator("h1")).to_have_text("Authorized", timeout=LONG)  # the kernel's loopback listener
    consent.close()
    expect(panel.get_by_text("Authorized", exact=True).filter(visible=True).first).to_be_visible(timeout=LONG)
    shoot(page, "practice_03_authorized", focus=None)


def verify_04(page: Any) -> None:
    """04: Verify: Calendar and Contacts allowed, Gmail refused, as expected."""
    from playwright.sync_api import expect

    panel = page.locator(".gapps-app")
    panel.get_by_role("button", name=re.compile(r"Verify")).click()
    report = panel.locator("pre", has_text="Gmail").filter(has_not_text="summary for profile")  # not the ticket's
    expect(report).to_be_visible(timeout=LONG)
    for line in ("ok  Calendar calendarList.list: allowed, as expected",
                 "ok  Contacts people.connections.list: allowed, as expected",
                 "ok  Gmail users.getProfile: refused, as expected"):
        expect(report).to_contain_text(line)
    text = panel.inner_text()
    assert not NO_CODE.search(text) and "$" not in text  # no code, no variable
    token_file = Path(text.split("Token file: ", 1)[1].split(" ", 1)[0])
    assert token_file.is_absolute() and token_file.is_file()  # the real path, to copy
    shoot(page, "practice_04_verified", focus=None)


def export_05(page: Any, target: Path) -> None:
    """05: a passphrase (twice) and Export; the success line."""
    from playwright.sync_api import expect

    panel = page.locator(".gapps-app")
    where = panel.get_by_label("Export to")
    if where.count() == 1:  # the file's place (a default folder under the runbook home where the form has one)
        where.fill(str(target))
    panel.get_by_label("Passphrase").first.fill(PASSPHRASE)
    panel.get_by_label("Again").fill(PASSPHRASE)
    panel.get_by_role("button", name=re.compile(r"^\W*Export$")).click()
    expect(panel.get_by_text(re.compile(rf"Exported {PROFILE} to ")).filter(visible=True).first).to_be_visible(
        timeout=LONG)
    shoot(page, "practice_05_exported", focus=None)


def test_a_no_code_practice_run_from_the_emulators_page_to_an_exported_token(
        chromium: Any, practice: dict[str, Any], seen: list[str], tmp_path: Path) -> None:
    page = chromium.new_page()
    try:
        page.goto(practice["app"])
        expect_page(page, 0)
        intro_00(page)
        next_page(page, 1)
        tick_01(page)
        next_page(page, 2)
        path, client_id = download_client_json(page, practice["emulator"], tmp_path)
        assert json.loads(path.read_text())["installed"]["client_id"] == client_id
        upload_02(page, path, client_id)
        next_page(page, 3)
        authorize_03(page)
        next_page(page, 4)
        verify_04(page)
        next_page(page, 5)
        export_05(page, practice["export"])
    except BaseException:
        page.screenshot(path=str(Path(practice["log"]).with_name("practice-failed.png")))
        raise
    finally:
        page.close(run_before_unload=True)

    site = runbook.Site.open(PROFILE, home=practice["home"], issuer=practice["emulator"])
    client, token = site.profile.load_client(), site.profile.load_token()
    assert client is not None and (client.client_id, client.client_type) == (client_id, "desktop")
    assert token is not None
    assert {SERVICES["calendar"].scopes[0], SERVICES["contacts"].scopes[0]} <= set(token.scopes)
    assert client.client_secret not in Path(practice["log"]).read_text(errors="replace")
    away = sorted({url for url in seen if urllib.parse.urlsplit(url).hostname not in LOOPBACK_HOSTS})
    assert away == []
