"""F1 fuzzing (docs/reliability.md): every parser, valid-ish and junk inputs.

For each parser the strategy mixes mutations of Google's real shapes (:mod:`gapps_runbook.emulator.facts`:
missing keys, wrong types, huge, unicode and control-character values, nested junk, negative or huge
``expires_in``, NaN/inf, non-string scopes, duplicate query parameters, ``error=`` callbacks, a wrong
``state``) with raw junk fed through the same entry point the runbook uses (bytes through
``transport.Response`` and the module's request function, text through the client-file parser).

The invariant, checked for every example: the parser returns its result object, or raises a
:class:`~gapps_runbook.errors.RunbookError` subclass whose ``str()`` is one line and, like its
``repr()``, holds none of the planted canaries (``GOCSPX-FUZZ...``, ``ya29.FUZZ...``, ``1//FUZZ...``,
``4/FUZZ...``, and unshaped ``FUZZ...`` values in secret fields), compared case-insensitively. Any other
exception fails the test. The emulator is driven in process through ``werkzeug.test.Client``: every
answer is < 500, has no ``Traceback``, and echoes no secret planted in the request.

Each parser runs twice: ``[small]`` (300 examples, ``derandomize=True``: the same examples on every run)
in the normal suite, and ``[full]`` (10 000 examples, a fresh random seed each run) marked ``soak``,
which prints ``F1 fuzzing <parser>: <N> examples, 0 uncaught (target 10000, 0)``. ``GAPPS_SOAK_SCALE``
multiplies the full count; ``GAPPS_SOAK_REPORT=<file>`` appends the lines to a file.

No example database (``database=None``): the small run is derandomized, so a failure reproduces from the
test alone, and a soak failure prints the minimal example and a ``@reproduce_failure`` blob; no example
database builds up in the checkout or in CI (Hypothesis still writes its gitignored ``.hypothesis/constants``).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import math
import os
import string
import tempfile
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from gapps_runbook.oauth import loopback
from gapps_runbook.safety import redact
from gapps_runbook.profile.authorized_user import token_from_authorized_user
from gapps_runbook.oauth.clients import ClientConfig, load_client_json, parse_client_json
from gapps_runbook.oauth.clock import FakeClock
from gapps_runbook.oauth.device_flow import DeviceAuthorization, parse_device_response, request_device_code
from gapps_runbook.emulator import Emulator
from gapps_runbook.oauth.endpoints import GOOGLE, Endpoints, discover
from gapps_runbook.errors import RunbookError
from gapps_runbook.oauth.tokeninfo import TokenInfo, inspect_token, parse_introspection, parse_tokeninfo
from gapps_runbook.runs.parameters import check_parameters
from gapps_runbook.oauth.tokens import Token, parse_token_response, refresh
from gapps_runbook.oauth.transport import NO_RETRY, Response

from fakes import FakeTransport, client_id

SCALE = float(os.environ.get("GAPPS_SOAK_SCALE", "1"))
TARGET = 10_000
SMALL, FULL = 300, max(1, round(TARGET * SCALE))
SOAK_TIMEOUT = int(max(1800, 3600 * SCALE))
NOW = 1_800_000_000.0
ALNUM = string.ascii_letters + string.digits

# --- canaries ----------------------------------------------------------------------------------------

# Google-shaped canaries may be planted anywhere; redaction must catch them wherever a message echoes a
# value. Unshaped ones ("FUZZ...") go only into secret fields, which the parsers register for redaction.
SHAPED = ("GOCSPX-FUZZ", "ya29.FUZZ", "1//FUZZ", "4/FUZZ")
CANARY_BODY = st.text(ALNUM, min_size=14, max_size=24)
_planted: list[str] = []  # every canary drawn for the current example


def _plant(value: str) -> str:
    _planted.append(value)
    return value


def _plant_new(prefix: str, body: str) -> str:
    """A canary unique in this example (shrinking makes bodies equal: "0000..."), remembered for the checks."""
    return _plant(f"{prefix}{len(_planted):02d}{body}")


def shaped_canary(prefix: str | None = None) -> st.SearchStrategy[str]:
    prefixes = st.just(prefix) if prefix else st.sampled_from(SHAPED)
    return st.builds(_plant_new, prefixes, CANARY_BODY)


SECRET_CANARY = st.one_of(shaped_canary(), st.builds(_plant_new, st.just("FUZZ"), CANARY_BODY))
"""A value for a secret field: Google-shaped, or unshaped (caught only because the parser registers it)."""

# --- junk values ---------------------------------------------------------------------------------------

SHAPED_PREFIX_TEXT = st.sampled_from(["GOCSPX-", "ya29.", "1//", "4/", "eyJ"])
CONTROL = st.text(st.sampled_from("\x00\x01\x07\x08\t\n\x0b\x0c\r\x1b\x1c\x1f\x7f\x85\u2028\u2029\ufeff"), max_size=5)
TRICKY_NUMBERS = st.sampled_from(
    ["3599", " 42 ", "-5", "--5", "+5", "0", "1e3", "0x10", "3599.0", "\u00b2", "\u0661\u0662", "\uff13\uff15",
     "9" * 5000, "-" + "9" * 30, "", " ", "NaN", "inf"]
)
SURROGATES = st.text(st.sampled_from("\ud800\udbff\udc00\udcff\udfffa"), min_size=1, max_size=4)
"""Lone surrogates: JSON's "\\udcff" escape decodes to one, and so does a paste read with surrogateescape."""
JUNK_TEXT = st.one_of(
    st.text(max_size=30),
    CONTROL,
    SURROGATES,
    st.builds(lambda a, b: a + b, SHAPED_PREFIX_TEXT, SURROGATES),
    TRICKY_NUMBERS,
    st.builds(lambda ch, n: ch * n, st.sampled_from(["x", "\u00e9", "\U0001f600", "\n", "/", "%"]),
              st.integers(1000, 70000)),
    st.builds(lambda a, b, c: a + b + c, st.text(max_size=5), CONTROL, st.text(max_size=5)),
)
JUNK_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.integers(10**300, 10**400),
    st.sampled_from([-1, 0, 1, 2**31, 2**63, -(2**63), 10**20]),
    st.floats(allow_nan=True, allow_infinity=True),
    JUNK_TEXT,
)
JUNK = st.recursive(
    JUNK_SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
SECONDS = st.one_of(
    st.integers(-(10**6), 10**6),
    st.sampled_from([0, 1, 3599, 3920, 1800, 604799, 2**31 - 1, 2**31, 2**53, 2**64, 10**18, 10**30]),
    st.integers(10**300, 10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    TRICKY_NUMBERS,
    st.booleans(),
    st.none(),
)
SCOPE = st.one_of(
    st.sampled_from(
        ["openid https://www.googleapis.com/auth/userinfo.email", "https://www.googleapis.com/auth/calendar.readonly",
         "email profile", "", " \t "]
    ),
    st.lists(st.text(max_size=10), max_size=3),
    JUNK,
)
URL_JUNK = st.sampled_from(
    ["http://[", "https://[abc", "http://[abc]/", "http://a]b/", "https://", "http://:80", "ftp://x/y", "//x/y",
     "https://user:pw@oauth2.googleapis.com/token", "https://oauth2.googleapis.com:99999/token",
     "https://oauth2.googleapis.com:abc/token", "https://evil.example/token", "http://oauth2.googleapis.com/token",
     "https://[::1]:x/", "javascript:alert(1)", "https://oauth2.googleapis.com\n.evil/", "\u0000", "",
     "https://oauth2.googleapis.com/token#frag", "HTTPS://OAUTH2.GOOGLEAPIS.COM/token"]
)


@st.composite
def mutated(
    draw: st.DrawFn, base: dict[str, Any], fields: dict[str, st.SearchStrategy[Any]], *, max_changes: int = 4
) -> tuple[dict[str, Any], bool]:
    """``(document, pristine)``: ``base`` with up to ``max_changes`` keys dropped or replaced."""
    doc = dict(base)
    changes = draw(st.integers(0, max_changes))
    keys = sorted(set(base) | set(fields) | {"junk", ""})
    for _ in range(changes):
        key = draw(st.sampled_from(keys))
        action = draw(st.sampled_from(("drop", "field", "field", "junk")))
        if action == "drop":
            doc.pop(key, None)
        elif action == "field" and key in fields:
            doc[key] = draw(fields[key])
        else:
            doc[key] = draw(JUNK)
    return doc, changes == 0


RAW_BYTES = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.builds(lambda d: b"[" * d + b"]" * d, st.integers(500, 200_000)),
    st.builds(lambda d: b'{"a":' * d + b"1" + b"}" * d, st.integers(500, 100_000)),
    st.sampled_from([b"", b"null", b"[]", b"{}", b"NaN", b'"x"', b"\xef\xbb\xbf{}", b"{\"a\": 1e999}",
                     b"<!DOCTYPE html><html></html>", b"1" * 5000, b"{\"error\": {\"code\": 401}}"]),
)


def json_bytes(doc: Any, indent: int | None = None) -> bytes:
    return json.dumps(doc, indent=indent, allow_nan=True).encode("utf-8", "surrogatepass")


# --- the invariant -------------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_example() -> Iterator[None]:
    """Each example starts with the process's registered secrets and no planted canaries, as a new run would.

    Without this, every secret-field value of every earlier example stays registered: the set grows by
    tens of thousands and ``redact`` slows down (and would mask leaks of values it saw before).
    """
    saved = redact.registry_snapshot()
    try:
        yield
    finally:
        _planted.clear()  # the next example's canaries are drawn before its body runs
        redact.restore_registry(saved)


def assert_no_canary(text: str, where: str) -> None:
    folded = text.casefold()
    for canary in _planted:
        body = canary[canary.index("FUZZ"):]
        assert canary.casefold() not in folded and body.casefold() not in folded, f"canary {canary!r} in {where}"


def assert_clean_error(exc: RunbookError) -> None:
    """One line, not empty, no planted canary in ``str()`` or ``repr()``."""
    text = str(exc)
    assert text.strip(), f"empty message from {type(exc).__name__}"
    assert len(text.splitlines()) == 1 and "\n" not in text and "\r" not in text, f"multi-line message: {text!r}"
    assert_no_canary(text, f"str({type(exc).__name__})")
    assert_no_canary(repr(exc), f"repr({type(exc).__name__})")


def outcome(
    result_type: type | tuple[type, ...], function: Callable[..., Any], *args: Any, **kwargs: Any
) -> tuple[str, Any]:
    """``("accepted", function(...))`` or ``("rejected", error)``; any non-RunbookError propagates (a failure)."""
    try:
        result = function(*args, **kwargs)
    except RunbookError as exc:
        assert_clean_error(exc)
        return "rejected", exc
    assert isinstance(result, result_type), f"returned {type(result).__name__}"
    return "accepted", result


def report(request: pytest.FixtureRequest, line: str) -> None:
    """Print a summary line from the full (``soak``) run, past pytest's capture (conftest's ``soak_report``)."""
    request.getfixturevalue("soak_report")(line)


SIZES = pytest.mark.parametrize("size", [
    pytest.param(SMALL, id="small"),
    pytest.param(FULL, id="full", marks=[pytest.mark.soak, pytest.mark.timeout(SOAK_TIMEOUT)]),
])  # fmt: skip


def fuzz(
    request: pytest.FixtureRequest, parser: str, size: int, strategy: st.SearchStrategy[Any],
    check: Callable[[Any], str],
) -> Counter[str]:
    """Run ``check`` on ``size`` examples of ``strategy``; report and return the outcome counts."""
    counts: Counter[str] = Counter()
    small = request.node.get_closest_marker("soak") is None

    @settings(
        max_examples=size,
        deadline=None,
        derandomize=small,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
                               HealthCheck.large_base_example],
    )  # fmt: skip
    @given(strategy)
    def property_holds(case: Any) -> None:
        with fresh_example():
            counts[check(case)] += 1

    started = time.monotonic()
    property_holds()
    total = sum(counts.values())
    assert counts["accepted"] > 0 and counts["rejected"] > 0, f"{parser}: the strategy misses one side: {counts}"
    if not small:
        assert total >= size, f"{parser}: only {total} examples ran"
    report(
        request,
        f"F1 fuzzing {parser}: {total} examples, 0 uncaught (target {TARGET}, 0); "
        f"{counts['accepted']} accepted, {counts['rejected']} rejected, {time.monotonic() - started:.1f} s",
    )
    return counts


