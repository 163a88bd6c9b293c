"""What ``lab`` and ``app`` start dies with them, and what they serve answers only where it should.

- kill -9 of ``lab --emulator`` / ``app --emulator`` (a kernel running): within 5 s nothing they started
  (JupyterLab or Voilà, its kernels, the practice emulator) is left, found by scanning ``/proc``;
- ``--emulator`` refuses a port where something else answers (a 404 page), reuses a running emulator;
- the app answers only ``Host: 127.0.0.1:PORT`` / ``localhost:PORT``, and its token is in no kernel's
  environment; the emulator's log is 0600; a world-writable hand-off folder gets a warning line.
"""

from __future__ import annotations

import http.server
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gapps_runbook.commands import lab as lab_module
from gapps_runbook.commands.backup import world_writable_warning
from gapps_runbook.emulator import RunningEmulator
from gapps_runbook.emulator.command import PORT_ENV

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def parents() -> dict[int, int]:
    """Every process's parent, from ``/proc/PID/stat`` (the field after the command name)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                text = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            found[int(entry)] = int(text.rsplit(")", 1)[1].split()[1])
    return found


def descendants(pid: int) -> set[int]:
    tree, found, todo = parents(), set(), [pid]
    while todo:
        parent = todo.pop()
        children = {child for child, ppid in tree.items() if ppid == parent} - found
        found |= children
        todo.extend(children)
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_for(check, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    """The commands a test starts; any still running at teardown is killed with its descendants."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        left = descendants(proc.pid)
        proc.kill()
        proc.wait(10)
        for pid in left:
            try:
                os.kill(pid, 9)
            except OSError:
                pass


def start(command: str, tmp_path: Path, procs: list[subprocess.Popen[str]]) -> tuple[subprocess.Popen[str], str, int]:
    """``gapps-runbook COMMAND --emulator`` on free ports; (process, the URL it printed, the emulator's port)."""
    emulator_port, port = free_port(), free_port()
    jupyter = tmp_path / "jupyter"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "GAPPS_RUNBOOK_"))},
           PORT_ENV: str(emulator_port), "JUPYTER_CONFIG_DIR": str(jupyter / "config"),
           "JUPYTER_DATA_DIR": str(jupyter / "data"), "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"),
           "IPYTHONDIR": str(jupyter / "ipython"), "PYTHONUNBUFFERED": "1"}
    out = (tmp_path / f"{command}.out").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "gapps_runbook", "--home", str(tmp_path / "home"), command,
                             "--emulator", "--no-browser", "--port", str(port)],
                            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    procs.append(proc)
    printed = tmp_path / f"{command}.out"
    assert wait_for(lambda: "is ready: " in printed.read_text() or proc.poll() is not None, 120), printed.read_text()
    url = re.search(r"is ready: (\S+)", printed.read_text())
    assert url and proc.poll() is None, printed.read_text()
    return proc, url.group(1), emulator_port


def kernels(pid: int) -> set[int]:
    return {p for p in descendants(pid) if "ipykernel" in cmdline(p)}


def assert_all_gone_after_kill(proc: subprocess.Popen[str], emulator_port: int) -> None:
    family = descendants(proc.pid)
    assert any("emulator" in cmdline(p) for p in family) and kernels(proc.pid)
    proc.kill()
    proc.wait(10)
    assert wait_for(lambda: not any(alive(p) for p in family), 5), \
        [(p, cmdline(p)) for p in family if alive(p)]
    assert lab_module.is_emulator(f"http://127.0.0.1:{emulator_port}") is None  # the port answers no more


def test_kill_9_of_lab_leaves_nothing_it_started(tmp_path: Path, started: list[subprocess.Popen[str]]) -> None:
    proc, url, emulator_port = start("lab", tmp_path, started)
    base, token = url.split("/lab/")[0], url.rsplit("token=", 1)[1]
    reply = requests.post(f"{base}/api/kernels", params={"token": token}, json={"name": "python3"}, timeout=30)
    assert reply.status_code == 201, reply.text
    assert wait_for(lambda: bool(kernels(proc.pid)), 30)
    for kernel in kernels(proc.pid):  # the server's key stays in the server
        environ = Path(f"/proc/{kernel}/environ").read_bytes()
        assert token.encode() not in environ and b"JUPYTER_TOKEN=" not in environ and b"GAPPS_RUNBOOK_LAB_ROOT=" in environ
    log = tmp_path / "home" / "workspaces" / "default" / "emulator.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert_all_gone_after_kill(proc, emulator_port)


def test_kill_9_of_app_leaves_nothing_and_its_surfaces_hold(tmp_path: Path, started: list[subprocess.Popen[str]]) -> None:
    proc, url, emulator_port = start("app", tmp_path, started)
    port = int(url.split(":")[2].split("/")[0])
    token = re.search(r"token=([0-9a-f]+)", url).group(1)  # type: ignore[union-attr]
    for host in (f"evil.example:{port}", f"127.0.0.1:{port + 1}", "localhost", f"192.168.1.2:{port}"):
        refused = requests.get(url, headers={"Host": host}, timeout=30)
        assert refused.status_code == 403, (host, refused.status_code)
    with requests.get(url, headers={"Host": f"localhost:{port}"}, timeout=120, stream=True) as page:
        assert page.status_code == 200
        assert wait_for(lambda: bool(kernels(proc.pid)), 60)
        for kernel in kernels(proc.pid):
            environ = Path(f"/proc/{kernel}/environ").read_bytes()
            assert token.encode() not in environ and b"profile=default" in environ  # QUERY_STRING, less the token
    assert stat.S_IMODE((tmp_path / "home" / "app-emulator.log").stat().st_mode) == 0o600
    assert_all_gone_after_kill(proc, emulator_port)


class NotFound(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def not_the_emulator() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_what_answers_on_the_port_is_checked(emulator: RunningEmulator, not_the_emulator: int) -> None:
    assert lab_module.is_emulator(emulator.base_url) is True
    assert lab_module.is_emulator(f"http://127.0.0.1:{not_the_emulator}") is False
    assert lab_module.is_emulator(f"http://127.0.0.1:{free_port()}") is None
    assert lab_module.start_emulator(Path("/nonexistent"), Path("/nonexistent/log"), emulator.base_url) is None


@pytest.mark.parametrize("command", ["lab", "app"])
def test_emulator_refuses_another_program_on_its_port(tmp_path: Path, not_the_emulator: int, command: str) -> None:
    result = subprocess.run([sys.executable, "-m", "gapps_runbook", "--home", str(tmp_path), command, "--emulator",
                             "--emulator-port", str(not_the_emulator), "--no-browser", "--port", str(free_port())],
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert f"port {not_the_emulator} on 127.0.0.1 answers, but not as the practice emulator" in lines[0]
    assert "--emulator-port" in lines[0]


def test_a_world_writable_hand_off_folder_gets_a_warning(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    assert "writable by every user" in (world_writable_warning(shared / "app" / "token.json") or "")
    shared.chmod(0o1777)
    assert "sticky" in (world_writable_warning(shared / "token.json") or "")
    shared.chmod(0o700)
    assert world_writable_warning(shared / "token.json") is None
