"""Verify on a provider without Google's APIs: prove what the provider itself can confirm.

- OpenID Connect Core §5.3 UserInfo with the token as a bearer header, when the provider publishes
  ``userinfo_endpoint`` and the token carries ``openid`` (UserInfo needs it, §5.3);
- RFC 7662 introspection ``active`` (with the client: §2.1 requires client authentication), or Google's
  tokeninfo where the provider serves it.

Each is a real check with an ``allowed``/``refused``/``error`` outcome. When none applies the report
holds one ``unverifiable`` check that says why, and the report is not ``ok``.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING

from ..errors import STEP_AUTHORIZE, STEP_CLIENT, InvalidToken, OAuthError, RunbookError, TransportError
from ..safety.redact import redact
from .clock import Clock
from .tokeninfo import inspect_token
from .transport import RetryPolicy, Transport, host_of
from .userinfo import account_from_claims, fetch_userinfo
from .verify_report import Check, Outcome

if TYPE_CHECKING:
    from .clients import ClientConfig
    from .endpoints import Endpoints
    from .tokens import Token


def provider_checks(
    transport: Transport,
    endpoints: Endpoints,
    token: Token,
    *,
    client: ClientConfig | None,
    clock: Clock,
    retry: RetryPolicy,
) -> tuple[Check, ...]:
    """The UserInfo and introspection checks that apply, or one ``unverifiable`` check.

    Args:
        transport: The HTTP seam.
        endpoints: The provider.
        token: A fresh access token.
        client: The profile's client; RFC 7662 introspection is only possible with its secret.
        clock: Sleep between retries.
        retry: Retry policy for connection errors and 408/429/5xx.

    Returns:
        The checks, in the order made.
    """
    checks: list[Check] = []
    if endpoints.userinfo_endpoint and "openid" in token.scopes:
        checks.append(_userinfo(transport, endpoints, token, clock=clock, retry=retry))
    if endpoints.tokeninfo_endpoint or (endpoints.introspection_endpoint and _confidential(client)):
        checks.append(_introspection(transport, endpoints, token, client=client, clock=clock, retry=retry))
    return tuple(checks) or (unverifiable(endpoints, token, client),)


def unverifiable(endpoints: Endpoints, token: Token, client: ClientConfig | None) -> Check:
    """The check that says nothing could be checked, and what is missing."""
    missing = ["no Google APIs (api_base)"]
    if not endpoints.userinfo_endpoint:
        missing.append("no UserInfo endpoint")
    elif "openid" not in token.scopes:
        missing.append("UserInfo needs the openid scope, which the token lacks")
    if not endpoints.introspection_endpoint:
        missing.append("no RFC 7662 introspection endpoint")
    elif not _confidential(client):
        missing.append("introspection needs a client with a secret (RFC 7662 §2.1), and this one has none")
    detail = f"the provider {host_of(endpoints.issuer)} offers nothing to check the token with: {'; '.join(missing)}"
    fix = (f"authorize with the openid scope when the provider has UserInfo ({STEP_AUTHORIZE}), or use a provider "
           "with RFC 7662 introspection; until then the token is unverified")
    return Check("provider", host_of(endpoints.issuer), "allowed", "unverifiable", redact(detail), ok=False, fix=fix)


def _confidential(client: ClientConfig | None) -> bool:
    """RFC 7662 §2.1: the introspecting client authenticates, so a public client (no secret) cannot."""
    return client is not None and bool(client.client_secret)


def _check(api: str, call: str, outcome: Outcome, detail: str, fix: str = "", *, network: bool = False) -> Check:
    ok = outcome == "allowed"
    return Check(api, call, "allowed", outcome, redact(detail), ok, "" if ok else fix, network)


def _call(method: str, url: str) -> str:
    return f"{method} {urllib.parse.urlsplit(url).path or '/'}"


def _userinfo(transport: Transport, endpoints: Endpoints, token: Token, *, clock: Clock, retry: RetryPolicy) -> Check:
    """UserInfo (OpenID Connect Core §5.3.1): 200 with ``sub`` means the provider accepts the token."""
    call = _call("GET", endpoints.userinfo_endpoint or "")
    try:
        claims = fetch_userinfo(transport, endpoints, token, clock=clock, retry=retry)
    except InvalidToken as exc:
        return _check("userinfo", call, "refused", exc.message, exc.fix)
    except TransportError as exc:
        return _check("userinfo", call, "error", exc.message, exc.fix, network=True)
    except OAuthError as exc:
        return _check("userinfo", call, "error", exc.message, exc.fix)
    who = account_from_claims(claims)
    detail = f"HTTP 200: the provider accepts the token (account {who or 'not named'})"
    return _check("userinfo", call, "allowed", detail)


def _introspection(
    transport: Transport,
    endpoints: Endpoints,
    token: Token,
    *,
    client: ClientConfig | None,
    clock: Clock,
    retry: RetryPolicy,
) -> Check:
    """RFC 7662 §2.2 ``active`` (or Google's tokeninfo): the provider says the token is live, for this client."""
    api = "tokeninfo" if endpoints.tokeninfo_endpoint else "introspection"
    call = _call("POST", endpoints.tokeninfo_endpoint or endpoints.introspection_endpoint or "")
    try:
        info = inspect_token(transport, endpoints, token, clock=clock, retry=retry, client=client)
    except InvalidToken as exc:
        return _check(api, call, "refused", exc.message, exc.fix)
    except TransportError as exc:
        return _check(api, call, "error", exc.message, exc.fix, network=True)
    except OAuthError as exc:  # invalid_client: the provider would not let this client introspect
        return _check(api, call, "error", exc.message, f"check the client and its secret ({STEP_CLIENT})")
    except RunbookError as exc:  # ConfigError: the token belongs to another client
        return _check(api, call, "error", exc.message, exc.fix)
    left = f", expires in {info.expires_in} s" if info.expires_in is not None else ""
    return _check(api, call, "allowed", f"the provider says the token is active{left}")
