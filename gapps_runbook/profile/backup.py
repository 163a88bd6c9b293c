"""Encrypted export and import of profiles: age with a passphrase (scrypt) recipient.

A standard age v1 file (https://age-encryption.org/v1) made by pyrage: ``age --decrypt`` opens it with the passphrase.
Inside, one JSON document (:data:`FORMAT`, schema 1): per profile its settings, ``client.json`` and the
refresh token's record; never access tokens, ID tokens or device codes.

Import, in this order (authenticate before parsing, bound the work factor first):

1. the age header is read as text up to ``---`` and its one ``scrypt`` stanza's work factor (log2 N)
   is checked against a bound, before any scrypt work (age.md: "SHOULD apply an upper limit");
2. pyrage decrypts: the header MAC and the payload's ChaCha20-Poly1305 tags authenticate every byte
   before one byte of JSON is parsed; a wrong passphrase and a changed byte both stop here;
3. the JSON is validated (format, schema version, profile names, settings, the client through the
   store's own checks, the token's record) before anything is written;
4. each profile is written through the store (``save_client``, ``save_token``, ``update_settings``) into
   a hidden staging folder and read back by the store's loaders;
5. a profile that replaces another (``force``) has its staged token probed first (the caller's
   ``probe``: a refresh at the provider): if the provider refuses it, the old profile is left exactly
   as it was and the refusal says so (exit 7). An export older than the grant is refused here at a
   provider that rotates refresh tokens;
6. the old profile's audit log is carried into the staged one, the import appended to it as an event,
   the staged folder marked ready (``import.ready``: the probe may have spent the old refresh token, so
   a killed import must be finished, not undone) and swapped in: the old profile stays (as
   ``.replaced-*``) until the new one is in place.

The whole import holds the store lock (:meth:`ProfileStore.locked`); it starts by removing the
``.import-*``/``.replaced-*`` folders a killed import left (:meth:`ProfileStore.sweep_leftovers`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyrage

from ..errors import STEP_AUTHORIZE, ExitCode, InputError, NoToken, RunbookError, StoreError
from ..oauth.client_json import _client_from_installed
from ..oauth.clock import iso_utc
from ..oauth.clients import GOOGLE_CERTS_URL, ClientConfig
from ..oauth.endpoints import GOOGLE_ISSUER, Endpoints
from ..safety.redact import register_secret
from . import audit
from .authorized_user import token_from_authorized_user
from .files import CLIENT_FILE, SETTINGS_FILE, TOKEN_FILE, check_profile_name, read_json
from .private_files import write_private
from .store import ACTIVE_STAGING, READY_FILE, Profile, ProfileStore, import_event, swap_in

FORMAT = "gapps-runbook-export"
EXPORT_SCHEMA = 1
MAX_WORK_FACTOR = 22  # log2 N; Go age's default limit. pyrage's encryptor picks about 1 s of work (~18-20)
MAX_EXPORT_BYTES = 16 * 1024 * 1024
MAX_HEADER_BYTES = 4096
AGE_MAGIC = b"age-encryption.org/v1\n"
SETTINGS_KEYS = ("issuer", "scopes", "flow", "expected_account", "publishing_status", "project_id", "checklist", "steps")
TOKEN_KEYS = ("type", "refresh_token", "token_uri", "scopes", "account")
TOKEN_EXTRA_KEYS = ("issued_at", "issuer", "refresh_token_expires_at")
_SALT_RE = re.compile(rb"[A-Za-z0-9+/]{22}")
_LOGN_RE = re.compile(rb"[1-9][0-9]?")
IMPORT_LOCK_TIMEOUT = 300.0
"""Seconds an import waits for another import (which may be probing a token at the provider)."""
Probe = Callable[[Profile], None]
"""Check a staged profile's token at the provider (a refresh); raises :class:`RunbookError` when refused."""
_FIX_FILE = "check the passphrase, and use the export file exactly as it was written (any changed byte is refused)"


def scrypt_work_factor(data: bytes) -> int:
    """The log2 N of an age file's one ``scrypt`` stanza, read from the text header (age.md "scrypt").

    Raises InputError when it is not an age v1 file whose header is exactly one well-formed scrypt stanza.
    """
    if data.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----"):
        raise InputError("the file is ASCII-armored age; this runbook writes and reads binary age files",
                         fix="run: age --decrypt file | age --passphrase -o export.age (or re-export)")
    if not data.startswith(AGE_MAGIC):
        raise InputError("the file is not an age-encrypted gapps-runbook export (no age v1 header)", fix=_FIX_FILE)
    end = data.find(b"\n---", 0, MAX_HEADER_BYTES)
    if end < 0:
        raise InputError("the export's age header is damaged (no end of header)", fix=_FIX_FILE)
    lines = data[len(AGE_MAGIC):end].split(b"\n")
    stanzas = [line for line in lines if line.startswith(b"-> ")]
    if len(stanzas) != 1 or not lines[0].startswith(b"-> "):
        raise InputError("the export is not encrypted to a passphrase alone (age.md: an scrypt stanza must be "
                         "the only one)", fix="export again with gapps-runbook export")
    args = stanzas[0][3:].split(b" ")
    if len(args) != 3 or args[0] != b"scrypt" or not _SALT_RE.fullmatch(args[1]) or not _LOGN_RE.fullmatch(args[2]):
        raise InputError("the export is not passphrase-encrypted, or its scrypt stanza is damaged", fix=_FIX_FILE)
    return int(args[2])


