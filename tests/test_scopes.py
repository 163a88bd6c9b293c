"""Service catalog, device allow-list and the preflight that runs before any network call."""

from __future__ import annotations

import dataclasses
import json

import pytest

from gapps_runbook import errors
from gapps_runbook.oauth import scopes
from gapps_runbook.oauth.clients import ClientConfig
from gapps_runbook.oauth.endpoints import GOOGLE, Endpoints

P = scopes.SCOPE_PREFIX
CALENDAR = scopes.scopes_for(["calendar"])
DESKTOP = ClientConfig("1-" + "a" * 32 + ".apps.googleusercontent.com", "GOCSPX-" + "s" * 28, "desktop",
                       project_id="calendar-bridge")
DEVICE = dataclasses.replace(DESKTOP, client_type="device")
EMULATOR = Endpoints(
    issuer="http://127.0.0.1:8765",
    authorization_endpoint="http://127.0.0.1:8765/o/oauth2/v2/auth",
    token_endpoint="http://127.0.0.1:8765/token",
    device_authorization_endpoint="http://127.0.0.1:8765/device/code",
    tokeninfo_endpoint="http://127.0.0.1:8765/tokeninfo",
)
OTHER_IDP = Endpoints(
    issuer="https://idp.example",
    authorization_endpoint="https://idp.example/authorize",
    token_endpoint="https://idp.example/token",
    device_authorization_endpoint="https://idp.example/device",
)


def finding(result: scopes.Preflight, code: str) -> scopes.Finding:
    matches = [f for f in result.findings if f.code == code]
    assert len(matches) == 1, result.summary_lines()
    return matches[0]


# --- catalog -------------------------------------------------------------------------------------


def test_catalog_matches_the_procedure() -> None:
    assert CALENDAR == (P + "calendar.readonly", P + "calendar.events.readonly")
    assert scopes.SERVICES["calendar"].api_id == "calendar-json.googleapis.com"
    assert scopes.scopes_for(["gmail"]) == (P + "gmail.readonly",)
    assert scopes.scopes_for(["openid"]) == ("openid", "email")
    assert {"calendar", "gmail", "openid", "drive_file", "youtube_readonly"} <= set(scopes.SERVICES)


def test_device_allow_list_is_google_s_list() -> None:
    for scope in ("openid", "email", "profile", P + "userinfo.email", P + "userinfo.profile", P + "drive.file",
                  P + "drive.appdata", P + "youtube", P + "youtube.readonly"):
        assert scope in scopes.DEVICE_ALLOWED_SCOPES
    for service in ("calendar", "gmail"):
        assert not set(scopes.scopes_for([service])) & scopes.DEVICE_ALLOWED_SCOPES
    for service in ("openid", "drive_file", "youtube_readonly"):
        assert set(scopes.scopes_for([service])) <= scopes.DEVICE_ALLOWED_SCOPES


@pytest.mark.parametrize("service", scopes.SERVICES.values(), ids=lambda s: s.key)
def test_each_catalog_entry_is_whole(service: scopes.Service) -> None:
    """An entry carries everything preflight, the checklist, verify and the emulator read from it."""
    assert service.name and service.title and service.scopes
    assert service.device_flow == all(s in scopes.DEVICE_ALLOWED_SCOPES for s in service.scopes)
    if service.api_id:
        assert service.library_url("p-1") == f"https://console.cloud.google.com/apis/library/{service.api_id}?project=p-1"
    else:
        assert service.library_url("p-1") == ""
    for probe in service.probes:
        assert probe.request_path.startswith(service.api_path + "/") and "{" not in probe.request_path
        assert not probe.items or service.noun, "what the proof counts is named"
    if service.probes:
        assert service.api_path and service.api_id
        assert set(service.scopes) & service.probes[0].accepts, "the scopes requested open the first probe"


def test_device_flow_in_the_catalog_is_google_s_list() -> None:
    assert [k for k, s in scopes.SERVICES.items() if s.device_flow] == ["openid", "drive_file", "youtube_readonly"]
    assert scopes.SERVICES["gmail"].always_verified and scopes.SERVICES["calendar"].always_verified


def test_scopes_for_deduplicates_and_rejects_unknown_services() -> None:
    assert scopes.scopes_for(["openid", "calendar", "openid"]) == ("openid", "email", *CALENDAR)
    with pytest.raises(errors.InputError, match="unknown service 'calender'") as caught:
        scopes.scopes_for(["calender"])
    assert "calendar" in caught.value.fix


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("calendar.readonly", P + "calendar.readonly"),
        (" calendar.readonly ", P + "calendar.readonly"),
        ("auth/calendar.readonly", P + "calendar.readonly"),
        (P + "calendar.readonly", P + "calendar.readonly"),
        ("openid", "openid"),
        ("email", "email"),
        ("https://mail.google.com/", "https://mail.google.com/"),
    ],
)
def test_normalize_scope(given: str, expected: str) -> None:
    assert scopes.normalize_scope(given) == expected


