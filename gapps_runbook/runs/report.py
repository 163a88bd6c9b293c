"""One HTML report from executed runbook notebooks (the demo's and batch's report), redacted.

nbconvert renders each executed, scrubbed notebook; the bodies go under one heading each, with a
table of contents, and the whole page is scrubbed again before it is written (0600, atomic).
nbformat and nbconvert are imported inside the function: ``import gapps_runbook`` stays light.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from pathlib import Path

from ..profile.private_files import write_private
from ..safety.scrub import scrub_notebook, scrub_text


def export_html(notebooks: list[Path], out: Path, *, title: str, secrets: Iterable[str] = ()) -> Path:
    """Build ONE HTML report from executed notebooks, each under its own heading, then redact it.

    Args:
        notebooks: Executed (scrubbed) notebooks, in report order; they are scrubbed again.
        out: The ``.html`` file to write (atomically).
        title: The report's title.
        secrets: Exact values to remove, as for :func:`scrub.scrub_notebook`.

    Returns:
        ``out``.
    """
    import nbformat
    from nbconvert import HTMLExporter

    secrets = list(secrets)
    exporter = HTMLExporter()
    head, body_tag, sections = "", "<body>", []
    for path in map(Path, notebooks):
        nb = scrub_notebook(nbformat.read(path, as_version=4), secrets=secrets)
        document, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
        head = head or _search(r"<head>(.*?)</head>", document)
        body_tag = _search(r"(<body[^>]*>)", document) or body_tag
        sections.append((path.stem, _search(r"<body[^>]*>(.*?)</body>", document)))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_private(out, scrub_text(_report(title, head, body_tag, sections), secrets=secrets).encode("utf-8"))
    return out


def _search(pattern: str, text: str) -> str:
    match = re.search(pattern, text, re.DOTALL)
    return match.group(1) if match else ""


def _report(title: str, head: str, body_tag: str, sections: list[tuple[str, str]]) -> str:
    head = re.sub(r"<title>.*?</title>", f"<title>{html.escape(title)}</title>", head, flags=re.DOTALL)
    toc = "".join(f'<li><a href="#nb-{i}">{html.escape(name)}</a></li>' for i, (name, _) in enumerate(sections))
    parts = [f'<section id="nb-{i}"><h1>{html.escape(name)}</h1>\n{body}</section>' for i, (name, body) in
             enumerate(sections)]
    return (
        f"<!DOCTYPE html>\n<html>\n<head>{head}</head>\n{body_tag}\n<header><h1>{html.escape(title)}</h1>"
        f"<nav><ol>{toc}</ol></nav></header>\n" + "\n".join(parts) + "\n</body>\n</html>\n"
    )
