"""Where the client secret comes from: an environment variable, a 0600 file, or a prompt.

Secrets never come from the command line (shell history, ``ps``), and
every secret read is passed to :func:`redact.register_secret` at once. :func:`read_fd` is the bounded
read that :mod:`gapps_runbook.profile.private_files` uses as well.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path

from ..errors import CONSOLE_CREDENTIALS, STEP_CLIENT, InputError
from ..safety.redact import register_secret

MAX_SECRET_FILE_BYTES = 64 * 1024
"""The most bytes read from a secret file (the same cap as a client JSON file)."""


def read_secret(
    *, env: str | None = None, file: Path | None = None, prompt: Callable[[], str] | None = None
) -> str:
    """Read the client secret from exactly one source; never from the command line.

    Args:
        env: Name of an environment variable holding the secret.
        file: Path of a file holding the secret; it must be a regular file that only its owner can
            read or write (mode 0600 or 0400). A symlink is followed (Kubernetes mounts secrets that
            way) and its target is checked. One trailing newline is removed.
        prompt: A callable that asks the user (e.g. ``getpass.getpass``).

    Returns:
        The secret, registered for redaction.

    Raises:
        InputError: Not exactly one source, the variable is unset or empty, the file is missing, not
            a regular file, open to other users, or empty, or the prompt returned nothing.
    """
    sources = [s for s in (env, file, prompt) if s is not None]
    if len(sources) != 1:
        raise InputError(
            f"give exactly one source for the client secret, not {len(sources)}",
            fix="use --secret-env NAME, --secret-file PATH, or answer the prompt",
        )
    if env is not None:
        value = _secret_from_env(env)
    elif file is not None:
        value = _secret_from_file(Path(file))
    else:
        assert prompt is not None
        value = _strip_newline(prompt() or "")
        if not value:
            raise InputError("no client secret was entered", fix=f"paste the secret ({STEP_CLIENT})")
    register_secret(value)
    return value


def terminal_prompt(ask: Callable[[], str], *, what: str, fix: str) -> Callable[[], str]:
    """``ask`` (a hidden prompt), run only when standard input is a terminal.

    Without one (cron, CI, a pipe) a hidden prompt cannot hide what is typed: Python's ``getpass``
    falls back to echoing it with a ``GetPassWarning``, or reads the first line of whatever is piped
    in. The prompt refuses instead, naming the non-interactive sources.

    Args:
        ask: Asks for the secret on the terminal (e.g. ``click.prompt(..., hide_input=True)``).
        what: What is asked for, e.g. ``"passphrase"``.
        fix: The flags that give it without a terminal.

    Raises:
        InputError: Standard input is not a terminal (raised when the prompt is called).
    """

    def prompt() -> str:
        if not sys.stdin or not sys.stdin.isatty():
            raise InputError(f"no terminal to ask for the {what} (standard input is not a terminal)", fix=fix)
        return ask()

    return prompt


def _strip_newline(value: str) -> str:
    """Remove one trailing line ending (files and ``echo`` add one)."""
    if value.endswith("\r\n"):
        return value[:-2]
    return value[:-1] if value.endswith("\n") else value


def _secret_from_env(name: str) -> str:
    value = _strip_newline(os.environ.get(name, ""))
    if not value:
        raise InputError(
            f"the environment variable {name} is not set or is empty",
            fix=f"export {name} with the client secret from the Clients page ({CONSOLE_CREDENTIALS})",
        )
    return value


def read_fd(fd: int, limit: int) -> bytes:
    """Read from ``fd`` until end of file or ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(fd, min(65536, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def read_regular_file(path: Path, limit: int, *, name: str, fix: str, too_large: str,
                      too_large_fix: str | None = None) -> bytes:
    """The bytes of a file a person names: refused before a byte is read unless it is a regular file of at
    most ``limit`` bytes. Opened with ``O_NONBLOCK``, so a FIFO cannot hang the command; ``fstat`` of what
    was opened refuses folders and devices (``/dev/zero`` would never end).

    Args:
        path: The file.
        limit: Its largest size in bytes.
        name: How messages name it ("the sites file /x.csv").
        fix: The fix line of every refusal (of the size one too, unless ``too_large_fix``).
        too_large: The refusal when it is larger than ``limit``.
        too_large_fix: Its own fix line.

    Raises:
        InputError: Missing, unreadable, not a regular file, or too large.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputError(f"cannot read {name} ({exc.strerror})", fix=fix) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{name} is not a regular file (a folder, device or pipe)", fix=fix)
        if info.st_size > limit:
            raise InputError(too_large, fix=too_large_fix or fix)
        return read_fd(fd, limit + 1)
    except OSError as exc:
        raise InputError(f"cannot read {name} ({exc.strerror})", fix=fix) from None
    finally:
        os.close(fd)


def _secret_from_file(path: Path) -> str:
    fix = f"put only the secret in {path}, then run: chmod 600 {path}"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputError(f"the secret file {path} does not exist", fix=fix) from None
    except OSError as exc:
        raise InputError(f"the secret file {path} cannot be opened ({exc.strerror})", fix=fix) from None
    try:
        info = os.fstat(fd)  # of what was opened, not of the name (no check-then-open race)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"the secret file {path} is not a regular file", fix=fix)
        if info.st_mode & 0o077:
            raise InputError(
                f"the secret file {path} is open to other users (mode {stat.S_IMODE(info.st_mode):04o})",
                fix=f"run: chmod 600 {path}",
            )
        data = read_fd(fd, MAX_SECRET_FILE_BYTES)
    finally:
        os.close(fd)
    try:
        value = _strip_newline(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"the secret file {path} is not UTF-8 text", fix=fix) from None
    if not value:
        raise InputError(f"the secret file {path} is empty", fix=fix)
    return value
