"""``gapps-runbook emulator``: the embedded emulator as a practice server on loopback."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--port", type=int, default=0, show_default=True, help="Port on 127.0.0.1 (0: any free port).")
@click.option("--auto-approve", is_flag=True, help="Approve every request at once (unattended runs).")
@click.option("--legacy-device-scopes", is_flag=True, help="Accept Calendar in the device flow, as Google did before ~2016 (LEGACY).")
@click.option("--publishing-status", type=click.Choice(["testing", "production"]), default="production", show_default=True)
@click.option("--clients", "clients_file", type=click.Path(path_type=Path), default=None,
              help="JSON list of clients to register ({client_id, client_secret, client_type, product_name}).")
def emulator(port: int, auto_approve: bool, legacy_device_scopes: bool, publishing_status: str, clients_file: Path | None) -> None:
    """Run the embedded Google OAuth + Calendar emulator on loopback until Ctrl-C."""
    from . import Emulator, run_forever

    emu = Emulator(auto_approve=auto_approve, legacy_device_scopes=legacy_device_scopes, publishing_status=publishing_status)
    if clients_file is not None:
        emu.load_clients(clients_file)
    run_forever(emu, "127.0.0.1", port, click.echo)
