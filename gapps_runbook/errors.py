"""Errors that carry OAuth wire codes, exit codes and the step that fixes them.

Every failure the runbook can meet ends as one of these, and each prints as one line:
what went wrong, then ``Fix:`` and the runbook step or console page that fixes it.
Messages never contain secrets: server text is passed through :func:`redact.redact`.

The tree::

    RunbookError
    ├── InputError              bad input from the user (exit 2)
    ├── ConfigError             the console or the profile is set up wrong (exit 3)
    ├── StoreError              a profile file is corrupt, foreign, or locked (exit 2)
    │   └── LockTimeout
    ├── TransportError          network or server trouble: connection, timeout, 5xx (exit 6)
    │   └── ProtocolError       the server answered something that is not the protocol
    ├── FlowTimeout             the local deadline passed before the user finished (exit 5)
    ├── Cancelled               the user cancelled (exit 5)
    ├── AccountMismatch         another account than the pinned one approved (exit 4)
    ├── NoToken                 the profile holds no usable token (exit 7)
    │   └── RefreshInterrupted  a refresh died after the provider rotated the refresh token
    ├── ApiError                a Google API error envelope (Calendar, Gmail)
    ├── VerifyFailed            Calendar refused or Gmail opened for the stored token (exit 7)
    ├── NotebookRunError        a runbook notebook failed under papermill
    └── OAuthError              an RFC 6749 / 8628 / 7009 error response, one class per wire code
        ├── InvalidRequest, InvalidClient, InvalidGrant, UnauthorizedClient,
        ├── UnsupportedGrantType, InvalidScope, AccessDenied, ServerError,
        ├── TemporarilyUnavailable, AuthorizationPending, SlowDown, ExpiredToken,
        └── InvalidToken, AdminPolicyEnforced, OrgInternal, RateLimitExceeded, RedirectUriMismatch

The wire-code classes sit below ``OAuthError`` (one class per code) with the explicit ``REGISTRY``
of codes; ``OAuthError.from_response`` decodes a body through that registry and the emulator renders
the same classes with ``to_response`` (Google's status codes), so the two sides cannot drift apart.

Fix lines name Google's console pages; :meth:`RunbookError.for_provider` rewords them for another
provider (its own client settings, never console.cloud.google.com).
"""

from __future__ import annotations

import enum
import http
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from .safety.redact import redact

# The steps and console pages that fix lines name, defined once in steps.py and importable from here.
from .steps import CONSOLE_CONSENT, CONSOLE_CREDENTIALS, CONSOLE_LIBRARY, GOOGLE_PERMISSIONS  # noqa: F401
from .steps import PROVIDER_PAGES, STEP_AUTHORIZE, STEP_CHECKLIST, STEP_CLIENT, STEP_STATUS


class ExitCode(enum.IntEnum):
    """Process exit codes of the ``gapps-runbook`` CLI (documented in README and ``--help``)."""

    OK = 0
    FAILURE = 1  #: an unexpected failure (a bug: please report it)
    BAD_INPUT = 2  #: bad input: fix the value and run again
    MISCONFIGURED = 3  #: the console or client is set up wrong (preflight, invalid_client, invalid_scope)
    DENIED = 4  #: the user or an admin refused access
    EXPIRED = 5  #: the code expired, the wait timed out, or it was cancelled
    NETWORK = 6  #: network or server trouble; retrying later may work
    REAUTHORIZE = 7  #: the stored token is no longer valid: authorize again


class RunbookError(Exception):
    """Root of every error the runbook raises on purpose.

    Args:
        message: What went wrong, in one sentence. Redacted before it is stored.
        fix: The runbook step or console page that fixes it; defaults to the class's ``fix``, or to
            ``fixes["cli"]``.
        fixes: The fix in each surface's words, when a surface names its own controls: ``"cli"`` its flags
            (``pass --force``), ``"form"`` a form's controls (``tick Replace``); :meth:`worded_for` picks one.
    """

    exit_code: ClassVar[ExitCode] = ExitCode.FAILURE
    fix: str = ""

    def __init__(self, message: str, *, fix: str | None = None, fixes: Mapping[str, str] | None = None) -> None:
        self.message = redact(" ".join(str(message).split()))
        self.fixes = dict(fixes or {})
        if fix is None:
            fix = self.fixes.get("cli")
        if fix is not None:
            self.fix = fix
        super().__init__(self.message)

    def worded_for(self, surface: str) -> RunbookError:
        """Word the fix for the surface that shows it: a form names its controls, the CLI its flags.

        Args:
            surface: A key of :attr:`fixes` (``"cli"``, ``"form"``, ``"run"``); an unknown one keeps the fix.

        Returns:
            This error, its ``fix`` rewritten in place.
        """
        self.fix = self.fixes.get(surface, self.fix)
        return self

    def __str__(self) -> str:
        if not self.fix:
            return self.message
        end = "" if self.message.endswith((".", "!", "?", ":")) else "."
        return f"{self.message}{end} Fix: {self.fix}"  # one line: "what. Fix: where"

    def _render_traceback_(self) -> list[str]:
        """IPython's hook: show the one line, not a traceback, in notebooks."""
        return [f"{type(self).__name__}: {self}"]

    provider_fix: ClassVar[str] = ""
    """The fix at a provider other than Google, when it is not just Google's with other page names."""

    def for_provider(self, issuer: str) -> RunbookError:
        """Reword the fix for a provider that is not Google: its own pages, never Google's console.

        Args:
            issuer: The provider's issuer URL, named in the fix.

        Returns:
            This error, its ``fix`` rewritten in place.
        """
        fix = self.provider_fix if self.provider_fix and self.fix == type(self).fix else self.fix
        for page, words in PROVIDER_PAGES.items():
            fix = fix.replace(page, words.format(issuer=issuer))
        self.fix = fix.replace("{issuer}", issuer)
        return self


