"""Matching and weighting: planted effects, balance, overlap, and the LaLonde benchmark."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from _impact_sim import cross_section  # noqa: E402

from nlc_eval.impact import OverlapWarning, doubly_robust, ipw, match  # noqa: E402

COVS = ["x1", "x2", "x3"]


def test_matching_recovers_planted_effect_and_balances():
    d = cross_section(seed=1, effect=1.5)
    naive = d.loc[d.t == 1, "y"].mean() - d.loc[d.t == 0, "y"].mean()
    m = match(d, "y", "t", COVS, ratio=2, replace=True, n_boot=499)
    assert m.ci_low < 1.5 < m.ci_high
    assert abs(naive - 1.5) > 2  # heavily confounded
    b = m.balance.set_index("covariate")
    assert (b["smd_before"].abs() > 0.25).all()
    assert (b["smd_after"].abs() < 0.1).all()
    assert set(b["status"]) <= {"good (<0.05)", "acceptable (<0.1)"}
    assert m.love_plot() is not None and m.overlap_plot() is not None


def test_matching_options_caliper_exact_mahalanobis_atc():
    d = cross_section(seed=2)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        m = match(d, "y", "t", COVS, caliper=0.05, n_boot=199)
    assert m.extra["n_unmatched"] > 0
    assert any(issubclass(x.category, OverlapWarning) for x in w)
    e = match(d, "y", "t", COVS, exact=["x2"], distance="mahalanobis", replace=True,
              n_boot=199)
    assert "Mahalanobis" in e.method
    assert e.ci_low < 1.5 < e.ci_high
    c = match(d, "y", "t", COVS, estimand="ATE", replace=True, n_boot=199)
    assert c.ci_low < 1.5 < c.ci_high
    s = match(d, "y", "t", COVS, cluster="school", n_boot=199)
    assert "clusters" in s.inference


@pytest.mark.parametrize("estimator", [ipw, doubly_robust])
@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
def test_weighting_recovers_planted_effect(estimator, estimand):
    d = cross_section(seed=3, effect=1.5)
    e = estimator(d, "y", "t", COVS, estimand=estimand, n_boot=199, random_state=1)
    assert e.ci_low < 1.5 < e.ci_high
    assert e.balance["smd_after"].abs().max() < 0.1
    assert e.extra["effective_n_control"] < (d.t == 0).sum()
    again = estimator(d, "y", "t", COVS, estimand=estimand, n_boot=199, random_state=1)
    assert (e.ci_low, e.ci_high) == (again.ci_low, again.ci_high)


def test_doubly_robust_survives_wrong_propensity_model():
    """Outcome model right, propensity model wrong (omits a confounder's square)."""
    rng = np.random.default_rng(4)
    n = 4000
    x = rng.normal(size=n)
    t = rng.binomial(1, 1 / (1 + np.exp(-(x ** 2 - 1))))
    y = 1 + 2 * x + 1.0 * t + rng.normal(size=n)
    d = pd.DataFrame({"x": x, "t": t, "y": y})
    dr = doubly_robust(d, "y", "t", ["x"], n_boot=199)
    assert dr.ci_low < 1.0 < dr.ci_high


def test_overlap_warning_when_support_is_thin():
    rng = np.random.default_rng(5)
    n = 2000
    x = rng.normal(size=n)
    t = rng.binomial(1, 1 / (1 + np.exp(-4 * x)))
    d = pd.DataFrame({"x": x, "t": t, "y": x + t + rng.normal(size=n)})
    with pytest.warns(OverlapWarning, match="outside"):
        ipw(d, "y", "t", ["x"], estimand="ATE", n_boot=20)


# --------------------------------------------------------------------------- LaLonde
EXPERIMENTAL = 1794.0  # NSW experimental difference in means (treated - control)


@pytest.fixture(scope="module")
def lalonde():
    causaldata = pytest.importorskip("causaldata")
    nsw = causaldata.nsw_mixtape.load_pandas().data
    cps = causaldata.cps_mixtape.load_pandas().data
    exp_diff = nsw.loc[nsw.treat == 1, "re78"].mean() - nsw.loc[nsw.treat == 0, "re78"].mean()
    assert exp_diff == pytest.approx(EXPERIMENTAL, abs=1)
    d = pd.concat([nsw[nsw.treat == 1], cps], ignore_index=True)
    d = d.drop(columns="data_id").astype(float)
    d["age2"], d["age3"], d["educ2"] = d.age ** 2, d.age ** 3, d.educ ** 2
    d["u74"], d["u75"] = (d.re74 == 0).astype(float), (d.re75 == 0).astype(float)
    d["educ_re74"] = d.educ * d.re74
    return d


LALONDE_COVS = ["age", "age2", "age3", "educ", "educ2", "marr", "nodegree", "black", "hisp",
                "re74", "re75", "u74", "u75", "educ_re74"]


def test_lalonde_naive_is_far_off(lalonde):
    d = lalonde
    naive = d.loc[d.treat == 1, "re78"].mean() - d.loc[d.treat == 0, "re78"].mean()
    assert naive == pytest.approx(-8498, abs=5)


@pytest.mark.parametrize("kwargs", [dict(replace=True, ratio=3),
                                    dict(replace=False, caliper=0.2)])
def test_lalonde_matching_lands_near_experiment(lalonde, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverlapWarning)
        m = match(lalonde, "re78", "treat", LALONDE_COVS, n_boot=999, units="$",
                  outcome_label="1978 earnings", **kwargs)
    assert m.ci_low < EXPERIMENTAL < m.ci_high
    assert abs(m.estimate - EXPERIMENTAL) < 1000
    assert m.estimate > 0  # far from the naive -8,500
    assert "$" in m.sentence()


@pytest.mark.slow
@pytest.mark.parametrize("estimator", [ipw, doubly_robust])
def test_lalonde_weighting_lands_near_experiment(lalonde, estimator):
    e = estimator(lalonde, "re78", "treat", LALONDE_COVS, estimand="ATT", n_boot=99)
    assert e.ci_low < EXPERIMENTAL < e.ci_high
    assert abs(e.estimate - EXPERIMENTAL) < 1000
