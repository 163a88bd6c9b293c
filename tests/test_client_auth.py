"""client_auth.py: RFC 6749 §2.3.1 client authentication, the one path every token request takes (issue 7)."""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
from authlib.oauth2.rfc6749.util import extract_basic_authorization

from gapps_runbook.errors import ConfigError
from gapps_runbook.oauth import loopback
from gapps_runbook.oauth.client_auth import BASIC, NONE, POST, authenticate, basic_header, method_for
from gapps_runbook.oauth.clients import ClientConfig
from gapps_runbook.oauth.clock import FakeClock
from gapps_runbook.oauth.device_flow import DeviceAuthorization, DevicePoller, request_device_code
from gapps_runbook.oauth.endpoints import GOOGLE, Endpoints
from gapps_runbook.oauth.tokeninfo import inspect_token
from gapps_runbook.oauth.revocation import revoke
from gapps_runbook.oauth.tokens import Token, refresh
from gapps_runbook.safety.redact import redact

from fakes import FakeTransport, reply

SECRET = "kiosk secret/+:%é-0123456789"  # every character RFC 6749 §2.3.1's form-encoding changes
CONFIDENTIAL = ClientConfig("kiosk:7 x", SECRET, "device")
PUBLIC = ClientConfig("tv-app", "", "device")
NOW = 1_800_000_000.0


def provider(methods: tuple[str, ...] | None) -> Endpoints:
    base = "https://as.example.org"
    return Endpoints(
        issuer=base, authorization_endpoint=base + "/authorize", token_endpoint=base + "/token",
        device_authorization_endpoint=base + "/device", revocation_endpoint=base + "/revoke",
        introspection_endpoint=base + "/introspect", token_endpoint_auth_methods_supported=methods,
    )  # fmt: skip


BASIC_ONLY = provider((BASIC,))


def decoded(headers: dict[str, str] | None) -> str:
    assert headers is not None and headers["Authorization"].startswith("Basic ")
    return base64.b64decode(headers["Authorization"].removeprefix("Basic ")).decode("utf-8")


# --- the wire form of each method ----------------------------------------------------------------


def test_basic_form_encodes_id_and_secret_before_base64() -> None:
    form, headers = authenticate({"grant_type": "refresh_token"}, CONFIDENTIAL, BASIC_ONLY)
    assert form == {"grant_type": "refresh_token"}  # no credentials in the body
    assert decoded(headers) == "kiosk%3A7%20x:kiosk%20secret%2F%2B%3A%25%C3%A9-0123456789"
    # an independent decoder (Authlib's server side) reads back the original pair
    assert extract_basic_authorization(headers) == (CONFIDENTIAL.client_id, SECRET)


def test_post_puts_id_and_secret_in_the_body() -> None:
    form, headers = authenticate({"grant_type": "refresh_token"}, CONFIDENTIAL, provider((POST,)))
    assert (form, headers) == ({"grant_type": "refresh_token", "client_id": CONFIDENTIAL.client_id,
                                "client_secret": SECRET}, {})


def test_none_sends_the_client_id_only() -> None:
    form, headers = authenticate({"grant_type": "refresh_token"}, PUBLIC, BASIC_ONLY)
    assert (form, headers) == ({"grant_type": "refresh_token", "client_id": "tv-app"}, {})


def test_the_callers_form_is_not_modified() -> None:
    original = {"token": "t"}
    authenticate(original, CONFIDENTIAL, provider((POST,)))
    assert original == {"token": "t"}


def test_the_secret_and_the_header_value_are_registered_for_redaction() -> None:
    client = ClientConfig("kiosk-9", "a-fresh-secret-never-seen-0123", "device")
    header = basic_header(client.client_id, client.client_secret)
    shown = redact(f"sent {header} with {client.client_secret}")
    assert header.removeprefix("Basic ") not in shown and client.client_secret not in shown


# --- which method --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client", "endpoints", "expected"),
    [
        (CONFIDENTIAL, provider(None), BASIC),  # RFC 8414 §2: absent means client_secret_basic
        (CONFIDENTIAL, provider(("client_secret_post", "client_secret_basic")), BASIC),
        (CONFIDENTIAL, provider(("none", "client_secret_post")), POST),
        (CONFIDENTIAL, GOOGLE, POST),  # Google lists basic too, but takes the secret in the body
        (PUBLIC, provider(None), NONE),
        (PUBLIC, provider(("client_secret_basic",)), NONE),
        (ClientConfig("kiosk-7", SECRET, "device", auth_method=POST), provider((BASIC,)), POST),  # the pin wins
        (ClientConfig("kiosk-7", SECRET, "device", auth_method=BASIC), GOOGLE, BASIC),
        (ClientConfig("kiosk-7", SECRET, "device", auth_method=NONE), provider(None), NONE),
    ],
    ids=["absent-list", "basic-listed", "post-only", "google", "public", "public-basic-list", "pin-post",
         "pin-at-google", "pin-none"],
)
def test_method_for(client: ClientConfig, endpoints: Endpoints, expected: str) -> None:
    assert method_for(client, endpoints) == expected


def test_a_provider_listing_no_usable_method_is_a_config_error_naming_its_methods() -> None:
    with pytest.raises(ConfigError) as caught:
        method_for(CONFIDENTIAL, provider(("private_key_jwt", "tls_client_auth")))
    text = str(caught.value)
    assert "as.example.org" in text and "private_key_jwt, tls_client_auth" in text and "--no-secret" in text
    assert "\n" not in text and SECRET not in text


