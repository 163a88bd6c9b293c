"""First contact with a workspace: ``gapps-runbook lab`` as a person first opens it, in Chromium.

``gapps-runbook --home HOME lab --emulator --no-browser`` runs as a subprocess (JupyterLab and the emulator
on free ports, Jupyter's own folders empty: no user setting answers the news question for it). Then:

a. the workspace's JupyterLab shows no "official Jupyter news" toast (nor any other notification) once
   notebook 00 is open with its kernel idle, its page config disables the announcements plugin, and the
   user's Jupyter config folder is left as it was (nothing written there);
b. each step notebook opens with how to run it, and after Run > Run All Cells its form is in view (no
   scrolling needed), 03 included with its card waiting for the browser.

With ``GAPPS_SCREENSHOTS=docs/screenshots`` the views are saved as ``lab_first_*.png``.
Skipped only when ``/usr/bin/chromium`` is missing.
"""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from gapps_runbook import runbook
from gapps_runbook.emulator.command import PORT_ENV
from gapps_runbook.oauth import scopes
from gapps_runbook.runs.workspace import ANNOUNCEMENTS
from gapps_runbook.steps import STEPS

from sites import BROWSER_MARKS, KERNEL_IDLE, LONG, START_03, free_port, server_env, shoot, stop_process

pytestmark = BROWSER_MARKS
PROFILE = "first"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``gapps-runbook lab --emulator`` on free ports, its own empty Jupyter folders; steps 01-02 of
    profile ``first`` done with the emulator's Desktop app client (its JSON from the emulator's page)."""
    root = tmp_path_factory.mktemp("first")
    home, jupyter = root / "home", root / "jupyter"
    env = server_env(jupyter, **{PORT_ENV: "0", "JUPYTER_DATA_DIR": str(jupyter / "data")})
    command = [sys.executable, "-m", "gapps_runbook", "--home", str(home), "--profile", PROFILE, "lab", "--emulator",
               "--no-browser", "--port", str(free_port())]
    log = root / "lab.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or ()], daemon=True).start()
    try:
        found: dict[str, str] = {}
        while "lab" not in found:
            line = lines.get(timeout=LONG / 1000).strip()
            started = re.match(r"Started the practice emulator on (http://127\.0\.0\.1:\d+) ", line)
            if started:
                found["emulator"] = started.group(1)
            if line.startswith("JupyterLab is ready: "):
                found["lab"] = line.removeprefix("JupyterLab is ready: ")
        _ready_01_02(home, found["emulator"])
        yield {**found, "home": home, "log": log, "config": jupyter / "config"}
    finally:
        stop_process(proc, 30)


def _ready_01_02(home: Path, emulator: str) -> None:
    """Steps 01 (Calendar, Desktop app flow) and 02 (the client JSON the emulator's page offers) for ``first``."""
    facts = requests.get(emulator + "/", headers={"Accept": "application/json"}, timeout=30).json()
    desktop = next(c for c in facts["clients"] if c["client_type"] == "desktop")
    installed = requests.get(desktop["client_json_url"], timeout=30).json()["installed"]
    site = runbook.Site.open(PROFILE, home=home, issuer=emulator)
    runbook.check_console(site, scopes.scopes_for(("calendar", "openid")), flow="desktop",
                          publishing_status="production")
    runbook.save_client(site, client_id=installed["client_id"], client_secret=installed["client_secret"],
                        client_type="desktop")


def lab_url(lab: dict[str, Any], notebook: str) -> str:
    """The printed URL opened at ``notebook`` (a fresh layout: ``reset``), its token kept."""
    parts = urllib.parse.urlsplit(lab["lab"])
    token = urllib.parse.parse_qs(parts.query)["token"][0]
    return urllib.parse.urlunsplit(parts._replace(path=f"/lab/tree/{notebook}",
                                                  query=urllib.parse.urlencode({"reset": "", "token": token})))


def test_a_the_workspace_shows_no_news_toast(chromium: Any, lab: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    page = chromium.new_page()
    try:
        page.goto(lab_url(lab, f"{STEPS[0].notebook}.ipynb"))
        expect(page.get_by_role("button", name=KERNEL_IDLE)).to_be_visible(timeout=LONG)
        # the announcements plugin would have asked once the app was restored, before the kernel was idle
        expect(page.get_by_text(re.compile("Jupyter news"))).to_have_count(0)
        expect(page.locator(".jp-Notification-Toast, .Toastify__toast")).to_have_count(0)
        config = json.loads(page.locator("#jupyter-config-data").text_content() or "{}")
        assert ANNOUNCEMENTS in config["disabledExtensions"]
        shoot(page, "lab_first_00_opened", focus=None)
    finally:
        page.close()
    written = sorted(str(p.relative_to(lab["config"])) for p in lab["config"].rglob("*") if p.is_file()) \
        if lab["config"].exists() else []
    assert not [name for name in written if "labconfig" in name or "overrides" in name]  # the user's folder


@pytest.mark.parametrize("step", range(len(STEPS)), ids=[s.notebook for s in STEPS])
def test_b_after_run_all_the_form_is_in_view(chromium: Any, lab: dict[str, Any], step: int) -> None:
    from playwright.sync_api import expect

    name = f"{STEPS[step].notebook}.ipynb"
    page = chromium.new_page()
    try:
        page.goto(lab_url(lab, name))
        expect(page.get_by_role("button", name=KERNEL_IDLE)).to_be_visible(timeout=LONG)
        panel = page.locator(".jp-NotebookPanel:visible .jp-Notebook")
        expect(panel.locator(".jp-MarkdownCell").first).to_contain_text("Run > Run All Cells")
        page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=name).click()
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        form = panel.locator(".gapps-form").filter(visible=True).first
        expect(form).to_be_visible(timeout=LONG)
        if step == 3:
            expect(form.get_by_role("button", name=START_03)).to_be_visible(timeout=LONG)  # 03 waits for a click
        expect(page.get_by_role("button", name=KERNEL_IDLE)).to_be_visible(timeout=LONG)
        expect(form).to_be_in_viewport(ratio=0.5 if step != 1 else 0.2)
        shoot(page, f"lab_first_{STEPS[step].notebook}_run_all", focus=None)
    except BaseException:
        page.screenshot(path=str(Path(lab["log"]).with_name(f"{STEPS[step].notebook}-failed.png")))
        raise
    finally:
        page.close()
