"""Authorized profiles against the embedded emulator, the quick way, shared by the end-to-end tests.

The Desktop app flow with an auto-approving emulator: ``browser`` plays the person's browser (it fetches
the consent page, which approves and redirects to the runbook's loopback listener). The CLI tests' helpers:
:func:`secret_file`, :func:`json_lines`, :func:`one_line_error`.

The browser tests (``tests/test_browser_*.py``) share the rest: the fixtures ``lab``, ``chromium`` and ``page``
(in ``conftest.py``), :func:`ready_site` (steps 01-02 done), :func:`jupyterlab`,
:func:`open_and_run`, :func:`save` and :func:`shoot` (``GAPPS_SCREENSHOTS=docs/screenshots``), and step 03's
Desktop app card as a person uses it (:data:`WAITING`, :func:`approve_in_new_tab`) in JupyterLab and in the app.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from gapps_runbook import runbook
from gapps_runbook.emulator import RunningEmulator
from gapps_runbook.oauth.transport import RequestsTransport, Transport
from gapps_runbook.profile.store import ProfileStore

CALENDAR = "https://www.googleapis.com/auth/calendar.readonly"
REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-gpu", "--no-first-run"]
KERNEL_IDLE = re.compile(r"^Python 3 \(ipykernel\) \| Idle$")
LONG = 90_000  # ms: a 2-core machine shared with other work
WAITING = re.compile(r"Waiting for approval in the browser \((9 min \d+ s|10 min|\d+ min \d+ s) left, "
                     r"until \d\d:\d\d UTC\)")
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.timeout(300),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (install Debian's chromium package)"),
]
"""``pytestmark`` of a browser test module: skipped, with the reason shown, where Chromium is missing."""


def browser(url: str) -> bool:
    """The person's browser (a ``webbrowser.open``): fetch the consent page (auto-approved), follow the redirect home."""
    threading.Thread(target=requests.get, args=(url,), kwargs={"timeout": 30}, daemon=True).start()
    return True


def authorized_site(home: Path, running: RunningEmulator, name: str = "site-a", *,
                    transport: Transport | None = None) -> runbook.Site:
    """Profile ``name`` under ``home`` with the emulator's desktop client and a Calendar token."""
    site = runbook.Site(ProfileStore(home).profile(name), transport or RequestsTransport(), issuer=running.base_url)
    desktop = running.emulator.desktop_client
    runbook.save_client(site, client_id=desktop.client_id, client_secret=desktop.client_secret, client_type="desktop")
    runbook.authorize(site, (CALENDAR,), flow="desktop", open_url=browser, timeout=60)
    return site


def secret_file(tmp_path: Path, value: str) -> Path:
    """``<tmp_path>/secret.txt`` holding ``value`` and a newline, mode 0600 (for ``--secret-file``)."""
    path = tmp_path / "secret.txt"
    path.write_text(value + "\n")
    path.chmod(0o600)
    return path


def cli_with_desktop_client(tmp_path: Path, running: RunningEmulator, profile: str) -> list[str]:
    """Store the emulator's Desktop app client in ``profile`` through the CLI (``--issuer`` the emulator, the
    secret from a 0600 file); return the common CLI options (home, profile, issuer)."""
    from gapps_runbook import cli

    base = ["--home", str(tmp_path / "home"), "--profile", profile, "--issuer", running.base_url]
    secret = secret_file(tmp_path, running.emulator.desktop_client.client_secret)
    assert cli.run([*base, "client", "set", "--client-id", running.emulator.desktop_client.client_id,
                    "--client-type", "desktop", "--secret-file", str(secret)]) == 0
    return base


def json_lines(out: str) -> list[dict]:
    """The JSON values a command printed (one-line events; other commands print one indented object)."""
    decoder, values, index = json.JSONDecoder(), [], 0
    while index < len(out):
        if out[index].isspace():
            index += 1
            continue
        value, index = decoder.raw_decode(out, index)
        values.append(value)
    return values


def one_line_error(stderr: str) -> str:
    """The one ``error:`` line of a refused command, with its ``Fix:``; no traceback."""
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert "Fix:" in lines[0]
    return lines[0]


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


