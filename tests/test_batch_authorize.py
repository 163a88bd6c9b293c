"""``batch 03 -p flow device`` (issue 9 item 2): unattended device flow over many sites.

Four emulator profiles with the emulator's device client and the ``openid`` service (Google's
device flow allows it); the emulator does NOT auto-approve. The batch runs as a whole process; the
test reads each site's ``user_code`` event from its stdout (JSON lines), approves three codes at the
emulator and denies one. The codes also go to a hand-off file and to a webhook receiver on
127.0.0.1 that this test runs; the receiver answers HTTP 500 for one site, whose wait goes on and
whose summary row says the webhook failed. Summary: 3 ok, 1 denied; exit 4 (denied). No device
code, client secret or token reaches stdout, stderr, the hand-off file, the webhook or the batch
folder (leak canary). The emulator's device interval is 5 s, so the batch takes about 10 s; the
test waits for events, never for fixed times.
"""

from __future__ import annotations

import http.server
import json
import os
import queue
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gapps_runbook import cli, runbook
from gapps_runbook.emulator import Emulator, RunningEmulator, serve
from gapps_runbook.oauth.transport import RequestsTransport
from gapps_runbook.profile.store import ProfileStore
from gapps_runbook.batch import outcome as batch_outcome
from gapps_runbook.batch.device_authorize import check_webhook
from gapps_runbook.safety.leakscan import scan_paths, scan_text

SITES = ("site-a", "site-b", "site-c", "site-d")
DENIED = "site-d"
WEBHOOK_FAILS_FOR = "site-c"


class Receiver(http.server.BaseHTTPRequestHandler):
    """The operator's webhook: keeps every body; answers 500 for :data:`WEBHOOK_FAILS_FOR`."""

    bodies: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802  (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Receiver.bodies.append(body)
        self.send_response(500 if json.loads(body).get("profile") == WEBHOOK_FAILS_FOR else 204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    Receiver.bodies = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def running() -> Iterator[RunningEmulator]:
    with serve(Emulator(auto_approve=False)) as served:
        yield served


@pytest.fixture
def home(tmp_path: Path, running: RunningEmulator) -> Path:
    home = tmp_path / "home"
    device = running.emulator.device_client
    for name in SITES:
        site = runbook.Site(ProfileStore(home).profile(name), RequestsTransport(), issuer=running.base_url)
        runbook.save_client(site, client_id=device.client_id, client_secret=device.client_secret, client_type="device")
    return home


def _lines(stream: Any, into: queue.Queue[str | None]) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


def test_device_batch_sends_each_code_and_waits_for_each_decision(
        tmp_path: Path, running: RunningEmulator, home: Path, webhook: str) -> None:
    handoff, out = tmp_path / "codes.jsonl", tmp_path / "runs"
    argv = [sys.executable, "-m", "gapps_runbook", "--home", str(home), "--issuer", running.base_url, "batch", "03",
            "--profiles", ",".join(SITES), "-p", "flow", "device", "-p", "services", '["openid"]',
            "--handoff", str(handoff), "--webhook", webhook, "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    stdout: list[str] = []
    codes: dict[str, dict[str, Any]] = {}
    while len(codes) < len(SITES):  # each site's code, as the batch sends it
        line = lines.get(timeout=60)
        assert line is not None, proc.stderr.read() if proc.stderr else ""
        stdout.append(line)
        event = json.loads(line)
        if event["event"] == "user_code":
            codes[event["profile"]] = event
    for name, event in codes.items():
        assert set(event) >= {"profile", "user_code", "verification_url", "expires_in"}
        (running.emulator.deny if name == DENIED else running.emulator.approve)(event["user_code"])
    while (line := lines.get(timeout=120)) is not None:
        stdout.append(line)
    code = proc.wait(timeout=30)
    stderr = proc.stderr.read() if proc.stderr else ""

    events = [json.loads(line) for line in stdout]  # stdout is JSON lines throughout
    assert code == batch_outcome.EXIT_CODES["denied"] == 4, stderr
    (batch_dir,) = out.iterdir()
    rows = {r["profile"]: r for r in json.loads((batch_dir / "summary.json").read_text())}
    assert {n: r["outcome"] for n, r in rows.items()} == {n: "denied" if n == DENIED else "ok" for n in SITES}
    assert "webhook" in rows[WEBHOOK_FAILS_FOR]["detail"] and "HTTP 500" in rows[WEBHOOK_FAILS_FOR]["detail"]
    assert [e["profile"] for e in events if e["event"] == "notify_failed"] == [WEBHOOK_FAILS_FOR]
    assert events[-1]["event"] == "summary" and events[-1]["counts"] == {"denied": 1, "ok": 3}
    assert not list(batch_dir.glob("*/*.ipynb"))  # not through notebooks

    handed = [json.loads(line) for line in handoff.read_text().splitlines()]
    assert sorted(e["user_code"] for e in handed) == sorted(e["user_code"] for e in codes.values())
    assert stat.S_IMODE(os.stat(handoff).st_mode) == 0o600
    posted = [json.loads(body) for body in Receiver.bodies]
    assert sorted(e["profile"] for e in posted) == sorted(SITES)

    device_codes = list(running.emulator.device.sessions)
    assert len(device_codes) == len(SITES)
    canaries = [*device_codes, running.emulator.device_client.client_secret]
    for name in SITES:
        token = ProfileStore(home).profile(name).load_token()
        canaries += [token.access_token, token.refresh_token or ""] if token else []
    canaries = [c for c in canaries if c]
    assert scan_text("stdout", "".join(stdout), canaries) == []
    assert scan_text("stderr", stderr, canaries) == []
    assert scan_text("webhook", b"".join(Receiver.bodies), canaries) == []
    assert scan_paths([batch_dir, handoff], canaries) == []


def test_webhook_must_be_https_or_loopback() -> None:
    assert check_webhook("https://hooks.example.com/x") == "https://hooks.example.com/x"
    assert check_webhook("http://127.0.0.1:9/x").startswith("http://127.0.0.1")
    for bad in ("http://hooks.example.com/x", "ftp://127.0.0.1/x", "https:///x"):
        with pytest.raises(Exception, match="--webhook must be an https URL"):
            check_webhook(bad)


def test_handoff_and_webhook_need_the_device_flow(tmp_path: Path, home: Path) -> None:
    base = ["--home", str(home), "batch", "04", "--all", "--out", str(tmp_path / "runs")]
    assert cli.run([*base, "--handoff", str(tmp_path / "codes.jsonl")]) == 2
    assert cli.run([*base, "--webhook", "https://hooks.example.com/x"]) == 2
    assert not (tmp_path / "runs").exists()


def test_a_symlinked_handoff_file_is_refused(tmp_path: Path, home: Path) -> None:
    (tmp_path / "codes.jsonl").symlink_to(tmp_path / "elsewhere")
    argv = ["--home", str(home), "batch", "03", "--all", "-p", "flow", "device", "--handoff",
            str(tmp_path / "codes.jsonl"), "--out", str(tmp_path / "runs")]
    assert cli.run(argv) == 2
    assert not (tmp_path / "elsewhere").exists()
