"""``gapps-runbook audit PROFILE``: who did what.

``audit`` prints the profile's append-only audit log (:mod:`gapps_runbook.profile.audit`): one line per
step run, oldest first: when, who, step, outcome, detail, and the redacted parameters with ``--json``.
Registered from :mod:`gapps_runbook.cli`.
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

