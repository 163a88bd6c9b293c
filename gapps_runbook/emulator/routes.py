"""The emulator's URL map: every path it serves, and with which methods.

Below :mod:`.wsgi` (which dispatches on it) and :mod:`.practice` (which refuses a ``--fault`` for a
path that is not served), so both read the one map. The Google API paths come from the service
catalog (:mod:`gapps_runbook.oauth.scope_catalog`): one ``api`` rule per probe, whose ``rpc`` default
names the method :func:`.apis.answer` serves.
"""

from __future__ import annotations

import re

from werkzeug.routing import Map, Rule

from ..oauth.scope_catalog import Probe, probed_services

DISCOVERY_PATH = "/.well-known/openid-configuration"


def _api_rule(probe: Probe) -> Rule:
    """A probe's path as a werkzeug rule: ``{calendarId}`` becomes the ``<calendarId>`` variable."""
    path = re.sub(r"\{(\w+)\}", r"<\1>", probe.path)
    return Rule(path, endpoint="api", methods=["GET"], defaults={"rpc": probe.rpc})


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
        *(_api_rule(probe) for service in probed_services() for probe in service.probes),
    ],
    strict_slashes=False,
    merge_slashes=False,
    redirect_defaults=False,  # the API rules share one endpoint and differ by their defaults
)


def served(path: str) -> bool:
    """True if some route answers ``path`` (with GET or POST)."""
    adapter = URL_MAP.bind("127.0.0.1")
    return any(adapter.test(path, method) for method in ("GET", "POST"))
