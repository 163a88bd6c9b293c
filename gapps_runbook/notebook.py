"""What the runbook notebooks call: one entry point per notebook, one ``act_*`` function per action.

Each notebook has a ``parameters`` cell, ``from gapps_runbook import notebook as rb`` and one call
per step (:func:`start_here`, :func:`console_checklist`, :func:`client_credentials`,
:func:`authorize`, :func:`token_status`). An entry point opens the profile's :class:`runbook.Site`,
decides whether a person is at the keyboard (:func:`is_interactive`), then either

* runs the step headless (papermill, nbval): results are displayed, a failure is raised as the
  :class:`RunbookError` whose one line ends in "Fix: runbook step NN ...", so papermill stops there; or
* shows the form from :mod:`gapps_runbook.forms` (ipywidgets, imported only then).

Both paths go through the ``act_*`` functions below, the only callers of :mod:`runbook` here, so a
button click and a papermill run do the same thing. Renderers (``*_lines``/``*_html``) are pure.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import clients, inspection, loopback, runbook, scopes, tokens
from .clients import CLIENT_TYPE_LABELS
from .errors import STEP_AUTHORIZE, STEP_CHECKLIST, STEP_CLIENT, InputError, OAuthError, RunbookError
from .params import check_parameters
from .redact import fingerprint, redact

CONSOLE = "https://console.cloud.google.com"
TRANSIENT = {"gapps_runbook": {"transient": True}}
"""Output metadata the scrubber keys on: the output is removed from saved notebooks."""
GONE = "(the one-time code/link was shown here while waiting; it is not kept)"

STEPS: tuple[tuple[str, str, str], ...] = (
    ("preflight", "01_console_checklist.ipynb", "01 Console checklist and preflight"),
    ("client", "02_client_credentials.ipynb", "02 Client credentials"),
    ("authorize", "03_authorize.ipynb", "03 Authorize (generate the authorization code)"),
    ("verify", "04_token_status.ipynb", "04 Token status: verify"),
    ("refresh", "04_token_status.ipynb", "04 Token status: refresh"),
    ("revoke", "04_token_status.ipynb", "04 Token status: revoke"),
)
"""Step keys recorded by ``runbook.Site.mark``, the notebook that runs each, and its title."""


# --- context ----------------------------------------------------------------------------------


def is_interactive(interactive: bool | None = None) -> bool:
    """``interactive`` if given; else True only when the current execute request allowed stdin.

    JupyterLab and Notebook send ``allow_stdin=True`` with each cell; papermill, nbclient and nbval
    send ``allow_stdin=False`` (nobody is there to answer), which ipykernel keeps as
    ``kernel._allow_stdin`` while the cell runs. Outside a kernel the answer is False.
    """
    if interactive is not None:
        return bool(interactive)
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return False
    kernel = getattr(get_ipython(), "kernel", None)
    return bool(getattr(kernel, "_allow_stdin", False))


def open_site(profile: str = "default", home: str | Path = "", issuer: str = "") -> runbook.Site:
    """The profile's site; ``home`` "" means $GAPPS_RUNBOOK_HOME or the per-user folder, ``issuer`` "" the profile's."""
    return runbook.Site.open(profile, home=Path(home) if home else None, issuer=issuer or None)


def one_line(exc: BaseException) -> str:
    """The line a person sees for an error: a RunbookError's own text, else a redacted summary."""
    if isinstance(exc, RunbookError):
        return str(exc)
    summary = redact(str(exc))[:300]
    return f"unexpected error ({type(exc).__name__}): {summary} Please report it with the notebook you ran."


def _one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Let RunbookErrors from an entry point render as one line in the notebook (ename/evalue kept for papermill)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RunbookError as exc:
            raise exc from None

    return run


def show(text: str, html_text: str | None = None, *, transient: bool = False, display_id: bool = False) -> Any:
    """Display text (and HTML) in the notebook; ``transient`` outputs are dropped from saved notebooks."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import display

    if not InteractiveShell.initialized():  # plain Python (a script, a test): just the text
        print(text)
        return None
    data = {"text/plain": text}
    if html_text is not None:
        data["text/html"] = html_text
    return display(data, raw=True, metadata=dict(TRANSIENT) if transient else None, display_id=display_id or None)


# --- actions: the only callers of runbook in the notebook layer -------------------------------


def act_requested(site: runbook.Site, services: Sequence[str] | None = None) -> tuple[str, ...]:
    """The scopes of ``services``; none given: the profile's (step 01), else Calendar read-only + OpenID."""
    return runbook.requested_scopes(site, services=list(services or ()))


