"""Tokens: the RFC 6749 §5.1 token response and refresh (§6); revocation (RFC 7009) is
:mod:`gapps_runbook.oauth.revocation`.

Google's dialect (https://developers.google.com/identity/protocols/oauth2/limited-input-device#offline and
https://developers.google.com/identity/protocols/oauth2#expiration):

- a refresh response carries no ``refresh_token``: the previous one is kept;
- Testing-mode apps get ``refresh_token_expires_in`` (604799 s, seven days).

google-auth's ``authorized_user`` JSON for a :class:`Token` is :mod:`gapps_runbook.profile.authorized_user`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .clock import SYSTEM_CLOCK, Clock
from ..errors import STEP_AUTHORIZE, InputError
from ..safety.redact import fingerprint, register_secret
from . import wire
from .client_auth import authenticate
from .transport import SAFE_RETRY, RetryPolicy, Transport, oauth_json, send

if TYPE_CHECKING:
    from .client_config import ClientConfig
    from .endpoints import Endpoints


@dataclass(frozen=True)
class Token:
    """An OAuth access token with what came with it (RFC 6749 §5.1).

    Attributes:
        access_token: The bearer token (secret).
        expires_at: Wall-clock expiry: local time at receipt plus ``expires_in``.
        scopes: Granted scopes, as the server reported them.
        token_type: Always ``Bearer`` here.
        refresh_token: RFC 6749 §6 refresh token (secret), if any.
        id_token: OpenID Connect ID token (secret), if ``openid`` was granted.
        refresh_token_expires_at: Wall-clock expiry of the refresh token (Google Testing mode: 7 days).
        issued_at: Wall-clock time the token response was received.
        account: The account the grant belongs to, when known (ID token ``email``).
        monotonic_expires_at: The same expiry on the monotonic clock (receipt + ``expires_in``), when
            known. A wall clock set back after receipt makes ``expires_at`` promise time the server
            will not give; the monotonic clock does not move back, so a token counts as expired when
            either clock says so (docs/reliability.md C1).
    """

    access_token: str = field(repr=False)
    expires_at: float
    scopes: tuple[str, ...]
    token_type: str = "Bearer"
    refresh_token: str | None = field(default=None, repr=False)
    id_token: str | None = field(default=None, repr=False)
    refresh_token_expires_at: float | None = None
    issued_at: float = 0.0
    account: str | None = None
    monotonic_expires_at: float | None = field(default=None, compare=False)

    @property
    def token_id(self) -> str:
        """A short, stable fingerprint of the access token: the "token id" the runbook shows."""
        return fingerprint(self.access_token)

    def expires_in(self, now: float, monotonic: float | None = None) -> int:
        """Whole seconds left at wall-clock ``now`` (and monotonic ``monotonic``: the fewer), never negative."""
        left = self.expires_at - now
        mono = self._monotonic_left(monotonic)
        return max(0, int(left if mono is None else min(left, mono)))

    def is_expired(self, now: float, leeway: float = 60.0, monotonic: float | None = None) -> bool:
        """True when fewer than ``leeway`` seconds are left by either clock.

        Also True when the wall clock reads earlier than the receipt (it was set back): ``expires_at``
        is then no longer trustworthy. The checks only ever add refreshes, never skip one.

        Args:
            now: Wall-clock time.
            leeway: Seconds before the expiry at which the token already counts as expired.
            monotonic: The same clock's monotonic time, if the caller has it.
        """
        if now >= self.expires_at - leeway or (self.issued_at > 0 and now < self.issued_at - leeway):
            return True
        mono = self._monotonic_left(monotonic)
        return mono is not None and mono < leeway

    def _monotonic_left(self, monotonic: float | None) -> float | None:
        """Seconds left on the monotonic clock; None when unknown or from another boot (clock restarted)."""
        if monotonic is None or self.monotonic_expires_at is None:
            return None
        received = self.monotonic_expires_at - (self.expires_at - self.issued_at)
        return None if monotonic < received else self.monotonic_expires_at - monotonic


_DOCUMENT = "token response"


def account_from_id_token(id_token: str | None) -> str | None:
    """The ``email`` claim of an ID token, without signature checks, or None.

    OpenID Connect Core §3.1.3.7 lets a client skip the signature when the ID token came straight
    from the token endpoint over TLS; the value is only shown to the user, never trusted for access.
    """
    if not id_token or id_token.count(".") != 2:
        return None
    payload = id_token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: deep nesting
        return None
    email = claims.get("email") if isinstance(claims, dict) else None
    return email if isinstance(email, str) and email else None


def parse_token_response(
    body: Mapping[str, Any],
    *,
    now: float,
    previous: Token | None = None,
    monotonic: float | None = None,
    url: str | None = None,
) -> Token:
    """Build a :class:`Token` from a successful token response (RFC 6749 §5.1).

    Args:
        body: The JSON object the token endpoint returned.
        now: Local wall-clock time at receipt; ``expires_at`` is ``now + expires_in``.
        previous: The token being refreshed: its refresh token, scopes and account are kept when
            the response lacks them (RFC 6749 §6: the server MAY issue a new refresh token).
        monotonic: Monotonic time at receipt, if known; stamps ``monotonic_expires_at``.
        url: The token endpoint that answered, named (with its provider) in errors.

    Returns:
        The token; every secret in it is registered for redaction.

    Raises:
        ProtocolError: ``access_token`` or ``expires_in`` is missing or invalid, ``token_type``
            is not ``Bearer`` (case-insensitive, RFC 6749 §5.1 / §7.1), or an optional field has the
            wrong type; the message names the provider, endpoint and field.
    """
    document = wire.from_endpoint(_DOCUMENT, url)
    for key in ("access_token", "refresh_token", "id_token"):  # registered before anything can fail
        value = body.get(key)
        register_secret(value if isinstance(value, str) else None)
    access_token = str(wire.text(body, "access_token", document, required=True))
    refresh_token = wire.text(body, "refresh_token", document)
    id_token = wire.text(body, "id_token", document)
    expires_in = wire.seconds(body, "expires_in", document)
    if expires_in is None:
        raise wire.malformed(document, "expires_in")
    token_type = wire.text(body, "token_type", document, required=True)
    if str(token_type).lower() != "bearer":
        raise wire.malformed(document, "token_type", "is not Bearer")
    return Token(
        access_token=access_token,
        expires_at=now + expires_in,
        scopes=_scopes(body, previous, document),
        token_type="Bearer",
        refresh_token=refresh_token or (previous.refresh_token if previous else None),
        id_token=id_token or (previous.id_token if previous else None),
        refresh_token_expires_at=_refresh_expiry(body, now, previous, document, new_refresh=refresh_token is not None),
        issued_at=now,
        account=account_from_id_token(id_token) or (previous.account if previous else None),
        monotonic_expires_at=None if monotonic is None else monotonic + expires_in,
    )


def _scopes(body: Mapping[str, Any], previous: Token | None, document: str) -> tuple[str, ...]:
    """Granted scopes (RFC 6749 §3.3); absent means "as requested", i.e. the previous grant's."""
    if body.get("scope") is None:
        return previous.scopes if previous else ()
    return tuple((wire.text(body, "scope", document) or "").split())


