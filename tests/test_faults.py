"""N1 (docs/reliability.md): every injected fault x every request the runbook makes.

Faults come from the real emulator over loopback (``emu.fail_next``): 500, 502, 503, 504, 429 (with
``Retry-After: 1``), 408, ``timeout`` (the emulator sleeps ``timeout_seconds``; the client's
``RequestsTransport(timeout=...)`` is smaller), connection ``reset`` (RST, no answer) and ``malformed``
(HTTP 200 with an HTML page). Requests: the device code request, a token poll, refresh, revoke,
inspection (tokeninfo) and the Calendar call of verify. The emulator and the client share one
``FakeClock``, so backoff sleeps are recorded, not slept.

Rules held:

- refresh, revoke, inspection, verify: at most 3 attempts (counted as the client sends them: a
  request the client gave up on can reach a loaded emulator after the test has looked), sleeps per
  ``SAFE_RETRY`` (1 s, 2 s, +-10 %), never shorter than ``Retry-After``; a 200 that is not JSON is
  not retried (the server or a proxy did answer). After the budget: one line with ``Fix:``, no
  traceback, exit class NETWORK (6); revoke keeps the local token.
- token poll: back off (doubling from the interval) and continue; the token still arrives.
- device code request: exactly one attempt. Nothing has been shown yet, so a retry would be safe,
  but RFC 8628 §3.5 leaves re-issuing to the user; the error says to run the step
  again (exit 6).
- invalid_grant / invalid_client: exactly one request.
"""

from __future__ import annotations

import os
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from gapps_runbook import runbook
from gapps_runbook.commands.lab import wait_until
from gapps_runbook.oauth import revocation, tokens
from gapps_runbook.oauth.clients import ClientConfig
from gapps_runbook.oauth.clock import FakeClock
from gapps_runbook.oauth.device_flow import DevicePoller, request_device_code
from gapps_runbook.emulator import Emulator, RunningEmulator, serve
from gapps_runbook.oauth.endpoints import Endpoints, discover
from gapps_runbook.errors import ExitCode, InvalidClient, InvalidGrant, RunbookError, TransportError
from gapps_runbook.oauth.tokeninfo import inspect_token
from gapps_runbook.profile.store import ProfileStore
from gapps_runbook.oauth.tokens import Token
from gapps_runbook.oauth.transport import SAFE_RETRY, RequestsTransport, Response, RetryPolicy
from gapps_runbook.oauth.scope_catalog import SERVICES
from gapps_runbook.oauth.verify import verify

from fakes import client_id

FAULTS = ("500", "502", "503", "504", "429", "408", "timeout", "reset", "malformed")
CALENDAR = "https://www.googleapis.com/auth/calendar.readonly"
SCOPES = ["openid", "email", CALENDAR]
CLIENT_TIMEOUT = 0.25  # seconds: the client gives up on a "timeout" fault long before the emulator answers
SERVER_DELAY = 1.0
PATHS = {"refresh": "/token", "revoke": "/revoke", "inspect": "/tokeninfo",
         "verify": SERVICES["calendar"].probes[0].request_path, "poll": "/token", "device_code": "/device/code"}
SCALE = float(os.environ.get("GAPPS_SOAK_SCALE", "1"))


class Sending:
    """A :class:`RequestsTransport` that notes each request's path and clock time as it goes out."""

    def __init__(self, clock: FakeClock) -> None:
        self.inner = RequestsTransport(timeout=CLIENT_TIMEOUT)
        self.clock = clock
        self.sent: list[tuple[str, float]] = []

    def __call__(self, method: str, url: str, **kwargs: Any) -> Response:
        self.sent.append((urllib.parse.urlsplit(url).path, self.clock.monotonic()))
        return self.inner(method, url, **kwargs)


@dataclass
class Answered:
    """The emulator's WSGI app, counting per path the requests it has finished with (a late one included)."""

    app: Callable[..., Iterable[bytes]]
    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            return self.app(environ, start_response)
        finally:
            with self.lock:
                self.counts[environ.get("PATH_INFO", "")] += 1


