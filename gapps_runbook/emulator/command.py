"""``gapps-runbook emulator``: the embedded emulator as a practice server on loopback.

Every practice knob of :class:`~gapps_runbook.emulator.Emulator` is an option here: what the user
does (``--scenario``), what breaks (``--fault``), refresh-token rotation and the 7-day Testing expiry.
Values are parsed by :mod:`.practice`; a bad one is a one-line usage error naming the choices.
It listens on port 8765 by default (``GAPPS_RUNBOOK_EMULATOR_PORT`` changes the default) and keeps its
state in a file (:mod:`.persist`), so after a restart it has the same address, the same demo clients,
and the grants it gave (practice profiles keep working). SIGTERM stops it as Ctrl-C does.
"""

from __future__ import annotations

import contextlib
import errno
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import InputError, RunbookError
from .persist import DEFAULT_PORT, STATE_FILE, default_state_dir

if TYPE_CHECKING:
    from .records import Scenario

SCENARIO_HELP = (
    "What the user does with EVERY device and desktop authorization. deny: clicks Deny (access_denied). "
    "expire: the device code is already expired (expired_token); a desktop code dies before its exchange. "
    "slow_down[:N]: the first N polls (1) get slow_down, so the poller must add 5 s. "
    "pending:N: N polls get authorization_pending, then the user approves (the desktop consent approves at once). "
    "Combine with commas, e.g. pending:2,deny."
)
PORT_ENV = "GAPPS_RUNBOOK_EMULATOR_PORT"
"""The practice emulator's port when ``--port`` is not given (``lab``/``app --emulator`` read it too)."""
FAULT_HELP = (
    "Make the next N requests (1 unless xN) to PATH fail with KIND, to practise retries and error handling: "
    "500/503/429 JSON errors, 502/504/408 HTML error pages, malformed (HTTP 200, not JSON), "
    "timeout (answers after 2 s), reset (connection dropped). E.g. /token=503x2. Repeatable."
)


def _scenario(ctx: click.Context, param: click.Parameter, value: str | None) -> Scenario | None:
    from .practice import parse_scenario

    try:
        return parse_scenario(value) if value else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def _faults(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[tuple[str, str, int]]:
    from .practice import parse_fault

    try:
        return [parse_fault(value) for value in values]
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


class OneLineError(click.ClickException):
    """A :class:`RunbookError` as click prints it: one line, the error's exit code."""

    def __init__(self, error: RunbookError) -> None:
        super().__init__(str(error))
        self.exit_code = int(error.exit_code)


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True, envvar=PORT_ENV,
              show_envvar=True,
              help="Port on 127.0.0.1; the same one every time, so the issuer URL stays valid (0: any free port).")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=f"Where the state ({STATE_FILE}: clients, grants, refresh tokens) is kept across restarts. "
                   "Default: emulator/ under GAPPS_RUNBOOK_HOME or the per-user config folder.")
@click.option("--fresh", is_flag=True, help="Start over: forget the saved clients, grants and tokens.")
@click.option("--auto-approve", is_flag=True,
              help="Approve every authorization at once (unattended runs): device codes need no one at the "
                   "verification page; the Desktop app link still has to be opened (it redirects back at once).")
@click.option("--legacy-device-scopes", is_flag=True,
              help="Accept Calendar in the device flow, as Google did before ~2016 (LEGACY; Google refuses it today).")
@click.option("--publishing-status", type=click.Choice(["testing", "production"]), default="production",
              show_default=True,
              help="testing: refresh tokens expire 7 days after consent (an External app in Testing), "
                   "unless only openid/email/profile were granted. production: they do not expire.")
@click.option("--rotate-refresh-tokens", is_flag=True,
              help="Every refresh returns a NEW refresh token and the old one stops working at once "
                   "(invalid_grant), as Okta and Auth0 do; Google does not. Practise saving it before anything else.")
@click.option("--scenario", callback=_scenario, metavar="deny|expire|slow_down[:N]|pending:N", default=None,
              help=SCENARIO_HELP)
@click.option("--fault", "faults", multiple=True, callback=_faults, metavar="PATH=KIND[xN]", help=FAULT_HELP)
@click.option("--clients", "clients_file", type=click.Path(path_type=Path), default=None,
              help="JSON list of clients to register ({client_id, client_secret, client_type, product_name}).")
def emulator(
    port: int,
    auto_approve: bool,
    legacy_device_scopes: bool,
    publishing_status: str,
    rotate_refresh_tokens: bool,
    scenario: Scenario | None,
    faults: list[tuple[str, str, int]],
    clients_file: Path | None,
    state_dir: Path | None,
    fresh: bool,
) -> None:
    """Run the embedded Google OAuth + Calendar emulator on loopback until Ctrl-C.

    Open the printed URL in a browser for the landing page (clients, settings, how to point the
    runbook at it: gapps-runbook --issuer URL ...). Stop it and start it again: same address, same
    demo clients, and practice profiles can still refresh (--fresh forgets everything).
    """
    try:
        _serve(port, state_dir, fresh, auto_approve=auto_approve, legacy_device_scopes=legacy_device_scopes,
               publishing_status=publishing_status, rotate_refresh_tokens=rotate_refresh_tokens,
               scenario=scenario, faults=faults, clients_file=clients_file)
    except RunbookError as exc:
        raise OneLineError(exc) from None


def _serve(port: int, state_dir: Path | None, fresh: bool, *, faults: list[tuple[str, str, int]],
           clients_file: Path | None, **options: object) -> None:
    from . import Emulator, run_forever

    state_path = (state_dir or default_state_dir()) / STATE_FILE
    if fresh and state_path.parent.is_dir():
        from .persist import StateFile

        StateFile(state_path).delete()
    emu = Emulator(state_path=state_path, **options)  # type: ignore[arg-type]
    for path, kind, times in faults:
        emu.fail_next(path, kind, times)
    if clients_file is not None:
        emu.load_clients(clients_file)
    _check_port(port)  # before serving: one line naming --port, not the server's OSError
    click.echo(f"State: {state_path} (kept across restarts; --fresh starts over)")
    try:
        with _sigterm_as_ctrl_c():
            run_forever(emu, "127.0.0.1", port, click.echo)
    finally:
        emu.save()


@contextlib.contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """SIGTERM (``kill``, systemd, the parent-death signal of ``lab``/``app``) stops the server as Ctrl-C
    does, so the state is saved; the previous handler comes back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _check_port(port: int) -> None:
    """Refuse a port another program listens on, in one line naming ``--port``."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as cheroot does
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            why = "already in use (another emulator?)" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise InputError(f"port {port} on 127.0.0.1: {why}",
                             fix="stop the other program, or pass --port N (--port 0: any free port)") from None

