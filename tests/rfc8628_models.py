"""The provider's data and framework glue (tests/rfc8628_provider.py): clients, issued tokens, requests.

Authlib's framework-agnostic server classes need a request adapter; this one wraps a werkzeug request
(what Authlib's Flask integration does over Flask's). Clients follow RFC 7591's
``token_endpoint_auth_method``: each confidential client authenticates with its one registered method.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Payload, OAuth2Request, TokenMixin
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc8628 import DEVICE_CODE_GRANT_TYPE
from werkzeug.wrappers import Request

SCOPES = ("calendar:read", "calendar:write", "profile", "openid")
ALL_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


@dataclass(frozen=True)
class Client(ClientMixin):
    """A registered client: public (``auth_method="none"``, no secret), or confidential with the one
    method it was registered with (``client_secret_post`` or ``client_secret_basic``) at token and revocation."""

    client_id: str
    client_secret: str = field(default="", repr=False)
    auth_method: str = "none"

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        return " ".join(s for s in scope_to_list(scope) or [] if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return bool(self.client_secret) and hmac.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint == "introspection":  # RFC 7662 §2.1: only authenticated clients introspect
            return bool(self.client_secret) and method in ("client_secret_basic", "client_secret_post")
        return method == self.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in (DEVICE_CODE_GRANT_TYPE, "refresh_token")

    @property
    def client_metadata(self) -> dict[str, Any]:
        """RFC 7591 metadata; empty: UserInfo answers unsigned JSON (Authlib's UserInfoEndpoint reads it)."""
        return {}


@dataclass
class Issued(TokenMixin):
    """A token the provider issued."""

    client_id: str
    user: str
    scope: str
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    issued_at: float = field(default_factory=time.time)
    expires_in: int = 3600
    revoked: bool = False
    client: Any = field(default=None, repr=False, compare=False)

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() >= self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> str:
        return self.user

    def get_client(self) -> Any:
        return self.client


class WerkzeugRequest(OAuth2Request):
    """Authlib's request over a werkzeug request (what its Flask integration does over Flask's)."""

    def __init__(self, request: Request) -> None:
        super().__init__(request.method, request.url, headers=request.headers)
        self._request = request
        self.payload = WerkzeugPayload(request)

    @property
    def args(self) -> Any:
        return self._request.args

    @property
    def form(self) -> Any:
        return self._request.form


class WerkzeugPayload(OAuth2Payload):
    def __init__(self, request: Request) -> None:
        self._request = request

    @property
    def data(self) -> Any:
        return self._request.values

    @property
    def datalist(self) -> dict[str, list[str]]:
        values: dict[str, list[str]] = defaultdict(list)
        for key in self.data:
            values[key].extend(self.data.getlist(key))
        return values


def id_token(claims: dict[str, Any], key: bytes) -> str:
    """A compact HS256 JWT (RFC 7519): what an OpenID provider returns as ``id_token`` (OIDC Core §2)."""
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
