"""The impact page's sentences against its tables: one precision per measure.

Every number a sentence of the impact page quotes (an effect and its interval, a placebo
estimate and its interval, the range of the stability check) is checked against the cell of
the same row as the page prints it (``present.table_html``, parsed). The effects and checks
are made here, with hidden rows, failed checks and small numbers, so that every wording is
seen; one evaluation is estimated on the synthetic authority.
"""

from __future__ import annotations

import copy
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from bs4 import BeautifulSoup  # noqa: E402

from nlc_eval.reports import impact_models, measures, present  # noqa: E402
from nlc_eval.reports.sections import cluster  # noqa: E402
from nlc_eval.reports.sections import impact as page  # noqa: E402

lab = measures.label
NUM = r"[-+]?\d[\d,]*(?:\.\d+)?"
EFFECT = re.compile(rf"attendance ({NUM}) percentage points (higher|lower) than comparable "
                    rf"learners not yet supported \(95% interval ({NUM}) to ({NUM})\)|"
                    rf"difference ({NUM}) percentage points, 95% interval ({NUM}) to "
                    rf"({NUM})")
PLACEBO = re.compile(rf"on attendance in the term before support started \(({NUM}) "
                     rf"percentage points, 95% interval ({NUM}) to ({NUM})\)")
RANGE = re.compile(rf"the effect of (all supports|\w+ support) (?:ranged from ({NUM}) to "
                   rf"({NUM})|was ({NUM})) percentage points")
LEVEL_ROWS = {"all": "All supports, authority", "universal": "Universal support",
              "additional": "Additional support", "intensive": "Intensive support"}


@pytest.fixture(scope="module")
def ctx():
    with pytest.MonkeyPatch.context() as mp:   # the synthetic estate, whatever the machine
        mp.delenv("NLC_EVAL_OFFICIAL_DATA", raising=False)
        from nlc_eval.reports.context import build_context

        return build_context(None, None, seed=0, families=False, models=False)


def _cells(table) -> dict[tuple, dict[str, str]]:
    """A section table's cells as the page prints them: {row headers: {column: text}}."""
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


# ---------------------------------------------------------------------------
# Effects and checks made here
# ---------------------------------------------------------------------------

def _effects(rng: np.random.Generator, *, hidden: str | None = None) -> pd.DataFrame:
    est = np.round(rng.normal(0, 1.5, 4) * rng.choice([1, 0.1, 0.01], 4), 6)
    half = np.abs(rng.normal(0.6, 0.4, 4)) * rng.choice([1, 0.1], 4) + 1e-3
    levels = ["all", *impact_models.LEVELS]
    n = [6944, 3473, 2426, 1045]
    if hidden is not None:
        n[levels.index(hidden)] = 3
    return pd.DataFrame({
        "scope": ["authority", "level", "level", "level"],
        "label": ["authority", *impact_models.LEVELS], "level": levels,
        "estimate": est, "ci_low": est - half, "ci_high": est + half,
        "n_treated": pd.array(n, dtype="Int64"),
        "n_control": pd.array([54433] * 4, dtype="Int64")})


def _checks(rng: np.random.Generator, effects: pd.DataFrame) -> pd.DataFrame:
    """Placebo checks as :func:`impact_models.placebo_checks` returns them: some failing."""
    rows = []
    for _, e in effects.iterrows():
        lv = e["level"]
        est = float(np.round(rng.normal(0, 0.6) * rng.choice([1, 0.1, 0.01]), 6))
        half = float(abs(rng.normal(0.4, 0.3)) * rng.choice([1, 0.1]) + 1e-3)
        rows.append({"level": lv, "check": "placebo outcome",
                     "passed": est - half <= 0 <= est + half, "estimate": est,
                     "ci_low": est - half, "ci_high": est + half, "p_value": 0.3,
                     "inference": "wild cluster bootstrap", "full_estimate": e["estimate"],
                     "n_groups": 23, "n_treated": int(rng.choice([400, 3])),
                     "n_control": 50000, "detail": ""})
        spread = sorted(float(e["estimate"]) + rng.normal(0, 0.3, 3))
        same = float(rng.choice([1.0, 0.95, 0.62]))
        rows.append({"level": lv, "check": "stability", "passed": same >= 0.9,
                     "estimate": spread[1], "ci_low": spread[0], "ci_high": spread[2],
                     "full_estimate": e["estimate"], "same_sign": same, "n_subsets": 200,
                     "n_estimated": 200, "groups_kept": 18, "n_groups": 23, "detail": ""})
    out = pd.DataFrame(rows).reindex(columns=list(impact_models.PLACEBO_COLUMNS))
    out["passed"] = out["passed"].astype("boolean")
    for col in ("n_subsets", "n_estimated", "groups_kept", "n_groups", "n_treated"):
        out[col] = pd.to_numeric(out[col]).astype("Int64")
    return out


