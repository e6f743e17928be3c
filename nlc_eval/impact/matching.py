"""Nearest-neighbour matching on the propensity score (or Mahalanobis distance).

Weighting estimators (:func:`ipw`, :func:`doubly_robust`) live in
:mod:`nlc_eval.impact.weighting` and are re-exported here.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from nlc_eval.errors import ImpactError

from . import _validate as v
from ._covariates import encode_covariates
from .inference import FEW_CLUSTERS, cluster_codes, summarise_draws
from .propensity import (
    BalancedEstimate,
    OverlapWarning,
    balance_table,
    design_matrix,
    fit_logit,
    overlap_diagnostics,
    predict_ps,
)
from .weighting import NEED, doubly_robust, ipw  # noqa: F401  (re-exported)


def _prepare(df, outcome, treatment, covariates, extra_cols=(), estimand="ATT"):
    """Checked data with encoded covariates, treatment, design matrix and scores."""
    v.require_frame(df)
    covs = v.as_list(covariates)
    if not covs:
        raise ImpactError("no covariates given. Fix: list the columns to balance on.")
    v.require_columns(df, [outcome, treatment, *covs, *extra_cols])
    v.require_no_missing(df, [outcome], role="outcome")
    v.require_no_missing(df, list(extra_cols))
    t = v.binary_treatment(df, treatment)
    enc = encode_covariates(df, covs, outcome=outcome, exclude={treatment: "treatment"},
                            binary_target=(t, treatment, NEED[estimand]))
    X, _, _ = design_matrix(enc.data, enc.names)
    beta = fit_logit(X, t)
    ps = predict_ps(X, beta)
    v.check_overlap(ps, t, column=treatment)
    return enc, t, X, ps


def _match_one_way(focal, pool, lps, Zm, caliper_abs, ratio, replace, strata, rng_order):
    """Match each focal index to up to ``ratio`` pool indices; returns list of (f, [c...])."""
    sets = []
    for s in np.unique(strata[focal]):
        f_idx = focal[strata[focal] == s]
        p_idx = pool[strata[pool] == s]
        if len(p_idx) == 0:
            continue
        f_idx = f_idx[np.argsort(-lps[f_idx], kind="stable")] if rng_order is None else f_idx
        available = np.ones(len(p_idx), dtype=bool)
        for f in f_idx:
            if Zm is None:
                dist = np.abs(lps[p_idx] - lps[f])
            else:
                diff = Zm[p_idx] - Zm[f]
                dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
            ok = available.copy()
            if caliper_abs is not None:
                ok &= np.abs(lps[p_idx] - lps[f]) <= caliper_abs
            cand = np.flatnonzero(ok)
            if len(cand) == 0:
                continue
            k = min(ratio, len(cand))
            best = cand[np.argsort(dist[cand], kind="stable")[:k]]
            sets.append((int(f), p_idx[best]))
            if not replace:
                available[best] = False
    return sets


def match(df: pd.DataFrame, outcome: str, treatment: str, covariates: list[str], *,
          estimand: str = "ATT", ratio: int = 1, caliper: float | None = None,
          replace: bool = False, exact: list[str] | None = None,
          distance: str = "propensity", cluster: str | None = None, n_boot: int = 999,
          conf_level: float = 0.95, random_state: int | None = 0,
          outcome_label: str | None = None, units: str = "",
          treated_label: str = "treated units",
          control_label: str = "matched comparison units") -> BalancedEstimate:
    """Nearest-neighbour matching estimate of a treatment effect.

    Parameters
    ----------
    df : DataFrame
        One row per unit.
    outcome, treatment : str
        Outcome column and 0/1 treatment column.
    covariates : list of str
        Columns for the propensity model (logistic regression) and balance checks: numbers,
        booleans, categories or text; categories and text are one-hot encoded (first level
        the reference, in ``reference_levels``), and balance is checked per level.
    estimand : {"ATT", "ATC", "ATE"}
        ATT matches each treated unit to comparison units; ATC the reverse; ATE does both
        (and then needs ``replace=True``).
    ratio : int
        Comparison units per focal unit (k in k:1 matching).
    caliper : float, optional
        Largest allowed difference in the logit of the propensity score, in standard
        deviations of that logit (0.2 is a common choice). Focal units with no match inside
        the caliper are dropped, which changes the population the estimate describes (warned).
    replace : bool
        Whether a comparison unit may be used more than once.
    exact : list of str, optional
        Columns that must agree exactly between matched units.
    distance : {"propensity", "mahalanobis"}
        Distance for choosing neighbours (the caliper always uses the propensity score).
    cluster : str, optional
        Cluster for the bootstrap (whole clusters of matched sets are resampled); with fewer
        than 50 clusters the interval uses the bootstrap SE with t(G-1) critical values.
    n_boot, conf_level, random_state
        Bootstrap over matched sets, seeded.
    outcome_label, units, treated_label, control_label : str
        Wording of :meth:`Estimate.sentence`.

    Returns
    -------
    BalancedEstimate
        With ``balance``, ``love_plot()`` and ``overlap_plot()``; ``extra`` holds the number of
        unmatched focal units and the overlap diagnostics.
    """
    est_name = v.check_estimand(estimand, ["ATT", "ATC", "ATE"])
    if est_name == "ATE" and not replace:
        raise ImpactError("matching for the ATE reuses units across both directions. "
                          "Fix: pass replace=True, or use estimand='ATT'.")
    if int(ratio) < 1:
        raise ImpactError(f"ratio={ratio}. Fix: use a positive whole number.")
    if distance not in ("propensity", "mahalanobis"):
        raise ImpactError(f"distance={distance!r}. Fix: use 'propensity' or 'mahalanobis'.")
    exact_cols = v.as_list(exact)
    extra_cols = exact_cols + ([cluster] if cluster else [])
    enc, t, X, ps = _prepare(df, outcome, treatment, covariates, extra_cols, est_name)
    covs = enc.names
    overlap = overlap_diagnostics(ps, t, est_name)
    lps = np.log(ps / (1 - ps))
    caliper_abs = None if caliper is None else float(caliper) * float(np.std(lps))
    if distance == "mahalanobis":
        raw = X[:, 1:]
        cov = np.cov(raw, rowvar=False).reshape(raw.shape[1], raw.shape[1])
        L = np.linalg.cholesky(np.linalg.inv(cov + 1e-9 * np.eye(len(cov))))
        Zm = raw @ L
    else:
        Zm = None
    strata = (pd.factorize(pd.MultiIndex.from_frame(df[exact_cols].astype(str)))[0]
              if exact_cols else np.zeros(len(df), dtype=int))
    y = df[outcome].to_numpy(dtype=float)
    treated, controls = np.flatnonzero(t == 1), np.flatnonzero(t == 0)
    directions = {"ATT": [(treated, controls, 1.0)], "ATC": [(controls, treated, -1.0)],
                  "ATE": [(treated, controls, 1.0), (controls, treated, -1.0)]}[est_name]
    diffs, focal_ids = [], []
    weights = np.zeros(len(df))
    n_focal_total, n_unmatched = 0, 0
    for focal, pool, sign in directions:
        sets = _match_one_way(focal, pool, lps, Zm, caliper_abs, int(ratio), replace,
                              strata, None)
        n_focal_total += len(focal)
        n_unmatched += len(focal) - len(sets)
        for f, cs in sets:
            diffs.append(sign * (y[f] - y[cs].mean()))
            focal_ids.append(f)
            weights[f] += 1.0
            np.add.at(weights, cs, 1.0 / len(cs))
    if not diffs:
        raise ImpactError("no unit found a match (caliper or exact matching too strict). "
                          "Fix: widen the caliper or drop exact-matching columns.")
    if n_unmatched:
        warnings.warn(f"{n_unmatched} of {n_focal_total} focal units had no match within the "
                      "caliper/exact constraints and were dropped; the estimate describes the "
                      "matched units only.", OverlapWarning, stacklevel=2)
    diffs = np.asarray(diffs)
    focal_ids = np.asarray(focal_ids)
    est = float(diffs.mean())
    rng = np.random.default_rng(random_state)
    dfree = None
    if cluster:
        codes, G = cluster_codes(df[cluster].to_numpy()[focal_ids])
        sums = np.bincount(codes, weights=diffs, minlength=G)
        counts = np.bincount(codes, minlength=G).astype(float)
        picks = rng.integers(0, G, size=(n_boot, G))
        draws = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
        dfree = G - 1 if G < FEW_CLUSTERS else None
        how = f"bootstrap of whole clusters of matched sets ({G} clusters"
        how += f", t({G - 1}) interval)" if dfree else ", percentile interval)"
    else:
        picks = rng.integers(0, len(diffs), size=(n_boot, len(diffs)))
        draws = diffs[picks].mean(axis=1)
        how = "bootstrap of matched sets (percentile interval)"
    inf = summarise_draws(est, draws, conf_level=conf_level, df=dfree)
    balance = balance_table(enc.data, covs, t, weights, est_name)
    n_t = int(((weights > 0) & (t == 1)).sum())
    n_c = int(((weights > 0) & (t == 0)).sum())
    assumptions = [
        "no unmeasured confounding: the covariates include everything that drives both "
        "treatment and the outcome",
        "overlap: comparable units exist for the units the estimate describes",
        "each unit's outcome is unaffected by others' treatment",
        "bootstrap of matched sets holds the matching fixed"
        + ("; reused comparison units make the interval somewhat optimistic" if replace
           else ""),
    ]
    worst = balance["smd_after"].abs().max()
    if worst >= 0.1:
        assumptions.append(f"WARNING: covariate balance is poor after matching (largest "
                           f"|SMD| {worst:.2f}); see .balance")
    return BalancedEstimate(
        estimate=est, se=inf["se"], ci_low=inf["ci_low"], ci_high=inf["ci_high"],
        p_value=inf["p_value"], n_treated=n_t, n_control=n_c,
        method=(f"{ratio}:1 nearest-neighbour matching on the "
                f"{'propensity score' if distance == 'propensity' else 'Mahalanobis distance'}"
                f" ({est_name}, {'with' if replace else 'without'} replacement"
                + (f", caliper {caliper} SD" if caliper is not None else "") + ")"),
        outcome=outcome_label or outcome, units=units, design="level",
        conf_level=conf_level, inference=how + f", {n_boot} draws, seed {random_state}",
        assumptions=assumptions, treated_label=treated_label, control_label=control_label,
        extra={"estimand": est_name, "n_unmatched": int(n_unmatched),
               "max_abs_smd_after": float(worst), **overlap, "bootstrap_draws": draws,
               **({"pair_differences": diffs} if int(ratio) == 1 and est_name != "ATE"
                  else {})},
        balance=balance, propensity=ps, treatment=t, weights=weights,
        reference_levels=enc.reference_levels,
    )