APP_READY = "The app is ready: "
"""The line ``gapps-runbook app`` prints once its first page can be opened, before the URL."""


def server_env(jupyter: Path, **extra: str) -> dict[str, str]:
    """This process's environment less JUPYTER_*, GAPPS_RUNBOOK_*, IPYTHON*, VOILA*, with Jupyter's config,
    runtime and IPython folders under ``jupyter`` (a server's own), unbuffered output, and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "GAPPS_RUNBOOK_", "IPYTHON", "VOILA"))}
    env.update(JUPYTER_CONFIG_DIR=str(jupyter / "config"), JUPYTER_RUNTIME_DIR=str(jupyter / "runtime"),
               IPYTHONDIR=str(jupyter / "ipython"), PYTHONUNBUFFERED="1")
    return {**env, **extra}


def start_command(command: list[str], env: dict[str, str], log: Path) -> tuple[subprocess.Popen[str], list[str]]:
    """Start ``command`` (stderr to ``log``) and wait for ``gapps-runbook app``'s ready line on its stdout.

    Returns:
        The process, and every stdout line (stripped) up to the ready line, which is last.
    """
    with log.open("wb") as err:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or ()], daemon=True).start()
    seen: list[str] = []
    try:
        while not seen or not seen[-1].startswith(APP_READY):
            seen.append(lines.get(timeout=LONG / 1000).strip())
    except BaseException:
        stop_process(proc, 30)
        raise
    return proc, seen


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
        stop_process(proc, 15)


def ready_site(home: Path, emu: RunningEmulator, name: str, *, flow: str, services: tuple[str, ...],
               secret: str | None = None, product: str = "", client: bool = True, workspace: bool = True) -> None:
    """Profile ``name`` with steps 01 (``flow``, ``services``, published) and 02 (the emulator's client of
    that flow; ``secret`` instead of its own for a refused one) done, and its workspace made as ``lab`` does."""
    from gapps_runbook.oauth import scopes
    from gapps_runbook.runs.step_notebooks import notebooks_dir
    from gapps_runbook.runs.workspace import prepare

    site = runbook.Site.open(name, home=home, issuer=emu.base_url)
    verdict = runbook.check_console(site, scopes.scopes_for(services), flow=flow, publishing_status="production")  # type: ignore[arg-type]
    assert verdict.ok, verdict
    if client:
        own = emu.emulator.desktop_client if flow == "desktop" else emu.emulator.device_client
        runbook.save_client(site, client_id=own.client_id, client_secret=secret or own.client_secret,
                            client_type=flow, product_name=product)
    if workspace:
        prepare(name, home=home, issuer=emu.base_url, templates=notebooks_dir())


def authorized_ready_site(home: Path, emu: RunningEmulator, name: str, *,
                          services: tuple[str, ...] = ("calendar", "openid")) -> runbook.Site:
    """Profile ``name`` with steps 01-03 done for the Desktop app flow (:func:`ready_site`, no workspace), its
    consent approved at once (the emulator's scenario, for this one authorization) whether or not it auto-approves."""
    from gapps_runbook.emulator.records import Scenario

    ready_site(home, emu, name, flow="desktop", services=services, workspace=False)
    site = runbook.Site.open(name, home=home, issuer=emu.base_url)
    before = emu.emulator.state.scenario
    emu.emulator.state.scenario = Scenario(approve_after=0)
    try:
        runbook.authorize(site, runbook.requested_scopes(site), flow="desktop", open_url=browser, timeout=60)
    finally:
        emu.emulator.state.scenario = before
    return site


def shoot(page: Any, name: str, focus: str | None = ".gapps-form") -> None:
    """The final state (``focus`` in the notebook scrolled into view; None: the page as it is) into
    ``$GAPPS_SCREENSHOTS`` when set, else nowhere."""
    folder = os.environ.get("GAPPS_SCREENSHOTS")
    if folder:
        if focus is not None:
            page.locator(f".jp-NotebookPanel:visible {focus}").filter(visible=True).last.scroll_into_view_if_needed()
        target = Path(folder) if Path(folder).is_absolute() else REPO / folder
        target.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target / f"{name}.png"))


