"""HTML of executed notebooks (outputs only, no code) and the batch index page."""

from __future__ import annotations

import copy
import html
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import nbformat

#: Cells with these tags are left out of the published HTML entirely.
HIDDEN_TAGS = frozenset({"parameters", "injected-parameters", "remove_cell", "remove-cell"})

_EXPORTER = None


def _exporter():
    global _EXPORTER
    if _EXPORTER is None:
        from nbconvert import HTMLExporter

        _EXPORTER = HTMLExporter(
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
        )
    return _EXPORTER


def publishable(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of an executed notebook fit to publish.

    Removes parameter cells and cells tagged ``remove_cell``, the source of every code cell,
    and stderr streams (warnings are for the analyst, in the executed ``.ipynb``).
    """
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & HIDDEN_TAGS:
            continue
        if cell.cell_type == "code":
            cell.source = ""
            cell.outputs = [o for o in cell.get("outputs", [])
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
            if not cell.outputs:
                continue
        cells.append(cell)
    nb.cells = cells
    return nb


def notebook_to_html(nb: nbformat.NotebookNode, title: str) -> str:
    """Render an executed notebook as standalone HTML without any input (code) cells."""
    body, _ = _exporter().from_notebook_node(publishable(nb),
                                            resources={"metadata": {"name": title}})
    return body


_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2rem auto;
max-width:72rem;padding:0 1rem;color:#1d2433;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2rem}
.meta{color:#5b6475;font-size:.9rem}
table{border-collapse:collapse;width:100%;margin-top:.5rem}
th,td{border-bottom:1px solid #d9dde5;padding:.45rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f4f8;font-weight:600}
.ok{color:#1a7f37;font-weight:600} .failed{color:#b42318;font-weight:600}
ul{margin:0;padding-left:1.1rem} .err{font-family:monospace;font-size:.85rem;color:#b42318}
"""

_KIND_TITLES = {
    "authority": "Authority",
    "cluster": "Clusters",
    "family": "Family groups",
}


def index_html(outcomes: Iterable[dict[str, Any]], *, title: str = "Reports",
               subtitle: str = "") -> str:
    """The index page: every report with its status and headline findings.

    Parameters
    ----------
    outcomes : iterable of dict
        One dict per report with ``name``, ``kind``, ``title``, ``status`` (``ok`` or
        ``failed``), ``headlines`` (list of str), ``error`` and ``duration_s``.
    """
    outcomes = list(outcomes)
    groups: dict[str, list[dict[str, Any]]] = {}
    for o in outcomes:
        groups.setdefault(o.get("kind", "report"), []).append(o)
    order = ["authority", "cluster", "family"]
    kinds = [k for k in order if k in groups] + sorted(k for k in groups if k not in order)
    n_ok = sum(o["status"] == "ok" for o in outcomes)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="meta">{html.escape(subtitle)}{" · " if subtitle else ""}'
        f"{n_ok} of {len(outcomes)} reports produced · {now}</p>",
    ]
    for kind in kinds:
        heading = _KIND_TITLES.get(kind, kind.replace("_", " ").capitalize())
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts.append("<table><thead><tr><th>Report</th><th>Status</th><th>Headline findings"
                     "</th><th>Time</th></tr></thead><tbody>")
        for o in sorted(groups[kind], key=lambda o: o["name"]):
            label = html.escape(o.get("title") or o["name"])
            if o["status"] == "ok":
                link = f'<a href="{html.escape(o["name"])}.html">{label}</a>'
                status = '<span class="ok">ok</span>'
                heads = o.get("headlines") or []
                findings = ("<ul>" + "".join(f"<li>{html.escape(str(h))}</li>" for h in heads)
                            + "</ul>") if heads else ""
            else:
                link = label
                status = '<span class="failed">failed</span>'
                findings = f'<span class="err">{html.escape(str(o.get("error", "")))}</span>'
            secs = o.get("duration_s")
            took = f"{secs:.1f} s" if isinstance(secs, (int, float)) else ""
            parts.append(f"<tr><td>{link}</td><td>{status}</td><td>{findings}</td>"
                         f"<td>{took}</td></tr>")
        parts.append("</tbody></table>")
    parts.append('<p class="meta">Counts of fewer than five pupils are suppressed in every '
                 "table (shown as <b>c</b>). Details of each run: "
                 '<a href="manifest.json">manifest.json</a>.</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
