"""``gapps-runbook handoff``, ``export`` and ``import``: the token leaves the runbook safely (issue 10).

``handoff`` writes the token where the application reads it and proves google-auth refreshes it
(:mod:`gapps_runbook.profile.handoff`); ``export``/``import`` carry profiles in an age file encrypted
to a passphrase (:mod:`gapps_runbook.profile.backup`). Passphrases come from an environment variable,
a 0600 file or a prompt, never from the command line. Registered from :mod:`gapps_runbook.cli`.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

import click

from . import runbook
from .errors import STEP_AUTHORIZE, InputError, InvalidGrant, NoToken
from .profile import backup
from .profile.handoff import ENV_KEYS, handoff as write_and_prove
from .profile.private_files import write_private
from .profile.secret_sources import read_secret

REAUTHORIZE_CAUSES = ("the grant was revoked, the consent screen is in Testing (refresh tokens die after 7 days), "
                      "the token went unused for 6 months, or the account's password changed")
HANDOFF_HELP = (
    "Write PROFILE's token to PATH where the application reads it (0600, atomic, folder created 0700), then "
    "prove google-auth loads it and refreshes. --format authorized_user: google-auth's JSON "
    "(Credentials.from_authorized_user_file). --format env: KEY=value lines, unquoted, for "
    "`set -a; . PATH`, systemd EnvironmentFile= or docker --env-file, with the keys " + ", ".join(ENV_KEYS)
    + " (scopes comma-separated). Run it again after re-authorizing: the file is replaced atomically."
)


def _root(ctx: click.Context) -> dict[str, object]:
    return ctx.find_root().obj or {}


def _store(ctx: click.Context) -> runbook.ProfileStore:
    return runbook.ProfileStore(_root(ctx).get("home"))  # type: ignore[arg-type]


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
    site = runbook.Site.open(profile, home=_root(ctx).get("home"), issuer=_root(ctx).get("issuer"))  # type: ignore[arg-type]
    result = write_and_prove(site.token(), site.client(), site.endpoints, to, fmt=fmt, owner=owner)  # type: ignore[arg-type]
    click.echo(f"Wrote {result.path} (0600, {result.fmt}{', owner ' + owner if owner else ''}).")
    click.echo(f"google-auth loaded it and refreshed: new access token valid until {result.refreshed_expiry}.")
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
    store = _store(ctx)
    chosen = [store.profile(name) for name in dict.fromkeys(profiles)]
    if not out.parent.is_dir():
        raise InputError(f"the folder {out.parent} does not exist", fix="create it, or pass another --out")
    if out.is_dir():
        raise InputError(f"{out} is a folder", fix="pass a file name, e.g. --out site-a.age")
    for profile in chosen:
        backup.profile_record(profile)  # refuse a missing or corrupt profile before asking for a passphrase
    passphrase = read_passphrase(passphrase_env, passphrase_file, confirm=True)
    data = backup.export_bytes(chosen, passphrase)
    write_private(out, data)
    now = store.clock.time()
    for profile in chosen:
        backup.record_export(profile, out.resolve(), now=now, by=getpass.getuser())
    click.echo(f"Exported {', '.join(p.name for p in chosen)} to {out} (age, passphrase; 0600). "
               "Keep the passphrase apart from the file.")


@click.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--profile", "rename", default=None, help="Import the export's only profile under this name.")
@click.option("--force", is_flag=True, help="Replace existing profiles of the same names.")
@passphrase_options
@click.pass_context
def import_(ctx: click.Context, file: Path, rename: str | None, force: bool, passphrase_env: str | None,
            passphrase_file: Path | None) -> None:
    """Import an export, then probe each restored token with a refresh (exit 7: authorize again)."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {file} ({exc.strerror})", fix="pass the export file") from None
    passphrase = read_passphrase(passphrase_env, passphrase_file, confirm=False)
    store = _store(ctx)
    try:
        names = backup.import_bytes(data, passphrase, store, profile=rename, force=force)
    except InputError as exc:
        if force or "already exists" not in exc.message or not sys.stdin.isatty():
            raise
        click.confirm(f"{exc.message}. Replace it?", abort=True)
        names = backup.import_bytes(data, passphrase, store, profile=rename, force=True)
    click.echo(f"Imported {', '.join(names)} from {file}.")
    for name in names:
        probe(store, name)


def probe(store: runbook.ProfileStore, name: str) -> None:
    """Refresh a restored profile's token at once (security reference §6 "After restore").

    Raises:
        NoToken: The provider refused it (``invalid_grant``): authorize again, exit 7.
    """
    site = runbook.Site(store.profile(name))
    if site.profile.load_client() is None or site.profile.load_token() is None:
        click.echo(f"{name}: no token in the export: authorize ({STEP_AUTHORIZE}).")
        return
    try:
        runbook.refresh(site)
    except InvalidGrant:
        raise NoToken(f"profile {name!r} was restored, but the provider refused its refresh token (invalid_grant): "
                      f"authorize again ({STEP_AUTHORIZE}). Likely: {REAUTHORIZE_CAUSES}",
                      fix=f"authorize again ({STEP_AUTHORIZE})") from None
    click.echo(f"{name}: the restored token refreshed: it works.")


COMMANDS = (handoff, export, import_)
