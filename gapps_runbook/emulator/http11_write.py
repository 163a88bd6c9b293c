"""Calling the WSGI app and writing its answer, for :mod:`.http11`.

The app's body is read whole first, so every answer carries ``Content-Length`` (keep-alive); the
headers the app sets come first, in its order, then ``Server`` and ``Date`` unless it set them, then
``Content-Length`` (not on 1xx, 204, 304) and ``Connection: close`` when the connection ends.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("gapps_runbook.emulator")
SERVER = "ESF"  # the Server header of Google's OAuth front end
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_DROP = frozenset({"content-length", "connection", "transfer-encoding", "keep-alive"})
_date: tuple[int, str] = (0, "")  # (second, its IMF-fixdate): one formatdate a second, not one a request


def call_app(app: WSGIApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """The app's status, headers and whole body; a 500 (logged) if it raises anything but a ConnectionError."""
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        if exc_info is not None and answer.get("sent"):
            raise exc_info[1].with_traceback(exc_info[2])
        answer.update(status=status, headers=list(headers))
        return chunks.append

    chunks: list[bytes] = []
    try:
        result = app(environ, start_response)
        try:
            chunks.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
    except ConnectionError:
        raise
    except Exception:  # noqa: BLE001  (as werkzeug: log it, answer 500)
        log.error("emulator error on %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"], exc_info=True)
        return "500 Internal Server Error", [("Content-Type", "text/plain; charset=utf-8")], b"internal error\n"
    return answer["status"], answer["headers"], b"".join(chunks)


def http_date() -> str:
    """``email.utils.formatdate(usegmt=True)`` for now: the same text, formatted once a second."""
    global _date
    now = time.time()
    second = int(now)
    if _date[0] != second:
        _date = (second, email.utils.formatdate(second, usegmt=True))
    return _date[1]


def response_bytes(method: str, status: str, headers: list[tuple[str, str]], body: bytes, *, keep: bool) -> bytes:
    """The status line, headers and (unless HEAD, 204 or 304) body to send."""
    names = {name.lower() for name, _ in headers}
    lines = [f"HTTP/1.1 {status}"]
    lines += [f"{name}: {value}" for name, value in headers if name.lower() not in _DROP]
    if "server" not in names:
        lines.append(f"Server: {SERVER}")
    if "date" not in names:
        lines.append(f"Date: {http_date()}")
    code = status[:3]
    if code not in ("204", "304") and not code.startswith("1"):
        lines.append(f"Content-Length: {len(body)}")
    if not keep:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if method == "HEAD" or code in ("204", "304") else head + body