def _page(ctx, monkeypatch, effects, checks):
    ctx.models = {"effects": effects}
    monkeypatch.setattr(impact_models, "placebo_checks", lambda c, **kw: checks)
    try:
        return page.summary(ctx), page.checks(ctx)
    finally:
        ctx.models = {}


def _quoted_effects(summary) -> dict[str, tuple[str, str, str]]:
    out = {}
    for s in summary.sentences:
        m = EFFECT.search(s)
        if m is None:
            continue
        row = ("All supports, authority" if s.startswith("Across ") else
               s.split(":")[0])
        out[row] = ((("-" if m.group(2) == "lower" else "") + m.group(1),
                     m.group(3), m.group(4)) if m.group(1) else
                    (m.group(5), m.group(6), m.group(7)))
    return out


def _mismatches(summary, checks) -> list[str]:
    """Numbers a sentence quotes differently from the page's tables as printed."""
    out = []
    effects = _cells(summary.tables["effects"])
    for row, q in _quoted_effects(summary).items():
        shown = tuple(effects[(row,)][c] for c in cluster.EFFECT_COLUMNS)
        if q != shown:
            out.append(f"effect {row}: sentence {q}, table {shown}")
    placebo = _cells(checks.tables["placebo"])
    for s in summary.sentences:
        m = PLACEBO.search(s)
        if m is None:
            continue
        name = "All supports" if s.startswith("Across ") else s.split(":")[0]
        (row,) = [v for k, v in placebo.items()
                  if k[0] == name and k[1].startswith("Term before")]
        shown = tuple(row[c] for c in page.CHECK_COLUMNS)
        if m.groups() != shown:
            out.append(f"placebo {name}: sentence {m.groups()}, table {shown}")
        said_pass = "finds no clear 'effect'" in s
        if said_pass != (row["Result"] == "Passed"):
            out.append(f"placebo {name}: sentence {s!r}, result {row['Result']}")
    for s in checks.sentences:
        m = RANGE.search(s)
        if m is None:
            continue
        name = m.group(1)[0].upper() + m.group(1)[1:]
        (row,) = [v for k, v in placebo.items()
                  if k[0] == name and k[1].startswith("Random subsets")]
        quoted = (m.group(2), m.group(3)) if m.group(2) else (m.group(4), m.group(4))
        if quoted != (row["From"], row["To"]):
            out.append(f"stability {name}: sentence {quoted}, table {row}")
        share = re.search(r"kept its sign in (?:only )?(\d+)% of them", s)
        words = "100" if "every subset" in s else share.group(1)
        if f"same sign in {words}% of subsets" not in row["Result"]:
            out.append(f"stability {name}: sentence {s!r}, result {row['Result']}")
    return out


def _decimals(cells: dict, columns) -> set[int]:
    return {len(t.split(".")[1]) if "." in t else 0 for r in cells.values() for c in columns
            for t in [r[c]] if t not in ("c", "not available")}


