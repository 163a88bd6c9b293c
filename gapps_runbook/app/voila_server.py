"""``gapps-runbook app``'s server: Voilà serving the app notebook on 127.0.0.1.

Run as ``python -m gapps_runbook.app.voila_server`` by :mod:`gapps_runbook.commands.app` (imported by nothing
else: it loads Voilà, tornado and jupyter_server at import). :class:`RunbookVoila` is Voilà 0.5.13 with:

* **the page's shutdown beacon working** (voila-dashboards/voila#1458): on ``beforeunload`` the page posts
  ``/voila/api/shutdown/<kernel id>`` with the ``_xsrf`` cookie's value, but Voilà never set that cookie,
  so the POST was refused (403 "'_xsrf' argument missing") and every closed page left its kernel running.
  :class:`AppPageHandler` reads ``self.xsrf_token`` before rendering, so tornado sets the cookie; XSRF
  checking stays on;
* **a backstop**: a kernel with no page connected for :attr:`RunbookVoila.unconnected_grace` seconds is shut
  down (a ticking countdown keeps a kernel "active", so jupyter_server's idle culling alone never fires;
  it is configured too, for kernels that do go idle);
* **no request off the machine**: Voilà's lab template links Font Awesome from cdn.jsdelivr.net;
  :data:`REMOTE_TAG` removes any ``<link>``/``<script>`` to an ``http(s)://`` address from the page
  (the icons still show: the page's widget manager bundles its own copy). MathJax is off in that template already;
* no preheated kernels (Voilà's default, kept): a kernel starts when a page is opened, not before.

* **a consent tab of an abandoned attempt lands on a page that says so**: its kernels' Desktop app listeners
  announce their ports in a folder of this server (:data:`~gapps_runbook.oauth.loopback_listener.PARK_ENV`);
  when a kernel is gone with its listener still announced (its page was left while step 03 waited), the
  server listens on that port for :attr:`RunbookVoila.abandoned_seconds` and answers every request with
  :func:`~gapps_runbook.oauth.loopback_listener.abandoned_landing` and a link to step 03, instead of the
  browser's "This site can't be reached" (RFC 8252 §7.3). Nothing is logged (the address holds ``?code=``);
  the code is never used (its PKCE verifier died with the kernel).

* **the Host header checked** as JupyterLab checks it (jupyter_server's ``check_host``, a defence
  against DNS rebinding), more strictly: only ``127.0.0.1:PORT`` and ``localhost:PORT`` are served
  (:class:`LoopbackHostOnly`); any other name or port gets 403 before a handler runs. Voilà itself
  turns jupyter_server's check off (``allow_remote_access=True``).

The token comes through :data:`TOKEN_ENV` (never the command line, where ``ps`` shows it) and is removed
from the environment before any kernel starts; it is also removed from the page request (its query
string and URL) that Voilà hands to the page's kernel as ``QUERY_STRING`` and ``VOILA_REQUEST_URL``,
so no kernel's environment holds it.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import tornado.httpserver
import tornado.httputil
import tornado.web
from tornado.ioloop import IOLoop, PeriodicCallback
from tornado.routing import Matcher, Rule
from traitlets import Float
from voila.app import Voila
from voila.tornado.handler import TornadoVoilaHandler

from ..oauth import loopback_listener
from ..runs.children import TOKEN_ENV
from ..runs.server_logs import QUIET, encrypt_kernels, quiet
from ..steps import AUTHORIZE
from .app_nav import NAV_SCRIPT

REMOTE_TAG = re.compile(r"""<(link|script)\b[^>]*\b(?:href|src)=["']https?://[^"']*["'][^>]*>(?:\s*</script>)?\s*""",
                        re.IGNORECASE)
"""A stylesheet or script fetched from another host (Voilà's lab template: Font Awesome from a CDN)."""


class AppPageHandler(TornadoVoilaHandler):
    """Voilà's page handler, setting the ``_xsrf`` cookie, leaving out remote stylesheets and scripts, and
    putting the app's place-keeping script (:data:`.app_nav.NAV_SCRIPT`) first in the page's head."""

    @tornado.web.authenticated
    async def get(self, path: str | None = None) -> None:
        """Render the app page (its kernel starts now, for this page only)."""
        _ = self.xsrf_token  # tornado sets the _xsrf cookie the page's shutdown beacon sends back (voila#1458)
        without_token(self.request)  # authenticated already (a login cookie is set); the kernel never sees it
        head = False
        async for html in self.get_generator(path=path):
            if not head and "<head>" in html:  # first in the head: its beforeunload listener precedes Voilà's
                html, head = html.replace("<head>", f"<head>{NAV_SCRIPT}", 1), True
            self.write(REMOTE_TAG.sub("", html))
            self.flush()


def without_token(request: tornado.httputil.HTTPServerRequest) -> None:
    """Remove the ``token`` query argument from ``request`` (its query, URI and parsed arguments)."""
    kept = [(k, v) for k, v in urllib.parse.parse_qsl(request.query, keep_blank_values=True) if k != "token"]
    request.query = urllib.parse.urlencode(kept)
    request.uri = request.path + (f"?{request.query}" if request.query else "")
    request.query_arguments.pop("token", None)
    request.arguments.pop("token", None)


class LoopbackHostOnly(Matcher):
    """Matches a request whose ``Host`` is NOT ``127.0.0.1:PORT`` or ``localhost:PORT`` (it is refused)."""

    def __init__(self, port: int) -> None:
        self.allowed = {f"127.0.0.1:{port}", f"localhost:{port}"}

    def match(self, request: tornado.httputil.HTTPServerRequest) -> dict[str, Any] | None:
        """``{}`` (refuse) for another host, None (go on routing) for a loopback one on our port."""
        return None if request.host.lower() in self.allowed else {}


class HostRefused(tornado.web.RequestHandler):
    """403 for a request to another host name or port (DNS rebinding, a proxy that forwards ``Host``)."""

    def prepare(self) -> None:
        """Refuse before anything else runs."""
        raise tornado.web.HTTPError(403, "Host not allowed")


class AbandonedHandler(tornado.web.RequestHandler):
    """The answer on an abandoned attempt's port: the landing page that says so (410 Gone), any GET of ``/``."""

    def initialize(self, page: str) -> None:
        self.page = page

    def get(self) -> None:
        """The page; anything but ``/`` (a favicon) is 404."""
        if self.request.path != "/":
            raise tornado.web.HTTPError(404)
        self.set_status(410)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        for name, value in loopback_listener.LANDING_HEADERS:
            self.set_header(name, value)
        self.finish(self.page)


class RunbookVoila(Voila):
    """Voilà with :class:`AppPageHandler`, the reaper of kernels no page is connected to, and the ports of
    abandoned attempts kept answering."""

    name = "gapps-runbook-app"
    unconnected_grace = Float(120.0, config=True,
                              help="Seconds a kernel may run with no page connected before it is shut down.")
    abandoned_seconds = Float(900.0, config=True,
                              help="Seconds an abandoned attempt's port answers with the page that says so.")

    def init_handlers(self) -> list[Any]:
        """Voilà's handlers, its page handler replaced by :class:`AppPageHandler`."""
        handlers = []
        for handler in super().init_handlers():
            if len(handler) > 1 and handler[1] is TornadoVoilaHandler:
                handler = (handler[0], AppPageHandler, *handler[2:])
            handlers.append(handler)
        return handlers

    def listen(self) -> None:
        """Refuse other hosts, start the reaper, then serve until stopped (Voilà's own loop)."""
        quiet(self.log)  # the app notebook has no outputs to trust (runs/server_logs.py)
        self._unconnected_since: dict[str, float] = {}
        router = self.app.default_router
        router.rules.insert(0, router.process_rule(Rule(LoopbackHostOnly(self.port), HostRefused)))
        PeriodicCallback(self._reap, 2000).start()
        folder = os.environ.get(loopback_listener.PARK_ENV)
        if folder:
            PeriodicCallback(lambda: self._park(Path(folder)), 250).start()
        super().listen()

    def _park(self, folder: Path) -> None:
        """Answer on each announced port whose kernel is gone (its attempt was abandoned)."""
        for note in loopback_listener.announcements(folder):
            if _alive(note.pid):
                continue
            note.path.unlink(missing_ok=True)
            where = {"page": AUTHORIZE.number, **({"profile": note.profile} if note.profile else {})}
            query = urllib.parse.urlencode(where)
            page = loopback_listener.landing_html(loopback_listener.abandoned_landing(
                f"http://127.0.0.1:{self.port}/?{query}"))
            app = tornado.web.Application([(r"/.*", AbandonedHandler, {"page": page})],
                                          log_function=lambda _handler: None)  # its address holds ?code=
            server = tornado.httpserver.HTTPServer(app)
            try:
                server.listen(note.port, loopback_listener.HOST)
            except OSError:  # taken again meanwhile: nothing to say there
                self.log.debug("could not keep port %s answering for an abandoned attempt", note.port)
                continue
            IOLoop.current().call_later(self.abandoned_seconds, server.stop)

    async def _reap(self) -> None:
        """Shut down each kernel that has had no page connected for :attr:`unconnected_grace` seconds."""
        manager, now = self.kernel_manager, time.monotonic()
        for kernel_id in list(manager.list_kernel_ids()):
            if manager._kernel_connections.get(kernel_id, 0):
                self._unconnected_since.pop(kernel_id, None)
                continue
            since = self._unconnected_since.setdefault(kernel_id, now)
            if now - since >= self.unconnected_grace:
                self.log.info("Shutting down kernel %s: no page connected for %.0f s", kernel_id, now - since)
                self._unconnected_since.pop(kernel_id, None)
                await manager.shutdown_kernel(kernel_id)
        for gone in set(self._unconnected_since) - set(manager.list_kernel_ids()):
            self._unconnected_since.pop(gone, None)


def voila_argv(notebook: str, port: int, *, grace: float = 120.0) -> list[str]:
    """The server's arguments: loopback, no browser, no port retries, light theme, idle culling on, quiet on a
    healthy start (INFO lines off, kernels encrypted where pyzmq can: :mod:`gapps_runbook.runs.server_logs`)."""
    return [notebook, "--Voila.ip=127.0.0.1", f"--Voila.port={port}", "--Voila.port_retries=0",
            "--Voila.open_browser=False", f"--Voila.root_dir={os.path.dirname(notebook)}", "--theme=light",
            "--VoilaConfiguration.preheat_kernel=False", "--VoilaConfiguration.show_tracebacks=False",
            "--MappingKernelManager.cull_idle_timeout=600", "--MappingKernelManager.cull_interval=60",
            "--MappingKernelManager.cull_connected=False", f"--RunbookVoila.unconnected_grace={grace}",
            f"--Voila.{QUIET}", *encrypt_kernels()]


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a kernel this server shut down is reaped by jupyter_client)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: not ours to judge
        return True
    return True


def main(argv: list[str] | None = None) -> None:
    """Serve ``NOTEBOOK PORT`` (default: this process's arguments) with :func:`voila_argv` until stopped (SIGTERM
    or Ctrl-C shuts every kernel down). The arguments are built here, so ``gapps-runbook app`` never imports Voilà."""
    notebook, port = argv if argv is not None else sys.argv[1:]
    token = os.environ.pop(TOKEN_ENV, None)  # never an argument `ps` shows, nor in a kernel's environment
    folder = tempfile.mkdtemp(prefix="gapps-runbook-app-")  # 0700: the kernels' listeners announce ports there
    os.environ[loopback_listener.PARK_ENV] = folder  # the kernels inherit it
    try:
        RunbookVoila.launch_instance(voila_argv(notebook, int(port)), **({"token": token} if token else {}))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
