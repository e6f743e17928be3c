"""Tests of nlc_eval.impact.cohort: the entry-cohort estimator against explicit-dummy OLS.

The estimator absorbs strata by the within transformation and keeps only strata with a
treated row; every check here refits the same model with explicit stratum indicators
(statsmodels, pyfixest) or re-runs the wild cluster bootstrap by brute force with those
indicators. The coverage of the planted effects on the synthetic authority is checked in
``tests/test_impact_synthetic.py`` (the council's design built on this estimator).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from nlc_eval.errors import ImpactError
from nlc_eval.impact import entry_cohort_effect, stack_entry_cohorts
from nlc_eval.impact.cohort import adjustment_matrix
from nlc_eval.impact.inference import bootstrap_weights


def _design(seed: int = 0, n: int = 2500, n_clusters: int = 60, arms: bool = False,
            effect: float = 1.5) -> pd.DataFrame:
    """Rows of units in entry cohorts: selection on ``prior`` (treated are low), a stage
    factor, cluster effects; some strata have no treated row."""
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({"cluster": rng.integers(0, n_clusters, n),
                      "cohort": rng.integers(0, 3, n),
                      "prior": rng.normal(90, 6, n),
                      "flag": (rng.random(n) < 0.3).astype(float),
                      "stage": rng.choice(["P3", "P1", "P2"], n)})
    d["unit"] = rng.integers(0, n // 2, n)
    p = 1 / (1 + np.exp((d["prior"] - 82) / 3))
    d["treated"] = (rng.random(n) < p).astype(int)
    d.loc[d["cluster"] % 7 == 3, "treated"] = 0              # strata with no treated row
    d["arm"] = np.where(d["treated"] == 1, rng.choice(["low", "mid", "high"], n), "")
    arm_fx = d["arm"].map({"low": -0.5, "mid": 0.0, "high": 1.0}).fillna(0.0) if arms else 0.0
    d["y"] = (0.6 * d["prior"] + 0.002 * (d["prior"] - 90) ** 3 + 1.0 * d["flag"]
              + 0.4 * (d["stage"] == "P2") + 0.3 * d["cluster"] % 5
              + (effect + arm_fx) * d["treated"] + rng.normal(0, 3, n))
    return d


def _explicit(d: pd.DataFrame, treat_cols: list[str], polynomial=None, covariates=(),
              factors=()) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Rows in strata with a treated row; regressors: treatment columns, adjustment terms
    built independently here, and one indicator per stratum (no intercept)."""
    key = d["cohort"].astype(str) + "|" + d["cluster"].astype(str)
    keep = d.groupby(key)["treated"].transform("max").to_numpy() > 0
    r = d[keep].reset_index(drop=True)
    cols = {c: r[c].astype(float) for c in treat_cols}
    for col, degree in (polynomial or {}).items():
        z = (r[col] - r[col].mean()) / r[col].std(ddof=0)
        for p in range(1, degree + 1):
            cols[f"{col}^{p}"] = z ** p
    for col in covariates:
        cols[col] = r[col].astype(float)
    for col in factors:
        for level in sorted(r[col].astype(str).unique())[1:]:
            cols[f"{col}={level}"] = (r[col].astype(str) == level).astype(float)
    X = pd.DataFrame(cols)
    strata = pd.get_dummies(key[keep].reset_index(drop=True), dtype=float)
    return r, pd.concat([X, strata], axis=1).to_numpy(), r["y"].to_numpy()


ADJ = {"polynomial": {"prior": 3}, "covariates": ["flag"], "factors": ["stage"]}


