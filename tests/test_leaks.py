"""No secret leaks (targets L1, L3, L4 in docs/reliability.md): planted canaries are found in no artifact.

* L1: notebooks 00-04 run under papermill (:func:`notebook_run.run_notebook`) against an emulator that
  issues unique canaries per run; every second run meets an injected fault (HTTP faults rotated over
  kinds and endpoints, device-flow denials and expiries, corrupt profile files for 00).  After each
  run the scanner reads the output notebook, the run folder, an HTML report, the kernel's own log
  (every logger at DEBUG, through a ``sitecustomize`` on the kernel's ``PYTHONPATH``), the captured
  stdout/stderr (fd level: the kernel inherits them), the DEBUG log records of this process and the
  text of any :class:`NotebookRunError`.  Device-flow runs also check that the user code is gone.
  Small runs in the normal suite; 50 per notebook marked ``soak``.
* CLI and L4: every command (client set, preflight, both flows, status, verify, refresh, revoke,
  run, demo) with every logger at DEBUG: 0 findings in stdout, stderr and the log.
* Regression guards: a notebook that leaks a canary where the scrubber cannot know it must be
  caught by the scanner, so the scan can fail and the scrubber alone is not enough.
* L3: hypothesis-generated secret-like parameters are refused by ``run_notebook`` and ``gapps-runbook
  run`` before any kernel starts, with 0 requests at the emulator and a message that says how to
  pass a reference and never holds the value.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gapps_runbook import cli, runbook
from gapps_runbook.runs import execute as notebook_run
from gapps_runbook.oauth import scopes
from gapps_runbook.runs.demo import browser_for_emulator
from gapps_runbook.emulator import Emulator, RunningEmulator, Scenario, serve
from gapps_runbook.emulator import facts
from gapps_runbook.emulator.facts import random_client_id
from gapps_runbook.errors import ExitCode, InputError
from gapps_runbook.safety.leakscan import Finding, format_findings, scan_paths, scan_text
from gapps_runbook.runs.execute import export_html, run_notebook
from gapps_runbook.safety.redact import register_secret
from gapps_runbook.safety.scrub import scrub_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = ("00_start_here", "01_console_checklist", "02_client_credentials", "03_authorize", "04_token_status")
SCALE = float(os.environ.get("GAPPS_SOAK_SCALE", "1"))
SECRET_ENV = "GAPPS_LEAK_CLIENT_SECRET"
DEVICE_SECRET_ENV = "GAPPS_LEAK_DEVICE_CLIENT_SECRET"
KERNEL_LOG_ENV = "GAPPS_LEAK_KERNEL_LOG"
CALENDAR = scopes.scopes_for(("calendar", "openid"))
OPENID = scopes.scopes_for(("openid",))
FAULTS = ("500", "502", "503", "504", "429", "408", "timeout", "reset", "malformed")
DISCOVERY = "/.well-known/openid-configuration"
CALENDAR_LIST = "/calendar/v3/users/me/calendarList"
GMAIL = "/gmail/v1/users/me/profile"
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# Imported by the kernel (it is on the kernel's PYTHONPATH): the kernel's own logging, every logger
# at DEBUG, into a file the test scans.  Logger.setLevel is pinned so no library can raise a level.
KERNEL_SITECUSTOMIZE = '''\
import logging, os
_path = os.environ.get("GAPPS_LEAK_KERNEL_LOG")
if _path:
    _handler = logging.FileHandler(_path, encoding="utf-8")
    _handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(_handler)
    _set_level = logging.Logger.setLevel
    logging.Logger.setLevel = lambda self, level: _set_level(self, logging.DEBUG)
    logging.getLogger().setLevel(logging.DEBUG)
'''


# --- canaries, logging, scanning ------------------------------------------------------------------


class Canaries:
    """The emulator's secret factory: a new canary for every secret it issues.

    With ``shaped`` (the default) tokens look like Google's (``ya29.``, ``1//``, ``4/``), which the
    redaction patterns know; without it they are plain random words, which only never printing them
    (or registering them) keeps out of artifacts.  Client secrets are always ``GOCSPX-`` + 28, as
    the client validation requires.
    """

    def __init__(self) -> None:
        self.values: list[str] = []
        self.shaped = True

    def __call__(self, kind: str) -> str:
        tail = uuid.uuid4().hex
        if kind == "client_secret":
            value = "GOCSPX-" + tail[:28]
        elif self.shaped:
            value = {"access_token": "ya29.LEAK" + tail + tail, "refresh_token": "1//0LEAK" + tail,
                     "device_code": "AH-1NgLEAK" + tail, "auth_code": "4/0ALEAK" + tail}.get(kind, "LEAK" + kind + tail)
        else:
            value = f"zq{kind.replace('_', '')[:6]}LEAK{tail}{tail[:6]}"
        self.values.append(value)
        return value

    def mark(self) -> int:
        return len(self.values)

    def since(self, mark: int) -> list[str]:
        return self.values[mark:]


@contextlib.contextmanager
def every_logger_at_debug(handler: logging.Handler) -> Iterator[None]:
    """Every logger of this process at DEBUG (later ``setLevel`` calls too), all records to ``handler``."""
    manager = logging.Logger.manager
    root = logging.getLogger()
    loggers = [root, *(lg for lg in list(manager.loggerDict.values()) if isinstance(lg, logging.Logger))]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    islands = [lg for lg in loggers if lg is not root and not lg.propagate]
    set_level = logging.Logger.setLevel
    disabled = manager.disable
    logging.disable(logging.NOTSET)
    for lg in loggers:
        set_level(lg, logging.DEBUG)
        lg.disabled = False
    for lg in islands:
        lg.addHandler(handler)
    if handler not in root.handlers:
        root.addHandler(handler)
    logging.Logger.setLevel = lambda self, level: set_level(self, logging.DEBUG)  # type: ignore[method-assign]
    try:
        yield
    finally:
        logging.Logger.setLevel = set_level  # type: ignore[method-assign]
        for lg in islands:
            lg.removeHandler(handler)
        for lg, level, was_disabled in saved:
            set_level(lg, level)
            lg.disabled = was_disabled
        logging.disable(disabled)


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    """caplog's formatted text plus each record's raw fields (a JSON log handler would ship those)."""
    fields = []
    for record in caplog.records:
        extra = {k: v for k, v in vars(record).items() if k not in ("exc_info", "stack_info")}
        fields.append(repr(extra))
    return caplog.text + "\n" + "\n".join(fields)


@dataclass
class Tally:
    """What the L1 runs did and found."""

    runs: Counter[str] = field(default_factory=Counter)
    faulted: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    device_runs: int = 0
    artifacts: int = 0
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def scan_files(self, paths: list[Path], canaries: list[str]) -> None:
        files = [p for entry in paths for p in ([entry] if entry.is_file() else entry.rglob("*")) if p.is_file()]
        self.artifacts += len(files)
        self.findings += scan_paths(paths, canaries)

    def scan_text(self, name: str, text: str, canaries: list[str]) -> None:
        self.artifacts += 1
        self.findings += scan_text(name, text, canaries)


def _kernel_env(sitecustomize: Path, log: Path, extra: dict[str, str]) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(sitecustomize), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, KERNEL_LOG_ENV: str(log), **extra}


@pytest.fixture(scope="module")
def sitecustomize(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kernel-site")
    (folder / "sitecustomize.py").write_text(KERNEL_SITECUSTOMIZE, encoding="utf-8")
    return folder


# --- L1: notebook runs -----------------------------------------------------------------------------


@dataclass
class Case:
    """One notebook run: its preparation, parameters and the fault it meets."""

    name: str
    index: int
    params: dict[str, Any]
    prepare: str  # none | client | token | device-client
    faults: list[tuple[str, str, int]] = field(default_factory=list)
    scenario: Scenario | None = None
    local_fault: str | None = None
    device: bool = False

    @property
    def faulty(self) -> bool:
        return bool(self.faults or self.scenario or self.local_fault)


LOCAL_FAULTS = ("token-truncated", "client-truncated", "settings-garbage", "token-foreign")


def case_for(name: str, index: int) -> Case:
    """Odd runs meet a fault; the n-th faulty run of a notebook takes fault kind n, endpoint n, n+1 times.

    Every fourth passing run shows the JupyterLab form (``interactive=True``) instead of running headless.
    """
    case = _case_for(name, index)
    if index % 2 == 0 and index // 2 % 4 == 3 and not case.device:
        case.params["interactive"] = True
    return case


def _case_for(name: str, index: int) -> Case:
    n = index // 2
    fault, times = FAULTS[n % len(FAULTS)], 1 + n % 4
    faulty = index % 2 == 1
    if name == "00_start_here":
        return Case(name, index, {}, "token", local_fault=LOCAL_FAULTS[n % len(LOCAL_FAULTS)] if faulty else None)
    if name == "01_console_checklist":
        params = {"services": ["calendar", "openid"], "publishing_status": ("production", "testing", "")[n % 3]}
        return Case(name, index, params, "none", [(DISCOVERY, fault, times)] if faulty else [])
    if name == "02_client_credentials":
        params = {"client_secret_env": SECRET_ENV, "client_type": "desktop", "product_name": "Leak test"}
        what = ("secret-cut", DISCOVERY, DISCOVERY, "secret-twice", DISCOVERY, DISCOVERY)[n % 6]
        if faulty and what.startswith("secret"):  # the variable holds a mangled secret: validation refuses it
            return Case(name, index, params, "none", local_fault=what)
        return Case(name, index, params, "none", [(DISCOVERY, fault, times)] if faulty else [])
    if name == "03_authorize":
        if n % 2 == 0:  # device flow, openid only
            params = {"services": ["openid"], "flow": "device", "timeout": 60}
            case = Case(name, index, params, "device-client", device=True)
            if faulty:
                what = ("/device/code", "/token", "deny", "expire")[(n // 2) % 4]
                if what == "deny":
                    case.scenario = Scenario(deny=True)
                elif what == "expire":
                    case.scenario = Scenario(expire=True)
                else:  # a failed poll doubles the wait: one fault per run keeps the soak short
                    case.faults = [(what, fault, times if what == "/device/code" else 1)]
            return case
        params = {"services": ["calendar", "openid"], "flow": "desktop", "browser": "emulator", "timeout": 60}
        what = ("wrong-secret", "/token", DISCOVERY)[(n // 2) % 3]
        if faulty and what == "wrong-secret":  # the profile holds another secret: invalid_client
            return Case(name, index, params, "client", local_fault=what)
        return Case(name, index, params, "client", [(what, fault, times)] if faulty else [])
    endpoints = ("/token", "/tokeninfo", "/revoke", CALENDAR_LIST, GMAIL, "revoked-at-provider")
    if faulty:
        params = {"verify": True, "refresh": True, "revoke": True}
        what = endpoints[n % len(endpoints)]
        if what == "revoked-at-provider":  # the user removed the app: invalid_grant, invalid_token
            return Case(name, index, params, "token", local_fault=what)
        return Case(name, index, params, "token", [(what, fault, times)])
    params = {"verify": True, "refresh": bool(n % 2), "revoke": bool(n // 2 % 2)}
    return Case(name, index, params, "token")


class NotebookRuns:
    """Runs notebook cases against one emulator and scans every artifact of each."""

    def __init__(self, running: RunningEmulator, canaries: Canaries, base: Path, sitecustomize: Path,
                 capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
        self.running, self.emu, self.canaries = running, running.emulator, canaries
        self.base, self.sitecustomize, self.capfd, self.caplog = base, sitecustomize, capfd, caplog
        self.tally = Tally()
        self.constant = list(canaries.values)  # the emulator's two default clients

    def run(self, case: Case) -> None:
        self.canaries.shaped = case.index % 4 < 2  # half the runs issue tokens no pattern knows
        mark = self.canaries.mark()
        folder = self.base / f"{case.name}-{case.index:03d}"
        home, out, logs = folder / "home", folder / "run", folder / "logs"
        logs.mkdir(parents=True)
        client = self._prepare(case, home)
        secret = {"secret-cut": client.client_secret[:-5], "secret-twice": client.client_secret * 2}.get(
            case.local_fault or "", client.client_secret)
        if secret != client.client_secret:
            self.canaries.values.append(secret)
        env = _kernel_env(self.sitecustomize, logs / "kernel.log", {SECRET_ENV: secret})
        params: dict[str, Any] = {"home": str(home), "issuer": self.running.base_url, **case.params}
        if case.name == "02_client_credentials":
            params["client_id"] = client.client_id
        if case.scenario is not None:
            self.emu.script(client.client_id, case.scenario)
        for path, fault, times in case.faults:
            self.emu.fail_next(path, fault, times)
        if case.name == "00_start_here" and case.local_fault:
            _break_profile(home, case.local_fault)
        result = run_notebook(NOTEBOOKS / f"{case.name}.ipynb", out, params, env=env, timeout=90, check=False)
        served = self._clear_faults(case)
        self._count(case, served, result.status)
        canaries = [*self.constant, *self.canaries.since(mark)]
        outputs = [p for p in [result.output_path] if p is not None]
        if outputs:
            export_html(outputs, out / "report.html", title=f"leak test {case.name}")
        self.tally.scan_files([out, logs], canaries)
        captured = self.capfd.readouterr()
        self.tally.scan_text(f"{folder.name}/stdout", captured.out, canaries)
        self.tally.scan_text(f"{folder.name}/stderr", captured.err, canaries)
        self.tally.scan_text(f"{folder.name}/caplog", log_text(self.caplog), canaries)
        self.caplog.clear()
        if result.error is not None:
            err = result.error
            text = "\n".join([str(err), repr(err), str(err.evalue), str(err.ename), str(err.fix)])
            self.tally.scan_text(f"{folder.name}/exception", text, canaries)
        if case.device:
            self._check_user_code(client.client_id, outputs, out / "report.html")

    def _prepare(self, case: Case, home: Path) -> Any:
        kind = "device" if case.prepare == "device-client" else "desktop"
        client = self.emu.register_client(random_client_id(), self.canaries("client_secret"), kind, "Leak test")
        if case.prepare == "none":
            return client
        site = runbook.Site.open("default", home=home, issuer=self.running.base_url)
        stored = self.canaries("client_secret") if case.local_fault == "wrong-secret" else client.client_secret
        runbook.save_client(site, client_id=client.client_id, client_secret=stored, client_type=kind)
        if case.prepare == "token":
            runbook.authorize(site, CALENDAR, flow="desktop", open_url=browser_for_emulator, timeout=30)
            if case.local_fault == "revoked-at-provider":
                self.emu.state.revoke(site.profile.load_token().refresh_token)
        return client

    def _clear_faults(self, case: Case) -> bool:
        """Drop faults the run did not meet; True if the run met at least one."""
        with self.emu.state.lock:
            left = sum(len(v) for v in self.emu.state.faults.values())
            self.emu.state.faults.clear()
        injected = sum(times for _, _, times in case.faults)
        return bool(case.scenario or case.local_fault) or (injected > 0 and left < injected)

    def _count(self, case: Case, served: bool, status: str) -> None:
        self.tally.runs[case.name] += 1
        self.tally.faulted[case.name] += served
        self.tally.failed[case.name] += status == "failed"
        self.tally.device_runs += case.device
        if case.faulty and not served:
            self.tally.notes.append(f"{case.name}#{case.index}: fault {case.faults} never met")

    def _check_user_code(self, client_id: str, outputs: list[Path], report: Path) -> None:
        codes = [s.user_code for s in self.emu.device.sessions.values() if s.client_id == client_id]
        texts = [p.read_text(encoding="utf-8") for p in [*outputs, report] if p.exists()]
        for code in codes:
            for text in texts:
                assert code not in text and code.replace("-", "") not in text, "the user code outlived step 03"


def _break_profile(home: Path, how: str) -> None:
    """Local faults for 00 (it makes no request): profile files another tool or a crash left behind."""
    folder = home / "profiles" / "default"
    name = {"token-truncated": "authorized_user.json", "client-truncated": "client.json",
            "settings-garbage": "settings.json", "token-foreign": "authorized_user.json"}[how]
    path = folder / name
    data = path.read_text(encoding="utf-8")
    if how.endswith("truncated"):
        path.write_text(data[: len(data) * 2 // 3], encoding="utf-8")  # cut inside the secrets
    elif how == "settings-garbage":
        path.write_text("\x00garbage " + data[:40], encoding="utf-8")
    else:  # valid JSON, not our format, every secret still inside
        path.write_text(json.dumps({"tokens": json.loads(data)}), encoding="utf-8")


def run_l1(per_notebook: dict[str, int], tmp_path: Path, sitecustomize: Path, capfd: pytest.CaptureFixture[str],
           caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Tally:
    monkeypatch.setattr(facts, "DEVICE_INTERVAL", 1)  # the client still honours the interval it is given
    canaries = Canaries()
    with every_logger_at_debug(caplog.handler), serve(Emulator(auto_approve=True, secret_factory=canaries)) as running:
        running.emulator.timeout_seconds = 0.5
        runs = NotebookRuns(running, canaries, tmp_path, sitecustomize, capfd, caplog)
        capfd.readouterr()
        caplog.clear()
        for name in NAMES:
            for index in range(per_notebook[name]):
                runs.run(case_for(name, index))
    return runs.tally


def _check_l1(tally: Tally, per_notebook: dict[str, int]) -> None:
    assert not tally.findings, format_findings(tally.findings)
    assert not tally.notes, tally.notes
    for name, count in per_notebook.items():
        assert tally.runs[name] == count
        assert tally.faulted[name] == count // 2, (name, tally.faulted)
    assert tally.device_runs >= 1


@pytest.mark.notebook
def test_l1_notebook_runs_leave_no_canary_small(tmp_path: Path, sitecustomize: Path, capfd: pytest.CaptureFixture[str],
                                                caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    per_notebook = {"00_start_here": 2, "01_console_checklist": 2, "02_client_credentials": 2, "03_authorize": 4,
                    "04_token_status": 2}
    tally = run_l1(per_notebook, tmp_path, sitecustomize, capfd, caplog, monkeypatch)
    _check_l1(tally, per_notebook)
    assert tally.failed["03_authorize"] >= 1  # the error path was exercised


@pytest.mark.soak
@pytest.mark.notebook
@pytest.mark.timeout(3600)
def test_l1_notebook_runs_leave_no_canary_full(request: pytest.FixtureRequest, tmp_path: Path, sitecustomize: Path,
                                               capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    per = max(2, round(50 * SCALE))
    per_notebook = dict.fromkeys(NAMES, per)
    started = time.monotonic()
    tally = run_l1(per_notebook, tmp_path, sitecustomize, capfd, caplog, monkeypatch)
    runs, faulted = sum(tally.runs.values()), sum(tally.faulted.values())
    details = ", ".join(f"{n[:2]}: {tally.runs[n]}/{tally.faulted[n]}/{tally.failed[n]}" for n in NAMES)
    report(request, f"L1 no secret in artifacts: {runs} runs ({faulted} with faults), {tally.artifacts} artifacts, "
                    f"{len(tally.findings)} findings (target 50/notebook, 0)")
    report(request, f"L1 detail: runs/faulted/failed per notebook {details}; {tally.device_runs} device-flow runs; "
                    f"{time.monotonic() - started:.0f} s", file=False)
    _check_l1(tally, per_notebook)


def report(request: pytest.FixtureRequest, line: str, *, file: bool = True, always: bool = False) -> None:
    """Print a soak summary line past pytest's capture (and append it to $GAPPS_SOAK_REPORT)."""
    if request.node.get_closest_marker("soak") is None and not (always and os.environ.get("GAPPS_SOAK_REPORT")):
        return
    capture = request.node.funcargs.get("capfd") or request.getfixturevalue("capsys")
    with capture.disabled():
        print(f"\n{line}")
    target = os.environ.get("GAPPS_SOAK_REPORT")
    if target and file:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(f"{time.strftime('%Y-%m-%d %H:%M')} {line}\n")


