"""The comparison page as an officer reads it: the summary quotes its tables as printed, the
words about schools without a comparator match the table, no "(s)" plurals, and the
synthetic control's diagnostics sit in the technical appendix, not in "In short"."""

from __future__ import annotations

import re
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from bs4 import BeautifulSoup  # noqa: E402
from test_compare import make_panel  # noqa: E402

from nlc_eval import compare, plots  # noqa: E402
from nlc_eval import compare_report as cr  # noqa: E402
from nlc_eval.reports import present  # noqa: E402
from nlc_eval.reports.sections import comparison  # noqa: E402
from nlc_eval.synthetic_control import authority_synthetic_control  # noqa: E402

NUM = r"[-+]?\d[\d,]*(?:\.\d+)?"
GAP = re.compile(rf"In (\d{{4}}/\d\d), .*? were on average ({NUM}) points (above|below) their "
                 rf"virtual comparators on (.+?) \(95% interval ({NUM}) to ({NUM})\)")
DID = re.compile(rf"the difference in (.+?) between the .*? changed by ({NUM}) percentage "
                 rf"points \(95% interval ({NUM}) to ({NUM})\)")


def _cells(data: pd.DataFrame, *, decimals, missing: str = "not available",
           index: bool = True) -> dict[tuple, dict[str, str]]:
    """A table's cells as the page prints them: {row headers: {column: text}}."""
    present.start("test")
    html = present.table_html(data, caption="Table", source="Test", index=index,
                              missing=missing, decimals=decimals)
    soup = BeautifulSoup(html, "html.parser")
    heads = [th.get_text() for th in soup.find("thead").find_all("th")]
    n_index = data.index.nlevels if index else 0
    out = {}
    for tr in soup.find("tbody").find_all("tr"):
        texts = [c.get_text() for c in tr.find_all(["th", "td"])]
        out[tuple(texts[:n_index])] = dict(zip(heads[n_index:], texts[n_index:], strict=True))
    return out


def _table_cells(table) -> dict[tuple, dict[str, str]]:
    return _cells(table.data, decimals=table.decimals, missing=table.missing,
                  index=table.index)


def _figure_cells(figure) -> dict[tuple, dict[str, str]]:
    data = plots.figure_table(figure.data, figure.plot, figure.kwargs)
    return _cells(data, decimals=figure.decimals, missing=present.MARKER)


def _bare(text: str) -> str:
    return text.lstrip("+")


def _stub(outcomes=("attendance_rate", "unauthorised_absence_rate")):
    return SimpleNamespace(authority="Home", baseline_year=2019, k=5, outcomes=list(outcomes))


def _gaps(rows) -> pd.DataFrame:
    return pd.DataFrame([{"outcome": o, "year": y, "sector": "all", "estimate": e,
                          "ci_low": lo, "ci_high": hi, "n_schools": 153}
                         for o, y, e, lo, hi in rows])


# the published case: an upper bound of -0.003 printed as 0.00 read as including zero
NEAR_ZERO = _gaps([
    ("attendance_rate", 2019, -0.41, -0.95, 0.12),
    ("attendance_rate", 2023, -1.23, -1.80, -0.66),
    ("attendance_rate", 2024, -0.716, -1.429, -0.003),
    ("unauthorised_absence_rate", 2019, 1.52, 0.81, 2.23),
    ("unauthorised_absence_rate", 2024, 2.4, 1.3, 3.5),
])


# ---------------------------------------------------------------------------
# one precision per measure: summary, table and figure
# ---------------------------------------------------------------------------


def _check_summary_quotes_table(cmp, gaps: pd.DataFrame) -> int:
    text = cr.narrative(cmp, gaps, {}, None)
    sec = comparison.gaps(cmp, gaps)
    cells = _table_cells(sec.tables["gaps"])
    found = 0
    for m in GAP.finditer(text):
        session, est, _, label, lo, hi = m.groups()
        measure = label[:1].upper() + label[1:]
        row = cells[(measure, session)]
        assert (est, _bare(lo), _bare(hi)) == (
            row["Difference from comparator (points)"].lstrip("-"),
            row["95% interval from"], row["95% interval to"]), (m.group(0), row)
        found += 1
    return found


