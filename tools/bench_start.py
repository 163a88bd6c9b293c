"""Figures B7 and B8 of ``make bench``: how soon a person sees the first usable page, against plain Jupyter.

Each start is a whole process begun by the bench and a page opened in Chromium (Debian's ``/usr/bin/chromium``
through Playwright, launched once, a fresh browser context per start so no cache is shared); the time runs
from just before the process starts until the page shows what a person waits for:

* B7, ``gapps-runbook app``: page 00's form (its Profile picker) rendered by the widget manager, against
  Voilà serving a notebook with one empty code cell (``python -m voila``, its defaults): its cells shown
  (Voilà's ``#rendered_cells``, displayed once the notebook ran and the page's theme loaded);
* B8, ``gapps-runbook lab``: the step notebook 00 open in JupyterLab with its kernel idle, against plain
  JupyterLab (``python -m jupyterlab``) opening a notebook with one empty code cell: the same condition.

The commands of one figure run in turn (A B A B ...) after one untimed start of each (disk caches and
Jupyter's first-run files), each on a free port with its own Jupyter folders (config, data, runtime,
IPython), so every start is a first start of the server; ``gapps-runbook`` opens the bench's authorized
profile (its issuer: the bench's emulator; page 00 and notebook 00 make no network call). A plain server's
readiness is polled every 50 ms; ``gapps-runbook`` says it is ready by printing its URL, as a person sees it.
"""

from __future__ import annotations

import os
import queue
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-gpu", "--no-first-run"]
CLI = [sys.executable, "-m", "gapps_runbook"]
DEADLINE = 180.0  # s: one start on a loaded 2-core machine
APP_READY = ".gapps-app .gapps-form .widget-dropdown select"
"""Page 00's Profile picker inside the app's box: the widget manager rendered the page's widgets."""
VOILA_READY = "#rendered_cells"
"""Voilà's cells container, shown once the notebook ran (``window.display_cells``)."""
KERNEL_IDLE = "Python 3 (ipykernel) | Idle"
"""The accessible name of JupyterLab's kernel status button once the notebook's kernel is idle."""


@dataclass(frozen=True)
class Starts:
    """The start-up times of one command (seconds), in the order measured."""

    times: tuple[float, ...]

    @property
    def median(self) -> float:
        """The median start."""
        return statistics.median(self.times)

    def text(self) -> str:
        """``median s (min-max)``."""
        return f"{self.median:.1f} s ({min(self.times):.1f}-{max(self.times):.1f})"


@dataclass(frozen=True)
class Started:
    """A server process begun by the bench and the URL to open in Chromium."""

    proc: subprocess.Popen[str]
    url: str


