"""Sensitivity to unmeasured confounding: against sensemakr, published examples and
simulations with a planted confounder."""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nlc_eval.errors import ImpactError
from nlc_eval.impact import Estimate, did, entry_cohort_effect, match, outcome_effect
from nlc_eval.impact.sensitivity import (
    adjusted_estimate,
    e_value,
    ols_inputs,
    ovb_bounds,
    partial_r2,
    robustness_value,
    rosenbaum_bounds,
)

smkr = pytest.importorskip("sensemakr")

DARFUR_COVS = ["age", "farmer_dar", "herder_dar", "pastvoted", "hhsize_darfur", "female"]


@pytest.fixture(scope="module")
def darfur():
    path = Path(smkr.__file__).parent / "data" / "darfur.csv"
    return pd.read_csv(path)


@pytest.fixture(scope="module")
def darfur_estimate(darfur):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return outcome_effect(darfur, "peacefactor", "directlyharmed", DARFUR_COVS,
                              absorb=["village"], n_boot=9)


def test_darfur_matches_published_values(darfur_estimate):
    # Cinelli & Hazlett (2020), sensemakr's quickstart: t = 4.184 on 783 dof, partial R2
    # 0.022 (2.187%), RV 0.139 (13.878%), RV at alpha 0.05 0.076 (7.626%).
    s = darfur_estimate.sensitivity(benchmarks=["female"])
    assert s["dof"] == 783
    assert s["t_statistic"] == pytest.approx(4.184, abs=5e-4)
    assert s["partial_r2"] == pytest.approx(0.02187, abs=5e-6)
    assert s["robustness_value"] == pytest.approx(0.13878, abs=5e-6)
    assert s["robustness_value_alpha"] == pytest.approx(0.07626, abs=5e-6)
    # published bounds table: 1x, 2x, 3x female
    published = pd.DataFrame({
        "r2dz_x": [0.009164, 0.018329, 0.027493],
        "r2yz_dx": [0.124641, 0.249324, 0.374050],
        "adjusted_estimate": [0.075220, 0.052915, 0.030396],
        "adjusted_se": [0.021873, 0.020350, 0.018670],
        "adjusted_t": [3.438904, 2.600246, 1.628062],
        "adjusted_ci_low": [0.032283, 0.012968, -0.006253],
        "adjusted_ci_high": [0.118158, 0.092862, 0.067045]})
    b = s["bounds"]
    assert list(b["kd"]) == [1, 2, 3]
    for col in published:
        np.testing.assert_allclose(b[col], published[col], atol=2e-6, err_msg=col)
    text = s.sentence()
    assert "14%" in text and "7.6%" in text and "female" in text


def test_darfur_matches_sensemakr_functions(darfur_estimate):
    e = darfur_estimate.extra["ovb_inputs"]
    ref = smkr.sensitivity_stats(estimate=e["estimate"], se=e["se"], dof=e["dof"])
    s = darfur_estimate.sensitivity()
    assert s["partial_r2"] == pytest.approx(float(ref["r2yd_x"]), rel=1e-10)
    assert s["robustness_value"] == pytest.approx(float(ref["rv_q"]), rel=1e-10)
    assert s["robustness_value_alpha"] == pytest.approx(float(ref["rv_qa"]), rel=1e-10)
    # benchmark partial R2 of every covariate against sensemakr's OLS fit with dummies
    import statsmodels.formula.api as smf

    frame = pd.read_csv(Path(smkr.__file__).parent / "data" / "darfur.csv")
    fit = smf.ols("peacefactor ~ directlyharmed + " + " + ".join(DARFUR_COVS)
                  + " + village", data=frame).fit()
    tfit = smf.ols("directlyharmed ~ " + " + ".join(DARFUR_COVS) + " + village",
                   data=frame).fit()
    for c in DARFUR_COVS:
        r2y = smkr.partial_r2(t_statistic=float(fit.tvalues[c]), dof=float(fit.df_resid))
        r2d = smkr.partial_r2(t_statistic=float(tfit.tvalues[c]), dof=float(tfit.df_resid))
        got = e["benchmarks"][c]
        assert got["r2yxj_dx"] == pytest.approx(r2y, rel=1e-7), c
        assert got["r2dxj_x"] == pytest.approx(r2d, rel=1e-7), c
    # bounds and adjusted estimates by sensemakr's functions from the same partial R2
    fb = e["benchmarks"]["female"]
    ref_b = smkr.ovb_partial_r2_bound(r2dxj_x=fb["r2dxj_x"], r2yxj_dx=fb["r2yxj_dx"],
                                      kd=[1, 2, 3])
    ours = s["bounds"].query("benchmark == 'female'")
    np.testing.assert_allclose(ours["r2dz_x"], ref_b["r2dz_x"], rtol=1e-10)
    np.testing.assert_allclose(ours["r2yz_dx"], ref_b["r2yz_dx"], rtol=1e-10)
    adj = smkr.adjusted_estimate(estimate=e["estimate"], se=e["se"], dof=e["dof"],
                                 r2dz_x=np.asarray(ref_b["r2dz_x"]),
                                 r2yz_dx=np.asarray(ref_b["r2yz_dx"]))
    np.testing.assert_allclose(ours["adjusted_estimate"], adj, rtol=1e-10)


