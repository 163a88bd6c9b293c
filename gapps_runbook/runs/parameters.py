"""Notebook parameter values as typed on the command line (``-p NAME VALUE``), shared by ``run`` and ``batch``.

papermill's own CLI reads ``-p`` values with YAML; the runbook reads JSON instead (plus Python's
``True``/``False``/``None``, which people type after reading a parameters cell), so a value such as
``no`` or ``0777`` stays what it looks like. Anything that is not JSON is kept as the string.
:func:`check_parameters` refuses a value that is a secret before any kernel starts, and :func:`check_names` a
name no notebook of the run takes (papermill only warns "Passed unknown parameter" and runs without it).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ..errors import InputError
from ..safety.params import DEFAULT_SECRET_REFS, HOW_TO_PASS, parameter_problem

_PYTHON_LITERALS: dict[str, object] = {"True": True, "False": False, "None": None}


def literal(value: str) -> object:
    """A -p value: JSON (numbers, lists, true/false, null), Python's True/False/None, else the string.

    Args:
        value: The text after the parameter's name.

    Returns:
        The decoded value.
    """
    if value in _PYTHON_LITERALS:
        return _PYTHON_LITERALS[value]
    try:
        return json.loads(value)
    except ValueError:
        return value


def parse_parameters(pairs: Iterable[tuple[str, str]]) -> dict[str, object]:
    """``(("refresh", "true"), ...)`` -> ``{"refresh": True, ...}`` through :func:`literal`."""
    return {name: literal(value) for name, value in pairs}


def check_parameters(
    params: Mapping[str, object], *, allowed_secret_refs: tuple[str, ...] | frozenset[str] = DEFAULT_SECRET_REFS
) -> None:
    """Refuse any parameter that carries a secret rather than a reference to one (``safety.params``).

    Args:
        params: The papermill parameters, name to value (nested lists and dicts are walked).
        allowed_secret_refs: Extra parameter names whose values are references to a secret.

    Raises:
        InputError: One line naming the first offending parameter and how to pass a reference.
    """
    problem = parameter_problem(params, allowed_secret_refs=allowed_secret_refs)
    if problem:
        raise InputError(problem, fix=HOW_TO_PASS)



COMMON = ("profile", "home", "issuer", "interactive")
"""The parameters every step notebook takes, set by ``run`` and ``batch`` themselves."""


def notebook_parameters(notebook: Path) -> list[str]:
    """The names the notebook's ``parameters`` cell assigns, in order (the cell tagged ``parameters``)."""
    cells = json.loads(Path(notebook).read_text(encoding="utf-8")).get("cells", [])
    tagged = (c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
    source = next(("".join(c.get("source", "")) for c in tagged), "")
    return [line.split("=", 1)[0].strip() for line in source.splitlines()
            if "=" in line and line.split("=", 1)[0].strip().isidentifier()]


def check_names(notebooks: Sequence[Path], given: Iterable[str], *, where: str = "") -> None:
    """Refuse a ``-p`` name that none of ``notebooks`` takes: papermill would only warn and run without it.

    Args:
        notebooks: The notebooks the run's parameters go to.
        given: The names given with ``-p``.
        where: What the notebooks are, for the message ("no step of 01-04"); default: the notebook's name.

    Raises:
        InputError: One line naming the first unknown name, the closest known one and the others.
    """
    known = {name for path in notebooks for name in notebook_parameters(path)}
    unknown = sorted(set(given) - known)
    if not unknown:
        return
    close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
    hint = f"did you mean -p {close[0]}? Or " if close else ""
    what = (f"{where} takes the parameter {unknown[0]!r}" if where
            else f"{Path(notebooks[0]).stem} takes no parameter {unknown[0]!r}")
    raise InputError(what, fix=f"{hint}use one of {', '.join(sorted(known - set(COMMON)))}")
