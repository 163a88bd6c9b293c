"""``gapps-runbook lab``: the profile's workspace, opened in JupyterLab on loopback.

The workspace (:mod:`gapps_runbook.runs.workspace`) is created or reopened first: copies of the step
notebooks whose parameters carry profile, home and issuer, the engineer's edits never overwritten. Then
JupyterLab starts on 127.0.0.1 in that folder, at notebook 00, with a random token passed through the
environment (never on the command line, where ``ps`` shows it); the URL with its token is printed.
``--emulator`` points the copies at the practice emulator (``http://127.0.0.1:8765``, or ``--emulator-port``)
and starts it in the background when nothing answers there (stopped again when JupyterLab stops); a
program there that is not the emulator (its discovery document says so) is refused. What ``lab``
starts dies with it, even on SIGKILL (:mod:`gapps_runbook.runs.children`), and the emulator's log is 0600.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

import click

from ..emulator.command import PORT_ENV, OneLineError
from ..emulator.persist import DEFAULT_PORT
from ..errors import InputError, RunbookError
from ..profile.files import default_home
from ..runs.children import die_with_parent
from ..runs.server_logs import QUIET, encrypt_kernels

EMULATOR_ISSUER = f"http://127.0.0.1:{DEFAULT_PORT}"
"""The practice emulator's issuer (``gapps-runbook emulator``'s default port)."""
EMULATOR_COMMAND = "gapps-runbook emulator"
"""The one command a person runs when ``lab`` could not start the emulator itself."""
FIRST_PORT = 8888
"""JupyterLab's usual port; the first free one from here is used unless ``--port`` is given."""


