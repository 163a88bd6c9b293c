"""The device authorization grant as Google runs it (RFC 8628;
https://developers.google.com/identity/protocols/oauth2/limited-input-device).

``/device/code`` answers with Google's field names (``verification_url``, no ``verification_uri_complete``),
rejects non-TV clients and scopes off the allow-list; ``/token`` polling answers 428 / 403 / 400 as
Google does. The optional LEGACY mode (``legacy_device_scopes``) accepts the pre-2016 Calendar and
Contacts scopes and the old ``http://oauth.net/grant_type/device/1.0`` grant (OAuth2ForDevices before 2016).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from ..errors import (
    AccessDenied,
    AuthorizationPending,
    ExpiredToken,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    SlowDown,
)
from . import facts
from .records import DeviceSession, RegisteredClient, Scenario
from .authorization_server import State, oauth_error

CodeStatus = Literal["unknown", "expired", "pending", "approved", "denied", "claimed"]
SESSION_KEEP_AFTER_EXPIRY = 3600  # seconds a session outlives its device code, then start() drops it


class DeviceGrant:
    """Device sessions, keyed by device code and by user code.

    Args:
        state: The shared state (clients, tokens, clock, lock).
        auto_approve: Sessions are approved, as the default account, at their first poll.
        legacy_device_scopes: LEGACY (pre-2016) mode: Calendar and Contacts scopes are accepted.
    """

    def __init__(self, state: State, *, auto_approve: bool = False, legacy_device_scopes: bool = False) -> None:
        self.state = state
        self.auto_approve = auto_approve
        self.legacy_device_scopes = legacy_device_scopes
        self.sessions: dict[str, DeviceSession] = {}
        self.user_codes: dict[str, str] = {}  # user code without dash -> device code
        self.scenarios: dict[str, Scenario] = {}

    def script(self, client_id: str, scenario: Scenario | None) -> None:
        """Apply ``scenario`` to this client's pending and future sessions (None clears it)."""
        with self.state.lock:
            if scenario is None:
                self.scenarios.pop(client_id, None)
                return
            self.scenarios[client_id] = scenario
            for session in self.sessions.values():
                if session.client_id == client_id and session.status == "pending":
                    session.scenario = scenario
                    session.slow_downs_left = scenario.slow_down

    def start(self, client_id: str | None, scope: str | None, *, base_url: str) -> dict[str, Any]:
        """``POST /device/code``: a new session, or the error Google gives (guide, Step 2)."""
        client = self.state.client(client_id)
        if client.client_type != "device":
            raise oauth_error(InvalidClient, facts.WRONG_TYPE, error_uri=facts.WRONG_TYPE_URI)
        scopes = facts.split_scopes(scope or "")
        if not scopes:
            raise oauth_error(InvalidRequest, "Missing required parameter: scope")  # [UNCONFIRMED] text
        refused = facts.first_disallowed_device_scope(scopes, legacy=self.legacy_device_scopes)
        if refused is not None:
            raise oauth_error(InvalidScope, f"Invalid device flow scope: {refused}")
        with self.state.lock:
            scenario = self.scenarios.get(client.client_id, self.state.scenario)
            user_code = facts.new_user_code()
            while user_code.replace("-", "") in self.user_codes:
                user_code = facts.new_user_code()
            session = DeviceSession(
                device_code=self.state.secret("device_code"),
                user_code=user_code,
                client_id=client.client_id,
                scopes=tuple(scopes),
                expires_at=self.state.clock.time() + facts.DEVICE_CODE_LIFETIME,
                interval=facts.DEVICE_INTERVAL,
                scenario=scenario,
                slow_downs_left=scenario.slow_down,
            )
            self._drop_stale()
            self.sessions[session.device_code] = session
            self.user_codes[user_code.replace("-", "")] = session.device_code
        return {
            "device_code": session.device_code,
            "user_code": session.user_code,
            "verification_url": base_url + "/device",
            "expires_in": facts.DEVICE_CODE_LIFETIME,
            "interval": facts.DEVICE_INTERVAL,
        }

    def poll(self, client: RegisteredClient, device_code: str | None, *, issuer: str) -> dict[str, Any]:
        """One ``/token`` poll with the device grant (the guide's Step 6)."""
        if not device_code:
            raise oauth_error(InvalidRequest, "Missing required parameter: device_code")  # [UNCONFIRMED] text
        with self.state.lock:
            session = self.sessions.get(device_code)
            if session is None or session.client_id != client.client_id or session.status == "claimed":
                raise oauth_error(InvalidGrant, "Bad Request")  # [UNCONFIRMED] description
            if self._expired(session):
                # ASSUMPTION: the guide lists no expiry error and no capture of Google's answer after expiry exists;
                # RFC 8628's expired_token with HTTP 400 and the reason phrase is used.
                raise oauth_error(ExpiredToken, "Bad Request")
            self._check_pace(session)
            self._play_script(session)
            if session.status == "denied":
                raise oauth_error(AccessDenied, "Forbidden")
            if session.status != "approved":
                raise oauth_error(AuthorizationPending, "Precondition Required")
            session.status = "claimed"
            account = session.account or self.state.account
        return self.state.issue(client, account, facts.granted_scopes(session.scopes), issuer=issuer)

    def _drop_stale(self) -> None:
        """Forget sessions whose code expired over :data:`SESSION_KEEP_AFTER_EXPIRY` ago (lock held).

        Until then a dead code still reads as expired or claimed on the verification page; after,
        as unknown. Sessions are in insertion order, so the scan stops at the first live one.
        """
        cutoff = self.state.clock.time() - SESSION_KEEP_AFTER_EXPIRY
        while self.sessions:
            device_code, oldest = next(iter(self.sessions.items()))
            if oldest.expires_at > cutoff:
                return
            del self.sessions[device_code]
            self.user_codes.pop(oldest.user_code.replace("-", ""), None)

    def _expired(self, session: DeviceSession) -> bool:
        return session.scenario.expire or self.state.clock.time() >= session.expires_at

    def _check_pace(self, session: DeviceSession) -> None:
        """RFC 8628 §3.5 slow_down: polled sooner than ``interval`` after the last poll, or scripted."""
        now = self.state.clock.monotonic()
        too_fast = session.last_poll is not None and now - session.last_poll < session.interval - facts.POLL_TOLERANCE
        session.last_poll = now
        if session.slow_downs_left > 0 and not too_fast:
            session.slow_downs_left -= 1
            too_fast = True
        if too_fast:
            session.interval += facts.SLOW_DOWN_STEP  # the client must add 5 s too; the next check uses it
            raise oauth_error(SlowDown, "Forbidden")

    def _play_script(self, session: DeviceSession) -> None:
        if session.status != "pending":
            return
        scenario = session.scenario
        if scenario.decides:
            if session.pending_polls < (scenario.approve_after or 0):
                session.pending_polls += 1
                return
            session.status = "denied" if scenario.deny else "approved"
            session.account = scenario.approve_as or self.state.account
        elif self.auto_approve:
            session.status, session.account = "approved", self.state.account

    # -- the user's side: verification page and test controls -------------------------------------

    def lookup(self, user_code: str) -> tuple[CodeStatus, DeviceSession | None]:
        """Find a session by the code a person typed: exact case, dashes and spaces ignored."""
        key = "".join(user_code.split()).replace("-", "")
        with self.state.lock:
            device_code = self.user_codes.get(key)
            session = self.sessions.get(device_code) if device_code else None
            if session is None:
                return "unknown", None
            if session.status == "pending" and self._expired(session):
                return "expired", session
            return session.status, session

    def decide(self, user_code: str, *, approve: bool, account: str | None = None) -> DeviceSession:
        """Approve or deny a pending session, as the verification page does.

        Raises:
            KeyError: No session has this user code.
            ValueError: The code expired or was already approved, denied or used.
        """
        with self.state.lock:
            status, session = self.lookup(user_code)
            if session is None:
                raise KeyError("no device session has this user code")
            if status != "pending":
                raise ValueError(f"this code is {status}")
            session.status = "approved" if approve else "denied"
            session.account = (account or session.scenario.approve_as or self.state.account) if approve else None
            session.scenario = replace(session.scenario, approve_after=None, deny=False, approve_as=None)
            return session
