"""An independent, standards-compliant RFC 8628 provider for tests, built on Authlib (not our emulator).

It speaks the RFC dialect, not Google's:

- RFC 8414 metadata at ``/.well-known/oauth-authorization-server`` only (no OpenID Connect
  discovery, no ``tokeninfo_endpoint``, no ``api_base``): the runbook sees ``google_dialect`` False;
- the device authorization response names ``verification_uri`` and ``verification_uri_complete``;
- ``authorization_pending``, ``slow_down``, ``access_denied`` and ``expired_token`` come as HTTP 400;
- clients are public (``token_endpoint_auth_method`` "none", no secret) or confidential with
  ``client_secret_post``; scopes are the provider's own (``calendar:read``...), never Google's;
- RFC 6749 §6 refresh, RFC 7009 revocation and RFC 7662 introspection, also from Authlib.

Authlib's framework-agnostic :class:`authlib.oauth2.rfc6749.AuthorizationServer` is adapted to a
plain werkzeug WSGI app (no Flask). :func:`serve_provider` runs it on 127.0.0.1, port 0, in a thread.
The test plays the user with :meth:`Provider.approve` / :meth:`Provider.deny`.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from authlib.common.security import generate_token
from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Payload, OAuth2Request, TokenMixin
from authlib.oauth2.rfc6749.grants import RefreshTokenGrant
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc8628 import (
    DEVICE_CODE_GRANT_TYPE,
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    DeviceCredentialDict,
)
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

SCOPES = ("calendar:read", "calendar:write", "profile")
ALL_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


@dataclass(frozen=True)
class Client(ClientMixin):
    """A registered client: public (``auth_method="none"``, no secret) or ``client_secret_post``."""

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
        raise NotImplementedError


class _Request(OAuth2Request):
    """Authlib's request over a werkzeug request (what its Flask integration does over Flask's)."""

    def __init__(self, request: Request) -> None:
        super().__init__(request.method, request.url, headers=request.headers)
        self._request = request
        self.payload = _Payload(request)

    @property
    def args(self) -> Any:
        return self._request.args

    @property
    def form(self) -> Any:
        return self._request.form


class _Payload(OAuth2Payload):
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



class _DeviceEndpoint(DeviceAuthorizationEndpoint):
    INTERVAL = 1  # seconds; RFC 8628 lets the server choose (Authlib's default is 5)

    def get_verification_uri(self) -> str:
        return self.server.base_url + "/device"

    def save_device_credential(self, client_id: str, scope: str, data: dict[str, Any]) -> None:
        self.server.save_device(client_id, scope, data)


class _DeviceGrant(DeviceCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS

    def query_device_credential(self, device_code: str) -> DeviceCredentialDict | None:
        return self.server.devices.get(device_code)

    def query_user_grant(self, user_code: str) -> tuple[str, bool] | None:
        return self.server.decisions.get(user_code)

    def should_slow_down(self, credential: DeviceCredentialDict) -> bool:
        return self.server.take_slow_down(credential)


class _RefreshGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> Issued | None:
        found = self.server.find(refresh_token, "refresh_token")
        return found if found is not None and not found.revoked else None

    def authenticate_user(self, refresh_token: Issued) -> str:
        return refresh_token.user

    def revoke_old_credential(self, refresh_token: Issued) -> None:
        refresh_token.revoked = True


class _Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ALL_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> Issued | None:
        return self.server.find(token_string, token_type_hint)

    def revoke_token(self, token: Issued, request: Any) -> None:
        token.revoked = True


class _Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> Issued | None:
        return self.server.find(token_string, token_type_hint)

    def check_permission(self, token: Issued, client: Client, request: Any) -> bool:
        return token.check_client(client)

    def introspect_token(self, token: Issued) -> dict[str, Any]:
        return {"active": True, "client_id": token.client_id, "username": token.user, "scope": token.scope,
                "token_type": "Bearer", "exp": int(token.issued_at + token.expires_in), "iat": int(token.issued_at)}


class Provider(AuthorizationServer):
    """The authorization server: state in memory, Authlib's endpoints and grants, a werkzeug app.

    Args:
        clients: The registered clients.
    """

    def __init__(self, clients: list[Client]) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.base_url = ""
        self.clients = {c.client_id: c for c in clients}
        self.devices: dict[str, DeviceCredentialDict] = {}
        self.decisions: dict[str, tuple[str, bool]] = {}
        self.tokens: list[Issued] = []
        self.slow_downs = 0  # answer slow_down to this many coming polls
        self.requests: list[tuple[str, int]] = []  # (path, status), values never kept
        self._codes = threading.Condition()
        self._user_codes: list[str] = []
        self.register_token_generator("default", BearerTokenGenerator(
            access_token_generator=lambda **_: generate_token(42),
            refresh_token_generator=lambda **_: generate_token(48),
            expires_generator=3600,
        ))
        self.register_grant(_DeviceGrant)
        self.register_grant(_RefreshGrant)
        self.register_endpoint(_DeviceEndpoint)
        self.register_endpoint(_Revocation)
        self.register_endpoint(_Introspection)
        self._routes = Map([
            Rule("/.well-known/oauth-authorization-server", endpoint="metadata", methods=["GET"]),
            Rule("/device_authorization", endpoint="device_authorization", methods=["POST"]),
            Rule("/token", endpoint="token", methods=["POST"]),
            Rule("/revoke", endpoint="revocation", methods=["POST"]),
            Rule("/introspect", endpoint="introspection", methods=["POST"]),
            Rule("/device", endpoint="verification", methods=["GET"]),
        ])

    # the test's hands -------------------------------------------------------------------------

    def wait_for_user_code(self, timeout: float = 10.0) -> str:
        """The next user code issued (blocks until a device authorization request arrives)."""
        with self._codes:
            if not self._codes.wait_for(lambda: self._user_codes, timeout=timeout):
                raise TimeoutError("no device authorization request arrived")
            return self._user_codes.pop(0)

    def approve(self, user_code: str, user: str = "alice@example.org") -> None:
        """The user typed ``user_code`` at the verification URI and allowed access."""
        self.decisions[user_code] = (user, True)

    def deny(self, user_code: str, user: str = "alice@example.org") -> None:
        """The user typed ``user_code`` and refused."""
        self.decisions[user_code] = (user, False)

    def find(self, value: str, hint: str | None = None) -> Issued | None:
        """The issued token whose access or refresh token is ``value``."""
        for issued in self.tokens:
            if hint != "refresh_token" and hmac.compare_digest(issued.access_token, value):
                return issued
            if hint != "access_token" and issued.refresh_token and hmac.compare_digest(issued.refresh_token, value):
                return issued
        return None

    # Authlib's storage hooks ------------------------------------------------------------------

    def query_client(self, client_id: str) -> Client | None:
        return self.clients.get(client_id)

    def save_device(self, client_id: str, scope: str, data: dict[str, Any]) -> None:
        self.devices[data["device_code"]] = DeviceCredentialDict(
            client_id=client_id, scope=scope, user_code=data["user_code"],
            expires_at=time.time() + data["expires_in"],
        )
        with self._codes:
            self._user_codes.append(data["user_code"])
            self._codes.notify_all()

    def take_slow_down(self, credential: DeviceCredentialDict) -> bool:
        if self.slow_downs > 0:
            self.slow_downs -= 1
            return True
        return False

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        self.tokens.append(Issued(
            client_id=request.client.get_client_id(), user=request.user, scope=token.get("scope", ""),
            access_token=token["access_token"], refresh_token=token.get("refresh_token"),
            expires_in=token["expires_in"],
        ))

    # Authlib's framework hooks ----------------------------------------------------------------

    def create_oauth2_request(self, request: Request) -> OAuth2Request:
        return _Request(request)

    def create_json_request(self, request: Request) -> Any:
        raise NotImplementedError

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        return Response(json.dumps(body), status=status, headers=list(headers or []), content_type="application/json")

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    # the WSGI app -----------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """RFC 8414 §2 authorization server metadata."""
        base = self.base_url
        return {
            "issuer": base,
            "token_endpoint": base + "/token",
            "device_authorization_endpoint": base + "/device_authorization",
            "revocation_endpoint": base + "/revoke",
            "introspection_endpoint": base + "/introspect",
            "scopes_supported": list(SCOPES),
            "response_types_supported": ["none"],  # no authorization endpoint: no browser redirect flows
            "grant_types_supported": [DEVICE_CODE_GRANT_TYPE, "refresh_token"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
            "revocation_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        }

    def dispatch(self, request: Request) -> Response:
        name, _args = self._routes.bind_to_environ(request.environ).match()
        if name == "metadata":
            return Response(json.dumps(self.metadata()), content_type="application/json")
        if name == "verification":
            return Response("Enter the code shown on your device.", content_type="text/plain")
        if name == "token":
            return self.create_token_response(request)
        return self.create_endpoint_response(name, request)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except (NotFound, MethodNotAllowed) as exc:
            response = exc.get_response()
        except HTTPException as exc:  # pragma: no cover
            response = exc.get_response()
        self.requests.append((request.path, response.status_code))
        return response(environ, start_response)


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@dataclass
class RunningProvider:
    base_url: str
    provider: Provider


@contextlib.contextmanager
def serve_provider(provider: Provider) -> Iterator[RunningProvider]:
    """Serve ``provider`` on 127.0.0.1, a free port, in a thread, until the block ends."""
    server = make_server("127.0.0.1", 0, provider, threaded=True, request_handler=_Quiet)
    provider.base_url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield RunningProvider(provider.base_url, provider)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
