"""The service catalog: every Google service the runbook knows, each in one entry.

An entry holds the service's scopes, the console API that must be enabled for it (and the API
Library link), whether Google's device flow allows it, the read that verify makes to prove the
token opens it (or, for the Gmail control, that it does not) and the words the report uses. The
preflight (:mod:`gapps_runbook.oauth.preflight`), the console checklist, verify and its report, and
the emulator's API answers all read it, so a service is added here and nowhere else.

The vendor procedure configures ``calendar.readonly`` and ``calendar.events.readonly`` and a
"TVs and Limited Input devices" client. Google's device flow (RFC 8628) no longer accepts those
scopes: its "Allowed scopes" list
(https://developers.google.com/identity/protocols/oauth2/limited-input-device#allowedscopes) names
only ``email``, ``openid``, ``profile``, ``drive.appdata``, ``drive.file``, ``youtube`` and
``youtube.readonly``, and anything else fails at the first request with HTTP 400 ``invalid_scope``
"Invalid device flow scope". The preflight says so before any network call and steers to the
"Desktop app" loopback flow (RFC 8252 with PKCE).

Everything here is pure: no network, no files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from ..errors import CONSOLE_LIBRARY, InputError

Flow = Literal["device", "desktop"]
Level = Literal["error", "warning", "info"]
SCOPE_PREFIX = "https://www.googleapis.com/auth/"
OIDC_SCOPES = frozenset({"openid", "email", "profile"})
_A = SCOPE_PREFIX


@dataclass(frozen=True)
class Probe:
    """One read that proves what a token opens: an HTTP GET with the token as a bearer (RFC 6750 §2.1).

    Attributes:
        call: The method as Google's API reference names it (``calendarList.list``).
        rpc: The method as Google's error envelopes name it (``google.rpc.ErrorInfo`` metadata ``method``).
        path: The request path under the API base, ``{name}`` placeholders as in Google's discovery
            documents' ``flatPath``.
        path_values: What verify puts in the placeholders.
        params: The query parameters verify sends.
        accepts: Every scope the method accepts (the "Authorization scopes" of its reference page).
        items: The JSON key of the list whose entries prove access with real data; empty when the answer
            itself is the proof and nothing is counted.
        total: The JSON key holding the account's total when the API reports one (no paging needed).
        primary: The key of the name of the entry marked ``"primary": true``, when the list has one.
    """

    call: str
    rpc: str
    path: str
    accepts: frozenset[str]
    path_values: tuple[tuple[str, str], ...] = ()
    params: tuple[tuple[str, str], ...] = ()
    items: str = ""
    total: str = ""
    primary: str = ""

    @property
    def request_path(self) -> str:
        """The path verify requests: the placeholders filled in (``/calendar/v3/calendars/primary/events``)."""
        return self.path.format(**dict(self.path_values))


@dataclass(frozen=True)
class Service:
    """A Google service the runbook can ask access to, and how access to it is proved.

    Attributes:
        key: Short name used on the command line and in settings (``calendar``).
        title: The API's name in the console's API Library (``Google Calendar API``).
        api_id: The service name the API Library and error envelopes use; empty when nothing
            needs enabling (Sign-In).
        scopes: The scopes requested for it, in full form.
        name: The service in the report's words (``Calendar``).
        noun: What the probe's items are, for "Proof from real data: 2 calendar(s) in the account".
        api_path: The path every probe of this API starts with under the API base; an injected fault
            there is answered with Google's API error envelope.
        google_base: Google's own host for the API when ``https://www.googleapis.com`` does not serve it.
        probes: The reads verify can make, most telling first: verify uses the first one the granted
            scopes open.
        always_verified: verify calls it even when none of its scopes was granted, and then expects a
            refusal: the procedure's "a Calendar token does not open Gmail".
    """

    key: str
    title: str
    api_id: str
    scopes: tuple[str, ...]
    name: str = ""
    noun: str = ""
    api_path: str = ""
    google_base: str = ""
    probes: tuple[Probe, ...] = field(default=())
    always_verified: bool = False

    @property
    def device_flow(self) -> bool:
        """True when Google's device flow allows every scope of the service (:data:`DEVICE_ALLOWED_SCOPES`)."""
        return all(s in DEVICE_ALLOWED_SCOPES for s in self.scopes)

    def library_url(self, project_id: str = "") -> str:
        """The console's API Library page for the API (``?project=`` when the project is known); empty if none."""
        if not self.api_id:
            return ""
        return f"{CONSOLE_LIBRARY}/{self.api_id}" + (f"?project={project_id}" if project_id else "")


