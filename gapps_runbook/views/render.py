"""Pure renderers: ``*_lines`` (plain text), ``*_html`` and ``*_rows`` tables; one renderer per view.

No I/O, no ipywidgets and no call into :mod:`gapps_runbook.runbook`: each function turns a value the
runbook (or an ``act_*`` function of :mod:`gapps_runbook.notebook.actions`) returned into what is shown.
The headless entry points of :mod:`gapps_runbook.notebook`, the step forms (:mod:`.step00` ... :mod:`.step04`)
and :mod:`gapps_runbook.cli` all print through these, so the status panel (:func:`status_rows`), the verify
report (:func:`check_line`, :func:`verify_lines`), the device code (:func:`device_code_lines`,
:func:`device_code_html`, :func:`code_countdown`), the desktop link (:func:`link_lines`, :func:`link_html`,
:func:`waiting_line`), the preflight summary (:func:`verdict_lines`) and the app's header of a site's state
(:func:`header_html`) are worded once. Every value put into HTML goes through :func:`e`; no row or line carries
a secret (a client secret appears only as its fingerprint).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import STEP_CLIENT, RunbookError
from ..oauth import clients, scopes, tokeninfo
from ..oauth.clients import CLIENT_TYPE_LABELS
from ..oauth.clock import duration_text, utc_clock, utc_text
from ..oauth.scope_catalog import scope_name
from ..safety.redact import fingerprint, redact
from ..runbook.state import health
from ..steps import AUTHORIZE
from ..runbook.checklist import ChecklistItem
from .backup import export_text
from .lastmile import proof_lines

if TYPE_CHECKING:
    from ..oauth.verify import Check, VerifyReport
    from ..runbook import AuthResult, TokenStatus
    from ..runbook.revoke_proof import RevokeProof
    from ..runbook.state import SiteState, StepState

_VERDICT_COLOUR = {"ok": "#1b5e20", "stale": "#8a5a00", "failed": "#b00020", "not run": "#555",
                   "in progress": "#1a73e8"}
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
    return f"<div>{head}<br>Scopes: {e(' '.join(scope_name(s) for s in verdict.scopes))}<ul>{rows}</ul></div>"


_URL = re.compile(r"https://[^\s()<>]+?(?=[.,;:]?(?:[\s()<>]|$))")
"""A URL in a sentence: up to a space or a bracket, without the sentence's own trailing punctuation."""
LINK_STYLE = "color:#1a73e8;text-decoration:underline"
"""How a link looks in a form (JupyterLab and Voila leave widget links unstyled: black, like the text)."""


def link(url: str, text: str = "") -> str:
    """A link that opens a new tab (no opener), styled as a link."""
    return (f'<a href="{e(url)}" target="_blank" rel="noopener" style="{LINK_STYLE}">'
            f"{e(text or url)}</a>")


def _linkify(text: str) -> str:
    """``text`` escaped, each https URL in it a link (its surrounding brackets and punctuation left as text)."""
    parts, last = [], 0
    for match in _URL.finditer(text):
        parts += [e(text[last:match.start()]), link(match.group(0))]
        last = match.end()
    return "".join(parts) + e(text[last:])


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


