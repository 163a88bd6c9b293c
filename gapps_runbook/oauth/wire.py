"""Reading fields of OAuth JSON documents: one definition of "a number of seconds" and "a string".

Every protocol document the runbook reads (the token response, RFC 6749 §5.1; the device
authorization response, RFC 8628 §3.2; UserInfo, OpenID Connect Core §5.3.2; Google's tokeninfo
and RFC 7662 introspection) is parsed with these readers, so a field that is missing or not what the
protocol says becomes one :class:`~gapps_runbook.errors.MalformedResponse` (a ProtocolError, exit 3;
:func:`malformed`) naming the provider, the endpoint and the field, never the value (a value may be
a secret): "the token response from provider idp.example (/oauth/token): access_token is missing".
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from ..errors import MalformedResponse
from .transport import host_of

MAX_SECONDS = 2**31 - 1
"""The longest lifetime or interval accepted (68 years): more is no lifetime, and overflows float deadlines."""

MALFORMED_FIX = "this provider answers outside the protocol: tell its administrator, or use another provider (--issuer)"


def from_endpoint(kind: str, url: str | None = None) -> str:
    """A document's name for messages: ``kind``, and the provider and endpoint it came from when known.

    Args:
        kind: What the document is ("device authorization response").
        url: The endpoint that answered.

    Returns:
        ``"device authorization response from provider idp.example (/device)"``, or ``kind``.
    """
    if not url:
        return kind
    path = urllib.parse.urlsplit(url).path or "/"
    return f"{kind} from provider {host_of(url)} ({path})"


def malformed(document: str, key: str, problem: str = "is missing") -> MalformedResponse:
    """The one error for a missing or wrongly typed field: "the DOCUMENT: KEY PROBLEM", with :data:`MALFORMED_FIX`.

    Args:
        document: The document's name (:func:`from_endpoint`).
        key: The field.
        problem: What is wrong with it, never its value ("is not a string").
    """
    return MalformedResponse(f"the {document}: {key} {problem}", fix=MALFORMED_FIX)


def wire_int(value: Any) -> int | None:
    """An integer as OAuth servers send it: a JSON number, or a digit string (Google's tokeninfo sends
    ``"3560"``; "Some IdP returns string", MSAL). None when it is neither, or above ``MAX_SECONDS``;
    callers decide what a negative value means.

    ``str.isdigit`` is also true of "²" and "١٢", which ``int()`` refuses or misreads, and 4300+ digits
    make ``int()`` raise: only short ASCII digit strings are read.
    """
    if isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text.startswith("-") else text
        if not (digits.isascii() and digits.isdigit() and len(digits) <= 10):
            return None
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int) or value > MAX_SECONDS:
        return None
    return value


def seconds(
    body: Mapping[str, Any],
    key: str,
    document: str,
    *,
    default: int | None = None,
    minimum: int = 0,
    clamp: bool = False,
) -> int | None:
    """A number of seconds (RFC 6749 §5.1 ``expires_in``, RFC 8628 §3.2 ``interval``), strings accepted.

    Args:
        body: The JSON object.
        key: The field.
        document: The document's name for messages ("token response").
        default: The value when the field is absent or null.
        minimum: The smallest value accepted (1 for an interval, 0 for a lifetime).
        clamp: Read a value below ``minimum`` as ``minimum`` (tokeninfo's negative ``expires_in`` of a
            token that has just expired) instead of refusing it.

    Returns:
        The value, or ``default``.

    Raises:
        MalformedResponse: The field is not an integer from ``minimum`` to :data:`MAX_SECONDS`.
    """
    if body.get(key) is None:
        return default
    value = wire_int(body[key])
    if value is not None and value < minimum and clamp:
        return minimum
    if value is None or value < minimum:
        raise malformed(document, key, f"is not an integer of seconds from {minimum} to {MAX_SECONDS}")
    return value


def text(body: Mapping[str, Any], key: str, document: str, *, required: bool = False) -> str | None:
    """A string field; absent, null or empty reads as None.

    Args:
        body: The JSON object.
        key: The field.
        document: The document's name for messages ("device authorization response").
        required: Refuse an absent or empty field.

    Returns:
        The string, or None.

    Raises:
        MalformedResponse: The field is not a string, or is required and absent or empty.
    """
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise malformed(document, key)
        return None
    if not isinstance(value, str):
        raise malformed(document, key, "is not a string")
    return value
