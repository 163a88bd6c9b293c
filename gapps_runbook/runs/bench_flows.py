"""Benchmark figures B3 and B6 of ``make bench`` (issue 9): the device flow's latency, the emulator under load.

* B3, :func:`approval_latency`: ``runbook.authorize`` with the device flow against an in-process
  emulator; the approval is given just after the first ``/token`` poll (the worst moment: the
  poller then waits a whole interval). Measured: approval to token saved, and polls sooner than
  the interval after the previous one (from the emulator's request log).
* B6, :func:`load`: the emulator served in a child process (``python -m gapps_runbook.runs.bench_flows``,
  in memory, on 127.0.0.1); N clients (coroutines of one asyncio loop, one kept-alive connection
  each) each ask ``/device/code`` and then poll ``/token`` every second for a bounded time. Measured: latency of
  every request (p50, p99, max), errors (no answer, or a 5xx), and the child's RSS at start and its peak.
"""

from __future__ import annotations

import gc
import itertools
import json
import statistics
import subprocess
import sys
import threading  # B3's approver
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JITTER = 0.05  # seconds: the poller times polls when it sends them; the emulator logs them when they arrive


@dataclass(frozen=True)
class Approval:
    """B3's result.

    Attributes:
        interval: The poll interval the emulator gave (seconds).
        latency: Seconds from the approval to ``authorize`` returning with the token saved.
        early_polls: ``/token`` polls received sooner than ``interval`` minus :data:`JITTER` after the previous one.
        polls: ``/token`` polls in all.
        min_gap: The shortest time between two polls as the emulator received them (seconds).
    """

    interval: float
    latency: float
    early_polls: int
    polls: int
    min_gap: float


def approval_latency(home: Path) -> Approval:
    """B3: one device flow, approved right after its first poll; see the module docstring.

    Args:
        home: An empty profile home (the profile ``bench-device`` is created in it).

    Returns:
        The measured :class:`Approval`.
    """
    from .. import runbook
    from ..emulator import Emulator, serve
    from ..oauth.transport import RequestsTransport
    from ..profile.store import ProfileStore

    with serve(Emulator()) as running:
        emu = running.emulator
        site = runbook.Site(ProfileStore(home).profile("bench-device"), RequestsTransport(), issuer=running.base_url)
        runbook.save_client(site, client_id=emu.device_client.client_id,
                            client_secret=emu.device_client.client_secret, client_type="device")
        codes: list[str] = []
        approved_at: list[float] = []

        def approve_after_first_poll() -> None:
            """Watch the request log; approve as soon as the first ``/token`` poll is in it."""
            while not (codes and any(r.path == "/token" for r in emu.requests)):
                time.sleep(0.005)
            emu.approve(codes[0])
            approved_at.append(time.monotonic())

        approver = threading.Thread(target=approve_after_first_poll, daemon=True)
        approver.start()
        result = runbook.authorize(site, ("openid", "email"), flow="device",
                                   on_device_code=lambda grant: codes.append(grant.user_code), timeout=120)
        saved = time.monotonic()
        approver.join(timeout=10)
        assert site.profile.load_token() is not None, result
        polls = [r.time for r in emu.requests if r.path == "/token"]
    interval = float(facts_interval())
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    early = sum(1 for gap in gaps if gap < interval - JITTER)
    return Approval(interval, saved - approved_at[0], early, len(polls), min(gaps, default=interval))


def facts_interval() -> int:
    """The emulator's device-flow poll interval (Google's 5 s)."""
    from ..emulator import facts

    return facts.DEVICE_INTERVAL


@dataclass(frozen=True)
class Load:
    """B6's result.

    Attributes:
        clients: Concurrent device flows.
        requests: Requests answered or failed.
        errors: Requests with no answer or a 5xx.
        p50: Median latency (seconds).
        p99: 99th percentile latency (seconds).
        worst: Highest latency (seconds).
        rss_start_mb: The emulator process's RSS once ready (MB).
        rss_peak_mb: Its peak RSS (MB).
    """

    clients: int
    requests: int
    errors: int
    p50: float
    p99: float
    worst: float
    rss_start_mb: float
    rss_peak_mb: float


