"""The runbook's ipywidgets views: thin forms over the ``act_*`` functions of :mod:`gapps_runbook.notebook.actions`.

Imported only when a notebook runs interactively (``import gapps_runbook`` never imports ipywidgets).
Rules (STYLE.md §8, principles 9-10):

* every button and observer callback is wrapped by :meth:`Form.guard`: ``Output.capture(clear_output=True)``
  plus one-line errors (a RunbookError shows its own text, never a traceback), and calls an ``act_*``
  function; the few that only show or hide widgets are marked :func:`ui_only`;
* background threads (device polling, countdowns) never use ``with out:``; they only set widget
  traits (``HTML.value``, ``Label.value``), which ipykernel sends from any thread;
* no widget keeps a secret: the Password box and the FileUpload are emptied right after use.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w

from . import actions, render
from .checklist import checklist_complete, checklist_items
from ..oauth.clients import CLIENT_TYPE_LABELS
from ..oauth.scopes import SERVICES

Handler = Callable[..., None]


def ui_only(fn: Handler) -> Handler:
    """Mark a callback that only shows, hides or stops something (no package call needed)."""
    fn._ui_only = True  # type: ignore[attr-defined]
    return fn


class Form:
    """A VBox with a message line and a capture Output; subclasses add widgets and callbacks.

    Attributes:
        box: The widget to display.
        message: One-line errors and notes (an HTML widget, so threads can set it).
        out: Catches anything a callback prints.
        displayed: Set once the box was displayed, so returning the form does not show it twice.
    """

    def __init__(self) -> None:
        self.message = w.HTML()
        self.out = w.Output()
        self.box = w.VBox()
        self.displayed = False

    def _ipython_display_(self) -> None:
        if not self.displayed:
            from IPython.display import display

            display(self.box)
            self.displayed = True

    def layout(self, *children: w.Widget) -> None:
        self.box.children = (*children, self.message, self.out)

    def guard(self, fn: Handler) -> Handler:
        """Wrap a callback: output captured (cleared each time), errors shown as one line."""

        @self.out.capture(clear_output=True)
        @functools.wraps(fn)
        def handler(*args: Any) -> None:
            self.message.value = ""
            try:
                fn(*args)
            except Exception as exc:  # shown, never raised into the comm handler
                self.fail(exc)

        return handler

    def on_click(self, button: w.Button, fn: Handler) -> None:
        button.on_click(self.guard(fn))

    def observe(self, widget: w.Widget, fn: Handler, name: str = "value") -> None:
        widget.observe(self.guard(fn), names=name)

    def fail(self, exc: BaseException) -> None:
        """Show an error as one line (safe from any thread)."""
        self.message.value = render.error_html(render.one_line(exc))

    def note(self, text: str) -> None:
        self.message.value = f"<i>{render.e(text)}</i>"

    def alive(self) -> bool:
        """False once the box was closed (threads stop then)."""
        return self.box.comm is not None

    def replace_previous(self) -> None:
        """Stop the background work of the form this one replaces (the same cell run again)."""
        previous = _LATEST.get(type(self))
        if previous is not None and previous is not self:
            previous.stop()
        _LATEST[type(self)] = self

    def stop(self) -> None:
        """Stop background threads; forms that start some override it."""


_LATEST: dict[type, Form] = {}


def _button(text: str, style: str = "", icon: str = "") -> w.Button:
    return w.Button(description=text, button_style=style, icon=icon, layout=w.Layout(width="auto"))


# --- 00 start here ----------------------------------------------------------------------------


class StartHereForm(Form):
    """Pick the profile (one per site) and see every step's status, with links to the notebooks."""

    def __init__(self, *, profile: str = "default", home: str = "", issuer: str = "") -> None:
        super().__init__()
        self.home, self.issuer = home, issuer
        names = sorted({*actions.act_profiles(home), profile})
        self.picker = w.Dropdown(options=names, value=profile, description="Profile")
        self.table = w.HTML()
        self.reload = _button("Reload", icon="refresh")
        self.hint = w.HTML()
        self.layout(w.HBox([self.picker, self.reload]), self.hint, self.table)
        self.observe(self.picker, self._on_pick)
        self.on_click(self.reload, self._on_reload)
        self._show(profile)

    def _on_pick(self, change: dict[str, Any]) -> None:
        self._show(change["new"])

    def _on_reload(self, _button: w.Button) -> None:
        self._show(self.picker.value)

    def _show(self, name: str) -> None:
        self.site = actions.open_site(name, self.home, self.issuer)
        rows, st, ticks = actions.act_overview(self.site)
        checklist = render.checklist_summary(ticks)
        self.hint.value = f"Set <code>profile = {render.e(repr(name))}</code> in the parameters cell of each notebook."
        self.table.value = (render.overview_html(rows) + f"<p>{render.e(checklist)}</p>"
                            + render.table_html(render.status_rows(st)))


