"""Publishing primitives: captions, header scopes, suppression marker, downloads, figures."""

from __future__ import annotations

import base64
import io
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import openpyxl  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from bs4 import BeautifulSoup  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from IPython.utils.capture import capture_output  # noqa: E402

from nlc_eval.disclosure import FOOTNOTE, suppress  # noqa: E402
from nlc_eval.errors import ReportError  # noqa: E402
from nlc_eval.reports import present  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh():
    present.start("test-report")
    yield


def _soup(html):
    return BeautifulSoup(html, "html.parser")


def _counts():
    t = pd.DataFrame({"Universal": [40, 3, 25, 12], "Additional": [10, 8, 2, 30]},
                     index=pd.Index(["School A", "School B", "School C", "School D"],
                                    name="School"))
    return suppress(t, threshold=5)


def _captured(fn, *args, **kwargs):
    InteractiveShell.instance()
    with capture_output() as cap:
        fn(*args, **kwargs)
    assert len(cap.outputs) == 1
    out = cap.outputs[0]
    return out.data, out.metadata


def test_caption_numbering_and_scopes():
    df = pd.DataFrame({"School": ["A", "B"], "Attendance (%)": [91.25, 88.0]})
    h1 = present.table_html(df, caption="Attendance, 2024/25", source="Council extract")
    h2 = present.table_html(df, caption="Attendance again.", source="Council extract")
    s1, s2 = _soup(h1), _soup(h2)
    assert s1.find("caption").get_text() == "Table 1. Attendance, 2024/25"
    assert s2.find("caption").get_text() == "Table 2. Attendance again"
    assert [th["scope"] for th in s1.find("thead").find_all("th")] == ["col", "col"]
    body_rows = s1.find("tbody").find_all("tr")
    assert [r.find("th")["scope"] for r in body_rows] == ["row", "row"]
    assert [r.find("th").get_text() for r in body_rows] == ["A", "B"]
    assert [td.get_text() for td in s1.find("tbody").find_all("td")] == [f"{91.25:.1f}", "88.0"]
    # no pandas row numbers
    assert "0" not in [c.get_text() for c in s1.find_all(["th", "td"])]
    present.start("other")
    h3 = present.table_html(df, caption="Reset", source="x")
    assert _soup(h3).find("caption").get_text().startswith("Table 1.")


def test_suppressed_cells_and_footnote_only_when_hidden():
    t = _counts()
    hidden = {(c["row"], c["column"]) for c in t.attrs["disclosure"]["cells"]}
    assert hidden, "the fixture must hide something"
    html = present.table_html(t, caption="Supports by level, Cluster 1, 2024/25",
                              source="Council supports extract", index=True)
    soup = _soup(html)
    header = [th.get_text() for th in soup.find("thead").find_all("th")]
    rows = {tr.find("th").get_text(): [td.get_text() for td in tr.find_all("td")]
            for tr in soup.find("tbody").find_all("tr")}
    for (row, col) in hidden:
        assert rows[row][header.index(col) - 1] == "c"
    # every visible count is >= 5 (or 0) and equals the table's value
    for row, cells in rows.items():
        for col, text in zip(header[1:], cells, strict=True):
            if text != "c":
                assert int(text.replace(",", "")) == int(t.loc[row, col])
    footnote = FOOTNOTE.format(threshold=5)
    assert footnote in soup.get_text()
    clean = pd.DataFrame({"School": ["A"], "Pupils": [120]})
    assert footnote not in _soup(present.table_html(clean, caption="No hidden cells",
                                                    source="x")).get_text()


def test_numbers_years_and_missing():
    df = pd.DataFrame({"Year": [2021.0, 2022.0], "Pupils": [12345, 678],
                       "Rate (%)": [np.nan, 7.94e13], "Flag": [True, False]})
    cells = [td.get_text() for td in _soup(present.table_html(
        df, caption="c", source="x", row_header=False)).find("tbody").find_all("td")]
    assert cells == ["2021", "12,345", "c", "Yes", "2022", "678", "79,400,000,000,000.0",
                     "No"]
    neg = pd.DataFrame({"Gap (points)": [-0.04, -0.06, 0.0]})
    cells = [td.get_text() for td in _soup(present.table_html(
        neg, caption="c", source="x", row_header=False)).find("tbody").find_all("td")]
    assert cells == ["0.0", "-0.1", "0.0"]                 # no "-0.0"
    with pytest.raises(ReportError, match="raw column name"):
        present.table_html(pd.DataFrame({"simd_q1_share": [1.0]}), caption="x", source="y")
    with pytest.raises(ReportError, match="caption"):
        present.table_html(df, caption="  ", source="y")
    with pytest.raises(ReportError, match="source"):
        present.table_html(df, caption="x", source="")


