"""Notebook 03 (authorize): the device-code card, or the Desktop app link with a paste-back box.

Imported only when the notebook runs interactively; see :mod:`.forms_common` for the rules every form follows.
Polling, the listener and the countdown run in background threads that only set widget traits.

Opening the form sends nothing: it says what it will ask for and where (:func:`render.plan_html`: the flow,
the scopes by their one name, the provider's host, "the emulator" when practising) and waits for a click on
its start button ("Ask for a code", "Make the sign-in link"). What the card says matches what is happening:
one countdown with the absolute UTC time ("Waiting for approval in the browser (9 min 32 s left, until
23:41 UTC)", or the device code's expiry); the Desktop link is a button that opens a new tab; paste-back is
part of the same attempt ("Approved on another computer? Paste the address the browser ended on"), never a
switch that cancels it; each new attempt clears the last one's results; the buttons follow the state
(:meth:`AuthorizeForm._state`); the paste box's errors are shown beside it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from .. import runbook
from ..errors import Cancelled, InputError
from ..steps import AUTHORIZE
from ..views import render
from . import actions
from ..oauth.endpoints import LOOPBACK_HOSTS
from .forms_common import Form, button, ui_only

PASTE_PROMPT = ("<b>Approved on another computer?</b> Paste the address the browser ended on, from its address bar. "
                "It starts with <code>http://127.0.0.1</code>, and that page may not load there: that is expected.")


def provider_name(site: Any) -> str:
    """The provider as people know it: its host, "(the emulator)" added on loopback (practice); no network call."""
    import urllib.parse

    issuer = str(site.issuer or site.profile.load_settings().get("issuer") or site.endpoints.issuer)
    parts = urllib.parse.urlsplit(issuer)
    host = parts.netloc or issuer
    return f"{host} (the emulator)" if parts.hostname in LOOPBACK_HOSTS else host


class AuthorizeForm(Form):
    """The device-code card, or the Desktop app link with a paste-back box; polling in a thread.

    Attributes:
        thread: The current attempt's thread (tests join it).
        ticker: The countdown thread of the current attempt (device code or desktop wait).
    """

    def __init__(self, site: Any, requested: tuple[str, ...], *, flow: str = "auto", timeout: float = 600,
                 reauthorize: bool = False) -> None:
        super().__init__()
        self.site, self.requested, self.flow, self.timeout = site, requested, flow, timeout
        self.thread: threading.Thread | None = None
        self.ticker: threading.Thread | None = None
        self._cancel = threading.Event()
        self._ticking = threading.Lock()  # a countdown line is never written after its attempt ended
        self._pasted: list[str] = []
        self.link = ""
        self.phase = "stopped"  # :meth:`_state`'s last state
        self.card = w.HTML()
        self.countdown = w.Label()
        self.status = w.Label()
        self.result = w.HTML()
        for line in (self.card, self.countdown, self.status, self.result):
            line.layout.display = "none"  # shown once they say something (:meth:`_put`)
        self.cancel = button("Cancel", "warning", "stop")
        self.new_code = button("New code", "primary")
        self.paste = w.Text(placeholder="http://127.0.0.1:PORT/?state=...&code=...",
                            layout=w.Layout(flex="1 1 auto", width="auto", min_width="12em"))
        self.paste_finish = button("Finish with this address", "primary")
        self.paste_error = w.HTML(layout=w.Layout(display="none"))
        self.paste_box = w.VBox([w.HTML(PASTE_PROMPT), w.HBox([self.paste, self.paste_finish],
                                 layout=w.Layout(width="100%")), self.paste_error], layout=w.Layout(width="100%"))
        self.on_click(self.cancel, self._on_cancel)
        self.on_click(self.new_code, self._on_new)
        self.on_click(self.paste_finish, self._on_paste_finish)
        self.private = (self.card, self.countdown, self.paste)  # one-time codes and links: never in the summary
        self.plan = actions.act_plan(site, requested, flow)
        runbook.raise_for_preflight(self.plan)  # a plan that cannot work is refused at once, before any click
        self.provider = provider_name(site)
        self.intro = w.HTML()  # what the start button asks, and where (:meth:`_state` names the button)
        paste = [self.paste_box] if self.plan.flow == "desktop" else []
        self.layout(self.intro, self.card, self.countdown, self.status, w.HBox([self.new_code, self.cancel]),
                    self.message, *paste, self.result)
        self.replace_previous()
        self.built_on: tuple[object, ...] = ()
        self.built_on = self.basis()
        current = None if reauthorize else runbook.state.already_authorized(site, requested)
        if current is not None:
            self._show_current(current)
        else:
            self._state("ready")  # nothing is asked of the provider before a click

    @property
    def start_label(self) -> str:
        """The start button's words: what a click asks for."""
        return "Ask for a code" if self.plan.flow == "device" else "Make the sign-in link"

    def basis(self) -> tuple[object, ...]:
        """What the form is built from: the scopes asked for, step 01's flow and scopes, the stored client and
        token. A token that changes while an attempt waits does not count: rebuilding would cancel the attempt."""
        facts = self.site.facts()
        token = self.built_on[-1] if self.phase in ("waiting", "finishing") and self.built_on else facts["token_id"]
        return (self.requested, facts["flow"], facts["scopes"], facts["client_id"], facts["client_type"], token)

    def reread(self) -> None:
        """Show the stored state again (the app calls it each time the page is shown): no attempt starts.

        A token shown as current that no longer is gives way to step 03's verdict, read from the state."""
        if self.phase != "authorized" or runbook.state.already_authorized(self.site, self.requested) is not None:
            return
        line = runbook.state.read(self.site).of(AUTHORIZE).line
        self._put(self.result, f"<b>{render.e(line)}</b>")
        self._state("stopped")

    # states ----------------------------------------------------------------------------------

    @staticmethod
    def _put(widget: w.Widget, value: str) -> None:
        """Set a line of the card; an empty one takes no room (no gap above the buttons). Safe from threads."""
        widget.value = value
        widget.layout.display = None if value else "none"

    def _state(self, state: str) -> None:
        """Buttons and boxes for ``state``: "ready" (nothing asked yet), "waiting", "finishing" (a pasted address),
        "authorized" or "stopped"."""
        self.phase = state
        waiting = state in ("waiting", "finishing")
        self.cancel.disabled = not waiting
        self.cancel.layout.display = None if waiting else "none"  # nothing to cancel: not shown at all
        self.paste_box.layout.display = None if state == "waiting" else "none"
        self.intro.layout.display = "none" if waiting else None  # what a click asks: said until one is made
        self.paste_finish.disabled = state != "waiting"
        again = state == "authorized" or (state == "stopped" and self.result.value != "")
        self.new_code.description = ("Authorize again" if again else self.start_label if state == "ready"
                                     else "New code" if self.plan.flow == "device" else "Start again")
        self.new_code.button_style = "" if waiting else "primary"  # the next thing to click stands out
        self.intro.value = render.plan_html(self.plan.flow, self.plan.scopes, self.provider, self.new_code.description)

    def _show_current(self, current: Any) -> None:
        """The stored token already covers the scopes: show it (Authorize again starts a new attempt)."""
        self._put(self.result, "<b>Already authorized for these scopes.</b>" + render.table_html(
            render.status_rows(current, self.requested)))
        self._state("authorized")

    # attempts --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start an attempt in a background thread (after stopping the previous one); old results go."""
        runbook.raise_for_preflight(self.plan)  # the preflight refuses before any network call
        self.stop()
        self._cancel, self._pasted, self.link = threading.Event(), [], ""
        for line in (self.card, self.result, self.countdown, self.paste_error):
            self._put(line, "")
        self.paste.value = self.message.value = ""
        waiting = "Asking for a code..." if self.plan.flow == "device" else "Preparing the sign-in link..."
        self._put(self.status, waiting)
        self._state("waiting")
        pasted = self._pasted
        self.thread = threading.Thread(target=self._run, args=(self._cancel, pasted), name="gapps-runbook-authorize",
                                       daemon=True)
        self.thread.start()

    def stop(self, wait: float = 3.0) -> None:
        """Cancel the running attempt and wait (briefly) for its thread."""
        self._cancel.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(wait)

    def _run(self, cancel: threading.Event, pasted: list[str]) -> None:
        try:
            result = runbook.authorize(
                self.site, self.requested, flow=runbook.as_flow(self.flow),
                cancelled=lambda: cancel.is_set() or not self.alive(),
                on_device_code=lambda grant: self._show_code(grant, cancel), on_status=self._status(cancel),
                open_url=lambda url: self._show_link(url, cancel), timeout=self.timeout,
                pasted=lambda: pasted[0] if pasted else None,
            )
        except Exception as exc:  # shown in the card; a stale attempt stays silent
            self._end(cancel)
            if cancel is self._cancel:
                self._stopped(exc)
        else:
            self._end(cancel)
            if cancel is self._cancel:
                self._done(result)
        finally:
            cancel.set()

    def _end(self, cancel: threading.Event) -> None:
        """Mark the attempt over; after this its countdown writes nothing more (the card is cleared next)."""
        with self._ticking:
            cancel.set()

    def _stopped(self, exc: Exception) -> None:
        """The attempt ended without a token: say why; a cancel is no failure (not in red)."""
        for line in (self.card, self.countdown, self.status):  # a dead code or link is not left on screen
            self._put(line, "")
        current = runbook.state.already_authorized(self.site, self.requested)
        if isinstance(exc, Cancelled):
            if current is not None:
                self._show_current(current)
                self.note("Cancelled. The token already stored is still in place and step 03 stays ok.")
                self.refresh_summary()
                self.acted()
                return
            self.note(f"Cancelled. Fix: {exc.fix}")
        else:
            self.fail(exc)
            if current is not None:  # a failed new attempt leaves the good token in place: the state says so
                self._show_current(current)
                line = runbook.state.read(self.site).of(AUTHORIZE).line
                self.message.value += f"<i>{render.e(line)}</i>"
                self.refresh_summary()
                self.acted()
                return
        self._state("stopped")
        self.refresh_summary()
        self.acted()

    def _status(self, cancel: threading.Event) -> Callable[[str], None]:
        def update(text: str) -> None:
            if cancel is self._cancel:
                self._put(self.status, f"Status: {text}")

        return update

    def _show_code(self, grant: Any, cancel: threading.Event) -> None:
        self._put(self.card, render.device_code_html(grant, lifetime=False))  # the countdown says it, once
        self._put(self.status, "")
        self._count(cancel, grant.expires_at(), render.code_countdown)
        self.acted()  # the attempt now waits for the person: the app's header says "in progress"

    def _show_link(self, url: str, cancel: threading.Event) -> None:
        if cancel is not self._cancel:
            return
        self.link = url
        self._put(self.card, render.link_html(url))
        self._put(self.status, "")
        self._count(cancel, self.site.clock.monotonic() + self.timeout, render.waiting_line)
        self.acted()  # the attempt now waits for the person: the app's header says "in progress"

    def _count(self, cancel: threading.Event, deadline: float, line: Callable[[float, float], str]) -> None:
        """Start the attempt's one countdown: ``line(seconds_left, until_epoch)`` each second."""
        until = self.site.clock.time() + (deadline - self.site.clock.monotonic())
        self.ticker = threading.Thread(target=self._tick, args=(cancel, deadline, until, line),
                                       name="gapps-runbook-countdown", daemon=True)
        self.ticker.start()

    def _tick(self, cancel: threading.Event, deadline: float, until: float,
              line: Callable[[float, float], str]) -> None:
        """Update the countdown each second until the attempt ends or the form closes."""
        while self.alive():
            with self._ticking:
                if cancel.is_set():
                    break
                self._put(self.countdown, line(deadline - self.site.clock.monotonic(), until))
            if cancel.wait(1.0):
                break

    def _done(self, result: runbook.AuthResult) -> None:
        for line in (self.card, self.countdown, self.status):  # the user code (or link) disappears
            self._put(line, "")
        self._put(self.result, render.result_html(result))
        self._state("authorized")
        self.built_on = self.basis()  # the form shows the token it stored
        self.refresh_summary()  # the saved notebook keeps "Authorized" (this runs in the polling thread)
        self.acted()

    # callbacks -------------------------------------------------------------------------------

    @ui_only
    def _on_cancel(self, _button: w.Button) -> None:
        self.stop()

    def _on_new(self, _button: w.Button) -> None:
        self.start()

    def _on_paste_finish(self, _button: w.Button) -> None:
        address, self.paste.value = self.paste.value.strip(), ""  # it carries a one-time code
        self._put(self.paste_error, "")
        try:
            runbook.check_pasted(self.link, address)
        except InputError as exc:  # beside the box; the attempt goes on waiting
            self._put(self.paste_error, render.error_html(render.one_line(exc)))
            return
        self._pasted.append(address)  # the attempt's thread finishes with it (within half a second)
        self._put(self.status, "Finishing with the pasted address...")
        self._state("finishing")
