"""The CLI against django-oauth-toolkit (tests/dot_provider.py): a pip-installed Django app on loopback.

DOT (on oauthlib) requires ``client_id`` in the device authorization request even beside HTTP Basic,
publishes its RFC 8414 metadata appended to the issuer when mounted under a prefix, rotates refresh
tokens by default, and answers RFC 8628 §3.5 errors as HTTP 400. Each deployment in
``dot_provider.VARIANTS`` must complete ``authorize --flow device``, ``refresh`` and ``revoke`` through
the CLI, for a confidential and for a public client.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from gapps_runbook import cli
from gapps_runbook.errors import ExitCode
from gapps_runbook.oauth.endpoints import discover
from gapps_runbook.oauth.transport import RequestsTransport

from dot_provider import (
    CONFIDENTIAL_ID,
    CONFIDENTIAL_SECRET,
    PUBLIC_ID,
    SCOPE,
    USER,
    VARIANTS,
    RunningDot,
    play_person,
    serve_dot,
)
from sites import json_lines, one_line_error, secret_file

DEVICE_CLIENTS = ("confidential", "public")


@pytest.fixture(scope="session")
def dot_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dot")


@pytest.fixture(params=list(VARIANTS))
def dot(request: pytest.FixtureRequest, dot_folder: Path) -> Iterator[RunningDot]:
    with serve_dot(dot_folder, request.param) as running:
        yield running


def run(home: Path, running: RunningDot, *args: str) -> int:
    return cli.run(["--home", str(home), "--profile", "p", "--issuer", running.base_url, *args])


def set_client(tmp_path: Path, home: Path, running: RunningDot, kind: str) -> str:
    """Step 02 through the CLI: a device client, confidential (secret from a file) or public."""
    if kind == "confidential":
        extra = ["--secret-file", str(secret_file(tmp_path, CONFIDENTIAL_SECRET))]
        client_id = CONFIDENTIAL_ID
    else:
        extra, client_id = ["--no-secret"], PUBLIC_ID
    assert run(home, running, "client", "set", "--client-id", client_id, "--client-type", "device", *extra) == 0
    return client_id


def stored(home: Path) -> dict:
    return json.loads((home / "profiles" / "p" / "authorized_user.json").read_text())


def test_discovery_reads_the_metadata_where_dot_publishes_it(tmp_path: Path, dot: RunningDot,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    metadata = dot.base_url + "/.well-known/oauth-authorization-server"
    assert run(tmp_path / "home", dot, "preflight", "--scope", SCOPE, "--flow", "device") == 0
    shown = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Provider metadata: ")]
    assert len(shown) == 1 and shown[0].endswith(metadata)
    dot.requests.clear()
    endpoints = discover(RequestsTransport(), dot.base_url)
    assert endpoints.issuer == dot.base_url
    assert endpoints.device_authorization_endpoint == dot.base_url + "/device-authorization/"
    assert endpoints.revocation_endpoint == dot.base_url + "/revoke_token/"
    openid = (dot.base_url + "/.well-known/openid-configuration",) if dot.variant == "openid" else ()
    assert endpoints.metadata_urls == (*openid, metadata)  # an OpenID document without the device endpoint is completed
    asked = [(path, status) for path, status in dot.requests if "/.well-known/" in path]
    if dot.variant == "prefix":  # the OpenID document and the RFC 8414 §3.1 location first, then the appended form
        assert asked == [("/o/.well-known/openid-configuration", 404),
                         ("/.well-known/oauth-authorization-server/o", 404),
                         ("/o/.well-known/oauth-authorization-server", 200)]


@pytest.mark.parametrize("kind", DEVICE_CLIENTS)
def test_device_flow_refresh_with_rotation_and_revoke(
    tmp_path: Path, dot: RunningDot, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    client_id = set_client(tmp_path, home, dot, kind)
    capsys.readouterr()

    person = play_person(dot)
    rc = run(home, dot, "authorize", "--flow", "device", "--scope", SCOPE, "--json")
    out = capsys.readouterr()
    person.join(timeout=30)
    assert rc == 0, out.err
    assert json_lines(out.out)[-1]["scopes"] == [SCOPE]
    (access,) = dot.tokens()["access"]
    assert access.application.client_id == client_id and access.user.username == USER
    device_kinds = {kind_ for path, kind_ in dot.auth_seen if path.endswith("/device-authorization/")}
    assert device_kinds == ({"basic+client_id"} if kind == "confidential" else {"form"})

    first_refresh = stored(home)["refresh_token"]
    assert run(home, dot, "refresh", "--json") == 0, capsys.readouterr().err
    refreshed = json.loads(capsys.readouterr().out)
    assert refreshed["token_id"] != json_lines(out.out)[-1]["token_id"]
    rows = dot.tokens()["refresh"]
    old, new = rows[0], rows[-1]
    assert old.token == first_refresh and old.revoked is not None  # DOT rotated it (ROTATE_REFRESH_TOKEN)
    assert new.revoked is None and stored(home)["refresh_token"] == new.token != first_refresh
    assert run(home, dot, "refresh") == 0, capsys.readouterr().err  # the rotated token is the one kept
    capsys.readouterr()

    rc = run(home, dot, "revoke", "--yes")
    out = capsys.readouterr()
    assert rc == 0, out.err
    tokens = dot.tokens()
    assert tokens["access"] == [] and all(row.revoked is not None for row in tokens["refresh"])
    assert not (home / "profiles" / "p" / "authorized_user.json").exists()
    assert CONFIDENTIAL_SECRET not in out.out + out.err
    assert (f"{dot.prefix}/revoke_token/", 200) in dot.requests


def test_the_person_denying_is_exit_4_in_one_line(tmp_path: Path, dot: RunningDot,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    set_client(tmp_path, home, dot, "confidential")
    capsys.readouterr()
    person = play_person(dot, action="deny")
    rc = run(home, dot, "authorize", "--flow", "device", "--scope", SCOPE)
    person.join(timeout=30)
    assert rc == ExitCode.DENIED
    assert "access_denied" in one_line_error(capsys.readouterr().err)
