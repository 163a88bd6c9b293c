"""A profile's client and token go to the issuer they were made with, whatever ``--issuer`` says.

Two emulators on loopback: the profile is set up and authorized at A. Every command that would send the
client or the token, run with ``--issuer B`` (or ``GAPPS_RUNBOOK_ISSUER``), is refused in one line (exit 2)
before any request, B sees nothing, and the profile still names A; a profile holding neither may move.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gapps_runbook import cli
from gapps_runbook.profile.store import ProfileStore

from sites import browser, cli_with_desktop_client


@pytest.mark.parametrize("command", [["refresh"], ["verify"], ["revoke", "--yes"], ["client", "test"],
                                     ["authorize", "--service", "calendar"]])
def test_another_issuer_is_refused_before_any_request(tmp_path: Path, make_emulator: Any, command: list[str],
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("webbrowser.open", lambda url: browser(url) or True)
    a, b = make_emulator(auto_approve=True), make_emulator(auto_approve=True)
    base = cli_with_desktop_client(tmp_path, a, "site-a")
    assert cli.run([*base, "authorize", "--service", "calendar", "--service", "openid"]) == 0
    capsys.readouterr()
    elsewhere = ["--home", str(tmp_path / "home"), "--profile", "site-a", "--issuer", b.base_url + "/"]
    assert cli.run([*elsewhere, *command]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"belongs to the issuer {a.base_url}, not {b.base_url}/" in err[0], err
    assert ". Fix: leave out --issuer" in err[0]
    assert b.emulator.requests == []
    assert ProfileStore(tmp_path / "home").profile("site-a").load_settings()["issuer"] == a.base_url


def test_the_same_issuer_and_an_empty_profile_pass(tmp_path: Path, make_emulator: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAPPS_RUNBOOK_ISSUER", "")
    a, b = make_emulator(auto_approve=True), make_emulator(auto_approve=True)
    base = cli_with_desktop_client(tmp_path, a, "site-a")
    assert cli.run([*base[:-2], "--issuer", a.base_url + "/", "preflight", "--service", "calendar"]) == 0  # the same
    home = ["--home", str(tmp_path / "home")]
    assert cli.run([*home, "--profile", "fresh", "--issuer", a.base_url, "preflight", "--service", "calendar"]) == 0
    assert cli.run([*home, "--profile", "fresh", "--issuer", b.base_url, "preflight", "--service", "calendar"]) == 0
    assert ProfileStore(tmp_path / "home").profile("fresh").load_settings()["issuer"] == b.base_url
