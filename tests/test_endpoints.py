"""Endpoints: Google built in, discovery validated, issuer URLs checked."""

from __future__ import annotations

import json

import pytest

from gapps_runbook.oauth import endpoints
from gapps_runbook import errors
from gapps_runbook.oauth.transport import Response


def test_google_is_built_in_without_network() -> None:
    def no_network(*args: object, **kwargs: object) -> Response:
        raise AssertionError("no request expected")

    assert endpoints.resolve(no_network, None) is endpoints.GOOGLE
    assert endpoints.resolve(no_network, "https://accounts.google.com/") is endpoints.GOOGLE
    assert endpoints.GOOGLE.google_dialect


def test_discovery_of_an_rfc8414_provider() -> None:
    document = {
        "issuer": "https://idp.example",
        "token_endpoint": "https://idp.example/token",
        "device_authorization_endpoint": "https://idp.example/device",
        "introspection_endpoint": "https://idp.example/introspect",
    }
    seen: list[str] = []

    def transport(method: str, url: str, **kwargs: object) -> Response:
        seen.append(url)
        if url.endswith("openid-configuration"):
            return Response(404)
        return Response(200, body=json.dumps(document).encode())

    found = endpoints.discover(transport, "https://idp.example/")
    assert found.device_authorization_endpoint == "https://idp.example/device"
    assert not found.google_dialect
    assert seen[-1] == "https://idp.example/.well-known/oauth-authorization-server"


def test_discovery_issuer_mismatch_is_refused() -> None:
    body = json.dumps({"issuer": "https://evil.example", "token_endpoint": "https://evil.example/t"}).encode()
    with pytest.raises(errors.ConfigError):
        endpoints.discover(lambda *a, **k: Response(200, body=body), "https://idp.example")


@pytest.mark.parametrize("bad", ["idp.example", "ftp://idp.example", "http://idp.example", "https://x?q=1"])
def test_bad_issuer_urls(bad: str) -> None:
    with pytest.raises(errors.InputError):
        endpoints.check_issuer_url(bad)


def test_http_allowed_on_loopback_only() -> None:
    assert endpoints.check_issuer_url("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"


def test_discovery_with_non_url_endpoint_is_a_protocol_error() -> None:
    with pytest.raises(errors.ProtocolError):
        endpoints.Endpoints.from_discovery({"issuer": "https://i", "token_endpoint": "javascript:alert(1)"})


@pytest.mark.parametrize("url", ["http://[", "https://[abc]/token", "http://a]b/"])
def test_fuzz_discovery_url_that_cannot_be_parsed_is_a_protocol_error(url: str) -> None:
    """F1 fuzzer: urlsplit raised ValueError ("Invalid IPv6 URL") out of from_discovery."""
    with pytest.raises(errors.ProtocolError, match="token_endpoint"):
        endpoints.Endpoints.from_discovery({"issuer": "http://127.0.0.1:8765", "token_endpoint": url})
