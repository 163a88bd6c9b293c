"""One HTML report from executed runbook notebooks (the demo's, ``run``'s and batch's report), redacted.

A run's report (:func:`write_report`) opens with a summary, one column per site and flow (site, flow,
outcome, token id and expiry, verify verdict, and when something failed the failed step and its fix;
the values come from :mod:`.summary`, i.e. from what the run recorded), then one labelled section per
flow with its step lines and its executed notebooks. Each notebook's parameters cell shows the values
the run used (papermill's injected cell is scrubbed from saved notebooks, so the template's defaults
would otherwise sit above outputs they contradict). :func:`export_html` is the plain form (batch, tests):
the notebooks one after the other. nbconvert renders each notebook; the page is scrubbed again before
it is written (0600, atomic). nbformat and nbconvert are imported inside the functions.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..profile.audit import clean
from ..profile.private_files import write_private
from ..safety.scrub import scrub_notebook, scrub_text
from .summary import SiteSummary

_PARAMETER_LINE = re.compile(r"^(?P<name>[A-Za-z_]\w*)\s*=\s*(?P<value>.*?)(?P<comment>\s+#.*)?$")
_STYLE = """<style>
.gr-report{max-width:1200px;margin:0 auto;padding:0 1em}
.gr-report table.gr-summary{border-collapse:collapse;margin:.5em 0 1em}
.gr-report table.gr-summary th,.gr-report table.gr-summary td{border:1px solid #bbb;padding:.35em .7em;
  text-align:left;vertical-align:top}
