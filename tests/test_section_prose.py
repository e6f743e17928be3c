"""Sentences of the report sections: no suppression marker, one precision per measure.

Sections are built from the synthetic authority (and, for the impact estimates, from
effects tables made here with hidden rows and small effects). The sentences are checked
for markers, missing values and empty stubs; and every number a sentence quotes for a
measure is checked against the same measure's cell as the page's table prints it
(``present.table_html``, parsed).
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from bs4 import BeautifulSoup  # noqa: E402
from test_narrative import no_marker  # noqa: E402

from nlc_eval.errors import ReportError  # noqa: E402
from nlc_eval.reports import measures, present  # noqa: E402
from nlc_eval.reports.sections import cluster, family, formation, tracking  # noqa: E402
from nlc_eval.reports.sections._common import Section, Table  # noqa: E402

lab = measures.label
NUM = r"[-+]?\d[\d,]*(?:\.\d+)?"


@pytest.fixture(scope="module")
def ctx():
    with pytest.MonkeyPatch.context() as mp:   # the synthetic estate, whatever the machine
        mp.delenv("NLC_EVAL_OFFICIAL_DATA", raising=False)
        from nlc_eval.reports.context import build_context

        return build_context(None, None, seed=0, families=False, models=False)


def _cells(table) -> dict[tuple, dict[str, str]]:
    """The cells of a section's table as the page prints them: {row headers: {column: text}}."""
    present.start("test")
    html = present.table_html(table.data, caption="Table", source="Test", index=table.index,
                              missing=table.missing, decimals=table.decimals)
    soup = BeautifulSoup(html, "html.parser")
    heads = [th.get_text() for th in soup.find("thead").find_all("th")]
    n_index = table.data.index.nlevels if table.index else 0
    out = {}
    for tr in soup.find("tbody").find_all("tr"):
        texts = [c.get_text() for c in tr.find_all(["th", "td"])]
        out[tuple(texts[:n_index])] = dict(zip(heads[n_index:], texts[n_index:], strict=True))
    return out


def _sentences(sec: Section) -> list[str]:
    return [no_marker(s) for s in [*sec.sentences, *sec.notes] if s]


def _significant(text: str) -> int:
    digits = text.lstrip("+-").replace(",", "").replace(".", "").lstrip("0")
    return len(digits)


# ---------------------------------------------------------------------------
# Effects tables made here: a hidden row, small effects, missing intervals
# ---------------------------------------------------------------------------

def _effects(cluster_id: str, rng: np.random.Generator, *, cluster_n: int = 111,
             authority_ci: bool = True) -> pd.DataFrame:
    est = np.round(rng.normal(0, 1.5, 4) * rng.choice([1, 0.1, 0.01], 4), 6)
    half = np.abs(rng.normal(0.6, 0.4, 4)) * rng.choice([1, 0.1], 4) + 1e-3
    low, high = est - half, est + half
    if not authority_ci:
        low[0] = high[0] = np.nan
    return pd.DataFrame({
        "scope": ["authority", "level", "level", "cluster"],
        "label": ["authority", "universal", "additional", cluster_id],
        "level": ["all", "universal", "additional", "all"],
        "estimate": est, "ci_low": low, "ci_high": high,
        "n_treated": pd.array([6944, 3473, 3, cluster_n], dtype="Int64"),
        "n_control": pd.array([54433] * 4, dtype="Int64")})


def _impact(ctx, effects: pd.DataFrame, cluster_id: str) -> Section:
    ctx.models = {"effects": effects}
    try:
        return cluster.impact(ctx, cluster_id)
    finally:
        ctx.models = {}


_EFFECT = re.compile(rf"attendance ({NUM}) percentage points (higher|lower) than comparable "
                     rf"learners not yet supported \(95% interval ({NUM}) to ({NUM})\)|"
                     rf"difference ({NUM}) percentage points, 95% interval ({NUM}) to "
                     rf"({NUM})")


