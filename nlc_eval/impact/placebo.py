"""Placebo checks reported beside an estimate.

An effect is more believable when the same analysis finds nothing where nothing should be
found, and when it does not hinge on a few clusters:

* :func:`placebo_outcome` — the same estimator on an outcome the support cannot have
  changed (the outcome of the period *before* support started): an "effect" on it is
  selection, not impact.
* :func:`placebo_timing` — difference-in-differences on the periods before support only,
  pretending it started ``lead`` periods early: an "effect" is a pre-existing trend or
  anticipation.
* :func:`stability` — the estimate on many random subsets of whole clusters: how far it
  moves and how often it keeps its sign.
* :func:`placebo_table` — the checks in one tidy table for a report.

Every function takes the estimator as a callable and its arguments, so it works with any
estimator of :mod:`nlc_eval.impact` that returns an :class:`~nlc_eval.impact.Estimate`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nlc_eval import formatting as fmt
from nlc_eval.errors import ImpactError

from . import _validate as v
from .estimate import Estimate

__all__ = ["PlaceboCheck", "placebo_outcome", "placebo_table", "placebo_timing",
           "stability"]


@dataclass
class PlaceboCheck:
    """One placebo check: what was done, its estimate and whether it passed.

    ``passed`` is True when the placebo interval includes no effect (a placebo effect is
    not distinguishable from zero), or, for :func:`stability`, when at least
    ``min_same_sign`` of the subsets keep the full estimate's sign.
    """

    check: str
    estimate: Estimate | None
    passed: bool
    detail: str
    draws: pd.DataFrame | None = None
    #: for :func:`stability`: the share of subsets keeping the full estimate's sign
    same_sign: float | None = None

    def sentence(self) -> str:
        """Plain words for the report."""
        return self.detail


def _run(estimator: Callable[..., Estimate], data: pd.DataFrame, kwargs: dict) -> Estimate:
    est = estimator(data, **kwargs)
    if not isinstance(est, Estimate):
        raise ImpactError(f"the estimator returned {type(est).__name__}, not an Estimate. "
                          "Fix: pass an estimator of nlc_eval.impact.")
    return est


def _verdict(est: Estimate, what: str) -> tuple[bool, str]:
    f = est.formatted()
    units = f" {est.units}" if est.units and not est._money else ""
    if not (fmt.finite(est.ci_low) and fmt.finite(est.ci_high)):
        return False, f"The {what} could not be given an interval, so it cannot be judged."
    if f.includes_null:
        return True, (f"The {what} found no effect ({f.estimate}{units}, {f.interval}), as "
                      "it should.")
    return False, (f"The {what} found an effect of {f.estimate}{units} ({f.interval}) where "
                   "there should be none: part of the headline effect may be selection or a "
                   "pre-existing trend.")


def placebo_outcome(estimator: Callable[..., Estimate], data: pd.DataFrame, *,
                    placebo: str, outcome_arg: str = "outcome", **kwargs) -> PlaceboCheck:
    """Re-run ``estimator`` with a placebo outcome (e.g. the pre-period outcome).

    Parameters
    ----------
    estimator : callable
        E.g. :func:`~nlc_eval.impact.outcome_effect`; called as
        ``estimator(data, **{outcome_arg: placebo}, **kwargs)``.
    data : DataFrame
    placebo : str
        Column the support cannot have changed, such as last session's attendance. It
        must not also be a covariate (it would explain itself).
    outcome_arg : str
        Name of the estimator's outcome argument.
    **kwargs
        The estimator's other arguments, as for the headline estimate.

    Returns
    -------
    PlaceboCheck
    """
    v.require_frame(data)
    v.require_columns(data, [placebo], role="placebo outcome")
    covs = kwargs.get("covariates") or []
    poly = kwargs.get("polynomial") or {}
    if placebo in list(covs) or placebo in poly:
        raise ImpactError(f"the placebo outcome {placebo!r} is also a covariate. Fix: drop "
                          "it from the covariates for this check, or use another placebo.")
    est = _run(estimator, data, {**kwargs, outcome_arg: placebo})
    passed, detail = _verdict(est, f"placebo outcome ({fmt.label(placebo)}, which support "
                                   "could not have changed)")
    return PlaceboCheck("placebo outcome", est, passed, detail)


def placebo_timing(panel: pd.DataFrame, *, outcome: str, treated: str, unit: str, time: str,
                   lead: int = 1, estimator: Callable[..., Estimate] | None = None,
                   **kwargs) -> PlaceboCheck:
    """Difference-in-differences on pre-support periods with a start ``lead`` periods early.

    Keeps, for every unit, only the periods before its support started (all periods of
    units never supported); a unit first supported in period ``s`` (by position in the
    sorted periods) is pretended to start at ``s - lead``. Units supported within ``lead``
    periods of the start of the panel have no pre-placebo period and are dropped.

    Parameters
    ----------
    panel : DataFrame
        Long panel, one row per unit and period, with the 0/1 ``treated`` column.
    outcome, treated, unit, time : str
    lead : int
        How many periods earlier the placebo support starts.
    estimator : callable, optional
        Default :func:`~nlc_eval.impact.did`; called with ``outcome``, ``treated``,
        ``unit``, ``time`` and ``kwargs``.

    Returns
    -------
    PlaceboCheck
    """
    from .did import did

    estimator = estimator or did
    v.require_frame(panel)
    v.require_columns(panel, [outcome, treated, unit, time])
    if not (isinstance(lead, (int, np.integer)) and lead >= 1):
        raise ImpactError(f"lead={lead!r}. Fix: give a whole number of periods >= 1.")
    d = v.binary_treatment(panel, treated)
    order = np.unique(panel[time].to_numpy(), return_inverse=True)[1].ravel()
    pos = pd.Series(np.where(d == 1, order, np.iinfo(np.int64).max), index=panel.index)
    first = pos.groupby(panel[unit]).transform("min").to_numpy()
    never = first == np.iinfo(np.int64).max
    pre = never | (order < first)
    fake_start = np.where(never, np.iinfo(np.int64).max, first - lead)
    keep = pre & (never | (fake_start >= 1))
    sub = panel.loc[keep].copy()
    fake = (order[keep] >= fake_start[keep]).astype(int)
    if fake.sum() == 0:
        raise ImpactError(f"no supported unit has {lead + 1} or more periods before its "
                          "support started, so no placebo start can be placed. Fix: use a "
                          "smaller lead or a panel with more pre-support periods.")
    col = f"{treated}__placebo"
    sub[col] = fake
    est = _run(estimator, sub, {"outcome": outcome, "treated": col, "unit": unit,
                                "time": time, **kwargs})
    passed, detail = _verdict(est, f"placebo start {lead} period{'s' if lead > 1 else ''} "
                                   "before support began")
    return PlaceboCheck("placebo timing", est, passed, detail)


def stability(estimator: Callable[..., Estimate], data: pd.DataFrame, *, by: str,
              fraction: float = 0.8, n_subsets: int = 20, random_state: int | None = 0,
              min_same_sign: float = 0.9, full: Estimate | float | None = None,
              subset_estimate: Callable[[np.ndarray], float] | None = None,
              **kwargs) -> PlaceboCheck:
    """The estimate on ``n_subsets`` random subsets of whole ``by`` groups (e.g. clusters).

    Parameters
    ----------
    estimator : callable
        Called as ``estimator(subset, **kwargs)``.
    data : DataFrame
    by : str
        Groups kept or dropped whole (clusters, so the dependence inside them stays).
    fraction : float
        Share of groups kept in each subset.
    n_subsets : int
        Subsets drawn (seeded by ``random_state``).
    min_same_sign : float
        Share of subsets that must keep the full estimate's sign for ``passed``.
    full : Estimate or float, optional
        The headline estimate (computed on all of ``data`` when not given); a number is
        read as an effect on the difference scale (no effect is 0).
    subset_estimate : callable, optional
        Called with the array of ``by`` groups kept, returns the estimate on that subset
        (NaN when it cannot be estimated). For estimators whose subset estimates can be
        computed from per-group totals without re-running them; the subsets drawn are the
        same as without it. The draws then have no intervals.

    Returns
    -------
    PlaceboCheck
        ``draws`` has one row per subset: ``subset, estimate, ci_low, ci_high, n_groups``;
        subsets on which the estimator fails (e.g. no treated unit left) are recorded with
        missing values and do not count.
    """
    v.require_frame(data)
    v.require_columns(data, [by], role="grouping column")
    if not 0 < fraction < 1:
        raise ImpactError(f"fraction={fraction!r}. Fix: use a share between 0 and 1, e.g. 0.8.")
    if int(n_subsets) < 2:
        raise ImpactError(f"n_subsets={n_subsets!r}. Fix: use at least 2 (20 is usual).")
    groups = pd.unique(data[by])
    k = int(round(fraction * len(groups)))
    if k < 2 or k >= len(groups):
        raise ImpactError(f"{len(groups)} groups of {by!r} with fraction={fraction} leave "
                          f"{k} per subset. Fix: choose a fraction that keeps at least 2 and "
                          "drops at least 1.")
    if full is None:
        full = _run(estimator, data, kwargs)
    rng = np.random.default_rng(random_state)
    rows = []
    for i in range(int(n_subsets)):
        pick = rng.choice(groups, size=k, replace=False)
        if subset_estimate is not None:
            rows.append({"subset": i, "estimate": float(subset_estimate(pick)),
                         "ci_low": np.nan, "ci_high": np.nan, "n_groups": k})
            continue
        sub = data[data[by].isin(pick)]
        try:
            e = _run(estimator, sub, kwargs)
            rows.append({"subset": i, "estimate": e.estimate, "ci_low": e.ci_low,
                         "ci_high": e.ci_high, "n_groups": k})
        except ImpactError:
            rows.append({"subset": i, "estimate": np.nan, "ci_low": np.nan,
                         "ci_high": np.nan, "n_groups": k})
    draws = pd.DataFrame(rows)
    ok = draws["estimate"].dropna()
    if ok.empty:
        raise ImpactError("the estimator failed on every subset. Fix: keep a larger fraction.")
    value = full.estimate if isinstance(full, Estimate) else float(full)
    if isinstance(full, Estimate) and full.scale == "ratio":
        same = float((np.sign(np.log(ok)) == np.sign(np.log(value))).mean())
    else:
        null = full.null_value if isinstance(full, Estimate) else 0.0
        same = float((np.sign(ok - null) == np.sign(value - null)).mean())
    dec = max(fmt.decimals_for(value), fmt.sig_decimals(ok.std() or 1.0))
    detail = (f"Re-estimated on {len(ok)} random subsets of {fmt.number(100 * fraction, 0)}% "
              f"of the {by} groups, the effect ranged from {fmt.number(ok.min(), dec)} to "
              f"{fmt.number(ok.max(), dec)} and kept its sign in "
              f"{fmt.number(100 * same, 0)}% of them.")
    return PlaceboCheck("stability over random subsets",
                        full if isinstance(full, Estimate) else None, same >= min_same_sign,
                        detail, draws=draws, same_sign=same)


def placebo_table(checks: Sequence[PlaceboCheck]) -> pd.DataFrame:
    """The checks as a tidy table: ``check, estimate, ci_low, ci_high, p_value, passed, detail``.

    For :func:`stability` the estimate columns are the spread of the subset estimates
    (median, 2.5th and 97.5th percentiles) and ``p_value`` is missing.
    """
    rows = []
    for c in checks:
        if c.draws is not None:
            ok = c.draws["estimate"].dropna()
            rows.append({"check": c.check, "estimate": float(ok.median()),
                         "ci_low": float(ok.quantile(0.025)),
                         "ci_high": float(ok.quantile(0.975)), "p_value": np.nan,
                         "passed": c.passed, "detail": c.detail})
        else:
            e = c.estimate
            rows.append({"check": c.check, "estimate": e.estimate, "ci_low": e.ci_low,
                         "ci_high": e.ci_high, "p_value": e.p_value, "passed": c.passed,
                         "detail": c.detail})
    return pd.DataFrame(rows, columns=["check", "estimate", "ci_low", "ci_high", "p_value",
                                       "passed", "detail"])
