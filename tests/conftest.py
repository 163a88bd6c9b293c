"""Shared fixtures.

Emulator fixtures serve a fresh :mod:`gapps_runbook.emulator` on loopback (a real HTTP server on an
ephemeral port) and stop it at teardown.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

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
