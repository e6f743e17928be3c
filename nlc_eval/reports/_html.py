"""The house template: published HTML of executed notebooks, the index and the status page.

:func:`notebook_to_html` renders an executed report notebook with our own small renderer
(not nbconvert's notebook template): the outputs only, in semantic HTML — a skip link, a
``<header>`` with a ``<nav>`` back to the index, one ``<main>``, ``<figure>`` and
``<table>`` with ``<caption>`` as :mod:`nlc_eval.reports.present` made them — one small
inline stylesheet (WCAG 2.2 AA contrast, visible focus, scrollable tables with a visible
cue on narrow screens, A4 print rules), and no script, code cell, prompt or CDN asset.

:func:`index_html` is the public index (reports by kind, headline findings, a school
finder); :func:`status_html` the run log (status, errors, time) for the analyst.
"""

from __future__ import annotations

import base64
import copy
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import nbformat

#: Cells with these tags are left out of the published HTML entirely.
HIDDEN_TAGS = frozenset({"parameters", "injected-parameters", "remove_cell", "remove-cell"})
#: A page over this many bytes links its figures from the downloads instead of embedding them.
MAX_PAGE_BYTES = 400_000
#: Where a page's downloads are published, relative to the page.
DOWNLOADS_DIR = "downloads"

_MARKDOWN = None


def _markdown(text: str) -> str:
    global _MARKDOWN
    if _MARKDOWN is None:
        import mistune

        _MARKDOWN = mistune.create_markdown(escape=False, plugins=["strikethrough", "table"])
    return _MARKDOWN(text)


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


# ---------------------------------------------------------------------------
# The stylesheet (one, small, inline)
# ---------------------------------------------------------------------------