@dataclass
class Rig:
    running: RunningEmulator
    clock: FakeClock
    transport: Sending
    endpoints: Endpoints
    client: ClientConfig
    answered: Answered

    @property
    def emu(self) -> Emulator:
        return self.running.emulator

    def count(self, path: str) -> int:
        """Requests to ``path`` the client has sent."""
        return sum(sent == path for sent, _ in self.transport.sent)

    def wait_answered(self, path: str, seconds: float = 60.0) -> None:
        """Wait until the emulator has finished every request the client sent to ``path``."""
        assert wait_until(lambda: self.answered.counts[path] >= self.count(path), seconds, poll=0.02), \
            f"the emulator still holds a request to {path}"

    def token(self) -> Token:
        grant = request_device_code(self.transport, self.endpoints, self.client, SCOPES, clock=self.clock)
        return DevicePoller(self.transport, self.endpoints, self.client, grant, clock=self.clock).wait()


@pytest.fixture
def rig_factory() -> Iterator[Callable[..., Rig]]:
    """Rigs on loopback emulators (legacy device scopes, so a device token carries Calendar)."""
    stack: list[Any] = []

    def make(auto_approve: bool = True) -> Rig:
        clock = FakeClock()
        emu = Emulator(clock=clock, auto_approve=auto_approve, legacy_device_scopes=True)
        emu.timeout_seconds = SERVER_DELAY
        answered = emu.wsgi_app = Answered(emu.wsgi_app)
        context = serve(emu)
        running = context.__enter__()
        stack.append(context)
        transport = Sending(clock)
        device = emu.device_client
        return Rig(running, clock, transport, discover(transport, running.base_url),
                   ClientConfig(device.client_id, device.client_secret, "device"), answered)

    yield make
    for context in reversed(stack):
        context.__exit__(None, None, None)


def one_line(exc: BaseException, *secrets: str | None) -> str:
    text = str(exc)
    assert "Fix:" in text and "\n" not in text and "Traceback" not in text, text
    for secret in secrets:
        assert not secret or secret not in text
    return text


def call(rig: Rig, what: str, token: Token, retry: RetryPolicy = SAFE_RETRY) -> Any:
    """Make the request ``what`` once, the way its runbook step does; an error report raises."""
    if what == "refresh":
        return tokens.refresh(rig.transport, rig.endpoints, rig.client, token, clock=rig.clock, retry=retry)
    if what == "revoke":
        return revocation.revoke(rig.transport, rig.endpoints, token, clock=rig.clock, retry=retry)
    if what == "inspect":
        return inspect_token(rig.transport, rig.endpoints, token, clock=rig.clock, retry=retry)
    report = verify(rig.transport, rig.endpoints, token, clock=rig.clock, retry=retry)
    bad = [c for c in report.checks if not c.ok]
    if bad:
        assert all(c.network for c in bad), bad
        raise TransportError(bad[0].detail, fix=bad[0].fix)  # what runbook.verify raises (exit 6)
    return report


def check_sleeps(sleeps: list[float], fault: str, retry: RetryPolicy = SAFE_RETRY) -> None:
    """Each sleep is the policy's backoff for that attempt (+-jitter), never under Retry-After."""
    for attempt, slept in enumerate(sleeps, 1):
        base = retry.initial * retry.factor ** (attempt - 1)
        low, high = base * (1 - retry.jitter), base * (1 + retry.jitter)
        if fault == "429":
            low = max(low, 1.0)  # the emulator's Retry-After: 1
            high = max(high, 1.0)
        assert low - 1e-9 <= slept <= min(high, retry.cap) + 1e-9, (attempt, slept)


RETRYING = ("refresh", "revoke", "inspect", "verify")


def run_retrying_case(rig: Rig, what: str, fault: str, faults: int) -> dict[str, Any]:
    """Queue ``faults`` faults on the request's path, make the request, check the rules; a summary."""
    token = rig.token()
    path = PATHS[what]
    before, slept_before = rig.count(path), len(rig.clock.sleeps)
    rig.emu.fail_next(path, fault, faults)
    error: RunbookError | None = None
    try:
        call(rig, what, token)
    except RunbookError as exc:
        error = exc
    attempts = rig.count(path) - before
    sleeps = rig.clock.sleeps[slept_before:]
    expected_attempts = 1 if fault == "malformed" else min(faults + 1, SAFE_RETRY.attempts)
    assert attempts == expected_attempts, (what, fault, faults, attempts)
    assert len(sleeps) == attempts - 1
    check_sleeps(sleeps, fault)
    gives_up = fault == "malformed" or faults >= SAFE_RETRY.attempts
    if gives_up:
        assert error is not None, (what, fault)
        one_line(error, token.access_token, token.refresh_token)
        assert error.exit_code == ExitCode.NETWORK, (what, fault, type(error), str(error))
        if what == "revoke":
            assert "kept" in error.fix and "retry" in error.fix
    else:
        assert error is None, (what, fault, str(error))
    return {"attempts": attempts, "gave_up": gives_up}


