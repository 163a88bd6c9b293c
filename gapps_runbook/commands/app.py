"""``gapps-runbook app``: the runbook as a no-code Voilà app on loopback.

One notebook (``gapps_runbook/app/app.ipynb``) whose pages are steps 00-05 with Back and Next, code
hidden, one kernel per opened app page (:mod:`gapps_runbook.app.runbook_app`). The server
(:mod:`gapps_runbook.app.voila_server`) runs in a child process on 127.0.0.1 with a random token passed
through the environment; the URL with its token is printed once it listens. ``--emulator`` points the
app at the practice emulator and starts it in the background when nothing answers there, as ``lab`` does.
The server (and so its kernels) and the emulator die with the command, even on SIGKILL.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import signal
import socket
import subprocess
import sys
import urllib.parse
from pathlib import Path

import click

from ..errors import InputError
from ..profile.files import default_home
from ..runs.children import TOKEN_ENV, die_with_parent
from .lab import EMULATOR_ISSUER, emulator_issuer, emulator_port_option, free_port, start_emulator, wait_until

FIRST_PORT = 8866
"""Voilà's usual port; the first free one from here is used unless ``--port`` is given."""


def app_notebook() -> Path:
    """The app notebook, shipped inside the package."""
    return Path(__file__).resolve().parents[1] / "app" / "app.ipynb"


def listening(port: int) -> bool:
    """True when something accepts connections on 127.0.0.1:``port`` (no request is made: no kernel starts)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def check_can_serve(port: int | None) -> int:
    """The port to serve on (``port``, else the first free one from :data:`FIRST_PORT`), once Voilà is there.

    Raises:
        InputError: Voilà is not installed, or ``port`` is taken (each with its one fix).
    """
    if importlib.util.find_spec("voila") is None:
        raise InputError("the app needs Voila, which is not installed here",
                         fix="pip install 'gapps-runbook[app]' (make test and make demo install it)")
    if port is None:
        return free_port(FIRST_PORT)
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise InputError(f"port {port} on 127.0.0.1 is taken", fix="pass another --port N, or leave it out") from None
    return port


def serve(port: int, token: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start the Voilà server (:mod:`gapps_runbook.app.voila_server`, which builds its own arguments) in a child
    process; this one never imports Voilà (about 1 s of the app's start: figure B7 in docs/performance.md)."""
    command = [sys.executable, "-m", "gapps_runbook.app.voila_server", str(app_notebook()), str(port)]
    return subprocess.Popen(command, env={**env, TOKEN_ENV: token}, preexec_fn=die_with_parent())  # kernels go with it


def run_server(proc: subprocess.Popen[bytes], port: int, url: str, *, open_browser: bool) -> int:
    """Wait for the server to listen, print the URL (open it unless told not to), run until it stops."""
    try:
        if not wait_until(lambda: proc.poll() is not None or listening(port), 60) or proc.poll() is not None:
            proc.terminate()
            raise click.ClickException(f"the app did not start on 127.0.0.1:{port} (its lines are above). "
                                       "Fix: pass another --port N, or run `gapps-runbook app` again")
        click.echo(f"The app is ready: {url}")
        if open_browser:
            import webbrowser

            webbrowser.open(url)
        return proc.wait()
    except click.ClickException:
        raise
    except BaseException:  # Ctrl-C, or SIGTERM turned into SystemExit: the server (and its kernels) stop too
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        if isinstance(sys.exc_info()[1], KeyboardInterrupt):
            return 130
        raise


@click.command("app")
@click.option("--profile", "app_profile", default=None, metavar="NAME",
              help="The profile the app opens (default: the group's --profile, else 'default'); "
                   "page 00 switches it.")
@click.option("--emulator", "use_emulator", is_flag=True,
              help=f"Practise on the emulator ({EMULATOR_ISSUER}); started in the background if it is not running.")
@emulator_port_option
@click.option("--no-browser", is_flag=True, help="Only print the URL; do not open a browser.")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help=f"The app's port (default: the first free one from {FIRST_PORT}).")
@click.pass_context
def app(ctx: click.Context, app_profile: str | None, use_emulator: bool, emulator_port: int, no_browser: bool,
        port: int | None) -> None:
    """Serve the runbook as a no-code app (Voila) on 127.0.0.1: steps 00-05 as pages with Back and Next.

    Code is hidden; the forms are the step notebooks' own. A page's kernel starts when the page is
    opened (nothing runs before) and stops when it is closed; opening a page changes nothing stored.
    The URL may carry ?profile=NAME. The page loads nothing from the internet (no CDN).
    Ctrl-C stops the app.
    """
    from ..profile.store import ProfileStore
    from ..app.runbook_app import ISSUER_ENV, PROFILE_ENV

    obj = ctx.find_root().obj or {}
    home = Path(str(obj["home"])) if obj.get("home") else default_home()
    profile = app_profile or str(obj.get("profile") or "default")
    issuer = emulator_issuer(emulator_port) if use_emulator else str(obj.get("issuer") or "")
    log = home / "app-emulator.log"
    port = check_can_serve(port)  # a RunbookError is one line with its exit code (cli.run)
    store = ProfileStore(home)
    store.ensure_dirs(store.profile(profile).path)  # created now if new (0700), so opening a page creates nothing
    emulator = start_emulator(home, log, issuer) if use_emulator else None
    if emulator is not None:
        click.echo(f"Started the practice emulator on {issuer} (stopped with the app; log: {log})")
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(128 + signal.SIGTERM))  # cleanup below runs
    token = secrets.token_hex(24)
    url = f"http://127.0.0.1:{port}/?{urllib.parse.urlencode({'profile': profile, 'token': token})}"
    click.echo(f"Starting the app on 127.0.0.1:{port} (Ctrl-C stops it): {url}")
    env = {**os.environ, "GAPPS_RUNBOOK_HOME": str(home), PROFILE_ENV: profile, ISSUER_ENV: issuer}
    try:
        code = run_server(serve(port, token, env), port, url, open_browser=not no_browser)
    finally:
        if emulator is not None:
            emulator.terminate()
            emulator.wait(10)
    ctx.exit(code)
