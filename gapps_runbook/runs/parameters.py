"""Notebook parameter values as typed on the command line (``-p NAME VALUE``), shared by ``run`` and ``batch``.

papermill's own CLI reads ``-p`` values with YAML; the runbook reads JSON instead (plus Python's
``True``/``False``/``None``, which people type after reading a parameters cell), so a value such as
``no`` or ``0777`` stays what it looks like. Anything that is not JSON is kept as the string.
:func:`check_parameters` refuses a value that is a secret before any kernel starts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

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
