"""Client authentication (RFC 6749 §2.3.1): the one place a request says which client sends it.

Every request to the token endpoint (the device authorization request, RFC 8628 §3.1; device polling,
§3.4; refresh, RFC 6749 §6; the code exchange, RFC 6749 §4.1.3), revocation (RFC 7009 §2.1) and
introspection (RFC 7662 §2.1) is authenticated by :func:`authenticate`; no other module puts
``client_secret`` in a form or an ``Authorization`` header.

The method (:func:`method_for`): the profile's ``ClientConfig.auth_method`` when set; Google's dialect
takes ``client_secret_post``; a client without a secret (public, RFC 6749 §2.1) sends ``none``;
otherwise discovery's ``token_endpoint_auth_methods_supported`` decides, ``client_secret_basic`` first
(RFC 8414 §2: "If omitted, the default is client_secret_basic").
"""

from __future__ import annotations

import base64
import urllib.parse
from typing import TYPE_CHECKING, Literal

from ..errors import STEP_CLIENT, ConfigError
from ..safety.redact import register_secret
from .transport import host_of

if TYPE_CHECKING:
    from .client_config import ClientConfig
    from .endpoints import Endpoints

BASIC = "client_secret_basic"
POST = "client_secret_post"
NONE = "none"
METHODS = (BASIC, POST, NONE)
"""The RFC 8414 §2 names of the methods this runbook can use, in order of preference."""

Endpoint = Literal["token", "device", "revocation", "introspection"]


def method_for(client: ClientConfig, endpoints: Endpoints) -> str:
    """The RFC 6749 §2.3.1 method ``client`` uses at ``endpoints`` (see the module docstring for the order).

    Args:
        client: The OAuth client; its ``auth_method``, when set, wins.
        endpoints: The provider; its dialect and ``token_endpoint_auth_methods_supported`` decide.

    Returns:
        ``"client_secret_basic"``, ``"client_secret_post"`` or ``"none"``.

    Raises:
        ConfigError: The pinned method is unknown or needs a secret the client lacks, or the provider
            lists none of the methods a client with a secret can use.
    """
    if client.auth_method is not None:
        return _pinned(client)
    if endpoints.google_dialect:
        return POST
    if not client.client_secret:
        return NONE
    listed = endpoints.token_endpoint_auth_methods_supported
    if listed is None:
        return BASIC  # RFC 8414 §2: "If omitted, the default is client_secret_basic"
    for method in (BASIC, POST):
        if method in listed:
            return method
    raise ConfigError(
        f"the provider {host_of(endpoints.issuer)} accepts client authentication by "
        f"{', '.join(listed) or 'no method'} only, and this client has a secret (the runbook sends "
        f"{BASIC} or {POST})",
        fix=f"use a client without a secret (client set --no-secret, {STEP_CLIENT}) or ask the provider for {BASIC}",
    )


def _pinned(client: ClientConfig) -> str:
    """The profile's own choice, checked against what the client has."""
    method = client.auth_method
    if method not in METHODS:
        raise ConfigError(
            f"the profile's client auth_method {method!r} is not one of {', '.join(METHODS)}",
            fix=f"set the client's auth_method to one of those, or remove it to choose by discovery ({STEP_CLIENT})",
        )
    if method != NONE and not client.client_secret:
        raise ConfigError(
            f"the profile's client auth_method {method} needs a client secret, and this client has none",
            fix=f"set the client again with its secret, or set its auth_method to none ({STEP_CLIENT})",
        )
    return method


def authenticate(
    form: dict[str, str], client: ClientConfig, endpoints: Endpoints, *, endpoint: Endpoint = "token"
) -> tuple[dict[str, str], dict[str, str]]:
    """Add client authentication (RFC 6749 §2.3.1) to a request's form.

    The device authorization request names ``client_id`` in the form whatever the method: RFC 8628
    §3.1 lets an authenticated client omit it, but oauthlib's device endpoint (django-oauth-toolkit)
    and Google require it, and beside HTTP Basic credentials it is an identifier, not a second
    authentication method (RFC 6749 §2.3: a client MUST NOT use more than one method per request;
    ``client_id`` alone authenticates nothing). Google's dialect bends the rule at two endpoints
    (Google's device-flow guide, https://developers.google.com/identity/protocols/oauth2/limited-input-device,
    Step 1 and "Revoking a token"): the device authorization request carries ``client_id`` without the
    secret, and ``/revoke`` takes the token alone. This is the only place that knows.

    Args:
        form: The request's own fields, without any client credentials; not modified.
        client: The OAuth client.
        endpoints: The provider.
        endpoint: Which endpoint the request goes to.

    Returns:
        ``(form, headers)`` to send: the form with ``client_id`` (and ``client_secret`` for
        ``client_secret_post``), or an ``Authorization: Basic`` header for ``client_secret_basic``
        (with ``client_id`` in the form too at the device endpoint).

    Raises:
        ConfigError: As :func:`method_for`.
    """
    register_secret(client.client_secret)
    if endpoints.google_dialect and endpoint in ("device", "revocation"):
        return ({**form, "client_id": client.client_id} if endpoint == "device" else dict(form)), {}
    method = method_for(client, endpoints)
    if method == BASIC:
        named = {**form, "client_id": client.client_id} if endpoint == "device" else dict(form)
        return named, {"Authorization": basic_header(client.client_id, client.client_secret)}
    fields = {**form, "client_id": client.client_id}
    if method == POST and client.client_secret:
        fields["client_secret"] = client.client_secret
    return fields, {}


def basic_header(client_id: str, client_secret: str) -> str:
    """``Basic base64(id:secret)``, each part form-urlencoded first (RFC 6749 §2.3.1).

    RFC 6749 §2.3.1: "The client identifier is encoded using the application/x-www-form-urlencoded
    encoding algorithm". ``quote(safe="")`` is that encoding with a space as ``%20`` rather than ``+``,
    which both decoders read back: Authlib ``unquote``\\ s, a strict server ``unquote_plus``\\ es.

    Returns:
        The header value; it and the secret are registered for redaction.
    """
    register_secret(client_secret)
    pair = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(client_secret, safe='')}"
    value = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
    register_secret(value.removeprefix("Basic "))
    return value


__all__ = ["BASIC", "METHODS", "NONE", "POST", "authenticate", "basic_header", "method_for"]
