"""Reading one HTTP/1.x request whole off a kept-alive connection, for :mod:`.http11`.

The body is always read whole (``Content-Length`` or chunked) before the app runs, so the next
request line is next on the connection; a request this reader cannot read exactly is
:class:`BadRequest` (answered 400, connection closed). Header names with ``_`` are dropped and
repeated fields joined with ",", as werkzeug's server does in its environ.
"""

from __future__ import annotations

import io
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

READ_TIMEOUT = 30.0  # seconds a started request may take to arrive whole
MAX_HEAD = 65536  # request line and headers
MAX_BODY = 16 * 1024 * 1024  # the app refuses far smaller bodies itself (413)


class BadRequest(Exception):
    """The bytes on the connection are not an HTTP/1.x request this server reads: answer 400 and close."""


@dataclass(eq=False)
class Connection:
    """One client connection and the bytes read from it but not yet parsed."""

    sock: socket.socket
    peer: tuple[Any, ...]
    buffer: bytearray = field(default_factory=bytearray)
    idle_since: float = field(default_factory=time.monotonic)
    fd: int = -1  # the socket's descriptor, kept for after it is closed
    busy: bool = False  # a worker is answering it

    def fill(self) -> bool:
        """Read what the socket has (waiting up to :data:`READ_TIMEOUT`); False at end of stream."""
        data = self.sock.recv(65536)
        self.buffer += data
        return bool(data)

    def take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self.fill():
                raise BadRequest("the body ended early")
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def line(self) -> bytes:
        while (end := self.buffer.find(b"\r\n")) < 0:
            if len(self.buffer) > MAX_HEAD or not self.fill():
                raise BadRequest("a line too long or cut short")
        data = bytes(self.buffer[:end])
        del self.buffer[:end + 2]
        return data


def wsgi_environ(conn: Connection, server: tuple[str, int], method: str, target: str, version: str,
                 headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The PEP 3333 environ of one request, as werkzeug's server builds it."""
    if target.startswith(("http://", "https://")):  # absolute form (RFC 9112 §3.2.2)
        target = "/" + target.split("://", 1)[1].partition("/")[2]
    path, _, query = target.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query, "REQUEST_URI": target, "RAW_URI": target, "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]), "SERVER_PROTOCOL": version,
        "REMOTE_ADDR": conn.peer[0], "REMOTE_PORT": conn.peer[1],
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True, "wsgi.errors": sys.stderr, "wsgi.multithread": True,
        "wsgi.multiprocess": False, "wsgi.run_once": False, "werkzeug.socket": conn.sock,
        "CONTENT_LENGTH": str(len(body)) if body or "content-length" in headers else "",
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif key not in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
            environ[f"HTTP_{key}"] = value
    return environ


def request_line(line: bytes) -> tuple[str, str, str]:
    try:
        method, target, version = line.decode("latin-1").split(" ")
    except ValueError:
        raise BadRequest("not a request line") from None
    if version not in ("HTTP/1.0", "HTTP/1.1") or not method.isalpha() or not target:
        raise BadRequest("not HTTP/1.x")
    return method, target, version


def read_headers(conn: Connection) -> dict[str, str]:
    """The header fields, names lower-cased, repeated fields joined with "," (as werkzeug's environ has them)."""
    headers: dict[str, str] = {}
    size = 0
    while line := conn.line():
        size += len(line)
        if size > MAX_HEAD or line[:1] in (b" ", b"\t"):  # obsolete line folding refused (RFC 9112 §5.2)
            raise BadRequest("headers too long or folded")
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest("a malformed header field")
        key, value = name.lower(), value.strip()
        if "_" in key:  # as werkzeug: HTTP_FOO would be ambiguous between Foo-Bar and Foo_Bar
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return headers


def read_body(conn: Connection, headers: dict[str, str]) -> bytes:
    """The whole request body (so the next request line is next on the connection)."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            size_text = conn.line().split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise BadRequest("a bad chunk size") from None
            if size == 0:
                while conn.line():  # trailer fields, then the empty line
                    pass
                return bytes(body)
            if len(body) + size > MAX_BODY:
                raise BadRequest("body too large")
            body += conn.take(size)
            if conn.take(2) != b"\r\n":
                raise BadRequest("a chunk without its CRLF")
    length = headers.get("content-length", "")
    if not length:
        return b""
    if not length.isdigit() or int(length) > MAX_BODY:
        raise BadRequest("a bad Content-Length")
    return conn.take(int(length))


def keep_alive(version: str, headers: dict[str, str]) -> bool:
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    if version == "HTTP/1.1":
        return "close" not in tokens
    return "keep-alive" in tokens
