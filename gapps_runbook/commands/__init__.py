"""The CLI's commands beyond the steps' own: ``run``, ``batch``, ``handoff``/``export``/``import``,
``audit`` and ``client test``. :mod:`gapps_runbook.cli` holds the group and registers them."""

# Registered lazily by cli.LazyGroup: name -> (module, attribute, the command's short help as --help lists it).
# tests/test_cli_lazy.py checks each short help against the loaded command's.
COMMANDS = {
    "run": ("gapps_runbook.commands.run", "run_command",
            "Run one runbook step's notebook headless (papermill) into a new run folder, or ``all`` of 01-04."),
    "emulator": ("gapps_runbook.emulator.command", "emulator",
                 "Run the embedded Google OAuth + Calendar emulator on loopback until Ctrl-C."),
    "batch": ("gapps_runbook.commands.batch", "batch",
              "Run one step's notebook once per site, in parallel, into ONE batch folder."),
    "handoff": ("gapps_runbook.commands.backup", "handoff",
                "Write PROFILE's token to PATH where the application reads it (0600, atomic, folder created 0700), "
                "then prove google-auth loads it and refreshes."),
    "export": ("gapps_runbook.commands.backup", "export",
               "Export PROFILES (client, refresh token, scopes, account, checklist, steps) to an age file."),
    "import": ("gapps_runbook.commands.backup", "import_",
               "Import an export, then probe each restored token with a refresh (exit 7: authorize again)."),
    "audit": ("gapps_runbook.commands.audit", "audit",
              "Print PROFILE's audit log: who ran which step, when, and its outcome (never a secret)."),
    "lab": ("gapps_runbook.commands.lab", "lab", "Open the profile's workspace in JupyterLab (127.0.0.1), at notebook 00."),
    "app": ("gapps_runbook.commands.app", "app",
            "Serve the runbook as a no-code app (Voila) on 127.0.0.1: steps 00-05 as pages with Back and Next."),
}
CLIENT_COMMANDS = {
    "test": ("gapps_runbook.commands.audit", "client_test",
             "Step 02: ask the provider whether the stored client ID and secret match (no browser, nothing stored)."),
}

