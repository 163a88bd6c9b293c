"""Injected faults: what a flaky network or a Google outage looks like to the client.

``Emulator.fail_next(path, fault)`` queues one of :data:`~.state.FAULTS` for a path:

- ``"500"``, ``"503"``: a JSON error (OAuth paths: ``internal_failure`` / ``temporarily_unavailable``;
  API paths: Google's ``INTERNAL`` / ``UNAVAILABLE`` envelope).
- ``"502"``, ``"504"``, ``"408"``: Google's front-end HTML error page.
- ``"429"``: ``Retry-After: 1``, a JSON body (API envelope ``RESOURCE_EXHAUSTED``, or OAuth ``rate_limit_exceeded``).
- ``"malformed"``: HTTP 200 with an HTML body that is not JSON.
- ``"timeout"``: sleep ``timeout_seconds`` real seconds, then answer normally (handled in :mod:`.wsgi`).
- ``"reset"``: close the connection with no HTTP response at all (:func:`drop_connection`).
"""

from __future__ import annotations

import errno
import socket
import struct
from typing import Any

from werkzeug.wrappers import Response

from ..oauth.scope_catalog import probed_services
from .apis import json_response
from .pages import front_end_error

API_PREFIXES = tuple(service.api_path + "/" for service in probed_services())
"""Where a fault is answered with Google's API envelope rather than an OAuth error body."""
_FRONT_END = {
    502: ("Bad Gateway", "The server encountered a temporary error and could not complete your request."
                         "<p>Please try again in 30 seconds."),
    504: ("Gateway Timeout", "The server did not answer in time. Please try again later."),
    408: ("Request Timeout", "Your client has taken too long to issue its request."),
}  # fmt: skip


SOCKET_KEY = "gapps_runbook.socket"  # the environ key where :mod:`.server` puts the connection's socket


class ConnectionDropped(ConnectionResetError):
    """Raised through the server (errno ECONNRESET) so it writes nothing and logs nothing: the socket is shut."""


_JSON = {  # status: (API envelope status, message, legacy reason; OAuth body)
    429: ("RESOURCE_EXHAUSTED", "Quota exceeded. Try again later.", "rateLimitExceeded",
          {"error": "rate_limit_exceeded", "error_code": "rate_limit_exceeded",
           "error_description": "Rate limit exceeded. Try again later."}),
    500: ("INTERNAL", "Internal error encountered.", "backendError",
          {"error": "internal_failure", "error_description": "Backend Error"}),
    503: ("UNAVAILABLE", "The service is currently unavailable.", "backendError",
          {"error": "temporarily_unavailable", "error_description": "Service Unavailable"}),
}  # fmt: skip
MALFORMED = "<!DOCTYPE html><html><head><title>Sign in - Google Accounts</title></head><body></body></html>"


def fault_response(fault: str, path: str) -> Response:
    """The response for an HTTP-level fault (everything but ``timeout`` and ``reset``)."""
    if fault == "malformed":
        return Response(MALFORMED, status=200, content_type="text/html; charset=utf-8")
    status = int(fault)
    if status in _FRONT_END:
        reason, text = _FRONT_END[status]
        return front_end_error(status, reason, text)
    api_status, message, reason, oauth_body = _JSON[status]
    body = _api_error(status, api_status, message, reason) if path.startswith(API_PREFIXES) else oauth_body
    return json_response(body, status, {"Retry-After": "1"} if status == 429 else None)


def _api_error(code: int, status: str, message: str, reason: str) -> dict[str, Any]:
    item = {"message": message, "domain": "global", "reason": reason}
    return {"error": {"code": code, "message": message, "errors": [item], "status": status}}


def drop_connection(environ: dict[str, Any]) -> None:
    """Reset the client's connection (RST, no response), then stop the server from answering.

    Raises:
        ConnectionDropped: Always; the server takes it as a connection the client reset and writes nothing.
    """
    sock = environ.get(SOCKET_KEY)
    if isinstance(sock, socket.socket):
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionDropped(errno.ECONNRESET, "emulator fault: connection reset")
