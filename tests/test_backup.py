"""Issue 10: encrypted export and import of profiles (gapps_runbook.profile.backup, commands/backup.py).

pyrage exposes no scrypt work factor: every export uses its default (about 1 s of scrypt here, work
factor 2^19), so the decryptions are counted: one round trip of 100 profiles in one file, and a
bounded sample of 64 single-byte flips (header, MAC and payload) in make test. make soak flips every
byte of the same export re-encrypted at work factor 2^10 (:func:`age_scrypt_encrypt`, age.md), so its
1 470 decryptions take seconds, not half an hour; pyrage still decrypts and authenticates each one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import pty
import random
import re
import select
import stat
import string
import time
from typing import Any
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gapps_runbook import cli, runbook
from gapps_runbook.emulator import RunningEmulator
from gapps_runbook.errors import ExitCode, InputError
from gapps_runbook.oauth.clients import ClientConfig
from gapps_runbook.oauth.endpoints import Endpoints
from gapps_runbook.oauth.tokens import Token
from gapps_runbook.profile import backup
from gapps_runbook.profile.files import CLIENT_FILE, SETTINGS_FILE, TOKEN_FILE
from gapps_runbook.profile.store import ProfileStore

from sites import authorized_site
from gapps_runbook.safety.leakscan import scan_text

PASSPHRASE = "correct horse battery staple 10"
CALENDAR = "https://www.googleapis.com/auth/calendar.readonly"
AGE = Path("/usr/bin/age")


def _word(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def make_profile(store: ProfileStore, name: str, rng: random.Random) -> dict[str, str]:
    """A random profile (client, maybe a token, settings); returns its secrets."""
    profile = store.profile(name)
    issuer = f"https://{_word(rng, 8).lower()}.example"
    endpoints = Endpoints(issuer=issuer, authorization_endpoint=f"{issuer}/auth", token_endpoint=f"{issuer}/token")
    client = ClientConfig(f"{rng.randrange(10**11, 10**12)}-{_word(rng, 32, string.ascii_lowercase + string.digits)}"
                          ".apps.googleusercontent.com", "GOCSPX-" + _word(rng, 28), rng.choice(["device", "desktop"]),
                          product_name=_word(rng, rng.randrange(0, 12)), project_id=rng.choice([None, _word(rng, 10)]),
                          auth_method=rng.choice([None, "client_secret_basic", "client_secret_post"]))
    profile.save_client(client, endpoints)
    secrets = {"client_secret": client.client_secret}

    def edit(s: dict[str, object]) -> None:
        s.update(issuer=issuer, scopes=[CALENDAR] * rng.randrange(0, 2), flow=rng.choice(["auto", "device", "desktop"]),
                 expected_account=rng.choice([None, f"{_word(rng, 6)}@example.com"]),
                 checklist={_word(rng, 5): rng.random() < 0.5 for _ in range(rng.randrange(0, 5))},
                 steps={_word(rng, 5): {"status": "ok", "at": "2026-01-01T00:00:00+00:00", "detail": _word(rng, 9)}
                        for _ in range(rng.randrange(0, 4))})
    profile.update_settings(edit)
    if rng.random() < 0.8:
        token = Token(access_token="ya29." + _word(rng, 40), expires_at=1.9e9, scopes=(CALENDAR, "openid"),
                      refresh_token="1//0g" + _word(rng, 40), issued_at=rng.uniform(1e9, 2e9),
                      account=rng.choice([None, f"{_word(rng, 5)}@example.com"]),
                      refresh_token_expires_at=rng.choice([None, 2e9 + rng.random()]))
        profile.save_token(token, client, endpoints)
        secrets.update(refresh_token=token.refresh_token or "", access_token=token.access_token)
    return secrets


def read(store: ProfileStore, name: str, file: str) -> dict[str, object] | None:
    path = store.profile(name).file(file)
    return json.loads(path.read_text()) if path.exists() else None


def test_a_round_trip_of_100_random_profiles_is_exact(tmp_path: Path) -> None:
    rng = random.Random(10)
    source, target = ProfileStore(tmp_path / "a"), ProfileStore(tmp_path / "b")
    names = [f"site-{i:03d}" for i in range(100)]
    for name in names:
        make_profile(source, name, rng)
    data = backup.export_bytes([source.profile(n) for n in names], PASSPHRASE, now=1.8e9)
    assert backup.import_bytes(data, PASSPHRASE, target) == names
    assert target.names() == names
    for name in names:
        assert (target.profile(name).file(CLIENT_FILE).read_bytes() == source.profile(name).file(CLIENT_FILE).read_bytes())
        assert read(target, name, SETTINGS_FILE) == read(source, name, SETTINGS_FILE)
        before, after = read(source, name, TOKEN_FILE), read(target, name, TOKEN_FILE)
        if before is None:
            assert after is None
            continue
        assert after is not None and after.get("token") in (None, "")  # never an access token
        kept = ("refresh_token", "scopes", "account", "token_uri", "client_id", "client_secret", "type")
        assert {k: after.get(k) for k in kept} == {k: before.get(k) for k in kept}
        extra_b, extra_a = before["gapps_runbook"], after["gapps_runbook"]
        assert {k: extra_a.get(k) for k in backup.TOKEN_EXTRA_KEYS} == {k: extra_b.get(k) for k in backup.TOKEN_EXTRA_KEYS}
    again = backup.export_document([target.profile(n) for n in names], now=1.8e9)
    assert again == backup.export_document([source.profile(n) for n in names], now=1.8e9)
    for mode in [stat.S_IMODE(p.stat().st_mode) for n in names for p in target.profile(n).path.iterdir()]:
        assert mode == 0o600


def run_age_decrypt(export: Path, out: Path, passphrase: str) -> tuple[int, bytes]:
    """Debian's age reads the passphrase from the terminal only: drive it through a pty."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: age on the pty as its controlling terminal
        os.execv(str(AGE), [str(AGE), "--decrypt", "-o", str(out), str(export)])
    seen, sent, deadline = b"", False, time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break  # the child closed the terminal
        if not chunk:
            break
        seen += chunk
        if not sent and b"passphrase" in seen.lower():
            os.write(fd, passphrase.encode() + b"\n")
            sent = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), seen


