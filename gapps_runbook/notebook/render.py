"""Pure renderers: ``*_lines`` (plain text), ``*_html`` and ``*_rows`` tables; one renderer per view.

No I/O, no ipywidgets and no call into :mod:`gapps_runbook.runbook`: each function turns a value the
runbook (or an ``act_*`` function of :mod:`gapps_runbook.notebook.actions`) returned into what is shown.
The headless entry points of :mod:`gapps_runbook.notebook`, the step forms (:mod:`.step00` ... :mod:`.step04`)
and :mod:`gapps_runbook.cli` all print through these, so the status panel (:func:`status_rows`), the verify
report (:func:`check_line`, :func:`verify_lines`), the device code (:func:`device_code_lines`,
:func:`device_code_html`, :func:`code_countdown`), the desktop link (:func:`link_lines`, :func:`link_html`,
:func:`waiting_line`) and the preflight
summary (:func:`verdict_lines`) are worded once. Every value put into HTML goes through :func:`e`; no row
or line carries a secret (a client secret appears only as its fingerprint).
"""

from __future__ import annotations

import datetime
import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import STEP_AUTHORIZE, STEP_CLIENT, RunbookError
from ..oauth import clients, scopes, tokeninfo
from ..oauth.clients import CLIENT_TYPE_LABELS
from ..oauth.clock import duration_text
from ..safety.redact import fingerprint, redact
from ..steps import STEPS
from .checklist import ChecklistItem
from .render_lastmile import proof_lines
from .render_backup import export_parts, export_text

if TYPE_CHECKING:
    from ..oauth.verify import Check, VerifyReport
    from ..runbook import AuthResult, TokenStatus
    from .actions import RevokeProof, StepRow

BACKUP_TITLE = f"{STEPS[5].number} {STEPS[5].title.capitalize()}"
"""00's row for step 05: "05 Backup and restore" (the profile's last export, :func:`.render_backup.export_text`)."""
_LEVEL_COLOUR = {"error": "#b00020", "warning": "#8a5a00", "info": "#555"}


def e(value: object) -> str:
    """HTML-escape any value."""
    return html.escape(str(value), quote=True)


def one_line(exc: BaseException) -> str:
    """The line a person sees for an error: a RunbookError's own text, else a redacted summary."""
    if isinstance(exc, RunbookError):
        return str(exc)
    summary = redact(str(exc))[:300]
    return f"unexpected error ({type(exc).__name__}): {summary} Please report it with the notebook you ran."


def error_html(text: str) -> str:
    """An error line in red."""
    return f'<div style="color:#b00020"><b>Error:</b> {e(text)}</div>'


def verdict_lines(verdict: scopes.Preflight) -> list[str]:
    """The preflight summary as text (step 01 and ``gapps-runbook preflight``)."""
    return verdict.summary_lines()


def verdict_html(verdict: scopes.Preflight) -> str:
    """The preflight summary as HTML, with the fixes' console links clickable."""
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
    """One line per console step, then whether the checklist is complete."""
    lines = [f"[{'x' if ticks.get(i.key) else ' '}] {i.text}: {i.url}" for i in items]
    ticked = sum(bool(ticks.get(i.key)) for i in items)
    return lines + [f"Checklist: {'complete' if complete else 'not complete'} ({ticked}/{len(items)} ticked)"]


def checklist_html(items: Sequence[ChecklistItem], ticks: dict[str, bool], complete: bool) -> str:
    """The checklist with its deep links."""
    rows = "".join(f"<li>{'&#9745;' if ticks.get(i.key) else '&#9744;'} {e(i.text)}: "
                   f'<a href="{e(i.url)}" target="_blank" rel="noopener">open</a></li>' for i in items)
    return f"<ul>{rows}</ul><b>{e(checklist_lines(items, ticks, complete)[-1])}</b>"


