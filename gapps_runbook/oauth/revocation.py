"""Revocation (RFC 7009): end the grant at the provider, the token in the form body.

Google's dialect (https://developers.google.com/identity/protocols/oauth2/limited-input-device#tokenrevoke):
``/revoke`` answers 200, or 400 ``invalid_token`` for a token that is already dead; it takes the token alone,
without client authentication. The token is sent in the form body, never in the URL query as Google's samples
do (a URL ends up in logs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigError, InvalidToken, OAuthError, ProtocolError, TransportError
from .client_auth import authenticate
from .clock import SYSTEM_CLOCK, Clock
from .transport import RETRYABLE_STATUSES, SAFE_RETRY, Response, RetryPolicy, Transport, host_of, oauth_json, send

if TYPE_CHECKING:
    from .client_config import ClientConfig
    from .endpoints import Endpoints
    from .tokens import Token


_KEPT = "the local token was kept; retry the revoke step later (revocation is safe to repeat)"


def revoke(
    transport: Transport,
    endpoints: Endpoints,
    token: Token,
    *,
    clock: Clock = SYSTEM_CLOCK,
    retry: RetryPolicy = SAFE_RETRY,
    client: ClientConfig | None = None,
) -> bool:
    """Revoke the grant (RFC 7009 §2.1): the refresh token if there is one, else the access token.

    The token travels in the form body, never the URL query. RFC 7009 §2.2 makes revocation
    idempotent, so Google's 400 ``invalid_token`` (already revoked or expired) counts as success.

    Args:
        transport: The HTTP seam.
        endpoints: The provider; ``revocation_endpoint`` is used.
        token: The token to revoke.
        clock: Sleep between retries.
        retry: Retry policy for connection errors and 408/429/5xx (RFC 7009 §2.2.1: 503 may be retried).
        client: The client the token was issued to. RFC 7009 §2.1 wants client authentication
            (:func:`client_auth.authenticate`; Google takes the token alone). None sends the token alone.

    Returns:
        False when the token was revoked now; True when the server said it was already invalid
        (revoked or expired before), which is success too.

    Raises:
        ConfigError: The provider has no revocation endpoint, or no client authentication fits.
        TransportError: No answer, or 5xx after the retries; the caller must keep the local token.
        OAuthError: Any other error body.
    """
    url = endpoints.revocation_endpoint
    if not url:
        raise ConfigError(
            f"the provider {host_of(endpoints.issuer)} has no revocation endpoint (RFC 7009)",
            fix="revoke access on the provider's account page (Google: https://myaccount.google.com/permissions)",
        )
    form: dict[str, str] = {"token": token.refresh_token or token.access_token}
    headers: dict[str, str] = {}
    if client is not None:
        form, headers = authenticate(form, client, endpoints, endpoint="revocation")
    try:
        response = send(transport, "POST", url, data=form, headers=headers, retry=retry, clock=clock)
    except TransportError as exc:
        raise TransportError(f"revocation failed: {exc.message}", fix=_KEPT) from None
    return _revoke_outcome(response, url)


def _revoke_outcome(response: Response, url: str) -> bool:
    """Map the answer: 2xx revoked now (False), 400 invalid_token already revoked (True), 5xx kept."""
    status = response.status
    if 200 <= status < 300:
        if response.body.strip():
            try:
                response.json()
            except ProtocolError:  # a proxy's or captive portal's page: the grant may well be alive
                raise ProtocolError(
                    f"{host_of(url)} answered HTTP {status} to revocation with a page that is not the "
                    "endpoint's answer; the token may still be valid",
                    fix=_KEPT,
                ) from None
        return False
    if status in RETRYABLE_STATUSES or status >= 500:  # every 5xx: the grant may well be alive
        raise TransportError(
            f"{host_of(url)} answered HTTP {status} to revocation; the token may still be valid", fix=_KEPT
        )
    try:
        oauth_json(response, url)
    except InvalidToken:
        return True
    except OAuthError:
        raise
    except TransportError:
        raise ProtocolError(f"{host_of(url)} answered HTTP {status} to revocation without an error code") from None
    raise ProtocolError(f"{host_of(url)} answered HTTP {status} to revocation")  # pragma: no cover


__all__ = ["revoke"]
