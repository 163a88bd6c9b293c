"""``gapps-runbook batch``: one step over many sites, in parallel, into one batch folder.

:mod:`.runner` (the sites, the plan, the run and its resume), :mod:`.executors` (threads or Dask),
:mod:`.kernel_pool` (one reused kernel per worker thread), :mod:`.device_authorize` (step 03's device
flow over many sites, its codes sent to the operator), :mod:`.outcome` (one site's outcome and the exit
code), :mod:`.journal` (what a killed batch resumes from) and :mod:`.outputs` (``summary.json``,
``summary.csv``, ``report.html``). Each site's notebook runs through :mod:`gapps_runbook.runs.execute`.
"""
