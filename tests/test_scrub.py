"""scrub_notebook: what papermill and nbclient write is removed or redacted (design 4)."""

from __future__ import annotations

import base64
import copy
import html
import json
import urllib.parse

import nbformat
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from gapps_runbook.safety.leakscan import scan_text
from gapps_runbook.safety.redact import MASK
from gapps_runbook.safety.scrub import (
    BINARY_PLACEHOLDER,
    TRANSIENT_PLACEHOLDER,
    scrub_notebook,
    scrub_text,
)

CANARY = 'Canary &<tag> "q"/7f3e9a1c5b2d4e6f'  # not Google-shaped: only exact replacement removes it
USER_CODE = "WXQZ-KRTV"



def papermill_like(secret: str = CANARY) -> nbformat.NotebookNode:
    """A notebook shaped like papermill 2.7 + nbclient output, with the secret in every corner."""
    params = new_code_cell("profile = 'default'")
    params.metadata["tags"] = ["parameters"]
    injected = new_code_cell(f"# Parameters\nclient_secret = {json.dumps(secret)}\n")
    injected.metadata["tags"] = ["injected-parameters"]
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + secret.encode() + b"\0" * 5).decode()
    blob = base64.b64encode(b"xy" + secret.encode()).decode()
    work = new_code_cell(
        "print(secret)",
        outputs=[
            new_output("stream", name="stdout", text=f"{secret}\n{urllib.parse.quote(secret, safe='')}\n"),
            new_output("stream", name="stderr", text=f"{urllib.parse.quote_plus(secret)} {repr(secret)} {blob}\n"),
            new_output(
                "display_data",
                data={
                    "text/html": f'<img alt="{html.escape(secret)}" src="x.png"><code>{secret}</code>',
                    "application/json": {"installed": {"client_secret": secret}},
                    "text/plain": json.dumps({"client_secret": secret}),
                    "image/png": png,
                },
                metadata={"note": secret},
            ),
            new_output("display_data", data={"text/plain": f"enter {USER_CODE}"}, metadata={"gapps_runbook": {"transient": True}}),
            new_output("error", ename="ValueError", evalue=f"bad {secret}", traceback=[f"ValueError: bad {secret}"]),
        ],
        execution_count=3,
    )
    work.metadata["note"] = secret
    shapes = new_code_cell("x = 1", outputs=[new_output("stream", text="token ya29.a0AfH6SMBexampletoken1234\n")])
    md = new_markdown_cell("![shot](attachment:shot.png)")
    md["attachments"] = {"shot.png": {"image/png": png}}
    nb = new_notebook(cells=[params, injected, work, shapes, md])
    nb.metadata["papermill"] = {"parameters": {"client_secret": secret}, "default_parameters": {}, "version": "2.7.0"}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"m1": {"state": {"value": secret}}}}}
    return nb


def findings(nb: nbformat.NotebookNode, canary: str = CANARY) -> list:
    return scan_text("out.ipynb", nbformat.writes(nb), [canary, USER_CODE])


def test_fixture_leaks_before_scrubbing() -> None:
    forms = {f.form for f in findings(papermill_like())}
    assert {"raw", "json", "url", "url_plus", "html", "base64", "base64-decoded", "shape:ya29"} <= forms
    assert {"injected-parameters", "papermill-parameters", "widget-state"} <= forms


def test_scrubbed_copy_has_no_findings() -> None:
    assert findings(scrub_notebook(papermill_like(), secrets=[CANARY])) == []


def test_structure_after_scrubbing() -> None:
    nb = scrub_notebook(papermill_like(), secrets=[CANARY])
    assert "widgets" not in nb.metadata
    assert "parameters" not in nb.metadata.papermill and "default_parameters" not in nb.metadata.papermill
    assert nb.metadata.gapps_runbook.parameter_names == ["client_secret"]
    assert nb.metadata.papermill.version == "2.7.0"
    assert [c.metadata.get("tags") for c in nb.cells if c.metadata.get("tags")] == [["parameters"]]
    outputs = nb.cells[1].outputs
    assert outputs[3].data == {"text/plain": TRANSIENT_PLACEHOLDER}
    assert outputs[2].data["text/plain"] == json.dumps({"client_secret": MASK}) + "\n" + BINARY_PLACEHOLDER
    assert outputs[2].data["application/json"] == {"installed": {"client_secret": MASK}}
    assert "image/png" not in outputs[2].data and "image/png" not in nb.cells[3].attachments["shot.png"]
    assert outputs[4].evalue == f"bad {MASK}"
    assert "ya29." not in outputs[2].data["text/html"] + nb.cells[2].outputs[0].text
    nbformat.validate(nb)


def test_scrub_is_pure_and_idempotent() -> None:
    original = papermill_like()
    before = copy.deepcopy(original)
    once = scrub_notebook(original, secrets=[CANARY])
    assert original == before
    assert scrub_notebook(once, secrets=[CANARY]) == once


def test_clean_images_survive() -> None:
    png = base64.b64encode(bytes(range(256)) * 4).decode()
    nb = new_notebook(cells=[new_code_cell("x", outputs=[new_output("display_data", data={"image/png": png})])])
    assert scrub_notebook(nb).cells[0].outputs[0].data["image/png"] == png


def test_scrub_without_secrets_still_applies_patterns() -> None:
    nb = scrub_notebook(papermill_like("GOCSPX-CANARY0123456789abcdefgh"))
    assert findings(nb, "GOCSPX-CANARY0123456789abcdefgh") == []


def test_scrub_text_forms() -> None:
    for form in (CANARY, urllib.parse.quote(CANARY, safe=""), json.dumps(CANARY)[1:-1], html.escape(CANARY)):
        assert scrub_text(f"a {form} b", secrets=[CANARY]) == f"a {MASK} b"


SKELETON = nbformat.writes(scrub_notebook(papermill_like("\x01" * 12)))  # the text any scrubbed copy contains


@settings(max_examples=100, deadline=None)
@given(secret=st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), min_size=8, max_size=40))
def test_any_secret_is_removed(secret: str) -> None:
    assume(secret.strip() == secret and secret not in SKELETON and MASK not in secret)
    nb = scrub_notebook(papermill_like(secret), secrets=[secret])
    assert [f for f in scan_text("out.ipynb", nbformat.writes(nb), [secret]) if f.kind == "canary"] == []
