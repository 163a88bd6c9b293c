"""The preflight: before any network call, which flow will run and whether it can work.

Google's device flow (RFC 8628) rejects every scope outside D-DEV "Allowed scopes" with
``invalid_scope`` (the catalog and the allow-list are :mod:`gapps_runbook.oauth.scope_catalog`), so
:func:`preflight` says so first and steers to the "Desktop app" loopback flow (RFC 8252 with PKCE),
which accepts every scope. It also checks the client type against the flow, names the APIs to enable,
and warns about the Testing publishing status, whose refresh tokens die after seven days unless only
name, email and profile scopes are requested
(https://developers.google.com/identity/protocols/oauth2#expiration).
Everything here is pure: no network, no files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..errors import CONSOLE_CONSENT, CONSOLE_CREDENTIALS, STEP_CHECKLIST, STEP_CLIENT, InputError
from .client_config import CLIENT_TYPE_LABELS, ClientType
from .endpoints import GOOGLE_ISSUER, Endpoints
from .scope_catalog import (
    DEVICE_ALLOWED_SCOPES,
    DRIVE_APPDATA,
    SCOPE_PREFIX,
    TESTING_EXEMPT_SCOPES,
    Flow,
    Level,
    normalize_scope,
    services_for,
    unique,
)

if TYPE_CHECKING:
    from .client_config import ClientConfig


@dataclass(frozen=True)
class Finding:
    """One preflight result: what was found and what fixes it."""

    level: Level
    code: str
    message: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {"level": self.level, "code": self.code, "message": self.message, "fix": self.fix}

    def line(self) -> str:
        """One human line: ``ERROR code: message Fix: fix``."""
        text = f"{self.level.upper()} {self.code}: {self.message}"
        return f"{text} Fix: {self.fix}" if self.fix else text


@dataclass(frozen=True)
class Preflight:
    """The outcome of :func:`preflight`.

    Attributes:
        flow: The flow that will run (the forced one, or the one ``auto`` chose).
        client_type: The client type that flow needs.
        scopes: The requested scopes, in full form.
        findings: Errors, warnings and notes, most severe first.
        recommended_flow: The flow that can work with these scopes (differs from ``flow`` only
            when a forced flow cannot).
        metadata_urls: The discovery documents the provider's endpoints were read from
            (:attr:`Endpoints.metadata_urls`); empty for built-in endpoints (Google's).
    """

    flow: Flow
    client_type: ClientType
    scopes: tuple[str, ...]
    findings: tuple[Finding, ...]
    recommended_flow: Flow
    metadata_urls: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no finding is an error."""
        return not any(f.level == "error" for f in self.findings)

    def codes(self, level: Level | None = None) -> tuple[str, ...]:
        """The finding codes, optionally of one level only."""
        return tuple(f.code for f in self.findings if level is None or f.level == level)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict for ``--json`` output."""
        return {
            "ok": self.ok,
            "flow": self.flow,
            "recommended_flow": self.recommended_flow,
            "client_type": self.client_type,
            "client_type_label": CLIENT_TYPE_LABELS[self.client_type],
            "scopes": list(self.scopes),
            "findings": [f.to_json() for f in self.findings],
            "metadata_urls": list(self.metadata_urls),
        }

    def summary_lines(self) -> list[str]:
        """Lines for people: the flow, the client type, the scopes, then each finding."""
        head = f"Flow: {self.flow} (needs a '{CLIENT_TYPE_LABELS[self.client_type]}' client)"
        if self.recommended_flow != self.flow:
            head += f"; recommended: {self.recommended_flow}"
        lines = [head, "Scopes: " + (" ".join(self.scopes) or "(none)")]
        if self.metadata_urls:
            lines.append("Provider metadata: " + " + ".join(self.metadata_urls))
        lines.extend(f.line() for f in self.findings)
        lines.append("Preflight: OK" if self.ok else "Preflight: FAILED (fix the errors above first)")
        return lines


_LEVEL_ORDER = {"error": 0, "warning": 1, "info": 2}


def _check_flow_arg(flow: str, publishing_status: str | None) -> None:
    if flow not in ("auto", "device", "desktop"):
        raise InputError(f"flow {flow!r} is not auto, device or desktop", fix="pass --flow auto, device or desktop")
    if publishing_status not in (None, "testing", "production"):
        raise InputError(
            f"publishing status {publishing_status!r} is not testing or production",
            fix=f"read it on the Audience page ({CONSOLE_CONSENT})",
        )


def _choose_flow(
    flow: str, scopes: tuple[str, ...], endpoints: Endpoints, client: ClientConfig | None, google: bool
) -> tuple[Flow, Flow]:
    """The flow to run and the flow that can work, as (flow, recommended)."""
    has_device = endpoints.device_authorization_endpoint is not None
    device_ok = has_device and (not google or all(s in DEVICE_ALLOWED_SCOPES for s in scopes))
    recommended: Flow = "device" if device_ok else "desktop"
    if client is not None and (client.client_type == "desktop" or device_ok):
        recommended = client.client_type  # the client the engineer already made, when it can work
    if flow == "auto":
        return recommended, recommended
    return flow, recommended  # type: ignore[return-value]


def _device_scope_findings(
    flow: Flow, scopes: tuple[str, ...], endpoints: Endpoints, legacy: bool
) -> list[Finding]:
    disallowed = [s for s in scopes if s not in DEVICE_ALLOWED_SCOPES]
    findings: list[Finding] = []
    if flow == "device" and DRIVE_APPDATA in scopes:
        findings.append(Finding(
            "warning", "device_scope_unreliable",
            "drive.appdata is on Google's device allow-list but has been seen rejected with invalid_scope",
            "prefer drive.file, or use flow desktop",
        ))
    if flow != "device" or not disallowed:
        return findings
    names = ", ".join(s.removeprefix(SCOPE_PREFIX) for s in disallowed)
    if legacy:
        where = "the real Google rejects them" if endpoints.issuer == GOOGLE_ISSUER else "real Google would reject them"
        findings.append(Finding(
            "warning", "device_scope_rejected",
            f"legacy mode (emulator only): the device flow is allowed {names} here, but {where} with invalid_scope",
            "use flow desktop with a 'Desktop app' client against Google",
        ))
        return findings
    findings.append(Finding(
        "error", "device_scope_rejected",
        f"Google's device flow rejects {names} with invalid_scope: it allows only sign-in, drive.file and "
        "YouTube scopes; the vendor procedure's device-flow steps for Calendar and Contacts are legacy",
        f"run with flow desktop and a 'Desktop app' client (Clients page {CONSOLE_CREDENTIALS}); "
        f"see {STEP_CHECKLIST}",
    ))
    return findings


def _endpoint_findings(flow: Flow, endpoints: Endpoints) -> list[Finding]:
    if flow == "device" and endpoints.device_authorization_endpoint is None:
        return [Finding(
            "error", "no_device_endpoint",
            f"the provider {endpoints.issuer} has no device authorization endpoint (RFC 8628)",
            "use flow desktop",
        )]
    if flow == "desktop" and not endpoints.authorization_endpoint:
        return [Finding(
            "error", "no_authorization_endpoint",
            f"the provider {endpoints.issuer} has no authorization endpoint for the loopback flow",
            "use --flow device",
        )]
    return []


def _client_findings(flow: Flow, client: ClientConfig | None) -> list[Finding]:
    if client is None or client.client_type == flow:
        return []
    need = CLIENT_TYPE_LABELS[flow]
    return [Finding(
        "error", "client_type_mismatch",
        f"the {flow} flow needs a '{need}' client, but this client is a '{client.type_label}' one",
        f"create a '{need}' client on the Clients page ({CONSOLE_CREDENTIALS}), then {STEP_CLIENT}",
    )]


def _publishing_findings(scopes: tuple[str, ...], publishing_status: str | None) -> list[Finding]:
    if publishing_status == "production" or all(s in TESTING_EXEMPT_SCOPES for s in scopes):
        return []
    status = "is in Testing" if publishing_status == "testing" else "may be in Testing (status unknown)"
    return [Finding(
        "warning", "testing_refresh_expiry",
        f"the app {status}: refresh tokens for these scopes stop working 7 days after consent",
        f"on the Audience page ({CONSOLE_CONSENT}) click Publish app, then authorize again",
    )]


def _library_findings(scopes: tuple[str, ...], client: ClientConfig | None) -> list[Finding]:
    services = [s for s in services_for(scopes) if s.api_id]
    if not services:
        return []
    project = client.project_id if client is not None and client.project_id else ""
    links = ", ".join(s.library_url(project) for s in services)
    names = ", ".join(f"{s.title} ({s.api_id})" for s in services)
    return [Finding("info", "enable_apis", f"these APIs must be enabled in the API Library: {names}", links)]


def preflight(
    scopes: Iterable[str],
    *,
    flow: Literal["auto", "device", "desktop"] = "auto",
    endpoints: Endpoints,
    client: ClientConfig | None = None,
    legacy_device_scopes: bool = False,
    publishing_status: Literal["testing", "production"] | None = None,
) -> Preflight:
    """Decide the flow and check, before any network call, that it can work.

    Args:
        scopes: Requested scopes, short or full form.
        flow: ``auto`` picks the device flow only when the provider has one and (for Google) every
            scope is device-allowed, or the client is a device client that can work; else desktop.
        endpoints: The provider. Google-only checks run for Google-dialect endpoints.
        client: The OAuth client, when known: its type must match the flow.
        legacy_device_scopes: Turn the device-scope error into a warning (the emulator's legacy mode).
        publishing_status: The consent screen's status; ``None`` means unknown.

    Returns:
        The decision and its findings; ``Preflight.ok`` is False when something must be fixed first.

    Raises:
        InputError: ``flow`` or ``publishing_status`` is not one of the allowed values, or a scope
            is malformed.
    """
    _check_flow_arg(flow, publishing_status)
    google = endpoints.google_dialect
    wanted = unique(normalize_scope(s, google=google) for s in scopes)
    chosen, recommended = _choose_flow(flow, wanted, endpoints, client, google)
    findings: list[Finding] = []
    if not wanted:
        findings.append(Finding("error", "no_scopes", "no scopes were requested", "pass --service or --scope"))
    flow_findings = _endpoint_findings(chosen, endpoints)
    if google:
        flow_findings += _device_scope_findings(chosen, wanted, endpoints, legacy_device_scopes)
    findings += flow_findings
    if google:
        if not any(f.level == "error" for f in flow_findings):  # a flow that cannot work has one fix: the flow
            findings += _client_findings(chosen, client)
        findings += _publishing_findings(wanted, publishing_status)
        findings += _library_findings(wanted, client)
    findings.sort(key=lambda f: _LEVEL_ORDER[f.level])
    return Preflight(chosen, chosen, wanted, tuple(findings), recommended, endpoints.metadata_urls or ())


__all__ = ["Finding", "Preflight", "preflight"]