def test_robustness_value_grid_against_sensemakr():
    for t, dof, q, alpha in itertools.product([0.5, 1.9, 2.5, 4.2, 30.0, -6.0],
                                              [5, 40, 783, 10_000], [0.5, 1.0, 2.0],
                                              [None, 0.05, 0.1]):
        ref = smkr.robustness_value(t_statistic=t, dof=dof, q=q,
                                    alpha=1.0 if alpha is None else alpha)
        ours = robustness_value(t, dof, q, alpha)
        assert ours == pytest.approx(float(np.asarray(ref).ravel()[0]), abs=1e-12), \
            (t, dof, q, alpha)
    assert partial_r2(4.18444998480834, 783) == pytest.approx(0.0218731, abs=1e-7)


def _confounded(n, rng, gamma_y=1.0, gamma_d=0.8):
    """y = 1.0 d + x1 + z + e, d depends on x1 and on z; z is not observed."""
    x1 = rng.normal(size=n)
    z = rng.normal(size=n)
    d = 0.8 * x1 + gamma_d * z + rng.normal(size=n)
    y = 1.0 * d + x1 + gamma_y * z + rng.normal(size=n)
    return pd.DataFrame({"x1": x1, "z": z, "d": (d > 0).astype(int), "y": y})


def test_planted_confounder_exact_bias_identity():
    # With the confounder's actual partial R2 (in the sample), the adjusted estimate equals
    # the estimate of the regression that includes it (the OVB formula is exact in sample).
    rng = np.random.default_rng(3)
    df = _confounded(3000, rng)
    naive = outcome_effect(df, "y", "d", ["x1"], n_boot=9)
    full = outcome_effect(df, "y", "d", ["x1", "z"], n_boot=9)
    zin = full.extra["ovb_inputs"]["benchmarks"]["z"]
    # the confounder's R2 with d given x1 and with y given d, x1
    X = np.column_stack([np.ones(len(df)), df.x1])
    rd = df.d - X @ np.linalg.lstsq(X, df.d, rcond=None)[0]
    rz = df.z - X @ np.linalg.lstsq(X, df.z, rcond=None)[0]
    r2dz = np.corrcoef(rd, rz)[0, 1] ** 2
    adj = adjusted_estimate(naive.estimate, naive.extra["ovb_inputs"]["se"],
                            naive.extra["ovb_inputs"]["dof"], r2dz, zin["r2yxj_dx"])
    assert adj["adjusted_estimate"] == pytest.approx(full.estimate, rel=1e-8)


