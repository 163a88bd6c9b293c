"""Headless parity for ``gapps-runbook run`` (issue 8, item 5).

Must show: headless ``run 03`` with the desktop flow prints the authorization link within 2 s (of the
kernel starting to execute: the "Running 03_authorize" line), then waits; the person approves in a
browser (here: ``requests`` on the emulator's consent page, which does NOT auto-approve); the run
ends with exit 0 and a result line holding the token id. The device flow prints the code and URL the
same way. The link is never saved in the executed notebook, and no secret is printed.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gapps_runbook import cli, runbook
from gapps_runbook.emulator import Emulator, RunningEmulator, serve
from gapps_runbook.profile.store import ProfileStore

pytestmark = pytest.mark.notebook

PROFILE = "site-stream"
SECRET_ENV = "GAPPS_TEST_STREAM_SECRET"
ACCOUNT = "engineer@example.com"


@pytest.fixture
def running() -> Iterator[RunningEmulator]:
    """An emulator that waits for the person, as Google does."""
    with serve(Emulator(auto_approve=False)) as served:
        yield served


class Run:
    """``gapps-runbook ... run ARGS`` as a subprocess; its stdout lines, each with its arrival time."""

    def __init__(self, home: Path, running: RunningEmulator, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "gapps_runbook", "--home", str(home), "--profile", PROFILE,
                   "--issuer", running.base_url, "run", *args]
        self.spawned = time.monotonic()  # process start, for the "within 2 s" measure
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        self.seen: list[str] = []
        output = self.process.stdout
        assert output is not None
        threading.Thread(target=lambda: [self.lines.put((time.monotonic(), line.rstrip("\n"))) for line in output],
                         daemon=True).start()

    def wait_for(self, pattern: str, deadline: float = 120) -> tuple[float, str]:
        """The first line matching ``pattern`` and when it arrived; fails past ``deadline`` seconds."""
        end = time.monotonic() + deadline
        while True:
            left = end - time.monotonic()
            assert left > 0 and self.process.poll() is None or not self.lines.empty(), (
                f"no line matching {pattern!r}; seen: {self.seen}; stderr: {self.stderr()}")
            try:
                at, line = self.lines.get(timeout=max(0.05, min(left, 1)))
            except queue.Empty:
                continue
            self.seen.append(line)
            if re.search(pattern, line):
                return at, line

    def finish(self, timeout: float = 120) -> int:
        code = self.process.wait(timeout=timeout)
        time.sleep(0)  # let the reader thread drain (it ends at EOF)
        while True:
            try:
                self.seen.append(self.lines.get(timeout=2)[1])
            except queue.Empty:
                return code

    def stderr(self) -> str:
        return self.process.stderr.read() if self.process.poll() is not None and self.process.stderr else ""


def set_client(home: Path, running: RunningEmulator, kind: str, monkeypatch: pytest.MonkeyPatch) -> str:
    client = running.emulator.desktop_client if kind == "desktop" else running.emulator.device_client
    monkeypatch.setenv(SECRET_ENV, client.client_secret)
    assert cli.run(["--home", str(home), "--profile", PROFILE, "--issuer", running.base_url, "client", "set",
                    "--client-id", client.client_id, "--client-type", kind, "--secret-env", SECRET_ENV]) == 0
    return client.client_secret


def approve_in_browser(link: str) -> None:
    """What the person does: open the link, click Allow; the browser follows the redirect home."""
    page = requests.get(link, timeout=30)
    consent_id = re.search(r'name="consent_id" value="([^"]+)"', page.text)
    assert page.status_code == 200 and consent_id, page.text[:300]
    action = requests.compat.urljoin(link, "/o/oauth2/v2/auth")
    done = requests.post(action, data={"consent_id": consent_id.group(1), "action": "allow", "account": ACCOUNT},
                         timeout=30)
    assert done.status_code == 200, done.text[:300]


def token_id(home: Path) -> str:
    st = runbook.status(runbook.Site(ProfileStore(home).profile(PROFILE)))
    assert st.token_id
    return st.token_id


def test_run_03_desktop_prints_the_link_within_2_s_then_waits(
    tmp_path: Path, running: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    secret = set_client(home, running, "desktop", monkeypatch)
    run = Run(home, running, "03", "-p", "flow", '"desktop"', "-p", "timeout", "120", "--out", str(tmp_path / "runs"))
    started, _ = run.wait_for(r"^Running 03_authorize")
    shown, link = run.wait_for(r"/o/oauth2/v2/auth\?")
    # Measured: from process start (Python, papermill and a kernel starting: 2.8-4.2 s alone with the load at 6
    # on 2 cores) and from the notebook's first cell starting ("Running ..."; the step's own cell starts later).
    print(f"link printed {shown - run.spawned:.2f} s after the process started, "
          f"{shown - started:.2f} s after execution started")
    assert shown - started < 2.0  # issue 8's must-show, from execution start
    assert shown - run.spawned < 30.0  # from process start: only a generous bound holds on a busy machine
    assert run.process.poll() is None  # it waits for the person
    approve_in_browser(link[link.index("http"):].split()[0])
    assert run.finish() == 0, (run.seen, run.stderr())
    result = next(line for line in run.seen if line.startswith("03_authorize: ok"))
    assert f"Token id {token_id(home)}" in result and "expires in" in result and ACCOUNT in result
    assert secret not in "\n".join(run.seen)
    saved = next((tmp_path / "runs").rglob("03_authorize.ipynb")).read_text()
    assert "/o/oauth2/v2/auth" not in saved and "code_challenge" not in saved  # the link is transient


def test_run_03_device_prints_the_code_and_url(
    tmp_path: Path, running: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    set_client(home, running, "device", monkeypatch)
    run = Run(home, running, "03", "-p", "flow", '"device"', "-p", "services", '["openid"]', "-p", "timeout", "120",
              "--out", str(tmp_path / "runs"))
    started, _ = run.wait_for(r"^Running 03_authorize")
    shown, line = run.wait_for(r"enter the code")
    print(f"code printed {shown - started:.2f} s after execution started")
    assert shown - started < 2.0 and running.base_url + "/device" in line and "expires in" in line
    user_code = re.search(r"code ([A-Z]{4}-[A-Z]{4})", line)
    assert user_code
    running.emulator.approve(user_code.group(1))
    assert run.finish() == 0, (run.seen, run.stderr())
    assert any(f"Token id {token_id(home)}" in text for text in run.seen if text.startswith("03_authorize: ok"))
    saved = next((tmp_path / "runs").rglob("03_authorize.ipynb")).read_text()
    assert user_code.group(1) not in saved


def test_every_run_ends_with_its_result_line(
    tmp_path: Path, running: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """00-05 each end with ok, what the step did, the token (or that there is none) and the verify verdict."""
    home = tmp_path / "home"
    set_client(home, running, "desktop", monkeypatch)
    run = Run(home, running, "02", "--out", str(tmp_path / "runs"))
    assert run.finish() == 0, (run.seen, run.stderr())
    result = next(line for line in run.seen if line.startswith("02_client_credentials: ok ("))
    printed = next(line for line in run.seen if line.startswith("Secret:"))  # the notebook's last line
    assert f"{' '.join(printed.split())}. No token yet (runbook step 03). Verify: not checked yet" in result, run.seen
    monkeypatch.setattr("webbrowser.open", lambda url: threading.Thread(
        target=approve_in_browser, args=(url,), daemon=True).start())
    common = ["--home", str(home), "--profile", PROFILE, "--issuer", running.base_url]
    assert cli.run([*common, "authorize", "--flow", "desktop", "--service", "calendar", "--timeout", "60"]) == 0
    run = Run(home, running, "04", "--out", str(tmp_path / "runs"))
    assert run.finish() == 0, (run.seen, run.stderr())
    result = next(line for line in run.seen if line.startswith("04_token_status: ok ("))
    verdict = next(line for line in run.seen if line.startswith("verified:"))
    assert f"Token id {token_id(home)}, expires in " in result and f"account {account(home)}." in result
    assert result.endswith(f"Verify: {verdict.strip()} ({utc_minute(home)}).")
    services = ("-p", "services", '["calendar"]')  # what the token was authorized for: 03 has nothing to do
    for step, extra in (("00", ()), ("01", services), ("03", services), ("05", ())):
        run = Run(home, running, step, *extra, "--out", str(tmp_path / "runs"))
        assert run.finish() == 0, (step, run.seen, run.stderr())
        result = [line for line in run.seen if line.strip()][-2]  # the result line, before the notebook's path
        assert re.match(rf"{step}_\w+: ok \(\d+\.\d s\)\. .*Token id {token_id(home)}, expires in \d+ s \(at .* UTC\), "
                        rf"account {re.escape(account(home))}\. Verify: verified: .* UTC\)\.$", result), (step, result)
        assert run.seen[-1].startswith("Executed notebook: ")
        did = {"00": "Steps: 01 not run, 02 ok, 03 ok, 04 ok, 05 not run.", "05": f"{PROFILE}: never exported."}.get(step, "")
        assert did in result, (step, result)  # 00: each step's record (01 was never run here); 05: this profile
        report = Path(re.search(r"\(report: (\S+)\)$", run.seen[-1]).group(1))  # type: ignore[union-attr]
        assert f"<td>{token_id(home)}</td>" in report.read_text()  # its summary, read back from the profile


def account(home: Path) -> str:
    """The account the profile's token holds, as result lines show it (calendar scopes only: unknown)."""
    return runbook.status(runbook.Site(ProfileStore(home).profile(PROFILE))).account or "unknown"


def utc_minute(home: Path) -> str:
    """When the profile recorded its last verify, as result lines show it."""
    from gapps_runbook.oauth.clock import utc_text
    from gapps_runbook.runbook import Site, state
    from gapps_runbook.steps import STATUS

    return utc_text(state.read(Site(ProfileStore(home).profile(PROFILE))).of(STATUS).at)