STYLE = """
:root{--ink:#1b1f29;--muted:#4a5160;--rule:#c9ced8;--band:#eef1f6;--link:#0a4d99;
--visited:#5b2a86;--focus:#b34700;--ok:#17602c;--bad:#a4161a}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;
font-size:1.0625rem;line-height:1.5;color:var(--ink);background:#fff}
.skip{position:absolute;left:.5rem;top:-3rem;background:#fff;color:var(--link);
padding:.5rem .75rem;border:2px solid var(--link);z-index:10}
.skip:focus{top:.5rem}
header.site{border-bottom:4px solid var(--link);background:var(--band)}
header.site .bar,main,footer.site{max-width:75rem;margin:0 auto;padding:0 1rem}
header.site .bar{display:flex;flex-wrap:wrap;gap:.25rem 1.5rem;align-items:baseline;
padding-top:.6rem;padding-bottom:.6rem}
header.site .name{font-weight:700}
nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.25rem 1.25rem}
a{color:var(--link);text-underline-offset:.15em}
a:visited{color:var(--visited)}
a:hover{text-decoration-thickness:3px}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
main{padding-top:1rem;padding-bottom:2rem}
h1{font-size:1.9rem;line-height:1.2;margin:.8rem 0 .6rem}
h2{font-size:1.45rem;line-height:1.25;margin:2.2rem 0 .6rem;padding-top:.4rem;
border-top:1px solid var(--rule)}
h3{font-size:1.2rem;margin:1.6rem 0 .5rem} h4{font-size:1.05rem;margin:1.2rem 0 .4rem}
p,li{max-width:42rem} ul,ol{padding-left:1.4rem}
.meta,.source,.note,figcaption,.finder-count{color:var(--muted);font-size:.94rem}
.table-scroll{overflow-x:auto;margin:1rem 0 .3rem;max-width:100%;
background:linear-gradient(to right,#fff 30%,rgba(255,255,255,0)),
linear-gradient(to left,#fff 30%,rgba(255,255,255,0)) 100% 0,
radial-gradient(farthest-side at 0 50%,rgba(0,0,0,.28),rgba(0,0,0,0)),
radial-gradient(farthest-side at 100% 50%,rgba(0,0,0,.28),rgba(0,0,0,0)) 100% 0;
background-repeat:no-repeat;background-size:2.5rem 100%,2.5rem 100%,1rem 100%,1rem 100%;
background-attachment:local,local,scroll,scroll}
table{border-collapse:collapse;font-size:.95rem;min-width:50%}
caption{text-align:left;font-weight:700;padding:0 0 .4rem;caption-side:top;
position:sticky;left:0;max-width:calc(100vw - 2rem)}
th,td{border-bottom:1px solid var(--rule);padding:.4rem .6rem;text-align:left;
vertical-align:top}
thead th{background:var(--band);border-bottom:2px solid var(--ink);font-weight:700}
tbody th{font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums}
.text{min-width:18rem}
.source,.note{margin:.2rem 0}
figure{margin:1.5rem 0;max-width:100%}
figure img{max-width:100%;height:auto;display:block;border:1px solid var(--rule)}
figcaption{margin-top:.4rem;max-width:42rem}
details{margin:.5rem 0}
summary{cursor:pointer;color:var(--link);text-decoration:underline}
.downloads{font-size:.94rem;margin:.3rem 0 1.2rem}
.downloads a{display:inline-block;min-height:24px;padding:.15rem 0;margin:0 1rem .2rem 0}
nav a{display:inline-block;min-height:24px;padding:.15rem 0}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:var(--band);padding:.6rem}
.ok{color:var(--ok);font-weight:700} .failed{color:var(--bad);font-weight:700}
.err{font-family:ui-monospace,monospace;font-size:.88rem;color:var(--bad);
overflow-wrap:anywhere}
.finder label{display:block;font-weight:700;margin-bottom:.3rem}
.finder input{font:inherit;padding:.4rem .5rem;width:min(100%,26rem);
border:2px solid var(--muted);border-radius:2px}
footer.site{border-top:1px solid var(--rule);padding-top:.8rem;padding-bottom:2rem}
@media (max-width:40rem){body{font-size:1rem}h1{font-size:1.55rem}h2{font-size:1.3rem}
th,td{padding:.35rem .4rem}
figure.nlc-figure{overflow-x:auto}
figure.nlc-figure>img{max-width:none;width:max(100%,36rem)}}
@page{size:A4;margin:16mm 14mm 18mm}
@media print{
body{font-size:10.5pt;color:#000}
.skip,nav,.downloads,.finder,header.site .alt{display:none!important}
header.site{background:none;border-bottom:2px solid #000}
header.site .bar,main,footer.site{max-width:none;padding:0}
a{color:#000}
h1,h2,h3,h4,caption,summary{break-after:avoid;page-break-after:avoid}
h2{border-top:none}
.table-scroll{overflow:visible;background:none}
table{width:100%;font-size:8.5pt;page-break-inside:auto}
thead{display:table-header-group} tfoot{display:table-footer-group}
tr,img,figcaption{break-inside:avoid;page-break-inside:avoid}
th,td{padding:.15rem .3rem;overflow-wrap:break-word;hyphens:manual}
figure{break-inside:avoid} figure img{max-height:120mm;width:auto;border:none}
summary{color:#000;text-decoration:none;font-weight:700;list-style:none}
}
"""


# ---------------------------------------------------------------------------
# Report pages
# ---------------------------------------------------------------------------

_DL = re.compile(r'<p class="nlc-downloads" data-nlc-downloads="([^"]*)"></p>')
_H1 = re.compile(r"<h1[\s>]", re.IGNORECASE)
_IMG_TAG = re.compile(r'<img\b[^>]*\bdata-nlc-file="([^"]+)"[^>]*>')
_SRC = re.compile(r'\bsrc="[^"]*"')


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _output_files(output) -> dict[str, str]:
    meta = output.get("metadata", {}) or {}
    return dict((meta.get("nlc_eval") or {}).get("files") or {})


def notebook_downloads(nb: nbformat.NotebookNode) -> dict[str, bytes]:
    """Every download file the notebook's tables and figures carry (name to bytes).

    :func:`nlc_eval.reports.present.table` and ``figure`` put them in their outputs'
    metadata; the batch writes them under ``<out>/downloads/<report name>/``.
    """
    _, files = _body(nb)
    return {name: base64.b64decode(data) for name, data in files.items()}


