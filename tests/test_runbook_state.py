"""Issue 8 items 3 and 6: state that holds (saved choices, step records, audit log, cancel with a good token)
and the last mile (Test client, the calendar sample, the summary for the ticket), against the emulator."""

from __future__ import annotations

import json
import re
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from gapps_runbook import cli, runbook
from gapps_runbook import notebook as rb
from gapps_runbook.emulator import RunningEmulator
from gapps_runbook.errors import Cancelled, InvalidClient
from gapps_runbook.notebook import actions
from gapps_runbook.runbook import state
from gapps_runbook.steps import AUTHORIZE
from gapps_runbook.views import render
from gapps_runbook.views.lastmile import summary_lines
from gapps_runbook.oauth import scopes, tokeninfo
from gapps_runbook.profile import audit
from gapps_runbook.safety import leakscan

from sites import browser

CALENDAR = scopes.scopes_for(("calendar", "openid"))


def _site(home: Path, emu: RunningEmulator, secret: str | None = None) -> runbook.Site:
    site = actions.open_site("site-a", home, emu.base_url)
    client = emu.emulator.desktop_client
    runbook.save_client(site, client_id=client.client_id, client_secret=secret or client.client_secret,
                        client_type="desktop")
    return site


def _authorize(site: runbook.Site, requested: tuple[str, ...] = CALENDAR) -> runbook.AuthResult:
    return runbook.authorize(site, requested, flow="desktop", timeout=30,
                             open_url=browser)


def test_01_rerun_with_defaults_keeps_the_saved_choices(tmp_path: Path, make_emulator: Any) -> None:
    emu = make_emulator(auto_approve=True)
    site = actions.open_site("site-a", tmp_path, emu.base_url)
    rb.console_checklist(profile="site-a", home=str(tmp_path), issuer=emu.base_url, interactive=False,
                         services=["openid"], flow="device", publishing_status="production")
    before = site.profile.load_settings()
    rb.console_checklist(profile="site-a", home=str(tmp_path), issuer=emu.base_url, interactive=False)  # defaults
    after = site.profile.load_settings()
    assert after["scopes"] == before["scopes"] == list(scopes.scopes_for(("openid",)))
    assert after["chosen_flow"] == "device" and after["flow"] == "device"
    assert after["publishing_status"] == "production"
    assert after["steps"]["preflight"]["status"] == "ok"
    assert runbook.saved_choices(site) == (("openid",), "device", "production")  # what 01's form opens with
    rb.console_checklist(profile="site-a", home=str(tmp_path), issuer=emu.base_url, interactive=False,
                         services=["calendar", "openid"], flow="desktop")  # an explicit value changes it
    assert runbook.saved_choices(site)[:2] == (("calendar", "openid"), "desktop")


def test_not_granted_only_for_a_scope_withheld_at_authorization(tmp_path: Path, make_emulator: Any) -> None:
    emu = make_emulator(auto_approve=True)
    site = _site(tmp_path, emu)
    runbook.check_console(site, scopes.scopes_for(("openid",)), flow="desktop")
    _authorize(site, scopes.scopes_for(("openid",)))
    runbook.check_console(site, CALENDAR, flow="desktop")  # 01 changed after the authorization
    st = runbook.status(site)
    assert st.missing_scopes == () and st.requested_since == tokeninfo.scope_diff(CALENDAR, st.scopes)[0] != ()
    labels = {label for label, _scope in render.status_rows(st)}
    assert "requested, NOT granted" not in labels
    assert any(label.startswith("requested since") for label in labels)
    # a scope requested at authorization and not in the token: withheld, so "NOT granted"
    site.profile.update_settings(lambda s: s.update(authorized_scopes=[*st.scopes, "https://example.com/x"]))
    st = runbook.status(site)
    assert st.missing_scopes == ("https://example.com/x",)
    assert ("requested, NOT granted", "https://example.com/x") in render.status_rows(st)


