"""``make soak``: the reliability trials (``pytest -m soak``) spread over parallel pytest processes.

``python -m tools.soak [--jobs N] [paths or -k ...]`` collects the ``soak`` tests, deals them out
round-robin in collection order to ``N`` pytest processes (so a module's long trials, such as the
nine F1 fuzzers, land on different processes), runs them at once, then prints each process's output
in turn. The exit status is the worst of the processes'. The trials are independent: each makes its
own temporary folders, emulators and child processes, and Hypothesis keeps no example database.
Each target's summary line goes to ``$GAPPS_SOAK_REPORT`` as in a single run (docs/reliability.md).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]


def collect(extra: list[str]) -> list[str]:
    """The node IDs of the ``soak`` tests, in collection order."""
    listed = subprocess.run([*PYTEST, "-q", "--collect-only", "-m", "soak", *extra], capture_output=True, text=True,
                            check=False)
    ids = [line for line in listed.stdout.splitlines() if "::" in line]
    if listed.returncode != 0 or not ids:
        sys.stderr.write(listed.stdout + listed.stderr)
        raise SystemExit(listed.returncode or 5)
    return ids


def deal(ids: list[str], jobs: int) -> list[list[str]]:
    """``ids`` dealt round-robin into at most ``jobs`` non-empty groups."""
    return [group for group in (ids[start::jobs] for start in range(jobs)) if group]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3, help="pytest processes run at once (default 3)")
    args, extra = parser.parse_known_args(argv)
    extra = extra or ["tests"]
    groups = deal(collect(extra), max(1, args.jobs))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="soak-") as folder:
        logs = [Path(folder) / f"job-{number}.log" for number in range(len(groups))]
        procs = []
        for group, log in zip(groups, logs, strict=True):
            with log.open("wb") as out:
                procs.append(subprocess.Popen([*PYTEST, "-q", "-ra", "-m", "soak", *group], stdout=out,
                                              stderr=subprocess.STDOUT))
        codes = [proc.wait() for proc in procs]
        for number, (group, log, code) in enumerate(zip(groups, logs, codes, strict=True)):
            print(f"\n=== soak process {number + 1}/{len(groups)}: {len(group)} trials, exit {code} ===")
            print(log.read_text(encoding="utf-8", errors="replace"), end="")
    print(f"\n{sum(len(g) for g in groups)} soak trials in {len(groups)} processes: "
          f"{time.monotonic() - started:.0f} s wall")
    failed = [code for code in codes if code]
    return abs(failed[0]) if failed else 0


if __name__ == "__main__":
    sys.exit(main())
