"""Authorized profiles against the embedded emulator, the quick way, shared by the end-to-end tests.

The Desktop app flow with an auto-approving emulator: ``browser`` plays the person's browser (it fetches
the consent page, which approves and redirects to the runbook's loopback listener).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
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


def free_port() -> int:
    """A port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def jupyterlab(root: Path, jupyter: Path, *, env: dict[str, str] | None = None,
               settings: dict[str, dict[str, object]] | None = None) -> Iterator[tuple[str, str, Path]]:
    """JupyterLab serving ``root`` on 127.0.0.1 with its own Jupyter folders under ``jupyter``; stopped on exit.

    Args:
        root: The folder it serves.
        jupyter: Its config, data, runtime, settings and log folder.
        env: Variables added to a copy of this process's environment (less JUPYTER_*, GAPPS_RUNBOOK_*, IPYTHON*).
        settings: User settings per plugin (``"docmanager-extension/plugin": {"autosaveInterval": 2}``); the
            news prompt is always answered "no", so nothing is fetched and no dialog covers the page.

    Yields:
        ``(url, token, log)`` once ``/api/status`` answers (within 60 s).
    """
    from gapps_runbook.commands.lab import answers, wait_until

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "GAPPS_RUNBOOK_", "IPYTHON"))}
    token = secrets.token_hex(16)
    clean.update(JUPYTER_CONFIG_DIR=str(jupyter / "config"), JUPYTER_DATA_DIR=str(jupyter / "data"),
                 JUPYTER_RUNTIME_DIR=str(jupyter / "runtime"), IPYTHONDIR=str(jupyter / "ipython"),
                 PYTHONUNBUFFERED="1", JUPYTER_TOKEN=token, **(env or {}))
    plugins = {"apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False}, **(settings or {})}
    for plugin, values in plugins.items():
        path = jupyter / "user-settings" / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    port, log = free_port(), jupyter / "jupyterlab.log"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}",
               "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.extension_manager=readonly", f"--LabApp.workspaces_dir={jupyter / 'workspaces'}",
               f"--LabApp.user_settings_dir={jupyter / 'user-settings'}"]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=clean, stdout=out, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: proc.poll() is None and answers(f"{url}/api/status?token={token}"), 60), \
            f"JupyterLab did not answer in 60 s (exit {proc.poll()}):\n{log.read_text()[-3000:]}"
        yield url, token, log
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
