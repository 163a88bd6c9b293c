"""The emulator's state rules without HTTP: device sessions, grants, revoke and scope facts."""

from __future__ import annotations

import pytest

from gapps_runbook.oauth.clock import FakeClock
from gapps_runbook.emulator import Emulator, Scenario, facts
from gapps_runbook.errors import AuthorizationPending, InvalidClient, InvalidGrant, InvalidScope, InvalidToken, SlowDown

BASE = "http://127.0.0.1:1"


def approved_token(emu: Emulator, scope: str = "openid email") -> dict:
    body = emu.device.start(emu.device_client.client_id, scope, base_url=BASE)
    emu.approve(body["user_code"])
    return emu.device.poll(emu.device_client, body["device_code"], issuer=BASE)


def test_granted_scopes_normalize_short_names() -> None:
    assert facts.granted_scopes(["email", "profile"]) == (facts.USERINFO_EMAIL, facts.USERINFO_PROFILE, "openid")
    assert facts.granted_scopes(["openid", "email"]) == ("openid", facts.USERINFO_EMAIL)
    assert facts.granted_scopes([facts.AUTH + "drive.file"]) == (facts.AUTH + "drive.file",)


def test_device_allow_list_and_legacy_list() -> None:
    calendar = facts.AUTH + "calendar.readonly"
    assert facts.first_disallowed_device_scope(["email", calendar, "x"], legacy=False) == calendar
    assert facts.first_disallowed_device_scope(["email", calendar], legacy=True) is None
    assert facts.first_disallowed_device_scope(["https://mail.google.com/"], legacy=True) == "https://mail.google.com/"


def test_pkce_s256_matches_rfc7636_example() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636 Appendix B
    assert not facts.pkce_matches("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN", "S256", verifier)
    assert facts.pkce_matches("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "S256", verifier)
    assert facts.pkce_matches("abc", "plain", "abc") and not facts.pkce_matches("abc", "plain", "abd")


def test_user_code_lookup_is_exact_case_and_ignores_dashes() -> None:
    emu = Emulator(clock=FakeClock())
    user_code = emu.device.start(emu.device_client.client_id, "email", base_url=BASE)["user_code"]
    assert emu.device.lookup(user_code)[0] == "pending"
    assert emu.device.lookup(" " + user_code.replace("-", "") + " ")[0] == "pending"
    assert emu.device.lookup(user_code.lower())[0] == "unknown"
    with pytest.raises(KeyError):
        emu.approve("BBBB-BBBB" if user_code != "BBBB-BBBB" else "CCCC-CCCC")


def test_poll_errors_are_the_errors_module_classes() -> None:
    clock = FakeClock()
    emu = Emulator(clock=clock)
    body = emu.device.start(emu.device_client.client_id, "email", base_url=BASE)
    with pytest.raises(AuthorizationPending):
        emu.device.poll(emu.device_client, body["device_code"], issuer=BASE)
    with pytest.raises(SlowDown):
        emu.device.poll(emu.device_client, body["device_code"], issuer=BASE)
    with pytest.raises(InvalidGrant):
        emu.device.poll(emu.desktop_client, body["device_code"], issuer=BASE)  # another client's code


def test_scenario_applies_to_later_sessions_and_can_be_cleared() -> None:
    clock = FakeClock()
    emu = Emulator(clock=clock)
    client = emu.device_client
    emu.script(client.client_id, Scenario(approve_as="zed@example.com"))
    first = emu.device.start(client.client_id, "email", base_url=BASE)
    assert (
        emu.state.token_info(emu.device.poll(client, first["device_code"], issuer=BASE)["access_token"])["email"]
        == "zed@example.com"
    )
    emu.script(client.client_id, None)
    second = emu.device.start(client.client_id, "email", base_url=BASE)
    with pytest.raises(AuthorizationPending):
        emu.device.poll(client, second["device_code"], issuer=BASE)


def test_revoke_covers_every_grant_of_the_project_for_that_account() -> None:
    emu = Emulator(clock=FakeClock())
    first, second = approved_token(emu), approved_token(emu)
    emu.state.revoke(first["access_token"])
    for token in (first, second):
        with pytest.raises(InvalidToken):
            emu.state.token_info(token["access_token"])
    with pytest.raises(InvalidToken):
        emu.state.revoke(second["refresh_token"])


def test_refresh_can_narrow_but_not_widen_scopes() -> None:
    emu = Emulator(clock=FakeClock())
    token = approved_token(emu, "openid email profile")
    narrowed = emu.state.refresh(emu.device_client, token["refresh_token"], "email", issuer=BASE)
    assert set(narrowed["scope"].split()) == {facts.USERINFO_EMAIL, "openid"}
    with pytest.raises(InvalidScope):
        emu.state.refresh(emu.device_client, token["refresh_token"], facts.AUTH + "drive.file", issuer=BASE)
    with pytest.raises(InvalidGrant):
        emu.state.refresh(emu.desktop_client, token["refresh_token"], None, issuer=BASE)


def test_testing_mode_spares_basic_scopes_only() -> None:
    emu = Emulator(clock=FakeClock(), publishing_status="testing")
    assert "refresh_token_expires_in" not in approved_token(emu, "openid email")
    assert approved_token(emu, "email " + facts.AUTH + "drive.file")["refresh_token_expires_in"] == 604799


def test_register_client_validates() -> None:
    emu = Emulator()
    with pytest.raises(ValueError):
        emu.register_client("id", "secret", "tv")  # type: ignore[arg-type]
    emu.register_client("id", "secret", "web")
    with pytest.raises(InvalidClient):
        emu.device.start("id", "email", base_url=BASE)
    with pytest.raises(ValueError):
        Emulator(publishing_status="internal")