_CALENDAR = Service(
    "calendar", "Google Calendar API", "calendar-json.googleapis.com",
    (_A + "calendar.readonly", _A + "calendar.events.readonly"),
    name="Calendar", noun="calendar(s)", api_path="/calendar/v3",
    probes=(
        # https://developers.google.com/calendar/api/v3/reference/calendarList/list: 250 is the largest
        # page, so one call counts the calendars of nearly every account.
        Probe("calendarList.list", "calendar.v3.CalendarList.List", "/calendar/v3/users/me/calendarList",
              frozenset({_A + "calendar", _A + "calendar.readonly", _A + "calendar.calendarlist",
                         _A + "calendar.calendarlist.readonly", _A + "calendar.app.created"}),
              params=(("maxResults", "250"),), items="items", primary="summary"),
        # https://developers.google.com/calendar/api/v3/reference/events/list: for a token with only
        # an events scope, which calendarList.list refuses.
        Probe("events.list", "calendar.v3.Events.List", "/calendar/v3/calendars/{calendarId}/events",
              frozenset({_A + "calendar", _A + "calendar.readonly", _A + "calendar.events",
                         _A + "calendar.events.readonly", _A + "calendar.events.owned",
                         _A + "calendar.events.owned.readonly", _A + "calendar.app.created"}),
              path_values=(("calendarId", "primary"),), params=(("maxResults", "1"),)),
    ),
    always_verified=True,
)  # fmt: skip
_GMAIL = Service(
    "gmail", "Gmail API", "gmail.googleapis.com", (_A + "gmail.readonly",),
    name="Gmail", api_path="/gmail/v1", google_base="https://gmail.googleapis.com",
    probes=(
        # https://developers.google.com/gmail/api/reference/rest/v1/users/getProfile
        Probe("users.getProfile", "caribou.api.proto.MailboxService.GetProfile", "/gmail/v1/users/{userId}/profile",
              frozenset({"https://mail.google.com/", _A + "gmail.modify", _A + "gmail.compose",
                         _A + "gmail.readonly", _A + "gmail.metadata"}),
              path_values=(("userId", "me"),)),
    ),
    always_verified=True,  # the control: a token for the other services must not read mail
)  # fmt: skip

_CONTACTS = Service(
    "contacts", "People API", "people.googleapis.com", (_A + "contacts.readonly",),
    name="Contacts", noun="contact(s)", api_path="/v1/people", google_base="https://people.googleapis.com",
    probes=(
        # https://developers.google.com/people/api/rest/v1/people.connections/list: personFields is
        # required; totalItems counts the contacts without paging, so one entry is enough to read.
        Probe("people.connections.list", "google.people.v1.PeopleService.ListConnections",
              "/v1/people/me/connections", frozenset({_A + "contacts", _A + "contacts.readonly"}),
              params=(("personFields", "names,emailAddresses"), ("pageSize", "1")),
              items="connections", total="totalItems"),
    ),
)  # fmt: skip

SERVICES: dict[str, Service] = {
    s.key: s
    for s in (
        _CALENDAR,
        _CONTACTS,
        _GMAIL,
        Service("openid", "Google Sign-In (OpenID Connect)", "", ("openid", "email"), name="Sign-In"),
        Service("drive_file", "Google Drive API", "drive.googleapis.com", (_A + "drive.file",), name="Drive"),
        Service("youtube_readonly", "YouTube Data API v3", "youtube.googleapis.com", (_A + "youtube.readonly",),
                name="YouTube"),
    )
}
"""The catalog. ``gmail`` is the procedure's negative check (a Calendar token must not read mail)."""

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
"""Google's device-flow "Allowed scopes", with the long forms Google returns for email and profile."""

TESTING_EXEMPT_SCOPES: frozenset[str] = OIDC_SCOPES | {
    SCOPE_PREFIX + "userinfo.email",
    SCOPE_PREFIX + "userinfo.profile",
}
"""Name, email and profile: the only scopes whose refresh tokens outlive seven days in Testing
(https://developers.google.com/identity/protocols/oauth2#expiration)."""

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


_LONG_SCOPE_NAMES = {SCOPE_PREFIX + f"userinfo.{name}": name for name in ("email", "profile")}
"""Google grants ``email`` and ``profile`` under their long ``userinfo.*`` names: the same scopes
(https://developers.google.com/identity/protocols/oauth2/scopes#oauth2)."""


def scope_name(scope: str) -> str:
    """A scope by its one name, the catalog's: the same words where it is asked for (01, 03) and where it is
    granted (03, 04, ``status``, the ticket summary)."""
    return _LONG_SCOPE_NAMES.get(scope, scope)


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


def probed_services() -> tuple[Service, ...]:
    """The services verify can call (those with a probe), in catalog order."""
    return tuple(s for s in SERVICES.values() if s.probes)


__all__ = [
    "DEVICE_ALLOWED_SCOPES",
    "DRIVE_APPDATA",
    "OIDC_SCOPES",
    "SCOPE_PREFIX",
    "SERVICES",
    "TESTING_EXEMPT_SCOPES",
    "Flow",
    "Level",
    "Probe",
    "Service",
    "normalize_scope",
    "probed_services",
    "scopes_for",
    "services_for",
    "unique",
]
