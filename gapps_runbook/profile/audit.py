"""The profile's append-only audit log: ``<profile>/audit.jsonl``, one JSON object per line.

Each line records who ran a step, when, which step, its outcome and its parameters, redacted::

    {"when": "2025-01-02T03:04:05+00:00", "who": "alice", "step": "authorize", "outcome": "ok",
     "detail": "desktop flow, account a@example.com", "parameters": {...}, "inputs_sha256": "..."}

The file is 0600 (checked and tightened on every append, as :func:`.private_files.privatize_fd` does),
opened with ``O_APPEND | O_NOFOLLOW`` under the profile lock, and never rewritten: a line is added by one
``write``. Nothing secret goes in: every string passes through :func:`gapps_runbook.safety.redact.redact`,
and keys that name a secret (``client_secret``, ``refresh_token``, ...) are dropped before the line is built.
"""

from __future__ import annotations

import errno
import getpass
import hashlib
import json
import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from ..errors import StoreError
from ..safety.redact import redact
from .files import MAX_FILE_BYTES
from .private_files import O_CLOEXEC, O_NOFOLLOW, open_nofollow, privatize_fd, write_private



class Profile(Protocol):
    """What the audit log needs of a :class:`~gapps_runbook.profile.store.Profile` (the store imports this module)."""

    def file(self, name: str) -> Path: ...
    def locked(self) -> AbstractContextManager[Any]: ...

AUDIT_FILE = "audit.jsonl"
SECRET_KEYS = frozenset({"client_secret", "secret", "access_token", "refresh_token", "id_token", "device_code",
                         "code", "code_verifier", "password", "passphrase", "token"})
"""Parameter names never recorded, whatever their value looks like."""
MAX_AUDIT_BYTES = 64 * MAX_FILE_BYTES


def operator() -> str:
    """Who runs the step: ``getpass.getuser()``, or ``unknown`` where no user name can be found."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no LOGNAME/USER and no passwd entry (some containers)
        return "unknown"


def clean(value: Any) -> Any:
    """``value`` with secret-named keys dropped and every string redacted (recursively).

    Args:
        value: Parameters: JSON-able mappings, sequences and scalars.

    Returns:
        A JSON-able copy safe to record.
    """
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items() if str(k).lower() not in SECRET_KEYS}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [clean(v) for v in items]
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact(str(value))


def inputs_hash(inputs: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces) of the cleaned inputs."""
    canonical = json.dumps(clean(inputs), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append(profile: Profile, record: Mapping[str, Any]) -> None:
    """Append one cleaned record as a line of ``audit.jsonl`` (created 0600), under the profile lock.

    Raises:
        StoreError: The file is a symlink, not a regular file, another user's, or cannot be written.
    """
    line = (json.dumps(clean(record), sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    path = profile.file(AUDIT_FILE)
    with profile.locked():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EMLINK):
                raise StoreError(f"{path} is a symbolic link; refusing to follow it", fix=f"remove the link {path}") from None
            raise StoreError(f"cannot write {path} ({exc.strerror})", fix=f"check the permissions of {path}") from None
        try:
            privatize_fd(fd, path)
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)


def _raw(profile: Profile) -> bytes:
    """The log's bytes as they are (empty when there is none), checked as :func:`read` checks them."""
    path = profile.file(AUDIT_FILE)
    fd = open_nofollow(path)
    if fd is None:
        return b""
    try:
        privatize_fd(fd, path)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_AUDIT_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_AUDIT_BYTES:
        raise StoreError(f"{path} is larger than {MAX_AUDIT_BYTES // 1024 // 1024} MiB",
                         fix=f"move {path} away (it is only a log); a new one is started")
    return data


def carry_over(source: Profile, target: Profile) -> None:
    """Put ``source``'s history in front of ``target``'s own lines (an import replacing ``source`` by ``target``).

    ``target``'s log is replaced atomically by the two logs one after the other; hold ``source``'s lock
    so no line is appended to it meanwhile.

    Raises:
        StoreError: Either log is a symlink, another user's, or too large.
    """
    old, own = _raw(source), _raw(target)
    if old and not old.endswith(b"\n"):
        old += b"\n"  # a line cut short by a crash stays a line of its own
    with target.locked():
        write_private(target.file(AUDIT_FILE), old + own)


def read(profile: Profile) -> list[dict[str, Any]]:
    """The records, oldest first (an empty list when there is no log yet).

    Raises:
        StoreError: The file is a symlink, another user's, too large, or a line is not a JSON object.
    """
    path = profile.file(AUDIT_FILE)
    data = _raw(profile)
    records = []
    for number, text in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        try:
            record = json.loads(text) if text.strip() else None
        except json.JSONDecodeError:
            record = "bad"
        if record is None:
            continue
        if not isinstance(record, dict):
            raise StoreError(f"{path} line {number} is not a JSON object", fix=f"fix or remove line {number} of {path}")
        records.append(record)
    return records
