"""Run a runbook notebook headless with papermill, and save only a scrubbed copy.

What papermill 2.7.0 / nbclient 0.11 do, read in their source, and how this module answers:

* ``execute_notebook`` injects the parameters as an ``injected-parameters`` cell and into
  ``metadata.papermill.parameters``, and on failure writes the output notebook *before* raising
  ``PapermillExecutionError`` (``raise_for_execution_errors``).  So :func:`check_parameters` runs
  first, and papermill writes to an in-memory sink (a papermill I/O handler for the
  ``gapps-runbook-memory://`` scheme), never to disk: the only file ever written is the output of
  :func:`scrub.scrub_notebook`, saved in ``finally`` whether the run passed, failed or was interrupted.
* Extra keyword arguments of ``execute_notebook`` go to the engine, and ``NBClientEngine`` passes
  them to ``PapermillNotebookClient`` (an nbclient ``NotebookClient``) as traitlets.  So
  ``store_widget_state=False`` does reach nbclient (its default is True, which copies widget state,
  ``Password`` values included, into ``metadata.widgets``), and ``kernel_manager_class`` can be
  swapped to start the kernel with extra environment variables.  ``timeout`` is passed as
  ``execution_timeout`` (papermill renames it to nbclient's ``timeout``).
* With ``log_output=True`` papermill's client logs every output as it arrives (``log_output_message``:
  stdout and ``text/plain`` at INFO, stderr at WARNING) and each cell's start (``cell_start``) on the
  ``papermill`` logger, in the thread that called ``execute_notebook``.  :data:`papermill_log.TAP`, a
  filter on that logger, hands them to ``on_output``/``on_cell`` (scrubbed) and drops the output records, so
  outputs are streamed to the caller (``gapps-runbook run``) and never logged.  Transient outputs (the
  authorization link) are streamed once and still never saved; updates of a display are not logged.
* ``request_save_on_cell_execute=True`` only makes papermill save to the memory sink after each
  cell, so a dead kernel or a timed-out cell still leaves a (scrubbed) partial notebook.
* papermill gives its ``papermill`` logger to nbclient, which logs each cell's source ("Executing
  cell:") and each kernel message's content at DEBUG: parameters and outputs would reach any DEBUG
  log.  A filter on that logger (:mod:`.papermill_log`) drops those lines, and the secrets passed in are registered with
  :func:`redact.register_secret` so the package's log redaction also knows them (target L4 in ``docs/reliability.md``).

papermill is imported inside the functions (the HTML report is in :mod:`.report`): ``import gapps_runbook`` stays light.
Before it is, :func:`import_jupyter` keeps jsonschema (imported by nbformat) from importing
``rfc3987_syntax``, which compiles 38 lark grammars at import (about 1 s; upstream jsonschema #1428)
for the ``iri`` formats that nbformat never checks (figure B1 in ``docs/performance.md``).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import InputError, NotebookRunError
from ..safety.params import is_secret_name
from ..safety.redact import register_secret
from ..profile.private_files import write_private
from ..safety.scrub import INJECTED_TAG, scrub_notebook, scrub_text
from .papermill_log import TAP, drop_content_dumps
from .parameters import check_parameters
from .report import export_html  # noqa: F401  (its old home; the report is in report.py)

MEMORY_SCHEME = "gapps-runbook-memory://"
SKIPPED_AT_IMPORT = "rfc3987_syntax"  # only jsonschema's optional "iri" format checkers need it


def import_jupyter() -> None:
    """Import papermill and nbformat without jsonschema's ``iri`` grammars (about 1 s saved per process)."""
    import_jsonschema()
    import nbformat  # noqa: F401
    import papermill  # noqa: F401


def import_jsonschema() -> None:
    """Import jsonschema without its ``iri`` grammars: for nbformat, and for the Jupyter server ``lab`` starts.

    jsonschema 4.26 (pinned in ``constraints.txt``) imports ``rfc3987_syntax`` in ``suppress(ImportError)``
    only for the draft 7+ ``iri`` format checkers; nbformat validates with Draft 4 and no format checker, and
    jupyter_events (the server's event log) checks no ``iri`` format either. A ``None`` entry in
    ``sys.modules`` makes that one import raise ImportError (the import system's rule); it is removed right
    after. Nothing changes when jsonschema is already imported.
    """
    if "jsonschema" not in sys.modules and SKIPPED_AT_IMPORT not in sys.modules:
        # typeshed types sys.modules values as modules; None is the import system's documented "refuse" entry.
        sys.modules[SKIPPED_AT_IMPORT] = None  # type: ignore[assignment]
        try:
            import jsonschema  # noqa: F401  (imported now, without the grammars)
        finally:
            if sys.modules.get(SKIPPED_AT_IMPORT, 0) is None:
                del sys.modules[SKIPPED_AT_IMPORT]