def test_display_carries_downloads_of_exactly_the_shown_cells(tmp_path):
    present.start("cluster-07", downloads=tmp_path)
    t = _counts()
    data, meta = _captured(present.table, t, caption="Supports by level", index=True,
                           source="Council supports extract", notes=["Aug-Dec 2024"])
    soup = _soup(data["text/html"])
    files = meta["nlc_eval"]["files"]
    assert set(files) == {"cluster-07-table-1.csv", "cluster-07-table-1.xlsx"}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)
    spec = soup.find("p", class_="nlc-downloads")["data-nlc-downloads"]
    assert "cluster-07-table-1.csv|Table 1 as CSV" in spec
    # the HTML table read by pandas' own parser equals the CSV and the workbook
    shown = pd.read_html(io.StringIO(str(soup.find("table"))), keep_default_na=False)[0]
    shown = shown.astype(str)
    csv = pd.read_csv(io.BytesIO(base64.b64decode(files["cluster-07-table-1.csv"])),
                      dtype=str, keep_default_na=False)
    wb = openpyxl.load_workbook(io.BytesIO(base64.b64decode(files["cluster-07-table-1.xlsx"])))
    ws = wb["Table"]
    xl = [[("" if v is None else str(v)) for v in row] for row in ws.iter_rows(values_only=True)]
    assert list(csv.columns) == list(shown.columns) == xl[0]
    for i in range(len(shown)):
        html_row = [v.replace(",", "") for v in shown.iloc[i]]
        assert list(csv.iloc[i]) == html_row
        assert xl[i + 1] == html_row
    notes = [r[0] for r in wb["Notes"].iter_rows(values_only=True)]
    assert "Table 1. Supports by level" in notes and "Source: Council supports extract" in notes
    assert any(str(n).startswith("c: ") for n in notes)


