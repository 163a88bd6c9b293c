"""Practice settings as a person types them: ``--scenario`` and ``--fault`` values, parsed and described.

A scenario is one or more comma-separated items:

- ``deny``: the user clicks Deny (device polls get ``access_denied``; the desktop consent redirects
  with ``error=access_denied``).
- ``expire``: the device code is expired (``expired_token``); a desktop code is dead on arrival.
- ``slow_down`` or ``slow_down:N``: the first N device polls (1 by default) get ``slow_down``.
- ``pending:N``: N device polls get ``authorization_pending``, then the user approves (or denies,
  with ``deny``); a desktop consent is approved at once.

A fault is ``PATH=KIND`` or ``PATH=KINDxN`` (N requests in a row, 1 by default), KIND one of
:data:`~.state.FAULTS`, e.g. ``/token=503x2``. Parsers raise ``ValueError`` with a one-line message
that names the choices.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from .records import Scenario
from .routes import served
from .authorization_server import FAULTS

SCENARIO_CHOICES = "deny, expire, slow_down[:N], pending:N (comma-separated to combine, e.g. pending:2,deny)"
FAULT_KINDS = ", ".join(sorted(FAULTS))
_ITEM = re.compile(r"^(deny|expire|slow_down|pending)(?::(\d{1,4}))?$")
_FAULT = re.compile(r"^(?P<path>/?[^=\s]+)=(?P<kind>[a-z0-9]+?)(?:x(?P<times>\d{1,4}))?$")


def parse_scenario(text: str) -> Scenario:
    """The :class:`Scenario` for a ``--scenario`` value such as ``pending:3`` or ``slow_down:2,deny``.

    Raises:
        ValueError: An unknown item, a missing or extra ``:N``, or an item given twice.
    """
    flags: set[str] = set()  # deny, expire
    counts: dict[str, int] = {}  # approve_after (pending:N), slow_down
    for item in (part.strip() for part in text.split(",")):
        match = _ITEM.match(item)
        if match is None:
            raise ValueError(f"unknown scenario {item!r}: choose from {SCENARIO_CHOICES}")
        name, number = match.group(1), match.group(2)
        if name in ("deny", "expire") and number is not None:
            raise ValueError(f"{name} takes no :N; choose from {SCENARIO_CHOICES}")
        if name == "pending" and number is None:
            raise ValueError(f"pending needs a number of polls, e.g. pending:3; choose from {SCENARIO_CHOICES}")
        key = {"pending": "approve_after"}.get(name, name)
        if key in flags or key in counts:
            raise ValueError(f"{name} is given twice in the scenario {text!r}")
        if name in ("deny", "expire"):
            flags.add(key)
        else:
            counts[key] = int(number or 1)
    return Scenario(approve_after=counts.get("approve_after"), deny="deny" in flags, expire="expire" in flags,
                    slow_down=counts.get("slow_down", 0))


def describe_scenario(scenario: Scenario) -> str:
    """The ``--scenario`` spelling of ``scenario``; ``"none"`` when it scripts nothing."""
    items = []
    if scenario.slow_down:
        items.append(f"slow_down:{scenario.slow_down}")
    if scenario.approve_after is not None:
        items.append(f"pending:{scenario.approve_after}")
    if scenario.deny:
        items.append("deny")
    if scenario.expire:
        items.append("expire")
    if scenario.approve_as:
        items.append(f"approve as {scenario.approve_as}")
    return ",".join(items) or "none"


def parse_fault(text: str) -> tuple[str, str, int]:
    """``(path, kind, times)`` for a ``--fault`` value such as ``/token=503x2`` or ``/device/code=reset``.

    Raises:
        ValueError: Not ``PATH=KIND[xN]``, an unknown kind, N below 1, or a path the emulator does not serve.
    """
    match = _FAULT.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not PATH=KIND[xN] (e.g. /token=503x2); KIND is one of {FAULT_KINDS}")
    path, kind, times = "/" + match["path"].lstrip("/"), match["kind"], int(match["times"] or 1)
    if kind not in FAULTS:
        raise ValueError(f"unknown fault kind {kind!r}: choose from {FAULT_KINDS}")
    if times < 1:
        raise ValueError(f"{text!r}: N in xN must be at least 1 (PATH=KIND[xN], e.g. /token=503x2)")
    if not served(path):
        raise ValueError(f"the emulator serves no {path!r}: use e.g. /token, /device/code, /revoke, /tokeninfo")
    return path, kind, times


def describe_faults(faults: Mapping[str, Sequence[str]]) -> list[str]:
    """One ``PATH: KIND xN, ...`` line per path with queued faults, runs of one kind grouped."""
    lines = []
    for path, queue in sorted(faults.items()):
        runs: list[list[object]] = []
        for kind in queue:
            if runs and runs[-1][0] == kind:
                runs[-1][1] = int(str(runs[-1][1])) + 1
            else:
                runs.append([kind, 1])
        if runs:
            lines.append(f"{path}: " + ", ".join(f"{kind} x{count}" for kind, count in runs))
    return lines

