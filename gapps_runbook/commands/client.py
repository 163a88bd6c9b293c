"""``gapps-runbook client test``: the stored client checked with the provider, without a person.

Asks the provider whether the stored client ID and secret match (:func:`gapps_runbook.runbook.test_client`).
Registered under the ``client`` group from :mod:`gapps_runbook.cli`.
"""

from __future__ import annotations

import click


@click.command("test")
@click.pass_context
def client_test(ctx: click.Context) -> None:
    """Step 02: ask the provider whether the stored client ID and secret match (no browser, nothing stored).

    Exit 3 (invalid_client) when the provider refuses them."""
    obj = ctx.find_root().obj or {}
    from .. import runbook  # the steps load only for the command that runs one (figure B2)

    site = runbook.Site.open(str(obj["profile"]), home=obj.get("home"), issuer=obj.get("issuer"))
    result = runbook.test_client(site)
    click.echo(f"Client {result.client_id}: accepted by {result.provider} ({result.auth_method}); it answered "
               f"{result.answer} for a made-up refresh token, as it should.")