def run_poll_case(rig: Rig, fault: str, faults: int) -> None:
    """Faults on the first ``faults`` polls: the poller backs off (doubling) and still gets the token."""
    grant = request_device_code(rig.transport, rig.endpoints, rig.client, ["openid"], clock=rig.clock)
    rig.emu.fail_next("/token", fault, faults)
    seen = {"network": 0}

    def on_status(text: str) -> None:
        if text.startswith("network trouble"):
            seen["network"] += 1
            if seen["network"] == faults:
                rig.wait_answered("/token")  # a timed-out poll answered after Allow would take the token
                rig.emu.approve(grant.user_code)

    before = len(rig.transport.sent)
    token = DevicePoller(rig.transport, rig.endpoints, rig.client, grant, clock=rig.clock).wait(on_status=on_status)
    assert token.access_token
    polls = [at - grant.issued_at for path, at in rig.transport.sent[before:] if path == "/token"]
    expected, at = [], 5.0
    for failure in range(1, faults + 1):
        expected.append(at)
        at += min(5.0 * 2**failure, 60.0)
    assert polls == pytest.approx([*expected, at]), (fault, polls)


def run_device_code_case(rig: Rig, fault: str) -> None:
    """One attempt, then a one-line network error; nothing shown, nothing retried."""
    rig.emu.fail_next("/device/code", fault, 3)
    with pytest.raises(RunbookError) as info:
        request_device_code(rig.transport, rig.endpoints, rig.client, ["openid"], clock=rig.clock)
    assert rig.count("/device/code") == 1 and not rig.clock.sleeps
    one_line(info.value)
    assert info.value.exit_code == ExitCode.NETWORK


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("what", RETRYING)
@pytest.mark.parametrize("faults", [2, 3], ids=["recovers", "gives_up"])
def test_n1_retrying_requests(rig_factory: Callable[..., Rig], what: str, fault: str, faults: int) -> None:
    run_retrying_case(rig_factory(), what, fault, faults)


@pytest.mark.parametrize("fault", FAULTS)
def test_n1_token_poll_backs_off_and_continues(rig_factory: Callable[..., Rig], fault: str) -> None:
    run_poll_case(rig_factory(auto_approve=False), fault, 2)


@pytest.mark.parametrize("fault", FAULTS)
def test_n1_device_code_request_is_one_attempt(rig_factory: Callable[..., Rig], fault: str) -> None:
    run_device_code_case(rig_factory(), fault)


@pytest.mark.parametrize("what", RETRYING)
def test_n1_retry_after_is_honoured(rig_factory: Callable[..., Rig], what: str) -> None:
    """With a 0.25 s policy, the emulator's ``Retry-After: 1`` sets each wait to 1 s."""
    rig = rig_factory()
    token = rig.token()
    rig.emu.fail_next(PATHS[what], "429", 2)
    before = len(rig.clock.sleeps)
    call(rig, what, token, retry=RetryPolicy(initial=0.25, jitter=0.0))
    assert rig.clock.sleeps[before:] == [1.0, 1.0]


def test_n1_poll_honours_a_long_retry_after(rig_factory: Callable[..., Rig]) -> None:
    """A 429 poll whose Retry-After (45 s) exceeds the doubled interval waits 45 s."""
    rig = rig_factory()

    class LongRetryAfter:
        def __call__(self, method: str, url: str, **kwargs: Any) -> Response:
            reply = rig.transport(method, url, **kwargs)
            if reply.status == 429:
                reply = Response(reply.status, {**reply.headers, "retry-after": "45"}, reply.body)
            return reply

    transport = LongRetryAfter()
    grant = request_device_code(transport, rig.endpoints, rig.client, ["openid"], clock=rig.clock)
    rig.emu.fail_next("/token", "429")
    before = len(rig.transport.sent)
    assert DevicePoller(transport, rig.endpoints, rig.client, grant, clock=rig.clock).wait().access_token
    polls = [at - grant.issued_at for _, at in rig.transport.sent[before:]]
    assert polls == pytest.approx([5.0, 50.0])


# --- exactly one attempt for invalid_grant / invalid_client ---------------------------------------------


