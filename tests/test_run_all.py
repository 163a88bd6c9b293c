"""``gapps-runbook run all [--force]`` (issue 8, item 3): steps 01-04 headless, skipping what is done and still valid.

Against the auto-approving emulator (the desktop flow's link is fetched by ``browser=emulator``): a fresh
profile runs every step; a second run skips 01-03 with the one-line reason and runs 04; a changed input
re-runs the step it belongs to (and only it, until the token no longer covers what is asked); a revoked
token makes 03 run again; ``--force`` runs everything; a failing step stops the run with its fix line,
its exit code and a report. Each expectation is read back from the profile, not assumed.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from gapps_runbook import cli, runbook
from gapps_runbook.emulator import Emulator, RunningEmulator, serve
from gapps_runbook.oauth.clients import ClientConfig
from gapps_runbook.profile import audit
from gapps_runbook.profile.store import ProfileStore
from gapps_runbook.oauth.clock import utc_text
from gapps_runbook.runbook import Site as Site_
from gapps_runbook.runbook import state
from gapps_runbook.steps import AUTHORIZE
from gapps_runbook.safety import leakscan

pytestmark = pytest.mark.notebook

PROFILE = "site-all"
SECRET_ENV = "GAPPS_TEST_RUN_ALL_SECRET"
RESULT = re.compile(r"^(0[1-4])_\w+: ok \(\d+\.\d s\)\. ")
SKIPPED = re.compile(r"^(0[1-4]) [a-z ]+: skipped, done (.+ UTC) by (\S+), inputs unchanged \(--force runs it again\)$")


@pytest.fixture
def running() -> Iterator[RunningEmulator]:
    with serve(Emulator(auto_approve=True)) as served:
        yield served


class Site:
    """One profile under a temporary home, and ``run all`` on it through the CLI."""

    def __init__(self, tmp_path: Path, running: RunningEmulator, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> None:
        self.home, self.out, self.running, self.capsys = tmp_path / "home", tmp_path / "runs", running, capsys
        client = running.emulator.desktop_client
        monkeypatch.setenv(SECRET_ENV, client.client_secret)
        self.client = ["-p", "client_id", client.client_id, "-p", "client_secret_env", SECRET_ENV]

    def cli(self, *args: str) -> tuple[int, list[str], str]:
        """Exit code, stdout lines, stderr of ``gapps-runbook --home ... ARGS``."""
        self.capsys.readouterr()
        code = cli.run(["--home", str(self.home), "--profile", PROFILE, "--issuer", self.running.base_url, *args])
        captured = self.capsys.readouterr()
        return code, captured.out.splitlines(), captured.err

    def run_all(self, *args: str) -> tuple[int, list[str], str]:
        return self.cli("run", "all", "--out", str(self.out), "-p", "browser", "emulator", *args)

    def token_id(self) -> str | None:
        return runbook.status(runbook.Site(self.profile())).token_id

    def profile(self):  # noqa: ANN201
        return ProfileStore(self.home).profile(PROFILE)


@pytest.fixture
def site(tmp_path: Path, running: RunningEmulator, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> Site:
    return Site(tmp_path, running, monkeypatch, capsys)


def ran(lines: list[str]) -> list[str]:
    """The steps that ran (their result lines), in order."""
    return [m.group(1) for m in map(RESULT.match, lines) if m]


def skipped(lines: list[str]) -> list[str]:
    return [m.group(1) for m in map(SKIPPED.match, lines) if m]


def test_a_fresh_profile_runs_every_step_and_a_second_run_skips_01_to_03(site: Site) -> None:
    code, lines, err = site.run_all(*site.client)
    assert code == 0, (lines, err)
    assert ran(lines) == ["01", "02", "03", "04"] and skipped(lines) == []
    first = site.token_id()
    assert first and lines[-2].startswith("all: ok (01-04: 4 run, 0 skipped") and f"Token id {first}" in lines[-2]
    report = Path(re.search(r"report: (\S+)\)$", lines[-1]).group(1))  # type: ignore[union-attr]
    assert report.is_file() and f"<td>{first}</td>" in report.read_text()
    token = site.profile().load_token()
    secrets = [site.running.emulator.desktop_client.client_secret, token.access_token, token.refresh_token]
    findings = leakscan.scan_paths([site.out], secrets) + leakscan.scan_text("stdout", "\n".join(lines), secrets)
    assert not findings, leakscan.format_findings(findings)

    code, lines, err = site.run_all(*site.client)
    assert code == 0, (lines, err)
    assert skipped(lines) == ["01", "02", "03"] and ran(lines) == ["04"], lines
    assert site.token_id() == first
    record = state.read(Site_(site.profile())).of(AUTHORIZE)
    line = next(text for text in lines if text.startswith("03 authorize: skipped"))
    assert line == (f"03 authorize: skipped, done {utc_text(record.at)} by {audit.operator()}, "
                    "inputs unchanged (--force runs it again)")
    assert lines[-2].startswith("all: ok (01-04: 1 run, 3 skipped") and "Verify: verified" in lines[-2]


def test_a_changed_input_runs_its_step_again(site: Site) -> None:
    assert site.run_all(*site.client)[0] == 0
    first = site.token_id()

    code, lines, err = site.run_all("-p", "services", '["calendar"]')  # 01's and 03's scopes
    assert code == 0, (lines, err)
    assert ran(lines) == ["01", "03", "04"] and skipped(lines) == ["02"], lines
    assert site.token_id() != first  # 03 authorized again, for what is asked now
    assert "openid" not in " ".join(runbook.status(runbook.Site(site.profile())).scopes)

    code, lines, err = site.run_all("-p", "product_name", "Site A telephony", *site.client)  # 02's input only
    assert code == 0, (lines, err)
    assert ran(lines) == ["02", "04"] and skipped(lines) == ["01", "03"], lines

    assert site.cli("revoke", "--yes")[0] == 0  # 03's result no longer holds: it runs, whatever its inputs
    code, lines, err = site.run_all()
    assert code == 0, (lines, err)
    assert ran(lines) == ["03", "04"] and skipped(lines) == ["01", "02"], lines


def test_force_runs_every_step(site: Site) -> None:
    assert site.run_all(*site.client)[0] == 0
    first = site.token_id()
    code, lines, err = site.run_all("--force")
    assert code == 0, (lines, err)
    assert ran(lines) == ["01", "02", "03", "04"] and skipped(lines) == []
    assert site.token_id() != first


def test_a_failing_step_stops_the_run_with_its_fix_and_exit_code(site: Site) -> None:
    code, lines, err = site.run_all()  # no client reference on a fresh profile: step 02 cannot work
    assert code == 2, (lines, err)  # InputError's exit code, not a generic failure
    assert ran(lines) == ["01"] and not any(line.startswith(("03", "04")) for line in lines)
    assert err.startswith("error: notebook 02_client_credentials.ipynb failed") and ". Fix: pass " in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 2  # the error, then where the notebook is
    report = next(site.out.rglob("report.html")).read_text()
    assert "FAILED at 02_client_credentials" in report and "pass client_secrets_file" in report
    assert "(not authorized now)" in report


def test_an_unknown_parameter_is_refused_before_any_step(site: Site) -> None:
    code, lines, err = site.run_all("-p", "servcies", '["calendar"]')
    assert code == 2 and lines == [] and not site.out.exists()
    assert err.startswith("error: no step of 01-04 takes the parameter 'servcies'. Fix: did you mean -p services? Or "
                          "use one of browser, client_id, ")


def test_help_says_what_is_skipped_and_how_to_force(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(["run", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "run all [--force]: steps 01-04 in order" in text and "04, the status check, always runs" in text
    assert "inputs unchanged (--force runs it again)" in text and "its exit code" in text


def test_a_client_json_that_names_the_stored_client_is_not_a_change(site: Site, tmp_path: Path) -> None:
    emulator = site.running.emulator
    endpoints = runbook.Site.open(PROFILE, home=site.home, issuer=site.running.base_url).endpoints
    client = ClientConfig(emulator.desktop_client.client_id, emulator.desktop_client.client_secret, "desktop",
                          project_id="site-a-project")
    path = tmp_path / "client.json"
    path.write_text(json.dumps(client.to_installed_json(endpoints)))
    path.chmod(0o600)
    code, lines, err = site.run_all("-p", "client_secrets_file", str(path))
    assert code == 0 and ran(lines) == ["01", "02", "03", "04"], (lines, err)
    code, lines, err = site.run_all("-p", "client_secrets_file", str(path))
    assert code == 0 and skipped(lines) == ["01", "02", "03"], (lines, err)
    path.write_text(json.dumps(dataclasses.replace(client, project_id="another-project").to_installed_json(endpoints)))
    code, lines, err = site.run_all("-p", "client_secrets_file", str(path))
    assert code == 0 and ran(lines) == ["02", "04"] and skipped(lines) == ["01", "03"], (lines, err)


def test_values_outside_the_hash_that_ask_for_a_step_run_it(site: Site) -> None:
    assert site.run_all(*site.client)[0] == 0
    first = site.token_id()
    code, lines, err = site.run_all("-p", "reauthorize", "true")
    assert code == 0 and ran(lines) == ["03", "04"] and skipped(lines) == ["01", "02"], (lines, err)
    assert site.token_id() != first
    code, lines, err = site.run_all("-p", "project_id", "site-a-project")  # console links only: not in 01's hash
    assert code == 0 and ran(lines) == ["01", "04"], (lines, err)
    code, lines, err = site.run_all("-p", "project_id", "site-a-project")
    assert code == 0 and ran(lines) == ["04"], (lines, err)
