"""A refresh killed between the temp file's fsync and its rename: the next refresh rolls forward.

With a provider that rotates refresh tokens, the provider has already retired the stored refresh token
when the answer reaches the disk; if the process dies before the rename, the only live refresh token is
in ``.authorized_user.json.<hex>.tmp``. While ``refresh.pending`` stands:

- the next ``refresh`` adopts that temp (valid JSON, this client's, issued after the stored token) and
  refreshes with it, instead of declaring the grant lost;
- no write of the token removes the temp;
- ``status`` says the token is not usable (exit 7), ``refresh_interrupted`` is True, and the refresh
  token is not shown as "yes".

K2 aims the kill: the CLI runs with ``os.replace`` patched to SIGKILL the process as it is about to
rename the token's temp file into place (after its fsync). 4 trials here, 100 in ``make soak``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gapps_runbook import cli, runbook
from gapps_runbook.emulator import Emulator, RunningEmulator, serve
from gapps_runbook.errors import ExitCode
from gapps_runbook.profile import refresh_journal
from gapps_runbook.profile.files import TOKEN_FILE
from gapps_runbook.profile.private_files import stale_temps

from sites import authorized_site

PROFILE = "rotating"
KILL_AT_RENAME = f"""
import os, signal, sys
real_replace = os.replace
def replace(src, dst, *args, **kwargs):
    if os.fspath(dst).endswith("/{TOKEN_FILE}") and os.fspath(src).endswith(".tmp"):
        os.kill(os.getpid(), signal.SIGKILL)  # the temp is complete and fsynced; the rename never happens
    return real_replace(src, dst, *args, **kwargs)
