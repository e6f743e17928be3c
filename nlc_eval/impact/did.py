"""Two-way fixed-effects difference-in-differences by the within transformation.

Unit and time effects are absorbed by demeaning (alternating projections, exact in one sweep
for balanced panels), never by dummy columns, so 48,000 pupils x 6 terms takes seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nlc_eval.errors import ImpactError

from . import _validate as v
from ._covariates import encode_covariates
from .estimate import Estimate
from .inference import FEW_CLUSTERS, few_cluster_inference, ols_cluster
from .sensitivity import ols_inputs


def demean(M: np.ndarray, groups: list[np.ndarray], *, tol: float = 1e-10,
           max_iter: int = 1000) -> tuple[np.ndarray, int]:
    """Remove group means of several factors from the columns of ``M``.

    Alternating projections (the method of Gaure's ``lfe`` and ``fixest``): subtract the
    means of each factor in turn until the largest change is below ``tol`` times the scale.

    Parameters
    ----------
    M : ndarray (n, k)
    groups : list of int arrays (n,)
        Integer codes 0..G-1 of each factor.

    Returns
    -------
    (ndarray, int)
        The demeaned matrix and the number of sweeps used.

    Examples
    --------
    >>> import numpy as np
    >>> unit = np.array([0, 0, 1, 1]); time = np.array([0, 1, 0, 1])
    >>> demean(np.array([[1.0], [2.0], [3.0], [5.0]]), [unit, time])[0].ravel().round(2)
    array([ 0.25, -0.25, -0.25,  0.25])
    """
    from scipy import sparse

    X = np.array(M, dtype=float, copy=True)
    if X.ndim == 1:
        X = X[:, None]
    n = X.shape[0]
    ops = []
    for g in groups:
        g = np.asarray(g, dtype=np.int64)
        L = int(g.max()) + 1 if n else 0
        S = sparse.csr_matrix((np.ones(n), (g, np.arange(n))), shape=(L, n))
        cnt = np.asarray(S.sum(axis=1)).ravel()
        ops.append((g, S, np.where(cnt > 0, cnt, 1.0)))
    scale = max(float(np.abs(X).max()) if X.size else 0.0, 1.0)
    for sweep in range(1, max_iter + 1):
        change = 0.0
        for g, S, cnt in ops:
            means = (S @ X) / cnt[:, None]          # every column at once
            step = means[g]
            change = max(change, float(np.abs(step).max()) if step.size else 0.0)
            X -= step
        if change < tol * scale:
            return X, sweep
    raise ImpactError(
        "the fixed-effects demeaning did not converge. Fix: check for units observed in only "
        "one period or a treatment that is collinear with the unit and time effects."
    )


def did(df: pd.DataFrame, outcome: str, treated: str, unit: str, time: str,
        covariates: list[str] | None = None, cluster: str | None = None, *,
        conf_level: float = 0.95, n_boot: int = 999, weights: str = "auto",
        random_state: int | None = 0, bootstrap: str = "restricted",
        randomisation: str = "auto", outcome_label: str | None = None, units: str = "",
        treated_label: str = "treated units", control_label: str = "comparison units"
        ) -> Estimate:
    """Difference-in-differences with unit and time fixed effects.

    Fits ``outcome ~ treated + covariates + unit FE + time FE`` by OLS on the within-
    transformed data. ``treated`` is 1 for a unit in a period when it is treated, 0 otherwise.

    Parameters
    ----------
    df : DataFrame
        Long panel: one row per unit and period.
    outcome, treated, unit, time : str
        Column names.
    covariates : list of str, optional
        Time-varying controls (time-constant ones are absorbed by the unit effects).
    cluster : str, optional
        Column to cluster standard errors by (default: ``unit``). Units must be nested in it.
        With fewer than 50 clusters the interval and p-value come from a wild cluster
        bootstrap (see :mod:`nlc_eval.impact.inference`).
    conf_level, n_boot, weights, random_state
        Inference options; the bootstrap is seeded by ``random_state``.
    bootstrap : {"restricted", "unrestricted"}
        Wild cluster bootstrap variant (with fewer than 50 clusters).
    randomisation : {"auto", "always", "never"}
        Randomisation inference over clusters (placebo assignments of the treatment start
        times): ``"auto"`` uses it for the p-value and interval when fewer than five clusters
        are treated (or untreated), where the bootstrap is unreliable; a
        :class:`~nlc_eval.impact.inference.FewClustersWarning` is issued either way.
    outcome_label, units, treated_label, control_label : str
        Wording of :meth:`Estimate.sentence`.

    Returns
    -------
    Estimate
        ``n_treated`` / ``n_control`` count ever-treated and never-treated units. ``extra``
        holds ``n_obs``, ``n_clusters``, ``sweeps`` and ``staggered``.

    Notes
    -----
    With staggered starts and effects that change over time, the two-way fixed-effects
    coefficient can weight some comparisons negatively; :func:`event_study` uses
    heterogeneity-robust group-time effects instead. The estimate notes when timing is
    staggered.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> n, T = 400, 4
    >>> d = pd.DataFrame({"id": np.repeat(np.arange(n), T), "t": np.tile(np.arange(T), n)})
    >>> d["d"] = ((d.id < 200) & (d.t >= 2)).astype(int)
    >>> d["y"] = 0.1 * d.id + d.t + 2.0 * d.d + rng.normal(size=len(d))
    >>> round(did(d, "y", "d", "id", "t").estimate)
    2
    """
    v.require_frame(df)
    covs = v.as_list(covariates)
    cols = [outcome, treated, unit, time, *covs] + ([cluster] if cluster else [])
    v.require_columns(df, cols)
    v.require_no_missing(df, [outcome, unit, time], role="column")
    if cluster:
        v.require_no_missing(df, [cluster], role="cluster column")
    df, covs, ref_levels = encode_covariates(df, covs, outcome=outcome,
                                             exclude={treated: "treatment", unit: "unit",
                                                      time: "period"})
    d = v.binary_treatment(df, treated)
    if df.duplicated([unit, time]).any():
        n_dup = int(df.duplicated([unit, time]).sum())
        raise ImpactError(
            f"{n_dup} rows repeat a ({unit!r}, {time!r}) pair already seen. Fix: keep one row "
            "per unit and period (aggregate first)."
        )
    if cluster:
        v.constant_within(df, cluster, unit)
    u_codes = pd.factorize(df[unit])[0]
    t_codes = pd.factorize(df[time])[0]
    y = df[outcome].to_numpy(dtype=float)
    M = np.column_stack([y, d.astype(float)] + [df[c].to_numpy(dtype=float) for c in covs])
    Z, sweeps = demean(M, [u_codes, t_codes])
    yz, Xz = Z[:, 0], Z[:, 1:]
    if float(np.abs(Xz[:, 0]).max()) < 1e-10:
        raise ImpactError(
            f"treatment {treated!r} does not vary within units over time once period effects "
            "are removed, so there is no before/after contrast. Fix: include periods before "
            "treatment starts and some untreated (or not-yet-treated) units."
        )
    rank = np.linalg.matrix_rank(Xz)
    if rank < Xz.shape[1]:
        raise ImpactError(
            "the covariates are collinear with the treatment or with each other after removing "
            "unit and period effects. Fix: drop covariates that do not change over time."
        )
    clusters = df[cluster].to_numpy() if cluster else u_codes
    res = ols_cluster(Xz, yz, clusters, 0, conf_level=conf_level, n_boot=n_boot,
                      weights=weights, random_state=random_state, absorb=[u_codes, t_codes],
                      bootstrap=bootstrap)
    order = np.unique(df[time].to_numpy(), return_inverse=True)[1]
    res, cautions = few_cluster_inference(
        res, y, d.astype(float), clusters,
        covariates=M[:, 2:] if M.shape[1] > 2 else None, absorb=[u_codes, t_codes],
        key=order, unit=u_codes, randomisation=randomisation, conf_level=conf_level,
        n_perm=n_boot, random_state=random_state)
    ever = pd.Series(d, index=df.index).groupby(u_codes).max()
    first = pd.Series(np.where(d == 1, t_codes, np.iinfo(np.int64).max)).groupby(u_codes).min()
    starts = first[first < np.iinfo(np.int64).max].nunique()
    assumptions = [
        "parallel trends: without support, treated and comparison units' outcomes would have "
        "moved in parallel",
        "no anticipation: outcomes did not change before support started",
        "no spill-over from treated to comparison units",
    ]
    if cautions:
        assumptions.append("the treated clusters were assigned as if at random among the "
                           "clusters (randomisation inference), with a constant effect for "
                           "the interval")
    if starts > 1:
        assumptions.append(
            f"treatment starts at {starts} different times: the two-way fixed-effects estimate "
            "is a weighted average that can mislead if effects grow over time; compare with "
            "event_study()"
        )
    return Estimate(
        estimate=res["estimate"], se=res["se"], ci_low=res["ci_low"], ci_high=res["ci_high"],
        p_value=res["p_value"], n_treated=int(ever.sum()), n_control=int((ever == 0).sum()),
        method="difference-in-differences (two-way fixed effects, within transformation)",
        outcome=outcome_label or outcome, units=units, design="change",
        conf_level=conf_level, inference=res["inference"], assumptions=assumptions,
        treated_label=treated_label, control_label=control_label,
        reference_levels=ref_levels, warnings=cautions,
        extra={"n_obs": int(len(df)), "n_clusters": res["n_clusters"], "sweeps": sweeps,
               "n_treated_clusters": res["n_treated_clusters"],
               "n_control_clusters": res["n_control_clusters"],
               **({"cluster_robust": res["cluster_robust"]} if "cluster_robust" in res else {}),
               "staggered": bool(starts > 1),
               "few_clusters": bool(res["n_clusters"] < FEW_CLUSTERS),
               "ovb_inputs": ols_inputs(Xz, yz, 0, n_absorbed=int(u_codes.max() + 1
                                                                  + t_codes.max()),
                                        benchmarks={c: [j + 1] for j, c in enumerate(covs)})},
    )
