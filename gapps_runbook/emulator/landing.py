"""The landing page at ``/``: what a person practising needs to point the runbook at the emulator.

HTML by default; ``Accept: application/json`` gets the same facts as JSON. It lists the issuer, the
discovery and verification URLs, the registered clients (product name, id, type: never a secret)
and the practice settings (scenario, queued faults, refresh-token rotation, publishing status).
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from . import facts, pages
from .apis import json_response
from .practice import describe_faults, describe_scenario
from .routes import DISCOVERY_PATH
from .served import ServedEmulator


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
