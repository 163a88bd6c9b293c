"""The profile's files: names, JSON reading and writing with clear refusals, and the per-path lock.

:mod:`gapps_runbook.profile.store` builds profiles on these; the bytes go through
:mod:`gapps_runbook.profile.private_files` (0600, atomic, ``O_NOFOLLOW``).
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path
from typing import Any

import filelock
import platformdirs

from ..errors import STEP_AUTHORIZE, STEP_CHECKLIST, STEP_CLIENT, InputError, StoreError
from .private_files import read_private, write_private

SCHEMA_VERSION = 1
HOME_ENV = "GAPPS_RUNBOOK_HOME"
SETTINGS_FILE = "settings.json"
CLIENT_FILE = "client.json"
TOKEN_FILE = "authorized_user.json"
LOCK_FILE = ".lock"
PENDING_FILE = "refresh.pending"  # a refresh in flight (:mod:`gapps_runbook.profile.refresh_journal`)
DEFAULT_LOCK_TIMEOUT = 10.0
MAX_FILE_BYTES = 1024 * 1024

NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_REWRITE_STEP = {SETTINGS_FILE: STEP_CHECKLIST, CLIENT_FILE: STEP_CLIENT, TOKEN_FILE: STEP_AUTHORIZE}

_locks: dict[tuple[int, str], filelock.FileLock] = {}
_locks_guard = threading.Lock()


def default_home() -> Path:
    """``$GAPPS_RUNBOOK_HOME``, else the platform's per-user config folder for ``gapps-runbook``."""
    value = os.environ.get(HOME_ENV, "").strip()
    return Path(value).expanduser() if value else Path(platformdirs.user_config_dir("gapps-runbook"))


def default_settings() -> dict[str, Any]:
    """What ``settings.json`` holds before anything was recorded."""
    return {
        "schema_version": SCHEMA_VERSION,
        "issuer": None,
        "scopes": [],
        "flow": "auto",
        "expected_account": None,
        "publishing_status": None,
        "checklist": {},
        "steps": {},
    }


def check_profile_name(name: str) -> str:
    """Return ``name`` if it is 1-64 of ``A-Z a-z 0-9 . _ -`` and does not start with a dot.

    Raises:
        InputError: Otherwise (it becomes a folder name, so ``..`` and ``/`` must not get through).
    """
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or name.startswith("."):
        raise InputError(
            f"profile name {name!r} is not 1-64 letters, digits, '.', '_' or '-' (not starting with '.')",
            fix="pass --profile with a name like 'calendar-prod'",
        )
    return name


def corrupt(path: Path, what: str) -> StoreError:
    step = _REWRITE_STEP.get(path.name, STEP_CHECKLIST)
    return StoreError(
        f"{path} {what}; it was left as it is",
        fix=f"move the file away (or fix it by hand), then run {step} again to rewrite it",
    )


def read_json(path: Path) -> dict[str, Any] | None:
    """A profile file's JSON object; None if absent; StoreError if it is not a JSON object."""
    return parse_json(path, read_private(path, MAX_FILE_BYTES + 1))


def parse_json(path: Path, data: bytes | None) -> dict[str, Any] | None:
    """The JSON object in ``data`` (the bytes read from ``path``, None if absent); StoreError as :func:`read_json`."""
    if data is None:
        return None
    if len(data) > MAX_FILE_BYTES:
        raise corrupt(path, f"is larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise corrupt(path, "is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise corrupt(path, f"is not valid JSON (line {exc.lineno})") from None
    if not isinstance(value, dict):
        raise corrupt(path, "is JSON but not an object")
    return value


def check_schema(path: Path, version: Any) -> None:
    if version is None:
        return
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise corrupt(path, "has a schema_version that is not a positive integer")
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer gapps-runbook (schema {version}, this one reads {SCHEMA_VERSION})",
            fix="upgrade gapps-runbook",
        )


def write_json(path: Path, value: dict[str, Any], *, keep_stale_temps: bool = False) -> None:
    write_private(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode("utf-8"),
                  keep_stale_temps=keep_stale_temps)


def shared_lock(path: Path) -> filelock.FileLock:
    """One FileLock per lock path in this process, so nested ``locked()`` calls re-enter it.

    The key holds the pid: a forked child (multiprocessing's "fork") must not reuse the parent's
    instance, which filelock refuses ("inherited across fork") and which may hold the parent's lock.
    """
    key = (os.getpid(), os.path.abspath(path))
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = filelock.FileLock(key[1], mode=0o600)
        return lock