def act_preflight(
    site: runbook.Site, services: Sequence[str] | None, flow: str = "auto", publishing_status: str = "",
    project_id: str = "",
) -> scopes.Preflight:
    """Step 01: the verdict (no call to Google); saves scopes, flow, publishing status and project id."""
    requested = act_requested(site, services)
    verdict = runbook.check_console(
        site, requested, flow=flow, publishing_status=publishing_status or None  # type: ignore[arg-type]
    )
    if project_id:
        site.profile.update_settings(lambda s: s.__setitem__("project_id", project_id.strip()))
    return verdict


def act_check(verdict: scopes.Preflight) -> None:
    """Raise the preflight's first error as a ConfigError (one line, with its Fix:)."""
    runbook.raise_for_preflight(verdict)


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


def act_tick(site: runbook.Site, key: str, done: bool) -> dict[str, bool]:
    """Tick or untick one checklist item in the profile's settings."""
    return dict(site.profile.set_checklist(key, done)["checklist"])


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


def act_import_client_file(
    site: runbook.Site, path: str | Path, client_type: str = "", product_name: str = ""
) -> clients.ClientConfig:
    """Step 02: import the client JSON downloaded from the Clients page."""
    return runbook.import_client_json(
        site, Path(path).expanduser(), client_type=client_type or None, product_name=product_name  # type: ignore[arg-type]
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
    return clients.validate_client_id(client_id.strip(), google=site.endpoints.google_dialect)


def act_client_from_refs(
    site: runbook.Site, *, client_secrets_file: str = "", client_id: str = "", client_secret_env: str = "",
    client_secret_file: str = "", client_type: str = "", product_name: str = "", project_id: str = "",
) -> clients.ClientConfig | None:
    """Step 02 headless: a client from references only (JSON path, or ID plus secret env var or file).

    Returns:
        The stored client, or None when no reference was given (the stored client is kept).
    """
    if client_secrets_file:
        return act_import_client_file(site, client_secrets_file, client_type, product_name)
    if not client_id:
        if client_secret_env or client_secret_file:
            fix = f"pass client_id with client_secret_env or client_secret_file ({STEP_CLIENT})"
            raise InputError("client_id is missing", fix=fix)
        return None
    if not (client_secret_env or client_secret_file):
        raise InputError("client_id needs client_secret_env or client_secret_file",
                         fix="pass the NAME of an environment variable or a 0600 file holding the secret")
    secret_file = Path(client_secret_file).expanduser() if client_secret_file else None
    secret = clients.read_secret(env=client_secret_env or None, file=secret_file)
    return act_save_client(site, client_id=client_id, client_secret=secret, client_type=client_type,
                           product_name=product_name, project_id=project_id)


def act_stored_client(site: runbook.Site) -> clients.ClientConfig | None:
    """The client in the profile, or None."""
    return site.profile.load_client()


def _client_type(site: runbook.Site, client_type: str) -> str:
    """The given type, else the one step 01's verdict needs."""
    if client_type:
        return client_type
    flow = site.profile.load_settings().get("flow")
    if flow in CLIENT_TYPE_LABELS:
        return str(flow)
    fix = f"run {STEP_CHECKLIST} first, or pass client_type 'desktop' or 'device'"
    raise InputError("the client type is not known yet", fix=fix)


def act_pin_account(site: runbook.Site, expected_account: str) -> None:
    """Step 03: only a token approved by this Google account is stored (RFC 8628 §5.4)."""
    runbook.pin_account(site, expected_account)


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
    missing, _extra = inspection.scope_diff(requested, st.scopes)
    usable = st.has_refresh_token or (st.expires_in or 0) > 60
    return st if usable and not missing else None


def act_authorize(
    site: runbook.Site, requested: tuple[str, ...], *, flow: str = "auto", **callbacks: Any
) -> runbook.AuthResult:
    """Step 03: preflight, the flow, the account check, the stored token (``runbook.authorize``)."""
    return runbook.authorize(site, requested, flow=flow, **callbacks)  # type: ignore[arg-type]


def act_paste_start(site: runbook.Site, requested: tuple[str, ...]) -> loopback.LoopbackAuthorization:
    """Step 03, paste-back: preflight for the desktop flow, then a new attempt whose link the person opens."""
    return runbook.start_paste(site, requested)


def act_paste_finish(site: runbook.Site, pending: loopback.LoopbackAuthorization, pasted: str) -> runbook.AuthResult:
    """Step 03, paste-back: finish with the address the browser was sent to."""
    return runbook.finish_paste(site, pending, pasted)


def act_status(site: runbook.Site) -> runbook.TokenStatus:
    """Step 04: token id, expiry in seconds, scopes (local, no network)."""
    return runbook.status(site)


def act_refresh(site: runbook.Site) -> runbook.TokenStatus:
    """Step 04: refresh now, then the new status."""
    runbook.refresh(site)
    return runbook.status(site)


def act_verify(site: runbook.Site) -> Any:
    """Step 04: the Calendar call must work and the Gmail call must be refused."""
    return runbook.verify(site)


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
        refused = self.provider.startswith("refused") and not self.refresh.startswith("accepted")
        return refused and not self.local_token_left


def act_revoke(site: runbook.Site) -> RevokeProof:
    """Step 04: revoke (RFC 7009), then prove it: status shows no token, tokeninfo and refresh are refused."""
    old, client = site.token(), site.client()
    already = runbook.revoke(site)
    left = runbook.status(site).token_id is not None
    provider = _probe(lambda: inspection.inspect_token(site.transport, site.endpoints, old, clock=site.clock))
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
        rows.append(StepRow(key, notebook, title, str(step.get("status", "not run")), str(step.get("at", "")),
                            str(step.get("detail", ""))))
    return rows, runbook.status(site), dict(settings.get("checklist") or {})


def act_profiles(home: str | Path = "") -> list[str]:
    """Names of the profiles under ``home`` (one per site/server)."""
    return runbook.ProfileStore(Path(home) if home else None).names()


# --- console checklist (pure) -----------------------------------------------------------------


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
                                       f"{CONSOLE}/apis/library/{service.api_id}{q}"))
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


