"""The landing page at ``/``: what a person practising needs to point the runbook at the emulator.

HTML by default; ``Accept: application/json`` gets the same facts as JSON. It lists the issuer, the
discovery and verification URLs, the registered clients (product name, id, type: never a secret)
and the practice settings (scenario, queued faults, refresh-token rotation, publishing status).

Each practice client's JSON is offered for download at :data:`CLIENT_JSON_PATH`, as the console's
Clients page offers it (``{"installed": {...}}``, the client-secrets format), so a person can practise step 02
with a browser alone. It holds that client's secret, which works with this emulator and nowhere else.
"""

from __future__ import annotations

from typing import Any, cast

from werkzeug.wrappers import Request, Response

from ..oauth.client_config import ClientConfig, ClientType
from ..oauth.endpoints import Endpoints
from . import facts, pages
from .apis import json_response
from .browser import AUTH_PATH
from .practice import describe_faults, describe_scenario
from .routes import DISCOVERY_PATH
from .records import RegisteredClient
from .served import ServedEmulator


CLIENT_JSON_PATH = "/client-json/"
"""Where a practice client's JSON is downloaded: this, then the client ID."""
PRACTICE_ONLY = "Practice only: its secret works with this emulator and nowhere else."
"""The label beside each download (the file holds a secret, but one only this emulator accepts)."""
TYPE_NOTE = " As Google's, the file does not say its type: choose 'TVs and Limited Input devices' in step 02."
"""Added for a TVs client: its file, like the console's, has no redirect URI to tell it from a Desktop app one."""


def summary(emulator: ServedEmulator, base: str) -> dict[str, Any]:
    """The landing facts as a JSON-ready mapping; no client secret, token or code is in it."""
    with emulator.state.lock:
        scripts = dict(emulator.device.scenarios)
    clients = [
        {
            "product_name": client.product_name,
            "client_id": client.client_id,
            "client_type": client.client_type,
            "client_type_label": facts.CLIENT_LABELS[client.client_type],
            **({"scenario": describe_scenario(scripts[client.client_id])} if client.client_id in scripts else {}),
            **({"client_json_url": base + CLIENT_JSON_PATH + client.client_id,
                "client_json_label": PRACTICE_ONLY + (TYPE_NOTE if client.client_type == "device" else "")}
               if _downloadable(client) else {}),
        }
        for client in emulator.clients
    ]
    return {
        "issuer": base,
        "discovery_url": base + DISCOVERY_PATH,
        "verification_url": base + "/device",
        "how_to": f"gapps-runbook --issuer {base} <command>   (or: export GAPPS_RUNBOOK_ISSUER={base})",
        "clients": clients,
        "practice": {
            "scenario": describe_scenario(emulator.scenario),
            "faults": emulator.faults,
            "rotate_refresh_tokens": emulator.rotate_refresh_tokens,
            "publishing_status": emulator.publishing_status,
            "auto_approve": emulator.auto_approve,
            "legacy_device_scopes": emulator.legacy_device_scopes,
        },
    }


def settings_lines(practice: dict[str, Any]) -> list[tuple[str, str]]:
    """The practice settings as (label, value) lines for a person."""
    testing = "testing (refresh tokens expire after 7 days)"
    return [
        ("Scenario (every device and desktop authorization)", practice["scenario"]),
        ("Queued faults", "; ".join(describe_faults(practice["faults"])) or "none"),
        ("Refresh-token rotation", "on: every refresh returns a new refresh token" if practice["rotate_refresh_tokens"]
         else "off (as Google)"),
        ("Publishing status", testing if practice["publishing_status"] == "testing" else "production"),
        ("Auto-approve", "on" if practice["auto_approve"] else "off"),
        ("Device-flow scopes", "LEGACY pre-2016 list (Calendar allowed)" if practice["legacy_device_scopes"]
         else "Google's current list"),
    ]  # fmt: skip


def landing(emulator: ServedEmulator, request: Request, base: str) -> Response:
    """``GET /``: the HTML page, or JSON when the client prefers ``application/json``."""
    facts_ = summary(emulator, base)
    if request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json":
        return json_response(facts_, 200, dict(pages.NO_STORE))
    return pages.landing_page(facts_, settings_lines(facts_["practice"]))


def _downloadable(client: RegisteredClient) -> bool:
    """Desktop app and TVs clients, the two kinds the runbook uses (a Web client's file is refused in step 02)."""
    return client.client_type in ("desktop", "device")


def client_json(emulator: ServedEmulator, client_id: str, base: str) -> Response:
    """``GET /client-json/<client_id>``: the client JSON the console downloads, for a practice client.

    The shape is the console's (the client-secrets format): ``{"installed": {...}}`` for both Desktop app and TVs
    clients, ``auth_uri`` and ``token_uri`` on this emulator, ``redirect_uris`` for a Desktop app client
    only (so a TVs client's file, as Google's, does not say its type: step 02 asks). The file name is
    the console's, ``client_secret_<client id>.json``.
    """
    client = next((c for c in emulator.clients if c.client_id == client_id and _downloadable(c)), None)
    if client is None:
        return pages.not_found(CLIENT_JSON_PATH + client_id)
    config = ClientConfig(client.client_id, client.client_secret, cast(ClientType, client.client_type),
                          client.product_name)
    here = Endpoints(issuer=base, authorization_endpoint=base + AUTH_PATH, token_endpoint=base + "/token")
    disposition = f'attachment; filename="client_secret_{client.client_id}.json"'
    return json_response(config.to_installed_json(here), 200, {**pages.NO_STORE, "Content-Disposition": disposition})
