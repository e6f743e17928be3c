"""Tests of nlc_eval.compare (virtual comparators) and nlc_eval.synthetic_control."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nlc_eval import compare
from nlc_eval.errors import DataError, ImpactError
from nlc_eval.synthetic_control import authority_series, fit_weights, synthetic_control

YEARS = [2019, 2020, 2021, 2022, 2023, 2024]


def make_panel(
    *,
    n_per_la: int = 30,
    las=("Home", "North", "South", "East"),
    planted: dict | None = None,
    noise: float = 0.6,
    seed: int = 0,
    blank_years=(2020, 2022),
) -> pd.DataFrame:
    """A school-year panel whose attendance depends on context (SIMD Q1 share, roll).

    ``planted`` maps year -> the amount added to every Home school's attendance: the true
    difference between Home and schools like them elsewhere. Attendance is blank in
    ``blank_years``, as in editions of the official files without an attendance collection.
    """
    rng = np.random.default_rng(seed)
    planted = planted or {}
    rows = []
    year_fx = {y: rng.normal(0, 0.5) for y in YEARS}
    for la in las:
        for i in range(n_per_la):
            sector = "primary" if i % 3 else "secondary"
            q1 = rng.uniform(0.05, 0.7)
            roll = rng.uniform(100, 400) * (4 if sector == "secondary" else 1)
            school_fx = rng.normal(0, 0.4)
            for y in YEARS:
                base = 95 - 8 * q1 - (1.5 if sector == "secondary" else 0) + year_fx[y]
                att = base + school_fx + rng.normal(0, noise)
                if la == "Home":
                    att += planted.get(y, 0.0)
                rows.append(
                    {
                        "year": y,
                        "seed_code": f"{55 + las.index(la)}{i:05d}",
                        "school_name": f"{la} school {i}",
                        "local_authority": la,
                        "sector": sector,
                        "roll": roll,
                        "simd_q1_share": q1,
                        **{f"simd_q{q}_share": (1 - q1) / 4 for q in range(2, 6)},
                        "fsm_pct": 40 * q1 + rng.normal(0, 1),
                        "attendance_rate": np.nan if y in blank_years else att,
                        "unauthorised_absence_rate": np.nan if y in blank_years else 100 - att,
                    }
                )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# comparator selection
# ---------------------------------------------------------------------------


def test_comparators_other_authority_same_sector_nearest():
    schools = pd.DataFrame(
        {
            "seed_code": ["h1", "h2", "o1", "o2", "o3", "o4"],
            "sector": ["primary", "primary", "primary", "secondary", "primary", "primary"],
            "local_authority": ["Home", "Home", "Other", "Other", "Far", "Far"],
        }
    )
    # h2 is h1's twin (same authority), o2 is identical but secondary, o1 next, o3 further
    X = pd.DataFrame({"x": [0.0, 0.0, 0.5, 0.0, 1.0, 9.0]})
    comps, unmatched = compare.select_comparators(schools, X, "home", k=2)
    h1 = comps.loc[comps["seed_code"] == "h1"]
    assert h1["comparator_seed_code"].tolist() == ["o1", "o3"]
    assert (comps["comparator_authority"] != "Home").all()
    assert set(comps["sector"]) == {"primary"}
    assert np.allclose(comps.groupby("seed_code")["weight"].sum(), 1.0)
    # inverse distance: the nearer comparator weighs more
    assert h1["weight"].iloc[0] > h1["weight"].iloc[1]
    assert unmatched.empty


def test_comparators_report_unmatched_and_bad_input():
    schools = pd.DataFrame(
        {
            "seed_code": ["h1", "h2", "o1"],
            "sector": ["special", "primary", "primary"],
            "local_authority": ["Home", "Home", "Other"],
        }
    )
    X = pd.DataFrame({"x": [0.0, 1.0, 2.0]})
    comps, unmatched = compare.select_comparators(schools, X, "Home", k=3)
    assert unmatched["seed_code"].tolist() == ["h1"]
    assert "special" in unmatched["reason"].iloc[0]
    assert len(comps) == 1  # only one candidate exists: k is capped, nothing invented
    with pytest.raises(DataError, match="not aligned"):
        compare.select_comparators(schools, X.iloc[:2], "Home")
    with pytest.raises(DataError, match="no school of authority"):
        compare.select_comparators(schools, X, "Nowhere")


@pytest.mark.parametrize("weighting", ["equal", "gaussian", "inverse_distance"])
def test_weights_sum_to_one(weighting):
    panel = make_panel(n_per_la=12)
    cmp = compare.compare_authority(panel, "Home", k=4, weighting=weighting)
    w = cmp.comparators.groupby(["seed_code", "sector"])["weight"].sum()
    assert np.allclose(w, 1.0)
    assert (cmp.comparators.groupby(["seed_code", "sector"]).size() == 4).all()


def test_features_are_fixed_at_baseline_year():
    """Comparators follow the baseline year's context, and outcomes never enter."""
    rows = []
    for y in (2019, 2023):
        for code, la, q1_19, q1_23 in [
            ("1", "Home", 0.30, 0.30),
            ("2", "Away", 0.31, 0.60),  # like Home school in 2019 only
            ("3", "Away", 0.60, 0.31),  # like Home school in 2023 only
        ]:
            rows.append(
                {"year": y, "seed_code": code, "sector": "primary", "local_authority": la,
                 "simd_q1_share": q1_19 if y == 2019 else q1_23,
                 # outcome identical for 1 and 3 in both years: must not pull 3 closer
                 "attendance_rate": 90.0 if code != "2" else 80.0}
            )
    stats = pd.DataFrame(rows)
    first = compare.compare_authority(stats, "Home", baseline_year=2019, k=1,
                                      features=["simd_q1_share"])
    assert first.comparators["comparator_seed_code"].tolist() == ["2"]
    later = compare.compare_authority(stats, "Home", baseline_year=2023, k=1,
                                      features=["simd_q1_share"])
    assert later.comparators["comparator_seed_code"].tolist() == ["3"]
    with pytest.raises(DataError, match="baseline year 2018"):
        compare.compare_authority(stats, "Home", baseline_year=2018)


