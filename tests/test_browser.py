"""Published pages in a real browser: axe-core in headless Chromium, print, downloads.

A small batch (one cluster, one family and the authority-wide reports) is rendered once per
session; every page kind is then loaded in headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by Selenium) and checked with axe-core 4.x (npm's ``axe-core``,
installed by ``make`` under ``.venv/axe``; ``NLC_EVAL_AXE`` may point at another
``axe.min.js``) for every WCAG 2.0, 2.1 and 2.2 A/AA rule and the best-practice rules.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from nlc_eval.reports import export
from nlc_eval.reports.present import PLACEHOLDER_ALTS

ROOT = Path(__file__).resolve().parents[1]
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa", "best-practice"]
#: page kind -> how to find its page among the batch's outputs
KINDS = {
    "cluster": r"cluster-.*\.html",
    "family": r"family-.*\.html",
    "family formation": r"authority-families\.html",
    "impact": r"authority-impact\.html",
    "authority overview": r"authority\.html",
    "authority comparison": r"authority-comparison\.html",
    "index": r"index\.html",
    "status": r"status\.html",
}


def _axe_path() -> Path:
    candidates = [os.environ.get("NLC_EVAL_AXE", ""),
                  ROOT / ".venv" / "axe" / "node_modules" / "axe-core" / "axe.min.js"]
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    pytest.fail("axe-core is not installed. Fix: make test installs it "
                "(npm install --prefix .venv/axe axe-core@4), or set NLC_EVAL_AXE to axe.min.js.")


@pytest.fixture(scope="session")
def axe_source() -> str:
    return _axe_path().read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    from nlc_eval.reports.batch import run_batch
    from nlc_eval.reports.context import build_context

    data = os.environ.get("NLC_EVAL_OFFICIAL_DATA") or None
    ctx = build_context(data, None, seed=0)
    out = tmp_path_factory.mktemp("site")
    result = run_batch(clusters=ctx.clusters[:1], families=ctx.family_ids[:1], authority=True,
                       out=out, n_jobs=2, progress=False, ctx=ctx)
    failed = {o.name: o.error for o in result.outcomes if not o.ok}
    (out / "_failures.json").write_text(json.dumps(failed))
    return out


def _page(site: Path, kind: str) -> Path:
    pattern = re.compile(KINDS[kind])
    pages = sorted(p for p in site.glob("*.html") if pattern.fullmatch(p.name))
    if not pages:
        if kind == "authority comparison" and not os.environ.get("NLC_EVAL_OFFICIAL_DATA"):
            pytest.skip("the comparison page needs the official files (make test sets them)")
        failed = json.loads((site / "_failures.json").read_text())
        pytest.fail(f"no {kind} page was published; failed reports: {failed}")
    return pages[0]


@pytest.fixture(scope="session")
def driver():
    exe = export.browser()
    if exe is None or shutil.which("chromedriver") is None:
        pytest.fail("headless Chromium and chromedriver are needed. Fix: apt-get install "
                    "chromium chromium-driver (make test does this).")
    import tempfile

    profile = tempfile.mkdtemp(prefix="nlc-browser-test-")
    drv = export._driver(exe, profile)
    drv.set_window_size(1280, 1000)
    yield drv
    drv.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _violations(driver, axe_source: str) -> list[dict]:
    driver.execute_script(axe_source)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]},"
        " resultTypes: ['violations']}).then(r => done(r.violations))"
        ".catch(e => done([{id: 'axe-error', help: String(e), nodes: []}]));", AXE_TAGS)
    return result


def _describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        targets = [" ".join(n.get("target", [])) for n in v.get("nodes", [])[:3]]
        lines.append(f"{v['id']} ({v.get('impact')}): {v.get('help')}; {len(v.get('nodes', []))}"
                     f" element(s), e.g. {targets}")
    return "\n".join(lines)


@pytest.mark.parametrize("width", [1280, 375])
@pytest.mark.parametrize("kind", list(KINDS))
def test_axe_finds_no_violation(site, driver, axe_source, kind, width):
    page = _page(site, kind)
    driver.set_window_size(width, 900)
    driver.get(page.as_uri())
    violations = _violations(driver, axe_source)
    assert violations == [], f"{page.name} at {width} px:\n{_describe(violations)}"


@pytest.mark.parametrize("kind", list(KINDS))
def test_page_fits_a_phone_and_loads_nothing_from_outside(site, driver, kind):
    page = _page(site, kind)
    driver.set_window_size(375, 800)
    driver.get(page.as_uri())
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{page.name} scrolls sideways by {overflow} px at 375 px"
    # figures keep legible text on a phone: shown at no less than 36rem (or their natural
    # width when narrower), scrolling sideways inside their own frame rather than shrinking
    shrunk = driver.execute_script(
        "return [...document.querySelectorAll('figure.nlc-figure > img')]"
        ".filter(i => i.getBoundingClientRect().width + 1 < Math.min(i.naturalWidth, 576))"
        ".map(i => i.closest('figure').id + ': ' + Math.round(i.getBoundingClientRect().width)"
        " + ' of ' + i.naturalWidth + ' px')")
    assert shrunk == [], f"{page.name}: figures shrunk below legibility at 375 px: {shrunk}"
    resources = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    outside = [r for r in resources if not r.startswith(("file:", "data:"))]
    assert outside == [], f"{page.name} loads {outside}"
    # the skip link is the first focusable element and moves focus to main
    first = driver.execute_script(
        "return document.querySelector('a, button, input, [tabindex]').className")
    assert first == "skip"


def _soup(path: Path):
    from bs4 import BeautifulSoup

    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


@pytest.mark.parametrize("kind", list(KINDS))
def test_semantic_structure(site, kind):
    page = _page(site, kind)
    soup = _soup(page)
    assert page.stat().st_size < 400_000, f"{page.name}: {page.stat().st_size} bytes"
    assert len(soup.find_all("main")) == 1 and len(soup.find_all("h1")) == 1
    assert soup.find("a", class_="skip")["href"] == "#main"
    for script in soup.find_all("script"):
        assert not script.get("src"), f"{page.name} loads a script: {script.get('src')}"
    text = str(soup).lower()
    assert "require.js" not in text and "mathjax" not in text
    assert not soup.find("link", rel="stylesheet")
    for img in soup.find_all("img"):
        alt = " ".join((img.get("alt") or "").split())
        assert alt.lower().rstrip(".") not in PLACEHOLDER_ALTS, f"{page.name}: alt {alt!r}"
        assert img.find_parent("figure") is not None, f"{page.name}: image outside a figure"
    for fig in soup.find_all("figure"):
        cap = fig.find("figcaption")
        assert cap is not None and cap.get_text(strip=True), f"{page.name}: figure uncaptioned"
    for table in soup.find_all("table"):
        cap = table.find("caption")
        assert cap is not None and cap.get_text(strip=True), \
            f"{page.name}: table without caption: {table.get_text(' ', strip=True)[:80]}"
        for th in table.find_all("th"):
            assert th.get("scope") in ("col", "row", "colgroup", "rowgroup"), page.name
    for word in ("nan", "NaN", "None", "Planted effect"):
        assert not re.search(rf"(?<![\w-]){word}(?![\w-])", soup.get_text(" ")), \
            f"{page.name} shows {word!r}"


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in ("index", "status")])
def test_downloads_and_other_formats_link_to_real_files(site, kind):
    import pandas as pd
    from docx import Document

    page = _page(site, kind)
    soup = _soup(page)
    for a in soup.find_all("a", href=True):
        href = a["href"]
        if href.startswith(("#", "http:", "https:", "mailto:")):
            continue
        target = site / unquote(urlparse(href).path)
        assert target.is_file(), f"{page.name}: link {href} points at nothing"
    csv_links = [a["href"] for a in soup.select(".downloads a[href$='.csv']")]
    assert len(csv_links) >= len(soup.select(".nlc-table")), page.name
    for href in csv_links[:3]:
        frame = pd.read_csv(site / href, dtype=str, keep_default_na=False)
        assert len(frame.columns) >= 1
    # the Word copy: same captions, same alt texts
    docx = Document(str(page.with_suffix(".docx")))
    html_caps = [c.get_text(" ", strip=True) for c in soup.select("main caption")] + \
        [c.get_text(" ", strip=True) for c in soup.select("main figcaption")]
    doc_caps = [p.text for p in docx.paragraphs if p.style.name == "Caption"]
    assert sorted(doc_caps) == sorted(html_caps)
    html_alts = [img.get("alt", "") for img in soup.select("main img")]
    doc_alts = [s._inline.docPr.get("descr") for s in docx.inline_shapes]
    assert doc_alts == html_alts


def test_pdfs_are_a4(site):
    pages = [p for p in site.glob("*.html") if p.name not in ("index.html", "status.html")]
    assert pages
    for page in pages:
        pdf = page.with_suffix(".pdf")
        assert pdf.is_file(), f"no PDF of {page.name}"
        sizes = export.page_sizes(pdf.read_bytes())
        assert sizes and all(abs(w - 595.3) < 2 and abs(h - 841.9) < 2 for w, h in sizes), \
            f"{pdf.name}: {sizes[:3]}"


def test_page_prints_on_a4_by_its_own_stylesheet(site, tmp_path):
    """Chromium's plain print-to-PDF (no page size given) follows the stylesheet's @page."""
    page = _page(site, "cluster")
    out = export.html_to_pdf(page.read_text(encoding="utf-8"), tmp_path / "p.pdf", base=site)
    sizes = export.page_sizes(out.read_bytes())
    assert len(sizes) >= 2
    assert all(abs(w - 595.3) < 2 and abs(h - 841.9) < 2 for w, h in sizes), sizes[:3]


def test_status_page_holds_the_run_log_and_index_does_not(site):
    index, status = _soup(site / "index.html"), _soup(site / "status.html")
    index_heads = [th.get_text(strip=True) for th in index.find_all("th")]
    assert "Time" not in index_heads and "Status" not in index_heads
    assert not index.select(".err") and not index.select(".failed")
    assert "Time (s)" in [th.get_text(strip=True) for th in status.find_all("th")]
    doc = json.loads((site / "manifest.json").read_text())
    names = {r["name"] for r in doc["reports"]}
    linked = {a["href"][:-5] for a in status.select("tbody a[href$='.html']")}
    assert linked == {r["name"] for r in doc["reports"] if r["status"] == "ok"} and linked <= names


def test_school_finder_links_schools_to_their_reports(site, driver):
    index = _soup(site / "index.html")
    rows = index.select("#finder-table tbody tr")
    if not rows:
        pytest.fail("the index has no school finder (run_batch passes schools=...)")
    linked = [r for r in rows if r.find("a")]
    assert linked, "no school links to a report"
    for r in linked:
        for a in r.find_all("a"):
            assert (site / a["href"]).is_file()
    # typing part of a name filters the rows (the script runs in the browser)
    name = linked[0].find("th").get_text(strip=True)
    driver.set_window_size(1280, 900)
    driver.get((site / "index.html").as_uri())
    box = driver.find_element("id", "finder-q")
    box.send_keys(name[:6])
    shown = driver.execute_script(
        "return [...document.querySelectorAll('#finder-table tbody tr')]"
        ".filter(r => !r.hidden).map(r => r.querySelector('th').textContent)")
    assert name in shown and all(name[:6].lower() in s.lower() for s in shown)
    assert len(shown) < len(rows) or all(name[:6].lower() in r.get_text().lower() for r in rows)


def test_docx_of_a_page_is_valid_a4(site):
    from docx import Document
    from docx.shared import Mm

    page = _page(site, "cluster")
    doc = Document(io.BytesIO(page.with_suffix(".docx").read_bytes()))
    sec = doc.sections[0]
    assert abs(sec.page_width - Mm(210)) < Mm(1) and abs(sec.page_height - Mm(297)) < Mm(1)
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    html_heads = [h.get_text(" ", strip=True) for h in _soup(page).select("main h1, main h2")]
    assert [h for h in headings if h in html_heads] == html_heads


def test_one_value_per_school_measure_and_session_across_pages(site):
    """Every registered measure (the column names of ``reports.measures``) has one value per
    school, session and group (a stage or organiser, in a column or the caption) on every page
    of the batch: read back from the published HTML."""
    from collections import defaultdict

    from bs4 import BeautifulSoup

    from nlc_eval.reports.measures import MEASURES

    labels = {m.label for m in MEASURES.values()}
    seen: dict[tuple, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for page in sorted(site.glob("*.html")):
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        for table in soup.find_all("table"):
            cap = table.find("caption")
            sessions = set(re.findall(r"20\d\d/\d\d", cap.get_text(" ") if cap else ""))
            head = table.find("thead")
            if len(sessions) != 1 or head is None:
                continue
            header = [th.get_text(" ", strip=True) for th in head.find_all("tr")[0].find_all("th")]
            if not header or header[0] != "School":
                continue
            for tr in table.find("tbody").find_all("tr"):
                cells = [c.get_text(" ", strip=True) for c in tr.find_all(["th", "td"])]
                if len(cells) != len(header) or cells[0] in ("Total", "All", "Authority"):
                    continue
                # the group: a stage or organiser named in a column or in the caption
                where = tuple(v for h, v in zip(header, cells, strict=True)
                              if h in ("Stage", "Organiser", "Sector")) + tuple(sorted(
                    set(re.findall(r"\b[PS][1-7]\b", cap.get_text(" ")))))
                for h, v in zip(header[1:], cells[1:], strict=True):
                    if h in labels and re.fullmatch(r"[\d,.]+", v):
                        seen[(cells[0], h, *sessions, where)][v].add(page.name)
    assert len(seen) > 100, "the batch's pages should share many school measures"
    clashes = {k: {v: sorted(p) for v, p in vals.items()} for k, vals in seen.items()
               if len(vals) > 1}
    assert not clashes, f"one measure, several values: {dict(list(clashes.items())[:5])}"