def test_estimate_and_cr1_equal_statsmodels_with_explicit_stratum_dummies():
    d = _design(seed=1)
    est = entry_cohort_effect(d, outcome="y", treatment="treated", strata=["cohort", "cluster"],
                              cluster="cluster", unit="unit", **ADJ)
    r, X, y = _explicit(d, ["treated"], **ADJ)
    fit = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": r["cluster"].to_numpy()})
    assert est.estimate == pytest.approx(fit.params[0], abs=1e-8)
    # statsmodels' CR1 counts every stratum dummy in K; the estimator counts
    # extra["n_params"] (the strata are nested in the clusters): convert the factor
    # (N-1)/(N-K) exactly
    N, k_sm = X.shape
    k = est.extra["n_params"]
    se = fit.bse[0] * np.sqrt((N - k_sm) / (N - k))
    assert est.se == pytest.approx(se, rel=1e-8)
    G = r["cluster"].nunique()
    assert est.extra["n_clusters"] == G >= 50                 # CR1 with t(G-1)
    from scipy import stats
    crit = stats.t.ppf(0.975, G - 1)
    assert est.ci_low == pytest.approx(est.estimate - crit * est.se, rel=1e-10)
    assert est.p_value == pytest.approx(2 * stats.t.sf(abs(est.estimate / est.se), G - 1),
                                        rel=1e-8)
    assert est.ci_low < 1.5 < est.ci_high
    assert est.extra["covariates"] == ["prior", "prior^2", "prior^3", "flag", "stage P2",
                                       "stage P3"]
    assert est.reference_levels == {"stage": "P1"}
    assert "Reference level of stage: P1" in est.summary()
    assert est.n_treated == r.loc[r["treated"] == 1, "unit"].nunique()
    assert est.n_control == r.loc[r["treated"] == 0, "unit"].nunique()
    assert est.extra["n_rows"] == N and est.extra["n_strata"] == X.shape[1] - 7


def test_estimate_and_se_equal_pyfixest_with_absorbed_strata():
    pf = pytest.importorskip("pyfixest")
    d = _design(seed=2)
    est = entry_cohort_effect(d, outcome="y", treatment="treated", strata=["cohort", "cluster"],
                              cluster="cluster", covariates=["prior", "flag"])
    key = d["cohort"].astype(str) + "|" + d["cluster"].astype(str)
    r = d[d.groupby(key)["treated"].transform("max") > 0].assign(stratum=key)
    fit = pf.feols("y ~ treated + prior + flag | stratum", data=r, vcov={"CRV1": "cluster"})
    assert est.estimate == pytest.approx(fit.coef()["treated"], abs=1e-8)
    # fixest counts a fixed effect nested in the clusters as one parameter (K = 3 + 1)
    N, k = len(r), est.extra["n_params"]
    se = fit.se()["treated"] * np.sqrt((N - 4) / (N - k))
    assert est.se == pytest.approx(se, rel=1e-8)


def test_pooled_arms_are_the_treated_share_weighted_average_of_arm_effects():
    d = _design(seed=3, arms=True)
    est = entry_cohort_effect(d, outcome="y", treatment="treated", strata=["cohort", "cluster"],
                              cluster="cluster", arm="arm", arm_order=["low", "mid", "high"],
                              **ADJ)
    for a in ("low", "mid", "high"):
        d[f"is_{a}"] = (d["arm"] == a).astype(int)
    r, X, y = _explicit(d, ["is_low", "is_mid", "is_high"], **ADJ)
    fit = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": r["cluster"].to_numpy()})
    share = r.loc[r["treated"] == 1, "arm"].value_counts(normalize=True)
    w = np.array([share[a] for a in ("low", "mid", "high")])
    assert est.extra["arm_weights"] == pytest.approx(dict(zip(("low", "mid", "high"),
                                                              np.round(w, 4), strict=True)))
    assert est.estimate == pytest.approx(w @ fit.params[:3], abs=1e-8)
    N, k_sm = X.shape
    se = np.sqrt(w @ fit.cov_params()[:3, :3] @ w * (N - k_sm) / (N - est.extra["n_params"]))
    assert est.se == pytest.approx(se, rel=1e-8)
    # the planted arm effects are 1.0, 1.5 and 2.5
    assert est.ci_low < w @ np.array([1.0, 1.5, 2.5]) < est.ci_high


