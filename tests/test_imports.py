"""``import gapps_runbook`` (and the notebook-run modules) stays light: no Jupyter stack at import time.

The command line stays light too (issue 9, figure B2): ``import gapps_runbook.cli`` (what ``--help``
and ``status`` pay) pulls in neither requests nor the emulator's werkzeug nor the notebook stack nor Dask, and a
notebook run imports nbformat without jsonschema's ``iri`` grammars (figure B1).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CLI_HEAVY = ("requests", "urllib3", "werkzeug", "papermill", "nbformat", "ipywidgets", "dask", "distributed",
             "jupyter_client")
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


def test_cli_import_pulls_no_emulator_server_notebook_stack_or_dask() -> None:
    loaded = imported_after("import gapps_runbook.cli")
    assert "gapps_runbook.cli" in loaded
    assert sorted(m for m in loaded if m.split(".")[0] in CLI_HEAVY) == []


def test_requests_loads_on_the_first_request_only() -> None:
    loaded = imported_after("from gapps_runbook.oauth.transport import RequestsTransport, Response, send; "
                            "RequestsTransport()")
    assert "requests" not in loaded
    assert "requests" in imported_after("from gapps_runbook.oauth.transport import RequestsTransport; "
                                        "RequestsTransport().session")


def test_cli_commands_import_the_steps_when_run(tmp_path: Path) -> None:
    loaded = imported_after("import gapps_runbook.cli")
    assert "gapps_runbook.runbook" not in loaded and "gapps_runbook.views.render" not in loaded
    run = f"from gapps_runbook import cli; cli.run(['--home', {str(tmp_path)!r}, 'client', 'show'])"
    assert {"gapps_runbook.runbook", "gapps_runbook.views.render"} <= imported_after(run)


def test_emulator_package_names_are_its_modules_own() -> None:
    import gapps_runbook.emulator as package
    from gapps_runbook.emulator import authorization_server, core, server

    assert package.Emulator is core.Emulator and package.serve is server.serve
    assert package.FAULTS is authorization_server.FAULTS
    assert all(hasattr(package, name) for name in package.__all__)


def test_notebook_run_imports_nbformat_without_the_iri_grammars() -> None:
    statement = ("from gapps_runbook.runs.execute import import_jupyter; import_jupyter(); import nbformat; "
                 "nb = nbformat.v4.new_notebook(); nb.cells.append(nbformat.v4.new_code_cell('1')); "
                 "nbformat.validate(nbformat.reads(nbformat.writes(nb), as_version=4))")
    loaded = imported_after(statement)
    assert {"papermill", "nbformat", "jsonschema"} <= loaded
    assert "rfc3987_syntax" not in loaded


def test_rfc3987_syntax_still_imports_after_the_skip() -> None:
    loaded = imported_after("from gapps_runbook.runs.execute import import_jupyter; import_jupyter(); "
                            "import rfc3987_syntax")
    assert "rfc3987_syntax" in loaded


def test_the_skip_changes_nothing_once_jsonschema_is_imported() -> None:
    loaded = imported_after("import jsonschema; from gapps_runbook.runs.execute import import_jupyter; import_jupyter()")
    assert "rfc3987_syntax" in loaded
