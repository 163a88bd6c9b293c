"""nbval set-up: the notebooks run against the embedded emulator, never against Google.

nbval runs each notebook as a collection of test items in a fresh kernel; kernels inherit this
process's environment. Before the first kernel starts, this file serves an auto-approving
:class:`~gapps_runbook.emulator.Emulator` on loopback, creates profile ``default`` in a temporary
runbook home (the emulator as its issuer, its "Desktop app" client, a token from the loopback flow),
and exports ``GAPPS_RUNBOOK_HOME``. The notebooks' parameters keep their plain defaults
(``home = ""`` means "$GAPPS_RUNBOOK_HOME, else the per-user folder"; ``issuer = ""`` means "the
profile's"), so no notebook reads the environment itself.

Only ``pytest notebooks/`` loads this file; ``tests/test_notebooks.py`` runs that in a subprocess.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

_stack = contextlib.ExitStack()


def pytest_configure(config: pytest.Config) -> None:
    from gapps_runbook import runbook, scopes
    from gapps_runbook.demo import browser_for_emulator
    from gapps_runbook.emulator import Emulator, serve

    home = Path(tempfile.mkdtemp(prefix="gapps-runbook-nbval-"))
    _stack.callback(shutil.rmtree, home, ignore_errors=True)
    running = _stack.enter_context(serve(Emulator(auto_approve=True)))
    site = runbook.Site.open("default", home=home, issuer=running.base_url)
    requested = scopes.scopes_for(("calendar", "openid"))
    runbook.check_console(site, requested, publishing_status="production")
    client = running.emulator.desktop_client
    runbook.save_client(site, client_id=client.client_id, client_secret=client.client_secret,
                        client_type="desktop", product_name="gapps-runbook nbval")
    runbook.authorize(site, requested, flow="desktop", open_url=browser_for_emulator, timeout=60)
    os.environ["GAPPS_RUNBOOK_HOME"] = str(home)
    os.environ.pop("GAPPS_RUNBOOK_ISSUER", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    _stack.close()
