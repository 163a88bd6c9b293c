"""Refuse notebook parameters that carry secrets, before any kernel starts or request is sent.

papermill pastes every parameter into the saved notebook twice: as a code cell tagged
``injected-parameters`` and as ``metadata.papermill.parameters`` (papermill 2.7
``parameterize_notebook``); the command line that passed it may also sit in shell history.
The maintainers' advice (papermill #271, #416) is to pass references and read the secret inside
the kernel. :func:`parameter_problem` finds what breaks that (target L3 in ``docs/reliability.md``;
``runs.parameters.check_parameters`` raises it as an ``InputError``):

* a value shaped like a Google secret (``GOCSPX-``, ``ya29.``, ``1//``, ``4/`` codes), a JWT or a
  PEM private key is refused whatever its name;
* a long random-looking word is refused: more than 24 characters, over 3.5 bits/char of Shannon
  entropy, at least two of upper/lower/digit, and not built from words (camelCase, snake-case);
* a parameter whose *name* says secret/token/password/code_verifier is refused with any non-empty
  string value, unless the name is a reference (ends in ``_env`` or ``_file``, or is listed in
  ``allowed_secret_refs``); a reference's value must look like an environment variable name
  (``*_env``) or a path (any other reference).  ``*_uri``/``*_url`` names holding a URL
  (``token_uri``) are endpoints, not secrets.

Values are never echoed: the problem names the parameter and the reason; :data:`HOW_TO_PASS` says how to pass a
reference.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Mapping

from .redact import SECRET_SHAPES  # one definition; leakscan imports it from here too

DEFAULT_SECRET_REFS: tuple[str, ...] = ("client_secrets_file", "client_secret_env", "secret_file")
HOW_TO_PASS = (
    "pass a reference instead, e.g. -p client_secret_env GAPPS_CLIENT_SECRET "
    "or -p client_secrets_file /path/client.json"
)

SECRET_NAME = re.compile(
    r"(?i)(?:^|[_.])(?:client_?secrets?|secrets?|tokens?|passwords?|passwd|passphrase|pwd|"
    r"code_verifier|verifier|device_code|auth_code|authorization_code|api_?key|private_key)(?:$|[_.])"
)
"""Names that say their value is a secret."""

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_URL = re.compile(r"[a-z][a-z0-9+.\-]*://\S+", re.IGNORECASE)
_GOOGLE_CLIENT_ID = re.compile(r"\d{5,}-[a-z0-9]{16,64}(?:\.apps\.googleusercontent\.com)?")
_WORD_SPLIT = re.compile(r"[\s/\\?&=#:@,;.()\[\]{}<>'\"|!*$]+")
_SUBWORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
_BASE64_WORD = re.compile(r"[A-Za-z0-9+/]+={0,2}")
MIN_RANDOM_LENGTH = 25
MIN_ENTROPY = 3.5
MIN_WORD_LENGTH = 4.0  # mean subword length above which a string reads as words, not noise
WORDS_MAX_ENTROPY = 4.4  # camelCase prose stays near 4.2; random base64url of 25+ characters sits near 4.5


def parameter_problem(
    params: Mapping[str, object], *, allowed_secret_refs: tuple[str, ...] | frozenset[str] = DEFAULT_SECRET_REFS
) -> str | None:
    """The first parameter that carries a secret rather than a reference to one, as one line.

    Args:
        params: The papermill parameters, name to value (nested lists and dicts are walked).
        allowed_secret_refs: Extra parameter names whose values are references to a secret.

    Returns:
        ``None`` when every parameter is fine, else one line naming the first offending parameter and why
        (never its value); :data:`HOW_TO_PASS` is the fix.
    """
    for name, value in params.items():
        reason = _check_one(str(name), value, frozenset(allowed_secret_refs))
        if reason:
            return f"parameter {name!r} {reason}; secrets must not be notebook parameters"
    return None


def secret_reason(value: str) -> str | None:
    """Why ``value`` looks like a secret (``None`` if it does not); never includes the value."""
    for shape, pattern in SECRET_SHAPES.items():
        if pattern.search(value):
            return f"looks like a secret (a {shape} value)"
    if _has_random_word(value):
        return "looks like a secret (a long high-entropy string)"
    return None


def is_secret_name(name: str) -> bool:
    """True if a parameter or variable name says it holds a secret (``client_secret``, ``refresh_token``)."""
    return bool(SECRET_NAME.search(name.replace("-", "_")))


def shannon_entropy(text: str) -> float:
    """Shannon entropy of ``text`` in bits per character."""
    if not text:
        return 0.0
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _check_one(name: str, value: object, refs: frozenset[str]) -> str | None:
    for where, text in _strings(name, value):
        if _is_reference(name, refs):
            reason = _reference_reason(name, text)
        elif text and is_secret_name(name) and not _is_endpoint(name, text):
            reason = "has a literal value but its name says it is a secret"
        else:
            reason = secret_reason(text)
        if reason:
            return reason if where == name else f"({where}) {reason}"
    return None


def _strings(where: str, value: object) -> Iterator[tuple[str, str]]:
    if isinstance(value, (str, bytes)):
        yield where, value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield where, str(value)  # `-p db_password 12345678` arrives as an int: a literal all the same
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(f"{where}[{key!r}]", item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for index, item in enumerate(value):
            yield from _strings(f"{where}[{index}]", item)


def _is_reference(name: str, refs: frozenset[str]) -> bool:
    return name in refs or name.endswith(("_env", "_file"))


def _reference_reason(name: str, text: str) -> str | None:
    if not text:
        return None
    if name.endswith("_env"):
        if not _ENV_NAME.fullmatch(text) or secret_reason(text):
            return "must name an environment variable (like GAPPS_CLIENT_SECRET), not hold the secret"
        return None
    if any(ch in text for ch in "\r\n\0") or secret_reason(text):
        return "must be a path to a file holding the secret, not the secret"
    return None


def _is_endpoint(name: str, text: str) -> bool:
    return name.endswith(("_uri", "_url", "_endpoint")) and bool(_URL.fullmatch(text)) and not secret_reason(text)


def _has_random_word(value: str) -> bool:
    value = _GOOGLE_CLIENT_ID.sub("client-id", value)
    words = set(_WORD_SPLIT.split(value))
    if _is_path(value):  # temp folders (gapps-runbook-home-6y1gv39n): judge the parts between - and _
        words = {part for word in words for part in re.split(r"[-_]+", word)}
    # Standard base64 contains "/" and "+", which the split above treats as separators.
    words.update(word for word in value.split() if _BASE64_WORD.fullmatch(word))
    return any(_looks_random(word) for word in words)


def _is_path(value: str) -> bool:
    """An absolute or home-relative filesystem path (a reference to where something is, not a value)."""
    return value.startswith(("/", "~/", "./")) or bool(re.match(r"^[A-Za-z]:[\\/]", value))


def _looks_random(word: str) -> bool:
    entropy = shannon_entropy(word)
    if len(word) < MIN_RANDOM_LENGTH or entropy <= MIN_ENTROPY:
        return False
    classes = sum(bool(re.search(p, word)) for p in ("[a-z]", "[A-Z]", "[0-9]"))
    if classes < 2:
        return False
    words = _SUBWORD.findall(word)  # letter runs split at camelCase humps; digits and "-_" separate
    wordy = bool(words) and sum(map(len, words)) / len(words) >= MIN_WORD_LENGTH
    return not wordy or entropy > WORDS_MAX_ENTROPY
