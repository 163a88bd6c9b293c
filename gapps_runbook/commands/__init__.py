"""The CLI's commands beyond the steps' own: ``run``, ``batch``, ``handoff``/``export``/``import``,
``audit`` and ``client test``. :mod:`gapps_runbook.cli` holds the group and registers them."""
