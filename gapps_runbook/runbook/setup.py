"""Steps 01 and 02: which scopes, flow and client type the site needs, and the client itself.

``check_console`` gives the preflight verdict before any network call; ``save_client`` and
``import_client_json`` store product name, client ID and secret (typed in, or the console's JSON).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, cast, get_args

from ..errors import STEP_CLIENT, ConfigError, InputError, RunbookError
from ..oauth import client_check, scopes
from ..oauth.client_ids import validate_client_id, validate_client_secret
from ..oauth.clients import ClientConfig, ClientType, load_client_json
from ..safety.redact import fingerprint
from .site import Site, in_provider_words

Flow = Literal["auto", "device", "desktop"]
PublishingStatus = Literal["testing", "production"]
DEFAULT_SERVICES = ("calendar", "openid")


def as_flow(value: str) -> Flow:
    """``value`` as a :data:`Flow`, as the command line's choice and the forms' dropdowns give it.

    Raises:
        InputError: ``value`` is not one of auto, device, desktop.
    """
    return cast(Flow, _one_of(value, get_args(Flow), "flow", "choose auto, device or desktop (runbook step 01)"))


def as_client_type(value: str) -> ClientType:
    """``value`` as a client type (the console's "TVs and Limited Input devices" or "Desktop app").

    Raises:
        InputError: ``value`` is not device or desktop.
    """
    fix = f"choose device or desktop ({STEP_CLIENT})"
    return cast(ClientType, _one_of(value, get_args(ClientType), "client type", fix))


def as_publishing_status(value: str | None) -> PublishingStatus | None:
    """``value`` as the consent screen's publishing status; empty or None: not known.

    Raises:
        InputError: ``value`` is neither testing nor production.
    """
    if not value:
        return None
    fix = "choose testing or production, as the console's Audience page shows it (runbook step 01)"
    return cast(PublishingStatus, _one_of(value, get_args(PublishingStatus), "publishing status", fix))


def _one_of(value: str, choices: tuple[str, ...], what: str, fix: str) -> str:
    if value not in choices:
        raise InputError(f"{what} {value!r} is not one of {', '.join(choices)}", fix=fix)
    return value


def requested_scopes(
    site: Site, *, services: Iterable[str] | None = None, scope_list: Iterable[str] | None = None
) -> tuple[str, ...]:
    """Scopes from explicit scopes, else services, else the profile's, else Calendar read-only + OpenID."""
    google = site.endpoints.google_dialect if scope_list else True  # another provider's scopes are its own
    explicit = [scopes.normalize_scope(s, google=google) for s in scope_list or ()]
    if services:
        explicit += list(scopes.scopes_for(services))
    if explicit:
        return tuple(dict.fromkeys(explicit))
    stored = site.profile.load_settings().get("scopes")
    return tuple(stored) if stored else default_scopes(site)


def default_scopes(site: Site) -> tuple[str, ...]:
    """Calendar read-only + OpenID at Google; at another provider ``openid``, plus ``offline_access``
    when its discovery document advertises it (OIDC Core §11: what brings a refresh token there)."""
    endpoints = site.endpoints
    if endpoints.google_dialect:
        return scopes.scopes_for(DEFAULT_SERVICES)
    offline = ("offline_access",) if "offline_access" in (endpoints.scopes_supported or ()) else ()
    return ("openid", *offline)


def saved_choices(site: Site) -> tuple[tuple[str, ...], str, str]:
    """Step 01's saved choices: the services whose scopes are all saved, the chosen flow, the publishing status.

    Returns:
        ``(services, flow, publishing_status)``: the services of the saved scopes (else the built-in
        default services), the flow the person chose (``auto``, ``desktop`` or ``device``; else ``auto``)
        and the publishing status (else "").
    """
    settings = site.profile.load_settings()
    saved = set(settings.get("scopes") or ())
    services = tuple(k for k, s in scopes.SERVICES.items() if saved and set(s.scopes) <= saved)
    flow = settings.get("chosen_flow") or "auto"
    return services or DEFAULT_SERVICES, str(flow), str(settings.get("publishing_status") or "")


@in_provider_words
def check_console(
    site: Site,
    requested: tuple[str, ...],
    *,
    flow: Flow | Literal[""] = "auto",
    publishing_status: PublishingStatus | None = None,
    legacy_device_scopes: bool = False,
) -> scopes.Preflight:
    """Step 01: the preflight verdict for these scopes; saves scopes, flow and publishing status.

    ``flow`` "" and ``publishing_status`` None keep the profile's saved choice (else ``auto`` / unknown).
    """
    settings = site.profile.load_settings()
    publishing_status = publishing_status or settings.get("publishing_status")
    flow = flow or settings.get("chosen_flow") or "auto"
    result = scopes.preflight(
        requested,
        flow=flow,
        endpoints=site.endpoints,
        client=site.profile.load_client(),
        legacy_device_scopes=legacy_device_scopes,
        publishing_status=publishing_status,
    )

    def update(s: dict[str, Any]) -> None:
        s.update(scopes=list(requested), flow=result.flow, chosen_flow=flow)
        if publishing_status:
            s["publishing_status"] = publishing_status

    site.profile.update_settings(update)
    site.mark("preflight", "ok" if result.ok else "failed", _first_error(result),
              inputs={"scopes": list(requested), "flow": flow, "publishing_status": publishing_status or ""})
    return result


def _first_error(result: scopes.Preflight) -> str:
    return next((f.message for f in result.findings if f.level == "error"), "")


def raise_for_preflight(result: scopes.Preflight) -> None:
    """Turn the first error finding into a :class:`ConfigError` (exit 3) before any network call."""
    for finding in result.findings:
        if finding.level == "error":
            raise ConfigError(finding.message, fix=finding.fix)


@in_provider_words
def save_client(
    site: Site,
    *,
    client_id: str,
    client_secret: str,
    client_type: ClientType,
    product_name: str = "",
    project_id: str | None = None,
    auth_method: str | None = None,
) -> ClientConfig:
    """Step 02: validate and store the client (typed in, as on the server's admin panel).

    ``auth_method`` pins RFC 6749 §2.3.1 client authentication (``client_secret_basic``,
    ``client_secret_post`` or ``none``); None lets discovery choose (:mod:`gapps_runbook.oauth.client_auth`).

    An empty ``client_secret`` means a public client (RFC 6749 §2.1), allowed only for providers
    that are not Google's dialect: Google's installed-app clients always have a secret.
    """
    google = site.endpoints.google_dialect
    if not client_secret and google:
        raise InputError(
            "the client secret is empty, but Google's OAuth clients always have one "
            "(public clients without a secret exist only at other providers)",
            fix=f"copy the secret from the console's Clients page in {STEP_CLIENT}",
        )
    client = ClientConfig(
        client_id=validate_client_id(client_id, google=google),
        client_secret=validate_client_secret(client_secret, google=google) if client_secret else "",
        client_type=client_type,
        product_name=product_name.strip(),
        project_id=project_id or None,
        auth_method=_auth_method(auth_method),
    )
    return _store_client(site, client)


AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")


def _auth_method(value: str | None) -> str | None:
    if value in (None, "", "auto"):
        return None
    if value not in AUTH_METHODS:
        raise InputError(f"client authentication {value!r} is not one of {', '.join(AUTH_METHODS)}",
                         fix="pass --auth-method client_secret_basic, client_secret_post or none (or leave it out)")
    return value


@in_provider_words
def import_client_json(
    site: Site,
    path: Path,
    *,
    client_type: ClientType | None = None,
    product_name: str = "",
    auth_method: str | None = None,
) -> ClientConfig:
    """Step 02: import the client JSON downloaded from the console's Clients page (``auth_method`` as for
    :func:`save_client`)."""
    client = load_client_json(path, endpoints=site.endpoints, client_type=client_type, product_name=product_name)
    return _store_client(site, dataclasses.replace(client, auth_method=_auth_method(auth_method)))


def _store_client(site: Site, client: ClientConfig) -> ClientConfig:
    site.profile.save_client(client, site.endpoints)
    inputs = {"client_id": client.client_id, "client_type": client.client_type, "product_name": client.product_name,
              "project_id": client.project_id, "auth_method": client.auth_method,
              "secret_fingerprint": fingerprint(client.client_secret) if client.client_secret else ""}
    site.mark("client", "ok", f"{client.type_label} client {client.client_id}", inputs=inputs)
    return client


def pin_account(site: Site, email: str | None) -> None:
    """Pin the Google account that must approve this profile's authorization ("" or None unpins).

    With a pin, a token approved by any other account is refused and not stored: this defeats a
    code entered by somebody else (RFC 8628 §5.4, §5.5). Without one, the account is shown.
    """
    value = (email or "").strip() or None
    if value is not None and ("@" not in value or any(c.isspace() for c in value)):
        raise InputError(f"{value!r} is not an email address", fix="pass the Google account, e.g. admin@example.com")
    site.profile.update_settings(lambda s: s.update(expected_account=value))




@in_provider_words
def test_client(site: Site) -> client_check.ClientCheck:
    """Step 02 "Test client": the provider checks the stored client ID and secret, without a person.

    A refresh with a refresh token that cannot exist (:mod:`gapps_runbook.oauth.client_check`):
    ``invalid_grant`` means the client was accepted, ``invalid_client`` that the ID/secret pair is wrong.

    Raises:
        ConfigError: No client stored yet (step 02).
        InvalidClient: The provider refused the ID and secret (exit 3).
    """
    client = site.client()
    inputs = {"client_id": client.client_id, "issuer": site.endpoints.issuer}
    try:
        result = client_check.check_client(site.transport, site.endpoints, client, clock=site.clock)
    except RunbookError as exc:
        site.mark("client_test", "failed", str(exc), inputs=inputs)
        raise
    site.mark("client_test", "ok", f"accepted by {result.provider} ({result.auth_method})", inputs=inputs)
    return result


vars(test_client)["__test__"] = False  # not a pytest test, whatever its name (a function attribute: vars() types it)
