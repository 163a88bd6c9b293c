"""One truth about a site: every step's verdict judged by :mod:`gapps_runbook.runbook.state`, against the emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gapps_runbook import cli, runbook
from gapps_runbook.emulator import RunningEmulator
from gapps_runbook.emulator.records import Scenario
from gapps_runbook.errors import AccessDenied, Cancelled
from gapps_runbook.oauth import scopes
from gapps_runbook.profile import backup
from gapps_runbook.runbook import state
from gapps_runbook.steps import AUTHORIZE, BACKUP, CHECKLIST, CLIENT, STATUS

from fakes import client_id

from sites import browser

CALENDAR = scopes.scopes_for(("calendar", "openid"))


def _site(home: Path, emu: RunningEmulator) -> runbook.Site:
    site = runbook.Site.open("site-a", home=home, issuer=emu.base_url)
    runbook.check_console(site, CALENDAR, flow="desktop")
    client = emu.emulator.desktop_client
    runbook.save_client(site, client_id=client.client_id, client_secret=client.client_secret, client_type="desktop")
    return site


def _authorize(site: runbook.Site) -> runbook.AuthResult:
    return runbook.authorize(site, CALENDAR, flow="desktop", timeout=30,
                             open_url=browser)


def _verdicts(site: runbook.Site) -> dict[str, str]:
    return {s.step.number: s.verdict for s in state.read(site).steps}


def _status(home: Path, emu: RunningEmulator, *args: str) -> Any:
    return CliRunner().invoke(cli.cli, ["--home", str(home), "--profile", "site-a", "--issuer", emu.base_url,
                                        "status", *args])


def test_a_fresh_profile_has_every_step_not_run(tmp_path: Path, emulator: RunningEmulator) -> None:
    site = runbook.Site.open("fresh", home=tmp_path, issuer=emulator.base_url)
    current = state.read(site)
    assert [s.verdict for s in current.steps] == ["not run"] * 5
    assert current.health.word == "none" and not current.usable
    assert current.of(AUTHORIZE).redo == AUTHORIZE


def test_denied_reauthorization_leaves_03_ok_and_status_exit_0(tmp_path: Path, make_emulator: Any) -> None:
    emu = make_emulator(auto_approve=True)
    site = _site(tmp_path, emu)
    first = _authorize(site)
    assert _verdicts(site) == {"01": "ok", "02": "ok", "03": "ok", "04": "not run", "05": "not run"}
    emu.emulator.state.scenario = Scenario(deny=True)
    with pytest.raises(AccessDenied):
        _authorize(site)
    authorize = state.read(site).of(AUTHORIZE)
    assert authorize.verdict == "ok"
    assert "the new attempt was denied" in authorize.detail and f"the stored token {first.token.token_id} still works" \
        in authorize.detail
    result = _status(tmp_path, emu, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert {s["step"]: s["verdict"] for s in document["steps"]}["03"] == "ok"
    assert document["usable"] is True and document["health"] == "ok"


def test_a_denied_attempt_without_a_good_token_fails_03(tmp_path: Path, make_emulator: Any) -> None:
    emu = make_emulator(auto_approve=True, scenario=Scenario(deny=True))
    site = _site(tmp_path, emu)
    with pytest.raises(AccessDenied):
        _authorize(site)
    assert state.read(site).of(AUTHORIZE).verdict == "failed"
    assert _status(tmp_path, emu).exit_code == 7


def test_another_client_makes_03_and_04_stale_with_the_step_to_redo(tmp_path: Path, make_emulator: Any) -> None:
    emu = make_emulator(auto_approve=True)
    site = _site(tmp_path, emu)
    _authorize(site)
    runbook.verify(site)
    assert _verdicts(site)["04"] == "ok"
    other = emu.emulator.register_client(client_id("a1" * 16),
                                         "GOCSPX-" + "b2" * 14, "desktop", "Other")
    runbook.save_client(site, client_id=other.client_id, client_secret=other.client_secret, client_type="desktop")
    current = state.read(site)
    assert current.of(AUTHORIZE).verdict == "stale" and "client changed" in current.of(AUTHORIZE).detail
    assert current.of(AUTHORIZE).redo == AUTHORIZE
    assert current.of(STATUS).verdict == "stale" and current.of(STATUS).redo is not None
    assert current.of(CLIENT).verdict == "ok"
    document = json.loads(_status(tmp_path, emu, "--json").output)
    assert {s["step"]: (s["verdict"], s["redo"]) for s in document["steps"]}["03"] == ("stale", "03")


def test_revoking_makes_the_earlier_verify_stale(tmp_path: Path, make_emulator: Any) -> None:
    emu = make_emulator(auto_approve=True)
    site = _site(tmp_path, emu)
    result = _authorize(site)
    runbook.verify(site)
    runbook.revoke(site)
    verify = state.read(site).of(STATUS)
    assert verify.verdict == "stale"
    assert result.token.token_id in verify.detail and "no token is stored now" in verify.detail
    assert state.read(site).of(AUTHORIZE).verdict == "stale"
    assert _status(tmp_path, emu).exit_code == 7


def test_a_new_flow_in_01_makes_the_client_stale(tmp_path: Path, make_emulator: Any) -> None:
    emu = make_emulator(auto_approve=True)
    site = _site(tmp_path, emu)
    _authorize(site)
    runbook.check_console(site, scopes.scopes_for(("openid",)), flow="device")
    current = state.read(site)
    assert current.of(CLIENT).verdict == "stale" and "device flow" in current.of(CLIENT).detail
    assert current.of(AUTHORIZE).verdict == "stale" and "device flow" in current.of(AUTHORIZE).detail
    device = emu.emulator.device_client
    runbook.save_client(site, client_id=device.client_id, client_secret=device.client_secret, client_type="device")
    current = state.read(site)
    # 01 failed with the desktop client stored: the new client may fix it, so it says stale, never an old failed
    assert [current.of(step).verdict for step in (CHECKLIST, CLIENT, AUTHORIZE)] == ["stale", "ok", "stale"]
    assert current.of(AUTHORIZE).redo == AUTHORIZE
    with pytest.raises(Cancelled):  # a cancelled new attempt leaves the stale verdict as it was, not "failed"
        runbook.authorize(site, scopes.scopes_for(("openid",)), flow="device", timeout=30, cancelled=lambda: True)
    assert state.read(site).of(AUTHORIZE).verdict == "stale"


def test_a_failed_01_is_stale_once_02_changes_the_client(tmp_path: Path, make_emulator: Any) -> None:
    emu = make_emulator(auto_approve=True)
    site = runbook.Site.open("site-a", home=tmp_path, issuer=emu.base_url)
    device = emu.emulator.device_client
    runbook.save_client(site, client_id=device.client_id, client_secret=device.client_secret, client_type="device")
    verdict = runbook.check_console(site, CALENDAR, flow="device")
    assert not verdict.ok and state.read(site).of(CHECKLIST).verdict == "failed"
    desktop = emu.emulator.desktop_client
    runbook.save_client(site, client_id=desktop.client_id, client_secret=desktop.client_secret, client_type="desktop")
    checklist = state.read(site).of(CHECKLIST)
    assert checklist.verdict == "stale" and "client" in checklist.detail and checklist.redo == CHECKLIST


def test_the_export_record_belongs_to_the_token_it_held(tmp_path: Path, make_emulator: Any) -> None:
    emu = make_emulator(auto_approve=True)
    site = _site(tmp_path, emu)
    _authorize(site)
    backup.record_export(site.profile, tmp_path / "site-a.age", now=1_800_000_000, by="alice")
    assert state.read(site).of(BACKUP).verdict == "ok"
    _authorize(site)  # a new token: the export restores the older one
    assert state.read(site).of(BACKUP).verdict == "stale"


@pytest.mark.parametrize(("expires_in", "refresh", "word"), [
    (3599, True, "ok"), (3599, False, "expiring"), (30, False, "expired"), (0, True, "ok"),
])
def test_one_usable_threshold(expires_in: int, refresh: bool, word: str) -> None:
    st = runbook.TokenStatus("p", "c", "t", expires_in, (), (), None, refresh, None)
    assert state.health(st).word == word
    assert state.usable(st) is (word != "expired")


def test_an_interrupted_refresh_is_not_usable() -> None:
    st = runbook.TokenStatus("p", "c", "t", 3599, (), (), None, True, None, refresh_interrupted=True)
    assert state.health(st).word == "interrupted" and not state.usable(st)


def test_state_lines_carry_no_secret(tmp_path: Path, make_emulator: Any) -> None:
    emu = make_emulator(auto_approve=True)
    site = _site(tmp_path, emu)
    result = _authorize(site)
    text = json.dumps(state.read(site).to_json())
    token = result.token
    for secret in (token.access_token, token.refresh_token or "unset", emu.emulator.desktop_client.client_secret):
        assert secret not in text
