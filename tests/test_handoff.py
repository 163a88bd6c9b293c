"""Issue 10: ``gapps-runbook handoff`` writes a 0600 file that google-auth loads and refreshes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from google.auth.transport.requests import Request
from google.oauth2.credentials import Credentials

from gapps_runbook import cli
from gapps_runbook.emulator import RunningEmulator
from gapps_runbook.errors import ExitCode
from gapps_runbook.profile.handoff import ENV_KEYS
from gapps_runbook.safety.leakscan import scan_text
from sites import authorized_site


EMULATOR_OPTIONS = {"auto_approve": True}  # conftest's ``emulator``: the consent is given at once


def handoff(home: Path, to: Path, *extra: str) -> int:
    return cli.run(["--home", str(home), "handoff", "site-a", "--to", str(to), *extra])


def test_handoff_writes_a_0600_file_google_auth_loads_and_refreshes(
        tmp_path: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    site = authorized_site(tmp_path / "home", emulator)
    to = tmp_path / "app" / "conf" / "token.json"
    assert handoff(tmp_path / "home", to) == 0
    assert stat.S_IMODE(to.stat().st_mode) == 0o600 and stat.S_IMODE(to.parent.stat().st_mode) == 0o700
    info = json.loads(to.read_text())
    assert info["token_uri"] == site.endpoints.token_endpoint and "gapps_runbook" not in info
    creds = Credentials.from_authorized_user_file(str(to)).with_token_uri(info["token_uri"])
    creds.refresh(Request())  # the application's own view, against the emulator
    assert creds.valid and creds.token != info["token"]
    first_inode = to.stat().st_ino
    assert handoff(tmp_path / "home", to) == 0  # re-running replaces the file (a new inode: renamed in)
    assert to.stat().st_ino != first_inode and stat.S_IMODE(to.stat().st_mode) == 0o600
    printed = capsys.readouterr()
    assert "google-auth loaded it and refreshed" in printed.out
    token, client = site.token(), site.client()
    assert scan_text("output", printed.out + printed.err, [token.refresh_token or "", client.client_secret]) == []


def test_env_format_lists_its_keys_and_refreshes(tmp_path: Path, emulator: RunningEmulator) -> None:
    authorized_site(tmp_path / "home", emulator)
    to = tmp_path / "app.env"
    assert handoff(tmp_path / "home", to, "--format", "env") == 0
    assert stat.S_IMODE(to.stat().st_mode) == 0o600
    values = dict(line.split("=", 1) for line in to.read_text().splitlines())
    assert tuple(values) == ENV_KEYS
    creds = Credentials(None, refresh_token=values["GOOGLE_OAUTH_REFRESH_TOKEN"], client_id=values["GOOGLE_OAUTH_CLIENT_ID"],
                        client_secret=values["GOOGLE_OAUTH_CLIENT_SECRET"], token_uri=values["GOOGLE_OAUTH_TOKEN_URI"],
                        scopes=values["GOOGLE_OAUTH_SCOPES"].split(","))
    creds.refresh(Request())
    assert creds.valid


def test_owner_needs_root_one_line_and_nothing_written(
        tmp_path: Path, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    authorized_site(tmp_path / "home", emulator)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    to = tmp_path / "app" / "token.json"
    assert handoff(tmp_path / "home", to, "--owner", "nobody") == ExitCode.BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "needs root" in err and "Fix:" in err
    assert not to.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_owner_chowns_the_file_and_the_folder_it_made(tmp_path: Path, emulator: RunningEmulator) -> None:
    import pwd

    authorized_site(tmp_path / "home", emulator)
    nobody = pwd.getpwnam("nobody")
    to = tmp_path / "app" / "token.json"
    for _ in range(2):  # the second run replaces a file that already belongs to the owner
        assert handoff(tmp_path / "home", to, "--owner", "nobody") == 0
        assert to.stat().st_uid == nobody.pw_uid and to.parent.stat().st_uid == nobody.pw_uid
        assert stat.S_IMODE(to.stat().st_mode) == 0o600
    assert [p.name for p in to.parent.iterdir()] == ["token.json"]


def test_a_symlink_target_is_refused(tmp_path: Path, emulator: RunningEmulator,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    authorized_site(tmp_path / "home", emulator)
    (tmp_path / "elsewhere").write_text("keep")
    (tmp_path / "token.json").symlink_to(tmp_path / "elsewhere")
    assert handoff(tmp_path / "home", tmp_path / "token.json") == ExitCode.BAD_INPUT
    assert "symbolic link" in capsys.readouterr().err and (tmp_path / "elsewhere").read_text() == "keep"
