"""A batch's outputs: ``summary.json``, ``summary.csv`` and one self-contained ``report.html``.

The report's first screen is the outcome table (counts per outcome, then one row per site, worst
first) with a small inline SVG bar per site: the refresh token's remaining life against 30 days,
or the access token's against one hour when there is no refresh token. Plain HTML and CSS, no
script and nothing fetched from elsewhere, so it opens from a ticket attachment. Every file is
written 0600 through :func:`private_files.write_private`, and the text is passed through
:func:`redact.redact` (a belt: the rows hold no secret).
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections import Counter
from pathlib import Path

from ..profile.private_files import write_private
from ..safety.redact import redact
from .outcome import OUTCOMES, SiteOutcome

CSV_COLUMNS = ("profile", "outcome", "detail", "fix", "token_id", "expires_in", "refresh_token_expires_in",
               "account", "notes", "notebook", "duration")
COLOURS = {"ok": "#1e8e3e", "expiring": "#f9ab00", "expired": "#d93025", "reauthorize": "#d93025", "denied": "#b06000",
           "misconfigured": "#c5221f", "network": "#9334e6", "failed": "#5f6368"}
REFRESH_SCALE = 30 * 24 * 3600
ACCESS_SCALE = 3600


def write_outputs(batch_dir: Path, outcomes: list[SiteOutcome], *, title: str) -> dict[str, Path]:
    """Write the three files into ``batch_dir``; returns their paths by name."""
    rows = [o.to_json() for o in outcomes]
    paths = {"json": batch_dir / "summary.json", "csv": batch_dir / "summary.csv", "html": batch_dir / "report.html"}
    write_private(paths["json"], redact(json.dumps(rows, indent=2)).encode("utf-8") + b"\n")
    write_private(paths["csv"], redact(summary_csv(rows)).encode("utf-8"))
    write_private(paths["html"], redact(report_html(outcomes, title=title)).encode("utf-8"))
    return paths


def summary_csv(rows: list[dict[str, object]]) -> str:
    """The summary rows as CSV with :data:`CSV_COLUMNS` (empty cells for ``None``)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return out.getvalue()


def report_html(outcomes: list[SiteOutcome], *, title: str) -> str:
    """The batch report: counts, then the outcome table, worst sites first."""
    counts = Counter(o.outcome for o in outcomes)
    badges = "".join(f'<span class="badge" style="background:{COLOURS[name]}">{name}: {counts[name]}</span>'
                     for name in OUTCOMES if counts[name])
    ordered = sorted(outcomes, key=lambda o: (OUTCOMES.index(o.outcome), o.profile))
    body = "\n".join(_row(o) for o in ordered)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_CSS}</style></head>
<body><h1>{html.escape(title)}</h1>
<p class="counts">{len(outcomes)} sites &mdash; {badges}</p>
<table><thead><tr><th>profile</th><th>outcome</th><th>token life</th><th>expires in</th><th>detail</th><th>fix</th>
<th>token id</th><th>notes</th><th>notebook</th></tr></thead>
<tbody>
{body}
</tbody></table>
<p class="legend">Token life: the refresh token's remaining life against 30 days (a Testing-mode consent
screen gives 7 days at most); without a refresh token, the access token's against one hour.</p>
</body></html>
"""


def _row(o: SiteOutcome) -> str:
    cells = [
        f"<td>{html.escape(o.profile)}</td>",
        f'<td><span class="badge" style="background:{COLOURS[o.outcome]}">{o.outcome}</span></td>',
        f"<td>{_bar(o)}</td>",
        f"<td class=num>{'' if o.expires_in is None else o.expires_in}</td>",
        f"<td>{html.escape(o.detail)}</td>", f"<td>{html.escape(o.fix)}</td>",
        f"<td><code>{html.escape(o.token_id or '')}</code></td>", f"<td>{html.escape(o.notes)}</td>",
        f'<td><a href="{html.escape(o.notebook)}">{html.escape(Path(o.notebook).name)}</a></td>' if o.notebook else "<td></td>",
    ]
    return f"<tr>{''.join(cells)}</tr>"


def _bar(o: SiteOutcome) -> str:
    """An inline SVG bar (120 x 10) of the token's remaining life; empty when the site has no token."""
    if o.refresh_token_expires_in is not None:
        left, scale, what = o.refresh_token_expires_in, REFRESH_SCALE, "refresh token"
    elif o.expires_in is not None and o.outcome in ("expiring", "expired"):
        left, scale, what = o.expires_in, ACCESS_SCALE, "access token"
    elif o.token_id is not None:
        return '<svg width="120" height="10" role="img"><title>refresh token without an expiry</title>' \
               f'<rect width="120" height="10" fill="{COLOURS["ok"]}"/></svg>'
    else:
        return ""
    width = max(0, min(120, round(120 * left / scale)))
    return (f'<svg width="120" height="10" role="img"><title>{what}: {left} s left</title>'
            f'<rect width="120" height="10" fill="#e8eaed"/>'
            f'<rect width="{width}" height="10" fill="{COLOURS[o.outcome]}"/></svg>')


_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#202124}
h1{font-size:1.4em;margin:0 0 .4em}table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #dadce0;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f1f3f4;position:sticky;top:0}.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{color:#fff;border-radius:.8em;padding:.05em .6em;margin-right:.3em;white-space:nowrap}
.legend{color:#5f6368;font-size:.9em}code{font-size:.9em}"""