def _impact_mismatches(sec: Section, cid: str) -> list[str]:
    """Effects a sentence quotes differently from the effects table as printed."""
    cells = _cells(sec.tables["effects"])
    quoted = {}
    for s in _sentences(sec):
        m = _EFFECT.search(s)
        if m is None:
            continue
        row = (f"{cid}, all supports",) if s.startswith(f"In {cid},") else (
            "All supports, authority",)
        if m.group(1):
            est = ("-" if m.group(2) == "lower" else "") + m.group(1)
            quoted[row] = (est, m.group(3), m.group(4))
        else:
            quoted[row] = (m.group(5), m.group(6), m.group(7))
    assert ("All supports, authority",) in quoted and (f"{cid}, all supports",) in quoted
    out = []
    for row, q in quoted.items():
        shown = tuple(cells[row][c] for c in cluster.EFFECT_COLUMNS)
        if q != shown:
            out.append(f"{row}: sentence {q}, table {shown}")
    head = cluster.headline_effect(sec)
    m = re.search(rf"({NUM}) percentage points .*95% interval ({NUM}) to ({NUM})", head)
    shown = tuple(cells[(f"{cid}, all supports",)][c] for c in cluster.EFFECT_COLUMNS)
    if (m.group(1).lstrip("+"), m.group(2), m.group(3)) != shown:
        out.append(f"headline {head!r}, table {shown}")
    return out


@pytest.mark.parametrize("seed", range(8))
def test_impact_sentences_quote_the_effects_table_as_printed(ctx, seed):
    cid = ctx.clusters[seed % len(ctx.clusters)]
    sec = _impact(ctx, _effects(cid, np.random.default_rng(seed)), cid)
    assert _impact_mismatches(sec, cid) == []
    # one precision for the measure: every printed cell has the same decimals, and each
    # shown estimate keeps two significant figures
    cells = _cells(sec.tables["effects"])
    cols = cluster.EFFECT_COLUMNS
    decimals = {len(t.split(".")[1]) if "." in t else 0 for r in cells.values()
                for c in cols for t in [r[c]] if t != "c"}
    assert len(decimals) == 1, cells
    for r in cells.values():
        if r[cols[0]] != "c" and float(r[cols[0]].replace(",", "")) != 0:
            assert _significant(r[cols[0]]) >= 2, r
    # the figure's data table and alt text print the measure at the same decimals
    assert sec.figures["forest"].decimals == sec.tables["effects"].decimals


def test_the_precision_check_can_fail(ctx):
    # the table at one decimal against sentences at two significant figures: caught
    cid = ctx.clusters[0]
    eff = _effects(cid, np.random.default_rng(0))
    eff[["estimate", "ci_low", "ci_high"]] = [[1.33, 1.12, 1.54], [0.66, 0.43, 0.9],
                                              [0.2, 0.1, 0.3], [0.5, 0.1, 0.9]]
    sec = _impact(ctx, eff, cid)
    assert _impact_mismatches(sec, cid) == []
    sec.tables["effects"].decimals = 1
    assert _cells(sec.tables["effects"])[(f"{cid}, all supports",)][lab("effect")] == "0.5"
    assert "attendance 0.50 percentage points higher" in sec.sentences[0]
    assert len(_impact_mismatches(sec, cid)) == 3    # both sentences and the headline


def test_impact_with_hidden_or_missing_figures_says_so(ctx):
    cid = ctx.clusters[0]
    sec = _impact(ctx, _effects(cid, np.random.default_rng(1), cluster_n=3,
                                authority_ci=False), cid)
    text = " ".join(_sentences(sec))
    assert f"No estimate for {cid} is shown: fewer than 5 learners" in text
    assert "95% interval not available" in text
    assert _cells(sec.tables["effects"])[(f"{cid}, all supports",)][lab("effect")] == "c"
    assert sec.results["cluster_effect"] is None
    no_marker(cluster.headline_effect(sec))


# ---------------------------------------------------------------------------
# Dashboard, drivers, gaps and who: every cluster of the synthetic authority
# ---------------------------------------------------------------------------

