"""The notebook layer's actions: the ``act_*`` functions that do work of their own.

Each turns form or parameter input into runbook calls (:func:`act_save_client`, :func:`act_client_from_refs`,
:func:`act_import_client_bytes`), combines several of them (:func:`act_preflight`, :func:`act_plan`), or judges a result (:func:`act_check_verify`). Where a
step is one :mod:`gapps_runbook.runbook` call (``status``, ``refresh``, ``verify``, ``authorize``,
``start_paste``/``finish_paste``, ``pin_account``), the headless entry points of :mod:`gapps_runbook.notebook`
and the step forms (:mod:`.step00` ... :mod:`.step04`) call the runbook directly: one hop. Both paths call
the same functions, so a button click and a papermill run do the same thing. Actions return values
(rendered by :mod:`gapps_runbook.views.render`) and raise :class:`RunbookError`; they never display.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..oauth import client_ids, clients, scopes
from .. import runbook
from ..runbook import state
from ..profile import secret_sources
from ..runbook.checklist import ChecklistItem
from ..oauth.clients import CLIENT_TYPE_LABELS
from ..errors import STEP_CHECKLIST, STEP_CLIENT, ConfigError, InputError
from ..oauth.verify import VerifyReport
from ..views.lastmile import summary_lines
from ..views.render import unproved_reason


def open_site(profile: str = "default", home: str | Path = "", issuer: str = "") -> runbook.Site:
    """The profile's site; ``home`` "" means $GAPPS_RUNBOOK_HOME or the per-user folder, ``issuer`` "" the profile's."""
    return runbook.Site.open(profile, home=Path(home) if home else None, issuer=issuer or None)


def act_preflight(
    site: runbook.Site, services: Sequence[str] | None, flow: str = "auto", publishing_status: str = "",
    project_id: str = "",
) -> scopes.Preflight:
    """Step 01: the verdict (no call to Google); saves scopes, flow, publishing status and project id.

    Empty ``services``, ``flow`` and ``publishing_status`` keep the profile's saved choices (else the
    built-in defaults); only an explicit value changes what is stored.
    """
    requested = runbook.requested_scopes(site, services=services)
    verdict = runbook.check_console(
        site, requested, flow=runbook.as_flow(flow) if flow else "",
        publishing_status=runbook.as_publishing_status(publishing_status)
    )
    if project_id:
        site.profile.update_settings(lambda s: s.update(project_id=project_id.strip()))
    return verdict


def act_plan(site: runbook.Site, requested: tuple[str, ...], flow: str = "auto") -> scopes.Preflight:
    """Step 03 before any network call: which flow runs with the stored client, and whether it can work."""
    client = site.client()
    return scopes.preflight(requested, flow=runbook.as_flow(flow), endpoints=site.endpoints, client=client)


def act_project_id(site: runbook.Site, project_id: str = "") -> str:
    """The Cloud project id: given, else saved by step 01, else the stored client's."""
    if project_id:
        return project_id.strip()
    saved = site.profile.load_settings().get("project_id")
    if saved:
        return str(saved)
    client = site.profile.load_client()
    return (client.project_id or "") if client else ""


def act_sync_checklist(site: runbook.Site, items: Sequence[ChecklistItem]) -> dict[str, bool]:
    """Keep the ticks of the current items only (a changed client type or service starts unticked)."""

    def update(settings: dict[str, Any]) -> None:
        old = settings.get("checklist") or {}
        settings["checklist"] = {i.key: bool(old.get(i.key, False)) for i in items}

    return dict(site.profile.update_settings(update)["checklist"])


def act_save_client(
    site: runbook.Site, *, client_id: str, client_secret: str, client_type: str, product_name: str = "",
    project_id: str = "",
) -> clients.ClientConfig:
    """Step 02: validate and store a typed-in client."""
    return runbook.save_client(
        site,
        client_id=client_id.strip(),
        client_secret=client_secret,
        client_type=runbook.as_client_type(_client_type(site, client_type)),
        product_name=product_name,
        project_id=project_id.strip() or None,
    )