def encrypt(plaintext: bytes, passphrase: str) -> bytes:
    """age-encrypt ``plaintext`` to a passphrase (pyrage's scrypt recipient, its default work factor)."""
    _check_passphrase(passphrase)
    return bytes(pyrage.passphrase.encrypt(plaintext, passphrase))


def decrypt(data: bytes, passphrase: str, *, max_work_factor: int = MAX_WORK_FACTOR) -> bytes:
    """Check the work factor, then decrypt and authenticate every byte (age's header MAC and STREAM tags).

    Raises:
        InputError: Too large, not an age scrypt file, a work factor above ``max_work_factor`` (checked
            before any scrypt work), or decryption failed (a wrong passphrase or a changed byte).
    """
    _check_passphrase(passphrase)
    if len(data) > MAX_EXPORT_BYTES:
        raise InputError(f"the file is larger than {MAX_EXPORT_BYTES // 2**20} MiB: not an export", fix=_FIX_FILE)
    log_n = scrypt_work_factor(data)
    if log_n > max_work_factor:
        raise InputError(f"the export asks for scrypt work factor 2^{log_n}, above the limit 2^{max_work_factor}",
                         fix="re-export with gapps-runbook export (it picks about 1 s of work)")
    try:
        return bytes(pyrage.passphrase.decrypt(data, passphrase))
    except pyrage.DecryptError:
        raise InputError("the export could not be decrypted: wrong passphrase, or the file was changed or damaged",
                         fix=_FIX_FILE) from None


def _check_passphrase(passphrase: str) -> None:
    if not isinstance(passphrase, str) or not passphrase:
        raise InputError("the passphrase is empty", fix="give a passphrase (--passphrase-env, --passphrase-file or the prompt)")
    register_secret(passphrase)


def profile_record(profile: Profile) -> dict[str, Any]:
    """One profile's part of an export: settings, client, refresh-token record; never an access token.

    Raises:
        InputError: The profile does not exist. StoreError: a file of it is corrupt (the store's checks).
    """
    if not profile.exists():
        raise InputError(f"profile {profile.name!r} does not exist", fix="gapps-runbook status --all lists the profiles")
    with profile.locked():
        settings = profile.load_settings()
        client = profile.load_client()  # the store's checks, and the secrets registered
        token = profile.load_token()
        client_doc = read_json(profile.file(CLIENT_FILE)) if client is not None else None
        stored = read_json(profile.file(TOKEN_FILE)) if token is not None and token.refresh_token else None
    record: dict[str, Any] = {"settings": {k: settings[k] for k in SETTINGS_KEYS if k in settings},
                              "client": client_doc, "token": None}
    if stored is not None:
        extra = stored.get("gapps_runbook") or {}
        record["token"] = {k: stored[k] for k in TOKEN_KEYS if k in stored}
        record["token"]["gapps_runbook"] = {k: extra[k] for k in TOKEN_EXTRA_KEYS if k in extra}
    return record


def export_document(profiles: Sequence[Profile], *, now: float) -> dict[str, Any]:
    """The plaintext document of an export (it holds secrets: only ever encrypt it)."""
    if not profiles:
        raise InputError("no profile to export", fix="name one or more profiles: gapps-runbook export NAME --out FILE")
    return {"format": FORMAT, "schema_version": EXPORT_SCHEMA, "exported_at": iso_utc(now),
            "profiles": {p.name: profile_record(p) for p in profiles}}


def export_bytes(profiles: Sequence[Profile], passphrase: str, *, now: float | None = None) -> bytes:
    """The age-encrypted export of ``profiles`` (see the module docstring for what is in it)."""
    _check_passphrase(passphrase)
    at = now if now is not None else (profiles[0].store.clock.time() if profiles else 0.0)
    document = export_document(profiles, now=at)
    return encrypt(json.dumps(document, sort_keys=True).encode("utf-8"), passphrase)