def canned(status: int, body: bytes) -> FakeTransport:
    """A transport answering every request with one JSON-typed response."""
    return FakeTransport(Response(status, {"content-type": "application/json"}, body), repeat=True)


NO_SLEEP_STATUSES = st.sampled_from([200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 428])
STATUSES = st.sampled_from([200, 200, 200, 204, 400, 401, 403, 404, 428, 429, 500, 502, 503])
EMULATOR_BASE = "http://127.0.0.1:8765"
EMULATED = Endpoints(
    issuer=EMULATOR_BASE,
    authorization_endpoint=EMULATOR_BASE + "/o/oauth2/v2/auth",
    token_endpoint=EMULATOR_BASE + "/token",
    device_authorization_endpoint=EMULATOR_BASE + "/device/code",
    revocation_endpoint=EMULATOR_BASE + "/revoke",
    tokeninfo_endpoint=EMULATOR_BASE + "/tokeninfo",
    api_base=EMULATOR_BASE,
)
CLIENT_ID = client_id()
DEVICE_CLIENT = ClientConfig(CLIENT_ID, "GOCSPX-" + "K" * 28, "device")
DESKTOP_CLIENT = ClientConfig(CLIENT_ID, "GOCSPX-" + "K" * 28, "desktop")


def raw_case(statuses: st.SearchStrategy[int] = STATUSES) -> st.SearchStrategy[tuple[str, int, bytes]]:
    """Raw junk for a JSON-answering endpoint: ``("raw", status, body)``."""
    return st.tuples(st.just("raw"), statuses, RAW_BYTES)