def test_dashboard_sentences_quote_the_table_and_say_what_is_hidden(ctx):
    seen_hidden = 0
    for cid in ctx.clusters:
        sec = tracking.dashboard(ctx, cid)
        (text,) = _sentences(sec)
        cells = _cells(sec.tables["supports"])[(cid,)]
        att = cells[lab("support_attendance")]
        succ = cells[lab("success_pct")]
        for value, words in ((att, "of planned support sessions were attended"),
                             (succ, "of the supports that ended did so successfully")):
            if value == "c":
                assert words not in text, text
            else:
                assert f"{value}% {words}" in text, (value, text)
        learners = cells[lab("learners_supported")]
        assert (f"{learners} learners were supported" in text) == (learners != "c"), text
        hidden = [v for v in (att, succ, learners) if v == "c"]
        if hidden:
            seen_hidden += 1
            last = text.split(". ")[-1]
            assert "not shown" in last and "%" not in last, text
    assert seen_hidden, "no cluster with a hidden dashboard figure: the test saw none"


def test_dashboard_sentence_with_every_figure_hidden(ctx):
    summary = tracking._summary(ctx, Section())
    s = summary.copy()
    row = ctx.clusters[0]
    for c in ("learners", "sessions_planned", "attendance_pct", "success_pct"):
        s.loc[row, c] = np.nan
    s.attrs = summary.attrs
    text = no_marker(tracking.dashboard_sentence(s, row, row))
    assert text.count("not shown") >= 1 and "learners were supported" not in text
    assert no_marker(tracking.dashboard_sentence(s, "Cluster 99", "Cluster 99")).endswith(
        "no learners were supported in Cluster 99.")


def test_driver_sentences_quote_the_drivers_table(ctx):
    pairs = (("attendance", lab("pupil_attendance")),
             ("share of pupils on track in literacy", lab("literacy_pct")),
             ("share of pupils on track in numeracy", lab("numeracy_pct")),
             ("exclusion incidents per 1,000 pupils", lab("exclusions_per_1000")))
    for cid in ctx.clusters[:6]:
        sec = tracking.drivers(ctx, cid)
        sentences = _sentences(sec)
        cells = _cells(sec.tables["drivers"])
        for what, heading in pairs:
            s = next(x for x in sentences if x.startswith(f"{cid}'s {what} "))
            mine, auth = cells[(heading,)][cid], cells[(heading,)]["Authority"]
            if mine == "c":
                assert "not shown" in s, s
                continue
            assert f"({mine})" in s, (mine, s)
            if "the same as" not in s:
                assert f"authority's ({auth})" in s, (auth, s)
    assert "authority's is not available" in no_marker(
        tracking._compare("C", "attendance", 90.0, None, "percentage points", True))
    assert "not shown" in no_marker(
        tracking._compare("C", "attendance", None, 90.0, "percentage points", True))


def test_gap_sentences_quote_the_gap_table(ctx):
    checked = 0
    for cid in ctx.clusters:
        sec = tracking.gaps(ctx, cid)
        table = sec.tables["gaps"]
        cells = _cells(table)
        last = max(s for _, s in table.data.index)
        for heading, what in (("Attendance %", "attendance"),
                              ("Literacy on track %", "literacy (share on track)"),
                              ("Numeracy on track %", "numeracy (share on track)")):
            s = next(x for x in _sentences(sec) if f"the {what} gap" in x)
            row = cells[(heading, last)]
            if row["Gap (points)"] == "c":
                assert "not shown" in s, s
                continue
            m = re.search(rf"is ({NUM}) percentage points \(95% interval ({NUM}) to ({NUM})\)",
                          s)
            assert m, s
            assert m.groups() == (row["Gap (points)"], row["95% interval from"],
                                  row["95% interval to"]), (row, s)
            checked += 1
    assert checked


