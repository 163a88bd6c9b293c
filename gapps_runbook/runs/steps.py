"""Run the runbook's notebooks headless: one step (``gapps-runbook run``) or the whole demo.

Each run writes into a run folder: the executed, scrubbed notebooks, and for the demo one HTML
report. Profiles (which hold the client secret and tokens) never live in a run folder, so a run
folder can be attached to a ticket as it is.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, NotebookRunError
from ..steps import STEPS, find_step
from .execute import RunResult, run_notebook


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


def result_line(step: str, result: RunResult, parameters: Mapping[str, object], last_output: str = "") -> str:
    """The line a headless run ends with: the step, ok, its time, and what it produced.

    Steps 03 and 04 add the profile's token id, expiry and account (``runbook.status``: local, no
    network call); every step but 03 adds the last line its notebook printed (step 04: the verify verdict).

    Args:
        step: The notebook's name (``03_authorize``).
        result: How the run ended.
        parameters: The run's parameters (``profile``, ``home``).
        last_output: The last non-blank line of the notebook's outputs.
    """
    text = f"{step}: ok ({result.duration:.1f} s)."
    if step.startswith(("03", "04")):
        from ..runbook import ProfileStore, Site, status

        home = str(parameters.get("home") or "") or None
        st = status(Site(ProfileStore(Path(home) if home else None).profile(str(parameters.get("profile")))))
        if st.token_id is not None:
            text += f" Token id {st.token_id}, expires in {st.expires_in} s, account {st.account or 'unknown'}."
    if last_output and not step.startswith("03"):
        text += f" {last_output.strip()}"
    return text


@dataclass(frozen=True)
class StepRun:
    """One notebook of a multi-step run and how it ended."""

    step: str
    result: RunResult | None
    error: NotebookRunError | None = None


def run_steps(
    plan: list[tuple[str, dict[str, object]]], out_dir: Path, *, env: Mapping[str, str], secrets: tuple[str, ...],
    echo: Echo,
) -> list[StepRun]:
    """Run the steps in order; stop at the first failure (its scrubbed notebook is still written)."""
    done: list[StepRun] = []
    for step, parameters in plan:
        try:
            result = run_step(step, out_dir, parameters, env=env, secrets=secrets)
        except NotebookRunError as exc:
            echo(f"  {step:24} FAILED")
            done.append(StepRun(step, None, exc))
            break
        echo(f"  {step:24} ok ({result.duration:.1f} s)")
        done.append(StepRun(step, result))
    return done


def private_home() -> tempfile.TemporaryDirectory[str]:
    """A throwaway, 0700 runbook home for practice runs: secrets never reach the run folder."""
    return tempfile.TemporaryDirectory(prefix="gapps-runbook-home-")
