"""Hand the token to the application: a 0600 file where it reads it, proved by google-auth itself.

Two formats of the same values (:func:`gapps_runbook.profile.authorized_user.authorized_user_info`):

- ``authorized_user``: google-auth's JSON, which ``Credentials.from_authorized_user_file`` loads (and
  ``GOOGLE_APPLICATION_CREDENTIALS`` may point at); the runbook's own ``gapps_runbook`` block is left out.
- ``env``: ``KEY=value`` lines (:data:`ENV_KEYS`), unquoted, so the same file works for ``set -a; . FILE``,
  systemd's ``EnvironmentFile=`` and ``docker --env-file``; scopes are comma-separated.

The file is written with the one atomic writer (0600, fsync, rename), its folder created 0700; with
``owner`` (root only) the file is chowned before it is renamed into place, so the application never
sees a file it cannot read. Then google-auth loads what was written and refreshes it with
``google.auth.transport.requests.Request()``. google-auth replaces ``token_uri`` with Google's when it
loads a file, so the proof puts the file's ``token_uri`` back (``with_token_uri``): an application
talking to another provider must do the same.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import STEP_AUTHORIZE, InputError, NoToken, StoreError, TransportError
from ..safety.redact import redact, register_secret
from .authorized_user import authorized_user_info
from .private_files import ensure_private_dir, fsync_dir, refuse_foreign_target, write_atomic, write_private

if TYPE_CHECKING:
    from ..oauth.clients import ClientConfig
    from ..oauth.endpoints import Endpoints
    from ..oauth.tokens import Token

Format = Literal["authorized_user", "env"]
ENV_KEYS = ("GOOGLE_OAUTH_CLIENT_ID", "GOOGLE_OAUTH_CLIENT_SECRET", "GOOGLE_OAUTH_REFRESH_TOKEN",
            "GOOGLE_OAUTH_TOKEN_URI", "GOOGLE_OAUTH_SCOPES")
GOOGLE_AUTH_TOKEN_URI = "https://oauth2.googleapis.com/token"  # what from_authorized_user_info forces
_SAFE_VALUE = re.compile(r"[A-Za-z0-9._~:/@+=,%-]*")


@dataclass(frozen=True)
class HandoffResult:
    """What :func:`handoff` wrote and proved.

    Attributes:
        path: The file written.
        fmt: Its format.
        owner: The user it was chowned to, if any.
        refreshed_expiry: The access token's expiry google-auth got from its refresh (UTC ISO).
        notes: Remarks for the person (token_uri override, a rotated refresh token).
    """

    path: Path
    fmt: str
    owner: str | None
    refreshed_expiry: str
    notes: tuple[str, ...] = ()


def file_bytes(token: Token, client: ClientConfig, endpoints: Endpoints, fmt: Format) -> bytes:
    """The hand-off file's content (it holds secrets: write it only 0600)."""
    info = authorized_user_info(token, client, endpoints)
    info.pop("gapps_runbook", None)
    if fmt == "authorized_user":
        return (json.dumps(info, indent=2, sort_keys=True) + "\n").encode("utf-8")
    values = (info["client_id"], info.get("client_secret", ""), info.get("refresh_token", ""), info["token_uri"],
              ",".join(info.get("scopes", [])))
    for key, value in zip(ENV_KEYS, values):
        if not _SAFE_VALUE.fullmatch(value):
            raise InputError(f"{key} holds a character an env file cannot carry unquoted",
                             fix="use --format authorized_user")
    return "".join(f"{k}={v}\n" for k, v in zip(ENV_KEYS, values)).encode("utf-8")


def _owner_ids(owner: str | None) -> tuple[int, int] | None:
    if owner is None:
        return None
    if os.geteuid() != 0:
        raise InputError(f"--owner {owner} needs root (only root can chown)",
                         fix="run handoff as root, or run it as the application's user without --owner")
    try:
        entry = pwd.getpwnam(owner)
    except KeyError:
        raise InputError(f"there is no user {owner!r} on this machine", fix="pass the application's user name") from None
    return entry.pw_uid, entry.pw_gid


