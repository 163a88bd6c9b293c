"""The emulator's practice knobs over real loopback: refresh-token rotation, scenarios, faults from the
command line, the landing page, OpenID Connect UserInfo and HTTP Basic client authentication."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from gapps_runbook.emulator import Emulator, RunningEmulator, Scenario
from gapps_runbook.emulator.command import emulator as emulator_command
from gapps_runbook.emulator.practice import describe_faults, describe_scenario, parse_fault, parse_scenario
from gapps_runbook.oauth.clock import FakeClock
from gapps_runbook.oauth.endpoints import Endpoints

from sites import emulator_process

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CAL = "https://www.googleapis.com/auth/calendar.readonly"
EXPIRED = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}


def device_code(running: RunningEmulator, scope: str = "openid email", **kwargs: Any) -> requests.Response:
    client = running.emulator.device_client
    data = {"client_id": client.client_id, "scope": scope}
    return requests.post(running.base_url + "/device/code", data=data, **kwargs)


def poll(running: RunningEmulator, code: str) -> requests.Response:
    client = running.emulator.device_client
    data = {"client_id": client.client_id, "client_secret": client.client_secret, "device_code": code,
            "grant_type": DEVICE_GRANT}  # fmt: skip
    return requests.post(running.base_url + "/token", data=data)


def device_token(running: RunningEmulator, scope: str = "openid email") -> dict[str, Any]:
    """A token from the device flow of an ``auto_approve`` emulator."""
    reply = poll(running, device_code(running, scope).json()["device_code"])
    assert reply.status_code == 200, reply.text
    return reply.json()


def refresh(running: RunningEmulator, refresh_token: str) -> requests.Response:
    client = running.emulator.device_client
    data = {"client_id": client.client_id, "client_secret": client.client_secret, "refresh_token": refresh_token,
            "grant_type": "refresh_token"}  # fmt: skip
    return requests.post(running.base_url + "/token", data=data)


def basic(client_id: str, secret: str, *, encode: bool = True) -> dict[str, str]:
    """``Authorization: Basic`` as RFC 6749 §2.3.1 builds it (id and secret form-urlencoded first)."""
    quote = urllib.parse.quote_plus if encode else str
    pair = f"{quote(client_id)}:{quote(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


# -- refresh-token rotation -----------------------------------------------------------------------


def test_rotation_returns_a_new_refresh_token_and_retires_the_old(make_emulator: Callable[..., Any]) -> None:
    running = make_emulator(auto_approve=True, rotate_refresh_tokens=True)
    first = device_token(running)["refresh_token"]
    reply = refresh(running, first)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    second = body["refresh_token"]
    assert second != first and second.startswith("1//")
    assert list(body)[:3] == ["access_token", "expires_in", "refresh_token"]  # Google's key order
    reused = refresh(running, first)
    assert reused.status_code == 400 and reused.json() == EXPIRED
    assert first not in reused.text
    third = refresh(running, second)
    assert third.status_code == 200 and third.json()["refresh_token"] not in (first, second)
    assert refresh(running, second).json() == EXPIRED


def test_rotation_keeps_the_grant_so_revocation_still_works(make_emulator: Callable[..., Any]) -> None:
    running = make_emulator(auto_approve=True, rotate_refresh_tokens=True)
    token = device_token(running)
    rotated = refresh(running, token["refresh_token"]).json()
    assert requests.post(running.base_url + "/revoke", data={"token": rotated["refresh_token"]}).status_code == 200
    assert refresh(running, rotated["refresh_token"]).json() == EXPIRED
    info = requests.get(running.base_url + "/tokeninfo", params={"access_token": rotated["access_token"]})
    assert info.status_code == 400  # the grant is gone, and every access token with it
    again = requests.post(running.base_url + "/revoke", data={"token": token["refresh_token"]})
    assert again.status_code == 400 and again.json()["error"] == "invalid_token"


def test_without_rotation_refresh_keeps_the_token(make_emulator: Callable[..., Any]) -> None:
    running = make_emulator(auto_approve=True)
    token = device_token(running)
    assert "refresh_token" not in refresh(running, token["refresh_token"]).json()
    assert refresh(running, token["refresh_token"]).status_code == 200


# -- scenarios --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scenario"),
    [
        ("deny", Scenario(deny=True)),
        ("expire", Scenario(expire=True)),
        ("slow_down", Scenario(slow_down=1)),
        ("slow_down:3", Scenario(slow_down=3)),
        ("pending:2", Scenario(approve_after=2)),
        ("pending:0,deny", Scenario(approve_after=0, deny=True)),
    ],
)
def test_parse_scenario(text: str, scenario: Scenario) -> None:
    assert parse_scenario(text) == scenario
    assert parse_scenario(describe_scenario(scenario)) == scenario


@pytest.mark.parametrize("text", ["approve", "pending", "deny:2", "slow_down:x", "deny,deny", ""])
def test_parse_scenario_refuses_and_names_the_choices(text: str) -> None:
    with pytest.raises(ValueError, match="deny|pending"):
        parse_scenario(text)


def test_scenario_pending_then_approve_for_every_device_client(make_emulator: Callable[..., Any]) -> None:
    clock = FakeClock()
    running = make_emulator(clock=clock, scenario=parse_scenario("pending:2"))
    other = running.emulator.register_client("9-tv.apps.googleusercontent.com", "GOCSPX-other", "device")
    for client in (running.emulator.device_client, other):
        start = {"client_id": client.client_id, "scope": "email"}
        code = requests.post(running.base_url + "/device/code", data=start).json()["device_code"]
        form = {"client_id": client.client_id, "client_secret": client.client_secret, "device_code": code,
                "grant_type": DEVICE_GRANT}  # fmt: skip
        statuses = []
        for _ in range(3):
            statuses.append(requests.post(running.base_url + "/token", data=form).status_code)
            clock.advance(5)
        assert statuses == [428, 428, 200]


def test_scenario_deny_applies_to_device_and_desktop(make_emulator: Callable[..., Any]) -> None:
    running = make_emulator(scenario=Scenario(deny=True))
    reply = poll(running, device_code(running).json()["device_code"])
    assert reply.status_code == 403 and reply.json()["error"] == "access_denied"
    client = running.emulator.desktop_client
    params = {"client_id": client.client_id, "redirect_uri": "http://127.0.0.1:9/", "response_type": "code",
              "scope": "openid email", "state": "s"}  # fmt: skip
    page = requests.get(running.base_url + "/o/oauth2/v2/auth", params=params, allow_redirects=False)
    assert page.status_code == 302
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.headers["Location"]).query))
    assert query == {"error": "access_denied", "state": "s"}


def test_scenario_expire_kills_the_desktop_code(make_emulator: Callable[..., Any]) -> None:
    running = make_emulator(scenario=Scenario(expire=True), auto_approve=True)
    client = running.emulator.desktop_client
    redirect = "http://127.0.0.1:9/"
    params = {"client_id": client.client_id, "redirect_uri": redirect, "response_type": "code", "scope": "email"}
    page = requests.get(running.base_url + "/o/oauth2/v2/auth", params=params, allow_redirects=False)
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.headers["Location"]).query))["code"]
    data = {"client_id": client.client_id, "client_secret": client.client_secret, "code": code,
            "redirect_uri": redirect, "grant_type": "authorization_code"}  # fmt: skip
    reply = requests.post(running.base_url + "/token", data=data)
    assert reply.status_code == 400 and reply.json()["error"] == "invalid_grant"
    expired = poll(running, device_code(running).json()["device_code"])
    assert expired.status_code == 400 and expired.json()["error"] == "expired_token"


def test_a_client_script_overrides_the_emulator_scenario(make_emulator: Callable[..., Any]) -> None:
    running = make_emulator(scenario=Scenario(deny=True))
    running.emulator.script(running.emulator.device_client.client_id, Scenario(approve_after=0))
    assert poll(running, device_code(running).json()["device_code"]).status_code == 200


# -- faults -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("/token=503x2", ("/token", "503", 2)), ("token=timeout", ("/token", "timeout", 1)),
     ("/device/code=reset", ("/device/code", "reset", 1)), ("/revoke=malformedx3", ("/revoke", "malformed", 3)),
     ("/calendar/v3/users/me/calendarList=429", ("/calendar/v3/users/me/calendarList", "429", 1))],
)  # fmt: skip
def test_parse_fault(text: str, parsed: tuple[str, str, int]) -> None:
    assert parse_fault(text) == parsed


@pytest.mark.parametrize("text", ["/token", "/token=418", "/token=503x0", "/tokn=503", "=503", "/token=503x"])
def test_parse_fault_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_fault(text)


def test_describe_faults_groups_runs() -> None:
    assert describe_faults({"/token": ["503", "503", "reset"], "/revoke": []}) == ["/token: 503 x2, reset x1"]


# -- the command line -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def practice_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``gapps-runbook emulator`` keeps its state under the runbook's home: a temporary one here."""
    monkeypatch.setenv("GAPPS_RUNBOOK_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[Emulator]:
    """Run the click command without serving: the Emulator it built is appended here."""
    built: list[Emulator] = []
    monkeypatch.setattr("gapps_runbook.emulator.run_forever", lambda emu, *args, **kwargs: built.append(emu))
    return built


def test_cli_options_reach_the_emulator(captured: list[Emulator]) -> None:
    args = ["--rotate-refresh-tokens", "--scenario", "slow_down:2,pending:3", "--fault", "/token=503x2",
            "--fault", "/device/code=reset", "--publishing-status", "testing", "--legacy-device-scopes"]  # fmt: skip
    result = CliRunner().invoke(emulator_command, args)
    assert result.exit_code == 0, result.output
    (emu,) = captured
    assert emu.rotate_refresh_tokens and emu.publishing_status == "testing" and emu.legacy_device_scopes
    assert not emu.auto_approve
    assert emu.scenario == Scenario(slow_down=2, approve_after=3)
    assert emu.faults == {"/token": ["503", "503"], "/device/code": ["reset"]}


def test_cli_defaults_script_nothing(captured: list[Emulator]) -> None:
    assert CliRunner().invoke(emulator_command, []).exit_code == 0
    (emu,) = captured
    assert emu.scenario == Scenario() and emu.faults == {} and not emu.rotate_refresh_tokens
    assert emu.publishing_status == "production"


def test_the_port_variable_is_the_default_port_and_the_option_wins(captured: list[Emulator],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The seam that keeps the tests off 8765: ``GAPPS_RUNBOOK_EMULATOR_PORT`` is read for the default."""
    from gapps_runbook.emulator.command import PORT_ENV

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setenv(PORT_ENV, str(port))
        taken = CliRunner().invoke(emulator_command, [])
        assert taken.exit_code == 2 and f"port {port} on 127.0.0.1" in taken.output and not captured
        assert CliRunner().invoke(emulator_command, ["--port", "0"]).exit_code == 0 and len(captured) == 1


@pytest.mark.parametrize(
    ("args", "named"),
    [(["--scenario", "maybe"], "deny, expire, slow_down[:N], pending:N"),
     (["--fault", "/token=418"], "500"),
     (["--fault", "token503"], "PATH=KIND[xN]"),
     (["--publishing-status", "beta"], "'testing', 'production'")],
)  # fmt: skip
def test_cli_bad_values_are_one_line_errors(captured: list[Emulator], args: list[str], named: str) -> None:
    result = CliRunner().invoke(emulator_command, args)
    assert result.exit_code == 2 and not captured
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and named in errors[0], result.output


def test_cli_help_explains_each_practice_option() -> None:
    text = CliRunner().invoke(emulator_command, ["--help"], terminal_width=200).output
    for option in ("--scenario", "--fault", "--rotate-refresh-tokens", "--publishing-status", "--auto-approve",
                   "--legacy-device-scopes", "--clients"):  # fmt: skip
        assert option in text
    assert "PATH=KIND[xN]" in text and "7 days" in text and "invalid_grant" in text


@pytest.fixture
def served_cli() -> Iterator[Callable[..., tuple[str, list[str]]]]:
    """Start ``gapps-runbook emulator ARGS`` as a subprocess; (base URL, lines printed) once it is ready."""
    processes: list[subprocess.Popen[str]] = []

    def start(*args: str) -> tuple[str, list[str]]:
        code = "from gapps_runbook.emulator.command import emulator; emulator(prog_name='gapps-runbook emulator')"
        process, base, seen = emulator_process([sys.executable, "-c", code, "--port", "0", *args], dict(os.environ))
        processes.append(process)
        return base, seen

    yield start
    for process in processes:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_cli_subprocess_serves_the_scenario_faults_and_rotation(served_cli: Callable[..., Any]) -> None:
    base, lines = served_cli("--scenario", "deny", "--fault", "/token=503x2", "--rotate-refresh-tokens",
                             "--publishing-status", "testing")  # fmt: skip
    text = "\n".join(lines)
    assert "Scenario: deny" in text and "/token: 503 x2" in text and "rotate refresh tokens: on" in text
    assert f"--issuer {base}" in text
    practice = requests.get(base + "/", headers={"Accept": "application/json"}).json()["practice"]
    assert practice["scenario"] == "deny" and practice["faults"] == {"/token": ["503", "503"]}
    assert practice["rotate_refresh_tokens"] is True and practice["publishing_status"] == "testing"
    client = next(c for c in requests.get(base + "/", headers={"Accept": "application/json"}).json()["clients"]
                  if c["client_type"] == "device")  # fmt: skip
    code = requests.post(base + "/device/code", data={"client_id": client["client_id"], "scope": "email"}).json()
    form = {"client_id": client["client_id"], "device_code": code["device_code"], "grant_type": DEVICE_GRANT}
    secret = next(line.split()[-1] for line in lines if "client_secret:" in line)  # printed for the device client first
    form["client_secret"] = secret
    replies = [requests.post(base + "/token", data=form) for _ in range(3)]
    assert [reply.status_code for reply in replies] == [503, 503, 403]
    assert replies[2].json()["error"] == "access_denied"


# -- the landing page -------------------------------------------------------------------------------


def test_landing_page_lists_clients_and_never_a_secret(make_emulator: Callable[..., Any], tmp_path: Path) -> None:
    running = make_emulator(rotate_refresh_tokens=True, scenario=Scenario(slow_down=2))
    emu = running.emulator
    path = tmp_path / "clients.json"
    entry = {"client_id": "42-lobby.apps.googleusercontent.com", "client_type": "device",
             "client_secret": "GOCSPX-lobby-canary-secret-0000000", "product_name": "Lobby <TV>"}  # fmt: skip
    path.write_text(json.dumps([entry]))
    emu.load_clients(path)
    emu.fail_next("/token", "503", 2)
    page = requests.get(running.base_url + "/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    text = page.text
    for client in emu.clients:
        assert client.client_id in text
        assert client.client_secret not in text
    assert "Lobby &lt;TV&gt;" in text and "Lobby <TV>" not in text
    assert "TVs and Limited Input devices" in text and "Desktop app" in text
    base = running.base_url
    for expected in (base + "/.well-known/openid-configuration", base + "/device", f"--issuer {base}",
                     "slow_down:2", "/token: 503 x2", "on: every refresh returns a new refresh token"):  # fmt: skip
        assert expected in text, expected
    assert "gapps-runbook emulator: an offline stand-in" in text  # the emulator's own layout
    assert emu.faults == {"/token": ["503", "503"]}  # looking does not consume a fault


def test_landing_page_as_json(emulator: RunningEmulator) -> None:
    reply = requests.get(emulator.base_url + "/", headers={"Accept": "application/json"})
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    emu = emulator.emulator
    assert body["issuer"] == emulator.base_url
    assert body["discovery_url"] == emulator.base_url + "/.well-known/openid-configuration"
    assert body["verification_url"] == emulator.base_url + "/device"
    assert [c["client_id"] for c in body["clients"]] == [emu.device_client.client_id, emu.desktop_client.client_id]
    assert {c["client_type"] for c in body["clients"]} == {"device", "desktop"}
    assert body["practice"] == {"scenario": "none", "faults": {}, "rotate_refresh_tokens": False,
                                "publishing_status": "production", "auto_approve": False,
                                "legacy_device_scopes": False}  # fmt: skip
    for client in emu.clients:
        assert client.client_secret not in reply.text
    browser = requests.get(emulator.base_url + "/", headers={"Accept": "text/html,application/json;q=0.9"})
    assert browser.headers["Content-Type"].startswith("text/html")


# -- discovery, UserInfo ----------------------------------------------------------------------------


def test_discovery_advertises_userinfo_and_both_auth_methods(emulator: RunningEmulator) -> None:
    document = requests.get(emulator.base_url + "/.well-known/openid-configuration").json()
    assert document["userinfo_endpoint"] == emulator.base_url + "/v1/userinfo"
    assert document["token_endpoint_auth_methods_supported"] == ["client_secret_post", "client_secret_basic"]
    endpoints = Endpoints.from_discovery(document, issuer=emulator.base_url)
    assert endpoints.userinfo_endpoint == emulator.base_url + "/v1/userinfo"


def test_userinfo_with_email_scope(make_emulator: Callable[..., Any]) -> None:
    running = make_emulator(auto_approve=True)
    token = device_token(running, "openid email profile")["access_token"]
    reply = requests.get(running.base_url + "/v1/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200, reply.text
    claims = reply.json()
    info = requests.get(running.base_url + "/tokeninfo", params={"access_token": token}).json()
    assert claims["sub"] == info["sub"] and claims["sub"].isdigit()
    assert claims["email"] == running.emulator.account and claims["email_verified"] is True
    assert claims["name"] == "Engineer"
    posted = requests.post(running.base_url + "/v1/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert posted.json() == claims


def test_userinfo_with_openid_only_has_just_the_subject(make_emulator: Callable[..., Any]) -> None:
    running = make_emulator(auto_approve=True)
    token = device_token(running, "openid")["access_token"]
    claims = requests.get(running.base_url + "/v1/userinfo", headers={"Authorization": f"Bearer {token}"}).json()
    assert set(claims) == {"sub"}


def test_userinfo_refuses_bad_missing_revoked_and_unscoped_tokens(make_emulator: Callable[..., Any]) -> None:
    running = make_emulator(auto_approve=True, legacy_device_scopes=True)
    url = running.base_url + "/v1/userinfo"
    bad = requests.get(url, headers={"Authorization": "Bearer ya29.garbage"})
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
    assert bad.headers["WWW-Authenticate"].startswith("Bearer ")
    assert bad.json() == {"error": "invalid_request", "error_description": "Invalid Credentials"}
    missing = requests.get(url)
    assert missing.status_code == 401 and "error=" not in missing.headers["WWW-Authenticate"]
    token = device_token(running, "email")
    assert requests.post(running.base_url + "/revoke", data={"token": token["access_token"]}).status_code == 200
    revoked = requests.get(url, headers={"Authorization": f"Bearer {token['access_token']}"})
    assert revoked.status_code == 401 and 'error="invalid_token"' in revoked.headers["WWW-Authenticate"]
    calendar_only = device_token(running, CAL)["access_token"]
    unscoped = requests.get(url, headers={"Authorization": f"Bearer {calendar_only}"})
    assert unscoped.status_code == 401 and 'error="insufficient_scope"' in unscoped.headers["WWW-Authenticate"]


# -- HTTP Basic client authentication ---------------------------------------------------------------


def test_basic_auth_at_token_with_form_urlencoded_credentials(make_emulator: Callable[..., Any]) -> None:
    running = make_emulator(auto_approve=True)
    secret = "GOCSPX-with+plus/slash:colon%pct"
    client = running.emulator.register_client("77-tv.apps.googleusercontent.com", secret, "device", "TV")
    code = requests.post(running.base_url + "/device/code", data={"client_id": client.client_id, "scope": "email"})
    data = {"device_code": code.json()["device_code"], "grant_type": DEVICE_GRANT}
    reply = requests.post(running.base_url + "/token", data=data, headers=basic(client.client_id, secret))
    assert reply.status_code == 200, reply.text
    token = reply.json()["refresh_token"]
    unencoded = basic(client.client_id, secret, encode=False)  # requests' auth=(id, secret) does not encode
    form = {"refresh_token": token, "grant_type": "refresh_token"}
    assert requests.post(running.base_url + "/token", data=form, headers=unencoded).status_code == 200
    wrong = requests.post(running.base_url + "/token", data=form, headers=basic(client.client_id, secret + "x"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.headers["WWW-Authenticate"].startswith("Basic ")
    assert secret not in wrong.text


def test_basic_plus_body_secret_is_invalid_request(make_emulator: Callable[..., Any]) -> None:
    running = make_emulator(auto_approve=True)
    client = running.emulator.device_client
    token = device_token(running)["refresh_token"]
    headers = basic(client.client_id, client.client_secret)
    both = {"refresh_token": token, "grant_type": "refresh_token", "client_secret": client.client_secret}
    reply = requests.post(running.base_url + "/token", data=both, headers=headers)
    assert reply.status_code == 400 and reply.json()["error"] == "invalid_request"
    same_id = {"refresh_token": token, "grant_type": "refresh_token", "client_id": client.client_id}
    assert requests.post(running.base_url + "/token", data=same_id, headers=headers).status_code == 200
    other_id = {**same_id, "client_id": running.emulator.desktop_client.client_id}
    mismatch = requests.post(running.base_url + "/token", data=other_id, headers=headers)
    assert mismatch.status_code == 400 and mismatch.json()["error"] == "invalid_request"
    revoke = requests.post(running.base_url + "/revoke", data={"token": token, "client_secret": "x"}, headers=headers)
    assert revoke.status_code == 400 and revoke.json()["error"] == "invalid_request"
    start = requests.post(running.base_url + "/device/code", data={"scope": "email", "client_secret": "x"},
                          headers=headers)  # fmt: skip
    assert start.status_code == 400 and start.json()["error"] == "invalid_request"


@pytest.mark.parametrize("header", ["Basic !!!not-base64!!!", "Basic " + base64.b64encode(b"no-colon").decode()])
def test_malformed_basic_is_invalid_client(emulator: RunningEmulator, header: str) -> None:
    reply = requests.post(emulator.base_url + "/token", data={"grant_type": "refresh_token", "refresh_token": "x"},
                          headers={"Authorization": header})  # fmt: skip
    assert reply.status_code == 401 and reply.json()["error"] == "invalid_client"


def test_basic_auth_at_device_code_and_revoke(make_emulator: Callable[..., Any]) -> None:
    running = make_emulator(auto_approve=True)
    client = running.emulator.device_client
    headers = basic(client.client_id, client.client_secret)
    start = requests.post(running.base_url + "/device/code", data={"scope": "email"}, headers=headers)
    assert start.status_code == 200 and "user_code" in start.json()
    wrong = requests.post(running.base_url + "/device/code", data={"scope": "email"},
                          headers=basic(client.client_id, "GOCSPX-wrong"))  # fmt: skip
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    token = poll(running, start.json()["device_code"]).json()
    refused = requests.post(running.base_url + "/revoke", data={"token": token["refresh_token"]},
                            headers=basic(client.client_id, "GOCSPX-wrong"))  # fmt: skip
    assert refused.status_code == 401
    assert refresh(running, token["refresh_token"]).status_code == 200  # a refused revoke revokes nothing
    revoked = requests.post(running.base_url + "/revoke", data={"token": token["refresh_token"]}, headers=headers)
    assert revoked.status_code == 200
    assert refresh(running, token["refresh_token"]).json() == EXPIRED


def test_every_emulator_module_is_under_300_lines() -> None:
    package = Path(__file__).resolve().parent.parent / "gapps_runbook" / "emulator"
    sizes = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in package.glob("*.py")}
    assert sizes and all(size < 300 for size in sizes.values()), sizes
