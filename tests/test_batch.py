"""``gapps-runbook batch`` (issue 9): one step over many sites, locally and on a Dask cluster.

The sites: 20 emulator profiles, each authorized in-process with the desktop flow by its own
account (the emulator revokes project-wide per account): 16 healthy, 2 whose grant was revoked at
the emulator (``reauthorize``), 2 whose stored client secret is wrong (``misconfigured``). Step 04
runs with ``-p refresh true`` so each site's grant and client are proven at the provider.

- local: ``batch 04 --all --jobs 2`` writes ``ok`` for exactly the 16, exits 3 (the worst class),
  writes summary.json/csv and the report 0600 in a 0700 folder, and no client secret, refresh or
  access token reaches any file of the batch folder (the leak canary).
- Dask: the same batch through a real ``dask scheduler`` and two ``dask worker`` processes on
  127.0.0.1 (marked ``dask``; part of ``make test``) gives the same outcomes.
- Ctrl-C (SIGINT to the batch process), SIGTERM and SIGHUP keep the finished sites, mark the rest
  ``cancelled``, exit 5; after SIGKILL, ``batch --resume`` rebuilds the summary from the journal and runs the rest.
- Selections, the sites CSV, secret parameters refused before any folder exists, the outcome rules.
"""

from __future__ import annotations

import csv
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from gapps_runbook import cli, runbook
from gapps_runbook.emulator import Emulator, RunningEmulator, serve
from gapps_runbook.errors import ExitCode, InputError
from gapps_runbook.oauth.transport import RequestsTransport
from gapps_runbook.profile.store import ProfileStore
from gapps_runbook.runbook import state
from gapps_runbook.batch import outcome as batch_outcome
from gapps_runbook.batch.runner import read_sites_file, select_sites
from gapps_runbook.safety.leakscan import scan_paths

from sites import browser

CALENDAR = "https://www.googleapis.com/auth/calendar.readonly"
WRONG_SECRET = "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"
SITES = 20
REVOKED = ("site-00", "site-01")
WRONG_CLIENT = ("site-02", "site-03")


@dataclass
class Fleet:
    running: RunningEmulator
    home: Path
    names: list[str]

    def canaries(self) -> list[str]:
        """Every secret the batch could leak: the real and the wrong client secret, every token."""
        values = [self.running.emulator.desktop_client.client_secret, WRONG_SECRET]
        for name in self.names:
            token = ProfileStore(self.home).profile(name).load_token()
            values += [token.refresh_token or "", token.access_token] if token else []
        return [v for v in values if v]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    home = tmp_path_factory.mktemp("batch") / "home"
    with serve(Emulator(auto_approve=True)) as running:
        desktop, names = running.emulator.desktop_client, [f"site-{i:02d}" for i in range(SITES)]
        for i, name in enumerate(names):
            running.emulator.state.account = f"admin{i:02d}@example.com"
            site = runbook.Site(ProfileStore(home).profile(name), RequestsTransport(), issuer=running.base_url)
            runbook.save_client(site, client_id=desktop.client_id, client_secret=desktop.client_secret,
                                client_type="desktop")
            runbook.authorize(site, (CALENDAR,), flow="desktop", open_url=browser, timeout=60)
            if name in REVOKED:
                running.emulator.state.revoke(site.profile.load_token().refresh_token)
            if name in WRONG_CLIENT:
                runbook.save_client(site, client_id=desktop.client_id, client_secret=WRONG_SECRET, client_type="desktop")
        yield Fleet(running, home, names)


def _batch(fleet: Fleet, out: Path, *extra: str) -> tuple[int, Path]:
    argv = ["--home", str(fleet.home), "--issuer", fleet.running.base_url, "batch", "04", "--all",
            "-p", "refresh", "true", "-p", "verify", "false", "--out", str(out), "--no-progress", *extra]
    code = cli.run(argv)
    (batch_dir,) = out.iterdir()
    return code, batch_dir


def _outcomes(batch_dir: Path) -> dict[str, str]:
    return {row["profile"]: row["outcome"] for row in json.loads((batch_dir / "summary.json").read_text())}


def _expected() -> dict[str, str]:
    names = [f"site-{i:02d}" for i in range(SITES)]
    return {n: "reauthorize" if n in REVOKED else "misconfigured" if n in WRONG_CLIENT else "ok" for n in names}


