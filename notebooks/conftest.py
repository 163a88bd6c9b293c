"""nbval set-up: the notebooks run against the embedded emulator, never against Google.

nbval runs each notebook as a collection of test items in a fresh kernel; kernels inherit this
process's environment. Before the first kernel starts, this file enters
:func:`tools.render_notebooks.emulator_site`, the set-up the committed outputs were rendered
with: an auto-approving emulator on loopback with the renderer's fixed "Desktop app" client and
account, profile ``default`` prepared in a temporary runbook home (preflight, client, a token from the
loopback flow), and ``GAPPS_RUNBOOK_HOME`` exported. The notebooks' parameters keep their plain
defaults (``home = ""`` means "$GAPPS_RUNBOOK_HOME, else the per-user folder"; ``issuer = ""`` means
"the profile's"), so nbval computes what the renderer computed, and strict ``--nbval`` compares the
two after ``sanitize.cfg``.

Only ``pytest notebooks/`` loads this file; ``tests/test_notebooks.py`` runs that in a subprocess.
"""

from __future__ import annotations

import contextlib

import pytest

_stack = contextlib.ExitStack()


def pytest_configure(config: pytest.Config) -> None:
    from tools.render_notebooks import emulator_site

    _stack.enter_context(emulator_site())


def pytest_unconfigure(config: pytest.Config) -> None:
    _stack.close()