@pytest.mark.parametrize(
    ("client", "words"),
    [(ClientConfig("kiosk-7", SECRET, "device", auth_method="client_secret_jwt"), "client_secret_jwt"),
     (ClientConfig("tv-app", "", "device", auth_method=BASIC), "needs a client secret")],
)
def test_a_pinned_method_that_cannot_work_is_a_config_error(client: ClientConfig, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as caught:
        method_for(client, provider(None))
    assert caught.value.fix and "\n" not in str(caught.value)


def test_google_quirks_device_request_without_secret_and_revocation_with_the_token_alone() -> None:
    assert authenticate({"scope": "openid"}, CONFIDENTIAL, GOOGLE, endpoint="device") == (
        {"scope": "openid", "client_id": CONFIDENTIAL.client_id}, {})
    assert authenticate({"token": "t"}, CONFIDENTIAL, GOOGLE, endpoint="revocation") == ({"token": "t"}, {})
    assert authenticate({"grant_type": "x"}, CONFIDENTIAL, GOOGLE)[0]["client_secret"] == SECRET


# --- every request goes through it: a basic-only provider sees the header every time ----------------


def _token_body() -> dict[str, Any]:
    return {"access_token": "at-0123456789abcdef", "refresh_token": "rt-0123456789abcdef", "expires_in": 3600,
            "token_type": "Bearer", "scope": "calendar:read"}


def _token() -> Token:
    return Token("at-0123456789abcdef", NOW + 3600, ("calendar:read",), refresh_token="rt-0123456789abcdef",
                 issued_at=NOW)


def _device_request(transport: FakeTransport, site: Endpoints) -> None:
    transport.script.append(reply(200, {"device_code": "dc-0123456789abcdef", "user_code": "WDJB-MJHT",
                                        "verification_uri": "https://as.example.org/activate"}))
    request_device_code(transport, site, CONFIDENTIAL, ["calendar:read"], clock=FakeClock())


def _device_poll(transport: FakeTransport, site: Endpoints) -> None:
    transport.script.append(reply(200, _token_body()))
    clock = FakeClock()
    grant = DeviceAuthorization("dc-0123456789abcdef", "WDJB-MJHT", "https://as.example.org/activate", 600, 5,
                                issued_at=clock.monotonic())
    DevicePoller(transport, site, CONFIDENTIAL, grant, clock=clock).poll_once()


def _refresh(transport: FakeTransport, site: Endpoints) -> None:
    transport.script.append(reply(200, _token_body()))
    refresh(transport, site, CONFIDENTIAL, _token(), clock=FakeClock(NOW))


def _revoke(transport: FakeTransport, site: Endpoints) -> None:
    transport.script.append(reply(200, {}))
    revoke(transport, site, _token(), clock=FakeClock(NOW), client=CONFIDENTIAL)


def _introspect(transport: FakeTransport, site: Endpoints) -> None:
    transport.script.append(reply(200, {"active": True, "scope": "calendar:read"}))
    inspect_token(transport, site, _token(), clock=FakeClock(NOW), client=CONFIDENTIAL)


def _code_exchange(transport: FakeTransport, site: Endpoints) -> None:
    transport.script.append(reply(200, _token_body()))
    desktop = ClientConfig(CONFIDENTIAL.client_id, SECRET, "desktop")
    attempt = loopback.start(site, desktop, ["calendar:read"], port=54321)
    query = urllib.parse.urlencode({"state": attempt.state, "code": "code-0123456789abcdef"})
    loopback.complete(transport, attempt, f"{attempt.redirect_uri}?{query}", clock=FakeClock(NOW))


REQUESTS: dict[str, tuple[Callable[[FakeTransport, Endpoints], None], str]] = {
    "device authorization (RFC 8628 §3.1)": (_device_request, "/device"),
    "device polling (RFC 8628 §3.4)": (_device_poll, "/token"),
    "refresh (RFC 6749 §6)": (_refresh, "/token"),
    "revocation (RFC 7009 §2.1)": (_revoke, "/revoke"),
    "introspection (RFC 7662 §2.1)": (_introspect, "/introspect"),
    "code exchange (RFC 6749 §4.1.3)": (_code_exchange, "/token"),
}


@pytest.mark.parametrize("name", list(REQUESTS))
def test_every_request_authenticates_with_basic_at_a_basic_only_provider(name: str) -> None:
    run, path = REQUESTS[name]
    transport = FakeTransport()
    run(transport, BASIC_ONLY)
    (call,) = transport.calls
    assert call.url == "https://as.example.org" + path
    assert extract_basic_authorization(call.headers) == (CONFIDENTIAL.client_id, SECRET)
    assert "client_secret" not in (call.data or {})
    # RFC 8628 §3.1 servers such as oauthlib's require client_id in the body beside Basic; elsewhere it is left out
    assert (call.data or {}).get("client_id") == (CONFIDENTIAL.client_id if path == "/device" else None)
    assert SECRET not in json.dumps(call.data)


@pytest.mark.parametrize("name", list(REQUESTS))
def test_every_request_stops_before_sending_when_no_method_fits(name: str) -> None:
    run, _ = REQUESTS[name]
    transport = FakeTransport()
    with pytest.raises(ConfigError):
        run(transport, provider(("private_key_jwt",)))
    assert transport.calls == []
