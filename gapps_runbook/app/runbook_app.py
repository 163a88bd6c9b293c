"""The no-code app (``gapps-runbook app``): steps 00-05 as pages of one Voilà notebook.

One kernel serves every page: Back and Next swap the page shown in one box, so moving between steps
starts nothing. A page's form is built the first time the page is shown, so nothing runs for a page
nobody opens; the forms are the step notebooks' own (:mod:`..notebook.step00` ... :mod:`..notebook.step05`), and opening
one writes nothing (only a person's action does).

Every page is live: above it, a header rendered from the site's state (:func:`views.render.header_html`
of :func:`runbook.state.read`) is read again each time a page is shown and after every action of any
page (:attr:`Form.after_action`, also when a step 03 attempt ends in its thread). Each form says what
it was built from (``built_on``, read again by its ``basis()``: step 01's choices, the stored client and
token): when that changed (on another page, in another tab, by the CLI) the page's form is built again;
otherwise its ``reread()`` re-reads the stored state, starting no network call and writing nothing. A
second tab on the same profile is another kernel: a form re-reads the token before acting on it and
refuses one that changed there (:data:`..notebook.step04.TOKEN_CHANGED`).

The page and the profile are in the page's address (``?page=03&profile=site-b``): Voilà passes its query
string to the kernel as ``QUERY_STRING``, so a reload opens the same page on the same profile (without one,
page 00 on ``gapps-runbook app --profile``, :data:`PROFILE_ENV`). The picker on page 00 switches the profile
for every later page. The address follows the app (:mod:`gapps_runbook.app.app_nav`, the HTML History
API): Back and Next add a history entry, a profile switch replaces the current one, and the browser's
Back and Forward move between the app's pages. While step 03 waits for a person, leaving the page
(reload, close, another address) asks first: leaving ends the kernel and its attempt, and the loopback
listener's port is kept answering by the app's server with a page that says the attempt was abandoned
(:mod:`gapps_runbook.oauth.loopback_listener`). The issuer comes from ``gapps-runbook app``
(:data:`ISSUER_ENV`); one in the URL is taken only when it is a loopback address (the practice emulator),
since a link must not point a site's client secret at another server. No secret is read from the URL.
"""

from __future__ import annotations

import html
import os
import re
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import InputError
from ..oauth import loopback_listener
from ..oauth.endpoints import LOOPBACK_HOSTS
from ..profile.files import check_profile_name
from ..steps import AUTHORIZE, STEPS
from ..notebook.display import is_interactive
from .app_nav import ASK_CLASS, NAV_CLASS, NavMode

PROFILE_ENV = "GAPPS_RUNBOOK_APP_PROFILE"
"""The profile ``gapps-runbook app --profile`` opens (the URL's ``?profile=`` wins)."""
ISSUER_ENV = "GAPPS_RUNBOOK_APP_ISSUER"
"""The issuer ``gapps-runbook app`` was given (``--issuer``, ``--emulator``), "" for the profile's own."""
_STEP_LINK = re.compile(r"<a href='[0-9]{2}_[a-z_]+\.ipynb'>(.*?)</a>")


def app_choices(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Profile, runbook home and issuer for the app: the URL's query string, else the app's options.

    Args:
        environ: The kernel's environment (Voilà adds ``QUERY_STRING``).

    Returns:
        ``{"profile", "home", "issuer"}``.

    Raises:
        InputError: The profile name is not a valid one, or the URL's issuer is not on loopback.
    """
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
    profile = (query.get("profile") or [environ.get(PROFILE_ENV) or "default"])[0]
    issuer = environ.get(ISSUER_ENV, "")
    asked = (query.get("issuer") or [""])[0]
    if asked and asked != issuer:
        parts = urllib.parse.urlsplit(asked)
        if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS:
            raise InputError("an issuer in the app's URL is taken only on loopback (the practice emulator)",
                             fix="start the app with `gapps-runbook --issuer URL app` instead")
        issuer = asked
    return {"profile": check_profile_name(profile), "home": environ.get("GAPPS_RUNBOOK_HOME", ""), "issuer": issuer}


def app_page(environ: Mapping[str, str] = os.environ) -> int:
    """The page the URL's query string names (``?page=03``), else page 00."""
    return page_index((urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).get("page") or [""])[0])


