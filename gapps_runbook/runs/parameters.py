"""Notebook parameter values as typed on the command line (``-p NAME VALUE``), shared by ``run`` and ``batch``.

papermill's own CLI reads ``-p`` values with YAML; the runbook reads JSON instead (plus Python's
``True``/``False``/``None``, which people type after reading a parameters cell), so a value such as
``no`` or ``0777`` stays what it looks like. Anything that is not JSON is kept as the string.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

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