def status_rows(st: TokenStatus, requested: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(label, value) rows of the status panel (step 04, ``gapps-runbook status``); no secret in any of them."""
    if st.client_id is None:
        return [("Profile", st.profile), ("Client", f"none: run {STEP_CLIENT}")]
    if st.token_id is None:
        return [("Profile", st.profile), ("Token", f"none: run {AUTHORIZE.ref}")]
    rows = [("Profile", st.profile), ("Token id", st.token_id), ("Expires in", f"{st.expires_in} s"),
            ("Account", st.account or "unknown"), ("Refresh token", "yes" if st.has_refresh_token else "no")]
    judged = health(st)
    if judged.word != "ok":
        rows.append(("Usable", f"{'yes' if judged.usable else 'no'}: {judged.detail}"
                     + (f": {judged.fix}" if judged.fix else "")))
    if st.handed_off_to:
        rows.append(("Refresh token owner", f"the application at {st.handed_off_to} ({AUTHORIZE.ref} takes it back)"))
    if st.refresh_token_expires_in is not None:
        left = st.refresh_token_expires_in
        rows.append(("Refresh token dies in", f"{left} s (consent screen in Testing: publish it)"))
    wanted = list(requested) or [*st.scopes, *st.missing_scopes, *st.requested_since]
    missing, extra = tokeninfo.scope_diff(wanted, st.scopes)
    rows += [(_scope_label(s, missing, st.missing_scopes), scope_name(s)) for s in wanted]
    rows += [("granted, not requested", scope_name(s)) for s in extra]
    return rows


def _scope_label(scope: str, missing: Sequence[str], withheld: Sequence[str]) -> str:
    """"granted"; "requested, NOT granted" only for a scope the provider withheld at authorization; else
    "requested since" (asked for after the token was authorized)."""
    if scope not in missing:
        return "granted"
    if scope in withheld:
        return "requested, NOT granted"
    return f"requested since: run {AUTHORIZE.ref} again to add"


PROFILE_HEADER = f"{'PROFILE':20} {'TOKEN ID':14} {'EXPIRES':>9}  {'ACCOUNT':24} {'STEPS 01-05':24} LAST EXPORT"
"""The header line of ``gapps-runbook status --all`` (:func:`profile_line`)."""
_SHORT = {"ok": "ok", "stale": "stale", "failed": "FAIL", "not run": "-", "in progress": "wait"}


def profile_line(state: SiteState) -> str:
    """One profile in one line (``gapps-runbook status --all``), under :data:`PROFILE_HEADER`."""
    st = state.token
    expires = "no token" if st.expires_in is None else f"{st.expires_in} s"
    steps = " ".join(_SHORT[s.verdict] for s in state.steps)
    return (f"{st.profile:20} {st.token_id or '-':14} {expires:>9}  {st.account or '-':24} {steps:24} "
            f"{export_text(state.last_export)}")


def step_lines(state: SiteState) -> list[str]:
    """Every step's verdict, one line each (``status``, ``run`` result lines): "03 authorize: ok: ..."."""
    return [s.line + (f" [{s.when}]" if s.when else "") for s in state.steps]


def overview_rows(state: SiteState) -> list[tuple[str, str]]:
    """Every step's verdict (00) as (step, text) rows."""
    return [(f"{s.step.number} {s.step.title.capitalize()}", _verdict_text(s)) for s in state.steps]


def _verdict_text(s: StepState) -> str:
    text = s.verdict + (f": {s.detail}" if s.detail else "")
    if s.redo is not None and s.verdict != "ok":
        text += f" (run {s.redo.number} {s.redo.title})"
    return text + (f" [{s.when}]" if s.when else "")


def overview_html(state: SiteState) -> str:
    """Every step's verdict (00), each linking its notebook, with when, what and the step to redo."""
    body = ""
    for s in state.steps:
        redo = f"Run <a href='{e(s.redo.notebook)}.ipynb'>{e(s.redo.number)} {e(s.redo.title)}</a>." \
            if s.redo is not None and s.verdict != "ok" else ""
        detail = e(s.detail) + ("." if s.detail and redo and not s.detail.endswith(".") else "")
        body += (f"<tr><td style='text-align:left;white-space:nowrap'><a href='{e(s.step.notebook)}.ipynb'>"
                 f"{e(s.step.number)} {e(s.step.title.capitalize())}</a></td>"
                 f"<td style='color:{_VERDICT_COLOUR[s.verdict]};white-space:nowrap'><b>{e(s.verdict)}</b></td>"
                 f"<td style='white-space:nowrap'>{e(s.when)}</td>"
                 f"<td style='text-align:left'>{' '.join(x for x in (detail, redo) if x)}</td></tr>")
    return f"<table><tr><th>Step</th><th>Verdict</th><th>When</th><th>Detail</th></tr>{body}</table>"


_HEALTH_COLOUR = {"none": "#555", "ok": "#1b5e20", "expiring": "#8a5a00", "expired": "#b00020",
                  "interrupted": "#b00020", "handed off": "#1b5e20"}


def header_html(state: SiteState) -> str:
    """Where the site stands, in one strip above every app page: the profile, each step's verdict (with the
    step to redo when it is not ok), the token's health, and when the state was read.

    Each step's full line (:attr:`StepState.line`) is its tooltip; ``data-step``/``data-verdict`` name it.
    """
    chips = []
    for s in state.steps:
        redo = f" &rarr; redo {e(s.redo.number)}" if s.redo is not None and s.verdict in ("stale", "failed") else ""
        chips.append(f"<span class='gapps-verdict' data-step='{e(s.step.number)}' data-verdict='{e(s.verdict)}' "
                     f"title='{e(s.line)}' style='color:{_VERDICT_COLOUR[s.verdict]};white-space:nowrap'>"
                     f"{e(s.step.number)} <b>{e(s.verdict)}</b>{redo}</span>")
    judged = state.health
    why = judged.detail + (f": {judged.fix}" if judged.fix else "")
    token = (f"token <code>{e(state.token.token_id)}</code> <b>{e(judged.word)}</b>" if state.token.token_id
             else "<b>no token</b>")
    provider = f" &middot; provider <code>{e(state.issuer)}</code>" if state.issuer else ""
    read = utc_clock(state.taken_at, seconds=True)
    return (f"<div class='gapps-header' style='display:flex;flex-wrap:wrap;gap:.3em 1.2em;align-items:baseline;"
            "padding:.3em .6em;margin:.2em 0;border:1px solid #ddd;border-radius:4px;background:#fafafa'>"
            f"<span>Site <b>{e(state.profile)}</b>{provider}</span>{' '.join(chips)}"
            f"<span class='gapps-token' data-health='{e(judged.word)}' title='{e(why)}' "
            f"style='color:{_HEALTH_COLOUR[judged.word]}'>{token}</span>"
            f"<small style='color:#555'>as of {e(read)}</small></div>")


def snapshot_note(taken_at: float) -> str:
    """The line a saved view opens with: when it was taken (UTC), and that running the notebook shows the live state."""
    return f"<small><i>Snapshot taken {e(utc_text(taken_at))}: run this notebook to see the live state.</i></small>"


def snapshot_html(state: SiteState, inner: str) -> str:
    """A saved view of the state, dated: what a notebook reopened without its kernel shows."""
    return f"<div class='gapps-snapshot'>{snapshot_note(state.taken_at)}{inner}</div>"


TABLE_LABEL_WIDTH = 40
"""Labels up to this long are aligned in :func:`table_lines`; a longer one (a sentence) is not padded to."""


def table_lines(rows: Sequence[tuple[str, str]]) -> list[str]:
    """Rows as aligned ``label: value`` lines (a label over :data:`TABLE_LABEL_WIDTH` does not widen the others)."""
    width = max((len(k) for k, _ in rows if len(k) <= TABLE_LABEL_WIDTH), default=0)
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
             else f"deleted: status shows no token (run {AUTHORIZE.ref} to reconnect)"),
            ("Tokeninfo with the old token", proof.provider), ("Refresh with the old refresh token", proof.refresh)]


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


