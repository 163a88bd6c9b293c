"""``python -m gapps_runbook`` is the ``gapps-runbook`` command."""

from __future__ import annotations

from .cli import main

main()