def test_gap_with_a_missing_interval_says_not_available(ctx):
    cid = ctx.clusters[0]
    tracking.gaps(ctx, cid)                       # fills ctx.models with the gap tables
    key = "gaps_cluster"
    saved = ctx.models[key]
    try:
        t = saved["attendance"].copy()
        rows = [r for r in t.index if r[0] == cid]
        t.loc[rows[-1], ["gap_lo", "gap_hi"]] = np.nan
        ctx.models[key] = {**saved, "attendance": t}
        sec = tracking.gaps(ctx, cid)
    finally:
        ctx.models[key] = saved
    s = next(x for x in _sentences(sec) if "the attendance gap" in x)
    assert "95% interval not available" in s


def test_who_sentence_quotes_the_profile_total(ctx):
    for cid in ctx.clusters[:6]:
        sec = cluster.who(ctx, cid)
        text = _sentences(sec)[0]
        total = _cells(sec.tables["schools"])[("Total",)][lab("simd_q1_pct")]
        assert f"; {total}% of pupils with a known SIMD quintile" in text, (total, text)
    none = ctx.schools.head(3).assign(roll=np.nan, simd_q1=np.nan, simd_q2=np.nan,
                                      simd_q3=np.nan, simd_q4=np.nan, simd_q5=np.nan)
    text = no_marker(cluster.intro("Cluster X", none, 0.3))
    assert "pupils on roll" not in text and "quintile 1" not in text


# ---------------------------------------------------------------------------
# Family formation and family members
# ---------------------------------------------------------------------------

def test_formation_page_covers_every_sector_with_the_family_reports_families(ctx):
    """The overview forms no families of its own: with every sector, the authority's bounds
    and the cluster rule, each sector's table lists exactly the families (and members) of
    the family reports; each sector's sentences quote its row of the quality table."""
    sec = formation.form(ctx)
    fams = ctx.ensure_families()
    assert sec.results["sectors"][:2] == ["primary", "secondary"]
    assert set(sec.results["sectors"]) == set(ctx.schools["sector"].astype(str))
    quality = _cells(sec.tables["quality"])
    for x in sec.results["sectors"]:
        mine = fams.members[fams.members["group"] == x]
        shown = sec.tables[f"families_{x}"].data
        assert sorted(shown.index) == sorted(mine["family"].unique())
        for f, row in shown.iterrows():
            assert sorted(row["Members"].split("; ")) == sorted(
                mine.loc[mine["family"] == f, "school_name"].astype(str))
        assert f"map_{x}" in sec.figures
        words = " ".join(sec.results["sector_sentences"][x])
        assert f"Within-family spread is {quality[(x.capitalize(),)]['Spread against random groupings']} " in words
    with pytest.raises(ReportError, match="size bounds are for one sector"):
        formation.form(ctx, size=(3, 4))
    with pytest.raises(ReportError, match="valid sectors: all, primary"):
        formation.form(ctx, sector="nursery")


def test_formation_sentence_quotes_the_quality_table(ctx):
    sec = formation.form(ctx, sector="secondary", size=(3, 4))
    cells = _cells(sec.tables["quality"])[("Secondary",)]
    text = " ".join(_sentences(sec))
    assert f"Within-family spread is {cells['Spread against random groupings']} " in text
    assert f"cost {cells['Spread against unconstrained k-means']} times" in text
    r = pd.Series({"ratio_to_random": 0.5, "ratio_to_random_low": np.nan,
                   "ratio_to_random_high": np.nan, "ratio_to_kmeans": np.nan})
    text = no_marker(formation._quality_sentence(r, "cluster"))
    assert "0.50" in text and "95% range" not in text and "k-means" not in text
    no_marker(formation._quality_sentence(pd.Series({"ratio_to_random": np.nan}), ""))


def test_member_words_with_missing_figures():
    e = SimpleNamespace(nearest_members=pd.DataFrame({"school_name": []}))
    row = pd.Series({"school_name": "A", "roll": np.nan, "simd_q1_share": np.nan})
    assert no_marker(family._member_words(row, e, 300.0, 25.0, True)) == (
        "A is in the family on its size and SIMD profile.")
    row = pd.Series({"school_name": "A", "roll": 250.0, "simd_q1_share": 0.2345})
    text = no_marker(family._member_words(row, e, 300.0, 25.04, True))
    assert "(250 pupils)" in text and "(23.4% against 25.0%)" in text


