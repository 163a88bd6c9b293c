"""The emulator under load: listen backlog, keep-alive, a bounded pool, bounded request log, stale device sessions.

Behaviour only: no test here asserts a duration (the figures are measured by ``make bench``,
``docs/performance.md``).
"""

from __future__ import annotations

import http.client
import socket
import threading
from urllib.parse import urlsplit

from gapps_runbook.emulator import Emulator, serve
from gapps_runbook.emulator import authorization_server as state, device_grant, server
from gapps_runbook.oauth.clock import FakeClock

BASE = "http://127.0.0.1:1"
CLIENTS = 200  # more than the usual default backlog of 128


def test_the_listen_backlog_holds_200_connections_nobody_accepted_yet() -> None:
    """With a backlog of 128 the kernel would drop SYNs past 129 queued connections (clients retry after 1 s)."""
    listener = server.EmulatorServer("127.0.0.1", 0, Emulator().wsgi_app)
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
        listener.stop()


def clients_together(base_url: str, requests_each: int) -> tuple[list[int], list[BaseException], int]:
    """:data:`CLIENTS` threads released at once, each on ONE connection sending ``requests_each`` GETs.

    Returns:
        Every answer's status, every client's error, and how many threads were alive once all
        clients were done (the caller's baseline subtracted gives the server's).
    """
    address = urlsplit(base_url)
    start = threading.Barrier(CLIENTS)
    statuses: list[int] = []
    failures: list[BaseException] = []

    def one_client() -> None:
        start.wait(timeout=30)
        conn = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
        try:
            for _ in range(requests_each):
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
    return statuses, failures, threading.active_count()


def test_200_clients_starting_together_all_get_answers() -> None:
    with serve(Emulator()) as running:
        statuses, failures, _ = clients_together(running.base_url, 1)
    assert failures == []
    assert statuses == [200] * CLIENTS


def test_a_connection_is_kept_alive_across_requests() -> None:
    """HTTP/1.1 keep-alive: Content-Length on every answer, the same socket for the next request."""
    with serve(Emulator()) as running:
        address = urlsplit(running.base_url)
        conn = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
        try:
            answers = []
            for method, path, body in (("POST", "/token", "grant_type=nothing"), ("GET", "/nowhere", None),
                                       ("GET", "/.well-known/openid-configuration", None)):
                conn.request(method, path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
                response = conn.getresponse()
                data = response.read()
                answers.append((response.status, response.getheader("Content-Length"), len(data),
                                response.getheader("Connection"), response.getheader("Server")))
                if not answers[1:]:
                    sock = conn.sock
                assert conn.sock is sock  # not reconnected
            conn.request("GET", "/.well-known/openid-configuration", headers={"Connection": "close"})
            last = conn.getresponse()
            last.read()
        finally:
            conn.close()
    assert [a[0] for a in answers] == [400, 404, 200]
    assert all(a[1] == str(a[2]) and a[3] is None and a[4] == "ESF" for a in answers)
    assert last.getheader("Connection") == "close"


def test_pipelined_and_chunked_requests_are_read_whole() -> None:
    """Two requests in one write (the second behind a chunked body) get two answers, in order."""
    with serve(Emulator()) as running:
        address = urlsplit(running.base_url)
        chunked = (b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n5\r\ngrant\r\n0\r\n\r\n")
        plain = b"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
            sock.sendall(chunked + plain)
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
    assert received.startswith(b"HTTP/1.1 400 ") and received.count(b"HTTP/1.1 ") == 2
    assert b"HTTP/1.1 200 OK" in received and received.rstrip().endswith(b"}")


def test_many_kept_alive_connections_share_a_bounded_pool() -> None:
    """200 clients each keep one connection for 3 requests: every answer arrives; the server's threads stay bounded."""
    before = threading.active_count()
    with serve(Emulator()) as running:
        statuses, failures, alive = clients_together(running.base_url, 3)
    assert failures == []
    assert statuses == [200] * CLIENTS * 3
    assert alive - before <= server.WORKERS + 2  # the pool, the accepting thread, cheroot's overflow thread


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