class InputError(RunbookError):
    """A value the user gave is malformed or missing."""

    exit_code = ExitCode.BAD_INPUT


class ConfigError(RunbookError):
    """The Google console, the client or the profile is set up in a way that cannot work."""

    exit_code = ExitCode.MISCONFIGURED
    fix = f"follow {STEP_CHECKLIST}"


class StoreError(RunbookError):
    """A profile file is corrupt, has unsafe permissions, or is not ours. Nothing was overwritten."""

    exit_code = ExitCode.BAD_INPUT


class LockTimeout(StoreError):
    """Another process held the profile lock for too long."""

    fix = "wait for the other gapps-runbook process to finish, then run again"


class TransportError(RunbookError):
    """The network or the server failed (connection refused or reset, timeout, 5xx, 429)."""

    exit_code = ExitCode.NETWORK
    fix = "check the network and the server status, then run the same step again"


class ProtocolError(TransportError):
    """The server's answer is not what the protocol says (not JSON, missing fields)."""


class MalformedResponse(ProtocolError):
    """A required field of a protocol answer is missing or of the wrong type: the provider (or what stands
    at its address) does not speak the protocol as its discovery says, a configuration matter (exit 3),
    not a network one. Polling and the refresh journal treat it as any other :class:`ProtocolError`."""

    exit_code = ExitCode.MISCONFIGURED


class FlowTimeout(RunbookError):
    """The local deadline passed before authorization finished."""

    exit_code = ExitCode.EXPIRED
    fix = f"run {STEP_AUTHORIZE} again and approve within the time shown"


class Cancelled(RunbookError):
    """The user cancelled the flow."""

    exit_code = ExitCode.EXPIRED
    fix = f"run {STEP_AUTHORIZE} again when ready"


class NotebookRunError(RunbookError):
    """A runbook notebook failed under papermill; the executed notebook was still written.

    Args:
        message: One-line summary (already scrubbed of secrets).
        notebook: The notebook that ran.
        ename: The kernel-side exception's class name (``InvalidGrant``), or the local one.
        evalue: Its message, scrubbed.
        cell_index: The failing cell in the input notebook, when known.
        output_path: Where the executed, scrubbed notebook was written, if it was.
        fix: What to do next.
    """

    exit_code = ExitCode.FAILURE

    def __init__(
        self,
        message: str,
        *,
        notebook: Path,
        ename: str = "",
        evalue: str = "",
        cell_index: int | None = None,
        output_path: Path | None = None,
        fix: str | None = None,
    ) -> None:
        self.notebook = notebook
        self.ename = ename
        self.evalue = evalue
        self.cell_index = cell_index
        self.output_path = output_path
        super().__init__(message, fix=fix)

    @property
    def step_exit_code(self) -> ExitCode:
        """The exit code of the runbook error that stopped the notebook (by its class name), else FAILURE."""
        for klass in _all_subclasses(RunbookError):
            if klass.__name__ == self.ename:
                return klass.exit_code
        return ExitCode.FAILURE


class AccountMismatch(RunbookError):
    """The approving account is not the one the profile expects (RFC 8628 §5.4 remote phishing)."""

    exit_code = ExitCode.DENIED
    fix = f"run {STEP_AUTHORIZE} again and approve with the expected account, or change the profile's expected account"


class NoToken(RunbookError):
    """The profile holds no usable token: never authorized, revoked, or its refresh token is dead."""

    exit_code = ExitCode.REAUTHORIZE
    fix = f"run {STEP_AUTHORIZE}"


class RefreshInterrupted(NoToken):
    """A refresh was cut off after the provider rotated the refresh token, so the stored one is used up.

    Providers that rotate refresh tokens (Okta, Auth0, django-oauth-toolkit) invalidate the old one at
    each refresh; a process killed between the provider's reply and the file write keeps the old one.
    """

    fix = f"authorize again ({STEP_AUTHORIZE}); the profile's client and settings are kept"


