"""Run the runbook's notebooks headless: one step (``gapps-runbook run``) or the whole demo.

Each run writes into a run folder: the executed, scrubbed notebooks, and for the demo one HTML
report. Profiles (which hold the client secret and tokens) never live in a run folder, so a run
folder can be attached to a ticket as it is.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError, NotebookRunError
from ..steps import AUTHORIZE, BACKUP, START, STATUS, STEPS, find_step
from .execute import RunResult, run_notebook

if TYPE_CHECKING:
    from ..profile.store import Profile


Echo = Callable[[str], None]


def notebooks_dir() -> Path:
    """Where the notebooks are: ``$GAPPS_RUNBOOK_NOTEBOOKS``, the source checkout, or the installed copy."""
    candidates = [
        Path(os.environ["GAPPS_RUNBOOK_NOTEBOOKS"]) if os.environ.get("GAPPS_RUNBOOK_NOTEBOOKS") else None,
        Path(__file__).resolve().parents[2] / "notebooks",
        Path(sys.prefix) / "share" / "gapps-runbook" / "notebooks",
    ]
    for folder in candidates:
        if folder is not None and (folder / f"{STEPS[0].notebook}.ipynb").is_file():
            return folder
    raise InputError("the runbook notebooks were not found", fix="set GAPPS_RUNBOOK_NOTEBOOKS to the notebooks/ folder")


def resolve_step(step: str) -> Path:
    """``03``, ``3``, ``03_authorize`` or ``authorize`` -> the notebook's path."""
    found = find_step(step)
    if found is None:
        names = ", ".join(s.notebook for s in STEPS)
        raise InputError(f"there is no runbook step {step!r}", fix=f"use one of {names} (or {STEPS[0].number}-{STEPS[-1].number})")
    return notebooks_dir() / f"{found.notebook}.ipynb"


def run_step(
    step: str, out_dir: Path, parameters: Mapping[str, object], *, env: Mapping[str, str] | None = None,
    secrets: tuple[str, ...] = (), on_output: Echo | None = None, on_cell: Callable[[int], None] | None = None,
) -> RunResult:
    """Execute one step's notebook into ``out_dir``; raises :class:`NotebookRunError` on failure.

    ``on_output`` receives each output's text as the kernel sends it (the link or code of step 03 at
    once), ``on_cell`` each cell's index as it starts (see :func:`run_notebook`).
    """
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return run_notebook(resolve_step(step), out_dir, parameters, env=env, secrets=secrets,
                        on_output=on_output, on_cell=on_cell)


def result_line(step: str, result: RunResult, parameters: Mapping[str, object], last_output: str = "",
                lines: Sequence[str] = ()) -> str:
    """The line a headless run ends with: the step, ok, its time, what it did, the token, the verify verdict.

    What it did: 00 every step's recorded outcome, 03 the flow it authorized with, 05 its line about
    this profile, the others the last line their notebook printed (04's verdict comes from its record
    instead). Then the profile's token, read back with ``runbook.status`` (local, no network call): id,
    expiry in seconds and as UTC time, account, or that there is none yet; then the verify verdict
    recorded (step 04: in this run, else "not checked in this run"; other steps: the last one, with its time).

    Args:
        step: The notebook's name (``03_authorize``).
        result: How the run ended.
        parameters: The run's parameters (``profile``, ``home``).
        last_output: The last non-blank line of the notebook's outputs.
        lines: All the lines it printed, when known (step 05 looks for this profile's line).
    """
    from .summary import open_profile, steps_text, token_text, verify_text

    profile = open_profile(parameters)
    ran = find_step(step)
    text = f"{step}: ok ({result.duration:.1f} s)."
    did = " ".join(last_output.split())
    if ran == START:
        did = steps_text(profile)
    elif ran == AUTHORIZE:
        did = _flow_done(profile)
    elif ran == BACKUP:
        did = next((" ".join(ln.split()) for ln in reversed(lines) if ln.startswith(f"{profile.name}:")), did)
    if did and ran != STATUS:
        text += f" {did.rstrip('.')}."
    since = time.time() - result.duration if ran == STATUS else None
    return f"{text} {token_text(profile)} Verify: {verify_text(profile, since=since)}."


def _flow_done(profile: Profile) -> str:
    from .summary import flow_label, recorded_flow

    return flow_label(recorded_flow(profile))


@dataclass(frozen=True)
class StepRun:
    """One notebook of a multi-step run and how it ended.

    Attributes:
        step: The notebook's name.
        result: How it ended, or None when it failed.
        error: The failure.
        parameters: The parameters it ran with (non-secret: secrets are refused before a run).
        line: Its result line (or its failure line).
    """

    step: str
    result: RunResult | None
    error: NotebookRunError | None = None
    parameters: Mapping[str, object] = field(default_factory=dict)
    line: str = ""

    @property
    def output_path(self) -> Path | None:
        """The executed, scrubbed notebook, if one was written."""
        path = self.result.output_path if self.result else self.error.output_path if self.error else None
        return path if path is not None and path.exists() else None


def run_steps(
    plan: list[tuple[str, dict[str, object]]], out_dir: Path, *, env: Mapping[str, str], secrets: tuple[str, ...],
    echo: Echo,
) -> list[StepRun]:
    """Run the steps in order, echoing each one's result line; stop at the first failure (its scrubbed
    notebook is still written)."""
    done: list[StepRun] = []
    for step, parameters in plan:
        last: list[str] = []
        try:
            result = run_step(step, out_dir, parameters, env=env, secrets=secrets,
                              on_output=lambda text: last.extend(ln for ln in text.splitlines() if ln.strip()))
        except NotebookRunError as exc:
            line = f"{step}: FAILED. {exc}"
            echo(f"  {line}")
            done.append(StepRun(step, None, exc, parameters, line))
            break
        line = result_line(step, result, parameters, last[-1] if last else "", last)
        echo(f"  {line}")
        done.append(StepRun(step, result, None, parameters, line))
    return done


def private_home() -> tempfile.TemporaryDirectory[str]:
    """A throwaway, 0700 runbook home for practice runs: secrets never reach the run folder."""
    return tempfile.TemporaryDirectory(prefix="gapps-runbook-home-")
