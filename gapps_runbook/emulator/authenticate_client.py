"""Client credentials on ``/token``, ``/revoke`` and ``/device/code``: in the body or by HTTP Basic.

Google's discovery document lists ``token_endpoint_auth_methods_supported: ["client_secret_post",
"client_secret_basic"]``. RFC 6749 §2.3.1: with Basic, the client id and secret are each
form-urlencoded (``application/x-www-form-urlencoded``), joined by ``:`` and base64-encoded; the
client "MUST NOT use more than one authentication method in each request", so Basic plus a
``client_secret`` in the body is ``invalid_request``. A ``client_id`` in the body next to Basic is
not a second method (RFC 6749 §3.2.1 lets clients send it) but must name the same client. Many
clients (``requests``' ``auth=(id, secret)``) skip the form-urlencoding, so a pair that fails decoded
is tried once more as sent: the two differ only for ids or secrets with ``+`` or ``%``.
The texts of these errors are not Google's captured ones: [UNCONFIRMED].
"""

from __future__ import annotations

import base64
import contextlib
import binascii
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ..errors import InvalidClient, InvalidRequest, OAuthError
from . import facts
from .records import RegisteredClient
from .authorization_server import State, oauth_error

AuthMethod = Literal["none", "client_secret_post", "client_secret_basic"]
BASIC_CHALLENGE = 'Basic realm="https://accounts.google.com/"'
TWO_METHODS = "Client authentication must use one method: HTTP Basic or client_secret in the body, not both."
TWO_IDS = "The client_id in the body does not match the client_id of the Authorization header."


@dataclass(frozen=True)
class ClientCredentials:
    """What a request presented to identify and authenticate its client.

    Attributes:
        client_id: The client id, or None if none was sent.
        client_secret: The client secret, or None if none was sent.
        method: ``client_secret_basic`` (Authorization header), ``client_secret_post`` (secret in the
            body) or ``none`` (a client id at most).
        undecoded: Basic only: the id and secret as sent, when form-urldecoding changed them.
    """

    client_id: str | None
    client_secret: str | None = field(repr=False)
    method: AuthMethod
    undecoded: tuple[str, str] | None = field(default=None, repr=False)


def uses_basic(authorization: str | None) -> bool:
    """True if the ``Authorization`` header is ``Basic ...`` (then a 401 must challenge Basic)."""
    return (authorization or "").split(" ", 1)[0].lower() == "basic"


def client_credentials(authorization: str | None, params: Mapping[str, str]) -> ClientCredentials:
    """The client credentials of a request: its ``Authorization`` header and its body parameters ``params``.

    Raises:
        InvalidRequest: Basic and a body ``client_secret`` both, or two different client ids.
        InvalidClient: The Basic header is not base64 of ``id:secret`` (401, "Unauthorized").
    """
    body_id, body_secret = params.get("client_id") or None, params.get("client_secret") or None
    if authorization is None or not uses_basic(authorization):
        return ClientCredentials(body_id, body_secret, "client_secret_post" if body_secret else "none")
    if body_secret:
        raise oauth_error(InvalidRequest, TWO_METHODS)
    raw_id, raw_secret = _decode_basic(authorization.split(" ", 1)[-1])
    client_id, client_secret = urllib.parse.unquote_plus(raw_id), urllib.parse.unquote_plus(raw_secret)
    if body_id and body_id not in (client_id, raw_id):
        raise oauth_error(InvalidRequest, TWO_IDS)
    undecoded = (raw_id, raw_secret) if (raw_id, raw_secret) != (client_id, client_secret) else None
    return ClientCredentials(client_id or None, client_secret or None, "client_secret_basic", undecoded)


def authenticate(state: State, credentials: ClientCredentials) -> RegisteredClient:
    """The authenticated client (:meth:`State.authenticate`), trying an undecoded Basic pair second.

    Raises:
        OAuthError: As :meth:`State.authenticate`, for the RFC-decoded pair.
    """
    try:
        return state.authenticate(credentials.client_id, credentials.client_secret)
    except (InvalidClient, InvalidRequest):
        if credentials.undecoded is not None:
            with contextlib.suppress(OAuthError):
                return state.authenticate(*credentials.undecoded)
        raise


def _decode_basic(value: str) -> tuple[str, str]:
    try:
        text = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        raise oauth_error(InvalidClient, facts.SECRET_WRONG) from None
    if ":" not in text:
        raise oauth_error(InvalidClient, facts.SECRET_WRONG)
    client_id, _, client_secret = text.partition(":")
    return client_id, client_secret
