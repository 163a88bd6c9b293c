"""The emulator's WSGI application: werkzeug routing, the OAuth endpoints, faults and error rendering.

Routes (Google's public documents, :mod:`.facts`): discovery, ``/device/code``, ``/token``, ``/tokeninfo``,
``/revoke`` (POST only: GET is 404 as Google's), OpenID Connect ``/v1/userinfo``, the consent
page ``/o/oauth2/v2/auth``, the verification page ``/device``, the API methods (:mod:`.apis`)
and the landing page ``/``. Client credentials come in the body or by HTTP Basic (:mod:`.authenticate_client`).
OAuth errors are rendered with ``OAuthError.to_response()``; anything malformed gets a Google-shaped
4xx, never a traceback.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from ..errors import InvalidRequest, OAuthError, UnsupportedGrantType
from . import apis, pages
from .browser import authorize_page, device_page
from .authenticate_client import BASIC_CHALLENGE, authenticate, client_credentials, uses_basic
from .faults import ConnectionDropped, drop_connection, fault_response
from .landing import client_json, landing
from .routes import URL_MAP
from .served import ServedEmulator
from .authorization_server import oauth_error
from .userinfo_endpoint import userinfo

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("gapps_runbook.emulator")
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
LEGACY_DEVICE_GRANT = "http://oauth.net/grant_type/device/1.0"  # LEGACY mode only (Google's pre-2019 docs)
JSON_PATHS = frozenset({"/token", "/device/code", "/tokeninfo", "/revoke", "/v1/userinfo"})
NO_STORE = {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate", "Pragma": "no-cache"}


class LimitedRequest(Request):
    """A request with small body limits: the emulator never needs more."""

    max_content_length = 1024 * 1024
    max_form_memory_size = 256 * 1024
    max_form_parts = 200


def base_url(request: Request) -> str:
    """The URL the client used to reach the emulator, e.g. ``http://127.0.0.1:8765``."""
    return request.host_url.rstrip("/")


def oauth_json(error: OAuthError) -> Response:
    """Google's JSON body for an OAuth error (``error_uri`` included where Google sends one)."""
    status, body = error.to_response()
    return apis.json_response(dict(body), status, NO_STORE)


def json_body(request: Request) -> Any:
    """The JSON body, or None if it is not JSON (werkzeug's ``silent`` misses RecursionError)."""
    try:
        return request.get_json(silent=True)
    except RecursionError:  # "[[[[..." thousands deep: fits in max_content_length
        return None


def body_params(request: Request) -> dict[str, str]:
    """Form or JSON body parameters (Google takes both, as real clients show); first value of repeats."""
    if request.mimetype == "application/json":
        data = json_body(request)
        if not isinstance(data, dict):
            raise oauth_error(InvalidRequest, "Invalid JSON payload received.")
        if not all(isinstance(v, (str, int, float, bool)) for v in data.values()):
            raise oauth_error(InvalidRequest, "Invalid JSON payload received. Unexpected value.")
        return {k: json.dumps(v) if isinstance(v, bool) else str(v) for k, v in data.items()}
    return {key: request.form.get(key, "") for key in request.form.keys()}


def _keys(request: Request) -> set[str]:
    keys = set(request.args.keys())
    try:
        if request.mimetype == "application/json":
            data = json_body(request)
            keys |= set(data) if isinstance(data, dict) else set()
        else:
            keys |= set(request.form.keys())
    except HTTPException:
        pass
    return keys


