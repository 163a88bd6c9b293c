"""The error tree: wire codes round-trip between client and emulator, messages are one line."""

from __future__ import annotations

import pytest

from gapps_runbook import errors
from gapps_runbook.safety.redact import register_secret


@pytest.mark.parametrize("code", sorted(errors.REGISTRY))
def test_every_registered_code_round_trips(code: str) -> None:
    klass = errors.REGISTRY[code]
    status, body = klass("Some description").to_response()
    decoded = errors.OAuthError.from_response(status, body)
    assert type(decoded) is klass
    assert decoded.error == code
    assert decoded.status == status


def test_google_dialect_statuses() -> None:
    assert errors.AuthorizationPending().to_response() == (428, {"error": "authorization_pending"})
    assert errors.SlowDown().status == 403
    assert errors.AccessDenied().status == 403
    assert errors.InvalidClient().status == 401


def test_classified_by_body_not_status() -> None:
    # RFC 8628 sends authorization_pending with 400; Google with 428: both decode the same.
    assert isinstance(errors.OAuthError.from_response(400, {"error": "authorization_pending"}), errors.AuthorizationPending)
    assert isinstance(errors.OAuthError.from_response(428, {"error": "slow_down"}), errors.SlowDown)


def test_quota_error_uses_error_code_key() -> None:
    error = errors.OAuthError.from_response(403, {"error_code": "rate_limit_exceeded"})
    assert isinstance(error, errors.RateLimitExceeded)
    assert error.retryable
    assert error.to_response() == (403, {"error_code": "rate_limit_exceeded"})


def test_unknown_code_is_kept() -> None:
    error = errors.OAuthError.from_response(400, {"error": "weird_thing", "error_description": "odd"})
    assert isinstance(error, errors.UnknownOAuthError)
    assert str(error).startswith("weird_thing: odd")


def test_non_string_fields_do_not_crash() -> None:
    error = errors.OAuthError.from_response(400, {"error": ["x"], "error_description": {"a": 1}})
    assert error.error == "http_400"


def test_message_is_one_line_with_fix() -> None:
    text = str(errors.InvalidScope("Invalid device flow scope:\n https://www.googleapis.com/auth/calendar.readonly"))
    assert "\n" not in text
    assert "Fix:" in text and "desktop" in text.lower()


def test_secret_never_in_message() -> None:
    register_secret("GOCSPX-plantedplantedplanted0000000")
    error = errors.InvalidClient("client GOCSPX-plantedplantedplanted0000000 unknown")
    assert "plantedplanted" not in str(error)
    assert "plantedplanted" not in repr(error)


def test_exit_codes_are_distinct_per_kind() -> None:
    assert errors.InputError("x").exit_code == 2
    assert errors.InvalidScope().exit_code == errors.InvalidClient().exit_code == 3
    assert errors.AccessDenied().exit_code == 4
    assert errors.ExpiredToken().exit_code == errors.FlowTimeout("x").exit_code == 5
    assert errors.TransportError("x").exit_code == errors.ServerError().exit_code == 6
    assert errors.InvalidGrant().exit_code == 7


def test_error_uri_is_a_field_decoded_and_rendered() -> None:
    decoded = errors.OAuthError.from_response(401, {"error": "invalid_client", "error_uri": "https://example.com/e"})
    assert isinstance(decoded, errors.InvalidClient) and decoded.error_uri == "https://example.com/e"
    assert decoded.to_response()[1]["error_uri"] == "https://example.com/e"
    assert "error_uri" not in errors.InvalidClient("x").to_response()[1]


def test_fix_lines_name_the_providers_pages_off_google() -> None:
    issuer = "https://sso.example.com/realms/pbx"
    google = errors.InvalidClient("bad client")
    assert errors.CONSOLE_CREDENTIALS in google.fix
    other = errors.InvalidClient("bad client").for_provider(issuer)
    assert "console.cloud.google.com" not in other.fix and issuer in other.fix
    scope = errors.InvalidScope("nope").for_provider(issuer)
    assert "Google" not in scope.fix and "scopes_supported" in scope.fix
    assert "console.cloud.google.com" not in str(errors.InvalidGrant("gone").for_provider(issuer))


def test_no_token_and_an_interrupted_refresh_mean_authorize_again() -> None:
    assert errors.NoToken("none").exit_code == errors.ExitCode.REAUTHORIZE
    assert issubclass(errors.RefreshInterrupted, errors.NoToken)
    assert errors.STEP_AUTHORIZE in str(errors.RefreshInterrupted("cut off"))


def test_a_step_at_another_provider_rewords_its_errors(tmp_path) -> None:
    from gapps_runbook.oauth.endpoints import GOOGLE, Endpoints
    from gapps_runbook.profile.store import ProfileStore
    from gapps_runbook.runbook import Site, in_provider_words

    @in_provider_words
    def step(site: Site) -> None:
        raise errors.InvalidClient("the provider refused the client")

    issuer = "https://sso.example.com"
    other = Site(ProfileStore(tmp_path).profile("x"), issuer=issuer,
                 _endpoints=Endpoints(issuer=issuer, authorization_endpoint=f"{issuer}/auth",
                                      token_endpoint=f"{issuer}/token"))
    with pytest.raises(errors.InvalidClient) as caught:
        step(other)
    assert "console.cloud.google.com" not in str(caught.value) and issuer in str(caught.value)
    google = Site(ProfileStore(tmp_path).profile("y"), _endpoints=GOOGLE)
    with pytest.raises(errors.InvalidClient) as caught:
        step(google)
    assert errors.CONSOLE_CREDENTIALS in str(caught.value)
