"""The no-code app in Chromium, set up once for the browser tests that drive it.

``app``: ``gapps-runbook --issuer <emulator> app --no-browser`` as a subprocess on the module's ``ready_home``
(a module sets ``READY_PROFILES = APP_PROFILES`` or its own); ``browser``: one Chromium context recording every
request; ``page``: a page per test that leaves as a person does (:func:`leave`); :func:`open_app`,
:func:`move`, :func:`expect_page` walk the pages; :func:`kernels` lists the app's kernels.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gapps_runbook.emulator import RunningEmulator
from gapps_runbook.steps import STEPS

from sites import (APP_READY, LONG, free_port, server_env, start_command,
                   shoot, stop_process)


DEADLINE = LONG / 1000  # s: conditions waited for (a 2-core machine shared with other work)


APP_PROFILES = {  # a module's READY_PROFILES (its ``home``): site-a at step 01 (device flow, openid, no client yet); fresh at 01-02, no token;
    # desk at 01-02 for the Desktop app flow (the emulator's desktop client, Calendar + openid), no token
    **{name: {"flow": "device", "services": ("openid",), "client": name == "fresh", "product": "gapps-runbook app test",
              "workspace": False} for name in ("site-a", "fresh")},
    "desk": {"flow": "desktop", "services": ("calendar", "openid"), "workspace": False},
}


@pytest.fixture(scope="module")
def app(ready_home: Path, emu: RunningEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``gapps-runbook app`` as a subprocess; its URL once it printed "The app is ready: URL"."""
    jupyter = tmp_path_factory.mktemp("jupyter")
    env = server_env(jupyter, GAPPS_RUNBOOK_HOME=str(ready_home))
    log = jupyter / "app.log"
    command = [sys.executable, "-m", "gapps_runbook", "--issuer", emu.base_url, "app", "--profile", "site-a",
               "--no-browser", "--port", str(free_port())]
    proc, seen = start_command(command, env, log)
    try:
        yield {"url": seen[-1].removeprefix(APP_READY), "proc": proc, "log": log}
    finally:
        stop_process(proc, 30)


def kernels(proc: subprocess.Popen[str]) -> list[int]:
    """The pids of the kernels the app started (its ipykernel descendants)."""
    import psutil

    found = []
    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            if any("ipykernel" in part for part in child.cmdline()):
                found.append(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found


def page_url(app: dict[str, Any], profile: str) -> str:
    """The printed URL with another ``?profile=``."""
    parts = urllib.parse.urlsplit(app["url"])
    query = dict(urllib.parse.parse_qsl(parts.query), profile=profile)
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


@pytest.fixture(scope="module")
def browser(chromium: Any) -> dict[str, Any]:
    """The module's Chromium context (sites.chromium), every request's URL (and websocket's) recorded."""
    seen: list[str] = []

    def record(route: Any) -> None:
        seen.append(route.request.url)
        route.continue_()

    chromium.route("**/*", record)
    chromium.on("page", lambda page: page.on("websocket", lambda ws: seen.append(ws.url)))
    return {"context": chromium, "seen": seen}


@pytest.fixture
def page(browser: dict[str, Any], app: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page, left as a person leaves it (``beforeunload`` runs: :func:`leave`); a screenshot on failure."""
    page = browser["context"].new_page()
    yield page
    if getattr(request.node, "failed", False) or sys.exc_info()[0] is not None:
        page.screenshot(path=str(Path(app["log"]).with_name(f"{request.node.name}.png")))
    if not page.is_closed():
        leave(page)


def leave(page: Any) -> None:
    """Leave ``page`` for another address, answering "Leave" when it asks first (step 03 waits), then close it:
    its kernel's shutdown request (sent on ``pagehide`` after that answer) passes the recording route while the
    page is still there to send it."""
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto("about:blank")
    page.close()


def open_app(page: Any, url: str) -> None:
    """Open the app at ``url`` and wait for page 00's form."""
    from playwright.sync_api import expect

    page.goto(url)
    expect(page.locator(".gapps-app .gapps-form").first).to_be_visible(timeout=LONG)
    expect_page(page, 0)


def expect_page(page: Any, index: int) -> None:
    """Page ``index`` is shown, with its form (not an error line)."""
    from playwright.sync_api import expect

    step = STEPS[index]
    expect(page.locator(".gapps-app h2")).to_have_text(f"{step.number} {step.title.capitalize()}", timeout=LONG)
    expect(page.locator(".gapps-app .gapps-form").first).to_be_visible(timeout=LONG)


def move(page: Any, button: str, index: int) -> None:
    """Click Back or Next (its accessible name starts with the icon's glyph); wait for page ``index``."""
    page.locator(f".gapps-app button[title='{button}']").click()
    expect_page(page, index)


def shot(page: Any, index: int) -> None:
    """Page ``index``'s final state as ``app_NN_<step>.png``, into ``$GAPPS_SCREENSHOTS`` when set."""
    shoot(page, f"app_{STEPS[index].notebook}", focus=None)


def stored(home: Path) -> dict[str, str]:
    """Every file under ``home`` -> the sha256 of its bytes."""
    return {str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(home.rglob("*")) if p.is_file()}