@pytest.mark.parametrize("seed", range(8))
def test_impact_sentences_quote_the_tables_as_printed(ctx, monkeypatch, seed):
    rng = np.random.default_rng(seed)
    effects = _effects(rng, hidden="additional" if seed % 3 == 0 else None)
    checks = _checks(rng, effects)
    summary, section = _page(ctx, monkeypatch, effects, checks)
    assert _mismatches(summary, section) == []
    # every shown effect was quoted, and each shown placebo beside its effect
    quoted = _quoted_effects(summary)
    shown = _cells(summary.tables["effects"])
    assert {r[0] for r, v in shown.items() if v[lab("effect")] != "c"} == set(quoted)
    n_placebo = sum(bool(PLACEBO.search(s)) for s in summary.sentences)
    placebo = _cells(section.tables["placebo"])
    assert n_placebo == sum(1 for k, v in placebo.items() if k[1].startswith("Term before")
                            and v["Estimate (percentage points)"] != "c")
    n_ranges = sum(bool(RANGE.search(s)) for s in section.sentences)
    assert n_ranges == sum(1 for k, v in placebo.items() if k[1].startswith("Random subsets")
                           and v["From"] != "c") > 0
    # one precision per table, in the table, the figure and the sentences
    assert len(_decimals(shown, cluster.EFFECT_COLUMNS)) == 1, shown
    assert len(_decimals(placebo, page.CHECK_COLUMNS)) == 1, placebo
    assert summary.figures["levels"].decimals == summary.tables["effects"].decimals
    assert set(summary.tables["effects"].decimals.values()) == {
        summary.results["effect_decimals"]}


def test_hidden_effects_hide_their_checks_and_failures_are_said(ctx, monkeypatch):
    rng = np.random.default_rng(11)
    effects = _effects(rng, hidden="intensive")
    checks = _checks(rng, effects)
    fail = (checks["check"] == "placebo outcome") & (checks["level"] == "all")
    checks.loc[fail, ["estimate", "ci_low", "ci_high", "n_treated"]] = [-1.9, -2.4, -1.4, 400]
    checks.loc[fail, "passed"] = False
    shaky = (checks["check"] == "stability") & (checks["level"] == "universal")
    checks.loc[shaky, ["same_sign", "passed"]] = [0.62, False]
    summary, section = _page(ctx, monkeypatch, effects, checks)
    assert _mismatches(summary, section) == []
    first = summary.sentences[0]
    assert "But the same analysis finds an 'effect'" in first
    assert "may come from how learners were chosen" in first
    assert "Intensive support: not shown, fewer than 5 learners." in summary.sentences
    cells = _cells(section.tables["placebo"])
    intensive = [v for k, v in cells.items() if k[0] == "Intensive support"]
    assert intensive and all(v[c] == "c" for v in intensive for c in page.CHECK_COLUMNS)
    assert all(v["Result"].startswith("Not shown") for v in intensive)
    text = " ".join(section.sentences)
    assert "It found an 'effect' for all supports" in text
    assert "kept its sign in only 62% of them" in text and "read with caution" in text
    assert "intensive support ranged" not in text
    assert "not run separately" in text        # placebo timing: why it does not apply


def test_the_check_can_fail(ctx, monkeypatch):
    rng = np.random.default_rng(3)
    effects = _effects(rng)
    effects[["estimate", "ci_low", "ci_high"]] = [[1.33, 1.12, 1.54], [0.66, 0.43, 0.9],
                                                  [1.6, 1.3, 1.9], [2.9, 2.2, 3.6]]
    checks = _checks(rng, effects)
    checks.loc[checks["check"] == "placebo outcome", ["estimate", "ci_low", "ci_high",
                                                      "passed", "n_treated"]] = [
        0.14, -0.03, 0.32, True, 400]
    summary, section = _page(ctx, monkeypatch, effects, checks)
    assert _mismatches(summary, section) == []
    # the effects table at one decimal against sentences at two: caught, row by row
    summary.tables["effects"].decimals = 1
    assert len([m for m in _mismatches(summary, section) if m.startswith("effect")]) == 4
    summary.tables["effects"].decimals = dict.fromkeys(cluster.EFFECT_COLUMNS, 2)
    section.tables["placebo"].decimals = 1
    assert len([m for m in _mismatches(summary, section) if m.startswith("placebo")]) == 4
    section.tables["placebo"].decimals = 4
    assert len([m for m in _mismatches(summary, section) if m.startswith("stability")]) == 4


@pytest.mark.slow
def test_the_evaluation_sentence_quotes_its_table(ctx):
    ctx.models = {}
    try:
        sec = page.evaluation(ctx, level="intensive")
    finally:
        ctx.models = {}
    m = EFFECT.search(sec.sentences[0])
    assert m, sec.sentences[0]
    quoted = (("-" if m.group(2) == "lower" else "") + m.group(1), m.group(3), m.group(4)) \
        if m.group(1) else (m.group(5), m.group(6), m.group(7))
    (row,) = _cells(sec.tables["estimate"]).values()
    assert quoted == tuple(row[c] for c in cluster.EFFECT_COLUMNS)