def empty_notebook(path: Path) -> Path:
    """Write a notebook with one empty code cell and the ``python3`` kernel named (as the step notebooks name
    it, so JupyterLab starts it without asking which kernel)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells.append(nbformat.v4.new_code_cell(""))
    nbformat.write(nb, str(path))
    return path


def free_port() -> int:
    """A port free on 127.0.0.1 now (bound to port 0, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def jupyter_env(folder: Path) -> dict[str, str]:
    """This process's environment without Jupyter's, IPython's, Voilà's or the runbook's variables, with
    fresh Jupyter folders under ``folder``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "GAPPS_RUNBOOK_", "IPYTHON", "VOILA"))}
    env.update(JUPYTER_CONFIG_DIR=str(folder / "config"), JUPYTER_DATA_DIR=str(folder / "data"),
               JUPYTER_RUNTIME_DIR=str(folder / "runtime"), IPYTHONDIR=str(folder / "ipython"), PYTHONUNBUFFERED="1")
    return env


def stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM (each server shuts its kernels down; ``gapps-runbook`` stops its server), SIGKILL after 30 s."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def until(check: Callable[[], bool], proc: subprocess.Popen[str], what: str, poll: float = 0.05) -> None:
    """Poll ``check`` until true; RuntimeError when ``proc`` exits first or after :data:`DEADLINE`."""
    deadline = time.monotonic() + DEADLINE
    while not check():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start (exit code {proc.poll()})")
        time.sleep(poll)


def answers(url: str) -> bool:
    """True once an HTTP server answers ``url`` with any status below 500."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310 (loopback, a URL the bench built)
            return int(reply.status) < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


def printed_url(proc: subprocess.Popen[str], marker: str) -> str:
    """The URL ``gapps-runbook`` prints after ``marker`` (its ready line), read as it is printed."""
    lines: queue.Queue[str] = queue.Queue()
    out = proc.stdout
    assert out is not None

    def pump() -> None:
        for line in out:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise RuntimeError(f"no {marker!r} line within {DEADLINE:.0f} s (exit code {proc.poll()})") from None
        if marker in line:
            return line.split(marker, 1)[1].strip()


def runbook_command(home: Path, issuer: str, profile: str, command: str) -> Callable[[Path], Started]:
    """``gapps-runbook --home HOME --issuer ISSUER --profile PROFILE COMMAND --no-browser --port N``."""

    def start(jupyter: Path) -> Started:
        argv = [*CLI, "--home", str(home), "--issuer", issuer, "--profile", profile, command, "--no-browser",
                "--port", str(free_port())]
        proc = subprocess.Popen(argv, env=jupyter_env(jupyter), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL, text=True)
        try:
            return Started(proc, printed_url(proc, " is ready: "))
        except BaseException:
            stop(proc)
            raise

    return start


def plain_voila(notebook: Path) -> Callable[[Path], Started]:
    """``python -m voila NOTEBOOK --no-browser --port N`` (on 127.0.0.1; Voilà's other defaults)."""

    def start(jupyter: Path) -> Started:
        port = free_port()
        argv = [sys.executable, "-m", "voila", "--no-browser", "--Voila.ip=127.0.0.1", f"--port={port}",
                str(notebook)]
        proc = subprocess.Popen(argv, env=jupyter_env(jupyter), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL, text=True, cwd=notebook.parent)
        url = f"http://127.0.0.1:{port}/"
        try:
            until(lambda: answers(url + "api/status"), proc, "Voila")
        except BaseException:
            stop(proc)
            raise
        return Started(proc, url)

    return start


def plain_jupyterlab(notebook: Path) -> Callable[[Path], Started]:
    """``python -m jupyterlab --no-browser`` on 127.0.0.1, a free port, a token, serving ``notebook``'s folder."""

    def start(jupyter: Path) -> Started:
        port, token = free_port(), secrets.token_hex(24)
        argv = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={notebook.parent}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            argv.append("--allow-root")  # as `gapps-runbook lab` adds it
        proc = subprocess.Popen(argv, env={**jupyter_env(jupyter), "JUPYTER_TOKEN": token}, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
        base = f"http://127.0.0.1:{port}"
        try:
            until(lambda: answers(f"{base}/api/status?token={token}"), proc, "JupyterLab")
        except BaseException:
            stop(proc)
            raise
        return Started(proc, f"{base}/lab/tree/{notebook.name}?token={token}")

    return start


def shown_app(page: Any) -> None:
    """Page 00's widgets are rendered (the Profile picker of the app's page 00 form)."""
    page.wait_for_selector(APP_READY, state="visible", timeout=DEADLINE * 1000)


def shown_voila(page: Any) -> None:
    """Voilà's cells are shown (the empty notebook ran, the page's theme loaded)."""
    page.wait_for_selector(VOILA_READY, state="visible", timeout=DEADLINE * 1000)


def shown_lab(page: Any) -> None:
    """A notebook is open in JupyterLab and its kernel is idle (the kernel status button says so)."""
    page.get_by_role("button", name=KERNEL_IDLE).wait_for(state="visible", timeout=DEADLINE * 1000)


@contextmanager
def chromium() -> Iterator[Any]:
    """Chromium through Playwright, launched once (its launch is not part of any start)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def one_start(browser: Any, tmp: Path, start: Callable[[Path], Started], shown: Callable[[Any], None]) -> float:
    """Seconds from just before the process starts until ``shown`` holds in a fresh browser context."""
    jupyter = Path(tempfile.mkdtemp(prefix="jupyter-", dir=tmp))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    began = time.perf_counter()
    started = start(jupyter)
    try:
        page = context.new_page()
        page.goto(started.url, timeout=DEADLINE * 1000)
        shown(page)
        took = time.perf_counter() - began
        page.close(run_before_unload=True)  # the app's page asks its server to stop its kernel, as a closed tab does
    finally:
        context.close()
        stop(started.proc)
        shutil.rmtree(jupyter, ignore_errors=True)
    return took


def compare(browser: Any, tmp: Path, ours: tuple[Callable[[Path], Started], Callable[[Any], None]],
            plain: tuple[Callable[[Path], Started], Callable[[Any], None]], runs: int) -> tuple[Starts, Starts]:
    """``runs`` starts of each, in turn, after one untimed start of each; (ours, plain)."""
    one_start(browser, tmp, *ours)
    one_start(browser, tmp, *plain)
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        times[0].append(one_start(browser, tmp, *ours))
        times[1].append(one_start(browser, tmp, *plain))
    return Starts(tuple(times[0])), Starts(tuple(times[1]))


def app_vs_voila(browser: Any, tmp: Path, home: Path, issuer: str, profile: str, notebook: Path,
                 runs: int) -> tuple[Starts, Starts]:
    """B7's starts: ``gapps-runbook app`` (page 00 rendered) and Voilà on ``notebook`` (its cells shown)."""
    return compare(browser, tmp, (runbook_command(home, issuer, profile, "app"), shown_app),
                   (plain_voila(notebook), shown_voila), runs)


def lab_vs_jupyterlab(browser: Any, tmp: Path, home: Path, issuer: str, profile: str, notebook: Path,
                      runs: int) -> tuple[Starts, Starts]:
    """B8's starts: ``gapps-runbook lab`` and JupyterLab on ``notebook``, each until the kernel is idle."""
    return compare(browser, tmp, (runbook_command(home, issuer, profile, "lab"), shown_lab),
                   (plain_jupyterlab(notebook), shown_lab), runs)
