"""The emulator as its WSGI app and pages see it: what :mod:`.wsgi`, :mod:`.browser` and :mod:`.landing` read.

:class:`~.core.Emulator` builds the app over itself, so the app cannot import it; the app and its
pages are typed against this protocol instead, which :class:`~.core.Emulator` satisfies.
"""

from __future__ import annotations

from typing import Protocol

from .code_grant import CodeGrant
from .device_grant import DeviceGrant
from .records import RegisteredClient, Scenario
from .authorization_server import State


class ServedEmulator(Protocol):
    """The emulator's state, grants and practice settings (see :class:`~.core.Emulator`)."""

    state: State
    device: DeviceGrant
    code: CodeGrant
    timeout_seconds: float

    @property
    def auto_approve(self) -> bool: ...

    @property
    def legacy_device_scopes(self) -> bool: ...

    @property
    def publishing_status(self) -> str: ...

    @property
    def rotate_refresh_tokens(self) -> bool: ...

    @property
    def scenario(self) -> Scenario: ...

    @property
    def account(self) -> str: ...

    @property
    def faults(self) -> dict[str, list[str]]: ...

    @property
    def clients(self) -> list[RegisteredClient]: ...