def client_lines(client: clients.ClientConfig | None) -> list[str]:
    """The stored client; the secret only as its fingerprint."""
    if client is None:
        return ["No client stored yet."]
    lines = [f"Product name: {client.product_name or '(not set)'}", f"Client ID:    {client.client_id}",
             f"Client type:  {client.type_label}", f"Project id:   {client.project_id or '(not set)'}",
             f"Secret:       {secret_text(client)}"]
    return lines + ([f"Auth method:  {client.auth_method}"] if client.auth_method else [])


def secret_text(client: clients.ClientConfig) -> str:
    """How a client's secret is shown: its fingerprint only, or that the client is public."""
    if not client.client_secret:
        return "none (public client)"
    return f"stored (fingerprint {fingerprint(client.client_secret)}), never shown"


def usable(st: TokenStatus) -> bool:
    """Whether the profile holds a token that works or can be refreshed (else: authorize again, exit 7)."""
    if st.refresh_interrupted:  # the stored refresh token may be used up until a refresh rolls forward
        return False
    return st.token_id is not None and (st.has_refresh_token or (st.expires_in or 0) > 0)


def status_rows(st: TokenStatus, requested: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(label, value) rows of the status panel (step 04, ``gapps-runbook status``); no secret in any of them."""
    if st.client_id is None:
        return [("Profile", st.profile), ("Client", f"none: run {STEP_CLIENT}")]
    if st.token_id is None:
        return [("Profile", st.profile), ("Token", f"none: run {STEP_AUTHORIZE}")]
    rows = [("Profile", st.profile), ("Token id", st.token_id), ("Expires in", f"{st.expires_in} s"),
            ("Account", st.account or "unknown"), ("Refresh token", "yes" if st.has_refresh_token else "no")]
    if st.refresh_interrupted:
        rows.append(("Usable", f"no: a refresh was interrupted: run refresh (it adopts the token it wrote), "
                               f"else {STEP_AUTHORIZE}"))
    elif not usable(st):
        rows.append(("Usable", f"no: expired, and no refresh token: run {STEP_AUTHORIZE}"))
    if st.handed_off_to:
        rows.append(("Refresh token owner", f"the application at {st.handed_off_to} ({STEP_AUTHORIZE} takes it back)"))
    if st.refresh_token_expires_in is not None:
        left = st.refresh_token_expires_in
        rows.append(("Refresh token dies in", f"{left} s (consent screen in Testing: publish it)"))
    wanted = list(requested) or [*st.scopes, *st.missing_scopes, *st.requested_since]
    missing, extra = tokeninfo.scope_diff(wanted, st.scopes)
    rows += [(_scope_label(s, missing, st.missing_scopes), s) for s in wanted]
    rows += [("granted, not requested", s) for s in extra]
    return rows


def _scope_label(scope: str, missing: Sequence[str], withheld: Sequence[str]) -> str:
    """"granted"; "requested, NOT granted" only for a scope the provider withheld at authorization; else
    "requested since" (asked for after the token was authorized)."""
    if scope not in missing:
        return "granted"
    if scope in withheld:
        return "requested, NOT granted"
    return f"requested since: run {STEP_AUTHORIZE} again to add"


def profile_line(st: TokenStatus, last_export: Mapping[str, Any] | None = None) -> str:
    """One profile in one line (``gapps-runbook status --all``); ``last_export`` is the settings' record."""
    expires = "-" if st.expires_in is None else st.expires_in
    return f"{st.profile:20} {st.token_id or '-':14} {expires:>6} s  {st.account or '-':24} {export_text(last_export)}"


def table_lines(rows: Sequence[tuple[str, str]]) -> list[str]:
    """Rows as aligned ``label: value`` lines."""
    width = max((len(k) for k, _ in rows), default=0)
    return [f"{k + ':':{width + 1}} {v}" for k, v in rows]


def table_html(rows: Sequence[tuple[str, str]]) -> str:
    """Rows as a two-column HTML table."""
    body = "".join(f"<tr><th style='text-align:left'>{e(k)}</th><td style='text-align:left'>{e(v)}</td></tr>"
                   for k, v in rows)
    return f"<table>{body}</table>"


def check_line(check: Check) -> str:
    """One verify check in one line, for the CLI, the notebook and the form alike.

    The words are the check's own (:attr:`Check.line`, :attr:`Check.summary`); a check that could not be
    made (``skipped``, ``unverifiable``) reads "not checked (reason)": never BAD, never ok.
    """
    if check.outcome in ("skipped", "unverifiable"):
        return f"--  {check.title}: not checked ({check.detail})"
    return check.line


def unproved_reason(report: VerifyReport) -> str | None:
    """Why the report proves nothing about the token (:attr:`VerifyReport.proved_nothing`), else None."""
    if not report.proved_nothing:
        return None
    return "; ".join(dict.fromkeys(c.detail for c in report.checks)) or "no check could run"


def verify_verdict(report: VerifyReport) -> str:
    """The report's verdict in one line (:attr:`VerifyReport.verdict`), with its fix when it is not ok."""
    return report.verdict + (f" Fix: {report.fix}" if report.fix and not report.ok else "")


def verify_lines(report: VerifyReport) -> list[str]:
    """The verify report as text: one line per check, the proof from real data, then the verdict."""
    return [*(check_line(c) for c in report.checks), *proof_lines(report), verify_verdict(report)]


def verify_html(report: VerifyReport) -> str:
    """The verify report as HTML: the same lines, the verdict in bold."""
    *checks, verdict = verify_lines(report)
    return f"<pre>{e(chr(10).join(checks))}</pre><b>{e(verdict)}</b>"


def revoke_rows(proof: RevokeProof) -> list[tuple[str, str]]:
    """What revoking did, and the proof."""
    return [("Revoked token id", proof.token_id),
            ("At the provider", "it was already invalid" if proof.already_invalid else "revoked now"),
            ("Local copy", "still there!" if proof.local_token_left
             else f"deleted: status shows no token (run {STEP_AUTHORIZE} to reconnect)"),
            ("Tokeninfo with the old token", proof.provider), ("Refresh with the old refresh token", proof.refresh)]


def overview_rows(rows: Sequence[StepRow], last_export: Mapping[str, Any] | None = None) -> list[tuple[str, str]]:
    """Every step's recorded status (00) as rows, then the profile's last export (step 05)."""
    return [(r.title, f"{r.status} {r.at} {r.detail}".strip()) for r in rows] + [(BACKUP_TITLE, export_text(last_export))]


def overview_html(rows: Sequence[StepRow], last_export: Mapping[str, Any] | None = None) -> str:
    """Every step's recorded status (00), each linking its notebook, then the last export (step 05)."""
    cells = [(r.notebook, r.title, r.status, r.at, r.detail) for r in rows]
    cells.append((f"{STEPS[5].notebook}.ipynb", BACKUP_TITLE, *export_parts(last_export)))
    body = "".join(f"<tr><td style='text-align:left'><a href='{e(link)}'>{e(title)}</a></td>"
                   f"<td>{e(status)}</td><td>{e(at)}</td><td style='text-align:left'>{e(detail)}</td></tr>"
                   for link, title, status, at, detail in cells)
    return f"<table><tr><th>Step</th><th>Status</th><th>When</th><th>Detail</th></tr>{body}</table>"


def _complete_uri(grant: Any) -> str | None:
    """The verification link with the code filled in (RFC 8628 §3.3.1), when the provider sent one."""
    value = getattr(grant, "verification_uri_complete", None)
    return str(value) if value else None


def device_code_lines(grant: Any) -> str:
    """The device code line (CLI ``authorize``, headless step 03): where to go, the code, its lifetime."""
    text = (f"Open {grant.verification_uri} and enter the code {grant.user_code} "
            f"(expires in {duration_text(grant.expires_in)}).")
    complete = _complete_uri(grant)
    if complete:
        text += f" Or open {complete} (the code is filled in)."
    return text + " Only enter a code this runbook shows you."


def utc_clock(wall: float) -> str:
    """A wall-clock time as the cards show it: "23:41 UTC"."""
    return datetime.datetime.fromtimestamp(wall, datetime.timezone.utc).strftime("%H:%M UTC")


def code_countdown(seconds_left: float, until: float | None = None) -> str:
    """The device card's one countdown line; ``until`` (epoch seconds) adds the absolute time."""
    if seconds_left <= 0:
        return "The code expired: click New code"
    return f"Code expires in {duration_text(seconds_left)}" + (f" (until {utc_clock(until)})" if until else "")


def waiting_line(seconds_left: float, until: float) -> str:
    """The desktop card's one countdown line, while the runbook waits for the browser to come back."""
    if seconds_left <= 0:
        return "The wait is over: click Start again"
    return f"Waiting for approval in the browser ({duration_text(seconds_left)} left, until {utc_clock(until)})"


def link_lines(url: str) -> str:
    """The desktop flow's link line (CLI ``authorize``, headless step 03)."""
    return f"Open this link in a browser on this machine and allow access:\n{url}"


def qr_svg(url: str) -> str:
    """An inline SVG QR code of ``url`` (segno, pure Python), for approving from a phone."""
    import segno

    return str(segno.make(url, error="m").svg_inline(scale=4, dark="#000", light="#fff"))


def device_code_html(grant: Any, *, qr: bool = True, lifetime: bool = True) -> str:
    """The card's body: the user code big (selectable, with a copy button), the link(s), the lifetime, a QR code.

    The QR code encodes ``verification_uri_complete`` when the provider sent it (no typing on the phone).
    ``lifetime=False`` leaves the lifetime out (the form shows it once, counting down: :func:`code_countdown`).
    """
    code = e(grant.user_code)
    copy = (f"<button onclick=\"navigator.clipboard.writeText('{code}')\" title='Copy the code'>Copy</button>")
    link = f'<a href="{e(grant.verification_uri)}" target="_blank" rel="noopener">{e(grant.verification_uri)}</a>'
    complete = _complete_uri(grant)
    shortcut = ""
    if complete:
        shortcut = (f'<br>or open <a href="{e(complete)}" target="_blank" rel="noopener">{e(complete)}</a> '
                    "(the code is filled in)")
    picture = ""
    if qr:
        picture = f"<div>{qr_svg(complete or grant.verification_uri)}<br><small>Scan to open the page on a phone</small></div>"
    return (f"<div style='display:flex;gap:2em;align-items:center'><div>1. Open {link}{shortcut}<br>2. Enter this code:"
            f"<div style='font:bold 2.6em monospace;letter-spacing:.12em;user-select:all'>{code}</div>{copy}"
            f"<br><small>{'Expires in ' + e(duration_text(grant.expires_in)) + '. ' if lifetime else ''}"
            "Only enter a code this runbook shows you; it works once.</small></div>"
            f"{picture}</div>")


_BUTTON = ("display:inline-block;padding:.45em 1.1em;margin:.2em 0;border-radius:4px;background:#1a73e8;"
           "color:#fff;font-weight:600;text-decoration:none")


def link_html(url: str, text: str = "Open Google's page") -> str:
    """The desktop flow's link, as a button that opens a new tab (no opener, no referrer)."""
    return (f'<a class="gapps-link-button" href="{e(url)}" target="_blank" rel="noopener noreferrer" '
            f'style="{_BUTTON}">{e(text)}</a><br><small>Sign in with the account the server will use, then click '
            "Allow; that tab then says whether the runbook got the token.</small>")


def result_lines(result: AuthResult) -> str:
    """The outcome of step 03."""
    account = result.account or "unknown"
    return f"Authorized with the {result.flow} flow: token id {result.token.token_id}, account {account}."


def result_html(result: AuthResult) -> str:
    """The outcome of step 03, as the form shows it."""
    return (f"<div style='color:#1b5e20;font-size:1.4em'><b>Authorized</b></div>token id "
            f"<code>{e(result.token.token_id)}</code>, account <b>{e(result.account or 'unknown')}</b>, "
            f"{e(result.flow)} flow")