def _brute_wild_p(r: pd.DataFrame, X: np.ndarray, y: np.ndarray, W: np.ndarray,
                  b: float) -> float:
    """Restricted wild cluster bootstrap p-value of ``beta_0 = b``, by refitting the model
    with explicit stratum dummies on every bootstrap sample (weights W: clusters x draws,
    rows in sorted cluster order)."""
    codes = np.unique(r["cluster"].to_numpy(), return_inverse=True)[1]
    G = codes.max() + 1
    t = X[:, 0]

    def t_stat(Y):                                 # t statistics of column 0, one per column
        XtX_inv = np.linalg.inv(X.T @ X)
        beta = XtX_inv @ X.T @ Y
        e = Y - X @ beta
        s = np.zeros((G, Y.shape[1]))
        np.add.at(s, codes, (X @ XtX_inv[0])[:, None] * e)
        return (beta[0] - b) / np.sqrt((s ** 2).sum(axis=0))

    t_obs = t_stat(y[:, None])[0]
    Xr = X[:, 1:]
    yb = y - b * t
    fitted = Xr @ np.linalg.lstsq(Xr, yb, rcond=None)[0]
    u = yb - fitted
    Y_star = (b * t + fitted)[:, None] + W[codes] * u[:, None]
    return float(np.mean(np.abs(t_stat(Y_star)) >= abs(t_obs) - 1e-12))


def test_wild_bootstrap_equals_brute_force_refits_with_explicit_dummies():
    """Strata nested in clusters: the bootstrap on within-transformed data is exactly the
    bootstrap that re-estimates every stratum effect in each draw (same weights)."""
    d = _design(seed=4, n=900, n_clusters=8)
    d.loc[d["cluster"] % 7 == 3, "treated"] = (d["prior"] < 84).astype(int)
    n_boot, seed = 299, 11
    est = entry_cohort_effect(d, outcome="y", treatment="treated", strata=["cohort", "cluster"],
                              cluster="cluster", covariates=["prior", "flag"], n_boot=n_boot,
                              random_state=seed)
    assert "webb weights" in est.inference                 # 8 clusters: Webb's six points
    r, X, y = _explicit(d, ["treated"], covariates=["prior", "flag"])
    G = r["cluster"].nunique()
    W = bootstrap_weights(G, n_boot, "webb", np.random.default_rng(seed))
    assert est.p_value == pytest.approx(_brute_wild_p(r, X, y, W, 0.0), abs=1e-12)
    # test inversion: the brute-force test rejects just outside each bound, not just inside
    step = 1e-3 * est.se
    for bound, out in ((est.ci_low, -1), (est.ci_high, 1)):
        assert _brute_wild_p(r, X, y, W, bound + out * step) <= 0.05
        assert _brute_wild_p(r, X, y, W, bound - out * step) > 0.05


def test_adjustment_matrix_terms():
    d = pd.DataFrame({"x": [1.0, 2.0, 3.0, 6.0], "s": ["b", "a", "c", "a"], "f": [1, 0, 0, 1]})
    C, names, ref = adjustment_matrix(d, {"x": 2}, ["f"], ["s"])
    z = (d["x"] - 3.0) / np.sqrt(3.5)
    np.testing.assert_allclose(C[:, 0], z)
    np.testing.assert_allclose(C[:, 1], z ** 2)
    np.testing.assert_array_equal(C[:, 2:], [[1, 1, 0], [0, 0, 0], [0, 0, 1], [1, 0, 0]])
    assert names == ["x", "x^2", "f", "s b", "s c"] and ref == {"s": "a"}


