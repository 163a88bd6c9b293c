"""``gapps-runbook run STEP``: one runbook step's notebook, headless, with its outputs on the terminal.

papermill executes the notebook; what the notebook shows (the authorization link of the desktop flow,
the code and URL of the device flow, with their lifetime, and the waiting lines) is printed as the
kernel sends it, so the person can approve while the run waits. The run ends with one result line
(:func:`gapps_runbook.runs.steps.result_line`: token id, expiry and account for 03/04, the last line
the notebook printed, 04's verify verdict). The saved notebook is scrubbed as before: the link is a
transient output, never saved, and no secret is printed (the device code never is; the user code
and the link are meant for the person).
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..oauth.clock import duration_text
from ..runs.parameters import literal


@click.command("run")
@click.argument("step")
@click.option("-p", "--parameter", "parameters", nargs=2, multiple=True, metavar="NAME VALUE",
              help="A notebook parameter (repeatable); values are JSON or strings. Never a secret: "
                   "pass client_secret_env / client_secrets_file references.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs"), show_default=True,
              help="Where the run folder is created.")
@click.pass_context
def run_command(ctx: click.Context, step: str, parameters: tuple[tuple[str, str], ...], out: Path) -> None:
    """Run one runbook step's notebook headless (papermill) into a new run folder.

    STEP is 00-05, a notebook name (03_authorize) or a word (checklist, client, authorize, status, backup).
    What the notebook shows is printed as it runs (step 03: the link or the code, then it waits for
    the approval); the run ends with its result line. The executed notebook is written (scrubbed of
    secrets) even when the step fails.
    """
    from ..runs.demo import new_run_dir
    from ..runs.steps import resolve_step, result_line, run_step
    from ..safety.params import check_parameters

    root = ctx.find_root().obj
    values: dict[str, object] = {"profile": root["profile"], "home": str(root["home"] or ""),
                                 "issuer": root["issuer"] or "", "interactive": False}
    values.update({name: literal(value) for name, value in parameters})
    check_parameters(values)  # before the run folder exists: a refused run leaves nothing behind
    name = resolve_step(step).stem
    run_dir = new_run_dir(out, f"run-{name}")
    printer = _Printer(name, values)
    click.echo(f"Starting a kernel for {name} (run folder {run_dir}) ...")
    result = run_step(name, run_dir, values, on_output=printer.output, on_cell=printer.cell)
    click.echo(result_line(name, result, values, printer.last_line))
    click.echo(f"Executed notebook: {result.output_path}")


class _Printer:
    """Prints the notebook's outputs as they arrive, and remembers the last line for the result line."""

    def __init__(self, name: str, values: dict[str, object]) -> None:
        self.name = name
        self.values = values
        self.started: float | None = None
        self.last_line = ""

    def cell(self, index: int) -> None:
        if self.started is None:
            self.started = time.monotonic()
            wait = self.values.get("timeout", 600)
            until = (f" (waits up to {duration_text(float(wait))} for the approval)"
                     if self.name.startswith("03") and isinstance(wait, (int, float)) else "")
            click.echo(f"Running {self.name}{until} ...")

    def output(self, text: str) -> None:
        lines = text.rstrip("\n").splitlines()
        for line in lines:
            click.echo(line)
        self.last_line = next((line for line in reversed(lines) if line.strip()), self.last_line)
