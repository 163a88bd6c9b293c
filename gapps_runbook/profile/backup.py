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

An export's passphrase must score at least :data:`MIN_PASSPHRASE_SCORE` on zxcvbn's 0-4 scale
(:func:`check_strength`); an import takes any passphrase (the export was checked when it was made).

The refusals here are shown on three surfaces: ``gapps-runbook export``/``import`` (flags), the form of
notebook 05 and the app's page 05 (its controls), and a headless ``gapps-runbook run 05`` (its parameters).
Their fixes name actions once (:data:`ACTIONS`), each surface in its own words (:func:`fixes`,
:meth:`RunbookError.worded_for`).
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
from zxcvbn import zxcvbn

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
from .secret_sources import read_regular_file
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

MIN_PASSPHRASE_SCORE = 3
"""The zxcvbn score (0-4) an export's passphrase needs. zxcvbn's scale (https://github.com/dropbox/zxcvbn#usage):
3 is "safely unguessable: moderate protection from offline slow-hash scenario" (under 10^10 guesses), the attack
an export copied off a disk meets, scrypt being the slow hash."""
ZXCVBN_MAX_LENGTH = 72
"""zxcvbn 4.5 refuses longer input (its matching is quadratic): a longer passphrase is judged by its first 72."""

FORM_LABELS = {"profiles": "Profiles", "target": "Export to", "passphrase": "Passphrase", "again": "Again",
               "source": "Import from", "import_as": "Import as profile", "replace": "Replace"}
"""The controls of step 05's form (notebook 05 and the app's page 05), by role: the form is built from these,
and its messages name them."""
_L = FORM_LABELS
SURFACES = ("cli", "form", "run")
"""Where step 05's messages are shown: the commands (flags), the form (controls), a headless run (parameters)."""
ACTIONS: dict[str, dict[str, str]] = {
    "replace": {"cli": "pass --force", "form": f"tick {_L['replace']}", "run": "pass -p force true"},
    "rename": {"cli": "pass --profile NEW-NAME", "form": f"type a new name in {_L['import_as']}",
               "run": "pass -p import_as NEW-NAME"},
    "keep_name": {"cli": "import without --profile", "form": f"empty {_L['import_as']}", "run": "leave import_as empty"},
    "name_like": {"cli": "pass --profile with a name like 'calendar-prod'",
                  "form": f"type a name like 'calendar-prod' in {_L['import_as']}",
                  "run": "pass -p import_as with a name like 'calendar-prod'"},
    "passphrase": {"cli": "give the passphrase with --passphrase-env VAR, --passphrase-file PATH or the prompt",
                   "form": f"type the passphrase in {_L['passphrase']}", "run": "pass passphrase_env or passphrase_file"},
    "stronger": {"cli": "give a longer one, e.g. four or more random words (--passphrase-env, --passphrase-file "
                        "or the prompt)",
                 "form": f"type a longer one, e.g. four or more random words, in {_L['passphrase']} and {_L['again']}",
                 "run": "put a longer one, e.g. four or more random words, in passphrase_env or passphrase_file"},
    "export_file": {"cli": "pass the .age file `gapps-runbook export` wrote",
                    "form": f"type in {_L['source']} the .age file an export wrote",
                    "run": "pass import_from, the .age file an export wrote"},
    "retry": {"cli": "give the passphrase the export was made with (--passphrase-env, --passphrase-file or the "
                     "prompt)", "form": f"type the passphrase the export was made with in {_L['passphrase']}",
              "run": "put the passphrase the export was made with in passphrase_env or passphrase_file"},
    "profiles": {"cli": "name one or more profiles: gapps-runbook export NAME --out FILE",
                 "form": f"choose one or more in {_L['profiles']}", "run": "pass profiles (or profile)"},
}
"""What a fix asks a person to do, by action, in each surface's words (:data:`SURFACES`): the one source of them."""


def fixes(template: str) -> dict[str, str]:
    """A fix in every surface's words, for :class:`RunbookError`'s ``fixes``.

    Args:
        template: The fix with its actions as ``{key}`` of :data:`ACTIONS`: ``"{replace} to replace it, or {rename}"``.

    Returns:
        Surface -> the fix in its words: ``{"cli": "pass --force to replace it, ...", "form": "tick Replace ..."}``.
    """
    return {surface: template.format_map({key: words[surface] for key, words in ACTIONS.items()})
            for surface in SURFACES}


_FIX_SAME_FILE = "use the export exactly as it was written, e.g. a copy taken before the change"
_FIX_NOT_EXPORT = fixes("{export_file}")


def read_export(path: Path) -> bytes:
    """The bytes of an export file a person names: a regular file of at most :data:`MAX_EXPORT_BYTES`.

    Raises:
        InputError: Missing, unreadable, not a regular file (a FIFO, a device, a folder), or too large.
    """
    try:
        return read_regular_file(Path(path).expanduser(), MAX_EXPORT_BYTES, name=str(path), fix=_FIX_NOT_EXPORT["cli"],
                                 too_large=f"{path} is larger than {MAX_EXPORT_BYTES // 2**20} MiB: not an export")
    except InputError as exc:
        raise InputError(exc.message, fixes=_FIX_NOT_EXPORT) from None


