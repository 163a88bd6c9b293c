"""The runbook notebooks, run for real: papermill against the emulator, strict nbval, and their committed form.

Kernels are slow (2-4 s each on two cores), so each test runs as few notebooks as it can: profiles are
prepared in-process with :mod:`gapps_runbook.runbook`, and only the step under test runs in a kernel.
The emulator runs in this process on loopback; kernels reach it over HTTP.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from gapps_runbook import notebook as rb
from gapps_runbook import runbook
from gapps_runbook.oauth import scopes
from gapps_runbook.runs.demo import browser_for_emulator
from gapps_runbook.emulator import Emulator, Scenario, serve
from gapps_runbook.emulator.facts import random_client_id
from gapps_runbook.errors import InputError, NotebookRunError
from gapps_runbook.safety.leakscan import format_findings, scan_paths
from gapps_runbook.runs.execute import RunResult, run_notebook
from tools.render_notebooks import CLIENT_SECRET, finish, load_sanitizers, render, sanitize

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = ["00_start_here", "01_console_checklist", "02_client_credentials", "03_authorize", "04_token_status",
         "05_backup_restore"]
CALENDAR = scopes.scopes_for(("calendar", "openid"))
OPENID = scopes.scopes_for(("openid",))


class Canaries:
    """The emulator's secret factory: Google-shaped values that are easy to hunt for afterwards."""

    def __init__(self) -> None:
        self.values: list[str] = []

    def __call__(self, kind: str) -> str:
        tail = uuid.uuid4().hex
        value = {
            "client_secret": "GOCSPX-" + tail[:28],
            "access_token": "ya29.CANARY" + tail + tail,
            "refresh_token": "1//0CANARY" + tail,
            "device_code": "AH-1NgCANARY" + tail,
            "auth_code": "4/0ACANARY" + tail,
        }.get(kind, "CANARY" + kind + tail)
        self.values.append(value)
        return value


@pytest.fixture(scope="module")
def canaries() -> Canaries:
    return Canaries()


@pytest.fixture(scope="module")
def emu(canaries: Canaries) -> Iterator[Any]:
    with serve(Emulator(auto_approve=True, secret_factory=canaries)) as running:
        yield running


def _site(home: Path, emu: Any, name: str = "default") -> runbook.Site:
    return runbook.Site.open(name, home=home, issuer=emu.base_url)


def _device_client(emu: Any) -> Any:
    """A fresh device client, so a scripted scenario affects this test only."""
    return emu.emulator.register_client(random_client_id(), "GOCSPX-" + uuid.uuid4().hex[:28], "device", "test")


def _run(name: str, out: Path, params: dict[str, Any], env: dict[str, str] | None = None) -> RunResult:
    return run_notebook(NOTEBOOKS / f"{name}.ipynb", out, params, env=env, timeout=120, check=False)


def _text(path: Path) -> str:
    """Every output text of an executed notebook, joined."""
    book = nbformat.read(path, as_version=4)
    parts = []
    for cell in book.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.extend(str(v) for k, v in output.get("data", {}).items() if k == "text/plain")
            parts.append(output.get("evalue", ""))
    return "\n".join(parts)


def _error_output(path: Path) -> dict[str, Any]:
    book = nbformat.read(path, as_version=4)
    errors = [o for c in book.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert len(errors) == 1, errors
    return errors[0]


def _assert_clean(path: Path) -> None:
    """No injected parameters, no papermill parameter values, no widget state."""
    book = nbformat.read(path, as_version=4)
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in book.cells)
    assert "parameters" not in book.metadata.get("papermill", {})
    assert "widgets" not in book.metadata