def _plain_image(output, mime: str, files: dict[str, str]) -> str:
    """An image output not made by ``present.figure`` (its alt text is the output's own)."""
    data = output["data"][mime]
    alt = (output.get("metadata", {}) or {}).get(mime, {})
    alt = alt.get("alt", "") if isinstance(alt, dict) else ""
    if mime == "image/svg+xml":
        b64 = base64.b64encode((data if isinstance(data, str) else "".join(data)).encode()
                               ).decode()
    else:
        b64 = "".join(data) if isinstance(data, list) else data
    if mime != "image/png":
        return f'<figure><img src="data:{mime};base64,{b64}" alt="{_e(alt)}"></figure>'
    name = f"image-{len(files) + 1}.png"
    files[name] = b64
    return (f'<figure><img src="data:image/png;base64,{b64}" data-nlc-file="{name}" '
            f'alt="{_e(alt)}"></figure>')


def _render_output(output, files: dict[str, str]) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        text = output.get("text", "")
        return f"<pre>{_e(''.join(text) if isinstance(text, list) else text)}</pre>"
    if kind not in ("display_data", "execute_result"):
        return ""
    data = output.get("data", {})

    def joined(mime):
        v = data[mime]
        return "".join(v) if isinstance(v, list) else v

    if "text/html" in data:
        return joined("text/html")
    if "text/markdown" in data:
        return _markdown(joined("text/markdown"))
    for mime in ("image/png", "image/jpeg", "image/svg+xml"):
        if mime in data:
            return _plain_image(output, mime, files)
    if "text/plain" in data:
        return f"<pre>{_e(joined('text/plain'))}</pre>"
    return ""


def _downloads_links(spec: str, href: str | None) -> str:
    if not href:
        return ""
    links = []
    for item in html.unescape(spec).split(";"):
        if not item.strip():
            continue
        name, _, label = item.partition("|")
        links.append(f'<a href="{_e(href + name)}" download>{_e(label or name)}</a>')
    return f'<p class="downloads">{" ".join(links)}</p>' if links else ""


def _body(nb: nbformat.NotebookNode) -> tuple[str, dict[str, str]]:
    parts: list[str] = []
    files: dict[str, str] = {}
    for cell in publishable(nb).cells:
        if cell.cell_type == "markdown":
            parts.append(_markdown(cell.source))
        elif cell.cell_type == "code":
            for out in cell.get("outputs", []):
                files.update(_output_files(out))
                parts.append(_render_output(out, files))
    return "\n".join(p for p in parts if p), files


def _tidy_tables(body: str) -> str:
    """Header scopes and a scrollable, named region for tables not made by ``present``."""
    if "<table" not in body or "class=\"dataframe\"" not in body and "<table>" not in body:
        return body
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(body, "html.parser")
    for n, table in enumerate(soup.find_all("table"), start=1):
        if table.find_parent("div", class_="table-scroll") is not None:
            continue
        for attr in ("border", "class"):
            if attr in table.attrs:
                del table[attr]
        for th in table.find_all("th"):
            if not th.get_text(strip=True):
                th.name = "td"                # an empty header cell heads nothing
                th.attrs.pop("scope", None)
                continue
            if th.has_attr("scope"):
                continue
            th["scope"] = "col" if th.find_parent("thead") is not None else "row"
        wrap = soup.new_tag("div", attrs={"class": "table-scroll", "tabindex": "0",
                                          "role": "region"})
        cap = table.find("caption")
        if cap is not None:
            cap["id"] = cap.get("id") or f"cap-{id(cap)}"
            wrap["aria-labelledby"] = cap["id"]
        else:
            wrap["aria-label"] = f"Table {n} of the page"
        table.wrap(wrap)
    return str(soup)


def _shell(title: str, content: str, *, index_href: str | None, alternates=(),
           description: str = "", generated: str = "") -> str:
    nav_items = []
    if index_href:
        nav_items.append(f'<li><a href="{_e(index_href)}">All reports</a></li>')
    alt = "".join(f'<li class="alt"><a href="{_e(h)}">{_e(label)}</a></li>'
                  for label, h in alternates)
    nav = (f'<nav aria-label="Reports"><ul>{"".join(nav_items)}{alt}</ul></nav>'
           if nav_items or alt else "")
    desc = f'<meta name="description" content="{_e(description)}">' if description else ""
    stamp = generated or datetime.now(UTC).strftime("%-d %B %Y")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en-GB"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title>{desc}<style>{STYLE}</style></head><body>"
        '<a class="skip" href="#main">Skip to main content</a>'
        f'<header class="site"><div class="bar"><span class="name">Education reports</span>'
        f"{nav}</div></header>"
        f'<main id="main" tabindex="-1">{content}</main>'
        '<footer class="site"><p class="meta">Numbers about fewer than five pupils are not '
        "shown, nor any number from which one could be worked out (shown as c). "
        f"Produced {_e(stamp)}.</p></footer>"
        "</body></html>\n")


