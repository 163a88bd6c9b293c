"""A batch's journal (batch/journal.py): what it holds, what a crash leaves, and ``batch --resume``'s refusals."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from gapps_runbook import cli
from gapps_runbook.errors import ExitCode, InputError
from gapps_runbook.batch.runner import resume_plan, run_batch
from gapps_runbook.batch.executors import LocalExecutor, SiteTask
from gapps_runbook.batch.journal import JOURNAL, Journal, read_journal
from gapps_runbook.batch.outcome import CANCELLED, SiteOutcome


def _tasks(batch_dir: Path, count: int = 3) -> list[SiteTask]:
    return [SiteTask(f"site-{i}", "/h", "", "/n/04_token_status.ipynb", str(batch_dir), {"refresh": True}, f"n{i}")
            for i in range(count)]


def _ok(task: SiteTask, kernel: object) -> SiteOutcome:
    return SiteOutcome(task.profile, "ok", "token usable and refreshable", notes=task.notes, duration=0.5)


def test_each_finished_site_is_one_line_on_disk_and_read_back(tmp_path: Path) -> None:
    tasks = _tasks(tmp_path)
    result = run_batch(tasks, LocalExecutor(2, _ok, pooled=False), title="t", echo=lambda line: None)
    assert result.exit_code == 0 and not result.cancelled
    path = tmp_path / JOURNAL
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["event"] == "batch" and [t["profile"] for t in lines[0]["tasks"]] == ["site-0", "site-1", "site-2"]
    assert sorted(e["row"]["profile"] for e in lines[1:]) == ["site-0", "site-1", "site-2"]
    state = read_journal(tmp_path)
    assert state.tasks == tasks and state.finished["site-1"] == SiteOutcome("site-1", "ok", "token usable and refreshable",
                                                                           notes="n1", duration=0.5)


def test_a_line_cut_short_by_a_crash_and_cancelled_sites_are_left_to_run_again(tmp_path: Path) -> None:
    journal = Journal.start(tmp_path, "t", _tasks(tmp_path))
    journal.record(SiteOutcome("site-0", "ok", "fine"))
    assert not journal.record(SiteOutcome("site-1", "failed", CANCELLED))
    journal.close()
    with open(tmp_path / JOURNAL, "a") as handle:
        handle.write('{"event": "site", "row": {"profile": "site-2", "outc')  # SIGKILL mid-write
    title, tasks, finished = resume_plan(tmp_path)
    assert title == "t" and len(tasks) == 3 and list(finished) == ["site-0"]
    ran: list[str] = []

    def runner(task: SiteTask, kernel: object) -> SiteOutcome:
        ran.append(task.profile)
        return _ok(task, kernel)

    result = run_batch(tasks, LocalExecutor(1, runner, pooled=False), title=title, echo=lambda line: None,
                       finished=finished)
    assert sorted(ran) == ["site-1", "site-2"] and [o.outcome for o in result.outcomes] == ["ok"] * 3
    assert [r["profile"] for r in json.loads((tmp_path / "summary.json").read_text())] == ["site-0", "site-1", "site-2"]
    assert set(read_journal(tmp_path).finished) == {"site-0", "site-1", "site-2"}


def test_a_symlinked_journal_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").write_text("")
    os.symlink(tmp_path / "elsewhere", tmp_path / JOURNAL)
    with pytest.raises(InputError):
        read_journal(tmp_path)
    with pytest.raises(InputError):
        Journal.open(tmp_path)


@pytest.mark.parametrize(("setup", "args", "named"), [
    ("empty", [], "no batch journal"),
    ("garbage", [], "not a batch journal"),
    ("empty", ["04"], "--resume takes"),
    ("empty", ["--all"], "--resume takes"),
    (None, [], None),
])  # fmt: skip
def test_resume_refusals_are_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], setup: str | None,
                                             args: list[str], named: str | None) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    if setup == "garbage":
        (folder / JOURNAL).write_text("not json\n")
    if setup is None:
        assert cli.run(["--home", str(tmp_path), "batch"]) == ExitCode.BAD_INPUT
        named = "--resume FOLDER"
    else:
        assert cli.run(["--home", str(tmp_path), "batch", "--resume", str(folder), *args]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0] and "Fix:" in err[0], err
    assert sorted(p.name for p in folder.iterdir()) == ([JOURNAL] if setup == "garbage" else [])
