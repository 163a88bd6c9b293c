"""Google's API methods that verify probes, with Google's scope checks and error envelopes.

Which methods exist, their paths and the scopes each accepts come from the service catalog
(:mod:`gapps_runbook.oauth.scope_catalog`); this module holds what Google would answer for them
(:data:`ANSWERS`, keyed by the method's RPC name). A call without a token gets 401
``CREDENTIALS_MISSING``; a dead token 401 "Invalid Credentials" (``ACCESS_TOKEN_EXPIRED``); a token
without a scope the method accepts 403 ``ACCESS_TOKEN_SCOPE_INSUFFICIENT``, naming the service and
method (https://cloud.google.com/apis/design/errors). Success bodies are small but shaped as the real ones.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from ..oauth.scope_catalog import probed_services
from .records import Grant
from .authorization_server import State

REALM = 'Bearer realm="https://accounts.google.com/"'
CONSOLE_HELP = "See https://developers.google.com/identity/sign-in/web/devconsole-project."


@dataclass(frozen=True)
class Method:
    """An API method: the service and method names Google reports, and the scopes it accepts."""

    service: str
    name: str
    scopes: frozenset[str]


METHODS: dict[str, Method] = {
    probe.rpc: Method(service.api_id, probe.rpc, probe.accepts)
    for service in probed_services()
    for probe in service.probes
}
"""Every probed method of the catalog, by its RPC name."""


def json_text(body: Any) -> str:
    """``json.dumps(body, indent=2)``, the same text, built directly for a flat object of strings and ints.

    With ``indent`` the standard library falls back to its pure-Python encoder; the emulator's OAuth
    answers are flat, so each key and value is encoded by the C encoder and joined here.
    """
    if type(body) is dict and body and all(type(k) is str and type(v) in (str, int) for k, v in body.items()):
        dumps = json.dumps
        return "{\n  " + ",\n  ".join(f"{dumps(k)}: {dumps(v)}" for k, v in body.items()) + "\n}"
    return json.dumps(body, indent=2)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with Google's content type."""
    return Response(json_text(body), status=status, headers=headers,
                    content_type="application/json; charset=UTF-8")  # fmt: skip


def envelope(
    method: Method, *, code: int, status: str, message: str, item: dict[str, str], reason: str
) -> dict[str, Any]:
    """Google's error envelope: legacy ``errors[]`` plus a ``google.rpc.ErrorInfo`` detail."""
    info = {"service": method.service, "method": method.name}
    detail = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
              "domain": "googleapis.com", "metadata": info}  # fmt: skip
    return {"error": {"code": code, "message": message, "errors": [item], "status": status, "details": [detail]}}


def authorize(request: Request, state: State, method: Method) -> Grant | Response:
    """The caller's grant, or the 401/403 envelope Google sends."""
    header = request.headers.get("Authorization", "")
    token = request.args.get("access_token", "")
    if header:
        scheme, _, token = header.partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
    elif not token:
        body = envelope(
            method, code=401, status="UNAUTHENTICATED", reason="CREDENTIALS_MISSING",
            message="Request is missing required authentication credential. Expected OAuth 2 access token, "
            f"login cookie or other valid authentication credential. {CONSOLE_HELP}",
            item={"message": "Login Required.", "domain": "global", "reason": "required",
                  "location": "Authorization", "locationType": "header"},
        )  # fmt: skip
        return json_response(body, 401, {"WWW-Authenticate": REALM})
    found = state.access(token)
    if found is None:
        body = envelope(
            method, code=401, status="UNAUTHENTICATED", reason="ACCESS_TOKEN_EXPIRED",
            message="Request had invalid authentication credentials. Expected OAuth 2 access token, "
            f"login cookie or other valid authentication credential. {CONSOLE_HELP}",
            item={"message": "Invalid Credentials", "domain": "global", "reason": "authError",
                  "location": "Authorization", "locationType": "header"},
        )  # fmt: skip
        return json_response(body, 401, {"WWW-Authenticate": REALM + ', error="invalid_token"'})
    record, grant = found
    if not method.scopes & set(record.scopes):
        body = envelope(
            method, code=403, status="PERMISSION_DENIED", reason="ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            message="Request had insufficient authentication scopes.",
            item={"message": "Insufficient Permission", "domain": "global", "reason": "insufficientPermissions"},
        )  # fmt: skip
        challenge = f'{REALM}, error="insufficient_scope", scope="{" ".join(sorted(method.scopes))}"'
        return json_response(body, 403, {"WWW-Authenticate": challenge})
    return grant


