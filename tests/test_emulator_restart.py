"""The practice emulator survives a restart (issue 8, item 7).

Must show: after ``gapps-runbook emulator`` is stopped and started again, it has the same address and
a practice profile's ``refresh`` still works. Also: ``--fresh`` forgets, a corrupt state file is one
line naming the file and ``--fresh``, a busy port is one line naming ``--port``, and the state file
is 0600 in a 0700 folder. ``Emulator()`` without a state path stays in memory.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from gapps_runbook import cli
from gapps_runbook.emulator import Emulator
from gapps_runbook.emulator.command import emulator as emulator_command
from gapps_runbook.emulator.persist import DEFAULT_PORT, STATE_FILE

from sites import browser, emulator_process, free_port

PROFILE = "practice-site"
SECRET_ENV = "GAPPS_TEST_RESTART_SECRET"


@dataclass
class Served:
    process: subprocess.Popen[str]
    base_url: str
    lines: list[str]

    def client(self, kind: str) -> tuple[str, str]:
        """The (client_id, client_secret) the emulator printed for the ``Desktop app`` or ``TVs`` client."""
        label = {"desktop": "Desktop app", "device": "TVs and Limited Input devices"}[kind]
        at = next(i for i, line in enumerate(self.lines) if line.strip().startswith(label))
        return self.lines[at + 1].split()[-1], self.lines[at + 2].split()[-1]

    def stop(self) -> int:
        """Ctrl-C, and wait for the process to exit."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=20)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[object]:
    """``start(state_dir, *args)``: ``gapps-runbook emulator`` as a subprocess, once its ready line is printed."""
    processes: list[subprocess.Popen[str]] = []
    env = {**os.environ, "GAPPS_RUNBOOK_HOME": str(tmp_path / "home")}

    def run(state_dir: Path, *args: str) -> Served:
        argv = [sys.executable, "-m", "gapps_runbook", "emulator", "--state-dir", str(state_dir), *args]
        process, base, seen = emulator_process(argv, env)
        processes.append(process)
        return Served(process, base, seen)

    yield run
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def runbook(home: Path, base_url: str, *args: str, secret: str = "") -> subprocess.CompletedProcess[str]:
    """``gapps-runbook --home HOME --profile P --issuer URL ARGS`` as a subprocess."""
    env = {**os.environ, SECRET_ENV: secret}
    command = [sys.executable, "-m", "gapps_runbook", "--home", str(home), "--profile", PROFILE, "--issuer", base_url]
    return subprocess.run([*command, *args], capture_output=True, text=True, env=env, timeout=120)