# --- renderers (pure) -------------------------------------------------------------------------

_LEVEL_COLOUR = {"error": "#b00020", "warning": "#8a5a00", "info": "#555"}


def e(value: object) -> str:
    """HTML-escape any value."""
    return html.escape(str(value), quote=True)


def error_html(text: str) -> str:
    return f'<div style="color:#b00020"><b>Error:</b> {e(text)}</div>'


def verdict_lines(verdict: scopes.Preflight) -> list[str]:
    return verdict.summary_lines()


def verdict_html(verdict: scopes.Preflight) -> str:
    label = CLIENT_TYPE_LABELS[verdict.client_type]
    outcome = "Preflight OK" if verdict.ok else "Preflight FAILED"
    head = f"<b>{outcome}</b>: the <b>{e(verdict.flow)}</b> flow, with a <b>'{e(label)}'</b> client"
    if verdict.recommended_flow != verdict.flow:
        head += f"; recommended: <b>{e(verdict.recommended_flow)}</b>"
    rows = "".join(f'<li style="color:{_LEVEL_COLOUR[f.level]}">{e(f.level.upper())} {e(f.message)}'
                   f"{' <i>Fix: ' + _linkify(f.fix) + '</i>' if f.fix else ''}</li>" for f in verdict.findings)
    return f"<div>{head}<br>Scopes: {e(' '.join(verdict.scopes))}<ul>{rows}</ul></div>"


def _linkify(text: str) -> str:
    words = text.split(" ")
    return " ".join(f'<a href="{e(w)}" target="_blank" rel="noopener">{e(w)}</a>' if w.startswith("https://")
                    else e(w) for w in words)


def checklist_summary(ticks: dict[str, bool]) -> str:
    """One line for 00: how many console steps are ticked."""
    if not ticks:
        return "Console checklist: not started"
    return f"Console checklist: {sum(ticks.values())}/{len(ticks)} ticked"


def checklist_lines(items: Sequence[ChecklistItem], ticks: dict[str, bool], complete: bool) -> list[str]:
    lines = [f"[{'x' if ticks.get(i.key) else ' '}] {i.text}: {i.url}" for i in items]
    ticked = sum(bool(ticks.get(i.key)) for i in items)
    return lines + [f"Checklist: {'complete' if complete else 'not complete'} ({ticked}/{len(items)} ticked)"]