@pytest.mark.skipif(not AGE.exists(), reason="/usr/bin/age is missing (Debian package 'age'; .ci/run installs it)")
def test_an_independent_age_implementation_decrypts_an_export(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path / "home")
    secrets = make_profile(store, "site-a", random.Random(1))
    export = tmp_path / "site-a.age"
    export.write_bytes(backup.export_bytes([store.profile("site-a")], PASSPHRASE))
    code, transcript = run_age_decrypt(export, tmp_path / "plain.json", PASSPHRASE)
    assert code == 0, transcript
    document = json.loads((tmp_path / "plain.json").read_text())
    assert document["format"] == backup.FORMAT
    assert document["profiles"]["site-a"]["client"]["installed"]["client_secret"] == secrets["client_secret"]


EMULATOR_OPTIONS = {"auto_approve": True}  # conftest's ``emulator``: the consent is given at once


def export_cli(home: Path, out: Path, monkeypatch: pytest.MonkeyPatch, *names: str) -> int:
    monkeypatch.setenv("BACKUP_PASSPHRASE", PASSPHRASE)
    return cli.run(["--home", str(home), "export", *names, "--out", str(out), "--passphrase-env", "BACKUP_PASSPHRASE"])


def import_cli(home: Path, file: Path, *extra: str) -> int:
    return cli.run(["--home", str(home), "import", str(file), "--passphrase-env", "BACKUP_PASSPHRASE", *extra])


