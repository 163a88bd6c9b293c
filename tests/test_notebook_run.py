"""run_notebook / export_html on real kernels: outcomes, error lines, and zero leaked canaries (L1, L2).

Each fixture notebook in tests/notebooks runs once (module fixture); its name says whether it
passes or fails (nbval's ``nb-<topic>-<pass|fail>-<why>.ipynb`` convention).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from gapps_runbook.errors import InputError, NotebookRunError
from gapps_runbook.safety.leakscan import format_findings, scan_paths, scan_text
from gapps_runbook.runs.execute import RunResult, export_html, run_notebook
from gapps_runbook.safety.scrub import INJECTED_TAG, TRANSIENT_PLACEHOLDER

pytestmark = pytest.mark.notebook

NOTEBOOKS = Path(__file__).parent / "notebooks"
FIXTURES = sorted(NOTEBOOKS.glob("nb-*.ipynb"))
CANARY = f'Canary &<tag> "q"/{uuid.uuid4().hex}'  # not Google-shaped: only exact scrubbing removes it
USER_CODE = "QXWZ-" + uuid.uuid4().hex[:4].upper()
ENV = {"GAPPS_TEST_CLIENT_SECRET": CANARY, "GAPPS_TEST_USER_CODE": USER_CODE}
PARAMS = {"profile": "work-calendar", "scopes": ["https://www.googleapis.com/auth/calendar.readonly"]}

def scrub_file(path: Path, *, secrets: list[str]) -> None:
    """Scrub a notebook file in place, as a run folder's copy is scrubbed."""
    import nbformat

    from gapps_runbook.safety.scrub import scrub_notebook

    nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    path.write_text(nbformat.writes(scrub_notebook(nb, secrets=secrets)), encoding="utf-8")



@dataclass
class Runs:
    results: dict[str, RunResult]
    base: Path
    log: str


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    base = tmp_path_factory.mktemp("runs")
    records: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: records.append(handler.format(record))  # type: ignore[method-assign]
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        results = {
            nb.stem: run_notebook(nb, base / nb.stem, PARAMS, env=ENV, timeout=120, check=False) for nb in FIXTURES
        }
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    yield Runs(results, base, "\n".join(records))


def saved(runs: Runs, stem: str) -> nbformat.NotebookNode:
    path = runs.results[stem].output_path
    assert path is not None and path.is_file()
    return nbformat.read(path, as_version=4)


@pytest.mark.parametrize("notebook", FIXTURES, ids=lambda p: p.stem)
def test_outcome_matches_fixture_name(runs: Runs, notebook: Path) -> None:
    result = runs.results[notebook.stem]
    expected = "failed" if "-fail-" in notebook.name else "ok"
    assert result.status == expected, result.error
    assert result.output_path == runs.base / notebook.stem / notebook.name


def test_zero_canary_findings_in_any_artifact(runs: Runs) -> None:
    findings = scan_paths([runs.base], [CANARY, USER_CODE])
    findings += scan_text("log", runs.log, [CANARY, USER_CODE])
    assert findings == [], format_findings(findings)
    assert len(list(runs.base.rglob("*"))) == 2 * len(FIXTURES)  # one folder and one notebook per run


def test_pass_run_keeps_parameter_names_only(runs: Runs) -> None:
    nb = saved(runs, "nb-basic-pass-params")
    assert not [c for c in nb.cells if INJECTED_TAG in c.metadata.get("tags", [])]
    assert "parameters" not in nb.metadata.papermill
    assert nb.metadata.gapps_runbook.parameter_names == ["profile", "scopes"]
    assert nb.cells[-1].outputs[0].text == "profile=work-calendar scopes=1\n"
    assert runs.results["nb-basic-pass-params"].duration > 0


def test_fail_run_names_the_step_and_saves_a_scrubbed_notebook(runs: Runs) -> None:
    result = runs.results["nb-authorize-fail-step03"]
    error = result.error
    assert isinstance(error, NotebookRunError)
    line = str(error)
    assert line.startswith("notebook nb-authorize-fail-step03.ipynb failed at cell 3: RuntimeError: access_denied")
    assert line.endswith("Fix: runbook step 03 (authorize)")
    assert "\n" not in line and CANARY not in line and CANARY not in error.evalue
    assert (error.ename, error.cell_index, error.output_path) == ("RuntimeError", 3, result.output_path)
    nb = saved(runs, "nb-authorize-fail-step03")
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert [o.ename for o in errors] == ["RuntimeError"] and "[redacted]" in errors[0].evalue
    assert nb.cells[-1].source == 'print("never reached")' and nb.cells[-1].outputs == []


def test_env_canary_in_every_output_kind_is_scrubbed(runs: Runs) -> None:
    nb = saved(runs, "nb-canary-pass-env-secret")
    kinds = {(o.output_type, *sorted(o.get("data", {}))) for c in nb.cells for o in c.get("outputs", [])}
    assert ("stream",) in kinds and ("display_data", "text/html", "text/plain") in kinds
    assert ("display_data", "application/json", "text/plain") in kinds
    assert json.dumps(nb).count("[redacted]") >= 10
    assert TRANSIENT_PLACEHOLDER in json.dumps(nb)


