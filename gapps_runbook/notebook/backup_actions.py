"""Step 05 (backup and restore): export profiles to an age file, import one, probe what was restored.

The same actions serve ``gapps-runbook export``/``import`` (:mod:`gapps_runbook.commands.backup`), the headless
entry point :func:`gapps_runbook.notebook.backup_restore` and the form :mod:`.step05`, so a button
click, a papermill run and the command line do the same thing. The format and its checks are
:mod:`gapps_runbook.profile.backup`'s; here is what surrounds them: the target checks, where the
passphrase comes from (references only in headless runs), the export record 00 and ``status --all``
show, and the probe after an import (a restored refresh token may be dead). Actions return values
(rendered by :mod:`gapps_runbook.views.backup`) and raise :class:`RunbookError`; they never display. A
refusal's fix is worded for the surface that called (``surface``: ``"form"``, ``"cli"``, ``"run"``, the
headless run's parameters unless told; :data:`gapps_runbook.profile.backup.ACTIONS`).
"""

from __future__ import annotations

import contextlib
import getpass
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import runbook
from ..errors import STEP_AUTHORIZE, InputError, InvalidGrant, NoToken, RunbookError
from ..oauth.clock import iso_utc
from ..profile import backup
from ..profile.private_files import write_private
from ..profile.secret_sources import read_secret
from ..profile.store import Profile, ProfileStore

REAUTHORIZE_CAUSES = ("the grant was revoked, the consent screen is in Testing (refresh tokens die after 7 days), "
                      "the token went unused for 6 months, or the account's password changed")
"""Why a provider refuses a restored refresh token (``invalid_grant``): said once, by the CLI and step 05."""


@contextlib.contextmanager
def worded_for(surface: str) -> Iterator[None]:
    """A :class:`RunbookError` raised inside has its fix worded for ``surface`` (its flags, controls or parameters)."""
    try:
        yield
    except RunbookError as exc:
        exc.worded_for(surface)
        raise


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: the profiles, the file (absolute), when (UTC) and by whom."""

    names: tuple[str, ...]
    path: str
    at: str
    by: str


@dataclass(frozen=True)
class ProbeOutcome:
    """One restored profile's probe: ``ok`` unless the provider refused its refresh token (``error``)."""

    name: str
    ok: bool
    line: str
    error: NoToken | None = None


def passphrase_from_refs(env: str = "", file: str = "") -> str:
    """A headless run's passphrase, from an environment variable or a 0600 file: never a parameter value.

    Raises:
        InputError: Neither or both given, the variable unset or empty, or the file open to others.
    """
    if not env and not file:
        raise InputError("no passphrase reference was given",
                         fix="pass passphrase_env (a variable's name) or passphrase_file (a 0600 file), "
                             "never the passphrase")
    if env and file:
        raise InputError("both passphrase_env and passphrase_file were given", fix="pass only one of them")
    try:
        return read_secret(env=env or None, file=Path(file).expanduser() if file else None)
    except InputError as exc:
        raise InputError(exc.message.replace("client secret", "passphrase"),
                         fix="pass passphrase_env (a set variable's name) or passphrase_file (mode 0600)") from None


def check_export(store: ProfileStore, names: Sequence[str], out: str | Path) -> tuple[list[Profile], Path]:
    """Refuse a bad export before a passphrase is asked for: no profile, a missing folder, a missing profile.

    Returns:
        The profiles (duplicates dropped, order kept) and the target path (``~`` expanded).
    """
    chosen = [store.profile(name) for name in dict.fromkeys(names)]
    if not chosen:
        raise InputError("no profile was chosen to export", fixes=backup.fixes("{profiles}"))
    if not str(out).strip():
        raise InputError("no export file was given", fix="give the file to write, e.g. sites.age",
                         fixes={"form": f"type a file name in {backup.FORM_LABELS['target']}, e.g. sites.age"})
    target = Path(out).expanduser()
    if not target.parent.is_dir():
        raise InputError(f"the folder {target.parent} does not exist", fix="create it, or choose another file")
    if target.is_dir():
        raise InputError(f"{target} is a folder", fix="give a file name, e.g. site-a.age")
    for profile in chosen:
        backup.profile_record(profile)  # a missing or corrupt profile is refused here
    return chosen, target


