"""Event study (Callaway–Sant'Anna group-time effects) against planted dynamic effects."""

from __future__ import annotations

import numpy as np
import pytest
from _impact_sim import panel

from nlc_eval.impact import did, event_study


def test_recovers_dynamic_effects_where_twfe_is_biased():
    p = panel(seed=4, n_units=3000, effect=1.0, dynamic=0.5, cluster_sd=0.0)
    es = event_study(p, "y", "unit", "period", "first")  # no cluster shocks: unit clusters
    t = es.terms.set_index("event_time")
    for e in (0, 1, 2):
        assert t.loc[e, "ci_low"] - 0.05 < 1.0 + 0.5 * e < t.loc[e, "ci_high"] + 0.05
    assert t.loc[-1, "estimate"] == 0.0
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


def test_pretrend_test_detects_violation():
    p = panel(seed=5, n_units=3000, pre_trend=0.3, cluster_sd=0.0)
    es = event_study(p, "y", "unit", "period", "first")
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