# --- 01 console checklist ---------------------------------------------------------------------


class ConsoleChecklistForm(Form):
    """Services, flow and publishing status in; the verdict and the console checklist out."""

    def __init__(self, site: Any, *, services: Sequence[str] = ("calendar", "openid"), flow: str = "auto",
                 publishing_status: str = "", project_id: str = "") -> None:
        super().__init__()
        self.site = site
        self.services = {k: w.Checkbox(value=k in services, description=f"{s.title} ({k})", indent=False)
                         for k, s in SERVICES.items()}
        self.flow = w.ToggleButtons(options=["auto", "desktop", "device"], value=flow, description="Flow")
        self.publishing = w.Dropdown(options=[("unknown", ""), ("Testing", "testing"), ("In production", "production")],
                                     value=publishing_status, description="Publishing")
        self.project = w.Text(value=actions.act_project_id(site, project_id), description="Project id",
                              placeholder="my-project-123", continuous_update=False)
        self.verdict_html = w.HTML()
        self.items = w.VBox()
        self.summary = w.HTML()
        self.ticks: list[tuple[w.Checkbox, str]] = []
        self.layout(w.HTML("<b>Services</b>"), w.VBox(list(self.services.values())), self.flow, self.publishing,
                    self.project, self.verdict_html, w.HTML("<b>Console checklist</b>"), self.items, self.summary)
        for widget in (*self.services.values(), self.flow, self.publishing, self.project):
            self.observe(widget, self._on_input)
        self._check()

    def _on_input(self, _change: dict[str, Any]) -> None:
        self._check()

    def _check(self) -> None:
        chosen = [k for k, box in self.services.items() if box.value]
        self.verdict = actions.act_preflight(self.site, chosen, self.flow.value, self.publishing.value,
                                             self.project.value)
        self.checklist = checklist_items(self.verdict, actions.act_project_id(self.site, self.project.value))
        saved = actions.act_sync_checklist(self.site, self.checklist)
        self.ticks = []
        rows = []
        for item in self.checklist:
            box = w.Checkbox(value=saved.get(item.key, False), description=item.text, indent=False,
                             layout=w.Layout(width="auto"))
            self.observe(box, self._on_tick)
            self.ticks.append((box, item.key))
            link = f'<a href="{render.e(item.url)}" target="_blank" rel="noopener">open the page</a>'
            rows.append(w.HBox([box, w.HTML(link)]))
        self.items.children = rows
        self.verdict_html.value = render.verdict_html(self.verdict)
        self._summarize(saved)

    def _on_tick(self, change: dict[str, Any]) -> None:
        key = next(k for box, k in self.ticks if box is change["owner"])
        self._summarize(actions.act_tick(self.site, key, change["new"]))

    def _summarize(self, saved: dict[str, bool]) -> None:
        done = checklist_complete(self.verdict, self.checklist, saved)
        text = render.checklist_lines(self.checklist, saved, done)[-1]
        why = "" if self.verdict.ok else " The preflight fails: fix the errors above first."
        self.summary.value = f"<b>{render.e(text)}</b>{render.e(why)}"


# --- 02 client credentials --------------------------------------------------------------------


