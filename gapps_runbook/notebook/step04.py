"""Notebook 04 (token status): token id, a live expiry countdown, scopes; Refresh, Verify, Revoke with proof.

Imported only when the notebook runs interactively; see :mod:`.forms_common` for the rules every form follows.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import ipywidgets as w

from .. import runbook
from ..errors import RunbookError
from ..oauth.clock import duration_text, utc_clock
from ..profile.files import TOKEN_FILE
from ..profile.handoff import exports_folder, form_target
from ..views import render
from . import actions
from ..views.lastmile import handoff_lines, token_file_lines
from .forms_common import Form, button, ui_only

TOKEN_CHANGED = "the token changed in another window; the page now shows the current one"
"""The one line of a form that refuses to act on a token another window (kernel, process) revoked or replaced."""
COPY_HINT = "Copies the steps and the token's state for the ticket: no secret in it."
"""The hint beside 04's Copy button."""
TOKEN_FOLLOWED = "The stored token changed elsewhere (revoked or replaced); the page now shows the current one."
"""The note when the countdown finds the token it counts for gone (another page, tab or process changed it)."""


class TokenStatusForm(Form):
    """Token id, a live expiry countdown, granted vs requested scopes; Refresh, Verify, Revoke with proof."""

    def __init__(self, site: Any, *, plain: bool = False) -> None:
        super().__init__()
        self.site, self.plain = site, plain  # plain: the app's page (no code on it: views.lastmile)
        self.table = w.HTML()
        self.expires = w.Label()
        self.ticking = (self.expires,)  # the countdown: its ticks alone do not re-send the summary
        self.checks = w.HTML()
        self.refresh = button("Refresh now", icon="refresh")
        self.verify = button("Verify: call the APIs", icon="check")
        self.revoke = button("Revoke...", "danger", "trash")
        self.confirm = button("Yes, revoke: the server loses API access", "danger")
        self.keep = button("Keep it")
        self.confirm_box = w.HBox([self.confirm, self.keep], layout=w.Layout(display="none"))
        buttons = w.HBox([self.refresh, self.verify, self.revoke])
        self.where = w.HTML()
        self.copy = w.HTML()  # copied in the browser (the clipboard is the browser's): render.copy_button
        self.copy.add_class("gapps-copy-summary")
        self.handoff_to = w.Text(value=str(exports_folder(site.profile.store.home) / f"{site.profile.name}-token.json"),
                                 placeholder="/etc/app/google-token.json", description="Hand off to",
                                 layout=w.Layout(width="60%"))  # a name alone: under the runbook home (form_target)
        self.handoff = button("Hand off", icon="share")
        self.handed = w.HTML()
        self.layout(self.expires, self.table, buttons, self.confirm_box, self.message, self.checks, self.where,
                    w.HBox([self.handoff_to, self.handoff]), self.handed, self.copy)  # messages beside their buttons
        self.private = (self.copy,)  # a button and its text: the saved summary shows the rest
        self.on_click(self.handoff, self._on_handoff, beside=self.handed)
        self.on_click(self.refresh, self._on_refresh)
        self.on_click(self.verify, self._on_verify)
        self.on_click(self.revoke, self._on_revoke)
        self.on_click(self.confirm, self._on_confirm)
        self.on_click(self.keep, self._on_keep)
        self._expires_at: float | None = None
        self._expires_wall: float | None = None
        self._stop = threading.Event()
        self._acting = threading.Lock()  # the countdown does not take an action's own change for another window's
        self.shown_token: str | None = None
        self._seen: tuple[int, int, int] | None = None
        self._render(runbook.status(site))
        self.built_on = self.basis()
        self.replace_previous()
        self.ticker = threading.Thread(target=self._tick, name="gapps-runbook-expiry", daemon=True)
        self.ticker.start()

    def basis(self) -> tuple[object, ...]:
        """What the form is built from: nothing that :meth:`reread` does not read again."""
        return ()

    def reread(self) -> None:
        """Show the stored token again (the app calls it each time the page is shown); no network call."""
        with self._acting:
            st = runbook.status(self.site)
            if st.token_id != self.shown_token:
                self.checks.value = ""  # results about another token
            self._render(st)

    def check_token(self) -> None:
        """Before acting: re-read the stored token; refuse (and show the current one) when it is not the one shown.

        Raises:
            RunbookError: The token shown was revoked or replaced in another window (another kernel or process).
        """
        st = runbook.status(self.site)
        if st.token_id != self.shown_token:
            self.checks.value = self.handed.value = ""
            self._render(st)
            raise RunbookError(TOKEN_CHANGED)

    def stop(self) -> None:
        """Stop the countdown."""
        self._stop.set()

    def close(self) -> None:
        """Stop the countdown and close the widgets."""
        self.stop()
        self.box.close()

    def _token_file(self) -> tuple[int, int, int] | None:
        """The token file's identity and last change (a stat: cheap enough for every second), None without one."""
        try:
            found = self.site.profile.file(TOKEN_FILE).stat()
        except FileNotFoundError:
            return None
        return found.st_ino, found.st_mtime_ns, found.st_size

    def acted(self) -> None:
        """After every action: the summary a click copies is the current one (steps and token as stored now)."""
        self._summary()
        super().acted()

    def _summary(self) -> None:
        """The Copy button's text, read again; a summary shown before is hidden (it may no longer hold)."""
        text = "\n".join(actions.act_summary(self.site))
        self.copy.value = (render.copy_button(text, "Copy summary for the ticket", shown="pre")
                           + f" <small>{render.e(COPY_HINT)}</small>"
                           f"<pre style='display:none;white-space:pre-wrap'>{render.e(text)}</pre>")

    def _render(self, st: runbook.TokenStatus) -> None:
        if st.token_id != self.shown_token:  # outputs about another token no longer hold
            self.handed.value = ""
        self._seen = self._token_file()
        self.shown_token = st.token_id
        self._expires_at = None if st.expires_in is None else time.monotonic() + st.expires_in
        self._expires_wall = None if st.expires_in is None else time.time() + st.expires_in
        rows = [row for row in render.status_rows(st) if row[0] != "Expires in"]  # the countdown above says it, live
        self.table.value = render.table_html(rows)
        self.has_token = st.token_id is not None
        for widget in (self.refresh, self.verify, self.revoke, self.handoff):  # nothing to act on without a token
            widget.disabled = not self.has_token
        where = token_file_lines(self.site.profile.name, self.site.profile.file(TOKEN_FILE), plain=self.plain)
        self.where.value = "<br>".join(render.e(line) for line in where) if self.has_token else ""
        self._update_expiry()
        self._summary()

    def _update_expiry(self) -> None:
        if self._expires_at is None:
            self.expires.value = "No token"
            return
        left = max(0, int(self._expires_at - time.monotonic()))
        until = f" (until {utc_clock(self._expires_wall)})" if self._expires_wall is not None else ""
        self.expires.value = (f"Access token expires in {duration_text(left)}{until}" if left
                              else "Access token expired: click Refresh now")

    def _tick(self) -> None:
        while self.alive() and not self._stop.wait(1.0):
            if not self._acting.acquire(blocking=False):  # an action of this form re-renders by itself
                self._update_expiry()
                continue
            try:
                self._follow()
            finally:
                self._acting.release()

    def _follow(self) -> None:
        """One second: the countdown, unless the token file changed: a new token (step 03) is shown; a token
        revoked or replaced elsewhere gives way to the current one, its countdown stopped (:data:`TOKEN_FOLLOWED`)."""
        if self._token_file() == self._seen:
            self._update_expiry()
            return
        shown, st = self.shown_token, runbook.status(self.site)
        if st.token_id != shown:
            self.checks.value = self.handed.value = ""
        self._render(st)
        if shown is not None and st.token_id != shown:
            self.note(TOKEN_FOLLOWED)
        self.acted()

    def _on_refresh(self, _button: w.Button) -> None:
        with self._acting:
            self.check_token()
            self.checks.value = ""  # results about the old access token are stale now
            runbook.refresh(self.site)
            self._render(runbook.status(self.site))
        self.note("Refreshed: a new access token with a new expiry.")

    def _on_verify(self, _button: w.Button) -> None:
        with self._acting:
            self.check_token()
            self.checks.value = render.verify_html(runbook.verify(self.site))

    @ui_only
    def _on_revoke(self, _button: w.Button) -> None:
        self.confirm_box.layout.display = "flex"

    @ui_only
    def _on_keep(self, _button: w.Button) -> None:
        self.confirm_box.layout.display = "none"

    def _on_confirm(self, _button: w.Button) -> None:
        self.confirm_box.layout.display = "none"
        with self._acting:
            self.check_token()
            proof = runbook.revoke_and_prove(self.site)
            self._render(runbook.status(self.site))
        title = "Revoked, and proven" if proof.ok else "Revoked, but the proof failed"
        self.checks.value = f"<b>{render.e(title)}</b>" + render.table_html(render.revoke_rows(proof))

    def _on_handoff(self, _button: w.Button) -> None:
        self.handed.value = ""
        with self._acting:
            self.check_token()
            self.handoff_to.value = form_target(self.site.profile.store.home, self.handoff_to.value)
            result = actions.act_handoff(self.site, self.handoff_to.value)
        self.handed.value = "<br>".join(render.e(line) for line in handoff_lines(result))