def parse_document(plaintext: bytes) -> dict[str, dict[str, Any]]:
    """The profiles of an authenticated plaintext, validated (format, schema, names, fields); else InputError."""
    try:
        document = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InputError("the export decrypted but holds no JSON document", fix="export again with gapps-runbook export") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InputError("the file decrypted but is not a gapps-runbook export", fix="import only files made by gapps-runbook export")
    version = document.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InputError("the export's schema_version is not a positive integer", fix="export again")
    if version > EXPORT_SCHEMA:
        raise InputError(f"the export was written by a newer gapps-runbook (schema {version})", fix="upgrade it")
    profiles = document.get("profiles")
    if not isinstance(profiles, dict) or not profiles:
        raise InputError("the export holds no profiles", fix="export again, naming the profiles")
    for name, record in profiles.items():
        check_profile_name(name)
        _check_record(name, record)
    return profiles


def _bad(name: str, what: str) -> InputError:
    return InputError(f"the export's profile {name!r} {what}", fix="export it again from the machine that has it")


def _check_record(name: str, record: Any) -> None:
    """Validate one profile's record without writing anything."""
    if not isinstance(record, dict) or set(record) - {"settings", "client", "token"}:
        raise _bad(name, "is not a settings/client/token object")
    settings = record.get("settings")
    if not isinstance(settings, dict) or set(settings) - set(SETTINGS_KEYS):
        raise _bad(name, "has settings this version does not know")
    for key in ("checklist", "steps"):
        if not isinstance(settings.get(key, {}), dict):
            raise _bad(name, f"has a {key} that is not an object")
    if not isinstance(settings.get("scopes", []), list) or not all(isinstance(s, str) for s in settings.get("scopes", [])):
        raise _bad(name, "has scopes that are not a list of strings")
    if record.get("token") is not None and record.get("client") is None:
        raise _bad(name, "has a token but no client")
    try:
        if record.get("client") is not None:
            client_and_endpoints(record["client"], settings)
        if record.get("token") is not None:
            token_record(record["token"])
    except RunbookError as exc:
        raise _bad(name, f"is not usable: {exc.message}") from None


def client_and_endpoints(document: Any, settings: Mapping[str, Any]) -> tuple[ClientConfig, Endpoints]:
    """The client of a ``client.json`` document, checked as :meth:`Profile.load_client` checks it,
    and the endpoints :meth:`Profile.save_client` needs to write the same document again."""
    if not isinstance(document, dict) or not isinstance(document.get("installed"), dict):
        raise StoreError("its client lacks the 'installed' object")
    extra, installed = document.get("gapps_runbook") or {}, document["installed"]
    if not isinstance(extra, dict) or extra.get("auth_method") not in (None, "client_secret_basic", "client_secret_post", "none"):
        raise StoreError("its client has an unknown auth_method")
    if not isinstance(installed.get("token_uri"), str) or not isinstance(installed.get("auth_uri", ""), str):
        raise StoreError("its client lacks a token_uri")
    client = _client_from_installed(installed, endpoints=None, client_type=extra.get("client_type"),
                                    product_name=str(extra.get("product_name") or ""))
    google = installed.get("auth_provider_x509_cert_url") == GOOGLE_CERTS_URL
    endpoints = Endpoints(issuer=GOOGLE_ISSUER if google else str(settings.get("issuer") or ""),
                          authorization_endpoint=installed.get("auth_uri", ""), token_endpoint=installed["token_uri"])
    return dataclasses.replace(client, auth_method=extra.get("auth_method")), endpoints


def token_record(record: Any) -> tuple[Any, Endpoints]:
    """The refresh-only :class:`Token` of an export's token record (no access token: expired at once)."""
    if not isinstance(record, dict) or not isinstance(record.get("refresh_token"), str) or not record["refresh_token"]:
        raise StoreError("its token has no refresh token")
    extra = record.get("gapps_runbook") or {}
    if not isinstance(extra, dict) or not isinstance(record.get("token_uri"), str):
        raise StoreError("its token lacks a token_uri")
    token = token_from_authorized_user({k: v for k, v in record.items() if k != "token"}, now=0.0)
    endpoints = Endpoints(issuer=str(extra.get("issuer") or ""), authorization_endpoint="",
                          token_endpoint=record["token_uri"])
    return token, endpoints


