"""The CLI against an independent RFC 8628 provider (Authlib, tests/rfc8628_provider.py), not our emulator.

The provider speaks the RFC dialect: RFC 8414 metadata only, ``verification_uri``, HTTP 400 for
``authorization_pending``/``slow_down``, public clients without a secret, its own scopes, no tokeninfo.
``--issuer URL`` must be enough for the whole device flow to complete against it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from gapps_runbook import cli
from gapps_runbook.oauth.endpoints import discover
from gapps_runbook.errors import ExitCode
from gapps_runbook.oauth.transport import RequestsTransport

from rfc8628_provider import SCOPE, Client, Provider, RunningProvider, play_user, serve_provider
from sites import json_lines, one_line_error, secret_file

PUBLIC_ID = "tv-app"  # not Google-shaped: accepted because the provider is not Google's dialect
CONFIDENTIAL_ID = "kiosk-7"
CONFIDENTIAL_SECRET = "kiosk-secret-0123456789abcdef"


@pytest.fixture
def provider() -> Iterator[RunningProvider]:
    clients = [Client(PUBLIC_ID), Client(CONFIDENTIAL_ID, CONFIDENTIAL_SECRET, "client_secret_post")]
    with serve_provider(Provider(clients)) as running:
        yield running


def run(home: Path, running: RunningProvider, *args: str) -> int:
    return cli.run(["--home", str(home), "--profile", "rfc", "--issuer", running.base_url, *args])


def set_public_client(home: Path, running: RunningProvider) -> None:
    assert run(home, running, "client", "set", "--client-id", PUBLIC_ID, "--client-type", "device", "--no-secret") == 0


def test_the_provider_speaks_the_rfc_dialect_not_googles(provider: RunningProvider) -> None:
    base = provider.base_url
    assert requests.get(base + "/.well-known/openid-configuration", timeout=10).status_code == 404
    AuthorizationServerMetadata(requests.get(base + "/.well-known/oauth-authorization-server", timeout=10).json()).validate()
    grant = requests.post(base + "/device_authorization", data={"client_id": PUBLIC_ID, "scope": SCOPE}, timeout=10)
    body = grant.json()
    assert "verification_uri" in body and "verification_url" not in body and "verification_uri_complete" in body
    poll = requests.post(base + "/token", timeout=10, data={
        "client_id": PUBLIC_ID, "device_code": body["device_code"],
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
    })
    assert (poll.status_code, poll.json()["error"]) == (400, "authorization_pending")  # Google: 428
    endpoints = discover(RequestsTransport(), base)
    assert not endpoints.google_dialect
    assert endpoints.tokeninfo_endpoint is None and endpoints.introspection_endpoint == base + "/introspect"


def test_public_client_device_flow_completes(
    tmp_path: Path, provider: RunningProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    set_public_client(home, provider)
    assert run(home, provider, "client", "show", "--json") == 0
    assert "none (public client)" in json.loads(capsys.readouterr().out.split("\n", 1)[1])["client_secret"]
    user = play_user(provider)
    rc = run(home, provider, "authorize", "--flow", "device", "--scope", SCOPE, "--json")
    user.join(timeout=5)
    out = capsys.readouterr()
    assert rc == 0, out.err
    event, status = json_lines(out.out)
    assert event["event"] == "user_code" and event["verification_url"] == provider.base_url + "/device"
    assert status["scopes"] == [SCOPE] and status["missing_scopes"] == [] and status["has_refresh_token"]
    assert ("/token", 400) in provider.provider.requests  # authorization_pending came as HTTP 400
    assert run(home, provider, "status", "--json") == 0
    stored = json.loads(capsys.readouterr().out)
    assert stored["token_id"] == status["token_id"] and 3500 < stored["expires_in"] <= 3600
    assert stored["client_id"] == PUBLIC_ID
    issued = provider.provider.tokens[-1]
    assert (issued.client_id, issued.scope) == (PUBLIC_ID, SCOPE)


def test_public_client_refreshes_and_revokes(
    tmp_path: Path, provider: RunningProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    set_public_client(home, provider)
    capsys.readouterr()
    play_user(provider)
    assert run(home, provider, "authorize", "--flow", "device", "--scope", SCOPE, "--json") == 0
    first = json_lines(capsys.readouterr().out)[-1]
    assert run(home, provider, "refresh", "--json") == 0
    refreshed = json.loads(capsys.readouterr().out)
    assert refreshed["token_id"] != first["token_id"] and refreshed["scopes"] == [SCOPE]
    assert run(home, provider, "revoke", "--yes") == 0, capsys.readouterr().err
    assert all(t.revoked for t in provider.provider.tokens)
    assert not (home / "profiles" / "rfc" / "authorized_user.json").exists()


def test_confidential_client_authenticates_with_client_secret_post(
    tmp_path: Path, provider: RunningProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    # The provider lists all three methods but registered this client for client_secret_post only (RFC 7591
    # token_endpoint_auth_method): discovery cannot know that, so the profile pins the method.
    rc = run(home, provider, "client", "set", "--client-id", CONFIDENTIAL_ID, "--client-type", "device",
             "--secret-file", str(secret_file(tmp_path, CONFIDENTIAL_SECRET)), "--auth-method", "client_secret_post")
    assert rc == 0
    play_user(provider)
    rc = run(home, provider, "authorize", "--flow", "device", "--scope", SCOPE, "--scope", "profile")
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert CONFIDENTIAL_SECRET not in out.out + out.err
    assert provider.provider.tokens[-1].client_id == CONFIDENTIAL_ID
    assert {kind for path, kind in provider.provider.auth_seen if path == "/token"} == {"form"}


def test_denied_is_exit_4_and_stores_nothing(
    tmp_path: Path, provider: RunningProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    set_public_client(home, provider)
    play_user(provider, deny=True)
    rc = run(home, provider, "authorize", "--flow", "device", "--scope", SCOPE)
    assert rc == ExitCode.DENIED
    assert "access_denied" in one_line_error(capsys.readouterr().err)
    assert not (home / "profiles" / "rfc" / "authorized_user.json").exists()


def test_slow_down_as_http_400_adds_five_seconds(
    tmp_path: Path, provider: RunningProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    set_public_client(home, provider)
    provider.provider.slow_downs = 1
    play_user(provider)
    rc = run(home, provider, "authorize", "--flow", "device", "--scope", SCOPE)
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "polling every 6 s" in err  # interval 1 s + 5 s (RFC 8628 §3.5)
    assert [s for p, s in provider.provider.requests if p == "/token"] == [400, 200]


def test_provider_scopes_are_not_rewritten_to_googles(
    tmp_path: Path, provider: RunningProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    set_public_client(home, provider)
    capsys.readouterr()
    assert run(home, provider, "preflight", "--flow", "device", "--scope", SCOPE, "--json") == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["scopes"] == [SCOPE] and verdict["ok"] and verdict["flow"] == "device"


def test_unknown_scope_is_the_providers_invalid_scope(
    tmp_path: Path, provider: RunningProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    set_public_client(home, provider)
    rc = run(home, provider, "authorize", "--flow", "device", "--scope", "https://www.googleapis.com/auth/calendar.readonly")
    assert rc == ExitCode.MISCONFIGURED
    assert "invalid_scope" in one_line_error(capsys.readouterr().err)


def test_no_secret_is_refused_for_google_dialect(tmp_path: Path, emulator, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    client_id = emulator.emulator.device_client.client_id
    base = ["--home", str(home), "--issuer", emulator.base_url, "client", "set", "--client-id", client_id,
            "--client-type", "device"]
    assert cli.run([*base, "--no-secret"]) == ExitCode.BAD_INPUT
    assert "secret" in one_line_error(capsys.readouterr().err)
    assert not (home / "profiles" / "default" / "client.json").exists()


def test_no_secret_with_a_secret_source_is_bad_input(
    tmp_path: Path, provider: RunningProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = run(tmp_path / "home", provider, "client", "set", "--client-id", PUBLIC_ID, "--client-type", "device",
             "--no-secret", "--secret-file", str(secret_file(tmp_path, "x" * 20)))
    assert rc == ExitCode.BAD_INPUT
    one_line_error(capsys.readouterr().err)