class ClientForm(Form):
    """Product name, client ID and secret (Password), or the client JSON (FileUpload); saved to the profile."""

    def __init__(self, site: Any, *, product_name: str = "", client_id: str = "", client_type: str = "",
                 project_id: str = "") -> None:
        super().__init__()
        self.site = site
        stored = actions.act_stored_client(site)
        kind = client_type or site.profile.load_settings().get("flow") or (stored.client_type if stored else "desktop")
        self.product = w.Text(value=product_name or (stored.product_name if stored else ""), description="Product name")
        self.client_id = w.Text(value=client_id, description="Client ID", continuous_update=False,
                                placeholder="123456789012-....apps.googleusercontent.com", layout=w.Layout(width="60%"))
        self.id_hint = w.HTML()
        self.secret = w.Password(description="Secret", placeholder="GOCSPX-...")
        labels = [(label, key) for key, label in CLIENT_TYPE_LABELS.items()]
        self.client_type = w.Dropdown(options=labels, value=kind if kind in CLIENT_TYPE_LABELS else "desktop",
                                      description="Client type")
        self.project = w.Text(value=actions.act_project_id(site, project_id), description="Project id")
        self.save = _button("Save client", "primary", "save")
        self.upload = w.FileUpload(accept=".json,application/json", multiple=False, description="Client JSON")
        self.stored = w.HTML()
        self.layout(self.product, w.HBox([self.client_id, self.id_hint]), self.secret, self.client_type, self.project,
                    self.save, w.HTML("<b>or</b> upload the JSON downloaded from the Clients page:"), self.upload,
                    self.stored)
        self.observe(self.client_id, self._on_client_id)
        self.on_click(self.save, self._on_save)
        self.observe(self.upload, self._on_upload)
        self._show(stored)

    def _on_client_id(self, change: dict[str, Any]) -> None:
        self.id_hint.value = ""
        if change["new"]:
            actions.act_validate_client_id(self.site, change["new"])
            self.id_hint.value = "&#10004; looks like a client ID"

    def _on_save(self, _button: w.Button) -> None:
        try:
            stored = actions.act_save_client(self.site, client_id=self.client_id.value, client_secret=self.secret.value,
                                        client_type=self.client_type.value, product_name=self.product.value,
                                        project_id=self.project.value)
        finally:
            self.secret.value = ""  # widget state must never hold the secret
        self._show(stored)

    def _on_upload(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        try:
            stored = actions.act_import_client_bytes(self.site, bytes(files[0]["content"]), self.client_type.value,
                                                self.product.value)
        finally:
            self.upload.value = ()  # the upload holds the secret too
        self._show(stored)

    def _show(self, stored: Any) -> None:
        self.stored.value = "<pre>" + render.e("\n".join(render.client_lines(stored))) + "</pre>"


# --- 03 authorize -----------------------------------------------------------------------------


class AuthorizeForm(Form):
    """The device-code card, or the Desktop app link with a paste-back box; polling in a thread.

    Attributes:
        thread: The current attempt's thread (tests join it).
        ticker: The countdown thread of the current device code.
    """

    def __init__(self, site: Any, requested: tuple[str, ...], *, flow: str = "auto", timeout: float = 600,
                 reauthorize: bool = False) -> None:
        super().__init__()
        self.site, self.requested, self.flow, self.timeout = site, requested, flow, timeout
        self.thread: threading.Thread | None = None
        self.ticker: threading.Thread | None = None
        self._cancel = threading.Event()
        self.pending: Any = None
        self.card = w.HTML()
        self.countdown = w.Label()
        self.status = w.Label()
        self.result = w.HTML()
        self.cancel = _button("Cancel", "warning", "stop")
        self.new_code = _button("New code", icon="refresh")
        self.paste_start = _button("Browser on another machine? Get a paste-back link")
        self.paste_link = w.HTML()
        self.paste = w.Text(placeholder="http://127.0.0.1:PORT/?state=...&code=...", description="Pasted URL",
                            layout=w.Layout(width="80%"))
        self.paste_finish = _button("Finish with the pasted URL", "primary")
        self.on_click(self.cancel, self._on_cancel)
        self.on_click(self.new_code, self._on_new)
        self.on_click(self.paste_start, self._on_paste_start)
        self.on_click(self.paste_finish, self._on_paste_finish)
        self.plan = actions.act_plan(site, requested, flow)
        paste = [self.paste_start, self.paste_link, w.HBox([self.paste, self.paste_finish])]
        if self.plan.flow != "desktop":
            paste = []
        self.layout(self.card, self.countdown, self.status, w.HBox([self.cancel, self.new_code]), *paste, self.result)
        self.new_code.description = "New code" if self.plan.flow == "device" else "Start again"
        self.replace_previous()
        current = None if reauthorize else actions.act_already_authorized(site, requested)
        if current is not None:
            table = render.table_html(render.status_rows(current, requested))
            self.result.value = "<b>Already authorized for these scopes.</b>" + table
            self.new_code.description = "Authorize again"
            self.cancel.disabled = True
        else:
            self.start()

    # attempts --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start an attempt in a background thread (after stopping the previous one)."""
        actions.act_check(self.plan)  # the preflight refuses before any network call
        self.stop()
        self._cancel = threading.Event()
        self.card.value, self.result.value, self.countdown.value = "", "", ""
        self.status.value = "starting..."
        self.cancel.disabled = False
        self.thread = threading.Thread(target=self._run, args=(self._cancel,), name="gapps-runbook-authorize",
                                       daemon=True)
        self.thread.start()

    def stop(self, wait: float = 3.0) -> None:
        """Cancel the running attempt and wait (briefly) for its thread."""
        self._cancel.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(wait)

    def _run(self, cancel: threading.Event) -> None:
        try:
            result = actions.act_authorize(
                self.site, self.requested, flow=self.flow, cancelled=lambda: cancel.is_set() or not self.alive(),
                on_device_code=lambda grant: self._show_code(grant, cancel), on_status=self._status(cancel),
                open_url=lambda url: self._show_link(url, cancel), timeout=self.timeout,
            )
        except Exception as exc:  # shown in the card; a stale attempt stays silent
            if cancel is self._cancel:
                self.card.value = ""  # a dead code or link is not left on screen (nor in widget state)
                self.status.value = "stopped"
                self.fail(exc)
        else:
            if cancel is self._cancel:
                self._done(result)
        finally:
            cancel.set()

    def _status(self, cancel: threading.Event) -> Callable[[str], None]:
        def update(text: str) -> None:
            if cancel is self._cancel:
                self.status.value = f"Status: {text}"

        return update

    def _show_code(self, grant: Any, cancel: threading.Event) -> None:
        self.card.value = render.device_code_html(grant)
        self.ticker = threading.Thread(target=self._tick, args=(grant, cancel), name="gapps-runbook-countdown",
                                       daemon=True)
        self.ticker.start()

    def _tick(self, grant: Any, cancel: threading.Event) -> None:
        """Update the countdown each second until the attempt ends or the form closes."""
        while self.alive():
            left = int(grant.expires_at() - self.site.clock.monotonic())
            text = f"Code expires in {left // 60}:{left % 60:02d}" if left > 0 else "The code expired: click New code"
            self.countdown.value = text
            if cancel.wait(1.0):
                break

    def _show_link(self, url: str, cancel: threading.Event) -> None:
        if cancel is self._cancel:
            self.card.value = render.link_html(url)

    def _done(self, result: Any) -> None:
        self.card.value = ""  # the user code (or link) disappears
        self.countdown.value = ""
        self.status.value = "Status: approved"
        self.result.value = render.result_html(result)
        self.cancel.disabled = True
        self.new_code.description = "Authorize again"

    # callbacks -------------------------------------------------------------------------------

    @ui_only
    def _on_cancel(self, _button: w.Button) -> None:
        self.stop()

    def _on_new(self, _button: w.Button) -> None:
        self.start()

    def _on_paste_start(self, _button: w.Button) -> None:
        self.stop()
        self.pending = actions.act_paste_start(self.site, self.requested)
        self.card.value = ""
        self.paste_link.value = (render.link_html(self.pending.url) + "<br><small>After Allow, the browser fails to "
                                 "load 127.0.0.1: copy that whole address from its address bar and paste it below."
                                 "</small>")

    def _on_paste_finish(self, _button: w.Button) -> None:
        if self.pending is None:
            self.note("Click the paste-back link button first.")
            return
        try:
            result = actions.act_paste_finish(self.site, self.pending, self.paste.value)
        finally:
            self.paste.value = ""  # it carries a one-time code
        self.pending = None
        self.paste_link.value = ""
        self._done(result)


# --- 04 token status --------------------------------------------------------------------------


class TokenStatusForm(Form):
    """Token id, a live expiry countdown, granted vs requested scopes; Refresh, Verify, Revoke with proof."""

    def __init__(self, site: Any) -> None:
        super().__init__()
        self.site = site
        self.table = w.HTML()
        self.expires = w.Label()
        self.checks = w.HTML()
        self.refresh = _button("Refresh now", icon="refresh")
        self.verify = _button("Verify (Calendar allowed, Gmail refused)", icon="check")
        self.revoke = _button("Revoke...", "danger", "trash")
        self.confirm = _button("Yes, revoke: the server loses API access", "danger")
        self.keep = _button("Keep it")
        self.confirm_box = w.HBox([self.confirm, self.keep], layout=w.Layout(display="none"))
        buttons = w.HBox([self.refresh, self.verify, self.revoke])
        self.layout(self.expires, self.table, buttons, self.confirm_box, self.checks)
        self.on_click(self.refresh, self._on_refresh)
        self.on_click(self.verify, self._on_verify)
        self.on_click(self.revoke, self._on_revoke)
        self.on_click(self.confirm, self._on_confirm)
        self.on_click(self.keep, self._on_keep)
        self._expires_at: float | None = None
        self._stop = threading.Event()
        self._render(actions.act_status(site))
        self.replace_previous()
        self.ticker = threading.Thread(target=self._tick, name="gapps-runbook-expiry", daemon=True)
        self.ticker.start()

    def stop(self) -> None:
        """Stop the countdown."""
        self._stop.set()

    def close(self) -> None:
        """Stop the countdown and close the widgets."""
        self.stop()
        self.box.close()

    def _render(self, st: Any) -> None:
        self._expires_at = None if st.expires_in is None else time.monotonic() + st.expires_in
        self.table.value = render.table_html(render.status_rows(st))
        self._update_expiry()

    def _update_expiry(self) -> None:
        if self._expires_at is None:
            self.expires.value = "No token"
            return
        left = max(0, int(self._expires_at - time.monotonic()))
        self.expires.value = f"Access token expires in {left} s" if left else "Access token expired: click Refresh now"

    def _tick(self) -> None:
        while self.alive() and not self._stop.wait(1.0):
            self._update_expiry()

    def _on_refresh(self, _button: w.Button) -> None:
        self._render(actions.act_refresh(self.site))
        self.note("Refreshed: a new access token with a new expiry.")

    def _on_verify(self, _button: w.Button) -> None:
        report = actions.act_verify(self.site)
        verdict = "Both results as expected." if report.ok else "Not as expected: see the fix below."
        fixes = "".join(f"<li>Fix: {render.e(c.fix)}</li>" for c in report.checks if not c.ok and c.fix)
        table = render.table_html(render.verify_rows(report))
        self.checks.value = table + f"<b>{render.e(verdict)}</b><ul>{fixes}</ul>"

    @ui_only
    def _on_revoke(self, _button: w.Button) -> None:
        self.confirm_box.layout.display = "flex"

    @ui_only
    def _on_keep(self, _button: w.Button) -> None:
        self.confirm_box.layout.display = "none"

    def _on_confirm(self, _button: w.Button) -> None:
        self.confirm_box.layout.display = "none"
        proof = actions.act_revoke(self.site)
        self._render(actions.act_status(self.site))
        title = "Revoked, and proven" if proof.ok else "Revoked, but the proof failed"
        self.checks.value = f"<b>{render.e(title)}</b>" + render.table_html(render.revoke_rows(proof))
