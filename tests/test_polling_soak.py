"""P1 (docs/reliability.md): RFC 8628 §3.5 polling rules over many scripted device sessions.

Each session runs the real :class:`DevicePoller` against the real emulator code on one shared
:class:`FakeClock` (the emulator's and the poller's), through :class:`WsgiTransport`, which calls the
emulator's WSGI app with werkzeug's test client: the same request parsing, routing, faults and
device-grant rules as over loopback, without sockets, so 500 sessions take seconds. A session's
script mixes ``authorization_pending``, ``slow_down`` (``Scenario``), and faults queued with
``emu.fail_next("/token", ...)`` just before a poll (5xx, 408, 429 with ``Retry-After``, connection
reset), then ends approved, denied, expired (scripted ``expired_token``, or the code's 1800 s
lifetime running out) or with ``invalid_client`` (the secret rotated mid-session).

The check is made on the emulator's request log (times on the shared clock), against the rules:
no poll earlier than the interval in force; each ``slow_down`` adds 5 s for all later polls; after
network trouble the next poll waits the interval doubled per consecutive failure, capped at 60 s,
and never less than ``Retry-After``; after a terminal answer, no request at all. The emulator also
judges the pace itself: any ``slow_down`` beyond the scripted ones means a poll came too early.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from gapps_runbook.oauth.clients import ClientConfig
from gapps_runbook.oauth.clock import FakeClock
from gapps_runbook.oauth.device_flow import DevicePoller, request_device_code
from gapps_runbook.emulator import Emulator, Scenario
from gapps_runbook.oauth.endpoints import discover
from gapps_runbook.errors import AccessDenied, ExpiredToken, FlowTimeout, InvalidClient, RunbookError, TransportError
from gapps_runbook.oauth.transport import Response

from fakes import WsgiTransport

SCALE = float(os.environ.get("GAPPS_SOAK_SCALE", "1"))
SEED = 20251128
CAP = 60.0
SMALL, FULL = 50, max(1, round(500 * SCALE))
POLL_FAULTS = ("500", "502", "503", "504", "429", "408", "reset")


@dataclass
class Plan:
    """One session's script: what the user does, and which polls meet a fault first."""

    ending: str  # approve | deny | expire | lifetime | invalid_client
    pending: int
    slow_downs: int
    faults: dict[int, str]  # /token request number (0-based) -> fault queued just before it
    rotate_at: int | None = None  # /token request number before which the client secret is rotated


@dataclass
class Totals:
    sessions: int = 0
    polls: int = 0
    early: int = 0
    off_schedule: int = 0
    unscripted_slow_downs: int = 0
    slow_downs: int = 0
    backoffs: int = 0
    longest_backoff: float = 0.0
    terminal: int = 0
    after_terminal: int = 0
    wrong_outcome: int = 0
    endings: dict[str, int] = field(default_factory=dict)


