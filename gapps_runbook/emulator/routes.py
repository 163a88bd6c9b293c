"""The emulator's URL map: every path it serves, and with which methods (reference §12).

Below :mod:`.app` (which dispatches on it) and :mod:`.practice` (which refuses a ``--fault`` for a
path that is not served), so both read the one map.
"""

from __future__ import annotations

from werkzeug.routing import Map, Rule

DISCOVERY_PATH = "/.well-known/openid-configuration"

URL_MAP = Map(
    [
        Rule("/", endpoint="landing", methods=["GET"]),
        Rule("/client-json/<client_id>", endpoint="client_json", methods=["GET"]),
        Rule(DISCOVERY_PATH, endpoint="discovery", methods=["GET"]),
        Rule("/device/code", endpoint="device_code", methods=["POST"]),
        Rule("/token", endpoint="token", methods=["POST"]),
        Rule("/tokeninfo", endpoint="tokeninfo", methods=["GET", "POST"]),
        Rule("/revoke", endpoint="revoke", methods=["POST"]),
        Rule("/revoke", endpoint="revoke_get", methods=["GET"]),
        Rule("/v1/userinfo", endpoint="userinfo", methods=["GET", "POST"]),
        Rule("/o/oauth2/v2/auth", endpoint="authorize", methods=["GET", "POST"]),
        Rule("/device", endpoint="device_page", methods=["GET", "POST"]),
        Rule("/calendar/v3/users/me/calendarList", endpoint="calendar_list", methods=["GET"]),
        Rule("/calendar/v3/calendars/<calendar_id>/events", endpoint="events", methods=["GET"]),
        Rule("/gmail/v1/users/<user_id>/profile", endpoint="gmail_profile", methods=["GET"]),
    ],
    strict_slashes=False,
    merge_slashes=False,
)


def served(path: str) -> bool:
    """True if some route answers ``path`` (with GET or POST)."""
    adapter = URL_MAP.bind("127.0.0.1")
    return any(adapter.test(path, method) for method in ("GET", "POST"))