@pytest.mark.parametrize("bad", ["", "   ", "calendar.readonly calendar.events.readonly"])
def test_normalize_scope_rejects_empty_and_joined_scopes(bad: str) -> None:
    with pytest.raises(errors.InputError, match="one scope per --scope"):
        scopes.normalize_scope(bad)


# --- preflight: the headline -------------------------------------------------------------------


def test_calendar_with_forced_device_flow_is_an_error_recommending_desktop() -> None:
    result = scopes.preflight(CALENDAR, flow="device", endpoints=GOOGLE, publishing_status="production")
    assert not result.ok
    assert result.flow == "device" and result.recommended_flow == "desktop"
    rejected = finding(result, "device_scope_rejected")
    assert rejected.level == "error"
    assert "invalid_scope" in rejected.message and "calendar.readonly" in rejected.message
    assert "legacy" in rejected.message
    assert "flow desktop" in rejected.fix and "Desktop app" in rejected.fix
    assert result.findings[0] is rejected  # errors first


def test_auto_picks_desktop_for_calendar_and_device_for_sign_in_only() -> None:
    calendar = scopes.preflight(CALENDAR, endpoints=GOOGLE, publishing_status="production")
    assert (calendar.flow, calendar.client_type, calendar.ok) == ("desktop", "desktop", True)
    sign_in = scopes.preflight(["openid", "email"], endpoints=GOOGLE)
    assert (sign_in.flow, sign_in.client_type, sign_in.ok) == ("device", "device", True)
    assert "device_scope_rejected" not in calendar.codes() + sign_in.codes()


def test_auto_respects_an_existing_desktop_client_and_flags_a_tv_client_for_calendar() -> None:
    assert scopes.preflight(["openid"], endpoints=GOOGLE, client=DESKTOP).flow == "desktop"
    assert scopes.preflight(["openid"], endpoints=GOOGLE, client=DEVICE).flow == "device"
    result = scopes.preflight(CALENDAR, endpoints=GOOGLE, client=DEVICE, publishing_status="production")
    assert result.flow == "desktop" and not result.ok
    mismatch = finding(result, "client_type_mismatch")
    assert "'Desktop app'" in mismatch.message and "'TVs and Limited Input devices'" in mismatch.message


def test_legacy_flag_turns_the_error_into_a_labelled_warning() -> None:
    result = scopes.preflight(CALENDAR, flow="device", endpoints=EMULATOR, client=DEVICE,
                              legacy_device_scopes=True, publishing_status="production")
    assert result.ok
    warning = finding(result, "device_scope_rejected")
    assert warning.level == "warning" and "legacy" in warning.message and "emulator only" in warning.message
    on_google = scopes.preflight(CALENDAR, flow="device", endpoints=GOOGLE, legacy_device_scopes=True,
                                 publishing_status="production")
    assert "the real Google rejects them" in finding(on_google, "device_scope_rejected").message


def test_client_type_must_match_the_flow() -> None:
    result = scopes.preflight(["openid"], flow="device", endpoints=GOOGLE, client=DESKTOP)
    mismatch = finding(result, "client_type_mismatch")
    assert mismatch.level == "error" and "TVs and Limited Input devices" in mismatch.message
    assert errors.CONSOLE_CREDENTIALS in mismatch.fix
    result = scopes.preflight(CALENDAR, flow="desktop", endpoints=GOOGLE, client=DEVICE)
    assert "needs a 'Desktop app' client" in finding(result, "client_type_mismatch").message


@pytest.mark.parametrize("status", ["testing", None])
def test_testing_or_unknown_status_warns_about_seven_day_refresh_tokens(status: str | None) -> None:
    result = scopes.preflight(
        CALENDAR, endpoints=GOOGLE, client=DESKTOP, publishing_status=status  # type: ignore[arg-type]
    )
    warning = finding(result, "testing_refresh_expiry")
    assert warning.level == "warning" and "7 days" in warning.message
    assert errors.CONSOLE_CONSENT in warning.fix
    assert result.ok
    assert ("unknown" in warning.message) == (status is None)


def test_no_testing_warning_in_production_or_for_sign_in_scopes_only() -> None:
    assert "testing_refresh_expiry" not in scopes.preflight(CALENDAR, endpoints=GOOGLE,
                                                            publishing_status="production").codes()
    assert "testing_refresh_expiry" not in scopes.preflight(["openid", "email", "profile"], endpoints=GOOGLE,
                                                            publishing_status="testing").codes()


def test_enable_apis_info_links_to_the_project_library() -> None:
    result = scopes.preflight([*CALENDAR, *scopes.scopes_for(["gmail", "openid"])], endpoints=GOOGLE,
                              client=DESKTOP, publishing_status="production")
    info = finding(result, "enable_apis")
    assert info.level == "info"
    assert "Google Calendar API (calendar-json.googleapis.com)" in info.message and "Gmail API" in info.message
    library = "https://console.cloud.google.com/apis/library/"
    assert library + "calendar-json.googleapis.com?project=calendar-bridge" in info.fix
    assert "gmail.googleapis.com?project=calendar-bridge" in info.fix
    without_project = scopes.preflight(CALENDAR, endpoints=GOOGLE)
    assert finding(without_project, "enable_apis").fix == (
        "https://console.cloud.google.com/apis/library/calendar-json.googleapis.com"
    )