def load(clients: int = 200, seconds: float = 20.0, *, spread: float = 0.0) -> Load:
    """B6: ``clients`` device flows, each asking a code and then polling every second for ``seconds``.

    The clients are coroutines of one asyncio loop, each on its own kept-alive connection (as a real
    client's session keeps one), sending raw HTTP/1.1: the load generator's own cost per request stays a
    few microseconds, so the latencies are the emulator's, not those of 200 client threads competing for
    the same two cores (as ``wrk`` or ``hey`` would measure it).

    Args:
        clients: How many flows run at once.
        seconds: How long each one polls.
        spread: Flow ``i`` starts ``i / clients * spread`` seconds after the first (0: all at the same
            instant, so every second brings a burst of ``clients`` polls; 1: spread as flows that began
            independently are).

    Returns:
        The measured :class:`Load`.
    """
    import asyncio

    child = subprocess.Popen([sys.executable, "-m", "gapps_runbook.runs.bench_flows"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdin is not None
        ready = json.loads(child.stdout.readline())
        latencies: list[float] = []
        errors: list[str] = []

        async def all_flows() -> None:
            await asyncio.gather(*(_one_flow(ready, i / clients * spread, seconds, latencies, errors)
                                   for i in range(clients)))

        # The bench process's earlier figures left a big heap: its collections are not the emulator's latency.
        gc.freeze()
        try:
            asyncio.run(all_flows())
        finally:
            gc.unfreeze()
        child.stdin.close()  # the child prints its peak RSS and exits
        peak = json.loads(child.stdout.readline())["rss_peak_kb"]
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    ordered = sorted(latencies) or [0.0]
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return Load(clients, len(latencies) + len(errors), len(errors), statistics.median(ordered), p99,
                ordered[-1], ready["rss_kb"] / 1024, peak / 1024)


async def _one_flow(ready: dict[str, Any], delay: float, seconds: float, latencies: list[float],
                    errors: list[str]) -> None:
    """One client: ``/device/code``, then a ``/token`` poll every second, on one kept-alive connection."""
    import asyncio
    import urllib.parse

    await asyncio.sleep(delay)  # its place in the spread
    url = urllib.parse.urlsplit(ready["base_url"])
    client = {"client_id": ready["client_id"], "client_secret": ready["client_secret"]}
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(url.hostname, url.port), 30)
    except (OSError, asyncio.TimeoutError) as exc:
        errors.append(type(exc).__name__)
        return
    try:
        answer = await _post(reader, writer, _request(url.netloc, "/device/code", {**client, "scope": "openid email"}),
                             latencies, errors)
        device_code = (answer or {}).get("device_code")
        if not device_code:
            return
        poll = _request(url.netloc, "/token", {**client, "device_code": device_code, "grant_type": DEVICE_GRANT})
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            sent = time.monotonic()
            if await _post(reader, writer, poll, latencies, errors) is None:
                return
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - sent)))
    finally:
        writer.close()


def _request(host: str, path: str, form: dict[str, str]) -> bytes:
    """The bytes of a form POST (built once per flow and path: a poll repeats the same request)."""
    import urllib.parse

    body = urllib.parse.urlencode(form).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {FORM['Content-Type']}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    return head + body


async def _post(reader: Any, writer: Any, request: bytes, latencies: list[float],
                errors: list[str]) -> dict[str, Any] | None:
    """Send ``request`` on the kept-alive connection; append the latency (answered) or the error (none, or a 5xx)."""
    import asyncio

    sent = time.monotonic()
    try:
        writer.write(request)
        status_and_headers = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        length = next((int(line.split(b":", 1)[1]) for line in status_and_headers.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), None)
        if length is None:  # the emulator answers every request with a Content-Length (keep-alive)
            errors.append("no Content-Length")
            return None
        answer = await asyncio.wait_for(reader.readexactly(length), 30)
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        errors.append(type(exc).__name__)
        return None
    status = int(status_and_headers.split(b" ", 2)[1])
    if status >= 500:
        errors.append(str(status))
        return None
    latencies.append(time.monotonic() - sent)
    return json.loads(answer) if answer.startswith(b"{") else None


def _serve_child() -> None:
    """The child of :func:`load`: serve an in-memory emulator until stdin closes; print JSON lines."""
    from ..emulator import Emulator, serve

    with serve(Emulator()) as running:
        client = running.emulator.device_client
        print(json.dumps({"base_url": running.base_url, "client_id": client.client_id,
                          "client_secret": client.client_secret, "rss_kb": _rss_kb()}), flush=True)
        sys.stdin.read()
    print(json.dumps({"rss_peak_kb": _rss_kb("VmHWM:")}), flush=True)


def _rss_kb(field: str = "VmRSS:") -> int:
    """This process's resident set size now (``VmRSS``) or its peak (``VmHWM``), in KB (Linux ``/proc/self/status``).

    Not ``getrusage``'s ``ru_maxrss``: Linux keeps it across ``execve``, so a child started by the (bigger)
    bench process would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


if __name__ == "__main__":
    _serve_child()
