"""Step 04's Revoke, proven: the local copy is gone and the provider refuses the old token (RFC 7009 §2.2)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import OAuthError, RunbookError
from ..oauth import tokeninfo, tokens
from .site import Site
from .token_status import revoke, status


NOT_ASKED = "not asked: the provider has no tokeninfo or introspection endpoint (RFC 7662)"


@dataclass(frozen=True)
class RevokeProof:
    """What revoking did, checked: the local copy is gone and the provider refuses the old token."""

    token_id: str
    already_invalid: bool
    local_token_left: bool
    provider: str
    refresh: str

    @property
    def ok(self) -> bool:
        """True when the local copy is gone, the provider refused the old token or its refresh token, and
        accepted neither (a provider with no tokeninfo or introspection endpoint is asked through the refresh)."""
        probes = (self.provider, self.refresh)
        refused = any(p.startswith("refused") for p in probes) and not self.provider.startswith("error")
        return refused and not any(p.startswith("accepted") for p in probes) and not self.local_token_left


def revoke_and_prove(site: Site) -> RevokeProof:
    """Revoke (RFC 7009), then prove it: status shows no token, tokeninfo and refresh with the old one are refused."""
    old, client = site.token(), site.client()
    already = revoke(site)
    left = status(site).token_id is not None
    provider = NOT_ASKED
    if site.endpoints.tokeninfo_endpoint or site.endpoints.introspection_endpoint:  # else only the local copy
        provider = _probe(lambda: tokeninfo.inspect_token(site.transport, site.endpoints, old, clock=site.clock,
                                                          client=client))
    refresh = "skipped: no refresh token"
    if old.refresh_token:
        refresh = _probe(lambda: tokens.refresh(site.transport, site.endpoints, client, old, clock=site.clock))
    return RevokeProof(old.token_id, bool(already), left, provider, refresh)


def _probe(call: Callable[[], Any]) -> str:
    try:
        call()
    except OAuthError as exc:
        return f"refused ({exc.error})"
    except RunbookError as exc:
        return f"error: {exc.message}"
    return "accepted: the provider still honours the token"
