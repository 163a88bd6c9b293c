"""The transport seam: retries only where safe, Retry-After honoured, errors without URLs or secrets."""

from __future__ import annotations

import socket

import pytest

from gapps_runbook import errors
from gapps_runbook.oauth.clock import FakeClock
from gapps_runbook.oauth.transport import (
    RequestsTransport,
    Response,
    RetryPolicy,
    oauth_json,
    parse_retry_after,
    send,
)

from fakes import FakeTransport


def test_retries_5xx_then_succeeds_with_backoff() -> None:
    clock = FakeClock()
    transport = FakeTransport(Response(503), Response(502), Response(200, body=b"{}"))
    response = send(transport, "POST", "https://x/token", retry=RetryPolicy(jitter=0), clock=clock)
    assert response.status == 200
    assert len(transport.calls) == 3
    assert clock.sleeps == [1.0, 2.0]


def test_retry_after_is_honoured_and_capped() -> None:
    clock = FakeClock()
    transport = FakeTransport(Response(429, {"retry-after": "7"}), Response(429, {"retry-after": "999"}), Response(200))
    send(transport, "GET", "https://x", retry=RetryPolicy(jitter=0, cap=30), clock=clock)
    assert clock.sleeps == [7.0, 30.0]


def test_no_retry_for_client_errors() -> None:
    transport = FakeTransport(Response(400, body=b'{"error": "invalid_grant"}'))
    response = send(transport, "POST", "https://x/token", retry=RetryPolicy(), clock=FakeClock())
    assert len(transport.calls) == 1
    with pytest.raises(errors.InvalidGrant):
        oauth_json(response, "https://x/token")


def test_connection_errors_retry_then_raise() -> None:
    clock = FakeClock()
    transport = FakeTransport(*[errors.TransportError("down")] * 3)
    with pytest.raises(errors.TransportError):
        send(transport, "POST", "https://x", retry=RetryPolicy(attempts=3, jitter=0), clock=clock)
    assert len(transport.calls) == 3 and len(clock.sleeps) == 2


def test_oauth_json_cases() -> None:
    assert oauth_json(Response(200, body=b'{"a": 1}'), "u") == {"a": 1}
    with pytest.raises(errors.ProtocolError):
        oauth_json(Response(200, body=b"<html>"), "u")
    with pytest.raises(errors.TransportError) as info:
        oauth_json(Response(503, body=b"<html>oops</html>"), "https://oauth2.example/token?x=1")
    assert "oauth2.example" in str(info.value) and "x=1" not in str(info.value)
    with pytest.raises(errors.SlowDown):
        oauth_json(Response(403, body=b'{"error": "slow_down", "error_description": "Forbidden"}'), "u")


def test_retry_after_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_requests_transport_connection_refused_names_host_only() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(errors.TransportError) as info:
        RequestsTransport()("POST", f"http://127.0.0.1:{port}/revoke?token=SECRETVALUE123", timeout=2)
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "SECRETVALUE123" not in str(info.value)


def test_fuzz_deeply_nested_json_body_is_a_protocol_error() -> None:
    """F1 fuzzer: json.loads raised RecursionError (not ValueError) on a body thousands of arrays deep."""
    with pytest.raises(errors.ProtocolError, match="not JSON"):
        Response(200, {}, b"[" * 5000 + b"]" * 5000).json()


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3599, 3599), ("3560", 3560), (" 5 ", 5), ("-5", -5), (-(10**400), -(10**400)), ("²", None), ("١٢", None),
     ("--5", None), ("9" * 4400, None), (2**31, None), (True, None), (1.5, None), (None, None), ("", None)],
)
def test_wire_int_reads_numbers_and_short_ascii_digit_strings(value: object, expected: int | None) -> None:
    from gapps_runbook.oauth.wire import wire_int

    assert wire_int(value) == expected
