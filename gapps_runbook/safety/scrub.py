"""Scrub an executed notebook so no secret survives in the saved file.

What papermill 2.7 and nbclient 0.11 put into an executed notebook (their ``execute`` and
``store_widget_state`` code):

* papermill adds a code cell tagged ``injected-parameters`` holding every parameter as source, and
  copies the values into ``metadata.papermill.parameters`` (``parameterize_notebook``);
* nbclient stores live widget state in ``metadata.widgets`` when ``store_widget_state`` is on (its
  default), and an ``ipywidgets.Password`` value is a synced trait, so it lands there in plain text;
* outputs hold whatever the kernel printed: streams, ``text/html``, ``application/json``,
  tracebacks and ``error.evalue``.

:func:`scrub_notebook` applies mitigation design 4: it drops the injected cell and the widget state,
keeps only parameter *names* (``metadata.gapps_runbook.parameter_names``), replaces outputs marked
``metadata.gapps_runbook.transient`` (the device user code, design 3) with a placeholder, and
redacts every remaining string with :func:`redact.redact` plus exact replacement of the given
secrets in raw, URL-encoded, JSON-escaped and HTML-escaped forms.  Base64 payloads (images,
attachments) are decoded and checked; one that carries a secret is removed whole.
"""

from __future__ import annotations

import base64
import binascii
import copy
import html
import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .redact import MASK, redact

if TYPE_CHECKING:
    from nbformat import NotebookNode

INJECTED_TAG = "injected-parameters"
TRANSIENT_PLACEHOLDER = "[user code removed after the step]"
BINARY_PLACEHOLDER = "[binary output removed: it contained a secret]"
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_\-]{12,}={0,2}")
_NAME_ONLY_KEYS = {  # metadata.papermill key -> metadata.gapps_runbook key that keeps only the names
    "parameters": "parameter_names",
    "default_parameters": "default_parameter_names",
    "environment_variables": "environment_variable_names",
}


def scrub_notebook(nb: NotebookNode | Mapping[str, Any], *, secrets: Iterable[str] = ()) -> NotebookNode:
    """Return a scrubbed copy of ``nb``; the argument is left untouched.

    Args:
        nb: An executed notebook (``nbformat`` v4), e.g. papermill's output.
        secrets: Exact secret values to remove wherever they appear, in any encoding.

    Returns:
        A new ``NotebookNode`` safe to save.
    """
    import nbformat

    data: dict[str, Any] = copy.deepcopy(dict(nb))
    cleaner = _Cleaner(secrets)
    metadata = data.setdefault("metadata", {})
    metadata.pop("widgets", None)
    _keep_parameter_names(metadata)
    data["cells"] = [_scrub_cell(cell, cleaner) for cell in data.get("cells", []) if not _is_injected(cell)]
    data["metadata"] = cleaner.walk(metadata)
    return nbformat.from_dict(data)


def secret_forms(secret: str) -> set[str]:
    """The text forms a secret takes in a notebook: raw, URL-encoded, JSON-, HTML- and repr-escaped."""
    return {
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        html.escape(secret),
        repr(secret)[1:-1],
    }


def _is_injected(cell: Mapping[str, Any]) -> bool:
    return INJECTED_TAG in cell.get("metadata", {}).get("tags", [])


def _keep_parameter_names(metadata: dict[str, Any]) -> None:
    papermill = metadata.get("papermill")
    if not isinstance(papermill, dict):
        return
    ours = metadata.setdefault("gapps_runbook", {})
    for key, names_key in _NAME_ONLY_KEYS.items():
        values = papermill.pop(key, None)
        if isinstance(values, Mapping):
            ours[names_key] = sorted(str(name) for name in values)


def _scrub_cell(cell: dict[str, Any], cleaner: _Cleaner) -> dict[str, Any]:
    if "outputs" in cell:
        cell["outputs"] = [_scrub_output(output, cleaner) for output in cell["outputs"]]
    if "attachments" in cell:
        cell["attachments"] = {
            cleaner.text(name): cleaner.bundle(bundle) for name, bundle in cell["attachments"].items()
        }
    return {key: value if key in ("outputs", "attachments") else cleaner.walk(value) for key, value in cell.items()}


def _scrub_output(output: dict[str, Any], cleaner: _Cleaner) -> dict[str, Any]:
    if _is_transient(output):
        return {
            "output_type": "display_data",
            "data": {"text/plain": TRANSIENT_PLACEHOLDER},
            "metadata": {"gapps_runbook": {"transient": True, "removed": True}},
        }
    scrubbed = {key: cleaner.walk(value) for key, value in output.items() if key != "data"}
    if "data" in output:
        scrubbed["data"] = cleaner.bundle(output["data"])
    return scrubbed


def _is_transient(output: Mapping[str, Any]) -> bool:
    ours = output.get("metadata", {}).get("gapps_runbook", {})
    return isinstance(ours, Mapping) and ours.get("transient") is True


def _is_base64_mime(mime: str) -> bool:
    return (mime.startswith("image/") and not mime.endswith("+xml")) or mime == "application/pdf"


class _Cleaner:
    """Redaction of strings, nested JSON and base64 payloads against one set of secrets."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = [s for s in secrets if s]
        forms = {form for s in self.secrets for form in secret_forms(s)}
        self.forms = sorted(forms, key=len, reverse=True)
        self.raw = [s.encode("utf-8") for s in self.secrets]

    def text(self, value: str) -> str:
        for form in self.forms:
            if form in value:
                value = value.replace(form, MASK)
        if _BASE64_RUN.search(value):
            value = _BASE64_RUN.sub(lambda m: MASK if self._hides_secret(m.group()) else m.group(), value)
        return redact(value)

    def _hides_secret(self, run: str) -> bool:
        """True if the base64 run, decoded from any of its first four offsets, hides a secret."""
        run = run.rstrip("=")
        for start in range(4):
            chunk = run[start:]
            chunk = chunk[: len(chunk) - 1] if len(chunk) % 4 == 1 else chunk
            chunk += "=" * (-len(chunk) % 4)
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                try:
                    decoded = decode(chunk)
                except (binascii.Error, ValueError):
                    continue
                if self._bytes_leak(decoded):
                    return True
        return False

    def walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.walk(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.walk(item) for item in value]
        return value

    def bundle(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Scrub a mime bundle: text types by redaction, base64 types by decode-and-check."""
        out: dict[str, Any] = {}
        removed = False
        for mime, value in data.items():
            if _is_base64_mime(mime) and isinstance(value, str):
                if self._payload_leaks(value):
                    removed = True
                    continue
                out[mime] = value
            else:
                out[mime] = self.walk(value)
        if removed:
            prior = out.get("text/plain")
            out["text/plain"] = f"{prior}\n{BINARY_PLACEHOLDER}" if isinstance(prior, str) else BINARY_PLACEHOLDER
        return out

    def _payload_leaks(self, payload: str) -> bool:
        try:
            raw = base64.b64decode("".join(payload.split()), validate=True)
        except (binascii.Error, ValueError):
            return True  # not base64 at all: cannot vouch for it
        return self._bytes_leak(raw)

    def _bytes_leak(self, raw: bytes) -> bool:
        """True if decoded bytes hold a given secret or a secret shape."""
        if any(secret in raw for secret in self.raw):
            return True
        text = raw.decode("latin-1")
        return redact(text) != text


def scrub_text(text: str, *, secrets: Iterable[str] = ()) -> str:
    """Redact one string: :func:`redact.redact` plus every form of each given secret."""
    return _Cleaner(secrets).text(text)
