"""Pre-started Jupyter kernels reused across a batch's sites (figure B4 in docs/performance.md).

Starting one kernel per site and importing the notebook layer in it would cost about 0.6 s a site.
A :class:`PooledKernel` is started once, imports ``gapps_runbook.notebook``
once, and then runs one site's notebook after another through papermill (an engine registered here,
``gapps-pool``, hands papermill's nbclient client the running kernel and its client instead of
starting one), so a site costs about the step's own work.

Isolation between sites, in the kernel (:func:`kernel_reset`, run before every site, outside the
site's notebook and never saved in it):

* the IPython user namespace, its output history and execution counter (``InteractiveShell.reset``,
  as ``%reset -f``, with a new session so cell numbers start at 1 again as in a fresh kernel);
* ``os.environ``, the working directory, and every logger's handlers and level as they were once
  the kernel had imported the notebook layer (:func:`kernel_baseline`);
* the secrets registered for log redaction (``safety.redact.restore_registry``);
* the forms kept for "the same cell run again" (``notebook.forms_common._LATEST``) and any ipywidgets.

gapps_runbook keeps no other per-site state at module level: a ``Site``, its ``ProfileStore`` and
its transport (with its ``requests`` session) are made per call by the notebook's entry point;
the per-path profile locks of ``profile.files`` are keyed by path and hold nothing of a site.

A kernel that died, timed out or failed its reset is shut down and replaced by a new one
(:meth:`PooledKernel.replace`); the site that was running is reported by the caller. A kernel is
bound to the thread (and its asyncio loop) that started it: each batch thread owns one.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

ENGINE = "gapps-pool"
WARM_UP = ("import gapps_runbook.notebook\n"
           "__import__('gapps_runbook.batch.kernel_pool', fromlist=['_']).kernel_baseline()")
RESET = "__import__('gapps_runbook.batch.kernel_pool', fromlist=['_']).kernel_reset()"
RESET_TIMEOUT = 30.0  # seconds; an idle kernel answers in milliseconds

# --- kernel side: runs inside the pooled kernel ------------------------------------------------

_baseline: dict[str, Any] | None = None


def kernel_baseline() -> None:
    """Remember the kernel's clean state (environment, cwd, log handlers, redaction registry)."""
    import logging

    from ..safety.redact import registry_snapshot

    global _baseline
    _baseline = {"environ": dict(os.environ), "cwd": os.getcwd(), "loggers": _loggers_state(logging),
                 "secrets": registry_snapshot()}


def kernel_reset() -> None:
    """Bring the kernel back to its baseline: what one site did is not seen by the next one."""
    import logging

    from ..safety.redact import restore_registry

    if _baseline is None:
        raise RuntimeError("kernel_baseline() was not run in this kernel")
    forms = sys.modules.get("gapps_runbook.notebook.forms_common")
    if forms is not None:  # forms kept for "the same cell run again" hold their Site
        latest = getattr(forms, "_LATEST", {})
        for form in list(latest.values()):
            form.stop()
        latest.clear()
    widgets = sys.modules.get("ipywidgets")
    if widgets is not None:
        widgets.Widget.close_all()
    shell = _shell()
    if shell is not None:
        shell.reset(new_session=True)  # %reset -f, and execution counts from 1 again
    os.environ.clear()
    os.environ.update(_baseline["environ"])
    os.chdir(_baseline["cwd"])
    kept = _baseline["loggers"]
    for name, (handlers, level) in _loggers_state(logging).items():
        logger = logging.getLogger(name or None)
        before_handlers, before_level = kept.get(name, ([], logging.NOTSET))
        for handler in handlers:
            if handler not in before_handlers:
                logger.removeHandler(handler)
        if level != before_level:
            logger.setLevel(before_level)
    restore_registry(_baseline["secrets"])


def _loggers_state(logging: Any) -> dict[str, tuple[list[Any], int]]:
    loggers = {"": logging.getLogger()}
    loggers.update((name, logger) for name, logger in list(logging.Logger.manager.loggerDict.items())
                   if isinstance(logger, logging.Logger))
    return {name: (list(logger.handlers), logger.level) for name, logger in loggers.items()}


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


# --- batch side: the kernels and the papermill engine -------------------------------------------


class KernelFailed(RuntimeError):
    """A pooled kernel did not start, or did not come back to its baseline."""


