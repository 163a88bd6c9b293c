"""``import gapps_runbook`` (and the notebook-run modules) stays light: no Jupyter stack at import time."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("papermill", "nbformat", "nbconvert", "nbclient", "ipywidgets", "jupyter_client", "ipykernel", "IPython")
MODULES = (
    "gapps_runbook",
    "gapps_runbook.safety.params",
    "gapps_runbook.safety.scrub",
    "gapps_runbook.safety.leakscan",
    "gapps_runbook.runs.execute",
)


def imported_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_package_import_pulls_no_jupyter_stack() -> None:
    loaded = imported_after("; ".join(f"import {m}" for m in MODULES))
    assert set(MODULES) <= loaded
    assert sorted(m for m in loaded if m.split(".")[0] in HEAVY) == []


def test_the_check_can_fail() -> None:
    assert "papermill" in imported_after("import gapps_runbook.runs.execute, papermill")