def _refresh_expiry(
    body: Mapping[str, Any], now: float, previous: Token | None, document: str, *, new_refresh: bool
) -> float | None:
    lifetime = wire.seconds(body, "refresh_token_expires_in", document)
    if lifetime is not None:
        return now + lifetime
    if previous is not None and not new_refresh:
        return previous.refresh_token_expires_at
    return None


def refresh(
    transport: Transport,
    endpoints: Endpoints,
    client: ClientConfig,
    token: Token,
    *,
    clock: Clock = SYSTEM_CLOCK,
    retry: RetryPolicy = SAFE_RETRY,
) -> Token:
    """Get a new access token with the refresh token (RFC 6749 §6).

    Retries only connection errors and 408/429/5xx per ``retry``; an OAuth error body such as
    ``invalid_grant`` or ``invalid_client`` is final after one attempt.

    Args:
        transport: The HTTP seam.
        endpoints: The provider; ``token_endpoint`` is used.
        client: The client, authenticated by :func:`client_auth.authenticate` (Google: id and secret
            in the form body).
        token: The token to refresh; its refresh token is kept when the response has none.
        clock: Wall clock for the new expiry, and sleep between retries.
        retry: Retry policy for transient failures.

    Returns:
        The refreshed token.

    Raises:
        InputError: ``token`` has no refresh token.
        ConfigError: No client authentication method fits (:func:`client_auth.method_for`).
        OAuthError: The server refused (``InvalidGrant``: authorize again).
        TransportError: No usable answer after the retries.
    """
    if not token.refresh_token:
        raise InputError(
            "this token has no refresh token, so it cannot be refreshed", fix=f"authorize again ({STEP_AUTHORIZE})"
        )
    form, headers = authenticate(
        {"grant_type": "refresh_token", "refresh_token": token.refresh_token}, client, endpoints
    )
    response = send(transport, "POST", endpoints.token_endpoint, data=form, headers=headers, retry=retry, clock=clock)
    body = oauth_json(response, endpoints.token_endpoint)
    return parse_token_response(body, now=clock.time(), previous=token, monotonic=clock.monotonic(),
                                url=endpoints.token_endpoint)


__all__ = ["Token", "account_from_id_token", "parse_token_response", "refresh"]