def test_invalid_grant_on_refresh_is_one_request(rig_factory: Callable[..., Rig]) -> None:
    rig = rig_factory()
    token = rig.token()
    revocation.revoke(rig.transport, rig.endpoints, token, clock=rig.clock)
    before = rig.count("/token")
    with pytest.raises(InvalidGrant) as info:
        tokens.refresh(rig.transport, rig.endpoints, rig.client, token, clock=rig.clock)
    assert rig.count("/token") - before == 1
    one_line(info.value, token.refresh_token)
    assert info.value.exit_code == ExitCode.REAUTHORIZE


def test_invalid_client_is_one_request_on_refresh_poll_and_device_code(rig_factory: Callable[..., Rig]) -> None:
    rig = rig_factory(auto_approve=False)
    grant = request_device_code(rig.transport, rig.endpoints, rig.client, ["openid"], clock=rig.clock)
    wrong = ClientConfig(rig.client.client_id, "GOCSPX-" + "w" * 28, "device")
    before = rig.count("/token")
    with pytest.raises(InvalidClient) as info:
        DevicePoller(rig.transport, rig.endpoints, wrong, grant, clock=rig.clock).wait()
    assert rig.count("/token") - before == 1
    assert info.value.exit_code == ExitCode.MISCONFIGURED and "w" * 28 not in one_line(info.value)
    rig.emu.approve(grant.user_code)
    token = DevicePoller(rig.transport, rig.endpoints, rig.client, grant, clock=rig.clock).wait()
    before = rig.count("/token")
    with pytest.raises(InvalidClient):
        tokens.refresh(rig.transport, rig.endpoints, wrong, token, clock=rig.clock)
    assert rig.count("/token") - before == 1
    unknown = ClientConfig(client_id("u" * 32), "GOCSPX-" + "u" * 28, "device")
    with pytest.raises(InvalidClient):
        request_device_code(rig.transport, rig.endpoints, unknown, ["openid"], clock=rig.clock)
    assert rig.count("/device/code") == 2


# --- the runbook steps: exit class and message at the end --------------------------------------------------


@pytest.mark.parametrize("fault", ["503", "reset", "timeout", "malformed", "429"])
def test_runbook_steps_end_in_one_network_line(rig_factory: Callable[..., Rig], tmp_path: Any, fault: str) -> None:
    rig = rig_factory()
    profile = ProfileStore(tmp_path).profile("n1")
    site = runbook.Site(profile, rig.transport, rig.clock, rig.running.base_url)
    runbook.save_client(site, client_id=rig.client.client_id, client_secret=rig.client.client_secret,
                        client_type="device")
    runbook.authorize(site, ("openid", "email", CALENDAR), flow="device", legacy_device_scopes=True)
    for step, path in (("refresh", "/token"), ("verify", PATHS["verify"]), ("revoke", "/revoke")):
        rig.emu.fail_next(path, fault, 1 if fault == "malformed" else 3)  # malformed is not retried
        with pytest.raises(RunbookError) as info:
            getattr(runbook, step)(site)
        assert info.value.exit_code == ExitCode.NETWORK, (step, str(info.value))
        one_line(info.value)
        assert profile.load_token() is not None  # nothing lost: revoke kept the token, refresh kept the old one


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_n1_fault_matrix_full(rig_factory: Callable[..., Rig], soak_report: Callable[[str], None]) -> None:
    started = time.perf_counter()
    cases = max_attempts = gave_up = polls = device = 0
    for faults in (1, 2, 3, 4):  # the full run: 1..4 consecutive faults per request
        for what in RETRYING:
            for fault in FAULTS:
                result = run_retrying_case(rig_factory(), what, fault, faults)
                cases += 1
                max_attempts = max(max_attempts, result["attempts"])
                gave_up += result["gave_up"]
        for fault in FAULTS:
            run_poll_case(rig_factory(auto_approve=False), fault, faults)
            polls += 1
    for fault in FAULTS:
        run_device_code_case(rig_factory(), fault)
        device += 1
    elapsed = time.perf_counter() - started
    line = (f"N1 network faults: max {max_attempts} attempts in {cases} retrying cases ({gave_up} gave up, each one "
            f"line with Fix: and exit 6), {polls} poll cases all recovered by backoff, {device} device-code cases "
            f"with 1 attempt; {elapsed:.1f} s (target <= 3 attempts, exit 6, 1 attempt for device code)")
    soak_report(line)
    assert max_attempts <= 3