def page_index(number: str) -> int:
    """The page of step ``number`` ("03", or "3"); 0 (page 00) for anything else."""
    return next((i for i, step in enumerate(STEPS) if number.isdigit() and int(number) == int(step.number)), 0)


def _start_here(app: RunbookApp) -> Any:
    from ..views import render
    from ..notebook.step00 import StartHereForm

    class AppStartHere(StartHereForm):
        """Page 00: the same form; its profile carries to every later page, its step links are plain text."""

        def _show(self, name: str) -> None:
            super()._show(name)
            self.table.value = _STEP_LINK.sub(r"\1", self.table.value)  # pages, not notebooks: Next goes there
            self.hint.value = f"The next pages work on profile <b>{render.e(name)}</b> (one profile per site)."
            app.use_profile(name)

    return AppStartHere(profile=app.profile, home=app.home, issuer=app.issuer, intro=True)


def _checklist(app: RunbookApp) -> Any:
    from ..notebook.step01 import ConsoleChecklistForm

    return ConsoleChecklistForm(app.site())


def _client(app: RunbookApp) -> Any:
    from ..notebook.step02 import ClientForm

    return ClientForm(app.site())


def _authorize(app: RunbookApp) -> Any:
    from .. import runbook
    from ..notebook.step03 import AuthorizeForm

    site = app.site()
    return AuthorizeForm(site, runbook.requested_scopes(site), flow="auto")


def _token_status(app: RunbookApp) -> Any:
    from ..notebook.step04 import TokenStatusForm

    return TokenStatusForm(app.site(), plain=True)


def _backup_restore(app: RunbookApp) -> Any:
    from ..notebook.step05 import BackupRestoreForm

    return BackupRestoreForm(app.site().profile.store, profile=app.profile, issuer=app.issuer)


PAGES: tuple[Callable[[RunbookApp], Any], ...] = (_start_here, _checklist, _client, _authorize, _token_status,
                                                   _backup_restore)
"""One builder per step (:data:`gapps_runbook.steps.STEPS`, in order): the step's form, built on first show."""


