"""The console's client JSON: reading ``{"installed": {...}}`` into a :class:`ClientConfig`.

The format: https://googleapis.github.io/google-api-python-client/docs/client-secrets.html.

Both "Desktop app" and "TVs and Limited Input devices" clients download as ``{"installed": {...}}``,
so the file cannot tell which one it is. Rules kept here:

- every secret read is passed to :func:`redact.register_secret` at once, and no message ever
  contains a secret (or any value that might be one: IDs are described, not echoed);
- a client JSON whose ``auth_uri``/``token_uri`` names a host that is neither Google's nor the
  configured provider's is refused (RFC 9700 §2.6: a typo'd or malicious file must not send the
  secret and the code elsewhere).
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import CONSOLE_CREDENTIALS, STEP_CLIENT, ConfigError, InputError
from ..safety.redact import register_secret
from .client_ids import validate_client_id, validate_client_secret
from .client_config import MAX_CLIENT_FILE_BYTES, ClientConfig, ClientType
from .endpoints import GOOGLE_HOSTS, GOOGLE_ISSUER, LOOPBACK_HOSTS, Endpoints

OOB_REDIRECTS = frozenset({"urn:ietf:wg:oauth:2.0:oob", "urn:ietf:wg:oauth:2.0:oob:auto", "oob"})

_log = logging.getLogger(__name__)


def _file_error(message: str) -> ConfigError:
    """A ConfigError about the client JSON, pointing at the Clients page."""
    return ConfigError(
        f"the client file {message}",
        fix=f"download the JSON of a 'Desktop app' or 'TVs and Limited Input devices' client from the "
        f"Clients page ({CONSOLE_CREDENTIALS}), then {STEP_CLIENT}",
    )


def _installed_object(text: str) -> dict[str, Any]:
    """The ``installed`` object of a client JSON, or a one-line ConfigError about its shape."""
    try:
        document = json.loads(text)
    except RecursionError:  # "[[[[..." thousands deep
        raise _file_error("is JSON nested too deeply to be a client file") from None
    except ValueError as exc:  # JSONDecodeError; its message quotes no input
        where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise _file_error(f"is not JSON{where}") from None
    if not isinstance(document, dict):
        raise _file_error("is JSON but not an object")
    if "web" in document and "installed" not in document:
        raise _file_error(
            "is for a 'Web application' client, which cannot use the device or loopback flow; "
            "create a 'Desktop app' (or 'TVs and Limited Input devices') client instead"
        )
    kind = document.get("type")
    if kind in ("authorized_user", "service_account", "external_account"):
        raise _file_error(f"is a {kind} credentials file, not an OAuth client JSON")
    installed = document.get("installed")
    if installed is None:
        raise _file_error("has no 'installed' object; it is not a downloaded OAuth client JSON")
    if not isinstance(installed, dict):
        raise _file_error("has an 'installed' value that is not an object")
    return installed


def _required_str(installed: Mapping[str, Any], key: str) -> str:
    value = installed.get(key)
    if value is None or value == "":
        raise _file_error(f"has no {key}")
    if not isinstance(value, str):
        raise _file_error(f"has a value for {key} that is not a string")
    return value


def _allowed_host(url: str, endpoints: Endpoints) -> bool:
    """True if ``url`` is https on a Google host or on the configured provider (http only on loopback)."""
    try:
        parts = urllib.parse.urlsplit(url)  # raises on "https://[x" (a bad IPv6 literal)
        port = parts.port
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    if parts.username is not None or parts.password is not None or not host:
        return False
    if host in GOOGLE_HOSTS and port in (None, 443):
        return parts.scheme == "https"
    if parts.netloc.lower() not in {h.lower() for h in endpoints.hosts}:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK_HOSTS)


def _check_uris(installed: Mapping[str, Any], endpoints: Endpoints) -> None:
    """Refuse auth_uri/token_uri values that would send the code or the secret to a foreign host."""
    for key in ("auth_uri", "token_uri"):
        value = installed.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise _file_error(f"has a value for {key} that is not a string")
        if not _allowed_host(value, endpoints):
            host = _display_host(value) or "an unparsable URL"
            raise _file_error(
                f"has its {key} on {host}, which is neither Google nor the configured provider; "
                "it was refused so the secret cannot be sent there"
            )


def _display_host(url: str) -> str | None:
    """The URL's host[:port] as written (not lower-cased, so redaction still knows a secret), or None."""
    try:
        netloc = urllib.parse.urlsplit(url).netloc
    except ValueError:
        return None
    return netloc.rpartition("@")[2] or None  # never the user:password part


