"""The entry-cohort design: units starting treatment in a period against units not yet treated.

When treatment is targeted on what a unit looked like before (learners chosen for low
attendance last session, say), a comparison of changes over time is biased by regression to
the mean. The entry-cohort design compares, within each *stratum* (an entry period, usually
crossed with a cluster or school), the units whose first treatment starts in that period with
the units not treated before it, adjusting by regression for the observables that decide who
is treated. Units not yet treated serve as comparisons in every entry period until they are
treated; the stacked cohorts give one pooled coefficient, and the interval is clustered so
that a unit's repeated appearances (and everything else shared within a cluster) are allowed
for.

Two functions:

* :func:`stack_entry_cohorts` turns a unit-by-period panel and each unit's first treated
  period into the stacked design (one row per unit and entry period it could start in);
* :func:`entry_cohort_effect` estimates the effect from such a design: stratum effects are
  absorbed by the within transformation, covariates may enter as polynomials and factor
  indicators, several treatment arms can be pooled into their treated-share-weighted average,
  and inference is cluster-robust (a restricted wild cluster bootstrap with fewer than 50
  clusters, see :mod:`nlc_eval.impact.inference`). Strata must be nested in the clusters.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(1)
>>> n = 3000
>>> d = pd.DataFrame({"cluster": rng.integers(0, 20, n), "cohort": rng.integers(0, 3, n),
...                   "prior": rng.normal(90, 5, n)})
>>> d["treated"] = (rng.random(n) < 1 / (1 + np.exp((d["prior"] - 85) / 2))).astype(int)
>>> d["y"] = 0.8 * d["prior"] + 2.0 * d["treated"] + rng.normal(0, 3, n)
>>> est = entry_cohort_effect(d, outcome="y", treatment="treated",
...                           strata=["cohort", "cluster"], cluster="cluster",
...                           polynomial={"prior": 3}, n_boot=199)
>>> round(est.estimate)
2
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from nlc_eval.errors import ImpactError

from . import _validate as v
from ._covariates import encode_covariates
from .estimate import Estimate
from .inference import few_cluster_inference, ols_cluster
from .sensitivity import ols_inputs

__all__ = ["adjustment_matrix", "entry_cohort_effect", "independent_columns",
           "slopes_by_level", "stack_entry_cohorts", "within"]


def stack_entry_cohorts(panel: pd.DataFrame, *, unit: str, period: str,
                        first_treated: str | pd.Series,
                        periods: Sequence | None = None) -> pd.DataFrame:
    """Stack one entry cohort per period: the units not treated before it.

    Parameters
    ----------
    panel : DataFrame
        One row per unit and period (further columns are kept).
    unit, period : str
        Columns naming the unit and the (orderable) period.
    first_treated : str or Series
        Each unit's first treated period: a column of ``panel``, or a Series indexed by unit.
        Missing means never treated.
    periods : sequence, optional
        Entry periods to keep (default: every period of ``panel``).

    Returns
    -------
    DataFrame
        The rows of ``panel`` whose unit was not treated before the row's period, with
        ``treated`` (1 when the unit's first treatment is in that period, else 0).

    Raises
    ------
    ImpactError
        If a column is missing or a unit and period appear twice.

    Examples
    --------
    >>> p = pd.DataFrame({"id": [1, 1, 1, 2, 2, 2], "t": [1, 2, 3, 1, 2, 3]})
    >>> stack_entry_cohorts(p, unit="id", period="t",
    ...                     first_treated=pd.Series({1: 2})).to_dict("list")
    {'id': [1, 1, 2, 2, 2], 't': [1, 2, 1, 2, 3], 'treated': [0, 1, 0, 0, 0]}
    """
    v.require_frame(panel)
    need = [unit, period] + ([first_treated] if isinstance(first_treated, str) else [])
    v.require_columns(panel, need)
    v.require_no_missing(panel, [unit, period], role="column")
    dup = panel.duplicated([unit, period])
    if dup.any():
        raise ImpactError(
            f"{int(dup.sum())} rows repeat a ({unit!r}, {period!r}) pair already seen. Fix: "
            "keep one row per unit and period."
        )
    d = panel if periods is None else panel[panel[period].isin(list(periods))]
    if isinstance(first_treated, str):
        first = d[first_treated]
    else:
        first = d[unit].map(first_treated)
    before = (first < d[period]).fillna(False).to_numpy(dtype=bool)
    out = d.loc[~before].copy()
    first = first[~before]
    out["treated"] = (first == out[period]).fillna(False).to_numpy(dtype="int64")
    return out


def within(M: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Subtract each stratum's mean from every column of ``M`` (absorbs stratum indicators).

    Parameters
    ----------
    M : ndarray (n, k)
    codes : int array (n,)
        Stratum codes 0..S-1.

    Examples
    --------
    >>> within(np.array([[1.0], [3.0], [5.0]]), np.array([0, 0, 1])).ravel()
    array([-1.,  1.,  0.])
    """
    n_g = np.bincount(codes).astype(float)
    out = np.empty_like(M, dtype=float)
    for j in range(M.shape[1]):
        out[:, j] = M[:, j] - (np.bincount(codes, weights=M[:, j]) / n_g)[codes]
    return out


def independent_columns(Z: np.ndarray, first: int) -> list[int]:
    """Columns of ``Z`` kept greedily so that none is (nearly) a combination of earlier ones.

    The first ``first`` columns (the treatment) are always kept; a later column is kept when
    it varies and the smallest eigenvalue of the standardised Gram matrix of the kept columns
    with it stays above 1e-8.
    """
    sd = Z.std(axis=0)
    S = Z / np.where(sd > 0, sd, 1.0)
    gram = S.T @ S / len(S)
    keep: list[int] = list(range(first))
    for j in range(first, Z.shape[1]):
        cols = keep + [j]
        if sd[j] > 1e-9 and np.linalg.eigvalsh(gram[np.ix_(cols, cols)]).min() > 1e-8:
            keep.append(j)
    return keep


def adjustment_matrix(d: pd.DataFrame, polynomial: Mapping[str, int] | None = None,
                      covariates: Sequence[str] | None = None,
                      factors: Sequence[str] | None = None
                      ) -> tuple[np.ndarray, list[str], dict[str, str]]:
    """The adjustment terms of :func:`entry_cohort_effect`, their names and reference levels.

    Parameters
    ----------
    d : DataFrame
    polynomial : dict, optional
        Column -> degree: standardised over the rows of ``d`` (mean 0, SD 1) and raised to
        the powers 1..degree (names ``col``, ``col^2``, ...).
    covariates : sequence of str, optional
        Numeric columns, as they are.
    factors : sequence of str, optional
        Indicators of every level but the first (levels sorted as text; names ``col level``).

    Returns
    -------
    (ndarray (n, k), list of str, dict)
        The matrix, its column names and, per factor, the reference level left out.

    Examples
    --------
    >>> d = pd.DataFrame({"x": [1.0, 2.0, 3.0], "stage": ["P2", "P1", "P2"]})
    >>> adjustment_matrix(d, {"x": 2}, factors=["stage"])[1:]
    (['x', 'x^2', 'stage P2'], {'stage': 'P1'})
    """
    cols: list[np.ndarray] = []
    names: list[str] = []
    for col, degree in (polynomial or {}).items():
        x = d[col].to_numpy(dtype=float)
        sd = x.std()
        z = (x - x.mean()) / (sd if sd > 0 else 1.0)
        for p in range(1, int(degree) + 1):
            cols.append(z ** p)
            names.append(col if p == 1 else f"{col}^{p}")
    for col in covariates or []:
        cols.append(d[col].to_numpy(dtype=float))
        names.append(col)
    reference: dict[str, str] = {}
    for col in factors or []:
        values = d[col].astype(str)
        levels = sorted(values.unique())
        reference[col] = levels[0]
        for level in levels[1:]:
            cols.append((values == level).to_numpy(dtype=float))
            names.append(f"{col} {level}")
    if not cols:
        return np.empty((len(d), 0)), names, reference
    return np.column_stack(cols), names, reference


def slopes_by_level(C: np.ndarray, names: Sequence[str], n_terms: int,
                    values: pd.Series, column: str) -> tuple[np.ndarray, list[str]]:
    """Let the first ``n_terms`` columns of ``C`` have a separate slope in each level of ``values``.

    Appends, for every level but the first (sorted as text), the products of those columns
    with the level's indicator (names ``"<term> x <column> <level>"``): with the original
    columns, each level then has its own slopes.

    Examples
    --------
    >>> C = np.array([[1.0, 5.0], [2.0, 6.0], [3.0, 7.0]])
    >>> M, names = slopes_by_level(C, ["x", "w"], 1, pd.Series(["a", "b", "b"]), "term")
    >>> M[:, 2].tolist(), names
    ([0.0, 2.0, 3.0], ['x', 'w', 'x x term b'])
    """
    labels = values.astype(str).to_numpy()
    levels = sorted(set(labels))
    cols = [C]
    out = list(names)
    for level in levels[1:]:
        ind = (labels == level).astype(float)[:, None]
        cols.append(C[:, :n_terms] * ind)
        out.extend(f"{name} x {column} {level}" for name in names[:n_terms])
    return np.column_stack(cols), out


def _benchmark_groups(used, first, polynomial, factors):
    """Columns of each adjustment variable (a polynomial's powers, a factor's levels)."""
    groups: dict[str, list[int]] = {}
    for j, name in enumerate(used):
        root = name.split(" x ")[0].split("^")[0]
        base = root if root in polynomial else name
        for col in factors or []:
            if name.startswith(f"{col} "):
                base = col
        groups.setdefault(base, []).append(first + j)
    return groups


def _encode_text(design, covariates, outcome, treatment, strata, cluster):
    """One-hot encode the categorical and text covariates (numbers and booleans stay).

    Returns the design (with the dummies added), the covariate names (dummies in place of
    each encoded column) and the reference levels.
    """
    text = [c for c in covariates if not pd.api.types.is_numeric_dtype(design[c])]
    if not text:
        return design, covariates, {}
    exclude = {treatment: "treatment", cluster: "cluster", **{s: "stratum" for s in strata}}
    names: list[str] = []
    refs: dict[str, str] = {}
    for c in covariates:
        if c not in text:
            names.append(c)
            continue
        enc = encode_covariates(design, [c], outcome=outcome, exclude=exclude)
        design = enc.data
        names.extend(enc.names)
        refs.update(enc.reference_levels)
    return design, names, refs


def _check_inputs(design, outcome, treatment, strata, cluster, covariates, polynomial,
                  factors, arm, unit, slopes_by=None):
    v.require_frame(design)
    v.require_columns(design, [outcome, treatment, *strata, cluster])
    if slopes_by is not None:
        v.require_columns(design, [slopes_by], role="column")
        v.require_no_missing(design, [slopes_by], role="column")
        if not polynomial:
            raise ImpactError(f"slopes_by={slopes_by!r} gives the polynomial terms separate "
                              "slopes, but no polynomial is given. Fix: pass polynomial= "
                              "(e.g. {'prior': 3}) or leave slopes_by out.")
    v.require_columns(design, [*covariates, *polynomial, *factors], role="covariate")
    v.require_columns(design, [c for c in (arm, unit) if c], role="column")
    v.require_no_missing(design, [outcome], role="outcome")
    v.require_no_missing(design, [*strata], role="stratum column")
    v.require_no_missing(design, [cluster], role="cluster column")
    v.require_no_missing(design, [*covariates, *polynomial, *factors], role="covariate")
    v.require_numeric(design, [outcome], role="outcome")
    v.require_numeric(design, [*polynomial], role="covariate")
    for col, degree in polynomial.items():
        if not isinstance(degree, (int, np.integer)) or degree < 1:
            raise ImpactError(f"polynomial degree of {col!r} is {degree!r}. Fix: give a whole "
                              "number of at least 1, e.g. polynomial={'prior': 3}.")


def entry_cohort_effect(design: pd.DataFrame, *, outcome: str, treatment: str,
                        strata: str | Sequence[str], cluster: str,
                        covariates: Sequence[str] | None = None,
                        polynomial: Mapping[str, int] | None = None,
                        factors: Sequence[str] | None = None,
                        slopes_by: str | None = None,
                        arm: str | None = None, arm_order: Sequence[str] | None = None,
                        unit: str | None = None, conf_level: float = 0.95, n_boot: int = 999,
                        weights: str = "auto", random_state: int | None = 0,
                        randomisation: str = "auto", cluster_label: str = "clusters",
                        outcome_label: str | None = None, units: str = "",
                        treated_label: str = "treated units",
                        control_label: str = "comparison units not yet treated",
                        method: str | None = None,
                        assumptions: Sequence[str] | None = None) -> Estimate:
    """Effect of starting treatment, from a stacked entry-cohort design.

    Fits ``outcome ~ treatment + adjustment + stratum effects`` by OLS on the data with each
    stratum's means removed, using only the strata that contain a treated row, and reports
    the treatment coefficient with cluster-robust inference.

    Parameters
    ----------
    design : DataFrame
        One row per unit and entry period (e.g. from :func:`stack_entry_cohorts`).
    outcome : str
        Numeric outcome in the entry period.
    treatment : str
        1 (or True) for rows whose unit starts treatment in the row's period, else 0.
    strata : str or sequence of str
        Columns whose combination defines the strata compared within (e.g. ``["cohort",
        "cluster"]``). Every stratum must lie within one cluster.
    cluster : str
        Column the interval is clustered by.
    covariates : sequence of str, optional
        Adjustment covariates, entered linearly: numbers and booleans as they are;
        categorical and text columns one-hot encoded (reference level: the first category,
        else the first in sorted order; named in :meth:`Estimate.summary`), with the checks
        of :func:`nlc_eval.impact._covariates.encode_covariates` (no identifier-like column).
        A term that does not vary within strata is dropped (see ``extra["covariates"]``).
    polynomial : dict, optional
        Column -> degree: the column is standardised over the rows used and entered as a
        polynomial of that degree (e.g. ``{"prior_attendance": 3}`` for a cubic).
    factors : sequence of str, optional
        Columns entered as indicators of their levels; the first level (sorted as text) is
        the reference, named in :meth:`Estimate.summary`.
    slopes_by : str, optional
        Column (usually the entry period) in each of whose levels the ``polynomial`` terms get
        their own slopes (the terms interacted with the level's indicators; names
        ``"<term> x <column> <level>"``). Each entry cohort is a separate comparison: when the
        outcome's relation to the adjustment variable differs between entry periods and the
        treated units' values of it differ too (the most extreme chosen first), common slopes
        leave the comparison biased. Only the effect is pooled. Default: common slopes.
    arm : str, optional
        Column naming the treatment arm of treated rows (e.g. a support level). With several
        arms among the treated the headline coefficient is the average of the arm effects
        weighted by the arms' shares of treated rows (the other coefficients are contrasts
        between arms); the weights are in ``extra["arm_weights"]``.
    arm_order : sequence of str, optional
        Order of the arms (the last is the one the contrasts are taken against); default
        sorted.
    unit : str, optional
        Column identifying units: ``n_treated`` and ``n_control`` then count distinct units
        rather than rows.
    conf_level, n_boot, weights, random_state
        Inference options of :func:`nlc_eval.impact.inference.ols_cluster` (the bootstrap is
        used with fewer than 50 clusters and is seeded by ``random_state``).
    randomisation : {"auto", "always", "never"}
        With fewer than five clusters holding treated (or comparison) rows a
        :class:`~nlc_eval.impact.inference.FewClustersWarning` is issued and, when treatment
        is assigned by cluster, the p-value and interval come from randomisation inference
        over clusters (see :func:`nlc_eval.impact.inference.few_cluster_inference`).
    cluster_label : str
        What the clusters are called in that warning (e.g. ``"schools"``).
    outcome_label, units, treated_label, control_label : str
        Wording of :meth:`Estimate.sentence`.
    method : str, optional
        Name of the method in the result (default a generic description).
    assumptions : sequence of str, optional
        What the estimate relies on, in the words of the application (default: the design's
        generic assumptions).

    Returns
    -------
    Estimate
        ``extra`` holds ``n_rows``, ``n_strata``, ``n_clusters``, ``n_treated_clusters``,
        ``n_params`` (K of CR1's small-sample factor), ``arm_weights`` and ``covariates`` (the adjustment terms kept: a term that is constant
        or a combination of earlier ones within strata is dropped).

    Raises
    ------
    ImpactError
        If a column is missing, missing values or text appear where numbers are needed, the
        treatment is not 0/1 or has no treated or no comparison rows, a stratum spans
        several clusters, no stratum with a treated row has a comparison row, or the treated
        rows lie in a single cluster (no cluster-robust interval can be computed).
    """
    strata = v.as_list(strata)
    covariates = v.as_list(covariates)
    factors = v.as_list(factors)
    polynomial = dict(polynomial or {})
    if not strata:
        raise ImpactError("no strata given. Fix: pass strata=['cohort', 'cluster'] (the entry "
                          "period and the cluster compared within).")
    _check_inputs(design, outcome, treatment, strata, cluster, covariates, polynomial,
                  factors, arm, unit, slopes_by)
    design, covariates, encoded_refs = _encode_text(design, covariates, outcome, treatment,
                                                    strata, cluster)
    t_all = v.binary_treatment(design, treatment)
    stratum_all = design.groupby(strata, sort=False).ngroup().to_numpy()
    per_stratum = pd.Series(design[cluster].to_numpy()).groupby(stratum_all).nunique()
    if (per_stratum > 1).any():
        raise ImpactError(
            f"{int((per_stratum > 1).sum())} strata of {strata} contain rows of several "
            f"clusters of {cluster!r}; the interval needs strata nested in clusters. Fix: add "
            f"{cluster!r} to strata (e.g. strata=[..., {cluster!r}])."
        )
    has_treated = np.bincount(stratum_all, weights=t_all)[stratum_all] > 0
    d = design[has_treated]
    stratum = pd.factorize(stratum_all[has_treated])[0]
    t = t_all[has_treated]
    if (t == 0).sum() == 0:
        raise ImpactError(
            "no stratum with a treated row has a comparison row, so nothing is compared. Fix: "
            "use coarser strata, or include units not yet treated in the entry periods."
        )
    groups = d[cluster].to_numpy()
    n_tc = int(pd.Series(groups[t == 1]).nunique())
    if n_tc < 2:
        raise ImpactError(
            f"every treated row is in one cluster of {cluster!r}, so no cluster-robust "
            "interval can be computed. Fix: cluster by a finer unit (e.g. school), or add "
            "treated units from other clusters."
        )
    if arm is not None:
        v.require_no_missing(d.loc[t == 1], [arm], role="treatment-arm column")
        present = set(d.loc[t == 1, arm].astype(str))
        order = [str(a) for a in (arm_order or [])]
        found = [a for a in order if a in present] + sorted(present - set(order))
    else:
        found = []
    if len(found) > 1:
        a_values = d[arm].astype(str).to_numpy()
        T_l = np.column_stack([((t == 1) & (a_values == a)).astype(float) for a in found])
        w = T_l.sum(axis=0) / T_l.sum()
        T = np.column_stack([t.astype(float)] + [T_l[:, j] / w[j] - T_l[:, -1] / w[-1]
                                                  for j in range(len(found) - 1)])
        arm_weights = dict(zip(found, np.round(w, 4).tolist(), strict=True))
    else:
        T = t.astype(float)[:, None]
        arm_weights = {found[0]: 1.0} if found else {}
    C, names, reference = adjustment_matrix(d, polynomial, covariates, factors)
    if slopes_by is not None:
        C, names = slopes_by_level(C, names, sum(int(k) for k in polynomial.values()),
                                   d[slopes_by], slopes_by)
    reference = {**encoded_refs, **reference}
    M = np.column_stack([d[outcome].to_numpy(dtype=float), T, C])
    Z = within(M, stratum)
    keep = independent_columns(Z[:, 1:], T.shape[1])
    X = Z[:, 1:][:, keep]
    used = [names[j - T.shape[1]] for j in keep if j >= T.shape[1]]
    # strata are nested in the clusters: K counts them once, as fixest does
    res = ols_cluster(X, Z[:, 0], groups, 0, conf_level=conf_level, n_boot=n_boot,
                      weights=weights, random_state=random_state, absorb=[stratum])
    res, cautions = few_cluster_inference(
        res, M[:, 0], t.astype(float), groups,
        covariates=M[:, 2:] if M.shape[1] > 2 else None, absorb=[stratum],
        randomisation=randomisation, conf_level=conf_level, n_perm=n_boot,
        random_state=random_state, what=cluster_label)
    if unit is not None:
        n_treated = int(d.loc[t == 1, unit].nunique())
        n_control = int(d.loc[t == 0, unit].nunique())
    else:
        n_treated, n_control = int((t == 1).sum()), int((t == 0).sum())
    if assumptions is None:
        assumptions = [
            "selection on observables: within a stratum, which units start treatment "
            "depends only on what is adjusted for",
            "comparison units are those not treated before the entry period; some are "
            "treated later, which is allowed because their outcome in the entry period is "
            "untreated",
            f"the entry periods are pooled: a unit not yet treated is a comparison in each "
            f"period until treated, and the interval, clustered by {cluster!r}, allows for "
            "that",
            ("the outcome is linear in the adjustment terms; the polynomial's slopes differ "
             f"between the levels of {slopes_by!r}, the other slopes are the same in every "
             "stratum") if slopes_by is not None else
            "the outcome is linear in the adjustment terms, with the same slopes in every "
            "stratum",
            "no spill-over from treated to comparison units",
        ]
    return Estimate(
        estimate=res["estimate"], se=res["se"], ci_low=res["ci_low"], ci_high=res["ci_high"],
        p_value=res["p_value"], n_treated=n_treated, n_control=n_control,
        method=method or ("entry-cohort regression adjustment (units starting treatment in a "
                          "period against units not yet treated in the same stratum)"),
        outcome=outcome_label or outcome, units=units, design="level",
        conf_level=conf_level, inference=res["inference"], assumptions=list(assumptions),
        treated_label=treated_label, control_label=control_label,
        extra={"n_rows": int(len(d)), "n_strata": int(stratum.max() + 1),
               "n_clusters": res["n_clusters"], "n_treated_clusters": n_tc,
               "n_control_clusters": res["n_control_clusters"],
               **({"cluster_robust": res["cluster_robust"]} if "cluster_robust" in res
                  else {}),
               "n_params": int(res.get("n_params", X.shape[1])),
               "arm_weights": arm_weights, "covariates": used,
               "ovb_inputs": ols_inputs(X, Z[:, 0], 0, n_absorbed=int(stratum.max() + 1),
                                        benchmarks=_benchmark_groups(
                                            used, T.shape[1], polynomial, factors))},
        warnings=cautions,
        reference_levels=reference,
    )
