"""An import that replaces a profile never destroys it, and keeps its history.

- ``import --force`` of an export older than the grant (rotation on: the export's refresh token was
  rotated away since): the staged token is probed before the swap, the provider refuses it, exit 7 in
  one line saying the profile was not replaced; every file of the old profile is as it was and it
  still refreshes.
- A good export replacing a profile: the profile's audit log keeps its old lines, then the staged
  profile's own, then the import as an event.
- A killed import leaves ``profiles/.import-*`` (or ``.replaced-*``) folders holding secrets: the next
  import removes them under the store lock, ``status --all`` removes them or names any it cannot.
  Kills aimed at the moment before the swap and at random moments; after the next import no staging
  folder is left and the profile is the old one or the new one, whole.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gapps_runbook import cli, runbook
from gapps_runbook.emulator import Emulator, RunningEmulator, serve
from gapps_runbook.errors import ExitCode
from gapps_runbook.profile import audit, backup
from gapps_runbook.profile.files import CLIENT_FILE, SETTINGS_FILE, TOKEN_FILE
from gapps_runbook.profile.store import ProfileStore

from sites import CALENDAR, authorized_site, browser

PASSPHRASE = "correct horse battery staple 15"
PROFILE = "site-a"
KILL_BEFORE_SWAP = """
import os, signal, sys
from gapps_runbook.profile import backup
backup._swap_in = lambda target, staging: os.kill(os.getpid(), signal.SIGKILL)
from gapps_runbook.cli import main
sys.argv = ["gapps-runbook", *sys.argv[1:]]
main()
"""


@pytest.fixture
def rotating() -> Iterator[RunningEmulator]:
    with serve(Emulator(auto_approve=True, rotate_refresh_tokens=True)) as running:
        yield running


def export(site: runbook.Site, out: Path) -> None:
    out.write_bytes(backup.export_bytes([site.profile], PASSPHRASE))


def import_cli(home: Path, file: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> int:
    monkeypatch.setenv("BACKUP_PASSPHRASE", PASSPHRASE)
    return cli.run(["--home", str(home), "import", str(file), "--passphrase-env", "BACKUP_PASSPHRASE", *extra])


def files(profile_dir: Path) -> dict[str, bytes]:
    return {name: (profile_dir / name).read_bytes()
            for name in (SETTINGS_FILE, CLIENT_FILE, TOKEN_FILE, audit.AUDIT_FILE) if (profile_dir / name).exists()}


def leftovers(home: Path) -> list[str]:
    return [p.name for p in (home / "profiles").iterdir() if p.name.startswith((".import-", ".replaced-"))]


def test_a_stale_export_forced_over_a_working_profile_is_refused_and_the_profile_is_untouched(
        tmp_path: Path, rotating: RunningEmulator, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    site = authorized_site(home, rotating, PROFILE)
    stale = tmp_path / "stale.age"
    export(site, stale)
    runbook.refresh(site)  # the provider rotates: the export's refresh token is dead from here on
    before = files(site.profile.path)
    history = audit.read(site.profile)
    capsys.readouterr()
    assert import_cli(home, stale, monkeypatch, "--force") == ExitCode.REAUTHORIZE
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "was not replaced and is untouched" in err[0] and "Fix:" in err[0]
    assert files(site.profile.path) == before and leftovers(home) == []
    assert runbook.refresh(site).refresh_token  # the old profile still refreshes
    assert audit.read(site.profile)[:len(history)] == history


def test_a_good_export_replacing_a_profile_keeps_its_history_and_adds_the_import(
        tmp_path: Path, rotating: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    site = authorized_site(home, rotating, PROFILE)
    runbook.refresh(site)
    good = tmp_path / "good.age"
    export(site, good)
    history = audit.read(site.profile)
    assert history
    assert import_cli(home, good, monkeypatch, "--force") == 0
    after = audit.read(site.profile)
    assert after[:len(history)] == history
    assert [r["step"] for r in after[len(history):]].count("import") == 1
    imported = next(r for r in after if r["step"] == "import")
    assert imported["detail"] == "replaced the profile from an export" and imported["outcome"] == "ok"
    assert runbook.refresh(site).refresh_token and leftovers(home) == []


def test_a_new_profile_import_is_an_audit_event(tmp_path: Path, rotating: RunningEmulator,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    site = authorized_site(tmp_path / "a", rotating, PROFILE)
    out = tmp_path / "a.age"
    export(site, out)
    assert import_cli(tmp_path / "b", out, monkeypatch) == 0
    steps = [r["step"] for r in audit.read(ProfileStore(tmp_path / "b").profile(PROFILE))]
    assert steps[0] == "import" and "refresh" in steps


# --- kill -9 during imports -------------------------------------------------------------------------------


def _import_process(home: Path, file: Path, *, aimed: bool) -> subprocess.Popen[str]:
    env = {**os.environ, "GAPPS_RUNBOOK_HOME": str(home), "BACKUP_PASSPHRASE": PASSPHRASE}
    head = ["-c", KILL_BEFORE_SWAP] if aimed else ["-m", "gapps_runbook"]
    return subprocess.Popen([sys.executable, *head, "import", str(file), "--passphrase-env", "BACKUP_PASSPHRASE",
                             "--force"], env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_an_import_killed_before_its_swap_leaves_a_folder_the_next_import_removes(
        tmp_path: Path, rotating: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    site = authorized_site(home, rotating, PROFILE)
    out = tmp_path / "site.age"
    export(site, out)
    killed = _import_process(home, out, aimed=True)
    killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL and len(leftovers(home)) == 1
    # the killed import's probe spent the refresh token both the profile and the export held: the staged
    # folder holds the only live one, so the next import finishes the killed one (and finds its own export stale)
    assert import_cli(home, out, monkeypatch, "--force") == ExitCode.REAUTHORIZE
    assert leftovers(home) == [] and runbook.refresh(site).refresh_token
    details = [r["detail"] for r in audit.read(site.profile) if r["step"] == "import"]
    assert details == ["replaced the profile from an export", "finished an import that was killed before its swap"]


def test_an_import_killed_before_its_probe_is_removed_and_the_profile_kept(
        tmp_path: Path, rotating: RunningEmulator) -> None:
    home = tmp_path / "home"
    site = authorized_site(home, rotating, PROFILE)
    out = tmp_path / "site.age"
    export(site, out)
    runbook.refresh(site)  # the export is stale now
    before = files(site.profile.path)
    store = ProfileStore(home)
    staged = store.profiles_dir / ".import-0000killed00"
    _stage_like_a_killed_import(store, out, staged)
    assert store.sweep_leftovers() == [] and not staged.exists()
    assert files(site.profile.path) == before and runbook.refresh(site).refresh_token


def _stage_like_a_killed_import(store: ProfileStore, out: Path, staged: Path) -> None:
    """A staged folder as a kill before the probe leaves it: complete, marked, not cleared (the import
    is stopped in its probe, after a copy of its staging folder is taken)."""
    captured: list[Path] = []

    def keep(staging: object) -> None:
        path = staging.path  # type: ignore[attr-defined]
        shutil.copytree(path, staged)
        captured.append(path)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backup.import_bytes(out.read_bytes(), PASSPHRASE, store, force=True, probe=keep)
    marker = json.loads((staged / "import.ready").read_text())
    assert captured and marker["cleared"] is False and marker["profile"] == PROFILE


def test_status_all_removes_leftovers_and_names_those_it_cannot(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from gapps_runbook.profile import store as store_module

    home = tmp_path / "home"
    store = ProfileStore(home)
    store.profile("p").update_settings(lambda s: None)
    (store.profiles_dir / ".import-0123456789ab").mkdir(mode=0o700)
    (store.profiles_dir / ".import-0123456789ab" / TOKEN_FILE).write_text("{}")
    assert cli.run(["--home", str(home), "status", "--all"]) in (0, ExitCode.REAUTHORIZE)
    assert leftovers(home) == [] and ".import-" not in capsys.readouterr().err
    (store.profiles_dir / ".replaced-p-0123456789ab").mkdir(mode=0o700)
    monkeypatch.setattr(store_module.shutil, "rmtree", lambda *a, **k: None)  # as if it could not be removed
    cli.run(["--home", str(home), "status", "--all"])
    err = capsys.readouterr().err
    assert ".replaced-p-0123456789ab" in err and "Fix: remove it by hand" in err


def test_a_sweep_leaves_a_running_imports_folders_alone(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path / "home")
    store.profile("p").update_settings(lambda s: None)
    staging = store.profiles_dir / ".import-abcdefabcdef"
    staging.mkdir(mode=0o700)
    sweep = [sys.executable, "-c", "import sys; from gapps_runbook.profile.store import ProfileStore; "
             "print(ProfileStore(sys.argv[1]).sweep_leftovers())", str(tmp_path / "home")]
    with store.locked():  # an import in progress (here: this process) holds the store lock
        other = subprocess.run(sweep, text=True, capture_output=True, timeout=60)
        assert other.returncode == 0 and other.stdout.strip() == "[]" and staging.exists()
    assert store.sweep_leftovers() == [] and not staging.exists()


@dataclass
class KillTrials:
    problems: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # kills after which the profile no longer refreshed


def random_kills(tmp_path: Path, running: RunningEmulator, count: int, seed: int) -> KillTrials:
    """Kill ``count`` forced imports of a fresh export (every third aimed before the swap, the others at
    random moments). After each: the profile is whole and, normally, refreshes. At the end an import
    leaves no staging folder."""
    home = tmp_path / f"home-{seed}"
    site = authorized_site(home, running, PROFILE)
    out = tmp_path / f"site-{seed}.age"
    export(site, out)
    started = time.monotonic()
    first = _import_process(home, out, aimed=False)
    first.communicate(timeout=120)
    lifetime = time.monotonic() - started
    rng, result = random.Random(seed), KillTrials()
    env = {**os.environ, "GAPPS_RUNBOOK_HOME": str(home)}
    for n in range(count):
        export(site, out)  # fresh: the import's probe spends the profile's refresh token at this provider
        victim = _import_process(home, out, aimed=n % 3 == 0)
        if n % 3:
            time.sleep(rng.uniform(0.0, lifetime))  # the kill moment: the experiment's variable, not a wait
            victim.kill()
        victim.communicate(timeout=120)
        try:
            ProfileStore(home).profile(PROFILE).load_token()
            ProfileStore(home).profile(PROFILE).load_client()
        except Exception as exc:  # noqa: BLE001 (recorded, not raised)
            result.problems.append(f"kill {n}: the profile is not whole ({exc})")
        after = subprocess.run([sys.executable, "-m", "gapps_runbook", "--profile", PROFILE, "refresh"], env=env,
                               text=True, capture_output=True, timeout=120)
        if after.returncode != 0:
            result.lost.append(f"kill {n}: exit {after.returncode}: {after.stderr.strip()[:160]}")
            runbook.authorize(site, (CALENDAR,), flow="desktop", open_url=browser, timeout=60)
    export(site, out)
    last = _import_process(home, out, aimed=False)
    _, err = last.communicate(timeout=120)
    if last.returncode != 0:
        result.problems.append(f"the import after the kills: exit {last.returncode}: {err.strip()[:200]}")
    if leftovers(home):
        result.problems.append(f"left after the next import: {leftovers(home)}")
    return result


@pytest.mark.timeout(600)
def test_kills_during_imports_leave_no_staging_folder_after_the_next_import_small(
        tmp_path: Path, rotating: RunningEmulator) -> None:
    result = random_kills(tmp_path, rotating, 4, seed=3)
    assert result.problems == []
    assert len(result.lost) <= 1, result.lost  # only a kill inside the probe's own refresh can lose the grant


@pytest.mark.soak
@pytest.mark.timeout(3600)  # 130 kills, each with a fresh export and an import (about 1 s of scrypt each)
def test_kills_during_imports_leave_no_staging_folder_after_the_next_import_full(
        tmp_path: Path, soak_report: object) -> None:
    problems, lost = [], []
    with serve(Emulator(auto_approve=True, rotate_refresh_tokens=True)) as running:
        for seed in range(5):
            result = random_kills(tmp_path, running, 26, seed)
            problems += result.problems
            lost += result.lost
    assert problems == [] and len(lost) <= 5, (problems, lost)
    soak_report(f"I1 kill -9 of import --force of a fresh export (aimed before the swap and at random), rotation on: "  # type: ignore[operator]
                f"130 kills, the profile whole after each, {130 - len(lost)} still refresh, no staging folder after "
                "the next import (target: whole and no folder: all; refresh >= 95 %)")
