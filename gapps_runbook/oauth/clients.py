"""The OAuth client in one import: :class:`ClientConfig` and the readers of the console's client JSON.

:mod:`gapps_runbook.oauth.client_config` defines the client (:class:`ClientConfig`, its types and
limits); :mod:`gapps_runbook.oauth.client_json` reads the ``{"installed": {...}}`` file the console
downloads into one, building on it. This module imports both, so callers need one name.
"""

from __future__ import annotations

from .client_config import CLIENT_TYPE_LABELS, GOOGLE_CERTS_URL, MAX_CLIENT_FILE_BYTES, ClientConfig, ClientType
from .client_json import OOB_REDIRECTS, _client_from_installed, load_client_json, parse_client_json

__all__ = [
    "CLIENT_TYPE_LABELS",
    "GOOGLE_CERTS_URL",
    "MAX_CLIENT_FILE_BYTES",
    "OOB_REDIRECTS",
    "ClientConfig",
    "ClientType",
    "_client_from_installed",
    "load_client_json",
    "parse_client_json",
]
