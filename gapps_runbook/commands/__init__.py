"""The CLI's commands beyond the steps' own: ``run``, ``batch``, ``handoff``/``export``/``import``,
``audit``, ``lab``, ``app`` and ``client test``. :mod:`gapps_runbook.cli` holds the group (a
:class:`LazyGroup`) and registers them by name: a command's module is imported when it runs."""

from __future__ import annotations

import importlib
from typing import Any

import click


# Registered lazily by cli.LazyGroup: name -> (module, attribute, the command's short help as --help lists it).
# tests/test_cli_lazy.py checks each short help against the loaded command's.
COMMANDS = {
    "run": ("gapps_runbook.commands.run", "run_command",
            "Run one runbook step's notebook headless (papermill) into a new run folder, or all of 01-04."),
    "emulator": ("gapps_runbook.emulator.command", "emulator",
                 "Run the embedded Google OAuth + Calendar emulator on loopback until Ctrl-C."),
    "batch": ("gapps_runbook.commands.batch", "batch",
              "Run one step's notebook once per site, in parallel, into ONE batch folder."),
    "handoff": ("gapps_runbook.commands.backup", "handoff",
                "Write PROFILE's token to PATH where the application reads it (0600, atomic, folder created 0700), "
                "then prove google-auth loads it: by a refresh (Google), or, at a provider that rotates refresh "
                "tokens, by checking its access token without spending the refresh token."),
    "export": ("gapps_runbook.commands.backup", "export",
               "Export PROFILES (client, refresh token, scopes, account, checklist, steps) to an age file."),
    "import": ("gapps_runbook.commands.backup", "import_",
               "Import an export, then probe each restored token with a refresh (exit 7: authorize again)."),
    "audit": ("gapps_runbook.commands.audit", "audit",
              "Print PROFILE's audit log: who ran which step, when, and its outcome (never a secret)."),
    "lab": ("gapps_runbook.commands.lab", "lab",
            "Open the profile's workspace in JupyterLab (127.0.0.1), at notebook 00."),
    "app": ("gapps_runbook.commands.app", "app",
            "Serve the runbook as a no-code app (Voila) on 127.0.0.1: steps 00-05 as pages with Back and Next."),
}
CLIENT_COMMANDS = {
    "test": ("gapps_runbook.commands.client", "client_test",
             "Step 02: ask the provider whether the stored client ID and secret match (no browser, nothing stored)."),
}


class LazyGroup(click.Group):
    """A group whose commands from ``commands/`` are imported when one runs, not when the group is listed.

    ``lazy`` maps a command's name to ``(module, attribute, short help)``; ``--help`` lists the short
    help without importing (the command modules pull in the profile, runbook, emulator and lab layers:
    most of ``--help``'s cost; figure B2 in docs/performance.md). ``tests/test_cli_lazy.py`` checks that the listing is
    the one the loaded commands give.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, tuple[str, str, str]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, attribute, _ = self.lazy[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's listing, with a stand-in carrying the short help for each command not imported yet."""
        listed = {name: self.commands.get(name) or click.Command(name, help=self.lazy[name][2])
                  for name in self.list_commands(ctx)}
        shown = [(name, cmd) for name, cmd in listed.items() if not cmd.hidden]
        if shown:
            limit = formatter.width - 6 - max(len(name) for name, _ in shown)
            with formatter.section("Commands"):
                formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in shown])