# ---------------------------------------------------------------------------
# Comparison page: the synthetic control's sentence against its tables
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("effect", [-2.0, 0.004, 0.35])
def test_synthetic_control_sentence_quotes_its_tables(effect):
    from nlc_eval.reports.sections import comparison
    from nlc_eval.synthetic_control import synthetic_control

    rng = np.random.default_rng(5)
    years = list(range(2012, 2025))
    trends = 92 + rng.normal(0, 0.8, (4, len(years))).cumsum(axis=1)
    mix = rng.dirichlet(np.ones(4), size=21)
    names = [f"LA{i:02d}" for i in range(20)] + ["Treated"]
    Y = pd.DataFrame(mix @ trends + rng.normal(0, 0.15, (21, len(years))), index=names,
                     columns=years)
    Y.loc["Treated", [y for y in years if y >= 2020]] += effect
    sc = synthetic_control(Y, "Treated", pre_years=[y for y in years if y < 2020],
                           post_years=[y for y in years if y >= 2020])
    sec = comparison.synthetic_control(sc, "Treated")
    (text,) = _sentences(sec)
    m = re.search(rf"by ({NUM}) points on average \(placebo-based \d+% range ({NUM}) to "
                  rf"({NUM})\).*RMSPE ({NUM})\.", text)
    assert m, text
    row = _cells(sec.tables["effect"])[("Average post-period gap",)]
    assert (m.group(1).lstrip("+"), m.group(2).lstrip("+"), m.group(3).lstrip("+")) == (
        row["Effect (points)"], row["95% interval from"], row["95% interval to"])
    (placebo,) = [r for r in _cells(sec.tables["placebos"]).values()
                  if r["The authority itself"] == "Yes"]
    assert placebo["Fit before (RMSPE)"] == m.group(4)


# ---------------------------------------------------------------------------
# The authority overview: one precision for the effects of the whole page
# ---------------------------------------------------------------------------

def _authority_effects(ctx, rng: np.random.Generator) -> pd.DataFrame:
    """Authority, two levels (one too small to show) and every cluster, at mixed scales."""
    k = len(ctx.clusters)
    est = np.round(rng.normal(0, 1.5, 3 + k) * rng.choice([1, 0.1, 0.01], 3 + k), 6)
    half = np.abs(rng.normal(0.6, 0.4, 3 + k)) * rng.choice([1, 0.1], 3 + k) + 1e-3
    n = [6944, 3473, 3] + list(rng.integers(1, 400, k))
    return pd.DataFrame({
        "scope": ["authority", "level", "level"] + ["cluster"] * k,
        "label": ["authority", "universal", "additional", *ctx.clusters],
        "level": ["all", "universal", "additional"] + ["all"] * k,
        "estimate": est, "ci_low": est - half, "ci_high": est + half,
        "n_treated": pd.array(n, dtype="Int64"),
        "n_control": pd.array([54433] * (3 + k), dtype="Int64")})


def _authority_impact(ctx, effects: pd.DataFrame) -> Section:
    from nlc_eval.reports.sections import authority

    ctx.models = {"effects": effects}
    try:
        return authority.impact(ctx)
    finally:
        ctx.models = {}


def _authority_mismatches(ctx, sec: Section) -> list[str]:
    cells = _cells(sec.tables["effects"])
    out, seen = [], 0
    for s in _sentences(sec):
        m = _EFFECT.search(s)
        if s.startswith(f"Across {ctx.authority_name},"):
            row = ("All supports, authority",)
        elif ": " in s and (s.split(": ")[0],) in cells:
            row = (s.split(": ")[0],)
        else:
            continue
        seen += 1
        if m is None:
            if cells[row][lab("effect")] != "c" or "not shown" not in s:
                out.append(f"{row}: {s!r} against {cells[row]}")
            continue
        q = (("-" if m.group(2) == "lower" else "") + m.group(1), m.group(3), m.group(4)) \
            if m.group(1) else (m.group(5), m.group(6), m.group(7))
        shown = tuple(cells[row][c] for c in cluster.EFFECT_COLUMNS)
        if q != shown:
            out.append(f"{row}: sentence {q}, table {shown}")
    if seen != len(cells):
        out.append(f"{seen} sentences quote the {len(cells)} rows of the table")
    return out


