"""Tests of nlc_eval.gaps and nlc_eval.acel_model: planted gaps, intervals, stretch aims,
and the ACEL model on the official files."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from nlc_eval import gaps
from nlc_eval.data.synthetic import authority
from nlc_eval.disclosure import check_published
from nlc_eval.errors import DataError


def planted(n_schools=20, per_school=120, p_low=0.6, p_high=0.8, att_low=86.0,
            att_high=92.0, seed=1, school_sd=0.0):
    """A tiny authority with a known gap: deciles 1-2 vs 9-10 (others in between)."""
    rng = np.random.default_rng(seed)
    rows, att, acel = [], [], []
    k = 0
    for s in range(n_schools):
        bump = rng.normal(0, school_sd)
        for _ in range(per_school):
            dec = int(rng.integers(1, 11))
            pid = f"x{k}"
            k += 1
            rows.append({"pupil_id": pid, "seed_code": f"{1000 + s}", "year": 2023,
                         "simd_decile": dec})
            p = p_low if dec <= 2 else p_high if dec >= 9 else (p_low + p_high) / 2
            acel.append({"pupil_id": pid, "year": 2023, "organiser": "numeracy",
                         "on_track": bool(rng.random() < p)})
            mean = att_low if dec <= 2 else att_high if dec >= 9 else 89.0
            attended = int(np.clip(rng.normal(mean + bump, 4), 0, 100) * 3.8)
            att.append({"pupil_id": pid, "year": 2023, "term": 1, "possible_sessions": 380,
                        "attended_sessions": attended})
    schools = pd.DataFrame({"seed_code": [f"{1000 + s}" for s in range(n_schools)],
                            "cluster": [f"C{s % 4}" for s in range(n_schools)]})
    return SimpleNamespace(pupils=pd.DataFrame(rows), schools=schools,
                           attainment=pd.DataFrame(acel), attendance=pd.DataFrame(att))


def test_newcombe_against_published_example():
    # Newcombe (1998) Statistics in Medicine 17:873, example (a): 56/70 vs 48/80,
    # method 10 interval 0.0524 to 0.3339
    d, lo, hi = gaps.newcombe(48, 80, 56, 70)
    assert d == pytest.approx(0.2)
    assert lo == pytest.approx(0.0524, abs=1e-4)
    assert hi == pytest.approx(0.3339, abs=1e-4)


def test_cluster_robust_equals_statsmodels_cr1():
    """The gap's CR1 interval is statsmodels' clustered OLS (same factor G/(G-1)(N-1)/(N-K))
    with a t(G-1) critical value."""
    import statsmodels.api as sm
    from scipy import stats

    rng = np.random.default_rng(7)
    n = 400
    school = rng.integers(0, 17, n)
    high = rng.random(n) < 0.4
    y = 80 + 5 * high + rng.normal(0, 3, 17)[school] + rng.normal(0, 6, n)
    est, lo, hi = gaps.cluster_robust(y, high, school)
    fit = sm.OLS(y, sm.add_constant(high.astype(float))).fit(
        cov_type="cluster", cov_kwds={"groups": school})
    assert est == pytest.approx(fit.params[1], abs=1e-10)
    half = stats.t.ppf(0.975, 16) * fit.bse[1]
    assert lo == pytest.approx(fit.params[1] - half, rel=1e-8)
    assert hi == pytest.approx(fit.params[1] + half, rel=1e-8)


def test_planted_attainment_gap_is_recovered():
    data = planted()
    out = gaps.attainment_gap(data, by="authority", publish=False)
    row = out.loc[("Authority", 2023)]
    assert row["gap_lo"] < 20 < row["gap_hi"]
    assert row["method"] == "cluster_robust"
    one = gaps.attainment_gap(data, by="school", publish=False)
    assert set(one["method"]) == {"single_school"}
    few = gaps.attainment_gap(data, by="cluster", publish=False, min_schools_robust=6)
    assert set(few["method"]) == {"clustering_ignored"}
    dec = gaps.attainment_gap(data, by="authority", compare="decile", publish=False)
    # deciles 3-10: six at 0.7 and two at 0.8, so 0.725 - 0.6 = 12.5 points
    row = dec.loc[("Authority", 2023)]
    assert row["gap_lo"] < 12.5 < row["gap_hi"]


def test_planted_attendance_gap_and_clustering():
    data = planted(school_sd=3.0, seed=2)
    out = gaps.attendance_gap(data, by="authority", publish=False)
    row = out.loc[("Authority", 2023)]
    assert row["gap_lo"] < 6 < row["gap_hi"]
    naive = gaps.attendance_gap(data, by="authority", publish=False, min_schools_robust=999)
    nrow = naive.loc[("Authority", 2023)]
    assert nrow["gap_lo"] < 6 < nrow["gap_hi"]


@pytest.mark.slow
def test_interval_coverage_by_simulation():
    """Across repeated planted authorities the 95% intervals cover the true gap about
    95% of the time (cluster-robust, with school effects)."""
    hits_att, hits_ach = 0, 0
    reps = 60
    for r in range(reps):
        data = planted(n_schools=12, per_school=60, seed=100 + r, school_sd=2.0)
        a = gaps.attendance_gap(data, by="authority", publish=False).iloc[0]
        hits_att += a["gap_lo"] < 6 < a["gap_hi"]
        b = gaps.attainment_gap(data, by="authority", publish=False).iloc[0]
        hits_ach += b["gap_lo"] < 20 < b["gap_hi"]
    assert 0.85 <= hits_att / reps <= 1.0
    assert 0.85 <= hits_ach / reps <= 1.0


def test_published_gap_tables_are_safe():
    data = planted(n_schools=6, per_school=25)
    out = gaps.attainment_gap(data, by="school")
    check_published(out)
    hidden = out["on_track_high"].isna() | out["not_on_track_high"].isna()
    assert out.loc[hidden, "pct_high"].isna().all()
    assert out.loc[hidden, "gap"].isna().all()
    att = gaps.attendance_gap(data, by="school")
    check_published(att)


def test_family_grouping_and_errors():
    data = planted(n_schools=8)
    fam = pd.Series({f"{1000 + s}": f"F{s % 2}" for s in range(8)})
    out = gaps.attainment_gap(data, by="family", families=fam, publish=False)
    assert set(out.index.get_level_values(0)) == {"F0", "F1"}
    with pytest.raises(DataError, match="needs families"):
        gaps.attainment_gap(data, by="family")
    with pytest.raises(DataError, match="have no family"):
        gaps.attainment_gap(data, by="family", families=fam.iloc[:4])
    with pytest.raises(DataError, match="organiser"):
        gaps.attainment_gap(data, organiser="history")
    with pytest.raises(DataError, match="grouping"):
        gaps.attendance_gap(data, by="street")


def test_gap_trend_detects_narrowing():
    idx = pd.MultiIndex.from_product([["A", "B"], [2020, 2021, 2022, 2023]],
                                     names=["cluster", "year"])
    gap = [12.0, 10.0, 8.0, 6.0, 5.0, 6.0, 4.0, 5.5]
    t = pd.DataFrame({"gap": gap, "gap_lo": [g - 1 for g in gap],
                      "gap_hi": [g + 1 for g in gap]}, index=idx)
    tr = gaps.gap_trend(t)
    assert tr.loc["A", "direction"] == "narrowing"
    assert tr.loc["A", "change_per_year"] == pytest.approx(-2.0)
    assert tr.loc["B", "direction"] == "no clear change"


def test_stretch_aims():
    aims = pd.DataFrame({"measure": ["numeracy gap", "attendance q1", "literacy q1"],
                         "baseline": [12.0, 86.0, 60.0], "target": [6.0, 90.0, 70.0],
                         "year": [2026, 2026, 2026], "baseline_year": [2022, 2022, 2022]})
    actual = pd.DataFrame({
        "measure": ["numeracy gap", "numeracy gap", "attendance q1", "literacy q1"],
        "year": [2022, 2024, 2024, 2024], "value": [12.0, 8.5, 87.0, 71.0],
        "low": [np.nan, 7.0, 86.5, 69.0], "high": [np.nan, 10.0, 87.5, 73.0]})
    res = gaps.stretch_aims(aims, actual).set_index("measure")
    # gap: line from 12 (2022) to 6 (2026) expects 9 in 2024; 8.5 is better (lower)
    assert res.loc["numeracy gap", "expected"] == pytest.approx(9.0)
    assert res.loc["numeracy gap", "status"] == "on track"
    assert not res.loc["numeracy gap", "certain"]  # interval 7-10 crosses 9
    assert res.loc["attendance q1", "status"] == "not on track"  # expects 88
    assert res.loc["attendance q1", "certain"]
    assert res.loc["literacy q1", "status"] == "achieved"
    with pytest.raises(DataError, match="not after the baseline"):
        gaps.stretch_aims(aims.assign(year=2020), actual)


def test_synthetic_authority_gaps():
    a = authority(seed=0)
    ach = gaps.attainment_gap(a, by="authority")
    check_published(ach)
    # the synthetic pupils are less often on track in quintile 1 than in quintile 5
    assert (ach["gap"].astype(float) > 0).all()
    att = gaps.attendance_gap(a, by="cluster")
    check_published(att)
    auth = gaps.attendance_gap(a, by="authority", publish=False)
    assert (auth["gap_lo"] > 0).all()
    measure = gaps.as_measure(gaps.attendance_gap(a, by="authority"), "attendance gap")
    aims = pd.DataFrame({"measure": ["attendance gap"], "baseline": [measure.value.iloc[0]],
                         "target": [measure.value.iloc[0] - 2], "year": [2026]})
    status = gaps.stretch_aims(aims, measure)
    assert status.loc[0, "status"] in {"on track", "not on track", "achieved"}


def test_expected_acel_on_official_files(official_dir):
    from nlc_eval.data.official import load_acel, load_school_statistics

    acel = load_acel(official_dir)
    census = load_school_statistics(official_dir, years=[2021])
    raw = gaps.expected_acel(acel, census, publish=False)
    meta = raw.attrs["acel_model"]
    assert meta["census_year"] == 2021
    assert meta["rows_used"] + sum(meta["dropped"].values()) == meta["rows_in"]
    assert meta["dropped"]["suppressed [c]"] == int(acel["suppressed"].sum())
    for name, model in meta["models"].items():
        coef = model["coefficients"]
        # the poverty-related attainment gap: more pupils from quintile 5 -> higher
        # attainment than more from quintile 1, in every stage and organiser
        assert coef["simd_q5_share"] > coef["simd_q1_share"], name
        assert model["schools"] > 200
    inside = (raw["versus_expected"] == "as expected").mean()
    assert 0.90 <= inside <= 0.99
    assert ((raw["pi_low"] <= raw["expected"]) & (raw["expected"] <= raw["pi_high"])).all()
    nl = gaps.expected_acel(acel, census, local_authority="North Lanarkshire")
    check_published(nl)
    assert nl["seed_code"].nunique() > 100
    assert set(nl["local_authority"]) == {"North Lanarkshire"}
    mid = gaps.expected_acel(acel, census, bands="midpoint", publish=False)
    assert mid.attrs["acel_model"]["rows_used"] > meta["rows_used"]
    with pytest.raises(DataError, match="bands"):
        gaps.expected_acel(acel, census, bands="guess")
