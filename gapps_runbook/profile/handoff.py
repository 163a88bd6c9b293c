"""Hand the token to the application: a 0600 file where it reads it, proved by google-auth itself.

Two formats of the same values (:func:`gapps_runbook.profile.authorized_user.authorized_user_info`):

- ``authorized_user``: google-auth's JSON, which ``Credentials.from_authorized_user_file`` loads (and
  ``GOOGLE_APPLICATION_CREDENTIALS`` may point at); the runbook's own ``gapps_runbook`` block is left out.
- ``env``: ``KEY=value`` lines (:data:`ENV_KEYS`), unquoted, so the same file works for ``set -a; . FILE``,
  systemd's ``EnvironmentFile=`` and ``docker --env-file``; scopes are comma-separated.

The file is written with the one atomic writer (0600, fsync, rename), its folder created 0700; with
``owner`` (root only) the file is chowned before it is renamed into place, so the application never
sees a file it cannot read. Then google-auth loads what was written, and the file is proved in one of
two ways:

- ``refresh`` (Google, and providers not known to rotate): google-auth refreshes it with
  ``google.auth.transport.requests.Request()``. Google does not rotate refresh tokens, so the profile
  and the application can both refresh the same grant. Should the provider answer with a new refresh
  token anyway, the old one is dead (RFC 9700 §4.14.2): the file is written again with the new one and
  the result says the application owns the grant from then on.
- ``access_token`` (providers that rotate refresh tokens): the refresh token is not spent; the access
  token written with it is checked at the provider (Google's tokeninfo, RFC 7662 introspection, or
  OpenID Connect UserInfo). The caller records that the application owns the refresh token, since two
  holders of a rotating refresh token kill each other's copy at the first refresh.

google-auth replaces ``token_uri`` with Google's when it loads a file, so the proof puts the file's
``token_uri`` back (``with_token_uri``): an application talking to another provider must do the same.

Files made from a form (04's hand-off, 05's export) go under the runbook home, in :data:`EXPORTS_FOLDER`
(created 0700), unless a full path is typed (:func:`form_target`): never into the installed package (the
app's Voilà root) nor the server's working folder, where nobody looks for them. The commands keep the
paths they are given.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import pwd
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import STEP_AUTHORIZE, InputError, InvalidToken, NoToken, StoreError, TransportError
from ..oauth import tokeninfo, userinfo
from ..oauth.clock import SYSTEM_CLOCK, Clock, iso_utc_z
from ..oauth.transport import Transport
from ..safety.redact import redact, register_secret
from .authorized_user import authorized_user_info
from .private_files import ensure_private_dir, fsync_dir, refuse_foreign_target, write_atomic, write_private

if TYPE_CHECKING:
    from ..oauth.clients import ClientConfig
    from ..oauth.endpoints import Endpoints
    from ..oauth.tokens import Token

Format = Literal["authorized_user", "env"]
Proof = Literal["refresh", "access_token"]
ENV_KEYS = ("GOOGLE_OAUTH_CLIENT_ID", "GOOGLE_OAUTH_CLIENT_SECRET", "GOOGLE_OAUTH_REFRESH_TOKEN",
            "GOOGLE_OAUTH_TOKEN_URI", "GOOGLE_OAUTH_SCOPES")
GOOGLE_AUTH_TOKEN_URI = "https://oauth2.googleapis.com/token"  # what from_authorized_user_info forces
_SAFE_VALUE = re.compile(r"[A-Za-z0-9._~:/@+=,%-]*")
EXPORTS_FOLDER = "exports"
"""The folder under the runbook home where a form writes the files it makes, unless given a full path."""


def exports_folder(home: Path) -> Path:
    """``<home>/exports`` as a full path (not created here): where 04's hand-off and 05's export go by default."""
    return Path(home).expanduser().absolute() / EXPORTS_FOLDER


def form_target(home: Path, typed: str, *, create: bool = True) -> str:
    """The full path a form's file box names: a name or relative path goes under :func:`exports_folder`.

    ``~/x`` and absolute paths stay as typed; "" stays "" (the action then says what to type). When the
    file goes under the exports folder and ``create``, the folder is created 0700 (or tightened to it) first.

    Args:
        home: The runbook home (``ProfileStore.home``).
        typed: What the person typed.
        create: Make the exports folder (a file is written there); False for a file that is only read.

    Raises:
        StoreError: The exports folder cannot be made, is not a plain folder, or is another user's.
    """
    text = typed.strip()
    if not text:
        return ""
    path = Path(text).expanduser()
    if path.is_absolute():
        return str(path)
    folder = exports_folder(home)
    if create:
        folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        ensure_private_dir(folder)
    return str(folder / path)


@dataclass(frozen=True)
class HandoffResult:
    """What :func:`handoff` wrote and proved.

    Attributes:
        path: The file written.
        fmt: Its format.
        owner: The user it was chowned to, if any.
        refreshed_expiry: The access token's expiry: the one google-auth got from its refresh, or (proof
            ``access_token``) the checked one's (UTC ISO).
        notes: Remarks for the person (token_uri override, a rotated refresh token).
        proof: ``refresh`` (google-auth refreshed the file) or ``access_token`` (the refresh token was
            not spent; the access token was checked at the provider).
        application_owns: The refresh token is the application's alone now: the provider rotates (or
            rotated during the proof), so the profile must not refresh it.
    """

    path: Path
    fmt: str
    owner: str | None
    refreshed_expiry: str
    notes: tuple[str, ...] = ()
    proof: Proof = "refresh"
    application_owns: bool = False

    @property
    def proof_line(self) -> str:
        """One sentence on how the file was proved."""
        if self.proof == "access_token":
            return ("google-auth loaded it; its access token was checked at the provider (valid until "
                    f"{self.refreshed_expiry}); the refresh token was not spent")
        return f"google-auth loaded it and refreshed: new access token valid until {self.refreshed_expiry}"


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


def prove(path: Path, fmt: Format) -> tuple[str, tuple[str, ...], Any]:
    """Load the hand-off file as the application would (google-auth) and refresh it.

    Returns:
        The refreshed access token's expiry (UTC ISO), notes for the person, and google-auth's
        credentials when the provider rotated the refresh token during the refresh (else None).

    Raises:
        NoToken: The provider refused the refresh (``invalid_grant``): authorize again (exit 7).
        TransportError: The token endpoint could not be reached (exit 6).
    """
    import google.auth.exceptions
    from google.auth.transport.requests import Request

    info = _read_back(path, fmt)
    creds = _load(path, fmt, info)
    notes = list(_token_uri_notes(info))
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
    rotated = None
    if creds.refresh_token and creds.refresh_token != info["refresh_token"]:
        register_secret(creds.refresh_token)
        rotated = creds
        notes.append("the provider rotated the refresh token during the proof: the file holds the new one and "
                     "the application owns the grant; the profile no longer refreshes it")
    expiry = creds.expiry.isoformat(timespec="seconds") + "Z" if creds.expiry else "unknown"
    return expiry, tuple(notes), rotated


def _load(path: Path, fmt: Format, info: dict[str, Any]) -> Any:
    """google-auth's ``Credentials`` for the file, as the application loads it, with the file's ``token_uri``."""
    from google.oauth2.credentials import Credentials

    creds = Credentials.from_authorized_user_info(info) if fmt == "env" else Credentials.from_authorized_user_file(str(path))
    if info["token_uri"] != GOOGLE_AUTH_TOKEN_URI:
        creds = creds.with_token_uri(info["token_uri"])
    return creds


def _token_uri_notes(info: dict[str, Any]) -> tuple[str, ...]:
    if info["token_uri"] == GOOGLE_AUTH_TOKEN_URI:
        return ()
    return ("google-auth replaces token_uri with Google's when it loads the file; this provider's "
            f"token_uri ({info['token_uri']}) was set back with with_token_uri, as the application must",)


def prove_without_refresh(path: Path, fmt: Format, token: Token, client: ClientConfig, endpoints: Endpoints, *,
                          transport: Transport, clock: Clock = SYSTEM_CLOCK) -> tuple[str, tuple[str, ...]]:
    """Load the hand-off file with google-auth and check its access token at the provider; spend nothing.

    With a provider that rotates refresh tokens, a proof by refresh would retire the token just
    written (RFC 9700 §4.14.2). Instead the file must load with google-auth and carry the profile's
    refresh token, and the access token issued with it must be alive at the provider: Google's
    tokeninfo, RFC 7662 introspection, or OpenID Connect UserInfo (Core §5.3). An ``env`` file carries
    no access token; the one issued with its refresh token is checked.

    Returns:
        The access token's expiry (UTC ISO) and notes for the person.

    Raises:
        NoToken: The file does not load with the refresh token, or the provider refused the access token.
        TransportError: The provider could not be reached (exit 6).
    """
    info = _read_back(path, fmt)
    creds = _load(path, fmt, info)
    if creds.refresh_token != token.refresh_token or (fmt == "authorized_user" and creds.token != token.access_token):
        raise NoToken(f"google-auth loaded {path}, but it does not hold the profile's token",
                      fix="run handoff again; do not edit the file while it is written")
    try:
        checked = tokeninfo.inspect_token(transport, endpoints, token, clock=clock, client=client)
        if checked.source == "token_response" and endpoints.userinfo_endpoint:
            userinfo.fetch_userinfo(transport, endpoints, token, clock=clock)
    except InvalidToken:
        raise NoToken(f"google-auth loaded {path}, but the provider refused the access token handed off with it",
                      fix=f"run refresh ({STEP_AUTHORIZE} if it fails), then hand off again") from None
    notes = list(_token_uri_notes(info))
    if checked.source == "token_response" and not endpoints.userinfo_endpoint:
        notes.append("the provider publishes no tokeninfo, introspection or UserInfo endpoint: the access token "
                     "could not be checked there, only loaded")
    return iso_utc_z(token.expires_at), tuple(notes)


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
            owner: str | None = None, proof: Proof = "refresh", transport: Transport | None = None,
            clock: Clock = SYSTEM_CLOCK) -> HandoffResult:
    """Write the token where the application reads it, then prove google-auth loads it (see the module docstring).

    Args:
        token: The profile's token (it needs a refresh token).
        client: Its client.
        endpoints: Its provider (``token_uri``).
        to: The application's file.
        fmt: ``authorized_user`` (google-auth JSON) or ``env`` (:data:`ENV_KEYS`).
        owner: chown the file to this user (root only).
        proof: ``refresh`` (google-auth refreshes the file) or ``access_token`` (nothing spent; for
            providers that rotate refresh tokens; needs ``transport``).
        transport: The HTTP seam for the ``access_token`` proof.
        clock: Its clock.

    Raises:
        NoToken: The token has no refresh token, or the provider refused it (exit 7).
        InputError: A bad ``owner``, ``to`` or format.
        StoreError: ``to`` is a symlink or another's file; nothing was written.
    """
    if fmt not in ("authorized_user", "env"):
        raise InputError(f"unknown hand-off format {fmt!r}", fix="use authorized_user or env")
    if not token.refresh_token:
        raise NoToken("the profile's token has no refresh token: the application could not renew it")
    _write(to, file_bytes(token, client, endpoints, fmt), owner)
    if proof == "access_token":
        if transport is None:
            raise ValueError("the access_token proof needs a transport")
        expiry, notes = prove_without_refresh(Path(to), fmt, token, client, endpoints, transport=transport, clock=clock)
        return HandoffResult(Path(to), fmt, owner, expiry, notes, "access_token", True)
    expiry, notes, rotated = prove(Path(to), fmt)
    if rotated is None:
        return HandoffResult(Path(to), fmt, owner, expiry, notes)
    # the provider rotated: only the new refresh token lives, so it goes to the file, the grant's one owner
    moved = dataclasses.replace(token, refresh_token=rotated.refresh_token, access_token=rotated.token,
                                expires_at=rotated.expiry.replace(tzinfo=datetime.timezone.utc).timestamp()
                                if rotated.expiry else token.expires_at)
    _write(to, file_bytes(moved, client, endpoints, fmt), owner)
    return HandoffResult(Path(to), fmt, owner, expiry, notes, "refresh", True)


def _write(to: Path, data: bytes, owner: str | None) -> None:
    try:
        write_handoff(to, data, owner=owner)
    except OSError as exc:
        raise StoreError(f"cannot write {to} ({exc.strerror})", fix=f"check the folder {Path(to).parent}") from None
