"""Code cites public sources: no issue numbers, no paths outside the repository, no private notes.

Docstrings and comments name RFC sections, Google's documentation URLs and this repository's docs
(``docs/reliability.md`` targets). A citation a reader cannot open (``../shared/...``, "reference §7",
``security.md``) or project history ("issue 9") fails here with its file and line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Shipped code and the development tools beside it. docs/ is prose and is reviewed by hand.
SCANNED = ("gapps_runbook", "tools")
SUFFIXES = (".py", ".html", ".ipynb")

FORBIDDEN = {
    "an issue number": re.compile(r"\bissues? #?[0-9]", re.IGNORECASE),
    "a path outside the repository": re.compile(r"\.\./shared|\bshared/reference\b"),
    "a private reference note": re.compile(
        r"\breference\s*§|\bsecurity reference\b|\bsecurity\.md\b|\bgoogle-oauth\.md\b", re.IGNORECASE
    ),
}


def findings(text: str) -> list[tuple[int, str, str]]:
    """``(line number, what, line)`` for each forbidden citation in ``text``."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for what, pattern in FORBIDDEN.items():
            if pattern.search(line):
                found.append((number, what, line.strip()))
    return found


def scanned_files() -> list[Path]:
    files = [path for top in SCANNED for path in sorted((ROOT / top).rglob("*")) if path.suffix in SUFFIXES]
    assert len(files) > 100, "the scan found too few files: wrong root?"
    return files


def test_code_cites_only_public_sources() -> None:
    problems = [
        f"{path.relative_to(ROOT)}:{number}: {what}: {line}"
        for path in scanned_files()
        for number, what, line in findings(path.read_text(encoding="utf-8"))
    ]
    assert not problems, "cite the public source (RFC section, Google's doc URL) instead:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "line",
    [
        "# see issue 17 for why",
        "Issue #9's alternative",
        "(reference §7)",
        "Google's dialect (reference §1-2):",
        "(security reference §6 \"Import validates\")",
        "per security.md §3 design 6",
        "from ``shared/reference/google-oauth.md``",
        "Read `../shared/STYLE.md` first",
    ],
)
def test_each_forbidden_form_is_caught(line: str) -> None:
    assert findings(f'"""Docstring.\n\n{line}\n"""') != []


@pytest.mark.parametrize(
    "line",
    [
        "(RFC 8628 §3.5): never earlier than the interval",
        "https://developers.google.com/identity/protocols/oauth2/limited-input-device#tokenrevoke",
        "(googleapis/oauth2client#750)",
        "target L3 in ``docs/reliability.md``",
        "(detect-secrets #781, gitleaks #2055)",
        "a reference's value must look like an environment variable name",
    ],
)
def test_public_citations_pass(line: str) -> None:
    assert findings(line) == []