def test_cluster_effects_computed_standalone_publish_the_shared_counts(ctx):
    # a cluster notebook run without the batch's shared effects table publishes the same
    # learner counts as the batch (one per group, nested groups never 1-4 apart), not the
    # estimate's own counts
    from nlc_eval.reports.sections import cluster as cluster_sections

    bare = copy.copy(ctx)
    bare.models = {}
    cl = ctx.clusters[0]
    out = cluster_sections.effects(bare, cl)
    counts = impact_models.report_counts(bare)
    row = out[(out["scope"] == "cluster") & (out["label"] == str(cl))].iloc[0]
    assert (int(row["n_treated"]), int(row["n_control"])) == tuple(counts[(str(cl), None)])
    auth = out[out["scope"] == "authority"].iloc[0]
    assert (int(auth["n_treated"]), int(auth["n_control"])) == tuple(counts[(None, None)])


# ---------------------------------------------------------------------------
# What each effect's design could detect and its sensitivity, beside the effect
# ---------------------------------------------------------------------------

MDES = re.compile(rf"This design could detect an effect of ({NUM}) percentage points or more "
                  r"with 80% power")
RV = re.compile(r"would have to account for (\d+(?:\.\d+)?)% of the remaining variation in "
                r"both who was supported and attendance \((\d+(?:\.\d+)?)% to make it no "
                r"longer statistically significant\)")
BOUND = re.compile(rf"a factor as strong as living in SIMD deciles 1-2 would leave an effect "
                   rf"of ({NUM}) percentage points\.")


def _with_sensitivity(rng, effects: pd.DataFrame) -> pd.DataFrame:
    out = effects.copy()
    half = (out["ci_high"] - out["ci_low"]) / 2
    out["mdes"] = half / 1.96 * 2.8 * rng.uniform(0.9, 1.1, len(out))
    out["robustness_value"] = rng.uniform(0.005, 0.2, len(out))
    out["robustness_value_alpha"] = out["robustness_value"] * rng.uniform(0.3, 0.9, len(out))
    out["bound_estimate"] = out["estimate"] * 0.9
    out["bound_ci_low"] = out["ci_low"] * 0.9
    out["bound_ci_high"] = out["ci_high"] * 0.9
    return out


def _close(text: str, value: float) -> bool:
    """``text`` is ``value`` rounded to the decimals it was printed with."""
    d = len(text.split(".")[1]) if "." in text else 0
    return abs(float(text.replace(",", "")) - value) <= 0.5 * 10 ** -d + 1e-12


@pytest.mark.parametrize("seed", range(4))
def test_each_effect_states_its_mdes_and_sensitivity_beside_it(ctx, monkeypatch, seed):
    rng = np.random.default_rng(100 + seed)
    effects = _with_sensitivity(rng, _effects(rng, hidden="universal" if seed % 2 else None))
    summary, section = _page(ctx, monkeypatch, effects, _checks(rng, effects))
    assert _mismatches(summary, section) == []
    rows = {("All supports, authority" if r["scope"] == "authority" else
             f"{r['level'].capitalize()} support"): r for _, r in effects.iterrows()}
    shown = _cells(summary.tables["effects"])
    seen = set()
    for s in summary.sentences:
        m = EFFECT.search(s)
        if m is None:
            assert not MDES.search(s) and not RV.search(s), s
            continue
        name = "All supports, authority" if s.startswith("Across ") else s.split(":")[0]
        r = rows[name]
        # the MDES and the robustness values in the same paragraph as the effect, after it
        md, rv, b = MDES.search(s), RV.search(s), BOUND.search(s)
        assert md and rv and b, s
        assert m.start() < md.start() < rv.start() < b.start()
        assert _close(md.group(1), r["mdes"])
        assert _close(rv.group(1), 100 * r["robustness_value"])
        assert _close(rv.group(2), 100 * r["robustness_value_alpha"])
        assert _close(b.group(1), r["bound_estimate"])
        # no interval for the bound: its classical SE is not the interval the page shows
        assert "interval" not in s[b.start():]
        # printed at least at the page's precision for effects
        d = summary.results["effect_decimals"]
        assert all(len(t.split(".")[1]) >= d for t in (md.group(1), *b.groups()) if d)
        seen.add(name)
    # every shown effect has them; a hidden one has neither effect nor sensitivity
    assert seen == {r[0] for r, v in shown.items() if v[lab("effect")] != "c"}
    if seed % 2:
        (hid,) = [s for s in summary.sentences if s.startswith("Universal support")]
        assert hid == "Universal support: not shown, fewer than 5 learners."