def scrypt_work_factor(data: bytes) -> int:
    """The log2 N of an age file's one ``scrypt`` stanza, read from the text header (age.md "scrypt").

    Raises InputError when it is not an age v1 file whose header is exactly one well-formed scrypt stanza.
    """
    if data.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----"):
        raise InputError("the file is ASCII-armored age; this runbook writes and reads binary age files",
                         fix="run: age --decrypt file | age --passphrase -o export.age (or re-export)")
    if not data.startswith(AGE_MAGIC):
        raise InputError(f"the file is not an export: {_what_it_is(data)}, not an age-encrypted file",
                         fixes=_FIX_NOT_EXPORT)
    end = data.find(b"\n---", 0, MAX_HEADER_BYTES)
    if end < 0:
        raise InputError("the export's age header is damaged (no end of header): the file was cut or changed",
                         fix=_FIX_SAME_FILE)
    lines = data[len(AGE_MAGIC):end].split(b"\n")
    stanzas = [line for line in lines if line.startswith(b"-> ")]
    if len(stanzas) != 1 or not lines[0].startswith(b"-> "):
        raise InputError("the export is not encrypted to a passphrase alone (age.md: an scrypt stanza must be "
                         "the only one)", fix="export again with gapps-runbook export")
    args = stanzas[0][3:].split(b" ")
    if len(args) != 3 or args[0] != b"scrypt" or not _SALT_RE.fullmatch(args[1]) or not _LOGN_RE.fullmatch(args[2]):
        raise InputError("the export is not passphrase-encrypted, or its scrypt stanza is damaged",
                         fix=_FIX_SAME_FILE)
    return int(args[2])


def _what_it_is(data: bytes) -> str:
    """What a file that is not an age file holds, in a few words (never any of its content)."""
    if not data.strip():
        return "it is empty"
    try:
        json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return "it holds text" if _is_text(data) else "it holds other data"
    return "it holds JSON (a client or token file?)"


def _is_text(data: bytes) -> bool:
    try:
        return data[:4096].decode("utf-8").isprintable() or b"\n" in data[:4096]
    except UnicodeDecodeError:
        return False


def encrypt(plaintext: bytes, passphrase: str) -> bytes:
    """age-encrypt ``plaintext`` to a passphrase (pyrage's scrypt recipient, its default work factor)."""
    _check_passphrase(passphrase)
    return bytes(pyrage.passphrase.encrypt(plaintext, passphrase))


def check_strength(passphrase: str, *, names: Sequence[str] = ()) -> None:
    """Refuse an export's passphrase that zxcvbn scores below :data:`MIN_PASSPHRASE_SCORE` (of 4).

    Args:
        passphrase: The passphrase (registered for redaction first).
        names: Words the passphrase should not lean on (the profiles' names): zxcvbn's ``user_inputs``.

    Raises:
        InputError: The passphrase is empty or too weak; the message gives its score, the minimum and
            zxcvbn's warning (never the passphrase).
    """
    _check_passphrase(passphrase)
    result = zxcvbn(passphrase[:ZXCVBN_MAX_LENGTH], user_inputs=[*names, "gapps-runbook", "runbook", "export"])
    score = int(result["score"])
    if score >= MIN_PASSPHRASE_SCORE:
        return
    warning = str((result.get("feedback") or {}).get("warning") or "").strip().rstrip(".")
    raise InputError(f"the passphrase is too weak: it scores {score} of 4 on zxcvbn's scale, and an export needs "
                     f"at least {MIN_PASSPHRASE_SCORE}{f' ({warning})' if warning else ''}; nothing was exported",
                     fixes=fixes("{stronger}"))


def decrypt(data: bytes, passphrase: str, *, max_work_factor: int = MAX_WORK_FACTOR) -> bytes:
    """Check the work factor, then decrypt and authenticate every byte (age's header MAC and STREAM tags).

    Raises:
        InputError: Too large, not an age scrypt file, a work factor above ``max_work_factor`` (checked
            before any scrypt work), or decryption failed (a wrong passphrase or a changed byte).
    """
    _check_passphrase(passphrase)
    if len(data) > MAX_EXPORT_BYTES:
        raise InputError(f"the file is larger than {MAX_EXPORT_BYTES // 2**20} MiB: not an export",
                         fixes=_FIX_NOT_EXPORT)
    log_n = scrypt_work_factor(data)
    if log_n > max_work_factor:
        raise InputError(f"the export asks for scrypt work factor 2^{log_n}, above the limit 2^{max_work_factor}",
                         fix="re-export with gapps-runbook export (it picks about 1 s of work)")
    try:
        return bytes(pyrage.passphrase.decrypt(data, passphrase))
    except pyrage.DecryptError as exc:
        raise decrypt_refusal(str(exc)) from None


