"""Client ID/secret validation, client JSON import and secret sources: one-line errors, no secret in them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gapps_runbook.oauth import client_ids, clients
from gapps_runbook import errors
from gapps_runbook.profile import secret_sources
from gapps_runbook.oauth.endpoints import GOOGLE, Endpoints

from fakes import client_id

CLIENT_ID = client_id("a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6")
SECRET = "GOCSPX-" + "Zq9" * 9 + "x"  # 35 characters
LEGACY_SECRET = "AbCdEfGhIjKlMnOpQrStUvWx"  # 24 characters
EMULATOR = Endpoints(
    issuer="http://127.0.0.1:8765",
    authorization_endpoint="http://127.0.0.1:8765/o/oauth2/v2/auth",
    token_endpoint="http://127.0.0.1:8765/token",
    device_authorization_endpoint="http://127.0.0.1:8765/device/code",
    tokeninfo_endpoint="http://127.0.0.1:8765/tokeninfo",
)


def installed(**overrides: Any) -> dict[str, Any]:
    body = {
        "client_id": CLIENT_ID,
        "project_id": "calendar-bridge",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_secret": SECRET,
        "redirect_uris": ["http://localhost"],
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def text_of(document: Any) -> str:
    return json.dumps(document)


def assert_one_line_without_secret(exc: errors.RunbookError, *secrets: str) -> None:
    text = str(exc)
    assert "\n" not in text
    for secret in (SECRET, *secrets):
        assert secret not in text
    assert "Fix:" in text


# --- ClientConfig --------------------------------------------------------------------------------


def test_repr_hides_the_secret_and_installed_json_has_the_console_shape() -> None:
    client = clients.ClientConfig(CLIENT_ID, SECRET, "desktop", "Calendar bridge", "calendar-bridge")
    assert SECRET not in repr(client)
    document = client.to_installed_json(GOOGLE)
    assert list(document) == ["installed"]
    body = document["installed"]
    assert body["client_id"] == CLIENT_ID and body["client_secret"] == SECRET
    assert body["project_id"] == "calendar-bridge"
    assert body["token_uri"] == GOOGLE.token_endpoint
    assert body["auth_uri"] == GOOGLE.authorization_endpoint
    assert body["auth_provider_x509_cert_url"] == clients.GOOGLE_CERTS_URL
    assert body["redirect_uris"] == ["http://localhost"]


def test_device_client_json_has_no_redirect_and_emulator_json_no_cert_url() -> None:
    client = clients.ClientConfig("tv-client", "tv-secret-value", "device")
    body = client.to_installed_json(EMULATOR)["installed"]
    assert "redirect_uris" not in body and "auth_provider_x509_cert_url" not in body and "project_id" not in body
    assert body["token_uri"] == EMULATOR.token_endpoint


def test_installed_json_round_trips_through_parse() -> None:
    client = clients.ClientConfig(CLIENT_ID, SECRET, "device", "TV", "calendar-bridge")
    again = clients.parse_client_json(
        text_of(client.to_installed_json(GOOGLE)), endpoints=GOOGLE, client_type="device", product_name="TV"
    )
    assert again == client


RFC_PROVIDER = Endpoints(issuer="http://127.0.0.1:9000", authorization_endpoint="",
                         token_endpoint="http://127.0.0.1:9000/token",
                         device_authorization_endpoint="http://127.0.0.1:9000/device_authorization")


def test_public_client_has_no_secret_in_its_json_and_only_other_providers_accept_that() -> None:
    public = clients.ClientConfig("tv-app", "", "device")
    document = public.to_installed_json(RFC_PROVIDER)
    assert "client_secret" not in document["installed"]
    text = text_of(document)
    assert clients.parse_client_json(text, endpoints=RFC_PROVIDER, client_type="device") == public
    google_shaped = text_of(clients.ClientConfig(CLIENT_ID, "", "device").to_installed_json(EMULATOR))
    for endpoints in (GOOGLE, EMULATOR):
        with pytest.raises(errors.ConfigError, match="client_secret"):
            clients.parse_client_json(google_shaped, endpoints=endpoints, client_type="device")


def test_round_trip_is_accepted_by_google_auth_oauthlib() -> None:
    from google_auth_oauthlib import flow as flow_module  # a test dependency: an independent reader

    client = clients.ClientConfig(CLIENT_ID, SECRET, "desktop")
    flow = flow_module.InstalledAppFlow.from_client_config(client.to_installed_json(GOOGLE), ["openid"])
    assert flow.client_config["client_id"] == CLIENT_ID


def test_unknown_client_type_is_refused() -> None:
    with pytest.raises(errors.InputError, match="not 'device' or 'desktop'"):
        clients.ClientConfig(CLIENT_ID, SECRET, "web")  # type: ignore[arg-type]


# --- ID and secret shapes ------------------------------------------------------------------------


def test_valid_google_id_and_secrets_pass() -> None:
    assert client_ids.validate_client_id(CLIENT_ID, google=True) == CLIENT_ID
    assert client_ids.validate_client_secret(SECRET, google=True) == SECRET
    assert client_ids.validate_client_secret(LEGACY_SECRET, google=True) == LEGACY_SECRET


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "is empty"),
        (" " + CLIENT_ID, "spaces or quotes around"),
        (CLIENT_ID + "\n", "spaces or quotes around"),
        ('"' + CLIENT_ID + '"', "spaces or quotes around"),
        (SECRET, "looks like the client secret"),
        ("GOCSPX-" + "a" * 10, "looks like the client secret"),
        ("123456789012", "only a project number"),
        (CLIENT_ID.removesuffix(".apps.googleusercontent.com"), "missing its .apps.googleusercontent.com"),
        (CLIENT_ID.upper(), "capital letters"),
        ("my-client", "is not shaped like"),
        ("a b", "spaces or unprintable"),
    ],
)
def test_google_client_id_mistakes(value: str, expected: str) -> None:
    with pytest.raises(errors.InputError, match=expected) as caught:
        client_ids.validate_client_id(value, google=True)
    assert_one_line_without_secret(caught.value)
    assert errors.CONSOLE_CREDENTIALS in str(caught.value) and errors.STEP_CLIENT in str(caught.value)
    if value.strip('" \n'):
        assert value.strip('" \n') not in str(caught.value)  # the input is never echoed


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "is empty"),
        (CLIENT_ID, "is the client ID"),
        (SECRET + "\n", "spaces or quotes around"),
        ("'" + SECRET + "'", "spaces or quotes around"),
        (SECRET[:-3], "has 32 characters"),
        ("hunter2-not-a-google-secret", "not shaped like a Google secret"),
    ],
)
def test_google_client_secret_mistakes(value: str, expected: str) -> None:
    with pytest.raises(errors.InputError, match=expected) as caught:
        client_ids.validate_client_secret(value, google=True)
    assert_one_line_without_secret(caught.value, value.strip("'\n") or SECRET)


def test_non_google_providers_accept_any_plain_value() -> None:
    assert client_ids.validate_client_id("emulator-device-client", google=False) == "emulator-device-client"
    assert client_ids.validate_client_secret("s3cr3t!value", google=False) == "s3cr3t!value"
    with pytest.raises(errors.InputError):
        client_ids.validate_client_id("has space", google=False)
    with pytest.raises(errors.InputError):
        client_ids.validate_client_secret("tab\there", google=False)


# --- client JSON ---------------------------------------------------------------------------------


def test_parse_desktop_json_infers_desktop_and_keeps_project() -> None:
    client = clients.parse_client_json(text_of({"installed": installed()}), endpoints=GOOGLE, product_name="Bridge")
    assert client.client_type == "desktop"
    assert client.project_id == "calendar-bridge" and client.product_name == "Bridge"
    assert client.notes == ()


def test_tv_json_without_redirects_needs_the_client_type() -> None:
    text = text_of({"installed": installed(redirect_uris=None)})
    with pytest.raises(errors.InputError, match="does not say whether") as caught:
        clients.parse_client_json(text, endpoints=GOOGLE)
    assert_one_line_without_secret(caught.value)
    assert clients.parse_client_json(text, endpoints=GOOGLE, client_type="device").client_type == "device"


def test_legacy_oob_redirect_is_a_note_not_an_error() -> None:
    body = installed(redirect_uris=["urn:ietf:wg:oauth:2.0:oob", "http://localhost"],
                     token_uri="https://accounts.google.com/o/oauth2/token")
    client = clients.parse_client_json(text_of({"installed": body}), endpoints=GOOGLE)
    assert client.client_type == "desktop"
    assert len(client.notes) == 1 and "out-of-band" in client.notes[0]


BAD_FILES = [
    ("{not json", r"is not JSON \(line 1\)"),
    ("[1, 2]", "not an object"),
    (text_of({"web": installed(redirect_uris=["https://app.example/cb"])}), "'Web application' client"),
    (text_of({"type": "service_account", "client_secret": SECRET}), "service_account credentials file"),
    (text_of({"type": "authorized_user", "client_secret": SECRET}), "authorized_user credentials file"),
    (text_of({"other": {}}), "has no 'installed' object"),
    (text_of({"installed": [CLIENT_ID, SECRET]}), "'installed' value that is not an object"),
    (text_of({"installed": installed(client_id=None)}), "has no client_id"),
    (text_of({"installed": installed(client_secret=None)}), "has no client_secret"),
    (text_of({"installed": installed(client_id=42)}), "value for client_id that is not a string"),
    (text_of({"installed": installed(client_id=SECRET)}), "looks like the client secret"),
    (text_of({"installed": installed(client_secret=CLIENT_ID)}), "is the client ID"),
    (text_of({"installed": installed(token_uri="https://oauth2.googleapis.evil.example/token")}), "token_uri on"),
    (text_of({"installed": installed(token_uri="https://oauth2.googleapis.com@evil.example/token")}), "token_uri"),
    (text_of({"installed": installed(token_uri="http://oauth2.googleapis.com/token")}), "token_uri"),
    (text_of({"installed": installed(auth_uri="https://accounts.goog1e.com/o/oauth2/auth")}), "auth_uri on"),
    (text_of({"installed": installed(token_uri=["https://oauth2.googleapis.com/token"])}), "not a string"),
    (text_of({"installed": installed(redirect_uris="http://localhost")}), "redirect_uris"),
    (text_of({"installed": installed(project_id=7)}), "project_id"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_FILES)
def test_bad_client_files_give_one_line_config_errors(text: str, expected: str) -> None:
    with pytest.raises(errors.ConfigError, match=expected) as caught:
        clients.parse_client_json(text, endpoints=GOOGLE)
    assert_one_line_without_secret(caught.value)
    assert errors.CONSOLE_CREDENTIALS in str(caught.value)


def test_foreign_host_message_names_the_host_and_refuses() -> None:
    text = text_of({"installed": installed(token_uri="https://collector.evil.example/token")})
    with pytest.raises(errors.ConfigError) as caught:
        clients.parse_client_json(text, endpoints=GOOGLE)
    assert "collector.evil.example" in str(caught.value) and "refused" in str(caught.value)


def test_emulator_hosts_are_allowed_for_the_emulator_only() -> None:
    body = installed(client_id="emu-desktop", client_secret="emu-secret-123",
                     auth_uri=EMULATOR.authorization_endpoint, token_uri=EMULATOR.token_endpoint)
    assert clients.parse_client_json(text_of({"installed": body}), endpoints=EMULATOR).client_id == "emu-desktop"
    with pytest.raises(errors.ConfigError, match="127.0.0.1"):
        clients.parse_client_json(text_of({"installed": installed(token_uri=EMULATOR.token_endpoint)}),
                                  endpoints=GOOGLE)
    # A different port on loopback is a different server.
    other = installed(client_id="emu", client_secret="emu-secret-123", token_uri="http://127.0.0.1:9999/token")
    with pytest.raises(errors.ConfigError, match="token_uri"):
        clients.parse_client_json(text_of({"installed": other}), endpoints=EMULATOR)


def test_parsed_secret_is_registered_for_redaction() -> None:
    secret = "GOCSPX-" + "R" * 27 + "q"
    client = clients.parse_client_json(text_of({"installed": installed(client_secret=secret)}), endpoints=GOOGLE)
    error = errors.RunbookError(f"server echoed {client.client_secret}")
    assert secret not in str(error)


@settings(max_examples=300, deadline=None)
@given(
    key=st.sampled_from(["client_id", "client_secret", "auth_uri", "token_uri", "redirect_uris", "project_id"]),
    value=st.one_of(st.none(), st.integers(), st.text(max_size=80), st.lists(st.text(max_size=20), max_size=3),
                    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2)),
)
def test_mutated_client_files_are_accepted_or_refused_with_a_typed_one_liner(key: str, value: Any) -> None:
    text = text_of({"installed": installed(**{key: value})})
    try:
        client = clients.parse_client_json(text, endpoints=GOOGLE, client_type="desktop")
    except (errors.ConfigError, errors.InputError) as exc:
        assert_one_line_without_secret(exc)
    else:
        assert client.client_id == CLIENT_ID or key == "client_id"


# --- files and secret sources --------------------------------------------------------------------


def test_load_client_json_errors_for_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(errors.InputError, match="does not exist"):
        clients.load_client_json(tmp_path / "nope.json", endpoints=GOOGLE)
    with pytest.raises(errors.InputError, match="is a directory"):
        clients.load_client_json(tmp_path, endpoints=GOOGLE)
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(errors.InputError, match="not UTF-8"):
        clients.load_client_json(binary, endpoints=GOOGLE)
    huge = tmp_path / "huge.json"
    huge.write_bytes(b" " * (clients.MAX_CLIENT_FILE_BYTES + 1))
    with pytest.raises(errors.ConfigError, match="larger than"):
        clients.load_client_json(huge, endpoints=GOOGLE)


def test_load_client_json_reads_a_download(tmp_path: Path) -> None:
    path = tmp_path / "client_secret_123.apps.googleusercontent.com.json"
    path.write_text("\ufeff" + text_of({"installed": installed()}), encoding="utf-8")
    client = clients.load_client_json(path, endpoints=GOOGLE, client_type="desktop")
    assert client.client_secret == SECRET


def test_read_secret_needs_exactly_one_source(tmp_path: Path) -> None:
    with pytest.raises(errors.InputError, match="exactly one source"):
        secret_sources.read_secret()
    with pytest.raises(errors.InputError, match="not 2"):
        secret_sources.read_secret(env="X", prompt=lambda: "y")


def test_read_secret_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAPPS_TEST_SECRET", SECRET + "\n")
    assert secret_sources.read_secret(env="GAPPS_TEST_SECRET") == SECRET
    monkeypatch.setenv("GAPPS_TEST_SECRET", "")
    with pytest.raises(errors.InputError, match="GAPPS_TEST_SECRET is not set or is empty"):
        secret_sources.read_secret(env="GAPPS_TEST_SECRET")
    monkeypatch.delenv("GAPPS_TEST_SECRET")
    with pytest.raises(errors.InputError, match="GAPPS_TEST_SECRET"):
        secret_sources.read_secret(env="GAPPS_TEST_SECRET")


def test_read_secret_from_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text(SECRET + "\r\n")
    path.chmod(0o600)
    assert secret_sources.read_secret(file=path) == SECRET
    path.chmod(0o400)
    assert secret_sources.read_secret(file=path) == SECRET


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_read_secret_refuses_files_open_to_others(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "secret"
    path.write_text(SECRET)
    path.chmod(mode)
    with pytest.raises(errors.InputError, match=f"mode {mode:04o}") as caught:
        secret_sources.read_secret(file=path)
    assert f"chmod 600 {path}" in str(caught.value)
    assert_one_line_without_secret(caught.value)


def test_read_secret_file_errors(tmp_path: Path) -> None:
    with pytest.raises(errors.InputError, match="does not exist"):
        secret_sources.read_secret(file=tmp_path / "missing")
    with pytest.raises(errors.InputError, match="not a regular file"):
        secret_sources.read_secret(file=tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(errors.InputError, match="not a regular file"):  # and it does not hang
        secret_sources.read_secret(file=fifo)
    empty = tmp_path / "empty"
    empty.write_text("\n")
    empty.chmod(0o600)
    with pytest.raises(errors.InputError, match="is empty"):
        secret_sources.read_secret(file=empty)


def test_read_secret_from_prompt_registers_it() -> None:
    secret = "prompted-secret-" + "k" * 12
    assert secret_sources.read_secret(prompt=lambda: secret) == secret
    assert secret not in str(errors.RunbookError(f"leak {secret}"))
    with pytest.raises(errors.InputError, match="no client secret was entered"):
        secret_sources.read_secret(prompt=lambda: "")


# --- found by the F1 fuzzer (tests/test_fuzz.py) -------------------------------------------------

FUZZ_ID = client_id()
FUZZ_SECRET = "GOCSPX-" + "F" * 28


def _fuzz_file(**installed: Any) -> str:
    return json.dumps({"installed": {"client_id": FUZZ_ID, "client_secret": FUZZ_SECRET, **installed}})


def test_fuzz_deeply_nested_client_file_is_a_config_error() -> None:
    """F1 fuzzer: json.loads raised RecursionError (not ValueError) on "[[[[..." thousands deep."""
    with pytest.raises(errors.ConfigError, match="nested too deeply"):
        clients.parse_client_json("[" * 5000 + "]" * 5000, endpoints=GOOGLE)


@pytest.mark.parametrize("key", ["auth_uri", "token_uri"])
@pytest.mark.parametrize("url", ["http://[", "https://[abc]/token", "https://a]b/"])
def test_fuzz_unparsable_endpoint_url_is_a_config_error(key: str, url: str) -> None:
    """F1 fuzzer: urlsplit raised ValueError ("Invalid IPv6 URL") out of the host check."""
    with pytest.raises(errors.ConfigError, match=f"{key} on an unparsable URL"):
        clients.parse_client_json(_fuzz_file(**{key: url}), endpoints=GOOGLE, client_type="device")


def test_fuzz_unparsable_redirect_uri_does_not_crash_type_inference() -> None:
    """F1 fuzzer: urlsplit raised ValueError while looking for a loopback redirect."""
    with pytest.raises(errors.InputError, match="does not say whether"):
        clients.parse_client_json(_fuzz_file(redirect_uris=["http://[::1"]), endpoints=GOOGLE)
    config = clients.parse_client_json(_fuzz_file(redirect_uris=["http://[", "http://localhost"]), endpoints=GOOGLE)
    assert config.client_type == "desktop"


def test_fuzz_foreign_host_is_named_as_written_so_a_secret_in_it_stays_redacted() -> None:
    """F1 fuzzer: the message named the lower-cased host, "gocspx-...", which redaction does not know."""
    host = "GOCSPX-" + "H" * 28
    with pytest.raises(errors.ConfigError) as info:
        clients.parse_client_json(_fuzz_file(token_uri=f"https://{host}/token"), endpoints=GOOGLE, client_type="device")
    assert host.lower() not in str(info.value).lower() and "neither Google" in str(info.value)


def test_fuzz_a_google_secret_in_the_id_field_is_refused_for_any_provider() -> None:
    """F1 fuzzer: with a non-Google provider a GOCSPX- secret was taken as the client ID (it travels in URLs)."""
    emulated = Endpoints(issuer="http://127.0.0.1:8765", authorization_endpoint="http://127.0.0.1:8765/auth",
                         token_endpoint="http://127.0.0.1:8765/token")  # fmt: skip
    secret = "GOCSPX-" + "S" * 28
    with pytest.raises(errors.ConfigError, match="looks like the client secret") as info:
        clients.parse_client_json(_fuzz_file(client_id=secret), endpoints=emulated, client_type="device")
    assert secret not in str(info.value) and secret not in repr(info.value)
    assert client_ids.validate_client_id("my-provider-client", google=False) == "my-provider-client"


@pytest.mark.parametrize("first", ["gapps_runbook.oauth.client_json", "gapps_runbook.oauth.clients"])
def test_client_json_readers_stay_importable_from_clients(first: str) -> None:
    """Issue 7 split the client-file readers out of clients.py; either module may be imported first."""
    import subprocess
    import sys

    code = (f"import {first}\nfrom gapps_runbook.oauth import client_json, clients\n"
            "from gapps_runbook.oauth.clients import load_client_json, parse_client_json\n"
            "assert parse_client_json is client_json.parse_client_json\n"
            "assert load_client_json is client_json.load_client_json")
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(AttributeError):
        clients.no_such_name  # noqa: B018