def test_gap_sentences_quote_the_table_at_one_precision_per_measure():
    assert _check_summary_quotes_table(_stub(), NEAR_ZERO) == 2
    cells = _table_cells(comparison.gaps(_stub(), NEAR_ZERO).tables["gaps"])
    att = cells[("Attendance rate (%)", "2023/24")]
    assert (att["Difference from comparator (points)"], att["95% interval from"],
            att["95% interval to"]) == ("-0.716", "-1.429", "-0.003")
    # every attendance row at the same decimals; absence at its own
    for (measure, _), row in cells.items():
        want = 3 if measure.startswith("Attendance") else 2
        for col in ("Difference from comparator (points)", "95% interval from",
                    "95% interval to"):
            assert len(row[col].split(".")[1]) == want, (measure, col, row[col])


def test_an_interval_that_excludes_zero_never_prints_a_zero_bound():
    cells = _table_cells(comparison.gaps(_stub(), NEAR_ZERO).tables["gaps"])
    for (measure, session), row in cells.items():
        g = NEAR_ZERO.loc[(NEAR_ZERO["year"].map(lambda y: f"{y - 1}/{str(y)[-2:]}")
                           == session)
                          & NEAR_ZERO["outcome"].map(comparison._measure).eq(measure)].iloc[0]
        if g["ci_low"] > 0 or g["ci_high"] < 0:
            for col in ("95% interval from", "95% interval to"):
                assert float(row[col]) != 0, (measure, session, row)
    text = cr.narrative(_stub(), NEAR_ZERO, {}, None)
    assert "to 0.00)" not in text and "to -0.00)" not in text
    assert "worse than schools like them elsewhere" in text


def test_figure_data_prints_attendance_at_its_sentence_decimals():
    sec = comparison.gaps(_stub(), NEAR_ZERO)
    table = _table_cells(sec.tables["gaps"])
    fig = _figure_cells(sec.figures["attendance"])
    assert fig
    for (session,), row in fig.items():
        t = table[("Attendance rate (%)", session)]
        assert row["Difference from comparator (points)"] == t[
            "Difference from comparator (points)"]
        assert row["95% interval from"] == t["95% interval from"]
        assert row["95% interval to"] == t["95% interval to"]


@pytest.fixture(scope="module")
def page():
    """A comparison of the planted panel with one school that opened after 2019."""
    panel = make_panel(n_per_la=12, planted={2021: -0.7, 2023: -0.7, 2024: -0.7})
    extra = panel.loc[(panel["local_authority"] == "Home") & (panel["year"] >= 2022)].copy()
    extra = extra.loc[extra["seed_code"] == extra["seed_code"].iloc[0]]
    extra["seed_code"] = "9999999"
    panel = pd.concat([panel, extra], ignore_index=True)
    cmp = compare.compare_authority(panel, "Home", k=3)
    gaps = cmp.gaps(by_sector=True)
    did, dids = cr.did_table(cmp, 2019, 2024)
    sc = authority_synthetic_control(panel, "Home", pre_period_end=2021)
    sections = {
        "who": comparison.schools_compared(cmp, panel),
        "gaps": comparison.gaps(cmp, gaps),
        "did": comparison.change(cmp, did),
        "synth": comparison.synthetic_control(sc, cmp.authority),
        "sources": comparison.comparator_sources(cmp),
        "appendix": comparison.appendix(cmp),
    }
    return SimpleNamespace(panel=panel, cmp=cmp, gaps=gaps, did=did, dids=dids, sc=sc,
                           summary=cr.narrative(cmp, gaps, dids, sc), sections=sections)


def test_real_comparison_summary_quotes_its_tables(page):
    assert _check_summary_quotes_table(page.cmp, page.gaps) == 2


def test_change_sentences_quote_the_change_table(page):
    cells = _table_cells(page.sections["did"].tables["did"])
    found = 0
    for m in DID.finditer(page.summary):
        label, est, lo, hi = m.groups()
        row = cells[(label[:1].upper() + label[1:],)]
        assert (_bare(est), _bare(lo), _bare(hi)) == (
            row["Change in the difference (points)"], row["95% interval from"],
            row["95% interval to"]), (m.group(0), row)
        found += 1
    assert found == len(page.dids) == 2
    fig = _figure_cells(page.sections["did"].figures["did"])
    for (label,), row in fig.items():
        measure = label.split(",")[0]
        assert row["Change (points)"] == cells[(measure,)]["Change in the difference (points)"]


