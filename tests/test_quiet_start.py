"""``lab`` and ``app`` print the URL and the emulator's line and nothing else on a healthy start.

Each command runs as a real subprocess (``--emulator`` on port 0, the server on a free port) and is used
as a person's first minute uses it: ``lab`` opens notebook 00 and a kernel with its websocket; ``app``
opens its page (its kernel runs the page) and the page's websocket; then each again in Chromium, until
the first usable page (app page 00's form; notebook 00 with its kernel idle), so the page's own requests
count too. Everything either printed is then one of its own lines, the emulator's line and the ready
line (the URL) once each: no server INFO line, no warning (traitlets' DeprecationWarning, a 403 for
the readiness probe, "is not trusted", "Kernel is running over TCP without encryption", tornado's
websocket ping warning).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from gapps_runbook.emulator.command import PORT_ENV

from sites import BROWSER_MARKS, KERNEL_IDLE, LONG, free_port, stop_process

OWN_LINES = {
    "lab": re.compile(r"Workspace .*|  new copies: .*|Started the practice emulator on .*|"
                      r"Starting JupyterLab on .*|JupyterLab is ready: .*"),
    "app": re.compile(r"Started the practice emulator on .*|Starting the app on .*|The app is ready: .*"),
}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def wait_for(check: Callable[[], object], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Callable[[str], tuple[subprocess.Popen[str], str, Path]]]:
    """``start(command)``: ``gapps-runbook COMMAND --emulator`` once it printed its URL; stopped at teardown."""
    procs: list[subprocess.Popen[str]] = []

    def start(command: str) -> tuple[subprocess.Popen[str], str, Path]:
        jupyter, printed = tmp_path / "jupyter", tmp_path / f"{command}.out"
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "GAPPS_RUNBOOK_", "PYTHONWARN"))},
               PORT_ENV: "0", "JUPYTER_CONFIG_DIR": str(jupyter / "config"), "JUPYTER_DATA_DIR": str(jupyter / "data"),
               "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"), "IPYTHONDIR": str(jupyter / "ipython"),
               "PYTHONUNBUFFERED": "1"}
        with printed.open("w") as out:
            proc = subprocess.Popen([sys.executable, "-m", "gapps_runbook", "--home", str(tmp_path / "home"), command,
                                     "--emulator", "--no-browser", "--port", str(free_port())],
                                    env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        procs.append(proc)
        assert wait_for(lambda: "is ready: " in printed.read_text() or proc.poll() is not None, 180), printed.read_text()
        url = re.search(r"is ready: (\S+)", printed.read_text())
        assert url and proc.poll() is None, printed.read_text()
        return proc, url.group(1), printed

    yield start
    for proc in procs:
        stop_process(proc, 30)


def open_channels(ws_url: str, headers: dict[str, str]) -> None:
    """Open a kernel's websocket as the page does, wait for the kernel's status on it, close it."""

    async def run() -> None:
        ws = await websocket_connect(HTTPRequest(ws_url, headers=headers, connect_timeout=60))
        try:
            message = await asyncio.wait_for(ws.read_message(), 60)
            assert message is not None
        finally:
            ws.close()

    asyncio.run(run())


def foreign_lines(command: str, printed: Path) -> list[str]:
    return [line for line in printed.read_text().splitlines() if not OWN_LINES[command].fullmatch(line)]


def assert_url_and_emulator_once(printed: Path) -> None:
    """The emulator's line (``--emulator`` on a free port: started) and the URL's ready line, each printed once."""
    lines = printed.read_text().splitlines()
    assert sum(line.startswith("Started the practice emulator on http://127.0.0.1:") for line in lines) == 1, lines
    assert sum(" is ready: http://127.0.0.1:" in line for line in lines) == 1, lines


def test_a_healthy_lab_start_prints_its_own_lines_only(started: Callable[..., tuple]) -> None:
    proc, url, printed = started("lab")
    base = url.split("/lab/")[0]
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["token"][0]
    auth = {"Authorization": f"token {token}"}
    assert requests.get(base + "/api/contents/00_start_here.ipynb", headers=auth, timeout=60).status_code == 200
    kernel = requests.post(base + "/api/kernels", headers=auth, json={"name": "python3"}, timeout=60).json()["id"]
    ws = base.replace("http://", "ws://") + f"/api/kernels/{kernel}/channels?session_id=quiet-start"
    open_channels(ws, auth)
    assert wait_for(lambda: requests.get(base + f"/api/kernels/{kernel}", headers=auth, timeout=30)
                    .json().get("execution_state") == "idle", 120)
    assert proc.poll() is None
    assert foreign_lines("lab", printed) == []
    assert_url_and_emulator_once(printed)


def test_a_healthy_app_start_prints_its_own_lines_only(started: Callable[..., tuple]) -> None:
    proc, url, printed = started("app")
    session = requests.Session()
    page = session.get(url, timeout=180)  # the page's kernel starts and runs the page now
    assert page.status_code == 200
    kernel = re.search(r"kernelId\W+(" + UUID.pattern + ")", page.text)
    assert kernel, "no kernel id on the page"
    base = url.split("/?")[0].replace("http://", "ws://")
    cookies = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
    open_channels(f"{base}/api/kernels/{kernel.group(1)}/channels?session_id=quiet-start", {"Cookie": cookies})
    assert proc.poll() is None
    assert foreign_lines("app", printed) == []
    assert_url_and_emulator_once(printed)


FIRST_PAGE = {
    "app": ".gapps-app .gapps-form",  # page 00's form, rendered by the page's widget manager
    "lab": ".jp-NotebookPanel:visible",  # notebook 00's panel (its kernel idle: KERNEL_IDLE below)
}


@pytest.mark.parametrize("command", [pytest.param(command, marks=BROWSER_MARKS) for command in ("lab", "app")])
def test_a_start_used_in_chromium_prints_its_own_lines_only(started: Callable[..., tuple], chromium: Any,  # noqa: F811
                                                            command: str) -> None:
    """What the page itself asks for (static files, settings, the kernel's websocket, the widgets' comms) prints
    nothing either."""
    from playwright.sync_api import expect

    proc, url, printed = started(command)
    page = chromium.new_page()
    try:
        page.goto(url)
        expect(page.locator(FIRST_PAGE[command]).first).to_be_visible(timeout=LONG)
        if command == "lab":
            expect(page.get_by_role("button", name=KERNEL_IDLE)).to_be_visible(timeout=LONG)
    finally:
        page.close()
    assert proc.poll() is None
    assert foreign_lines(command, printed) == []
    assert_url_and_emulator_once(printed)
