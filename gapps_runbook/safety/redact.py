"""Keep secrets out of every message, log line and saved artifact.

Two nets, both applied by :func:`redact`:

1. Secrets this process has seen are registered with :func:`register_secret` when they are read or
   received (client secret, access and refresh tokens, device codes, authorization codes), and every
   registered value is replaced wherever it appears, raw, URL-encoded or JSON-escaped.
2. Patterns for Google's secret shapes (``GOCSPX-``, ``ya29.``, ``1//``, ``4/`` codes), ``Bearer``
   headers, and ``secret=``/``token=``/``code=`` form and query values, for secrets never registered.

:func:`fingerprint` gives the short, stable "token id" the runbook shows instead of a token.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import traceback
import urllib.parse

MASK = "[redacted]"

SECRET_SHAPES: dict[str, re.Pattern[str]] = {
    "GOCSPX": re.compile(r"GOCSPX-[A-Za-z0-9_\-]{4,}"),  # Google client secrets
    "ya29": re.compile(r"ya29\.[A-Za-z0-9_\-.]{4,}"),  # Google access tokens
    "1//": re.compile(r"(?<![A-Za-z0-9+/=_\-.:])1//[A-Za-z0-9_\-]{6,}"),  # Google refresh tokens, not http://1//
    "4/": re.compile(r"(?<![A-Za-z0-9+/=_\-.])4/[0-9A-Za-z_\-]{10,}"),  # auth codes, not paths like pytest-4/x
    "jwt": re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\."),  # ID tokens
    "private_key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),  # service-account keys
}
"""Google's secret shapes, defined once: redaction masks them, the parameter check refuses them, the
leak scanner reports them."""

_PATTERNS = [
    *SECRET_SHAPES.values(),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9_\-.~+/]+=*"),
    # key=value (form, query), key%3Dvalue (encoded), "key": "value" (JSON); not prose like "code: X".
    re.compile(
        r"(?i)((?<![A-Za-z0-9_])(?:client_secret|access_token|refresh_token|id_token|device_code|code_verifier"
        r"|code|token|password)(?:=|%3D|\"\s*:\s*\"))[^\s&\"',;}]+"
    ),
]

_known: set[str] = set()
_known_lock = threading.Lock()
_longest_first: tuple[str, ...] = ()  # _known sorted for redact(), rebuilt by redact() when stale
_stale = False  # _known changed since _longest_first was built: sort once, at the next redact()
_MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words


def register_secret(value: str | None) -> None:
    """Remember a secret so :func:`redact` removes it in raw, URL-encoded and JSON-escaped forms."""
    if not value or len(value) < _MIN_SECRET_LENGTH:
        return
    # surrogatepass: JSON's "\udcff" escape decodes to a lone surrogate, which strict UTF-8 refuses to encode
    quoted = urllib.parse.quote(value, safe="", errors="surrogatepass")
    forms = {value, quoted, urllib.parse.quote_plus(value, errors="surrogatepass"), json.dumps(value)[1:-1]}
    global _stale
    with _known_lock:
        if not forms <= _known:
            _known.update(forms)
            _stale = True  # registering thousands (a batch over many profiles) must not sort thousands of times


def registry_snapshot() -> frozenset[str]:
    """The registered secret forms, to hand back to :func:`restore_registry` (tests, batch runs)."""
    with _known_lock:
        return frozenset(_known)


def restore_registry(snapshot: frozenset[str]) -> None:
    """Forget every secret registered since ``snapshot`` was taken."""
    global _stale
    with _known_lock:
        _known.clear()
        _known.update(snapshot)
        _stale = True


def _sorted_secrets() -> tuple[str, ...]:
    """The registered forms, longest first (so a secret inside a longer one is masked whole), sorted lazily."""
    global _longest_first, _stale
    if _stale:
        with _known_lock:
            if _stale:
                _longest_first = tuple(sorted(_known, key=len, reverse=True))
                _stale = False
    return _longest_first  # a tuple swapped whole under the lock: safe to read without it


def redact(text: str) -> str:
    """Return ``text`` with every registered secret and secret-shaped value replaced by ``[redacted]``."""
    if not text:
        return text
    for value in _sorted_secrets():
        if value in text:
            text = text.replace(value, MASK)
    for pattern in _PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + MASK, text)
        else:
            text = pattern.sub(MASK, text)
    return text


def fingerprint(value: str) -> str:
    """A short, stable, non-reversible id for a token or secret (the procedure's "token id")."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]


_factory_installed = False


def install_log_redaction() -> None:
    """Redact every log record of every logger, whatever its handler (idempotent).

    A record factory is used rather than a filter because filters on the root logger do not see
    records that propagate from child loggers (google-auth, urllib3).
    """
    global _factory_installed
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            record.msg = redact(record.getMessage())
        except Exception:  # a broken %-format in someone else's log call: keep the raw template, redacted
            record.msg = redact(str(record.msg))
        record.args = ()
        if record.exc_info:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True
