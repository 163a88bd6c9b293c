"""Serving the emulator on loopback: :func:`serve` for tests and notebooks, :func:`run_forever` for the CLI.

The emulator's werkzeug WSGI app behind :class:`.http11.EmulatorServer` (HTTP/1.1 keep-alive, a
bounded pool of worker threads, a listen backlog of 1024: issue 9, figure B6) in a daemon thread,
on an ephemeral port by default. The request log never shows query strings (they may hold tokens).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from . import facts
from .core import Emulator
from .http11 import LISTEN_BACKLOG, WORKERS, EmulatorServer
from .practice import describe_faults, describe_scenario

CLIENT_LABELS = facts.CLIENT_LABELS  # the console's names of the client types
__all__ = ["CLIENT_LABELS", "LISTEN_BACKLOG", "WORKERS", "EmulatorServer", "RunningEmulator", "run_forever", "serve"]


@dataclass(frozen=True)
class RunningEmulator:
    """An emulator being served.

    Attributes:
        base_url: ``http://127.0.0.1:PORT``, the issuer; discovery is at ``/.well-known/openid-configuration`` under it.
        emulator: The :class:`Emulator` behind it (for test controls).
    """

    base_url: str
    emulator: Emulator


@contextlib.contextmanager
def serve(emulator: Emulator | None = None, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[RunningEmulator]:
    """Serve ``emulator`` (a new one by default) on ``host:port`` until the block ends.

    Args:
        emulator: The emulator to serve; a fresh default one when None.
        host: Interface to bind; loopback by default.
        port: TCP port; 0 picks a free one.

    Yields:
        The :class:`RunningEmulator` with its ``base_url``.
    """
    emulator = emulator or Emulator()
    server = EmulatorServer(host, port, emulator.wsgi_app)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="gapps-runbook-emulator", daemon=True
    )
    thread.start()
    shown = f"[{host}]" if ":" in host else host
    try:
        yield RunningEmulator(f"http://{shown}:{server.server_port}", emulator)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def run_forever(
    emulator: Emulator | None,
    host: str,
    port: int,
    print_fn: Callable[[str], None],
    *,
    stop: threading.Event | None = None,
) -> None:
    """Serve until Ctrl-C (or ``stop`` is set), after printing the demo clients and the ready line.

    Args:
        emulator: The emulator to serve; a fresh default one when None.
        host: Interface to bind.
        port: TCP port; 0 picks a free one.
        print_fn: Where to print (``click.echo``, ``print``).
        stop: Ends the loop when set (tests); Ctrl-C always does.
    """
    with serve(emulator, host=host, port=port) as running:
        emu = running.emulator
        print_fn("Demo clients (EMULATOR-ONLY values: they work with this emulator and nowhere else):")
        for client in emu.clients:
            print_fn(f"  {CLIENT_LABELS[client.client_type]} ({client.product_name or 'no product name'}):")
            print_fn(f"    client_id:     {client.client_id}")
            print_fn(f"    client_secret: {client.client_secret}")
        legacy = "LEGACY pre-2016 list (Calendar, Contacts allowed)"
        scopes = legacy if emu.legacy_device_scopes else "Google's current list"
        print_fn(
            f"Publishing status: {emu.publishing_status}; auto-approve: {'on' if emu.auto_approve else 'off'}; "
            f"device-flow scopes: {scopes}"
        )
        faults = "; ".join(describe_faults(emu.faults)) or "none"
        rotation = "on" if emu.rotate_refresh_tokens else "off"
        print_fn(
            f"Scenario: {describe_scenario(emu.scenario)}; queued faults: {faults}; rotate refresh tokens: {rotation}"
        )
        print_fn(f"Landing page: {running.base_url}/  (point the runbook at it: --issuer {running.base_url})")
        print_fn(f"Emulator ready at {running.base_url}")
        waiter = stop or threading.Event()
        try:
            while not waiter.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        print_fn("Emulator stopped")