# --- CLI output and L4: every command with every logger at DEBUG ---------------------------------------


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> None:
    """``webbrowser.open`` plays the person's browser against the auto-approving emulator."""
    monkeypatch.setattr("webbrowser.open", lambda url: browser_for_emulator(url) or True)


class CliSession:
    """Runs CLI commands, keeping every line they print for the scan."""

    def __init__(self, running: RunningEmulator, home: Path, capfd: pytest.CaptureFixture[str]) -> None:
        self.running, self.home, self.capfd = running, home, capfd
        self.outputs: list[str] = []
        self.commands = 0

    def __call__(self, profile: str, *args: str, expect: int = 0) -> str:
        code = cli.run(["--home", str(self.home), "--issuer", self.running.base_url, "--profile", profile, *args])
        captured = self.capfd.readouterr()
        self.outputs += [captured.out, captured.err]
        self.commands += 1
        assert code == expect, (args, code, captured.err[-2000:])
        return captured.out + captured.err


def _paste_back(monkeypatch: pytest.MonkeyPatch, run: CliSession, *, wrong_state: bool, expect: int) -> None:
    """``authorize --paste``: the browser's redirect URL (with the code) is pasted back, right or tampered."""
    opened: list[str] = []

    def paste(text: str, **kwargs: Any) -> str:
        location = requests.get(opened[-1], allow_redirects=False, timeout=30).headers["Location"]
        return location.replace("state=", "state=x") if wrong_state else location

    with monkeypatch.context() as patch:
        patch.setattr("webbrowser.open", opened.append)
        patch.setattr(cli.click, "prompt", paste)
        run("desk", "authorize", "--paste", "--service", "calendar", "--service", "openid", expect=expect)


