"""Notebook 05 (backup and restore): export chosen profiles to an age file, import one and probe it.

Imported only when the notebook runs interactively; see :mod:`.forms_common` for the rules every form
follows. The passphrase is typed into ``Password`` boxes, which are emptied after every click, whatever
the outcome (the notebook never saves widget state either: :mod:`gapps_runbook.safety.scrub`). The
actions are :mod:`.backup_actions`', the same as ``gapps-runbook export``/``import`` and the headless run.
"""

from __future__ import annotations

import ipywidgets as w

from ..errors import RunbookError
from ..profile.store import ProfileStore
from ..views import backup as render_backup
from ..views import render
from . import backup_actions
from .forms_common import Form, button
from .step04 import TOKEN_CHANGED

_WIDE = w.Layout(width="36em")


class BackupRestoreForm(Form):
    """Export: profiles, target file, passphrase twice, Export. Import: file, passphrase, Replace?, Import."""

    def __init__(self, store: ProfileStore, *, profile: str = "default", issuer: str = "") -> None:
        super().__init__()
        self.store, self.issuer = store, issuer
        names = store.names()
        self.profiles = w.SelectMultiple(options=names, value=tuple(n for n in names if n == profile),
                                         description="Profiles", rows=min(max(len(names), 2), 8))
        self.target = w.Text(value=f"{profile}.age", description="Export to", layout=_WIDE,
                             placeholder="/path/to/sites.age")
        self.passphrase = w.Password(description="Passphrase")
        self.confirmation = w.Password(description="Again")
        self.export = button("Export", "primary", "download")
        self.exported = w.HTML()
        self.source = w.Text(description="Import", layout=_WIDE, placeholder="/path/to/sites.age")
        self.import_passphrase = w.Password(description="Passphrase")
        self.force = w.Checkbox(value=False, description="Replace an existing profile", indent=False)
        self.import_ = button("Import", "warning", "upload")
        self.imported = w.HTML()
        self.last = w.HTML()
        self.layout(w.HTML("<b>Export</b> (age, encrypted to a passphrase; the file is 0600)"), self.profiles,
                    self.target, w.HBox([self.passphrase, self.confirmation]), self.export, self.exported,
                    w.HTML("<b>Import</b> (then a refresh proves each restored token)"), self.source,
                    self.import_passphrase, self.force, self.import_, self.imported, self.last)
        self.on_click(self.export, self._on_export)
        self.on_click(self.import_, self._on_import)
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
        self.check_tokens()
        try:
            result = backup_actions.act_export(self.store, self.profiles.value, self.target.value,
                                               self.passphrase.value, self.confirmation.value)
        finally:
            self.passphrase.value = self.confirmation.value = ""  # no widget keeps a secret
        self.exported.value = render_backup.outcome_html([render_backup.export_line(result)], True)
        self._show_last_exports()

    def _on_import(self, _button: w.Button) -> None:
        try:
            outcomes = backup_actions.act_import(self.store, self.source.value, self.import_passphrase.value,
                                                 force=self.force.value, issuer=self.issuer or None)
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
