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


# --- discovery: RFC 8414 §3.1 locations, merging, one-line errors (issue 7) -----------------------------

import fakes  # noqa: E402
from fakes import reply  # noqa: E402

from gapps_runbook import cli  # noqa: E402
from gapps_runbook.errors import ExitCode  # noqa: E402
from gapps_runbook.oauth.clock import FakeClock  # noqa: E402


def metadata(issuer: str, **extra: object) -> dict[str, object]:
    return {"issuer": issuer, "token_endpoint": issuer + "/token", **extra}


@pytest.mark.parametrize(("issuer", "urls"), [
    ("https://host", ("https://host/.well-known/openid-configuration",
                      "https://host/.well-known/oauth-authorization-server")),
    ("https://host/realms/x", ("https://host/realms/x/.well-known/openid-configuration",
                               "https://host/.well-known/oauth-authorization-server/realms/x",
                               "https://host/realms/x/.well-known/oauth-authorization-server")),
    ("http://127.0.0.1:8080/tenant/a/", ("http://127.0.0.1:8080/tenant/a/.well-known/openid-configuration",
                                         "http://127.0.0.1:8080/.well-known/oauth-authorization-server/tenant/a",
                                         "http://127.0.0.1:8080/tenant/a/.well-known/oauth-authorization-server")),
])
def test_discovery_urls(issuer: str, urls: tuple[str, ...]) -> None:
    assert endpoints.discovery_urls(endpoints.check_issuer_url(issuer)) == urls


def test_path_issuer_reads_the_rfc8414_document_between_host_and_path() -> None:
    issuer = "https://host/realms/x"
    transport = fakes.FakeTransport(reply(404), reply(200, metadata(issuer, device_authorization_endpoint=issuer + "/d")))
    found = endpoints.discover(transport, issuer)
    assert [c.url for c in transport.calls] == ["https://host/realms/x/.well-known/openid-configuration",
                                                "https://host/.well-known/oauth-authorization-server/realms/x"]
    assert found.issuer == issuer and found.device_authorization_endpoint == issuer + "/d"
    assert found.metadata_urls == ("https://host/.well-known/oauth-authorization-server/realms/x",)


def test_path_issuer_falls_back_to_the_rfc8414_document_appended_to_the_issuer() -> None:
    """Okta custom authorization servers, django-oauth-toolkit under a prefix: RFC 8414 appended to the issuer."""
    issuer = "https://tenant.okta.example/oauth2/aus1"
    document = metadata(issuer, device_authorization_endpoint=issuer + "/v1/device/authorize")
    transport = fakes.FakeTransport(reply(404), reply(404), reply(200, document))
    found = endpoints.discover(transport, issuer)
    assert [c.url for c in transport.calls][1:] == [
        "https://tenant.okta.example/.well-known/oauth-authorization-server/oauth2/aus1",
        issuer + "/.well-known/oauth-authorization-server",
    ]
    assert found.device_authorization_endpoint == issuer + "/v1/device/authorize"
    assert found.metadata_urls == (issuer + "/.well-known/oauth-authorization-server",)
    assert found.to_json()["metadata_urls"] == [issuer + "/.well-known/oauth-authorization-server"]


def test_appended_document_naming_another_issuer_is_refused() -> None:
    """RFC 8414 §3.3 holds at the appended location too: a prefix's document for the host's root issuer is not used."""
    issuer = "https://host/o"
    transport = fakes.FakeTransport(reply(404), reply(404), reply(200, metadata("https://host")))
    appended = r"https://host/o/\.well-known/oauth-authorization-server"
    with pytest.raises(errors.ConfigError, match=appended + ".*'https://host'"):
        endpoints.discover(transport, issuer)


def test_a_page_that_is_not_json_at_an_rfc8414_location_does_not_spoil_an_openid_document() -> None:
    """A site's catch-all HTML under the issuer's path: the OpenID document is used alone."""
    issuer = "https://host/o"
    page = Response(200, body=b"<!doctype html><html><body>Welcome</body></html>")
    transport = fakes.FakeTransport(reply(200, metadata(issuer)), reply(404), page)
    found = endpoints.discover(transport, issuer)
    assert found.metadata_urls == (issuer + "/.well-known/openid-configuration",)
    with pytest.raises(errors.ConfigError, match="HTML page"):  # without an OpenID document it is an error
        endpoints.discover(fakes.FakeTransport(reply(404), reply(404), page), issuer)


