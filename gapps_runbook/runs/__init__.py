"""The batch layer: notebooks executed headless with papermill, run folders, reports and the demo.

``execute`` (one notebook, saved only scrubbed), ``steps`` (``gapps-runbook run``), ``demo``
(``gapps-runbook demo``), ``render_notebooks`` (``make notebooks``). Imports the Jupyter stack lazily.
"""
