"""Private files: 0600 files in 0700 folders, replaced atomically, read without following symlinks.

This is the file layer under :mod:`gapps_runbook.profile.store` (targets S1 and S3 of
``docs/reliability.md``: a crash leaves no torn file, nothing is readable by others):

- :func:`write_private`: the package's one atomic writer (:func:`gapps_runbook.safety.atomic.replace_file`:
  a temp file in the same folder made with ``os.open(O_CREAT|O_EXCL|O_WRONLY|O_NOFOLLOW, 0o600)``, write,
  fsync, ``os.replace``, fsync of the folder), after refusing a symlink or another user's file, then a check that the result is a 0600 regular file. A crash leaves either the old or the
  new file, plus at most a 0600 temp file that the next write of the same file removes (unless the
  caller keeps it: a temp may hold the only live copy of a rotated refresh token, see
  :meth:`gapps_runbook.profile.store.Profile.roll_forward_token`).
- :func:`read_private`: ``O_NOFOLLOW``, so a symlink is refused, never followed; a file of ours open to
  others is chmodded to 0600 (gcloud's ``PrivatizeFile``); another user's file is refused.
- :func:`ensure_private_dir`: create a folder 0700, or tighten it; refuse another user's folder.

Every refusal is a :class:`~gapps_runbook.errors.StoreError` naming the path. Nothing here knows about
profiles or JSON; callers serialise writers of one file (the store holds its profile lock).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

from ..errors import StoreError
from ..safety.atomic import FILE_MODE, O_CLOEXEC, O_NOFOLLOW, TEMP_SUFFIX, fsync_dir, replace_file, temp_prefix
from .secret_sources import read_fd

DIR_MODE = 0o700


def ensure_private_dir(path: Path, *, follow: bool = False, foreign_fix: str | None = None) -> None:
    """Create ``path`` 0700, or tighten an existing folder of ours to 0700.

    Args:
        path: The folder; its parent must exist.
        follow: Accept ``path`` being a symlink to a folder (the user's own home link).
        foreign_fix: The fix shown when the folder belongs to another user.

    Raises:
        StoreError: It cannot be created, is not a folder (or is a symlink and ``follow`` is False),
            or belongs to another user.
    """
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(
            f"cannot create the folder {path} ({exc.strerror})", fix="check the path and its parent's permissions"
        ) from None
    info = os.stat(path) if follow else os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise StoreError(f"{path} is not a plain folder (a symlink or a file); refusing it", fix=f"remove {path}")
    if info.st_uid != os.getuid():
        raise StoreError(
            f"the folder {path} belongs to another user (uid {info.st_uid})",
            fix=foreign_fix or "use a folder of yours",
        )
    if stat.S_IMODE(info.st_mode) != DIR_MODE:
        os.chmod(path, DIR_MODE)


def open_nofollow(path: Path) -> int | None:
    """Open ``path`` read-only without following a symlink or blocking on a FIFO.

    Returns:
        The file descriptor, or None if nothing is at ``path``.

    Raises:
        StoreError: ``path`` is a symlink, or cannot be opened.
    """
    try:
        return os.open(path, os.O_RDONLY | O_NOFOLLOW | O_CLOEXEC | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):
            raise StoreError(
                f"{path} is a symbolic link; refusing to follow it", fix=f"remove the link {path}"
            ) from None
        raise StoreError(f"cannot read {path} ({exc.strerror})", fix=f"check the permissions of {path}") from None


def privatize_fd(fd: int, path: Path) -> None:
    """Check the open file is a regular file of ours, and tighten it to 0600 (gcloud ``PrivatizeFile``).

    Raises:
        StoreError: It is not a regular file, or belongs to another user.
    """
    info = os.fstat(fd)  # of what was opened, not of the name: no check-then-open race
    if not stat.S_ISREG(info.st_mode):
        raise StoreError(f"{path} is not a regular file; refusing to read it", fix=f"remove {path}")
    if info.st_uid != os.getuid():
        raise StoreError(
            f"{path} belongs to another user (uid {info.st_uid}); refusing to read it", fix=f"remove {path}"
        )
    if stat.S_IMODE(info.st_mode) != FILE_MODE:
        os.fchmod(fd, FILE_MODE)


def read_private(path: Path, limit: int) -> bytes | None:
    """The bytes of a private file, after :func:`privatize_fd`.

    Args:
        path: The file.
        limit: Read at most this many bytes (pass one more than the largest size allowed, to detect it).

    Returns:
        The bytes, or None if nothing is at ``path``.

    Raises:
        StoreError: A symlink, not a regular file, another user's, or unreadable.
    """
    fd = open_nofollow(path)
    if fd is None:
        return None
    try:
        privatize_fd(fd, path)
        return read_fd(fd, limit)
    finally:
        os.close(fd)


def stale_temps(path: Path) -> list[Path]:
    """Temp files (or links) a crashed writer of ``path`` left behind."""
    prefix = temp_prefix(path)
    with os.scandir(path.parent) as entries:
        return [
            Path(entry.path) for entry in entries if entry.name.startswith(prefix) and entry.name.endswith(TEMP_SUFFIX)
        ]


def remove_stale_temps(path: Path) -> None:
    """Delete the temp files of ``path``; call it only while no other writer of ``path`` runs."""
    for temp in stale_temps(path):
        with contextlib.suppress(OSError):
            os.unlink(temp)  # unlink removes a link itself, never its target


RENAME_EXCHANGE = 2  # linux/fs.h: swap the two names atomically (renameat2(2), Linux 3.15+, glibc 2.28+)


def exchange_dirs(a: Path, b: Path) -> bool:
    """Swap two existing directory entries in one step (``renameat2(RENAME_EXCHANGE)``); True when done.

    False where the system cannot (not Linux, an old libc, a file system without it): the caller then
    falls back to two renames, which a crash between them can leave half done.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), RENAME_EXCHANGE)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(a))


