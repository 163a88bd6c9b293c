"""Pure renderers of step 05 (backup and restore) and of a profile's last export, worded once.

:func:`export_text` is the one wording of "what is backed up": ``gapps-runbook status --all``
(:func:`.render.profile_line`), the overview of 00 (:func:`.render.overview_rows`, :func:`.render.overview_html`)
and step 05 all show a profile's ``last_export`` (written by :func:`gapps_runbook.profile.backup.record_export`)
through it. No I/O, no ipywidgets; no line carries a secret (passphrases and tokens never reach here).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ..oauth.clock import utc_text


class ExportResult(Protocol):
    """What an export wrote (``notebook.backup_actions.ExportResult`` has these fields)."""

    @property
    def names(self) -> tuple[str, ...]: ...
    @property
    def path(self) -> str: ...
    @property
    def at(self) -> str: ...
    @property
    def by(self) -> str: ...


class ProbeOutcome(Protocol):
    """One restored profile's probe (``notebook.backup_actions.ProbeOutcome`` has these fields)."""

    @property
    def name(self) -> str: ...
    @property
    def ok(self) -> bool: ...
    @property
    def line(self) -> str: ...

NEVER = "never exported"


def export_parts(last_export: Mapping[str, Any] | None) -> tuple[str, str, str]:
    """A profile's last export as (status, when in UTC, to which file by whom).

    Args:
        last_export: The settings' ``last_export`` record (``at``, ``file``, ``by``), or None.

    Returns:
        ``("exported", at, "to FILE by USER")``, or ``("never exported", "", "")``.
    """
    if not isinstance(last_export, Mapping):
        return NEVER, "", ""
    at = str(last_export.get("at", ""))
    return "exported", utc_text(at) or at, f"to {last_export.get('file')} by {last_export.get('by')}"


def export_text(last_export: Mapping[str, Any] | None) -> str:
    """A profile's last export in words: "exported AT to FILE by USER", or "never exported"."""
    return " ".join(part for part in export_parts(last_export) if part)


def last_export_rows(exports: Sequence[tuple[str, Mapping[str, Any] | None]]) -> list[tuple[str, str]]:
    """(profile, its last export) rows: what step 05 shows when it neither exports nor imports."""
    if not exports:
        return [("Profiles", "none yet: run steps 01-03 first")]
    return [(name, export_text(record)) for name, record in exports]


def export_line(result: ExportResult) -> str:
    """The outcome of an export: which profiles, where, when; and the one rule to keep."""
    return (f"Exported {', '.join(result.names)} to {result.path} at {utc_text(result.at) or result.at} by {result.by} "
            "(age, passphrase; 0600). Keep the passphrase apart from the file.")


def export_html(result: ExportResult) -> str:
    """:func:`export_line` as HTML (green), the file's full path in a box a click selects whole, to copy."""
    path = html.escape(result.path, quote=True)
    line = html.escape(export_line(result), quote=True).replace(path, _copyable(result.path), 1)
    return f"<div style='color:#1b5e20'>{line}</div>"


def folder_note_html(folder: str, what: str) -> str:
    """The note under a form's file box: where a name without a folder goes (``what``: "Exports")."""
    return (f"<div style='color:#555;font-size:0.9em'>{html.escape(what)} named without a folder go to "
            f"{_copyable(folder)} (0700).</div>")


def _copyable(text: str) -> str:
    return f"<code style='user-select:all'>{html.escape(text, quote=True)}</code>"


def import_lines(path: str, outcomes: Sequence[ProbeOutcome]) -> list[str]:
    """The outcome of an import: the file, then each profile's probe (a refresh at once)."""
    return [f"Imported {', '.join(o.name for o in outcomes)} from {path}.", *(o.line for o in outcomes)]


def outcome_html(lines: Sequence[str], ok: bool) -> str:
    """Result lines as HTML: green when every probe worked, red otherwise."""
    colour = "#1b5e20" if ok else "#b00020"
    body = "<br>".join(html.escape(line, quote=True) for line in lines)
    return f"<div style='color:{colour}'>{body}</div>"