def test_new_school_after_baseline_is_listed_not_dropped():
    panel = make_panel(n_per_la=9)
    extra = panel.loc[(panel["local_authority"] == "Home") & (panel["year"] >= 2022)].copy()
    extra = extra.loc[extra["seed_code"] == extra["seed_code"].iloc[0]]
    extra["seed_code"] = "9999999"
    panel = pd.concat([panel, extra], ignore_index=True)
    cmp = compare.compare_authority(panel, "Home", k=3)
    row = cmp.unmatched.loc[cmp.unmatched["seed_code"] == "9999999"]
    assert len(row) == 1 and "2019" in row["reason"].iloc[0]


# ---------------------------------------------------------------------------
# years without data
# ---------------------------------------------------------------------------


def test_outcome_years_detects_blank_and_repeated_years():
    panel = make_panel(n_per_la=9)
    # 2022 repeats 2021's figures (as some editions do), 2020 blank
    y21 = panel.loc[panel["year"] == 2021].set_index(["seed_code", "sector"])["attendance_rate"]
    m22 = panel["year"] == 2022
    keys = pd.MultiIndex.from_frame(panel.loc[m22, ["seed_code", "sector"]])
    panel.loc[m22, "attendance_rate"] = y21.reindex(keys).to_numpy()
    table = compare.outcome_years(panel, "attendance_rate").set_index("year")
    assert table.loc[2020, "status"] == "not published"
    assert table.loc[2022, "status"] == "repeat of 2021"
    assert compare.published_years(panel, "attendance_rate") == [2019, 2021, 2023, 2024]
    cmp = compare.compare_authority(panel, "Home", k=3)
    assert cmp.gap("attendance_rate")["year"].tolist() == [2019, 2021, 2023, 2024]
    with pytest.raises(ImpactError, match="not published for 2022"):
        cmp.did("attendance_rate", 2019, 2022)


