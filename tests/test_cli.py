"""The CLI against the emulator: each step, each bad input ends in one line and its exit code.

Most tests call ``cli.run(argv)`` in-process (fast); a few run the real console script in a
subprocess to prove no traceback reaches a user.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from gapps_runbook import cli, runbook
from gapps_runbook.emulator import RunningEmulator, Scenario
from gapps_runbook.errors import ExitCode
from gapps_runbook.views import render
from gapps_runbook.oauth.verify import Check, VerifyReport

from fakes import client_id

from sites import browser, one_line_error, secret_file

CALENDAR = "https://www.googleapis.com/auth/calendar.readonly"


@pytest.fixture(autouse=True)
def no_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never launch a real browser; the emulator's auto-approve plays the person."""
    monkeypatch.setattr("webbrowser.open", browser)


def run(home: Path, emu: RunningEmulator | None, *args: str, profile: str = "site-a") -> int:
    base = ["--home", str(home), "--profile", profile]
    if emu is not None:
        base += ["--issuer", emu.base_url]
    return cli.run([*base, *args])


def set_client(tmp_path: Path, emu: RunningEmulator, kind: str = "desktop") -> None:
    client = emu.emulator.desktop_client if kind == "desktop" else emu.emulator.device_client
    rc = run(tmp_path / "home", emu, "client", "set", "--client-id", client.client_id, "--client-type", kind,
             "--secret-file", str(secret_file(tmp_path, client.client_secret)))
    assert rc == 0


