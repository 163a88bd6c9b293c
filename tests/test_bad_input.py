"""Bad input to export, import, batch, run and client set: one line with the fix, exit 2, no hang, nothing stored changed.

Each case runs the real command in a child process with a deadline (a FIFO or ``/dev/zero`` that was
read would hang or eat memory) and standard input not a terminal; the profile home is compared byte
for byte before and after, and a refused batch leaves no folder under ``--out``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gapps_runbook.oauth.clients import ClientConfig
from gapps_runbook.oauth.endpoints import GOOGLE, Endpoints
from gapps_runbook.profile.store import ProfileStore
from gapps_runbook.batch.runner import MAX_SITES, MAX_SITES_FILE_BYTES

from fakes import client_id, make_token

PASSPHRASE_ENV = "GAPPS_TEST_PASSPHRASE"
ISSUER = "https://idp.example"


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    endpoints = Endpoints(issuer=ISSUER, authorization_endpoint=f"{ISSUER}/auth", token_endpoint=f"{ISSUER}/token")
    client = ClientConfig(client_id("abcdefghijklmnopqrstuvwxyz012345"),
                          "GOCSPX-abcdefghijklmnopqrstuvwxyz01", "desktop")
    ProfileStore(home).profile("site-a").save_client(client, endpoints)
    tokened = ProfileStore(home).profile("tokened")  # Google's: revoke would ask before any request
    tokened.save_client(client, GOOGLE)
    tokened.save_token(make_token(2_000_000_000.0, "tokened"), client, GOOGLE)
    return home


def _snapshot(home: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(home)): (p.read_bytes() if p.is_file() else b"", p.stat().st_mode)
            for p in sorted(home.rglob("*"))}


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


def _age_header(tmp_path: Path) -> Path:
    """A file with an age scrypt header (the import asks for the passphrase only then)."""
    path = tmp_path / "header-only.age"
    path.write_bytes(b"age-encryption.org/v1\n-> scrypt " + b"A" * 22 + b" 18\nAAAA\n--- AAAA\n")
    return path


def _sparse(tmp_path: Path, size: int, name: str = "big") -> Path:
    path = tmp_path / name
    with open(path, "wb") as handle:
        handle.truncate(size)  # a size, no bytes written: only a read of the whole file would notice
    return path


def _sites(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sites.csv"
    path.write_text(text)
    return path


def _readonly_folder(tmp_path: Path) -> Path:
    if os.geteuid() == 0:
        return Path("/proc/self")  # root writes through permission bits; a virtual file system refuses
    folder = tmp_path / "readonly"
    folder.mkdir(mode=0o500)
    return folder


Case = Callable[[Path], list[str]]
CASES: dict[str, tuple[Case, str]] = {
    "export into an unwritable folder": (
        lambda t: ["export", "site-a", "--out", str(_readonly_folder(t) / "x.age"), "--passphrase-env", PASSPHRASE_ENV],
        "cannot write into"),
    "export into /proc": (lambda t: ["export", "site-a", "--out", "/proc/x.age", "--passphrase-env", PASSPHRASE_ENV],
                          "cannot write into /proc"),
    "export over a device": (lambda t: ["export", "site-a", "--out", "/dev/null", "--passphrase-env", PASSPHRASE_ENV],
                             "not a regular file"),
    "export without a terminal": (lambda t: ["export", "site-a", "--out", str(t / "x.age")], "--passphrase-env"),
    "import /dev/zero": (lambda t: ["import", "/dev/zero", "--passphrase-env", PASSPHRASE_ENV], "not a regular file"),
    "import a FIFO": (lambda t: ["import", str(_fifo(t)), "--passphrase-env", PASSPHRASE_ENV], "not a regular file"),
    "import a folder": (lambda t: ["import", str(t), "--passphrase-env", PASSPHRASE_ENV], "not a regular file"),
    "import 17 MiB": (lambda t: ["import", str(_sparse(t, 17 * 2**20)), "--passphrase-env", PASSPHRASE_ENV],
                      "larger than 16 MiB"),
    "import without a terminal": (lambda t: ["import", str(_age_header(t))], "--passphrase-env"),
    "revoke without a terminal": (lambda t: ["--profile", "tokened", "revoke"], "no terminal to confirm the revocation"),
    "client set with --client-json and --secret-env": (
        lambda t: ["--profile", "fresh", "client", "set", "--client-json", str(t / "client.json"), "--secret-env", "X"],
        "--secret-env cannot be combined with --client-json"),
    "client set without a terminal": (
        lambda t: ["--profile", "fresh", "client", "set", "--client-id", client_id(), "--client-type", "desktop"],
        "no terminal to ask for the client secret"),
    "--sites with a bad issuer": (lambda t: ["batch", "04", "--sites", str(_sites(t, "profile,issuer\nsite-a,ftp://x\n"))],
                                  "line 2"),
    "--sites with plain http off loopback": (
        lambda t: ["batch", "04", "--sites", str(_sites(t, "profile,issuer\nsite-a,http://idp.example\n"))], "plain http"),
    "--sites with unknown profiles": (
        lambda t: ["batch", "04", "--sites", str(_sites(t, "profile\n" + "".join(f"p{i}\n" for i in range(300))))],
        "300 of the 300 sites name no existing profile: p0, p1, p2 and 297 more"),
    "--sites with too many rows": (
        lambda t: ["batch", "04", "--sites", str(_sites(t, "profile\n" + "site-a\n" * (MAX_SITES + 1)))],
        f"more than {MAX_SITES} sites"),
    "--sites too large": (lambda t: ["batch", "04", "--sites", str(_sparse(t, MAX_SITES_FILE_BYTES + 1, "s.csv"))],
                          "larger than 8 MiB"),
    "--sites a FIFO": (lambda t: ["batch", "04", "--sites", str(_fifo(t))], "not a regular file"),
    "--profiles unknown": (lambda t: ["batch", "04", "--profiles", "site-a,nobody"], "nobody"),
    "batch with a misspelt -p": (lambda t: ["batch", "04", "--profiles", "site-a", "-p", "refesh", "true"],
                                 "04_token_status takes no parameter 'refesh'. Fix: did you mean -p refresh? Or use one of refresh, revoke, verify"),
    "run with a misspelt -p": (lambda t: ["run", "03", "--out", str(t / "runs"), "-p", "flwo", "device"],
                               "03_authorize takes no parameter 'flwo'. Fix: did you mean -p flow?"),
    "run all with a -p no step takes": (lambda t: ["run", "all", "--out", str(t / "runs"), "-p", "colour", "red"],
                                        "no step of 01-04 takes the parameter 'colour'. Fix: use one of "),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2_and_changes_nothing(tmp_path: Path, case: str) -> None:
    build, named = CASES[case]
    home = _home(tmp_path)
    out = tmp_path / "runs"
    args = build(tmp_path)
    if args[0] == "batch":
        args += ["--out", str(out), "--no-progress"]
    before = _snapshot(home)
    env = {**os.environ, PASSPHRASE_ENV: "a passphrase long enough for age 123"}
    result = subprocess.run([sys.executable, "-m", "gapps_runbook", "--home", str(home), *args], env=env,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert len(lines) == 1 and named in lines[0] and ". Fix: " in lines[0], lines
    assert result.stdout == "" and "Warning" not in result.stderr
    assert _snapshot(home) == before
    assert not out.exists() and not (tmp_path / "x.age").exists()