def write_handoff(path: Path, data: bytes, *, owner: str | None = None) -> None:
    """Write ``data`` to ``path`` 0600 and atomically, its folder created 0700 (and chowned when we made it).

    Raises:
        InputError: ``owner`` is given but we are not root, or the user does not exist.
        StoreError: ``path`` is a symlink or a folder, or its folder cannot be made.
    """
    ids = _owner_ids(owner)
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder", fix="pass the file the application reads, e.g. /etc/app/token.json")
    created = not path.parent.exists()
    if created:
        path.parent.parent.mkdir(parents=True, exist_ok=True)
        ensure_private_dir(path.parent)
    if ids is None:
        write_private(path, data)
        return
    if created:
        os.chown(path.parent, *ids)  # the application must be able to enter the folder we made
    if os.path.islink(path):
        refuse_foreign_target(path)
    staged = path.parent / f".{path.name}.{secrets.token_hex(8)}.handoff"
    write_atomic(staged, data)  # the bytes through the one writer: 0600, fsync
    try:
        os.chown(staged, *ids)  # before the rename: the application never sees a root-owned file
        os.replace(staged, path)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def prove(path: Path, fmt: Format) -> tuple[str, tuple[str, ...]]:
    """Load the hand-off file as the application would (google-auth) and refresh it.

    Returns:
        The refreshed access token's expiry (UTC ISO) and notes for the person.

    Raises:
        NoToken: The provider refused the refresh (``invalid_grant``): authorize again (exit 7).
        TransportError: The token endpoint could not be reached (exit 6).
    """
    import google.auth.exceptions
    from google.auth.transport.requests import Request
    from google.oauth2.credentials import Credentials

    info = _read_back(path, fmt)
    creds = Credentials.from_authorized_user_info(info) if fmt == "env" else Credentials.from_authorized_user_file(str(path))
    notes: list[str] = []
    if info["token_uri"] != GOOGLE_AUTH_TOKEN_URI:
        creds = creds.with_token_uri(info["token_uri"])
        notes.append("google-auth replaces token_uri with Google's when it loads the file; this provider's "
                     f"token_uri ({info['token_uri']}) was set back with with_token_uri, as the application must")
    try:
        creds.refresh(Request())
    except google.auth.exceptions.RefreshError as exc:
        if "invalid_grant" in str(exc):
            raise NoToken("google-auth loaded the hand-off file, but the provider refused its refresh token "
                          "(invalid_grant)", fix=f"authorize again ({STEP_AUTHORIZE}), then hand off again") from None
        raise TransportError(f"google-auth could not refresh the hand-off file ({redact(str(exc))[:200]})",
                             fix="check the network and the token_uri, then run handoff again") from None
    except google.auth.exceptions.TransportError as exc:
        raise TransportError(f"google-auth could not reach {info['token_uri']} ({redact(str(exc))[:200]})",
                             fix="check the network, then run handoff again") from None
    register_secret(creds.token)
    if creds.refresh_token and creds.refresh_token != info["refresh_token"]:
        register_secret(creds.refresh_token)
        notes.append("the provider rotated the refresh token during the proof: hand off again after every "
                     "refresh of this profile, or let only the application refresh")
    expiry = creds.expiry.isoformat(timespec="seconds") + "Z" if creds.expiry else "unknown"
    return expiry, tuple(notes)


def _read_back(path: Path, fmt: Format) -> dict[str, Any]:
    """The file as written, in ``authorized_user`` keys (what the proof loads)."""
    text = path.read_text("utf-8")
    if fmt == "authorized_user":
        info: dict[str, Any] = json.loads(text)
        return info
    values = dict(line.split("=", 1) for line in text.splitlines() if line)
    scopes = values.get("GOOGLE_OAUTH_SCOPES", "")
    return {"type": "authorized_user", "client_id": values["GOOGLE_OAUTH_CLIENT_ID"],
            "client_secret": values["GOOGLE_OAUTH_CLIENT_SECRET"], "refresh_token": values["GOOGLE_OAUTH_REFRESH_TOKEN"],
            "token_uri": values["GOOGLE_OAUTH_TOKEN_URI"], "scopes": scopes.split(",") if scopes else None}


def handoff(token: Token, client: ClientConfig, endpoints: Endpoints, to: Path, *, fmt: Format = "authorized_user",
            owner: str | None = None) -> HandoffResult:
    """Write the token where the application reads it, then prove google-auth loads and refreshes it.

    Args:
        token: The profile's token (it needs a refresh token).
        client: Its client.
        endpoints: Its provider (``token_uri``).
        to: The application's file.
        fmt: ``authorized_user`` (google-auth JSON) or ``env`` (:data:`ENV_KEYS`).
        owner: chown the file to this user (root only).

    Raises:
        NoToken: The token has no refresh token, or the provider refused it (exit 7).
        InputError: A bad ``owner``, ``to`` or format.
        StoreError: ``to`` is a symlink or another's file; nothing was written.
    """
    if fmt not in ("authorized_user", "env"):
        raise InputError(f"unknown hand-off format {fmt!r}", fix="use authorized_user or env")
    if not token.refresh_token:
        raise NoToken("the profile's token has no refresh token: the application could not renew it")
    try:
        write_handoff(to, file_bytes(token, client, endpoints, fmt), owner=owner)
    except OSError as exc:
        raise StoreError(f"cannot write {to} ({exc.strerror})", fix=f"check the folder {Path(to).parent}") from None
    expiry, notes = prove(Path(to), fmt)
    return HandoffResult(Path(to), fmt, owner, expiry, notes)
