"""Benchmark figures B3 and B6 of ``make bench``: the device flow's latency, the emulator at scale.

* B3, :func:`approval_latency`: ``runbook.authorize`` with the device flow against an in-process
  emulator; the approval is given just after the first ``/token`` poll (the worst moment: the
  poller then waits a whole interval). Measured: approval to token saved, and polls sooner than
  the interval after the previous one (from the emulator's request log).
* B6, :func:`load`: the emulator served in a child process (``python -m tools.bench_flows``, in
  memory, on 127.0.0.1); 1 000 device flows started over one poll interval and 200 more started at
  one instant (coroutines of one asyncio loop, one kept-alive connection each) ask ``/device/code``
  and then poll ``/token`` every 5 s a bounded number of times. Measured per group: the latency of
  every request (p50, p99, max) and errors (no answer, or a 5xx); for the child: CPU time per
  request, RSS at start and its peak.
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
    from gapps_runbook import runbook
    from gapps_runbook.emulator import Emulator, serve
    from gapps_runbook.oauth.transport import RequestsTransport
    from gapps_runbook.profile.store import ProfileStore

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
    from gapps_runbook.emulator import facts

    return facts.DEVICE_INTERVAL


@dataclass(frozen=True)
class Group:
    """The latencies of one group of B6's flows.

    Attributes:
        flows: Device flows in the group.
        requests: Requests answered or failed.
        errors: Requests with no answer or a 5xx.
        p50: Median latency (seconds).
        p99: 99th percentile latency (seconds).
        worst: Highest latency (seconds).
    """

    flows: int
    requests: int
    errors: int
    p50: float
    p99: float
    worst: float


@dataclass(frozen=True)
class Load:
    """B6's result: the spread flows and the flows started together, measured in the same run.

    Attributes:
        spread: The flows whose starts are spread over one poll interval.
        together: The flows started at the same instant.
        seconds: Wall time of the whole run.
        cpu_ms: The emulator process's CPU time per request, ready to last answer (milliseconds).
        rss_start_mb: The emulator process's RSS once ready (MB).
        rss_peak_mb: Its peak RSS (MB).
    """

    spread: Group
    together: Group
    seconds: float
    cpu_ms: float
    rss_start_mb: float
    rss_peak_mb: float


@dataclass
class _Tally:
    latencies: list[float]
    errors: list[str]

    def group(self, flows: int) -> Group:
        ordered = sorted(self.latencies) or [0.0]
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        return Group(flows, len(self.latencies) + len(self.errors), len(self.errors), statistics.median(ordered),
                     p99, ordered[-1])


CHILD = (sys.executable, "-m", "tools.bench_flows")


def load(spread: int = 1000, together: int = 200, *, interval: float = 5.0, polls: int = 4,
         child: tuple[str, ...] = CHILD) -> Load:
    """B6: ``spread`` device flows started over one interval, and ``together`` more started at one instant.

    Every flow asks ``/device/code`` and then polls ``/token`` ``polls`` times, waiting ``interval``
    after each answer (RFC 8628 §3.5), on one kept-alive connection. The ``together`` flows start
    ``1.5 * interval`` after the first spread flow, when every spread flow is polling, and the spread
    flows poll ``polls + 2`` times, so they poll through the whole burst. Bounded: about
    ``interval * (polls + 3)`` seconds, ``spread * (polls + 3) + together * (polls + 1)`` requests.

    The clients are coroutines of one asyncio loop sending raw HTTP/1.1: the load generator's own cost
    per request stays a few microseconds, so the latencies are the emulator's, not those of 1 200 client
    threads competing for the same two cores.

    Args:
        spread: Flows whose starts are spread evenly over one interval (as flows begun independently are).
        together: Flows started at the same instant.
        interval: Seconds between a flow's answer and its next poll (the emulator's is Google's 5 s).
        polls: ``/token`` polls of each flow started together.
        child: The command serving the emulator (prints the ready line, ends when stdin closes).

    Returns:
        The measured :class:`Load`.
    """
    import asyncio

    proc = subprocess.Popen(list(child), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        ready = json.loads(proc.stdout.readline())
        tallies = (_Tally([], []), _Tally([], []))

        async def all_flows() -> None:
            flows = [_one_flow(ready, i / spread * interval, interval, polls + 2, tallies[0]) for i in range(spread)]
            flows += [_one_flow(ready, 1.5 * interval, interval, polls, tallies[1]) for _ in range(together)]
            await asyncio.gather(*flows)

        # The bench process's earlier figures left a big heap: its collections are not the emulator's latency.
        gc.freeze()
        started = time.monotonic()
        try:
            asyncio.run(all_flows())
        finally:
            gc.unfreeze()
        took = time.monotonic() - started
        proc.stdin.close()  # the child prints its peak RSS and exits
        last = json.loads(proc.stdout.readline())
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    groups = tallies[0].group(spread), tallies[1].group(together)
    cpu_ms = (last["cpu_s"] - ready["cpu_s"]) * 1000 / max(1, groups[0].requests + groups[1].requests)
    return Load(*groups, took, cpu_ms, ready["rss_kb"] / 1024, last["rss_peak_kb"] / 1024)


async def _one_flow(ready: dict[str, Any], delay: float, interval: float, polls: int, tally: _Tally) -> None:
    """One client: ``/device/code``, then ``polls`` ``/token`` polls ``interval`` apart, on one connection."""
    import asyncio
    import urllib.parse

    await asyncio.sleep(delay)  # its start
    url = urllib.parse.urlsplit(ready["base_url"])
    client = {"client_id": ready["client_id"], "client_secret": ready["client_secret"]}
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(url.hostname, url.port), 30)
    except (OSError, asyncio.TimeoutError) as exc:
        tally.errors.append(type(exc).__name__)
        return
    try:
        answer = await _post(reader, writer, _request(url.netloc, "/device/code", {**client, "scope": "openid email"}),
                             tally)
        device_code = (answer or {}).get("device_code")
        if not device_code:
            return
        poll = _request(url.netloc, "/token", {**client, "device_code": device_code, "grant_type": DEVICE_GRANT})
        for _ in range(polls):
            await asyncio.sleep(interval)
            if await _post(reader, writer, poll, tally) is None:
                return
    finally:
        writer.close()


def _request(host: str, path: str, form: dict[str, str]) -> bytes:
    """The bytes of a form POST (built once per flow and path: a poll repeats the same request)."""
    import urllib.parse

    body = urllib.parse.urlencode(form).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {FORM['Content-Type']}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    return head + body


async def _post(reader: Any, writer: Any, request: bytes, tally: _Tally) -> dict[str, Any] | None:
    """Send ``request`` on the kept-alive connection; append the latency (answered) or the error (none, or a 5xx)."""
    import asyncio

    sent = time.monotonic()
    try:
        writer.write(request)
        status_and_headers = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        length = next((int(line.split(b":", 1)[1]) for line in status_and_headers.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), None)
        if length is None:  # the emulator answers every request with a Content-Length (keep-alive)
            tally.errors.append("no Content-Length")
            return None
        answer = await asyncio.wait_for(reader.readexactly(length), 30)
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        tally.errors.append(type(exc).__name__)
        return None
    status = int(status_and_headers.split(b" ", 2)[1])
    if status >= 500:
        tally.errors.append(str(status))
        return None
    tally.latencies.append(time.monotonic() - sent)
    return json.loads(answer) if answer.startswith(b"{") else None


def _serve_child() -> None:
    """The child of :func:`load`: serve an in-memory emulator until stdin closes; print JSON lines."""
    from gapps_runbook.emulator import Emulator, serve

    with serve(Emulator()) as running:
        client = running.emulator.device_client
        print(json.dumps({"base_url": running.base_url, "client_id": client.client_id,
                          "client_secret": client.client_secret, "rss_kb": _rss_kb(), "cpu_s": cpu_seconds()}),
              flush=True)
        sys.stdin.read()
        print(json.dumps({"rss_peak_kb": _rss_kb("VmHWM:"), "cpu_s": cpu_seconds()}), flush=True)


def cpu_seconds() -> float:
    """This process's user + system CPU time so far (``getrusage``): what the load disturbs far less than latency."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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
