"""Measure ``gapps-runbook batch`` against one ``gapps-runbook run`` process per site (``make bench-batch``).

``python -m tools.batch_bench [--sites 10,20] [--dask]`` serves an auto-approving
emulator in this process, authorizes N profiles in a throwaway profile home (desktop flow, one
account each), then times whole processes, wall clock, on the same machine in one run:

* ``gapps-runbook batch 04 --all --jobs 2`` over N profiles;
* N sequential ``gapps-runbook run 04`` processes (what a team does without a batch);
* with ``--dask``: the same batch through a local scheduler and two one-thread workers.

It prints one line per figure. Not part of ``make test``: it takes minutes and its figures depend
on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from gapps_runbook import runbook
from gapps_runbook.emulator import Emulator, serve
from gapps_runbook.oauth.transport import RequestsTransport
from gapps_runbook.profile.store import ProfileStore

CALENDAR = "https://www.googleapis.com/auth/calendar.readonly"
CLI = [sys.executable, "-m", "gapps_runbook"]


def _browser(url: str) -> None:
    threading.Thread(target=requests.get, args=(url,), kwargs={"timeout": 30}, daemon=True).start()


def make_profiles(home: Path, base_url: str, emulator: Emulator, count: int) -> list[str]:
    """Authorize ``count`` profiles ``bench-000``... on the emulator, each by its own account."""
    names = [f"bench-{i:03d}" for i in range(count)]
    desktop = emulator.desktop_client
    for i, name in enumerate(names):
        emulator.state.account = f"bench{i:03d}@example.com"
        site = runbook.Site(ProfileStore(home).profile(name), RequestsTransport(), issuer=base_url)
        runbook.save_client(site, client_id=desktop.client_id, client_secret=desktop.client_secret, client_type="desktop")
        runbook.authorize(site, (CALENDAR,), flow="desktop", open_url=_browser, timeout=60)
    return names


def timed(argv: list[str]) -> float:
    """Wall seconds of one whole process; it must exit 0."""
    started = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def _dask_cluster(tmp: Path) -> tuple[str, list[subprocess.Popen[bytes]]]:
    from distributed import Client

    file = tmp / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file", str(file)], **quiet)]
    while not file.exists():
        time.sleep(0.05)
    procs += [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(file),
                                "--nthreads", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"], **quiet)
              for _ in range(2)]
    address = json.loads(file.read_text())["address"]
    with Client(address, timeout=30) as client:
        client.wait_for_workers(2, timeout=90)
    return address, procs


def main(argv: list[str] | None = None) -> None:
    """Print the figures (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", default="10,20", help="comma-separated site counts for the batch")
    parser.add_argument("--per-site", type=int, default=20, help="how many `run 04` processes to time")
    parser.add_argument("--dask", action="store_true", help="also time the batch on a local Dask cluster")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.sites.split(",")]
    with tempfile.TemporaryDirectory(prefix="gapps-bench-") as tmp, serve(Emulator(auto_approve=True)) as running:
        home, out = Path(tmp) / "home", Path(tmp) / "out"
        names = make_profiles(home, running.base_url, running.emulator, max(counts + [args.per_site]))
        common = [*CLI, "--home", str(home), "--issuer", running.base_url]
        params = ["-p", "refresh", "true", "-p", "verify", "false", "--out", str(out)]
        for n in counts:
            wall = timed([*common, "batch", "04", "--profiles", ",".join(names[:n]), "--jobs", "2", *params, "--no-progress"])
            print(f"batch 04 --jobs 2, {n:3d} sites: {wall:6.1f} s wall, {wall / n:.2f} s per site", flush=True)
        walls = [timed([*common, "--profile", name, "run", "04", *params]) for name in names[:args.per_site]]
        total = sum(walls)
        print(f"{args.per_site} x `run 04` processes, sequential: {total:6.1f} s wall, {total / len(walls):.2f} s per site",
              flush=True)
        if args.dask:
            address, procs = _dask_cluster(Path(tmp))
            try:
                for n in counts:
                    wall = timed([*common, "batch", "04", "--profiles", ",".join(names[:n]), "--executor", "dask",
                                  "--scheduler", address, *params, "--no-progress"])
                    print(f"batch 04 on Dask (2 workers x 1 thread), {n:3d} sites: {wall:6.1f} s wall, "
                          f"{wall / n:.2f} s per site", flush=True)
            finally:
                for proc in reversed(procs):
                    proc.terminate()
                    proc.wait(timeout=30)


if __name__ == "__main__":
    main()
