"""Test a client ID and secret against the provider without a person: a refresh with a refresh token that cannot exist.

RFC 6749 §6 (refreshing an access token) says the authorization server must "require client
authentication for confidential clients" and "authenticate the client if client authentication is
included" *before* it validates the refresh token. So a refresh request with a made-up refresh token,
authenticated as every token request is (:func:`.client_auth.authenticate`, RFC 6749 §2.3.1), tells the
two apart without touching any grant:

- ``invalid_grant`` (RFC 6749 §5.2: "the provided authorization grant ... is invalid"): the provider
  accepted the client; only the (made-up) refresh token was refused. The ID and secret match.
- ``invalid_client`` (§5.2: "client authentication failed"), or HTTP 401 without a body: the ID/secret
  pair is wrong (Google: "The OAuth client was not found." or "Unauthorized").
- anything else (``unauthorized_client``, ``invalid_request``, a 5xx) is reported as it is.

The made-up token is random and has no secret's shape; nothing is stored and no grant is affected.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import STEP_CLIENT, InvalidClient, InvalidGrant, OAuthError, ProtocolError
from .client_auth import authenticate, method_for
from .clock import SYSTEM_CLOCK, Clock
from .transport import SAFE_RETRY, Response, RetryPolicy, Transport, host_of, oauth_json, send

if TYPE_CHECKING:
    from .clients import ClientConfig
    from .endpoints import Endpoints

PROBE_PREFIX = "gapps-runbook-client-check-"


@dataclass(frozen=True)
class ClientCheck:
    """The provider accepted the client.

    Attributes:
        client_id: The client tested.
        provider: The token endpoint's host.
        auth_method: The RFC 6749 §2.3.1 method used (``client_secret_post``, ``client_secret_basic``, ``none``).
        answer: What the provider answered for the made-up refresh token (``invalid_grant``).
    """

    client_id: str
    provider: str
    auth_method: str
    answer: str


def check_client(
    transport: Transport,
    endpoints: Endpoints,
    client: ClientConfig,
    *,
    clock: Clock = SYSTEM_CLOCK,
    retry: RetryPolicy = SAFE_RETRY,
) -> ClientCheck:
    """POST ``grant_type=refresh_token`` with a refresh token that cannot exist; judge the answer.

    Args:
        transport: The HTTP seam.
        endpoints: The provider; ``token_endpoint`` is used.
        client: The client to test.
        clock: Sleep between retries.
        retry: Retry policy for connection errors and 408/429/5xx.

    Returns:
        :class:`ClientCheck` when the provider accepted the client (it answered ``invalid_grant``).

    Raises:
        InvalidClient: The ID/secret pair is wrong (``invalid_client``, or a bare 401).
        OAuthError: Any other OAuth answer, as it is.
        TransportError: No usable answer after the retries.
        ProtocolError: The provider issued a token for a refresh token that cannot exist.
    """
    probe = PROBE_PREFIX + secrets.token_hex(16)
    form, headers = authenticate({"grant_type": "refresh_token", "refresh_token": probe}, client, endpoints)
    url = endpoints.token_endpoint
    response = send(transport, "POST", url, data=form, headers=headers, retry=retry, clock=clock)
    if response.status == 401 and _no_error_code(response):
        raise InvalidClient(f"{host_of(url)} refused the client {client.client_id} (HTTP 401)", status=401)
    try:
        oauth_json(response, url)
    except InvalidGrant as exc:
        return ClientCheck(client.client_id, host_of(url), method_for(client, endpoints), exc.error)
    except InvalidClient as exc:
        said = f" ({exc.description})" if exc.description else ""
        raise InvalidClient(f"{host_of(url)} refused the client ID and secret{said}", status=exc.status) from None
    except OAuthError:
        raise
    raise ProtocolError(f"{host_of(url)} issued a token for a refresh token that cannot exist",
                        fix=f"check that the issuer is the provider you meant ({STEP_CLIENT})")


def _no_error_code(response: Response) -> bool:
    try:
        body = response.json()
    except ProtocolError:
        return True
    return not (isinstance(body, dict) and ("error" in body or "error_code" in body))


__all__ = ["PROBE_PREFIX", "ClientCheck", "check_client"]