def open_and_run(page: Any, lab: dict[str, Any], path: str) -> Any:
    """Open ``path`` (a fresh layout), wait for an idle kernel, Run All; the notebook panel's locator."""
    from playwright.sync_api import expect

    page.goto(f"{lab['url']}/lab/tree/{path}?reset&token={lab['token']}")
    expect(page.get_by_role("button", name=KERNEL_IDLE)).to_be_visible(timeout=LONG)
    page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=Path(path).name).click()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    panel = page.locator(".jp-NotebookPanel:visible .jp-Notebook")
    expect(panel.locator(".gapps-form").filter(visible=True).first).to_be_visible(timeout=LONG)
    return panel


def save(page: Any, notebook: Path | None = None, holding: str = "") -> None:
    """File > Save (what autosave does every 2 s), and wait until nothing is unsaved; with ``notebook``, until
    that file itself holds ``holding`` (saving again while it does not).

    "Nothing unsaved" alone is not "saved": JupyterLab serializes a notebook when a save starts and clears its
    dirty mark when that save returns (``Context._save``), so outputs that arrive while an autosave is in flight
    are neither on disk nor marked unsaved; a reload then shows the older file (test_d's flake, 1 run in ~15).
    """
    from playwright.sync_api import expect

    from gapps_runbook.commands.lab import wait_until

    page.keyboard.press("Control+s")
    expect(page.locator(".jp-mod-dirty")).to_have_count(0, timeout=LONG)
    if notebook is None:
        return

    def saved() -> bool:
        if holding in notebook.read_text(encoding="utf-8"):
            return True
        page.keyboard.press("Control+s")  # a save that raced an autosave: save the current model again
        expect(page.locator(".jp-mod-dirty")).to_have_count(0, timeout=LONG)
        return False

    assert wait_until(saved, LONG / 1000, poll=1.0), f"{notebook.name} was never saved holding {holding!r}"


START_03 = re.compile(r"(Ask for a code|Make the sign-in link)$")
"""Step 03's start button: opening 03 asks the provider for nothing until a person clicks it."""


def start_03(panel: Any) -> None:
    """Click 03's start button (it says what it asks for: ``render.plan_html`` above it)."""
    from playwright.sync_api import expect

    start = panel.get_by_role("button", name=START_03).filter(visible=True)
    expect(start).to_be_visible(timeout=LONG)
    start.click()


def approve_in_new_tab(page: Any, panel: Any, *, allow: bool = True) -> Any:
    """Click the card's link button; in the tab it opens (the emulator's consent page) click Allow.

    Returns:
        That tab, once it shows the runbook's landing page (an ``<h1>`` from the kernel's loopback listener).
    """
    from playwright.sync_api import expect

    button = panel.locator("a.gapps-link-button").filter(visible=True)
    expect(button).to_have_text("Open the sign-in page", timeout=LONG)
    expect(button).to_have_attribute("target", "_blank")
    with page.context.expect_page(timeout=LONG) as opened:
        button.click()
    consent = opened.value
    expect(consent.get_by_role("heading", name=re.compile("wants access to your Google Account"))).to_be_visible(
        timeout=LONG)
    consent.get_by_role("button", name="Allow" if allow else "Deny").click()
    expect(consent.locator("h1")).not_to_have_text(re.compile("wants access"), timeout=LONG)
    assert consent.url.startswith("http://127.0.0.1:")  # the kernel's listener answered, not the emulator
    return consent


CODE_RE = re.compile(r"\b([A-Z]{4}-[A-Z]{4})\b")  # the emulator's user codes


def approve_device_code(page: Any, panel: Any, emu: RunningEmulator) -> str:
    """Read the user code from the device card in ``panel``; approve it at the emulator's ``/device`` page in a
    second page, as a person would. Returns the code (the caller checks it is gone from the card)."""
    from playwright.sync_api import expect

    code_box = panel.locator(".widget-html-content div[style*='user-select']")
    expect(code_box).to_have_text(CODE_RE, timeout=LONG)
    code = CODE_RE.search(code_box.inner_text()).group(1)  # type: ignore[union-attr]
    device = page.context.new_page()
    device.goto(f"{emu.base_url}/device")
    device.locator("#user_code").fill(code)
    device.get_by_role("button", name="Next").click()
    device.get_by_role("button", name="Allow").click()
    expect(device.get_by_role("heading", name="Success!")).to_be_visible()
    device.close()
    return code


