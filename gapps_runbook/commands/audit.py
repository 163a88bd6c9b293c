"""``gapps-runbook audit PROFILE`` and ``gapps-runbook client test``: who did what, and the client checked.

``audit`` prints the profile's append-only audit log (:mod:`gapps_runbook.profile.audit`): one line per
step run, oldest first: when, who, step, outcome, detail, and the redacted parameters with ``--json``.
``client test`` asks the provider whether the stored client ID and secret match, without a person
(:func:`gapps_runbook.runbook.test_client`). Both are registered from :mod:`gapps_runbook.cli`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..profile import audit as audit_log
from ..profile.store import ProfileStore


def _root(ctx: click.Context) -> dict[str, Any]:
    """What ``cli`` put in click's (untyped) ``obj``: ``profile``, ``issuer``, ``home``."""
    return ctx.find_root().obj or {}


def audit_line(record: dict[str, object]) -> str:
    """One audit record as a line: when, who, step, outcome, detail."""
    detail = f"  {record.get('detail')}" if record.get("detail") else ""
    return f"{record.get('when', '-')}  {record.get('who', '-'):12} {record.get('step', '-'):12} " \
           f"{record.get('outcome', '-'):9}{detail}"


@click.command("audit")
@click.argument("profile")
@click.option("--json", "as_json", is_flag=True, help="Print the records as a JSON array (parameters included).")
@click.pass_context
def audit(ctx: click.Context, profile: str, as_json: bool) -> None:
    """Print PROFILE's audit log: who ran which step, when, and its outcome (never a secret)."""
    home = _root(ctx).get("home")
    store = ProfileStore(Path(str(home)) if home else None)
    records = audit_log.read(store.profile(profile))
    if as_json:
        click.echo(json.dumps(records, indent=2, sort_keys=True))
    elif not records:
        click.echo(f"Profile {profile!r} has no audit records yet.")
    else:
        click.echo("\n".join(audit_line(r) for r in records))


@click.command("test")
@click.pass_context
def client_test(ctx: click.Context) -> None:
    """Step 02: ask the provider whether the stored client ID and secret match (no browser, nothing stored).

    Exit 3 (invalid_client) when the provider refuses them."""
    obj = _root(ctx)
    from .. import runbook  # the steps load only for the command that runs one (figure B2)

    site = runbook.Site.open(str(obj["profile"]), home=obj.get("home"), issuer=obj.get("issuer"))
    result = runbook.test_client(site)
    click.echo(f"Client {result.client_id}: accepted by {result.provider} ({result.auth_method}); it answered "
               f"{result.answer} for a made-up refresh token, as it should.")