def test_virtual_comparator_renormalises_over_observed_comparators():
    comps = pd.DataFrame(
        {"seed_code": ["h"] * 3, "sector": ["primary"] * 3,
         "comparator_seed_code": ["a", "b", "c"], "weight": [0.5, 0.3, 0.2]}
    )
    panel = pd.DataFrame(
        {"year": [2019] * 4 + [2020] * 4, "seed_code": ["h", "a", "b", "c"] * 2,
         "sector": ["primary"] * 8,
         "attendance_rate": [90, 80, 90, 100, 91, np.nan, 90, 100]}
    )
    v = compare.virtual_comparator(panel, comps, ["attendance_rate"]).set_index("year")
    assert v.loc[2019, "comparator_value"] == pytest.approx(0.5 * 80 + 0.3 * 90 + 0.2 * 100)
    assert v.loc[2020, "comparator_value"] == pytest.approx((0.3 * 90 + 0.2 * 100) / 0.5)
    assert v.loc[2020, "n_comparators"] == 2
    strict = compare.virtual_comparator(panel, comps, ["attendance_rate"], min_weight=0.6)
    assert strict.set_index("year").loc[2020, "status"] == "comparators missing"
    assert np.isnan(strict.set_index("year").loc[2020, "difference"])


# ---------------------------------------------------------------------------
# the estimators on a panel with a known planted difference
# ---------------------------------------------------------------------------


def test_gap_and_did_recover_planted_difference():
    planted = {2019: -1.5, 2021: -1.5, 2023: -0.5, 2024: -0.5}
    panel = make_panel(n_per_la=60, planted=planted, seed=3)
    cmp = compare.compare_authority(panel, "Home", k=5, features=["simd_q1_share", "roll"])
    gap = cmp.gap("attendance_rate").set_index("year")
    for y, truth in planted.items():
        assert gap.loc[y, "ci_low"] < truth < gap.loc[y, "ci_high"]
        assert abs(gap.loc[y, "estimate"] - truth) < 0.4
        assert gap.loc[y, "n_schools"] == 60
    did = cmp.did("attendance_rate", 2019, 2024)
    assert did.ci_low < 1.0 < did.ci_high
    assert did.ci_low > 0  # a one-point change is detectable with 60 schools
    assert did.n_schools == 60 and did.n_dropped == 0
    assert "2019" in did.sentence() and "2024" in did.sentence()
    tidy = did.tidy()
    assert {"estimate", "std_error", "ci_low", "ci_high", "p_value"} <= set(tidy.columns)


def test_did_no_change_interval_covers_zero_and_drops_unbalanced():
    panel = make_panel(n_per_la=45, planted={y: -1.0 for y in YEARS}, seed=5)
    # two Home schools have no attendance in 2024: they must leave the balanced DiD
    home = panel.loc[panel["local_authority"] == "Home", "seed_code"].unique()[:2]
    panel.loc[panel["seed_code"].isin(home) & (panel["year"] == 2024), "attendance_rate"] = np.nan
    cmp = compare.compare_authority(panel, "Home", k=5)
    did = cmp.did("attendance_rate", 2019, 2024)
    assert did.ci_low < 0 < did.ci_high
    assert did.n_schools == 43 and did.n_dropped == 2
    with pytest.raises(ImpactError, match="two different years"):
        compare.comparative_did(cmp.virtual, "attendance_rate", 2019, 2019)


