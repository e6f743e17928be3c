"""Inverse probability weighting and doubly robust (AIPW) estimators.

Both refit the whole procedure (propensity model and, for AIPW, the outcome models) in every
bootstrap draw, so the interval reflects the estimation of the propensity score. Draws
resample units within treatment groups, or whole clusters when ``cluster`` is given.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nlc_eval.errors import ImpactError

from . import _validate as v
from ._covariates import encode_covariates
from .inference import (
    FEW_CLUSTERS,
    bootstrap_indices,
    cluster_bootstrap_indices,
    cluster_codes,
    summarise_draws,
)
from .propensity import (
    BalancedEstimate,
    balance_table,
    design_matrix,
    fit_logit,
    overlap_diagnostics,
    predict_ps,
)

# which treatment value every covariate level with rows must also contain
NEED = {"ATT": "zeros", "ATC": "ones", "ATE": "both"}


def _ipw_weights(ps: np.ndarray, t: np.ndarray, estimand: str) -> np.ndarray:
    if estimand == "ATE":
        return np.where(t == 1, 1 / ps, 1 / (1 - ps))
    if estimand == "ATT":
        return np.where(t == 1, 1.0, ps / (1 - ps))
    return np.where(t == 1, (1 - ps) / ps, 1.0)  # ATC


def _wmean(y, w):
    return float(np.sum(w * y) / np.sum(w))


def _ipw_point(X, t, y, estimand, trim, beta0=None):
    ps = predict_ps(X, fit_logit(X, t, beta0=beta0))
    if trim is not None:
        ps = np.clip(ps, trim, 1 - trim)
    w = _ipw_weights(ps, t, estimand)
    return _wmean(y[t == 1], w[t == 1]) - _wmean(y[t == 0], w[t == 0]), ps, w


def _ols_predict(X, y, Xnew):
    try:
        beta = np.linalg.solve(X.T @ X, X.T @ y)
    except np.linalg.LinAlgError:
        beta = np.linalg.lstsq(X, y, rcond=None)[0]
    return Xnew @ beta


def _aipw_point(X, t, y, estimand, trim, beta0=None):
    ps = predict_ps(X, fit_logit(X, t, beta0=beta0))
    if trim is not None:
        ps = np.clip(ps, trim, 1 - trim)
    t1, t0 = t == 1, t == 0
    m1 = _ols_predict(X[t1], y[t1], X)
    m0 = _ols_predict(X[t0], y[t0], X)
    if estimand == "ATE":
        r1 = np.sum((y - m1)[t1] / ps[t1]) / np.sum(1 / ps[t1])
        r0 = np.sum((y - m0)[t0] / (1 - ps[t0])) / np.sum(1 / (1 - ps[t0]))
        est = float(np.mean(m1 - m0) + r1 - r0)
    elif estimand == "ATT":
        w = ps[t0] / (1 - ps[t0])
        est = float(np.mean((y - m0)[t1]) - np.sum(w * (y - m0)[t0]) / np.sum(w))
    else:
        w = (1 - ps[t1]) / ps[t1]
        est = float(np.mean((m1 - y)[t0]) + np.sum(w * (y - m1)[t1]) / np.sum(w))
    return est, ps, _ipw_weights(ps, t, estimand)


def _weighting(df, outcome, treatment, covariates, *, estimand, cluster, n_boot, conf_level,
               random_state, trim, kind, outcome_label, units, treated_label, control_label):
    est_name = v.check_estimand(estimand, ["ATE", "ATT", "ATC"])
    v.require_frame(df)
    covs = v.as_list(covariates)
    if not covs:
        raise ImpactError("no covariates given. Fix: list the columns to adjust for.")
    v.require_columns(df, [outcome, treatment, *covs] + ([cluster] if cluster else []))
    v.require_no_missing(df, [outcome], role="outcome")
    if cluster:
        v.require_no_missing(df, [cluster], role="cluster column")
    if trim is not None and not 0 < trim < 0.5:
        raise ImpactError(f"trim={trim}. Fix: use a bound between 0 and 0.5, e.g. 0.01.")
    t = v.binary_treatment(df, treatment)
    enc = encode_covariates(df, covs, outcome=outcome, exclude={treatment: "treatment"},
                            binary_target=(t, treatment, NEED[est_name]))
    df, covs = enc.data, enc.names
    y = df[outcome].to_numpy(dtype=float)
    X, _, _ = design_matrix(df, covs)
    point = _ipw_point if kind == "ipw" else _aipw_point
    est, ps, w = point(X, t, y, est_name, trim)
    beta_full = fit_logit(X, t)
    v.check_overlap(ps, t, column=treatment)
    overlap = overlap_diagnostics(ps, t, est_name)
    rng = np.random.default_rng(random_state)
    dfree = None
    if cluster:
        cl = df[cluster].to_numpy()
        _, G = cluster_codes(cl)
        idx_iter = cluster_bootstrap_indices(cl, n_boot, rng)
        dfree = G - 1 if G < FEW_CLUSTERS else None
        how = f"cluster bootstrap ({G} clusters" + (f", t({G - 1}) interval)" if dfree
                                                     else ", percentile interval)")
    else:
        idx_iter = bootstrap_indices(len(y), n_boot, rng, strata=t)
        how = "bootstrap within treatment groups (percentile interval)"
    draws = np.full(n_boot, np.nan)
    for b, idx in enumerate(idx_iter):
        tb = t[idx]
        if tb.min() == tb.max():
            continue
        with np.errstate(all="ignore"):
            draws[b] = point(X[idx], tb, y[idx], est_name, trim, beta_full)[0]
    inf = summarise_draws(est, draws, conf_level=conf_level, df=dfree)
    weights = w / np.where(t == 1, w[t == 1].sum(), w[t == 0].sum())
    balance = balance_table(df, covs, t, weights, est_name)
    ess = {g: float(w[t == g].sum() ** 2 / np.sum(w[t == g] ** 2)) for g in (0, 1)}
    assumptions = [
        "no unmeasured confounding: the covariates include everything that drives both "
        "treatment and the outcome",
        "overlap: every unit had a real chance of either treatment",
        "each unit's outcome is unaffected by others' treatment",
        ("the propensity model (logistic, main effects of the covariates given) is right"
         if kind == "ipw" else
         "either the propensity model (logistic) or the outcome models (linear, by group) is "
         "right (double robustness)"),
    ]
    worst = float(balance["smd_after"].abs().max())
    if worst >= 0.1:
        assumptions.append(f"WARNING: covariate balance is poor after weighting (largest "
                           f"|SMD| {worst:.2f}); see .balance")
    method = ("inverse probability weighting" if kind == "ipw"
              else "doubly robust (augmented inverse probability weighting)")
    return BalancedEstimate(
        estimate=est, se=inf["se"], ci_low=inf["ci_low"], ci_high=inf["ci_high"],
        p_value=inf["p_value"], n_treated=int(t.sum()), n_control=int((t == 0).sum()),
        method=f"{method} ({est_name}" + (f", scores clipped at {trim}" if trim else "") + ")",
        outcome=outcome_label or outcome, units=units, design="level",
        conf_level=conf_level,
        inference=how + f", {n_boot} draws refitting every model, seed {random_state}",
        assumptions=assumptions, treated_label=treated_label, control_label=control_label,
        extra={"estimand": est_name, "max_abs_smd_after": worst,
               "effective_n_treated": ess[1], "effective_n_control": ess[0],
               "n_failed_draws": int(n_boot - inf["n_valid"]), **overlap,
               "bootstrap_draws": draws},
        balance=balance, propensity=ps, treatment=t, weights=weights,
        reference_levels=enc.reference_levels,
    )


def ipw(df: pd.DataFrame, outcome: str, treatment: str, covariates: list[str], *,
        estimand: str = "ATE", cluster: str | None = None, n_boot: int = 499,
        conf_level: float = 0.95, random_state: int | None = 0, trim: float | None = None,
        outcome_label: str | None = None, units: str = "",
        treated_label: str = "treated units",
        control_label: str = "comparison units") -> BalancedEstimate:
    """Inverse probability weighting (normalised, "Hajek" weights).

    Parameters
    ----------
    df : DataFrame
        One row per unit.
    outcome, treatment : str
        Outcome and 0/1 treatment columns.
    covariates : list of str
        Columns of the logistic propensity model: numbers, booleans, categories or text
        (categories and text one-hot encoded, the first level the reference).
    estimand : {"ATE", "ATT", "ATC"}
        ATE weights 1/e and 1/(1-e); ATT weights comparison units by e/(1-e).
    cluster : str, optional
        Resample whole clusters in the bootstrap (t(G-1) interval with fewer than 50).
    n_boot, conf_level, random_state
        Bootstrap settings (seeded).
    trim : float, optional
        Clip propensity scores to [trim, 1 - trim] (changes the estimand slightly).

    Returns
    -------
    BalancedEstimate
        With balance before/after weighting, effective sample sizes and overlap diagnostics.
    """
    return _weighting(df, outcome, treatment, covariates, estimand=estimand, cluster=cluster,
                      n_boot=n_boot, conf_level=conf_level, random_state=random_state,
                      trim=trim, kind="ipw", outcome_label=outcome_label, units=units,
                      treated_label=treated_label, control_label=control_label)


def doubly_robust(df: pd.DataFrame, outcome: str, treatment: str, covariates: list[str], *,
                  estimand: str = "ATE", cluster: str | None = None, n_boot: int = 499,
                  conf_level: float = 0.95, random_state: int | None = 0,
                  trim: float | None = None, outcome_label: str | None = None,
                  units: str = "", treated_label: str = "treated units",
                  control_label: str = "comparison units") -> BalancedEstimate:
    """Augmented inverse probability weighting (AIPW), doubly robust.

    Linear outcome models fitted separately in each group, a logistic propensity model, and
    normalised residual weights. Consistent if either model is right.

    Parameters are those of :func:`ipw`.

    Returns
    -------
    BalancedEstimate
    """
    return _weighting(df, outcome, treatment, covariates, estimand=estimand, cluster=cluster,
                      n_boot=n_boot, conf_level=conf_level, random_state=random_state,
                      trim=trim, kind="aipw", outcome_label=outcome_label, units=units,
                      treated_label=treated_label, control_label=control_label)