.gr-report table.gr-summary thead th{background:#eef3fa}
.gr-failed{color:#b00020;font-weight:bold}.gr-ok{color:#1b6e20;font-weight:bold}
.gr-flow>h2{background:#1a4d8f;color:#fff;padding:.45em .8em;margin-top:2em}
.gr-nb>h3{border-top:3px solid #1a4d8f;color:#1a4d8f;padding-top:.4em;margin-top:1.5em}
.gr-steps{font-family:monospace;font-size:.9em}
</style>"""


@dataclass(frozen=True)
class FlowRun:
    """One site's run for the report: its summary, the step lines printed, its executed notebooks.

    Attributes:
        summary: What the run recorded (:func:`.summary.summarize`).
        lines: The run's step lines (result lines, skipped lines, the failure), in order.
        notebooks: ``(executed notebook, the parameters it ran with)``, in order.
    """

    summary: SiteSummary
    lines: Sequence[str] = ()
    notebooks: Sequence[tuple[Path, Mapping[str, object]]] = field(default_factory=list)


def write_report(flows: Sequence[FlowRun], out: Path, *, title: str, secrets: Iterable[str] = ()) -> Path:
    """Write the run's report: the summary, then one section per flow with its notebooks (scrubbed, 0600).

    Args:
        flows: The sites and flows of the run, in order.
        out: The ``.html`` file to write (atomically).
        title: The report's title.
        secrets: Exact values to remove, as for :func:`scrub.scrub_notebook`.

    Returns:
        ``out``.
    """
    secrets = list(secrets)
    head, body_tag, sections, toc = "", "<body>", [], []
    for i, flow in enumerate(flows):
        parts, entries = [], []
        for j, (path, parameters) in enumerate(flow.notebooks):
            rendered = _render(Path(path), secrets, parameters)
            head, body_tag = head or rendered[0], rendered[1] or body_tag
            anchor = f"flow-{i}-nb-{j}"
            heading = f"{flow_heading(flow)} · {Path(path).stem}"
            parts.append(f'<section class="gr-nb" id="{anchor}"><h3>{_e(heading)}</h3>\n{rendered[2]}</section>')
            entries.append(f'<li><a href="#{anchor}">{_e(Path(path).stem)}</a></li>')
        steps = "".join(f"<li>{_e(line)}</li>" for line in flow.lines)
        sections.append(f'<section class="gr-flow" id="flow-{i}"><h2>{_e(flow_heading(flow))}</h2>'
                        f'<ul class="gr-steps">{steps}</ul>\n' + "\n".join(parts) + "</section>")
        toc.append(f'<li><a href="#flow-{i}">{_e(flow_heading(flow))}</a><ol>{"".join(entries)}</ol></li>')
    page = _page(title, head, body_tag, _summary_html(flows) + f"<nav><h2>Contents</h2><ol>{''.join(toc)}</ol></nav>",
                 sections)
    return _write(out, page, secrets)


def flow_heading(flow: FlowRun) -> str:
    """A section's title: the flow, then the site (``Desktop app flow (loopback + PKCE): site demo-site``)."""
    return flow.summary.title


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
    secrets = list(secrets)
    head, body_tag, sections, toc = "", "<body>", [], []
    for i, path in enumerate(map(Path, notebooks)):
        rendered = _render(path, secrets)
        head, body_tag = head or rendered[0], rendered[1] or body_tag
        sections.append(f'<section id="nb-{i}"><h1>{_e(path.stem)}</h1>\n{rendered[2]}</section>')
        toc.append(f'<li><a href="#nb-{i}">{_e(path.stem)}</a></li>')
    return _write(out, _page(title, head, body_tag, f"<nav><ol>{''.join(toc)}</ol></nav>", sections), secrets)


def _render(path: Path, secrets: list[str], parameters: Mapping[str, object] | None = None) -> tuple[str, str, str]:
    """``(head, body tag, body)`` of one notebook rendered by nbconvert, scrubbed first."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = scrub_notebook(nbformat.read(path, as_version=4), secrets=secrets)
    if parameters:
        show_run_parameters(nb, parameters)
    document, _ = HTMLExporter().from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
    return (_search(r"<head>(.*?)</head>", document), _search(r"(<body[^>]*>)", document),
            _search(r"<body[^>]*>(.*?)</body>", document))


def show_run_parameters(nb: Any, parameters: Mapping[str, object]) -> None:
    """Rewrite the ``parameters`` cell in place so it shows the values the run used, not the template's.

    A line ``name = default  # comment`` whose name the run set becomes ``name = value  # this run
    (default: default)``; secret-named parameters are dropped and strings redacted (:func:`audit.clean`).
    """
    used = clean(dict(parameters))
    for cell in nb.cells:
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source = "\n".join(_parameter_line(line, used) for line in str(cell.source).splitlines())


def _parameter_line(line: str, used: Mapping[str, Any]) -> str:
    match = _PARAMETER_LINE.match(line)
    if not match or match["name"] not in used:
        return line
    value = used[match["name"]]
    shown = json.dumps(value) if isinstance(value, (str, list, dict)) else repr(value)
    if shown == match["value"].strip():
        return line
    return f"{match['name']} = {shown}  # this run (default: {match['value'].strip()})"


def _summary_html(flows: Sequence[FlowRun]) -> str:
    if not flows:
        return ""
    labels = [label for label, _ in max((f.summary.rows() for f in flows), key=len)]
    heads = "".join(f'<th><a href="#flow-{i}">{_e(flow_heading(f))}</a></th>' for i, f in enumerate(flows))
    body = []
    for label in labels:
        cells = []
        for flow in flows:
            value = dict(flow.summary.rows()).get(label, "")
            css = ' class="gr-failed"' if label in ("Failed step", "Fix") or value.startswith("FAILED") else (
                ' class="gr-ok"' if label == "Outcome" else "")
            cells.append(f"<td{css}>{_e(value)}</td>")
        body.append(f"<tr><th>{_e(label)}</th>{''.join(cells)}</tr>")
    return (f'<section id="summary"><h2>Summary</h2><table class="gr-summary"><thead><tr><th></th>{heads}</tr>'
            f"</thead><tbody>{''.join(body)}</tbody></table></section>")


def _write(out: Path, page: str, secrets: list[str]) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_private(out, scrub_text(page, secrets=secrets).encode("utf-8"))
    return out


def _e(text: str) -> str:
    return html.escape(text)


def _search(pattern: str, text: str) -> str:
    match = re.search(pattern, text, re.DOTALL)
    return match.group(1) if match else ""


def _page(title: str, head: str, body_tag: str, front: str, sections: list[str]) -> str:
    head = re.sub(r"<title>.*?</title>", f"<title>{_e(title)}</title>", head, flags=re.DOTALL)
    return (f"<!DOCTYPE html>\n<html>\n<head>{head}{_STYLE}</head>\n{body_tag}\n<div class=\"gr-report\"><header>"
            f"<h1>{_e(title)}</h1>{front}</header>\n" + "\n".join(sections) + "\n</div>\n</body>\n</html>\n")