def expect_desktop_card_authorized(panel: Any) -> None:
    """The Desktop card after approval: "Authorized", no link, no countdown, nothing to cancel, Authorize again."""
    from playwright.sync_api import expect

    expect(panel.get_by_text("Authorized", exact=True).filter(visible=True).first).to_be_visible(timeout=LONG)
    expect(panel.locator("a.gapps-link-button")).to_have_count(0)  # the one-time link is gone
    expect(panel.get_by_text(WAITING)).to_have_count(0)
    expect(panel.get_by_role("button", name="Cancel")).to_have_count(0)  # hidden: nothing to cancel
    expect(panel.get_by_role("button", name="Authorize again")).to_be_enabled()


def stop_process(proc: subprocess.Popen[Any], grace: float) -> None:
    """SIGTERM, then SIGKILL if ``proc`` has not exited within ``grace`` seconds."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def cancel_with_a_good_token(page: Any, panel: Any) -> None:
    """On 03 holding a good token: "Authorize again", open the sign-in page, then Cancel while it waits: the token
    stays, said plainly, and Allow in the consent tab left open lands on the runbook's "cancelled" page."""
    from playwright.sync_api import expect

    already = panel.get_by_text("Already authorized for these scopes.").filter(visible=True)
    panel.get_by_role("button", name="Authorize again").click()
    expect(panel.get_by_text(WAITING).filter(visible=True)).to_have_count(1, timeout=LONG)
    expect(already).to_have_count(0)
    with page.context.expect_page(timeout=LONG) as opened:
        panel.locator("a.gapps-link-button").filter(visible=True).click()
    consent = opened.value
    expect(consent.get_by_role("heading", name=re.compile("wants access"))).to_be_visible(timeout=LONG)
    panel.get_by_role("button", name="Cancel").click()
    note = panel.get_by_text(re.compile("Cancelled. The token already stored is still in place")).filter(visible=True)
    expect(note).to_be_visible(timeout=LONG)
    expect(already).to_be_visible()
    expect(panel.get_by_text(re.compile(r"^Error:")).filter(visible=True)).to_have_count(0)
    expect(panel.locator("a.gapps-link-button")).to_have_count(0)
    consent.get_by_role("button", name="Allow").click()  # too late: the runbook says so, not "can't be reached"
    expect(consent.locator("h1")).to_have_text("This authorization was cancelled", timeout=LONG)
    expect(consent.locator("#outcome")).to_contain_text("make a new sign-in link in step 03")
    consent.close()


def open_beside(page: Any, name: str) -> Any:
    """Open ``name`` from JupyterLab's file browser (the folder shown) in the same page, beside the notebooks
    already open (their kernels and outputs stay live: no reload), wait for an idle kernel, Run All; its panel."""
    from playwright.sync_api import expect

    listing = page.locator(".jp-DirListing-item", has_text=name)
    if not listing.first.is_visible():
        page.locator(".jp-SideBar .lm-TabBar-tab[data-id='filebrowser']").click()
    listing.first.dblclick()
    tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current", has_text=name)
    expect(tab).to_be_visible(timeout=LONG)
    expect(page.get_by_role("button", name=KERNEL_IDLE)).to_be_visible(timeout=LONG)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    panel = page.locator(".jp-NotebookPanel:visible .jp-Notebook")
    expect(panel.locator(".gapps-form").filter(visible=True).first).to_be_visible(timeout=LONG)
    return panel


def shut_down_kernels(lab: dict[str, Any]) -> None:
    """Shut every kernel of ``lab`` down through JupyterLab's REST API (as closing JupyterLab for the day does)."""
    auth = {"Authorization": f"token {lab['token']}"}
    for kernel in requests.get(f"{lab['url']}/api/kernels", headers=auth, timeout=10).json():
        requests.delete(f"{lab['url']}/api/kernels/{kernel['id']}", headers=auth, timeout=30).raise_for_status()


SNAPSHOT = re.compile(r"Snapshot taken \d{4}-\d\d-\d\d \d\d:\d\d UTC: run this notebook to see the live state\.")
"""The line a form's saved summary opens with (``views.render.snapshot_note``)."""