def test_steps_record_operator_and_inputs_hash_and_the_audit_log_has_no_secret(
    tmp_path: Path, make_emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = make_emulator(auto_approve=True)
    site = _site(tmp_path, emu)
    runbook.check_console(site, CALENDAR, flow="desktop")
    _authorize(site)
    runbook.refresh(site)
    runbook.verify(site)
    steps = site.profile.load_settings()["steps"]
    assert steps["authorize"]["operator"] == audit.operator() and len(steps["authorize"]["inputs_sha256"]) == 64
    assert steps["authorize"]["inputs_sha256"] == audit.inputs_hash(
        {"scopes": list(CALENDAR), "flow": "desktop", "account": steps["authorize"]["detail"].split()[-1]})
    path = site.profile.file(audit.AUDIT_FILE)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["step"] for r in records] == ["client", "preflight", "authorize", "refresh", "verify"]
    assert {"who", "when", "step", "outcome", "parameters"} <= set(records[0])
    secrets = [emu.emulator.desktop_client.client_secret, site.profile.load_token().refresh_token,
               site.profile.load_token().access_token]
    assert not any(secret in path.read_text() for secret in secrets)
    assert leakscan.scan_text(str(path), path.read_text(), secrets) == []
    when = state.read(site).of(AUTHORIZE).when  # 00 shows when (as people read it) and who
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\d \d\d:\d\d UTC by {re.escape(audit.operator())}", when), when

    assert cli.run(["--home", str(tmp_path), "audit", "site-a"]) == 0
    text = capsys.readouterr().out
    assert "authorize" in text and audit.operator() in text and not any(s in text for s in secrets)
    assert cli.run(["--home", str(tmp_path), "audit", "site-a", "--json"]) == 0
    assert [r["step"] for r in json.loads(capsys.readouterr().out)] == [r["step"] for r in records]


def test_cancel_with_a_good_token_keeps_03_ok(tmp_path: Path, make_emulator: Any) -> None:
    emu = make_emulator(auto_approve=True)
    site = _site(tmp_path, emu)
    _authorize(site)
    with pytest.raises(Cancelled):
        runbook.authorize(site, CALENDAR, flow="desktop", timeout=30, open_url=lambda url: None,
                          cancelled=lambda: True)
    assert site.profile.load_settings()["steps"]["authorize"]["status"] == "ok"
    assert audit.read(site.profile)[-1]["outcome"] == "cancelled"
    site.profile.delete_token()  # no good token: a cancel is recorded as before
    with pytest.raises(Cancelled):
        runbook.authorize(site, CALENDAR, flow="desktop", timeout=30, open_url=lambda url: None,
                          cancelled=lambda: True)
    assert site.profile.load_settings()["steps"]["authorize"]["status"] == "failed"


def test_test_client_accepts_the_right_secret_and_catches_a_wrong_one(
    tmp_path: Path, make_emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = make_emulator()
    site = _site(tmp_path, emu)
    result = runbook.test_client(site)
    assert result.answer == "invalid_grant" and result.client_id == emu.emulator.desktop_client.client_id
    assert site.profile.load_settings()["steps"]["client_test"]["status"] == "ok"
    bad = _site(tmp_path / "bad", emu, secret="GOCSPX-" + "w" * 28)
    with pytest.raises(InvalidClient):
        runbook.test_client(bad)
    assert bad.profile.load_settings()["steps"]["client_test"]["status"] == "failed"
    argv = ["--home", str(tmp_path / "bad"), "--profile", "site-a", "--issuer", emu.base_url, "client", "test"]
    assert cli.run(argv) == 3
    err = capsys.readouterr().err
    assert "invalid_client" in err and "GOCSPX-w" not in err
    assert cli.run(["--home", str(tmp_path), "--profile", "site-a", "--issuer", emu.base_url, "client", "test"]) == 0
    assert "accepted" in capsys.readouterr().out


def test_04_summary_and_calendar_sample(tmp_path: Path, make_emulator: Any, capsys: pytest.CaptureFixture[str]) -> None:
    emu = make_emulator(auto_approve=True)
    site = _site(tmp_path, emu)
    result = _authorize(site)
    report = runbook.verify(site)
    sample = next(c.sample for c in report.checks if c.api == "calendar")
    assert sample == {"count": 1, "more": False, "primary": result.account}
    lines = render.verify_lines(report)
    assert f"Proof from real data: 1 calendar(s) in the account; the primary one is {result.account!r}" in lines
    assert lines[-1] == render.verify_verdict(report)
    summary = actions.act_summary(site)
    st = runbook.status(site)
    for wanted in ("profile site-a", f"Issuer: {emu.base_url}", f"Client ID: {st.client_id}",
                   f"Token id: {st.token_id}", "Step 04 token status: ok: verified", f"Account: {result.account}"):
        assert any(wanted in line for line in summary), wanted
    token = site.profile.load_token()
    text = "\n".join(summary)
    assert token.access_token not in text and token.refresh_token not in text
    assert emu.emulator.desktop_client.client_secret not in text
    assert cli.run(["--home", str(tmp_path), "--profile", "site-a", "status", "--summary"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[0] == summary[0]
    fresh = runbook.Site.open("fresh", home=tmp_path, issuer=emu.base_url)
    assert "Step 04 token status: not run" in summary_lines(state.read(fresh))
