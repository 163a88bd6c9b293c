"""Notebook 01 (console checklist): services, flow and publishing status in; the verdict and checklist out.

Imported only when the notebook runs interactively; see :mod:`.forms_common` for the rules every form follows.
Opening the form writes nothing (no settings, no step record, no audit line), and neither does changing a
choice: the verdict of the choices shown is computed without saving, beside "Not saved yet"; "Save these
choices" or a tick is what saves (a tick never drops the ticks of the saved choices' items).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as w

from .. import runbook
from ..oauth import scopes
from ..oauth.scopes import SERVICES
from ..views import render
from . import actions
from ..runbook.checklist import checklist_complete, checklist_items
from .forms_common import WRAP_CSS, Form, button


class ConsoleChecklistForm(Form):
    """Services, flow and publishing status in; the verdict and the console checklist out."""

    def __init__(self, site: Any, *, services: Sequence[str] | None = None, flow: str = "",
                 publishing_status: str = "", project_id: str = "") -> None:
        super().__init__()
        self.site = site
        saved_services, saved_flow, saved_status = runbook.saved_choices(site)  # the form opens with these
        services, flow = services or saved_services, flow or saved_flow
        publishing_status = publishing_status or saved_status
        self.services = {k: w.Checkbox(value=k in services, description=f"{s.title} ({k})", indent=False)
                         for k, s in SERVICES.items()}
        self.flow = w.ToggleButtons(options=["auto", "desktop", "device"], value=flow, description="Flow")
        self.publishing = w.Dropdown(options=[("unknown", ""), ("Testing", "testing"), ("In production", "production")],
                                     value=publishing_status, description="Publishing")
        self.project = w.Text(value=actions.act_project_id(site, project_id), description="Project id",
                              placeholder="my-project-123", continuous_update=False)
        self.save = button("Save these choices", "primary", "save")  # keeping the shown choices is a choice too
        self.saved = w.HTML()  # "Saved" beside the button
        self.verdict_html = w.HTML()
        self.items = w.VBox()
        self.summary = w.HTML()
        self.ticks: list[tuple[w.Checkbox, str]] = []
        self.layout(w.HTML("<b>Services</b>"), w.VBox(list(self.services.values())), self.flow, self.publishing,
                    self.project, w.HBox([self.save, self.saved]), self.message, self.verdict_html,
                    w.HTML("<b>Console checklist</b>" + WRAP_CSS), self.items, self.summary)
        for widget in (*self.services.values(), self.flow, self.publishing, self.project):
            self.observe(widget, self._on_input)
        self.on_click(self.save, self._on_save, beside=self.saved)
        self._check(save=False)
        self.built_on = self.basis()

    def basis(self) -> tuple[object, ...]:
        """What the form is built from: the saved choices and the stored client (a change elsewhere rebuilds it)."""
        facts = self.site.facts()
        return (runbook.saved_choices(self.site), actions.act_project_id(self.site), facts["client_id"],
                facts["client_type"])

    def reread(self) -> None:
        """The verdict and the ticks from the profile again (the app calls it each time the page is shown).

        Nothing is written and nothing is asked of the provider."""
        self._check(save=False)

    def _on_input(self, _change: dict[str, Any]) -> None:
        self._check(save=False)
        if self._unsaved():
            self.saved.value = "<i>Not saved yet: click Save these choices to keep them.</i>"

    def _on_save(self, _button: w.Button) -> None:
        self._check(save=True)
        self.saved.value = f"&#10004; Saved in profile {render.e(self.site.profile.name)}"

    def _chosen(self) -> list[str]:
        return [k for k, box in self.services.items() if box.value]

    def _unsaved(self) -> bool:
        """True when the choices shown differ from the saved ones (a preview: nothing was written)."""
        services, flow, status = runbook.saved_choices(self.site)
        return ((set(self._chosen()), self.flow.value, self.publishing.value, self.project.value.strip())
                != (set(services), flow, status, actions.act_project_id(self.site)))

    def _check(self, *, save: bool) -> None:
        self.saved.value = ""
        chosen = self._chosen()
        if save:  # Save these choices: saved, recorded as step 01's outcome
            self.verdict = actions.act_preflight(self.site, chosen, self.flow.value, self.publishing.value,
                                                 self.project.value)
            self.built_on = self.basis()  # the form shows what it saved
        else:  # opening, or a changed choice: the same verdict (runbook.check_console's inputs), nothing written
            requested = runbook.requested_scopes(self.site, services=chosen)
            self.verdict = scopes.preflight(requested, flow=self.flow.value, endpoints=self.site.endpoints,
                                            client=self.site.profile.load_client(),
                                            publishing_status=self.publishing.value or None)
        self.checklist = checklist_items(self.verdict, actions.act_project_id(self.site, self.project.value))
        if save:
            saved = actions.act_sync_checklist(self.site, self.checklist)
        else:
            old = self.site.profile.load_settings().get("checklist") or {}
            saved = {item.key: bool(old.get(item.key, False)) for item in self.checklist}
        self.ticks = []
        rows = []
        for item in self.checklist:
            box = w.Checkbox(value=saved.get(item.key, False), description=item.text, indent=False,
                             layout=w.Layout(width="auto", flex="0 1 auto"))
            box.add_class("gapps-wrap")  # a long item wraps where the page allows it (forms_common.WRAP_CSS)
            self.observe(box, self._on_tick)
            self.ticks.append((box, item.key))
            link = (f'<a href="{render.e(item.url)}" target="_blank" rel="noopener" '
                    'style="text-decoration:underline">open the page</a>')
            rows.append(w.HBox([box, w.HTML(link, layout=w.Layout(flex="0 0 auto"))]))  # the text wraps, not the link
        self.items.children = rows
        self.verdict_html.value = render.verdict_html(self.verdict)
        self._summarize(saved)

    def _on_tick(self, change: dict[str, Any]) -> None:
        key = next(k for box, k in self.ticks if box is change["owner"])
        if not self._unsaved():  # the saved choices' items (opening saved nothing); a preview's drop none
            actions.act_sync_checklist(self.site, self.checklist)
        self._summarize(self.site.profile.set_checklist(key, change["new"])["checklist"])

    def _summarize(self, saved: dict[str, bool]) -> None:
        done = checklist_complete(self.verdict, self.checklist, saved)
        text = render.checklist_lines(self.checklist, saved, done)[-1]
        why = "" if self.verdict.ok else " The preflight fails: fix the errors above first."
        self.summary.value = f"<b>{render.e(text)}</b>{render.e(why)}"