# ---------------------------------------------------------------------------
# schools without a comparator
# ---------------------------------------------------------------------------


def test_words_about_schools_without_a_comparator_match_the_table(page):
    sec = page.sections["who"]
    cells = _table_cells(sec.tables["overview"])
    total = cells[("Total",)]
    later = int(total["Opened after 2019 or new code, not compared"])
    in_census = int(total["In the 2019 census, not compared"])
    assert (later, in_census) == (1, 0)
    assert int(total["Schools in the 2019 census"]) - int(total["Compared"]) == in_census
    assert later + in_census == len(page.cmp.unmatched)
    text = " ".join(sec.sentences)
    assert "1 school opened after 2019" in text and "it has no virtual comparator" in text
    assert "in the 2019 census has no" not in text and "census have no" not in text
    # the summary no longer says it in other words
    assert "school(s)" not in page.summary


@pytest.mark.parametrize(("in_census", "later", "want", "unwanted"), [
    (0, 1, ["1 school opened after 2019", "it has no virtual comparator and is not"],
     ["schools opened", "census ha"]),
    (0, 3, ["3 schools opened after 2019", "they have no virtual comparator and are not"],
     ["1 school", "census ha"]),
    (1, 0, ["1 school in the 2019 census has no virtual comparator"], ["opened"]),
    (2, 2, ["2 schools opened after 2019", "2 schools in the 2019 census have no"], []),
    (0, 0, ["Every school of the authority in the 2019 census is compared."], ["opened"]),
])
def test_not_compared_words_count_in_the_singular_and_plural(in_census, later, want,
                                                              unwanted):
    text = cr.not_compared_words(in_census, later, 2019)
    for w in want:
        assert w in text, text
    for w in unwanted:
        assert w not in text, text
    assert "(s)" not in text


# ---------------------------------------------------------------------------
# no "(s)" anywhere; diagnostics only in the appendix
# ---------------------------------------------------------------------------


def _page_text(page) -> str:
    parts = [page.summary]
    for sec in page.sections.values():
        parts += [*sec.sentences, *sec.notes]
        for t in sec.tables.values():
            parts += [t.caption, *t.notes]
            for key, row in _table_cells(t).items():
                parts += [*key, *row, *row.values()]
        for f in sec.figures.values():
            parts.append(f.caption)
    return "\n".join(parts)


def test_no_bracketed_plurals_on_the_page(page):
    text = _page_text(page)
    assert "(s)" not in text, [line for line in text.splitlines() if "(s)" in line]
    assert "pre-period years" in text


def test_in_short_has_one_plain_sentence_and_the_appendix_has_the_numbers(page):
    summary = page.summary
    for word in ("RMSPE", "placebo", "fit ratio", "donor"):
        assert word.lower() not in summary.lower(), word
    plain = [line for line in summary.splitlines() if "Taken as a whole" in line]
    assert len(plain) == 1
    (appendix,) = page.sections["synth"].sentences
    assert "RMSPE" in appendix and "placebo" in appendix
    # the same average gap, at the decimals of the appendix's table
    m = re.search(rf"by ({NUM}) points on average", appendix)
    cells = _table_cells(page.sections["synth"].tables["effect"])
    effect = cells[("Average post-period gap",)]["Effect (points)"]
    assert _bare(m.group(1)) == effect
    assert f"{effect.lstrip('-')} points {'below' if effect.startswith('-') else 'above'}" \
        in plain[0]
    # how sure, in words that follow the placebo p-value
    if page.sc.p_value > cr.CLEAR_P:
        assert "not clear evidence" in plain[0]
    else:
        assert "unlikely to be chance alone" in plain[0]


@pytest.mark.parametrize(("p", "words"), [(0.97, "not clear evidence"),
                                          (1 / 32, "unlikely to be chance alone")])
def test_synthetic_summary_follows_the_p_value(page, p, words):
    sc = SimpleNamespace(**{k: getattr(page.sc, k) for k in (
        "outcome", "post_years", "effect", "ci_low", "ci_high", "intercept", "treated")},
        p_value=p)
    text = cr.synthetic_summary(sc)
    assert words in text and "placebo" not in text.lower()
    assert np.isfinite(page.sc.effect)
