"""An independent, standards-compliant RFC 8628 provider for tests, built on Authlib (not our emulator).

It speaks the RFC dialect, not Google's:

- RFC 8414 metadata at the §3.1 location (``/.well-known/oauth-authorization-server`` between host and
  path); by default no OpenID Connect discovery, no ``tokeninfo_endpoint``, no ``api_base``: the
  runbook sees ``google_dialect`` False;
- the device authorization response names ``verification_uri`` and ``verification_uri_complete``;
- ``authorization_pending``, ``slow_down``, ``access_denied`` and ``expired_token`` come as HTTP 400;
- clients are public (``token_endpoint_auth_method`` "none", no secret) or confidential with the one
  method they were registered with; scopes are the provider's own (``calendar:read``...), never Google's;
- RFC 6749 §6 refresh, RFC 7009 revocation and RFC 7662 introspection, also from Authlib.

Options (issue 7), each a real provider configuration seen in the wild:

- ``auth_methods=("client_secret_basic",)``: the server accepts only these RFC 6749 §2.3.1 methods at
  device authorization, token, revocation (and, without "none", introspection); its metadata lists
  them, or omits ``token_endpoint_auth_methods_supported`` with ``advertise_auth_methods=False``
  (RFC 8414 §2: the default is then ``client_secret_basic``);
- ``openid=True``: an OpenID Connect discovery document at ``ISSUER/.well-known/openid-configuration``
  without ``device_authorization_endpoint`` (django-oauth-toolkit publishes it only in RFC 8414
  metadata), a ``/userinfo`` endpoint (Authlib's) returning ``email``, and an ``id_token`` without ``email``;
- ``path="/tenant/a"``: an issuer with a path, ``http://127.0.0.1:PORT/tenant/a``.

Authlib's framework-agnostic :class:`authlib.oauth2.rfc6749.AuthorizationServer` is adapted to a
plain werkzeug WSGI app (no Flask). :func:`serve_provider` runs it on 127.0.0.1, port 0, in a thread.
The test plays the user with :meth:`Provider.approve` / :meth:`Provider.deny`.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from authlib.common.security import generate_token
from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749 import AuthorizationServer, OAuth2Request, ResourceProtector
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc8628 import DEVICE_CODE_GRANT_TYPE, DeviceCredentialDict
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from rfc8628_grants import (
    BearerValidator,
    DeviceEndpoint,
    DeviceGrant,
    Introspection,
    Protector,
    ProviderUserInfo,
    RefreshGrant,
    Revocation,
)
from rfc8628_models import ALL_AUTH_METHODS, SCOPES, Client, Issued, WerkzeugRequest, id_token

SCOPE = "calendar:read"  # the provider's own scope; a Google prefix would make it invalid_scope

__all__ = ["ALL_AUTH_METHODS", "SCOPE", "SCOPES", "Client", "Provider", "RunningProvider", "play_user", "serve_provider"]


class Provider(AuthorizationServer):
    """The authorization server: state in memory, Authlib's endpoints and grants, a werkzeug app.

    Args:
        clients: The registered clients.
        auth_methods: The RFC 6749 §2.3.1 methods the server accepts (all three by default).
        advertise_auth_methods: List them in the metadata; False omits the lists (RFC 8414 §2 default basic).
        openid: Serve OpenID Connect discovery (without the device endpoint), UserInfo and ID tokens.
        path: The issuer's path (``/tenant/a``); empty for an issuer without one.
    """

    def __init__(self, clients: list[Client], *, auth_methods: Sequence[str] = ALL_AUTH_METHODS,
                 advertise_auth_methods: bool = True, openid: bool = False, path: str = "") -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.base_url = ""
        self.path = path.rstrip("/")
        self.auth_methods = list(auth_methods)
        self.advertise_auth_methods = advertise_auth_methods
        self.openid = openid
        self.clients = {c.client_id: c for c in clients}
        self.devices: dict[str, DeviceCredentialDict] = {}
        self.decisions: dict[str, tuple[str, bool]] = {}
        self.tokens: list[Issued] = []
        self.slow_downs = 0  # answer slow_down to this many coming polls
        self.requests: list[tuple[str, int]] = []  # (path, status), values never kept
        self.auth_seen: list[tuple[str, str]] = []  # (path, "basic" | "form" | "none"), never the values
        self._codes = threading.Condition()
        self._user_codes: list[str] = []
        self._key = secrets.token_bytes(32)
        self.protector = ResourceProtector()
        self.protector.register_token_validator(BearerValidator(self))
        self.register_token_generator("default", BearerTokenGenerator(
            access_token_generator=lambda **_: generate_token(42),
            refresh_token_generator=lambda **_: generate_token(48),
            expires_generator=3600,
        ))
        methods = {"TOKEN_ENDPOINT_AUTH_METHODS": self.auth_methods}
        self.register_grant(type("DeviceGrant", (DeviceGrant,), methods))
        self.register_grant(type("RefreshGrant", (RefreshGrant,), methods))
        self.register_endpoint(type("DeviceEndpoint", (DeviceEndpoint,), {"CLIENT_AUTH_METHODS": self.auth_methods}))
        self.register_endpoint(type("Revocation", (Revocation,), {"CLIENT_AUTH_METHODS": self.auth_methods}))
        secret_methods = [m for m in self.auth_methods if m != "none"]
        self.register_endpoint(type("Introspection", (Introspection,), {"CLIENT_AUTH_METHODS": secret_methods}))
        p = self.path
        rules = [
            Rule("/.well-known/oauth-authorization-server" + p, endpoint="metadata", methods=["GET"]),
            Rule(p + "/device_authorization", endpoint="device_authorization", methods=["POST"]),
            Rule(p + "/token", endpoint="token", methods=["POST"]),
            Rule(p + "/revoke", endpoint="revocation", methods=["POST"]),
            Rule(p + "/introspect", endpoint="introspection", methods=["POST"]),
            Rule(p + "/device", endpoint="verification", methods=["GET"]),
        ]
        if openid:
            rules += [Rule(p + "/.well-known/openid-configuration", endpoint="openid_configuration", methods=["GET"]),
                      Rule(p + "/userinfo", endpoint="userinfo", methods=["GET"])]
        self._routes = Map(rules)

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
            expires_in=token["expires_in"], client=request.client,
        ))

    def id_token_for(self, user: str, client_id: str) -> str:
        """An ID token (OIDC Core §2) naming the user by ``sub`` only: no ``email`` claim."""
        now = int(time.time())
        claims = {"iss": self.base_url, "sub": user.split("@")[0], "aud": client_id, "iat": now, "exp": now + 3600}
        return id_token(claims, self._key)

    # Authlib's framework hooks ----------------------------------------------------------------

    def create_oauth2_request(self, request: Request) -> OAuth2Request:
        return WerkzeugRequest(request)

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
        document: dict[str, Any] = {
            "issuer": base,
            "token_endpoint": base + "/token",
            "device_authorization_endpoint": base + "/device_authorization",
            "revocation_endpoint": base + "/revoke",
            "introspection_endpoint": base + "/introspect",
            "scopes_supported": list(SCOPES),
            "response_types_supported": ["none"],  # no authorization endpoint: no browser redirect flows
            "grant_types_supported": [DEVICE_CODE_GRANT_TYPE, "refresh_token"],
        }
        if self.advertise_auth_methods:
            secret_methods = [m for m in self.auth_methods if m != "none"]
            document.update(token_endpoint_auth_methods_supported=self.auth_methods,
                            revocation_endpoint_auth_methods_supported=self.auth_methods,
                            introspection_endpoint_auth_methods_supported=secret_methods)
        return document

    def openid_configuration(self) -> dict[str, Any]:
        """OpenID Connect Discovery §3 metadata, without ``device_authorization_endpoint`` (RFC 8628 §4
        registers it for RFC 8414 metadata; django-oauth-toolkit publishes it only there)."""
        document = {k: v for k, v in self.metadata().items() if k != "device_authorization_endpoint"}
        document.update(
            authorization_endpoint=self.base_url + "/authorize", userinfo_endpoint=self.base_url + "/userinfo",
            jwks_uri=self.base_url + "/jwks", subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["HS256"], response_types_supported=["code"],
        )
        return document

    def userinfo(self, request: Request) -> Response:
        """OIDC Core §5.3 through Authlib's UserInfoEndpoint; a bad token is its RFC 6750 §3.1 401."""
        oauth_request = self.create_oauth2_request(request)
        endpoint = ProviderUserInfo(server=self, resource_protector=Protector(self.protector, oauth_request))
        try:
            status, body, headers = endpoint(oauth_request)
        except OAuth2Error as error:
            status, body, headers = error()
        return self.handle_response(status, body, headers)

    def dispatch(self, request: Request) -> Response:
        name, _args = self._routes.bind_to_environ(request.environ).match()
        self.auth_seen.append((request.path, _auth_kind(request)))
        if name in ("metadata", "openid_configuration"):
            return Response(json.dumps(getattr(self, name)()), content_type="application/json")
        if name == "verification":
            return Response("Enter the code shown on your device.", content_type="text/plain")
        if name == "userinfo":
            return self.userinfo(request)
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


