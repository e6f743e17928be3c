"""Covariates as they come (categories, text, booleans) in every estimator, on public data.

References: the IP-weighting estimate of Hernán & Robins, *Causal Inference: What If*,
Program 12.2 (NHEFS, quitting smoking and weight gain: 3.44 kg); statsmodels and pyfixest
fits with their own factor encoding (``C(...)``); pandas' ``get_dummies``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from _impact_sim import cross_section, panel
from causaldata import auto, nhefs_complete, nsw_mixtape, titanic

from nlc_eval.errors import ImpactError
from nlc_eval.impact import (
    baseline_equivalence,
    did,
    doubly_robust,
    ipw,
    match,
    multilevel,
    outcome_effect,
)
from nlc_eval.impact._covariates import encode_covariates

NHEFS_COVS = ["sex", "race", "age", "age_sq", "education", "smokeintensity",
              "smokeintensity_sq", "smokeyrs", "smokeyrs_sq", "exercise", "active", "wt71",
              "wt71_sq"]


@pytest.fixture(scope="module")
def nhefs():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = nhefs_complete.load_pandas().data
    for c in ["age", "smokeintensity", "smokeyrs", "wt71"]:
        d[c + "_sq"] = d[c] ** 2
    return d


def test_nhefs_ip_weighting_matches_what_if_with_category_columns_as_they_come(nhefs):
    """sex, race, education, exercise, active are ``category`` columns in the public file."""
    assert all(isinstance(nhefs[c].dtype, pd.CategoricalDtype)
               for c in ["sex", "race", "education", "exercise", "active"])
    e = ipw(nhefs, "wt82_71", "qsmk", NHEFS_COVS, estimand="ATE", n_boot=5)
    # What If, Program 12.2: 3.4 kg (3.440535 from its R/Stata code)
    assert e.estimate == pytest.approx(3.4405, abs=1e-3)
    # the same propensity model fitted by statsmodels with its own factor coding
    m = smf.logit("qsmk ~ C(sex) + C(race) + age + I(age**2) + C(education) + smokeintensity"
                  " + I(smokeintensity**2) + smokeyrs + I(smokeyrs**2) + C(exercise)"
                  " + C(active) + wt71 + I(wt71**2)", data=nhefs).fit(disp=0)
    ps, t, y = m.predict(nhefs).to_numpy(), nhefs["qsmk"].to_numpy(), nhefs["wt82_71"]
    w = np.where(t == 1, 1 / ps, 1 / (1 - ps))
    ref = (np.average(y[t == 1], weights=w[t == 1])
           - np.average(y[t == 0], weights=w[t == 0]))
    assert e.estimate == pytest.approx(ref, abs=5e-4)   # our logit has a 1e-6 ridge
    assert np.allclose(e.propensity, ps, atol=1e-3)
    assert e.reference_levels == {"sex": "0", "race": "0", "education": "1",
                                  "exercise": "0", "active": "0"}
    assert "Reference level of education: 1" in e.summary()
    assert {"education=2", "education=5", "exercise=2", "active=1"} <= set(e.balance.covariate)
    assert "education" not in set(e.balance.covariate)


def _with_dummies(df, cols):
    """Reference encoding by pandas (first level dropped; unused categories removed first,
    as get_dummies would keep an all-zero column for them)."""
    df = df.assign(**{c: df[c].cat.remove_unused_categories() for c in cols
                      if isinstance(df[c].dtype, pd.CategoricalDtype)})
    dummies = pd.get_dummies(df[cols], drop_first=True, dtype=float)
    return pd.concat([df.drop(columns=cols), dummies], axis=1), list(dummies.columns)


def _categorical_cross_section(seed=3):
    d = cross_section(seed=seed, n=800)
    rng = np.random.default_rng(seed)
    d["area"] = pd.Categorical(rng.choice(["west", "north", "east"], len(d)),
                               categories=["west", "north", "east", "south"])  # south unused
    d["band"] = rng.choice(["low", "mid", "high"], len(d))             # str dtype
    d["fsm"] = rng.random(len(d)) < 0.3                               # bool
    d["y"] = d["y"] + d["area"].map({"west": 0.0, "north": 1.0, "east": -1.0}).astype(float)
    return d


@pytest.mark.parametrize("estimator", ["match", "ipw", "doubly_robust"])
def test_propensity_estimators_equal_hand_encoded_dummies(estimator):
    d = _categorical_cross_section()
    fn = {"match": match, "ipw": ipw, "doubly_robust": doubly_robust}[estimator]
    kw = {"n_boot": 20} if estimator != "match" else {"n_boot": 50}
    a = fn(d, "y", "t", ["x1", "area", "band", "fsm"], **kw)
    ref, dummy_cols = _with_dummies(d.assign(fsm=d["fsm"].astype(float)), ["area", "band"])
    b = fn(ref, "y", "t", ["x1", *dummy_cols, "fsm"], **kw)
    assert a.estimate == pytest.approx(b.estimate, abs=1e-12)
    assert np.allclose(a.propensity, b.propensity, atol=1e-12)
    assert a.reference_levels == {"area": "west", "band": "high", "fsm": "False"}
    names = list(a.balance.covariate)
    assert names == ["x1", "area=north", "area=east", "band=low", "band=mid", "fsm"]


def test_outcome_effect_equals_statsmodels_factor_coding():
    d = _categorical_cross_section(seed=4)
    e = outcome_effect(d, "y", "t", ["x1", "area", "band", "fsm"], cluster="school")
    fit = smf.ols("y ~ t + x1 + C(area) + C(band) + fsm", data=d.assign(
        area=d["area"].cat.remove_unused_categories())).fit()
    assert e.estimate == pytest.approx(fit.params["t"], abs=1e-10)
    assert e.reference_levels["band"] == "high"
    b = outcome_effect(d.assign(on=(d["y"] > d["y"].median()).astype(int)), "on", "t",
                       ["x1", "area", "band"], kind="binary", cluster="school")
    lg = smf.logit("on ~ t + x1 + C(area) + C(band)", data=d.assign(
        on=(d["y"] > d["y"].median()).astype(int),
        area=d["area"].cat.remove_unused_categories())).fit(disp=0)
    assert b.extra["odds_ratio"] == pytest.approx(np.exp(lg.params["t"]), rel=1e-6)


def test_multilevel_with_categories_equals_statsmodels_mixedlm():
    d = _categorical_cross_section(seed=5)
    d["cl"] = d["school"] // 6
    e = multilevel(d, "y", "t", ["cl"], covariates=["x1", "area", "band"])
    import statsmodels.api as sm
    data = d.assign(area=d["area"].cat.remove_unused_categories())
    fit = sm.MixedLM.from_formula("y ~ t + x1 + C(area) + C(band)", data, groups=data["cl"]
                                  ).fit(reml=True)
    assert e.estimate == pytest.approx(fit.fe_params["t"], abs=1e-4)
    assert set(e.terms.term) == {"x1", "area=north", "area=east", "band=low", "band=mid"}
    assert e.reference_levels == {"area": "west", "band": "high"}


def test_did_with_time_varying_text_covariate_equals_pyfixest():
    pf = pytest.importorskip("pyfixest")
    p = panel(seed=8, n_units=200, cluster_sd=0.0)
    rng = np.random.default_rng(8)
    p["stage"] = rng.choice(["early", "mid", "late"], len(p))
    p["y"] = p["y"] + p["stage"].map({"early": 0.0, "mid": 0.5, "late": 1.5})
    e = did(p, "y", "treated", "unit", "period", covariates=["x", "stage"], n_boot=99)
    fit = pf.feols("y ~ treated + x + C(stage) | unit + period", data=p, vcov={"CRV1": "unit"})
    assert e.estimate == pytest.approx(float(fit.coef()["treated"]), abs=1e-8)
    assert e.reference_levels == {"stage": "early"}


def test_baseline_equivalence_reports_each_level():
    d = _categorical_cross_section(seed=6)
    b = baseline_equivalence(d, "t", ["x1", "area", "fsm"])
    assert list(b.covariate) == ["x1", "area=north", "area=east", "fsm"]
    assert (b.loc[b.covariate != "x1", "kind"] == "binary (Cox index)").all()


# ------------------------------------------------------------------ refusals, on public data
def test_constant_text_column_of_the_lalonde_data_is_refused():
    nsw = nsw_mixtape.load_pandas().data
    assert nsw["data_id"].nunique() == 1                       # "Dehejia-Wahba Sample"
    with pytest.raises(ImpactError, match="'data_id' takes a single value"):
        match(nsw, "re78", "treat", ["age", "educ", "data_id"])
    e = match(nsw, "re78", "treat", ["age", "educ", "black", "hisp", "nodegree", "re75"],
              n_boot=20)
    assert np.isfinite(e.estimate) and e.reference_levels == {}


def test_id_like_column_and_every_other_bad_column_are_listed_at_once():
    car = auto.load_pandas().data
    assert car["make"].nunique() == len(car)                  # a make per row: an identifier
    car = car.assign(cheap=(car["price"] < car["price"].median()).astype(int),
                     one=1.0, when=pd.Timestamp("1978-01-01"))
    car.loc[car.index[3], "weight"] = np.nan
    with pytest.raises(ImpactError) as err:
        outcome_effect(car, "mpg", "cheap", ["make", "one", "when", "weight", "foreign",
                                             "mpg"])
    msg = str(err.value)
    assert msg.startswith("5 problems")
    for part in ("'make' has 74 different values in 74 rows, like an identifier",
                 "'one' takes a single value", "'when' has dtype datetime64",
                 "'weight' has missing values in 1 of 74 rows", "'mpg' is the outcome"):
        assert part in msg
    assert "'foreign'" not in msg                               # a usable category
    e = outcome_effect(car, "mpg", "cheap", ["foreign"])
    assert e.reference_levels == {"foreign": "Domestic"}


def test_categorical_outcome_is_named_as_the_outcome():
    tt = titanic.load_pandas().data
    tt = tt.assign(first=(tt["class"] == "1st class").astype(int))
    with pytest.raises(ImpactError) as err:
        outcome_effect(tt, "survived", "first", ["age", "sex"], kind="binary")
    msg = str(err.value)
    assert "outcome 'survived' is text or categorical" in msg and "'age'" not in msg
    ok = outcome_effect(tt.assign(survived=(tt["survived"] == "yes").astype(int)),
                        "survived", "first", ["age", "sex"], kind="binary")
    # the first declared category is the reference, not the first in sorted order
    assert ok.reference_levels == {"age": "child", "sex": "women"}


def test_level_without_comparison_units_is_refused_for_the_estimand_that_needs_them():
    d = _categorical_cross_section(seed=7)
    d["site"] = np.where(d.index < 600, "a", "b")
    d.loc[d.index >= 780, "site"] = "c"
    d.loc[d.site == "c", "t"] = 1                              # level c: treated only
    with pytest.raises(ImpactError, match="'site', level 'c': all 20 rows have t = 1"):
        ipw(d, "y", "t", ["x1", "site"], estimand="ATT", n_boot=5)
    d.loc[d.site == "c", "t"] = 0                              # level c: comparisons only
    ipw(d, "y", "t", ["x1", "site"], estimand="ATT", n_boot=5)  # harmless for the ATT
    with pytest.raises(ImpactError, match="all 20 rows have t = 0"):
        ipw(d, "y", "t", ["x1", "site"], estimand="ATE", n_boot=5)


def test_encoder_levels_order_and_names():
    d = pd.DataFrame({
        "grade": pd.Categorical(["b", "a", "c", "b", "a", "c"], categories=["c", "b", "a"],
                                ordered=True),
        "code": pd.Series([3, 1, 2, 3, 1, 2], dtype=object),
        "x": [1.0, 2, 3, 4, 5, 6], "y": [0.0, 1, 0, 1, 0, 1]})
    enc = encode_covariates(d, ["grade", "code", "x"], outcome="y")
    assert enc.names == ["grade=b", "grade=a", "code=2", "code=3", "x"]
    assert enc.reference_levels == {"grade": "c", "code": "1"}
    assert enc.data["grade=a"].tolist() == [0, 1, 0, 0, 1, 0]
    assert list(d.columns) == ["grade", "code", "x", "y"]       # input untouched
    same = encode_covariates(d, ["x"], outcome="y")
    assert same.data is d and same.reference_levels == {}
    with pytest.raises(ImpactError, match="'x' is listed twice"):
        encode_covariates(d, ["x", "x"])
