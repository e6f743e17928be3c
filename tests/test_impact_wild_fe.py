"""The wild cluster bootstrap with absorbed fixed effects, against brute force and peers.

The reference is a bootstrap written the slow, obvious way: explicit unit and time dummies,
every draw re-fitted by least squares, CR1 computed from the full design. With G <= 12
clusters all 2^G Rademacher vectors are enumerated, so the two must agree exactly; the peer
``wildboottest`` (on a statsmodels OLS with dummies) must agree exactly when it enumerates too,
and within Monte Carlo error otherwise. ``pyfixest`` gives the CR1 standard error.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from nlc_eval.impact import did
from nlc_eval.impact.did import demean
from nlc_eval.impact.inference import (
    absorbed_dof,
    all_sign_vectors,
    cr1_vcov,
    ols_cluster,
    wild_cluster_bootstrap,
)


def panel(G=8, T=5, n_treated=3, start=3, seed=1, effect=0.4, hetero=True):
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(G), T)
    time = np.tile(np.arange(T), G)
    treat = ((unit < n_treated) & (time >= start)).astype(float)
    x2 = rng.normal(size=G * T)
    noise = rng.normal(size=G * T) * ((1 + unit / 4) if hetero else 1.0)
    y = 0.3 * unit + 0.5 * time + 0.2 * time * (unit % 3) + effect * treat + 0.3 * x2 + noise
    return pd.DataFrame({"unit": unit, "time": time, "treat": treat, "x2": x2, "y": y})


def dummies(d):
    G, T = d.unit.nunique(), d.time.nunique()
    return np.column_stack([d[["treat", "x2"]].to_numpy(), np.eye(G)[d.unit],
                            np.eye(T)[d.time][:, 1:]])


def brute_t(Xf, y, unit, b=0.0):
    """t statistic of coefficient 0 = b, CR1 from the full dummy design."""
    beta = np.linalg.lstsq(Xf, y, rcond=None)[0]
    XtXi = np.linalg.pinv(Xf.T @ Xf)
    V = cr1_vcov(Xf, y - Xf @ beta, unit, int(unit.max()) + 1, XtXi)
    return (beta[0] - b) / np.sqrt(V[0, 0])


def brute_p(d, b=0.0, restricted=True):
    """Exact wild cluster bootstrap p-value with every dummy re-estimated in every draw."""
    Xf, y, unit = dummies(d), d.y.to_numpy(), d.unit.to_numpy()
    G = int(unit.max()) + 1
    t_obs = brute_t(Xf, y, unit, b)
    if restricted:
        Xr, yr = Xf[:, 1:], y - b * Xf[:, 0]
        br = np.linalg.lstsq(Xr, yr, rcond=None)[0]
        fit, u, centre = Xr @ br + b * Xf[:, 0], yr - Xr @ br, b
    else:
        beta = np.linalg.lstsq(Xf, y, rcond=None)[0]
        fit, u, centre = Xf @ beta, y - Xf @ beta, beta[0]
    W = all_sign_vectors(G)
    ts = np.array([brute_t(Xf, fit + W[unit, j] * u, unit, centre) for j in range(W.shape[1])])
    return float(np.mean(np.abs(ts) >= abs(t_obs) * (1 - 1e-12)))


def ours(d, **kw):
    unit, time = d.unit.to_numpy(), d.time.to_numpy()
    Z, _ = demean(d[["y", "treat", "x2"]].to_numpy(), [unit, time])
    G = d.unit.nunique()
    kw.setdefault("n_boot", 2 ** G)
    return wild_cluster_bootstrap(Z[:, 1:], Z[:, 0], unit, 0, weights="rademacher",
                                  absorb=[unit, time], **kw), Z


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_restricted_p_value_equals_brute_force_enumeration(seed):
    d = panel(seed=seed)
    r, _ = ours(d)
    assert r.enumerated and r.n_boot == 2 ** 8
    assert r.p_value == pytest.approx(brute_p(d), abs=1e-12)


def test_unrestricted_p_value_equals_brute_force_enumeration():
    d = panel(seed=4)
    r, _ = ours(d, bootstrap="unrestricted")
    assert r.p_value == pytest.approx(brute_p(d, restricted=False), abs=1e-12)


def test_without_projection_the_answer_would_differ():
    """The defect this guards against: time effects are not nested in unit clusters, so the
    bootstrap errors must have them removed again in every draw."""
    from nlc_eval.impact.inference import _Restricted, cluster_codes

    d = panel(seed=1)
    unit, time = d.unit.to_numpy(), d.time.to_numpy()
    _, Z = ours(d)
    codes, G = cluster_codes(unit)
    X, y = Z[:, 1:], Z[:, 0]
    XtXi = np.linalg.inv(X.T @ X)
    beta = XtXi @ X.T @ y
    se = np.sqrt(cr1_vcov(X, y - X @ beta, codes, G, XtXi)[0, 0])
    W = all_sign_vectors(G)
    c = G / (G - 1) * (len(y) - 1) / (len(y) - X.shape[1])     # the factor of cr1_vcov
    plain = _Restricted(X, y, XtXi, codes, G, 0, W, c)
    proj = _Restricted(X, y, XtXi, codes, G, 0, W, c, [unit, time])
    assert np.max(np.abs(plain.t_stats(-0.3) - proj.t_stats(-0.3))) > 0.01
    for b in (-0.3, 0.0, 0.5):
        assert proj.p_value(b, beta[0], se) == pytest.approx(brute_p(d, b), abs=1e-12)


def test_interval_bounds_are_where_the_brute_force_test_starts_to_reject():
    d = panel(seed=2)
    r, _ = ours(d, conf_level=0.9)
    width = r.ci_high - r.ci_low
    for bound, out in ((r.ci_low, -1), (r.ci_high, 1)):
        just_in = bound - out * 1e-4 * width
        just_out = bound + out * 1e-4 * width
        assert brute_p(d, just_in) > 0.1
        assert brute_p(d, just_out) <= 0.1


def test_nested_strata_need_no_projection():
    """Fixed effects nested in the clusters (the entry-cohort design's strata): the projected
    and plain bootstraps agree, and both equal brute force with dummies."""
    rng = np.random.default_rng(7)
    G, per = 9, 30
    cluster = np.repeat(np.arange(G), per)
    stratum = cluster * 3 + rng.integers(0, 3, G * per)            # nested in clusters
    t = rng.integers(0, 2, G * per).astype(float)
    y = 0.4 * t + 0.2 * stratum + rng.normal(size=G * per) * (1 + cluster / 5)
    Z, _ = demean(np.column_stack([y, t]), [pd.factorize(stratum)[0]])
    a = wild_cluster_bootstrap(Z[:, 1:], Z[:, 0], cluster, 0, weights="rademacher",
                               n_boot=512, absorb=[pd.factorize(stratum)[0]])
    b = wild_cluster_bootstrap(Z[:, 1:], Z[:, 0], cluster, 0, weights="rademacher",
                               n_boot=512)
    assert a.p_value == b.p_value and a.ci_low == pytest.approx(b.ci_low)
    S = pd.get_dummies(stratum).to_numpy(float)
    Xf = np.column_stack([t, S])
    t_obs = brute_t(Xf, y, cluster)
    Xr = Xf[:, 1:]
    br = np.linalg.lstsq(Xr, y, rcond=None)[0]
    fit, u = Xr @ br, y - Xr @ br
    W = all_sign_vectors(G)
    ts = np.array([brute_t(Xf, fit + W[cluster, j] * u, cluster) for j in range(W.shape[1])])
    assert a.p_value == pytest.approx(float(np.mean(np.abs(ts) >= abs(t_obs) * (1 - 1e-12))))


def _wildboottest_p(d, B, seed=1):
    import statsmodels.api as sm
    from wildboottest.wildboottest import wildboottest

    X = pd.get_dummies(d[["treat", "x2", "unit", "time"]].astype({"unit": str, "time": str}),
                       columns=["unit", "time"], drop_first=True, dtype=float)
    X = sm.add_constant(X)
    model = sm.OLS(d.y, X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = wildboottest(model, B=B, cluster=d.unit.to_numpy(), param="treat",
                           weights_type="rademacher", impose_null=True, bootstrap_type="11",
                           seed=seed, parallel=False, show=False)
    return float(np.asarray(out["p-value"])[0])


def test_agrees_with_wildboottest_under_full_enumeration():
    d = panel(G=10, T=4, n_treated=4, start=2, seed=11)
    r, _ = ours(d, n_boot=1024)
    assert r.enumerated
    # wildboottest enumerates when 2^G < B, and counts |t*| > |t| strictly: the identity
    # draw and its mirror (every weight -1) reproduce |t| exactly, so floating noise on
    # the machine at hand decides whether 0, 1 or 2 of those two ties are left out there
    diff = (r.p_value - _wildboottest_p(d, B=1025)) * 1024
    assert min(abs(diff - k) for k in (0, 1, 2)) < 1e-9, diff


@pytest.mark.parametrize("seed", [21, 22])
def test_agrees_with_wildboottest_within_monte_carlo_error(seed):
    d = panel(G=20, T=4, n_treated=8, start=2, seed=seed)
    B = 4999
    r, _ = ours(d, n_boot=B, random_state=seed)
    assert not r.enumerated
    peer = _wildboottest_p(d, B=B, seed=seed)
    p = 0.5 * (r.p_value + peer)
    mc = np.sqrt(2 * max(p * (1 - p), 0.01) / B)
    assert abs(r.p_value - peer) < 4 * mc


def test_did_standard_error_equals_pyfixest_cr1():
    import pyfixest as pf

    for seed in (1, 5):
        d = panel(G=30, T=6, n_treated=10, start=3, seed=seed)
        e = did(d, "y", "treat", "unit", "time", covariates=["x2"], n_boot=99)
        fit = pf.feols("y ~ treat + x2 | unit + time", data=d, vcov={"CRV1": "unit"})
        assert e.se == pytest.approx(float(fit.se()["treat"]), rel=1e-8)
        assert e.estimate == pytest.approx(float(fit.coef()["treat"]), rel=1e-8)


def test_cr1_with_clusters_other_than_units_equals_pyfixest():
    import pyfixest as pf

    d = panel(G=40, T=5, n_treated=16, start=2, seed=9)
    d["region"] = d.unit % 10           # units nested in 10 regions; time not nested
    e = did(d, "y", "treat", "unit", "time", cluster="region", n_boot=99)
    fit = pf.feols("y ~ treat | unit + time", data=d, vcov={"CRV1": "region"})
    assert e.se == pytest.approx(float(fit.se()["treat"]), rel=1e-8)


def test_absorbed_dof_follows_fixest():
    unit = np.repeat(np.arange(5), 4)
    time = np.tile(np.arange(4), 5)
    assert absorbed_dof([unit, time], unit) == 4        # time 4 levels, unit nested -> 1, -1
    assert absorbed_dof([unit, time], time) == 5
    assert absorbed_dof([unit], unit) == 1
    assert absorbed_dof(None, unit) == 0


def test_ols_cluster_uses_fixest_k_with_absorbed_effects():
    d = panel(G=60, T=3, n_treated=20, start=1, seed=3)
    unit, time = d.unit.to_numpy(), d.time.to_numpy()
    Z, _ = demean(d[["y", "treat"]].to_numpy(), [unit, time])
    r = ols_cluster(Z[:, 1:], Z[:, 0], unit, 0, absorb=[unit, time])
    assert r["n_params"] == 1 + 3
    assert "CR1" in r["inference"]
