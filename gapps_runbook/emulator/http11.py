"""The emulator's HTTP/1.1 server: keep-alive, one selector thread, a bounded pool of worker threads.

Issue 9, figure B6 (``docs/performance.md``): werkzeug's development server started a thread per
connection and closed every connection (``Connection: close`` on every response in 3.1, since
http.server cannot drain a request body it did not read before the next request line). Here:

* **keep-alive**: every answer carries ``Content-Length`` (the app's body is read whole first), the
  request body is always read whole before the app runs (``Content-Length`` or chunked), so the next
  request line is where it should be; a connection stays open until the client closes it, sends
  ``Connection: close`` (or is HTTP/1.0 without ``keep-alive``), or is idle for :data:`IDLE_SECONDS`;
* **a bounded pool**: one selector thread accepts connections and watches the idle ones; a
  connection with a request waiting goes, through one queue, to one of :data:`WORKERS` threads
  (started with the server), which answers it (and any request already buffered) and re-arms it
  (Linux: epoll, ``EPOLLONESHOT``; else via a queue); the answer is written by :mod:`.http11_write`;
* the listen backlog is :data:`LISTEN_BACKLOG` (werkzeug's 128 overflowed when 200 device flows
  started together: the kernel dropped SYNs and clients retried after 1 s).

What the app sees is a PEP 3333 environ as werkzeug's server builds it (header names with ``_``
dropped, repeated fields joined with ","), with ``werkzeug.socket`` (the ``reset`` fault closes it
and raises :class:`~.faults.ConnectionDropped`, a ConnectionError: nothing is written). Requests are
logged at DEBUG as method, path and status: never the query string (it may hold tokens).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import select
import selectors
import socket
import threading
import time

from .http11_read import (
    READ_TIMEOUT, BadRequest, Connection, keep_alive, read_body, read_headers, request_line, wsgi_environ,
)
from .http11_write import WSGIApp, call_app, response_bytes

log = logging.getLogger("gapps_runbook.emulator")
LISTEN_BACKLOG = 1024  # pending connections the kernel queues (capped by net.core.somaxconn)
WORKERS = 32  # threads answering requests; idle keep-alive connections hold none
IDLE_SECONDS = 60.0  # an idle keep-alive connection is closed after this


class EmulatorServer:
    """An HTTP/1.1 server for one WSGI app: keep-alive, one selector thread, a bounded worker pool.

    Args:
        host: Interface to bind (``::1`` and other IPv6 literals too).
        port: TCP port; 0 picks a free one.
        app: The WSGI app.
        workers: Threads answering requests at once.
    """

    request_queue_size = LISTEN_BACKLOG

    def __init__(self, host: str, port: int, app: WSGIApp, *, workers: int = WORKERS) -> None:
        # Linux: one epoll, each connection armed once (EPOLLONESHOT) and re-armed by the worker that
        # answered it, so no hand-back through the selector thread; elsewhere, selectors and a queue.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.create_server((host, port), family=family, backlog=self.request_queue_size)
        self.server_address = self.socket.getsockname()
        self.server_port: int = self.server_address[1]
        self.host = host
        self.app = app
        # The pool: threads taking connections off one queue (no Future per request, as ThreadPoolExecutor has).
        self._jobs: queue.SimpleQueue[Connection | None] = queue.SimpleQueue()
        self._workers = [threading.Thread(target=self._work, name=f"gapps-emulator-{n}", daemon=True)
                         for n in range(max(1, workers))]  # fmt: skip
        self._epoll = select.epoll() if hasattr(select, "epoll") else None
        self._by_fd: dict[int, Connection] = {}
        self._selector = selectors.DefaultSelector()
        self._back: queue.SimpleQueue[Connection] = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._open: set[Connection] = set()
        self._lock = threading.Lock()
        for worker in self._workers:
            worker.start()

    # --- the selector thread ---------------------------------------------------------------

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Accept and dispatch until :meth:`shutdown`."""
        self.socket.setblocking(False)
        self._wake_r.setblocking(False)
        if self._epoll is not None:
            return self._serve_epoll(poll_interval)
        self._selector.register(self.socket, selectors.EVENT_READ, None)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        try:
            while not self._stop.is_set():
                for key, _ in self._selector.select(timeout=poll_interval):
                    if key.fileobj is self.socket:
                        self._accept()
                    elif key.fileobj is self._wake_r:
                        with contextlib.suppress(BlockingIOError):
                            self._wake_r.recv(4096)
                    else:
                        conn = key.data
                        self._selector.unregister(conn.sock)
                        self._jobs.put(conn)
                self._take_back()
                self._close_idle()
        finally:
            self._stopped.set()

    def _serve_epoll(self, poll_interval: float) -> None:
        assert self._epoll is not None
        listening, wake = self.socket.fileno(), self._wake_r.fileno()
        self._epoll.register(listening, select.EPOLLIN)
        self._epoll.register(wake, select.EPOLLIN)
        try:
            while not self._stop.is_set():
                for fd, _ in self._epoll.poll(poll_interval):
                    if fd == listening:
                        self._accept()
                    elif fd == wake:
                        with contextlib.suppress(BlockingIOError):
                            self._wake_r.recv(4096)
                    elif (conn := self._by_fd.get(fd)) is not None:
                        conn.busy = True  # disarmed (one shot) until its worker re-arms it
                        self._jobs.put(conn)
                self._close_idle()
        finally:
            self._stopped.set()

    def _accept(self) -> None:
        while True:
            try:
                sock, peer = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of descriptors, a connection reset before accept: try again later
                return
            sock.setblocking(True)
            sock.settimeout(READ_TIMEOUT)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Connection(sock, peer, fd=sock.fileno())
            with self._lock:
                self._open.add(conn)
            if self._epoll is not None:
                self._by_fd[conn.fd] = conn
                self._epoll.register(conn.fd, select.EPOLLIN | select.EPOLLONESHOT)
            else:
                self._selector.register(sock, selectors.EVENT_READ, conn)

    def _take_back(self) -> None:
        while True:
            try:
                conn = self._back.get_nowait()
            except queue.Empty:
                return
            conn.idle_since = time.monotonic()
            if self._stop.is_set():
                self._close(conn)
            else:
                self._selector.register(conn.sock, selectors.EVENT_READ, conn)

    def _close_idle(self) -> None:
        limit = time.monotonic() - IDLE_SECONDS
        for conn in list(self._by_fd.values()):  # epoll
            if not conn.busy and conn.idle_since < limit:
                self._close(conn)
        for key in list(self._selector.get_map().values()):
            conn = key.data
            if conn is not None and conn.idle_since < limit:
                self._selector.unregister(conn.sock)
                self._close(conn)

    def _close(self, conn: Connection) -> None:
        with self._lock:
            self._open.discard(conn)
            if self._by_fd.get(conn.fd) is conn:
                del self._by_fd[conn.fd]  # closing the socket also takes it out of the epoll
        with contextlib.suppress(OSError):
            conn.sock.close()

    # --- a worker thread -------------------------------------------------------------------

    def _work(self) -> None:
        while (conn := self._jobs.get()) is not None:
            self._serve_connection(conn)

    def _serve_connection(self, conn: Connection) -> None:
        """Answer the waiting request and any already buffered behind it; then hand the connection back."""
        try:
            keep = self._one_request(conn)
            while keep and conn.buffer and not self._stop.is_set():
                keep = self._one_request(conn)
        except Exception:  # noqa: BLE001  (a broken connection; the app's own errors are answered 500)
            keep = False
        if keep and not self._stop.is_set() and self._epoll is not None:
            conn.idle_since, conn.busy = time.monotonic(), False
            try:
                self._epoll.modify(conn.fd, select.EPOLLIN | select.EPOLLONESHOT)
            except OSError:  # closed meanwhile (idle sweep, shutdown)
                self._close(conn)
        elif keep and not self._stop.is_set():
            self._back.put(conn)
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
        else:
            self._close(conn)

    def _one_request(self, conn: Connection) -> bool:
        """Read one request, answer it; whether the connection stays open."""
        try:
            if not conn.buffer and not conn.fill():
                return False  # the client closed an idle connection
            request = conn.line()
            while not request:  # RFC 9112 §2.2: ignore empty lines before the request line
                request = conn.line()
            method, target, version = request_line(request)
            headers = read_headers(conn)
            keep = keep_alive(version, headers)
            if headers.get("expect", "").lower() == "100-continue" and version == "HTTP/1.1":
                conn.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = read_body(conn, headers)
        except BadRequest:
            conn.sock.sendall(response_bytes("GET", "400 Bad Request", [("Content-Type", "text/plain; charset=utf-8")],
                                             b"bad request\n", keep=False))
            return False
        environ = wsgi_environ(conn, (self.host, self.server_port), method, target, version, headers, body)
        try:
            status, out_headers, out = call_app(self.app, environ)
        except ConnectionError:  # the reset fault closed the socket itself: write nothing
            return False
        path = environ["PATH_INFO"]
        log.debug("%s %s %s", method, path, status.split(" ", 1)[0])
        conn.sock.sendall(response_bytes(method, status, out_headers, out, keep=keep))
        return keep

    # --- control ---------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever` (from another thread) and wait until it has."""
        self._stop.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._stopped.wait(timeout=10)

    def server_close(self) -> None:
        """Close the listening socket and every connection; let running requests end."""
        with contextlib.suppress(OSError):
            self.socket.close()
        with contextlib.suppress(queue.Empty):
            while True:  # connections not yet taken: not answered (they are closed below)
                self._jobs.get_nowait()
        for _ in self._workers:
            self._jobs.put(None)
        for worker in self._workers:
            worker.join()
        with self._lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.sock.close()
        with contextlib.suppress(Exception):
            self._selector.close()
            if self._epoll is not None:
                self._epoll.close()
        self._wake_r.close()
        self._wake_w.close()
