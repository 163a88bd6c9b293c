"""``gapps-runbook lab`` without JupyterLab: the workspace copies (runs/workspace.py) and the command's plan."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gapps_runbook.cli import cli
from gapps_runbook.commands import lab as lab_module
from gapps_runbook.errors import InputError
from gapps_runbook.runs import workspace
from gapps_runbook.runs.step_notebooks import notebooks_dir
from gapps_runbook.steps import STEPS

NAMES = [f"{s.notebook}.ipynb" for s in STEPS]


def _parameters(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return next("".join(c["source"]) for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))


def test_a_new_workspace_holds_every_step_with_parameters_and_no_outputs(tmp_path: Path) -> None:
    before = {n: (notebooks_dir() / n).read_bytes() for n in NAMES}
    made = workspace.prepare("site-a", home=tmp_path / "home", issuer="http://127.0.0.1:8765",
                             templates=notebooks_dir())
    assert made.folder == (tmp_path / "home").resolve() / "workspaces" / "site-a"
    assert stat.S_IMODE(made.folder.stat().st_mode) == 0o700 and made.created == NAMES and not made.kept
    for name in NAMES:
        path = made.folder / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        nb = json.loads(path.read_text(encoding="utf-8"))
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
        assert "widgets" not in nb["metadata"]
        params = _parameters(path)
        assert "profile = 'site-a'" in params and f"home = '{(tmp_path / 'home').resolve()}'" in params
        assert "issuer = 'http://127.0.0.1:8765'" in params and "# one profile per site" in params
        compile(params, name, "exec")  # still Python
    assert {n: (notebooks_dir() / n).read_bytes() for n in NAMES} == before  # the templates never change


def test_reopening_keeps_edits_and_offers_a_newer_template_beside_them(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    for name in NAMES:
        (templates / name).write_bytes((notebooks_dir() / name).read_bytes())
    first = workspace.prepare("site-a", home=tmp_path, issuer="", templates=templates)
    mine = first.folder / NAMES[3]
    mine.write_text(mine.read_text(encoding="utf-8").replace("timeout = 600", "timeout = 900"), encoding="utf-8")
    again = workspace.prepare("site-a", home=tmp_path, issuer="", templates=templates)
    assert again.kept == NAMES and not again.created and not again.newer
    assert "timeout = 900" in _parameters(mine)
    nb = json.loads((templates / NAMES[4]).read_text(encoding="utf-8"))
    nb["cells"][0]["source"] = ["# a newer introduction\n"]
    (templates / NAMES[4]).write_text(json.dumps(nb), encoding="utf-8")
    third = workspace.prepare("site-a", home=tmp_path, issuer="", templates=templates)
    assert third.newer == [NAMES[4]]
    offered = first.folder / f"{STEPS[4].notebook}.new.ipynb"
    assert "a newer introduction" in offered.read_text(encoding="utf-8")
    assert "a newer introduction" not in (first.folder / NAMES[4]).read_text(encoding="utf-8")
    assert any(".new.ipynb" in line for line in third.report_lines())


def test_a_template_without_a_parameters_cell_is_refused_with_a_fix() -> None:
    with pytest.raises(InputError, match="parameters") as caught:
        workspace.workspace_copy({"cells": [], "metadata": {}}, {"profile": "a"})
    assert "notebooks/" in caught.value.fix


def test_lab_prepares_the_workspace_and_starts_jupyterlab_on_loopback(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_run(command: list[str], token: str, url: str, *, open_browser: bool) -> int:
        seen.update(command=command, token=token, url=url, open_browser=open_browser)
        return 0

    monkeypatch.setattr(lab_module, "run_jupyterlab", fake_run)
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "--profile", "site-b", "lab", "--no-browser",
                                      "--port", "8999"])
    assert result.exit_code == 0, result.output
    assert "--ServerApp.ip=127.0.0.1" in seen["command"] and "--ServerApp.open_browser=False" in seen["command"]
    assert f"--ServerApp.root_dir={tmp_path.resolve() / 'workspaces' / 'site-b'}" in seen["command"]
    assert seen["url"] == f"http://127.0.0.1:8999/lab/tree/00_start_here.ipynb?token={seen['token']}"
    assert seen["url"] in result.output and not seen["open_browser"]
    assert all(seen["token"] not in part for part in seen["command"])  # through JUPYTER_TOKEN, not argv (ps)
    assert "issuer = ''" in _parameters(tmp_path / "workspaces" / "site-b" / NAMES[0])


def test_lab_emulator_points_the_copies_at_the_practice_emulator(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lab_module, "run_jupyterlab", lambda *a, **k: 0)
    monkeypatch.setattr(lab_module, "start_emulator", lambda home, log, issuer: None)  # "already answering"
    monkeypatch.delenv("GAPPS_RUNBOOK_EMULATOR_PORT")  # the default port (nothing binds it here)
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "lab", "--emulator", "--no-browser", "--port", "8999"])
    assert result.exit_code == 0, result.output
    assert "issuer = 'http://127.0.0.1:8765'" in _parameters(tmp_path / "workspaces" / "default" / NAMES[3])
    result = CliRunner().invoke(cli, ["--home", str(tmp_path / "b"), "lab", "--emulator", "--emulator-port", "9123",
                                      "--no-browser", "--port", "8999"])
    assert "issuer = 'http://127.0.0.1:9123'" in _parameters(tmp_path / "b" / "workspaces" / "default" / NAMES[3])


def test_an_emulator_that_does_not_start_names_the_one_command(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    class Dead:
        def poll(self) -> int:
            return 1

        def terminate(self) -> None:
            pass

    monkeypatch.setattr(lab_module, "is_emulator", lambda issuer, timeout=1.0: None)  # nothing answers
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: Dead())
    monkeypatch.setattr(lab_module, "wait_until", lambda check, seconds, poll=0.2: check())
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "lab", "--emulator", "--no-browser"])
    assert result.exit_code != 0 and "gapps-runbook emulator" in result.output
    assert len(result.output.strip().splitlines()) == 1