@pytest.mark.notebook
def test_happy_path_desktop_flow_01_to_04(tmp_path: Path, emu: Any, canaries: Canaries) -> None:
    home, out = tmp_path / "home", tmp_path / "run"
    common = {"home": str(home), "profile": "site-a"}
    client = emu.emulator.desktop_client
    secrets_file = tmp_path / "client.json"
    secrets_file.write_text(json.dumps({"installed": {
        "client_id": client.client_id, "client_secret": client.client_secret, "project_id": "proj-1",
        "auth_uri": emu.base_url + "/o/oauth2/v2/auth", "token_uri": emu.base_url + "/token",
        "redirect_uris": ["http://localhost"]}}))
    secrets_file.chmod(0o600)

    first = _run("01_console_checklist", out / "01", {**common, "issuer": emu.base_url, "publishing_status": "production"})
    second = _run("02_client_credentials", out / "02", {**common, "client_secrets_file": str(secrets_file)})
    third = _run("03_authorize", out / "03", {**common, "browser": "emulator", "timeout": 60})
    fourth = _run("04_token_status", out / "04", {**common, "refresh": True, "revoke": True})

    for result in (first, second, third, fourth):
        assert result.status == "ok", result.error
        _assert_clean(result.output_path)
    assert "Flow: desktop (needs a 'Desktop app' client)" in _text(first.output_path)
    assert "Preflight: OK" in _text(first.output_path)
    assert f"Client ID:    {client.client_id}" in _text(second.output_path)
    assert "Authorized with the desktop flow" in _text(third.output_path)
    assert "/o/oauth2/v2/auth" not in _text(third.output_path)  # the link was transient
    status = _text(fourth.output_path)
    assert "ok  Calendar calendarList.list: allowed, as expected" in status
    assert "ok  Gmail users.getProfile: refused, as expected" in status and "\nverified: " in status
    assert "Tokeninfo with the old token:       refused (invalid_token)" in status
    assert "Refresh with the old refresh token: refused (invalid_grant)" in status
    steps = _site(home, emu, "site-a").profile.load_settings()["steps"]
    assert {k: v["status"] for k, v in steps.items()} == {
        "preflight": "ok", "client": "ok", "authorize": "revoked", "refresh": "ok", "verify": "ok", "revoke": "ok"}
    findings = scan_paths([out], canaries.values)
    assert not findings, format_findings(findings)


@pytest.mark.notebook
def test_device_flow_for_openid_with_a_secret_from_the_environment(tmp_path: Path, emu: Any, canaries: Canaries) -> None:
    home, out = tmp_path / "home", tmp_path / "run"
    client = _device_client(emu)
    common = {"home": str(home), "issuer": emu.base_url}
    second = _run("02_client_credentials", out / "02", {**common, "client_id": client.client_id,
                  "client_secret_env": "GAPPS_TEST_CLIENT_SECRET", "client_type": "device"},
                  env={"GAPPS_TEST_CLIENT_SECRET": client.client_secret})
    before = len(emu.emulator.requests)
    third = _run("03_authorize", out / "03", {**common, "services": ["openid"], "flow": "device", "timeout": 60})

    assert second.status == "ok", second.error
    assert third.status == "ok", third.error
    assert "/device/code" in [r.path for r in emu.emulator.requests[before:]]
    text = _text(third.output_path)
    assert "Authorized with the device flow" in text and "engineer@example.com" in text
    assert "enter the code" not in text  # the user code display was replaced once the wait ended
    findings = scan_paths([out], [*canaries.values, client.client_secret])
    assert not findings, format_findings(findings)


def _device_profile(home: Path, emu: Any, scenario: Scenario | None) -> Any:
    client = _device_client(emu)
    if scenario is not None:
        emu.emulator.script(client.client_id, scenario)
    runbook.save_client(_site(home, emu), client_id=client.client_id, client_secret=client.client_secret, client_type="device")
    return client


@pytest.mark.notebook
@pytest.mark.parametrize(("scenario", "error", "fix"), [
    (Scenario(deny=True), "access_denied", "Fix: run runbook step 03 (authorize) again and click Allow"),
    (Scenario(expire=True), "expired_token", "Fix: the code expired: run runbook step 03 (authorize) again"),
], ids=["denied", "expired"])
def test_device_flow_failures_stop_the_run_naming_step_03(tmp_path: Path, emu: Any, scenario: Scenario, error: str, fix: str) -> None:
    home = tmp_path / "home"
    _device_profile(home, emu, scenario)

    result = _run("03_authorize", tmp_path / "run", {"home": str(home), "services": ["openid"], "timeout": 60})

    assert result.status == "failed"
    assert isinstance(result.error, NotebookRunError)
    assert error in str(result.error) and "runbook step 03" in str(result.error)
    failure = _error_output(result.output_path)
    assert error in failure["evalue"] and fix in failure["evalue"]
    assert failure["traceback"] == [f"{failure['ename']}: {failure['evalue']}"]  # one line, no traceback
    assert _site(home, emu).profile.load_token() is None
    assert _site(home, emu).profile.load_settings()["steps"]["authorize"]["status"] == "failed"


