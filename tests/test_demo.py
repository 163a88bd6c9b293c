"""``gapps-runbook demo``: notebooks 01-04 on the emulator leave executed notebooks, a report, no secret.

The report (issue 8, item 8) opens with a summary read back from what the run recorded, then one
labelled section per flow; parameters cells show the values the run used. The emulator's account is
a canary here, so a summary value that was typed into the code instead of read from the run fails.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from gapps_runbook.emulator import Emulator
from gapps_runbook.emulator.records import Scenario
from gapps_runbook.errors import NotebookRunError
from gapps_runbook.runs.demo import run_demo
from gapps_runbook.safety import leakscan

PREFIX = {"access_token": "ya29.", "refresh_token": "1//", "client_secret": "GOCSPX-", "auth_code": "4/0A"}
ACCOUNT = "canary.operator@example.org"


def canary_factory(planted: list[str]):
    counter = itertools.count()

    def make(kind: str) -> str:
        value = f"{PREFIX.get(kind, '')}DEMOCANARY{kind.upper().replace('_', '')}{next(counter):04d}x9Qz"
        if kind == "client_secret":
            value = value.ljust(35, "k")[:35]
        planted.append(value)
        return value

    return make


def outputs_text(notebook: Path) -> str:
    """Every output's text of an executed notebook, joined."""
    parts = []
    for cell in json.loads(notebook.read_text())["cells"]:
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            parts.append("".join(text) if isinstance(text, list) else str(text))
    return "\n".join(parts)


def summary_cells(page: str) -> dict[str, list[str]]:
    """The report's summary table: label -> the value of each flow's column."""
    table = re.search(r'<section id="summary">(.*?)</section>', page, re.DOTALL)
    assert table, "the report has no summary section"
    rows = re.findall(r"<tr><th>(.*?)</th>(.*?)</tr>", table.group(1), re.DOTALL)
    return {label: re.findall(r"<td[^>]*>(.*?)</td>", cells, re.DOTALL) for label, cells in rows}


@pytest.mark.notebook
def test_demo_runs_the_notebooks_and_leaves_no_secret(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    planted: list[str] = []
    emulator = Emulator(auto_approve=True, secret_factory=canary_factory(planted), account=ACCOUNT)
    lines: list[str] = []
    run_dir = run_demo(tmp_path, echo=lines.append, emulator=emulator)
    names = sorted(p.name for p in run_dir.glob("*.ipynb"))
    assert names == ["01_console_checklist.ipynb", "02_client_credentials.ipynb", "03_authorize.ipynb",
                     "04_token_status.ipynb"]
    assert len(list((run_dir / "device-flow").glob("*.ipynb"))) == 4
    status = outputs_text(run_dir / "04_token_status.ipynb")
    assert "calendarList" in status and "refused" in status
    assert "ok  Contacts people.connections.list: allowed, as expected" in status
    assert "ok  Gmail users.getProfile: refused, as expected" in status
    assert "Proof from real data: 3 contact(s) in the account" in status
    assert "people.googleapis.com" in outputs_text(run_dir / "01_console_checklist.ipynb")  # the checklist enables it
    kinds = {value.split("DEMOCANARY")[1][:6] for value in planted}
    assert {"ACCESS", "REFRES", "CLIENT", "DEVICE", "AUTHCO"} <= kinds
    findings = leakscan.scan_paths([run_dir], planted)
    assert not findings, leakscan.format_findings(findings)
    assert not list(run_dir.rglob("authorized_user.json")) and not list(run_dir.rglob("client.json"))
    noise = capfd.readouterr().err  # the kernels inherit this process's stderr
    assert "[IPKernelApp]" not in noise and "KeyboardInterrupt" not in noise, noise[-500:]

    desktop_id = re.search(r"Token id:\s+([0-9a-f]{12})", status)
    device_id = re.search(r"Token id:\s+([0-9a-f]{12})", outputs_text(run_dir / "device-flow" / "04_token_status.ipynb"))
    assert desktop_id and device_id and desktop_id.group(1) != device_id.group(1)
    verdict = status.strip().splitlines()[-1]
    assert verdict.startswith("verified:")
    assert any(f"Token id {desktop_id.group(1)}" in line and line.strip().startswith("04_token_status: ok")
               for line in lines), lines

    page = (run_dir / "report.html").read_text()
    cells = summary_cells(page)
    assert cells["Site (profile)"] == ["demo-site", "demo-device"]
    assert cells["Flow"] == ["Desktop app flow (loopback + PKCE)", "Device flow (TVs and Limited Input devices)"]
    assert [v.startswith("ok (4 steps run)") for v in cells["Outcome"]] == [True, True]
    assert cells["Token id"] == [desktop_id.group(1), device_id.group(1)]
    assert cells["Account"] == [ACCOUNT, ACCOUNT]
    assert all(re.fullmatch(r"expires in \d+ s \(at \d{4}-\d\d-\d\d \d\d:\d\d UTC\)", v) for v in cells["Expiry"])
    assert cells["Verify"][0].startswith(verdict.replace("'", "&#x27;")) and cells["Verify"][1] == "not checked in this run"
    assert "Failed step" not in cells

    flows = re.findall(r'<section class="gr-flow" id="flow-\d"><h2>(.*?)</h2>', page)
    assert flows == ["Desktop app flow (loopback + PKCE): site demo-site",
                     "Device flow (TVs and Limited Input devices): site demo-device"]
    summary_at, first_flow, first_notebook = (page.index('id="summary"'), page.index('id="flow-0"'),
                                              page.index('id="flow-0-nb-0"'))
    assert summary_at < first_flow < first_notebook
    device_part = page[page.index('id="flow-1"'):]
    assert len(re.findall(r'class="gr-nb"', page[first_flow:page.index('id="flow-1"')])) == 4
    assert len(re.findall(r'class="gr-nb"', device_part)) == 4
    source = re.sub(r"<[^>]+>", "", page).replace("&quot;", '"')
    assert 'profile = "default"' not in source and 'issuer = ""' not in source
    assert 'profile = "demo-site"' in source and 'profile = "demo-device"' in source
    device_source = re.sub(r"<[^>]+>", "", device_part).replace("&quot;", '"')
    assert re.search(r'flow = "device"\s+# this run', device_source)


@pytest.mark.notebook
def test_a_failed_demo_reports_the_failed_step_and_its_fix(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    planted: list[str] = []
    emulator = Emulator(auto_approve=True, secret_factory=canary_factory(planted), scenario=Scenario(deny=True))
    lines: list[str] = []
    with pytest.raises(NotebookRunError) as failure:
        run_demo(tmp_path, echo=lines.append, emulator=emulator)
    run_dir = next(tmp_path.glob("demo-*"))
    cells = summary_cells((run_dir / "report.html").read_text())
    assert cells["Site (profile)"] == ["demo-site"]  # the device flow never started
    assert cells["Outcome"][0].startswith("FAILED at 03_authorize")
    assert cells["Failed step"] == ["03_authorize"]
    assert failure.value.fix and cells["Fix"] == [failure.value.fix.replace("'", "&#x27;").replace('"', "&quot;")]
    assert cells["Token id"] == ["none (runbook step 03)"]
    assert any(line.strip().startswith("03_authorize: FAILED") for line in lines)
    findings = leakscan.scan_paths([run_dir], planted)
    assert not findings, leakscan.format_findings(findings)
    noise = capfd.readouterr().err  # a failing cell, then the kernel's shutdown: still no kernel log
    assert "[IPKernelApp]" not in noise and "KeyboardInterrupt" not in noise, noise[-500:]