def _printed_decimals(texts) -> set[int]:
    return {len(t.split(".")[1]) if "." in t else 0 for t in texts if t not in ("c", "")}


@pytest.mark.parametrize("seed", range(6))
def test_authority_impact_quotes_its_table_at_one_precision_for_the_page(ctx, seed):
    eff = _authority_effects(ctx, np.random.default_rng(seed))
    sec = _authority_impact(ctx, eff)
    assert _authority_mismatches(ctx, sec) == []
    cells = _cells(sec.tables["effects"])
    assert cells[("Additional support",)][lab("effect")] == "c"
    # the cluster figure's data table prints its effects at the table's decimals
    fig = sec.figures["clusters"]
    assert fig.decimals == sec.tables["effects"].decimals
    from nlc_eval import plots

    present.start("test")
    html = present.table_html(plots.figure_table(fig.data, fig.plot, fig.kwargs),
                              caption="Figure data", source="Test", index=True,
                              missing="c", decimals=fig.decimals)
    soup = BeautifulSoup(html, "html.parser")
    heads = [th.get_text() for th in soup.find("thead").find_all("th")]
    fig_cells = [dict(zip(heads, [c.get_text() for c in tr.find_all(["th", "td"])],
                          strict=True)) for tr in soup.find("tbody").find_all("tr")]
    cols = [c for c in cluster.EFFECT_COLUMNS if c in heads]
    assert cols, heads
    printed = [r[c] for r in cells.values() for c in cluster.EFFECT_COLUMNS]
    printed += [r[c] for r in fig_cells for c in cols]
    assert len(_printed_decimals(printed)) == 1, printed
    # independent of the section: every shown estimate on the page keeps two significant
    # figures, and the decimals are the fewest that do (the page's largest need)
    (d,) = _printed_decimals(printed)
    values = [float(t.replace(",", "")) for r in fig_cells for t in [r[cols[0]]] if t != "c"]
    values += [float(t.replace(",", "")) for r in cells.values()
               for t in [r[lab("effect")]] if t != "c"]
    assert all(v == 0 or _significant(f"{abs(v):.{d}f}") >= 2 for v in values)


def test_the_authority_precision_check_can_fail(ctx):
    eff = _authority_effects(ctx, np.random.default_rng(0))
    eff[["estimate", "ci_low", "ci_high"]] = eff[["estimate", "ci_low", "ci_high"]] * 0 + [
        0.31, 0.12, 0.54]
    eff.loc[eff["scope"] == "cluster", ["estimate", "ci_low", "ci_high"]] = [0.05, 0.01, 0.09]
    eff.loc[eff["scope"] == "cluster", "n_treated"] = 200
    sec = _authority_impact(ctx, eff)
    assert _authority_mismatches(ctx, sec) == []
    # the clusters need two decimals (0.050), so the authority's 0.31 prints as 0.310
    assert _cells(sec.tables["effects"])[("All supports, authority",)][lab("effect")] == "0.310"
    sec.tables["effects"].decimals = 1
    assert len(_authority_mismatches(ctx, sec)) == 2   # the authority and the universal level


def test_authority_who_quotes_the_cluster_table_total(ctx):
    from nlc_eval.reports.sections import authority

    sec = authority.who(ctx)
    total = _cells(sec.tables["clusters"])[("Total",)][lab("simd_q1_pct")]
    assert f"; {total}% of pupils with a known SIMD quintile" in _sentences(sec)[0]