def act_export(store: ProfileStore, names: Sequence[str], out: str | Path, passphrase: str,
               confirmation: str | None = None, *, surface: str = "run") -> ExportResult:
    """Export ``names`` to ``out`` (age, passphrase; 0600) and record the export in each profile.

    Args:
        store: The runbook home's profiles.
        names: The profiles to export.
        out: The file to write (replaced atomically).
        passphrase: The passphrase (registered for redaction by :mod:`gapps_runbook.profile.backup`).
        confirmation: The passphrase typed again (the form); None when it came from a reference.
        surface: Whose words a refusal's fix uses (``"form"``, ``"cli"``, ``"run"``).

    Raises:
        InputError: See :func:`check_export`; the two passphrases differ; the passphrase is empty or
            weaker than :data:`gapps_runbook.profile.backup.MIN_PASSPHRASE_SCORE`.
    """
    with worded_for(surface):
        chosen, target = check_export(store, names, out)
        if confirmation is not None and confirmation != passphrase:
            raise InputError("the two passphrases differ; nothing was exported",
                             fix=f"type the same passphrase in {backup.FORM_LABELS['passphrase']} and "
                                 f"{backup.FORM_LABELS['again']}")
        data = backup.export_bytes(chosen, passphrase)
    write_private(target, data)
    now, by, where = store.clock.time(), getpass.getuser(), target.resolve()
    for profile in chosen:
        backup.record_export(profile, where, now=now, by=by)
    return ExportResult(tuple(p.name for p in chosen), str(where), iso_utc(now), by)


def act_import(store: ProfileStore, path: str | Path, passphrase: str, *, force: bool = False,
               rename: str | None = None, issuer: str | None = None, surface: str = "run") -> list[ProbeOutcome]:
    """Import an export (see :func:`gapps_runbook.profile.backup.import_bytes`), then probe each profile.

    Args:
        rename: The export's only profile under this name ("" or None: its own name).
        surface: Whose words a refusal's fix uses (``"form"``, ``"cli"``, ``"run"``).

    Raises:
        InputError: The file is missing or unreadable, is not an export, the passphrase does not open it
            or it was changed, or a profile exists and ``force`` is False (nothing is written then).
    """
    with worded_for(surface):
        if not str(path).strip():
            raise InputError("no file to import was given", fixes=backup.fixes("{export_file}"))
        data = backup.read_export(Path(str(path).strip()))
        names = backup.import_bytes(data, passphrase, store, profile=(rename or "").strip() or None, force=force,
                                    probe=lambda staged: runbook.probe_refresh(staged, issuer or None))
    return [probe(store, name, issuer) for name in names]


def probe(store: ProfileStore, name: str, issuer: str | None = None) -> ProbeOutcome:
    """Refresh a restored profile's token at once; a refused grant is "authorize again (step 03)"."""
    site = runbook.Site(store.profile(name), issuer=issuer or None)
    if site.profile.load_client() is None or site.profile.load_token() is None:
        return ProbeOutcome(name, True, f"{name}: no token in the export: authorize ({STEP_AUTHORIZE}).")
    try:
        runbook.refresh(site)
    except InvalidGrant:
        error = NoToken(f"profile {name!r} was restored, but the provider refused its refresh token (invalid_grant): "
                        f"authorize again ({STEP_AUTHORIZE}). Likely: {REAUTHORIZE_CAUSES}",
                        fix=f"authorize again ({STEP_AUTHORIZE})")
        return ProbeOutcome(name, False, str(error), error)
    return ProbeOutcome(name, True, f"{name}: the restored token refreshed: it works.")


def raise_for_probes(outcomes: Sequence[ProbeOutcome]) -> None:
    """Raise the first refused probe's :class:`NoToken` (exit 7), after every profile was probed."""
    for outcome in outcomes:
        if outcome.error is not None:
            raise outcome.error


def act_last_exports(store: ProfileStore) -> list[tuple[str, Mapping[str, Any] | None]]:
    """Each profile's ``last_export`` record (None: never exported), by name."""
    return [(name, store.profile(name).load_settings().get("last_export")) for name in store.names()]