def test_planted_confounder_is_covered_by_benchmark_bound():
    # z is planted exactly as strong as the observed x1 (same coefficients in both
    # equations, independent of x1); the bound "twice as strong as x1" must cover it:
    # its partial R2 with treatment and outcome exceed z's, and its adjusted estimate lies
    # below the estimate that adjusts for z.
    for seed in range(3):
        rng = np.random.default_rng(seed)
        n = 4000
        x1, z = rng.normal(size=n), rng.normal(size=n)
        d = 0.7 * x1 + 0.7 * z + rng.normal(size=n)
        y = 0.5 * d + x1 + z + rng.normal(size=n)
        # a continuous treatment: ols_inputs directly (the estimators take 0/1 treatments)
        X = np.column_stack([np.ones(n), d, x1])
        inp = ols_inputs(X, y, 1, benchmarks={"x1": [2]})
        full = ols_inputs(np.column_stack([np.ones(n), d, x1, z]), y, 1,
                          benchmarks={"z": [3]})
        est = Estimate(inp["estimate"], inp["se"], 0.0, 1.0, 0.0, n, 0, "OLS",
                       extra={"ovb_inputs": inp})
        s = est.sensitivity(kd=[2])
        row = s["bounds"].iloc[0]
        assert row["r2dz_x"] >= 0.9 * full["benchmarks"]["z"]["r2dxj_x"]
        assert row["r2yz_dx"] >= full["benchmarks"]["z"]["r2yxj_dx"]
        assert row["adjusted_estimate"] <= full["estimate"] <= inp["estimate"]


def test_did_and_cohort_keep_classical_t_and_dof_of_dummy_ols():
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(5)
    n, T = 60, 4
    d = pd.DataFrame({"id": np.repeat(np.arange(n), T), "t": np.tile(np.arange(T), n)})
    d["x"] = rng.normal(size=len(d))
    d["d"] = ((d.id < 30) & (d.t >= 2)).astype(int)
    d["y"] = 0.05 * d.id + d.t + 1.5 * d.d + 0.7 * d.x + rng.normal(size=len(d))
    e = did(d, "y", "d", "id", "t", covariates=["x"], n_boot=19)
    ref = smf.ols("y ~ d + x + C(id) + C(t)", data=d).fit()
    inp = e.extra["ovb_inputs"]
    assert inp["dof"] == int(ref.df_resid)
    assert inp["t_statistic"] == pytest.approx(float(ref.tvalues["d"]), rel=1e-8)
    r2y = float(ref.tvalues["x"] ** 2 / (ref.tvalues["x"] ** 2 + ref.df_resid))
    assert inp["benchmarks"]["x"]["r2yxj_dx"] == pytest.approx(r2y, rel=1e-7)
    # entry-cohort design: strata absorbed, polynomial benchmark is a group
    m = 2000
    c = pd.DataFrame({"cluster": rng.integers(0, 12, m), "cohort": rng.integers(0, 3, m),
                      "prior": rng.normal(90, 5, m)})
    c["treated"] = (rng.random(m) < 1 / (1 + np.exp((c.prior - 88) / 2))).astype(int)
    c["y"] = 0.8 * c.prior + 2.0 * c.treated + rng.normal(0, 3, m)
    est = entry_cohort_effect(c, outcome="y", treatment="treated",
                              strata=["cohort", "cluster"], cluster="cluster",
                              polynomial={"prior": 2}, n_boot=19)
    c["z"] = (c.prior - c.prior.mean()) / c.prior.std(ddof=0)
    c["z2"] = c.z ** 2
    c["stratum"] = c.cohort.astype(str) + "_" + c.cluster.astype(str)
    ref = smf.ols("y ~ treated + z + z2 + C(stratum)", data=c).fit()
    inp = est.extra["ovb_inputs"]
    assert inp["dof"] == int(ref.df_resid)
    assert inp["t_statistic"] == pytest.approx(float(ref.tvalues["treated"]), rel=1e-8)
    red = smf.ols("y ~ treated + C(stratum)", data=c).fit()
    group_r2 = 1 - ref.ssr / red.ssr
    assert inp["benchmarks"]["prior"]["r2yxj_dx"] == pytest.approx(group_r2, rel=1e-8)
    assert set(est.sensitivity()["bounds"]["benchmark"]) == {"prior"}


