"""Where a batch's per-site runs execute: a thread pool in this process, or a dask.distributed cluster.

Both run :func:`run_site` on a :class:`SiteTask`; a task holds names and paths only (profile,
profile home, issuer, notebook, output folder, parameters already checked by
``safety.params.check_parameters``): never a client secret or a token. The secrets stay in the
profile files, which the kernel reads itself.

Local (the default): ``--jobs`` threads, each owning one kernel started when the batch starts
(:class:`.kernel_pool.PooledKernel`) and reused site after site: papermill runs each site's
notebook in it, and the kernel is reset between sites (user namespace, environment, log handlers,
registered secrets; see :mod:`.kernel_pool`). So the batch process pays its start, the Jupyter
imports and N kernel starts once, and a site pays about the step's own work. A kernel that dies
or times out is replaced; its site is reported ``failed`` and the batch goes on.

Dask: the tasks go to an existing ``dask.distributed`` scheduler. A worker reads the profiles
from the same profile home path (``GAPPS_RUNBOOK_HOME`` on a filesystem every worker mounts at the
same path) and writes the executed notebook into the batch folder, which must be shared the same
way. Each worker thread keeps one pooled kernel across the sites it runs (:func:`run_site_pooled`).
``distributed`` is imported only here, inside :class:`DaskExecutor`.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import InputError, NotebookRunError, TransportError
from .outcome import SiteOutcome, from_failure, from_state

if TYPE_CHECKING:
    from .kernel_pool import PooledKernel

KERNEL_LOST = ("DeadKernelError", "CellTimeoutError", "TimeoutError")  # the kernel is gone or stuck: replace it


@dataclass(frozen=True)
class SiteTask:
    """One site's run: references only (it is pickled to Dask workers).

    Attributes:
        profile: The profile (one per site).
        home: The profile home every executor reads ("" = the default one).
        issuer: The site's issuer ("" = the profile's own, else Google).
        notebook: The step notebook.
        batch_dir: The batch folder; the site's notebook goes to ``batch_dir/<profile>/``.
        parameters: The notebook's parameters (profile, home and issuer included).
        notes: The sites file's notes, carried to the summary.
    """

    profile: str
    home: str
    issuer: str
    notebook: str
    batch_dir: str
    parameters: dict[str, object] = field(default_factory=dict)
    notes: str = ""


def run_site(task: SiteTask, kernel: PooledKernel | None = None) -> SiteOutcome:
    """Run one site's notebook (scrubbed copy only) and judge it; never raises for a site's own failure.

    Args:
        task: The site's run.
        kernel: A pooled kernel to run in (reset first, replaced if it died); ``None``: a new kernel.

    Returns:
        The site's row of the summary.
    """
    from .. import runbook
    from ..runs.execute import run_notebook

    started = time.monotonic()
    site_dir = Path(task.batch_dir) / task.profile
    site_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    base: dict[str, Any] = {"profile": task.profile, "notes": task.notes}
    if kernel is not None:
        try:
            kernel.prepare()
        except Exception as exc:  # noqa: BLE001  (no kernel: this site fails, the next one tries again)
            return SiteOutcome(outcome="failed", detail=f"the kernel did not start: {type(exc).__name__}",
                               fix="check that the python3 kernel starts (jupyter kernelspec list), then run the "
                                   "batch again for this site", duration=time.monotonic() - started, **base)
    try:
        result = run_notebook(Path(task.notebook), site_dir, task.parameters, check=False, kernel=kernel)
        error, output = result.error, result.output_path
    except (InputError, OSError) as exc:  # nothing ran
        error, output = NotebookRunError(str(exc), notebook=Path(task.notebook), ename=type(exc).__name__,
                                         evalue=str(exc), cell_index=None, output_path=None), None
    base["notebook"] = str(output.relative_to(task.batch_dir)) if output is not None else ""
    if error is not None:
        outcome, detail, fix = from_failure(error)
        if kernel is not None and (error.ename in KERNEL_LOST or not kernel.alive()):
            kernel.shutdown()  # the next site starts a new kernel
            detail = f"the kernel was lost ({error.ename}); a new one runs the next sites"
            fix = "run the batch again for this site; if it fails again, `gapps-runbook run` it alone to see why"
        return SiteOutcome(outcome=outcome, detail=detail, fix=fix, duration=time.monotonic() - started, **base)
    home = Path(task.home) if task.home else None
    current = runbook.state.read(runbook.Site.open(task.profile, home=home, issuer=task.issuer or None))
    outcome, detail, fix = from_state(current)
    st = current.token
    return SiteOutcome(outcome=outcome, detail=detail, fix=fix, token_id=st.token_id, expires_in=st.expires_in,
                       refresh_token_expires_in=st.refresh_token_expires_in, account=st.account,
                       duration=time.monotonic() - started, **base)


_worker_kernels = threading.local()


def run_site_pooled(task: SiteTask) -> SiteOutcome:
    """:func:`run_site` in this thread's pooled kernel, started at its first site (a Dask worker's thread).

    The kernel lives as long as the worker process (ipykernel exits when its parent does) and is
    reset between sites as a local batch's kernels are.
    """
    kernel = getattr(_worker_kernels, "kernel", None)
    if kernel is None:
        from .kernel_pool import PooledKernel

        kernel = _worker_kernels.kernel = PooledKernel()
    return run_site(task, kernel)


def crashed(task: SiteTask, exc: BaseException) -> SiteOutcome:
    """The row of a site whose task itself failed (a worker died, a bug): ``failed``, one line."""
    from ..safety.redact import redact

    return SiteOutcome(task.profile, "failed", f"the run did not complete: {type(exc).__name__}: {redact(str(exc))[:200]}",
                       "run the batch again for this site", notes=task.notes)


OnDone = Callable[[SiteTask, SiteOutcome], None]


class Executor(Protocol):
    """Runs tasks and reports each outcome to ``on_done`` as it finishes.

    On KeyboardInterrupt an executor drops the sites not started, lets the running ones end (their
    kernels got the same Ctrl-C on a terminal), reports those, then re-raises.
    """

    def run(self, tasks: list[SiteTask], on_done: OnDone) -> None: ...


class LocalExecutor:
    """``jobs`` threads in this process, each with its own kernel, started at once and reused site after site.

    Args:
        jobs: Threads (kernels) at once.
        runner: Runs one site in the given kernel (``None`` when ``pooled`` is false).
        pooled: Reuse one kernel per thread (:mod:`.kernel_pool`); false: a new kernel per site.
    """

    def __init__(self, jobs: int, runner: Callable[[SiteTask, Any], SiteOutcome] = run_site, *,
                 pooled: bool = True) -> None:
        self.jobs = max(1, jobs)
        self.runner = runner
        self.pooled = pooled

    def run(self, tasks: list[SiteTask], on_done: OnDone) -> None:
        """Run the tasks; call ``on_done`` in this thread for each, in finishing order.

        On KeyboardInterrupt the threads take no new site, the running ones end and are reported,
        every kernel is shut down, then the interrupt goes on.
        """
        todo: queue.SimpleQueue[SiteTask] = queue.SimpleQueue()
        for task in tasks:
            todo.put(task)
        results: queue.SimpleQueue[tuple[SiteTask, SiteOutcome] | None] = queue.SimpleQueue()
        stop = threading.Event()
        threads = [threading.Thread(target=self._work, args=(todo, results, stop), name=f"gapps-batch-{i}", daemon=True)
                   for i in range(min(self.jobs, len(tasks)))]
        for thread in threads:
            thread.start()
        running = len(threads)

        def drain() -> None:
            """Report finished sites until every thread has said it is done (None)."""
            nonlocal running
            while running:
                item = results.get()
                if item is None:
                    running -= 1
                else:
                    on_done(*item)

        try:
            drain()
        except KeyboardInterrupt:
            stop.set()  # queued sites are dropped; running ones end
            drain()
            raise

    def _work(self, todo: queue.SimpleQueue[SiteTask], results: queue.SimpleQueue[Any], stop: threading.Event) -> None:
        """One thread: start its kernel, then run sites until none is left or the batch stops."""
        kernel = None
        try:
            if self.pooled:
                from .kernel_pool import PooledKernel

                kernel = PooledKernel()
                try:
                    kernel.start()  # before the first site; if it fails, run_site reports it per site
                except Exception:  # noqa: BLE001
                    pass
            while not stop.is_set():
                try:
                    task = todo.get_nowait()
                except queue.Empty:
                    break
                try:
                    outcome = self.runner(task, kernel)
                except Exception as exc:  # noqa: BLE001  (a bug: this site fails, the batch goes on)
                    outcome = crashed(task, exc)
                results.put((task, outcome))
        finally:
            if kernel is not None:
                kernel.shutdown()
            results.put(None)


class DaskExecutor:
    """Submit each site to an existing ``dask.distributed`` scheduler (``tcp://HOST:PORT``)."""

    def __init__(self, scheduler: str, *, connect_timeout: float = 30) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise InputError("--executor dask needs the distributed package",
                             fix="pip install 'distributed' (it is in the test extra), or use --executor local") from None
        try:
            self.client = Client(scheduler, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise TransportError(f"cannot reach the Dask scheduler at {scheduler}: {type(exc).__name__}",
                                 fix="start it (dask scheduler) or pass the address it prints with --scheduler") from None

    def run(self, tasks: list[SiteTask], on_done: OnDone) -> None:
        """Submit every task, then call ``on_done`` for each as its worker finishes it."""
        from distributed import as_completed

        stamp = time.time_ns()
        by_key = {}
        for task in tasks:
            future = self.client.submit(run_site_pooled, task, pure=False, key=f"gapps-site-{task.profile}-{stamp}")
            by_key[future.key] = (future, task)
        futures = [f for f, _ in by_key.values()]
        try:
            with self.client.as_current():  # as_completed and results look the client up
                for future in as_completed(futures):
                    self._report(by_key[future.key][1], future, on_done)
        except KeyboardInterrupt:
            self.client.cancel([f for f in futures if not f.done()])
            for future, task in by_key.values():
                if future.status in ("finished", "error"):
                    self._report(task, future, on_done)
            raise
        finally:
            self.client.close()

    @staticmethod
    def _report(task: SiteTask, future: Any, on_done: OnDone) -> None:
        if future.status == "cancelled":
            return
        exc = future.exception() if future.status == "error" else None
        on_done(task, crashed(task, exc) if exc is not None else future.result())
