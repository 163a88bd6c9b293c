"""``gapps-runbook lab``'s server: JupyterLab, run as ``python -m gapps_runbook.runs.lab_server ARGS``.

JupyterLab's own application with :mod:`gapps_runbook.runs.server_logs` applied first, so a healthy
start prints nothing of its own: Voilà's package (a server extension here) imported without its
process-wide warning filter, and the "is not trusted" line dropped from the server's log. Imported by
nothing. JupyterLab is imported in :func:`main`, after jsonschema (without the ``iri`` grammars nothing
here checks: :func:`.execute.import_jsonschema`) and Voilà.
"""

from __future__ import annotations

import logging
import sys

from .execute import import_jsonschema
from .server_logs import import_voila_quietly, quiet


def main(argv: list[str] | None = None) -> None:
    """Run JupyterLab with ``argv`` (default: this process's arguments) until it stops."""
    import_jsonschema()  # before the server imports it: no iri grammars compiled (about 1 s; figure B8)
    import_voila_quietly()
    from jupyterlab.labapp import LabApp  # after both

    quiet(logging.getLogger("ServerApp"))  # the server application's log (traitlets names it by class)
    LabApp.launch_instance(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