def test_export_is_0600_without_plaintext_secrets_and_restores_a_live_grant(
        tmp_path: Path, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    site = authorized_site(tmp_path / "a", emulator)
    token, client = site.token(), site.client()
    out = tmp_path / "site-a.age"
    assert export_cli(tmp_path / "a", out, monkeypatch, "site-a") == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    canaries = [token.refresh_token or "", token.access_token, client.client_secret, PASSPHRASE]
    assert scan_text("site-a.age", out.read_bytes(), canaries) == []
    assert import_cli(tmp_path / "b", out) == 0
    printed = capsys.readouterr()
    assert "refreshed: it works" in printed.out
    assert scan_text("output", printed.out + printed.err, canaries) == []
    assert cli.run(["--home", str(tmp_path / "a"), "status", "--all"]) == 0
    line = capsys.readouterr().out
    assert "exported 20" in line and str(out) in line and " by " in line
    assert import_cli(tmp_path / "b", out) == ExitCode.BAD_INPUT  # exists: --force needed
    assert "already exists" in capsys.readouterr().err
    assert import_cli(tmp_path / "b", out, "--force") == 0


def test_a_restored_grant_the_provider_revoked_meanwhile_says_authorize_again(
        tmp_path: Path, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    site = authorized_site(tmp_path / "a", emulator)
    out = tmp_path / "site-a.age"
    assert export_cli(tmp_path / "a", out, monkeypatch, "site-a") == 0
    runbook.revoke(site)
    capsys.readouterr()
    assert import_cli(tmp_path / "b", out) == ExitCode.REAUTHORIZE == 7
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "authorize again" in err and "7 days" in err and "revoked" in err


def small_export(tmp_path: Path) -> bytes:
    store = ProfileStore(tmp_path / "small")
    make_profile(store, "s", random.Random(7))
    return backup.export_bytes([store.profile("s")], PASSPHRASE)


def _b64(raw: bytes) -> bytes:
    return base64.b64encode(raw).rstrip(b"=")


def _hkdf(key: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt, info).derive(key)


def age_scrypt_encrypt(plaintext: bytes, passphrase: str, log_n: int) -> bytes:
    """An age v1 file to ``passphrase`` at scrypt work factor ``2^log_n``, which pyrage cannot choose.

    C2SP age.md: a 16-byte file key wrapped by an ``scrypt`` stanza (salt label
    ``age-encryption.org/v1/scrypt``, r=8, p=1, ChaCha20-Poly1305 under a zero nonce), the header MAC
    (HMAC-SHA-256 under HKDF(file key, "header")), then the STREAM payload (HKDF(file key, nonce,
    "payload"), 64 KiB chunks, the last one flagged).
    """
    file_key, salt, nonce = os.urandom(16), os.urandom(16), os.urandom(16)
    wrap_key = hashlib.scrypt(passphrase.encode(), salt=b"age-encryption.org/v1/scrypt" + salt, n=2**log_n, r=8, p=1,
                              dklen=32)
    body = ChaCha20Poly1305(wrap_key).encrypt(bytes(12), file_key, None)
    header = b"age-encryption.org/v1\n-> scrypt " + _b64(salt) + b" %d\n" % log_n + _b64(body) + b"\n---"
    mac = hmac.new(_hkdf(file_key, b"", b"header"), header, hashlib.sha256).digest()
    stream = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
    chunks = [plaintext[i:i + 65536] for i in range(0, len(plaintext), 65536)] or [b""]
    payload = b"".join(stream.encrypt(n.to_bytes(11, "big") + bytes([n == len(chunks) - 1]), chunk, None)
                       for n, chunk in enumerate(chunks))
    return header + b" " + _b64(mac) + b"\n" + nonce + payload


def flip_positions(data: bytes, count: int = 64) -> list[int]:
    """``count`` positions spread over the header (magic, stanza, salt, work factor), the MAC and the payload."""
    header_end = data.index(b"\n---") + 1
    mac_end = data.index(b"\n", header_end) + 1
    sure = [0, 5, header_end - 2, header_end + 1, header_end + 6, mac_end - 2, mac_end, mac_end + 16, len(data) - 1]
    rest = random.Random(64).sample([i for i in range(len(data)) if i not in sure], count - len(sure))
    return sorted(sure + rest)


@pytest.mark.timeout(900)  # 65 scrypt decryptions at about 1-3 s each on a loaded 2-core machine
def test_every_sampled_byte_flip_and_a_wrong_passphrase_are_refused_before_parsing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = small_export(tmp_path)
    parsed: list[bytes] = []
    real_parse = backup.parse_document
    monkeypatch.setattr(backup, "parse_document", lambda plain: parsed.append(plain) or real_parse(plain))
    store = ProfileStore(tmp_path / "target")
    positions = flip_positions(data)
    assert len(positions) == 64
    started = time.monotonic()
    for position in positions:
        changed = bytearray(data)
        changed[position] ^= 0x01
        with pytest.raises(InputError) as refused:
            backup.import_bytes(bytes(changed), PASSPHRASE, store)
        assert "\n" not in str(refused.value) and "Fix:" in str(refused.value)
    with pytest.raises(InputError, match=f"^{re.escape(backup.WRONG_PASSPHRASE)}. Fix: "):
        backup.import_bytes(data, PASSPHRASE + "x", store)
    print(f"{len(positions)}/{len(positions)} flips of a {len(data)}-byte export refused in "
          f"{time.monotonic() - started:.0f} s")
    assert parsed == [] and store.names() == []
    assert not store.profiles_dir.exists() or list(store.profiles_dir.iterdir()) == []
    assert backup.import_bytes(data, PASSPHRASE, store) == ["s"] and len(parsed) == 1  # the test can pass


def test_a_work_factor_above_the_bound_is_refused_before_any_scrypt(tmp_path: Path) -> None:
    data = small_export(tmp_path)
    log_n = backup.scrypt_work_factor(data)
    started = time.monotonic()
    with pytest.raises(InputError, match=f"work factor 2\\^{log_n}, above the limit 2\\^{log_n - 1}"):
        backup.import_bytes(data, PASSPHRASE, ProfileStore(tmp_path / "t"), max_work_factor=log_n - 1)
    raised = data.replace(f" {log_n}\n".encode(), b" 40\n", 1)
    with pytest.raises(InputError, match="2\\^40"):
        backup.import_bytes(raised, PASSPHRASE, ProfileStore(tmp_path / "t"))
    assert time.monotonic() - started < 0.5  # no scrypt ran


def test_refusals_name_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    assert export_cli(home, tmp_path / "x.age", monkeypatch, "missing") == ExitCode.BAD_INPUT
    monkeypatch.setenv("EMPTY_PASSPHRASE", "")
    (tmp_path / "x.age").write_bytes(backup.AGE_MAGIC + b"-> scrypt " + b"A" * 22 + b" 18\nAAAA\n--- AAAA\n")
    assert cli.run(["--home", str(home), "import", str(tmp_path / "x.age"), "--passphrase-env", "EMPTY_PASSPHRASE"]) == 2
    (tmp_path / "x.age").write_bytes(b"not age")
    assert import_cli(home, tmp_path / "x.age") == ExitCode.BAD_INPUT
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all(line.startswith("error: ") and "Fix:" in line for line in errors)
    assert "does not exist" in errors[0] and "not set or is empty" in errors[1]
    assert "not an export: it holds text" in errors[2] and "passphrase" not in errors[2]


def _flip_and_import(data: bytes, position: int, home: str) -> tuple[int, str]:
    """In a worker: flip one byte, import; '' when refused in one line before any parsing, else what happened."""
    parsed: list[bytes] = []
    real_parse = backup.parse_document
    backup.parse_document = lambda plain: parsed.append(plain) or real_parse(plain)  # type: ignore[assignment]
    changed = bytearray(data)
    changed[position] ^= 0x01
    try:
        backup.import_bytes(bytes(changed), PASSPHRASE, ProfileStore(Path(home)))
    except InputError as refused:
        if "\n" in str(refused) or "Fix:" not in str(refused):
            return position, f"refusal not one line with a fix: {refused}"
        return position, "parsed before refusing" if parsed else ""
    return position, "accepted"


@pytest.mark.soak
@pytest.mark.timeout(900)
def test_every_single_byte_flip_is_refused_before_parsing(tmp_path: Path, soak_report: Any) -> None:
    """All positions of a small export at work factor 2^10, on two processes (``GAPPS_SOAK_WORKERS``)."""
    import concurrent.futures
    import multiprocessing

    export = small_export(tmp_path)
    data = age_scrypt_encrypt(backup.decrypt(export, PASSPHRASE), PASSPHRASE, 10)
    assert backup.scrypt_work_factor(data) == 10 and len(data) == len(export)  # the same layout, byte for byte
    store = ProfileStore(tmp_path / "target")
    started = time.monotonic()
    context = multiprocessing.get_context("fork")
    workers = int(os.environ.get("GAPPS_SOAK_WORKERS", "2"))
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        outcomes = list(pool.map(_flip_and_import, [data] * len(data), range(len(data)),
                                 [str(store.home)] * len(data), chunksize=8))
    bad = [(position, what) for position, what in outcomes if what]
    assert bad == [] and store.names() == []
    assert backup.import_bytes(data, PASSPHRASE, store) == ["s"]  # the unflipped file imports: the trial can fail
    soak_report(f"X1 every single-byte flip of a {len(data)}-byte export (scrypt 2^10): {len(data) - len(bad)}/{len(data)} "
                f"refused in one line before any parsing, no profile left; {time.monotonic() - started:.0f} s "
                "(target: all)")


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2-exchange", "two-renames"])
def test_a_forced_import_swaps_the_profile_whole_and_leaves_nothing_aside(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool) -> None:
    from gapps_runbook.profile import private_files
    from gapps_runbook.profile import store as store_module

    if not exchange:
        monkeypatch.setattr(store_module, "exchange_dirs", lambda a, b: False)
    store = ProfileStore(tmp_path / "home")
    make_profile(store, "site", random.Random(1))
    before = store.profile("site").load_client()
    data = small_export(tmp_path)  # profile "s" with other values
    assert backup.import_bytes(data, PASSPHRASE, store, profile="site", force=True) == ["site"]
    after = store.profile("site").load_client()
    assert after is not None and before is not None and after.client_id != before.client_id
    leftovers = [p.name for p in store.profiles_dir.iterdir() if p.name.startswith((".import-", ".replaced-"))]
    assert leftovers == []
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "x").write_text("a"), (b / "x").write_text("b")
    if exchange:
        assert private_files.exchange_dirs(a, b) is True  # Linux with glibc >= 2.28 (Debian 13 here)
        assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"
