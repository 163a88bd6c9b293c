"""Fakes at the transport seam, shared by the protocol modules' unit tests.

A :class:`FakeTransport` answers from a script (a :class:`Response` or an exception per request) and
records each request, so tests assert on what was sent without any network.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gapps_runbook.oauth.tokens import Token
from gapps_runbook.oauth.transport import Response


def reply(status: int, body: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None) -> Response:
    """A response with a JSON body (or none)."""
    return Response(status, dict(headers or {}), json.dumps(body).encode() if body is not None else b"")


@dataclass
class Call:
    """One request the fake received."""

    method: str
    url: str
    data: dict[str, str] | None
    params: dict[str, str] | None
    headers: dict[str, str] | None


class FakeTransport:
    """A scripted transport: each call takes the next Response (or raises the next exception).

    Args:
        script: The answers, in order.
        forbid_body: Fail the test if a request carries a form body (GET-only APIs).
    """

    def __init__(self, *script: Response | Exception, forbid_body: bool = False) -> None:
        self.script = list(script)
        self.calls: list[Call] = []
        self.forbid_body = forbid_body

    def __call__(self, method: str, url: str, *, data: Any = None, params: Any = None, headers: Any = None,
                 timeout: float = 30.0) -> Response:
        assert not (self.forbid_body and data is not None), "this request must not carry a body"
        self.calls.append(Call(method, url, dict(data) if data else None, dict(params) if params else None,
                               dict(headers) if headers else None))
        assert self.script, "more requests than scripted"
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


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