@dataclass(frozen=True)
class RunResult:
    """The outcome of :func:`run_notebook`.

    Attributes:
        output_path: The scrubbed executed notebook, or ``None`` if papermill never produced one.
        duration: Wall-clock seconds.
        status: ``ok`` or ``failed`` (``failed`` is only returned when ``check=False``).
        error: The failure, when ``status`` is ``failed``.
    """

    output_path: Path | None
    duration: float
    status: Literal["ok", "failed"]
    error: NotebookRunError | None = None


def run_notebook(
    notebook: Path,
    output_dir: Path,
    parameters: Mapping[str, object],
    *,
    kernel_name: str = "python3",
    timeout: float = 600,
    env: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
    check: bool = True,
    on_output: Callable[[str], None] | None = None,
    on_cell: Callable[[int], None] | None = None,
    kernel: Any = None,
) -> RunResult:
    """Execute ``notebook`` with papermill into ``output_dir/<notebook name>``, scrubbed.

    Args:
        notebook: The notebook to run; it should have a cell tagged ``parameters``.
        output_dir: The run folder (created if missing).
        parameters: Notebook parameters; references only, checked by :func:`parameters.check_parameters`.
        kernel_name: The Jupyter kernel to use.
        timeout: Seconds one cell may run.
        env: Extra environment variables for the kernel (how secrets reach it); values of
            variables whose names say secret/token/password are scrubbed from the output.
        secrets: More exact values to scrub from the output.
        check: Raise on failure (default) rather than return ``status="failed"``.
        on_output: Called with each output's text (stdout, stderr, a display's ``text/plain``) as the
            kernel sends it, scrubbed of ``secrets``; transient outputs included, display updates not.
        on_cell: Called with a cell's index (papermill's, counting an injected cell) as it starts.
        kernel: A started :class:`gapps_runbook.batch.kernel_pool.PooledKernel` to run in (its ``prepare`` already
            called) instead of a new kernel; ``env`` must then be empty (the kernel's is fixed).

    Returns:
        The run's result.

    Raises:
        InputError: A parameter carries a secret, or the notebook does not exist (nothing ran).
        NotebookRunError: The notebook failed; the scrubbed output notebook was still saved.
    """
    check_parameters(parameters)
    if kernel is not None and env:
        raise InputError("a pooled kernel cannot take per-run environment variables",
                         fix="run without a pooled kernel to pass env")
    notebook, output_dir = Path(notebook), Path(output_dir)
    if not notebook.is_file():
        raise InputError(f"notebook {notebook} does not exist", fix="check the path to the runbook notebook")
    output_dir.mkdir(parents=True, exist_ok=True)
    output_path = output_dir / notebook.name
    scrub_values = [*secrets, *(value for name, value in (env or {}).items() if is_secret_name(name))]
    for value in scrub_values:
        register_secret(value)
    import_jupyter()
    drop_content_dumps()
    sink = _SINK.new(notebook.name)
    started, failure = time.monotonic(), None
    stream = on_output is not None or on_cell is not None
    if stream:
        TAP.attach(lambda text: on_output(scrub_text(text, secrets=scrub_values)) if on_output else None, on_cell)
    try:
        _execute(notebook, sink, parameters, kernel_name=kernel_name, timeout=timeout, env=env, log_output=stream,
                 kernel=kernel)
    except Exception as exc:  # every failure becomes one NotebookRunError below
        failure = exc
    finally:
        if stream:
            TAP.detach()
        saved = _save_scrubbed(_SINK.pop(sink), output_path, scrub_values)
    duration = time.monotonic() - started
    if failure is None:
        return RunResult(output_path if saved else None, duration, "ok")
    error = _run_error(failure, notebook, output_path if saved else None, bool(parameters), scrub_values)
    if check:
        raise error from None
    return RunResult(output_path if saved else None, duration, "failed", error)


class _MemorySink:
    """A papermill I/O handler that keeps written notebooks in memory, keyed by URL."""

    def __init__(self) -> None:
        self._buffers: dict[str, str] = {}
        self._lock = threading.Lock()
        self._registered = False

    def new(self, name: str) -> str:
        with self._lock:
            if not self._registered:
                from papermill.iorw import papermill_io

                papermill_io.register(MEMORY_SCHEME, self)
                self._registered = True
        return f"{MEMORY_SCHEME}{uuid.uuid4().hex}/{name}"

    def pop(self, url: str) -> str | None:
        with self._lock:
            return self._buffers.pop(url, None)

    def write(self, buf: str, path: str) -> None:
        with self._lock:
            self._buffers[path] = buf

    def read(self, path: str) -> str:
        raise OSError("the memory sink is write-only")

    def listdir(self, path: str) -> list[str]:
        return []

    def pretty_path(self, path: str) -> str:
        return path