COPY_BUTTON_STYLE = (
    "font:inherit;font-size:var(--jp-widgets-font-size,13px);height:var(--jp-widgets-inline-height,28px);"
    "line-height:var(--jp-widgets-inline-height,28px);padding:0 10px;border:none;border-radius:0;cursor:pointer;"
    "color:var(--jp-ui-font-color1,rgba(0,0,0,.8));background-color:var(--jp-layout-color2,#eee);"
    "vertical-align:middle;user-select:none"
)
"""The copy button's look: ipywidgets' ``.jupyter-button`` (the forms' other buttons), from the same theme
variables, so an HTML output's button matches the widgets beside it (with plain fallbacks elsewhere)."""


def copy_button(text: str, label: str = "Copy", *, title: str = "", shown: str = "") -> str:
    """A button that copies ``text`` to the clipboard in the browser (``navigator.clipboard``) and says so.

    Its label turns "Copied" once the browser confirms; where the browser refuses (no permission, not a secure
    context), it says to select the text instead. ``shown`` is the CSS selector of an element, inside the
    button's parent, to show on a click (the copied text, for a person who prefers to select it).
    """
    reveal = (f"var t=this.parentElement.querySelector({json.dumps(shown)});if(t){{t.style.display='block'}};"
              if shown else "")
    script = (f"{reveal}var b=this;navigator.clipboard.writeText({json.dumps(text)}).then("
              "function(){b.textContent='Copied';b.dataset.copied='yes'},"
              "function(){b.textContent='Not copied: select the text';b.dataset.copied='no'})")
    return (f'<button class="gapps-copy" type="button" onclick="{e(script)}" title="{e(title or label)}" '
            f'style="{COPY_BUTTON_STYLE}">{e(label)}</button>')


