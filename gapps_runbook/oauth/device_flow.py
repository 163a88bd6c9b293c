"""The device authorization grant: RFC 8628 §3.1-3.5, in Google's dialect.

- §3.1 device authorization request: :func:`device_request`, :func:`request_device_code`;
- §3.2 device authorization response: :func:`parse_device_response`, into a
  :class:`~gapps_runbook.oauth.device_authorization.DeviceAuthorization` (importable from here);
- §3.3 user interaction: the caller shows ``user_code`` and ``verification_uri`` (or the
  ``verification_uri_complete`` link, when the provider sends one);
- §3.4 device access token request and §3.5 response: :class:`DevicePoller` (one step, plus a loop),
  in :mod:`gapps_runbook.oauth.device_poller` and importable from here.

Google's dialect differs from the RFC (its device-flow guide, Steps 1-6:
https://developers.google.com/identity/protocols/oauth2/limited-input-device):

- the response names the URL ``verification_url``, not ``verification_uri`` (normalised in
  :func:`parse_device_response` only), and carries no ``verification_uri_complete``;
- no ``client_secret`` at ``/device/code``, but polling requires it (RFC 8628 §3.1 lets a
  confidential client authenticate at both: other providers get the method
  :mod:`gapps_runbook.oauth.client_auth` picks at both; a public client, RFC 6749 §2.1, sends only
  ``client_id``);
- ``authorization_pending`` comes back as HTTP 428, ``slow_down`` and ``access_denied`` as 403
  (the RFC says 400), so polling classifies by the body's ``error``, never the status;
- quota errors come as ``{"error_code": "rate_limit_exceeded"}`` (HTTP 403); they back off.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, InputError
from ..safety.redact import register_secret
from . import wire
from .client_auth import authenticate
from .clock import SYSTEM_CLOCK, Clock
from .device_authorization import DeviceAuthorization
from .device_poller import DEVICE_GRANT_TYPE, SLOW_DOWN_STEP, DevicePoller, classify
from .transport import NO_RETRY, Transport, host_of, oauth_json, send

if TYPE_CHECKING:
    from .client_config import ClientConfig
    from .endpoints import Endpoints

DEFAULT_INTERVAL = 5  # RFC 8628 §3.2: "If no value is provided, clients MUST use 5 as the default."
DEFAULT_EXPIRES_IN = 1800  # Google's documented lifetime (its device-flow guide, Step 2)
_DOCUMENT = "device authorization response"


def device_request(
    client: ClientConfig, endpoints: Endpoints, scopes: Iterable[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The device authorization request (RFC 8628 §3.1) as ``(form, headers)``.

    RFC 8628 §3.1 has a confidential client authenticate here; Google takes only ``client_id`` and
    ``scope`` (its device-flow guide, Step 1). Both are :func:`client_auth.authenticate`'s business.

    Args:
        client: The OAuth client ("TVs and Limited Input devices" at Google).
        endpoints: The provider; it decides the client authentication.
        scopes: Scopes to request.

    Returns:
        The form fields and headers to send.

    Raises:
        InputError: No scope was given.
        ConfigError: No client authentication method fits (:func:`client_auth.method_for`).
    """
    scope = " ".join(s for s in scopes if s)
    if not scope:
        raise InputError("no scope to request", fix="choose at least one service or scope in runbook step 01")
    return authenticate({"scope": scope}, client, endpoints, endpoint="device")


def _http_url(value: Any) -> str | None:
    """``value`` when it is an absolute http(s) URL, else None."""
    if not isinstance(value, str):
        return None
    try:
        parts = urllib.parse.urlsplit(value)  # raises on "https://[x" (a bad IPv6 literal)
    except ValueError:
        return None
    return value if parts.scheme in ("http", "https") and parts.netloc else None


def parse_device_response(body: Mapping[str, Any], *, now: float, url: str | None = None) -> DeviceAuthorization:
    """Read a device authorization response (RFC 8628 §3.2), Google's spelling included.

    Args:
        body: The JSON object from the device authorization endpoint.
        now: Monotonic time just before the request was sent (start of the codes' lifetime).
        url: The endpoint that answered, named (with its provider) in errors.

    Returns:
        The authorization; ``device_code`` is registered for redaction.

    Raises:
        ProtocolError: A required field (``device_code``, ``user_code``, ``verification_uri``) is
            missing, or a field has the wrong type; the message names the provider, endpoint and field.
    """
    document = wire.from_endpoint(_DOCUMENT, url)
    device_code = str(wire.text(body, "device_code", document, required=True))
    register_secret(device_code)
    user_code = str(wire.text(body, "user_code", document, required=True))
    # Google sends "verification_url" where RFC 8628 §3.2 says "verification_uri" (Google's device-flow guide, Step 2;
    # golang/oauth2 "workaround misspelling of verification_uri"). This is the only place that knows.
    key = "verification_uri" if body.get("verification_uri") is not None else "verification_url"
    if body.get(key) is None:
        raise wire.malformed(document, "verification_uri (or verification_url)")
    uri = _http_url(wire.text(body, key, document))
    if uri is None:
        raise wire.malformed(document, key, "is not an http(s) URL")
    return DeviceAuthorization(
        device_code=device_code,
        user_code=user_code,
        verification_uri=uri,
        expires_in=_seconds(body, "expires_in", DEFAULT_EXPIRES_IN, document),
        interval=_seconds(body, "interval", DEFAULT_INTERVAL, document),
        issued_at=now,
        verification_uri_complete=_http_url(body.get("verification_uri_complete")),  # optional: junk is ignored
    )


def _seconds(body: Mapping[str, Any], key: str, default: int, document: str) -> int:
    """A positive number of seconds (RFC 8628 §3.2 ``expires_in``, ``interval``), ``default`` if absent."""
    return int(wire.seconds(body, key, document, default=default, minimum=1))


def request_device_code(
    transport: Transport,
    endpoints: Endpoints,
    client: ClientConfig,
    scopes: Iterable[str],
    *,
    clock: Clock = SYSTEM_CLOCK,
) -> DeviceAuthorization:
    """Ask for a device code and user code (RFC 8628 §3.1-3.2). One attempt: re-issuing is the user's call.

    Args:
        transport: The HTTP seam.
        endpoints: The provider; ``device_authorization_endpoint`` is used.
        client: The OAuth client.
        scopes: Scopes to request.
        clock: Monotonic clock that starts the codes' lifetime.

    Returns:
        The authorization to show and poll.

    Raises:
        ConfigError: The provider has no device authorization endpoint, or no client authentication fits.
        OAuthError: Decoded by body code; ``InvalidScope``'s fix steers to the desktop flow.
        TransportError: No usable answer.
    """
    url = endpoints.device_authorization_endpoint
    if not url:
        raise ConfigError(
            f"the provider {host_of(endpoints.issuer)} has no device authorization endpoint (RFC 8628)",
            fix='use the Desktop app flow (--flow desktop, or flow = "desktop" in notebook 03)',
        )
    form, headers = device_request(client, endpoints, scopes)
    started = clock.monotonic()
    response = send(transport, "POST", url, data=form, headers=headers, retry=NO_RETRY, clock=clock)
    return parse_device_response(oauth_json(response, url), now=started, url=url)


__all__ = [
    "DEFAULT_EXPIRES_IN",
    "DEFAULT_INTERVAL",
    "DEVICE_GRANT_TYPE",
    "SLOW_DOWN_STEP",
    "DeviceAuthorization",
    "DevicePoller",
    "classify",
    "device_request",
    "parse_device_response",
    "request_device_code",
]
