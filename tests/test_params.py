"""check_parameters: secrets are refused as notebook parameters, ordinary values pass (target L3)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gapps_runbook.errors import InputError
from gapps_runbook.runs.parameters import check_parameters
from gapps_runbook.safety.params import is_secret_name, secret_reason, shannon_entropy

from fakes import client_id

B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

NORMAL = {
    "issuer": "https://oauth2.googleapis.com",
    "scope": "https://www.googleapis.com/auth/calendar.readonly",
    "scopes": [
        "https://www.googleapis.com/auth/calendar.readonly",
        "https://www.googleapis.com/auth/calendar.events.readonly",
        "openid",
    ],
    "client_id": client_id("abcdefghijklmnopqrstuvwxyz012345"),
    "profile": "prod-calendar-sync-2024-march",
    "display_name": "ThisIsMyProfileNameForTesting",
    "client_secrets_file": "/home/engineer/Downloads/client_secret_123456789012-abcdefghijklmnopqrstuvwxyz012345"
    ".apps.googleusercontent.com.json",
    "client_secret_env": "GAPPS_CLIENT_SECRET",
    "secret_file": "~/.config/gapps-runbook/secret.txt",
    "token_uri": "http://127.0.0.1:8765/token",
    "run_dir": "runs/2024-05-01T12-30-00Z/03_authorize.ipynb",
    "windows_home": "C:\\Users\\Engineer\\AppData\\Roaming\\gapps-runbook\\profiles\\WorkCalendar2024",
    "expected_account": "very.long.firstname.lastname@subdomain.example-company.com",
    "interactive": True,
    "timeout": 600,
    "ratio": 0.5,
    "nothing": None,
    "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
    "auth_url": "https://accounts.google.com/o/oauth2/v2/auth?client_id=123456789012-abcdefghijklmnopqrstuvwxyz012345"
    ".apps.googleusercontent.com&scope=openid",
    "title": "Acme Calendar Sync for Workspace Integration Test",
    "revoke_token": True,
    "client_secret": "",
}


def test_normal_values_pass() -> None:
    check_parameters(NORMAL)


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("note", "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", "GOCSPX"),
        ("note", "ya29.a0AfH6SMBx-example-access-token_value", "ya29"),
        ("note", "1//0gLongRefreshTokenValue-abcdefghijk", "1//"),
        ("note", "4/0AX4XfWjExampleAuthorizationCode", "4/"),
        ("note", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig", "jwt"),
        ("note", "-----BEGIN PRIVATE KEY-----", "private_key"),
        ("note", "Xk9fQ2mZ7pL4vR8tW1yB6nC3hJ5dG0sA", "high-entropy"),
        ("client_secret", "short", "its name says"),
        ("refresh_token", "abc", "its name says"),
        ("password", "hunter2", "its name says"),
        ("code_verifier", "x" * 50, "its name says"),
        ("device_code", "AH-1Ng", "its name says"),
        ("client_secret_env", "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", "environment variable"),
        ("client_secret_env", "Xk9fQ2mZ7pL4vR8tW1yB6nC3hJ5dG0sA", "environment variable"),
        ("client_secret_env", "not a name", "environment variable"),
        ("client_secrets_file", "1//0gLongRefreshTokenValue-abcdefghijk", "path"),
        ("token_uri", "https://x.example/token?access_token=ya29.a0AfH6SMBxexampletoken", "its name says"),
    ],
)
def test_secret_values_are_refused(name: str, value: str, reason: str) -> None:
    with pytest.raises(InputError) as info:
        check_parameters({"profile": "default", name: value})
    message = str(info.value)
    assert reason in message
    assert repr(name) in message
    assert value not in message
    assert "-p client_secret_env GAPPS_CLIENT_SECRET" in message
    assert "\n" not in message


def test_nested_values_are_walked_and_named() -> None:
    with pytest.raises(InputError, match=r"scopes\[1\]"):
        check_parameters({"scopes": ["openid", "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"]})


def test_extra_reference_names() -> None:
    check_parameters({"vault_secret": "/run/secrets/client"}, allowed_secret_refs=("vault_secret",))
    with pytest.raises(InputError):
        check_parameters({"vault_secret": "/run/secrets/client"})


def test_helpers() -> None:
    assert is_secret_name("client_secret") and is_secret_name("ACCESS_TOKEN") and is_secret_name("api-key")
    assert not is_secret_name("profile") and not is_secret_name("tokenizer")
    assert shannon_entropy("") == 0.0 and shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("abcd") == pytest.approx(2.0)
    assert secret_reason("default") is None


google_secrets = st.one_of(
    st.text(B64URL, min_size=20, max_size=40).map(lambda s: "GOCSPX-" + s),
    st.text(B64URL + ".", min_size=20, max_size=200).map(lambda s: "ya29." + s),
    st.text(B64URL, min_size=20, max_size=120).map(lambda s: "1//" + s),
    st.text(B64URL, min_size=20, max_size=80).map(lambda s: "4/" + s),
)
# Generic secrets are random (code_verifier, device codes: 43+ characters); hypothesis would shrink
# a strategy over characters towards "AAAA…", which is not secret-like, so draw from a real RNG.
random_secrets = st.randoms(use_true_random=True).map(lambda rng: "".join(rng.choice(B64URL) for _ in range(43)))
secret_names = st.sampled_from(["client_secret", "access_token", "refresh_token", "password", "code_verifier"])


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(google_secrets, random_secrets), name=st.sampled_from(["note", "profile", "issuer", "scope"]))
def test_l3_secret_like_values_are_refused(value: str, name: str) -> None:
    with pytest.raises(InputError) as info:
        check_parameters({name: value})
    assert value not in str(info.value)


@settings(max_examples=100, deadline=None)
@given(name=secret_names, value=st.text(min_size=1, max_size=30))
def test_secret_names_refuse_any_literal(name: str, value: str) -> None:
    with pytest.raises(InputError):
        check_parameters({name: value})


def test_temporary_folder_paths_are_not_secrets() -> None:
    import tempfile

    for _ in range(50):
        with tempfile.TemporaryDirectory(prefix="gapps-runbook-home-") as folder:
            check_parameters({"home": folder, "out": folder + "/run-03_authorize-20261128-160424"})