def test_local_batch_over_20_sites_finds_the_4_broken_ones(fleet: Fleet, tmp_path: Path) -> None:
    code, batch_dir = _batch(fleet, tmp_path / "out", "--jobs", "2")
    assert _outcomes(batch_dir) == _expected()
    assert sum(o == "ok" for o in _outcomes(batch_dir).values()) == 16
    assert code == ExitCode.MISCONFIGURED  # misconfigured (3) is worse than reauthorize (7)
    rows = json.loads((batch_dir / "summary.json").read_text())
    assert all({"profile", "outcome", "detail", "fix", "token_id", "expires_in"} <= set(r) for r in rows)
    healthy = next(r for r in rows if r["profile"] == "site-10")
    assert healthy["token_id"] and healthy["expires_in"] > 3000 and healthy["fix"] == ""
    assert "InvalidClient" in next(r["detail"] for r in rows if r["profile"] == "site-02")
    with open(batch_dir / "summary.csv", newline="") as handle:
        assert {r["profile"]: r["outcome"] for r in csv.DictReader(handle)} == _expected()
    report = (batch_dir / "report.html").read_text()
    assert report.index("<table") < report.index("site-00") and "<script" not in report and "src=" not in report
    for site in fleet.names:
        assert (batch_dir / site / "04_token_status.ipynb").is_file()
    assert oct(batch_dir.stat().st_mode & 0o777) == "0o700"
    assert {oct(p.stat().st_mode & 0o777) for p in batch_dir.rglob("*") if p.is_file()} == {"0o600"}
    assert scan_paths([batch_dir], fleet.canaries()) == []


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", *args], stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[str]:
    """A real scheduler and two single-thread workers on 127.0.0.1; stopped at teardown."""
    distributed = pytest.importorskip("distributed")
    file = tmp_path / "scheduler.json"
    procs = [_start(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(file)], tmp_path / "scheduler.log")]
    try:
        deadline = time.monotonic() + 60
        while not file.exists() and procs[0].poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # polling for a condition (the file), not an ordering
        assert file.exists(), (tmp_path / "scheduler.log").read_text()
        for i in range(2):
            procs.append(_start(["distributed.cli.dask_worker", "--scheduler-file", str(file), "--nthreads", "1",
                                 "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"], tmp_path / f"worker{i}.log"))
        address = json.loads(file.read_text())["address"]
        with distributed.Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=90)
        yield address
    finally:
        for proc in reversed(procs):  # workers first: a worker without its scheduler retries for a while
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.mark.dask
def test_dask_batch_gives_the_same_outcomes(fleet: Fleet, tmp_path: Path, dask_cluster: str) -> None:
    code, batch_dir = _batch(fleet, tmp_path / "out", "--executor", "dask", "--scheduler", dask_cluster)
    assert _outcomes(batch_dir) == _expected()
    assert code == ExitCode.MISCONFIGURED
    assert all((batch_dir / site / "04_token_status.ipynb").is_file() for site in fleet.names)
    assert scan_paths([batch_dir], fleet.canaries()) == []