def test_figure_alt_caption_data_and_files():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.bar(["A", "B"], [91, 88])
    data = pd.DataFrame({"School": ["A", "B"], "Attendance (%)": [91.0, 88.0]})
    out, meta = _captured(present.figure, ax, caption="Attendance by school, 2024/25",
                          alt="Bar chart of attendance in 2024/25: A 91%, B 88%.",
                          source="Council attendance extract", data=data)
    assert not plt.fignum_exists(fig.number)
    soup = _soup(out["text/html"])
    fig_el = soup.find("figure")
    img = fig_el.find("img")
    assert img["alt"] == "Bar chart of attendance in 2024/25: A 91%, B 88%."
    assert img["src"].startswith("data:image/png;base64,")
    png = base64.b64decode(img["src"].split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig_el.find("figcaption").get_text() == (
        "Figure 1. Attendance by school, 2024/25. Source: Council attendance extract.")
    details = fig_el.find("details")
    assert details.find("table").find("caption").get_text().startswith("Data behind figure 1")
    files = meta["nlc_eval"]["files"]
    assert set(files) == {"test-report-figure-1.png", "test-report-figure-1.svg",
                          "test-report-figure-1-data.csv"}
    assert base64.b64decode(files["test-report-figure-1.svg"]).lstrip().startswith(b"<?xml")
    assert present.state()["figures"] == 1 and present.state()["tables"] == 0


@pytest.mark.parametrize("alt", ["", "Image", "No description has been provided for this image",
                                 "a chart"])
def test_figure_refuses_placeholder_alt(alt):
    fig, ax = plt.subplots()
    with pytest.raises(ReportError, match="alt text"):
        present.figure_html(fig, caption="x", alt=alt, source="y",
                            data=pd.DataFrame({"A": [1]}))
    plt.close(fig)


def test_paragraph_and_heading_refuse_nan():
    data, _ = _captured(present.paragraph, "Attendance rose to 91% in 2024/25 & more.")
    assert data["text/html"] == "<p>Attendance rose to 91% in 2024/25 &amp; more.</p>"
    with pytest.raises(ReportError, match="missing value"):
        present.paragraph("Attendance was nan%.")
    with pytest.raises(ReportError, match="level"):
        present.heading("x", 7)
    data, _ = _captured(present.heading, "Who the cluster is", 2)
    assert data["text/html"] == "<h2>Who the cluster is</h2>"


def test_numbers_print_at_the_decimals_given_and_years_stay_years():
    df = pd.DataFrame({"Cluster": ["A", "B"], "Session": [2023, 2024],
                       "Support session attendance %": [86.0, 90.66667],
                       "Effect (points)": [0.5, -0.00001]})
    soup = _soup(present.table_html(df, caption="Rates, 2024/25", source="Council extract",
                                    decimals={"Effect (points)": 2}))
    rows = [[td.get_text() for td in tr.find_all(["th", "td"])]
            for tr in soup.find("tbody").find_all("tr")]
    # a whole-number rate keeps its decimal although its heading names sessions
    assert rows == [["A", "2023", "86.0", "0.50"], ["B", "2024", "90.7", "0.00"]]


@pytest.mark.parametrize("text", [
    "Attendance was n/a in 2024/25.", "The gap is N/A.", "Attendance was c% in 2024/25.",
    "c pupils were supported.", "The rate (c) is hidden.", "Attendance: c.",
    "Primary School 001 c, inside the limits."])
def test_paragraph_refuses_n_a_and_the_marker_naming_the_sentence(text):
    with pytest.raises(ReportError) as err:
        present.paragraph(text)
    message = str(err.value)
    assert text[:20] in message
    assert ("'n/a'" in message) or ("suppression marker 'c'" in message)
    with pytest.raises(ReportError):
        present.heading(text, 2)


@pytest.mark.parametrize("text", [
    "Hidden cells are marked c in the tables.", 'Hidden cells are shown as "c".',
    "c: confidential, fewer than 5 pupils.", "P1, P4 and S3 pupils; c-suffix words.",
    "Care-experienced learners (CEL) and the school's n/as-is plan: none hidden.",
    "Numbers like 3c or c2 are not the marker; nor is the word can."])
def test_paragraph_allows_words_that_are_not_the_marker(text):
    data, _ = _captured(present.paragraph, text)
    assert data["text/plain"] == text


def test_a_large_figure_is_reduced_to_be_embedded():
    rng = np.random.default_rng(0)
    fig, axes = plt.subplots(4, 2, figsize=(8, 11))
    for ax in axes.flat:
        ax.scatter(rng.uniform(0, 100, 150), rng.uniform(0, 100, 150), s=30,
                   facecolor="none", edgecolor="#12436D")
        ax.plot(np.linspace(1, 100), 50 + 40 / np.sqrt(np.linspace(1, 100)), "--")
    full = io.BytesIO()
    fig.savefig(full, format="png", dpi=100, bbox_inches="tight")
    assert len(full.getvalue()) > present.MAX_EMBEDDED_PNG   # the test needs a large one
    html = present.figure_html(fig, caption="Many panels, 2024/25",
                               alt="Eight scatter panels of random points with a curve",
                               source="Test", data=pd.DataFrame({"A": [1.0]}))
    img = _soup(html).find("img")
    assert img["src"].startswith("data:image/png;base64,")
    png = base64.b64decode(img["src"].split(",", 1)[1])
    assert len(png) <= present.MAX_EMBEDDED_PNG
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        assert im.mode == "P" and im.size[0] > 500
    small = present._embeddable_png(b"x" * 10)
    assert small == b"x" * 10                           # small enough: unchanged
    fig, ax = plt.subplots()
    ax.plot([1, 2], [1, 2])
    tiny = io.BytesIO()
    fig.savefig(tiny, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    assert len(tiny.getvalue()) <= present.PALETTE_FROM
    assert present._embeddable_png(tiny.getvalue()) == tiny.getvalue()


def test_a_column_of_long_text_keeps_a_readable_width():
    """A column with a cell of over ``LONG_TEXT`` characters (a family's members) is marked
    ``text``, which the stylesheet gives a minimum width: on a phone the table scrolls
    sideways instead of a row growing a screen tall. Short text and numbers are not marked."""
    from nlc_eval.reports import _html

    present.start("t")
    members = "; ".join(f"School number {i} Primary School" for i in range(8))
    df = pd.DataFrame({"Family": ["P01", "P02"], "Schools": [8, 6],
                       "Members": [members, "A; B"]}).set_index("Family")
    soup = _soup(present.table_html(df, caption="Families, 2024/25", source="x"))
    head = {th.get_text(): th.get("class") or [] for th in soup.find("thead").find_all("th")}
    assert head["Members"] == ["text"] and "text" not in head["Schools"]
    for tr in soup.find("tbody").find_all("tr"):
        cells = tr.find_all(["th", "td"])
        assert "text" in (cells[-1].get("class") or [])                  # Members
        assert not any("text" in (c.get("class") or []) for c in cells[:-1])
    assert re.search(r"\.text\{min-width:\d", _html.STYLE)