def answers(url: str, timeout: float = 1.0, token: str = "") -> bool:
    """True when an HTTP server answers ``url`` (any status below 500); ``token`` goes in ``Authorization``
    (Jupyter's token header, so the server logs no 403 for the probe)."""
    headers = {"Authorization": f"token {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as response:  # noqa: S310
            return int(response.status) < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (OSError, ValueError):
        return False


def wait_until(check: Callable[[], bool], seconds: float, poll: float = 0.2) -> bool:
    """Call ``check`` until it is true or ``seconds`` have passed; its last answer."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True


def free_port(first: int = FIRST_PORT, tries: int = 50) -> int:
    """The first port from ``first`` that 127.0.0.1 can bind (JupyterLab then gets it, no retries)."""
    for port in range(first, first + tries):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise InputError(f"no free port in {first}-{first + tries - 1} on 127.0.0.1", fix="pass --port N")


def emulator_port_option(func: Callable[..., object]) -> Callable[..., object]:
    """``--emulator-port N`` (env ``GAPPS_RUNBOOK_EMULATOR_PORT``): where ``--emulator`` finds or starts it."""
    return click.option("--emulator-port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, envvar=PORT_ENV,
                        show_default=True, show_envvar=True,
                        help="The practice emulator's port on 127.0.0.1 with --emulator (0: any free port).")(func)


def emulator_issuer(port: int) -> str:
    """The practice emulator's issuer on ``port`` (0: a free port, chosen now)."""
    if port == 0:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def is_emulator(issuer: str, timeout: float = 1.0) -> bool | None:
    """What answers at ``issuer``: True for the practice emulator, False for another program, None for nothing.

    The emulator is recognised by its discovery document (OpenID Connect Discovery 1.0 §4): JSON whose
    ``issuer`` is ``issuer`` and whose ``api_base`` and ``tokeninfo_endpoint`` (fields only it
    publishes in this form) sit under it.
    """
    try:
        with urllib.request.urlopen(issuer + "/.well-known/openid-configuration", timeout=timeout) as reply:  # noqa: S310
            document = json.loads(reply.read(65536))
    except urllib.error.HTTPError:
        return False
    except (OSError, ValueError):
        return None if not _listening(issuer) else False
    return isinstance(document, dict) and document.get("issuer") == issuer and \
        document.get("api_base") == issuer and document.get("tokeninfo_endpoint") == issuer + "/tokeninfo"


def _listening(issuer: str) -> bool:
    port = int(issuer.rsplit(":", 1)[1])
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def open_log(path: Path) -> int:
    """``path`` opened for appending, 0600 (created so, tightened if it was not), never through a symlink."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0),
                 0o600)
    os.fchmod(fd, 0o600)
    return fd


def start_emulator(home: Path, log: Path, issuer: str = EMULATOR_ISSUER) -> subprocess.Popen[bytes] | None:
    """Start the practice emulator at ``issuer`` in the background unless it answers already; None when it did.

    It gets SIGTERM (it saves its state and stops, as on Ctrl-C) when this process dies, even by SIGKILL.

    Raises:
        InputError: Another program answers on the port, or the emulator did not answer within 20 s
            (the fix names the option or the one command to run instead).
    """
    port = issuer.rsplit(":", 1)[1]
    found = is_emulator(issuer)
    if found:
        return None
    if found is False:
        raise InputError(f"port {port} on 127.0.0.1 answers, but not as the practice emulator",
                         fix="stop that program, or pass --emulator-port N (a free port: the emulator is started there)")
    env = {**os.environ, "GAPPS_RUNBOOK_HOME": str(home)}  # its state file beside the profiles
    out = open_log(log)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "gapps_runbook", "emulator", "--port", port], env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                preexec_fn=die_with_parent())
    finally:
        os.close(out)
    if not wait_until(lambda: proc.poll() is None and bool(is_emulator(issuer)), 20):
        proc.terminate()
        raise InputError(f"the practice emulator did not start on {issuer} (see {log})",
                         fix=f"run `{EMULATOR_COMMAND} --port {port}` in another terminal, then "
                             "`gapps-runbook lab --emulator` again")
    return proc


def jupyterlab_command(folder: Path, start: str, port: int) -> list[str]:
    """The JupyterLab command line: loopback only, no browser of its own, opened at ``start``, quiet on a
    healthy start (INFO lines off, kernels encrypted where pyzmq can: :mod:`gapps_runbook.runs.server_logs`)."""
    command = [sys.executable, "-m", "gapps_runbook.runs.lab_server", "--ServerApp.ip=127.0.0.1",
               "--ServerApp.open_browser=False", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
               f"--ServerApp.root_dir={folder}", f"--LabApp.default_url=/lab/tree/{start}",
               f"--ServerApp.{QUIET}", f"--LabApp.{QUIET}", *encrypt_kernels()]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return command


def run_jupyterlab(command: Sequence[str], token: str, url: str, *, open_browser: bool) -> int:
    """Run JupyterLab until it stops (Ctrl-C stops it); open ``url`` once it answers unless told not to."""
    root = next(part.split("=", 1)[1] for part in command if part.startswith("--ServerApp.root_dir="))
    env = {**os.environ, "JUPYTER_TOKEN": token, "GAPPS_RUNBOOK_LAB_ROOT": root}  # kernels: step links in 00
    proc = subprocess.Popen(list(command), env=env, preexec_fn=die_with_parent())  # its kernels go with it
    try:
        if wait_until(lambda: proc.poll() is not None or answers(url.split("/lab/")[0] + "/api/status", token=token), 60) \
                and proc.poll() is None:
            click.echo(f"JupyterLab is ready: {url}")
            if open_browser:
                import webbrowser

                webbrowser.open(url)
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait(15)
    except BaseException:  # Ctrl-C, or SIGTERM turned into SystemExit by lab(): JupyterLab stops too
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        raise


@click.command("lab")
@click.option("--emulator", "use_emulator", is_flag=True,
              help=f"Practise on the emulator ({EMULATOR_ISSUER}); started in the background if it is not running.")
@emulator_port_option
@click.option("--no-browser", is_flag=True, help="Only print the URL; do not open a browser.")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help=f"JupyterLab's port (default: the first free one from {FIRST_PORT}).")
@click.pass_context
def lab(ctx: click.Context, use_emulator: bool, emulator_port: int, no_browser: bool, port: int | None) -> None:
    """Open the profile's workspace in JupyterLab (127.0.0.1), at notebook 00.

    The workspace is <home>/workspaces/<profile>/: copies of the step notebooks with profile, home and
    issuer filled in. Reopening keeps your edits; a newer template is written beside yours as
    <name>.new.ipynb. The notebooks in the runbook's notebooks/ folder are templates and never change.
    """
    from ..runs.step_notebooks import notebooks_dir
    from ..runs.workspace import prepare

    obj = ctx.find_root().obj or {}
    home = Path(str(obj["home"])) if obj.get("home") else default_home()
    profile = str(obj.get("profile") or "default")
    issuer = emulator_issuer(emulator_port) if use_emulator else str(obj.get("issuer") or "")
    try:
        workspace = prepare(profile, home=home, issuer=issuer, templates=notebooks_dir())
        emulator = start_emulator(workspace.folder.parents[1], workspace.folder / "emulator.log", issuer) \
            if use_emulator else None
        port = port or free_port()
    except RunbookError as exc:
        raise OneLineError(exc) from None  # one line, the error's exit code (2 for bad input)
    click.echo("\n".join(workspace.report_lines()))
    if emulator is not None:
        click.echo(f"Started the practice emulator on {issuer} (stopped with JupyterLab; "
                   f"log: {workspace.folder / 'emulator.log'})")
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(128 + signal.SIGTERM))  # cleanup below runs
    token = secrets.token_hex(24)
    url = f"http://127.0.0.1:{port}/lab/tree/{workspace.start.name}?token={token}"
    click.echo(f"Starting JupyterLab on 127.0.0.1:{port} (Ctrl-C stops it): {url}")
    try:
        code = run_jupyterlab(jupyterlab_command(workspace.folder, workspace.start.name, port), token, url,
                              open_browser=not no_browser)
    finally:
        if emulator is not None:
            emulator.terminate()
            emulator.wait(10)
    ctx.exit(code)
