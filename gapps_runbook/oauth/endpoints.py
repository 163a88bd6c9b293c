"""Provider endpoints: Google's built in, any other read by RFC 8414 / OpenID Connect discovery.

Google's values are a built-in copy of https://accounts.google.com/.well-known/openid-configuration
(reference §1, DISC), so nothing is fetched to start. ``--issuer URL`` reads
``URL/.well-known/openid-configuration`` (then ``oauth-authorization-server``) from any
standards-compliant provider: the embedded emulator, Google, or another RFC 8628 server.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import ConfigError, InputError, ProtocolError, TransportError
from .transport import SAFE_RETRY, Transport, host_of, send

GOOGLE_ISSUER = "https://accounts.google.com"
GOOGLE_HOSTS = frozenset(
    {"accounts.google.com", "oauth2.googleapis.com", "www.googleapis.com", "gmail.googleapis.com", "www.google.com"}
)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


@dataclass(frozen=True)
class Endpoints:
    """Where a provider's OAuth endpoints and the Google APIs live.

    Attributes:
        issuer: The issuer identifier (RFC 8414 §2).
        authorization_endpoint: Where the browser goes for the loopback flow.
        token_endpoint: RFC 6749 §3.2.
        device_authorization_endpoint: RFC 8628 §3.1; None if the provider has no device flow.
        revocation_endpoint: RFC 7009; None if absent.
        introspection_endpoint: RFC 7662; None if absent (Google has none).
        tokeninfo_endpoint: Google's tokeninfo; not in discovery documents, so Google's is built in and
            the emulator advertises its own under this key.
        api_base: Base URL of the Google APIs (Calendar ``/calendar/v3``, Gmail ``/gmail/v1``).
        userinfo_endpoint: OpenID Connect Core §5.3 UserInfo; None if absent.
        token_endpoint_auth_methods_supported: RFC 8414 §2 list; None when discovery lists none
            (RFC 8414: the default is then ``client_secret_basic``).
        scopes_supported: RFC 8414 §2 / OIDC Discovery list of scopes; None when not published.
    """

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    device_authorization_endpoint: str | None = None
    revocation_endpoint: str | None = None
    introspection_endpoint: str | None = None
    tokeninfo_endpoint: str | None = None
    api_base: str | None = None
    userinfo_endpoint: str | None = None
    token_endpoint_auth_methods_supported: tuple[str, ...] | None = None
    scopes_supported: tuple[str, ...] | None = None

    @property
    def google_dialect(self) -> bool:
        """True for Google and for providers that emulate it (they serve Google's tokeninfo)."""
        return self.issuer == GOOGLE_ISSUER or self.tokeninfo_endpoint is not None

    @property
    def hosts(self) -> frozenset[str]:
        """Every host these endpoints name."""
        urls = [v for v in asdict(self).values() if isinstance(v, str)]
        return frozenset(urllib.parse.urlsplit(u).netloc for u in urls)

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_discovery(cls, document: dict[str, Any], *, issuer: str | None = None) -> Endpoints:
        """Build from a discovery document; :class:`ProtocolError` if required keys are missing."""
        missing = [k for k in ("issuer", "token_endpoint") if not isinstance(document.get(k), str)]
        if missing:
            raise ProtocolError(f"the discovery document lacks {', '.join(missing)}")
        if issuer is not None and document["issuer"].rstrip("/") != issuer.rstrip("/"):
            raise ConfigError(
                f"the discovery document names issuer {document['issuer']!r}, not {issuer!r}",
                fix="pass the issuer URL exactly as the provider publishes it (--issuer / GAPPS_RUNBOOK_ISSUER)",
            )

        def url(key: str) -> str | None:
            value = document.get(key)
            if value is None:
                return None
            if not isinstance(value, str) or not _is_http_url(value):
                raise ProtocolError(f"the discovery document's {key} is not an http(s) URL")
            return value

        return cls(
            issuer=document["issuer"],
            authorization_endpoint=url("authorization_endpoint") or "",
            token_endpoint=url("token_endpoint") or "",
            device_authorization_endpoint=url("device_authorization_endpoint"),
            revocation_endpoint=url("revocation_endpoint"),
            introspection_endpoint=url("introspection_endpoint"),
            tokeninfo_endpoint=url("tokeninfo_endpoint"),
            api_base=url("api_base"),
            userinfo_endpoint=url("userinfo_endpoint"),
            token_endpoint_auth_methods_supported=_names(document, "token_endpoint_auth_methods_supported"),
            scopes_supported=_names(document, "scopes_supported"),
        )


def _names(document: dict[str, Any], key: str) -> tuple[str, ...] | None:
    """A discovery list of strings (RFC 8414 §2); None when absent."""
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProtocolError(f"the discovery document's {key} is not a list of strings")
    return tuple(value)


GOOGLE = Endpoints(
    issuer=GOOGLE_ISSUER,
    authorization_endpoint="https://accounts.google.com/o/oauth2/v2/auth",
    token_endpoint="https://oauth2.googleapis.com/token",
    device_authorization_endpoint="https://oauth2.googleapis.com/device/code",
    revocation_endpoint="https://oauth2.googleapis.com/revoke",
    tokeninfo_endpoint="https://oauth2.googleapis.com/tokeninfo",
    api_base="https://www.googleapis.com",
    userinfo_endpoint="https://openidconnect.googleapis.com/v1/userinfo",
    token_endpoint_auth_methods_supported=("client_secret_post", "client_secret_basic"),
)


def _is_http_url(value: str) -> bool:
    try:
        parts = urllib.parse.urlsplit(value)  # raises on "https://[x" (a bad IPv6 literal)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def check_issuer_url(issuer: str) -> str:
    """Validate an issuer URL: https, or http only on loopback (RFC 8252 §8.3 / RFC 9700 §2.6)."""
    parts = urllib.parse.urlsplit(issuer.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise InputError(
            f"issuer {issuer!r} is not a URL like https://accounts.google.com",
            fix="pass --issuer URL (or GAPPS_RUNBOOK_ISSUER) with the provider's issuer URL",
        )
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise InputError(
            f"issuer {issuer!r} uses plain http on a non-loopback host; tokens would cross the network unencrypted",
            fix="use the provider's https URL",
        )
    return issuer.strip().rstrip("/")


def discover(transport: Transport, issuer: str) -> Endpoints:
    """Read the provider's discovery document (OpenID Connect Discovery §4, then RFC 8414 §3)."""
    issuer = check_issuer_url(issuer)
    if issuer == GOOGLE_ISSUER:
        return GOOGLE
    last_status = 0
    for suffix in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        response = send(transport, "GET", issuer + suffix, retry=SAFE_RETRY)
        if response.status == 200:
            return Endpoints.from_discovery(response.json(), issuer=issuer)
        last_status = response.status
        if response.status >= 500:
            raise TransportError(f"{host_of(issuer)} answered HTTP {response.status} to discovery")
    raise ConfigError(
        f"{host_of(issuer)} publishes no discovery document (HTTP {last_status})",
        fix="check the --issuer URL: it must serve /.well-known/openid-configuration",
    )


def resolve(transport: Transport, issuer: str | None) -> Endpoints:
    """Google's built-in endpoints when ``issuer`` is None, else the discovered ones."""
    return GOOGLE if issuer is None else discover(transport, issuer)
