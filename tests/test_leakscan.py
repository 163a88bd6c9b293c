"""The canary scanner finds secrets that raw-byte scanners miss, and never prints them (design 6)."""

from __future__ import annotations

import base64
import html
import json
import random
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from gapps_runbook.safety.leakscan import Finding, base64_middles, format_findings, main, scan_paths, scan_text
from gapps_runbook.safety.redact import fingerprint

CANARY = "ya29-CANARY-" + "9c1f" * 6  # not Google-shaped: only the canary search can find it


def naive_scan(data: bytes, canary: str) -> bool:
    """What a raw-bytes scanner does (detect-secrets #781, gitleaks #2055)."""
    return canary.encode() in data


def notebook_bytes(source: str = "", outputs: list | None = None) -> bytes:
    nb = new_notebook(cells=[new_code_cell(source, outputs=outputs or [])])
    return nbformat.writes(nb).encode()


def test_regression_json_escaped_secret_in_code_cell() -> None:
    canary = 'pa"ss-word-' + "7e2d" * 5  # JSON writes the quote as \"
    data = notebook_bytes(f"client_secret = '{canary}'")
    assert not naive_scan(data, canary)
    found = {(f.where, f.form) for f in scan_text("nb.ipynb", data, [canary])}
    assert ("cells[0].source[0]", "raw") in found  # nbformat stores sources as lists of lines
    assert any(form == "json" and where.startswith("byte") for where, form in found)


def test_regression_backslash_secret_in_output_and_source() -> None:
    canary = "pass\\word-" + "7e2d" * 5  # JSON writes the backslash as \\; Python source as \\ too
    data = notebook_bytes(f"s = {canary!r}", outputs=[new_output("stream", text=canary + "\n")])
    assert not naive_scan(data, canary)
    found = {(f.where, f.form) for f in scan_text("nb.ipynb", data, [canary])}
    assert {("cells[0].outputs[0].text[0]", "raw"), ("cells[0].source[0]", "json")} <= found  # repr == json form here


@pytest.mark.parametrize("escape", [lambda s: s.replace("/", "\\/"), lambda s: s.replace("-", "\\u002d")])
def test_regression_alternative_json_escapes(escape: Callable[[str], str]) -> None:
    canary = "1//CANARY-" + "ab12" * 6
    text = '{"cells": [{"source": "token = \'' + escape(canary) + '\'"}]}'
    assert not naive_scan(text.encode(), canary)
    assert ("cells[0].source", "raw") in {(f.where, f.form) for f in scan_text("x.json", text, [canary])}


@pytest.mark.parametrize("prefix", [b"", b"a", b"ab", b"abc"])
def test_regression_base64_embedded_secret(prefix: bytes) -> None:
    payload = base64.b64encode(prefix + b"\x89PNG" + CANARY.encode() + b"\0\1\2").decode()
    data = notebook_bytes(outputs=[new_output("display_data", data={"image/png": payload})])
    assert not naive_scan(data, CANARY)
    forms = {f.form for f in scan_text("nb.ipynb", data, [CANARY])}
    assert {"base64", "base64-decoded"} <= forms


def test_base64_with_line_breaks_and_urlsafe_alphabet() -> None:
    raw = b"\xfb\xff" + CANARY.encode() + b"\xfe" * 9
    wrapped = "\n".join(base64.b64encode(raw).decode()[i : i + 12] for i in range(0, 80, 12))
    assert any(f.form == "base64" for f in scan_text("x.json", json.dumps({"data": wrapped}), [CANARY]))
    urlsafe = base64.urlsafe_b64encode(raw).decode()
    assert scan_text("log.txt", f"blob={urlsafe}", [CANARY])


def test_base64_middles_cover_every_alignment() -> None:
    middles = base64_middles(CANARY)
    for shift in range(3):
        encoded = base64.b64encode(b"Z" * shift + CANARY.encode() + b"tail").decode()
        assert any(m in encoded for m in middles)


@pytest.mark.parametrize(
    ("text", "form"),
    [
        (f"x={urllib.parse.quote('a b/' + CANARY, safe='')}", "url"),
        (f"x={urllib.parse.quote_plus('a b/' + CANARY)}", "url_plus"),
        (f"<p>{html.escape('<a>' + CANARY)}</p>", "raw"),
    ],
)
def test_url_and_html_forms(text: str, form: str) -> None:
    found = scan_text("page.html", text, ["a b/" + CANARY if "url" in form else CANARY])
    assert form in {f.form for f in found}


def test_html_escaped_canary() -> None:
    canary = "<&>" + CANARY
    assert "html" in {f.form for f in scan_text("r.html", html.escape(canary), [canary])}


def test_shapes_are_reported_separately() -> None:
    found = scan_text("log.txt", "got ya29.a0AfH6SMBexampletoken1234 and GOCSPX-abcdefghijklmnop", [])
    assert {f.form for f in found} == {"shape:ya29", "shape:GOCSPX"}
    assert all(f.kind == "shape" for f in found)


def test_no_false_shapes_in_base64_images() -> None:
    rng = random.Random(7)
    blob = base64.b64encode(rng.randbytes(200_000)).decode()
    lines = [blob[i : i + 76] + "\n" for i in range(0, len(blob), 76)]
    data = notebook_bytes(outputs=[new_output("display_data", data={"image/png": "".join(lines)})])
    assert scan_text("nb.ipynb", data, []) == []


def test_findings_never_contain_the_canary(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "run.log").write_text(f"oops {CANARY}\n")
    (tmp_path / "clean.txt").write_text("nothing here\n")
    found = scan_paths([tmp_path, tmp_path / "missing"], [CANARY])
    assert found == [Finding(str(tmp_path / "sub" / "run.log"), "byte 5", "raw", fingerprint(CANARY))]
    report = format_findings(found)
    assert CANARY not in report and CANARY not in repr(found)
    assert report.endswith("leakscan: 1 finding(s) in 1 file(s)")
    assert format_findings([]) == "leakscan: no findings"


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.txt").write_text(CANARY)
    canaries = tmp_path / "canaries"
    canaries.write_text(CANARY + "\n")
    assert main([str(tmp_path / "a.txt"), "--canaries-file", str(canaries)]) == 1
    monkeypatch.setenv("LEAK_CANARY", "something-else-entirely")
    assert main([str(tmp_path / "a.txt"), "--canary-env", "LEAK_CANARY"]) == 0
    assert CANARY not in capsys.readouterr().out
