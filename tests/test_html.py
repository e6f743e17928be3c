"""The house template, the index with its school finder, and the status page (no browser)."""

from __future__ import annotations

import base64

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from bs4 import BeautifulSoup  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from IPython.utils.capture import capture_output  # noqa: E402

from nlc_eval.disclosure import suppress  # noqa: E402
from nlc_eval.reports import _html, present  # noqa: E402


def _output(fn, *args, **kwargs):
    """Run a present function and return its display output as a notebook output."""
    InteractiveShell.instance()
    with capture_output() as cap:
        fn(*args, **kwargs)
    (out,) = cap.outputs
    return nbformat.v4.new_output("display_data", data=out.data, metadata=out.metadata)


def _notebook(big_figure: bool = False):
    present.start("cluster-07")
    t = suppress(pd.DataFrame({"Universal": [40, 3, 25], "Additional": [10, 8, 30]},
                              index=pd.Index(["A", "B", "C"], name="School")))
    fig, ax = plt.subplots(figsize=(9 if big_figure else 4, 6 if big_figure else 3))
    if big_figure:                       # noise compresses badly: a PNG of a few hundred KB
        import numpy as np

        ax.imshow(np.random.default_rng(0).random((600, 900)))
    else:
        ax.bar(["A", "C"], [40, 25])
    params = nbformat.v4.new_code_cell("cluster = 'x'")
    params.metadata["tags"] = ["parameters"]
    code = nbformat.v4.new_code_cell("secret_analysis()")
    code.outputs = [
        _output(present.table, t, caption="Supports by level, Cluster 07, 2024/25",
                source="Council supports extract", index=True),
        _output(present.figure, fig, caption="Universal supports by school, 2024/25",
                alt="Bar chart of universal supports in 2024/25: A 40, C 25.",
                source="Council supports extract",
                data=pd.DataFrame({"School": ["A", "C"], "Universal": [40, 25]}),
                dpi=100 if big_figure else 80),
        nbformat.v4.new_output("stream", name="stderr", text="a warning for the analyst"),
        nbformat.v4.new_output("display_data", data={
            "text/html": pd.DataFrame({"x": [1]}).to_html()}),
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [params, nbformat.v4.new_markdown_cell("# Cluster 07: cluster report\n\nText."),
                code]
    return nb


def test_page_is_semantic_and_self_contained():
    page, files = _html.render_page(_notebook(), "Cluster 07",
                                    downloads_href="downloads/cluster-07/",
                                    alternates=[("Word version", "cluster-07.docx")])
    soup = BeautifulSoup(page, "html.parser")
    assert soup.html["lang"] == "en-GB"
    assert soup.find("a", class_="skip")["href"] == "#main"
    assert soup.find("main")["id"] == "main" and len(soup.find_all("h1")) == 1
    nav_links = [a["href"] for a in soup.find("header").find("nav").find_all("a")]
    assert nav_links == ["index.html", "cluster-07.docx"]
    assert not soup.find_all("script") and not soup.find_all("link")
    assert "secret_analysis" not in page and "a warning for the analyst" not in page
    assert "cluster = " not in page
    assert len(soup.find_all("style")) == 1 and len(_html.STYLE) < 8_000
    # present's downloads placeholder became links to the files the page carries
    hrefs = [a["href"] for a in soup.select(".downloads a")]
    assert sorted(h.rsplit("/", 1)[1] for h in hrefs) == sorted(files)
    assert all(h.startswith("downloads/cluster-07/") for h in hrefs)
    assert not soup.select(".nlc-downloads")
    assert files["cluster-07-figure-1.png"][:4] == b"\x89PNG"
    # a table not made by present still gets header scopes and a named scroll region
    legacy = soup.find_all("table")[-1]
    assert all(th.get("scope") in ("col", "row") for th in legacy.find_all("th"))
    region = legacy.find_parent("div", class_="table-scroll")
    assert region["role"] == "region" and region.get("aria-label")


def test_print_rules_in_the_stylesheet():
    css = _html.STYLE
    assert "@page{size:A4" in css
    assert "thead{display:table-header-group}" in css
    assert "break-after:avoid" in css
    assert ":focus-visible{outline:3px" in css


def test_without_downloads_links_are_left_out():
    page, files = _html.render_page(_notebook(), "Cluster 07")
    soup = BeautifulSoup(page, "html.parser")
    assert not soup.select(".downloads a") and not soup.select(".nlc-downloads")
    assert files                           # the files are still returned


def test_large_page_links_its_figures():
    nb = _notebook(big_figure=True)
    page, files = _html.render_page(nb, "Cluster 07", downloads_href="downloads/cluster-07/",
                                    max_bytes=200_000)
    assert len(files["cluster-07-figure-1.png"]) > 200_000
    img = BeautifulSoup(page, "html.parser").find("img")
    assert img["src"] == "downloads/cluster-07/cluster-07-figure-1.png"
    assert len(page.encode()) < 200_000
    # without a downloads folder the figure stays embedded
    page2, _ = _html.render_page(nb, "Cluster 07", max_bytes=200_000)
    src = BeautifulSoup(page2, "html.parser").find("img")["src"]
    assert base64.b64decode(src.split(",", 1)[1]) == files["cluster-07-figure-1.png"]


def _outcomes():
    return [
        {"name": "authority", "kind": "authority", "title": "Authority overview",
         "status": "ok", "headlines": ["Attendance was 90.1%."], "duration_s": 3.2},
        {"name": "cluster-07", "kind": "cluster", "title": "Airdrie Academy", "status": "ok",
         "headlines": [], "duration_s": 2.5},
        {"name": "family-p01", "kind": "family", "title": "Family P01", "status": "ok",
         "headlines": ["Two schools to learn from."], "duration_s": 2.0},
        {"name": "family-p02", "kind": "family", "title": "Family P02", "status": "failed",
         "error": "ValueError: boom", "duration_s": 1.0},
    ]


def test_index_has_finder_and_no_run_log():
    schools = pd.DataFrame({"seed_code": ["1", "2", "3"],
                            "school_name": ["Chapelside Primary", "Airdrie Academy",
                                            "Zed Primary"],
                            "sector": ["primary", "secondary", "primary"],
                            "cluster": ["Cluster 07", "Cluster 07", "Cluster 09"]})

    class Job:
        def __init__(self, name, kind, ident):
            self.name, self.kind, self.ident = name, kind, ident

    jobs = [Job("cluster-07", "cluster", "Cluster 07"), Job("family-p01", "family", "P01"),
            Job("family-p02", "family", "P02")]
    entries, members = _html.school_entries(schools, {"1": "P01", "3": "P02"}, jobs)
    assert [e["school"] for e in entries] == ["Airdrie Academy", "Chapelside Primary",
                                              "Zed Primary"]
    assert entries[1] == {"school": "Chapelside Primary", "sector": "Primary",
                          "cluster": "cluster-07", "family": "family-p01"}
    assert entries[2]["cluster"] is None and members == {
        "family-p01": ["Chapelside Primary"], "family-p02": ["Zed Primary"]}
    page = _html.index_html(_outcomes(), title="Reports", schools=entries,
                            family_members=members)
    soup = BeautifulSoup(page, "html.parser")
    assert soup.find("main") and soup.find("label", attrs={"for": "finder-q"})
    rows = {tr.th.get_text(): [td.get_text() for td in tr.find_all("td")]
            for tr in soup.select("#finder-table tbody tr")}
    assert rows["Chapelside Primary"] == ["Primary", "Airdrie Academy", "Family P01"]
    assert rows["Zed Primary"] == ["Primary", "not published", "not published"]
    links = {a["href"] for a in soup.find_all("a", href=True)}
    assert "family-p02.html" not in links and "family-p01.html" in links
    text = soup.get_text(" ")
    assert "boom" not in text and "failed" not in text and "Planted" not in text
    assert "Schools: Chapelside Primary" in text
    assert not [s for s in soup.find_all("script") if s.get("src")]
    assert "status.html" in links


def test_status_page_lists_every_run():
    soup = BeautifulSoup(_html.status_html(_outcomes(), title="Reports"), "html.parser")
    body = soup.find("tbody").find_all("tr")
    assert len(body) == 4
    cells = {tr.th.get_text(): [td.get_text() for td in tr.find_all("td")] for tr in body}
    assert cells["Family P02"] == ["family", "failed", "1.0", "ValueError: boom"]
    assert cells["Airdrie Academy"][1:3] == ["produced", "2.5"]
    assert soup.find("caption").get_text().startswith("Table 1.")


@pytest.mark.parametrize("kind", ["docx"])
def test_word_copy_keeps_captions_alt_and_marker(kind, tmp_path):
    from docx import Document

    from nlc_eval.reports import export

    page, _ = _html.render_page(_notebook(), "Cluster 07")
    export.html_to_docx(page, tmp_path / "r.docx", title="Cluster 07")
    doc = Document(str(tmp_path / "r.docx"))
    caps = [p.text for p in doc.paragraphs if p.style.name == "Caption"]
    assert caps[0] == "Table 1. Supports by level, Cluster 07, 2024/25"
    assert caps[1].startswith("Figure 1. Universal supports by school, 2024/25.")
    assert doc.inline_shapes[0]._inline.docPr.get("descr") == (
        "Bar chart of universal supports in 2024/25: A 40, C 25.")
    first = doc.tables[0]
    cells = [[c.text for c in row.cells] for row in first.rows]
    soup = BeautifulSoup(page, "html.parser")
    html_cells = [[c.get_text() for c in tr.find_all(["th", "td"])]
                  for tr in soup.find("table").find_all("tr")]
    assert cells == html_cells and any("c" in row for row in cells)
    assert first.rows[0]._tr.trPr.xpath("./w:tblHeader")
