"""C1 (docs/reliability.md): clock offsets and jumps never put an expired token on an API call.

The emulator keeps true time on a :class:`FakeClock`; the runbook's clock reads the same clock plus
an offset (-10 min ... +10 min), and the offset can jump mid-run (``jump``: an NTP correction or an
operator fixing the date), while the monotonic clock keeps running. Every few virtual minutes the run
calls ``runbook.verify`` (which refreshes first when ``fresh_token`` says the token is expired), for
three virtual hours. The emulator judges every Calendar/Gmail call: a WSGI middleware counts its
401 ``ACCESS_TOKEN_EXPIRED`` answers, which must stay at 0.

Two modes: one :class:`runbook.Site` for the whole run (a notebook kernel or a long-running server
app), and a new ``Site`` for every step (a CLI process per step: only the stored token carries over).
A control swaps ``Token.is_expired`` for the wall-clock-only rule the runbook had before, and the same
harness must count expired calls, so the check can fail.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from gapps_runbook import runbook
from gapps_runbook.oauth import tokens
from gapps_runbook.oauth.clock import FakeClock
from gapps_runbook.emulator import Emulator
from gapps_runbook.profile.store import ProfileStore

from fakes import WsgiTransport

CALENDAR = "https://www.googleapis.com/auth/calendar.readonly"
SCOPES = ("openid", "email", CALENDAR)
MINUTE = 60.0
SCALE = float(os.environ.get("GAPPS_SOAK_SCALE", "1"))


class OffsetClock:
    """The local clock: the true clock's wall time plus ``offset``; the same monotonic clock and sleep."""

    def __init__(self, true: FakeClock, offset: float) -> None:
        self.true, self.offset = true, offset

    def time(self) -> float:
        return self.true.time() + self.offset

    def monotonic(self) -> float:
        return self.true.monotonic()

    def sleep(self, seconds: float) -> None:
        self.true.sleep(seconds)

    def jump(self, seconds: float) -> None:
        """Move the local wall clock only."""
        self.offset += seconds


class ExpiredCounter:
    """WSGI middleware: counts the emulator's 401 ACCESS_TOKEN_EXPIRED answers and all API calls."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.expired = 0
        self.api_calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        status: list[str] = []

        def capture(code: str, headers: list[Any], *rest: Any) -> Any:
            status.append(code)
            return start_response(code, headers, *rest)

        body = b"".join(self.app(environ, capture))
        if environ["PATH_INFO"].startswith(("/calendar/", "/gmail/")):
            self.api_calls += 1
            if status[0].startswith("401") and b"ACCESS_TOKEN_EXPIRED" in body:
                self.expired += 1
        return [body]


def run_clock_case(tmp_path: Path, offset_min: float, jump_min: float | None, per_process: bool,
                   *, step_min: float = 5.0, hours: float = 3.0) -> dict[str, int]:
    """Authorize, then verify every ``step_min`` for ``hours``; the local clock jumps once, a third in."""
    true = FakeClock()
    local = OffsetClock(true, offset_min * MINUTE)
    emu = Emulator(clock=true, auto_approve=True, legacy_device_scopes=True)
    counter = ExpiredCounter(emu.wsgi_app)
    transport = WsgiTransport(counter)
    home = tmp_path / f"home{offset_min}_{jump_min}_{per_process}"

    def site() -> runbook.Site:
        return runbook.Site(ProfileStore(home).profile("c1"), transport, local, "http://localhost")

    first = site()
    device = emu.device_client
    runbook.save_client(first, client_id=device.client_id, client_secret=device.client_secret, client_type="device")
    runbook.authorize(first, SCOPES, flow="device", legacy_device_scopes=True)
    steps = int(hours * 60 / step_min)
    refreshes = 0
    for step in range(1, steps + 1):
        true.advance(step_min * MINUTE)
        if jump_min is not None and step == steps // 3:
            local.jump(jump_min * MINUTE)
        current = site() if per_process else first
        before = current.profile.load_token()
        result = runbook.verify(current)
        assert result.ok, [c.detail for c in result.checks]
        refreshes += current.profile.load_token().token_id != before.token_id  # type: ignore[union-attr]
    return {"expired": counter.expired, "api_calls": counter.api_calls, "refreshes": refreshes}


SMALL_CASES = [(offset, jump, per_process) for offset in (-10, 10) for jump in (None, -10)
               for per_process in (False, True)]


@pytest.mark.parametrize(("offset", "jump", "per_process"), SMALL_CASES)
def test_c1_no_api_call_with_an_expired_token(tmp_path: Path, offset: float, jump: float | None,
                                              per_process: bool) -> None:
    result = run_clock_case(tmp_path, offset, jump, per_process)
    assert result["expired"] == 0, result
    assert result["refreshes"] >= 2  # three hours of one-hour tokens: the run did cross expiries


@pytest.mark.parametrize("jump", [-10, -60, 60])
def test_c1_jumps_on_a_skewed_clock_in_one_process(tmp_path: Path, jump: float) -> None:
    assert run_clock_case(tmp_path, -10, jump, False)["expired"] == 0


def test_c1_harness_catches_the_wall_clock_only_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Control: with expiry judged by the wall clock alone, a clock set back 10 min sends expired tokens."""

    def wall_only(self: tokens.Token, now: float, leeway: float = 60.0, monotonic: float | None = None) -> bool:
        return now >= self.expires_at - leeway

    monkeypatch.setattr(tokens.Token, "is_expired", wall_only)
    with pytest.raises(AssertionError):  # verify reports the 401 as a failed check
        run_clock_case(tmp_path, 0, -10, False)