def render_page(nb: nbformat.NotebookNode, title: str, *,
                downloads_href: str | None = None, index_href: str | None = "index.html",
                alternates: Sequence[tuple[str, str]] = (),
                max_bytes: int = MAX_PAGE_BYTES) -> tuple[str, dict[str, bytes]]:
    """Render an executed notebook as a standalone page of the house template.

    Returns the page and its download files (name to bytes: every table's CSV and XLSX,
    every figure's PNG, SVG and data), which belong under ``downloads_href``.

    Parameters
    ----------
    nb : NotebookNode
        The executed notebook; its outputs are published, never its code.
    title : str
        The page title; also its ``<h1>`` when the notebook shows none.
    downloads_href : str, optional
        URL prefix (ending in ``/``) under which the page's download files are published,
        e.g. ``"downloads/cluster-07/"``; without it download links are left out.
    index_href : str or None
        Link back to the index (``None``: no link).
    alternates : sequence of (label, href)
        Other formats of the same report (Word, PDF), linked in the header.
    max_bytes : int
        When the page would be larger, figures are linked from the downloads (when
        ``downloads_href`` is given) rather than embedded.

    Examples
    --------
    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook()
    >>> nb.cells = [nbformat.v4.new_markdown_cell("# A report\\n\\nSome text.")]
    >>> page, files = render_page(nb, "A report")
    >>> "<main" in page and "<script" not in page and files == {}
    True
    """
    body, files = _body(nb)
    body = _DL.sub(lambda m: _downloads_links(m.group(1), downloads_href), body)
    body = _tidy_tables(body)
    if not _H1.search(body):
        body = f"<h1>{_e(title)}</h1>\n{body}"

    def images(link_all: bool) -> str:
        def fill(m):
            tag, name = m.group(0), html.unescape(m.group(1))
            src = _SRC.search(tag)
            current = src.group(0)[5:-1] if src else ""
            if downloads_href and (link_all or not current):
                new = f'src="{_e(downloads_href + name)}"'
            elif not current and name in files:
                new = f'src="data:image/png;base64,{files[name]}"'
            else:
                return tag
            return _SRC.sub(new, tag, count=1) if src else tag.replace("<img", f"<img {new}", 1)
        return _IMG_TAG.sub(fill, body)

    page = _shell(title, images(False), index_href=index_href, alternates=alternates)
    if len(page.encode("utf-8")) > max_bytes and downloads_href:
        page = _shell(title, images(True), index_href=index_href, alternates=alternates)
    return page, {name: base64.b64decode(data) for name, data in files.items()}


def notebook_to_html(nb: nbformat.NotebookNode, title: str, **kwargs) -> str:
    """The page of :func:`render_page` alone (same keyword arguments)."""
    return render_page(nb, title, **kwargs)[0]




# ---------------------------------------------------------------------------
# The index and the status page
# ---------------------------------------------------------------------------

_KIND_TITLES = {
    "authority": "The authority",
    "cluster": "Clusters",
    "family": "Family groups",
}
_ORDER = ["authority", "cluster", "family"]

_FINDER_SCRIPT = """
(function(){var box=document.getElementById('finder-q');if(!box)return;
var rows=[].slice.call(document.querySelectorAll('#finder-table tbody tr'));
var out=document.getElementById('finder-count');
function run(){var q=box.value.trim().toLowerCase();var n=0;
rows.forEach(function(r){var hit=!q||r.getAttribute('data-name').indexOf(q)>=0;
r.hidden=!hit;if(hit)n++;});
out.textContent=q?(n+(n===1?' school matches':' schools match')+' \\u201c'+box.value.trim()
+'\\u201d.'):'';}
box.addEventListener('input',run);})();
"""


def _kinds(groups: Mapping[str, list]) -> list[str]:
    return [k for k in _ORDER if k in groups] + sorted(k for k in groups if k not in _ORDER)