def test_password_widget_state_is_not_saved(runs: Runs) -> None:
    nb = saved(runs, "nb-widgets-pass-password")
    assert "widgets" not in nb.metadata
    views = [o for o in nb.cells[-1].outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 1  # the widget was displayed; only its state is gone


def test_control_papermill_alone_leaks_then_scrub_file_cleans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without this module, papermill 2.7 + nbclient save both the parameter and the widget value."""
    import papermill

    monkeypatch.setenv("GAPPS_TEST_CLIENT_SECRET", CANARY)
    raw = tmp_path / "raw.ipynb"
    papermill.execute_notebook(str(NOTEBOOKS / "nb-widgets-pass-password.ipynb"), str(raw),
                               parameters={"profile": CANARY + "-param"}, progress_bar=False, kernel_name="python3")
    data = json.loads(raw.read_text())
    assert json.dumps(CANARY)[1:-1] in json.dumps(data["metadata"]["widgets"])  # the Password value
    assert data["metadata"]["papermill"]["parameters"] == {"profile": CANARY + "-param"}
    found = scan_paths([raw], [CANARY])
    assert {f.where.split(".")[0] for f in found if f.kind == "canary"} >= {"metadata", "cells[2]"}
    assert {f.form for f in found if f.kind == "structure"} == {"injected-parameters", "papermill-parameters",
                                                                "widget-state"}
    scrub_file(raw, secrets=[CANARY])
    assert scan_paths([raw], [CANARY]) == []


def test_secret_parameter_is_refused_before_any_kernel(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(InputError, match="'client_secret'"):
        run_notebook(FIXTURES[0], tmp_path / "out", {"client_secret": "GOCSPX-1a2B3c4D5e6F7g8H9i0JkLmN"})
    with pytest.raises(InputError, match="'note'"):
        run_notebook(FIXTURES[0], tmp_path / "out", {"note": "1//0gLongRefreshTokenValue-abcdefghijk"})
    assert time.monotonic() - started < 1.0
    assert not (tmp_path / "out").exists()


def test_missing_notebook_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        run_notebook(tmp_path / "nope.ipynb", tmp_path / "out", {})


def test_kernel_that_cannot_start_raises_one_line(tmp_path: Path) -> None:
    notebook = NOTEBOOKS / "nb-basic-pass-params.ipynb"
    with pytest.raises(NotebookRunError) as info:
        run_notebook(notebook, tmp_path, {"profile": "x"}, kernel_name="gapps-no-such-kernel", timeout=30)
    error = info.value
    assert error.ename == "NoSuchKernel" and error.cell_index is None
    assert f"run {notebook.name} again" in str(error) and "\n" not in str(error)
    assert error.__cause__ is None and error.__suppress_context__
    assert error.output_path is not None  # papermill saved the parameterized notebook before starting the kernel
    nb = nbformat.read(error.output_path, as_version=4)
    assert not [c for c in nb.cells if INJECTED_TAG in c.metadata.get("tags", [])]
    assert nb.metadata.gapps_runbook.parameter_names == ["profile"]


def test_export_html_builds_one_scrubbed_report(runs: Runs, tmp_path: Path) -> None:
    outputs = [r.output_path for r in runs.results.values() if r.output_path]
    report = export_html(outputs, tmp_path / "report.html", title="Runbook run <1>")
    text = report.read_text(encoding="utf-8")
    assert text.count("<title>Runbook run &lt;1&gt;</title>") == 1 and text.count("</html>") == 1
    for path in outputs:
        assert f"<h1>{path.stem}</h1>" in text
    assert "profile=work-calendar scopes=1" in text and TRANSIENT_PLACEHOLDER in text
    assert scan_paths([report], [CANARY, USER_CODE]) == []


class _FakeExecutionError(Exception):
    """Shaped like papermill's PapermillExecutionError (no kernel needed)."""

    ename, evalue, cell_index = "KeyError", "'calendar' (token GOCSPX-abcdefghijklmnopqrstuv)", 3


def test_error_without_fix_names_the_notebook_and_maps_the_cell() -> None:
    from gapps_runbook.runs.execute import _run_error

    notebook = NOTEBOOKS / "nb-basic-pass-params.ipynb"  # markdown, parameters, code: papermill's 3 is our 2
    error = _run_error(_FakeExecutionError(), notebook, Path("/runs/x.ipynb"), True, [])
    assert str(error) == (
        "notebook nb-basic-pass-params.ipynb failed at cell 2: KeyError: 'calendar' (token [redacted]). "
        "Fix: fix the cause (the error is saved in /runs/x.ipynb), then run nb-basic-pass-params.ipynb again"
    )
    assert _run_error(_FakeExecutionError(), notebook, None, False, []).cell_index == 3