def doc_as_raw(docs: st.SearchStrategy[tuple[dict[str, Any], bool]], statuses: st.SearchStrategy[int] = STATUSES):
    """A mutated document serialised as a response body: ``("raw", status, bytes)``."""
    return st.tuples(st.just("raw"), statuses, docs.map(lambda pair: json_bytes(pair[0])))


# --- client JSON ---------------------------------------------------------------------------------------

GOOD_CLIENT_ID = st.builds(
    lambda n, s: f"{n}-{s}.apps.googleusercontent.com", st.integers(1, 10**13),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=32, max_size=32),
)
GOOD_CLIENT_SECRET = st.builds(_plant_new, st.just("GOCSPX-FUZZ"), st.text(ALNUM + "_-", min_size=22, max_size=22))
CLIENT_ID_VALUES = st.one_of(
    GOOD_CLIENT_ID,
    st.builds(lambda n, s: f"{n}-{s}", st.integers(1, 10**13),
              st.text("abcdefghij0123456789", min_size=32, max_size=32)),
    st.sampled_from([CLIENT_ID.upper(), " " + CLIENT_ID, f'"{CLIENT_ID}"', "123456789012", CLIENT_ID + "\n"]),
    st.builds(_plant_new, st.just("GOCSPX-FUZZ"), st.text(ALNUM, min_size=22, max_size=22)),
    st.builds(_plant_new, st.just("FUZZ"), st.text(ALNUM, min_size=18, max_size=18)),
    JUNK,
)  # fmt: skip
CLIENT_SECRET_VALUES = st.one_of(
    GOOD_CLIENT_SECRET,
    st.builds(_plant_new, st.just("FUZZ"), st.text(ALNUM, min_size=18, max_size=18)),  # legacy 24 chars
    SECRET_CANARY,
    st.builds(lambda s: " " + s + "\n", SECRET_CANARY),
    st.just(CLIENT_ID),
    JUNK,
)
CLIENT_URI = st.one_of(
    st.sampled_from(["https://accounts.google.com/o/oauth2/auth", "https://oauth2.googleapis.com/token",
                     "https://accounts.google.com/o/oauth2/token", EMULATOR_BASE + "/token",
                     "http://localhost:8765/token"]),
    URL_JUNK,
    shaped_canary().map(lambda c: f"https://{c}/token"),
    JUNK,
)  # fmt: skip
REDIRECTS = st.one_of(
    st.just(["http://localhost"]),
    st.just(["urn:ietf:wg:oauth:2.0:oob", "http://localhost"]),
    st.just(["urn:ietf:wg:oauth:2.0:oob"]),
    st.lists(st.one_of(URL_JUNK, st.text(max_size=10)), max_size=3),
    JUNK,
)


@st.composite
def client_documents(draw: st.DrawFn) -> tuple[str, Any, bool]:
    """``("doc", document, pristine)``: the console's download, mutated inside and around ``installed``."""
    installed = {
        "client_id": draw(GOOD_CLIENT_ID),
        "project_id": "calendar-bridge",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_secret": draw(GOOD_CLIENT_SECRET),
        "redirect_uris": ["http://localhost"],
    }
    fields = {"client_id": CLIENT_ID_VALUES, "client_secret": CLIENT_SECRET_VALUES, "auth_uri": CLIENT_URI,
              "token_uri": CLIENT_URI, "redirect_uris": REDIRECTS, "project_id": JUNK}  # fmt: skip
    inner, pristine = draw(mutated(installed, fields))
    outer = {"installed": inner}
    wrap = draw(st.sampled_from(("installed", "installed", "installed", "web", "both", "type", "list", "junk")))
    if wrap == "web":
        outer = {"web": inner}
    elif wrap == "both":
        outer = {"installed": inner, "web": inner}
    elif wrap == "type":
        outer = {"installed": inner, "type": draw(st.sampled_from(["authorized_user", "service_account", "x"]))}
    elif wrap == "list":
        outer = [inner]  # type: ignore[assignment]
    elif wrap == "junk":
        outer = {"installed": draw(JUNK)}
    return "doc", outer, pristine and wrap == "installed", draw(st.sampled_from([GOOGLE, EMULATED]))