@pytest.mark.notebook
def test_device_flow_with_calendar_is_refused_before_any_network_call(tmp_path: Path, emu: Any) -> None:
    home = tmp_path / "home"
    _device_profile(home, emu, None)
    before = len(emu.emulator.requests)

    result = _run("03_authorize", tmp_path / "run", {"home": str(home), "services": ["calendar"], "flow": "device"})

    assert result.status == "failed"
    failure = _error_output(result.output_path)
    assert failure["ename"] == "ConfigError"
    assert "device flow rejects calendar.readonly" in failure["evalue"] and "Desktop app" in failure["evalue"]
    assert "runbook step 01" in failure["evalue"]
    paths = [r.path for r in emu.emulator.requests[before:]]
    assert "/device/code" not in paths and "/token" not in paths


@pytest.mark.notebook
def test_wrong_secret_fails_with_invalid_client_naming_step_02(tmp_path: Path, emu: Any) -> None:
    home = tmp_path / "home"
    client = emu.emulator.desktop_client
    wrong = "GOCSPX-" + "x" * 28
    runbook.save_client(_site(home, emu), client_id=client.client_id, client_secret=wrong, client_type="desktop")

    result = _run("03_authorize", tmp_path / "run", {"home": str(home), "browser": "emulator", "timeout": 60})

    assert result.status == "failed"
    failure = _error_output(result.output_path)
    assert "invalid_client" in failure["evalue"] and "runbook step 02 (client credentials)" in failure["evalue"]
    assert wrong not in json.dumps(nbformat.read(result.output_path, as_version=4))


def test_a_secret_as_a_parameter_is_refused_before_anything_runs(tmp_path: Path) -> None:
    secret = "GOCSPX-" + "a1B2" * 7
    with pytest.raises(InputError, match="client_secret_env"):
        run_notebook(NOTEBOOKS / "02_client_credentials.ipynb", tmp_path / "run", {"client_secret_env": secret})
    assert not (tmp_path / "run" / "02_client_credentials.ipynb").exists()
    with pytest.raises(InputError, match="client_secret_env") as caught:  # the notebook's own check, same rule
        rb.client_credentials(home=str(tmp_path / "home"), interactive=False, client_id="1-x", client_secret_env=secret)
    assert secret not in str(caught.value)
    assert not (tmp_path / "home").exists()


@pytest.mark.notebook
def test_notebooks_pass_strict_nbval_against_the_emulator() -> None:
    """Strict nbval: every cell runs and its outputs equal the committed ones after sanitize.cfg.

    notebooks/conftest.py sets up the emulator and profile the renderer used (render_notebooks.emulator_site).
    """
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", "notebooks/",
               "--nbval-sanitize-with", "notebooks/sanitize.cfg"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAPPS_RUNBOOK_")}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)  # busy 2-core hosts
    hint = "\n(if a step's display changed on purpose: make notebooks, then commit notebooks/*.ipynb)"
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:] + hint
    assert "18 passed" in done.stdout  # 3 code cells in each of the 6 notebooks


@pytest.mark.notebook
def test_render_is_deterministic_and_the_committed_notebooks_are_up_to_date(tmp_path: Path) -> None:
    """Two renders are byte-identical, and equal to what is in git (sources untouched, outputs current)."""
    first = render(tmp_path / "first", notebooks=NOTEBOOKS)
    second = render(tmp_path / "second", notebooks=NOTEBOOKS)

    assert [p.name for p in first] == [f"{name}.ipynb" for name in NAMES]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), f"{a.name}: two renders differ"
    stale = [p.name for p in first if p.read_bytes() != (NOTEBOOKS / p.name).read_bytes()]
    assert not stale, f"committed notebooks out of date: {stale}; run `make notebooks` and commit them"


# --- the committed notebooks' form (no kernel) ------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_is_thin_and_clean(name: str) -> None:
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(book)
    assert book.metadata["kernelspec"]["name"] == "python3"
    assert "widgets" not in book.metadata and "papermill" not in book.metadata
    code = [c for c in book.cells if c.cell_type == "code"]
    assert book.cells[0].cell_type == "markdown"
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))  # nbval skips unrun cells
    assert not code[0].outputs and not code[1].outputs  # parameters, import
    assert all(c.outputs for c in code[2:]), "the rb.<step>(...) cells show what the step displays"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and code[0] is tagged[0]
    _assert_literal_assignments(tagged[0].source)
    assert code[1].source == "from gapps_runbook import notebook as rb"
    for cell in code[2:]:
        tree = ast.parse(cell.source)
        assert len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr), cell.source
        call = tree.body[0].value
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
        assert isinstance(call.func.value, ast.Name) and call.func.value.id == "rb"
        assert all(isinstance(k.value, ast.Name) and k.value.id == k.arg for k in call.keywords), "pass parameters by name"
        assert callable(getattr(rb, call.func.attr))
    markdown = " ".join(c.source for c in book.cells if c.cell_type == "markdown")
    assert "Fix" in markdown or "fails" in markdown or name == "00_start_here"