def test_did_result_is_an_estimate_computed_by_impact_did():
    from nlc_eval.impact import Estimate, did
    from nlc_eval.impact.estimate import TIDY_COLUMNS

    panel = make_panel(n_per_la=60, planted={2019: -1.5, 2021: -1.5, 2023: -0.5, 2024: -0.5},
                       seed=3)
    cmp = compare.compare_authority(panel, "Home", k=5, features=["simd_q1_share", "roll"])
    res = cmp.did("attendance_rate", 2019, 2024)
    assert isinstance(res, Estimate) and isinstance(res, compare.DidResult)
    tidy = res.tidy()
    assert list(tidy.columns[:len(TIDY_COLUMNS)]) == TIDY_COLUMNS
    assert list(tidy.columns[len(TIDY_COLUMNS):]) == ["n_schools", "n_dropped", "method"]
    row = tidy.iloc[0]
    assert row["term"] == "attendance_rate: change in gap 2019->2024"
    assert (row["estimate"], row["std_error"], row["p_value"]) == (res.estimate, res.se,
                                                                   res.p_value)
    assert row["n"] == res.n_treated + res.n_control == 2 * res.n_schools
    assert res.outcome == "attendance rate" and res.outcome_column == "attendance_rate"
    assert res.units == "percentage points" and res.design == "change"
    assert res.level == res.conf_level == 0.95
    text = res.summary()
    assert res.method in text and res.sentence() in text and "Assumptions:" in text
    assert "virtual comparators are fixed at the baseline" in text
    assert not any("without support" in a for a in res.assumptions)
    # a balanced two-period DiD with unit and year effects is the mean change in each
    # school's difference from its virtual comparator
    v = cmp.virtual.loc[cmp.virtual["outcome"] == "attendance_rate"]
    wide = v.pivot_table(index=["seed_code", "sector"], columns="year", values="difference")
    assert res.estimate == pytest.approx((wide[2024] - wide[2019]).mean(), abs=1e-10)
    # ... and it is nlc_eval.impact.did on the stacked panel, nothing else
    p = compare.did_panel(cmp.virtual, "attendance_rate", 2019, 2024)
    direct = did(p.assign(d=p["treated"] * p["post"]), "value", "d", "unit", "year",
                 cluster="cluster")
    assert (res.estimate, res.se, res.ci_low, res.ci_high, res.p_value) == (
        direct.estimate, direct.se, direct.ci_low, direct.ci_high, direct.p_value)
    assert res.inference == direct.inference


def test_did_with_few_schools_uses_the_wild_cluster_bootstrap():
    panel = make_panel(n_per_la=12, planted={y: -1.0 for y in YEARS}, seed=8)
    cmp = compare.compare_authority(panel, "Home", k=3)
    res = cmp.did("attendance_rate", 2019, 2024)
    assert res.n_schools == 12
    assert "wild cluster bootstrap" in res.inference and "12 clusters" in res.inference
    assert res.ci_low < 0 < res.ci_high
    assert np.isfinite(res.se) and res.summary()


@pytest.mark.slow
def test_gap_interval_coverage():
    """95% intervals of the yearly gap cover the planted truth in most replications."""
    hits, n = 0, 20
    for seed in range(n):
        panel = make_panel(n_per_la=25, las=("Home", "A", "B"), planted={2019: 1.0}, seed=seed,
                           blank_years=(2020, 2021, 2022, 2023, 2024))
        cmp = compare.compare_authority(panel, "Home", k=3, features=["simd_q1_share", "roll"],
                                        outcomes=["attendance_rate"])
        g = cmp.gap("attendance_rate").iloc[0]
        hits += g["ci_low"] <= 1.0 <= g["ci_high"]
    # matching on a noisy context leaves a little bias; 95% nominal, demand at least 80%
    assert hits / n >= 0.80


def test_gap_by_sector_and_balanced():
    panel = make_panel(n_per_la=30, planted={2019: -1.0, 2021: -1.0, 2023: 0.0, 2024: 0.0})
    home = panel.loc[panel["local_authority"] == "Home", "seed_code"].unique()[:3]
    panel.loc[panel["seed_code"].isin(home) & (panel["year"] == 2023), "attendance_rate"] = np.nan
    cmp = compare.compare_authority(panel, "Home", k=4)
    g = cmp.gap("attendance_rate", by_sector=True)
    assert set(g["sector"]) == {"all", "primary", "secondary"}
    per_year = g.loc[g["sector"] != "all"].groupby("year")["n_schools"].sum()
    assert (per_year == g.loc[g["sector"] == "all"].set_index("year")["n_schools"]).all()
    b = cmp.gap("attendance_rate", balanced=True)
    assert (b["n_schools"] == 27).all()
    assert cmp.gap("attendance_rate").set_index("year").loc[2019, "n_schools"] == 30
    cov = cmp.coverage().set_index(["outcome", "year"])
    assert cov.loc[("attendance_rate", 2023), "school missing"] == 3