def act_import_client_bytes(
    site: runbook.Site, data: bytes, client_type: str = "", product_name: str = ""
) -> clients.ClientConfig:
    """Step 02: the same, from an upload's bytes (nothing written but the profile's client.json)."""
    fix = f"upload the client JSON downloaded from the Clients page in {STEP_CLIENT}"
    if len(data) > clients.MAX_CLIENT_FILE_BYTES:
        raise InputError("the uploaded file is too large for a client JSON", fix=fix)
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("the uploaded file is not UTF-8 text", fix=fix) from None
    parsed = clients.parse_client_json(
        text, endpoints=site.endpoints, client_type=runbook.as_client_type(client_type) if client_type else None,
        product_name=product_name
    )
    return runbook.save_client(
        site, client_id=parsed.client_id, client_secret=parsed.client_secret, client_type=parsed.client_type,
        product_name=parsed.product_name, project_id=parsed.project_id,
    )


def act_validate_client_id(site: runbook.Site, client_id: str) -> str:
    """Inline check of a typed client ID: returns it, or raises the InputError naming the mistake."""
    return client_ids.validate_client_id(client_id.strip(), google=site.endpoints.google_dialect)


def act_client_from_refs(
    site: runbook.Site, *, client_secrets_file: str = "", client_id: str = "", client_secret_env: str = "",
    client_secret_file: str = "", client_type: str = "", product_name: str = "", project_id: str = "",
) -> clients.ClientConfig | None:
    """Step 02 headless: a client from references only (JSON path, or ID plus secret env var or file).

    Returns:
        The stored client, or None when no reference was given (the stored client is kept).
    """
    if client_secrets_file:
        kind = runbook.as_client_type(client_type) if client_type else None
        return runbook.import_client_json(site, Path(client_secrets_file).expanduser(), client_type=kind,
                                          product_name=product_name)
    if not client_id:
        if client_secret_env or client_secret_file:
            fix = f"pass client_id with client_secret_env or client_secret_file ({STEP_CLIENT})"
            raise InputError("client_id is missing", fix=fix)
        return None
    if not (client_secret_env or client_secret_file):
        raise InputError("client_id needs client_secret_env or client_secret_file",
                         fix="pass the NAME of an environment variable or a 0600 file holding the secret")
    secret_file = Path(client_secret_file).expanduser() if client_secret_file else None
    secret = secret_sources.read_secret(env=client_secret_env or None, file=secret_file)
    return act_save_client(site, client_id=client_id, client_secret=secret, client_type=client_type,
                           product_name=product_name, project_id=project_id)


def _client_type(site: runbook.Site, client_type: str) -> str:
    """The given type, else the one step 01's verdict needs."""
    if client_type:
        return client_type
    flow = site.profile.load_settings().get("flow")
    if flow in CLIENT_TYPE_LABELS:
        return str(flow)
    fix = f"run {STEP_CHECKLIST} first, or pass client_type 'desktop' or 'device'"
    raise InputError("the client type is not known yet", fix=fix)


def act_check_verify(report: VerifyReport) -> None:
    """Stop on a verify report that is not a success: nothing proved (ConfigError), or a failed check.

    Raises:
        ConfigError: No check could be made (exit 3): the report proves nothing about the token.
        VerifyFailed: A check came out other than the granted scopes say (``runbook.raise_for_verify``).
    """
    nothing = unproved_reason(report)
    if nothing is not None:
        raise ConfigError(f"verify proved nothing: {nothing}", fix=report.fix or "verify against a provider whose "
                          "discovery names an API base (api_base), a userinfo_endpoint or introspection")
    runbook.raise_for_verify(report)


def act_summary(site: runbook.Site) -> list[str]:
    """04 "Copy summary for the ticket" and ``status --summary``: the plain-text summary (no secret, no network call)."""
    return summary_lines(state.read(site))


def act_handoff(site: runbook.Site, to: str) -> Any:
    """04 "Hand off": write the token where the application reads it (0600) and prove google-auth refreshes it."""
    if not to.strip():
        raise InputError("no path was given for the hand-off", fix="type the file the application reads, "
                         "e.g. /etc/app/google-token.json")
    return runbook.handoff(site, Path(to.strip()).expanduser())
