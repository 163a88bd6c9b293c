"""Notebook 05 (backup and restore): export chosen profiles to an age file, import one and probe it.

Imported only when the notebook runs interactively; see :mod:`.forms_common` for the rules every form
follows. The passphrase is typed into ``Password`` boxes, which are emptied after every click, whatever
the outcome (the notebook never saves widget state either: :mod:`gapps_runbook.safety.scrub`). The
actions are :mod:`.backup_actions`', the same as ``gapps-runbook export``/``import`` and the headless run;
their refusals name this form's controls (:data:`gapps_runbook.profile.backup.FORM_LABELS`), the commands'
name their flags. A file named without a folder is under the runbook home's exports folder
(:func:`gapps_runbook.profile.handoff.form_target`), never the server's working folder.
"""

from __future__ import annotations

import ipywidgets as w

from ..errors import RunbookError
from ..profile.backup import FORM_LABELS, MIN_PASSPHRASE_SCORE
from ..profile.handoff import exports_folder, form_target
from ..profile.store import ProfileStore
from ..views import backup as render_backup
from ..views import render
from . import backup_actions
from .forms_common import Form, button
from .step04 import TOKEN_CHANGED

_WIDE = w.Layout(width="42em")
_LABEL = {"description_width": "9em"}  # "Import as profile" whole, the boxes aligned
_HINT = "color:#555;font-size:0.9em"


class BackupRestoreForm(Form):
    """Export: profiles, file, passphrase twice, Export. Import: file, passphrase, new name, Replace, Import."""

    def __init__(self, store: ProfileStore, *, profile: str = "default", issuer: str = "") -> None:
        super().__init__()
        self.store, self.issuer = store, issuer
        label, folder = FORM_LABELS, exports_folder(store.home)
        names = store.names()
        self.profiles = w.SelectMultiple(options=names, value=tuple(n for n in names if n == profile),
                                         description=label["profiles"], rows=min(max(len(names), 2), 8), style=_LABEL)
        self.target = w.Text(value=str(folder / f"{profile}.age"), description=label["target"], layout=_WIDE,
                             placeholder="sites.age, or a full path", style=_LABEL)
        self.passphrase = w.Password(description=label["passphrase"], style=_LABEL)
        self.confirmation = w.Password(description=label["again"])
        strength = (f"<div style='{_HINT}'>The passphrase must score at least {MIN_PASSPHRASE_SCORE} of 4 on "
                    "zxcvbn's strength scale: e.g. four or more random words.</div>")
        self.export = button("Export", "primary", "download")
        self.exported = w.HTML()
        self.source = w.Text(description=label["source"], layout=_WIDE, placeholder=str(folder / "sites.age"),
                             style=_LABEL)
        self.import_passphrase = w.Password(description=label["passphrase"], style=_LABEL)
        self.import_as = w.Text(description=label["import_as"], placeholder="its name in the export", style=_LABEL)
        self.force = w.Checkbox(value=False, description=label["replace"], indent=False,
                                layout=w.Layout(width="auto"))
        replace = w.HBox([self.force, w.HTML(f"<span style='{_HINT}'>an existing profile of that name (its "
                                             "restored token is refreshed first; a refusal keeps the profile)</span>")])
        self.import_ = button("Import", "warning", "upload")
        self.imported = w.HTML()
        self.last = w.HTML()
        self.layout(w.HTML("<b>Export</b> (age, encrypted to a passphrase; the file is 0600)"), self.profiles,
                    self.target, w.HTML(render_backup.folder_note_html(str(folder), "Exports")),
                    w.HBox([self.passphrase, self.confirmation]), w.HTML(strength), self.export, self.exported,
                    w.HTML("<b>Import</b> (then a refresh proves each restored token)"), self.source,
                    self.import_passphrase, self.import_as, replace, self.import_, self.imported, self.last)
        self.on_click(self.export, self._on_export, beside=self.exported)  # its messages beside its button
        self.on_click(self.import_, self._on_import, beside=self.imported)
        self.shown_tokens: dict[str, str | None] = {}
        self._show_last_exports()
        self.built_on = self.basis()

    def basis(self) -> tuple[object, ...]:
        """What the form is built from: nothing that :meth:`reread` does not read again."""
        return ()

    def reread(self) -> None:
        """The profiles, their last exports and tokens again (the app calls it each time the page is shown)."""
        self._show_last_exports()

    def _tokens(self) -> dict[str, str | None]:
        """Each profile's stored token id (None: no token), read from its files."""
        found: dict[str, str | None] = {}
        for name in self.store.names():
            try:
                token = self.store.profile(name).load_token()
            except RunbookError:  # a damaged profile is named by the import and export themselves
                found[name] = "unreadable"
                continue
            found[name] = token.token_id if token else None
        return found

    def check_tokens(self) -> None:
        """Before exporting: the chosen profiles' tokens must be the ones shown, else refuse and show the current ones.

        Raises:
            RunbookError: A token shown was revoked or replaced in another window (another kernel or process).
        """
        now = self._tokens()
        if any(now.get(name) != self.shown_tokens.get(name) for name in self.profiles.value):
            self.passphrase.value = self.confirmation.value = ""  # no widget keeps a secret
            self._show_last_exports()
            raise RunbookError(TOKEN_CHANGED)

    def _on_export(self, _button: w.Button) -> None:
        self.exported.value = ""
        self.check_tokens()
        try:
            self.target.value = form_target(self.store.home, self.target.value)  # the full path, shown to copy
            result = backup_actions.act_export(self.store, self.profiles.value, self.target.value,
                                               self.passphrase.value, self.confirmation.value, surface="form")
        finally:
            self.passphrase.value = self.confirmation.value = ""  # no widget keeps a secret
        self.exported.value = render_backup.export_html(result)
        self._show_last_exports()

    def _on_import(self, _button: w.Button) -> None:
        self.imported.value = ""
        try:
            self.source.value = form_target(self.store.home, self.source.value, create=False)
            outcomes = backup_actions.act_import(self.store, self.source.value, self.import_passphrase.value,
                                                 force=self.force.value, rename=self.import_as.value,
                                                 issuer=self.issuer or None, surface="form")
        finally:
            self.import_passphrase.value = ""  # no widget keeps a secret
        lines = render_backup.import_lines(self.source.value, outcomes)
        self.imported.value = render_backup.outcome_html(lines, all(o.ok for o in outcomes))
        self._show_last_exports()

    def _show_last_exports(self) -> None:
        chosen, names = self.profiles.value, self.store.names()
        self.profiles.options = names  # an import may have added profiles
        self.profiles.value = tuple(n for n in chosen if n in names)
        self.shown_tokens = self._tokens()
        rows = render_backup.last_export_rows(backup_actions.act_last_exports(self.store))
        rows = [(name, f"{text}; token {self.shown_tokens.get(name) or 'none'}" if name in self.shown_tokens else text)
                for name, text in rows]
        self.last.value = "<b>Last exports</b>" + render.table_html(rows)