class RunbookApp:
    """The pages, Back and Next, and the forms built so far (one kernel for all of them).

    Attributes:
        box: The widget Voilà shows.
        forms: Page index -> its form, for the pages shown so far (for the current profile).
        index: The page shown.
    """

    def __init__(self, *, profile: str, home: str = "", issuer: str = "") -> None:
        import ipywidgets as w

        from ..notebook.forms_common import button

        self.profile, self.home, self.issuer = profile, home, issuer
        self.forms: dict[int, Any] = {}
        self._site: Any = None
        self.index = 0
        self.heading = w.HTML()
        self.header = w.HTML()
        self.trail = w.HTML()
        self.body = w.VBox(layout=w.Layout(min_height="12em"))
        self.back = button("Back", icon="arrow-left")
        self.next = button("Next", "primary", "arrow-right")
        self.back.on_click(lambda _b: self.show(self.index - 1, "push"))
        self.next.on_click(lambda _b: self.show(self.index + 1, "push"))
        self.nav = w.HTML(layout=w.Layout(display="none"))
        self.nav.add_class(NAV_CLASS)
        self.ask = w.Text(layout=w.Layout(display="none"))
        self.ask.add_class(ASK_CLASS)
        self.ask.observe(lambda change: self.follow_address(change["new"]), names="value")
        self._mode: NavMode = "replace"
        self._waiting = False
        self.box = w.VBox([self.heading, self.header, self.trail, self.body, w.HBox([self.back, self.next]),
                           self.nav, self.ask])
        self.box.add_class("gapps-app")
        loopback_listener.announce_for(profile)

    def site(self) -> Any:
        """The current profile's site (opened once per profile)."""
        from ..notebook.actions import open_site

        if self._site is None or self._site.profile.name != self.profile:
            self._site = open_site(self.profile, self.home, self.issuer)
        return self._site

    def use_profile(self, name: str, *, picked: bool = True) -> None:
        """Switch every later page to profile ``name``: forms built for the old one are stopped and dropped.

        Args:
            name: The profile.
            picked: True when page 00's picker chose it (its form stays, the address is rewritten); False
                when the address did (the browser's Back or Forward): page 00 is built again for it.
        """
        if name == self.profile:
            return
        self.profile = name
        loopback_listener.announce_for(name)
        for index in [i for i in self.forms if i != 0 or not picked]:
            self.forms.pop(index).stop()
        if picked:
            self._mode = "replace"
        self._render_chrome()
        self.render_header()

    def follow_address(self, query: str) -> None:
        """The browser moved to another of the app's history entries: show its page on its profile.

        Args:
            query: That entry's query string (``page=03&profile=site-b&n=7``; ``n`` tells two moves apart).
        """
        from ..views import render

        if not query:
            return
        asked = urllib.parse.parse_qs(query)
        try:
            profile = check_profile_name((asked.get("profile") or [self.profile])[0])
        except InputError as exc:  # an address edited by hand: its one line, where the page goes
            self.body.children = (_error_line(render.error_html(render.one_line(exc))),)
            return
        self.use_profile(profile, picked=False)
        self.show(page_index((asked.get("page") or [""])[0]), "keep")

    def show(self, index: int, mode: NavMode = "replace") -> None:
        """Show page ``index`` (0-5) up to date: its form built the first time and whenever what it was built
        from changed, else refreshed from the stored state; a failure is one line on the page.

        Args:
            index: The page.
            mode: How the page's address follows (:data:`NavMode`).
        """
        from ..views import render

        self.index = max(0, min(index, len(PAGES) - 1))
        self._mode = mode
        self._render_chrome()
        try:
            self._bring_up_to_date(self.index)
            if self.index not in self.forms:
                self.body.children = ()
                form = PAGES[self.index](self)
                form.after_action = (self.render_header,)
                self.forms[self.index] = form
        except Exception as exc:  # one line with its fix, never a traceback
            self.body.children = (_error_line(render.error_html(render.one_line(exc))),)
            return
        finally:
            self.render_header()  # after the form: building 00 may switch the profile
        self.body.children = (self.forms[self.index].box,)

    def _bring_up_to_date(self, index: int) -> None:
        """Refresh page ``index``'s form from the stored state, or drop it when what it was built from changed."""
        form = self.forms.get(index)
        if form is None:
            return
        if form.basis() == form.built_on:
            form.reread()
            return
        del self.forms[index]
        form.stop()
        form.box.close()  # its threads end with it (Form.alive)

    def render_header(self) -> None:
        """The header from the site's state, read now (after any action, from any thread)."""
        from ..runbook import state
        from ..views import render

        try:
            read = state.read(self.site())
            self._waiting = read.of(AUTHORIZE).verdict == "in progress"
            self.header.value = render.header_html(read)
        except Exception as exc:  # a damaged profile: its one line, where the header goes
            self._waiting = False
            self.header.value = render.error_html(render.one_line(exc))
        self._render_nav()

    def _render_nav(self) -> None:
        """Where the app is, for the page's script (:data:`.app_nav.NAV_SCRIPT`): page, profile, how the address
        follows, whether step 03 waits."""
        self.nav.value = (f"<span data-page='{STEPS[self.index].number}' data-profile='{html.escape(self.profile)}' "
                          f"data-mode='{self._mode}' data-waiting='{int(self._waiting)}'></span>")

    def _render_chrome(self) -> None:
        from ..views.render import e

        step = STEPS[self.index]
        self.heading.value = f"<h2 style='margin:0.2em 0'>{e(step.number)} {e(step.title.capitalize())}</h2>"
        self.trail.value = " &rsaquo; ".join(
            f"<b>{e(s.number)} {e(s.title)}</b>" if i == self.index else f"{e(s.number)} {e(s.title)}"
            for i, s in enumerate(STEPS))
        self.back.disabled = self.index == 0
        self.next.disabled = self.index == len(PAGES) - 1


def main(environ: Mapping[str, str] = os.environ) -> Any:
    """The app notebook's one call: page 00 in Voilà; elsewhere (papermill, nbval) one line and nothing else."""
    from IPython.display import display

    from ..views import render

    if not is_interactive():
        print("This notebook is the no-code app: open it with `gapps-runbook app`.")
        return None
    try:
        choices = app_choices(environ)
    except InputError as exc:
        from ..notebook.display import show

        show(render.one_line(exc), render.error_html(render.one_line(exc)))
        return None
    app = RunbookApp(**choices)
    app.show(app_page(environ))
    display(app.box)
    return None


def _error_line(text: str) -> Any:
    import ipywidgets as w

    return w.HTML(text)