def test_missing_device_endpoint_is_an_error_when_forced_and_avoided_by_auto() -> None:
    no_device = dataclasses.replace(OTHER_IDP, device_authorization_endpoint=None)
    forced = scopes.preflight(["openid"], flow="device", endpoints=no_device)
    assert finding(forced, "no_device_endpoint").level == "error"
    assert scopes.preflight(["openid"], endpoints=no_device).flow == "desktop"


def test_other_providers_skip_google_checks() -> None:
    result = scopes.preflight([P + "calendar.readonly"], endpoints=OTHER_IDP, client=DESKTOP)
    assert result.flow == "desktop" and result.ok and result.findings == ()
    device = scopes.preflight(["custom:scope"], endpoints=OTHER_IDP)
    assert device.flow == "device" and device.ok and device.findings == ()


def test_drive_appdata_gets_a_caveat_and_no_scopes_is_an_error() -> None:
    result = scopes.preflight([P + "drive.appdata"], flow="device", endpoints=GOOGLE)
    assert finding(result, "device_scope_unreliable").level == "warning"
    assert finding(scopes.preflight([], endpoints=GOOGLE), "no_scopes").level == "error"


def test_bad_arguments_are_input_errors() -> None:
    with pytest.raises(errors.InputError, match="flow 'tv'"):
        scopes.preflight(CALENDAR, flow="tv", endpoints=GOOGLE)  # type: ignore[arg-type]
    with pytest.raises(errors.InputError, match="publishing status 'live'"):
        scopes.preflight(CALENDAR, endpoints=GOOGLE, publishing_status="live")  # type: ignore[arg-type]


def test_json_and_summary_outputs() -> None:
    result = scopes.preflight(["calendar.readonly"], flow="device", endpoints=GOOGLE, client=DEVICE)
    document = json.loads(json.dumps(result.to_json()))
    assert document["ok"] is False and document["flow"] == "device" and document["recommended_flow"] == "desktop"
    assert document["client_type_label"] == "TVs and Limited Input devices"
    assert document["scopes"] == [P + "calendar.readonly"]
    assert [f["code"] for f in document["findings"]][0] == "device_scope_rejected"
    assert set(document["findings"][0]) == {"level", "code", "message", "fix"}
    lines = result.summary_lines()
    assert lines[0].startswith("Flow: device") and "recommended: desktop" in lines[0]
    assert any(line.startswith("ERROR device_scope_rejected:") and "Fix:" in line for line in lines)
    assert lines[-1].startswith("Preflight: FAILED")
    assert all("\n" not in line for line in lines)


def test_preflight_output_never_contains_the_secret() -> None:
    result = scopes.preflight(CALENDAR, flow="device", endpoints=GOOGLE, client=DESKTOP)
    assert DESKTOP.client_secret not in json.dumps(result.to_json())


@pytest.mark.parametrize("first", ["gapps_runbook.oauth.preflight", "gapps_runbook.oauth.scopes"])
def test_preflight_lives_in_its_module_and_stays_importable_from_scopes(first: str) -> None:
    """Issue 7 split preflight out of scopes.py; either module may be imported first (no import cycle)."""
    import subprocess
    import sys

    code = (f"import {first}\nfrom gapps_runbook.oauth import preflight, scopes\n"
            "assert scopes.preflight is preflight.preflight and scopes.Finding is preflight.Finding\n"
            "from gapps_runbook.oauth.scopes import Preflight\nassert Preflight is preflight.Preflight")
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(AttributeError):
        scopes.no_such_name  # noqa: B018


def test_a_forced_flow_that_cannot_work_gets_one_fix_not_a_client_for_it_too() -> None:
    result = scopes.preflight(CALENDAR, flow="device", endpoints=GOOGLE, client=DESKTOP, publishing_status="production")
    assert [f.code for f in result.findings if f.level == "error"] == ["device_scope_rejected"]
    assert "flow desktop" in finding(result, "device_scope_rejected").fix
    assert "TVs and Limited Input devices" not in " ".join(f.fix for f in result.findings)


def test_the_audience_fix_is_a_sentence_whose_link_is_a_link() -> None:
    from gapps_runbook.views import render

    result = scopes.preflight(CALENDAR, endpoints=GOOGLE, client=DESKTOP, publishing_status="testing")
    fix = finding(result, "testing_refresh_expiry").fix
    assert fix == f"on the Audience page ({errors.CONSOLE_CONSENT}) click Publish app, then authorize again"
    shown = render.verdict_html(result)
    assert (f'(<a href="{errors.CONSOLE_CONSENT}" target="_blank" rel="noopener" style="{render.LINK_STYLE}">'
            f"{errors.CONSOLE_CONSENT}</a>) click Publish app") in shown
