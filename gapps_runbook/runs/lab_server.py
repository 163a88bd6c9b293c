"""``gapps-runbook lab``'s server: JupyterLab, run as ``python -m gapps_runbook.runs.lab_server ARGS``.

JupyterLab's own application with :mod:`gapps_runbook.runs.server_logs` applied first, so a healthy
start prints nothing of its own: Voilà's package (a server extension here) imported without its
process-wide warning filter, and the "is not trusted" line dropped from the server's log. The workspace's
own Jupyter configuration folder (:func:`.workspace.lab_config_dir` of the server's root: no news toast) is
put first on ``JUPYTER_CONFIG_PATH`` for this server, so the user's own Jupyter settings stay untouched.
The server's token (``JUPYTER_TOKEN``, from ``gapps-runbook lab``) is read into the server once it is
configured and then removed from the environment its kernels inherit (:func:`keep_token_from_kernels`): a
notebook that prints its environment must not save the server's key into its output.
Imported by nothing. JupyterLab is imported in :func:`main`, after jsonschema (without the ``iri`` grammars
nothing here checks: :func:`.execute.import_jsonschema`) and Voilà.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import Any

from .execute import import_jsonschema
from .server_logs import import_voila_quietly, quiet
from .workspace import lab_config_dir

ROOT_ARG = "--ServerApp.root_dir="
"""The argument naming the folder JupyterLab serves (``gapps-runbook lab`` passes the workspace)."""


def use_workspace_config(argv: Sequence[str], environ: MutableMapping[str, str] = os.environ) -> None:
    """Put the served workspace's Jupyter configuration folder first on ``JUPYTER_CONFIG_PATH`` (when there is one).

    Jupyter reads ``labconfig/page_config.json`` and ``default_setting_overrides.json`` from every folder on
    that path (https://docs.jupyter.org/en/latest/use/jupyter-directories.html#configuration-files).
    """
    root = next((arg.removeprefix(ROOT_ARG) for arg in argv if arg.startswith(ROOT_ARG)), "")
    config = lab_config_dir(Path(root)) if root else None
    if config is None or not config.is_dir():
        return
    rest = [part for part in environ.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if part]
    environ["JUPYTER_CONFIG_PATH"] = os.pathsep.join([str(config), *rest])


def keep_token_from_kernels(serverapp: Any, environ: MutableMapping[str, str] = os.environ) -> None:
    """Fix the server's token from ``JUPYTER_TOKEN``, then remove the variable from ``environ``.

    jupyter_server's identity provider reads ``JUPYTER_TOKEN`` as its token's default, on first use; kernels
    are started later with a copy of the server's environment. Reading the token first keeps the server's
    key; removing the variable keeps it out of every kernel.
    """
    if serverapp.identity_provider.token and "JUPYTER_TOKEN" in environ:
        del environ["JUPYTER_TOKEN"]


def main(argv: list[str] | None = None) -> None:
    """Run JupyterLab with ``argv`` (default: this process's arguments) until it stops.

    As ``LabApp.launch_instance`` does for a server command line (no subcommand, no ``--help``), with the
    token kept from the kernels between the server's configuration and its start.
    """
    argv = argv if argv is not None else sys.argv[1:]
    use_workspace_config(argv)
    import_jsonschema()  # before the server imports it: no iri grammars compiled (about 1 s; figure B8)
    import_voila_quietly()
    from jupyterlab.labapp import LabApp  # after both

    quiet(logging.getLogger("ServerApp"))  # the server application's log (traitlets names it by class)
    serverapp = LabApp.initialize_server(argv=argv)
    keep_token_from_kernels(serverapp)
    serverapp.start()


if __name__ == "__main__":
    main()