def test_stack_entry_cohorts_matches_a_row_by_row_rule():
    rng = np.random.default_rng(5)
    panel = pd.DataFrame([(u, p) for u in range(40) for p in range(6)], columns=["id", "t"])
    panel["y"] = rng.normal(size=len(panel))
    first = pd.Series(rng.choice([1, 2, 3, 4, np.nan], 40), index=range(40)).dropna()
    out = stack_entry_cohorts(panel, unit="id", period="t", first_treated=first,
                              periods=[1, 2, 3])
    expected = []
    for _, row in panel.iterrows():
        f = first.get(row["id"], np.inf)
        if row["t"] in (1, 2, 3) and not f < row["t"]:
            expected.append((row["id"], row["t"], int(f == row["t"])))
    got = list(zip(out["id"], out["t"], out["treated"], strict=True))
    assert got == [(int(a), int(b), c) for a, b, c in expected]
    col = panel.assign(first=panel["id"].map(first))
    same = stack_entry_cohorts(col, unit="id", period="t", first_treated="first",
                               periods=[1, 2, 3])
    assert same["treated"].tolist() == out["treated"].tolist()
    with pytest.raises(ImpactError, match="repeat a"):
        stack_entry_cohorts(pd.concat([panel, panel.head(1)]), unit="id", period="t",
                            first_treated=first)


def test_errors_name_the_column_and_the_fix():
    d = _design(seed=6, n=600, n_clusters=10)
    kw = {"outcome": "y", "treatment": "treated", "strata": ["cohort", "cluster"],
          "cluster": "cluster"}
    with pytest.raises(ImpactError, match="'nope' not found.*Fix"):
        entry_cohort_effect(d, **{**kw, "outcome": "nope"})
    with pytest.raises(ImpactError, match="covariate 'nope' not found"):
        entry_cohort_effect(d, **kw, covariates=["nope"])
    with pytest.raises(ImpactError, match="outcome 'stage' is not numeric"):
        entry_cohort_effect(d, **{**kw, "outcome": "stage"})
    bad = d.assign(prior=d["prior"].where(d.index != 7))
    with pytest.raises(ImpactError, match="covariate 'prior' has missing values.*row 7"):
        entry_cohort_effect(bad, **kw, polynomial={"prior": 3})
    with pytest.raises(ImpactError, match="degree.*Fix"):
        entry_cohort_effect(d, **kw, polynomial={"prior": 0})
    with pytest.raises(ImpactError, match="must be 0/1"):
        entry_cohort_effect(d.assign(treated=d["treated"] * 2), **kw)
    with pytest.raises(ImpactError, match="nested in clusters. Fix: add 'cluster' to strata"):
        entry_cohort_effect(d, **{**kw, "strata": "cohort"})
    one = d.assign(treated=((d["cluster"] == 2) & (d["prior"] < 88)).astype(int))
    with pytest.raises(ImpactError, match="one cluster.*Fix"):
        entry_cohort_effect(one, **kw)
    alone = d.assign(treated=(d["cohort"] == 0).astype(int))
    with pytest.raises(ImpactError, match="no stratum with a treated row has a comparison"):
        entry_cohort_effect(alone, **kw)
    with pytest.raises(ImpactError, match="no strata given"):
        entry_cohort_effect(d, **{**kw, "strata": []})
    arms = d.assign(arm=d["arm"].where(d["treated"] == 0))
    with pytest.raises(ImpactError, match="treatment-arm column 'arm' has missing values"):
        entry_cohort_effect(arms, **kw, arm="arm")


def test_text_and_categorical_covariates_are_one_hot_encoded():
    d = _design(seed=7)
    kw = {"outcome": "y", "treatment": "treated", "strata": ["cohort", "cluster"],
          "cluster": "cluster", "polynomial": {"prior": 3}}
    est = entry_cohort_effect(d, covariates=["flag", "stage"], **kw)
    r, X, y = _explicit(d, ["treated"], polynomial={"prior": 3}, covariates=["flag"],
                        factors=["stage"])
    fit = sm.OLS(y, X).fit()
    assert est.estimate == pytest.approx(fit.params[0], abs=1e-8)
    assert est.reference_levels == {"stage": "P1"}
    assert est.extra["covariates"][-2:] == ["stage=P2", "stage=P3"]
    # a category column's reference is its first declared category
    cat = d.assign(stage=pd.Categorical(d["stage"], categories=["P3", "P1", "P2"]))
    est_cat = entry_cohort_effect(cat, covariates=["flag", "stage"], **kw)
    assert est_cat.reference_levels == {"stage": "P3"}
    assert est_cat.estimate == pytest.approx(est.estimate, abs=1e-8)
    with pytest.raises(ImpactError, match="'label'.*identifier"):
        entry_cohort_effect(d.assign(label=[f"u{i}" for i in range(len(d))]),
                            covariates=["label"], **kw)


