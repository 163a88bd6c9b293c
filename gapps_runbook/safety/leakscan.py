"""The leak-canary scanner: the real guarantee that no secret reaches a saved artifact.

Raw-byte scanners miss secrets inside notebooks: JSON escapes a quote or backslash in a code cell
(detect-secrets #781, gitleaks #2055), JSON may write ``/`` as ``\\/`` or any character as
``\\uXXXX``, and images and attachments are base64.  So every file is
scanned twice:

1. its raw bytes, for each canary raw, JSON- and Python-escaped, URL-encoded (``quote`` and ``quote_plus``),
   HTML-escaped and base64-encoded (all three alignments inside a longer base64 run, standard and
   URL-safe alphabets);
2. for ``.ipynb``/``.json`` files, every string of the parsed JSON (sources, outputs, all metadata,
   widget state), the same way, plus the base64-decoded bytes of base64 strings (attachments).

Google's secret shapes (``GOCSPX-``, ``ya29.``, ``1//``, ``4/`` and JWTs) are reported as a separate
``shape`` kind, for secrets no canary covers; a notebook that still has an ``injected-parameters``
cell, ``metadata.papermill.parameters`` or ``metadata.widgets`` is reported as kind ``structure``
(papermill's parameters and nbclient's widget state), whatever the values.  A :class:`Finding` names a canary by its
:func:`redact.fingerprint`, never by its value.  Run as ``python -m gapps_runbook.safety.leakscan``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import html
import json
import os
import re
import sys
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .redact import SECRET_SHAPES
from .redact import fingerprint

_JSON_SUFFIXES = (".ipynb", ".json")
_BASE64_STRING = re.compile(r"[A-Za-z0-9+/_\-\s]{16,}={0,2}\s*")
_MIN_BASE64_MIDDLE = 8


@dataclass(frozen=True)
class Finding:
    """One place where a canary or a secret shape was found.

    Attributes:
        path: The file (or the ``name`` given to :func:`scan_text`).
        where: ``byte <offset>`` in the raw file, or the JSON path of the string (``cells[3].outputs[0].text``).
        form: How it was encoded: ``raw``, ``json``, ``repr``, ``url``, ``url_plus``, ``html``, ``base64``,
            ``base64-decoded``, ``shape:<name>``, or for structure findings ``injected-parameters``,
            ``papermill-parameters`` or ``widget-state``.
        fingerprint: :func:`redact.fingerprint` of the canary or matched value, never the value.
        kind: ``canary``, ``shape`` or ``structure``.
    """

    path: str
    where: str
    form: str
    fingerprint: str
    kind: Literal["canary", "shape", "structure"] = "canary"


def scan_paths(paths_or_dirs: Iterable[Path | str], canaries: Iterable[str]) -> list[Finding]:
    """Scan every file under the given files and folders (recursively, not following links).

    Args:
        paths_or_dirs: Files and folders to scan; a missing path is skipped.
        canaries: The planted secret values to look for.

    Returns:
        Every finding, in file order.
    """
    canaries = [c for c in canaries if c]
    findings: list[Finding] = []
    for path in _files(paths_or_dirs):
        findings.extend(scan_bytes(str(path), path.read_bytes(), canaries, json_file=path.suffix in _JSON_SUFFIXES))
    return findings


def scan_text(name: str, text: str | bytes, canaries: Iterable[str]) -> list[Finding]:
    """Scan one text (captured stdout, a log, a notebook's JSON) as if it were a file named ``name``."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return scan_bytes(name, data, list(canaries), json_file=name.endswith(_JSON_SUFFIXES))


def scan_bytes(name: str, data: bytes, canaries: Sequence[str], *, json_file: bool) -> list[Finding]:
    """Scan raw bytes, then (for JSON files) each parsed string; see the module docstring."""
    findings = list(_scan_raw(name, data, canaries))
    if json_file:
        try:
            document = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return findings
        for where, value in _strings(document, ""):
            findings.extend(_scan_string(name, where or "$", value, canaries))
        findings.extend(_scan_structure(name, document))
    return findings


def format_findings(findings: Sequence[Finding]) -> str:
    """One line per finding plus a summary line, safe to print (no secret values)."""
    lines = [f"{f.path}: {f.where}: {f.kind} {f.form}" + (f" (fingerprint {f.fingerprint})" if f.fingerprint else "")
             for f in findings]
    files = len({f.path for f in findings})
    lines.append(f"leakscan: {len(findings)} finding(s) in {files} file(s)" if findings else "leakscan: no findings")
    return "\n".join(lines)


def base64_middles(canary: str) -> set[str]:
    """The parts of the canary's base64 encoding that do not depend on neighbouring bytes.

    A canary inside a longer payload starts at byte offset 0, 1 or 2 modulo 3; each alignment is
    encoded with that many prefix bytes and the groups touched by the prefix or the unknown tail are
    dropped.  Both the standard and the URL-safe alphabet are returned.
    """
    raw = canary.encode("utf-8")
    middles: set[str] = set()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode("ascii")
        start = 4 if shift else 0
        end = ((shift + len(raw)) // 3) * 4
        middle = encoded[start:end]
        if len(middle) >= _MIN_BASE64_MIDDLE:
            middles.update({middle, middle.replace("+", "-").replace("/", "_")})
    return middles


def _files(paths_or_dirs: Iterable[Path | str]) -> Iterator[Path]:
    for entry in map(Path, paths_or_dirs):
        if entry.is_file() and not entry.is_symlink():
            yield entry
        elif entry.is_dir() and not entry.is_symlink():
            for root, dirs, names in os.walk(entry):
                dirs.sort()
                for file_name in sorted(names):
                    path = Path(root, file_name)
                    if path.is_file() and not path.is_symlink():
                        yield path


def _canary_forms(canary: str) -> Iterator[tuple[str, str]]:
    named = {
        "raw": canary,
        "json": json.dumps(canary)[1:-1],
        "repr": repr(canary)[1:-1],
        "url": urllib.parse.quote(canary, safe=""),
        "url_plus": urllib.parse.quote_plus(canary),
        "html": html.escape(canary),
    }
    seen: set[str] = set()
    for form, text in named.items():
        if text not in seen:
            seen.add(text)
            yield form, text
    for middle in sorted(base64_middles(canary)):
        yield "base64", middle


def _scan_raw(name: str, data: bytes, canaries: Sequence[str]) -> Iterator[Finding]:
    for canary in canaries:
        for form, text in _canary_forms(canary):
            offset = data.find(text.encode("utf-8"))
            if offset >= 0:
                yield Finding(name, f"byte {offset}", form, fingerprint(canary))
    text = data.decode("utf-8", "replace")
    for shape, pattern in SECRET_SHAPES.items():
        for match in pattern.finditer(text):
            yield Finding(name, f"char {match.start()}", f"shape:{shape}", fingerprint(match.group()), "shape")


def _is_binary_payload(where: str) -> bool:
    mime = where.rsplit(".", 1)[-1]
    return (mime.startswith("image/") and not mime.endswith("+xml")) or mime == "application/pdf"


def _scan_string(name: str, where: str, value: str, canaries: Sequence[str]) -> Iterator[Finding]:
    is_base64 = bool(_BASE64_STRING.fullmatch(value))
    compact = "".join(value.split()) if is_base64 else value
    for canary in canaries:
        for form, text in _canary_forms(canary):
            if text in value or (form == "base64" and text in compact):
                yield Finding(name, where, form, fingerprint(canary))
                break
    if not _is_binary_payload(where):  # base64 line breaks would put "4/" or "1//" after a newline
        for shape, pattern in SECRET_SHAPES.items():
            for match in pattern.finditer(value):
                yield Finding(name, where, f"shape:{shape}", fingerprint(match.group()), "shape")
    decoded = _b64decode(compact) if is_base64 else None
    if decoded is not None:
        for canary in canaries:
            if canary.encode("utf-8") in decoded:
                yield Finding(name, where, "base64-decoded", fingerprint(canary))


def _scan_structure(name: str, document: Any) -> Iterator[Finding]:
    """What papermill and nbclient add to a notebook and the scrubber must have removed."""
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        return
    for index, cell in enumerate(document["cells"]):
        if isinstance(cell, dict) and "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            yield Finding(name, f"cells[{index}]", "injected-parameters", "", "structure")
    metadata = document.get("metadata", {})
    if isinstance(metadata.get("papermill"), dict) and "parameters" in metadata["papermill"]:
        yield Finding(name, "metadata.papermill.parameters", "papermill-parameters", "", "structure")
    if "widgets" in metadata:
        yield Finding(name, "metadata.widgets", "widget-state", "", "structure")


def _b64decode(text: str) -> bytes | None:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_" if "-" in text or "_" in text else None)
    except (binascii.Error, ValueError):
        return None


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield path, str(key)
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gapps_runbook.safety.leakscan PATH... --canaries-file FILE``: exit 1 on any finding."""
    parser = argparse.ArgumentParser(prog="python -m gapps_runbook.safety.leakscan",
                                     description="Scan files for leaked canaries.")
    parser.add_argument("paths", nargs="+", type=Path, help="files and folders to scan")
    parser.add_argument("--canaries-file", type=Path, help="one canary per line")
    parser.add_argument("--canary-env", action="append", default=[], help="an environment variable holding a canary")
    args = parser.parse_args(argv)
    canaries = [os.environ[name] for name in args.canary_env if os.environ.get(name)]
    if args.canaries_file:
        lines = args.canaries_file.read_text(encoding="utf-8").splitlines()
        canaries += [line.strip() for line in lines if line.strip()]
    findings = scan_paths(args.paths, canaries)
    print(format_findings(findings))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