class VerifyFailed(RunbookError):
    """The procedure's check failed: Calendar refused, or Gmail opened, for this token."""

    exit_code = ExitCode.REAUTHORIZE
    fix = f"authorize again ({STEP_AUTHORIZE}) with the scopes of runbook step 01"


class ApiError(RunbookError):
    """A Google API answered with its error envelope (``{"error": {"code", "status", ...}}``).

    Args:
        message: One-line summary.
        status: HTTP status.
        reason: The ``google.rpc.ErrorInfo`` reason (``ACCESS_TOKEN_SCOPE_INSUFFICIENT``) or legacy reason.
    """

    exit_code = ExitCode.REAUTHORIZE

    def __init__(self, message: str, *, status: int, reason: str = "", fix: str | None = None) -> None:
        self.status = status
        self.reason = reason
        super().__init__(message, fix=fix)


# Google often sends the HTTP reason phrase as ``error_description`` ("Bad Request" with expired_token):
# it says nothing the wire code does not, so messages show the code alone; ``description`` keeps it.
_REASON_PHRASES = frozenset(status.phrase.casefold() for status in http.HTTPStatus)


class OAuthError(RunbookError):
    """An OAuth error response: RFC 6749 §5.2, RFC 8628 §3.5, RFC 7009 §2.2.1.

    Subclasses set ``error`` (the wire code) and ``status`` (the HTTP status Google uses for it).

    Args:
        description: The server's ``error_description``, redacted.
        status: The HTTP status actually received (defaults to the class's Google status).
        fix: Overrides the class's fix.
        error: The wire code, for a code no class stands for (:class:`UnknownOAuthError`).
        error_uri: The server's ``error_uri`` (RFC 6749 §5.2), a page about the error, if it sent one.
    """

    error: str = "unknown_error"
    status: int = 400
    exit_code = ExitCode.FAILURE
    fix = f"see the message; {STEP_AUTHORIZE} may need to be run again"

    def __init__(
        self,
        description: str = "",
        *,
        status: int | None = None,
        fix: str | None = None,
        error: str | None = None,
        error_uri: str | None = None,
    ) -> None:
        if error is not None:
            self.error = error
        self.description = redact(description)
        self.error_uri = error_uri
        if status is not None:
            self.status = status
        shown = "" if self.description.casefold() in _REASON_PHRASES else self.description
        super().__init__(f"{self.error}: {shown}" if shown else self.error, fix=fix)

    @classmethod
    def from_response(cls, status: int, body: Mapping[str, Any]) -> OAuthError:
        """Decode an error body into its class, by the body's ``error`` code, never by HTTP status.

        Google's quota error uses ``error_code`` instead of ``error`` (Google's device-flow guide,
        "Quota exceeded"); both are read.
        """
        code = body.get("error", body.get("error_code", ""))
        if not isinstance(code, str):
            code = ""
        description = body.get("error_description", "")
        if not isinstance(description, str):
            description = ""
        error_uri = body.get("error_uri") if isinstance(body.get("error_uri"), str) else None
        klass = REGISTRY.get(code)
        if klass is None:
            return UnknownOAuthError(description, status=status, error=code or f"http_{status}", error_uri=error_uri)
        return klass(description, status=status, error_uri=error_uri)

    def to_response(self) -> tuple[int, dict[str, str]]:
        """The (status, body) Google sends for this error; used by the emulator."""
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        if self.error_uri:
            body["error_uri"] = self.error_uri
        if self.error == "rate_limit_exceeded":
            body = {"error_code": self.error}
        return self.status, body

    @property
    def retryable(self) -> bool:
        """True for server-side conditions that may pass (google-auth ``_can_retry``)."""
        return False


# The wire codes: RFC 6749 §5.2, RFC 8628 §3.5, RFC 7009 §2.2.1 and Google's own. Each class sets ``error``
# (the wire code), ``status`` (the HTTP status Google sends it with) and the fix a person needs.


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
    device_code_fix = (
        f"the code is no longer valid (already used, or the server restarted and forgot it): request a new code "
        f"({STEP_AUTHORIZE})"
    )
    """The fix when it answers a device-code poll (RFC 8628 §3.5): the code, not a refresh token, is gone."""


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
    fix = (
        f"run {STEP_AUTHORIZE} again and click Allow; the approving account must be a test user while the app "
        "is in Testing"
    )
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
    fix = (
        "a Workspace admin blocks this scope: ask them to trust the app in the Admin console "
        "(Security > API controls)"
    )


class OrgInternal(OAuthError):
    error = "org_internal"
    status = 403
    exit_code = ExitCode.DENIED
    fix = (
        "the consent screen is Internal: approve with an account of the organisation, or make it External "
        f"({CONSOLE_CONSENT})"
    )


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


def _all_subclasses(klass: type[RunbookError]) -> list[type[RunbookError]]:
    found = list(klass.__subclasses__())
    for sub in list(found):
        found += _all_subclasses(sub)
    return found

