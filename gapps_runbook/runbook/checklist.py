"""The Google Cloud console steps of notebook 01, as a checklist with deep links (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..oauth import scopes
from ..oauth.clients import CLIENT_TYPE_LABELS

CONSOLE = "https://console.cloud.google.com"


@dataclass(frozen=True)
class ChecklistItem:
    """One thing to do in the Google Cloud console, with its deep link."""

    key: str
    text: str
    url: str


def checklist_items(verdict: scopes.Preflight, project_id: str = "") -> list[ChecklistItem]:
    """The console steps for this verdict; links carry ``?project=`` when the project id is known."""
    q = f"?project={project_id}" if project_id else ""
    label = CLIENT_TYPE_LABELS[verdict.client_type]
    items = [ChecklistItem("project", "Create (or pick) the Google Cloud project for this server",
                           f"{CONSOLE}/projectcreate")]
    for service in scopes.services_for(verdict.scopes):
        if service.api_id:
            items.append(ChecklistItem(f"api:{service.key}", f"Enable the {service.title} ({service.api_id})",
                                       service.library_url(project_id)))
    items += [
        ChecklistItem("audience", "Consent screen (Google Auth Platform > Audience): set it up and Publish app; "
                      "while it is in Testing, add the approving account as a test user (refresh tokens then "
                      "die after 7 days)", f"{CONSOLE}/auth/audience{q}"),
        ChecklistItem("scopes", "Data Access: add the scopes " + ", ".join(_short(s) for s in verdict.scopes),
                      f"{CONSOLE}/auth/scopes{q}"),
        ChecklistItem(f"client:{verdict.client_type}", f"Clients > Create client > Application type '{label}'; "
                      "note the product name, client ID and secret (or download the JSON)",
                      f"{CONSOLE}/auth/clients/create{q}"),
    ]
    return items


def checklist_complete(verdict: scopes.Preflight, items: Iterable[ChecklistItem], ticks: dict[str, bool]) -> bool:
    """Complete only when every item is ticked and the preflight passes."""
    return verdict.ok and all(ticks.get(i.key) for i in items)


def _short(scope: str) -> str:
    return scope.removeprefix(scopes.SCOPE_PREFIX)