def _redirect_uris(installed: Mapping[str, Any]) -> list[str]:
    value = installed.get("redirect_uris", [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _file_error("has a redirect_uris value that is not a list of strings")
    return value


def _infer_type(redirects: list[str]) -> ClientType:
    """``desktop`` when the file has a loopback redirect; otherwise the caller must say."""
    for uri in redirects:
        try:
            parts = urllib.parse.urlsplit(uri)  # raises on "http://[x" (a bad IPv6 literal)
        except ValueError:
            continue
        if parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS:
            return "desktop"
    raise InputError(
        "the client file does not say whether it is a 'Desktop app' or a 'TVs and Limited Input devices' client",
        fix="pass --client-type desktop or --client-type device, as shown on the Clients page "
        f"({CONSOLE_CREDENTIALS})",
    )


def _oob_notes(redirects: list[str]) -> tuple[str, ...]:
    if not any(uri in OOB_REDIRECTS for uri in redirects):
        return ()
    note = (
        "the client file lists the out-of-band redirect (urn:ietf:wg:oauth:2.0:oob), which Google "
        "turned off in 2022-2023; it is ignored, and the runbook uses the device or loopback flow"
    )
    _log.info(note)
    return (note,)


def parse_client_json(
    text: str, *, endpoints: Endpoints, client_type: ClientType | None = None, product_name: str = ""
) -> ClientConfig:
    """Read a client JSON as the console downloads it (the client-secrets format).

    Args:
        text: The file's text.
        endpoints: The configured provider; ``auth_uri``/``token_uri`` must be on its hosts or Google's.
        client_type: ``"device"`` or ``"desktop"``. The file cannot tell (both are ``installed``);
            when None, a file with an ``http://localhost`` redirect is taken as ``"desktop"``.
        product_name: The consent screen's app name, kept for display.

    Returns:
        The client; its secret is registered for redaction.

    Raises:
        ConfigError: Not JSON, not an object, a "web" client, no ``installed`` object, missing or
            malformed ``client_id``/``client_secret``, or a foreign ``auth_uri``/``token_uri`` host.
        InputError: ``client_type`` is None and the file has no loopback redirect.
    """
    installed = _installed_object(text)
    secret = installed.get("client_secret")
    register_secret(secret if isinstance(secret, str) else None)
    return _client_from_installed(
        installed, endpoints=endpoints, client_type=client_type, product_name=product_name
    )


def _client_from_installed(
    installed: Mapping[str, Any],
    *,
    endpoints: Endpoints | None,
    client_type: ClientType | None,
    product_name: str,
) -> ClientConfig:
    """Build a ClientConfig from an ``installed`` object; ``endpoints=None`` skips the host check.

    ``client_secret`` may be absent (a public client) unless ``endpoints`` is Google's dialect.
    """
    client_id = _required_str(installed, "client_id")
    public_ok = endpoints is None or not endpoints.google_dialect
    client_secret = "" if public_ok and installed.get("client_secret") in (None, "") else _required_str(
        installed, "client_secret"
    )
    google = endpoints is not None and endpoints.issuer == GOOGLE_ISSUER
    checks = [(validate_client_id, client_id, "client_id")]
    if client_secret:
        checks.append((validate_client_secret, client_secret, "client_secret"))
    for check, value, key in checks:
        try:
            check(value, google=google)
        except InputError as exc:
            raise ConfigError(f"the client file's {key}: {exc.message}", fix=exc.fix) from None
    if endpoints is not None:
        _check_uris(installed, endpoints)
    project_id = installed.get("project_id")
    if project_id is not None and not isinstance(project_id, str):
        raise _file_error("has a project_id that is not a string")
    redirects = _redirect_uris(installed)
    return ClientConfig(
        client_id=client_id,
        client_secret=client_secret,
        client_type=client_type or _infer_type(redirects),
        product_name=product_name,
        project_id=project_id or None,
        notes=_oob_notes(redirects),
    )


def load_client_json(path: Path, **kw: Any) -> ClientConfig:
    """Read and parse a client JSON file; see :func:`parse_client_json` for ``kw``.

    Raises:
        InputError: The file is missing, a directory, unreadable, or not UTF-8.
        ConfigError: As :func:`parse_client_json`, or the file is too large to be a client JSON.
    """
    path = Path(path)
    fix = f"pass the path of the JSON downloaded from the Clients page ({CONSOLE_CREDENTIALS})"
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CLIENT_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"the client file {path} does not exist", fix=fix) from None
    except IsADirectoryError:
        raise InputError(f"the client file {path} is a directory", fix=fix) from None
    except OSError as exc:
        raise InputError(f"the client file {path} cannot be read ({exc.strerror})", fix=fix) from None
    if len(data) > MAX_CLIENT_FILE_BYTES:
        raise _file_error(f"{path} is larger than {MAX_CLIENT_FILE_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"the client file {path} is not UTF-8 text", fix=fix) from None
    return parse_client_json(text, **kw)


__all__ = ["OOB_REDIRECTS", "load_client_json", "parse_client_json"]