def test_a_document_for_another_issuer_at_the_rfc8414_location_is_skipped_for_the_appended_one() -> None:
    """RFC 8414 §3.3: not used; a host whose §3.1 location serves its root issuer's metadata still works."""
    issuer = "https://host/o"
    good = metadata(issuer, device_authorization_endpoint=issuer + "/device")
    transport = fakes.FakeTransport(reply(404), reply(200, metadata("https://host")), reply(200, good))
    found = endpoints.discover(transport, issuer)
    assert found.device_authorization_endpoint == issuer + "/device"
    assert found.metadata_urls == (issuer + "/.well-known/oauth-authorization-server",)


def test_openid_document_completed_from_the_appended_rfc8414_document_names_both() -> None:
    issuer = "https://host/o"
    rfc8414 = metadata(issuer, device_authorization_endpoint=issuer + "/device")
    transport = fakes.FakeTransport(reply(200, metadata(issuer)), reply(404), reply(200, rfc8414))
    found = endpoints.discover(transport, issuer)
    assert found.device_authorization_endpoint == issuer + "/device"
    assert found.metadata_urls == (issuer + "/.well-known/openid-configuration",
                                   issuer + "/.well-known/oauth-authorization-server")


def test_openid_document_is_completed_from_rfc8414() -> None:
    """django-oauth-toolkit: device_authorization_endpoint only in the RFC 8414 document (RFC 8628 §4)."""
    issuer = "https://idp.example"
    oidc = metadata(issuer, userinfo_endpoint=issuer + "/userinfo", revocation_endpoint=issuer + "/revoke",
                    token_endpoint_auth_methods_supported=["client_secret_basic"])
    rfc8414 = metadata(issuer, token_endpoint=issuer + "/other-token", device_authorization_endpoint=issuer + "/device",
                       introspection_endpoint=issuer + "/introspect", scopes_supported=["read"])
    found = endpoints.discover(fakes.FakeTransport(reply(200, oidc), reply(200, rfc8414)), issuer)
    assert found.device_authorization_endpoint == issuer + "/device"
    assert found.introspection_endpoint == issuer + "/introspect" and found.scopes_supported == ("read",)
    assert found.token_endpoint == issuer + "/token"  # the OpenID document wins where both speak
    assert found.userinfo_endpoint == issuer + "/userinfo"
    assert found.token_endpoint_auth_methods_supported == ("client_secret_basic",)


def test_complete_openid_document_is_enough() -> None:
    issuer = "https://idp.example"
    oidc = metadata(issuer, device_authorization_endpoint=issuer + "/d", revocation_endpoint=issuer + "/r",
                    introspection_endpoint=issuer + "/i")
    transport = fakes.FakeTransport(reply(200, oidc))
    assert endpoints.discover(transport, issuer).device_authorization_endpoint == issuer + "/d"
    assert len(transport.calls) == 1


def test_openid_document_without_rfc8414_is_used_alone() -> None:
    issuer = "https://idp.example"
    found = endpoints.discover(fakes.FakeTransport(reply(200, metadata(issuer)), reply(404)), issuer)
    assert found.token_endpoint == issuer + "/token" and found.device_authorization_endpoint is None


def test_rfc8414_document_naming_another_issuer_is_refused_even_when_only_filling_in() -> None:
    issuer = "https://idp.example"
    transport = fakes.FakeTransport(reply(200, metadata(issuer)), reply(200, metadata("https://evil.example")))
    with pytest.raises(errors.ConfigError, match="oauth-authorization-server.*evil.example"):
        endpoints.discover(transport, issuer)


def test_no_document_names_every_url_tried_and_its_status() -> None:
    with pytest.raises(errors.ConfigError) as info:
        endpoints.discover(fakes.FakeTransport(reply(404), reply(401), reply(404)), "https://host/realms/x")
    text = str(info.value)
    assert "https://host/realms/x/.well-known/openid-configuration answered HTTP 404" in text
    assert "https://host/.well-known/oauth-authorization-server/realms/x answered HTTP 401" in text
    assert "https://host/realms/x/.well-known/oauth-authorization-server answered HTTP 404" in text
    assert "GAPPS_RUNBOOK_ISSUER" in info.value.fix and "\n" not in text


