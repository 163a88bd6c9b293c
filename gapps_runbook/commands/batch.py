"""``gapps-runbook batch STEP``: one runbook step over many sites, locally or on a Dask cluster.

Only option parsing and printing; the work is in :mod:`gapps_runbook.batch.runner` (sites, plan,
run), :mod:`~gapps_runbook.batch.executors` (threads or Dask) and
:mod:`~gapps_runbook.batch.outputs` (summary and report). Registered from ``cli.py``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import json

import click

from ..errors import ExitCode, InputError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..batch.device_authorize import DeviceExecutor
    from ..batch.executors import Executor, OnDone, SiteTask
    from ..batch.outcome import SiteOutcome

BATCH_EPILOG = """\b
Outcomes and exit code (0 only when every site is ok, else the worst site's):
  failed 1 > misconfigured 3 > denied 4 > reauthorize 7 > expired 7 > network 6 > expiring 7 > ok 0
  expiring: the refresh token dies within 7 days (Testing-mode consent screen) or there is none;
  expired: it can no longer be refreshed. Ctrl-C, SIGTERM and SIGHUP keep the finished sites and exit 5.
\b
Each site is appended to journal.jsonl in the batch folder as it finishes (0600, on disk at once):
after a kill -9 or a power cut, `gapps-runbook batch --resume FOLDER` rebuilds summary.json, summary.csv
and report.html from it and runs the sites that had not finished (also after Ctrl-C).
\b
Device flow (batch 03 -p flow device -p services '["openid"]'): NOT through notebooks (a kernel's
code card cannot reach you while it waits): step 03 runs in this process, every site at once.
Each site's user code and URL go out as a JSON line on stdout, {"event": "user_code", "profile",
"user_code", "verification_url", "expires_in"}, appended to --handoff FILE (0600) and POSTed to
--webhook URL (https, or http on loopback); stdout is JSON lines throughout. Each site waits
until approval, denial or expiry. The device code never leaves the process.
\b
Dask (--executor dask): workers read the profiles from the same profile home path (--home /
GAPPS_RUNBOOK_HOME on a filesystem every worker mounts at the same path) and write into the
batch folder under --out, which must be shared the same way. No secret is sent with the tasks.
"""


@click.command("batch", epilog=BATCH_EPILOG)
@click.argument("step", required=False)
@click.option("--resume", type=click.Path(path_type=Path, file_okay=False), default=None, metavar="FOLDER",
              help="Finish a stopped batch: rebuild its summary from its journal and run its unfinished sites.")
@click.option("--profiles", default=None, metavar="A,B,...", help="The sites' profiles, comma-separated.")
@click.option("--all", "all_profiles", is_flag=True, help="Every profile under the profile home.")
@click.option("--sites", "sites_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="A CSV file with the columns profile, issuer, notes (issuer and notes may be empty).")
@click.option("-p", "--parameter", "parameters", nargs=2, multiple=True, metavar="NAME VALUE",
              help="A notebook parameter for every site (repeatable), as in `run`. Never a secret.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Sites run at once, local executor: one kernel each, started once and reused site after site.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs"), show_default=True,
              help="Where the batch folder is created.")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: threads in this process; dask: an existing dask.distributed cluster.")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT", help="The Dask scheduler (with --executor dask).")
@click.option("--progress/--no-progress", default=None, help="A progress bar (default: when stderr is a terminal).")
@click.option("--handoff", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Device flow: also append each site's code (JSON line) to this file, 0600.")
@click.option("--webhook", default=None, metavar="URL",
              help="Device flow: also POST each site's code (JSON) here; https, or http on loopback.")
@click.pass_context
def batch(ctx: click.Context, step: str | None, resume: Path | None, profiles: str | None, all_profiles: bool,
          sites_file: Path | None, parameters: tuple[tuple[str, str], ...], jobs: int, out: Path, executor: str,
          scheduler: str | None, progress: bool | None, handoff: Path | None, webhook: str | None) -> None:
    """Run one step's notebook once per site, in parallel, into ONE batch folder.

    The folder holds each site's executed, scrubbed notebook, summary.json, summary.csv and
    report.html (the outcome table first). Step 04 with `-p refresh true` checks that every
    site's grant and client still work at the provider.
    """
    from ..batch.runner import plan, select_sites
    from ..runs.demo import new_run_dir
    from ..runs.parameters import parse_parameters
    from ..runs.step_notebooks import resolve_step

    root = ctx.find_root().obj
    if (executor == "dask") != (scheduler is not None):
        raise InputError("--scheduler goes with --executor dask, and --executor dask needs it",
                         fix="pass both (--executor dask --scheduler tcp://HOST:PORT), or neither")
    if resume is not None:
        if step is not None or profiles is not None or all_profiles or sites_file is not None or parameters:
            raise InputError("--resume takes the sites, the step and the parameters from the batch's journal",
                             fix="pass only --resume FOLDER (with --jobs, --executor, --handoff or --webhook if needed)")
        _resume(ctx, resume, jobs=jobs, scheduler=scheduler, progress=progress, handoff=handoff, webhook=webhook)
        return
    if step is None:
        raise InputError("batch needs the STEP to run, or --resume FOLDER", fix="e.g. gapps-runbook batch 04 --all")
    notebook = resolve_step(step)
    values = parse_parameters(parameters)
    device = _is_device(notebook, values)
    _check_device_options(device, handoff, webhook, scheduler)
    specs = select_sites(profiles=profiles, all_profiles=all_profiles, sites_file=sites_file, home=root["home"],
                         issuer=root["issuer"])
    home = Path(root["home"]).resolve() if root["home"] else None
    plan(specs, notebook, out, values, home)  # refuse secrets before any folder exists
    runner = _executor(device, jobs, scheduler, handoff, webhook)
    batch_dir = new_run_dir(out, f"batch-{notebook.stem}").resolve()
    tasks = plan(specs, notebook, batch_dir, parse_parameters(parameters), home)
    _run(ctx, tasks, runner, device=device, jobs=jobs, scheduler=scheduler, progress=progress, finished=None)


def _resume(ctx: click.Context, folder: Path, *, jobs: int, scheduler: str | None, progress: bool | None,
            handoff: Path | None, webhook: str | None) -> None:
    """``--resume FOLDER``: the journal's finished sites are kept, the others run again, the summary is rebuilt."""
    from ..batch.runner import resume_plan

    batch_dir = folder.resolve()
    title, tasks, finished = resume_plan(batch_dir)
    notebook = Path(tasks[0].notebook)
    device = _is_device(notebook, tasks[0].parameters)
    _check_device_options(device, handoff, webhook, scheduler)
    left = len(tasks) - len(finished)
    click.echo(f"Resuming {batch_dir}: {len(finished)} of {len(tasks)} sites finished, {left} to run", err=True)
    runner = _executor(device, jobs, scheduler, handoff, webhook) if left else None
    _run(ctx, tasks, runner, device=device, jobs=jobs, scheduler=scheduler, progress=progress, finished=finished,
         title=title)


