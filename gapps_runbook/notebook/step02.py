"""Notebook 02 (client credentials): product name, client ID and secret, or the client JSON, as a form.

Imported only when the notebook runs interactively; see :mod:`.forms_common` for the rules every form follows.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import ipywidgets as w

from .. import runbook
from ..errors import RunbookError
from ..oauth.clients import CLIENT_TYPE_LABELS
from ..oauth.endpoints import LOOPBACK_HOSTS
from ..views import render
from . import actions
from .forms_common import Form, button

_LABELS = {"description_width": "8em"}
"""Room for the longest label ("Product name") so none is cut off."""
_FIELD = "30em"
"""Label plus box: room for the longest client type ("TVs and Limited Input devices")."""


class ClientForm(Form):
    """Product name, client ID and secret (Password), or the client JSON (FileUpload); saved to the profile."""

    def __init__(self, site: Any, *, product_name: str = "", client_id: str = "", client_type: str = "",
                 project_id: str = "") -> None:
        super().__init__()
        self.site = site
        stored = site.profile.load_client()
        kind = client_type or site.profile.load_settings().get("flow") or (stored.client_type if stored else "desktop")
        self.product = w.Text(value=product_name or (stored.product_name if stored else ""), description="Product name",
                              style=_LABELS, layout=w.Layout(width=_FIELD))
        self.client_id = w.Text(value=client_id, description="Client ID", continuous_update=False,
                                placeholder="123456789012-....apps.googleusercontent.com",
                                layout=w.Layout(width="60%", min_width=_FIELD, flex="0 0 auto"),
                                style=_LABELS)
        self.id_hint = w.HTML()
        self.secret = w.Password(description="Secret", placeholder="GOCSPX-...", style=_LABELS,
                                 layout=w.Layout(width=_FIELD))
        labels = [(label, key) for key, label in CLIENT_TYPE_LABELS.items()]
        self.client_type = w.Dropdown(options=labels, value=kind if kind in CLIENT_TYPE_LABELS else "desktop",
                                      description="Client type", style=_LABELS, layout=w.Layout(width=_FIELD))
        self.project = w.Text(value=actions.act_project_id(site, project_id), description="Project id", style=_LABELS,
                              layout=w.Layout(width=_FIELD))
        self.save = button("Save client", "primary", "save")
        self.saved = w.HTML()  # "Saved" beside the button
        self.test = button("Test client", icon="check")
        self.tested = w.HTML()  # the provider's answer beside the button
        self.upload = w.FileUpload(accept=".json,application/json", multiple=False, description="Client JSON")
        self.uploaded = w.HTML()  # "Saved" or the upload's error, beside the upload
        self.stored = w.HTML()
        self.layout(self.product, w.HBox([self.client_id, self.id_hint]), self.secret, self.client_type, self.project,
                    w.HBox([self.save, self.saved]),
                    w.HTML("<b>or</b> upload the JSON downloaded from the Clients page:" + practice_note(site)),
                    w.HBox([self.upload, self.uploaded]), self.stored, w.HBox([self.test, self.tested]))
        self.observe(self.client_id, self._on_client_id)
        self.on_click(self.save, self._on_save, beside=self.saved)  # its errors beside the Save button
        self.on_click(self.test, self._on_test)
        self.observe(self.upload, self._on_upload)
        self._show(stored)
        self.built_on = self.basis()

    def basis(self) -> tuple[object, ...]:
        """What the form is built from: step 01's flow (the client type offered first) and the stored client."""
        stored = self.site.profile.load_client()
        return (self.site.profile.load_settings().get("flow"),
                (stored.client_id, stored.client_type, stored.product_name) if stored else None)

    def reread(self) -> None:
        """The stored client again (the app calls it each time the page is shown); no network call."""
        self._show(self.site.profile.load_client())

    def _on_client_id(self, change: dict[str, Any]) -> None:
        self.id_hint.value = ""
        if change["new"]:
            try:
                actions.act_validate_client_id(self.site, change["new"])
            except RunbookError as exc:  # beside the field, not under the form
                self.id_hint.value = render.error_html(render.one_line(exc))
                return
            self.id_hint.value = "&#10004; looks like a client ID"

    def _on_save(self, _button: w.Button) -> None:
        self.saved.value = self.tested.value = self.id_hint.value = ""  # one message per error: beside Save
        try:
            stored = actions.act_save_client(self.site, client_id=self.client_id.value, client_secret=self.secret.value,
                                             client_type=self.client_type.value, product_name=self.product.value,
                                             project_id=self.project.value)
        finally:
            self.secret.value = ""  # widget state must never hold the secret
        self._show(stored)
        self.built_on = self.basis()  # the form shows what it saved
        self.saved.value = f"&#10004; Saved in profile {render.e(self.site.profile.name)}"

    def _on_test(self, _button: w.Button) -> None:
        self.tested.value = ""
        try:
            result = runbook.test_client(self.site)
        except RunbookError as exc:
            self.tested.value = render.error_html(render.one_line(exc))
            return
        self.tested.value = (f"&#10004; {render.e(result.provider)} accepted the client ID and secret "
                             f"({render.e(result.auth_method)}; it answered {render.e(result.answer)} for a "
                             "made-up refresh token, as it should)")

    def _on_upload(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files or not files[0]["content"]:  # nothing, or the emptied record put back by _read
            return
        self.saved.value = self.tested.value = self.uploaded.value = ""
        stored = self._read(files[0])
        if stored is None:
            return
        self._fill(stored)
        self._show(stored)
        self.built_on = self.basis()
        self.uploaded.value = (f"&#10004; Read {render.e(files[0]['name'])} and saved its client in profile "
                               f"{render.e(self.site.profile.name)}")

    def _read(self, upload: Any) -> Any:
        """The client saved from an uploaded file, or None (its one-line error beside the upload). Either way
        the upload's content is dropped; the record of a file read stays so the button counts it."""
        stored = None
        try:
            stored = actions.act_import_client_bytes(self.site, bytes(upload["content"]), self.client_type.value,
                                                     self.product.value)
        except RunbookError as exc:
            self.uploaded.value = render.error_html(render.one_line(exc))  # beside the upload, not under the form
        finally:
            self.upload.value = (_emptied(upload),) if stored is not None else ()  # no widget keeps the secret
        return stored

    def _fill(self, stored: Any) -> None:
        """The fields show the client just read from a file (the secret box stays empty: it is stored, not shown)."""
        self.product.value = stored.product_name
        self.client_id.value = stored.client_id
        self.client_type.value = stored.client_type
        self.project.value = stored.project_id or self.project.value
        self.secret.placeholder = "stored; type one only to replace it"

    def _show(self, stored: Any) -> None:
        self.stored.value = "<pre>" + render.e("\n".join(render.client_lines(stored))) + "</pre>"


def _emptied(upload: Any) -> dict[str, Any]:
    """An uploaded file's record without its content (name, type, size and time kept), so that the upload
    button counts the file read while no widget state holds the client secret."""
    return {"name": upload["name"], "type": upload["type"], "size": upload["size"], "content": memoryview(b""),
            "last_modified": upload["last_modified"]}


def practice_note(site: Any) -> str:
    """On a provider on this machine (the practice emulator): where its practice clients' JSON files are, a
    link a person opens in a new tab (the emulator's page at ``/``); "" for any other provider. Nothing is fetched."""
    issuer = str(site.issuer or site.profile.load_settings().get("issuer") or "")
    if urllib.parse.urlsplit(issuer).hostname not in LOOPBACK_HOSTS:
        return ""
    page = issuer.rstrip("/") + "/"
    return (f"<br><i>Practising?</i> The emulator's page, <a href='{render.e(page)}' target='_blank' rel='noopener' "
            f"class='gapps-practice-page' style='text-decoration:underline'>{render.e(page)}</a>, offers each "
            "practice client's JSON to download.")