os.replace = replace
from gapps_runbook.cli import main
sys.argv = ["gapps-runbook", *sys.argv[1:]]
main()
"""


@pytest.fixture
def rotating() -> Iterator[RunningEmulator]:
    with serve(Emulator(auto_approve=True, rotate_refresh_tokens=True)) as running:
        yield running


def run(home: Path, *argv: str, kill_at_rename: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GAPPS_RUNBOOK_HOME": str(home)}
    head = ["-c", KILL_AT_RENAME] if kill_at_rename else ["-m", "gapps_runbook"]
    return subprocess.run([sys.executable, *head, "--profile", PROFILE, *argv], env=env, text=True,
                          capture_output=True, timeout=120)


def temps(home: Path) -> list[Path]:
    return stale_temps(home / "profiles" / PROFILE / TOKEN_FILE)


def test_a_kill_before_the_rename_leaves_the_live_token_in_a_temp_and_the_next_refresh_adopts_it(
        tmp_path: Path, rotating: RunningEmulator) -> None:
    home = tmp_path / "home"
    site = authorized_site(home, rotating, PROFILE)
    before = site.profile.load_token()
    killed = run(home, "refresh", kill_at_rename=True)
    assert killed.returncode == -signal.SIGKILL
    assert refresh_journal.pending(site.profile) is not None and len(temps(home)) == 1
    assert json.loads(temps(home)[0].read_text())["refresh_token"] != before.refresh_token

    shown = run(home, "status", "--json")  # the interrupted refresh is visible, and not usable
    assert shown.returncode == ExitCode.REAUTHORIZE
    state = json.loads(shown.stdout)
    assert state["refresh_interrupted"] is True and state["has_refresh_token"] is False
    plain = run(home, "status")
    assert "Refresh token: no" in plain.stdout and "Refresh token: yes" not in plain.stdout and "refresh was interrupted" in plain.stdout

    again = run(home, "refresh")
    assert again.returncode == 0, again.stderr
    assert refresh_journal.pending(site.profile) is None and temps(home) == []
    assert run(home, "refresh").returncode == 0
    assert any(r.get("outcome") == "rolled forward" for r in _audit(site))


def test_a_temp_is_kept_by_token_writes_while_the_refresh_is_unfinished(tmp_path: Path, rotating: RunningEmulator) -> None:
    home = tmp_path / "home"
    site = authorized_site(home, rotating, PROFILE)
    assert run(home, "refresh", kill_at_rename=True).returncode == -signal.SIGKILL
    (temp,) = temps(home)
    site.profile.save_token(site.profile.load_token(), site.client(), site.endpoints)  # any write of the token
    assert temp.exists()
    assert runbook.refresh(site).refresh_token
    assert not temp.exists()  # gone once the refresh it belonged to has finished


def test_only_a_complete_newer_token_of_this_client_is_adopted(tmp_path: Path, rotating: RunningEmulator) -> None:
    home = tmp_path / "home"
    site = authorized_site(home, rotating, PROFILE)
    stored = site.profile.load_token()
    folder = site.profile.path
    document = json.loads((folder / TOKEN_FILE).read_text())
    newer = {**document, "gapps_runbook": {**document["gapps_runbook"], "issued_at": stored.issued_at + 5}}
    candidates = {
        "torn": json.dumps(newer)[:40],
        "older": json.dumps({**document, "gapps_runbook": {**document["gapps_runbook"], "issued_at": 1.0}}),
        "foreign": json.dumps({**newer, "client_id": "another.apps.googleusercontent.com"}),
        "no-refresh-token": json.dumps({k: v for k, v in newer.items() if k != "refresh_token"}),
    }
    for name, text in candidates.items():
        path = folder / f".{TOKEN_FILE}.{name.encode().hex()[:16]:0<16}.tmp"
        path.write_text(text)
        os.chmod(path, 0o600)
    with site.profile.locked():
        assert site.profile.roll_forward_token() is None
    assert len(temps(home)) == 4 and site.profile.load_token() == stored  # nothing adopted, nothing removed
    good = folder / f".{TOKEN_FILE}.{'ab' * 8}.tmp"
    good.write_text(json.dumps(newer))
    os.chmod(good, 0o600)
    with site.profile.locked():
        adopted = site.profile.roll_forward_token()
    assert adopted is not None and adopted.issued_at == stored.issued_at + 5
    assert site.profile.load_token().issued_at == stored.issued_at + 5 and not good.exists()


def test_status_of_an_interrupted_refresh_is_not_usable(tmp_path: Path, rotating: RunningEmulator,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    site = authorized_site(tmp_path / "home", rotating, PROFILE)
    refresh_journal.begin(site.profile, now=site.clock.time())
    state = runbook.status(site)
    assert state.refresh_interrupted and not state.has_refresh_token
    assert cli.run(["--home", str(tmp_path / "home"), "--profile", PROFILE, "status"]) == ExitCode.REAUTHORIZE


# --- K2: kill -9 aimed at the rename of the refreshed token ------------------------------------------------


def aimed_kills(home: Path, count: int) -> tuple[int, list[str]]:
    """Kill ``count`` refreshes just before the rename; after each, refresh again. Returns (refreshed, failures)."""
    refreshed, failures = 0, []
    for n in range(count):
        killed = run(home, "refresh", kill_at_rename=True)
        if killed.returncode != -signal.SIGKILL:
            failures.append(f"trial {n}: the aimed kill did not land (exit {killed.returncode})")
            continue
        after = run(home, "refresh")
        if after.returncode == 0:
            refreshed += 1
        else:
            failures.append(f"trial {n}: exit {after.returncode}: {after.stderr.strip()[:200]}")
    return refreshed, failures


def test_k2_aimed_kill_before_rename_small(tmp_path: Path, rotating: RunningEmulator) -> None:
    authorized_site(tmp_path / "home", rotating, PROFILE)
    assert aimed_kills(tmp_path / "home", 4) == (4, [])


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_k2_aimed_kill_before_rename_full(tmp_path: Path, soak_report: object) -> None:
    with serve(Emulator(auto_approve=True, rotate_refresh_tokens=True)) as running:
        authorized_site(tmp_path / "home", running, PROFILE)
        refreshed, failures = aimed_kills(tmp_path / "home", 100)
    assert refreshed >= 95, failures
    soak_report(f"K2 kill -9 between fsync and rename of a refreshed token, rotation on: 100 trials, {refreshed} "  # type: ignore[operator]
                "refreshed afterwards (target: >= 95)")


def _audit(site: runbook.Site) -> list[dict[str, object]]:
    from gapps_runbook.profile import audit

    return audit.read(site.profile)


def test_a_provider_that_cannot_be_reached_leaves_no_refresh_pending(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Discovery fails before the refresh is journalled: nothing reached the provider, status stays ok."""
    home = tmp_path / "home"
    with serve(Emulator(auto_approve=True)) as running:
        authorized_site(home, running, PROFILE)
    base = ["--home", str(home), "--profile", PROFILE]
    assert cli.run([*base, "refresh"]) == ExitCode.NETWORK  # the emulator is gone: its port refuses
    assert refresh_journal.pending(runbook.Site.open(PROFILE, home=home).profile) is None
    capsys.readouterr()
    assert cli.run([*base, "status"]) == 0
    assert "interrupted" not in capsys.readouterr().out
