"""``gapps-runbook handoff``, ``export`` and ``import``: the token leaves the runbook safely (issue 10).

``handoff`` writes the token where the application reads it and proves google-auth refreshes it
(:mod:`gapps_runbook.profile.handoff`); ``export``/``import`` carry profiles in an age file encrypted
to a passphrase (:mod:`gapps_runbook.profile.backup`). Passphrases come from an environment variable,
a 0600 file or a prompt, never from the command line. Registered from :mod:`gapps_runbook.cli`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..errors import InputError
from ..profile.handoff import ENV_KEYS
from ..profile.secret_sources import read_secret
from ..profile.store import Profile, ProfileStore

HANDOFF_HELP = (
    "Write PROFILE's token to PATH where the application reads it (0600, atomic, folder created 0700), then "
    "prove google-auth loads it: by a refresh (Google), or, at a provider that rotates refresh tokens, by "
    "checking its access token without spending the refresh token; the application then owns the grant and "
    "the profile's refresh refuses (authorize again to take it back). --format authorized_user: google-auth's JSON "
    "(Credentials.from_authorized_user_file). --format env: KEY=value lines, unquoted, for "
    "`set -a; . PATH`, systemd EnvironmentFile= or docker --env-file, with the keys " + ", ".join(ENV_KEYS)
    + " (scopes comma-separated). Run it again after re-authorizing: the file is replaced atomically."
)


def _root(ctx: click.Context) -> dict[str, object]:
    return ctx.find_root().obj or {}


def _store(ctx: click.Context) -> ProfileStore:
    return ProfileStore(_root(ctx).get("home"))  # type: ignore[arg-type]


def passphrase_options(func: object) -> object:
    """``--passphrase-env VAR`` and ``--passphrase-file PATH``; without either, a hidden prompt."""
    func = click.option("--passphrase-file", type=click.Path(path_type=Path), default=None,
                        help="Read the passphrase from this file (mode 0600 or 0400).")(func)
    return click.option("--passphrase-env", metavar="VAR", default=None,
                        help="Read the passphrase from this environment variable.")(func)


def read_passphrase(env: str | None, file: Path | None, *, confirm: bool) -> str:
    """The passphrase from exactly one source (never the command line), registered for redaction.

    Raises:
        InputError: Both sources given, the variable unset or empty, or the file open to others.
    """
    if env is not None and not os.environ.get(env):
        raise InputError(f"the environment variable {env} is not set or is empty",
                         fix=f"export {env} with the export's passphrase")
    prompt = None
    if env is None and file is None:
        prompt = lambda: click.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm, err=True)  # noqa: E731
    try:
        return read_secret(env=env, file=file, prompt=prompt)
    except InputError as exc:
        raise InputError(exc.message.replace("client secret", "passphrase"),
                         fix="use --passphrase-env VAR, --passphrase-file PATH (0600) or the prompt") from None


@click.command("handoff", help=HANDOFF_HELP)
@click.argument("profile")
@click.option("--to", "to", required=True, type=click.Path(path_type=Path), help="The file the application reads.")
@click.option("--format", "fmt", type=click.Choice(["authorized_user", "env"]), default="authorized_user",
              show_default=True, help="authorized_user: google-auth JSON; env: KEY=value lines (see above).")
@click.option("--owner", default=None, metavar="USER", help="chown the file to the application's user (root only).")
@click.pass_context
def handoff(ctx: click.Context, profile: str, to: Path, fmt: str, owner: str | None) -> None:
    """Hand the token to the application (see the help text)."""
    from .. import runbook  # the commands' heavier modules load when a command runs (issue 9, B2)

    site = runbook.Site.open(profile, home=_root(ctx).get("home"), issuer=_root(ctx).get("issuer"))  # type: ignore[arg-type]
    result = runbook.handoff(site, to, fmt=fmt, owner=owner)  # type: ignore[arg-type]
    click.echo(f"Wrote {result.path} (0600, {result.fmt}{', owner ' + owner if owner else ''}).")
    click.echo(f"{result.proof_line}.")
    if result.application_owns:
        click.echo(f"The application at {result.path} owns the refresh token now: the provider rotates refresh "
                   f"tokens, so profile {profile!r} no longer refreshes it (authorize again to take it back).")
    for note in result.notes:
        click.echo(f"Note: {note}.")


@click.command("export")
@click.argument("profiles", nargs=-1, required=True)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The export file to write (0600).")
@passphrase_options
@click.pass_context
def export(ctx: click.Context, profiles: tuple[str, ...], out: Path, passphrase_env: str | None,
           passphrase_file: Path | None) -> None:
    """Export PROFILES (client, refresh token, scopes, account, checklist, steps) to an age file.

    Encrypted to a passphrase (age scrypt): `age --decrypt FILE` opens it too. Never exported: access
    tokens, ID tokens, device codes. Each profile records the export (status --all shows it).
    """
    from ..notebook import backup_actions
    from ..notebook.render_backup import export_line

    store = _store(ctx)
    backup_actions.check_export(store, profiles, out)  # refused before a passphrase is asked for
    passphrase = read_passphrase(passphrase_env, passphrase_file, confirm=True)
    click.echo(export_line(backup_actions.act_export(store, profiles, out, passphrase)))


@click.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--profile", "rename", default=None, help="Import the export's only profile under this name.")
@click.option("--force", is_flag=True, help="Replace existing profiles of the same names.")
@passphrase_options
@click.pass_context
def import_(ctx: click.Context, file: Path, rename: str | None, force: bool, passphrase_env: str | None,
            passphrase_file: Path | None) -> None:
    """Import an export, then probe each restored token with a refresh (exit 7: authorize again).

    A profile that replaces another (--force) is probed before the swap: if the provider refuses its
    token, the profile as it was is kept untouched (exit 7). Its audit history is kept, the import added.
    """
    from .. import runbook
    from ..notebook import backup_actions
    from ..profile import backup

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {file} ({exc.strerror})", fix="pass the export file") from None
    passphrase = read_passphrase(passphrase_env, passphrase_file, confirm=False)
    store = _store(ctx)
    issuer = _root(ctx).get("issuer")

    def probe(staged: Profile) -> None:
        runbook.probe_refresh(staged, issuer)  # type: ignore[arg-type]

    try:
        names = backup.import_bytes(data, passphrase, store, profile=rename, force=force, probe=probe)
    except InputError as exc:
        if force or "already exists" not in exc.message or not sys.stdin.isatty():
            raise
        click.confirm(f"{exc.message}. Replace it?", abort=True)
        names = backup.import_bytes(data, passphrase, store, profile=rename, force=True, probe=probe)
    click.echo(f"Imported {', '.join(names)} from {file}.")
    outcomes = [backup_actions.probe(store, name) for name in names]  # every profile, then the first refusal
    for outcome in outcomes:
        if outcome.ok:
            click.echo(outcome.line)
    backup_actions.raise_for_probes(outcomes)  # NoToken: authorize again, exit 7


COMMANDS = (handoff, export, import_)