def checklist_html(items: Sequence[ChecklistItem], ticks: dict[str, bool], complete: bool) -> str:
    rows = "".join(f"<li>{'&#9745;' if ticks.get(i.key) else '&#9744;'} {e(i.text)}: "
                   f'<a href="{e(i.url)}" target="_blank" rel="noopener">open</a></li>' for i in items)
    return f"<ul>{rows}</ul><b>{e(checklist_lines(items, ticks, complete)[-1])}</b>"


def client_lines(client: clients.ClientConfig | None) -> list[str]:
    if client is None:
        return ["No client stored yet."]
    return [f"Product name: {client.product_name or '(not set)'}", f"Client ID:    {client.client_id}",
            f"Client type:  {client.type_label}", f"Project id:   {client.project_id or '(not set)'}",
            f"Secret:       stored (fingerprint {fingerprint(client.client_secret)}), never shown"]


def status_rows(st: runbook.TokenStatus, requested: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(label, value) rows of the status panel; no secret in any of them."""
    if st.token_id is None:
        return [("Profile", st.profile), ("Token", f"none: run {STEP_AUTHORIZE}")]
    rows = [("Profile", st.profile), ("Token id", st.token_id), ("Expires in", f"{st.expires_in} s"),
            ("Account", st.account or "unknown"), ("Refresh token", "yes" if st.has_refresh_token else "no")]
    if st.refresh_token_expires_in is not None:
        left = st.refresh_token_expires_in
        rows.append(("Refresh token dies in", f"{left} s (consent screen in Testing: publish it)"))
    wanted = list(requested) or list(st.scopes) + list(st.missing_scopes)
    missing, extra = inspection.scope_diff(wanted, st.scopes)
    rows += [(("requested, NOT granted" if s in missing else "granted"), s) for s in wanted]
    rows += [("granted, not requested", s) for s in extra]
    return rows


def table_lines(rows: Sequence[tuple[str, str]]) -> list[str]:
    width = max((len(k) for k, _ in rows), default=0)
    return [f"{k + ':':{width + 1}} {v}" for k, v in rows]


def table_html(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th style='text-align:left'>{e(k)}</th><td style='text-align:left'>{e(v)}</td></tr>"
                   for k, v in rows)
    return f"<table>{body}</table>"


def verify_rows(report: Any) -> list[tuple[str, str]]:
    return [(f"{'ok ' if c.ok else 'BAD'} {c.api} {c.call}",
             f"expected {c.expected}, got {c.outcome}. {c.detail}".strip()) for c in report.checks]


def revoke_rows(proof: RevokeProof) -> list[tuple[str, str]]:
    return [("Revoked token id", proof.token_id),
            ("At the provider", "it was already invalid" if proof.already_invalid else "revoked now"),
            ("Local copy", "still there!" if proof.local_token_left
             else f"deleted: status shows no token (run {STEP_AUTHORIZE} to reconnect)"),
            ("Tokeninfo with the old token", proof.provider), ("Refresh with the old refresh token", proof.refresh)]


def overview_rows(rows: Sequence[StepRow]) -> list[tuple[str, str]]:
    return [(r.title, f"{r.status} {r.at} {r.detail}".strip()) for r in rows]


def overview_html(rows: Sequence[StepRow]) -> str:
    body = "".join(f"<tr><td style='text-align:left'><a href='{e(r.notebook)}'>{e(r.title)}</a></td>"
                   f"<td>{e(r.status)}</td><td>{e(r.at)}</td><td style='text-align:left'>{e(r.detail)}</td></tr>"
                   for r in rows)
    return f"<table><tr><th>Step</th><th>Status</th><th>When (UTC)</th><th>Detail</th></tr>{body}</table>"




def device_code_lines(grant: Any) -> str:
    minutes = max(1, grant.expires_in // 60)
    return (f"Open {grant.verification_uri} and enter the code {grant.user_code} (expires in {minutes} min). "
            "Only enter a code this runbook shows you.")


def qr_svg(url: str) -> str:
    """An inline SVG QR code of ``url`` (segno, pure Python), for approving from a phone."""
    import segno

    return str(segno.make(url, error="m").svg_inline(scale=4, dark="#000", light="#fff"))


def device_code_html(grant: Any, *, qr: bool = True) -> str:
    """The card's body: the user code big (selectable, with a copy button), the link and a QR code."""
    code = e(grant.user_code)
    copy = (f"<button onclick=\"navigator.clipboard.writeText('{code}')\" title='Copy the code'>Copy</button>")
    link = f'<a href="{e(grant.verification_uri)}" target="_blank" rel="noopener">{e(grant.verification_uri)}</a>'
    picture = ""
    if qr:
        picture = f"<div>{qr_svg(grant.verification_uri)}<br><small>Scan to open the page on a phone</small></div>"
    return (f"<div style='display:flex;gap:2em;align-items:center'><div>1. Open {link}<br>2. Enter this code:"
            f"<div style='font:bold 2.6em monospace;letter-spacing:.12em;user-select:all'>{code}</div>{copy}"
            "<br><small>Only enter a code this runbook shows you; it works once and expires.</small></div>"
            f"{picture}</div>")


def link_html(url: str, text: str = "Open Google's page") -> str:
    return (f'<a href="{e(url)}" target="_blank" rel="noopener" style="font-size:1.3em;font-weight:bold">{e(text)}</a>'
            "<br><small>Sign in with the account the server will use, then click Allow.</small>")


def result_lines(result: runbook.AuthResult) -> str:
    account = result.account or "unknown"
    return f"Authorized with the {result.flow} flow: token id {result.token.token_id}, account {account}."


def result_html(result: runbook.AuthResult) -> str:
    return (f"<div style='color:#1b5e20;font-size:1.4em'><b>Authorized</b></div>token id "
            f"<code>{e(result.token.token_id)}</code>, account <b>{e(result.account or 'unknown')}</b>, "
            f"{e(result.flow)} flow")


# --- browsers for the headless desktop flow ---------------------------------------------------


def _browser(kind: str) -> Callable[[str], None]:
    """How a headless run gets the authorization link to a browser."""
    if kind == "none":
        return lambda url: None
    if kind == "system":
        import webbrowser

        return webbrowser.open
    if kind == "emulator":
        return _fetch_on_loopback
    raise InputError(f"browser {kind!r} is not none, system or emulator",
                     fix="pass browser='none' (you open the link) or 'system'")


def _fetch_on_loopback(url: str) -> None:
    """Play the browser against the auto-approving emulator: only for a loopback http issuer."""
    import urllib.parse

    from .demo import browser_for_emulator
    from .endpoints import LOOPBACK_HOSTS

    if urllib.parse.urlsplit(url).hostname not in LOOPBACK_HOSTS:
        raise InputError("browser='emulator' only works with the embedded emulator on loopback",
                         fix="pass browser='none' and open the link yourself")
    browser_for_emulator(url)


# --- entry points: one per notebook -----------------------------------------------------------


def _form(form: Any) -> Any:
    """Display a form built in the main thread (threads then only update its widgets)."""
    from IPython.display import display

    display(form.box)
    form.displayed = True
    return form


@_one_line_errors
def start_here(*, profile: str = "default", home: str = "", issuer: str = "", interactive: bool | None = None) -> Any:
    """00: the profile picker and every step's status, with links to the notebooks."""
    if is_interactive(interactive):
        from .forms import StartHereForm

        return _form(StartHereForm(profile=profile, home=home, issuer=issuer))
    rows, st, ticks = act_overview(open_site(profile, home, issuer))
    checklist = checklist_summary(ticks)
    lines = [f"Profile {profile!r} (one profile per site/server)", *table_lines(overview_rows(rows)), checklist,
             *table_lines(status_rows(st))]
    show("\n".join(lines),
         f"<b>Profile {e(profile)}</b>{overview_html(rows)}<p>{e(checklist)}</p>{table_html(status_rows(st))}")
    return None


@_one_line_errors
def console_checklist(
    *, profile: str = "default", home: str = "", issuer: str = "", interactive: bool | None = None,
    services: Sequence[str] = ("calendar", "openid"), flow: str = "auto", publishing_status: str = "",
    project_id: str = "",
) -> Any:
    """01: the console steps with deep links, ticks saved in the profile, and the preflight verdict."""
    site = open_site(profile, home, issuer)
    if is_interactive(interactive):
        from .forms import ConsoleChecklistForm

        return _form(ConsoleChecklistForm(site, services=services, flow=flow, publishing_status=publishing_status,
                                          project_id=project_id))
    verdict = act_preflight(site, services, flow, publishing_status, project_id)
    items = checklist_items(verdict, act_project_id(site, project_id))
    ticks = act_sync_checklist(site, items)
    done = checklist_complete(verdict, items, ticks)
    show("\n".join(verdict_lines(verdict) + checklist_lines(items, ticks, done)),
         verdict_html(verdict) + checklist_html(items, ticks, done))
    act_check(verdict)
    return None


@_one_line_errors
def client_credentials(
    *, profile: str = "default", home: str = "", issuer: str = "", interactive: bool | None = None,
    product_name: str = "", client_type: str = "", client_secrets_file: str = "", client_id: str = "",
    client_secret_env: str = "", client_secret_file: str = "", project_id: str = "",
) -> Any:
    """02: store product name, client ID and secret; headless runs take references only."""
    refs = {"client_secrets_file": client_secrets_file, "client_id": client_id, "client_secret_env": client_secret_env,
            "client_secret_file": client_secret_file, "product_name": product_name, "client_type": client_type,
            "project_id": project_id}
    check_parameters(refs)
    site = open_site(profile, home, issuer)
    stored = act_client_from_refs(site, **refs)
    if is_interactive(interactive):
        from .forms import ClientForm

        return _form(ClientForm(site, product_name=product_name, client_id=client_id, client_type=client_type,
                                project_id=project_id))
    stored = stored or act_stored_client(site)
    if stored is None:
        raise InputError(f"profile {profile!r} has no client and no reference to one was given",
                         fix="pass client_secrets_file (the JSON from the Clients page), "
                         "or client_id with client_secret_env")
    show("\n".join(client_lines(stored)))
    return None


@_one_line_errors
def authorize(
    *, profile: str = "default", home: str = "", issuer: str = "", interactive: bool | None = None,
    services: Sequence[str] = (), flow: str = "auto", timeout: float = 600, browser: str = "none",
    reauthorize: bool = False, expected_account: str = "",
) -> Any:
    """03: "generate the authorization code": device card or Desktop app link, then the stored token."""
    site = open_site(profile, home, issuer)
    if expected_account:
        act_pin_account(site, expected_account)
    requested = act_requested(site, services)
    if is_interactive(interactive):
        from .forms import AuthorizeForm

        return _form(AuthorizeForm(site, requested, flow=flow, timeout=timeout, reauthorize=reauthorize))
    current = None if reauthorize else act_already_authorized(site, requested)
    if current is not None:
        head = "Already authorized for these scopes (pass reauthorize=True for a new token):"
        show("\n".join([head, *table_lines(status_rows(current, requested))]))
        return None
    result = _authorize_headless(site, requested, flow, timeout, _browser(browser))
    show(result_lines(result), result_html(result))
    return None


def _authorize_headless(site: runbook.Site, requested: tuple[str, ...], flow: str, timeout: float,
                        browse: Callable[[str], None]) -> runbook.AuthResult:
    """Run step 03 blocking; the code and link are transient outputs, replaced once the wait ends."""
    shown: list[Any] = []

    def on_code(grant: Any) -> None:
        shown.append(show(device_code_lines(grant), device_code_html(grant), transient=True, display_id=True))

    def open_url(url: str) -> None:
        shown.append(show(f"Open this link in a browser on this machine and allow access:\n{url}", link_html(url),
                          transient=True, display_id=True))
        browse(url)

    try:
        return act_authorize(site, requested, flow=flow, on_device_code=on_code, open_url=open_url,
                             on_status=lambda text: print(f"  {text}", flush=True), timeout=timeout)
    finally:
        for handle in shown:
            if handle is not None:
                handle.update({"text/plain": GONE}, raw=True)


@_one_line_errors
def token_status(
    *, profile: str = "default", home: str = "", issuer: str = "", interactive: bool | None = None,
    verify: bool = True, refresh: bool = False, revoke: bool = False,
) -> Any:
    """04: the status panel: token id, expiry, scopes; verify, refresh, revoke with proof."""
    site = open_site(profile, home, issuer)
    if is_interactive(interactive):
        from .forms import TokenStatusForm

        return _form(TokenStatusForm(site))
    st = act_refresh(site) if refresh else act_status(site)
    show("\n".join(table_lines(status_rows(st))), table_html(status_rows(st)))
    if verify:
        report = act_verify(site)
        show("\n".join(table_lines(verify_rows(report))), table_html(verify_rows(report)))
        runbook.raise_for_verify(report)
    if revoke:
        proof = act_revoke(site)
        show("\n".join(table_lines(revoke_rows(proof))), table_html(revoke_rows(proof)))
        if not proof.ok:
            raise RunbookError("the revocation could not be proven (see the table above)",
                               fix="revoke again, or remove the app at https://myaccount.google.com/permissions")
    return None
