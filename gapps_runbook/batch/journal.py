"""A batch's crash-safe journal: ``journal.jsonl`` in the batch folder, one JSON object a line.

The first line is the plan (``{"event": "batch", "title", "tasks"}``: every site's task, which holds
names, paths and checked parameters, never a secret); then one ``{"event": "site", "row"}`` line per
site as it finishes, its row of ``summary.json``. Each line is one ``write(2)`` to a file opened with
``O_APPEND`` and is ``fsync``-ed before the next site is reported, so whatever stops the batch
(SIGKILL, a power cut) the sites that finished are on disk. A last line cut short by a crash is
ignored when the journal is read. :func:`read_journal` gives back the plan and the finished rows, from
which ``gapps-runbook batch --resume FOLDER`` rebuilds the summary and runs the other sites again.
The file is 0600; a symlink or another user's file is refused.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, RunbookError
from ..profile.private_files import O_CLOEXEC, O_NOFOLLOW, privatize_fd
from .executors import SiteTask
from .outcome import CANCELLED, OUTCOMES, SiteOutcome

JOURNAL = "journal.jsonl"
"""The journal's name in the batch folder."""
MAX_JOURNAL_BYTES = 256 * 1024 * 1024
"""A journal larger than this is refused unread (a sites file is bounded far below it)."""

_ROW_FIELDS = {f.name for f in dataclasses.fields(SiteOutcome)} - {"extra"}
_TASK_FIELDS = {f.name for f in dataclasses.fields(SiteTask)}


@dataclass(frozen=True)
class Journal:
    """An open journal; :meth:`record` appends one finished site.

    Attributes:
        path: ``<batch folder>/journal.jsonl``.
        fd: The file, opened for appending.
    """

    path: Path
    fd: int

    @classmethod
    def start(cls, batch_dir: Path, title: str, tasks: list[SiteTask]) -> Journal:
        """Create the journal with the plan as its first line (fsync-ed before any site runs)."""
        journal = cls.open(batch_dir, create=True)
        journal._append({"event": "batch", "title": title, "tasks": [dataclasses.asdict(t) for t in tasks]})
        return journal

    @classmethod
    def open(cls, batch_dir: Path, *, create: bool = False) -> Journal:
        """Open the journal of ``batch_dir`` for appending (created 0600 when ``create``).

        Raises:
            InputError: It cannot be opened, is a symlink, not a regular file or not ours.
        """
        path = batch_dir / JOURNAL
        flags = os.O_WRONLY | os.O_APPEND | O_NOFOLLOW | O_CLOEXEC | (os.O_CREAT | os.O_EXCL if create else 0)
        try:
            fd = os.open(path, flags, 0o600)
        except OSError as exc:
            raise InputError(f"cannot open the batch journal {path} ({exc.strerror})",
                             fix="pass a batch folder of yours (--out, or --resume FOLDER)") from None
        try:
            privatize_fd(fd, path)
        except RunbookError as exc:
            os.close(fd)
            raise InputError(str(exc).partition(" Fix:")[0], fix="pass a batch folder of yours") from None
        journal = cls(path, fd)
        if not create:
            journal._end_cut_line()
        return journal

    def _end_cut_line(self) -> None:
        """End a last line a crash cut short, so the next line starts on its own (the cut one stays unread)."""
        size = os.fstat(self.fd).st_size
        if size:
            with open(self.path, "rb", opener=lambda p, f: os.open(p, f | O_NOFOLLOW | O_CLOEXEC)) as handle:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    os.write(self.fd, b"\n")
                    os.fsync(self.fd)

    def record(self, outcome: SiteOutcome) -> bool:
        """Append a finished site's row; False (nothing written) for a cancelled site, which runs again."""
        if outcome.detail == CANCELLED:
            return False
        self._append({"event": "site", "row": outcome.to_json()})
        return True

    def close(self) -> None:
        """Close the file (every line is already on disk)."""
        os.close(self.fd)

    def _append(self, entry: dict[str, Any]) -> None:
        os.write(self.fd, (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8"))
        os.fsync(self.fd)


@dataclass(frozen=True)
class JournalState:
    """What a journal holds: the batch's title, every task in site order, the finished rows by profile."""

    title: str
    tasks: list[SiteTask]
    finished: dict[str, SiteOutcome]


def read_journal(batch_dir: Path) -> JournalState:
    """Read ``batch_dir``'s journal: the plan, and the last row of each finished site.

    Raises:
        InputError: No journal (not a batch folder), one that is too large, unreadable, or whose
            plan line is missing or malformed.
    """
    path = batch_dir / JOURNAL
    text = _read_bounded(path)
    lines = text.split("\n")
    complete = lines[:-1]  # the part after the last newline was cut short by a crash (or is empty)
    try:
        plan = json.loads(complete[0]) if complete else None
        if not isinstance(plan, dict) or plan.get("event") != "batch":
            raise ValueError("no plan line")
        tasks = [SiteTask(**{k: v for k, v in t.items() if k in _TASK_FIELDS}) for t in plan["tasks"]]
    except (ValueError, TypeError, KeyError) as exc:
        raise InputError(f"{path} is not a batch journal ({type(exc).__name__})",
                         fix="pass the folder a `gapps-runbook batch` created (it holds journal.jsonl)") from None
    profiles = {t.profile for t in tasks}
    finished: dict[str, SiteOutcome] = {}
    for line in complete[1:]:
        row = _site_row(line)
        if row is not None and row.profile in profiles:
            finished[row.profile] = row
    return JournalState(str(plan.get("title") or "gapps-runbook batch"), tasks, finished)


def _read_bounded(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | O_NOFOLLOW | O_CLOEXEC | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputError(f"{path.parent} has no batch journal ({JOURNAL})",
                         fix="pass the folder a `gapps-runbook batch` created (its first line names it)") from None
    except OSError as exc:
        raise InputError(f"cannot read the batch journal {path} ({exc.strerror})",
                         fix="pass a batch folder of yours") from None
    try:
        privatize_fd(fd, path)
        if os.fstat(fd).st_size > MAX_JOURNAL_BYTES:
            raise InputError(f"the batch journal {path} is larger than {MAX_JOURNAL_BYTES // 2**20} MiB",
                             fix="pass the folder a `gapps-runbook batch` created")
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(MAX_JOURNAL_BYTES + 1)
    except RunbookError as exc:
        raise InputError(str(exc).partition(" Fix:")[0], fix="pass a batch folder of yours") from None
    finally:
        os.close(fd)
    return data.decode("utf-8", errors="replace")


def _site_row(line: str) -> SiteOutcome | None:
    """A finished site's row from one journal line; None for a line that is not one."""
    try:
        entry = json.loads(line)
        row = entry["row"] if entry.get("event") == "site" else None
        if not isinstance(row, dict) or row.get("outcome") not in OUTCOMES:
            return None
        return SiteOutcome(**{k: v for k, v in row.items() if k in _ROW_FIELDS})
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
