"""Fakes at the transport seam, shared by the tests.

A :class:`FakeTransport` answers from a script (a :class:`Response` or an exception per request) and
records each request, so tests assert on what was sent without any network. A :class:`WsgiTransport`
calls a WSGI app (the emulator's) in process: the real routing and grant rules, without sockets.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.test import Client

from gapps_runbook.errors import TransportError
from gapps_runbook.oauth.clock import Clock
from gapps_runbook.oauth.tokens import Token
from gapps_runbook.oauth.transport import Response


def client_id(tail: str = "a1b2c3d4" * 4) -> str:
    """A Google-shaped OAuth client ID: a 12-digit project number, 32 lowercase letters and digits (``tail``)."""
    return f"123456789012-{tail}.apps.googleusercontent.com"


CLIENT_ID = client_id()


def reply(status: int, body: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None) -> Response:
    """A response with a JSON body (or none)."""
    return Response(status, dict(headers or {}), json.dumps(body).encode() if body is not None else b"")


@dataclass
class Call:
    """One request the fake received (``at``: the clock's monotonic time, when the fake has a clock)."""

    method: str
    url: str
    data: dict[str, str] | None
    params: dict[str, str] | None
    headers: dict[str, str] | None
    at: float | None = None


class FakeTransport:
    """A scripted transport: each call takes the next Response (or raises the next exception).

    Args:
        script: The answers, in order.
        clock: Stamp each :class:`Call` with this clock's monotonic time (polling schedules).
        forbid_body: Fail the test if a request carries a form body (GET-only APIs).
        forbid_params: Fail the test if a request carries query parameters (form-only endpoints).
        repeat: Answer every request with the script's last item instead of running out.
    """

    def __init__(self, *script: Response | Exception, clock: Clock | None = None, forbid_body: bool = False,
                 forbid_params: bool = False, repeat: bool = False) -> None:
        self.script = list(script)
        self.calls: list[Call] = []
        self.clock = clock
        self.forbid_body = forbid_body
        self.forbid_params = forbid_params
        self.repeat = repeat

    def __call__(self, method: str, url: str, *, data: Any = None, params: Any = None, headers: Any = None,
                 timeout: float | None = 30.0) -> Response:
        assert not (self.forbid_body and data is not None), "this request must not carry a body"
        assert not (self.forbid_params and params is not None), "this request must not carry query parameters"
        self.calls.append(Call(method, url, dict(data) if data else None, dict(params) if params else None,
                               dict(headers) if headers else None,
                               self.clock.monotonic() if self.clock is not None else None))
        assert self.script, "more requests than scripted"
        item = self.script[0] if self.repeat and len(self.script) == 1 else self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


def get_only(*script: Response | Exception) -> FakeTransport:
    """A :class:`FakeTransport` for Google's APIs, which are GETs: a request carrying a body fails the test."""
    return FakeTransport(*script, forbid_body=True)


class WsgiTransport:
    """A :class:`~gapps_runbook.oauth.transport.Transport` that calls a WSGI app in process (werkzeug's test client).

    The emulator's ``"reset"`` fault raises ``ConnectionResetError`` through the app; it becomes the
    :class:`TransportError` a dropped connection gives :class:`RequestsTransport`.
    """

    def __init__(self, app: Any) -> None:
        self.client = Client(app)

    def __call__(self, method: str, url: str, *, data: Mapping[str, str] | None = None,
                 params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
                 timeout: float | None = None) -> Response:
        parts = urllib.parse.urlsplit(url)
        try:
            reply = self.client.open(
                parts.path, base_url=f"{parts.scheme}://{parts.netloc}", method=method,
                data=dict(data) if data is not None else None,
                query_string=dict(params) if params is not None else (parts.query or None),
                headers=dict(headers or {}),
            )
        except ConnectionResetError:
            raise TransportError(f"could not connect to {parts.netloc} (connection reset)") from None
        return Response(reply.status_code, {k.lower(): v for k, v in reply.headers.items()}, reply.get_data())


ACCESS = "ya29.verify-planted-access-token-xyz"
NOW = 1_800_000_000.0
_AUTH = "https://www.googleapis.com/auth/"


def token(*scopes: str, expires_at: float = NOW + 3599) -> Token:
    """An access token (``ACCESS``) granted ``scopes``; Google's short names (``calendar.readonly``) get their URL prefix."""
    return Token(ACCESS, expires_at, tuple(_AUTH + s if "." in s or s == "calendar" else s for s in scopes))


def make_token(issued_at: float, suffix: str = "A") -> Token:
    """A complete stored token issued at ``issued_at`` (wall clock), distinguishable by ``suffix``."""
    return Token(
        access_token=f"ya29.access-{suffix}-" + "x" * 20,
        expires_at=issued_at + 3599,
        scopes=("https://www.googleapis.com/auth/calendar.readonly",),
        refresh_token=f"1//refresh-{suffix}-" + "y" * 20,
        refresh_token_expires_at=issued_at + 604799,
        issued_at=issued_at,
        account="engineer@example.com",
    )
