"""What the servers ``lab`` and ``app`` start leave out of the terminal on a healthy start.

A healthy start prints the URL (and the emulator's line) and nothing else, so that a line that does
appear is worth reading. The servers run at log level WARN (their INFO lines say what they always do:
:data:`QUIET`), and what they warned about on every start is dealt with one by one, never by level:

* "Notebook <name> is not trusted" (jupyter_server's contents manager) is dropped (:class:`DropUntrusted`):
  trust decides whether saved HTML and JavaScript outputs are shown (Jupyter's security model,
  https://jupyter-server.readthedocs.io/en/latest/operators/security.html#notebook-security); the app
  notebook ships without outputs and a workspace copy is written without any, so there is nothing to trust;
* traitlets' ``DeprecationWarning`` lines ("ServerApp.token config is deprecated", read by notebook_shim)
  are hidden again, as Python hides deprecation warnings outside ``__main__`` (PEP 565): Voilà's package
  turns them on for the whole process at import (:func:`import_voila_quietly`);
* "Kernel is running over TCP without encryption" (ipykernel) is made untrue: :func:`encrypt_kernels` has
  jupyter_server provision CurveZMQ keys (https://rfc.zeromq.org/spec/26/) for kernels whose kernelspec
  declares them (ipykernel's does);
* "The websocket_ping_timeout (90000) cannot be longer than the websocket_ping_interval (30000)" (tornado
  6.5, once, at the first kernel websocket) is dropped (:class:`DropUntrusted` too): jupyter_server gives its
  own keep-alive (a ping every 30 000 ms, closed after 90 000 ms without a pong) in milliseconds where
  tornado reads seconds; jupyter_server's keep-alive is the one that runs, and is left as it is.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import re
import warnings

QUIET = "log_level=WARN"
"""The server application's log level (``--<App>.log_level=WARN``): warnings and errors are still printed."""
UNTRUSTED = re.compile(r"Notebook \S.* is not trusted")
"""jupyter_server's warning for a notebook without a trusted signature, as its record's message reads."""
PING_UNITS = re.compile(r"The websocket_ping_timeout \(\d+\) cannot be longer than the websocket_ping_interval "
                        r"\(\d+\)\.\nSetting websocket_ping_timeout=\d+")
"""tornado's warning about jupyter_server's keep-alive figures (milliseconds, read as seconds)."""
TORNADO_LOG = "tornado.general"
"""The logger tornado's websocket warning goes to (``tornado.log.gen_log``)."""


def encrypt_kernels() -> list[str]:
    """The option that encrypts kernel traffic with CurveZMQ where pyzmq can (else none: the warning stays true).

    Returns:
        ``["--MappingKernelManager.transport_encryption=auto"]`` when pyzmq has CurveZMQ, else ``[]``.
    """
    import zmq

    return ["--MappingKernelManager.transport_encryption=auto"] if zmq.has("curve") else []


class DropUntrusted(logging.Filter):
    """Drops the "Notebook ... is not trusted" and the websocket keep-alive warnings, and no other record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for those two warnings (each matched by its whole text, not by its level)."""
        if record.levelno != logging.WARNING:
            return True
        text = record.getMessage()
        return UNTRUSTED.fullmatch(text) is None and PING_UNITS.fullmatch(text) is None


def quiet(logger: logging.Logger) -> None:
    """Drop those two warnings from ``logger`` (a server application's log) and from tornado's."""
    for each in (logger, logging.getLogger(TORNADO_LOG)):
        each.addFilter(DropUntrusted())


def import_voila_quietly() -> None:
    """Import Voilà (when installed) with its process-wide warning filter undone.

    ``voila/__init__.py`` calls ``filterwarnings("default", DeprecationWarning, module="traitlets")``,
    which shows every traitlets deprecation warning of the server and its extensions on the terminal.
    Imported inside :class:`warnings.catch_warnings`, the filter list is restored afterwards; a later
    import of Voilà's server extension finds the package imported and runs that line no more.
    """
    if importlib.util.find_spec("voila") is None:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        importlib.import_module("voila")
