"""Shared fixtures.

Emulator fixtures serve a fresh :mod:`gapps_runbook.emulator` on loopback (a real HTTP server on an
ephemeral port) and stop it at teardown.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gapps_runbook.safety import redact
from gapps_runbook.emulator import Emulator, RunningEmulator, serve
from gapps_runbook.emulator.command import PORT_ENV
from gapps_runbook.emulator.persist import DEFAULT_PORT


@pytest.fixture(autouse=True, scope="session")
def no_fixed_ports() -> Iterator[None]:
    """The practice emulator may be running on 127.0.0.1:8765 while the tests run: a default-port
    emulator the tests start (in this process or a child) takes any free port, and a bind of the
    default port in this process fails the test that tried."""
    real_bind = socket.socket.bind

    def bind(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and len(address) >= 2 and address[1] == DEFAULT_PORT:
            raise AssertionError(f"a test bound the practice emulator's fixed port {DEFAULT_PORT}: use port 0")
        real_bind(self, address)

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PORT_ENV, "0")
        patch.setattr(socket.socket, "bind", bind)
        yield


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
