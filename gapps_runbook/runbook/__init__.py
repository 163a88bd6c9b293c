"""The runbook's steps, one function each: what the CLI commands and the notebooks call.

The vendor procedure, step by step:

1. ``check_console``: which flow and client type the chosen scopes need, before any network call.
2. ``save_client`` / ``import_client_json``: product name, client ID and secret, into the profile.
3. ``authorize``: "generate the authorization code": device flow where Google allows it, the Desktop
   app loopback flow (PKCE) otherwise; the token is stored only once its account checks out.
4. ``status``, ``refresh``, ``verify``, ``revoke``: the token status panel.

Modules: :mod:`.site` (:class:`Site`), :mod:`.setup` (01-02), :mod:`.authorize` (03),
:mod:`.token_status` (04). Every name is importable from ``gapps_runbook.runbook``.

A :class:`Site` binds one profile (one site, one server) to a transport, a clock and the provider's
endpoints. Every step records its outcome in the profile's settings so ``00_start_here`` and
``gapps-runbook status`` can show where a site stands.
"""

from __future__ import annotations

from ..errors import AccountMismatch
from ..profile.store import ProfileStore
from .authorize import (DESKTOP_TIMEOUT, AuthResult, authorize, authorize_by_paste, check_pasted, finish_paste,
                        start_paste)
from .setup import (
    AUTH_METHODS,
    DEFAULT_SERVICES,
    Flow,
    PublishingStatus,
    as_client_type,
    as_flow,
    as_publishing_status,
    check_console,
    default_scopes,
    import_client_json,
    pin_account,
    raise_for_preflight,
    requested_scopes,
    save_client,
    saved_choices,
    test_client,
)
from . import state
from .revoke_proof import RevokeProof, revoke_and_prove
from .site import Site, in_provider_words
from .token_status import (
    TokenStatus, fresh_token, handoff, probe_refresh, raise_for_verify, refresh, revoke, status, verify,
)

__all__ = [
    "AUTH_METHODS", "DEFAULT_SERVICES", "AccountMismatch", "AuthResult", "Flow", "ProfileStore", "PublishingStatus",
    "DESKTOP_TIMEOUT", "RevokeProof", "revoke_and_prove", "state",
    "Site", "TokenStatus", "as_client_type", "as_flow", "as_publishing_status", "authorize", "authorize_by_paste",
    "check_console", "check_pasted", "default_scopes", "finish_paste",
    "fresh_token", "handoff", "import_client_json", "in_provider_words", "pin_account", "probe_refresh",
    "raise_for_preflight",
    "raise_for_verify", "refresh",
    "requested_scopes", "revoke", "save_client", "saved_choices", "start_paste", "status", "test_client", "verify",
]
