"""Provider endpoints: Google's built in, any other read by RFC 8414 / OpenID Connect discovery.

Google's values are a built-in copy of https://accounts.google.com/.well-known/openid-configuration,
so nothing is fetched to start. ``--issuer URL`` reads
``URL/.well-known/openid-configuration`` (OIDC Discovery §4), completed or replaced by RFC 8414
metadata: at the §3.1 location (``https://host/.well-known/oauth-authorization-server/path``), else,
for an issuer with a path, appended to the issuer (``URL/.well-known/oauth-authorization-server``, where
Okta's custom authorization servers and django-oauth-toolkit under a prefix publish it). This serves any
standards-compliant provider: the embedded emulator, Google, or another RFC 8628 server.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import asdict, dataclass, replace
from typing import Any

from .clock import SYSTEM_CLOCK, Clock
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
        metadata_urls: The discovery documents these values were read from, in the order read; None
            for built-in values (Google's).
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
    metadata_urls: tuple[str, ...] | None = None

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


OIDC_SUFFIX = "/.well-known/openid-configuration"
RFC8414_SEGMENT = "/.well-known/oauth-authorization-server"
_FIX = ("check the --issuer URL (or GAPPS_RUNBOOK_ISSUER): it must be the provider's issuer exactly as it "
        "publishes it, serving OpenID Connect discovery or RFC 8414 metadata")


def discovery_urls(issuer: str) -> tuple[str, ...]:
    """The metadata URLs of ``issuer``, in the order :func:`discover` tries them.

    OIDC Discovery §4 appends ``/.well-known/openid-configuration`` to the issuer; RFC 8414 §3.1
    inserts ``/.well-known/oauth-authorization-server`` "between the host component and the path
    component", so ``https://host/realms/x`` has its metadata at
    ``https://host/.well-known/oauth-authorization-server/realms/x``. For an issuer with a path, the
    form appended to the issuer (``https://host/realms/x/.well-known/oauth-authorization-server``)
    comes last: RFC 8414 §5 notes that deployed servers use it, and Okta's custom authorization servers
    and django-oauth-toolkit mounted under a prefix publish only that one.

    Args:
        issuer: A checked issuer URL (:func:`check_issuer_url`).

    Returns:
        (OpenID Connect URL, RFC 8414 §3.1 URL), plus the appended RFC 8414 URL when the issuer has a path.
    """
    parts = urllib.parse.urlsplit(issuer)
    path = parts.path.rstrip("/")
    inserted = urllib.parse.urlunsplit((parts.scheme, parts.netloc, RFC8414_SEGMENT + path, "", ""))
    appended = (issuer.rstrip("/") + RFC8414_SEGMENT,) if path else ()
    return (issuer.rstrip("/") + OIDC_SUFFIX, inserted, *appended)


def discover(transport: Transport, issuer: str, *, clock: Clock = SYSTEM_CLOCK) -> Endpoints:
    """Read the provider's metadata: OpenID Connect Discovery §4, completed by RFC 8414 §3.

    The OpenID document comes first; when it is absent, or lacks an endpoint the runbook uses (RFC 8628 §4
    registers ``device_authorization_endpoint`` in RFC 8414 metadata, where django-oauth-toolkit publishes
    it only), the first RFC 8414 document found (:func:`discovery_urls`) fills in the missing fields.
    Every document used must name ``issuer`` (RFC 8414 §3.3); ``metadata_urls`` says which were read.

    Args:
        transport: The HTTP seam.
        issuer: The issuer URL; Google's is built in and fetches nothing.
        clock: Sleep between retries (connection errors, 408/429/5xx).

    Returns:
        The provider's endpoints.

    Raises:
        InputError: ``issuer`` is not an https (or loopback http) URL.
        ConfigError: No document, a document that is not JSON metadata, or one naming another issuer.
        TransportError: No answer, or a 5xx, from a discovery URL.
    """
    issuer = check_issuer_url(issuer)
    if issuer == GOOGLE_ISSUER:
        return GOOGLE
    oidc_url, *rfc8414_urls = discovery_urls(issuer)
    tried: list[tuple[str, int]] = []
    oidc = _fetch(transport, issuer, oidc_url, tried, clock)
    if oidc is not None and not _incomplete(oidc):
        return _endpoints(oidc, issuer, (oidc_url,))
    rfc8414, rfc8414_url = _first_rfc8414(transport, issuer, rfc8414_urls, tried, clock, filling_in=oidc is not None)
    if oidc is None and rfc8414 is None:
        said = ", ".join(f"{url} answered HTTP {status}" for url, status in tried)
        raise ConfigError(f"{host_of(issuer)} publishes no discovery document for issuer {issuer}: {said}", fix=_FIX)
    if oidc is None:
        return _endpoints(rfc8414 or {}, issuer, (rfc8414_url,))
    merged = {**(rfc8414 or {}), **{k: v for k, v in oidc.items() if v is not None}}
    return _endpoints(merged, issuer, (oidc_url, rfc8414_url) if rfc8414 else (oidc_url,))


def _first_rfc8414(
    transport: Transport, issuer: str, urls: list[str], tried: list[tuple[str, int]], clock: Clock, *, filling_in: bool
) -> tuple[dict[str, Any] | None, str]:
    """The first usable RFC 8414 document at ``urls`` (§3.1 location, then the appended form) and its URL.

    A document naming another issuer is not used (RFC 8414 §3.3), even when only filling in an OpenID
    document: the next URL is tried, and when none serves a usable one, the refusal is raised. While
    only filling in (``filling_in``), a page that is not JSON (a site's catch-all HTML under the
    issuer's path) counts as no document there, so that it cannot spoil a usable OpenID document.

    Raises:
        ConfigError: A document was found but none is usable metadata for ``issuer``; or, when not
            filling in, a page that is not JSON metadata.
    """
    refused: ConfigError | None = None
    for url in urls:
        try:
            document = _fetch(transport, issuer, url, tried, clock)
        except ConfigError:
            if not filling_in:
                raise
            tried.append((url, 200))
            continue
        if document is None:
            continue
        try:
            _endpoints(document, issuer, (url,))
        except ConfigError as exc:
            refused = refused or exc
            continue
        return document, url
    if refused is not None:
        raise refused
    return None, ""


def _incomplete(document: dict[str, Any]) -> bool:
    """True when the OpenID document lacks an endpoint the runbook uses (introspection only without tokeninfo)."""
    wanted = ["device_authorization_endpoint", "revocation_endpoint"]
    if not document.get("tokeninfo_endpoint"):  # Google's dialect inspects with tokeninfo, not RFC 7662
        wanted.append("introspection_endpoint")
    return any(not document.get(key) for key in wanted)


def _fetch(
    transport: Transport, issuer: str, url: str, tried: list[tuple[str, int]], clock: Clock
) -> dict[str, Any] | None:
    """One discovery document: the JSON object, or None when the URL serves none (404 and other 4xx)."""
    try:
        response = send(transport, "GET", url, retry=SAFE_RETRY, clock=clock)
    except TransportError as exc:
        raise TransportError(f"no answer from {url} (discovery for issuer {issuer}): {exc.message}",
                             fix=f"{TransportError.fix}; or {_FIX}") from None
    if response.status >= 500:
        raise TransportError(f"{url} answered HTTP {response.status} to discovery for issuer {issuer}",
                             fix=f"{TransportError.fix}; or {_FIX}")
    if response.status != 200:
        tried.append((url, response.status))
        return None
    try:
        return response.json()
    except ProtocolError:
        kind = "an HTML page" if b"<html" in response.body[:512].lower() else "a body that is not a JSON object"
        raise ConfigError(f"{url} answered {kind}, not discovery metadata for issuer {issuer}", fix=_FIX) from None


def _endpoints(document: dict[str, Any], issuer: str, urls: tuple[str, ...]) -> Endpoints:
    """:meth:`Endpoints.from_discovery` read from ``urls``; its complaints as one ConfigError naming them."""
    url = " + ".join(urls)
    try:
        return replace(Endpoints.from_discovery(document, issuer=issuer), metadata_urls=urls)
    except ProtocolError as exc:
        raise ConfigError(f"{url} is not usable metadata for issuer {issuer}: {exc.message}", fix=_FIX) from None
    except ConfigError as exc:
        raise ConfigError(f"{url}: {exc.message}", fix=exc.fix) from None


def resolve(transport: Transport, issuer: str | None, *, clock: Clock = SYSTEM_CLOCK) -> Endpoints:
    """Google's built-in endpoints when ``issuer`` is None, else the discovered ones."""
    return GOOGLE if issuer is None else discover(transport, issuer, clock=clock)
