"""``python -m gapps_runbook`` is the ``gapps-runbook`` command."""

from .cli import main

main()