@pytest.mark.notebook
@pytest.mark.parametrize("shaped", [True, False], ids=["google-shaped", "shapeless"])
def test_l4_every_cli_command_at_debug_leaves_no_canary(
    shaped: bool, tmp_path: Path, sitecustomize: Path, capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, browser: None, request: pytest.FixtureRequest,
) -> None:
    """Device + loopback + refresh + revoke (and the failures between) through the CLI, all loggers at DEBUG."""
    monkeypatch.setattr(facts, "DEVICE_INTERVAL", 1)
    canaries = Canaries()
    canaries.shaped = shaped
    kernel_log = tmp_path / "kernel.log"
    for name, value in _kernel_env(sitecustomize, kernel_log, {}).items():
        monkeypatch.setenv(name, value)
    with every_logger_at_debug(caplog.handler), serve(Emulator(auto_approve=True, secret_factory=canaries)) as running:
        emu = running.emulator
        monkeypatch.setenv(SECRET_ENV, emu.desktop_client.client_secret)
        monkeypatch.setenv(DEVICE_SECRET_ENV, emu.device_client.client_secret)
        run = CliSession(running, tmp_path / "home", capfd)
        capfd.readouterr()
        # loopback (Desktop app) client, Calendar
        run("desk", "client", "set", "--client-id", emu.desktop_client.client_id, "--client-type", "desktop",
            "--secret-env", SECRET_ENV, "--product-name", "Leak test")
        run("desk", "client", "show")
        run("desk", "client", "show", "--json")
        run("desk", "preflight", "--service", "calendar", "--service", "openid", "--publishing-status", "production")
        run("desk", "preflight", "--service", "calendar", "--flow", "device", "--json", expect=ExitCode.MISCONFIGURED)
        assert "Authorized with the desktop flow" in run("desk", "authorize", "--service", "calendar", "--service", "openid")
        run("desk", "authorize", "--service", "calendar", "--service", "openid", "--flow", "desktop", "--json")
        _paste_back(monkeypatch, run, wrong_state=True, expect=ExitCode.BAD_INPUT)
        _paste_back(monkeypatch, run, wrong_state=False, expect=0)
        run("desk", "status")
        run("desk", "status", "--json")
        run("desk", "status", "--all")
        run("desk", "verify")
        run("desk", "verify", "--json")
        run("desk", "refresh")
        run("desk", "refresh", "--json")
        emu.fail_next("/token", "malformed", 1)
        run("desk", "refresh", expect=ExitCode.NETWORK)
        emu.fail_next(CALENDAR_LIST, "malformed", 1)
        run("desk", "verify", expect=ExitCode.NETWORK)
        out = run("desk", "run", "04", "-p", "verify", "true", "-p", "refresh", "true", "--out", str(tmp_path / "runs"))
        assert "04_token_status: ok" in out
        emu.fail_next("/revoke", "reset", 3)
        run("desk", "revoke", "--yes", expect=ExitCode.NETWORK)
        run("desk", "revoke", "--yes")
        run("desk", "refresh", expect=ExitCode.REAUTHORIZE)
        run("desk", "run", "04", "--out", str(tmp_path / "runs"), expect=ExitCode.REAUTHORIZE)
        # device ("TVs and Limited Input devices") client, openid
        run("tv", "client", "set", "--client-id", emu.device_client.client_id, "--client-type", "device",
            "--secret-env", DEVICE_SECRET_ENV)
        out = run("tv", "authorize", "--service", "openid", "--flow", "device")
        assert "Authorized with the device flow" in out
        run("tv", "authorize", "--service", "openid", "--flow", "device", "--json")
        run("tv", "status", "--json")
        run("tv", "verify", "--json")
        run("tv", "refresh", "--json")
        run("tv", "revoke", "--yes")
        emu.script(emu.device_client.client_id, Scenario(deny=True))
        run("tv", "authorize", "--service", "openid", "--flow", "device", expect=ExitCode.DENIED)
        emu.script(emu.device_client.client_id, Scenario(expire=True))
        run("tv", "authorize", "--service", "openid", "--flow", "device", "--json", expect=ExitCode.EXPIRED)
        # a secret given on the command line is refused and not echoed
        out = run("tv", "run", "03", "-p", "client_secret", emu.device_client.client_secret, "--out",
                  str(tmp_path / "runs"), expect=ExitCode.BAD_INPUT)
        assert "client_secret_env" in out
    kinds = {v.split("LEAK")[0] for v in canaries.values}
    assert len(canaries.values) >= 10, kinds
    findings = [finding for i, text in enumerate(run.outputs) for finding in scan_text(f"cli-{i}", text, canaries.values)]
    findings += scan_text("caplog", log_text(caplog), canaries.values)
    findings += scan_paths([tmp_path / "runs", kernel_log], canaries.values)
    assert not findings, format_findings(findings)
    assert "DEBUG" in caplog.text and "urllib3" in caplog.text  # the loggers really were at DEBUG
    assert kernel_log.stat().st_size > 0
    report(request, f"L4 logs at DEBUG ({'google-shaped' if shaped else 'shapeless'} canaries): {run.commands} CLI "
                    f"commands, {len(caplog.records)} log records, {len(canaries.values)} canaries, "
                    f"{len(findings)} findings (target 0)", file=False, always=True)