def test_authority_names_harmonised_and_grant_aided_left_out():
    panel = make_panel(n_per_la=9, las=("Home", "City of Elsewhere", "Other"))
    late = panel["year"] >= 2022
    panel.loc[late & (panel["local_authority"] == "City of Elsewhere"),
              "local_authority"] = "Elsewhere City"
    panel.loc[panel["local_authority"] == "Other", "local_authority"] = "Grant aided"
    cmp = compare.compare_authority(panel, "Home", k=3)
    assert set(cmp.comparators["comparator_authority"]) == {"Elsewhere City"}


def test_default_features_come_from_similarity_and_exclude_outcomes():
    from nlc_eval.similarity import FeatureSpec

    panel = make_panel(n_per_la=9)
    schools, X = compare.baseline_features(panel, 2019)
    assert list(X.columns) == ["log_roll", "simd_mean_quintile", "simd_q1_share", "fsm_pct"]
    assert X.index.equals(schools.index) and len(X) == 36
    # scaled within sector: each sector's log roll is centred on its own median
    med = X.groupby(schools["sector"])["log_roll"].median()
    assert np.allclose(med, 0.0)
    with pytest.raises(DataError, match="cannot also define similarity"):
        compare.baseline_features(panel, 2019, spec=FeatureSpec(extras=("attendance_rate",)))
    with pytest.raises(DataError, match="cannot also define similarity"):
        compare.baseline_features(panel, 2019, features=["roll", "attendance_rate"])


def test_errors_name_the_problem():
    panel = make_panel(n_per_la=6)
    with pytest.raises(DataError, match="Fix:.*published name"):
        compare.compare_authority(panel, "Hom")
    with pytest.raises(DataError, match="column 'local_authority'"):
        compare.compare_authority(panel.drop(columns="local_authority"), "Home")
    dup = pd.concat([panel, panel.iloc[[0]]], ignore_index=True)
    with pytest.raises(DataError, match="repeat a"):
        compare.compare_authority(dup, "Home")
    assert compare.resolve_authority(panel, "  HOME ") == "Home"


def test_extra_outcomes_only_in_their_years():
    panel = make_panel(n_per_la=9)
    acel = panel.loc[panel["year"] == 2022, ["year", "seed_code", "sector"]].copy()
    acel["acel_reading"] = 70 + 10 * np.random.default_rng(1).random(len(acel))
    cmp = compare.compare_authority(panel, "Home", k=3, extra=acel)
    assert "acel_reading" in cmp.outcomes
    assert cmp.years("acel_reading") == [2022]
    assert cmp.gap("acel_reading")["year"].tolist() == [2022]


# ---------------------------------------------------------------------------
# synthetic control
# ---------------------------------------------------------------------------


def test_fit_weights_recovers_convex_combination():
    rng = np.random.default_rng(2)
    donors = rng.normal(90, 2, size=(10, 6))
    truth = np.zeros(10)
    truth[[1, 4, 7]] = [0.5, 0.3, 0.2]
    target = truth @ donors
    for method in ("slsqp", "nnls"):
        w = fit_weights(target, donors, method=method)
        assert (w >= 0).all() and w.sum() == pytest.approx(1.0)
        assert np.allclose(w, truth, atol=0.02)


def _la_series(effect: float, seed: int, n_la: int = 20):
    """Authorities as random mixtures of four latent trends plus noise: exchangeable units.

    The last unit, "Treated", gets ``effect`` added from 2020 on.
    """
    rng = np.random.default_rng(seed)
    years = list(range(2012, 2025))
    trends = 92 + rng.normal(0, 0.8, (4, len(years))).cumsum(axis=1)
    mix = rng.dirichlet(np.ones(4), size=n_la + 1)
    Y = mix @ trends + rng.normal(0, 0.15, (n_la + 1, len(years)))
    names = [f"LA{i:02d}" for i in range(n_la)] + ["Treated"]
    df = pd.DataFrame(Y, index=names, columns=years)
    df.loc["Treated", [y for y in years if y >= 2020]] += effect
    return df, [y for y in years if y < 2020], [y for y in years if y >= 2020]


