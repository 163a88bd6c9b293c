"""``gapps-runbook app``: the runbook as a no-code Voilà app, steps 00-05 as pages of one notebook.

:mod:`.runbook_app` (the pages, over the step notebooks' forms in :mod:`gapps_runbook.notebook`), the
notebook ``app.ipynb`` that Voilà serves (package data) and :mod:`.voila_server` (the Voilà server,
run in a child process by :mod:`gapps_runbook.commands.app`).
"""