@pytest.mark.soak  # 20 s; tests/test_demo.py runs the demo with canaries (logs at the default level) in every suite
@pytest.mark.notebook
def test_cli_demo_with_canaries_at_debug_leaves_no_canary(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    canaries = Canaries()
    monkeypatch.setattr("gapps_runbook.runs.demo.Emulator", lambda **kw: Emulator(**kw, secret_factory=canaries))
    with every_logger_at_debug(caplog.handler):
        code = cli.run(["demo", "--out", str(tmp_path / "runs")])
    captured = capfd.readouterr()
    assert code == 0, captured.err[-2000:]
    assert "Token id: " in captured.out
    findings = scan_text("stdout", captured.out, canaries.values) + scan_text("stderr", captured.err, canaries.values)
    findings += scan_text("caplog", log_text(caplog), canaries.values)
    findings += scan_paths([tmp_path / "runs"], canaries.values)
    assert len(list((tmp_path / "runs").rglob("*.ipynb"))) == 8
    assert not findings, format_findings(findings)


# --- regression guards: the scan can fail, and the scrubber alone is not enough -----------------------


def _leaky_notebook(path: Path) -> Path:
    """A notebook that leaks an env value the scrubber is not told about, in forms no pattern knows."""
    book = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('side_dir = ""')
    params.metadata["tags"] = ["parameters"]
    book.cells = [
        params,
        nbformat.v4.new_code_cell(
            "import base64, json, os, pathlib\n"
            "value = os.environ['LEAK_GUARD_VALUE']\n"
            "print(json.dumps({'note': value}))\n"
            "print('blob', base64.b64encode(b'xy' + value.encode()).decode())\n"
            "pathlib.Path(side_dir, 'side-file.txt').write_text(value)"
        ),
    ]
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(book, path)
    return path


@pytest.mark.notebook
def test_regression_guard_a_deliberate_leak_is_caught_by_the_scanner(tmp_path: Path) -> None:
    value = f'guard"{uuid.uuid4().hex}\\end'  # not Google-shaped, with characters JSON escapes
    notebook = _leaky_notebook(tmp_path / "nb-leak-fail-unregistered-env.ipynb")
    out = tmp_path / "run"
    result = run_notebook(notebook, out, {"side_dir": str(out)}, env={"LEAK_GUARD_VALUE": value}, timeout=60)
    assert result.status == "ok"

    findings = scan_paths([out], [value])
    saved = [f for f in findings if f.path.endswith(".ipynb")]
    side = [f for f in findings if f.path.endswith("side-file.txt")]
    assert {f.form for f in saved} >= {"json", "base64"}, format_findings(findings)  # JSON-escaped, base64
    assert side and side[0].form == "raw"
    assert all(value not in line for line in format_findings(findings).splitlines())

    # The scrubber-only approach misses it: not told the value, it finds nothing to remove ...
    book = nbformat.read(result.output_path, as_version=4)
    assert scrub_notebook(book) == book
    # ... told the value, it cleans the notebook, yet the side file it never sees still leaks.
    told = scrub_notebook(book, secrets=[value])
    assert not scan_text("told.ipynb", nbformat.writes(told), [value])
    assert scan_paths([out / "side-file.txt"], [value])


def test_regression_guard_a_debug_log_leak_is_caught(caplog: pytest.LogCaptureFixture) -> None:
    value = f"zqguard{uuid.uuid4().hex}"  # no pattern knows it; not registered yet
    with every_logger_at_debug(caplog.handler):
        logging.getLogger("gapps_runbook.leak_guard").debug("response body: {\"value\": \"%s\"}", value)
    assert scan_text("caplog", log_text(caplog), [value])
    caplog.clear()
    register_secret(value)  # once registered, the log redaction removes it
    with every_logger_at_debug(caplog.handler):
        logging.getLogger("gapps_runbook.leak_guard").debug("response body: {\"value\": \"%s\"}", value)
    assert not scan_text("caplog", log_text(caplog), [value])


# --- L3: secret-looking parameters are refused before any kernel or request -------------------------


GOOGLE_PREFIXES = ("GOCSPX-", "ya29.", "1//0", "1//", "4/0A", "4/")
SECRET_NAMES = ("client_secret", "refresh_token", "access_token", "token", "secret", "password", "api_key",
                "device_code", "auth_code", "code_verifier", "db_password", "id_token", "private_key", "passphrase")
PLAIN_NAMES = ("profile", "note", "label", "expected_account", "client_id", "client_secret_env", "client_secrets_file",
               "services")


@st.composite
def secret_parameters(draw: st.DrawFn) -> tuple[str, str, object]:
    """(kind, name, value): Google shapes, random base64url words, or secret names with literal values."""
    kind = draw(st.sampled_from(["google", "random", "named"]))
    if kind == "google":
        value = draw(st.sampled_from(GOOGLE_PREFIXES)) + draw(st.text(alphabet=B64URL, min_size=20, max_size=100))
        name = draw(st.sampled_from(PLAIN_NAMES))
    elif kind == "random":
        rng = random.Random(draw(st.integers(0, 2**64)))
        value = "".join(rng.choices(B64URL, k=draw(st.integers(30, 120))))
        name = draw(st.sampled_from(PLAIN_NAMES))
    else:
        value = draw(st.text(alphabet=B64URL + "!#%&()*+,.:;<=>?@[]^{|}~ ", min_size=1, max_size=40).filter(str.strip))
        name = draw(st.sampled_from(SECRET_NAMES))
    return kind, name, value


def _cli_literal_is_refusable(value: str) -> bool:
    literal = cli._literal(value)
    return literal not in (None, True, False, "", [], {})


def run_l3(examples: int, tmp_path: Path, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    kernels: list[object] = []
    monkeypatch.setattr(notebook_run, "_execute", lambda *a, **k: kernels.append(a))
    seen: Counter[str] = Counter()
    notebook = NOTEBOOKS / "03_authorize.ipynb"

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(case=secret_parameters(), nested=st.booleans(), step=st.sampled_from(["02", "03", "04"]))
    def check(case: tuple[str, str, object], nested: bool, step: str) -> None:
        kind, name, value = case
        out = tmp_path / uuid.uuid4().hex
        before = len(emulator.emulator.requests)
        started = time.monotonic()
        params = {"home": str(tmp_path / "home"), "issuer": emulator.base_url,
                  name: [value] if nested and name == "services" else value}
        with pytest.raises(InputError) as caught:
            run_notebook(notebook, out, params, env={SECRET_ENV: "unused"})
        messages = [str(caught.value)]
        assert time.monotonic() - started < 3.0  # refused at once (a kernel start alone takes ~1 s)
        assert not (out / notebook.name).exists()
        if isinstance(value, str) and _cli_literal_is_refusable(value):
            stdout, stderr = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                code = cli.run(["--home", str(tmp_path / "home"), "--issuer", emulator.base_url, "run", step,
                                "-p", name, value, "--out", str(out)])
            assert code == ExitCode.BAD_INPUT, stderr.getvalue()
            messages.append(stdout.getvalue() + stderr.getvalue())
            assert not out.exists()  # not even an empty run folder
            seen["via gapps-runbook run"] += 1
        for message in messages:
            assert "client_secret_env" in message and "client_secrets_file" in message, message
            assert "secret" in message
            if isinstance(value, str) and len(value.strip()) >= 6:
                assert value not in message
                assert not scan_text("message", message, [value]) if len(value) >= 12 else True
        assert len(emulator.emulator.requests) == before
        assert not kernels
        seen[kind] += 1

    check()
    return seen


def test_l3_secret_like_parameters_are_refused_before_any_kernel(
    tmp_path: Path, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
) -> None:
    seen = run_l3(200, tmp_path, emulator, monkeypatch)
    assert seen["google"] + seen["random"] + seen["named"] == 200 and min(seen.values()) >= 30, seen
    assert len(emulator.emulator.requests) == 0


@pytest.mark.soak
def test_l3_secret_like_parameters_are_refused_full(
    tmp_path: Path, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    examples = max(200, round(200 * SCALE))
    started = time.monotonic()
    seen = run_l3(examples, tmp_path, emulator, monkeypatch)
    total = seen["google"] + seen["random"] + seen["named"]
    report(request, f"L3 secret-looking parameters refused: {total}/{examples} refused before any kernel, "
                    f"{len(emulator.emulator.requests)} requests at the emulator (target 200/200, 0)")
    report(request, f"L3 detail: {dict(seen)}; run_notebook and `gapps-runbook run` each; "
                    f"{time.monotonic() - started:.1f} s", file=False)
    assert total == examples
    assert len(emulator.emulator.requests) == 0


def test_numbers_under_a_secret_name_are_refused(tmp_path: Path) -> None:
    """`-p db_password 12345678` arrives as an int (JSON): a literal all the same."""
    for value in (12345678, 1234.5):
        with pytest.raises(InputError, match="client_secret_env") as caught:
            run_notebook(NOTEBOOKS / "02_client_credentials.ipynb", tmp_path / "run", {"db_password": value})
        assert str(value) not in str(caught.value)
    with contextlib.redirect_stderr(io.StringIO()) as stderr:
        code = cli.run(["run", "02", "-p", "api_key", "8675309123", "--out", str(tmp_path / "runs")])
    assert code == ExitCode.BAD_INPUT and "8675309123" not in stderr.getvalue()

