"""An offline, faithful emulator of Google's OAuth 2.0 endpoints and a few Google APIs.

Follows ``shared/reference/google-oauth.md`` §12 (the conformance checklist): discovery,
``/device/code``, ``/token``, ``/tokeninfo``, ``/revoke``, the consent and verification pages, and
Calendar/Gmail methods with Google's error envelopes. Usage::

    with serve(Emulator(clock=fake_clock)) as running:
        endpoints = discover(transport, running.base_url)
        running.emulator.approve(user_code)

Modules: :mod:`.core` (Emulator), :mod:`.server` (serve, run_forever), :mod:`.authorization_server`
(clients, grants, tokens, faults), :mod:`.device_grant`, :mod:`.code_grant`, :mod:`.authenticate_client`
(body or HTTP Basic credentials), :mod:`.routes` (the URL map), :mod:`.wsgi` (dispatch; typed against
:mod:`.served`), :mod:`.browser`, :mod:`.pages` and :mod:`.landing` (HTML), :mod:`.userinfo_endpoint`
(OpenID Connect UserInfo), :mod:`.apis`
(Calendar, Gmail), :mod:`.faults`, :mod:`.practice` (``--scenario``/``--fault`` values), :mod:`.command`
(the CLI), :mod:`.persist` (the CLI's state file: same clients and grants after a restart), :mod:`.facts`
(Google's values).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers; at run time the names below load on first use
    from .core import PRODUCT_NAME as PRODUCT_NAME
    from .core import Emulator as Emulator
    from .records import RegisteredClient as RegisteredClient
    from .records import RequestRecord as RequestRecord
    from .records import Scenario as Scenario
    from .server import RunningEmulator as RunningEmulator
    from .server import run_forever as run_forever
    from .server import serve as serve
    from .authorization_server import FAULTS as FAULTS

# name -> the submodule defining it. Lazy (PEP 562 module ``__getattr__``): ``gapps-runbook --help``
# imports :mod:`.command`, which must not pull werkzeug in through :mod:`.core` (figure B2 in docs/performance.md).
_EXPORTS = {
    "FAULTS": ".state",
    "PRODUCT_NAME": ".core",
    "Emulator": ".core",
    "RegisteredClient": ".records",
    "RequestRecord": ".records",
    "Scenario": ".records",
    "RunningEmulator": ".server",
    "run_forever": ".server",
    "serve": ".server",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import the submodule that defines ``name`` on first use, and cache the value here.

    Raises:
        AttributeError: ``name`` is not one of the package's exports.
    """
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The exports and the loaded globals, as ``dir()`` would list them eagerly."""
    return sorted(set(globals()) | set(_EXPORTS))
