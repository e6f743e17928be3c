"""Event studies robust to staggered adoption: Callaway–Sant'Anna group-time effects.

For every cohort g (units first treated in period g) and period t, the group-time effect
ATT(g, t) is the change in the cohort's mean outcome from its last untreated period (g - 1)
to t, minus the same change among comparison units that are never treated or (by default)
not yet treated by t. Already-treated units are never used as comparisons, so staggered
starts do not contaminate the estimates. Effects are aggregated by event time e = t - g
(weights proportional to cohort size) and overall (all post-treatment cells).

Inference uses the influence function of each aggregate, summed within clusters (default:
units), with the t(G-1) reference distribution when there are fewer than 50 clusters. The
joint pre-trend test is then a wild cluster bootstrap of the studentised Wald statistic with
the null imposed: its asymptotic version rejected parallel trends about 30% of the time at
the 5% level when cohorts sat in one to four treated clusters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from nlc_eval.errors import ImpactError

from . import _validate as v
from .estimate import Estimate
from .inference import cluster_codes, critical_value, if_inference, p_from_t, wild_wald_means


def _first_period(df: pd.DataFrame, unit: str, first_treated: str, times: np.ndarray):
    """Per-unit index of the first treated period (inf = never treated)."""
    ft = pd.to_numeric(df.groupby(unit, sort=False)[first_treated].first(), errors="coerce")
    never = ft.isna() | (ft == 0) | np.isinf(ft.fillna(0))
    bad = (~never) & (ft < times[0])
    if bad.any():
        raise ImpactError(
            f"{int(bad.sum())} units have {first_treated!r} before the panel starts "
            f"(first period {times[0]!r}), so they have no untreated period to compare with. "
            "Fix: drop those units (they were already treated) or extend the panel back."
        )
    at_start = (~never) & (ft == times[0])
    if at_start.any():
        raise ImpactError(
            f"{int(at_start.sum())} units are treated from the first period {times[0]!r}, so "
            "they have no untreated period to compare with. Fix: drop those units or extend "
            "the panel back in time."
        )
    idx = np.searchsorted(times, ft.to_numpy(dtype=float), side="left").astype(float)
    idx[never.to_numpy()] = np.inf
    return pd.Series(idx, index=ft.index)


def event_study(df: pd.DataFrame, outcome: str, unit: str, time: str, first_treated: str, *,
                control: str = "notyet", cluster: str | None = None,
                window: tuple[int, int] | None = None, conf_level: float = 0.95,
                n_boot: int = 999, random_state: int | None = 0,
                outcome_label: str | None = None, units: str = "",
                treated_label: str = "treated units",
                control_label: str = "comparison units") -> Estimate:
    """Leads and lags of the effect relative to first treatment, with a pre-trend test.

    Parameters
    ----------
    df : DataFrame
        Long panel, one row per unit and period (unbalanced panels are allowed).
    outcome, unit, time : str
        Column names; ``time`` must be ordered (years, term numbers, dates).
    first_treated : str
        Column with the period in which the unit is first treated (constant within unit);
        missing, 0 or ``inf`` means never treated.
    control : {"notyet", "never"}
        Comparison units: never treated plus not-yet-treated (default), or never treated only.
    cluster : str, optional
        Column to cluster by (default the unit); units must be nested in it.
    window : (int, int), optional
        Smallest and largest event time to report (default all).
    conf_level : float
    n_boot, random_state : int
        Draws and seed of the wild cluster bootstrap of the pre-trend test, used when there
        are fewer than 50 clusters.
    outcome_label, units, treated_label, control_label : str
        Wording of :meth:`Estimate.sentence`.

    Returns
    -------
    Estimate
        The headline effect averages all post-treatment group-time effects (weights
        proportional to cohort size). ``terms`` holds one row per event time (column
        ``event_time``; e = -1 is the reference, fixed at 0). ``extra`` holds the pre-trend
        test (``pretrend_stat``, ``pretrend_df``, ``pretrend_p``, ``pretrend_method``), the
        number of clusters holding each cohort's treated units (``cohort_clusters``) and
        the group-time table ``group_time`` (a DataFrame).
    """
    v.require_frame(df)
    cols = [outcome, unit, time, first_treated] + ([cluster] if cluster else [])
    v.require_columns(df, cols)
    v.require_no_missing(df, [outcome, unit, time])
    v.require_numeric(df, [outcome])
    if control not in ("notyet", "never"):
        raise ImpactError(f"control={control!r}. Fix: use 'notyet' or 'never'.")
    v.constant_within(df, first_treated, unit)
    if cluster:
        v.require_no_missing(df, [cluster], role="cluster column")
        v.constant_within(df, cluster, unit)
    if df.duplicated([unit, time]).any():
        raise ImpactError(
            f"{int(df.duplicated([unit, time]).sum())} rows repeat a ({unit!r}, {time!r}) pair. "
            "Fix: keep one row per unit and period."
        )
    times = np.sort(df[time].unique())
    if len(times) < 2:
        raise ImpactError("the panel has one period only. Fix: add periods before treatment.")
    wide = df.pivot(index=unit, columns=time, values=outcome).reindex(columns=times)
    gidx = _first_period(df, unit, first_treated, times).reindex(wide.index).to_numpy()
    Y = wide.to_numpy(dtype=float)
    n_units, T = Y.shape
    treated_units = np.isfinite(gidx)
    if not treated_units.any():
        raise ImpactError(f"no unit has a {first_treated!r} value: nobody is treated. "
                          "Fix: check the column.")
    if control == "never" and treated_units.all():
        raise ImpactError("every unit is eventually treated, so there are no never-treated "
                          "comparisons. Fix: use control='notyet'.")
    cohorts = np.unique(gidx[treated_units]).astype(int)
    clusters = None
    if cluster:
        clusters = df.groupby(unit, sort=False)[cluster].first().reindex(wide.index).to_numpy()
    codes = cluster_codes(clusters)[0] if clusters is not None else None
    rows, psis, pre_cells = [], [], []
    for g in cohorts:
        base = g - 1
        in_g = gidx == g
        for t in range(T):
            if t == base:
                continue
            later = max(t, base)
            ctrl = ~np.isfinite(gidx) if control == "never" else (gidx > later) & ~in_g
            ok = np.isfinite(Y[:, t]) & np.isfinite(Y[:, base])
            tr, cc = in_g & ok, ctrl & ok
            n_t, n_c = int(tr.sum()), int(cc.sum())
            if n_t == 0 or n_c == 0:
                continue
            dy = Y[:, t] - Y[:, base]
            m_t, m_c = dy[tr].mean(), dy[cc].mean()
            psi = np.zeros(n_units)
            psi[tr] = (dy[tr] - m_t) / n_t
            psi[cc] = -(dy[cc] - m_c) / n_c
            rows.append({"cohort": times[g], "period": times[t], "event_time": t - g,
                         "att": m_t - m_c, "n_cohort": n_t, "n_comparison": n_c})
            psis.append(psi)
            if t < base and codes is not None:
                used = tr | cc
                pre_cells.append((len(rows) - 1, (dy[used], tr[used], codes[used])))
    if not rows:
        raise ImpactError("no cohort has a comparison group in any period. Fix: include "
                          "never-treated units or units treated later.")
    gt = pd.DataFrame(rows)
    PSI = np.column_stack(psis)
    # aggregation matrices: columns of A map group-time cells to aggregates
    ev = sorted(gt["event_time"].unique())
    if window is not None:
        ev = [e for e in ev if window[0] <= e <= window[1]]
    A = np.zeros((len(gt), len(ev) + 1))
    for j, e in enumerate(ev):
        sel = (gt["event_time"] == e).to_numpy()
        A[sel, j] = gt.loc[sel, "n_cohort"] / gt.loc[sel, "n_cohort"].sum()
    post = (gt["event_time"] >= 0).to_numpy()
    if not post.any():
        raise ImpactError("no post-treatment period is observed for any cohort. "
                          "Fix: extend the panel past the start of treatment.")
    A[post, -1] = gt.loc[post, "n_cohort"] / gt.loc[post, "n_cohort"].sum()
    theta = gt["att"].to_numpy() @ A
    inf = if_inference(PSI @ A, clusters)
    V, dfree, G = inf["vcov"], inf["df"], inf["n_clusters"]
    se = np.sqrt(np.diag(V))
    crit = critical_value(conf_level, dfree)
    terms = pd.DataFrame({
        "term": [f"event_time_{e}" for e in ev], "event_time": ev, "estimate": theta[:-1],
        "std_error": se[:-1], "ci_low": theta[:-1] - crit * se[:-1],
        "ci_high": theta[:-1] + crit * se[:-1],
        "p_value": [p_from_t(th / s, dfree) if s > 0 else np.nan
                    for th, s in zip(theta[:-1], se[:-1], strict=True)],
        "n": [int(gt.loc[gt.event_time == e, "n_cohort"].sum()) for e in ev],
    })
    ref = pd.DataFrame([{"term": "event_time_-1", "event_time": -1, "estimate": 0.0,
                         "std_error": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p_value": np.nan,
                         "n": int(treated_units.sum())}])
    terms = pd.concat([terms, ref]).sort_values("event_time", ignore_index=True)
    # joint pre-trend test over event times <= -2
    pre = [j for j, e in enumerate(ev) if e <= -2]
    if pre:
        th, Vp = theta[pre], V[np.ix_(pre, pre)]
        wald = float(th @ np.linalg.pinv(Vp) @ th)
        k = len(pre)
        if dfree is None:
            p_pre = float(stats.chi2.sf(wald, k))
            pre_method = f"cluster-robust Wald test, chi-squared({k})"
        else:
            # few clusters: the asymptotic (and Hotelling-scaled) tests over-reject when a
            # cohort sits in a handful of clusters, so the p-value comes from a wild cluster
            # bootstrap of the studentised Wald statistic with the null imposed
            A_pre = A[np.ix_([r for r, _ in pre_cells], pre)]
            wb = wild_wald_means([c for _, c in pre_cells], A_pre, G, wald,
                                 n_boot=n_boot, random_state=random_state)
            p_pre = wb["p_value"]
            pre_method = (f"wild cluster bootstrap of the Wald statistic ({wb['weights']} "
                          f"weights, {n_boot} draws, seed {random_state}, null imposed)")
    else:
        wald, k, p_pre, pre_method = float("nan"), 0, float("nan"), "no pre-treatment periods"
    cohort_clusters = {}
    if clusters is not None:
        for g in cohorts:
            key = times[g].item() if hasattr(times[g], "item") else times[g]
            cohort_clusters[key] = int(len(np.unique(clusters[gidx == g])))
    est, s = float(theta[-1]), float(se[-1])
    inference = (f"influence-function standard errors clustered by "
                 f"{cluster or unit} ({G} clusters)"
                 + (f", t({dfree}) small-sample intervals" if dfree is not None else ""))
    assumptions = [
        "parallel trends: each cohort would have moved like the comparison units without "
        "support (checked, not proven, by the pre-trend test)",
        "no anticipation before the first treated period",
        "comparisons are never-treated" + (" or not-yet-treated" if control == "notyet" else "")
        + " units only, so staggered starts do not contaminate the estimate",
    ]
    if clusters is not None:
        n_tc = len(np.unique(clusters[treated_units]))
        if n_tc < 10:
            assumptions.append(f"only {n_tc} clusters contain treated units: cluster-robust "
                               "intervals can be too narrow with so few treated clusters")
        thin = {c: n for c, n in cohort_clusters.items() if n < 5}
        if thin:
            listed = ", ".join(f"{c} ({n})" for c, n in thin.items())
            assumptions.append(
                f"cohorts whose treated units sit in fewer than 5 {cluster} values: {listed}; "
                "their effects and the pre-trend test rest on very few clusters, so a pre-trend "
                "test that does not reject is weak evidence of parallel trends")
    if pre and p_pre < 0.05:
        assumptions.append(f"WARNING: the pre-trend test rejects parallel trends (p = "
                           f"{p_pre:.3f}); treat the estimate with caution")
    return Estimate(
        estimate=est, se=s, ci_low=est - crit * s, ci_high=est + crit * s,
        p_value=p_from_t(est / s, dfree) if s > 0 else float("nan"),
        n_treated=int(treated_units.sum()), n_control=int((~treated_units).sum()),
        method=("event study (Callaway-Sant'Anna group-time effects, "
                + ("not-yet-treated" if control == "notyet" else "never-treated")
                + " comparisons)"),
        outcome=outcome_label or outcome, units=units, design="change",
        conf_level=conf_level, inference=inference, assumptions=assumptions,
        treated_label=treated_label, control_label=control_label, terms=terms,
        extra={"pretrend_stat": wald, "pretrend_df": k, "pretrend_p": p_pre,
               "pretrend_method": pre_method, "cohort_clusters": cohort_clusters,
               "n_cohorts": int(len(cohorts)), "n_clusters": G, "group_time": gt},
    )