def _not_found(message: str = "Not Found") -> Response:
    item = {"domain": "global", "reason": "notFound", "message": message}
    return json_response({"error": {"code": 404, "message": message, "errors": [item]}}, 404)


def _stamp(when: float) -> str:
    moment = datetime.datetime.fromtimestamp(when, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _etag(*parts: object) -> str:
    return '"' + str(int(hashlib.sha256(repr(parts).encode()).hexdigest()[:12], 16)) + '"'


def answer(request: Request, state: State, rpc: str, values: Mapping[str, str]) -> Response:
    """Answer a call to the catalog method ``rpc``: Google's 401/403 envelope, or the method's answer.

    Args:
        request: The call.
        state: The emulator's state (tokens, clock).
        rpc: The method's RPC name (the route's default).
        values: The path's variables (``calendarId``, ``userId``).
    """
    grant = authorize(request, state, METHODS[rpc])
    if isinstance(grant, Response):
        return grant
    return ANSWERS[rpc](request, state, grant, values)


def calendar_list(request: Request, state: State, grant: Grant, values: Mapping[str, str]) -> Response:
    """``GET /calendar/v3/users/me/calendarList``: the primary calendar only."""
    entry = {
        "kind": "calendar#calendarListEntry", "etag": _etag("entry", grant.account), "id": grant.account,
        "summary": grant.account, "timeZone": "UTC", "colorId": "14", "backgroundColor": "#9fe1e7",
        "foregroundColor": "#000000", "selected": True, "accessRole": "owner", "primary": True,
        "defaultReminders": [{"method": "popup", "minutes": 30}],
    }  # fmt: skip
    body = {"kind": "calendar#calendarList", "etag": _etag("list", grant.account),
            "nextSyncToken": "CKCz3v-emulator", "items": [entry]}  # fmt: skip
    return json_response(body)


def events(request: Request, state: State, grant: Grant, values: Mapping[str, str]) -> Response:
    """``GET /calendar/v3/calendars/<calendarId>/events``: two events on the primary calendar."""
    if values.get("calendarId") not in ("primary", grant.account):
        return _not_found()
    now = state.clock.time()
    items = [_event(grant.account, now, n, title) for n, title in enumerate(("Runbook review", "Token rotation"), 1)]
    body = {
        "kind": "calendar#events", "etag": _etag("events", grant.account), "summary": grant.account,
        "description": "", "updated": _stamp(now), "timeZone": "UTC", "accessRole": "owner",
        "defaultReminders": [{"method": "popup", "minutes": 30}], "nextSyncToken": "CPDAlvWDx-emulator",
        "items": items,
    }  # fmt: skip
    return json_response(body)


def _event(account: str, now: float, n: int, title: str) -> dict[str, Any]:
    start = (int(now) // 86400 + n) * 86400 + 9 * 3600
    event_id = hashlib.sha256(f"{account}{n}".encode()).hexdigest()[:26]
    person = {"email": account, "self": True}
    return {
        "kind": "calendar#event", "etag": _etag("event", account, n), "id": event_id, "status": "confirmed",
        "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}", "created": _stamp(now - 86400),
        "updated": _stamp(now - 3600), "summary": title, "creator": person, "organizer": person,
        "start": {"dateTime": _stamp(start), "timeZone": "UTC"},
        "end": {"dateTime": _stamp(start + 1800), "timeZone": "UTC"},
        "iCalUID": f"{event_id}@google.com", "sequence": 0, "reminders": {"useDefault": True}, "eventType": "default",
    }  # fmt: skip


def gmail_profile(request: Request, state: State, grant: Grant, values: Mapping[str, str]) -> Response:
    """``GET /gmail/v1/users/<userId>/profile``."""
    if values.get("userId") not in ("me", grant.account):
        item = {"domain": "global", "reason": "forbidden", "message": f"Delegation denied for {grant.account}"}
        return json_response({"error": {"code": 403, "message": item["message"], "errors": [item]}}, 403)
    body = {"emailAddress": grant.account, "messagesTotal": 1283, "threadsTotal": 947, "historyId": "421337"}
    return json_response(body)


CONTACTS = (("Ada", "Lovelace"), ("Grace", "Hopper"), ("Alan", "Turing"))
"""The seeded account's contacts (every account has the same three)."""
PERSON_FIELDS = frozenset(
    "addresses ageRanges biographies birthdays calendarUrls clientData coverPhotos emailAddresses events "
    "externalIds genders imClients interests locales locations memberships metadata miscKeywords names "
    "nicknames occupations organizations phoneNumbers photos relations sipAddresses skills urls userDefined".split()
)
"""The ``personFields`` paths people.connections.list accepts (its reference page)."""
_CONNECTIONS_DOC = "https://developers.google.com/people/api/rest/v1/people.connections/list"


def connections(request: Request, state: State, grant: Grant, values: Mapping[str, str]) -> Response:
    """``GET /v1/people/me/connections``: the seeded contacts, with only the ``personFields`` asked for.

    https://developers.google.com/people/api/rest/v1/people.connections/list: ``personFields`` is
    required; ``pageSize`` is 1-1000 (default 100); ``totalItems`` (and the older ``totalPeople``)
    count every contact, whatever the page.
    """
    fields = [f for f in request.args.get("personFields", "").split(",") if f]
    if not fields:
        return _invalid("personFields mask is required. Please specify one or more valid paths. "
                        f"Valid paths are documented at {_CONNECTIONS_DOC}.")
    unknown = next((f for f in fields if f not in PERSON_FIELDS), None)
    if unknown is not None:
        return _invalid(f'Invalid personFields mask path: "{unknown}". Valid paths are documented at '
                        f"{_CONNECTIONS_DOC}.")
    size, start = request.args.get("pageSize", "100"), request.args.get("pageToken", "0")
    if not (size.isdigit() and 1 <= int(size) <= 1000) or not start.isdigit():
        return _invalid("Invalid pageSize or pageToken.")
    people = [_person(grant.account, n, given, family, set(fields)) for n, (given, family) in enumerate(CONTACTS)]
    end = int(start) + int(size)
    body: dict[str, Any] = {"connections": people[int(start):end], "totalPeople": len(people),
                            "totalItems": len(people)}  # fmt: skip
    if end < len(people):
        body["nextPageToken"] = str(end)
    return json_response(body)


def _person(account: str, n: int, given: str, family: str, fields: set[str]) -> dict[str, Any]:
    contact_id = str(int(hashlib.sha256(f"{account}{n}".encode()).hexdigest()[:15], 16))
    source = {"metadata": {"primary": True, "source": {"type": "CONTACT", "id": contact_id}}}
    person: dict[str, Any] = {"resourceName": f"people/c{contact_id}", "etag": _etag("person", account, n)}
    if "names" in fields:
        person["names"] = [{**source, "displayName": f"{given} {family}", "familyName": family, "givenName": given,
                            "displayNameLastFirst": f"{family}, {given}", "unstructuredName": f"{given} {family}"}]
    if "emailAddresses" in fields:
        person["emailAddresses"] = [{**source, "value": f"{given.lower()}@example.com"}]
    return person


def _invalid(message: str) -> Response:
    return json_response({"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}, 400)


Answer = Callable[[Request, State, Grant, Mapping[str, str]], Response]
ANSWERS: dict[str, Answer] = {
    "calendar.v3.CalendarList.List": calendar_list,
    "calendar.v3.Events.List": events,
    "google.people.v1.PeopleService.ListConnections": connections,
    "caribou.api.proto.MailboxService.GetProfile": gmail_profile,
}
"""What the emulator answers for each catalog method (by RPC name) once the token's scope is checked."""