def test_e_value_published_example_and_rate_ratio():
    # VanderWeele & Ding (2017): RR 3.9 (95% CI 1.8 to 8.7) -> E-values 7.26 and 3.0
    ev = e_value(3.9, 1.8, 8.7)
    assert ev["e_value"] == pytest.approx(7.26, abs=0.005)
    assert ev["e_value_ci"] == pytest.approx(3.0, abs=0.005)
    # protective ratios use 1/RR; an interval including 1 has E-value 1
    assert e_value(1 / 3.9, 1 / 8.7, 1 / 1.8) == pytest.approx(ev)
    assert e_value(1.3, 0.9, 1.8)["e_value_ci"] == 1.0
    rng = np.random.default_rng(2)
    n = 3000
    df = pd.DataFrame({"x": rng.normal(size=n)})
    df["t"] = (rng.random(n) < 0.4).astype(int)
    df["y"] = rng.poisson(np.exp(0.2 + 0.3 * df.x + 0.4 * df.t))
    est = outcome_effect(df, "y", "t", ["x"], kind="count")
    s = est.sensitivity()
    assert s["e_value"] == pytest.approx(e_value(est.estimate)["e_value"])
    assert "times as likely" in s.sentence()


def _brute_force_upper_p(d, gamma):
    """P(T+ >= observed) over all 2^n sign patterns, each + with prob Gamma/(1+Gamma)."""
    d = np.asarray(d, float)
    r = stats.rankdata(np.abs(d))
    t_obs = r[d > 0].sum()
    p = gamma / (1 + gamma)
    total = 0.0
    for signs in itertools.product([0, 1], repeat=len(d)):
        s = np.array(signs)
        if (r * s).sum() >= t_obs - 1e-9:
            total += p ** s.sum() * (1 - p) ** (len(d) - s.sum())
    return total


def test_rosenbaum_bounds_exact_against_enumeration_and_scipy():
    rng = np.random.default_rng(0)
    d = rng.normal(0.6, 1.0, 11)
    d[3] = d[5]  # a tie, ranked by midranks
    rb = rosenbaum_bounds(d, gammas=[1, 1.5, 2, 3])
    for g, p in zip(rb["table"]["gamma"], rb["table"]["p_upper"], strict=True):
        assert p == pytest.approx(_brute_force_upper_p(d, g), rel=1e-10)
    # at Gamma = 1 the bound is the randomisation p-value of the signed-rank test
    x = rng.normal(0.5, 1.0, 15)
    p1 = rosenbaum_bounds(x, gammas=[1])["table"]["p_upper"].iloc[0]
    ref = stats.wilcoxon(x, alternative="greater", method="exact").pvalue
    assert p1 == pytest.approx(ref, rel=1e-10)
    # normal approximation close to exact for many pairs; p rises with Gamma
    y = rng.normal(0.3, 1.0, 250)
    ex = rosenbaum_bounds(y, exact=True)["table"]["p_upper"]
    ap = rosenbaum_bounds(y, exact=False)["table"]["p_upper"]
    np.testing.assert_allclose(ex, ap, atol=0.01)
    assert np.all(np.diff(ex) >= 0)
    crit = rosenbaum_bounds(y)["critical_gamma"]
    p_at = rosenbaum_bounds(y, gammas=[crit - 0.01, crit + 0.02])["table"]["p_upper"]
    assert p_at.iloc[0] < 0.05 <= p_at.iloc[1]