def test_authority_gap_sentences_quote_the_gap_table(ctx):
    sec = tracking.gaps(ctx, None)
    table = sec.tables["gaps"]
    cells = _cells(table)
    rows = list(cells)
    checked = 0
    for heading, what in (("Attendance %", "attendance"),
                          ("Literacy on track %", "literacy (share on track)"),
                          ("Numeracy on track %", "numeracy (share on track)")):
        s = next(x for x in _sentences(sec) if f"the {what} gap" in x)
        row = cells[max(r for r in rows if r[0] == heading)]
        if row["Gap (points)"] == "c":
            assert "not shown" in s, s
            continue
        m = re.search(rf"is ({NUM}) percentage points \(95% interval ({NUM}) to ({NUM})\)", s)
        assert m, s
        assert m.groups() == (row["Gap (points)"], row["95% interval from"],
                              row["95% interval to"]), (row, s)
        checked += 1
    assert checked


def test_authority_consistency_sentences_have_no_marker(ctx):
    from nlc_eval.reports.sections import authority

    for make in (authority.consistency, authority.consistency_changes,
                 authority.consistency_official):
        sec = make(ctx)
        _sentences(sec)
        for t in sec.tables.values():
            for n in t.notes:
                no_marker(n)


# ---------------------------------------------------------------------------
# A cluster's and a family's schools in the authority's funnels
# ---------------------------------------------------------------------------

_OUTSIDE = re.compile(rf"([^,:(]+?) \((P1|P4|P7|S3) ([a-z ]+), ({NUM})%, "
                      r"((?:above|below) the (?:95|99\.8)% limit)\)")


def test_highlighted_funnels_quote_their_data_and_say_what_is_hidden(ctx):
    from nlc_eval import acel_consistency as ac
    from nlc_eval.reports.sections import consistency as cons

    names = {v.lower(): k for k, v in ac.ORGANISERS.items()}
    hidden_seen = outside_seen = 0
    for cid in ctx.clusters:
        sec = cluster.consistency(ctx, cid)
        text = _sentences(sec)
        assert any("prompt for a moderation conversation, not a verdict" in s for s in text)
        fig = sec.figures["funnels"]
        present.start("test")
        tab = _cells(Table(fig.data, "Figure data", "Test"))
        # independent of the section: the pupil records' funnel of this cluster's schools
        codes = set(ctx.schools.loc[ctx.schools["cluster"].astype(str) == cid, "seed_code"]
                    .astype(str)) - cons._special(ctx)
        res = fig.kwargs["result"]
        pub = res.publishable()
        mine = pub[(pub["year"] == fig.kwargs["year"]) & pub["seed_code"].isin(codes)]
        shown, hidden = mine[mine["shown"]], mine[~mine["shown"]]
        pos = shown["position"]
        m = re.search(r"that can be shown .*?, (\d+) lie inside the 95% limits, (\d+) above "
                      r"and (\d+) below", " ".join(text))
        assert m, text
        assert [int(g) for g in m.groups()] == [
            int((pos == "inside the limits").sum()), int(pos.str.startswith("above").sum()),
            int(pos.str.startswith("below").sum())]
        for q in _OUTSIDE.finditer(" ".join(text)):
            school, stage, org, share, where = q.groups()
            school = school.strip().removeprefix("and ")
            row = shown[(shown["school_name"] == school) & (shown["stage"] == stage)
                        & (shown["organiser"] == names[org])].iloc[0]
            assert row["position"] == where
            assert share == f"{np.round(100 * row['share'], 1):.1f}"
            if names[org] in fig.kwargs["organisers"]:
                assert tab[(school, stage)][f"{ac.ORGANISERS[names[org]]} %"] == share
            outside_seen += 1
        # every hidden result is named as not shown and printed as c, never drawn
        for r in hidden.itertuples():
            hidden_seen += 1
            assert f"{r.school_name} at {r.stage} (" in " ".join(text)
            if r.organiser in fig.kwargs["organisers"]:
                assert tab[(r.school_name, r.stage)][f"{ac.ORGANISERS[r.organiser]} %"] == "c"
        alt = cons.grid_alt_text(res, fig.kwargs["stages"], fig.kwargs["organisers"],
                                 fig.kwargs["year"], caption=fig.caption,
                                 highlight=fig.kwargs["highlight"], table=fig.kwargs["table"],
                                 name=cid)
        for (school, stage), row in tab.items():
            for org in fig.kwargs["organisers"]:
                v = row[f"{ac.ORGANISERS[org]} %"]
                part = alt.split(f"{stage} {ac.ORGANISERS[org].lower()}: ")[1].split(". ")[0]
                expect = (f"{school} not shown (small numbers)" if v == "c"
                          else f"{school} {v}%, ")
                assert expect in part, (expect, part)
        no_marker(alt)
    assert hidden_seen and outside_seen, "the check saw no hidden or no outside result"


