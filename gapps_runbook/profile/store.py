"""Profiles on disk: the client, the settings and the token of one server connection.

Layout (all directories 0700, all files 0600)::

    <home>/profiles/<name>/settings.json          issuer, scopes, flow, checklist, steps (schema_version)
                           client.json            the console's {"installed": {...}} shape, with the secret
                           authorized_user.json   google-auth's authorized_user format + a gapps_runbook block
                           .lock                  the cross-process lock (filelock)

``<home>`` is ``$GAPPS_RUNBOOK_HOME`` or ``platformdirs.user_config_dir("gapps-runbook")``.

**Profiles are not meant to be backed up or copied.** The product this runbook serves keeps OAuth data
out of its backups; a copied refresh token is a long-lived bearer secret that Google neither rotates nor
binds to a sender (RFC 9700 §2.2.2). After a restore, authorize again.
The files are plain JSON protected only by their 0600 mode: nothing is encrypted
(:attr:`Profile.encrypted` is False; there is no OS-keyring backend).

How files are handled (targets S1-S3 in ``docs/reliability.md``):

- writes and reads go through :mod:`gapps_runbook.profile.private_files`: a 0600 temp file in the same
  directory (``O_CREAT|O_EXCL|O_NOFOLLOW``), fsync, ``os.replace``, fsync of the directory, then a
  check that the result is a 0600 regular file; reads use ``O_NOFOLLOW``, so a symlink is refused,
  never followed. gcloud's ``WriteFileAtomically`` lacks the fsyncs; gh and msal truncate in place.
- a file we own that is open to others (0644, 0666) is chmodded to 0600, as gcloud's
  ``PrivatizeFile`` does; a file owned by another user is refused. Directories looser than 0700 are
  tightened; another user's directory is refused.
- a corrupt file raises :class:`StoreError` naming the file and the step that rewrites it; it is
  never silently replaced by defaults and never overwritten automatically.
- read-modify-write runs under a :class:`filelock.FileLock` with a bounded wait and reloads inside
  the lock (msal-extensions' pattern). Between two writers of a token, the newest ``issued_at`` wins.
- JSON only, never pickle. Temp files left by a crash are removed by the next write, except a token's
  while a refresh is recorded as unfinished (``refresh.pending``): such a temp may hold the only copy
  of a refresh token the provider has already rotated, and :meth:`Profile.roll_forward_token` adopts it.
- ``profiles/.import-*`` and ``.replaced-*`` folders are an import's staging and the profile it
  replaced; a killed import can leave them, holding client secrets and refresh tokens.
  :meth:`ProfileStore.sweep_leftovers` removes them under the store lock that every import holds,
  except a staged profile marked ready (``import.ready``: probed, its history carried over) whose token
  is newer than the profile's: that import is finished (:func:`swap_in`), since its probe may have
  spent the profile's refresh token at a provider that rotates them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import copy
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import filelock

from ..oauth.clients import ClientConfig, _client_from_installed
from ..oauth.clock import SYSTEM_CLOCK, Clock, iso_utc
from ..errors import LockTimeout, RunbookError, StoreError
from .files import (  # noqa: F401 (the file names and defaults are part of the store's interface)
    CLIENT_FILE, DEFAULT_LOCK_TIMEOUT, HOME_ENV, LOCK_FILE, MAX_FILE_BYTES, NAME_RE, PENDING_FILE, SCHEMA_VERSION,
    SETTINGS_FILE,
    TOKEN_FILE, check_profile_name, check_schema, corrupt, default_home, default_settings, parse_json, read_json,
    shared_lock, write_json,
)
from . import audit
from .private_files import (
    ensure_private_dir, exchange_dirs, fsync_dir, read_private, remove_private, remove_stale_temps, stale_temps,
    verify_private_file,
)

if TYPE_CHECKING:
    from ..oauth.endpoints import Endpoints
    from ..oauth.tokens import Token

STORE_LOCK_FILE = ".store.lock"  # in ``profiles/``: held by an import from staging to swap, and by a sweep
LEFTOVER_PREFIXES = (".import-", ".replaced-")
ACTIVE_STAGING: set[str] = set()
"""Staging folders of imports running in this process (the store lock is re-entrant: they are not leftovers)."""
READY_FILE = "import.ready"  # in a staged profile: probed and ready to be swapped in as {"profile": name}


# --- the store ---------------------------------------------------------------------------------


class ProfileStore:
    """All profiles under one home folder.

    Args:
        home: The home folder; :func:`default_home` when None.
        clock: Wall clock for step timestamps and stored token expiry.
    """

    def __init__(self, home: Path | None = None, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.clock = clock
        self._swept = False

    @property
    def profiles_dir(self) -> Path:
        return self.home / "profiles"

    def profile(self, name: str) -> Profile:
        """The profile called ``name`` (its folder is created on first write or lock).

        The first profile opened through this store finishes or removes what a killed import left
        (:meth:`sweep_leftovers`), so a profile whose import was killed after its probe is whole again.
        """
        checked = check_profile_name(name)
        if not self._swept:
            self._swept = True
            with contextlib.suppress(RunbookError, OSError):  # a sweep that cannot run leaves things as they are
                self.sweep_leftovers()
        return Profile(self, checked)

    def names(self) -> list[str]:
        """Names of the existing profiles, sorted."""
        try:
            entries = list(os.scandir(self.profiles_dir))
        except FileNotFoundError:
            return []
        return sorted(
            e.name for e in entries
            if e.is_dir(follow_symlinks=False) and NAME_RE.fullmatch(e.name) and not e.name.startswith(".")
        )

    def listing(self) -> list[Profile]:
        """Every existing profile, for a read-only listing (``status --all``): folders checked once, no lock.

        The home, ``profiles`` and each profile folder are checked here once (another user's or not a
        plain folder: refused; looser than 0700: tightened), not before every read. Their files are then
        read once each and without the lock, which serializes read-modify-write only: every write
        replaces a file whole (``os.replace``), so a read sees the old file or the new one, never half.
        Symlinks and corrupt files are refused as on every read. Taking a profile's lock (any write)
        makes it an ordinary profile again.
        """
        profiles = [Profile(self, name, listed=True) for name in self.names()]
        if profiles:
            self.ensure_dirs(profiles[0].path)  # the home and profiles folders, once
        for profile in profiles[1:]:
            ensure_private_dir(profile.path, foreign_fix=f"set {HOME_ENV} to a folder of yours")
        return profiles

    @contextlib.contextmanager
    def locked(self, timeout: float = DEFAULT_LOCK_TIMEOUT) -> Iterator[None]:
        """Hold the store's lock (``profiles/.store.lock``): an import holds it from staging to swap.

        Raises:
            LockTimeout: Another process held it for more than ``timeout`` seconds.
        """
        self.home.parent.mkdir(parents=True, exist_ok=True)
        ensure_private_dir(self.home, follow=True, foreign_fix=f"set {HOME_ENV} to a folder of yours")
        ensure_private_dir(self.profiles_dir, foreign_fix=f"set {HOME_ENV} to a folder of yours")
        lock = shared_lock(self.profiles_dir / STORE_LOCK_FILE)
        try:
            lock.acquire(timeout=timeout)
        except filelock.Timeout:
            raise LockTimeout(f"the profiles under {self.profiles_dir} are locked by another gapps-runbook "
                              f"import (waited {timeout:g} s)") from None
        try:
            yield
        finally:
            lock.release()

    def leftovers(self) -> list[Path]:
        """``.import-*`` and ``.replaced-*`` folders under ``profiles/`` (an import's staging, a replaced profile)."""
        try:
            entries = list(os.scandir(self.profiles_dir))
        except FileNotFoundError:
            return []
        return sorted(Path(e.path) for e in entries
                      if e.name.startswith(LEFTOVER_PREFIXES) and e.is_dir(follow_symlinks=False)
                      and os.path.abspath(e.path) not in ACTIVE_STAGING)

    def sweep_leftovers(self, *, wait: float = 0.0) -> list[Path]:
        """Remove the folders a killed import left (:meth:`leftovers`), under the store lock.

        Args:
            wait: Seconds to wait for the lock; when an import holds it, its folders are not leftovers
                and nothing is removed.

        Returns:
            The leftovers that could not be removed (empty when the lock was busy: nothing is known left over).
        """
        if not self.leftovers():
            return []
        try:
            with self.locked(wait):
                return self._remove_leftovers()
        except LockTimeout:
            return []

    def _remove_leftovers(self) -> list[Path]:
        """Finish or remove :meth:`leftovers`; the caller holds the store lock. Returns those still there."""
        for path in self.leftovers():  # sorted: a staged ``.import-*`` is finished before ``.replaced-*`` goes
            try:
                self._finish_import(path)
            except (RunbookError, OSError):
                continue  # kept (and reported): it may hold the grant's only live refresh token
            shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(OSError):
            fsync_dir(self.profiles_dir)
        return self.leftovers()

    def _finish_import(self, path: Path) -> None:
        """Swap in a killed import's staged profile when its probe may have spent the profile's refresh token.

        The staged folder is finished only if it was complete (its :data:`READY_FILE` names the profile),
        cleared to replace it (probed, or nothing to probe; a refresh of the staged token that got as far
        as the disk counts: its token is newer than the one staged, rolled forward from a temp file if
        the kill came before the rename), and newer than the profile's token (else the profile moved on).
        """
        if not path.name.startswith(".import-"):
            return
        staged = Profile(self, path.name)
        ready = read_json(staged.file(READY_FILE)) or {}
        name, issued = ready.get("profile"), ready.get("issued_at")
        if not isinstance(name, str) or not NAME_RE.fullmatch(name) or name.startswith("."):
            return
        if os.path.lexists(staged.file(PENDING_FILE)):
            staged.roll_forward_token()
        new = staged.load_token()
        probed = ready.get("cleared") is True or (new is not None and isinstance(issued, (int, float))
                                                  and new.issued_at > issued)
        target = Profile(self, name)
        old = target.load_token() if target.exists() else None
        if not probed or new is None or (old is not None and old.issued_at >= new.issued_at):
            return  # not cleared, or the profile moved on since (a new grant, a refresh): the staged copy is stale
        with target.locked():
            if target.exists() and ready.get("history") is not True:
                audit.carry_over(target, staged)
            audit.append(staged, import_event(self.clock.time(), replacing=target.exists(),
                                              detail="finished an import that was killed before its swap"))
            swap_in(target, staged)

    def ensure_dirs(self, profile_path: Path) -> None:
        """Create (or tighten to 0700) the home, ``profiles`` and the profile folder."""
        foreign_fix = f"set {HOME_ENV} to a folder of yours"
        self.home.parent.mkdir(parents=True, exist_ok=True)
        ensure_private_dir(self.home, follow=True, foreign_fix=foreign_fix)  # the user may link the home
        ensure_private_dir(self.profiles_dir, foreign_fix=foreign_fix)
        ensure_private_dir(profile_path, foreign_fix=foreign_fix)


class Profile:
    """One server connection: ``<home>/profiles/<name>/``.

    Attributes:
        name: The profile name.
        path: Its folder.
        encrypted: Always False: files are protected by their 0600 mode only.
    """

    encrypted = False

    def __init__(self, store: ProfileStore, name: str, *, listed: bool = False) -> None:
        self.store = store
        self.name = name
        self.path = store.profiles_dir / name
        self._read: dict[str, bytes | None] | None = {} if listed else None  # ProfileStore.listing's bytes read

    def _json(self, name: str) -> dict[str, Any] | None:
        """One of the profile's files as JSON (a listed profile reads each file's bytes once)."""
        if self._read is None:
            return read_json(self.file(name))
        if name not in self._read:
            self._read[name] = read_private(self.file(name), MAX_FILE_BYTES + 1)
        return parse_json(self.file(name), self._read[name])

    def __repr__(self) -> str:
        return f"Profile({self.name!r}, path={str(self.path)!r})"

    def file(self, name: str) -> Path:
        return self.path / name

    def exists(self) -> bool:
        return self.path.is_dir()

    def _tighten(self) -> None:
        """Before a read: check and tighten the folders, if the profile exists (a listed one's were)."""
        if self._read is None and os.path.lexists(self.path):
            self.store.ensure_dirs(self.path)

    @contextlib.contextmanager
    def locked(self, timeout: float = DEFAULT_LOCK_TIMEOUT) -> Iterator[None]:
        """Hold the profile's cross-process lock; re-entrant within a thread.

        Raises:
            LockTimeout: Another process held it for more than ``timeout`` seconds.
        """
        self._read = None  # from here on, reads are the ordinary ones
        self.store.ensure_dirs(self.path)
        lock_path = self.file(LOCK_FILE)
        if lock_path.is_symlink():
            raise StoreError(f"{lock_path} is a symbolic link; refusing to use it", fix=f"remove the link {lock_path}")
        lock = shared_lock(lock_path)
        try:
            lock.acquire(timeout=timeout)
        except filelock.Timeout:
            raise LockTimeout(
                f"profile {self.name!r} is locked by another gapps-runbook process "
                f"(waited {timeout:g} s for {lock_path})"
            ) from None
        try:
            yield
        finally:
            lock.release()

    # settings -------------------------------------------------------------------------------

    def load_settings(self) -> dict[str, Any]:
        """The settings, with defaults for keys not yet recorded.

        Raises:
            StoreError: ``settings.json`` is corrupt, foreign, a symlink, or from a newer version.
        """
        self._tighten()
        path = self.file(SETTINGS_FILE)
        stored = self._json(SETTINGS_FILE)
        settings = default_settings()
        if stored is None:
            return settings
        check_schema(path, stored.get("schema_version"))
        for key in ("checklist", "steps"):
            if key in stored and not isinstance(stored[key], dict):
                raise corrupt(path, f"has a {key} value that is not an object")
        settings.update(stored)
        settings["schema_version"] = SCHEMA_VERSION
        return settings

    def update_settings(self, fn: Callable[[dict[str, Any]], dict[str, Any] | None]) -> dict[str, Any]:
        """Read-modify-write the settings under the lock; ``fn`` edits the dict (or returns a new one).

        Returns:
            The settings as written.

        Raises:
            StoreError: The file is corrupt (it is not overwritten), or the result is not JSON-able.
            LockTimeout: The lock could not be taken.
        """
        with self.locked():
            settings = self.load_settings()
            result = fn(settings)
            if isinstance(result, dict):
                settings = result
            settings["schema_version"] = SCHEMA_VERSION
            try:
                write_json(self.file(SETTINGS_FILE), settings)
            except (TypeError, ValueError) as exc:
                raise StoreError(f"the settings could not be saved as JSON ({exc})", fix="report this bug") from None
            return copy.deepcopy(settings)

    def set_checklist(self, item: str, done: bool) -> dict[str, Any]:
        """Tick (or untick) one console checklist item."""

        def edit(settings: dict[str, Any]) -> None:
            settings["checklist"][item] = bool(done)

        return self.update_settings(edit)

    # client ---------------------------------------------------------------------------------

    def save_client(self, client: ClientConfig, endpoints: Endpoints) -> None:
        """Write ``client.json`` in the console's shape plus a ``gapps_runbook`` block (type, name)."""
        document = client.to_installed_json(endpoints)
        document["gapps_runbook"] = {
            "schema_version": SCHEMA_VERSION,
            "client_type": client.client_type,
            "product_name": client.product_name,
            "auth_method": client.auth_method,
        }
        with self.locked():
            write_json(self.file(CLIENT_FILE), document)

    def load_client(self, endpoints: Endpoints | None = None) -> ClientConfig | None:
        """The saved client, or None.

        Args:
            endpoints: When given, ``auth_uri``/``token_uri`` are checked against it, as on import.

        Raises:
            StoreError: ``client.json`` is corrupt, foreign or a symlink.
        """
        self._tighten()
        path = self.file(CLIENT_FILE)
        document = self._json(CLIENT_FILE)
        if document is None:
            return None
        extra = document.get("gapps_runbook")
        installed = document.get("installed")
        if not isinstance(extra, dict) or not isinstance(installed, dict):
            raise corrupt(path, "lacks its 'installed' or 'gapps_runbook' object")
        check_schema(path, extra.get("schema_version"))
        auth_method = extra.get("auth_method")
        if auth_method not in (None, "client_secret_basic", "client_secret_post", "none"):
            raise corrupt(path, "has an auth_method that is not client_secret_basic, client_secret_post or none")
        try:
            client = _client_from_installed(
                installed,
                endpoints=endpoints,
                client_type=extra.get("client_type"),
                product_name=str(extra.get("product_name") or ""),
            )
            return dataclasses.replace(client, auth_method=auth_method)
        except RunbookError as exc:
            raise corrupt(path, f"is not usable: {exc.message}") from None

    # token ----------------------------------------------------------------------------------

    def _read_token(self) -> Token | None:
        from .authorized_user import token_from_authorized_user

        path = self.file(TOKEN_FILE)
        info = self._json(TOKEN_FILE)
        if info is None:
            return None
        extra = info.get("gapps_runbook")
        check_schema(path, extra.get("schema_version") if isinstance(extra, dict) else None)
        try:
            return token_from_authorized_user(info, now=self.store.clock.time())
        except RunbookError as exc:
            raise corrupt(path, f"is not usable: {exc.message}") from None

    def load_token(self) -> Token | None:
        """The saved token, or None (read under the lock, so never half of a concurrent write).

        Raises:
            StoreError: ``authorized_user.json`` is corrupt, foreign or a symlink.
        """
        if self._read is not None:
            return self._read_token()  # listed: read without the lock (see ProfileStore.listing)
        if not os.path.lexists(self.path):
            return None  # reading creates nothing
        with self.locked():
            return self._read_token()

    def _write_token(self, token: Token, client: ClientConfig, endpoints: Endpoints) -> None:
        from .authorized_user import authorized_user_info

        info = authorized_user_info(token, client, endpoints)
        extra = info.setdefault("gapps_runbook", {})
        extra["schema_version"] = SCHEMA_VERSION
        # while a refresh is unfinished, a temp of an earlier killed write may hold the only live token
        write_json(self.file(TOKEN_FILE), info, keep_stale_temps=os.path.lexists(self.file(PENDING_FILE)))

    def roll_forward_token(self) -> Token | None:
        """Adopt the newest complete token a killed write left in a temp file, if it is newer than the stored one.

        A refresh killed between the temp file's fsync and its rename leaves the provider's answer, complete,
        in ``.authorized_user.json.<hex>.tmp``; with a provider that rotates refresh tokens (RFC 9700
        §4.14.2) it holds the only refresh token still alive. A temp is adopted (renamed into place, as
        the killed writer would have done) only if it is a 0600 regular file of ours holding valid JSON
        that reads back as a token with a refresh token, for this profile's client, issued after the
        stored one. Call it under the lock.

        Returns:
            The adopted token, or None when no temp qualifies (the temps are left as they are).
        """
        from .authorized_user import token_from_authorized_user

        path = self.file(TOKEN_FILE)
        if not os.path.lexists(self.path):
            return None
        with self.locked():
            current = self._read_token()
            client = self.load_client()
            best: tuple[Path, Token] | None = None
            for temp in stale_temps(path):
                try:
                    info = parse_json(path, read_private(temp, MAX_FILE_BYTES + 1))
                    if info is None or (client is not None and info.get("client_id") != client.client_id):
                        continue
                    token = token_from_authorized_user(info, now=self.store.clock.time())
                except (RunbookError, OSError):
                    continue  # torn, foreign or not a token: not a candidate
                if not token.refresh_token or (current is not None and token.issued_at <= current.issued_at):
                    continue
                if best is None or token.issued_at > best[1].issued_at:
                    best = (temp, token)
            if best is None:
                return None
            os.replace(best[0], path)
            fsync_dir(self.path)
            verify_private_file(path)
            return best[1]

    def discard_token_temps(self) -> None:
        """Remove the token's temp files once a refresh finished and its token is stored (under the lock)."""
        with self.locked():
            remove_stale_temps(self.file(TOKEN_FILE))

    def save_token(self, token: Token, client: ClientConfig, endpoints: Endpoints) -> bool:
        """Write ``authorized_user.json`` unless the stored token is newer (by ``issued_at``).

        Returns:
            True if written; False if a token issued later was already stored (it is kept).

        Raises:
            StoreError: The existing file is corrupt (it is not overwritten).
            LockTimeout: The lock could not be taken.
        """
        with self.locked():
            current = self._read_token()
            if current is not None and current.issued_at > token.issued_at:
                return False
            self._write_token(token, client, endpoints)
            return True

    def delete_token(self) -> bool:
        """Remove ``authorized_user.json`` (a symlink there is removed, its target untouched).

        Returns:
            True if a file was removed.
        """
        with self.locked():
            return remove_private(self.file(TOKEN_FILE))


def swap_in(target: Profile, staging: Profile) -> None:
    """Replace ``target``'s folder by ``staging``'s, holding the target's lock; the old one goes last.

    The swap is one atomic exchange where the system has it (a crash leaves the old profile or the
    new one, never neither); elsewhere two renames, the old folder kept aside (``.replaced-*``) until
    the new one is in. The old profile ends at ``staging.path`` (or the ``.replaced-*`` folder is
    removed here); the caller removes ``staging.path``. The ready marker is removed from the new profile.
    """
    parent = target.path.parent
    if not target.exists():
        os.rename(staging.path, target.path)
        fsync_dir(parent)
        remove_private(target.file(READY_FILE))
        return
    old = None
    with target.locked():
        if not exchange_dirs(staging.path, target.path):
            old = parent / f".replaced-{target.name}-{secrets.token_hex(6)}"
            os.rename(target.path, old)  # kept until the new profile is in place
            os.rename(staging.path, target.path)
        fsync_dir(parent)
    remove_private(target.file(READY_FILE))
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def import_event(now: float, *, replacing: bool, detail: str | None = None) -> dict[str, Any]:
    """The audit line of an import (the fields :meth:`gapps_runbook.runbook.Site.audit` writes)."""
    inputs = {"force": replacing}
    detail = detail or ("replaced the profile from an export" if replacing else "restored the profile from an export")
    return {"when": iso_utc(now), "who": audit.operator(), "step": "import", "outcome": "ok", "detail": detail,
            "parameters": inputs, "inputs_sha256": audit.inputs_hash(inputs)}