def test_synthetic_control_recovers_planted_effect():
    Y, pre, post = _la_series(effect=-2.0, seed=11)
    res = synthetic_control(Y, "Treated", pre_years=pre, post_years=post)
    assert res.effect == pytest.approx(-2.0, abs=0.3)
    assert res.weights.min() >= 0 and res.weights.sum() == pytest.approx(1.0)
    assert res.pre_rmspe < 0.5
    assert res.p_value == pytest.approx(1 / 21)  # the treated ratio is the largest
    assert res.n_units == 21
    assert set(res.path["period"]) == {"pre", "post"}
    assert "Treated" in res.sentence()
    lo, hi = res.placebo_interval()
    assert lo < -2.0 < hi


def test_synthetic_control_placebo_p_values_calibrated_under_no_effect():
    """With no effect the placebo p-value is roughly uniform: few runs fall at or below 0.1."""
    p_values, effects = [], []
    for seed in range(10):
        Y, pre, post = _la_series(effect=0.0, seed=100 + seed)
        res = synthetic_control(Y, "Treated", pre_years=pre, post_years=post)
        p_values.append(res.p_value)
        effects.append(res.effect)
    assert sum(p <= 0.1 for p in p_values) <= 3
    assert np.mean(np.abs(effects)) < 0.5


def test_synthetic_control_result_is_an_estimate():
    from nlc_eval.impact import Estimate
    from nlc_eval.impact.estimate import TIDY_COLUMNS

    Y, pre, post = _la_series(effect=-2.0, seed=11)
    Y.attrs["outcome"] = "attendance_rate"
    res = synthetic_control(Y, "Treated", pre_years=pre, post_years=post,
                            units="percentage points")
    assert isinstance(res, Estimate)
    assert res.effect == res.estimate and res.n_treated == 1
    assert res.n_control == len(res.weights) == res.n_units - 1
    assert res.ratio_informative and res.p_value == res.p_value_ratio
    assert (res.ci_low, res.ci_high) == res.placebo_interval() and res.conf_level == 0.9
    others = res.placebos.loc[~res.placebos["treated"], "effect"]
    assert res.se == pytest.approx(others.std(ddof=1))
    lo, hi = np.quantile(others, [0.05, 0.95])
    assert res.ci_low == pytest.approx(res.effect - hi) and res.ci_high == pytest.approx(
        res.effect - lo)
    tidy = res.tidy()
    assert list(tidy.columns) == TIDY_COLUMNS
    assert tidy["term"].tolist() == ["average post-period gap"] + [f"gap {y}" for y in post]
    head = tidy.iloc[0]
    assert (head["estimate"], head["p_value"], head["ci_low"]) == (res.effect, res.p_value,
                                                                  res.ci_low)
    gaps = res.path.loc[res.path["period"] == "post", "gap"].to_numpy()
    np.testing.assert_allclose(tidy["estimate"].iloc[1:], gaps)
    assert head["estimate"] == pytest.approx(gaps.mean())
    assert res.outcome == "attendance rate" and res.outcome_column == "attendance_rate"
    text = res.summary()
    assert "placebo-in-space" in text and res.sentence() in text
    assert "attendance rate differed" in res.sentence()


def test_synthetic_control_reports_the_effect_p_value_when_placebo_fits_are_exact():
    """With two pre-period years most placebos are fitted exactly by convex weights, so the
    RMSPE ratio ranks nothing and the reported p-value is the average-gap one."""
    Y, _, post = _la_series(effect=-1.0, seed=3, n_la=25)
    res = synthetic_control(Y, "Treated", pre_years=[2018, 2019], post_years=post)
    assert res.n_exact_placebos > 0.1 * (res.n_units - 1)
    assert not res.ratio_informative
    assert res.p_value == res.p_value_effect != res.p_value_ratio
    share = (res.placebos["effect"].abs() >= abs(res.effect) - 1e-12).mean()
    assert res.p_value == pytest.approx(share)
    assert res.tidy().iloc[0]["p_value"] == res.p_value
    from nlc_eval.formatting import p_value

    assert f"placebo {p_value(res.p_value)}" in res.sentence()