def test_preflight_calendar_device_flow_is_refused_before_any_request(
    tmp_path: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = run(tmp_path, emulator, "preflight", "--service", "calendar", "--flow", "device")
    out = capsys.readouterr().out
    assert rc == ExitCode.MISCONFIGURED
    assert "invalid_scope" in out and "desktop" in out.lower()
    assert not [r for r in emulator.emulator.requests if r.path == "/device/code"]


def test_preflight_auto_recommends_desktop_and_json(
    tmp_path: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = run(tmp_path, emulator, "preflight", "--service", "calendar", "--json", "--publishing-status", "production")
    data = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert data["flow"] == "desktop"
    assert CALENDAR in data["scopes"]


def test_desktop_flow_end_to_end(tmp_path: Path, make_emulator, capsys: pytest.CaptureFixture[str]) -> None:
    emu = make_emulator(auto_approve=True)
    set_client(tmp_path, emu)
    home = tmp_path / "home"
    capsys.readouterr()
    assert run(home, emu, "authorize", "--service", "calendar", "--service", "openid") == 0
    out = capsys.readouterr().out
    assert "Token id:" in out and "Expires in:" in out and "engineer@example.com" in out
    assert run(home, emu, "status", "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert 3500 < status["expires_in"] <= 3599
    assert CALENDAR in status["scopes"]
    assert run(home, emu, "verify") == 0
    out = capsys.readouterr().out
    assert "calendar" in out.lower() and "refused" in out
    assert run(home, emu, "refresh", "--json") == 0
    refreshed = json.loads(capsys.readouterr().out)["token_id"]
    assert refreshed != status["token_id"]
    assert run(home, emu, "revoke", "--yes") == 0
    out = capsys.readouterr().out
    assert out.startswith("Revoked, and proven:")
    assert "Revoked token id:" in out and refreshed in out
    assert "Tokeninfo with the old token" in out and "refused (invalid_token)" in out
    assert run(home, emu, "revoke", "--yes") == 0
    assert "Nothing to revoke" in capsys.readouterr().out
    assert run(home, emu, "status", "--json") == ExitCode.REAUTHORIZE  # like `gh auth status`: no token, exit 7
    assert json.loads(capsys.readouterr().out)["token_id"] is None


def test_device_flow_json_events(tmp_path: Path, make_emulator, capsys: pytest.CaptureFixture[str]) -> None:
    emu = make_emulator(auto_approve=True)
    set_client(tmp_path, emu, "device")
    capsys.readouterr()
    rc = run(tmp_path / "home", emu, "authorize", "--flow", "device", "--service", "openid", "--json")
    out = capsys.readouterr().out
    assert rc == 0
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["event"] for e in events] == ["user_code", "authorized"]
    assert events[0]["verification_url"].endswith("/device")
    assert events[1]["flow"] == "device" and events[1]["token_id"]
    assert "device_code" not in out


@pytest.mark.parametrize(
    ("scenario", "code", "needle"),
    [
        (Scenario(deny=True), ExitCode.DENIED, "access_denied"),
        (Scenario(expire=True), ExitCode.EXPIRED, "expired"),
    ],
)
def test_device_flow_refusals(
    tmp_path: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str], scenario: Scenario, code: int, needle: str
) -> None:
    set_client(tmp_path, emulator, "device")
    emulator.emulator.script(emulator.emulator.device_client.client_id, scenario)
    rc = run(tmp_path / "home", emulator, "authorize", "--flow", "device", "--service", "openid")
    assert rc == code
    line = one_line_error(capsys.readouterr().err)
    assert needle in line
    assert "Bad Request" not in line and "Forbidden" not in line  # Google's reason phrases, not words for a person


def test_a_device_code_the_server_forgot_asks_for_a_new_code(
    tmp_path: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restarted emulator forgets its device codes: invalid_grant at the poll means "request a new code"."""
    set_client(tmp_path, emulator, "device")
    original = render.device_code_lines

    def forget(grant: object) -> str:
        emulator.emulator.device.sessions.clear()  # what a restart does to the codes it handed out
        return original(grant)

    monkeypatch.setattr(render, "device_code_lines", forget)
    capsys.readouterr()
    rc = run(tmp_path / "home", emulator, "authorize", "--flow", "device", "--service", "openid")
    line = one_line_error(capsys.readouterr().err)
    assert rc == ExitCode.REAUTHORIZE
    assert line.startswith("error: invalid_grant. Fix: the code is no longer valid")
    assert "request a new code" in line and "consent screen" not in line and "Bad Request" not in line


def test_a_revocation_that_cannot_be_proven_exits_non_zero(
    tmp_path: Path, make_emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = make_emulator(auto_approve=True)
    set_client(tmp_path, emu)
    home = tmp_path / "home"
    assert run(home, emu, "authorize", "--service", "openid") == 0
    real = runbook.revoke_and_prove

    def still_honoured(site: runbook.Site) -> runbook.RevokeProof:
        proof = real(site)
        return dataclasses.replace(proof, provider="accepted: the provider still honours the token")

    monkeypatch.setattr(runbook, "revoke_and_prove", still_honoured)
    capsys.readouterr()
    rc = run(home, emu, "revoke", "--yes")
    captured = capsys.readouterr()
    assert rc != 0
    assert captured.out.startswith("Revoked, but the proof failed:") and "still honours" in captured.out
    assert "could not be proven" in one_line_error(captured.err)


@pytest.mark.parametrize("tty", [True, False])
def test_the_device_wait_is_one_updating_line_on_a_terminal_and_plain_lines_when_piped(tty: bool) -> None:
    stream = io.StringIO()
    line = cli.StatusLine(stream, tty=tty)
    for text in ["waiting for approval"] * 3 + ["slowing down: polling every 10 s", "approved"]:
        line.show(text)
    line.end()
    written = stream.getvalue()
    if tty:
        assert written.count("\n") == 1 and written.endswith("\n") and written.count("\r") == 5
        assert written.rstrip().split("\r")[-1].strip().startswith("approved (checked ")
    else:
        assert written.splitlines() == ["  waiting for approval", "  slowing down: polling every 10 s", "  approved"]


def test_wrong_secret_is_misconfiguration_and_keeps_the_old_token(
    tmp_path: Path, make_emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = make_emulator(auto_approve=True)
    set_client(tmp_path, emu, "device")
    home = tmp_path / "home"
    assert run(home, emu, "authorize", "--flow", "device", "--service", "openid") == 0
    token_file = home / "profiles" / "site-a" / "authorized_user.json"
    before = token_file.read_bytes()
    emu.emulator.register_client(emu.emulator.device_client.client_id, "GOCSPX-" + "r" * 28, "device")  # rotated
    capsys.readouterr()
    rc = run(home, emu, "authorize", "--flow", "device", "--service", "openid")
    assert rc == ExitCode.MISCONFIGURED
    assert "invalid_client" in one_line_error(capsys.readouterr().err)
    assert token_file.read_bytes() == before


def test_unknown_client(tmp_path: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    rc = run(home, emulator, "client", "set", "--client-id", client_id("a" * 32),
             "--client-type", "device", "--secret-file", str(secret_file(tmp_path, "GOCSPX-" + "b" * 28)))
    assert rc == 0
    rc = run(home, emulator, "authorize", "--flow", "device", "--service", "openid")
    assert rc == ExitCode.MISCONFIGURED
    assert "not found" in one_line_error(capsys.readouterr().err)


def test_malformed_client_json(tmp_path: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "client.json"
    bad.write_text('{"installed": {"client_id": ')
    rc = run(tmp_path / "home", emulator, "client", "set", "--client-json", str(bad))
    assert rc in (ExitCode.BAD_INPUT, ExitCode.MISCONFIGURED)
    one_line_error(capsys.readouterr().err)


def test_web_client_json_is_refused(tmp_path: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    client = emulator.emulator.desktop_client
    web = tmp_path / "client.json"
    web.write_text(json.dumps({"web": {"client_id": client.client_id, "client_secret": client.client_secret}}))
    rc = run(tmp_path / "home", emulator, "client", "set", "--client-json", str(web))
    assert rc == ExitCode.MISCONFIGURED
    err = one_line_error(capsys.readouterr().err)
    assert client.client_secret not in err


def test_server_500_on_device_code(tmp_path: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    set_client(tmp_path, emulator, "device")
    emulator.emulator.fail_next("/device/code", "500")
    rc = run(tmp_path / "home", emulator, "authorize", "--flow", "device", "--service", "openid")
    assert rc == ExitCode.NETWORK
    one_line_error(capsys.readouterr().err)


def test_no_client_yet_points_to_step_02(tmp_path: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path / "home", emulator, "verify") == ExitCode.MISCONFIGURED
    assert "step 02" in one_line_error(capsys.readouterr().err)


def test_secret_is_never_taken_from_argv() -> None:
    assert cli.run(["client", "set", "--client-secret", "GOCSPX-x"]) == 2


def test_real_process_has_no_traceback(tmp_path: Path, emulator: RunningEmulator) -> None:
    env = {**os.environ, "GAPPS_RUNBOOK_HOME": str(tmp_path / "home"), "GAPPS_RUNBOOK_ISSUER": emulator.base_url}
    done = subprocess.run(
        [sys.executable, "-m", "gapps_runbook", "--profile", "x", "authorize", "--flow", "device"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == ExitCode.MISCONFIGURED
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1


def test_help_lists_exit_codes() -> None:
    done = subprocess.run([sys.executable, "-m", "gapps_runbook", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for code in range(8):
        assert f"  {code}  " in done.stdout


def test_pinned_account_refuses_a_token_from_another_account(
    tmp_path: Path, make_emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = make_emulator(auto_approve=True, account="attacker@example.net")
    set_client(tmp_path, emu, "device")
    home = tmp_path / "home"
    rc = run(home, emu, "authorize", "--flow", "device", "--service", "openid", "--expected-account", "admin@example.com")
    assert rc == ExitCode.DENIED
    err = one_line_error(capsys.readouterr().err)
    assert "attacker@example.net" in err and "admin@example.com" in err
    assert not (home / "profiles" / "site-a" / "authorized_user.json").exists()


@pytest.mark.notebook
def test_run_04_without_a_token_exits_7_like_status(
    tmp_path: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    set_client(tmp_path, emulator, "desktop")
    rc = run(tmp_path / "home", emulator, "run", "04", "-p", "verify", "false", "--out", str(tmp_path / "runs"))
    err = capsys.readouterr().err
    assert rc == ExitCode.REAUTHORIZE and "NoToken" in err and "step 03" in err


@pytest.mark.notebook
def test_run_step_denied_exits_non_zero_and_names_the_step(
    tmp_path: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    set_client(tmp_path, emulator, "device")
    emulator.emulator.script(emulator.emulator.device_client.client_id, Scenario(deny=True))
    rc = run(tmp_path / "home", emulator, "run", "03", "-p", "flow", "device", "-p", "services", '["openid"]',
             "--out", str(tmp_path / "runs"))
    err = capsys.readouterr().err
    assert rc == ExitCode.DENIED
    assert "access_denied" in err and "step 03" in err
    executed = list((tmp_path / "runs").glob("run-03_authorize-*/03_authorize.ipynb"))
    assert len(executed) == 1
    assert "runbook step 03" in executed[0].read_text()


def test_run_unknown_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(["--home", str(tmp_path), "run", "07"]) == ExitCode.BAD_INPUT
    assert "00_start_here" in capsys.readouterr().err


def test_emulator_command_prints_clients_and_ready_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "gapps_runbook", "emulator", "--auto-approve", "--port", "0",
                                "--state-dir", str(tmp_path / "emulator")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines: list[str] = []
        for line in process.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("Emulator ready at "):
                break
        base = lines[-1].split()[-1]
        assert base.startswith("http://127.0.0.1:")
        assert "EMULATOR-ONLY" in "".join(lines) or "emulator" in "".join(lines).lower()
        discovery = requests.get(base + "/.well-known/openid-configuration", timeout=10).json()
        assert discovery["issuer"] == base
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_status_all_and_client_show(tmp_path: Path, make_emulator, capsys: pytest.CaptureFixture[str]) -> None:
    emu = make_emulator(auto_approve=True)
    set_client(tmp_path, emu, "desktop")
    home = tmp_path / "home"
    capsys.readouterr()
    assert run(home, emu, "client", "show", "--json") == 0
    shown = capsys.readouterr().out
    assert emu.emulator.desktop_client.client_secret not in shown
    assert json.loads(shown)["client_id"] == emu.emulator.desktop_client.client_id
    assert run(home, emu, "authorize", "--service", "calendar") == 0
    capsys.readouterr()
    assert run(home, None, "status", "--all", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["profile"] for r in rows] == ["site-a"] and rows[0]["token_id"]


def test_a_bad_client_id_is_reported_before_the_secret_is_asked(
    tmp_path: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = run(tmp_path / "home", emulator, "client", "set", "--client-id", "12345", "--client-type", "desktop",
             "--secret-env", "GAPPS_TEST_UNSET_VARIABLE")
    assert rc == ExitCode.BAD_INPUT
    err = one_line_error(capsys.readouterr().err)
    assert "client ID" in err or "client id" in err.lower()
    assert "GAPPS_TEST_UNSET_VARIABLE" not in err


# --- issue 7: exit codes and the shared renderers ---------------------------------------------


def test_status_without_a_client_names_step_02(
    tmp_path: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path / "home", emulator, "status") == ExitCode.REAUTHORIZE
    out = capsys.readouterr().out
    assert "none: run runbook step 02 (client credentials)" in out and "step 03" not in out


def test_status_without_a_token_exits_7_in_text_and_json(
    tmp_path: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    set_client(tmp_path, emulator, "desktop")
    home = tmp_path / "home"
    capsys.readouterr()
    assert run(home, emulator, "status") == ExitCode.REAUTHORIZE
    out = capsys.readouterr().out
    assert "none: run runbook step 03 (authorize)" in out
    assert run(home, emulator, "status", "--json") == ExitCode.REAUTHORIZE
    assert json.loads(capsys.readouterr().out)["token_id"] is None


@pytest.mark.parametrize("command", ["refresh", "verify"])
def test_refresh_and_verify_without_a_token_exit_7_in_one_line(
    tmp_path: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    set_client(tmp_path, emulator, "desktop")
    capsys.readouterr()
    assert run(tmp_path / "home", emulator, command) == ExitCode.REAUTHORIZE
    assert "step 03" in one_line_error(capsys.readouterr().err)


@pytest.mark.parametrize("outcome", ["unverifiable", "skipped"])
def test_verify_that_proves_nothing_exits_3_in_one_line_and_never_says_bad(
    tmp_path: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    outcome: str,
) -> None:
    detail = "the provider idp.example offers no API, userinfo or introspection to call"
    report = VerifyReport((Check("provider", "idp.example", "allowed", outcome, detail, ok=False,  # type: ignore[arg-type]
                                 fix="check the token another way"),))
    monkeypatch.setattr(runbook, "verify", lambda site: report)  # a provider verify cannot check
    for extra in ((), ("--json",)):
        rc = run(tmp_path / "home", emulator, "verify", *extra)
        captured = capsys.readouterr()
        assert rc == ExitCode.MISCONFIGURED
        assert "verify proved nothing" in one_line_error(captured.err) and detail in captured.err
        assert "BAD" not in captured.out
    assert f"not checked ({detail})" in "\n".join(render.verify_lines(report))


def test_a_failed_check_exits_7_with_its_fix(
    tmp_path: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    check = Check("gmail", "users.getProfile", "refused", "allowed", "HTTP 200: the call worked", ok=False,
                  fix="the token opens an API its scopes do not name")
    monkeypatch.setattr(runbook, "verify", lambda site: VerifyReport((check,)))
    assert run(tmp_path / "home", emulator, "verify") == ExitCode.REAUTHORIZE
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0] == render.check_line(check) and captured.out.startswith("BAD ")
    one_line_error(captured.err)


def test_authorize_prints_the_device_code_line_of_the_shared_renderer(
    tmp_path: Path, make_emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = make_emulator(auto_approve=True)
    set_client(tmp_path, emu, "device")
    grants: list[object] = []
    original = render.device_code_lines
    monkeypatch.setattr(render, "device_code_lines", lambda grant: grants.append(grant) or original(grant))
    capsys.readouterr()
    assert run(tmp_path / "home", emu, "authorize", "--flow", "device", "--service", "openid") == 0
    out = capsys.readouterr().out
    assert len(grants) == 1 and original(grants[0]) in out
    assert "(expires in 30 min)" in out and " 0 min" not in out


def test_client_set_auth_method_is_stored(
    tmp_path: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    client = emulator.emulator.desktop_client
    home = tmp_path / "home"
    rc = run(home, emulator, "client", "set", "--client-id", client.client_id, "--client-type", "desktop",
             "--secret-file", str(secret_file(tmp_path, client.client_secret)), "--auth-method", "client_secret_post")
    assert rc == 0
    capsys.readouterr()
    assert run(home, emulator, "client", "show", "--json") == 0
    assert json.loads(capsys.readouterr().out)["auth_method"] == "client_secret_post"
    assert run(home, emulator, "client", "show") == 0
    assert "Auth method:  client_secret_post" in capsys.readouterr().out
    assert cli.run(["client", "set", "--auth-method", "private_key_jwt"]) == ExitCode.BAD_INPUT


def test_status_all_shows_every_profile_when_one_is_damaged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = ["--home", str(tmp_path / "home")]
    for name in ("broken", "fine"):
        assert cli.run([*home, "--profile", name, "preflight", "--service", "calendar"]) == 0
    damaged = tmp_path / "home" / "profiles" / "broken" / "authorized_user.json"
    damaged.write_text('{"token": ')
    damaged.chmod(0o600)
    capsys.readouterr()
    assert cli.run([*home, "status", "--all"]) == ExitCode.BAD_INPUT
    out, err = capsys.readouterr()
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert rows["broken"].endswith("error: see below") and "ok - - - -" in rows["fine"]
    assert len(err.strip().splitlines()) == 1 and "is not valid JSON" in err and damaged.read_text() == '{"token": '
    assert cli.run([*home, "status", "--all", "--json"]) == ExitCode.BAD_INPUT
    listed = json.loads(capsys.readouterr().out)
    assert [entry["profile"] for entry in listed] == ["broken", "fine"] and "not valid JSON" in listed[0]["error"]


def test_a_mistyped_profile_is_named_as_missing_and_nothing_is_made(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    home = ["--home", str(tmp_path / "home")]
    assert cli.run([*home, "--profile", "site-a", "preflight", "--service", "calendar"]) == 0
    capsys.readouterr()
    for command in (["refresh"], ["verify"], ["revoke", "--yes"]):
        assert cli.run([*home, "--profile", "site-b", *command]) == ExitCode.MISCONFIGURED
        assert one_line_error(capsys.readouterr().err).startswith(
            "error: there is no profile 'site-b' (the profiles here are site-a). Fix: check the profile name")
    assert sorted(p.name for p in (tmp_path / "home" / "profiles").iterdir()) == ["site-a"]