class PooledKernel:
    """One kernel (and its client) started once and reused, site after site, by one thread.

    Args:
        kernel_name: The Jupyter kernel.
        startup_timeout: Seconds the kernel may take to answer once started.
    """

    engine = ENGINE  # the papermill engine that runs a notebook in it

    def __init__(self, kernel_name: str = "python3", startup_timeout: float = 60) -> None:
        self.kernel_name = kernel_name
        self.startup_timeout = startup_timeout
        self.km: Any = None
        self.kc: Any = None
        self.sites = 0
        self.started = 0  # kernels started by this slot (1 + replacements)
        self._thread = threading.get_ident()

    def start(self) -> None:
        """Start the kernel, wait until it answers, import the notebook layer and take the baseline."""
        from jupyter_core.utils import run_sync

        from ..runs.execute import _kernel_manager_with_env, import_jupyter

        import_jupyter()
        register_engine()
        self.km = _kernel_manager_with_env({})(kernel_name=self.kernel_name)
        run_sync(self.km.start_kernel)(extra_arguments=["--HistoryManager.hist_file=:memory:"])
        self.started += 1
        try:
            self.kc = self.km.client()
            self.kc.start_channels()
            run_sync(self.kc.wait_for_ready)(timeout=self.startup_timeout)
            self.kc.allow_stdin = False
            self._run(WARM_UP, timeout=self.startup_timeout)
        except BaseException:
            self.shutdown()
            raise

    def prepare(self) -> None:
        """Make the kernel ready for the next site: reset it, or replace it if it is dead or stuck."""
        if self.km is None:
            self.start()
        elif self.sites:
            try:
                if not self.alive():
                    raise KernelFailed("the kernel died")
                self._run(RESET, timeout=RESET_TIMEOUT)
            except Exception:  # noqa: BLE001  (whatever went wrong, a new kernel is the answer)
                self.replace()
        self.sites += 1

    def alive(self) -> bool:
        """Whether the kernel process still runs."""
        from jupyter_core.utils import run_sync

        return self.km is not None and bool(run_sync(self.km.is_alive)())

    def replace(self) -> None:
        """Shut this kernel down (at once) and start a new one."""
        self.shutdown()
        self.start()

    def shutdown(self) -> None:
        """Stop the client's channels and the kernel; never raises."""
        from jupyter_core.utils import run_sync

        kc, km, self.kc, self.km = self.kc, self.km, None, None
        try:
            if kc is not None:
                kc.stop_channels()
        except Exception:  # noqa: BLE001
            pass
        try:
            if km is not None:
                if run_sync(km.is_alive)():
                    run_sync(km.shutdown_kernel)(now=True)
                else:
                    run_sync(km.cleanup_resources)()
        except Exception:  # noqa: BLE001
            pass

    def _run(self, code: str, *, timeout: float) -> None:
        """Run ``code`` silently (not in any notebook, not in the history); raise if it fails."""
        from jupyter_core.utils import run_sync

        reply = run_sync(self.kc.execute_interactive)(code, silent=True, store_history=False, timeout=timeout,
                                                      output_hook=lambda msg: None, allow_stdin=False)
        content = reply.get("content", {})
        if content.get("status") != "ok":
            raise KernelFailed(f"{content.get('ename', 'error')}: {content.get('evalue', '')}")


_engine_lock = threading.Lock()
_engine_registered = False


def register_engine() -> None:
    """Register the ``gapps-pool`` papermill engine (once): papermill's client on a running kernel."""
    global _engine_registered
    with _engine_lock:
        if _engine_registered:
            return
        from papermill.clientwrap import PapermillNotebookClient
        from papermill.engines import NBClientEngine, papermill_engines
        from papermill.log import logger
        from papermill.utils import merge_kwargs, remove_args

        class PooledClient(PapermillNotebookClient):
            """papermill's nbclient client, given a started kernel and client: it starts and stops neither."""

            def __init__(self, nb_man: Any, pooled: PooledKernel, **kw: Any) -> None:
                super().__init__(nb_man, km=pooled.km, **kw)
                self.kc = pooled.kc  # nbclient then skips starting a client; owns_km is False: nothing shut down

        class PooledEngine(NBClientEngine):
            """papermill's nbclient engine (``NBClientEngine.execute_managed_notebook``) with :class:`PooledClient`."""

            @classmethod
            def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, log_output: bool = False,
                                         stdout_file: Any = None, stderr_file: Any = None, start_timeout: float = 60,
                                         execution_timeout: float | None = None, **kwargs: Any) -> Any:
                kwargs = remove_args(["input_path", "timeout", "startup_timeout", "kernel_manager_class"], **kwargs)
                final = merge_kwargs(kwargs, timeout=execution_timeout, startup_timeout=start_timeout,
                                     kernel_name=kernel_name, log=logger, log_output=log_output,
                                     stdout_file=stdout_file, stderr_file=stderr_file)
                return PooledClient(nb_man, **final).execute()

        papermill_engines.register(ENGINE, PooledEngine)
        _engine_registered = True
