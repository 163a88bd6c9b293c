"""verify.py: "a Calendar token does not open Gmail", judged from Google's error envelopes (https://cloud.google.com/apis/design/errors)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gapps_runbook.oauth.clock import FakeClock
from gapps_runbook.oauth.endpoints import GOOGLE, Endpoints
from gapps_runbook.errors import CONSOLE_LIBRARY, InvalidToken, TransportError
from gapps_runbook.oauth.tokens import Token
from gapps_runbook.oauth.transport import Response
from gapps_runbook.oauth.verify import api_error, plan, verify

from fakes import ACCESS, NOW, get_only, reply, token

AUTH = "https://www.googleapis.com/auth/"
EMU = Endpoints("http://127.0.0.1:5555", "http://127.0.0.1:5555/o/oauth2/v2/auth", "http://127.0.0.1:5555/token",
                tokeninfo_endpoint="http://127.0.0.1:5555/tokeninfo", api_base="http://127.0.0.1:5555")


def envelope(code: int, status: str, reason: str, legacy: str, service: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": f"message {reason}", "status": status,
                      "errors": [{"message": "x", "domain": "global", "reason": legacy}],
                      "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                                   "domain": "googleapis.com", "metadata": {"service": service}}]}}


SCOPE_GMAIL = envelope(403, "PERMISSION_DENIED", "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "insufficientPermissions",
                       "gmail.googleapis.com")
SCOPE_CAL = envelope(403, "PERMISSION_DENIED", "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "insufficientPermissions",
                     "calendar-json.googleapis.com")
DISABLED = envelope(403, "PERMISSION_DENIED", "SERVICE_DISABLED", "accessNotConfigured", "gmail.googleapis.com")
EXPIRED = envelope(401, "UNAUTHENTICATED", "ACCESS_TOKEN_EXPIRED", "authError", "calendar-json.googleapis.com")
CAL_LIST = {"kind": "calendar#calendarList", "items": []}
PROFILE = {"emailAddress": "eng@example.com", "messagesTotal": 1}


def test_calendar_allowed_gmail_refused() -> None:
    transport = get_only(reply(200, CAL_LIST), reply(403, SCOPE_GMAIL))
    report = verify(transport, GOOGLE, token("calendar.readonly", "calendar.events.readonly"), clock=FakeClock(NOW))
    cal, gmail = report.checks
    assert report.ok
    assert (cal.call, cal.expected, cal.outcome, cal.ok) == ("calendarList.list", "allowed", "allowed", True)
    assert (gmail.call, gmail.expected, gmail.outcome, gmail.ok) == ("users.getProfile", "refused", "refused", True)
    assert gmail.detail.startswith("refused: token lacks the scope")
    urls = [c.url for c in transport.calls]
    assert urls == ["https://www.googleapis.com/calendar/v3/users/me/calendarList",
                    "https://gmail.googleapis.com/gmail/v1/users/me/profile"]
    assert all(c.headers == {"Authorization": f"Bearer {ACCESS}"} for c in transport.calls)
    assert all(ACCESS not in c.url for c in transport.calls)
    assert ACCESS not in repr(report) and ACCESS not in json.dumps(report.to_json())
    assert report.to_json()["checks"][1]["outcome"] == "refused" and not report.skipped


def test_each_call_sends_its_probe_s_parameters_only() -> None:
    transport = get_only(reply(200, CAL_LIST), reply(403, SCOPE_GMAIL))
    verify(transport, GOOGLE, token("calendar.readonly"), clock=FakeClock(NOW))
    assert [c.params for c in transport.calls] == [{"maxResults": "250"}, None]  # getProfile takes no page size


def test_events_only_scope_uses_events_list() -> None:
    transport = get_only(reply(200, {"kind": "calendar#events"}), reply(403, SCOPE_GMAIL))
    report = verify(transport, EMU, token("calendar.events.readonly"), clock=FakeClock(NOW))
    assert report.ok and report.checks[0].call == "events.list"
    assert [c.url for c in transport.calls] == ["http://127.0.0.1:5555/calendar/v3/calendars/primary/events",
                                                "http://127.0.0.1:5555/gmail/v1/users/me/profile"]


def test_no_calendar_scope_expects_refusal() -> None:
    transport = get_only(reply(403, SCOPE_CAL), reply(403, SCOPE_GMAIL))
    report = verify(transport, EMU, token("openid", "email"), clock=FakeClock(NOW))
    assert [c.expected for c in report.checks] == ["refused", "refused"]
    assert report.ok


def test_gmail_scope_expects_gmail_allowed() -> None:
    transport = get_only(reply(200, CAL_LIST), reply(200, PROFILE))
    report = verify(transport, EMU, token("calendar", "gmail.readonly"), clock=FakeClock(NOW))
    assert report.ok and report.checks[1].expected == "allowed"


def test_calendar_refused_when_expected_allowed_fails_the_report() -> None:
    transport = get_only(reply(403, SCOPE_CAL), reply(403, SCOPE_GMAIL))
    report = verify(transport, EMU, token("calendar.readonly"), clock=FakeClock(NOW))
    assert not report.ok
    assert report.checks[0].outcome == "refused" and "authorize again" in report.checks[0].fix


def test_gmail_allowed_with_a_calendar_token_fails_the_report() -> None:
    report = verify(get_only(reply(200, CAL_LIST), reply(200, PROFILE)), EMU, token("calendar.readonly"),
                    clock=FakeClock(NOW))
    assert not report.ok and report.checks[1].outcome == "allowed" and not report.checks[1].ok


def test_disabled_api_is_an_error_naming_the_library() -> None:
    report = verify(get_only(reply(200, CAL_LIST), reply(403, DISABLED)), EMU, token("calendar.readonly"),
                    clock=FakeClock(NOW))
    gmail = report.checks[1]
    assert (gmail.outcome, gmail.ok) == ("error", False)
    assert CONSOLE_LIBRARY in gmail.fix and "Gmail API" in gmail.fix
    assert not report.ok


def test_401_is_an_error_telling_to_refresh() -> None:
    report = verify(get_only(reply(401, EXPIRED), reply(403, SCOPE_GMAIL)), EMU, token("calendar.readonly"),
                    clock=FakeClock(NOW))
    cal = report.checks[0]
    assert cal.outcome == "error" and "ACCESS_TOKEN_EXPIRED" in cal.detail
    assert "refresh" in cal.fix and "authorize again" in cal.fix


def test_legacy_reason_only() -> None:
    body = {"error": {"code": 403, "message": "Insufficient Permission",
                      "errors": [{"reason": "insufficientPermissions"}]}}
    error = api_error(reply(403, body))
    assert (error.status, error.reason) == (403, "insufficientPermissions")
    assert api_error(Response(502, {}, b"<html>")).reason == ""


def test_server_message_is_redacted() -> None:
    body = {"error": {"code": 500, "message": f"boom with {ACCESS}", "status": "INTERNAL"}}
    report = verify(get_only(reply(200, CAL_LIST), reply(500, body), reply(500, body), reply(500, body)), EMU,
                    token("calendar.readonly"), clock=FakeClock(NOW))
    assert report.checks[1].outcome == "error"
    assert ACCESS not in report.checks[1].detail


def test_connection_error_becomes_an_error_check() -> None:
    failures = [TransportError("could not connect to 127.0.0.1:5555")] * 3
    report = verify(get_only(*failures, *failures), EMU, token("calendar.readonly"), clock=FakeClock(NOW))
    assert [c.outcome for c in report.checks] == ["error", "error"]
    assert not report.ok


def test_expired_token_is_never_sent() -> None:
    transport = get_only()
    with pytest.raises(InvalidToken) as info:
        verify(transport, EMU, token("calendar.readonly", expires_at=NOW - 1), clock=FakeClock(NOW))
    assert transport.calls == [] and "refresh" in info.value.fix and ACCESS not in str(info.value)


def test_google_summaries_are_the_one_wording() -> None:
    transport = get_only(reply(200, CAL_LIST), reply(403, SCOPE_GMAIL))
    report = verify(transport, GOOGLE, token("calendar.readonly"), clock=FakeClock(NOW))
    assert [c.summary for c in report.checks] == ["Calendar calendarList.list: allowed, as expected",
                                                   "Gmail users.getProfile: refused, as expected"]
    assert report.to_json()["checks"][0]["summary"] == report.checks[0].summary
    assert report.verdict.startswith("verified: Calendar calendarList.list: allowed, as expected; Gmail")


def test_failed_google_check_summary_names_what_was_expected() -> None:
    transport = get_only(reply(200, CAL_LIST), reply(200, PROFILE))
    report = verify(transport, GOOGLE, token("calendar.readonly"), clock=FakeClock(NOW))
    assert report.checks[1].summary == "Gmail users.getProfile: allowed, expected refused"
    assert report.checks[1].line.startswith("BAD Gmail users.getProfile: allowed, expected refused.")


def test_plan_for_google_uses_gmail_host() -> None:
    calls = plan(GOOGLE, (AUTH + "calendar",))
    assert calls[1].url == "https://gmail.googleapis.com/gmail/v1/users/me/profile"
    assert calls[0].url == "https://www.googleapis.com/calendar/v3/users/me/calendarList"


# --- against the emulator, over loopback --------------------------------------------------------------

from collections.abc import Callable  # noqa: E402

from gapps_runbook.oauth.device_flow import DevicePoller, request_device_code  # noqa: E402
from gapps_runbook.emulator import RunningEmulator  # noqa: E402
from gapps_runbook.oauth.endpoints import discover  # noqa: E402
from gapps_runbook.oauth.revocation import revoke  # noqa: E402
from gapps_runbook.oauth.transport import RequestsTransport  # noqa: E402
from gapps_runbook.oauth.clients import ClientConfig  # noqa: E402


MakeEmulator = Callable[..., RunningEmulator]


def emulated(make_emulator: MakeEmulator, scopes: list[str]) -> tuple[RunningEmulator, FakeClock, Endpoints, Token]:
    clock = FakeClock()
    # The procedure's Calendar scopes need the LEGACY (pre-2016) device-scope list (OAuth2ForDevices as published before 2016).
    running = make_emulator(clock=clock, auto_approve=True, legacy_device_scopes=True)
    device = running.emulator.device_client
    client = ClientConfig(device.client_id, device.client_secret, "device")
    transport = RequestsTransport()
    endpoints = discover(transport, running.base_url)
    auth = request_device_code(transport, endpoints, client, scopes, clock=clock)
    return running, clock, endpoints, DevicePoller(transport, endpoints, client, auth, clock=clock).wait()


def test_emulator_calendar_allowed_gmail_refused(make_emulator: MakeEmulator) -> None:
    scopes = [AUTH + "calendar.readonly", AUTH + "calendar.events.readonly"]
    running, clock, endpoints, tok = emulated(make_emulator, scopes)
    assert endpoints.api_base == running.base_url
    report = verify(RequestsTransport(), endpoints, tok, clock=clock)
    assert [(c.call, c.outcome) for c in report.checks] == [("calendarList.list", "allowed"),
                                                            ("users.getProfile", "refused")]
    assert report.ok, report


def test_emulator_events_only_token(make_emulator: MakeEmulator) -> None:
    running, clock, endpoints, tok = emulated(make_emulator, [AUTH + "calendar.events.readonly"])
    report = verify(RequestsTransport(), endpoints, tok, clock=clock)
    assert [(c.call, c.outcome) for c in report.checks] == [("events.list", "allowed"), ("users.getProfile", "refused")]
    assert report.ok


def test_emulator_revoked_token_is_an_error(make_emulator: MakeEmulator) -> None:
    running, clock, endpoints, tok = emulated(make_emulator, [AUTH + "calendar.readonly"])
    revoke(RequestsTransport(), endpoints, tok, clock=clock)
    report = verify(RequestsTransport(), endpoints, tok, clock=clock)
    assert report.checks[0].outcome == "error" and "refresh" in report.checks[0].fix
    assert not report.ok


def test_emulator_api_fault_is_retried(make_emulator: MakeEmulator) -> None:
    running, clock, endpoints, tok = emulated(make_emulator, [AUTH + "calendar.readonly"])
    running.emulator.fail_next("/calendar/v3/users/me/calendarList", "503")
    assert verify(RequestsTransport(), endpoints, tok, clock=clock).ok
    assert sum(r.path.startswith("/calendar/") for r in running.emulator.requests) == 2
