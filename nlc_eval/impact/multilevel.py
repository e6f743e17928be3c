"""Multilevel (mixed) models: e.g. pupils within schools within clusters.

Uses statsmodels' ``MixedLM``: a random intercept for the outermost grouping and variance
components for the levels nested in it. Reports the intra-class correlation (ICC) of every
level, which also feeds the clustered effect sizes of :mod:`nlc_eval.impact.effects`.
"""

from __future__ import annotations

import warnings

import pandas as pd

from nlc_eval.errors import ImpactError

from . import _validate as v
from ._covariates import encode_covariates
from .estimate import Estimate
from .inference import FEW_CLUSTERS, critical_value, p_from_t


def _frame(df, outcome, groups, treatment=None, covariates=()):
    """Copy of the needed columns under formula-safe names."""
    data = pd.DataFrame({"y_": df[outcome].to_numpy(dtype=float)}, index=df.index)
    if treatment is not None:
        data["t_"] = v.binary_treatment(df, treatment)
    for j, c in enumerate(covariates):
        data[f"x{j}_"] = df[c].to_numpy(dtype=float)
    for j, g in enumerate(groups):
        codes = pd.factorize(df[g])[0]
        if j > 0:  # nested labels must be unique within the outer group
            codes = pd.factorize(pd.Series(codes).astype(str) + "|"
                                 + pd.Series(data["g0_"].to_numpy()).astype(str))[0]
        data[f"g{j}_"] = codes
    return data


