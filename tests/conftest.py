"""Shared fixtures.

Emulator fixtures serve a fresh :mod:`gapps_runbook.emulator` on loopback (a real HTTP server on an
ephemeral port) and stop it at teardown.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gapps_runbook.safety import redact
from gapps_runbook.emulator import Emulator, RunningEmulator, serve


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    """A fresh default :class:`Emulator` served on loopback; ``.base_url`` and ``.emulator``."""
    with serve(Emulator()) as running:
        yield running


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., RunningEmulator]]:
    """Factory: ``make_emulator(**Emulator options)`` serves a new emulator; all stop at teardown."""
    with contextlib.ExitStack() as stack:

        def make(**options: Any) -> RunningEmulator:
            return stack.enter_context(serve(Emulator(**options)))

        yield make


@pytest.fixture
def soak_report(request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> Callable[[str], None]:
    """``soak_report(line)``: show a reliability target's measured figure (soak runs only).

    The line is printed past pytest's capture and appended to ``$GAPPS_SOAK_REPORT``, which
    ``make soak`` prints at the end.
    """

    def report(line: str) -> None:
        if request.node.get_closest_marker("soak") is None:
            return
        with capsys.disabled():
            print(f"\n{line}")
        target = os.environ.get("GAPPS_SOAK_REPORT")
        if target:
            with open(target, "a", encoding="utf-8") as handle:
                handle.write(f"{time.strftime('%Y-%m-%d %H:%M')} {line}\n")

    return report


@pytest.fixture(autouse=True)
def fresh_secret_registry() -> Iterator[None]:
    """Each test starts with the secrets registered before it, as a new process would: secrets
    planted by earlier tests neither slow :func:`redact.redact` down nor mask a later test's leaks."""
    saved = redact.registry_snapshot()
    yield
    redact.restore_registry(saved)
