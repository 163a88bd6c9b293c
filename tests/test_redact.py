"""Redaction of registered secrets and secret shapes, in messages and in every log record."""

from __future__ import annotations

import base64
import json
import logging
import urllib.parse

import pytest

from gapps_runbook.safety import redact


@pytest.mark.parametrize(
    "text",
    [
        "secret GOCSPX-abcdefghijklmnopqrstuvwxyz12 here",
        "Authorization: Bearer ya29.a0AfH6SMBx-token_value",
        "refresh 1//0gAbCdEfGhIjKlMnOp",
        "code=4/0AX4XfWh-ABCDEFGHIJKL&state=x",
        "POST body client_secret=hunter2hunter2&grant_type=refresh_token",
        '{"access_token": "opaque-token-value-123", "expires_in": 3599}',
        "https://host/revoke?token=opaquetokenvalue",
    ],
)
def test_shapes_are_masked(text: str) -> None:
    out = redact.redact(text)
    assert redact.MASK in out
    for needle in ("abcdefghijklmnop", "AfH6SMBx", "AbCdEfGh", "0AX4XfWh", "hunter2", "opaque"):
        assert needle not in out


@pytest.mark.parametrize(
    "text",
    ["Enter code: ABCD-EFGH at http://127.0.0.1:8080/device", "exit code 3", "user_code=WXYZ-ABCD", "error_code: rate"],
)
def test_ordinary_text_is_kept(text: str) -> None:
    assert redact.redact(text) == text


def test_registered_secret_in_every_encoding() -> None:
    secret = "opaque/secret+value=with chars"
    redact.register_secret(secret)
    for form in (secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret), json.dumps(secret)[1:-1]):
        assert form not in redact.redact(f"before {form} after")
    assert redact.redact("before after") == "before after"


def test_short_values_are_not_registered() -> None:
    redact.register_secret("abc")
    assert redact.redact("abc abc") == "abc abc"


def test_fingerprint_is_stable_and_not_the_token() -> None:
    token = "ya29.some-token"
    assert redact.fingerprint(token) == redact.fingerprint(token)
    assert len(redact.fingerprint(token)) == 12
    assert token not in redact.fingerprint(token)
    assert redact.fingerprint(token) != redact.fingerprint(token + "x")


def test_every_logger_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    redact.install_log_redaction()
    secret = "CANARY-" + base64.b32encode(b"logtest!").decode()
    redact.register_secret(secret)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("urllib3.connectionpool").debug("POST /token body=%s", secret)
        logging.getLogger("some.child").info("token=%s", "abcdefghijkl")
        try:
            raise ValueError(f"boom {secret}")
        except ValueError:
            logging.getLogger("x").exception("failed")
    assert secret not in caplog.text
    assert "abcdefghijkl" not in caplog.text
    assert caplog.text.count(redact.MASK) >= 3


def test_paths_with_4_slash_are_kept() -> None:
    path = "/tmp/pytest-of-root/pytest-4/test_files_are_private0/home"
    assert redact.redact(path) == path
    assert redact.MASK in redact.redact("pasted 4/0AX4XfWhABCDEFGHIJKL here")


def test_fuzz_a_secret_with_a_lone_surrogate_is_registered_and_fingerprinted() -> None:
    """F1 fuzzer: a device_code "GOCSPX-\\ud800" (JSON's "\\ud800" escape) made quote() raise UnicodeEncodeError."""
    secret = "planted-\ud800-secret"
    redact.register_secret(secret)
    assert redact.redact(f"got {secret} back") == f"got {redact.MASK} back"
    assert len(redact.fingerprint(secret)) == 12


def test_registry_snapshot_and_restore() -> None:
    saved = redact.registry_snapshot()
    redact.register_secret("temporary-secret-value-123")
    assert redact.MASK in redact.redact("x temporary-secret-value-123")
    redact.restore_registry(saved)
    assert redact.redact("x temporary-secret-value-123") == "x temporary-secret-value-123"
