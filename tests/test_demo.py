"""``gapps-runbook demo``: notebooks 01-04 on the emulator leave executed notebooks, a report, no secret."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from gapps_runbook.safety import leakscan
from gapps_runbook.runs.demo import run_demo
from gapps_runbook.emulator import Emulator

PREFIX = {"access_token": "ya29.", "refresh_token": "1//", "client_secret": "GOCSPX-", "auth_code": "4/0A"}


def canary_factory(planted: list[str]):
    counter = itertools.count()

    def make(kind: str) -> str:
        value = f"{PREFIX.get(kind, '')}DEMOCANARY{kind.upper().replace('_', '')}{next(counter):04d}x9Qz"
        if kind == "client_secret":
            value = value.ljust(35, "k")[:35]
        planted.append(value)
        return value

    return make


@pytest.mark.notebook
def test_demo_runs_the_notebooks_and_leaves_no_secret(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    planted: list[str] = []
    emulator = Emulator(auto_approve=True, secret_factory=canary_factory(planted))
    lines: list[str] = []
    run_dir = run_demo(tmp_path, echo=lines.append, emulator=emulator)
    names = sorted(p.name for p in run_dir.glob("*.ipynb"))
    assert names == ["01_console_checklist.ipynb", "02_client_credentials.ipynb", "03_authorize.ipynb",
                     "04_token_status.ipynb"]
    assert len(list((run_dir / "device-flow").glob("*.ipynb"))) == 4
    assert (run_dir / "report.html").stat().st_size > 10_000
    status = json.loads((run_dir / "04_token_status.ipynb").read_text())
    text = json.dumps(status)
    assert "calendarList" in text and "refused" in text
    kinds = {value.split("DEMOCANARY")[1][:6] for value in planted}
    assert {"ACCESS", "REFRES", "CLIENT", "DEVICE", "AUTHCO"} <= kinds
    findings = leakscan.scan_paths([run_dir], planted)
    assert not findings, leakscan.format_findings(findings)
    assert any("token id" in line for line in lines)
    assert not list(run_dir.rglob("authorized_user.json")) and not list(run_dir.rglob("client.json"))
    noise = capfd.readouterr().err  # the kernels inherit this process's stderr
    assert "[IPKernelApp]" not in noise and "KeyboardInterrupt" not in noise, noise[-500:]