def test_ctrl_c_keeps_the_finished_sites_and_cancels_the_rest(fleet: Fleet, tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "gapps_runbook", "--home", str(fleet.home), "--issuer", fleet.running.base_url,
            "batch", "04", "--all", "-p", "refresh", "true", "-p", "verify", "false", "--jobs", "1", "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for_sites(out, proc, 1)  # the journal says site-00 finished (its notebook file exists from its start)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == ExitCode.EXPIRED, stderr.decode()
    assert b"Cancelled:" in stderr and b"Traceback" not in stderr
    rows = json.loads(next(out.glob("*/summary.json")).read_text())
    assert [r["profile"] for r in rows] == fleet.names
    assert rows[0]["outcome"] == "reauthorize"  # site-00 finished: kept
    cancelled = [r["profile"] for r in rows if r["detail"] == batch_outcome.CANCELLED]
    assert len(cancelled) >= 10 and all(r["outcome"] == "failed" for r in rows if r["profile"] in cancelled)


def _batch_process(fleet: Fleet, out: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "gapps_runbook", "--home", str(fleet.home), "--issuer", fleet.running.base_url,
            "batch", "04", "--all", "-p", "refresh", "true", "-p", "verify", "false", "--jobs", "1", "--out", str(out),
            "--no-progress"]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _journaled(out: Path) -> dict[str, str]:
    """The finished sites in the batch's journal, by profile."""
    journal = next(out.glob("*/journal.jsonl"), None)
    if journal is None:
        return {}
    entries = [json.loads(line) for line in journal.read_text().splitlines()[1:]]
    return {e["row"]["profile"]: e["row"]["outcome"] for e in entries}


def _wait_for_sites(out: Path, proc: subprocess.Popen[bytes], count: int) -> None:
    deadline = time.monotonic() + 120
    while len(_journaled(out)) < count and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting for the condition "count sites finished"
    assert len(_journaled(out)) >= count


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_keep_every_finished_site_as_ctrl_c_does(fleet: Fleet, tmp_path: Path, signum: int) -> None:
    out = tmp_path / "out"
    proc = _batch_process(fleet, out)
    _wait_for_sites(out, proc, 2)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == ExitCode.EXPIRED, stderr.decode()
    assert b"Cancelled:" in stderr and b"--resume" in stderr and b"Traceback" not in stderr
    printed = dict(re.findall(r"\] (site-\d\d) +(\w+) \(", stderr.decode()))
    rows = {r["profile"]: r for r in json.loads(next(out.glob("*/summary.json")).read_text())}
    assert list(rows) == fleet.names
    finished = {name: r["outcome"] for name, r in rows.items() if r["detail"] != batch_outcome.CANCELLED}
    assert len(finished) >= 2 and finished == printed == _journaled(out)
    assert all(finished[name] == _expected()[name] for name in finished)


def test_sigkill_leaves_a_journal_that_resume_turns_into_the_whole_summary(fleet: Fleet, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _batch_process(fleet, out)
    _wait_for_sites(out, proc, 3)
    proc.kill()
    proc.wait(30)
    (batch_dir,) = out.iterdir()
    before = _journaled(out)
    assert not (batch_dir / "summary.json").exists() and len(before) >= 3
    assert oct((batch_dir / "journal.jsonl").stat().st_mode & 0o777) == "0o600"
    mtimes = {name: (batch_dir / name / "04_token_status.ipynb").stat().st_mtime_ns for name in before}
    code = cli.run(["batch", "--resume", str(batch_dir), "--jobs", "2", "--no-progress"])
    assert code == ExitCode.MISCONFIGURED
    assert _outcomes(batch_dir) == _expected() == _journaled(out)
    assert {name: (batch_dir / name / "04_token_status.ipynb").stat().st_mtime_ns for name in before} == mtimes
    assert cli.run(["batch", "--resume", str(batch_dir), "--no-progress"]) == ExitCode.MISCONFIGURED  # nothing left
    assert _outcomes(batch_dir) == _expected()
    assert scan_paths([batch_dir], fleet.canaries()) == []


def test_a_secret_parameter_is_refused_before_anything_starts(fleet: Fleet, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = cli.run(["--home", str(fleet.home), "batch", "04", "--profiles", "site-10", "-p", "client_secret",
                    WRONG_SECRET, "--out", str(out)])
    assert code == ExitCode.BAD_INPUT and not out.exists()


def test_sites_file_and_selections(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    for name in ("site-a", "site-b", "a", "b"):
        store.ensure_dirs(store.profile(name).path)
    sites = tmp_path / "sites.csv"
    sites.write_text("profile,issuer,notes\nsite-a,http://127.0.0.1:9/,Lyon office\nsite-b,,\n\nsite-a,,dup\n")
    specs = select_sites(profiles=None, all_profiles=False, sites_file=sites, home=tmp_path, issuer="http://x/")
    assert [(s.profile, s.issuer, s.notes) for s in specs] == [
        ("site-a", "http://127.0.0.1:9/", "Lyon office"), ("site-b", "http://x/", "")]
    assert [s.profile for s in select_sites(profiles="b, a,b", all_profiles=False, sites_file=None,
                                            home=tmp_path, issuer=None)] == ["b", "a"]
    for kwargs in ({"profiles": None, "all_profiles": False, "sites_file": None},
                   {"profiles": "a", "all_profiles": True, "sites_file": None},
                   {"profiles": "a,nobody", "all_profiles": False, "sites_file": None},  # no such profile
                   {"profiles": "../etc", "all_profiles": False, "sites_file": None}):
        with pytest.raises(InputError):
            select_sites(home=tmp_path, issuer=None, **kwargs)  # type: ignore[arg-type]
    (tmp_path / "bad.csv").write_text("name,notes\nx,y\n")
    with pytest.raises(InputError, match="no 'profile' column"):
        read_sites_file(tmp_path / "bad.csv")


def _status(**kw: object) -> SimpleNamespace:
    base = {"token_id": "abc", "expires_in": 3600, "missing_scopes": (), "has_refresh_token": True,
            "refresh_token_expires_in": None, "refresh_interrupted": False, "handed_off_to": None, "refused_at": None}
    return SimpleNamespace(**{**base, **kw})


@pytest.mark.parametrize(("status", "outcome"), [
    (_status(), "ok"),
    (_status(refresh_token_expires_in=8 * 86400), "ok"),
    (_status(refresh_token_expires_in=6 * 86400), "expiring"),  # a Testing-mode consent screen
    (_status(has_refresh_token=False, expires_in=1200), "expiring"),
    (_status(refresh_token_expires_in=0), "expired"),
    (_status(has_refresh_token=False, expires_in=0), "expired"),
    (_status(has_refresh_token=False, refused_at="2026-12-06T11:00:00Z"), "expired"),  # invalid_grant at a refresh
    (_status(missing_scopes=("x",)), "reauthorize"),
    (_status(token_id=None, expires_in=None, has_refresh_token=False), "reauthorize"),
])
def test_outcome_of_a_passed_run(status: SimpleNamespace, outcome: str) -> None:
    current = SimpleNamespace(token=status, health=state.health(status))  # type: ignore[arg-type]
    assert batch_outcome.from_state(current)[0] == outcome  # type: ignore[arg-type]


def test_exit_code_is_the_worst_sites() -> None:
    assert batch_outcome.batch_exit_code(["ok", "ok"]) == 0
    assert batch_outcome.batch_exit_code(["ok", "expiring"]) == ExitCode.REAUTHORIZE
    assert batch_outcome.batch_exit_code(["network", "reauthorize"]) == ExitCode.REAUTHORIZE
    assert batch_outcome.batch_exit_code(["expiring", "network"]) == ExitCode.NETWORK
    assert batch_outcome.batch_exit_code(["reauthorize", "misconfigured", "ok"]) == ExitCode.MISCONFIGURED
    assert batch_outcome.batch_exit_code(["misconfigured", "failed"]) == ExitCode.FAILURE