def device_code_html(grant: Any, *, qr: bool = True, lifetime: bool = True) -> str:
    """The card's body: the user code big (selectable, with a copy button), the link(s), the lifetime, a QR code.

    The QR code encodes ``verification_uri_complete`` when the provider sent it (no typing on the phone).
    ``lifetime=False`` leaves the lifetime out (the form shows it once, counting down: :func:`code_countdown`).
    """
    code = e(grant.user_code)
    copy = copy_button(grant.user_code, title="Copy the code")
    complete = _complete_uri(grant)
    shortcut = ""
    if complete:
        shortcut = f"<br>or open {link(complete)} (the code is filled in)"
    picture = ""
    if qr:
        picture = (f"<div>{qr_svg(complete or grant.verification_uri)}<br>"
                   "<small>Scan to open the page on a phone</small></div>")
    return (f"<div style='display:flex;gap:2em;align-items:center'><div>1. Open {link(grant.verification_uri)}"
            f"{shortcut}<br>2. Enter this code:"
            f"<div style='font:bold 2.6em monospace;letter-spacing:.12em;user-select:all'>{code}</div>{copy}"
            f"<br><small>{'Expires in ' + e(duration_text(grant.expires_in)) + '. ' if lifetime else ''}"
            "Only enter a code this runbook shows you; it works once.</small></div>"
            f"{picture}</div>")


_BUTTON = ("display:inline-block;padding:.45em 1.1em;margin:.2em 0;border-radius:4px;background:#1a73e8;"
           "color:#fff;font-weight:600;text-decoration:none")


SIGN_IN = "Open the sign-in page"
"""The desktop flow's link button: the provider's sign-in page, whichever provider it is."""


def link_html(url: str, text: str = SIGN_IN) -> str:
    """The desktop flow's link, as a button that opens a new tab (no opener, no referrer)."""
    return (f'<a class="gapps-link-button" href="{e(url)}" target="_blank" rel="noopener noreferrer" '
            f'style="{_BUTTON}">{e(text)}</a><br><small>Sign in with the account the server will use, then click '
            "Allow; that tab then says whether the runbook got the token.</small>")


def _plan_parts(flow: str) -> tuple[str, str]:
    """What step 03's start button does, around the provider's name: (before it, after it)."""
    if flow == "device":
        return "asks ", " for a device code (the device flow), to enter on its page from any device"
    return "makes a sign-in link for ", (" (the Desktop app flow): you sign in with a browser on this "
                                        "machine, which then comes back here")


def plan_line(flow: str, requested: Sequence[str], where: str, start: str) -> str:
    """What step 03 will ask for and where, before it asks: nothing is sent until ``start`` is clicked.

    Args:
        flow: ``device`` (RFC 8628) or ``desktop`` (RFC 8252 loopback with PKCE).
        requested: The scopes, full form (shown by :func:`scope_name`).
        where: The provider, as people know it ("accounts.google.com", "127.0.0.1:8765 (the emulator)").
        start: The button's label.
    """
    before, after = _plan_parts(flow)
    names = ", ".join(scope_name(s) for s in requested) or "(none)"
    return f"{start} {before}{where}{after}. Scopes: {names}. Nothing is sent before you click."


def plan_html(flow: str, requested: Sequence[str], where: str, start: str) -> str:
    """:func:`plan_line` as the form shows it: the button's label, the provider and the scopes stand out."""
    before, after = _plan_parts(flow)
    names = ", ".join(f"<code>{e(scope_name(s))}</code>" for s in requested) or "(none)"
    return (f"<div class='gapps-plan'><b>{e(start)}</b> {e(before)}<b>{e(where)}</b>{e(after)}.<br>"
            f"Scopes: {names}. <i>Nothing is sent before you click.</i></div>")


def result_lines(result: AuthResult) -> str:
    """The outcome of step 03."""
    account = result.account or "unknown"
    return f"Authorized with the {result.flow} flow: token id {result.token.token_id}, account {account}."


def result_html(result: AuthResult) -> str:
    """The outcome of step 03, as the form shows it."""
    return (f"<div style='color:#1b5e20;font-size:1.4em'><b>Authorized</b></div>token id "
            f"<code>{e(result.token.token_id)}</code>, account <b>{e(result.account or 'unknown')}</b>, "
            f"{e(result.flow)} flow")

