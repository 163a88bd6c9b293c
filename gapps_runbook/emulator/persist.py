"""The practice emulator's state on disk, so ``gapps-runbook emulator`` survives a restart.

``gapps-runbook emulator`` keeps one JSON file, ``<home>/emulator/state.json`` (``<home>`` is
``$GAPPS_RUNBOOK_HOME`` or the per-user config folder, as for profiles), 0600 in a 0700 folder:

* ``seed``: a random per-home value; the two demo clients' ids and secrets are derived from it
  (HMAC-SHA256), so they are the same after every restart and no secret is written in the source;
* the registered clients, the grants with their refresh tokens, revocations and rotated-out refresh
  tokens (so ``refresh`` and ``revoke`` keep working after a restart).

Access tokens, device sessions, consents and authorization codes are not kept: they live minutes, and
a refresh renews an access token. ``--fresh`` deletes the file. :class:`~.core.Emulator` uses this
module only when given a ``state_path``; tests and :func:`~.server.serve` stay in memory.

The file is written by :func:`gapps_runbook.safety.atomic.replace_file`, the package's one atomic
writer (temp file, fsync, rename, folder fsync), which sits below the emulator and the profile store alike.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import string
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..safety.atomic import replace_file
from .records import Grant, RegisteredClient
from .authorization_server import State

DEFAULT_PORT = 8765  # gapps-runbook emulator's default: the same address after every restart
STATE_FILE = "state.json"
FORMAT = 1
FILE_MODE, DIR_MODE = 0o600, 0o700
_ALNUM = string.ascii_lowercase + string.digits
_SECRET_CHARS = string.ascii_letters + string.digits + "-_"


def default_state_dir() -> Path:
    """``$GAPPS_RUNBOOK_HOME/emulator``, else ``emulator/`` in the per-user config folder of ``gapps-runbook``."""
    home = os.environ.get("GAPPS_RUNBOOK_HOME")
    if home:
        return Path(home).expanduser() / "emulator"
    import platformdirs

    return Path(platformdirs.user_config_dir("gapps-runbook")) / "emulator"


def new_seed() -> str:
    """A fresh per-home seed (256 random bits, hex)."""
    return secrets.token_hex(32)


def _derive(seed: str, label: str, alphabet: str, length: int) -> str:
    """``length`` characters of ``alphabet`` drawn from HMAC-SHA256(seed, label) (deterministic)."""
    out, counter = "", 0
    while len(out) < length:
        digest = hmac.new(seed.encode("ascii"), f"{label}:{counter}".encode(), hashlib.sha256).digest()
        out += "".join(alphabet[byte % len(alphabet)] for byte in digest)
        counter += 1
    return out[:length]


def demo_client(seed: str, client_type: str) -> tuple[str, str]:
    """The default client of ``client_type`` for this seed: (client id, secret), Google-shaped (:mod:`.facts`).

    Both demo clients belong to one project, whose 12-digit number also comes from the seed.
    """
    project = str(10**11 + int(_derive(seed, "project", string.digits, 12)) % (9 * 10**11))
    client_id = f"{project}-{_derive(seed, client_type + ':id', _ALNUM, 32)}.apps.googleusercontent.com"
    return client_id, "GOCSPX-" + _derive(seed, client_type + ":secret", _SECRET_CHARS, 28)


def corrupt(path: Path, why: str) -> InputError:
    """The one-line refusal of an unreadable state file."""
    return InputError(f"the emulator's state file {path} is unreadable ({why})",
                      fix="start the emulator with --fresh to start over (practice profiles then authorize again)")


class StateFile:
    """The state file: read once at start, rewritten atomically whenever the state changed.

    Args:
        path: The file (``state.json``); its folder is created 0700.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._written: bytes | None = None

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None when there is no file yet.

        Raises:
            InputError: The file is not the emulator's JSON state (one line naming the file and ``--fresh``).
        """
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise corrupt(self.path, exc.strerror or type(exc).__name__) from None
        with os.fdopen(fd, "rb") as handle:
            raw = handle.read()
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise corrupt(self.path, "not JSON") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("seed"), str):
            raise corrupt(self.path, f"not format {FORMAT} of the emulator's state")
        self._written = raw
        return data

    def save(self, data: dict[str, Any]) -> bool:
        """Write ``data`` (0600, atomic) unless it is what the file already holds; True if written."""
        raw = json.dumps(data, indent=1, sort_keys=True).encode("utf-8")
        with self._lock:
            if raw == self._written:
                return False
            _write_atomic(self.path, raw)
            self._written = raw
        return True

    def delete(self) -> bool:
        """Remove the file (``--fresh``); True if there was one."""
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            return False
        return True


def _write_atomic(path: Path, raw: bytes) -> None:
    path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path.parent, DIR_MODE)
    replace_file(path, raw, mode=FILE_MODE)


def snapshot(state: State, seed: str) -> dict[str, Any]:
    """What survives a restart: seed, clients, grants (refresh tokens, revocations), rotated-out tokens."""
    with state.lock:
        return {
            "format": FORMAT,
            "seed": seed,
            "clients": [asdict(client) for client in state.clients.values()],
            "grants": [asdict(grant) for grant in state.grants.values()],
            "retired_refresh_tokens": sorted(state.retired_refresh_tokens),
        }


def restore(state: State, data: dict[str, Any], path: Path) -> None:
    """Put the saved clients and grants back into ``state`` (live refresh tokens are the grants' own).

    Raises:
        InputError: An entry is not in the saved shape (the file names ``--fresh``).
    """
    try:
        clients = [RegisteredClient(**item) for item in _items(data, "clients")]
        grants = [Grant(**{**item, "scopes": tuple(item["scopes"])}) for item in _items(data, "grants")]
        retired = {str(token) for token in data.get("retired_refresh_tokens", [])}
    except (KeyError, TypeError, ValueError):
        raise corrupt(path, "an entry is not in the emulator's shape") from None
    for client in clients:
        state.register_client(client.client_id, client.client_secret, client.client_type, client.product_name)
    with state.lock:
        for grant in grants:
            state.grants[grant.grant_id] = grant
            if grant.refresh_token:
                state.refresh_tokens[grant.refresh_token] = grant.grant_id
        state.retired_refresh_tokens |= retired


def _items(data: dict[str, Any], key: str) -> Iterable[dict[str, Any]]:
    items = data.get(key, [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise TypeError(key)
    return items


class SavingApp:
    """A WSGI wrapper that saves the state after every request, when the request changed it.

    Args:
        app: The emulator's WSGI app.
        save: Writes the state if it changed (cheap when it did not).
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], save: Callable[[], object]) -> None:
        self.app = app
        self.save = save

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            return self.app(environ, start_response)
        finally:
            self.save()  # a JSON dump of a few grants: cheap, and no route that changes state is missed
