"""``gapps-runbook run STEP`` and ``run all``: runbook steps' notebooks, headless, with their outputs on the terminal.

papermill executes the notebook; what the notebook shows (the authorization link of the desktop flow,
the code and URL of the device flow, with their lifetime, and the waiting lines) is printed as the
kernel sends it, so the person can approve while the run waits. Each step ends with one result line
(:func:`gapps_runbook.runs.step_notebooks.result_line`: what the step did, the token's id, expiry and account,
the verify verdict). The saved notebook is scrubbed as before: the link is a transient output, never
saved, and no secret is printed (the device code never is; the user code and the link are meant for
the person). Every run folder gets a report (:func:`gapps_runbook.runs.report.write_report`) that
opens with the run's summary. ``run all`` runs 01-04 into one folder and skips what is done and still
valid (:mod:`gapps_runbook.runs.run_all`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import click

from ..errors import NotebookRunError
from ..oauth.clock import duration_text
from ..runs.parameters import check_names, check_parameters, literal
from ..steps import AUTHORIZE


@click.command("run")
@click.argument("step")
@click.option("-p", "--parameter", "parameters", nargs=2, multiple=True, metavar="NAME VALUE",
              help="A notebook parameter (repeatable); values are JSON or strings. Never a secret: "
                   "pass client_secret_env / client_secrets_file references.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs"), show_default=True,
              help="Where the run folder is created.")
@click.option("--force", is_flag=True, help="run all: run every step again, even those done and still valid "
                                            "(03 then authorizes again).")
@click.pass_context
def run_command(ctx: click.Context, step: str, parameters: tuple[tuple[str, str], ...], out: Path,
                force: bool) -> None:
    """Run one runbook step's notebook headless (papermill) into a new run folder, or all of 01-04.

    STEP is 00-05, a notebook name (03_authorize), a word (checklist, client, authorize, status, backup),
    or "all". What the notebook shows is printed as it runs (step 03: the link or the code, then it
    waits for the approval); each step ends with its result line: what it did, the token's id, expiry
    and account, the verify verdict. The executed notebooks (scrubbed of secrets, written even when a
    step fails) and report.html, which opens with the run's summary, land in the run folder.

    \b
    run all [--force]: steps 01-04 in order, in one run folder with one
    report. Each -p goes to the steps that take it (services to 01 and 03,
    browser to 03). A step is skipped when its record says ok, the hash of
    its non-secret inputs equals the recorded one, and its result still
    holds (02: a client is stored; 03: a usable token with the requested
    scopes and the pinned account); it prints "03 authorize: skipped, done
    2026-11-30 23:41 UTC by alice, inputs unchanged (--force runs it
    again)". 04, the status check, always runs; -p reauthorize true runs 03,
    a new -p project_id runs 01. When 03's inputs changed, or with --force,
    03 authorizes again. The first failing step stops the run with its fix
    line and its exit code.
    """
    root = ctx.find_root().obj
    values: dict[str, object] = {"profile": root["profile"], "home": str(root["home"] or ""),
                                 "issuer": root["issuer"] or "", "interactive": False}
    given = {name: literal(value) for name, value in parameters}
    check_parameters({**values, **given})  # before the run folder exists: a refused run leaves nothing behind
    if step.strip().lower() == "all":
        _run_all(values, given, out, force)
    else:
        _run_one(step, {**values, **given}, out)


def _run_one(step: str, values: dict[str, object], out: Path) -> None:
    from ..runs.demo import new_run_dir
    from ..runs.step_notebooks import resolve_step

    notebook = resolve_step(step)
    check_names([notebook], values)
    name = notebook.stem
    run_dir = new_run_dir(out, f"run-{name}")
    click.echo(f"Starting a kernel for {name} (run folder {run_dir}) ...")
    outcome = _Step(name, values, run_dir).run()
    report = _report([outcome], values, run_dir, started=outcome.started)
    if outcome.error is not None:
        click.echo(f"Report: {report}")
        raise outcome.error
    click.echo(f"Executed notebook: {outcome.output} (report: {report})")


def _run_all(values: dict[str, object], given: Mapping[str, object], out: Path, force: bool) -> None:
    from ..runs.demo import new_run_dir
    from ..runs.run_all import RUN_ALL, skip_line, step_values
    from ..runs.step_notebooks import resolve_step

    notebooks = [resolve_step(s.notebook) for s in RUN_ALL]
    check_names(notebooks, given, where="no step of 01-04")
    run_dir = new_run_dir(out, "run-all")
    started, done, skipped = time.time(), [], []
    click.echo(f"Running steps 01-04 for profile {values['profile']!r} (run folder {run_dir}) ...")
    for step, notebook in zip(RUN_ALL, notebooks, strict=True):
        step_given = step_values(notebook, given)
        line = skip_line(step, {**values, **step_given}, force=force)
        if line is not None:
            click.echo(line)
            skipped.append(line)
            continue
        if step == AUTHORIZE and "reauthorize" not in given and (force or _changed(values)):
            step_given["reauthorize"] = True
        outcome = _Step(notebook.stem, {**values, **step_given}, run_dir).run()
        done.append(outcome)
        if outcome.error is not None:
            break
    report = _report(done, values, run_dir, started=started, skipped=skipped)
    failed = next((o.error for o in done if o.error is not None), None)
    if failed is not None:
        click.echo(f"Report: {report}")
        raise failed
    from ..runs.summary import open_profile, token_text, verify_text

    profile = open_profile(values)
    click.echo(f"all: ok (01-04: {len(done)} run, {len(skipped)} skipped, {time.time() - started:.1f} s). "
               f"{token_text(profile)} Verify: {verify_text(profile, since=started)}.")
    click.echo(f"Run folder: {run_dir} (report: {report})")


def _changed(values: Mapping[str, object]) -> bool:
    """Whether step 03 has an ok record: not skipped, it runs because its inputs or its token changed."""
    from ..runs.summary import authorized, open_profile

    return authorized(open_profile(values))


def _report(done: list[_Step], values: Mapping[str, object], run_dir: Path, *, started: float,
            skipped: Sequence[str] = ()) -> Path:
    """The run folder's report.html: the run's summary, its step lines, its executed notebooks."""
    from ..runs.report import FlowRun, write_report
    from ..runs.summary import summarize

    summary = summarize(values, [(o.name, o.error) for o in done], started=started, skipped=len(skipped))
    notebooks = [(o.output, o.values) for o in done if o.output is not None]
    lines = [*skipped, *(o.line for o in done)]
    return write_report([FlowRun(summary, lines, notebooks)], run_dir / "report.html",
                        title=f"gapps-runbook run: {summary.site}")


class _Step:
    """One step's run: prints the notebook's outputs as they arrive, then its result line."""

    def __init__(self, name: str, values: dict[str, object], run_dir: Path) -> None:
        self.name, self.values, self.run_dir = name, values, run_dir
        self.cell_started: float | None = None
        self.started = time.time()
        self.last_line = ""
        self.lines: list[str] = []
        self.line = ""
        self.output: Path | None = None
        self.error: NotebookRunError | None = None

    def run(self) -> _Step:
        from ..runs.step_notebooks import result_line, run_step

        try:
            result = run_step(self.name, self.run_dir, self.values, on_output=self.print_output, on_cell=self.cell)
        except NotebookRunError as exc:
            self.error, self.output = exc, exc.output_path
            self.line = f"{self.name}: FAILED. {exc}"
            return self
        self.output = result.output_path
        self.line = result_line(self.name, result, self.values, self.last_line, self.lines)
        click.echo(self.line)
        return self

    def cell(self, index: int) -> None:
        if self.cell_started is None:
            self.cell_started = time.monotonic()
            wait = self.values.get("timeout", 600)
            until = (f" (waits up to {duration_text(float(wait))} for the approval)"
                     if self.name.startswith(AUTHORIZE.notebook) and isinstance(wait, (int, float)) else "")
            click.echo(f"Running {self.name}{until} ...")

    def print_output(self, text: str) -> None:
        lines = text.rstrip("\n").splitlines()
        for line in lines:
            click.echo(line)
        self.lines += lines
        self.last_line = next((line for line in reversed(lines) if line.strip()), self.last_line)