def _auth_kind(request: Request) -> str:
    """How a request authenticated its client: HTTP Basic, form ``client_secret``, or neither (no values kept)."""
    if request.headers.get("Authorization", "").startswith("Basic "):
        return "basic"
    return "form" if "client_secret" in request.form else "none"


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@dataclass
class RunningProvider:
    base_url: str
    provider: Provider


@contextlib.contextmanager
def serve_provider(provider: Provider) -> Iterator[RunningProvider]:
    """Serve ``provider`` on 127.0.0.1, a free port, in a thread, until the block ends.

    ``base_url`` is the issuer: ``http://127.0.0.1:PORT`` plus the provider's path, if any.
    """
    server = make_server("127.0.0.1", 0, provider, threaded=True, request_handler=_Quiet)
    provider.base_url = f"http://127.0.0.1:{server.server_port}{provider.path}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield RunningProvider(provider.base_url, provider)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def play_user(running: RunningProvider, *, deny: bool = False) -> threading.Thread:
    """A thread that approves (or denies) the next user code after the first poll, as a person would."""

    def act() -> None:
        code = running.provider.wait_for_user_code(timeout=20)
        polled = threading.Event()
        while not polled.wait(0.05):
            if any(path.endswith("/token") for path, _ in running.provider.requests):
                polled.set()
        (running.provider.deny if deny else running.provider.approve)(code)

    thread = threading.Thread(target=act, daemon=True)
    thread.start()
    return thread
