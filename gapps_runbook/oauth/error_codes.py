"""OAuth error codes, one class each: RFC 6749 §5.2, RFC 8628 §3.5, RFC 7009 §2.2.1 and Google's own.

Each class sets ``error`` (the wire code) and ``status`` (the HTTP status Google sends it with), and
the fix a person needs. :data:`REGISTRY` maps codes to classes explicitly; ``OAuthError.from_response``
decodes with it and the emulator renders with ``to_response``. The tree is drawn in
:mod:`gapps_runbook.errors`, which re-exports these names.
"""

from __future__ import annotations

from ..errors import (
    CONSOLE_CONSENT,
    CONSOLE_CREDENTIALS,
    STEP_AUTHORIZE,
    STEP_CHECKLIST,
    STEP_CLIENT,
    STEP_STATUS,
    ExitCode,
    OAuthError,
    TransportError,
)


class UnknownOAuthError(OAuthError):
    """An error code this runbook does not know; reported as it came."""


class InvalidRequest(OAuthError):
    error = "invalid_request"
    exit_code = ExitCode.BAD_INPUT
    fix = f"check the client ID and secret in {STEP_CLIENT}"


class InvalidClient(OAuthError):
    error = "invalid_client"
    status = 401
    exit_code = ExitCode.MISCONFIGURED
    fix = (
        f"check the client ID, secret and client type in {STEP_CLIENT} against the console's "
        f"Clients page ({CONSOLE_CREDENTIALS})"
    )


class InvalidGrant(OAuthError):
    error = "invalid_grant"
    exit_code = ExitCode.REAUTHORIZE
    fix = (
        f"authorize again ({STEP_AUTHORIZE}); if this repeats every 7 days, publish the consent screen "
        f"({CONSOLE_CONSENT})"
    )
    provider_fix = f"authorize again ({STEP_AUTHORIZE}): the provider no longer accepts this grant (revoked or expired)"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"
    exit_code = ExitCode.MISCONFIGURED
    fix = f"create a client of the type the flow needs on the Clients page ({CONSOLE_CREDENTIALS}), then {STEP_CLIENT}"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"
    exit_code = ExitCode.MISCONFIGURED
    fix = "the provider does not support this flow: choose the other flow in runbook step 01"


class InvalidScope(OAuthError):
    error = "invalid_scope"
    exit_code = ExitCode.MISCONFIGURED
    fix = (
        "Google's device flow does not allow Calendar or Contacts scopes: use the Desktop app flow "
        f"(--flow desktop, or flow = \"desktop\" in notebook 03) with a 'Desktop app' client, see {STEP_CHECKLIST}"
    )
    provider_fix = (
        "request only scopes the provider ({issuer}) offers to this client (its discovery document's "
        f"scopes_supported lists them): choose them in {STEP_CHECKLIST}"
    )


class AccessDenied(OAuthError):
    error = "access_denied"
    status = 403
    exit_code = ExitCode.DENIED
    fix = f"run {STEP_AUTHORIZE} again and click Allow; the approving account must be a test user while the app is in Testing"
    provider_fix = f"run {STEP_AUTHORIZE} again and allow access; the account must be allowed to use this client"


class ServerError(OAuthError):
    error = "server_error"
    status = 500
    exit_code = ExitCode.NETWORK
    fix = TransportError.fix

    @property
    def retryable(self) -> bool:
        return True


class TemporarilyUnavailable(ServerError):
    error = "temporarily_unavailable"
    status = 503


class InternalFailure(ServerError):
    error = "internal_failure"


class AuthorizationPending(OAuthError):
    """RFC 8628 §3.5: the user has not finished yet; keep polling (Google: HTTP 428)."""

    error = "authorization_pending"
    status = 428


class SlowDown(OAuthError):
    """RFC 8628 §3.5: polling too fast; the interval grows by 5 s for all later polls (Google: HTTP 403)."""

    error = "slow_down"
    status = 403


class ExpiredToken(OAuthError):
    """RFC 8628 §3.5: the device code expired; start again with user interaction."""

    error = "expired_token"
    exit_code = ExitCode.EXPIRED
    fix = f"the code expired: run {STEP_AUTHORIZE} again and approve within the time shown"


class InvalidToken(OAuthError):
    """Tokeninfo / revoke: the token is invalid, expired or revoked."""

    error = "invalid_token"
    exit_code = ExitCode.REAUTHORIZE
    fix = f"refresh the token ({STEP_STATUS}) or authorize again ({STEP_AUTHORIZE})"


class AdminPolicyEnforced(OAuthError):
    error = "admin_policy_enforced"
    exit_code = ExitCode.DENIED
    fix = "a Workspace admin blocks this scope: ask them to trust the app in the Admin console (Security > API controls)"


class OrgInternal(OAuthError):
    error = "org_internal"
    status = 403
    exit_code = ExitCode.DENIED
    fix = f"the consent screen is Internal: approve with an account of the organisation, or make it External ({CONSOLE_CONSENT})"


class RateLimitExceeded(OAuthError):
    """Google's quota error, sent as ``{"error_code": "rate_limit_exceeded"}`` (HTTP 403)."""

    error = "rate_limit_exceeded"
    status = 403
    exit_code = ExitCode.NETWORK
    fix = "Google's quota for this client is exhausted: wait a few minutes, then run the step again"

    @property
    def retryable(self) -> bool:
        return True


class RedirectUriMismatch(OAuthError):
    error = "redirect_uri_mismatch"
    exit_code = ExitCode.MISCONFIGURED
    fix = f"use a 'Desktop app' client for the loopback flow ({CONSOLE_CREDENTIALS}), then {STEP_CLIENT}"


REGISTRY: dict[str, type[OAuthError]] = {
    klass.error: klass
    for klass in (
        InvalidRequest,
        InvalidClient,
        InvalidGrant,
        UnauthorizedClient,
        UnsupportedGrantType,
        InvalidScope,
        AccessDenied,
        ServerError,
        TemporarilyUnavailable,
        InternalFailure,
        AuthorizationPending,
        SlowDown,
        ExpiredToken,
        InvalidToken,
        AdminPolicyEnforced,
        OrgInternal,
        RateLimitExceeded,
        RedirectUriMismatch,
    )
}