def test_matching_estimate_gives_rosenbaum_bounds():
    rng = np.random.default_rng(4)
    n = 600
    df = pd.DataFrame({"x": rng.normal(size=n)})
    df["t"] = (rng.random(n) < 1 / (1 + np.exp(-df.x))).astype(int)
    df["y"] = 2.0 * df.t + df.x + rng.normal(size=n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = match(df, "y", "t", ["x"], n_boot=49)
    s = est.sensitivity()
    assert s["critical_gamma"] > 2
    assert s["n_pairs"] == len(est.extra["pair_differences"])
    assert "Rosenbaum" in s.sentence()


def test_errors_are_clear():
    with pytest.raises(ImpactError, match="degrees of freedom"):
        robustness_value(2.0, 1)
    with pytest.raises(ImpactError, match="smaller"):
        ovb_bounds(0.6, 0.1, kd=3)
    with pytest.raises(ImpactError, match="positive ratio"):
        e_value(-1.0)
    with pytest.raises(ImpactError, match="at least 1"):
        rosenbaum_bounds([1.0, 2.0, -0.5], gammas=[0.5])


def test_report_states_mdes_and_sensitivity_beside_the_effect():
    from nlc_eval.impact.design import mdes_of_estimate
    from nlc_eval.reports.sections.impact import design_and_sensitivity

    rng = np.random.default_rng(8)
    m = 3000
    c = pd.DataFrame({"cluster": rng.integers(0, 15, m), "cohort": rng.integers(0, 3, m),
                      "prior": rng.normal(90, 5, m), "simd_q1": rng.integers(0, 2, m)})
    c["treated"] = (rng.random(m) < 1 / (1 + np.exp((c.prior - 88) / 2))).astype(int)
    c["y"] = 0.8 * c.prior - c.simd_q1 + 2.0 * c.treated + rng.normal(0, 3, m)
    est = entry_cohort_effect(c, outcome="y", treatment="treated",
                              strata=["cohort", "cluster"], cluster="cluster",
                              polynomial={"prior": 2}, covariates=["simd_q1"], n_boot=19,
                              units="percentage points")
    results: dict = {}
    lines = design_and_sensitivity(est, results)
    assert len(lines) == 2
    assert "percentage points or more with 80% power" in lines[0]
    assert results["mdes"] == pytest.approx(mdes_of_estimate(est).parameters["in_units"],
                                            abs=1e-4)  # num() keeps 4 decimals
    s = est.sensitivity(benchmarks=["simd_q1"], kd=(1,))
    assert results["robustness_value"] == pytest.approx(s["robustness_value"], abs=1e-4)
    assert "as strong as living in SIMD deciles 1-2" in lines[1]


def test_benchmark_partial_r2_equal_refitting_without_the_benchmark():
    # the F-test identity used by ols_inputs against refitting the reduced regressions
    # by least squares (full rank), and the refitting fallback for a rank-deficient design
    rng = np.random.default_rng(11)
    n = 400
    x = rng.normal(size=(n, 5))
    d = (x[:, 0] + rng.normal(size=n) > 0).astype(float)
    y = 1.5 * d + x @ np.array([0.5, -0.3, 0.2, 0.0, 0.8]) + rng.normal(size=n)
    X = np.column_stack([np.ones(n), d, x])
    groups = {"a": [2], "b": [3, 4], "c": [6]}

    def refit(Xm, v, drop):
        keep = [j for j in range(Xm.shape[1]) if j not in drop]
        r = v - Xm[:, keep] @ np.linalg.lstsq(Xm[:, keep], v, rcond=None)[0]
        return r @ r

    for design in (X, np.column_stack([X, X[:, 2] + X[:, 3]])):   # second: rank deficient
        got = ols_inputs(design, y, 1, benchmarks=groups)["benchmarks"]
        Xo = np.delete(design, 1, axis=1)
        rss, rss_d = refit(design, y, []), refit(Xo, d, [])
        for name, cols in groups.items():
            r2y = 1 - rss / refit(design, y, cols)
            r2d = 1 - rss_d / refit(Xo, d, [c - 1 for c in cols])
            assert got[name]["r2yxj_dx"] == pytest.approx(max(r2y, 0), abs=1e-9)
            assert got[name]["r2dxj_x"] == pytest.approx(max(r2d, 0), abs=1e-9)
    with pytest.raises(ImpactError, match="not the treatment"):
        ols_inputs(X, y, 1, benchmarks={"bad": [1]})