def test_committed_notebooks_are_sanitized() -> None:
    """No secret, secret shape, injected cell, papermill parameters or widget state; outputs already sanitized."""
    paths = [NOTEBOOKS / f"{name}.ipynb" for name in NAMES]
    findings = scan_paths(paths, [CLIENT_SECRET])  # canaries, Google's secret shapes, structure
    assert not findings, format_findings(findings)
    sanitizers = load_sanitizers(NOTEBOOKS / "sanitize.cfg")
    for path in paths:
        _assert_clean(path)
        book = nbformat.read(path, as_version=4)
        assert set(book.metadata) == {"kernelspec", "language_info"}, path.name
        for cell in book.cells:
            assert set(cell.metadata) <= {"tags"}, (path.name, cell.metadata)  # no papermill timings
            for output in cell.get("outputs", []):
                assert output["output_type"] != "error", (path.name, output)
                assert "gapps_runbook" not in output.get("metadata", {}), "a transient output was rendered"
                assert sanitize(output, sanitizers) == output, f"{path.name}: an output is not sanitized"
    text = "\n".join(_text(p) for p in paths)
    assert "TOKEN-ID" in text and "123456789012-emulator" in text and "Preflight: OK" in text


def test_finish_keeps_the_sources_and_renumbers_and_sanitizes_the_outputs() -> None:
    source = nbformat.v4.new_notebook(metadata={"language_info": {"name": "python"}})
    source.cells = [nbformat.v4.new_markdown_cell("# t"), nbformat.v4.new_code_cell("x = 1"),
                    nbformat.v4.new_code_cell("x")]
    executed = nbformat.reads(nbformat.writes(source), as_version=4)
    executed.metadata["papermill"] = {"duration": 1.5, "start_time": "2025-01-01T00:00:00"}
    executed.cells[1].metadata["papermill"] = {"duration": 0.1}
    executed.cells[1].execution_count = 3
    executed.cells[2].execution_count = 4
    executed.cells[2].outputs = [nbformat.v4.new_output(
        "execute_result", {"text/plain": "token 0123456789ab at 2025-06-01T10:00:00Z, 3599 s"}, execution_count=4)]

    done = finish(executed, source, load_sanitizers(NOTEBOOKS / "sanitize.cfg"))

    assert done.metadata == source.metadata and [c.source for c in done.cells] == [c.source for c in source.cells]
    assert [c.get("execution_count") for c in done.cells] == [None, 1, 2]
    assert done.cells[1].metadata == {} and done.cells[2].outputs[0].execution_count == 2
    assert done.cells[2].outputs[0].data["text/plain"] == "token TOKEN-ID at TIMESTAMP, N s"
    executed.cells[2].source = "y"
    with pytest.raises(ValueError, match="differ"):
        finish(executed, source, [])


def _assert_literal_assignments(source: str) -> None:
    for node in ast.parse(source).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, ast.dump(node)
        ast.literal_eval(node.value)  # plain literals only: papermill can override every one


def test_device_flow_restriction_is_stated_before_any_call() -> None:
    for name in ("00_start_here", "01_console_checklist", "03_authorize"):
        book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        intro = book.cells[0].source
        assert "invalid_scope" in intro and "Desktop app" in intro, name


def test_a_pinned_account_refuses_a_token_from_another_account(tmp_path: Path, emu: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    client = emu.emulator.desktop_client
    runbook.save_client(_site(home, emu), client_id=client.client_id, client_secret=client.client_secret, client_type="desktop")
    monkeypatch.setattr(rb, "_browser", lambda kind: browser_for_emulator)
    with pytest.raises(runbook.AccountMismatch, match="expects boss@example.com"):
        rb.authorize(home=str(home), interactive=False, expected_account="boss@example.com", timeout=30)
    assert _site(home, emu).profile.load_token() is None
    rb.authorize(home=str(home), interactive=False, expected_account="engineer@example.com", timeout=30)
    assert _site(home, emu).profile.load_token().account == "engineer@example.com"