def import_bytes(data: bytes, passphrase: str, store: ProfileStore, *, profile: str | None = None,
                 force: bool = False, max_work_factor: int = MAX_WORK_FACTOR, probe: Probe | None = None) -> list[str]:
    """Decrypt, authenticate, validate, then write each profile of an export through the store.

    ``profile`` renames the export's only profile; without ``force`` an existing profile is refused
    and nothing is written. Returns the names written.

    Args:
        probe: Called with each staged profile that replaces an existing one and holds a token, before
            the swap; when it raises, that profile is not replaced (see the module docstring).

    Raises:
        InputError: Refused (see :func:`decrypt`, :func:`parse_document`), or a profile exists and not ``force``.
        NoToken: The provider refused a replacing profile's token; the old profile is untouched (exit 7).
    """
    profiles = parse_document(decrypt(data, passphrase, max_work_factor=max_work_factor))
    if profile is not None:
        if len(profiles) != 1:
            raise InputError(f"--profile renames one profile, but the export holds {len(profiles)}",
                             fix="import without --profile")
        profiles = {check_profile_name(profile): next(iter(profiles.values()))}
    existing = [name for name in profiles if store.profile(name).exists()]
    if existing and not force:
        raise InputError(f"profile {existing[0]!r} already exists; nothing was imported",
                         fix="pass --force to replace it, or --profile NEW-NAME")
    with store.locked(IMPORT_LOCK_TIMEOUT):
        store.sweep_leftovers(wait=IMPORT_LOCK_TIMEOUT)  # a killed import's folders (the lock is re-entrant)
        for name, record in profiles.items():
            _install(store, name, record, probe)
    return list(profiles)


def _install(store: ProfileStore, name: str, record: Mapping[str, Any], probe: Probe | None) -> None:
    """Write one profile into a staging folder through the store, check it reads back, probe it, then swap it in.

    The staging folder carries a marker (:data:`~gapps_runbook.profile.store.READY_FILE`) from the moment
    it is complete, so a killed import is finished by the next sweep once its probe may have spent the
    old refresh token (:meth:`ProfileStore.sweep_leftovers`), and removed otherwise.
    """
    staging = Profile(store, f".import-{secrets.token_hex(6)}")
    target = store.profile(name)
    ACTIVE_STAGING.add(os.path.abspath(staging.path))
    try:
        staging.update_settings(lambda s: s.update(record["settings"]))
        if record.get("client") is not None:
            client, endpoints = client_and_endpoints(record["client"], record["settings"])
            staging.save_client(client, endpoints)
            if record.get("token") is not None:
                token, token_endpoints = token_record(record["token"])
                staging.save_token(token, client, token_endpoints)
        staging.load_settings(), staging.load_client(), staging.load_token()  # the store's own checks
        replacing = target.exists()
        staged = staging.load_token()
        needs_probe = probe is not None and replacing and staged is not None
        ready = {"profile": name, "issued_at": staged.issued_at if staged else None, "cleared": not needs_probe,
                 "history": False}
        _mark(staging, ready)
        if needs_probe:
            assert probe is not None
            _probe_staged(name, staging, probe)
            _mark(staging, {**ready, "cleared": True})
        if not replacing:
            audit.append(staging, import_event(store.clock.time(), replacing=False))
            _swap_in(target, staging)
            return
        with target.locked():  # no line is added to the old log between its copy and the swap
            audit.carry_over(target, staging)
            audit.append(staging, import_event(store.clock.time(), replacing=True))
            _mark(staging, {**ready, "cleared": True, "history": True})
            _swap_in(target, staging)
    finally:
        shutil.rmtree(staging.path, ignore_errors=True)
        ACTIVE_STAGING.discard(os.path.abspath(staging.path))


def _mark(staging: Profile, ready: Mapping[str, Any]) -> None:
    write_private(staging.file(READY_FILE), json.dumps(dict(ready), sort_keys=True).encode("utf-8"))


def _probe_staged(name: str, staging: Profile, probe: Probe) -> None:
    """Probe the staged token before it replaces profile ``name``; a refusal leaves the old profile as it was."""
    try:
        probe(staging)
    except RunbookError as exc:
        if exc.exit_code != ExitCode.REAUTHORIZE:
            exc.message = f"profile {name!r} was not replaced and is untouched: the import's token could not be " \
                          f"checked: {exc.message}"
            raise
        raise NoToken(f"profile {name!r} was not replaced and is untouched: the provider refused the export's "
                      "refresh token (invalid_grant); the export is older than the grant, or the grant was revoked",
                      fix=f"keep the profile as it is, or export it again from where it works; to start over, "
                          f"import without --force under --profile NEW-NAME and authorize ({STEP_AUTHORIZE})") from None


def _swap_in(target: Profile, staging: Profile) -> None:
    """Replace ``target``'s folder by ``staging``'s (:func:`gapps_runbook.profile.store.swap_in`)."""
    swap_in(target, staging)


def record_export(profile: Profile, out: Path, *, now: float, by: str) -> None:
    """Remember in the profile's settings when it was last exported, to which file, by whom, with which token."""
    token = profile.load_token()
    record = {"at": iso_utc(now), "file": str(out), "by": by, "token_id": token.token_id if token else ""}
    profile.update_settings(lambda s: s.update(last_export=record))

