"""OpenID Connect UserInfo (OpenID Connect Core §5.3) as Google serves it at ``/v1/userinfo``.

Google's ``userinfo_endpoint`` is ``https://openidconnect.googleapis.com/v1/userinfo``. With a Bearer
access token that has ``openid``, ``email`` or ``profile`` it answers the standard claims: ``sub``
always, ``email`` and ``email_verified`` (a JSON boolean, unlike tokeninfo's strings) with the email
scope, ``name`` and ``given_name`` with the profile scope. A missing, unknown, expired or revoked
token gets 401 ``{"error": "invalid_request", "error_description": "Invalid Credentials"}`` [OBS,
third-party captures of Google's v3 userinfo] with ``WWW-Authenticate: Bearer ..., error="invalid_token"``
(RFC 6750 §3.1; no error code when no token was sent). A token without those scopes gets the same 401
with ``error="insufficient_scope"`` [UNCONFIRMED: Google's answer to it is not captured].
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from . import facts
from .apis import REALM, json_response
from .authorization_server import State

OPENID_SCOPES = frozenset({"openid", facts.USERINFO_EMAIL, facts.USERINFO_PROFILE})
INVALID = {"error": "invalid_request", "error_description": "Invalid Credentials"}
NO_STORE = {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate", "Pragma": "no-cache"}


def bearer_token(request: Request) -> str:
    """The access token of ``Authorization: Bearer ...`` or of an ``access_token`` parameter; "" if none."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    return request.args.get("access_token", "") or request.form.get("access_token", "")


def _refuse(challenge: str) -> Response:
    return json_response(INVALID, 401, {"WWW-Authenticate": challenge, **NO_STORE})


def userinfo(request: Request, state: State) -> Response:
    """``GET`` or ``POST /v1/userinfo``: the claims of the token's account, or a 401 challenge."""
    token = bearer_token(request)
    if not token:
        return _refuse(REALM)
    found = state.access(token)
    if found is None:
        return _refuse(REALM + ', error="invalid_token"')
    record, grant = found
    scopes = set(record.scopes)
    if not scopes & OPENID_SCOPES:
        return _refuse(REALM + ', error="insufficient_scope", scope="openid email profile"')
    claims: dict[str, object] = {"sub": facts.subject_of(grant.account)}
    if facts.USERINFO_PROFILE in scopes:
        given = grant.account.split("@", 1)[0].replace(".", " ").title()
        claims.update(name=given, given_name=given)
    if facts.USERINFO_EMAIL in scopes:
        claims.update(email=grant.account, email_verified=True)
    return json_response(claims, 200, NO_STORE)
