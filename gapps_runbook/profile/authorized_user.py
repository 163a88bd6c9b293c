"""google-auth's ``authorized_user`` JSON for a token, and back.

The format: https://googleapis.dev/python/google-auth/latest/reference/google.oauth2.credentials.html
(``Credentials.from_authorized_user_info`` and ``to_json``).

:func:`authorized_user_info` writes what ``google.oauth2.credentials.Credentials.from_authorized_user_info``
loads (the store saves it as ``authorized_user.json``); :func:`token_from_authorized_user` reads it
back, and also reads files google-auth's ``to_json`` wrote. The expiry is google-auth's naive-UTC
ISO time; a ``gapps_runbook`` object carries what google-auth has no field for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import StoreError
from ..safety.redact import register_secret
from ..oauth.clock import iso_utc_z
from ..oauth.tokens import Token

if TYPE_CHECKING:
    from ..oauth.clients import ClientConfig
    from ..oauth.endpoints import Endpoints

_ISO_FORMAT = "%Y-%m-%dT%H:%M:%S"  # google-auth's expiry format, read back as naive UTC (from_authorized_user_info)
_LATEST_TIME = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second a datetime can hold


def authorized_user_info(token: Token, client: ClientConfig, endpoints: Endpoints) -> dict[str, Any]:
    """google-auth's ``authorized_user`` JSON for this token (``Credentials.from_authorized_user_info``).

    ``google.oauth2.credentials.Credentials.from_authorized_user_info`` loads it (and overrides
    ``token_uri`` with Google's); ``google.auth.default`` needs the ``type`` key. A ``gapps_runbook``
    object carries what google-auth has no field for; google-auth ignores it.

    Args:
        token: The token; its refresh token is required by google-auth's loader.
        client: The OAuth client the token was issued to.
        endpoints: The provider; ``token_endpoint`` becomes ``token_uri``.

    Returns:
        A JSON-ready dict (it contains secrets: write it only to a 0600 file).
    """
    info: dict[str, Any] = {
        "type": "authorized_user",
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "refresh_token": token.refresh_token,
        "token": token.access_token,
        "token_uri": endpoints.token_endpoint,
        "scopes": list(token.scopes),
        "expiry": iso_utc_z(token.expires_at),
        "account": token.account,
        "gapps_runbook": {
            "issued_at": token.issued_at,
            "issuer": endpoints.issuer,
            "refresh_token_expires_at": token.refresh_token_expires_at,
        },
    }
    if token.monotonic_expires_at is not None:  # lets the next process notice a clock set back (C1)
        info["gapps_runbook"]["monotonic_expires_at"] = token.monotonic_expires_at
    return {k: v for k, v in info.items() if v is not None}


def token_from_authorized_user(info: Mapping[str, Any], *, now: float) -> Token:
    """The inverse of :func:`authorized_user_info`; also reads files google-auth's ``to_json`` wrote.

    Args:
        info: The parsed JSON object.
        now: Wall-clock time; a file without ``expiry`` or ``token`` counts as expired at ``now``
            (google-auth treats a missing expiry the same way).

    Returns:
        The token, with every secret registered for redaction.

    Raises:
        StoreError: A field has the wrong type or the expiry is not google-auth's format.
    """
    access = _stored_str(info, "token") or ""
    refresh_token = _stored_str(info, "refresh_token")
    register_secret(access)
    register_secret(refresh_token)
    extra = info.get("gapps_runbook") if isinstance(info.get("gapps_runbook"), dict) else {}
    return Token(
        access_token=access,
        expires_at=_stored_expiry(info.get("expiry"), now) if access else now,
        scopes=_stored_scopes(info.get("scopes")),
        refresh_token=refresh_token,
        refresh_token_expires_at=_stored_float(extra, "refresh_token_expires_at"),
        issued_at=_stored_float(extra, "issued_at") or 0.0,
        account=_stored_str(info, "account"),
        monotonic_expires_at=_stored_float(extra, "monotonic_expires_at"),
    )


def _stored_str(info: Mapping[str, Any], key: str) -> str | None:
    value = info.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise StoreError(f"the authorized_user file's {key} is not a string")
    return value


def _stored_float(info: Mapping[str, Any], key: str) -> float | None:
    value = info.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -_LATEST_TIME <= value <= _LATEST_TIME:
        raise StoreError(f"the authorized_user file's gapps_runbook.{key} is not a number of seconds")  # NaN, 1e400
    return float(value)


def _stored_scopes(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return tuple(value)
    raise StoreError("the authorized_user file's scopes is neither a list of strings nor a string")


def _stored_expiry(value: Any, now: float) -> float:
    if value is None:
        return now
    if not isinstance(value, str):
        raise StoreError("the authorized_user file's expiry is not a string")
    try:  # exactly google-auth's parse: strip "Z" and fractions, naive UTC
        moment = dt.datetime.strptime(value.rstrip("Z").split(".")[0], _ISO_FORMAT)
    except ValueError:
        raise StoreError("the authorized_user file's expiry is not an ISO time like 2026-01-01T00:00:00Z") from None
    return moment.replace(tzinfo=dt.timezone.utc).timestamp()