def test_synthetic_control_bad_input():
    Y, pre, post = _la_series(effect=0.0, seed=1, n_la=10)
    with pytest.raises(ImpactError, match="overlap"):
        synthetic_control(Y, "Treated", pre_years=pre, post_years=pre[-1:])
    with pytest.raises(ImpactError, match="not a row"):
        synthetic_control(Y, "Nowhere", pre_years=pre, post_years=post)
    with pytest.raises(ImpactError, match="not in the series"):
        synthetic_control(Y, "Treated", pre_years=pre, post_years=[2030])


def test_authority_series_is_roll_weighted():
    stats = pd.DataFrame(
        {"year": [2019] * 3, "local_authority": ["A", "A", "B"], "sector": ["primary"] * 3,
         "roll": [100, 300, 50], "attendance_rate": [90.0, 94.0, 80.0]}
    )
    s = authority_series(stats)
    assert s.loc["A", 2019] == pytest.approx(93.0)
    assert s.loc["B", 2019] == pytest.approx(80.0)
    with pytest.raises(DataError, match="roll"):
        authority_series(stats.drop(columns="roll"))


# ---------------------------------------------------------------------------
# real data
# ---------------------------------------------------------------------------


@pytest.mark.official
@pytest.mark.parametrize("authority", ["North Lanarkshire", "Fife", "Glasgow City"])
def test_real_data_comparison(official_dir, authority):
    from nlc_eval.data.official import load_school_statistics

    stats = load_school_statistics(official_dir)
    cmp = compare.compare_authority(stats, authority, baseline_year=2019, k=5)
    comps = cmp.comparators
    assert len(comps) > 0
    assert (comps["comparator_authority"] != cmp.authority).all()
    # same sector: each comparator's baseline row has the school's sector
    base = stats.loc[stats["year"] == 2019, ["seed_code", "sector"]].astype(str)
    pairs = comps[["comparator_seed_code", "sector"]].rename(
        columns={"comparator_seed_code": "seed_code"})
    assert len(pairs.merge(base, how="inner")) == len(pairs)
    att_years = cmp.years("attendance_rate")
    assert 2019 in att_years and 2023 in att_years
    # editions 2020 and 2022 repeat the previous collection: not counted as new data
    assert 2020 not in att_years and 2022 not in att_years
    gap = cmp.gap("attendance_rate")
    assert gap["ci_low"].notna().all() and (gap["ci_low"] < gap["ci_high"]).all()
    assert gap["n_schools"].min() > 20
    did = cmp.did("attendance_rate", 2019, 2024)
    assert np.isfinite(did.estimate) and did.ci_low < did.estimate < did.ci_high


@pytest.mark.official
def test_real_data_synthetic_control(official_dir):
    from nlc_eval.data.official import load_school_statistics

    stats = load_school_statistics(official_dir)
    years = compare.published_years(stats, "attendance_rate")
    series = authority_series(stats, "attendance_rate", years=years)
    # one row per authority: names harmonised across editions, grant-aided schools left out
    assert len(series) == 32
    assert "Edinburgh City" in series.index and "City of Edinburgh" not in series.index
    res = synthetic_control(
        series, "North Lanarkshire",
        pre_years=[y for y in years if y <= 2021], post_years=[y for y in years if y > 2021],
    )
    assert res.n_units == 32
    assert res.weights.sum() == pytest.approx(1.0) and (res.weights >= 0).all()
    assert "North Lanarkshire" not in res.weights.index
    assert 1 / 32 <= res.p_value <= 1


def test_demeaned_synthetic_control_handles_level_outside_donor_range():
    Y, pre, post = _la_series(effect=-1.0, seed=21)
    Y.loc["Treated"] -= 4.0  # far below every donor: no convex combination reaches it
    plain = synthetic_control(Y, "Treated", pre_years=pre, post_years=post)
    demeaned = synthetic_control(Y, "Treated", pre_years=pre, post_years=post, intercept=True)
    assert abs(plain.effect - (-1.0)) > 1.5  # the level misfit swamps the effect
    assert demeaned.effect == pytest.approx(-1.0, abs=0.3)
    assert demeaned.path.loc[pre, "synthetic"].mean() == pytest.approx(
        Y.loc["Treated", pre].mean())


# ---------------------------------------------------------------------------
# ACEL outcomes and report helpers
# ---------------------------------------------------------------------------


