"""The emulator's records: clients, device sessions, consents, codes, grants, tokens, scenarios.

Plain dataclasses, mutated only by :class:`~gapps_runbook.emulator.authorization_server.State` under its lock.
Secret fields are ``repr=False`` (design.md "Secrets").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ClientType = Literal["device", "desktop", "web"]
DeviceStatus = Literal["pending", "approved", "denied", "claimed"]


@dataclass(frozen=True)
class Scenario:
    """What the emulated user does with the device sessions of one client (the guide's Step 6 outcomes).

    Attributes:
        approve_after: Polls answered ``authorization_pending`` before the user decides; None leaves
            the decision to :meth:`Emulator.approve`, the verification page or ``auto_approve``.
        deny: The user clicks Deny (after ``approve_after`` polls, 0 if unset) instead of Allow.
        expire: The device code is expired: every poll gets ``expired_token``.
        slow_down: The first ``slow_down`` polls get ``slow_down`` (each adds 5 s to the interval).
        approve_as: The account that approves; implies ``approve_after=0`` when that is unset.
    """

    approve_after: int | None = None
    deny: bool = False
    expire: bool = False
    slow_down: int = 0
    approve_as: str | None = None

    @property
    def decides(self) -> bool:
        """True if the scenario itself approves or denies."""
        return self.approve_after is not None or self.deny or self.approve_as is not None


@dataclass(frozen=True)
class RequestRecord:
    """One request the emulator received. Parameter names only, never their values.

    Attributes:
        time: The emulator clock's monotonic time at receipt.
        method: HTTP method.
        path: URL path, without the query.
        keys: Sorted names of the query, form and JSON-body parameters.
    """

    time: float
    method: str
    path: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class RegisteredClient:
    """An OAuth client as registered in the console (:mod:`.facts` shapes).

    Attributes:
        client_id: ``<project number>-<32 alnum>.apps.googleusercontent.com`` for the defaults.
        client_secret: ``GOCSPX-`` + 28 characters for the defaults.
        client_type: ``device`` ("TVs and Limited Input devices"), ``desktop`` ("Desktop app") or ``web``.
        product_name: The app name on the consent screen.
    """

    client_id: str
    client_secret: str = field(repr=False)
    client_type: ClientType
    product_name: str = ""


@dataclass
class DeviceSession:
    """One RFC 8628 device authorization (the device-flow guide, Steps 1-6)."""

    device_code: str = field(repr=False)
    user_code: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: float  # emulator wall clock
    interval: int
    scenario: Scenario
    status: DeviceStatus = "pending"
    account: str | None = None
    last_poll: float | None = None  # emulator monotonic clock
    slow_downs_left: int = 0
    pending_polls: int = 0


@dataclass
class Consent:
    """A loopback authorization request waiting on the consent page (RFC 8252, RFC 7636)."""

    consent_id: str = field(repr=False)
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    code_challenge: str | None = field(repr=False)
    code_challenge_method: str
    login_hint: str | None = None


@dataclass
class AuthCode:
    """An authorization code: single use, bound to client, redirect_uri and PKCE challenge."""

    code: str = field(repr=False)
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    account: str
    code_challenge: str | None = field(repr=False)
    code_challenge_method: str
    expires_at: float
    used: bool = False


@dataclass
class Grant:
    """What one consent granted one client for one account; refresh and access tokens hang off it."""

    grant_id: int
    client_id: str
    account: str
    scopes: tuple[str, ...]
    refresh_token: str | None = field(repr=False)
    refresh_expires_at: float | None  # Testing mode: 7 days on the emulator clock
    revoked: bool = False


@dataclass
class AccessToken:
    """An issued access token."""

    token: str = field(repr=False)
    grant_id: int
    scopes: tuple[str, ...]
    expires_at: float
