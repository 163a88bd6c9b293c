"""The device authorization response (RFC 8628 §3.2) as the client keeps it: :class:`DeviceAuthorization`.

:mod:`gapps_runbook.oauth.device_flow` requests and reads it (§3.1-3.2); :mod:`gapps_runbook.oauth.device_poller`
polls with it (§3.4-3.5). Both build on this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DeviceAuthorization:
    """A device authorization response (RFC 8628 §3.2).

    Attributes:
        device_code: The device verification code (secret: never shown, never saved).
        user_code: The code the user types (case-sensitive at Google).
        verification_uri: Where the user types it (Google's ``verification_url``).
        expires_in: Lifetime of both codes, in seconds.
        interval: Minimum seconds between polls.
        issued_at: Monotonic time just before the request was sent.
        verification_uri_complete: RFC 8628 §3.2 link that carries the user code (for a QR code or a
            click), when the provider sends an http(s) one; None at Google.
    """

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    expires_in: int
    interval: int
    issued_at: float
    verification_uri_complete: str | None = None

    def expires_at(self) -> float:
        """The monotonic deadline after which the codes are dead."""
        return self.issued_at + self.expires_in


__all__ = ["DeviceAuthorization"]