CLIENT_TEXT = st.one_of(
    client_documents(),
    st.tuples(st.just("text"), st.text(max_size=300)),
    st.tuples(st.just("text"), client_documents().map(lambda c: json.dumps(c[1])[: len(json.dumps(c[1])) // 2])),
    st.tuples(st.just("bytes"), RAW_BYTES),
    st.tuples(st.just("bytes"), client_documents().map(lambda c: b"\xef\xbb\xbf" + json_bytes(c[1], indent=2))),
    st.tuples(st.just("bytes"), st.just(b" " * (64 * 1024 + 1))),
)


@SIZES
def test_f1_client_json(request: pytest.FixtureRequest, size: int) -> None:
    """``parse_client_json`` (text) and ``load_client_json`` (bytes on disk) against the console's shape."""
    folder = Path(tempfile.mkdtemp(prefix="gapps-fuzz-"))
    path = folder / "client.json"

    def check(case: tuple[Any, ...]) -> str:
        kind, value = case[0], case[1]
        if kind == "doc":
            text = json.dumps(value, ensure_ascii=False, allow_nan=True)
            result, got = outcome(ClientConfig, parse_client_json, text, endpoints=case[3])
        elif kind == "text":
            result, got = outcome(ClientConfig, parse_client_json, value, endpoints=GOOGLE, client_type="device")
        else:
            path.write_bytes(value)
            result, got = outcome(ClientConfig, load_client_json, path, endpoints=GOOGLE)
        if result == "accepted":  # a non-Google provider's client ID may be any word, a "FUZZ..." one too
            # the repr does not depend on the secret (a project ID may well read "GOCSPX-...": that is no secret)
            assert repr(got) == repr(dataclasses.replace(got, client_secret="GOCSPX-" + "0" * 28)), "secret in repr"
        elif kind == "doc" and case[2]:
            pytest.fail(f"a pristine client JSON was refused: {got}")
        return result

    try:
        fuzz(request, "client JSON", size, CLIENT_TEXT, check)
    finally:
        path.unlink(missing_ok=True)
        folder.rmdir()


# --- discovery document --------------------------------------------------------------------------------

DISCOVERY = {
    "issuer": EMULATOR_BASE,
    "authorization_endpoint": EMULATOR_BASE + "/o/oauth2/v2/auth",
    "device_authorization_endpoint": EMULATOR_BASE + "/device/code",
    "token_endpoint": EMULATOR_BASE + "/token",
    "revocation_endpoint": EMULATOR_BASE + "/revoke",
    "tokeninfo_endpoint": EMULATOR_BASE + "/tokeninfo",
    "api_base": EMULATOR_BASE,
    "response_types_supported": ["code"],
    "grant_types_supported": ["authorization_code", "refresh_token"],
}
DISCOVERY_URL = st.one_of(st.sampled_from(list(DISCOVERY.values())[:7]), URL_JUNK, JUNK)
DISCOVERY_DOCS = mutated(
    DISCOVERY,
    {key: DISCOVERY_URL for key in list(DISCOVERY)[:7] + ["introspection_endpoint"]}
    | {"issuer": st.one_of(st.just(EMULATOR_BASE), st.just(EMULATOR_BASE + "/"), shaped_canary(), JUNK)},
)


@SIZES
def test_f1_discovery_document(request: pytest.FixtureRequest, size: int) -> None:
    """``Endpoints.from_discovery`` directly, and ``discover`` over a fake transport with raw bodies."""
    cases = st.one_of(
        st.tuples(st.just("doc"), DISCOVERY_DOCS, st.sampled_from([None, EMULATOR_BASE, "https://other.example"])),
        raw_case(NO_SLEEP_STATUSES),
        doc_as_raw(DISCOVERY_DOCS, NO_SLEEP_STATUSES),
    )

    def check(case: tuple[Any, ...]) -> str:
        if case[0] == "doc":
            (doc, pristine), issuer = case[1], case[2]
            result, got = outcome(Endpoints, Endpoints.from_discovery, doc, issuer=issuer)
            if result == "rejected" and pristine and issuer in (None, EMULATOR_BASE):
                pytest.fail(f"a pristine discovery document was refused: {got}")
        else:
            transport = canned(case[1], case[2])
            result, got = outcome(Endpoints, discover, transport, EMULATOR_BASE)
        if result == "accepted":
            assert isinstance(got.hosts, frozenset)
        return result

    fuzz(request, "discovery document", size, cases, check)


# --- device authorization response ---------------------------------------------------------------------

DEVICE_BASE = {
    "device_code": "4/4-GMMhmHCXhWEzkobqIHGG_EnNYYsAkukHspeYUk9E8",
    "user_code": "GQVQ-JKEC",
    "verification_url": "https://www.google.com/device",
    "expires_in": 1800,
    "interval": 5,
}


@st.composite
def device_docs(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    base = dict(DEVICE_BASE, device_code=draw(SECRET_CANARY))
    fields = {
        "device_code": st.one_of(SECRET_CANARY, JUNK),
        "user_code": st.one_of(st.sampled_from(["WWWWWWWWWWWWWWW", "ZPZ-KSH-WBV", ""]), JUNK),
        "verification_url": st.one_of(st.just("https://www.google.com/device"), URL_JUNK, JUNK),
        "verification_uri": st.one_of(st.just("https://www.google.com/device"), URL_JUNK, JUNK),
        "verification_uri_complete": JUNK,
        "expires_in": SECONDS,
        "interval": SECONDS,
        "error": st.one_of(st.sampled_from(["rate_limit_exceeded", "invalid_client"]), JUNK),
        "error_code": st.one_of(st.just("rate_limit_exceeded"), JUNK),
        "error_description": st.one_of(shaped_canary(), JUNK),
    }
    return draw(mutated(base, fields))


@SIZES
def test_f1_device_response(request: pytest.FixtureRequest, size: int) -> None:
    """``parse_device_response``, and ``request_device_code`` over a fake transport with raw bodies."""
    cases = st.one_of(st.tuples(st.just("doc"), device_docs()), raw_case(), doc_as_raw(device_docs()))

    def check(case: tuple[Any, ...]) -> str:
        if case[0] == "doc":
            doc, pristine = case[1]
            result, got = outcome(DeviceAuthorization, parse_device_response, doc, now=1000.0)
            if result == "rejected" and pristine:
                pytest.fail(f"a pristine device response was refused: {got}")
        else:
            transport = canned(case[1], case[2])
            args = (transport, GOOGLE, DEVICE_CLIENT, ["openid"])
            result, got = outcome(DeviceAuthorization, request_device_code, *args, clock=FakeClock())
        if result == "accepted":
            assert math.isfinite(got.expires_at()) and got.expires_in > 0 and got.interval > 0
            assert_no_canary(repr(got), "repr(DeviceAuthorization)")
        return result

    fuzz(request, "device response", size, cases, check)


# --- token response ------------------------------------------------------------------------------------


def _jwt(claims: Any) -> str:
    def part(value: Any) -> str:
        raw = value if isinstance(value, bytes) else json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.{_plant('FUZZ' + 'sig0123456789ab')}"


ID_TOKEN = st.one_of(
    st.builds(_jwt, st.fixed_dictionaries({"email": st.one_of(st.just("engineer@example.com"), JUNK)})),
    st.builds(_jwt, JUNK),
    st.builds(_jwt, RAW_BYTES),
    st.sampled_from(["a.b.c", "..", "x.\u00e9\u00e9.y", "eyJ.eyJ.", "a.!!!!.c"]),
    SECRET_CANARY,
    JUNK,
)


@st.composite
def token_docs(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    base = {
        "access_token": draw(shaped_canary("ya29.FUZZ")),
        "expires_in": draw(st.sampled_from([3599, 3920, "3599"])),
        "refresh_token": draw(shaped_canary("1//FUZZ")),
        "scope": "https://www.googleapis.com/auth/calendar.readonly",
        "token_type": draw(st.sampled_from(["Bearer", "bearer", "BEARER"])),
    }
    fields = {
        "access_token": st.one_of(SECRET_CANARY, JUNK),
        "refresh_token": st.one_of(SECRET_CANARY, JUNK),
        "id_token": ID_TOKEN,
        "expires_in": SECONDS,
        "refresh_token_expires_in": SECONDS,
        "scope": SCOPE,
        "token_type": st.one_of(st.sampled_from(["MAC", "Bearer ", "", "b\u0117arer"]), JUNK),
        "error": st.one_of(st.sampled_from(["invalid_grant", "invalid_client", "slow_down"]), shaped_canary(), JUNK),
        "error_description": st.one_of(shaped_canary(), JUNK),
    }
    return draw(mutated(base, fields))


PREVIOUS = Token(
    access_token="ya29.previous-access-token", expires_at=NOW - 10, scopes=("openid",),
    refresh_token="1//previous-refresh-token", refresh_token_expires_at=NOW + 100, account="engineer@example.com",
)  # fmt: skip


@SIZES
def test_f1_token_response(request: pytest.FixtureRequest, size: int) -> None:
    """``parse_token_response`` (with and without a previous token), and ``refresh`` over raw bodies."""
    cases = st.one_of(
        st.tuples(st.just("doc"), token_docs(), st.sampled_from([None, PREVIOUS]), st.sampled_from([NOW, 0.0, 1e18])),
        raw_case(),
        doc_as_raw(token_docs()),
    )

    def check(case: tuple[Any, ...]) -> str:
        if case[0] == "doc":
            (doc, pristine), previous, now = case[1], case[2], case[3]
            result, got = outcome(Token, parse_token_response, doc, now=now, previous=previous)
            if result == "rejected" and pristine:
                pytest.fail(f"a pristine token response was refused: {got}")
        else:
            transport = canned(case[1], case[2])
            args = (transport, GOOGLE, DEVICE_CLIENT, PREVIOUS)
            result, got = outcome(Token, refresh, *args, clock=FakeClock(), retry=NO_RETRY)
        if result == "accepted":
            assert math.isfinite(got.expires_at) and got.expires_in(NOW) >= 0
            got.is_expired(NOW)
            assert all(isinstance(s, str) for s in got.scopes) and len(got.token_id) == 12
            assert_no_canary(repr(got), "repr(Token)")
        return result

    fuzz(request, "token response", size, cases, check)


# --- authorized_user JSON (the stored token) -----------------------------------------------------------

EXPIRY = st.one_of(
    st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.123456Z", "2026-01-01T00:00:00",
                     "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-13-01T00:00:00Z", "2026-01-01 00:00:00",
                     "", "Z", "."]),
    JUNK,
)  # fmt: skip
AUTHORIZED_USER = {
    "type": "authorized_user",
    "client_id": CLIENT_ID,
    "client_secret": "GOCSPX-" + "K" * 28,
    "refresh_token": "1//FUZZrefreshtokenvalue",
    "token": "ya29.FUZZaccesstokenvalue",
    "token_uri": "https://oauth2.googleapis.com/token",
    "scopes": ["https://www.googleapis.com/auth/calendar.readonly"],
    "expiry": "2026-01-01T00:00:00Z",
    "account": "engineer@example.com",
    "gapps_runbook": {"issued_at": NOW, "issuer": "https://accounts.google.com", "refresh_token_expires_at": None},
}
NUMBER = st.one_of(SECONDS, st.floats(allow_nan=True, allow_infinity=True), st.integers(10**300, 10**400))


@st.composite
def authorized_user_docs(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    base = dict(AUTHORIZED_USER, token=draw(shaped_canary("ya29.FUZZ")), refresh_token=draw(shaped_canary("1//FUZZ")))
    times = {"issued_at": NUMBER, "refresh_token_expires_at": NUMBER}
    extra, extra_pristine = draw(mutated(base["gapps_runbook"], times))
    base["gapps_runbook"] = extra
    fields = {"token": st.one_of(SECRET_CANARY, JUNK), "refresh_token": st.one_of(SECRET_CANARY, JUNK),
              "expiry": EXPIRY, "scopes": SCOPE, "account": JUNK, "gapps_runbook": JUNK}  # fmt: skip
    doc, pristine = draw(mutated(base, fields))
    return doc, pristine and extra_pristine


@SIZES
def test_f1_authorized_user(request: pytest.FixtureRequest, size: int) -> None:
    """``token_from_authorized_user`` on mutated ``authorized_user`` objects (the store wraps its errors)."""

    def check(case: tuple[dict[str, Any], bool]) -> str:
        doc, pristine = case
        result, got = outcome(Token, token_from_authorized_user, doc, now=NOW)
        if result == "rejected" and pristine:
            pytest.fail(f"a pristine authorized_user object was refused: {got}")
        if result == "accepted":
            assert math.isfinite(got.expires_at) and got.expires_in(NOW) >= 0
            assert_no_canary(repr(got), "repr(Token)")
        return result

    fuzz(request, "authorized_user", size, authorized_user_docs(), check)


# --- tokeninfo and introspection -----------------------------------------------------------------------

TOKENINFO = {
    "azp": CLIENT_ID, "aud": CLIENT_ID, "sub": "110248495921238986420",
    "scope": "https://www.googleapis.com/auth/calendar.readonly openid", "exp": "1679875401", "expires_in": "3560",
    "email": "engineer@example.com", "email_verified": "true", "access_type": "offline",
}  # fmt: skip
TOKENINFO_DOCS = mutated(
    TOKENINFO,
    {"expires_in": SECONDS, "exp": SECONDS, "scope": SCOPE, "email": st.one_of(shaped_canary(), JUNK),
     "azp": JUNK, "aud": JUNK, "sub": JUNK,
     "error": st.one_of(st.sampled_from(["invalid_token", "invalid_request"]), shaped_canary(), JUNK),
     "error_description": st.one_of(st.just("Invalid Value"), shaped_canary(), JUNK)},
)  # fmt: skip
INTROSPECTION_DOCS = mutated(
    {"active": True, "scope": "openid email", "client_id": CLIENT_ID, "username": "engineer@example.com",
     "exp": 1_800_003_600, "sub": "110248495921238986420"},
    {"active": st.one_of(st.booleans(), JUNK), "exp": NUMBER, "aud": JUNK, "scope": SCOPE, "client_id": JUNK},
)  # fmt: skip
INSPECTED = Token(access_token="ya29.FUZZinspectedtoken00", expires_at=NOW + 3600, scopes=("openid",))


@SIZES
def test_f1_tokeninfo(request: pytest.FixtureRequest, size: int) -> None:
    """``parse_tokeninfo``, ``parse_introspection``, and ``inspect_token`` over raw bodies."""
    cases = st.one_of(
        st.tuples(st.just("tokeninfo"), TOKENINFO_DOCS),
        st.tuples(st.just("introspection"), INTROSPECTION_DOCS),
        raw_case(),
        doc_as_raw(TOKENINFO_DOCS),
    )

    def check(case: tuple[Any, ...]) -> str:
        if case[0] == "tokeninfo":
            doc, pristine = case[1]
            result, got = outcome(TokenInfo, parse_tokeninfo, doc)
        elif case[0] == "introspection":
            doc, pristine = case[1]
            result, got = outcome(TokenInfo, parse_introspection, doc, now=NOW)
        else:
            transport = canned(case[1], case[2])
            args = (transport, EMULATED, INSPECTED)
            result, got = outcome(TokenInfo, inspect_token, *args, clock=FakeClock(), retry=NO_RETRY)
            pristine = False
        if result == "rejected" and pristine:
            pytest.fail(f"a pristine {case[0]} answer was refused: {got}")
        if result == "accepted":
            assert got.expires_in is None or got.expires_in >= 0
        return result

    fuzz(request, "tokeninfo", size, cases, check)


# --- loopback callback URL -----------------------------------------------------------------------------

CALLBACK_KEYS = ("state", "code", "scope", "error", "error_description", "authuser", "prompt", "hd", "junk")


@st.composite
def callback_urls(draw: st.DrawFn, redirect_uri: str, state: str) -> tuple[str, dict[str, Any]]:
    """``(url, facts)``: a redirect as a browser would show it, or a mangled one."""
    port = urllib.parse.urlsplit(redirect_uri).port
    good = draw(st.integers(0, 2)) == 0  # the address a browser really shows, before the extra junk below
    base = redirect_uri if good else draw(st.one_of(
        st.just(redirect_uri),
        st.just(redirect_uri),
        st.just(redirect_uri[len("http://"):]),
        st.sampled_from([f"https://127.0.0.1:{port}/", f"http://localhost:{port}/", f"http://[::1]:{port}/",
                         f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/x", "http://127.0.0.1:1/",
                         f"http://127.0.0.1:{port}:{port}/", "http://127.0.0.1:abc/", "http://[/", "http://[::1/",
                         f" {redirect_uri} ", f"HTTP://127.0.0.1:{port}/", "", "?"]),
        st.text(max_size=30),
    ))  # fmt: skip
    pairs: list[tuple[str, str]] = []
    code = draw(st.one_of(SECRET_CANARY, st.just("")))
    if good or draw(st.integers(0, 3)):
        wrong = st.sampled_from([state, state[:-1], state + "x", "", state.upper()])
        pairs.append(("state", state if good else draw(wrong)))
    if good or draw(st.integers(0, 3)):
        pairs.append(("code", code))
    if not good and draw(st.integers(0, 3)) == 0:
        pairs.append(("error", draw(st.one_of(st.sampled_from(["access_denied", "invalid_scope", "server_error",
                                                                "org_internal"]), shaped_canary(), JUNK_TEXT))))
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(CALLBACK_KEYS))
        value = draw(st.one_of(st.just(state), SECRET_CANARY if key == "code" else shaped_canary(), JUNK_TEXT,
                               st.text(max_size=10)))
        pairs.append((key, value))
    pairs = draw(st.permutations(pairs))
    if draw(st.booleans()) and all(_encodable(value) for _, value in pairs):
        query = urllib.parse.urlencode(pairs)
    else:  # unencoded, as a hand-edited paste might be
        query = "&".join(f"{k}={v}" for k, v in pairs)
    tail = draw(st.sampled_from(["", "", "#", "#frag", "&", "&&", "%", "%zz", ";x=1"]))
    return base + ("?" if "?" not in base else "&") + query + tail, {"code": code}


@SIZES
def test_f1_loopback_callback(request: pytest.FixtureRequest, size: int) -> None:
    """``loopback.complete`` on pasted redirect URLs; the token endpoint is a recording fake transport.

    ``complete`` validates the URL (``_callback_params``: place, duplicates, ``state``), maps ``error=``
    and a missing ``code``, then posts the code exchange through the transport it is given. The fake
    answers that one request with a token, so no request leaves the process.
    """
    authorization = loopback.start(EMULATED, DESKTOP_CLIENT, ["openid"], port=54321)
    exchanged: list[str] = []

    def fake_token_endpoint(method: str, url: str, *, data: Any = None, **kwargs: Any) -> Response:
        assert (method, url) == ("POST", EMULATED.token_endpoint)
        exchanged.append(data["code"])
        body = {"access_token": "ya29.fake-exchanged-token", "expires_in": 3600, "token_type": "Bearer"}
        return Response(200, {}, json.dumps(body).encode())

    cases = st.one_of(
        callback_urls(authorization.redirect_uri, authorization.state).map(lambda c: ("url", *c)),
        st.tuples(st.just("text"), st.text(max_size=200), st.just({})),
    )

    def check(case: tuple[str, str, dict[str, Any]]) -> str:
        url = case[1]
        exchanged.clear()
        result, got = outcome(Token, loopback.complete, fake_token_endpoint, authorization, url, clock=FakeClock())
        if result == "accepted":
            text = url.strip()
            query = urllib.parse.parse_qs(
                urllib.parse.urlsplit(text if "://" in text else f"http://{text}").query, keep_blank_values=True
            )
            assert query.get("state") == [authorization.state], "accepted without this attempt's state"
            assert "error" not in query and exchanged and exchanged == query["code"]
        else:
            assert not exchanged
        return result

    fuzz(request, "loopback callback URL", size, cases, check)


# --- notebook parameters -------------------------------------------------------------------------------

PARAM_NAMES = st.one_of(
    st.sampled_from(["client_id", "client_secret", "client_secret_env", "client_secrets_file", "secret_file",
                     "refresh_token", "token_uri", "scopes", "store_path", "interactive", "endpoint", "api_key",
                     "code_verifier", "my-password", "x.token", "issuer"]),
    st.text(max_size=12),
    CONTROL,
)  # fmt: skip
PARAM_VALUES = st.recursive(
    st.one_of(JUNK_SCALAR, shaped_canary(), st.binary(max_size=20),
              st.sampled_from(["GAPPS_CLIENT_SECRET", "/tmp/client.json", "https://oauth2.googleapis.com/token",
                               "calendar", "Xq9vR2mT7kLp4WzN8bYc3HdF6jQs"])),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    | st.tuples(inner, inner),
    max_leaves=6,
)  # fmt: skip


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("utf-8", "replace")
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


@SIZES
def test_f1_notebook_parameters(request: pytest.FixtureRequest, size: int) -> None:
    """``params.check_parameters``: one-line InputError with no value echoed; a Google-shaped value is refused."""

    def check(params: dict[str, Any]) -> str:
        result, _ = outcome(type(None), check_parameters, params)
        if result == "accepted":
            for text in (s for value in params.values() for s in _strings(value)):
                assert text not in _planted, "a Google-shaped secret passed as a parameter"
        return result

    fuzz(request, "notebook parameters", size, st.dictionaries(PARAM_NAMES, PARAM_VALUES, max_size=4), check)


# --- the emulator's request handling -------------------------------------------------------------------

ROUTES = [
    "/.well-known/openid-configuration", "/device/code", "/token", "/tokeninfo", "/revoke", "/o/oauth2/v2/auth",
    "/device", "/calendar/v3/users/me/calendarList", "/calendar/v3/calendars/primary/events",
    "/gmail/v1/users/me/profile",
]  # fmt: skip
PATHS = st.one_of(
    st.sampled_from(ROUTES),
    st.sampled_from(ROUTES).map(lambda p: p + "/"),
    st.sampled_from(["//token", "/device/code/../token", "/token%00", "/calendar/v3/calendars/%ff/events",
                     "/gmail/v1/users/%2F%2E%2E/profile", "/o/oauth2/auth", "/", "/%", "/revoke;x=1"]),
    st.builds(lambda t: "/calendar/v3/calendars/" + urllib.parse.quote(t, safe="") + "/events", st.text(max_size=20)),
    st.builds(lambda t: "/gmail/v1/users/" + urllib.parse.quote(t, safe="") + "/profile", st.text(max_size=20)),
    st.text(max_size=20).map(lambda t: "/" + urllib.parse.quote(t)),
)  # fmt: skip
SECRET_KEYS = ("client_secret", "code", "code_verifier", "refresh_token", "device_code", "access_token", "token",
               "id_token", "token_handle")  # fmt: skip
PUBLIC_KEYS = ("client_id", "grant_type", "scope", "redirect_uri", "response_type", "state", "code_challenge",
               "code_challenge_method", "access_type", "login_hint", "prompt", "user_code", "action", "account",
               "consent_id", "token_type_hint", "junk", "")  # fmt: skip
GRANTS = ("urn:ietf:params:oauth:grant-type:device_code", "http://oauth.net/grant_type/device/1.0",
          "authorization_code", "refresh_token", "client_credentials", "")  # fmt: skip


def _emulator_value(key: str, live: dict[str, list[str]]) -> st.SearchStrategy[str]:
    """A value for ``key``: a live one of this emulator (ids, codes, tokens), a canary, or junk."""
    known = live.get(key, [])
    return st.one_of(st.sampled_from(known), _KEY_VALUES[key]) if known else _KEY_VALUES[key]


def _key_values(key: str) -> st.SearchStrategy[str]:
    """The values for ``key`` that do not depend on the emulator: a canary or the key's choices, then junk.

    Built once per key: strategies built inside each example (Hypothesis compiles a filter's lambda to
    describe it) would take most of the full run's time.
    """
    options = []
    if key in SECRET_KEYS:
        options.append(SECRET_CANARY)
    elif key == "grant_type":
        options.append(st.sampled_from(GRANTS))
    elif key == "action":
        options.append(st.sampled_from(["allow", "deny", "maybe"]))
    elif key == "redirect_uri":
        options.append(st.sampled_from(["http://127.0.0.1:54321/", "http://localhost", "http://[::1]:1/x",
                                        "https://evil.example/", "http://127.0.0.1:x/", "http://[/"]))
    elif key == "scope":
        options.append(st.sampled_from(["openid email", "https://www.googleapis.com/auth/calendar.readonly", "x"]))
    options.append(WIRE_TEXT)
    return st.one_of(options)


def _encodable(text: str) -> bool:
    """True unless ``text`` has a lone surrogate, which the test client cannot put on the wire."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


WIRE_TEXT = JUNK_TEXT.filter(lambda t: len(t) < 2000 and _encodable(t))
_KEY_VALUES = {key: _key_values(key) for key in SECRET_KEYS + PUBLIC_KEYS}


def _prepare(emulator: Emulator, client: Client, depth: int) -> dict[str, list[str]]:
    """Live values to mix into requests: client ids and secrets, and (by ``depth``) codes and tokens."""
    live: dict[str, list[str]] = {
        "client_id": [emulator.device_client.client_id, emulator.desktop_client.client_id],
        "client_secret": [emulator.device_client.client_secret, emulator.desktop_client.client_secret],
        "redirect_uri": ["http://127.0.0.1:54321/"],
    }
    if depth >= 1:
        form = {"client_id": emulator.device_client.client_id, "scope": "openid email"}
        body = client.post("/device/code", data=form).json
        live.update(device_code=[body["device_code"]], user_code=[body["user_code"]])
    if depth >= 2:
        emulator.approve(live["user_code"][0])
        tokens = client.post("/token", data={
            "client_id": emulator.device_client.client_id, "client_secret": emulator.device_client.client_secret,
            "device_code": live["device_code"][0], "grant_type": GRANTS[0]}).json  # fmt: skip
        live.update(access_token=[tokens["access_token"]], refresh_token=[tokens["refresh_token"]],
                    token=[tokens["access_token"], tokens["refresh_token"]])  # fmt: skip
    return live


@st.composite
def emulator_requests(draw: st.DrawFn) -> tuple[Emulator, Client, dict[str, Any], dict[str, list[str]]]:
    emulator = Emulator(clock=FakeClock(), auto_approve=draw(st.booleans()))
    client = Client(emulator.wsgi_app)
    live = _prepare(emulator, client, draw(st.integers(0, 2)))
    keys = st.sampled_from(SECRET_KEYS + PUBLIC_KEYS)
    pair = keys.flatmap(lambda k: st.tuples(st.just(k), _emulator_value(k, live)))
    query = draw(st.lists(pair, max_size=4))
    fields = draw(st.lists(pair, max_size=6))
    kind = draw(st.sampled_from(("none", "form", "form", "json", "json-junk", "raw")))
    options: dict[str, Any] = {"method": draw(st.sampled_from(["GET", "POST", "POST", "PUT", "DELETE", "HEAD",
                                                               "OPTIONS", "PATCH", "FOO"]))}  # fmt: skip
    options["path"] = draw(PATHS)
    options["query_string"] = urllib.parse.urlencode(query) if draw(st.booleans()) else "&".join(
        f"{urllib.parse.quote(k)}={urllib.parse.quote(v)}" for k, v in query)
    if kind == "form":
        options["data"] = urllib.parse.urlencode(fields).encode("utf-8")
        options["content_type"] = "application/x-www-form-urlencoded"
    elif kind == "json":
        body = dict(fields)
        for key in list(body)[: draw(st.integers(0, 2))]:
            body[key] = draw(JUNK)
        options["data"] = json_bytes(body)
        options["content_type"] = "application/json"
    elif kind == "json-junk":
        options["data"] = draw(RAW_BYTES)
        options["content_type"] = "application/json"
    elif kind == "raw":
        options["data"] = draw(st.one_of(RAW_BYTES, st.just(b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\n1")))
        options["content_type"] = draw(st.sampled_from([
            "application/x-www-form-urlencoded", "multipart/form-data; boundary=b", "multipart/form-data",
            "text/plain", "application/json; charset=latin-1", "application/x-www-form-urlencoded; charset=utf-16"]))
    headers: dict[str, str] = {}
    auth = draw(st.sampled_from(("none", "bearer-live", "bearer-canary", "basic-live", "basic-canary", "junk")))
    if auth == "bearer-live" and live.get("access_token"):
        headers["Authorization"] = "Bearer " + live["access_token"][0]
    elif auth == "bearer-canary":
        scheme = draw(st.sampled_from(["Bearer ", "bearer ", "BEARER  ", "Bearer\t"]))
        headers["Authorization"] = scheme + draw(SECRET_CANARY)
    elif auth.startswith("basic"):
        user = draw(st.sampled_from(live["client_id"] + ["", ":"]))
        secret = live["client_secret"][0] if auth == "basic-live" else draw(SECRET_CANARY)
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()
    elif auth == "junk":
        junk = ["Basic", "Basic !!!", "Basic //79", "Digest x", "Bearer", "\u00e9\u00e9", "Basic Og=="]
        headers["Authorization"] = draw(st.sampled_from(junk))
    options["headers"] = headers
    return emulator, client, options, live


@SIZES
def test_f1_emulator_requests(request: pytest.FixtureRequest, size: int) -> None:
    """The emulator's WSGI app: random methods, real routes, form/JSON/raw bodies, headers; never a 5xx."""

    def check(case: tuple[Emulator, Client, dict[str, Any], dict[str, list[str]]]) -> str:
        _, client, options, live = case
        issued = {v for values in live.values() for v in values}
        response = client.open(**options)
        body = response.get_data(as_text=True)
        assert response.status_code < 500, f"HTTP {response.status_code} for {options['method']} {options['path']}"
        assert "Traceback" not in body
        for canary in _planted:
            if canary not in issued:
                assert canary not in body and canary not in str(response.headers), f"request canary {canary!r} echoed"
        return "accepted" if response.status_code < 400 else "rejected"

    fuzz(request, "emulator requests", size, emulator_requests(), check)


# --- the harness itself --------------------------------------------------------------------------------


def test_the_invariant_catches_leaks_lines_and_foreign_exceptions() -> None:
    """A control: the checks above can fail (a lower-cased canary, a second line, a ValueError)."""
    from gapps_runbook.errors import ProtocolError

    def leak() -> None:
        raise ProtocolError("the host gocspx-fuzzabcdefghijklmn answered")  # lower case: redaction misses it

    def two_lines() -> None:
        raise ProtocolError("bad", fix="first line\nsecond line")

    def foreign() -> None:
        int("\u00b2")

    _planted[:] = ["GOCSPX-FUZZabcdefghijklmn"]
    try:
        with pytest.raises(AssertionError, match="canary"):
            outcome(object, leak)
        with pytest.raises(AssertionError, match="multi-line"):
            outcome(object, two_lines)
        with pytest.raises(ValueError):
            outcome(object, foreign)
    finally:
        _planted.clear()
