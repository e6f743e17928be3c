"""Event study (Callaway–Sant'Anna group-time effects) against planted dynamic effects,
against the csdid package (a port of R's did), and its default clustering."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pandas as pd
import pytest
from _impact_sim import panel
from csdid.att_gt import ATTgt

from nlc_eval.errors import ImpactError
from nlc_eval.impact import did, event_study


def test_recovers_dynamic_effects_where_twfe_is_biased():
    p = panel(seed=4, n_units=3000, effect=1.0, dynamic=0.5, cluster_sd=0.0)
    es = event_study(p, "y", "unit", "period", "first")  # no cluster shocks: unit clusters
    t = es.terms.set_index("event_time")
    for e in (0, 1, 2):
        assert t.loc[e, "ci_low"] - 0.05 < 1.0 + 0.5 * e < t.loc[e, "ci_high"] + 0.05
    # varying base period (the default): e = -1 is estimated, a period-to-period change
    assert es.extra["base_period"] == "varying"
    assert t.loc[-1, "std_error"] > 0 and t.loc[-1, "ci_low"] < 0 < t.loc[-1, "ci_high"]
    assert es.extra["pretrend_p"] > 0.01
    assert "Callaway-Sant'Anna" in es.method and "not-yet-treated" in es.method
    # the overall effect averages post cells; truth from the planted design
    gt = es.extra["group_time"]
    post = gt[gt.event_time >= 0]
    truth = np.average(1.0 + 0.5 * post.event_time, weights=post.n_cohort)
    assert es.ci_low < truth < es.ci_high
    # two-way fixed effects is pulled away from it by already-treated comparisons
    tw = did(p, "y", "treated", "unit", "period")
    assert abs(tw.estimate - truth) > abs(es.estimate - truth)
    # universal base period: e = -1 is the reference, fixed at 0; post cells are unchanged
    un = event_study(p, "y", "unit", "period", "first", base_period="universal")
    tu = un.terms.set_index("event_time")
    assert tu.loc[-1, "estimate"] == 0.0 and tu.loc[-1, "std_error"] == 0.0
    assert un.estimate == pytest.approx(es.estimate, abs=1e-12)
    assert np.allclose(tu.loc[[0, 1, 2], "estimate"], t.loc[[0, 1, 2], "estimate"])


@pytest.mark.parametrize("base_period", ["varying", "universal"])
def test_pretrend_test_detects_violation(base_period):
    p = panel(seed=5, n_units=3000, pre_trend=0.3, cluster_sd=0.0)
    es = event_study(p, "y", "unit", "period", "first", base_period=base_period)
    assert es.extra["pretrend_p"] < 0.01
    assert any("WARNING" in a for a in es.assumptions)


def test_never_treated_controls_window_and_tidy():
    p = panel(seed=6)
    es = event_study(p, "y", "unit", "period", "first", control="never", window=(-2, 1),
                     cluster="cluster")
    assert set(es.terms.event_time) == {-2, -1, 0, 1}
    assert "never-treated" in es.method
    assert "t(22)" in es.inference
    tidy = es.tidy()
    assert tidy.loc[0, "term"] == "effect" and len(tidy) == 5
    assert es.plot() is not None
    un = event_study(p, "y", "unit", "period", "first", control="never", window=(-2, 1),
                     cluster="cluster", base_period="universal")
    assert set(un.terms.event_time) == {-2, -1, 0, 1}
    assert un.terms.set_index("event_time").loc[-1, "estimate"] == 0.0


def test_default_clusters_are_the_units_with_small_sample_inference():
    """Without ``cluster=`` the inference is exactly that of ``cluster=unit``: fewer than 50
    units take t(G-1) intervals and the bootstrap pre-trend test, not chi-squared."""
    p = panel(seed=21, n_units=40, cluster_sd=0.0, pre_trend=0.2)
    a = event_study(p, "y", "unit", "period", "first", n_boot=199)
    b = event_study(p, "y", "unit", "period", "first", cluster="unit", n_boot=199)
    G = p["unit"].nunique()
    assert a.extra["n_clusters"] == G == 40
    assert f"t({G - 1})" in a.inference and a.inference == b.inference
    assert "wild cluster bootstrap" in a.extra["pretrend_method"]
    assert a.extra["pretrend_method"] == b.extra["pretrend_method"]
    assert a.extra["pretrend_p"] == b.extra["pretrend_p"]
    assert a.extra["pretrend_stat"] == b.extra["pretrend_stat"]
    for col in ("estimate", "std_error", "ci_low", "ci_high", "p_value"):
        assert np.array_equal(a.terms[col].to_numpy(), b.terms[col].to_numpy(),
                              equal_nan=True), col
    assert (a.estimate, a.se, a.ci_low, a.ci_high, a.p_value) == (
        b.estimate, b.se, b.ci_low, b.ci_high, b.p_value)
    assert a.assumptions == b.assumptions
    # the interval uses t(39), wider than the normal one
    from scipy import stats
    crit = stats.t.ppf(0.975, G - 1)
    assert a.ci_high - a.estimate == pytest.approx(crit * a.se, rel=1e-12)


def _csdid(p, control_group, base_period):
    with contextlib.redirect_stdout(io.StringIO()):
        fit = ATTgt(yname="y", tname="period", idname="unit", gname="first", data=p,
                    control_group=control_group).fit(est_method="dr",
                                                     base_period=base_period, bstrap=False)
    aggs = {}
    for typ in ("simple", "dynamic", "group"):
        with contextlib.redirect_stdout(io.StringIO()):
            fit.aggte(typec=typ, bstrap=False)
        aggs[typ] = fit.atte
    return fit.results, aggs


@pytest.mark.parametrize("control,base_period", [("notyet", "varying"),
                                                 ("never", "varying"),
                                                 ("notyet", "universal"),
                                                 ("never", "universal")])
def test_matches_csdid_group_time_effects_aggregations_and_analytical_ses(control,
                                                                          base_period):
    """ATT(g,t), the simple, dynamic and group aggregations and their analytical SEs equal
    csdid's to 1e-6 on a simulated staggered panel (three cohorts, never-treated units).

    Conventions compared: csdid's default SEs come from a multiplier bootstrap, so it is run
    with ``bstrap=False`` (its analytical SE, sqrt(mean(IF^2)/n), as R's did); ours scale
    the same variance by G/(G-1) (here G = n units), so ours are divided by sqrt(n/(n-1)).
    With no covariates csdid's doubly robust estimator is the difference of mean changes.
    """
    p = panel(seed=1, n_units=300, dynamic=0.3)
    n = p["unit"].nunique()
    f = np.sqrt((n - 1) / n)
    es = event_study(p, "y", "unit", "period", "first", control=control,
                     base_period=base_period)
    res, aggs = _csdid(p, {"notyet": "notyettreated", "never": "nevertreated"}[control],
                       base_period)
    ref = pd.DataFrame({"cohort": res["group"], "period": res["year"], "att": res["att"],
                        "se": res["se"]})
    gt = es.extra["group_time"]
    m = gt.merge(ref, on=["cohort", "period"], how="right", suffixes=("", "_cs"))
    if base_period == "universal":           # csdid lists the reference cells (att 0, SE NA)
        is_ref = m["se"].isna()
        assert (m.loc[is_ref, "att_cs"] == 0).all() and m.loc[is_ref, "att"].isna().all()
        m = m[~is_ref]
    assert len(m) == len(gt) == 15
    assert np.max(np.abs(m["att"] - m["att_cs"])) < 1e-6
    assert np.max(np.abs(m["std_error"] * f - m["se"])) < 1e-6
    agg = es.extra["aggregations"].set_index("term")
    for typ in ("simple", "dynamic", "group"):
        assert agg.loc[typ, "estimate"] == pytest.approx(aggs[typ]["overall_att"], abs=1e-6)
        assert agg.loc[typ, "std_error"] * f == pytest.approx(aggs[typ]["overall_se"],
                                                              abs=1e-6)
    assert es.estimate == agg.loc["simple", "estimate"] and es.se == agg.loc["simple",
                                                                             "std_error"]
    t = es.terms.set_index("event_time")
    dyn = aggs["dynamic"]
    for e, a, s in zip(dyn["egt"], dyn["att_egt"], dyn["se_egt"], strict=True):
        assert t.loc[e, "estimate"] == pytest.approx(a, abs=1e-6)
        if np.isfinite(s):
            assert t.loc[e, "std_error"] * f == pytest.approx(s, abs=1e-6)
        else:                                  # the universal reference e = -1
            assert base_period == "universal" and e == -1 and t.loc[e, "std_error"] == 0
    ge = es.extra["group_effects"].set_index("cohort")
    grp = aggs["group"]
    assert np.allclose(ge.loc[grp["egt"], "estimate"], grp["att_egt"], atol=1e-6, rtol=0)
    assert np.allclose(ge.loc[grp["egt"], "std_error"] * f, grp["se_egt"], atol=1e-6, rtol=0)


def test_matches_csdid_when_every_unit_is_eventually_treated():
    """No never-treated units, not-yet-treated comparisons. csdid (like R's did) then treats
    the last cohort as never treated and drops its cells; we also estimate that cohort's
    pre-treatment cells from the cohorts still untreated. Every csdid cell and every
    aggregation (post-treatment cells only) agree to 1e-6."""
    p = panel(seed=3, n_units=300, dynamic=0.3)
    p.loc[p["first"] == 0, "first"] = 6
    n = p["unit"].nunique()
    f = np.sqrt((n - 1) / n)
    es = event_study(p, "y", "unit", "period", "first")
    res, aggs = _csdid(p, "notyettreated", "varying")
    ref = pd.DataFrame({"cohort": res["group"], "period": res["year"], "att": res["att"],
                        "se": res["se"]})
    gt = es.extra["group_time"]
    m = ref.merge(gt, on=["cohort", "period"], how="left", suffixes=("_cs", ""))
    assert len(m) == 12 and np.max(np.abs(m["att"] - m["att_cs"])) < 1e-6
    assert np.max(np.abs(m["std_error"] * f - m["se"])) < 1e-6
    extra = gt[~gt.set_index(["cohort", "period"]).index.isin(
        ref.set_index(["cohort", "period"]).index)]
    assert set(extra["cohort"]) == {6} and (extra["event_time"] < 0).all()
    agg = es.extra["aggregations"].set_index("term")
    for typ in ("simple", "dynamic", "group"):
        assert agg.loc[typ, "estimate"] == pytest.approx(aggs[typ]["overall_att"], abs=1e-6)
        assert agg.loc[typ, "std_error"] * f == pytest.approx(aggs[typ]["overall_se"],
                                                              abs=1e-6)


def test_weights_influence_equals_csdid_wif():
    """The closed form of the weights' influence term equals csdid's ``wif`` matrix times
    the effects (divided by n, our scale), for unequal cohorts and repeated cells."""
    from csdid.aggte_fnc.utils import wif

    from nlc_eval.impact.event_study import weights_influence

    rng = np.random.default_rng(0)
    unit_cohort = rng.choice([2.0, 3.0, 5.0, np.inf], size=500, p=[0.2, 0.3, 0.1, 0.4])
    cell_cohort = np.array([2.0, 2.0, 3.0, 3.0, 3.0, 5.0])
    share = np.array([np.mean(unit_cohort == g) for g in cell_cohort])
    att = rng.normal(size=len(cell_cohort))
    G = np.where(np.isfinite(unit_cohort), unit_cohort, 0.0)
    ref = wif(np.arange(len(cell_cohort)), share, np.ones(len(G)), G, cell_cohort) @ att
    ours = weights_influence(cell_cohort, unit_cohort, share, att)
    assert np.allclose(ours * len(G), ref, atol=1e-12, rtol=0)
    assert np.abs(ref).max() > 0.1


def test_bad_base_period_and_outcome_are_named():
    p = panel(seed=2, n_units=60)
    with pytest.raises(ImpactError, match="base_period='first'"):
        event_study(p, "y", "unit", "period", "first", base_period="first")
    q = p.assign(y=p["y"].astype(str))
    with pytest.raises(ImpactError, match="outcome 'y'"):
        event_study(q, "y", "unit", "period", "first")


@pytest.mark.slow
def test_coverage_and_pretrend_size_over_seeds():
    """Cohorts in 1-6 treated clusters: e=0 intervals cover, the pre-trend test keeps its size.

    The asymptotic cluster-robust Wald test rejected true parallel trends in about 30% of these
    panels; the wild cluster bootstrap of the studentised statistic must stay near 5%.
    """
    cover, pre_reject = [], []
    for s in range(60):
        p = panel(seed=2000 + s, n_units=600, effect=1.0, cluster_sd=0.3)
        es = event_study(p, "y", "unit", "period", "first", cluster="cluster", n_boot=399)
        t = es.terms.set_index("event_time")
        cover.append(t.loc[0, "ci_low"] <= 1.0 <= t.loc[0, "ci_high"])
        pre_reject.append(es.extra["pretrend_p"] < 0.05)
    assert 0.88 <= np.mean(cover) <= 1.0
    assert np.mean(pre_reject) <= 0.12


def test_bootstrap_pretrend_test_with_few_clusters_has_power():
    rejects = []
    for s in range(8):
        p = panel(seed=3000 + s, n_units=600, effect=1.0, cluster_sd=0.3, pre_trend=1.0)
        es = event_study(p, "y", "unit", "period", "first", cluster="cluster", n_boot=399)
        rejects.append(es.extra["pretrend_p"] < 0.05)
    assert np.mean(rejects) >= 0.6
    assert "wild cluster bootstrap" in es.extra["pretrend_method"]
    # cohorts held by few clusters are named, with what that means for the test
    thin = {c: n for c, n in es.extra["cohort_clusters"].items() if n < 5}
    assert thin and sum(es.extra["cohort_clusters"].values()) >= len(thin)
    assert any("weak evidence of parallel trends" in a for a in es.assumptions)


def test_pretrend_bootstrap_is_seeded():
    p = panel(seed=11, n_units=400, cluster_sd=0.3)
    a = event_study(p, "y", "unit", "period", "first", cluster="cluster", random_state=3)
    b = event_study(p, "y", "unit", "period", "first", cluster="cluster", random_state=3)
    assert a.extra["pretrend_p"] == b.extra["pretrend_p"]
    assert 0 < a.extra["pretrend_p"] <= 1
