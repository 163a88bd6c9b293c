"""The batch layer: notebooks executed headless with papermill, run folders, reports and the demo.

``execute`` (one notebook, saved only scrubbed), ``step_notebooks`` (``gapps-runbook run``), ``demo``
(``gapps-runbook demo``). Imports the Jupyter stack lazily.
"""
