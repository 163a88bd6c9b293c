"""``gapps-runbook emulator``: the embedded emulator as a practice server on loopback.

Every practice knob of :class:`~gapps_runbook.emulator.Emulator` is an option here: what the user
does (``--scenario``), what breaks (``--fault``), refresh-token rotation and the 7-day Testing expiry.
Values are parsed by :mod:`.practice`; a bad one is a one-line usage error naming the choices.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from .records import Scenario

SCENARIO_HELP = (
    "What the user does with EVERY device and desktop authorization. deny: clicks Deny (access_denied). "
    "expire: the device code is already expired (expired_token); a desktop code dies before its exchange. "
    "slow_down[:N]: the first N polls (1) get slow_down, so the poller must add 5 s. "
    "pending:N: N polls get authorization_pending, then the user approves (the desktop consent approves at once). "
    "Combine with commas, e.g. pending:2,deny."
)
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


@click.command()
@click.option("--port", type=int, default=0, show_default=True, help="Port on 127.0.0.1 (0: any free port).")
@click.option("--auto-approve", is_flag=True,
              help="Approve every authorization at once, with no browser step (unattended runs).")
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
) -> None:
    """Run the embedded Google OAuth + Calendar emulator on loopback until Ctrl-C.

    Open the printed URL in a browser for the landing page (clients, settings, how to point the
    runbook at it: gapps-runbook --issuer URL ...).
    """
    from . import Emulator, run_forever

    emu = Emulator(
        auto_approve=auto_approve,
        legacy_device_scopes=legacy_device_scopes,
        publishing_status=publishing_status,
        rotate_refresh_tokens=rotate_refresh_tokens,
        scenario=scenario,
    )
    for path, kind, times in faults:
        emu.fail_next(path, kind, times)
    if clients_file is not None:
        emu.load_clients(clients_file)
    run_forever(emu, "127.0.0.1", port, click.echo)
