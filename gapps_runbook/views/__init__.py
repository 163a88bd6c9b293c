"""Pure renderers: what every surface shows, worded once.

No I/O, no ipywidgets, no network call: each function turns a value of :mod:`gapps_runbook.runbook`
(a :class:`~gapps_runbook.runbook.state.SiteState`, a token status, a verify report...) into lines, rows
or HTML. The notebook forms, the app pages, the CLI, ``run``, batch and the reports all print through
:mod:`.render` (steps and token), :mod:`.lastmile` (token file, ticket summary) and :mod:`.backup` (step 05).
"""