def test_the_highlighted_check_can_fail(ctx):
    # the alt text of a hidden result would give its share: the table's c is not in it
    from nlc_eval.reports.sections import consistency as cons

    sec = cluster.consistency(ctx, ctx.clusters[0])
    kw = sec.figures["funnels"].kwargs
    pub = kw["table"].copy()
    hide = pub["seed_code"].isin(kw["highlight"]) & ~pub["shown"]
    assert hide.any()
    leaky = pub.assign(shown=True)
    alt = cons.grid_alt_text(kw["result"], kw["stages"], kw["organisers"], kw["year"],
                             highlight=kw["highlight"], table=leaky, name="x")
    assert "not shown (small numbers)" not in alt


def test_family_of_additional_support_needs_schools_says_it_is_not_compared(ctx):
    from nlc_eval.reports.context import build_context
    from nlc_eval.reports.sections import family

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("NLC_EVAL_OFFICIAL_DATA", raising=False)
        fctx = build_context(None, None, seed=0, families=True, models=False)
    special = [f for f in fctx.family_ids
               if (family.schools(fctx, f)["sector"] == "special").all()]
    mainstream = [f for f in fctx.family_ids if f not in special]
    sec = family.consistency(fctx, special[0])
    assert not sec.figures and "not shown" in _sentences(sec)[0]
    assert any("not comparable with mainstream" in n for n in sec.notes)
    sec = family.consistency(fctx, mainstream[0])
    assert sec.figures["funnels"].data.index.names == ["School", "Stage"]
    _sentences(sec)


def test_family_learning_tables_count_each_measures_own_pupils():
    """A member above expectation on attendance is counted by its pupils in the records and
    on ACEL by its pupils assessed: each table's count column is that measure's registered
    name and value, the same as in the family's outcomes table."""
    from nlc_eval.reports import measures
    from nlc_eval.reports.context import build_context
    from nlc_eval.reports.sections import family

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("NLC_EVAL_OFFICIAL_DATA", raising=False)
        fctx = build_context(None, None, seed=0, families=True, models=False)
    seen = set()
    for f in fctx.family_ids:
        learn = family.learning(fctx, f)
        if not learn.tables:
            continue
        outcomes = family.outcomes(fctx, f)
        shown = pd.concat([t.data for t in outcomes.tables.values()], axis=1)
        if "learn" in learn.tables:
            # the attendance figure's intervals print as the table's do
            fig = outcomes.figures["expectation"].data.set_index("School")
            for school, row in learn.tables["learn"].data.iterrows():
                for col in ("95% interval from", "95% interval to"):
                    assert f"{fig.loc[school, col]:.1f}" == f"{row[col]:.1f}", (f, school)
        for name, key in (("learn", "pupils"), ("learn_acel", "acel_assessed")):
            if name not in learn.tables:
                continue
            seen.add(name)
            t = learn.tables[name].data
            label = measures.label(key)
            assert label in t.columns and not any(c.startswith("Pupils") and c != label
                                                  for c in t.columns)
            assert "on " + ("attendance" if key == "pupils" else "literacy") in \
                learn.tables[name].caption
            for school, n in t[label].items():
                assert str(shown.loc[school, label]) == str(n), (f, school, label)
    assert seen == {"learn", "learn_acel"}