_SINK = _MemorySink()


def _execute(
    notebook: Path, sink: str, parameters: Mapping[str, object], *, kernel_name: str, timeout: float,
    env: Mapping[str, str] | None, log_output: bool = False, kernel: Any = None,
) -> None:
    import papermill

    engine_kwargs: dict[str, Any] = {"store_widget_state": False}
    if kernel is not None:  # the running kernel of a batch's pool (batch/kernel_pool.py)
        engine_kwargs.update(engine_name=kernel.engine, pooled=kernel)
    else:
        engine_kwargs["kernel_manager_class"] = _kernel_manager_with_env(env or {})
    papermill.execute_notebook(
        str(notebook), sink, parameters=dict(parameters) or None, kernel_name=kernel_name,
        request_save_on_cell_execute=True, progress_bar=False, log_output=log_output,
        execution_timeout=timeout, **engine_kwargs,
    )


def _kernel_manager_with_env(env: Mapping[str, str]) -> type:
    """An ``AsyncKernelManager`` whose kernels start with ``env`` added, over IPC sockets.

    IPC (Unix sockets in a private temporary folder) instead of TCP on loopback: no other local user
    can reach the kernel's ports, and ipykernel no longer warns that TCP is unencrypted. The kernel's
    own log is quiet: jupyter_client interrupts a kernel before shutting it down, and ipykernel would
    print "KeyboardInterrupt caught in kernel" on the terminal after every step (a failing cell still
    reaches the caller as the cell's error).
    """
    import tempfile

    from jupyter_client import AsyncKernelManager

    extra = {str(k): str(v) for k, v in env.items()}

    class EnvKernelManager(AsyncKernelManager):
        transport = "ipc"

        # jupyter_client annotates AsyncKernelManager.start_kernel as a Callable attribute, not as the method it is.
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            self._socket_dir = tempfile.TemporaryDirectory(prefix="gapps-kernel-")
            self.ip = os.path.join(self._socket_dir.name, "kernel")
            kw["env"] = {**os.environ, **kw.get("env", {}), **extra}
            kw["extra_arguments"] = [*kw.get("extra_arguments", []), "--IPKernelApp.log_level=CRITICAL"]
            await super().start_kernel(**kw)

        async def _async_cleanup_resources(self, restart: bool = False) -> None:
            await super()._async_cleanup_resources(restart=restart)
            if not restart and getattr(self, "_socket_dir", None) is not None:
                self._socket_dir.cleanup()

    return EnvKernelManager


def _save_scrubbed(buffer: str | None, output_path: Path, secrets: list[str]) -> bool:
    import nbformat

    if buffer is None:
        return False
    nb = nbformat.reads(buffer, as_version=4)
    papermill_meta = nb.metadata.get("papermill", {})
    if isinstance(papermill_meta, dict) and "output_path" in papermill_meta:
        papermill_meta["output_path"] = str(output_path)
    write_private(output_path, nbformat.writes(scrub_notebook(nb, secrets=secrets)).encode("utf-8"))
    return True


def _run_error(
    exc: BaseException, notebook: Path, output_path: Path | None, injected: bool, secrets: list[str]
) -> NotebookRunError:
    kernel_side = getattr(exc, "ename", None)  # PapermillExecutionError: the kernel-side exception
    if kernel_side:
        ename, evalue = str(kernel_side), str(getattr(exc, "evalue", ""))
    else:  # the kernel died, a cell timed out, the kernel could not start
        ename, evalue = type(exc).__name__, str(exc)
    ename, evalue = scrub_text(ename, secrets=secrets), scrub_text(evalue, secrets=secrets)
    cell_index = _input_cell_index(exc, notebook, injected)
    what, _, fix = evalue.partition("Fix:")
    where = f" at cell {cell_index}" if cell_index is not None else ""
    shown = f" (the error is saved in {output_path})" if output_path and cell_index is not None else ""
    default_fix = f"fix the cause{shown}, then run {notebook.name} again"
    return NotebookRunError(
        f"notebook {notebook.name} failed{where}: {ename}: {what.strip() or 'no message'}",
        notebook=notebook, ename=ename, evalue=evalue, cell_index=cell_index, output_path=output_path,
        fix=fix.strip() or default_fix,
    )


def _input_cell_index(exc: BaseException, notebook: Path, injected: bool) -> int | None:
    """Map papermill's cell index (which counts the injected cell) back to the input notebook."""
    index = getattr(exc, "cell_index", None)
    if not isinstance(index, int):
        return None
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return index
    tags = [cell.get("metadata", {}).get("tags", []) for cell in cells]
    if not injected or any(INJECTED_TAG in t for t in tags):
        return index
    injected_at = next((i + 1 for i, t in enumerate(tags) if "parameters" in t), 0)
    return index - 1 if index > injected_at else index
