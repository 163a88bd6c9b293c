"""What papermill logs during a run: nbclient's content dumps dropped, outputs streamed to the caller.

papermill gives its ``papermill`` logger to nbclient, which logs each cell's source ("Executing
cell:") and each kernel message's content at DEBUG: parameters and outputs would reach any DEBUG log,
so :func:`drop_content_dumps` filters them out. With ``log_output=True`` papermill's client also logs
every output as it arrives (``log_output_message``) and each cell's start (``cell_start``), in the
thread that called ``execute_notebook``; :data:`TAP` hands those to the run of that thread and drops
the output records, so outputs are streamed (``gapps-runbook run``) and never logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

_CONTENT_DUMPS = ("Executing cell:", "content: ", "display id ")  # nbclient DEBUG lines carrying notebook data


class _NoNotebookContent(logging.Filter):
    """Drops nbclient's DEBUG dumps of cell sources and kernel messages: they hold parameters and outputs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno <= logging.DEBUG and record.getMessage().startswith(_CONTENT_DUMPS))


class _OutputTap(logging.Filter):
    """Streams papermill's output and cell-start records to the run of the thread that emitted them.

    Output records are always dropped (outputs are never logged); a record from a thread with no
    attached run is dropped too. One instance sits on the ``papermill`` logger for the whole process.
    """

    def __init__(self) -> None:
        super().__init__()
        self._runs: dict[int, tuple[Callable[[str], None], Callable[[int], None] | None]] = {}
        self._lock = threading.Lock()
        self._level = logging.NOTSET

    def attach(self, on_output: Callable[[str], None], on_cell: Callable[[int], None] | None) -> None:
        """Stream this thread's run; the ``papermill`` logger is set to INFO (filters see only enabled records)."""
        logger = logging.getLogger("papermill")
        with self._lock:
            if not self._runs:
                self._level = logger.level
                if logger.getEffectiveLevel() > logging.INFO:
                    logger.setLevel(logging.INFO)
            self._runs[threading.get_ident()] = (on_output, on_cell)
            if self not in logger.filters:
                logger.addFilter(self)

    def detach(self) -> None:
        """Stop streaming this thread's run; the logger's level is restored after the last one."""
        with self._lock:
            self._runs.pop(threading.get_ident(), None)
            if not self._runs:
                logging.getLogger("papermill").setLevel(self._level)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.funcName not in ("log_output_message", "cell_start"):
            return True
        with self._lock:
            run = self._runs.get(record.thread or 0)
        if record.funcName == "cell_start":
            index = record.getMessage().removeprefix("Executing Cell ").rstrip("-")
            if run is not None and run[1] is not None and index.isdigit():
                run[1](int(index) - 1)
            return True
        if run is not None and isinstance(record.msg, str):
            run[0](record.msg)
        return False


TAP = _OutputTap()


def drop_content_dumps() -> None:
    """papermill hands its ``papermill`` logger to nbclient, which logs every cell and message at DEBUG."""
    logger = logging.getLogger("papermill")
    if not any(isinstance(f, _NoNotebookContent) for f in logger.filters):
        logger.addFilter(_NoNotebookContent())
