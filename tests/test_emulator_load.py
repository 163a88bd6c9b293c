"""The emulator under load (issue 9, figure B6): listen backlog, bounded request log, stale device sessions.

Behaviour only: no test here asserts a duration (the figures are measured by ``make bench``,
``docs/performance.md``).
"""

from __future__ import annotations

import http.client
import socket
import threading
from urllib.parse import urlsplit

from gapps_runbook.emulator import Emulator, serve
from gapps_runbook.emulator import device_grant, server, state
from gapps_runbook.oauth.clock import FakeClock

BASE = "http://127.0.0.1:1"
CLIENTS = 200  # more than werkzeug's default backlog of 128


def test_the_listen_backlog_holds_200_connections_nobody_accepted_yet() -> None:
    """With werkzeug's 128 the kernel would drop SYNs past 129 queued connections (clients retry after 1 s)."""
    listener = server.EmulatorServer("127.0.0.1", 0, Emulator().wsgi_app, server.QuietHandler)
    clients: list[socket.socket] = []
    try:
        assert listener.request_queue_size == server.LISTEN_BACKLOG >= 1024
        for _ in range(CLIENTS):  # nothing accepts: every connection waits in the listen queue
            clients.append(socket.create_connection(("127.0.0.1", listener.server_port), timeout=10))
        listener.socket.setblocking(False)
        accepted = []
        while True:
            try:
                accepted.append(listener.socket.accept()[0])
            except BlockingIOError:
                break
        assert len(accepted) == CLIENTS
        for conn in accepted:
            conn.close()
    finally:
        for sock in clients:
            sock.close()
        listener.server_close()


def test_200_clients_starting_together_all_get_answers() -> None:
    with serve(Emulator()) as running:
        address = urlsplit(running.base_url)
        start = threading.Barrier(CLIENTS)
        statuses: list[int] = []
        failures: list[BaseException] = []

        def one_client() -> None:
            start.wait(timeout=30)
            conn = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
            try:
                conn.request("GET", "/.well-known/openid-configuration")
                response = conn.getresponse()
                response.read()
                statuses.append(response.status)
            except OSError as exc:
                failures.append(exc)
            finally:
                conn.close()

        threads = [threading.Thread(target=one_client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert failures == []
    assert statuses == [200] * CLIENTS


def test_responses_carry_a_content_length() -> None:
    """What HTTP/1.1 keep-alive would need; werkzeug 3.1 still closes every connection (server.py)."""
    with serve(Emulator()) as running:
        address = urlsplit(running.base_url)
        conn = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
        conn.request("POST", "/token", body="grant_type=nothing", headers={"Content-Type": "application/x-www-form-urlencoded"})
        response = conn.getresponse()
        body = response.read()
        conn.close()
    assert response.getheader("Content-Length") == str(len(body))
    assert response.getheader("Connection") == "close"


def test_the_request_log_keeps_only_the_newest_records() -> None:
    emu = Emulator()
    for number in range(state.REQUEST_LOG_LIMIT + 5):
        emu.state.record("POST", f"/token/{number}", {"grant_type"})
    kept = emu.requests
    assert len(kept) == state.REQUEST_LOG_LIMIT
    assert kept[0].path == "/token/5"
    assert kept[-1].path == f"/token/{state.REQUEST_LOG_LIMIT + 4}"


def test_device_sessions_are_dropped_an_hour_after_their_code_expired() -> None:
    clock = FakeClock()
    emu = Emulator(clock=clock)
    old = emu.device.start(emu.device_client.client_id, "email", base_url=BASE)
    clock.advance(1800)  # the code's lifetime: expired, still known
    assert emu.device.lookup(old["user_code"])[0] == "expired"
    emu.device.start(emu.device_client.client_id, "email", base_url=BASE)
    assert emu.device.lookup(old["user_code"])[0] == "expired"
    clock.advance(device_grant.SESSION_KEEP_AFTER_EXPIRY)
    new = emu.device.start(emu.device_client.client_id, "email", base_url=BASE)
    assert emu.device.lookup(old["user_code"])[0] == "unknown"
    assert old["device_code"] not in emu.device.sessions
    assert emu.device.lookup(new["user_code"])[0] == "pending"
    assert len(emu.device.sessions) == 2  # the second one expired less than an hour ago
