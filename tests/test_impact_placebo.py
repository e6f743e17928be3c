"""Placebo checks on simulated data with known truth: they pass when nothing is planted and
fail when selection, a pre-trend or one dominant cluster is planted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nlc_eval.errors import ImpactError
from nlc_eval.impact import did, outcome_effect
from nlc_eval.impact.placebo import (
    placebo_outcome,
    placebo_table,
    placebo_timing,
    stability,
)


def _pupils(seed, selection=0.0, n=3000, n_clusters=30):
    """Pupils with last session's and this session's attendance; support raises it by 2.

    ``selection`` adds an unmeasured trait that raises both the chance of support and
    attendance in both sessions, so the pre-period outcome shows a spurious "effect".
    """
    rng = np.random.default_rng(seed)
    cl = rng.integers(0, n_clusters, n)
    trait = rng.normal(size=n)
    x = rng.normal(size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(-(0.5 * x + selection * trait)))).astype(int)
    pre = 90 + 2 * x + 3 * selection * trait + rng.normal(0, 2, n)
    post = 0.5 * pre + 45 + 2.0 * t + 2 * x + 3 * selection * trait + rng.normal(0, 2, n)
    return pd.DataFrame({"cluster": cl, "x": x, "t": t, "pre": pre, "post": post})


def test_placebo_outcome_passes_without_selection_and_fails_with_it():
    clean = placebo_outcome(outcome_effect, _pupils(1), placebo="pre", treatment="t",
                            covariates=["x"])
    assert clean.passed and "as it should" in clean.sentence()
    assert abs(clean.estimate.estimate) < 0.3
    biased = placebo_outcome(outcome_effect, _pupils(1, selection=1.0), placebo="pre",
                             treatment="t", covariates=["x"])
    assert not biased.passed and biased.estimate.estimate > 1.0
    with pytest.raises(ImpactError, match="also a covariate"):
        placebo_outcome(outcome_effect, _pupils(1), placebo="pre", treatment="t",
                        covariates=["x", "pre"])


def _panel(seed, pretrend=0.0, n=400, T=6):
    """Units treated from period 4 (half of them); ``pretrend`` adds a trend to the treated
    units before treatment (a violation of parallel trends the placebo must catch)."""
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({"id": np.repeat(np.arange(n), T), "t": np.tile(np.arange(T), n)})
    treated = d.id < n // 2
    d["d"] = (treated & (d.t >= 4)).astype(int)
    d["y"] = (0.01 * d.id + d.t + 2.0 * d.d + pretrend * treated * np.minimum(d.t, 4)
              + rng.normal(size=len(d)))
    return d


def test_placebo_timing_finds_planted_pretrend_only():
    clean = placebo_timing(_panel(2), outcome="y", treated="d", unit="id", time="t",
                           lead=2, n_boot=99)
    assert clean.passed
    # the placebo never sees a treated period: the real effect of 2 does not leak in
    assert abs(clean.estimate.estimate) < 0.4
    trend = placebo_timing(_panel(2, pretrend=0.5), outcome="y", treated="d", unit="id",
                           time="t", lead=2, n_boot=99)
    assert not trend.passed
    # planted: +0.5 a period before treatment; placebo start 2 periods early -> about 0.75
    assert trend.estimate.estimate == pytest.approx(0.75, abs=0.3)
    with pytest.raises(ImpactError, match="no supported unit"):
        placebo_timing(_panel(2), outcome="y", treated="d", unit="id", time="t", lead=5)


def test_stability_over_subsets_and_table():
    df = _pupils(3)
    check = stability(outcome_effect, df, by="cluster", n_subsets=8, fraction=0.7,
                      outcome="post", treatment="t", covariates=["x", "pre"], n_boot=49)
    assert check.passed and len(check.draws) == 8
    assert check.draws["estimate"].between(1.0, 3.0).all()
    # a planted effect carried by one cluster: dropping it often loses the sign
    one = _pupils(4)
    one["post"] = one["post"] - 2.0 * one["t"] + np.where(one["cluster"] == 0, 60.0, 0) * one["t"]
    shaky = stability(outcome_effect, one[one.cluster < 6], by="cluster", n_subsets=10,
                      fraction=0.6, outcome="post", treatment="t", covariates=["x", "pre"],
                      n_boot=49)
    assert not shaky.passed
    clean = placebo_outcome(outcome_effect, df, placebo="pre", treatment="t",
                            covariates=["x"])
    table = placebo_table([clean, check])
    assert list(table["check"]) == ["placebo outcome", "stability over random subsets"]
    assert table["passed"].tolist() == [True, True]
    with pytest.raises(ImpactError, match="fraction"):
        stability(outcome_effect, df, by="cluster", fraction=1.5, outcome="post",
                  treatment="t")


def test_placebo_timing_equals_did_on_the_hand_made_placebo_panel():
    panel = _panel(5)
    chk = placebo_timing(panel, outcome="y", treated="d", unit="id", time="t", lead=2,
                         n_boot=99)
    treated = panel.id < 200
    sub = panel[~treated | (panel.t < 4)].copy()
    sub["fake"] = ((sub.id < 200) & (sub.t >= 2)).astype(int)
    ref = did(sub, "y", "fake", "id", "t", n_boot=99)
    assert chk.estimate.method.startswith("difference-in-differences")
    assert chk.estimate.estimate == pytest.approx(ref.estimate, rel=1e-12)
    assert chk.estimate.extra["n_obs"] == len(sub)


def test_stability_from_subset_estimates_draws_the_same_subsets():
    # per-group totals instead of re-running: the same subsets (same seed), the same numbers
    df = _pupils(6)
    kw = {"outcome": "post", "treatment": "t", "covariates": ["x", "pre"], "n_boot": 49}
    rerun = stability(outcome_effect, df, by="cluster", n_subsets=6, fraction=0.7,
                      random_state=3, **kw)
    seen = []

    def subset_estimate(kept):
        seen.append(sorted(kept))
        return outcome_effect(df[df["cluster"].isin(kept)], **kw).estimate

    fast = stability(outcome_effect, df, by="cluster", n_subsets=6, fraction=0.7,
                     random_state=3, full=rerun.estimate.estimate,
                     subset_estimate=subset_estimate, **kw)
    assert len(seen) == 6 and all(len(s) == 21 for s in seen)
    assert fast.draws["estimate"].to_numpy() == pytest.approx(
        rerun.draws["estimate"].to_numpy(), rel=1e-12)
    assert fast.draws["ci_low"].isna().all() and fast.estimate is None
    assert fast.passed and fast.same_sign == rerun.same_sign == 1.0
    # a subset estimate of the wrong sign half the time fails it
    flip = iter([1.0, -1.0] * 3)
    shaky = stability(outcome_effect, df, by="cluster", n_subsets=6, fraction=0.7, full=2.0,
                      subset_estimate=lambda kept: next(flip), **kw)
    assert not shaky.passed and shaky.same_sign == 0.5
    # NaN subsets (no estimate) are left out of the share
    some = iter([np.nan, 1.0, 1.0, np.nan, 1.0, 1.0])
    ok = stability(outcome_effect, df, by="cluster", n_subsets=6, fraction=0.7, full=-0.5,
                   subset_estimate=lambda kept: next(some), **kw)
    assert ok.draws["estimate"].notna().sum() == 4 and ok.same_sign == 0.0 and not ok.passed
