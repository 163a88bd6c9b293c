"""``gapps-runbook handoff``, ``export`` and ``import``: the token leaves the runbook safely.

``handoff`` writes the token where the application reads it and proves google-auth refreshes it
(:mod:`gapps_runbook.profile.handoff`); ``export``/``import`` carry profiles in an age file encrypted
to a passphrase (:mod:`gapps_runbook.profile.backup`). Passphrases come from an environment variable,
a 0600 file or a prompt, never from the command line. Registered from :mod:`gapps_runbook.cli`.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

import click

from ..errors import InputError
from ..profile.handoff import ENV_KEYS
from ..profile.secret_sources import read_secret, terminal_prompt
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
    sources = "use --passphrase-env VAR or --passphrase-file PATH (0600)"
    if env is None and file is None:
        prompt = terminal_prompt(
            lambda: click.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm, err=True),
            what="passphrase", fix=sources + ", or run it in a terminal")
    try:
        return read_secret(env=env, file=file, prompt=prompt)
    except InputError as exc:
        raise InputError(exc.message.replace("client secret", "passphrase"),
                         fix=exc.fix if "terminal" in exc.message else sources + " or the prompt") from None


@click.command("handoff", help=HANDOFF_HELP)
@click.argument("profile")
@click.option("--to", "to", required=True, type=click.Path(path_type=Path), help="The file the application reads.")
@click.option("--format", "fmt", type=click.Choice(["authorized_user", "env"]), default="authorized_user",
              show_default=True, help="authorized_user: google-auth JSON; env: KEY=value lines (see above).")
@click.option("--owner", default=None, metavar="USER", help="chown the file to the application's user (root only).")
@click.pass_context
def handoff(ctx: click.Context, profile: str, to: Path, fmt: str, owner: str | None) -> None:
    """Hand the token to the application (see the help text)."""
    from .. import runbook  # the commands' heavier modules load when a command runs (figure B2)

    site = runbook.Site.open(profile, home=_root(ctx).get("home"), issuer=_root(ctx).get("issuer"))  # type: ignore[arg-type]
    warning = world_writable_warning(to)
    if warning:
        click.echo(warning, err=True)
    result = runbook.handoff(site, to, fmt=fmt, owner=owner)  # type: ignore[arg-type]
    click.echo(f"Wrote {result.path} (0600, {result.fmt}{', owner ' + owner if owner else ''}).")
    click.echo(f"{result.proof_line}.")
    if result.application_owns:
        click.echo(f"The application at {result.path} owns the refresh token now: the provider rotates refresh "
                   f"tokens, so profile {profile!r} no longer refreshes it (authorize again to take it back).")
    for note in result.notes:
        click.echo(f"Note: {note}.")


def world_writable_warning(target: Path) -> str | None:
    """A warning line when the hand-off file's folder (or the first existing one above it) is world-writable.

    Any user may then create names there, and without the sticky bit rename or delete the file; the
    application would read a token someone else put there. None when the folder is not.
    """
    folder = target.expanduser().absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        mode = folder.stat().st_mode
    except OSError:
        return None
    if not mode & stat.S_IWOTH:
        return None
    sticky = " (sticky: others cannot replace the file, but can take names in it)" if mode & stat.S_ISVTX else ""
    return (f"Warning: {folder} is writable by every user{sticky}; put the token in a folder only the "
            "application's user can write, e.g. /etc/<app> or the application's home.")


@click.command("export")
@click.argument("profiles", nargs=-1, required=True)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The export file to write (0600).")
@passphrase_options
@click.pass_context
def export(ctx: click.Context, profiles: tuple[str, ...], out: Path, passphrase_env: str | None,
           passphrase_file: Path | None) -> None:
    """Export PROFILES (client, refresh token, scopes, account, checklist, steps) to an age file.

    Encrypted to a passphrase (age scrypt): `age --decrypt FILE` opens it too. The passphrase must score
    at least 3 of 4 on zxcvbn's scale (e.g. four random words). Never exported: access tokens, ID tokens,
    device codes. Each profile records the export (status --all shows it).
    """
    from ..notebook import backup_actions
    from ..views.backup import export_line

    store = _store(ctx)
    _, target = backup_actions.check_export(store, profiles, out)  # refused before a passphrase is asked for
    check_export_target(target)
    passphrase = read_passphrase(passphrase_env, passphrase_file, confirm=True)
    try:
        click.echo(export_line(backup_actions.act_export(store, profiles, out, passphrase, surface="cli")))
    except OSError as exc:
        raise InputError(f"cannot write the export {target} ({exc.strerror})", fix=_OUT_FIX) from None


_OUT_FIX = "choose a file in a folder you can write to with --out"


def check_export_target(target: Path) -> None:
    """Refuse an export file that is not a regular file, or a folder no file can be created in.

    A probe file is created and removed in the folder: permission bits say nothing for root, and
    read-only or virtual file systems (``/proc``, ``/sys``) refuse only at the write.

    Raises:
        InputError: ``target`` exists and is not a regular file, or its folder refuses a new file.
    """
    try:
        mode = target.lstat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise InputError(f"cannot use {target} as the export ({exc.strerror})", fix=_OUT_FIX) from None
    if mode is not None and not stat.S_ISREG(mode):
        raise InputError(f"{target} exists and is not a regular file", fix=_OUT_FIX)
    try:
        fd, probe = tempfile.mkstemp(prefix=".gapps-runbook-probe-", dir=target.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"cannot write into {target.parent} ({exc.strerror})", fix=_OUT_FIX) from None


def read_export_file(path: Path) -> bytes:
    """The bytes of an export file, refused before a passphrase is asked for when it is not an export.

    :func:`gapps_runbook.profile.backup.read_export` reads it (a regular file, its size read first,
    opened with ``O_NONBLOCK`` so a FIFO cannot hang the command); then its age header is checked
    (:func:`gapps_runbook.profile.backup.scrypt_work_factor`): a JSON file or a damaged header asks for nothing.

    Raises:
        InputError: Missing, unreadable, not a regular file, too large, or not an age passphrase file.
    """
    from ..profile import backup

    data = backup.read_export(path)
    backup.scrypt_work_factor(data)
    return data


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

    data = read_export_file(file)  # before the passphrase: a bad file asks for nothing
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