def authorize_practice_profile(home: Path, served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """Step 02 and step 03 (desktop flow) through the CLI; the auto-approving consent page plays the person."""
    client_id, secret = served.client("desktop")
    monkeypatch.setenv(SECRET_ENV, secret)
    common = ["--home", str(home), "--profile", PROFILE, "--issuer", served.base_url]
    assert cli.run([*common, "client", "set", "--client-id", client_id, "--client-type", "desktop",
                    "--secret-env", SECRET_ENV]) == 0
    monkeypatch.setattr("webbrowser.open", browser)
    assert cli.run([*common, "authorize", "--flow", "desktop", "--service", "calendar", "--timeout", "60"]) == 0


def test_after_a_restart_the_same_address_and_refresh_works(
    tmp_path: Path, start: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, home, port = tmp_path / "state", tmp_path / "home", str(free_port())
    first = start(state, "--port", port, "--auto-approve")  # type: ignore[operator]
    authorize_practice_profile(home, first, monkeypatch)
    assert first.stop() == 0
    second = start(state, "--port", port)  # type: ignore[operator]
    assert second.base_url == first.base_url == f"http://127.0.0.1:{port}"
    assert second.client("desktop") == first.client("desktop") and second.client("device") == first.client("device")
    refreshed = runbook(home, second.base_url, "refresh")
    assert refreshed.returncode == 0, refreshed.stderr
    assert "Refreshed." in refreshed.stdout
    assert runbook(home, second.base_url, "verify").returncode == 0
    assert second.stop() == 0


def test_a_revocation_survives_a_restart(tmp_path: Path, start: object, monkeypatch: pytest.MonkeyPatch) -> None:
    state, home, port = tmp_path / "state", tmp_path / "home", str(free_port())
    first = start(state, "--port", port, "--auto-approve")  # type: ignore[operator]
    authorize_practice_profile(home, first, monkeypatch)
    refresh_token = json.loads(next(home.rglob("authorized_user.json")).read_text())["refresh_token"]
    grant = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    client_id, secret = first.client("desktop")
    assert runbook(home, first.base_url, "revoke", "--yes").returncode == 0
    assert first.stop() == 0
    assert all(saved["revoked"] for saved in json.loads((state / STATE_FILE).read_text())["grants"])
    second = start(state, "--port", port)  # type: ignore[operator]
    answer = requests.post(second.base_url + "/token", data={**grant, "client_id": client_id, "client_secret": secret})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    assert second.stop() == 0


def test_fresh_forgets_clients_and_grants(tmp_path: Path, start: object, monkeypatch: pytest.MonkeyPatch) -> None:
    state, home, port = tmp_path / "state", tmp_path / "home", str(free_port())
    first = start(state, "--port", port, "--auto-approve")  # type: ignore[operator]
    authorize_practice_profile(home, first, monkeypatch)
    assert first.stop() == 0
    second = start(state, "--port", port, "--fresh")  # type: ignore[operator]
    assert second.client("desktop") != first.client("desktop")
    assert runbook(home, second.base_url, "refresh").returncode == 3  # invalid_client: step 02 again
    assert json.loads((state / STATE_FILE).read_text())["grants"] == []
    assert second.stop() == 0


def test_state_file_is_private_and_holds_no_access_token(tmp_path: Path, start: object,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    state, home = tmp_path / "state", tmp_path / "home"
    served = start(state, "--port", "0", "--auto-approve")  # type: ignore[operator]
    authorize_practice_profile(home, served, monkeypatch)
    assert served.stop() == 0
    assert stat.S_IMODE((state / STATE_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    token = json.loads(next(home.rglob("authorized_user.json")).read_text()) if list(home.rglob("token.json")) else {}
    if token.get("token"):
        assert token["token"] not in (state / STATE_FILE).read_text()  # access tokens are not kept


def test_corrupt_state_is_one_line_naming_the_file_and_fresh(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / STATE_FILE).write_text("{not json")
    assert cli.run(["emulator", "--port", "0", "--state-dir", str(state)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(state / STATE_FILE) in err[0] and "--fresh" in err[0], err


def test_a_busy_port_is_one_line_naming_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert cli.run(["emulator", "--port", str(port), "--state-dir", str(tmp_path / "state")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"port {port}" in err[0] and "--port" in err[0], err


def test_the_default_port_is_stable() -> None:
    port = next(p for p in emulator_command.params if p.name == "port")
    assert port.default == DEFAULT_PORT == 8765


def test_in_memory_emulators_write_nothing_and_differ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAPPS_RUNBOOK_HOME", str(tmp_path))
    one, two = Emulator(), Emulator()
    assert one.state_file is None and not one.save()
    assert one.desktop_client.client_id != two.desktop_client.client_id
    assert not any(tmp_path.iterdir())


def test_a_state_path_gives_the_same_demo_clients(tmp_path: Path) -> None:
    path = tmp_path / "emulator" / STATE_FILE
    one, two = Emulator(state_path=path), Emulator(state_path=path)
    assert (one.device_client, one.desktop_client) == (two.device_client, two.desktop_client)
    assert one.device_client.client_secret == two.device_client.client_secret
    assert one.device_client.client_id.split("-")[0] == one.desktop_client.client_id.split("-")[0]  # one project