def test_c1_control_counts_the_expired_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Control, counted: the same run without the assertion on each report sees expired calls at the emulator."""

    def wall_only(self: tokens.Token, now: float, leeway: float = 60.0, monotonic: float | None = None) -> bool:
        return now >= self.expires_at - leeway

    monkeypatch.setattr(tokens.Token, "is_expired", wall_only)
    monkeypatch.setattr("gapps_runbook.oauth.verify.VerifyReport.ok", property(lambda self: True))
    assert run_clock_case(tmp_path, 0, -10, False)["expired"] > 0


def test_monotonic_expiry_survives_the_store_and_ignores_another_boot() -> None:
    clock = FakeClock()
    body = {"access_token": "ya29.c1-token", "expires_in": 3599, "token_type": "Bearer"}
    token = tokens.parse_token_response(body, now=clock.time(), monotonic=clock.monotonic())
    assert token.monotonic_expires_at == clock.monotonic() + 3599
    clock.advance(3000)
    clock.jump(-600)  # wall clock set back: the wall says 1199 s left, the monotonic clock 599 s
    assert token.expires_in(clock.time(), clock.monotonic()) == 599
    assert token.is_expired(clock.time(), leeway=600, monotonic=clock.monotonic())
    assert not token.is_expired(clock.time(), leeway=600)  # the wall clock alone is fooled
    # a monotonic reading below the receipt's means another boot: only the wall clock counts
    assert token.expires_in(clock.time(), monotonic=0.0) == 1199
    clock.jump(-3600)  # set back past the receipt: the wall-clock expiry is not to be trusted
    assert token.is_expired(clock.time())


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_c1_clock_matrix_full(tmp_path: Path, soak_report: Callable[[str], None]) -> None:
    started = time.perf_counter()
    offsets = range(-10, 11)
    jumps = (None, -10, -60, 60)
    totals = {"expired": 0, "api_calls": 0, "refreshes": 0}
    runs = 0
    for offset, jump, per_process in itertools.product(offsets, jumps, (False, True)):
        result = run_clock_case(tmp_path, offset, jump, per_process)
        runs += 1
        for key in totals:
            totals[key] += result[key]
    elapsed = time.perf_counter() - started
    soak_report(f"C1 clock skew: {totals['expired']} API calls with an expired token in {runs} runs / "
                    f"{totals['api_calls']} API calls ({totals['refreshes']} refreshes; offsets -10..+10 min, "
                    f"jumps -10 min/-1 h/+1 h, in-process and per-process; {elapsed:.1f} s) (target 0)")
    assert totals["expired"] == 0
