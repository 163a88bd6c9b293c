"""Pure renderers of the notebook layer: ``*_lines`` (plain text), ``*_html`` and ``*_rows`` tables.

No I/O and no call into :mod:`gapps_runbook.runbook`: each function turns a value the ``act_*``
functions of :mod:`gapps_runbook.notebook.actions` returned into text that :mod:`gapps_runbook.notebook`
(headless) or :mod:`gapps_runbook.notebook.forms` (widgets) shows. Every value put into HTML goes through
:func:`e`; no row or line carries a secret (a client secret appears only as its fingerprint).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..oauth import clients, tokeninfo, scopes
from .checklist import ChecklistItem
from ..oauth.clients import CLIENT_TYPE_LABELS
from ..errors import STEP_AUTHORIZE, RunbookError
from ..safety.redact import fingerprint, redact

if TYPE_CHECKING:
    from .actions import RevokeProof, StepRow
    from ..runbook import AuthResult, TokenStatus

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


def status_rows(st: TokenStatus, requested: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(label, value) rows of the status panel; no secret in any of them."""
    if st.token_id is None:
        return [("Profile", st.profile), ("Token", f"none: run {STEP_AUTHORIZE}")]
    rows = [("Profile", st.profile), ("Token id", st.token_id), ("Expires in", f"{st.expires_in} s"),
            ("Account", st.account or "unknown"), ("Refresh token", "yes" if st.has_refresh_token else "no")]
    if st.refresh_token_expires_in is not None:
        left = st.refresh_token_expires_in
        rows.append(("Refresh token dies in", f"{left} s (consent screen in Testing: publish it)"))
    wanted = list(requested) or list(st.scopes) + list(st.missing_scopes)
    missing, extra = tokeninfo.scope_diff(wanted, st.scopes)
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


def result_lines(result: AuthResult) -> str:
    account = result.account or "unknown"
    return f"Authorized with the {result.flow} flow: token id {result.token.token_id}, account {account}."


def result_html(result: AuthResult) -> str:
    return (f"<div style='color:#1b5e20;font-size:1.4em'><b>Authorized</b></div>token id "
            f"<code>{e(result.token.token_id)}</code>, account <b>{e(result.account or 'unknown')}</b>, "
            f"{e(result.flow)} flow")