def test_not_significant_effect_says_so_in_its_sensitivity(ctx, monkeypatch):
    rng = np.random.default_rng(7)
    effects = _with_sensitivity(rng, _effects(rng))
    effects.loc[1, "robustness_value_alpha"] = 0.0
    summary, _ = _page(ctx, monkeypatch, effects, _checks(rng, effects))
    (s,) = [s for s in summary.sentences if s.startswith("Universal support")]
    assert "the effect is not statistically significant even without one" in s


@pytest.mark.slow
def test_design_numbers_of_a_real_estimate_follow_the_published_formulas(ctx):
    # Bloom (1995): MDES = (t(1 - a/2, df) + t(power, df)) SE with df = clusters - 1;
    # Cinelli & Hazlett (2020), eq. 18: RV = (sqrt(f^4 + 4 f^2) - f^2) / 2, f = |t| / sqrt(dof),
    # and RV_a (eq. 19) with f*_a = |t_(a, dof - 1)| / sqrt(dof - 1), here for the t of the
    # reported estimate and SE (the wild cluster bootstrap SE, as its interval on the page)
    from scipy import stats

    ctx.models = {}
    try:
        design = impact_models.entry_cohort_design(ctx)
        est = impact_models.attendance_effect(ctx, level="intensive", design=design)
    finally:
        ctx.models = {}
    nums = impact_models.design_and_sensitivity_numbers(est)
    G = est.extra["n_clusters"]
    assert nums["mdes"] == pytest.approx(
        (stats.t.ppf(0.975, G - 1) + stats.t.ppf(0.8, G - 1)) * est.se)
    ovb = est.extra["ovb_inputs"]
    f = abs(ovb["t_statistic"]) / np.sqrt(ovb["dof"])
    assert nums["robustness_value"] == pytest.approx((np.sqrt(f ** 4 + 4 * f ** 2) - f ** 2) / 2)
    fc = abs(stats.t.ppf(0.025, ovb["dof"] - 1)) / np.sqrt(ovb["dof"] - 1)
    f = abs(est.estimate / est.se) / np.sqrt(ovb["dof"])
    fa = f - fc
    rva = (0.0 if fa <= 0 else (f ** 2 - fc ** 2) / (1 + f ** 2) if f > 1 / fc else
           (np.sqrt(fa ** 4 + 4 * fa ** 2) - fa ** 2) / 2)
    assert nums["robustness_value_alpha"] == pytest.approx(rva)
    words = page.design_words(nums, 2)
    assert MDES.search(words) and RV.search(words) and BOUND.search(words), words


@pytest.mark.slow
def test_the_evaluation_prints_the_effect_at_the_summarys_precision(ctx):
    # one measure, one precision on the page: the estimate in detail quotes all supports'
    # effect as the summary and its table do, and its own table agrees
    ctx.models = {}
    try:
        summary, detail = page.summary(ctx), page.evaluation(ctx)
    finally:
        ctx.models = {}
    (row,) = [v for k, v in _cells(summary.tables["effects"]).items()
              if k == ("All supports, authority",)]
    shown = tuple(row[c] for c in cluster.EFFECT_COLUMNS)
    m = EFFECT.search(detail.sentences[0])
    quoted = (("-" if m.group(2) == "lower" else "") + m.group(1), m.group(3), m.group(4)) \
        if m.group(1) else (m.group(5), m.group(6), m.group(7))
    assert quoted == shown
    (own,) = _cells(detail.tables["estimate"]).values()
    assert tuple(own[c] for c in cluster.EFFECT_COLUMNS) == shown
