"""The OAuth client: :class:`ClientConfig`, and the ``{"installed": {...}}`` JSON the console downloads.

The vendor procedure has the engineer create a client on the console's Clients page and copy its
ID and secret (their shapes are checked in :mod:`gapps_runbook.oauth.client_ids`; where the secret is read
from is :mod:`gapps_runbook.profile.secret_sources`). Reading a downloaded client JSON is
:mod:`gapps_runbook.oauth.client_json`, which builds on this module; :mod:`gapps_runbook.oauth.clients`
offers both. Every secret is passed to :func:`redact.register_secret` at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .endpoints import GOOGLE_ISSUER, Endpoints
from ..errors import InputError
from ..safety.redact import register_secret

ClientType = Literal["device", "desktop"]
CLIENT_TYPE_LABELS: dict[str, str] = {"device": "TVs and Limited Input devices", "desktop": "Desktop app"}
"""The console's name for each client type (Clients page > Create client > Application type)."""

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
MAX_CLIENT_FILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class ClientConfig:
    """An OAuth client as the console created it.

    Attributes:
        client_id: The client ID (public).
        client_secret: The client secret. Google treats installed-app secrets as not really secret,
            but the runbook still never shows or logs it. Empty for a public client (RFC 6749 §2.1),
            which only providers other than Google have.
        client_type: ``"device"`` ("TVs and Limited Input devices") or ``"desktop"`` ("Desktop app").
        product_name: The app name the consent screen shows (the procedure's "product name").
        project_id: The Cloud project ID, when known (used for console deep links).
        notes: Informational remarks from importing a client JSON (e.g. a legacy OOB redirect).
        auth_method: RFC 6749 §2.3.1 client authentication, when the profile pins one
            (``client_secret_basic``, ``client_secret_post`` or ``none``); None: chosen from discovery
            (:mod:`gapps_runbook.oauth.client_auth`).
    """

    client_id: str
    client_secret: str = field(repr=False)
    client_type: ClientType
    product_name: str = ""
    project_id: str | None = None
    notes: tuple[str, ...] = field(default=(), compare=False, repr=False)
    auth_method: str | None = None

    def __post_init__(self) -> None:
        register_secret(self.client_secret)
        if self.client_type not in CLIENT_TYPE_LABELS:
            raise InputError(
                f"client type {self.client_type!r} is not 'device' or 'desktop'",
                fix="pass --client-type desktop ('Desktop app') or device ('TVs and Limited Input devices')",
            )

    @property
    def type_label(self) -> str:
        """The console's name for this client's type."""
        return CLIENT_TYPE_LABELS[self.client_type]

    def to_installed_json(self, endpoints: Endpoints) -> dict[str, Any]:
        """The ``{"installed": {...}}`` object the console downloads (the client-secrets format, :mod:`.client_json`).

        Args:
            endpoints: The provider; its authorization and token endpoints become ``auth_uri`` and
                ``token_uri``, which google-auth-oauthlib's ``Flow.from_client_config`` reads.

        Returns:
            A JSON-ready dict. It holds the secret: write it only to a 0600 file.
        """
        installed: dict[str, Any] = {"client_id": self.client_id}
        if self.project_id:
            installed["project_id"] = self.project_id
        if endpoints.authorization_endpoint:  # a device-only provider (RFC 8414) may have none
            installed["auth_uri"] = endpoints.authorization_endpoint
        installed["token_uri"] = endpoints.token_endpoint
        if endpoints.issuer == GOOGLE_ISSUER:
            installed["auth_provider_x509_cert_url"] = GOOGLE_CERTS_URL
        if self.client_secret:  # a public client has none
            installed["client_secret"] = self.client_secret
        if self.client_type == "desktop":
            installed["redirect_uris"] = ["http://localhost"]
        return {"installed": installed}


__all__ = ["CLIENT_TYPE_LABELS", "GOOGLE_CERTS_URL", "MAX_CLIENT_FILE_BYTES", "ClientConfig", "ClientType"]