WRONG_PASSPHRASE = "the passphrase does not open this export; nothing was imported"
CHANGED_FILE = "the passphrase is right, but the export was changed or cut after it was written; nothing was imported"


def decrypt_refusal(reason: str) -> InputError:
    """The one line for an age file pyrage refused, told apart by pyrage's (rage's) error text.

    rage checks in order (age.md "Header" and "Payload"): the passphrase unwraps the file key from the
    scrypt stanza ("Decryption failed" when it cannot: a wrong passphrase, or a changed stanza, which age
    cannot tell apart), the header MAC under that key ("Header MAC is invalid"), then each payload chunk's
    tag ("decryption error", also for a cut file). Past the first check the passphrase is right and the
    file changed. A file that is not age at all never gets here (:func:`scrypt_work_factor` came first).
    """
    said = reason.strip().casefold()
    if said == "decryption failed":
        return InputError(WRONG_PASSPHRASE, fixes=fixes("{retry}"))
    if said in ("header mac is invalid", "decryption error"):
        return InputError(CHANGED_FILE, fix=_FIX_SAME_FILE)
    return InputError(f"the export is damaged (age: {reason.strip()}); nothing was imported", fix=_FIX_SAME_FILE)


def _check_passphrase(passphrase: str) -> None:
    if not isinstance(passphrase, str) or not passphrase:
        raise InputError("the passphrase is empty", fixes=fixes("{passphrase}"))
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
        raise InputError("no profile to export", fixes=fixes("{profiles}"))
    return {"format": FORMAT, "schema_version": EXPORT_SCHEMA, "exported_at": iso_utc(now),
            "profiles": {p.name: profile_record(p) for p in profiles}}


def export_bytes(profiles: Sequence[Profile], passphrase: str, *, now: float | None = None) -> bytes:
    """The age-encrypted export of ``profiles`` (see the module docstring for what is in it).

    Raises:
        InputError: The passphrase is too weak (:func:`check_strength`), before any profile is read.
    """
    check_strength(passphrase, names=[p.name for p in profiles])
    at = now if now is not None else (profiles[0].store.clock.time() if profiles else 0.0)
    document = export_document(profiles, now=at)
    return encrypt(json.dumps(document, sort_keys=True).encode("utf-8"), passphrase)


def parse_document(plaintext: bytes) -> dict[str, dict[str, Any]]:
    """The profiles of an authenticated plaintext, validated (format, schema, names, fields); else InputError."""
    try:
        document = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InputError("the file is not an export: it is an age file that opened with this passphrase, but holds "
                         "no JSON document", fixes=_FIX_NOT_EXPORT) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InputError("the file is not an export: it is an age file that opened with this passphrase, but holds "
                         "something other than a gapps-runbook export", fixes=_FIX_NOT_EXPORT)
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
    new_name = _new_name(profile) if profile is not None else None  # before any scrypt work
    profiles = parse_document(decrypt(data, passphrase, max_work_factor=max_work_factor))
    if new_name is not None:
        if len(profiles) != 1:
            raise InputError(f"a new name is for an export of one profile, but this one holds {len(profiles)} "
                             f"({', '.join(profiles)}); nothing was imported", fixes=fixes("{keep_name}"))
        profiles = {new_name: next(iter(profiles.values()))}
    existing = [name for name in profiles if store.profile(name).exists()]
    if existing and not force:
        raise InputError(f"profile {existing[0]!r} already exists; nothing was imported",
                         fixes=fixes("{replace} to replace it, or {rename}"))
    with store.locked(IMPORT_LOCK_TIMEOUT):
        store.sweep_leftovers(wait=IMPORT_LOCK_TIMEOUT)  # a killed import's folders (the lock is re-entrant)
        for name, record in profiles.items():
            _install(store, name, record, probe)
    return list(profiles)


def _new_name(name: str) -> str:
    """The profile name an import is renamed to, checked as every profile name is."""
    try:
        return check_profile_name(name)
    except InputError as exc:
        raise InputError(exc.message, fixes=fixes("{name_like}")) from None


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
                      fixes=fixes("keep the profile as it is, or export it again from where it works; to start "
                                  "over, import it under a new name ({rename}) and authorize ("
                                  + STEP_AUTHORIZE.replace("{", "{{").replace("}", "}}") + ")")) from None


def _swap_in(target: Profile, staging: Profile) -> None:
    """Replace ``target``'s folder by ``staging``'s (:func:`gapps_runbook.profile.store.swap_in`)."""
    swap_in(target, staging)


def record_export(profile: Profile, out: Path, *, now: float, by: str) -> None:
    """Remember in the profile's settings when it was last exported, to which file, by whom, with which token."""
    token = profile.load_token()
    record = {"at": iso_utc(now), "file": str(out), "by": by, "token_id": token.token_id if token else ""}
    profile.update_settings(lambda s: s.update(last_export=record))