def _is_device(notebook: Path, values: Mapping[str, object]) -> bool:
    return notebook.stem.startswith("03") and values.get("flow") == "device"


def _check_device_options(device: bool, handoff: Path | None, webhook: str | None, scheduler: str | None) -> None:
    if (handoff is not None or webhook is not None) and not device:
        raise InputError("--handoff and --webhook go with the device flow of step 03",
                         fix="add -p flow device to batch 03, or leave them out")
    if device and scheduler is not None:
        raise InputError("the device flow runs in this process, not on Dask", fix="leave out --executor dask")


def _executor(device: bool, jobs: int, scheduler: str | None, handoff: Path | None, webhook: str | None) -> Executor:
    from ..batch.executors import DaskExecutor, LocalExecutor

    return _device_executor(handoff, webhook) if device else \
        DaskExecutor(scheduler) if scheduler is not None else LocalExecutor(jobs)


def _run(ctx: click.Context, tasks: list[SiteTask], runner: Executor | None, *, device: bool, jobs: int,
         scheduler: str | None, progress: bool | None, finished: dict[str, SiteOutcome] | None,
         title: str | None = None) -> None:
    """Run the batch, print its counts and paths, exit with its code (5 when stopped)."""
    from ..batch.runner import run_batch

    batch_dir = Path(tasks[0].batch_dir)
    stem = Path(tasks[0].notebook).stem
    where = "device flow, all at once" if device else f"Dask at {scheduler}" if scheduler else f"{jobs} at a time"
    if finished is None:
        click.echo(f"{stem} over {len(tasks)} sites ({where}) into {batch_dir}", err=True)
    result = run_batch(tasks, runner or _NoSites(), title=title or f"gapps-runbook batch {stem}", progress=progress,
                       echo=lambda line: click.echo(line, err=True), finished=finished)
    counts = Counter(o.outcome for o in result.outcomes)
    paths = {"summary": str(result.batch_dir / "summary.json"), "report": str(result.batch_dir / "report.html")}
    if device:  # stdout stays JSON lines
        click.echo(json.dumps({"event": "summary", "counts": dict(sorted(counts.items())), **paths}))
    else:
        click.echo(", ".join(f"{n} {name}" for name, n in sorted(counts.items())) +
                   f". Summary: {paths['summary']}  Report: {paths['report']}")
    if result.cancelled:
        click.echo(f"Cancelled: {sum(o.detail != 'cancelled' for o in result.outcomes)} of {len(tasks)} sites finished. "
                   f"Fix: gapps-runbook batch --resume {batch_dir}", err=True)
        ctx.exit(ExitCode.EXPIRED)
    ctx.exit(result.exit_code)


class _NoSites:
    """The executor of a resumed batch whose sites have all finished: nothing to run."""

    def run(self, tasks: list[SiteTask], on_done: OnDone) -> None:
        """Nothing is left to run."""


def _device_executor(handoff: Path | None, webhook: str | None) -> DeviceExecutor:
    """The device-flow executor, its codes to stdout, ``handoff`` and ``webhook`` (see batch/device_authorize.py)."""
    from ..batch.device_authorize import DeviceExecutor, Notifier, check_webhook

    return DeviceExecutor(Notifier(click.echo, handoff=handoff, webhook=check_webhook(webhook) if webhook else None))
