"""The CLI's commands from commands/ load when run, not when listed (issue 9, figure B2: ``--help``, ``status``).

``cli.LazyGroup`` lists each lazily registered command with the short help kept beside its name in
``commands/__init__.py``; these tests check that listing against the loaded commands' own, so the two
cannot drift apart, and that ``import gapps_runbook.cli`` imports none of the command modules.
"""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from gapps_runbook import cli
from gapps_runbook.commands import CLIENT_COMMANDS, COMMANDS

LAZY_MODULES = sorted({module for module, _, _ in (*COMMANDS.values(), *CLIENT_COMMANDS.values())})


def _help(group: click.Group, argv: list[str]) -> str:
    ctx = group.make_context("gapps-runbook", list(argv), resilient_parsing=True)
    return group.get_help(ctx)


def test_cli_import_loads_no_command_module() -> None:
    code = "import sys, gapps_runbook.cli; print(' '.join(sorted(sys.modules)))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    assert "gapps_runbook.cli" in loaded
    assert [m for m in LAZY_MODULES if m in loaded] == []


@pytest.mark.parametrize(("group", "lazy"), [(cli.cli, COMMANDS), (cli.client, CLIENT_COMMANDS)])
def test_the_listing_is_the_loaded_commands_own(group: click.Group, lazy: dict[str, tuple[str, str, str]]) -> None:
    listed = _help(group, [])
    for name in lazy:
        command = group.get_command(click.Context(group), name)  # imports it
        assert command is not None and command.name == name
        assert click.Command(name, help=lazy[name][2]).get_short_help_str(200) == command.get_short_help_str(200)
    assert _help(group, []) == listed  # once loaded, the same listing


def test_a_lazy_command_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(["batch", "--help"]) == 0
    assert "--jobs" in capsys.readouterr().out
    assert cli.run(["client", "test", "--help"]) == 0
    assert cli.run(["nosuchcommand"]) != 0