@pytest.mark.parametrize("body", [b"<!doctype html><html><body>Sign in</body></html>", b"[1, 2]", b"not json"])
def test_document_that_is_not_a_json_object_is_a_config_error(body: bytes) -> None:
    with pytest.raises(errors.ConfigError) as info:
        endpoints.discover(fakes.FakeTransport(Response(200, body=body)), "https://idp.example")
    assert "https://idp.example/.well-known/openid-configuration" in str(info.value)
    assert "issuer https://idp.example" in str(info.value) and "--issuer" in info.value.fix


def test_document_without_token_endpoint_is_a_config_error_naming_the_url() -> None:
    body = {"issuer": "https://idp.example"}
    with pytest.raises(errors.ConfigError, match="openid-configuration.*token_endpoint"):
        endpoints.discover(fakes.FakeTransport(reply(200, body), reply(404)), "https://idp.example")


def test_5xx_is_a_transport_error_naming_the_url() -> None:
    transport, clock = fakes.FakeTransport(*[reply(503)] * 3), FakeClock()
    with pytest.raises(errors.TransportError) as info:
        endpoints.discover(transport, "https://idp.example", clock=clock)
    assert len(transport.calls) == 3 and clock.time() > FakeClock().time()  # waited on the fake clock
    assert type(info.value) is errors.TransportError
    assert "https://idp.example/.well-known/openid-configuration answered HTTP 503" in str(info.value)


def test_no_answer_is_a_transport_error_naming_the_url() -> None:
    transport = fakes.FakeTransport(*[errors.TransportError("could not connect to idp.example")] * 3)
    with pytest.raises(errors.TransportError, match="no answer from https://idp.example/.well-known/openid"):
        endpoints.discover(transport, "https://idp.example", clock=FakeClock())


# --- the same errors through the CLI, against a real server on 127.0.0.1 ------------------------------

import http.server  # noqa: E402
import threading  # noqa: E402
from collections.abc import Iterator  # noqa: E402


@pytest.fixture
def answering() -> Iterator[tuple[str, dict[str, tuple[int, bytes]]]]:
    """A loopback HTTP server answering each path from a dict (path -> (status, body)); 404 otherwise."""
    pages: dict[str, tuple[int, bytes]] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            status, body = pages.get(self.path, (404, b"{}"))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", pages
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def cli_error(tmp_path: object, issuer: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rc = cli.run(["--home", str(tmp_path), "--issuer", issuer, "preflight", "--flow", "device", "--scope", "read"])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1
    return rc, lines[0]


def test_cli_html_discovery_is_exit_3_naming_issuer_and_url(
    tmp_path: object, answering: tuple[str, dict[str, tuple[int, bytes]]], capsys: pytest.CaptureFixture[str]
) -> None:
    base, pages = answering
    pages["/tenant/a/.well-known/openid-configuration"] = (200, b"<html><body>Welcome</body></html>")
    rc, line = cli_error(tmp_path, base + "/tenant/a", capsys)
    assert rc == ExitCode.MISCONFIGURED
    assert f"{base}/tenant/a/.well-known/openid-configuration answered an HTML page" in line
    assert f"issuer {base}/tenant/a" in line and "Fix: check the --issuer URL" in line


def test_cli_no_discovery_is_exit_3_naming_both_urls(
    tmp_path: object, answering: tuple[str, dict[str, tuple[int, bytes]]], capsys: pytest.CaptureFixture[str]
) -> None:
    base, _pages = answering
    rc, line = cli_error(tmp_path, base + "/tenant/a", capsys)
    assert rc == ExitCode.MISCONFIGURED
    assert f"{base}/tenant/a/.well-known/openid-configuration answered HTTP 404" in line
    assert f"{base}/.well-known/oauth-authorization-server/tenant/a answered HTTP 404" in line


def test_cli_discovery_5xx_is_exit_6_naming_the_url(
    tmp_path: object, answering: tuple[str, dict[str, tuple[int, bytes]]], capsys: pytest.CaptureFixture[str]
) -> None:
    base, pages = answering
    pages["/.well-known/openid-configuration"] = (501, b"oops")  # 501 is not retried: no waiting here
    rc, line = cli_error(tmp_path, base, capsys)
    assert rc == ExitCode.NETWORK and f"{base}/.well-known/openid-configuration answered HTTP 501" in line
