"""OpenID Connect Core §5.3 UserInfo, and the one answer to "which account approved this token?".

The UserInfo request is a GET with the access token as a bearer header (§5.3.1, RFC 6750 §2.1),
never in the query string. A refused token comes back as 401 with ``WWW-Authenticate`` (§5.3.3,
RFC 6750 §3.1); a successful answer is a JSON object that MUST contain ``sub`` (§5.3.2).

:func:`account` asks in order: the ID token's ``email``, UserInfo's ``email`` (or
``preferred_username`` when there is no email), Google's tokeninfo ``email``; network and OAuth
trouble on the way gives None, which the caller shows as "unknown".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import STEP_AUTHORIZE, STEP_STATUS, ConfigError, InvalidToken, OAuthError, TransportError
from ..safety.redact import register_secret
from . import wire
from .clock import SYSTEM_CLOCK, Clock
from .tokeninfo import inspect_token
from .tokens import account_from_id_token
from .transport import SAFE_RETRY, RetryPolicy, Transport, host_of, oauth_json, send

if TYPE_CHECKING:
    from .endpoints import Endpoints
    from .tokens import Token


def fetch_userinfo(
    transport: Transport,
    endpoints: Endpoints,
    token: Token,
    *,
    clock: Clock = SYSTEM_CLOCK,
    retry: RetryPolicy = SAFE_RETRY,
) -> dict[str, Any]:
    """Ask the provider's UserInfo endpoint about the token's account (OpenID Connect Core §5.3.1).

    Args:
        transport: The HTTP seam.
        endpoints: The provider; ``userinfo_endpoint`` must be set.
        token: The access token (sent as a bearer header only).
        clock: Sleep between retries.
        retry: Retry policy for connection errors and 408/429/5xx (the request is a GET).

    Returns:
        The claims (a JSON object with a string ``sub``).

    Raises:
        ConfigError: The provider publishes no UserInfo endpoint.
        InvalidToken: The provider refused the token (401/403, RFC 6750 §3.1).
        ProtocolError: The answer is not a JSON object with a string ``sub`` (a signed JWT answer
            included); the message names the provider, endpoint and field.
        TransportError: No usable answer after the retries.
    """
    url = endpoints.userinfo_endpoint
    if not url:
        raise ConfigError(f"the provider {host_of(endpoints.issuer)} publishes no userinfo_endpoint",
                          fix="use a provider with OpenID Connect discovery, or skip the UserInfo check")
    register_secret(token.access_token)
    response = send(transport, "GET", url, headers={"Authorization": f"Bearer {token.access_token}"},
                    retry=retry, clock=clock)
    if response.status in (401, 403):
        challenge = _challenge_error(response.header("www-authenticate") or "")
        raise InvalidToken(
            f"{host_of(url)} refused the token at UserInfo (HTTP {response.status}{', ' + challenge if challenge else ''})",
            fix=f"refresh the token ({STEP_STATUS}), or authorize again with the openid scope ({STEP_AUTHORIZE})",
        )
    claims = oauth_json(response, url)
    wire.text(claims, "sub", wire.from_endpoint("UserInfo response", url), required=True)  # OIDC Core §5.3.2
    return claims


def _challenge_error(header: str) -> str:
    """The ``error`` of a Bearer challenge (RFC 6750 §3): ``invalid_token``, ``insufficient_scope``, or nothing."""
    for code in ("invalid_token", "insufficient_scope", "invalid_request"):
        if f'error="{code}"' in header or f"error={code}" in header:
            return code
    return ""


def account_from_claims(claims: dict[str, Any]) -> str | None:
    """``email``, else ``preferred_username`` (OpenID Connect Core §5.1), else None."""
    for key in ("email", "preferred_username"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def account(transport: Transport, endpoints: Endpoints, token: Token, *, clock: Clock = SYSTEM_CLOCK) -> str | None:
    """The account that approved ``token``: ID token, else UserInfo, else Google's tokeninfo.

    The value is shown to the user and compared with a pinned account; it never grants access.

    Args:
        transport: The HTTP seam.
        endpoints: The provider (``userinfo_endpoint`` and ``tokeninfo_endpoint`` are used when set).
        token: A token straight from the token endpoint.
        clock: Sleep between retries.

    Returns:
        The email (or UserInfo ``preferred_username``), or None when no source says, or when the
        lookups met network or OAuth errors.
    """
    found = account_from_id_token(token.id_token)
    if found:
        return found
    if endpoints.userinfo_endpoint:
        try:
            found = account_from_claims(fetch_userinfo(transport, endpoints, token, clock=clock))
        except (OAuthError, TransportError):
            found = None
        if found:
            return found
    if endpoints.tokeninfo_endpoint:
        try:
            return inspect_token(transport, endpoints, token, clock=clock).email
        except (OAuthError, TransportError):
            return None
    return None