def make_plan(rng: random.Random) -> Plan:
    ending = rng.choices(["approve", "deny", "expire", "lifetime", "invalid_client"], [45, 20, 15, 5, 15])[0]
    slow = rng.choice([0, 0, 1, 2, 3]) if ending != "lifetime" else rng.choice([3, 4])
    pending = rng.randint(0, 6)
    horizon = slow + pending + 12
    faults: dict[int, str] = {}
    for number in range(horizon):
        if rng.random() < 0.25:
            faults[number] = rng.choice(POLL_FAULTS)
    rotate = rng.randint(0, horizon // 2) if ending == "invalid_client" else None
    return Plan(ending, pending, slow, faults, rotate)


def scenario_for(plan: Plan) -> Scenario:
    if plan.ending == "approve":
        return Scenario(approve_after=plan.pending, slow_down=plan.slow_downs)
    if plan.ending == "deny":
        return Scenario(approve_after=plan.pending, deny=True, slow_down=plan.slow_downs)
    if plan.ending == "expire":
        return Scenario(expire=True)
    return Scenario(slow_down=plan.slow_downs)  # lifetime / invalid_client: nobody decides


class Injector:
    """Queues the plan's fault (or rotates the secret) just before the n-th /token request of a session."""

    def __init__(self, inner: WsgiTransport, emu: Emulator) -> None:
        self.inner, self.emu = inner, emu
        self.plan: Plan | None = None
        self.token_requests = 0

    def __call__(self, method: str, url: str, **kwargs: Any) -> Response:
        if url.endswith("/token") and self.plan is not None:
            number, self.token_requests = self.token_requests, self.token_requests + 1
            fault = self.plan.faults.get(number)
            if fault is not None:
                self.emu.fail_next("/token", fault)
            if self.plan.rotate_at == number:
                client = self.emu.device_client
                self.emu.register_client(client.client_id, "GOCSPX-" + "r" * 28, "device")
        return self.inner(method, url, **kwargs)


def kind_of(response: Response | None) -> str:
    """What the poller must do after this answer: pending, slow_down, backoff, ok or stop."""
    if response is None:
        return "backoff"
    try:
        body = json.loads(response.body)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return "backoff" if response.status in (408, 429, 500, 502, 503, 504) or response.status < 300 else "stop"
    code = body.get("error") or body.get("error_code")
    if response.status < 300 and code is None:
        return "ok"
    return {"authorization_pending": "pending", "slow_down": "slow_down", "internal_failure": "backoff",
            "temporarily_unavailable": "backoff", "rate_limit_exceeded": "backoff"}.get(code, "stop")


class Recorder:
    """Keeps each /token answer (None: no answer) so the check knows what the poller was told."""

    def __init__(self, inner: Injector) -> None:
        self.inner = inner
        self.answers: list[Response | None] = []

    def __call__(self, method: str, url: str, **kwargs: Any) -> Response:
        is_poll = url.endswith("/token")
        try:
            response = self.inner(method, url, **kwargs)
        except TransportError:
            if is_poll:
                self.answers.append(None)
            raise
        if is_poll:
            self.answers.append(response)
        return response


EXPECTED = {"approve": None, "deny": AccessDenied, "expire": ExpiredToken, "lifetime": FlowTimeout,
            "invalid_client": InvalidClient}


def run_sessions(count: int, seed: int) -> Totals:
    """Run ``count`` scripted sessions on one emulator and one clock; tally every rule."""
    rng = random.Random(seed)
    clock = FakeClock()
    emu = Emulator(clock=clock)
    emu.timeout_seconds = 0.0
    injector = Injector(WsgiTransport(emu.wsgi_app), emu)
    transport = Recorder(injector)
    endpoints = discover(transport, "http://localhost")
    original = emu.device_client
    totals = Totals()
    for _ in range(count):
        emu.register_client(original.client_id, original.client_secret, "device")
        client = ClientConfig(original.client_id, original.client_secret, "device")
        plan = make_plan(rng)
        emu.script(client.client_id, scenario_for(plan))
        injector.plan, injector.token_requests = None, 0
        grant = request_device_code(transport, endpoints, client, ["openid", "email"], clock=clock)
        start, transport.answers = len(emu.requests), []
        injector.plan = plan
        poller = DevicePoller(transport, endpoints, client, grant, clock=clock, max_backoff=CAP)
        try:
            outcome: type | None = None
            poller.wait()
        except RunbookError as exc:
            outcome = type(exc)
        injector.plan = None
        expected = EXPECTED[plan.ending]
        if plan.ending == "expire" and outcome is None:
            outcome = "approved"  # type: ignore[assignment]
        if outcome is not expected:
            totals.wrong_outcome += 1
        check_session(totals, grant.issued_at, grant.interval, emu.requests[start:], transport.answers, plan)
    return totals


def check_session(totals: Totals, issued: float, interval: float, log: list[Any], answers: list[Response | None],
                  plan: Plan) -> None:
    """Hold one session's emulator log against RFC 8628 §3.5 and the answers the poller saw."""
    totals.sessions += 1
    totals.endings[plan.ending] = totals.endings.get(plan.ending, 0) + 1
    polls = [r.time for r in log if r.path == "/token"]
    assert len(polls) == len(answers) == len(log), "every request of a session is a poll"
    totals.polls += len(polls)
    kinds = [kind_of(a) for a in answers]
    totals.unscripted_slow_downs += max(0, kinds.count("slow_down") - plan.slow_downs)
    due, previous, failures, current = interval, issued, 0, float(interval)
    for at, kind in zip(polls, kinds, strict=True):
        gap = at - previous
        if gap < due - 1e-9:
            totals.early += 1
        if abs(gap - due) > 1e-6:
            totals.off_schedule += 1
        previous = at
        if kind in ("ok", "stop"):
            totals.terminal += kind == "stop"
            break
        if kind == "slow_down":
            current += 5
            totals.slow_downs += 1
        if kind in ("pending", "slow_down"):
            failures, due = 0, current
        else:
            failures += 1
            due = max(current, min(current * 2**failures, CAP))
            totals.backoffs += 1
            totals.longest_backoff = max(totals.longest_backoff, due)
    last = kinds.index("stop") if "stop" in kinds else None
    if last is not None:
        totals.after_terminal += len(polls) - last - 1


def assert_rules(totals: Totals, count: int) -> None:
    assert totals.sessions == count
    assert totals.early == 0, f"{totals.early} polls earlier than the interval in force"
    assert totals.off_schedule == 0, f"{totals.off_schedule} polls off the RFC 8628 schedule"
    assert totals.unscripted_slow_downs == 0, "the emulator caught a poll that came too fast"
    assert totals.after_terminal == 0, f"{totals.after_terminal} requests after a terminal error"
    assert totals.wrong_outcome == 0
    assert totals.slow_downs and totals.backoffs and totals.terminal  # the scripts exercised every rule


@pytest.mark.parametrize("count", [
    pytest.param(SMALL, id="small"),
    pytest.param(FULL, id="full", marks=[pytest.mark.soak, pytest.mark.timeout(900)]),
])
def test_p1_polling_rules_over_scripted_sessions(count: int, soak_report: Callable[[str], None]) -> None:
    started = time.perf_counter()
    totals = run_sessions(count, SEED)
    elapsed = time.perf_counter() - started
    assert_rules(totals, count)
    endings = ", ".join(f"{k} {v}" for k, v in sorted(totals.endings.items()))
    soak_report(f"P1 polling: {totals.early} early polls in {totals.sessions} sessions / {totals.polls} polls "
                    f"({totals.slow_downs} slow_down, {totals.backoffs} backoffs up to {totals.longest_backoff:g} s, "
                    f"{totals.terminal} terminal stops with {totals.after_terminal} requests after; {endings}; "
                    f"{elapsed:.1f} s) (target 0 early, 0 after terminal, 500 sessions)")


def test_p1_harness_catches_a_poller_that_ignores_slow_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Control: a poller that forgets the +5 s must be caught, so the check above can fail."""
    monkeypatch.setattr("gapps_runbook.oauth.device_poller.SLOW_DOWN_STEP", 0)
    totals = run_sessions(10, SEED)
    assert totals.early > 0 and totals.unscripted_slow_downs > 0


def test_p1_harness_catches_a_poller_that_does_not_back_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Control: a poller that retries network trouble at the plain interval must be caught."""
    from gapps_runbook.oauth import device_poller

    original = device_poller.classify
    monkeypatch.setattr(device_poller, "classify", lambda exc: "pending" if original(exc) == "backoff" else original(exc))
    totals = run_sessions(30, SEED)
    assert totals.off_schedule > 0
