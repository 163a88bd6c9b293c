"""Notebook 03 (authorize): the device-code card, or the Desktop app link with a paste-back box.

Imported only when the notebook runs interactively; see :mod:`.forms_common` for the rules every form follows.
Polling and the countdown run in background threads that only set widget traits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from .. import runbook
from ..errors import Cancelled
from . import actions, render
from .forms_common import Form, button, ui_only


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
        self.cancel = button("Cancel", "warning", "stop")
        self.new_code = button("New code", icon="refresh")
        self.paste_start = button("Browser on another machine? Get a paste-back link")
        self.paste_link = w.HTML()
        self.paste = w.Text(placeholder="http://127.0.0.1:PORT/?state=...&code=...", description="Pasted URL",
                            layout=w.Layout(width="80%"))
        self.paste_finish = button("Finish with the pasted URL", "primary")
        self.on_click(self.cancel, self._on_cancel)
        self.on_click(self.new_code, self._on_new)
        self.on_click(self.paste_start, self._on_paste_start)
        self.on_click(self.paste_finish, self._on_paste_finish)
        self.private = (self.card, self.countdown, self.paste_link)  # one-time codes and links: never in the summary
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
        runbook.raise_for_preflight(self.plan)  # the preflight refuses before any network call
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
            result = runbook.authorize(
                self.site, self.requested, flow=self.flow,  # type: ignore[arg-type]
                cancelled=lambda: cancel.is_set() or not self.alive(),
                on_device_code=lambda grant: self._show_code(grant, cancel), on_status=self._status(cancel),
                open_url=lambda url: self._show_link(url, cancel), timeout=self.timeout,
            )
        except Exception as exc:  # shown in the card; a stale attempt stays silent
            if cancel is self._cancel:
                self.card.value = ""  # a dead code or link is not left on screen (nor in widget state)
                self.status.value = "stopped"
                if isinstance(exc, Cancelled):  # a cancel is no failure: say so plainly, not in red
                    kept = self.site.profile.load_token() is not None
                    self.note("Cancelled" + ("; the stored token is still in place" if kept else "") + f". Fix: {exc.fix}")
                else:
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
            self.countdown.value = render.code_countdown(grant.expires_at() - self.site.clock.monotonic())
            if cancel.wait(1.0):
                break

    def _show_link(self, url: str, cancel: threading.Event) -> None:
        if cancel is self._cancel:
            self.card.value = render.link_html(url)

    def _done(self, result: runbook.AuthResult) -> None:
        self.card.value = ""  # the user code (or link) disappears
        self.countdown.value = ""
        self.status.value = "Status: approved"
        self.result.value = render.result_html(result)
        self.cancel.disabled = True
        self.new_code.description = "Authorize again"
        self.refresh_summary()  # the saved notebook keeps "Authorized" (this runs in the polling thread)

    # callbacks -------------------------------------------------------------------------------

    @ui_only
    def _on_cancel(self, _button: w.Button) -> None:
        self.stop()

    def _on_new(self, _button: w.Button) -> None:
        self.start()

    def _on_paste_start(self, _button: w.Button) -> None:
        self.stop()
        self.pending = runbook.start_paste(self.site, self.requested)
        self.card.value = ""
        self.paste_link.value = (render.link_html(self.pending.url) + "<br><small>After Allow, the browser fails to "
                                 "load 127.0.0.1: copy that whole address from its address bar and paste it below."
                                 "</small>")

    def _on_paste_finish(self, _button: w.Button) -> None:
        if self.pending is None:
            self.note("Click the paste-back link button first.")
            return
        try:
            result = runbook.finish_paste(self.site, self.pending, self.paste.value)
        finally:
            self.paste.value = ""  # it carries a one-time code
        self.pending = None
        self.paste_link.value = ""
        self._done(result)
