"""Which scopes the runbook asks for, and whether the flow can work with them, in one import.

:mod:`gapps_runbook.oauth.scope_catalog` is the service catalog (each service's scopes, console
API, verify probe and words) and Google's device-flow allow-list;
:mod:`gapps_runbook.oauth.preflight` builds on it to decide, before any network call, which flow
will run and whether it can work. This module imports both, so callers need one name.
"""

from __future__ import annotations

from .preflight import Finding, Preflight, preflight
from .scope_catalog import (
    DEVICE_ALLOWED_SCOPES,
    DRIVE_APPDATA,
    OIDC_SCOPES,
    SCOPE_PREFIX,
    SERVICES,
    TESTING_EXEMPT_SCOPES,
    Flow,
    Level,
    Probe,
    Service,
    normalize_scope,
    probed_services,
    scopes_for,
    services_for,
    unique,
)

__all__ = [
    "DEVICE_ALLOWED_SCOPES",
    "DRIVE_APPDATA",
    "OIDC_SCOPES",
    "SCOPE_PREFIX",
    "SERVICES",
    "TESTING_EXEMPT_SCOPES",
    "Finding",
    "Flow",
    "Level",
    "Preflight",
    "Probe",
    "Service",
    "normalize_scope",
    "preflight",
    "probed_services",
    "scopes_for",
    "services_for",
    "unique",
]
