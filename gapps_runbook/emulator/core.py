"""The :class:`Emulator`: options, registered clients, test controls, and the WSGI app over them.

Faithful to Google's public documents (:mod:`.facts`) by default; the one deliberate departure, LEGACY
(pre-2016) device scopes, is opt-in (``legacy_device_scopes=True``; OAuth2ForDevices before 2016). Two demo
clients are registered at construction, Google-shaped (:mod:`.facts`): a "TVs and Limited Input devices"
client and a "Desktop app" client of one project; random, or derived from the state file's seed when the
emulator is given a ``state_path`` (then clients and grants survive a restart: :mod:`.persist`).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..oauth.clock import SYSTEM_CLOCK, Clock
from ..errors import InputError
from . import facts, persist
from .wsgi import App
from .code_grant import CodeGrant
from .device_grant import DeviceGrant
from .records import ClientType, RegisteredClient, RequestRecord, Scenario
from .authorization_server import State

PRODUCT_NAME = "gapps-runbook demo"


class Emulator:
    """Google's OAuth endpoints, consent pages and three API methods, in memory.

    Args:
        clock: All expiry math uses ``clock.time()``; poll-interval checks use ``clock.monotonic()``.
        auto_approve: Device sessions are approved at their first poll; the consent page redirects at once.
        legacy_device_scopes: LEGACY (pre-2016) mode: the device flow accepts Calendar and Contacts scopes.
        publishing_status: ``"testing"`` (7-day refresh tokens) or ``"production"``.
        rotate_refresh_tokens: Every refresh returns a new refresh token and retires the old one at once
            (Okta, Auth0, django-oauth-toolkit style); off by default, as Google does not rotate.
        scenario: What the emulated user does with every device and desktop authorization that no
            :meth:`script` covers (see :class:`Scenario`); None: nothing scripted.
        account: The account that approves by default.
        secret_factory: ``kind -> value`` for generated secrets (``access_token``, ``refresh_token``,
            ``device_code``, ``auth_code``, ``id_token``, ``client_secret``), to plant canaries in tests.
        state_path: Keep clients, grants, refresh tokens and revocations in this file (0600, in a 0700
            folder), reloaded at construction; the demo clients come from its seed. None: in memory.

    Raises:
        InputError: The state file is unreadable (the message names it and ``--fresh``).

    Attributes:
        device_client: The default "TVs and Limited Input devices" client.
        desktop_client: The default "Desktop app" client.
        timeout_seconds: Real seconds the ``"timeout"`` fault waits before answering.
        wsgi_app: The werkzeug WSGI application.
    """

    def __init__(
        self,
        *,
        clock: Clock = SYSTEM_CLOCK,
        auto_approve: bool = False,
        legacy_device_scopes: bool = False,
        publishing_status: str = "production",
        rotate_refresh_tokens: bool = False,
        scenario: Scenario | None = None,
        account: str = "engineer@example.com",
        secret_factory: Callable[[str], str] | None = None,
        state_path: Path | str | None = None,
    ) -> None:
        self.state = State(
            clock=clock,
            publishing_status=publishing_status,
            rotate_refresh_tokens=rotate_refresh_tokens,
            account=account,
            secret_factory=secret_factory,
        )
        self.state.scenario = scenario or Scenario()
        self.device = DeviceGrant(self.state, auto_approve=auto_approve, legacy_device_scopes=legacy_device_scopes)
        self.code = CodeGrant(self.state, auto_approve=auto_approve)
        self.timeout_seconds = 2.0
        self.state_file = persist.StateFile(Path(state_path)) if state_path is not None else None
        saved = self.state_file.load() if self.state_file else None
        self.seed = saved["seed"] if saved else persist.new_seed() if self.state_file else None
        self.device_client = self.register_client(*self._demo_client("device"), "device", PRODUCT_NAME)
        self.desktop_client = self.register_client(*self._demo_client("desktop"), "desktop", PRODUCT_NAME)
        if saved and self.state_file:
            persist.restore(self.state, saved, self.state_file.path)
        self.wsgi_app: Callable[..., Iterable[bytes]] = App(self)
        if self.state_file:
            self.save()
            self.wsgi_app = persist.SavingApp(self.wsgi_app, self.save)

    def _demo_client(self, client_type: str) -> tuple[str, str]:
        if self.seed is not None:
            return persist.demo_client(self.seed, client_type)
        if not hasattr(self, "_project"):
            self._project = str(10**11 + secrets.randbelow(9 * 10**11))
        return facts.random_client_id(self._project), self.state.secret("client_secret")

    def save(self) -> bool:
        """Write the state file if the state changed since it was last written (no-op in memory).

        Returns:
            True if the file was written.
        """
        if self.state_file is None or self.seed is None:
            return False
        return self.state_file.save(persist.snapshot(self.state, self.seed))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The emulator is itself a WSGI application."""
        return self.wsgi_app(environ, start_response)

    # -- options (read-only) ------------------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        return self.state.clock

    @property
    def auto_approve(self) -> bool:
        return self.device.auto_approve

    @property
    def legacy_device_scopes(self) -> bool:
        return self.device.legacy_device_scopes

    @property
    def publishing_status(self) -> str:
        return self.state.publishing_status

    @property
    def rotate_refresh_tokens(self) -> bool:
        return self.state.rotate_refresh_tokens

    @property
    def scenario(self) -> Scenario:
        """The scenario of every authorization no :meth:`script` covers (``Scenario()``: none)."""
        return self.state.scenario

    @property
    def account(self) -> str:
        return self.state.account

    @property
    def faults(self) -> dict[str, list[str]]:
        """The faults still queued, by path, in the order they will fire."""
        with self.state.lock:
            return {path: list(queue) for path, queue in self.state.faults.items() if queue}

    @property
    def requests(self) -> list[RequestRecord]:
        """The requests received, oldest first (the newest ``state.REQUEST_LOG_LIMIT``): monotonic time,
        method, path, sorted parameter names (no values)."""
        with self.state.lock:
            return list(self.state.requests)

    @property
    def clients(self) -> list[RegisteredClient]:
        """The registered clients, in registration order."""
        with self.state.lock:
            return list(self.state.clients.values())

    # -- clients --------------------------------------------------------------------------------------

    def register_client(
        self, client_id: str, client_secret: str, client_type: ClientType, product_name: str = ""
    ) -> RegisteredClient:
        """Register a client of type ``device``, ``desktop`` or ``web`` (replacing one with the same id)."""
        return self.state.register_client(client_id, client_secret, client_type, product_name)

    def load_clients(self, path: Path | str) -> list[RegisteredClient]:
        """Register the clients of a JSON file: a list of {client_id, client_secret, client_type, product_name}.

        Raises:
            InputError: The file is missing, not JSON, or not in that shape (no value is quoted).
        """
        path = Path(path)
        fix = "give --clients a JSON list of objects with client_id, client_secret, client_type (device|desktop)"
        try:
            items = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise InputError(f"cannot read the clients file {path} ({type(exc).__name__})", fix=fix) from None
        if not isinstance(items, list):
            raise InputError(f"the clients file {path} is not a JSON list", fix=fix)
        loaded = []
        for number, item in enumerate(items, 1):
            keys = ("client_id", "client_secret", "client_type")
            if not isinstance(item, dict) or not all(isinstance(item.get(k), str) and item[k] for k in keys):
                raise InputError(f"entry {number} of {path} lacks client_id, client_secret or client_type", fix=fix)
            if item["client_type"] not in facts.CLIENT_TYPES:
                raise InputError(f"entry {number} of {path} has an unknown client_type", fix=fix)
            name = item.get("product_name", "")
            loaded.append(
                self.register_client(
                    item["client_id"], item["client_secret"], item["client_type"], name if isinstance(name, str) else ""
                )
            )
        return loaded

    # -- test controls --------------------------------------------------------------------------------

    def approve(self, user_code: str, account: str | None = None) -> None:
        """Approve a pending device session as ``account`` (default: the emulator's account).

        Raises:
            KeyError: No session has this user code.
            ValueError: The code expired or was already decided.
        """
        self.device.decide(user_code, approve=True, account=account)

    def deny(self, user_code: str) -> None:
        """Deny a pending device session; its next poll gets ``access_denied``."""
        self.device.decide(user_code, approve=False)

    def script(self, client_id: str, scenario: Scenario | None) -> None:
        """Script what the user does with this client's device sessions (pending ones and later ones)."""
        self.device.script(client_id, scenario)

    def fail_next(self, path: str, fault: str, times: int = 1) -> None:
        """Make the next ``times`` requests to ``path`` fail with ``fault`` (see :mod:`.faults`)."""
        self.state.fail_next(path, fault, times)
