"""The package's one atomic file writer: temp file, fsync, rename, fsync of the folder.

A reader sees the old bytes or the new bytes, never a mix, even if the writer is killed: the bytes go
to a new temp file in the same folder (``O_CREAT|O_EXCL|O_NOFOLLOW``, 0600 while written, so a
planted link or file is never written through), which is fsync-ed, renamed over the target
(``os.replace``, atomic on POSIX, rename(2)) and made durable by an fsync of the folder (fsync(2):
"Calling fsync() does not necessarily ensure that the entry in the directory containing the file has
also reached disk"). A crash leaves at most one temp file, named ``.<name>.<16 hex>.tmp``.

It is here, in the lowest layer, so that both the profile store
(:func:`gapps_runbook.profile.private_files.write_atomic`, which adds its refusals and checks) and the
emulator's state file (:mod:`gapps_runbook.emulator.persist`, which may not import the profile layer)
write through it. Standard library only; failures are ``OSError``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
TEMP_SUFFIX = ".tmp"
FILE_MODE = 0o600


def temp_prefix(path: Path) -> str:
    """Temp files for ``path`` are named ``.<name>.<16 hex>.tmp`` in the same folder."""
    return f".{path.name}."


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename or unlink in it) to disk."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(path: Path, data: bytes, mode: int) -> Path:
    """Write ``data`` to a new temp file next to ``path`` (0600 while written) and fsync it; remove it on failure."""
    temp = path.parent / f"{temp_prefix(path)}{secrets.token_hex(8)}{TEMP_SUFFIX}"
    fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | O_NOFOLLOW | O_CLOEXEC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)  # the umask can only have narrowed it; be explicit
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return temp


def replace_file(path: Path, data: bytes, *, mode: int = FILE_MODE) -> None:
    """Atomically replace ``path`` (in an existing folder) with ``data``, with permissions ``mode``.

    Raises:
        OSError: The disk failed; the old file is kept and the temp file removed.
    """
    temp = _write_temp(path, data, mode)
    try:
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    fsync_dir(path.parent)