def _finder(schools: list[Mapping[str, Any]], ok: Mapping[str, str]) -> str:
    def link(name):
        if name and name in ok:
            return f'<a href="{_e(name)}.html">{_e(ok[name])}</a>'
        return "not published"

    rows = []
    for s in sorted(schools, key=lambda s: str(s.get("school", "")).lower()):
        label = str(s.get("school", "")).strip()
        if not label:
            continue
        sector = str(s.get("sector", "") or "")
        rows.append(f'<tr data-name="{_e(label.lower())}"><th scope="row">{_e(label)}</th>'
                    f"<td>{_e(sector)}</td><td>{link(s.get('cluster'))}</td>"
                    f"<td>{link(s.get('family'))}</td></tr>")
    return (
        '<section class="finder" aria-labelledby="finder-h"><h2 id="finder-h">Find your school'
        '</h2><p>Every school with the reports it appears in. Type part of a name to narrow '
        'the list.</p><label for="finder-q">School name</label>'
        '<input id="finder-q" type="search" autocomplete="off" aria-describedby="finder-count">'
        '<p id="finder-count" class="finder-count" role="status" aria-live="polite"></p>'
        '<div class="table-scroll" role="region" aria-labelledby="finder-cap" tabindex="0">'
        '<table id="finder-table"><caption id="finder-cap">Schools and their cluster and '
        'family group reports</caption><thead><tr><th scope="col">School</th>'
        '<th scope="col">Sector</th><th scope="col">Cluster report</th>'
        '<th scope="col">Family group report</th></tr></thead><tbody>'
        + "".join(rows) + "</tbody></table></div></section>")


def index_html(outcomes: Iterable[dict[str, Any]], *, title: str = "Reports",
               subtitle: str = "", schools: Iterable[Mapping[str, Any]] | None = None,
               status_href: str | None = "status.html",
               family_members: Mapping[str, Sequence[str]] | None = None) -> str:
    """The public index page: the reports by kind with their headline findings.

    Parameters
    ----------
    outcomes : iterable of dict
        One dict per report with ``name``, ``kind``, ``title``, ``status`` (``ok`` or
        ``failed``) and ``headlines`` (list of str). Failed reports are not listed (they
        are on the status page).
    title, subtitle : str
        Page heading and the line under it.
    schools : iterable of mapping, optional
        The school finder: one mapping per school with ``school`` (its name), ``sector``,
        ``cluster`` and ``family`` (the report *names* it appears in, e.g.
        ``"cluster-07"``; ``None`` when it is in none). Without it there is no finder.
    status_href : str or None
        Link to the run's status page.
    family_members : mapping, optional
        Report name to its schools' names, listed under a family's link so a reader can
        find a family without knowing its id.
    """
    outcomes = list(outcomes)
    published = [o for o in outcomes if o.get("status") == "ok"]
    ok = {o["name"]: str(o.get("title") or o["name"]) for o in published}
    groups: dict[str, list[dict[str, Any]]] = {}
    for o in published:
        groups.setdefault(o.get("kind", "report"), []).append(o)
    now = datetime.now(UTC).strftime("%-d %B %Y")
    members = dict(family_members or {})
    parts = [f"<h1>{_e(title)}</h1>"]
    if subtitle:
        parts.append(f'<p class="meta">{_e(subtitle)}</p>')
    parts.append(f"<p>{len(published)} reports, produced {_e(now)}.</p>")
    school_list = list(schools or [])
    kinds = _kinds(groups)
    # the authority-wide reports first, then the finder, then clusters and families
    if school_list:
        at = 1 if kinds and kinds[0] == "authority" else 0
        kinds.insert(at, "_finder")
    for kind in kinds:
        if kind == "_finder":
            parts.append(_finder(school_list, ok))
            continue
        heading = _KIND_TITLES.get(kind, kind.replace("_", " ").capitalize())
        hid = f"kind-{re.sub(r'[^a-z0-9]+', '-', kind.lower())}"
        parts.append(f'<section aria-labelledby="{hid}"><h2 id="{hid}">{_e(heading)}</h2><ul>')
        for o in sorted(groups[kind], key=lambda o: o["name"]):
            label = _e(o.get("title") or o["name"])
            item = f'<li><a href="{_e(o["name"])}.html">{label}</a>'
            if members.get(o["name"]):
                item += f'<br><span class="meta">Schools: {_e(", ".join(members[o["name"]]))}' \
                        "</span>"
            heads = [str(h) for h in o.get("headlines") or [] if str(h).strip()]
            if heads:
                item += "<ul>" + "".join(f"<li>{_e(h)}</li>" for h in heads) + "</ul>"
            parts.append(item + "</li>")
        parts.append("</ul></section>")
    if status_href:
        parts.append(f'<p class="meta">How this set of reports was produced: '
                     f'<a href="{_e(status_href)}">run status</a>.</p>')
    content = "\n".join(parts)
    if school_list:
        content += f"<script>{_FINDER_SCRIPT}</script>"
    return _shell(title, content, index_href=None)