def _fit(data, fixed, n_levels):
    import statsmodels.formula.api as smf

    vc = {f"g{j}_": f"0 + C(g{j}_)" for j in range(1, n_levels)}
    model = smf.mixedlm(fixed, data, groups=data["g0_"], re_formula="1",
                        vc_formula=vc or None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = model.fit(reml=True)
        if not res.converged:
            res = model.fit(reml=True, method=["powell", "nm"])
    notes = sorted({str(w.message).split("\n")[0] for w in caught
                    if "Convergence" in type(w.message).__name__
                    or "boundary" in str(w.message)})
    return res, notes


def _components(res, groups) -> dict[str, float]:
    comps = {groups[0]: float(res.cov_re.iloc[0, 0])}
    for j, g in enumerate(groups[1:], start=1):
        names = list(res.model.exog_vc.names)
        comps[g] = float(res.vcomp[names.index(f"g{j}_")])
    comps["residual"] = float(res.scale)
    return comps


def _check(df, outcome, groups, extra=()):
    v.require_frame(df)
    groups = v.as_list(groups)
    if not groups:
        raise ImpactError("no grouping columns. Fix: pass groups=['cluster', 'school'] "
                          "(outermost first).")
    v.require_columns(df, [outcome, *groups, *extra])
    v.require_no_missing(df, [outcome], role="outcome")
    v.require_no_missing(df, groups, role="grouping column")
    v.require_numeric(df, [outcome], role="outcome")
    n_top = df[groups[0]].nunique()
    if n_top < 3:
        raise ImpactError(f"{groups[0]!r} has {n_top} groups; a multilevel model needs several."
                          " Fix: use a grouping with more levels or a single-level model.")
    return groups


def variance_components(df: pd.DataFrame, outcome: str, groups: list[str]) -> pd.DataFrame:
    """Variance of ``outcome`` at each level from an unconditional (empty) multilevel model.

    Parameters
    ----------
    df : DataFrame
    outcome : str
    groups : list of str
        Grouping columns, outermost first (e.g. ``["cluster", "school"]``).

    Returns
    -------
    DataFrame
        Columns ``level, variance, icc`` (one row per grouping level plus ``residual``); the
        ICC of a level is its share of the total variance.
    """
    groups = _check(df, outcome, groups)
    data = _frame(df, outcome, groups)
    res, _ = _fit(data, "y_ ~ 1", len(groups))
    comps = _components(res, groups)
    total = sum(comps.values())
    return pd.DataFrame({"level": list(comps), "variance": list(comps.values()),
                         "icc": [c / total for c in comps.values()]})


def multilevel(df: pd.DataFrame, outcome: str, treatment: str, groups: list[str],
               covariates: list[str] | None = None, *, conf_level: float = 0.95,
               outcome_label: str | None = None, units: str = "",
               treated_label: str = "treated units",
               control_label: str = "comparison units") -> Estimate:
    """Treatment effect from a multilevel (random-intercept) linear model.

    Fits ``outcome ~ treatment + covariates`` with a random intercept for ``groups[0]`` and
    variance components for the levels nested in it (REML).

    Parameters
    ----------
    df : DataFrame
        One row per pupil (or lowest-level unit).
    outcome, treatment : str
        Outcome and 0/1 treatment columns.
    groups : list of str
        Grouping columns, outermost first: ``["cluster", "school"]``.
    covariates : list of str, optional
        Adjustment covariates (e.g. the baseline score): numbers, booleans, categories or
        text (categories and text one-hot encoded, the first level the reference, in
        ``reference_levels``; ``terms`` has one row per level).
    conf_level : float

    Returns
    -------
    Estimate
        ``extra`` holds the variance components and ICCs of the conditional model
        (``icc_<level>``). With fewer than 50 top-level groups the interval uses t with
        (groups - 2) degrees of freedom.
    """
    covs = v.as_list(covariates)
    groups = _check(df, outcome, groups, [treatment, *covs])
    enc = encode_covariates(df, covs, outcome=outcome, exclude={treatment: "treatment"})
    df, covs = enc.data, enc.names
    data = _frame(df, outcome, groups, treatment, covs)
    if data["t_"].min() == data["t_"].max():
        v.binary_treatment(df, treatment)  # raises the all-treated / none message
    fixed = "y_ ~ t_" + "".join(f" + x{j}_" for j in range(len(covs)))
    res, notes = _fit(data, fixed, len(groups))
    comps = _components(res, groups)
    total = sum(comps.values())
    G = int(data["g0_"].nunique())
    dfree = G - 2 if G < FEW_CLUSTERS else None
    est, se = float(res.fe_params["t_"]), float(res.bse_fe["t_"])
    crit = critical_value(conf_level, dfree)
    terms = pd.DataFrame({
        "term": [covs[j] for j in range(len(covs))],
        "estimate": [float(res.fe_params[f"x{j}_"]) for j in range(len(covs))],
        "std_error": [float(res.bse_fe[f"x{j}_"]) for j in range(len(covs))],
    })
    terms["ci_low"] = terms["estimate"] - crit * terms["std_error"]
    terms["ci_high"] = terms["estimate"] + crit * terms["std_error"]
    terms["p_value"] = [p_from_t(e / s, dfree) for e, s in zip(terms.estimate,
                                                                  terms.std_error, strict=True)]
    terms["n"] = len(df)
    extra = {f"variance_{k}": val for k, val in comps.items()}
    extra.update({f"icc_{k}": val / total for k, val in comps.items() if k != "residual"})
    extra["n_groups"] = G
    if notes:
        extra["fit_warnings"] = "; ".join(notes)
    t = data["t_"].to_numpy()
    return Estimate(
        estimate=est, se=se, ci_low=est - crit * se, ci_high=est + crit * se,
        p_value=p_from_t(est / se, dfree), n_treated=int(t.sum()),
        n_control=int((t == 0).sum()),
        method=f"multilevel model (random intercepts: {' > '.join(groups)}; REML)",
        outcome=outcome_label or outcome, units=units, design="level",
        conf_level=conf_level,
        inference=(f"model-based standard error, t({dfree}) with {G} top-level groups"
                   if dfree is not None else "model-based standard error, normal interval"),
        assumptions=[
            "no unmeasured confounding given the covariates (the model adjusts, it does not "
            "randomise)",
            "normally distributed random intercepts and residuals, constant variance",
            "the treatment effect is the same in every group",
        ],
        treated_label=treated_label, control_label=control_label, terms=terms, extra=extra,
        reference_levels=enc.reference_levels,
    )
