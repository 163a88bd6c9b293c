"""What a token is good for: Google's tokeninfo, RFC 7662 introspection, or the token response itself.

- Google dialect (``endpoints.tokeninfo_endpoint``, ``https://oauth2.googleapis.com/tokeninfo``): the access
  token goes in a POST form body (Google accepts POST; a query string would put the secret in logs). Every
  value comes back as a JSON string (``"expires_in": "3560"``); a dead token gives 400 ``invalid_token``
  ("Invalid Value"), or from the v3 URL just ``{"error_description": "Invalid Value"}``.
- RFC 7662 (``endpoints.introspection_endpoint``): POST ``token`` with client authentication;
  ``"active": false`` means dead.
- Otherwise: what the token response said (``source="token_response"``).

When a client is given, the token's audience must be that client: a token minted for another client
means the wrong profile, client or account was used (the account confusion of RFC 8628 §5.4-5.5).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .clock import SYSTEM_CLOCK, Clock
from ..errors import STEP_AUTHORIZE, STEP_CLIENT, ConfigError, InvalidToken, ProtocolError
from ..safety.redact import register_secret
from . import wire
from .client_auth import authenticate
from .transport import SAFE_RETRY, Response, RetryPolicy, Transport, oauth_json, send

if TYPE_CHECKING:
    from .clients import ClientConfig
    from .endpoints import Endpoints
    from .tokens import Token

Source = Literal["tokeninfo", "introspection", "token_response"]
_LATEST_TIME = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second a datetime can hold

# Google answers "email"/"profile" with their long names (Google's device-flow guide,
# https://developers.google.com/identity/protocols/oauth2/limited-input-device#access-granted).
_SCOPE_ALIASES = {
    "email": "https://www.googleapis.com/auth/userinfo.email",
    "profile": "https://www.googleapis.com/auth/userinfo.profile",
}


@dataclass(frozen=True)
class TokenInfo:
    """What the provider says about an access token.

    Attributes:
        scopes: Granted scopes.
        expires_in: Seconds left, if known.
        email: The account's email, if the email scope was granted.
        audience: The client the token was issued to (``azp``/``aud`` at Google).
        subject: The account's stable id (``sub``), if known.
        source: Where this came from.
    """

    scopes: tuple[str, ...]
    expires_in: int | None
    email: str | None
    audience: str | None
    subject: str | None = None
    source: Source = "tokeninfo"


def inspect_token(
    transport: Transport,
    endpoints: Endpoints,
    token: Token,
    *,
    clock: Clock = SYSTEM_CLOCK,
    retry: RetryPolicy = SAFE_RETRY,
    client: ClientConfig | None = None,
) -> TokenInfo:
    """Ask the provider what ``token`` grants: tokeninfo, else RFC 7662, else the token response.

    Args:
        transport: The HTTP seam.
        endpoints: The provider.
        token: The token to inspect.
        clock: Sleep between retries; wall clock for the token-response fallback.
        retry: Retry policy for connection errors and 408/429/5xx.
        client: When given, the token's audience must be its ``client_id``; RFC 7662 also
            authenticates with it (:func:`client_auth.authenticate`; without a client, introspection
            is skipped).

    Returns:
        The token's scopes, lifetime, account and audience.

    Raises:
        InvalidToken: The token is expired, revoked or unknown.
        ConfigError: The token was issued to another client, or no client authentication fits.
        ProtocolError: The answer is not what the protocol says.
        TransportError: No usable answer after the retries.
    """
    if endpoints.tokeninfo_endpoint:
        info = _tokeninfo(transport, endpoints.tokeninfo_endpoint, token, clock=clock, retry=retry)
    elif endpoints.introspection_endpoint and client is not None:
        info = _introspect(transport, endpoints, token, client, clock=clock, retry=retry)
    else:
        info = from_token(token, now=clock.time())
    if client is not None:
        check_audience(info, client)
    return info


def _tokeninfo(transport: Transport, url: str, token: Token, *, clock: Clock, retry: RetryPolicy) -> TokenInfo:
    """Google's tokeninfo (``https://oauth2.googleapis.com/tokeninfo``), token in the POST body."""
    register_secret(token.access_token)
    response = send(transport, "POST", url, data={"access_token": token.access_token}, retry=retry, clock=clock)
    return parse_tokeninfo(_json_or_invalid(response, url))


def _json_or_invalid(response: Response, url: str) -> dict[str, Any]:
    """The body, with v3's bare ``{"error_description": "Invalid Value"}`` read as invalid_token."""
    if response.status == 400:
        try:
            body = response.json()
        except ProtocolError:
            body = {}
        if "error" not in body and isinstance(body.get("error_description"), str):
            raise InvalidToken(body["error_description"], status=400)
    return oauth_json(response, url)


_TOKENINFO = "token information"
_INTROSPECTION = "introspection response"


