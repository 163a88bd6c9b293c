"""The authorization-code grant with PKCE for Desktop app clients (RFC 6749 §4.1, RFC 7636, RFC 8252).

The consent page at ``/o/oauth2/v2/auth`` accepts only "Desktop app" clients and loopback
``redirect_uri`` values on any port (RFC 8252 §7.3;
https://developers.google.com/identity/protocols/oauth2/native-app#loopback-ip-address); the code is
single-use and bound to client, redirect_uri and the PKCE challenge (S256 or plain). Error texts are
Google's (:mod:`.facts`).
"""

from __future__ import annotations

import secrets
import urllib.parse
from collections.abc import Mapping
from typing import Any

from ..errors import InvalidGrant, InvalidRequest, InvalidScope, OAuthError, RedirectUriMismatch, UnknownOAuthError
from . import facts
from .records import AuthCode, Consent, RegisteredClient
from .authorization_server import State, oauth_error

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
POLICY = (
    "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. "
    "If you're the app developer, register the redirect URI in the Google Cloud Console."
)


def is_loopback_redirect(uri: str) -> bool:
    """True for ``http://127.0.0.1:PORT/...``, ``http://localhost:PORT/...`` or ``http://[::1]:PORT/...``."""
    try:
        parts = urllib.parse.urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return False
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS and not parts.fragment and not parts.username


def redirect_url(redirect_uri: str, params: Mapping[str, str | None]) -> str:
    """``redirect_uri`` with ``params`` (None values left out) added to its query."""
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    return redirect_uri + ("&" if "?" in redirect_uri else "?") + query


class CodeGrant:
    """Pending consents and issued authorization codes.

    Args:
        state: The shared state.
        auto_approve: Skip the consent page: redirect with a code for the default account at once.
    """

    def __init__(self, state: State, *, auto_approve: bool = False) -> None:
        self.state = state
        self.auto_approve = auto_approve
        self.consents: dict[str, Consent] = {}
        self.codes: dict[str, AuthCode] = {}

    def start(self, params: Mapping[str, str]) -> tuple[Consent, RegisteredClient]:
        """Validate an authorization request; errors are shown on Google's error page, never redirected."""
        client = self.state.client(params.get("client_id"))
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri:
            raise oauth_error(InvalidRequest, "Missing required parameter: redirect_uri")
        if client.client_type != "desktop" or not is_loopback_redirect(redirect_uri):
            raise oauth_error(RedirectUriMismatch, POLICY)  # [UNCONFIRMED] page text for a TV client
        if params.get("response_type") != "code":
            raise UnknownOAuthError("Only response_type=code is supported.", error="unsupported_response_type")
        scopes = facts.split_scopes(params.get("scope", ""))
        if not scopes:
            raise oauth_error(InvalidRequest, "Missing required parameter: scope")
        invalid = [s for s in scopes if not facts.is_known_scope(s)]
        if invalid:
            raise oauth_error(InvalidScope, f"Some requested scopes were invalid. {{invalid=[{', '.join(invalid)}]}}")
        challenge = params.get("code_challenge") or None
        method = params.get("code_challenge_method") or "plain"
        if method not in ("S256", "plain") or (params.get("code_challenge_method") and not challenge):
            raise oauth_error(InvalidRequest, "Invalid code_challenge_method value.")
        if params.get("access_type", "offline") not in ("online", "offline"):
            raise oauth_error(InvalidRequest, "Invalid access_type value.")
        consent = Consent(
            consent_id=secrets.token_urlsafe(24),
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            scopes=tuple(scopes),
            state=params.get("state"),
            code_challenge=challenge,
            code_challenge_method=method,
            login_hint=params.get("login_hint") or None,
        )
        with self.state.lock:
            self.consents[consent.consent_id] = consent
        return consent, client

    def consent(self, consent_id: str) -> Consent | None:
        """The pending consent with this id, if any."""
        with self.state.lock:
            return self.consents.get(consent_id)

    def finish(self, consent_id: str, *, approve: bool, account: str | None = None) -> str:
        """The user's answer on the consent page: the redirect URL with ``code`` or ``error``.

        Raises:
            KeyError: The consent id is unknown or was already answered.
        """
        with self.state.lock:
            consent = self.consents.pop(consent_id)
            if not approve:
                return redirect_url(consent.redirect_uri, {"error": "access_denied", "state": consent.state})
            code = AuthCode(
                code=self.state.secret("auth_code"),
                client_id=consent.client_id,
                redirect_uri=consent.redirect_uri,
                scopes=facts.granted_scopes(consent.scopes),
                account=account or consent.login_hint or self.state.account,
                code_challenge=consent.code_challenge,
                code_challenge_method=consent.code_challenge_method,
                expires_at=self.state.clock.time() + (0 if self.state.scenario.expire else facts.AUTH_CODE_LIFETIME),
            )  # the "expire" scenario: the code is dead on arrival, its exchange gets invalid_grant
            self.codes[code.code] = code
        params = {"state": consent.state, "code": code.code, "scope": " ".join(code.scopes)}
        return redirect_url(consent.redirect_uri, params)

    def exchange(self, client: RegisteredClient, params: Mapping[str, str], *, issuer: str) -> dict[str, Any]:
        """``grant_type=authorization_code`` at ``/token`` (RFC 6749 §4.1.3, RFC 7636 §4.5)."""
        for name in ("code", "redirect_uri"):
            if not params.get(name):
                raise oauth_error(InvalidRequest, f"Missing required parameter: {name}")
        with self.state.lock:
            code = self.codes.get(params["code"])
            if code is None:
                raise oauth_error(InvalidGrant, facts.MALFORMED_CODE)
            used, code.used = code.used, True  # single use, even when this attempt fails
            if used or code.client_id != client.client_id or self.state.clock.time() >= code.expires_at:
                raise oauth_error(InvalidGrant, "Bad Request")
        if params["redirect_uri"] != code.redirect_uri:
            raise oauth_error(RedirectUriMismatch, "Bad Request")
        _check_verifier(code, params.get("code_verifier"))
        return self.state.issue(client, code.account, code.scopes, issuer=issuer)


def _check_verifier(code: AuthCode, verifier: str | None) -> None:
    if code.code_challenge is None:
        return
    error: OAuthError | None = None
    if not verifier:
        error = oauth_error(InvalidGrant, "Missing code verifier.")
    elif not facts.pkce_matches(code.code_challenge, code.code_challenge_method, verifier):
        error = oauth_error(InvalidGrant, "Invalid code verifier.")
    if error is not None:
        raise error
