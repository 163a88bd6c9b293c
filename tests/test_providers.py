"""The CLI against real provider configurations (issue 7): Authlib servers on 127.0.0.1, not our emulator.

Each provider is a configuration met in the wild: confidential clients that may only use HTTP Basic
(RFC 6749 §2.3.1), advertised or left to RFC 8414's default; an OpenID document without the device
endpoint, completed from RFC 8414 metadata (RFC 8628 §4); an issuer with a path (RFC 8414 §3.1); an ID
token without ``email`` while UserInfo has it (OpenID Connect Core §5.3). ``authorize --flow device``,
``refresh`` and ``revoke`` must complete against each; ``status`` must name the account.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gapps_runbook import cli
from gapps_runbook.errors import MalformedResponse
from gapps_runbook.oauth.endpoints import discover
from gapps_runbook.oauth.transport import RequestsTransport

from rfc8628_provider import Client, Provider, RunningProvider, serve_provider
from rfc8628_provider import SCOPE, play_user
from sites import json_lines, one_line_error, secret_file

CLIENT_ID = "kiosk-basic"
SECRET = "kiosk-basic-secret-0123456789abcdef"
PUBLIC_ID = "tv-app"
BASIC_ONLY = ("client_secret_basic",)

PROVIDERS = {
    "basic-only, advertised": dict(auth_methods=BASIC_ONLY),
    "basic-only, not advertised (RFC 8414 default)": dict(auth_methods=BASIC_ONLY, advertise_auth_methods=False),
    "OpenID document without device endpoint": dict(openid=True),
    "issuer with a path": dict(path="/tenant/a"),
}


@pytest.fixture(params=list(PROVIDERS), ids=list(PROVIDERS))
def provider(request: pytest.FixtureRequest) -> Iterator[RunningProvider]:
    clients = [Client(CLIENT_ID, SECRET, "client_secret_basic"), Client(PUBLIC_ID)]
    with serve_provider(Provider(clients, **PROVIDERS[request.param])) as running:
        yield running


@pytest.fixture
def oidc_provider() -> Iterator[RunningProvider]:
    with serve_provider(Provider([Client(PUBLIC_ID)], openid=True)) as running:
        yield running


def run(home: Path, running: RunningProvider, *args: str) -> int:
    return cli.run(["--home", str(home), "--profile", "p", "--issuer", running.base_url, *args])


def test_provider_documents_are_where_the_rfcs_put_them(provider: RunningProvider) -> None:
    endpoints = discover(RequestsTransport(), provider.base_url)
    assert endpoints.issuer == provider.base_url
    assert endpoints.device_authorization_endpoint == provider.base_url + "/device_authorization"
    assert endpoints.introspection_endpoint == provider.base_url + "/introspect"
    metadata_paths = [p for p, s in provider.provider.requests if "/.well-known/" in p and s == 200]
    assert any(p.startswith("/.well-known/oauth-authorization-server") and p.endswith(provider.provider.path)
               for p in metadata_paths)


def test_confidential_client_authorizes_refreshes_and_revokes(
    tmp_path: Path, provider: RunningProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    assert run(home, provider, "client", "set", "--client-id", CLIENT_ID, "--client-type", "device",
               "--secret-file", str(secret_file(tmp_path, SECRET))) == 0
    capsys.readouterr()
    play_user(provider)
    rc = run(home, provider, "authorize", "--flow", "device", "--scope", SCOPE, "--json")
    out = capsys.readouterr()
    assert rc == 0, out.err
    first = json_lines(out.out)[-1]
    assert first["scopes"] == [SCOPE] and provider.provider.tokens[-1].client_id == CLIENT_ID
    assert run(home, provider, "refresh", "--json") == 0, capsys.readouterr().err
    refreshed = json.loads(capsys.readouterr().out)
    assert refreshed["token_id"] != first["token_id"]
    rc = run(home, provider, "revoke", "--yes")
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert all(t.revoked for t in provider.provider.tokens)
    assert not (home / "profiles" / "p" / "authorized_user.json").exists()
    assert SECRET not in out.out + out.err
    if provider.provider.auth_methods == list(BASIC_ONLY):  # the server took nothing but HTTP Basic
        kinds = {(path.rsplit("/", 1)[-1], kind) for path, kind in provider.provider.auth_seen
                 if path.endswith(("/token", "/revoke", "/device_authorization"))}
        assert kinds == {("device_authorization", "basic"), ("token", "basic"), ("revoke", "basic")}


def authorize_public_client(home: Path, provider: RunningProvider, capsys: pytest.CaptureFixture[str]) -> None:
    """Step 02 (a public device client) and step 03 (device flow, the provider's scope + openid) through the CLI."""
    assert run(home, provider, "client", "set", "--client-id", PUBLIC_ID, "--client-type", "device",
               "--no-secret") == 0
    play_user(provider)
    rc = run(home, provider, "authorize", "--flow", "device", "--scope", SCOPE, "--scope", "openid")
    assert rc == 0, capsys.readouterr().err


def test_status_names_the_account_from_userinfo_when_the_id_token_has_no_email(
    tmp_path: Path, oidc_provider: RunningProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    authorize_public_client(home, oidc_provider, capsys)
    issued = oidc_provider.provider.tokens[-1]
    assert "openid" in issued.scope.split()
    capsys.readouterr()
    assert run(home, oidc_provider, "status", "--json") == 0
    assert json.loads(capsys.readouterr().out)["account"] == "alice@example.org"
    assert ("/userinfo", 200) in oidc_provider.provider.requests


def test_verify_on_an_openid_provider_proves_the_token_with_userinfo(
    tmp_path: Path, oidc_provider: RunningProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    authorize_public_client(home, oidc_provider, capsys)
    capsys.readouterr()
    assert run(home, oidc_provider, "verify", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and [c["summary"] for c in report["checks"]] == ["UserInfo GET /userinfo: allowed, as expected"]


def test_verify_with_nothing_to_check_is_not_success(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 7: 'BAD ... skipped' with exit 0 is gone; a public client on a provider without UserInfo is unverifiable."""
    with serve_provider(Provider([Client(PUBLIC_ID)])) as running:
        home = tmp_path / "home"
        assert run(home, running, "client", "set", "--client-id", PUBLIC_ID, "--client-type", "device",
                   "--no-secret") == 0
        play_user(running)
        assert run(home, running, "authorize", "--flow", "device", "--scope", SCOPE) == 0
        capsys.readouterr()
        rc = run(home, running, "verify")
    out = capsys.readouterr()
    assert rc != 0
    assert "unverifiable" in out.out + out.err


MALFORMED = {
    "device answer without user_code": ({"device_code": "planted-device-code-0123456789", "expires_in": 600,
                                         "verification_uri": "http://127.0.0.1/device", "interval": 1},
                                        None, "/device_authorization): user_code is missing"),
    "device answer with a numeric user_code": ({"device_code": "planted-device-code-0123456789", "user_code": 1234,
                                                "verification_uri": "http://127.0.0.1/device"},
                                               None, "/device_authorization): user_code is not a string"),
    "token answer without access_token": ({"device_code": "planted-device-code-0123456789", "user_code": "WDJB-MJHT",
                                           "verification_uri": "http://127.0.0.1/device", "interval": 1},
                                          {"token_type": "Bearer", "expires_in": 3600},
                                          "/token): access_token is missing"),
}


@pytest.fixture
def malformed_provider(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """A provider on loopback whose device (or token) endpoint answers 200 with a field missing or mistyped."""
    from werkzeug.serving import make_server
    from werkzeug.wrappers import Request, Response

    device_answer, token_answer, expected = MALFORMED[request.param]
    base: list[str] = []

    @Request.application
    def app(http: Request) -> Response:
        issuer = base[0]
        answers = {
            "/.well-known/oauth-authorization-server": {
                "issuer": issuer, "token_endpoint": issuer + "/token",
                "device_authorization_endpoint": issuer + "/device_authorization"},
            "/device_authorization": device_answer,
            "/token": token_answer,
        }
        answer = answers.get(http.path)
        return Response(json.dumps(answer), status=200 if answer else 404, content_type="application/json")

    server = make_server("127.0.0.1", 0, app, threaded=True)
    base.append(f"http://127.0.0.1:{server.server_port}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield base[0], expected
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


@pytest.mark.parametrize("malformed_provider", list(MALFORMED), indirect=True)
def test_a_malformed_answer_is_one_line_naming_the_provider_the_endpoint_and_the_field(
    tmp_path: Path, malformed_provider: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    issuer, expected = malformed_provider
    home = ["--home", str(tmp_path / "home"), "--profile", "p", "--issuer", issuer]
    assert cli.run([*home, "client", "set", "--client-id", PUBLIC_ID, "--client-type", "device", "--no-secret"]) == 0
    capsys.readouterr()
    rc = cli.run([*home, "authorize", "--flow", "device", "--scope", SCOPE])
    err = capsys.readouterr().err
    line = one_line_error(err)
    assert rc == MalformedResponse.exit_code == 3
    assert f"from provider {issuer.removeprefix('http://')} (" in line and expected in line
    assert "KeyError" not in err and "planted-device-code" not in err