def test_acel_outcomes_by_sector_and_year():
    acel = pd.DataFrame(
        {
            "session": ["2021/22"] * 5,
            "stage": ["P1, P4 & P7 combined", "P1, P4 & P7 combined", "S3", "S3",
                      "P1, P4 & P7 combined"],
            "seed_code": ["1", "1", "2", "2", "3"],
            "organiser": ["Reading", "Numeracy", "Reading", "Writing", "Reading"],
            "pct": [70.0, 75.0, 80.0, None, 50.0],  # None: banded or suppressed
        }
    )
    stats = pd.DataFrame(
        {"year": [2022] * 3, "seed_code": ["1", "2", "3"],
         "sector": ["primary", "secondary", "special"]}
    )
    out = compare.acel_outcomes(acel, stats).set_index(["seed_code", "sector"])
    assert (out["year"] == 2022).all()
    assert out.loc[("1", "primary"), "acel_reading"] == 70.0
    assert out.loc[("2", "secondary"), "acel_reading"] == 80.0
    assert np.isnan(out.loc[("2", "secondary"), "acel_writing"])  # never a made-up value
    assert out.loc[("3", "special"), "acel_reading"] == 50.0  # placed under its sector
    bad = acel.assign(organiser=["Art"] * 5)
    with pytest.raises(DataError, match="organiser"):
        compare.acel_outcomes(bad)


def test_did_table_uses_nearest_published_years_and_notes_single_years(tmp_path):
    import json

    from nlc_eval import compare_report as cr

    panel = make_panel(n_per_la=20, planted={2019: -1.0, 2021: -1.0, 2023: 0.0, 2024: 0.0})
    acel = panel.loc[panel["year"] == 2022, ["year", "seed_code", "sector"]].copy()
    acel["acel_numeracy"] = np.linspace(60, 90, len(acel))
    cmp = compare.compare_authority(panel, "Home", k=3, extra=acel)
    table, results = cr.did_table(cmp, 2020, 2022)
    att = table.set_index("outcome").loc["attendance_rate"]
    assert np.isnan(att["estimate"]) and "no change can be estimated" in att["note"]
    table, results = cr.did_table(cmp, 2020, 2024)
    att = table.set_index("outcome").loc["attendance_rate"]
    assert (att["baseline"], att["followup"]) == (2021, 2024)
    assert "not published in 2020" in att["note"]
    assert att["ci_low"] < 1.0 < att["ci_high"]
    num = table.set_index("outcome").loc["acel_numeracy"]
    assert np.isnan(num["estimate"]) and "published only in [2022]" in num["note"]
    gaps = cmp.gaps(by_sector=True)
    text = cr.narrative(cmp, gaps, results)
    assert "observational" in text and "school-level" in text and "composition" in text
    res = cr.key_results(cmp, gaps, table, dids=results, parameters={"k": 3})
    path = cr.write_json(res, tmp_path / "out.json")
    back = json.loads(path.read_text())
    assert back["authority"] == "Home" and back["headlines"]
    assert back["published_years"]["attendance_rate"] == [2019, 2021, 2023, 2024]


def test_notebook_is_thin_and_declares_its_parameters():
    import ast
    import json
    from pathlib import Path

    nb = json.loads(
        (Path(__file__).resolve().parents[1] / "notebooks" / "authority_comparison.ipynb")
        .read_text()
    )
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1
    source = params[0]["source"]
    tree = ast.parse(source if isinstance(source, str) else "".join(source))
    declared = {n.target.id: ast.literal_eval(n.value) for n in tree.body
                if isinstance(n, ast.AnnAssign)}
    assert declared["authority"] == "North Lanarkshire"
    assert declared["baseline_year"] == 2019 and declared["k"] == 5
    assert declared["data_dir"] == "" and declared["output_json"] == ""
    for cell in code:
        text = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        src = "\n".join(line for line in text.splitlines() if not line.startswith("%"))
        nodes = list(ast.walk(ast.parse(src)))
        assert not any(isinstance(n, ast.FunctionDef | ast.Lambda | ast.ClassDef)
                       for n in nodes)