def parse_tokeninfo(body: Mapping[str, Any]) -> TokenInfo:
    """Read Google's tokeninfo answer, whose values are all strings (``"expires_in": "3560"``).

    Args:
        body: The JSON object.

    Returns:
        The information, ``source="tokeninfo"``.

    Raises:
        ProtocolError: A field has the wrong type.
    """
    return TokenInfo(
        scopes=tuple((wire.text(body, "scope", _TOKENINFO) or "").split()),
        # a token that expired a moment ago may show a negative expires_in: 0 seconds left
        expires_in=wire.seconds(body, "expires_in", _TOKENINFO, clamp=True),
        email=wire.text(body, "email", _TOKENINFO),
        audience=wire.text(body, "azp", _TOKENINFO) or wire.text(body, "aud", _TOKENINFO),
        subject=wire.text(body, "sub", _TOKENINFO),
        source="tokeninfo",
    )


def _introspect(
    transport: Transport, endpoints: Endpoints, token: Token, client: ClientConfig, *, clock: Clock, retry: RetryPolicy
) -> TokenInfo:
    """RFC 7662 §2.1 introspection request, the client authenticated as at the token endpoint."""
    url = str(endpoints.introspection_endpoint)
    form, headers = authenticate(
        {"token": token.access_token, "token_type_hint": "access_token"}, client, endpoints, endpoint="introspection"
    )
    response = send(transport, "POST", url, data=form, headers=headers, retry=retry, clock=clock)
    return parse_introspection(oauth_json(response, url), now=clock.time())


def parse_introspection(body: Mapping[str, Any], *, now: float) -> TokenInfo:
    """Read an RFC 7662 §2.2 introspection response.

    Args:
        body: The JSON object.
        now: Wall-clock time, to turn ``exp`` into seconds left.

    Returns:
        The information, ``source="introspection"``.

    Raises:
        InvalidToken: ``active`` is false.
        ProtocolError: ``active`` is missing or a field has the wrong type.
    """
    active = body.get("active")
    if not isinstance(active, bool):
        raise ProtocolError("the introspection response has no boolean 'active'")
    if not active:
        raise InvalidToken("the provider says the token is not active (RFC 7662)")
    exp = body.get("exp")
    if exp is not None and (
        isinstance(exp, bool) or not isinstance(exp, (int, float)) or not -_LATEST_TIME <= exp <= _LATEST_TIME
    ):  # the range check also refuses NaN, infinities and integers too large for a float
        raise ProtocolError("the introspection response's exp is not a time in seconds")
    aud = body.get("aud")
    return TokenInfo(
        scopes=tuple((wire.text(body, "scope", _INTROSPECTION) or "").split()),
        expires_in=None if exp is None else max(0, int(exp - now)),
        email=wire.text(body, "email", _INTROSPECTION) or wire.text(body, "username", _INTROSPECTION),
        audience=wire.text(body, "client_id", _INTROSPECTION) or (aud if isinstance(aud, str) else None),
        subject=wire.text(body, "sub", _INTROSPECTION),
        source="introspection",
    )


def from_token(token: Token, *, now: float) -> TokenInfo:
    """What the token response said, for providers with neither tokeninfo nor introspection.

    Args:
        token: The token.
        now: Wall-clock time.

    Returns:
        The information, ``source="token_response"``.

    Raises:
        InvalidToken: The local clock says the token has expired.
    """
    if token.is_expired(now, leeway=0):
        raise InvalidToken("the access token has expired by the local clock")
    return TokenInfo(
        scopes=token.scopes,
        expires_in=token.expires_in(now),
        email=token.account,
        audience=None,
        subject=None,
        source="token_response",
    )


def check_audience(info: TokenInfo, client: ClientConfig) -> None:
    """Refuse a token minted for another client (account/client confusion).

    Args:
        info: The inspected token.
        client: The client this profile uses.

    Raises:
        ConfigError: ``info.audience`` is known and is not ``client.client_id``.
    """
    if info.audience is None or info.audience == client.client_id:
        return
    who = f" for {info.email}" if info.email else ""
    raise ConfigError(
        f"this token{who} was issued to OAuth client {info.audience}, not to this profile's client "
        f"{client.client_id}: the wrong profile, client or account was used",
        fix=f"check the client in {STEP_CLIENT}, then authorize again with the expected account ({STEP_AUTHORIZE})",
    )


def _canonical(scope: str) -> str:
    return _SCOPE_ALIASES.get(scope, scope)


def scope_diff(requested: Iterable[str], granted: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Compare requested and granted scopes (RFC 6749 §3.3: the server may grant fewer).

    ``email`` and ``profile`` match Google's long ``userinfo.*`` names.

    Args:
        requested: Scopes asked for.
        granted: Scopes the token carries.

    Returns:
        ``(missing, extra)``: requested but not granted, and granted but not requested, in input order.
    """
    requested, granted = list(dict.fromkeys(requested)), list(dict.fromkeys(granted))
    want = {_canonical(s) for s in requested}
    have = {_canonical(s) for s in granted}
    missing = tuple(s for s in requested if _canonical(s) not in have)
    extra = tuple(s for s in granted if _canonical(s) not in want)
    return missing, extra


__all__ = [
    "TokenInfo",
    "check_audience",
    "from_token",
    "inspect_token",
    "parse_introspection",
    "parse_tokeninfo",
    "scope_diff",
]
