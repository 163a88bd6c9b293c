"""The emulator's state and protocol rules, without HTTP: testable on its own.

Clients and their authentication, grants and tokens, refresh, tokeninfo and revoke, as the device-flow
guide and real answers show them (:mod:`.facts`). The device flow and the loopback flow are in
:mod:`.device_grant` and :mod:`.code_grant`.
Protocol failures are raised as :mod:`gapps_runbook.errors` OAuth errors with Google's texts; the HTTP
layer renders them with ``to_response()``. One re-entrant lock guards everything.
"""

from __future__ import annotations

import hmac
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from ..oauth.clock import SYSTEM_CLOCK, Clock
from ..errors import InvalidClient, InvalidGrant, InvalidRequest, InvalidScope, InvalidToken, OAuthError
from . import facts
from .records import AccessToken, ClientType, Grant, RegisteredClient, RequestRecord, Scenario

FAULTS = frozenset({"500", "502", "503", "504", "429", "408", "timeout", "reset", "malformed"})
PUBLISHING_STATUSES = ("testing", "production")
REQUEST_LOG_LIMIT = 10_000  # the request log keeps the newest records only: memory stays flat under load


def oauth_error(klass: type[OAuthError], description: str, *, error_uri: str | None = None) -> OAuthError:
    """An OAuth error carrying Google's description (and ``error_uri`` where Google sends one)."""
    return klass(description, error_uri=error_uri)


