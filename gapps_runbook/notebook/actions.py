"""The notebook layer's actions: the ``act_*`` functions that do work of their own.

Each turns form or parameter input into runbook calls (:func:`act_save_client`, :func:`act_client_from_refs`,
:func:`act_import_client_bytes`), combines several of them (:func:`act_preflight`, :func:`act_plan`,
:func:`act_already_authorized`, :func:`act_overview`), or judges a result (:func:`act_check_verify`, :func:`act_revoke`). Where a
step is one :mod:`gapps_runbook.runbook` call (``status``, ``refresh``, ``verify``, ``authorize``,
``start_paste``/``finish_paste``, ``pin_account``), the headless entry points of :mod:`gapps_runbook.notebook`
and the step forms (:mod:`.step00` ... :mod:`.step04`) call the runbook directly: one hop. Both paths call
the same functions, so a button click and a papermill run do the same thing. Actions return values
(rendered by :mod:`gapps_runbook.notebook.render`) and raise :class:`RunbookError`; they never display.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..oauth import client_ids, clients, scopes, tokeninfo, tokens
from .. import runbook
from ..profile import secret_sources
from .checklist import ChecklistItem
from ..oauth.clients import CLIENT_TYPE_LABELS
from ..oauth.clock import utc_text
from ..errors import STEP_CHECKLIST, STEP_CLIENT, ConfigError, InputError, OAuthError, RunbookError
from ..oauth.verify import VerifyReport
from ..oauth.endpoints import GOOGLE
from .render import unproved_reason
from .render_lastmile import summary_lines

STEPS: tuple[tuple[str, str, str], ...] = (
    ("preflight", "01_console_checklist.ipynb", "01 Console checklist and preflight"),
    ("client", "02_client_credentials.ipynb", "02 Client credentials"),
    ("authorize", "03_authorize.ipynb", "03 Authorize (generate the authorization code)"),
    ("verify", "04_token_status.ipynb", "04 Token status: verify"),
    ("refresh", "04_token_status.ipynb", "04 Token status: refresh"),
    ("revoke", "04_token_status.ipynb", "04 Token status: revoke"),
)
"""Step keys recorded by ``runbook.Site.mark``, the notebook that runs each, and its title."""


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
        site, requested, flow=flow or "", publishing_status=publishing_status or None  # type: ignore[arg-type]
    )
    if project_id:
        site.profile.update_settings(lambda s: s.update(project_id=project_id.strip()))
    return verdict


def act_plan(site: runbook.Site, requested: tuple[str, ...], flow: str = "auto") -> scopes.Preflight:
    """Step 03 before any network call: which flow runs with the stored client, and whether it can work."""
    client = site.client()
    return scopes.preflight(requested, flow=flow, endpoints=site.endpoints, client=client)  # type: ignore[arg-type]


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
        client_type=_client_type(site, client_type),  # type: ignore[arg-type]
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
        text, endpoints=site.endpoints, client_type=client_type or None, product_name=product_name  # type: ignore[arg-type]
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
        return runbook.import_client_json(site, Path(client_secrets_file).expanduser(), client_type=client_type or None,  # type: ignore[arg-type]
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


def act_already_authorized(site: runbook.Site, requested: Sequence[str]) -> runbook.TokenStatus | None:
    """The status if the stored token is current, covers ``requested`` and has the pinned account; else None."""
    st = runbook.status(site)
    settings = site.profile.load_settings()
    step = settings.get("steps", {}).get("authorize", {})
    if st.token_id is None or step.get("status") != "ok":
        return None
    pinned = settings.get("expected_account")
    if pinned and (st.account or "").lower() != str(pinned).lower():
        return None
    missing, _extra = tokeninfo.scope_diff(requested, st.scopes)
    usable = st.has_refresh_token or (st.expires_in or 0) > 60
    return st if usable and not missing else None


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


@dataclass(frozen=True)
class RevokeProof:
    """What revoking did, checked: the local copy is gone and the provider refuses the old token."""

    token_id: str
    already_invalid: bool
    local_token_left: bool
    provider: str
    refresh: str

    @property
    def ok(self) -> bool:
        """True when the local copy is gone and the provider refuses the old token (and its refresh token)."""
        refused = self.provider.startswith("refused") and not self.refresh.startswith("accepted")
        return refused and not self.local_token_left


def act_revoke(site: runbook.Site) -> RevokeProof:
    """Step 04: revoke (RFC 7009), then prove it: status shows no token, tokeninfo and refresh are refused."""
    old, client = site.token(), site.client()
    already = runbook.revoke(site)
    left = runbook.status(site).token_id is not None
    provider = _probe(lambda: tokeninfo.inspect_token(site.transport, site.endpoints, old, clock=site.clock))
    refresh = "skipped: no refresh token"
    if old.refresh_token:
        refresh = _probe(lambda: tokens.refresh(site.transport, site.endpoints, client, old, clock=site.clock))
    return RevokeProof(old.token_id, bool(already), left, provider, refresh)


def _probe(call: Callable[[], Any]) -> str:
    try:
        call()
    except OAuthError as exc:
        return f"refused ({exc.error})"
    except RunbookError as exc:
        return f"error: {exc.message}"
    return "accepted: the provider still honours the token"


@dataclass(frozen=True)
class StepRow:
    """One row of the overview table."""

    step: str
    notebook: str
    title: str
    status: str
    at: str
    detail: str


def act_overview(site: runbook.Site) -> tuple[list[StepRow], runbook.TokenStatus, dict[str, bool]]:
    """00: every step's recorded status, the token status and the checklist ticks."""
    settings = site.profile.load_settings()
    steps = settings.get("steps") or {}
    rows = []
    for key, notebook, title in STEPS:
        step = steps.get(key) or {}
        at = utc_text(str(step.get("at", ""))) + (f" by {step['operator']}" if step.get("operator") else "")
        rows.append(StepRow(key, notebook, title, str(step.get("status", "not run")), at, str(step.get("detail", ""))))
    return rows, runbook.status(site), dict(settings.get("checklist") or {})


def act_summary(site: runbook.Site) -> list[str]:
    """04 "Copy summary for the ticket" and ``status --summary``: the plain-text summary (no secret, no network call)."""
    settings = site.profile.load_settings()
    issuer = site.issuer or settings.get("issuer") or GOOGLE.issuer
    token = site.profile.load_token()
    expiry = None
    if token is not None:
        expiry = datetime.datetime.fromtimestamp(token.expires_at, datetime.timezone.utc).isoformat(timespec="seconds")
    verify = (settings.get("steps") or {}).get("verify")
    return summary_lines(runbook.status(site), issuer=str(issuer), expires_at=expiry,
                         verify=verify if isinstance(verify, dict) else None)


def act_handoff(site: runbook.Site, to: str) -> Any:
    """04 "Hand off": write the token where the application reads it (0600) and prove google-auth refreshes it."""
    if not to.strip():
        raise InputError("no path was given for the hand-off", fix="type the file the application reads, "
                         "e.g. /etc/app/google-token.json")
    return runbook.handoff(site, Path(to.strip()).expanduser())
