"""Development tools kept out of the installed package: ``make bench``, ``make bench-batch``, ``make notebooks``.

Run from the repository root (``python -m tools.bench``); they import the installed ``gapps_runbook``.
"""
