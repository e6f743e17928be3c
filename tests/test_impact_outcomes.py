"""Outcome types: attendance (pp), exclusions (rate ratio), on track (risk difference)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nlc_eval.errors import ImpactError
from nlc_eval.impact import outcome_effect


def _pupils(seed=0, n=6000):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = rng.binomial(1, 1 / (1 + np.exp(-(x - 1))))
    cl = rng.integers(0, 23, n)
    possible = rng.integers(100, 160, n)
    rate = np.exp(-4 + 0.5 * x + np.log(0.7) * t) * possible
    lin = -0.3 + 0.8 * x
    p0 = 1 / (1 + np.exp(-lin))
    p1 = 1 / (1 + np.exp(-(lin + 0.4)))
    on_track = rng.binomial(1, np.where(t == 1, p1, p0))
    att = 88 + 3 * x + 2.0 * t + rng.normal(0, 6, n)
    true_rd = float(np.mean((p1 - p0)[t == 1]))
    return pd.DataFrame({"x": x, "t": t, "cluster": cl, "possible": possible,
                         "incidents": rng.poisson(rate), "on_track": on_track,
                         "attendance": att}), float(np.mean(p1 - p0)), true_rd


def test_linear_attendance_in_percentage_points():
    d, _, _ = _pupils(1)
    e = outcome_effect(d, "attendance", "t", ["x"], kind="linear", cluster="cluster",
                       units="percentage points", n_boot=399)
    assert e.ci_low < 2.0 < e.ci_high
    assert "wild cluster bootstrap" in e.inference
    assert "percentage points" in e.sentence()


@pytest.mark.parametrize("family", ["poisson", "negbin"])
def test_count_exclusions_rate_ratio(family):
    d, _, _ = _pupils(2)
    e = outcome_effect(d, "incidents", "t", ["x"], kind="count", exposure="possible",
                       family=family, outcome_label="exclusion incidents")
    assert e.scale == "ratio"
    assert e.ci_low < 0.7 < e.ci_high
    assert "lower" in e.sentence() and "rate ratio" in e.sentence()


def test_binary_on_track_risk_difference():
    d, true_ate, _ = _pupils(3, n=20000)
    e = outcome_effect(d, "on_track", "t", ["x"], kind="binary", cluster="cluster")
    assert e.units == "percentage points"
    assert e.ci_low < 100 * true_ate < e.ci_high
    assert e.extra["odds_ratio"] == pytest.approx(np.exp(0.4), rel=0.2)


def test_outcome_type_checks():
    d, _, _ = _pupils(4, n=500)
    with pytest.raises(ImpactError, match="0/1"):
        outcome_effect(d, "attendance", "t", ["x"], kind="binary")
    with pytest.raises(ImpactError, match="whole numbers"):
        outcome_effect(d, "attendance", "t", ["x"], kind="count")
    with pytest.raises(ImpactError, match="kind"):
        outcome_effect(d, "attendance", "t", ["x"], kind="ordinal")