def refuse_foreign_target(path: Path) -> None:
    """Refuse to replace a symlink or another user's file (the old file stays as it is).

    Raises:
        StoreError: ``path`` is a symlink, not a regular file, or another user's.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise StoreError(f"{path} is a symbolic link; refusing to replace it", fix=f"remove the link {path}")
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
        raise StoreError(f"{path} is not a regular file of yours; refusing to replace it", fix=f"remove {path}")


def verify_private_file(path: Path, mode: int = FILE_MODE) -> None:
    """Check ``path`` is a regular file with ``mode`` (after a replace).

    Raises:
        StoreError: It is not.
    """
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode) or stat.S_IMODE(info.st_mode) != mode:
        raise StoreError(f"{path} did not end up as a {mode:04o} file", fix=f"check the file system holding {path.parent}")


def write_atomic(path: Path, data: bytes, *, mode: int = FILE_MODE, keep_stale_temps: bool = False) -> None:
    """Atomically replace ``path`` with ``data`` (:func:`~gapps_runbook.safety.atomic.replace_file`), refusals first.

    The atomic writer of profiles, run folders, reports and re-rendered notebooks.
    Readers see the old bytes or the new bytes, never a mix, even if this process is killed.

    Args:
        path: The file to replace.
        data: Its new content.
        mode: Its permissions; 0600 unless the file is meant to be public (a committed notebook).
        keep_stale_temps: Leave the temp files an earlier, killed writer left (they may hold data
            found nowhere else); by default they are removed first.

    Raises:
        StoreError: ``path`` is a symlink or not ours (nothing is written), or the result lacks ``mode``.
        OSError: The disk failed; the old file is kept and the temp file removed.
    """
    refuse_foreign_target(path)
    if not keep_stale_temps:
        remove_stale_temps(path)
    replace_file(path, data, mode=mode)
    verify_private_file(path, mode)


def write_private(path: Path, data: bytes, *, keep_stale_temps: bool = False) -> None:
    """:func:`write_atomic` with mode 0600: what every profile file is."""
    write_atomic(path, data, mode=FILE_MODE, keep_stale_temps=keep_stale_temps)


def remove_private(path: Path) -> bool:
    """Unlink ``path`` (a symlink is removed, its target untouched) and flush the folder.

    Returns:
        True if something was removed.
    """
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    fsync_dir(path.parent)
    return True