def status_html(outcomes: Iterable[dict[str, Any]], *, title: str = "Reports",
                manifest_href: str = "manifest.json", index_href: str = "index.html") -> str:
    """The run's status page: every report with its status, time and any error."""
    outcomes = list(outcomes)
    n_ok = sum(o.get("status") == "ok" for o in outcomes)
    parts = [f"<h1>Run status: {_e(title)}</h1>",
             f"<p>{n_ok} of {len(outcomes)} reports produced. Every input file, package "
             f'version and parameter is recorded in <a href="{_e(manifest_href)}">the '
             "manifest (JSON)</a>.</p>",
             '<div class="table-scroll" role="region" aria-labelledby="status-cap" '
             'tabindex="0"><table><caption id="status-cap">Table 1. Each report of this run: '
             'status, time taken and error</caption><thead><tr><th scope="col">Report</th>'
             '<th scope="col">Kind</th><th scope="col">Status</th>'
             '<th scope="col" class="num">Time (s)</th>'
             '<th scope="col">Error</th></tr></thead><tbody>']
    for o in sorted(outcomes, key=lambda o: (_ORDER.index(o["kind"]) if o.get("kind") in _ORDER
                                             else len(_ORDER), o["name"])):
        label = _e(o.get("title") or o["name"])
        good = o.get("status") == "ok"
        link = f'<a href="{_e(o["name"])}.html">{label}</a>' if good else label
        status = '<span class="ok">produced</span>' if good else \
            '<span class="failed">failed</span>'
        secs = o.get("duration_s")
        took = f"{secs:.1f}" if isinstance(secs, int | float) else ""
        err = f'<span class="err">{_e(o.get("error", ""))}</span>' if o.get("error") else ""
        parts.append(f'<tr><th scope="row">{link}</th><td>{_e(o.get("kind", ""))}</td>'
                     f'<td>{status}</td><td class="num">{took}</td><td>{err}</td></tr>')
    parts.append("</tbody></table></div>")
    return _shell(f"Run status: {title}", "\n".join(parts), index_href=index_href)


def school_entries(schools, families: Mapping[Any, Any] | None, jobs: Iterable[Any]
                   ) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """The school finder's entries and each family report's schools, from a batch's plan.

    Parameters
    ----------
    schools : DataFrame
        One row per school with ``seed_code``, ``school_name``, ``sector`` and ``cluster``
        (latest year used when there are several).
    families : mapping, optional
        Seed code to family id (``FamilyResult.assignments``).
    jobs : iterable of ReportJob
        The batch's reports (``name``, ``kind``, ``ident``): only reports in it are linked.

    Returns
    -------
    (list of dict, dict)
        Entries for :func:`index_html`'s ``schools`` and its ``family_members``.
    """
    import pandas as pd

    by_kind: dict[tuple[str, str], str] = {}
    for j in jobs:
        if j.kind in ("cluster", "family"):
            by_kind[(j.kind, str(j.ident))] = j.name
    frame = pd.DataFrame(schools)
    if "year" in frame.columns:
        frame = frame.sort_values("year").drop_duplicates("seed_code", keep="last")
    fam = {str(k): str(v) for k, v in (dict(families) if families is not None else {}).items()
           if v is not None and not (isinstance(v, float) and v != v)}
    entries, members = [], {}
    for row in frame.sort_values("school_name").itertuples(index=False):
        family_report = by_kind.get(("family", fam.get(str(row.seed_code), "")))
        entries.append({"school": str(row.school_name),
                        "sector": str(getattr(row, "sector", "") or "").capitalize(),
                        "cluster": by_kind.get(("cluster", str(getattr(row, "cluster", "")))),
                        "family": family_report})
        if family_report:
            members.setdefault(family_report, []).append(str(row.school_name))
    return entries, members