def _slopes_design(seed: int = 0, n: int = 40_000, effect: float = 2.0) -> pd.DataFrame:
    """Entry cohorts whose outcome depends on ``prior`` with a different slope in each cohort,
    and whose treated units are the more extreme on ``prior`` the earlier the cohort (as when
    the lowest are chosen first): selection on ``prior`` only, so the design is unbiased
    once the slopes may differ by cohort."""
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({"cluster": rng.integers(0, 60, n), "cohort": rng.integers(0, 3, n),
                      "prior": rng.normal(90, 6, n)})
    centre = np.array([76.0, 82.0, 86.0])[d["cohort"]]
    slope = np.array([0.5, 1.1, 0.8])[d["cohort"]]
    d["treated"] = (rng.random(n) < 1 / (1 + np.exp((d["prior"] - centre) / 2))).astype(int)
    d["y"] = (slope * (d["prior"] - 90) + 0.3 * (d["cluster"] % 5) + effect * d["treated"]
              + rng.normal(0, 3, n))
    return d


def test_slopes_by_equals_explicit_interactions_with_statsmodels():
    d = _design(seed=4)
    est = entry_cohort_effect(d, outcome="y", treatment="treated", strata=["cohort", "cluster"],
                              cluster="cluster", slopes_by="cohort", **ADJ)
    r, X, y = _explicit(d, ["treated"], **ADJ)
    z = (r["prior"] - r["prior"].mean()) / r["prior"].std(ddof=0)
    extra = [z ** p * (r["cohort"].astype(str) == level) for level in ("1", "2")
             for p in (1, 2, 3)]
    X = np.column_stack([X] + [np.asarray(c, dtype=float) for c in extra])
    fit = sm.OLS(y, X).fit()
    assert est.estimate == pytest.approx(fit.params[0], abs=1e-8)
    assert est.extra["covariates"][-6:] == [
        "prior x cohort 1", "prior^2 x cohort 1", "prior^3 x cohort 1",
        "prior x cohort 2", "prior^2 x cohort 2", "prior^3 x cohort 2"]
    assert any("differ between the levels of 'cohort'" in a for a in est.assumptions)


def test_slopes_by_removes_the_bias_of_common_slopes_with_a_known_effect():
    # planted effect 2.0; the tolerance is the estimate's own standard error (60 clusters:
    # CR1), about 0.04 here
    d = _slopes_design(seed=3)
    kw = dict(outcome="y", treatment="treated", strata=["cohort", "cluster"],
              cluster="cluster", polynomial={"prior": 3})
    common = entry_cohort_effect(d, **kw)
    by_cohort = entry_cohort_effect(d, slopes_by="cohort", **kw)
    assert abs(common.estimate - 2.0) > 8 * common.se          # the old design is biased
    assert not common.ci_low <= 2.0 <= common.ci_high
    assert abs(by_cohort.estimate - 2.0) < 4 * by_cohort.se
    assert by_cohort.ci_low <= 2.0 <= by_cohort.ci_high


def test_slopes_by_needs_a_polynomial_and_a_column():
    d = _design(seed=5)
    kw = dict(outcome="y", treatment="treated", strata=["cohort", "cluster"],
              cluster="cluster")
    with pytest.raises(ImpactError, match="no polynomial"):
        entry_cohort_effect(d, slopes_by="cohort", covariates=["prior"], **kw)
    with pytest.raises(ImpactError, match="term"):
        entry_cohort_effect(d, slopes_by="term", polynomial={"prior": 2}, **kw)
