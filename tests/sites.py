"""Authorized profiles against the embedded emulator, the quick way, shared by the end-to-end tests.

The Desktop app flow with an auto-approving emulator: ``browser`` plays the person's browser (it fetches
the consent page, which approves and redirects to the runbook's loopback listener).
"""

from __future__ import annotations

import queue
import subprocess
import threading
from pathlib import Path

import requests

from gapps_runbook import runbook
from gapps_runbook.emulator import RunningEmulator
from gapps_runbook.oauth.transport import RequestsTransport, Transport
from gapps_runbook.profile.store import ProfileStore

CALENDAR = "https://www.googleapis.com/auth/calendar.readonly"


def browser(url: str) -> None:
    """The person's browser: fetch the consent page (auto-approved) and follow the redirect home."""
    threading.Thread(target=requests.get, args=(url,), kwargs={"timeout": 30}, daemon=True).start()


def authorized_site(home: Path, running: RunningEmulator, name: str = "site-a", *,
                    transport: Transport | None = None) -> runbook.Site:
    """Profile ``name`` under ``home`` with the emulator's desktop client and a Calendar token."""
    site = runbook.Site(ProfileStore(home).profile(name), transport or RequestsTransport(), issuer=running.base_url)
    desktop = running.emulator.desktop_client
    runbook.save_client(site, client_id=desktop.client_id, client_secret=desktop.client_secret, client_type="desktop")
    runbook.authorize(site, (CALENDAR,), flow="desktop", open_url=browser, timeout=60)
    return site


def emulator_process(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str, list[str]]:
    """Start ``gapps-runbook emulator`` (``argv``: the whole command) as a subprocess and wait for its ready line.

    Returns:
        The process, the base URL it printed, and every line it printed up to the ready line.
    """
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**env, "PYTHONUNBUFFERED": "1"})
    lines: queue.Queue[str] = queue.Queue()
    output = process.stdout
    assert output is not None
    threading.Thread(target=lambda: [lines.put(line) for line in output], daemon=True).start()
    seen: list[str] = []
    while not seen or not seen[-1].startswith("Emulator ready at "):
        seen.append(lines.get(timeout=30).rstrip("\n"))
    return process, seen[-1].removeprefix("Emulator ready at "), seen
