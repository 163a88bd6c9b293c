"""Notebook 00 (start here): the profile picker and every step's status, as an ipywidgets form.

Imported only when the notebook runs interactively; see :mod:`.forms_common` for the rules every form follows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as w

from .. import runbook
from ..runbook import state
from ..views import render
from . import actions
from .forms_common import Form, button, lab_links

INTRO = (
    "This runbook connects the server you installed to Google Workspace with an OAuth 2.0 token a person approves.",
    "01 prepares the Google Cloud console, 02 stores the OAuth client, 03 gets the token, 04 proves what it opens, "
    "05 backs it up; one profile per site.",
    "Calendar and Contacts use the Desktop app flow (you approve in a browser on this machine): Google's device "
    "flow, for TVs and limited-input devices, refuses their scopes.",
)
"""What the app's first page says first (the notebook's own introduction says it at more length). The device
flow's allowed scopes: https://developers.google.com/identity/protocols/oauth2/limited-input-device#allowedscopes"""


class StartHereForm(Form):
    """Pick the profile (one per site) and see every step's status, with links to the notebooks; with ``intro``
    (the app's first page), :data:`INTRO` above them."""

    def __init__(self, *, profile: str = "default", home: str = "", issuer: str = "", intro: bool = False) -> None:
        super().__init__()
        self.home, self.issuer = home, issuer
        names = sorted({*runbook.ProfileStore(Path(home) if home else None).names(), profile})
        self.picker = w.Dropdown(options=names, value=profile, description="Profile")
        self.table = w.HTML()
        self.reload = button("Reload", icon="refresh")
        self.hint = w.HTML()
        self._rereading = False  # new options reset the picker's value: that is no pick
        lines = "".join(f"<p style='margin:0.2em 0'>{render.e(line)}</p>" for line in INTRO) if intro else ""
        self.intro = w.HTML(lines, layout=w.Layout(max_width="60em"))
        self.layout(self.intro, w.HBox([self.picker, self.reload]), self.hint, self.table)
        self.observe(self.picker, self._on_pick)
        self.on_click(self.reload, self._on_reload)
        self._show(profile)
        self.built_on = self.basis()

    def _on_pick(self, change: dict[str, Any]) -> None:
        if not self._rereading:
            self._show(change["new"])

    def _on_reload(self, _button: w.Button) -> None:
        self.reread()

    def basis(self) -> tuple[object, ...]:
        """What the form is built from: nothing that :meth:`reread` does not read again."""
        return ()

    def reread(self) -> None:
        """Read the profiles, every step's verdict and the token again (they change as the other steps run)."""
        chosen = self.picker.value
        names = sorted({*runbook.ProfileStore(Path(self.home) if self.home else None).names(), chosen})
        if list(self.picker.options) != names:
            self._rereading = True  # ipywidgets sets the value to the first new option: the chosen one is put back
            try:
                self.picker.options = names
                self.picker.value = chosen
            finally:
                self._rereading = False
        self._show(chosen)

    def _show(self, name: str) -> None:
        self.site = actions.open_site(name, self.home, self.issuer)
        current = state.read(self.site)
        checklist = render.checklist_summary(dict(current.checklist))
        self.hint.value = f"Set <code>profile = {render.e(repr(name))}</code> in the parameters cell of each notebook."
        self.table.value = (lab_links(render.overview_html(current)) + f"<p>{render.e(checklist)}</p>"
                            + render.table_html(render.status_rows(current.token)))