class App:
    """The WSGI callable; all state lives in the :class:`~.core.Emulator` it serves."""

    def __init__(self, emulator: ServedEmulator) -> None:
        self.emulator = emulator
        self.state = emulator.state

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = LimitedRequest(environ)
        try:
            response = self.dispatch(request)
        except ConnectionDropped:
            raise
        except OAuthError as error:
            response = oauth_json(error)
            # RFC 6749 §5.2: a 401 challenges the scheme the client used
            if error.status == 401 and uses_basic(request.headers.get("Authorization")):
                response.headers["WWW-Authenticate"] = BASIC_CHALLENGE
        except HTTPException as exc:
            response = self.http_error(exc, request)
        except Exception as exc:  # a bug: answer like Google's backend, log the type, never the traceback text
            log.error("emulator: %s on %s %s", type(exc).__name__, request.method, request.path)
            response = apis.json_response({"error": "internal_failure", "error_description": "Backend Error"}, 500)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        """Record, apply a queued fault, route, handle."""
        self.state.record(request.method, request.path, _keys(request))
        if (faulty := self._fault(request.path, request.environ)) is not None:
            return faulty
        endpoint, args = URL_MAP.bind_to_environ(request.environ).match()
        handler: Callable[..., Response] = getattr(self, "on_" + endpoint)
        return handler(request, **args)

    def _fault(self, path: str, environ: WSGIEnvironment) -> Response | None:
        """Apply the next fault queued for ``path``: its response, or None (none queued, or ``timeout`` waited)."""
        fault = self.state.take_fault(path)
        if fault == "reset":
            drop_connection(environ)
        elif fault == "timeout":
            time.sleep(self.emulator.timeout_seconds)  # real seconds, by design: the client's timeout fires
        elif fault is not None:
            return fault_response(fault, path)
        return None

    def http_error(self, exc: HTTPException, request: Request) -> Response:
        """Google-shaped 4xx for routing and parsing failures."""
        if isinstance(exc, NotFound):
            return pages.not_found(request.path)
        if isinstance(exc, MethodNotAllowed):
            return pages.method_not_allowed(request.method, request.path, exc.valid_methods or ())
        if isinstance(exc, RequestEntityTooLarge):
            text = "Your client issued a request that was too large."
            return pages.front_end_error(413, "Request Entity Too Large", text)
        code = exc.code or 400
        if request.path in JSON_PATHS:
            return oauth_json(OAuthError("Bad Request", status=code, error="invalid_request"))
        return pages.front_end_error(code, exc.name, "Your client has issued a malformed or illegal request.")

    # -- OAuth endpoints (JSON) --------------------------------------------------------------------

    def on_discovery(self, request: Request) -> Response:
        base = base_url(request)
        document = {
            "issuer": base,
            "authorization_endpoint": base + "/o/oauth2/v2/auth",
            "device_authorization_endpoint": base + "/device/code",
            "token_endpoint": base + "/token",
            "revocation_endpoint": base + "/revoke",
            "tokeninfo_endpoint": base + "/tokeninfo",
            "userinfo_endpoint": base + "/v1/userinfo",
            "api_base": base,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["HS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["aud", "email", "email_verified", "exp", "iat", "iss", "sub"],
            "code_challenge_methods_supported": ["S256", "plain"],
            "grant_types_supported": ["authorization_code", "refresh_token", DEVICE_GRANT],
        }
        return apis.json_response(document)

    def on_device_code(self, request: Request) -> Response:
        authorization = request.headers.get("Authorization")
        body = self._device_code(body_params(request), authorization, base_url(request))
        return apis.json_response(body, 200, NO_STORE)

    def _device_code(self, params: dict[str, str], authorization: str | None, base: str) -> dict[str, Any]:
        credentials = client_credentials(authorization, params)
        if credentials.method == "client_secret_basic":  # a secret in the body is not checked here (as before)
            authenticate(self.state, credentials)
        return self.emulator.device.start(credentials.client_id, params.get("scope"), base_url=base)

    def on_token(self, request: Request) -> Response:
        authorization = request.headers.get("Authorization")
        return apis.json_response(self._token(body_params(request), authorization, base_url(request)), 200, NO_STORE)

    def _token(self, params: dict[str, str], authorization: str | None, issuer: str) -> dict[str, Any]:
        client = authenticate(self.state, client_credentials(authorization, params))
        grant_type, device = params.get("grant_type", ""), self.emulator.device
        if grant_type == DEVICE_GRANT:
            return device.poll(client, params.get("device_code"), issuer=issuer)
        if grant_type == LEGACY_DEVICE_GRANT and device.legacy_device_scopes:
            return device.poll(client, params.get("code"), issuer=issuer)
        if grant_type == "authorization_code":
            return self.emulator.code.exchange(client, params, issuer=issuer)
        if grant_type == "refresh_token":
            return self.state.refresh(client, params.get("refresh_token"), params.get("scope"), issuer=issuer)
        if not grant_type:
            raise oauth_error(InvalidRequest, "Missing required parameter: grant_type")
        raise oauth_error(UnsupportedGrantType, f"Invalid grant_type: {grant_type[:80]}")

    def on_tokeninfo(self, request: Request) -> Response:
        params = {**request.args.to_dict(), **(body_params(request) if request.method == "POST" else {})}
        if not any(params.get(k) for k in ("access_token", "id_token", "token_handle")):
            # [UNCONFIRMED] text
            raise oauth_error(InvalidRequest, "Either access_token, id_token, or token_handle required")
        return apis.json_response(self.state.token_info(params.get("access_token")), 200, NO_STORE)

    def on_revoke(self, request: Request) -> Response:
        params = {**request.args.to_dict(), **body_params(request)}
        credentials = client_credentials(request.headers.get("Authorization"), params)
        if credentials.method == "client_secret_basic":  # Google needs no client auth here; Basic must be right
            authenticate(self.state, credentials)
        self.state.revoke(params.get("token"))
        return apis.json_response({}, 200, NO_STORE)

    def on_revoke_get(self, request: Request) -> Response:
        return pages.not_found(request.path)  # Google answers GET /revoke with 404 (googleapis/oauth2client#750)

    def on_userinfo(self, request: Request) -> Response:
        return userinfo(request, self.state)

    def on_landing(self, request: Request) -> Response:
        return landing(self.emulator, request, base_url(request))

    def on_client_json(self, request: Request, client_id: str) -> Response:
        return client_json(self.emulator, client_id, base_url(request))

    # -- APIs ---------------------------------------------------------------------------------------

    def on_api(self, request: Request, rpc: str, **values: str) -> Response:
        return apis.answer(request, self.state, rpc, values)

    # -- browser pages (see .browser) ---------------------------------------------------------------

    def on_authorize(self, request: Request) -> Response:
        return authorize_page(self.emulator, request)

    def on_device_page(self, request: Request) -> Response:
        return device_page(self.emulator, request)

