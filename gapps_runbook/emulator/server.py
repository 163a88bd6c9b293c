"""Serving the emulator on loopback: :func:`serve` for tests and notebooks, :func:`run_forever` for the CLI.

The emulator's werkzeug WSGI app is served by cheroot (CherryPy's HTTP/1.1 server, PEP 3333): keep-alive,
a fixed pool of :data:`WORKERS` threads, idle kept-alive connections watched by one selector and holding
no thread, a listen backlog of :data:`LISTEN_BACKLOG` (200 device flows starting together must not
overflow it). It runs in a daemon thread, on an ephemeral port by default. There is no access log;
the emulator's own request log (:class:`~.records.RequestRecord`) never keeps query strings.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from cheroot import wsgi

from . import facts
from .core import Emulator
from .faults import SOCKET_KEY
from .practice import describe_faults, describe_scenario

CLIENT_LABELS = facts.CLIENT_LABELS  # the console's names of the client types
LISTEN_BACKLOG = 1024  # pending connections the kernel queues (capped by net.core.somaxconn)
WORKERS = 16  # threads answering requests; idle keep-alive connections hold none
KEPT_ALIVE = 4096  # idle kept-alive connections held open (cheroot's default, 10, closes the 11th poller's)
IDLE_SECONDS = 60  # a kept-alive connection idle this long is closed (device flows poll every 5 s)
SERVER_HEADER = "ESF"  # the Server header of Google's OAuth front end
__all__ = ["CLIENT_LABELS", "LISTEN_BACKLOG", "WORKERS", "EmulatorServer", "RunningEmulator", "run_forever", "serve"]
log = logging.getLogger("gapps_runbook.emulator")


class _Gateway(wsgi.Gateway_10):
    """cheroot's PEP 3333 gateway, with the connection's socket in the environ for the ``reset`` fault."""

    def get_environ(self) -> dict[str, Any]:  # type: ignore[override]  # cheroot's stub says None
        environ: dict[str, Any] = super().get_environ()
        environ[SOCKET_KEY] = self.req.conn.socket
        return environ


class EmulatorServer(wsgi.Server):
    """cheroot's WSGI server for the emulator: bound (port 0 resolved) on construction, errors to logging.

    Args:
        host: Interface to bind (``::1`` and other IPv6 literals too).
        port: TCP port; 0 picks a free one.
        app: The WSGI app.
        workers: Threads answering requests at once.

    Raises:
        OSError: The address cannot be bound (a busy port).
    """

    keep_alive_conn_limit = KEPT_ALIVE

    def __init__(self, host: str, port: int, app: Callable[..., Any], *, workers: int = WORKERS) -> None:
        super().__init__((host, port), app, numthreads=workers, server_name=SERVER_HEADER,
                         request_queue_size=LISTEN_BACKLOG, timeout=IDLE_SECONDS, shutdown_timeout=5)
        self.gateway = _Gateway
        self.prepare()  # binds and listens: the real port is known before serving
        self.server_port: int = self.bind_addr[1]

    def error_log(self, msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
        """cheroot's errors (a broken connection, a request it cannot parse) go to logging, not stderr."""
        log.log(level, "emulator server: %s", msg, exc_info=traceback)


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
    thread = threading.Thread(target=server.serve, name="gapps-runbook-emulator", daemon=True)
    thread.start()
    shown = f"[{host}]" if ":" in host else host
    try:
        yield RunningEmulator(f"http://{shown}:{server.server_port}", emulator)
    finally:
        server.stop()
        thread.join(timeout=5)


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
