"""Which scopes the runbook asks for: the service catalog and Google's device-flow allow-list.

The vendor procedure configures ``calendar.readonly`` and ``calendar.events.readonly`` and a
"TVs and Limited Input devices" client. Google's device flow (RFC 8628) no longer accepts those
scopes: D-DEV "Allowed scopes" lists only ``email``, ``openid``, ``profile``, ``drive.appdata``,
``drive.file``, ``youtube`` and ``youtube.readonly``, and anything else fails at the first request
with HTTP 400 ``invalid_scope`` "Invalid device flow scope" (reference §3.1-3.2; Calendar was on the
list around 2015, §3.4). The preflight that says so before any network call, and steers to the
"Desktop app" loopback flow (RFC 8252 with PKCE), is :mod:`gapps_runbook.oauth.preflight`, which
builds on this catalog; :mod:`gapps_runbook.oauth.scopes` offers both.

Everything here is pure: no network, no files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ..errors import InputError

Flow = Literal["device", "desktop"]
Level = Literal["error", "warning", "info"]
SCOPE_PREFIX = "https://www.googleapis.com/auth/"
OIDC_SCOPES = frozenset({"openid", "email", "profile"})


@dataclass(frozen=True)
class Service:
    """A Google API the runbook can ask access to.

    Attributes:
        key: Short name used on the command line and in settings (``calendar``).
        title: The API's name in the console's API Library.
        api_id: The service name the API Library and error envelopes use; empty when nothing
            needs enabling (Sign-In).
        scopes: The scopes requested for it, in full form.
    """

    key: str
    title: str
    api_id: str
    scopes: tuple[str, ...]


SERVICES: dict[str, Service] = {
    s.key: s
    for s in (
        Service("calendar", "Google Calendar API", "calendar-json.googleapis.com",
                (SCOPE_PREFIX + "calendar.readonly", SCOPE_PREFIX + "calendar.events.readonly")),
        Service("contacts", "People API", "people.googleapis.com", (SCOPE_PREFIX + "contacts.readonly",)),
        Service("gmail", "Gmail API", "gmail.googleapis.com", (SCOPE_PREFIX + "gmail.readonly",)),
        Service("openid", "Google Sign-In (OpenID Connect)", "", ("openid", "email")),
        Service("drive_file", "Google Drive API", "drive.googleapis.com", (SCOPE_PREFIX + "drive.file",)),
        Service("youtube_readonly", "YouTube Data API v3", "youtube.googleapis.com",
                (SCOPE_PREFIX + "youtube.readonly",)),
    )
}
"""The catalog. ``gmail`` is used for the procedure's negative check (a Calendar token must not read mail)."""

DEVICE_ALLOWED_SCOPES: frozenset[str] = frozenset(
    {
        "openid",
        "email",
        "profile",
        SCOPE_PREFIX + "userinfo.email",
        SCOPE_PREFIX + "userinfo.profile",
        SCOPE_PREFIX + "drive.appdata",
        SCOPE_PREFIX + "drive.file",
        SCOPE_PREFIX + "youtube",
        SCOPE_PREFIX + "youtube.readonly",
    }
)
"""D-DEV "Allowed scopes" (reference §3.1), with the long forms Google returns for email/profile (§3.3)."""

TESTING_EXEMPT_SCOPES: frozenset[str] = OIDC_SCOPES | {
    SCOPE_PREFIX + "userinfo.email",
    SCOPE_PREFIX + "userinfo.profile",
}
"""Name, email and profile: the only scopes whose refresh tokens outlive seven days in Testing (D-OV)."""

DRIVE_APPDATA = SCOPE_PREFIX + "drive.appdata"


def normalize_scope(scope: str, *, google: bool = True) -> str:
    """The full form of a scope: ``calendar.readonly`` -> ``https://www.googleapis.com/auth/calendar.readonly``.

    ``openid``, ``email``, ``profile`` and URLs are kept as they are. With ``google=False`` (a
    provider that is not Google's dialect) every scope is the provider's own and is kept as given.

    Raises:
        InputError: The scope is empty or contains spaces (pass several scopes separately).
    """
    value = scope.strip()
    if not value or any(c.isspace() for c in value) or not value.isprintable():
        raise InputError(
            f"scope {scope!r} is empty or has spaces inside",
            fix="pass one scope per --scope, e.g. --scope calendar.readonly",
        )
    if not google or value in OIDC_SCOPES or "://" in value:
        return value
    return SCOPE_PREFIX + value.removeprefix("auth/")


def unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def scopes_for(services: Iterable[str]) -> tuple[str, ...]:
    """The scopes of the named services, in catalog order per service, without duplicates.

    Raises:
        InputError: A name is not in :data:`SERVICES`.
    """
    result: list[str] = []
    for key in services:
        service = SERVICES.get(key)
        if service is None:
            raise InputError(
                f"unknown service {key!r}",
                fix=f"choose from {', '.join(sorted(SERVICES))}",
            )
        result.extend(service.scopes)
    return unique(result)


def services_for(scopes: Iterable[str]) -> tuple[Service, ...]:
    """The catalog services whose scopes appear in ``scopes`` (full forms)."""
    wanted = set(scopes)
    return tuple(s for s in SERVICES.values() if wanted.intersection(s.scopes))


__all__ = [
    "DEVICE_ALLOWED_SCOPES",
    "DRIVE_APPDATA",
    "OIDC_SCOPES",
    "SCOPE_PREFIX",
    "SERVICES",
    "TESTING_EXEMPT_SCOPES",
    "Flow",
    "Level",
    "Service",
    "normalize_scope",
    "scopes_for",
    "services_for",
    "unique",
]
