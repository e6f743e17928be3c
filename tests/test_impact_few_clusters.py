"""Few treated clusters: the warning, and randomisation inference checked by brute force."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

from nlc_eval.impact import did, outcome_effect
from nlc_eval.impact.inference import (
    FewClustersWarning,
    randomisation_inference,
    treated_clusters,
)


def panel(G=9, T=4, treated=(0, 1), start=2, effect=1.0, seed=3):
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(G), T)
    time = np.tile(np.arange(T), G)
    d = (np.isin(unit, treated) & (time >= start)).astype(float)
    x = rng.normal(size=G * T)
    y = 0.2 * unit + 0.3 * time + effect * d + 0.5 * x + rng.normal(size=G * T)
    return pd.DataFrame({"unit": unit, "time": time, "d": d.astype(int), "x": x, "y": y})


def brute(p, b, n_treated, start):
    """Coefficient p-value at b over every assignment of the treated clusters, with dummies."""
    G, T = p.unit.nunique(), p.time.nunique()
    D = np.column_stack([np.eye(G)[p.unit], np.eye(T)[p.time][:, 1:], p.x])
    y, d = p.y.to_numpy(), p.d.to_numpy(float)

    def coef(yv, dv):
        return np.linalg.lstsq(np.column_stack([dv, D]), yv, rcond=None)[0][0]

    b0 = coef(y, d)
    y0 = y - b * d
    stats = [coef(y0, (np.isin(p.unit, c) & (p.time >= start)).astype(float))
             for c in itertools.combinations(range(G), n_treated)]
    return float(np.mean(np.abs(stats) >= abs(b0 - b) - 1e-12))


def test_randomisation_inference_equals_brute_force():
    p = panel()
    r = randomisation_inference(p.y, p.d, p.unit, covariates=p[["x"]].to_numpy(),
                                absorb=[p.unit.to_numpy(), p.time.to_numpy()],
                                key=p.time.to_numpy())
    assert r["exact"] and r["n_assignments"] == 36
    assert r["p_value"] == pytest.approx(brute(p, 0.0, 2, 2))
    w = r["ci_high"] - r["ci_low"]
    assert brute(p, r["ci_low"] - 1e-6 * w, 2, 2) <= 0.05 < brute(p, r["ci_low"] + 1e-6 * w, 2, 2)
    assert brute(p, r["ci_high"] + 1e-6 * w, 2, 2) <= 0.05 < brute(p, r["ci_high"] - 1e-6 * w,
                                                                   2, 2)


def test_randomisation_inference_is_not_possible_when_treatment_varies_within_clusters():
    p = panel()
    cluster = p.unit // 3
    assert randomisation_inference(p.y, p.d, cluster) is None


def test_staggered_starts_are_permuted_as_a_multiset():
    p = panel(G=6, treated=(0,), start=1)
    p.loc[(p.unit == 1) & (p.time >= 2), "d"] = 1         # a second start time
    r = randomisation_inference(p.y, p.d, p.unit, absorb=[p.unit.to_numpy(),
                                                          p.time.to_numpy()],
                                key=p.time.to_numpy())
    assert r["exact"] and r["n_assignments"] == 6 * 5     # 6!/(1! 1! 4!)


def test_did_with_one_treated_unit_warns_and_reports_randomisation_inference():
    p = panel(G=27, T=8, treated=(0,), start=5, effect=0.5, seed=0)
    with pytest.warns(FewClustersWarning, match="only 1 cluster is treated"):
        e = did(p, "y", "d", "unit", "time")
    assert e.warnings and "randomisation inference" in e.warnings[0]
    assert "randomisation inference" in e.inference
    assert "Warning: only 1 cluster is treated" in e.summary()
    assert "Only 1 cluster is treated" in e.sentence()
    assert e.p_value * 27 == pytest.approx(round(e.p_value * 27))   # a multiple of 1/27
    assert e.extra["n_treated_clusters"] == 1
    assert "cluster_robust" in e.extra and e.ci_low < e.estimate < e.ci_high


def test_did_randomisation_never_keeps_the_bootstrap_but_still_warns():
    p = panel(G=27, T=8, treated=(0, 1), start=5, seed=1)
    with pytest.warns(FewClustersWarning):
        e = did(p, "y", "d", "unit", "time", randomisation="never", n_boot=199)
    assert "wild cluster bootstrap" in e.inference and e.warnings


def test_enough_treated_clusters_give_no_warning():
    p = panel(G=20, T=4, treated=tuple(range(8)), start=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewClustersWarning)
        e = did(p, "y", "d", "unit", "time", n_boot=199)
    assert not e.warnings and "randomisation" not in e.inference


def test_outcome_effect_cluster_level_treatment_uses_randomisation_inference():
    rng = np.random.default_rng(5)
    G, per = 15, 40
    cluster = np.repeat(np.arange(G), per)
    t = np.isin(cluster, [2, 7, 11]).astype(int)
    x = rng.normal(size=G * per)
    y = 1.0 * t + x + rng.normal(size=G)[cluster] + rng.normal(size=G * per)
    df = pd.DataFrame({"y": y, "t": t, "x": x, "cluster": cluster})
    with pytest.warns(FewClustersWarning, match="only 3 clusters are treated"):
        e = outcome_effect(df, "y", "t", ["x"], cluster="cluster", n_boot=499)
    assert "randomisation inference" in e.inference and e.extra["n_treated_clusters"] == 3
    assert "all 455 distinct ways" in e.inference
    # brute force over the C(15, 3) = 455 assignments
    X = np.column_stack([np.ones(len(y)), x])

    def coef(yv, dv):
        return np.linalg.lstsq(np.column_stack([dv, X]), yv, rcond=None)[0][0]

    b0 = coef(y, t)
    stats = [coef(y, np.isin(cluster, c).astype(float))
             for c in itertools.combinations(range(G), 3)]
    assert e.p_value == pytest.approx(np.mean(np.abs(stats) >= abs(b0) - 1e-12))


def test_outcome_effect_treatment_within_few_clusters_warns_without_randomisation():
    rng = np.random.default_rng(6)
    G, per = 15, 40
    cluster = np.repeat(np.arange(G), per)
    t = (np.isin(cluster, [1, 4]) & (rng.random(G * per) < 0.5)).astype(int)
    y = t + rng.normal(size=G * per)
    df = pd.DataFrame({"y": y, "t": t, "cluster": cluster})
    with pytest.warns(FewClustersWarning, match="not possible"):
        e = outcome_effect(df, "y", "t", cluster="cluster", n_boot=199)
    assert "wild cluster bootstrap" in e.inference


def test_treated_clusters_counts():
    d = np.array([0, 1, 0, 0, 1, 1])
    cl = np.array([0, 0, 1, 1, 2, 2])
    assert treated_clusters(d, cl) == (2, 2)
    unit = np.array([0, 0, 1, 1, 2, 2])
    assert treated_clusters(d, cl, unit) == (2, 1)


def test_randomisation_test_size_with_two_treated_clusters():
    """Exact by construction under the null: rejections at 10% are at most about 10%."""
    rejections = 0
    for s in range(80):
        p = panel(G=10, T=3, treated=(0, 1), start=1, effect=0.0, seed=100 + s)
        r = randomisation_inference(p.y, p.d, p.unit, absorb=[p.unit.to_numpy(),
                                                              p.time.to_numpy()],
                                    key=p.time.to_numpy())
        rejections += r["p_value"] <= 0.1
    assert rejections / 80 < 0.2


def test_event_study_few_clusters_randomisation_matches_brute_force():
    """Placebo start periods over clusters: the inverted p-value agrees with re-estimating
    the event study on y - b d for every assignment (linearity in the outcome)."""
    from nlc_eval.impact import event_study
    from nlc_eval.impact.event_study import _event_study

    rng = np.random.default_rng(4)
    G, per, T = 7, 6, 5
    n = G * per
    cl = np.repeat(np.arange(G), per)
    unit = np.repeat(np.arange(n), T)
    t = np.tile(np.arange(1, T + 1), n)
    first = np.where(cl[unit] == 0, 3, 0)
    y = rng.normal(size=n)[unit] + 0.2 * t + 0.8 * ((first > 0) & (t >= first)) \
        + rng.normal(size=n * T)
    df = pd.DataFrame({"unit": unit, "cl": cl[unit], "t": t, "first": first, "y": y})
    with pytest.warns(FewClustersWarning, match="only 1 cluster is treated"):
        e = event_study(df, "y", "unit", "t", "first", cluster="cl", n_boot=49,
                        conf_level=0.8)
    assert e.extra["n_assignments"] == 7 and "randomisation inference" in e.inference
    assert e.warnings and "cluster_robust" in e.extra
    d = ((first > 0) & (t >= first)).astype(float)

    def brute(b):
        obs = abs(e.estimate - b)
        stats = []
        for g in range(G):
            placebo = df.assign(y=df.y - b * d, first=np.where(cl[unit] == g, 3, 0))
            stats.append(_event_study(placebo, "y", "unit", "t", "first", cluster="cl",
                                      n_boot=9).estimate)
        return float(np.mean(np.abs(stats) >= obs - 1e-12))

    assert e.p_value == pytest.approx(brute(0.0))
    w = e.ci_high - e.ci_low
    assert brute(e.ci_low - 1e-6 * w) <= 0.2 < brute(e.ci_low + 1e-6 * w)
    assert brute(e.ci_high + 1e-6 * w) <= 0.2 < brute(e.ci_high - 1e-6 * w)
