"""Shared fixtures.

Emulator fixtures serve a fresh :mod:`gapps_runbook.emulator` on loopback (a real HTTP server on an
ephemeral port) and stop it at teardown: ``emulator`` for one test, ``emu`` for a module (a person
approves: nobody does unless the test plays the person), ``make_emulator`` for other options.

``EMULATOR_OPTIONS`` in a module sets the options of its ``emulator``.

``home`` is a runbook home folder: empty, or in a module that declares ``READY_PROFILES`` (profile name ->
:func:`sites.ready_site` options), that module's ``ready_home`` with those profiles at steps 01-02.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gapps_runbook.safety import redact
from gapps_runbook.emulator import Emulator, RunningEmulator, serve
from gapps_runbook.emulator.command import PORT_ENV
from gapps_runbook.emulator.persist import DEFAULT_PORT

from sites import CHROMIUM, CHROMIUM_ARGS, LONG, jupyterlab, ready_site


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
def emulator(request: pytest.FixtureRequest) -> Iterator[RunningEmulator]:
    """A fresh :class:`Emulator` served on loopback (``.base_url``, ``.emulator``), made with the module's
    ``EMULATOR_OPTIONS`` (e.g. ``{"auto_approve": True}``) or the defaults."""
    with serve(Emulator(**getattr(request.module, "EMULATOR_OPTIONS", {}))) as running:
        yield running


@pytest.fixture(scope="module")
def emu() -> Iterator[RunningEmulator]:
    """A default :class:`Emulator` served on loopback for the whole module; a person approves (no auto-approve)."""
    with serve(Emulator()) as running:
        yield running


@pytest.fixture(scope="module")
def ready_home(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
               emu: RunningEmulator) -> Path:
    """The module's home: each profile of its ``READY_PROFILES`` made by :func:`sites.ready_site` at ``emu``."""
    home = tmp_path_factory.mktemp(request.module.__name__.removeprefix("test_")) / "home"
    for name, options in request.module.READY_PROFILES.items():
        ready_site(home, emu, name, **options)
    return home


@pytest.fixture
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A runbook home: the module's ``ready_home`` where it declares ``READY_PROFILES``, else ``<tmp_path>/home`` (not made)."""
    if hasattr(request.module, "READY_PROFILES"):
        return request.getfixturevalue("ready_home")  # type: ignore[no-any-return]
    return tmp_path / "home"


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


# --- the browser tests: JupyterLab on the module's ready_home, one Chromium context, a page per test ---


@pytest.fixture(scope="module")
def lab(ready_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """JupyterLab serving ``<ready_home>/workspaces`` on 127.0.0.1 (own Jupyter dirs, no network lookups, autosave 2 s)."""
    home = ready_home
    with jupyterlab(home / "workspaces", tmp_path_factory.mktemp("jupyter"),
                    env={"GAPPS_RUNBOOK_LAB_ROOT": str(home / "workspaces")},  # as `gapps-runbook lab` sets it
                    settings={"docmanager-extension/plugin": {"autosaveInterval": 2}}) as (url, token, log):
        yield {"url": url, "token": token, "log": log}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One Chromium context (1280x900, Debian's Chromium through Playwright) for the module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(LONG)
        yield context
        browser.close()


@pytest.fixture
def page(chromium: Any, lab: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page (``lab``: the module's JupyterLab); on failure a screenshot beside JupyterLab's log."""
    page = chromium.new_page()
    yield page
    if getattr(request.node, "failed", False) or sys.exc_info()[0] is not None:
        page.screenshot(path=str(Path(lab["log"]).with_name(f"{request.node.name}.png")))
    page.close()