class State:
    """Everything the emulator knows, behind one lock.

    Args:
        clock: All expiry math uses ``clock.time()``; poll intervals use ``clock.monotonic()``.
        publishing_status: ``"testing"`` gives refresh tokens a 7-day life (the overview, :mod:`.facts`).
        rotate_refresh_tokens: Every refresh answers with a new refresh token and retires the old one
            at once (Okta, Auth0 style; Google does not rotate).
        account: The account that approves by default.
        secret_factory: ``kind -> value`` for every generated secret (tests plant canaries); kinds are
            ``access_token``, ``refresh_token``, ``device_code``, ``auth_code``, ``id_token``, ``client_secret``.
    """

    def __init__(
        self,
        *,
        clock: Clock = SYSTEM_CLOCK,
        publishing_status: str = "production",
        rotate_refresh_tokens: bool = False,
        account: str = "engineer@example.com",
        secret_factory: Callable[[str], str] | None = None,
    ) -> None:
        if publishing_status not in PUBLISHING_STATUSES:
            raise ValueError(f"publishing_status must be one of {PUBLISHING_STATUSES}")
        self.clock = clock
        self.publishing_status = publishing_status
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.scenario = Scenario()  # what the user does with every authorization no script covers
        self.account = account
        self.secret_factory = secret_factory
        self.lock = threading.RLock()
        self.clients: dict[str, RegisteredClient] = {}
        self.grants: dict[int, Grant] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, int] = {}
        self.retired_refresh_tokens: set[str] = set()  # rotated out: invalid_grant, "expired or revoked"
        self.requests: deque[RequestRecord] = deque(maxlen=REQUEST_LOG_LIMIT)  # oldest dropped first
        self.faults: dict[str, list[str]] = {}

    # -- secrets, clients -------------------------------------------------------------------------

    def secret(self, kind: str) -> str:
        """A new secret of ``kind`` from the factory, or Google-shaped random."""
        return self.secret_factory(kind) if self.secret_factory else facts.random_secret(kind)

    def register_client(
        self, client_id: str, client_secret: str, client_type: ClientType, product_name: str = ""
    ) -> RegisteredClient:
        """Register (or replace) a client; ``client_type`` is ``device``, ``desktop`` or ``web``."""
        if client_type not in facts.CLIENT_TYPES:
            raise ValueError(f"client_type must be one of {facts.CLIENT_TYPES}")
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret must not be empty")
        client = RegisteredClient(client_id, client_secret, client_type, product_name)
        with self.lock:
            self.clients[client_id] = client
        return client

    def client(self, client_id: str | None) -> RegisteredClient:
        """The registered client, or ``invalid_client`` (401) as Google answers."""
        if not client_id:
            raise oauth_error(InvalidRequest, facts.NO_CLIENT_ID)
        with self.lock:
            client = self.clients.get(client_id)
        if client is None:
            raise oauth_error(InvalidClient, facts.NOT_FOUND)
        return client

    def authenticate(self, client_id: str | None, client_secret: str | None) -> RegisteredClient:
        """Client authentication at ``/token``, done before the grant is looked at, as Google does."""
        client = self.client(client_id)
        if not client_secret:
            raise oauth_error(InvalidRequest, facts.SECRET_MISSING)
        if not _same(client_secret, client.client_secret):
            raise oauth_error(InvalidClient, facts.SECRET_WRONG)
        return client

    # -- grants and tokens ------------------------------------------------------------------------

    def issue(self, client: RegisteredClient, account: str, scopes: tuple[str, ...], *, issuer: str) -> dict[str, Any]:
        """Create a grant with refresh and access tokens; the token response body (guide, ``#access-granted``)."""
        now = self.clock.time()
        testing = self.publishing_status == "testing" and not set(scopes) <= facts.BASIC_SCOPES
        with self.lock:
            grant = Grant(
                grant_id=len(self.grants) + 1,
                client_id=client.client_id,
                account=account,
                scopes=scopes,
                refresh_token=self.secret("refresh_token"),
                refresh_expires_at=now + facts.TESTING_REFRESH_LIFETIME if testing else None,
            )
            self.grants[grant.grant_id] = grant
            self.refresh_tokens[grant.refresh_token or ""] = grant.grant_id
            items = list(self._access_body(client, grant, scopes, issuer=issuer).items())
        body = dict(items[:2] + [("refresh_token", grant.refresh_token)] + items[2:])  # Google's key order
        if grant.refresh_expires_at is not None:
            body["refresh_token_expires_in"] = facts.TESTING_REFRESH_LIFETIME
        return body

    def _access_body(
        self, client: RegisteredClient, grant: Grant, scopes: tuple[str, ...], *, issuer: str
    ) -> dict[str, Any]:
        now = self.clock.time()
        token = AccessToken(self.secret("access_token"), grant.grant_id, scopes, now + facts.ACCESS_TOKEN_LIFETIME)
        self.access_tokens[token.token] = token
        body: dict[str, Any] = {
            "access_token": token.token,
            "expires_in": facts.ACCESS_TOKEN_LIFETIME,
            "scope": " ".join(scopes),
            "token_type": "Bearer",
        }
        if "openid" in scopes or facts.USERINFO_EMAIL in scopes:
            body["id_token"] = self._id_token(client, grant.account, scopes, issuer=issuer, now=now)
        return body

    def _id_token(
        self, client: RegisteredClient, account: str, scopes: tuple[str, ...], *, issuer: str, now: float
    ) -> str:
        if self.secret_factory:
            return self.secret("id_token")
        key = client.client_secret
        return facts.id_token(
            issuer=issuer, client_id=client.client_id, key=key, account=account, scopes=scopes, now=now
        )

    def live_grant(self, grant_id: int) -> Grant | None:
        """The grant if it is neither revoked nor past its Testing-mode expiry."""
        with self.lock:
            grant = self.grants.get(grant_id)
        if grant is None or grant.revoked:
            return None
        if grant.refresh_expires_at is not None and self.clock.time() >= grant.refresh_expires_at:
            return None
        return grant

    def refresh(
        self, client: RegisteredClient, refresh_token: str | None, scope: str | None, *, issuer: str
    ) -> dict[str, Any]:
        """RFC 6749 §6 refresh: a new access token; no new refresh token unless rotation is on (guide, ``#offline``).

        With ``rotate_refresh_tokens`` the body carries a new ``refresh_token`` (Google's key order) and
        the one presented stops working at once; the grant, and so revocation, stays the same.
        """
        if not refresh_token:
            raise oauth_error(InvalidRequest, "Missing required parameter: refresh_token")
        with self.lock:
            if refresh_token in self.retired_refresh_tokens:
                raise oauth_error(InvalidGrant, facts.EXPIRED_OR_REVOKED)  # rotated out: as if revoked
            grant_id = self.refresh_tokens.get(refresh_token)
            grant = self.grants.get(grant_id) if grant_id is not None else None
            if grant is None or grant.client_id != client.client_id:
                raise oauth_error(InvalidGrant, "Bad Request")  # observed for a garbage refresh token
            if self.live_grant(grant.grant_id) is None:
                raise oauth_error(InvalidGrant, facts.EXPIRED_OR_REVOKED)
            scopes = grant.scopes
            if scope:
                wanted = facts.granted_scopes(facts.split_scopes(scope))
                if not set(wanted) <= set(grant.scopes):  # [UNCONFIRMED] text
                    raise oauth_error(InvalidScope, "Some requested scopes were not granted.")
                scopes = tuple(s for s in grant.scopes if s in wanted)
            body = self._access_body(client, grant, scopes, issuer=issuer)
            if self.rotate_refresh_tokens:
                body = self._rotate(grant, refresh_token, body)
        if grant.refresh_expires_at is not None:  # [UNCONFIRMED] that refresh answers carry it
            body["refresh_token_expires_in"] = max(0, int(grant.refresh_expires_at - self.clock.time()))
        return body

    def _rotate(self, grant: Grant, old: str, body: dict[str, Any]) -> dict[str, Any]:
        """Retire ``old``, give the grant a new refresh token, and put it into ``body`` (lock held)."""
        new = self.secret("refresh_token")
        del self.refresh_tokens[old]
        self.retired_refresh_tokens.add(old)
        self.refresh_tokens[new] = grant.grant_id
        grant.refresh_token = new
        items = list(body.items())
        return dict(items[:2] + [("refresh_token", new)] + items[2:])  # Google's key order, as in issue()

    def access(self, token: str | None) -> tuple[AccessToken, Grant] | None:
        """The live access token and its grant, or None if unknown, expired or revoked."""
        with self.lock:
            record = self.access_tokens.get(token or "")
        if record is None or self.clock.time() >= record.expires_at:
            return None
        with self.lock:
            grant = self.grants[record.grant_id]
        return None if grant.revoked else (record, grant)

    def token_info(self, token: str | None) -> dict[str, str]:
        """Google's tokeninfo body: every value a string (``"expires_in": "3560"``)."""
        found = self.access(token)
        if found is None:
            raise oauth_error(InvalidToken, facts.INVALID_VALUE)
        record, grant = found
        info = {"azp": grant.client_id, "aud": grant.client_id}
        if "openid" in record.scopes or facts.USERINFO_EMAIL in record.scopes:
            info["sub"] = facts.subject_of(grant.account)
        info["scope"] = " ".join(record.scopes)
        info["exp"] = str(int(record.expires_at))
        info["expires_in"] = str(max(0, int(record.expires_at - self.clock.time())))
        if facts.USERINFO_EMAIL in record.scopes:
            info.update(email=grant.account, email_verified="true")
        info["access_type"] = "offline"
        return info

    def revoke(self, token: str | None) -> None:
        """RFC 7009 and the guide's ``#tokenrevoke``: revoke the grant of an access or refresh token, project-wide.

        Google: revocation "removes all OAuth 2.0 scopes previously granted to a project", so every
        grant of the same account to a client of the same project goes too.
        """
        if not token:
            raise oauth_error(InvalidRequest, "Missing required parameter: token")  # [UNCONFIRMED] text
        with self.lock:
            grant_id = self.refresh_tokens.get(token)
            if grant_id is None:
                found = self.access(token)
                grant_id = found[1].grant_id if found else None
            grant = self.live_grant(grant_id) if grant_id is not None else None
            if grant is None:
                raise oauth_error(InvalidToken, facts.REVOKE_FAILED)
            project = facts.project_of(grant.client_id)
            for other in self.grants.values():
                if other.account == grant.account and facts.project_of(other.client_id) == project:
                    other.revoked = True

    # -- test controls: request log and faults ----------------------------------------------------

    def record(self, method: str, path: str, keys: set[str]) -> None:
        """Log a request by parameter names only; past :data:`REQUEST_LOG_LIMIT` records the oldest goes."""
        with self.lock:
            self.requests.append(RequestRecord(self.clock.monotonic(), method, path, tuple(sorted(keys))))

    def fail_next(self, path: str, fault: str, times: int = 1) -> None:
        """Queue ``fault`` for the next ``times`` requests to ``path``."""
        if fault not in FAULTS:
            raise ValueError(f"fault must be one of {sorted(FAULTS)}")
        if times < 1:
            raise ValueError("times must be at least 1")
        path = "/" + path.split("?")[0].lstrip("/")
        with self.lock:
            self.faults.setdefault(path, []).extend([fault] * times)

    def take_fault(self, path: str) -> str | None:
        """The next queued fault for ``path``, consumed; None if none is queued."""
        with self.lock:
            queue = self.faults.get(path)
            return queue.pop(0) if queue else None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))
