"""Event studies robust to staggered adoption: Callaway–Sant'Anna group-time effects.

For every cohort g (units first treated in period g) and period t, the group-time effect
ATT(g, t) is the change in the cohort's mean outcome from a base period to t, minus the same
change among comparison units that are never treated or (by default) not yet treated by t.
Already-treated units are never used as comparisons, so staggered starts do not contaminate
the estimates. After treatment the base period is the cohort's last untreated period g - 1.
Before treatment it is, as in R's ``did`` (``base_period="varying"``, the default), the period
just before t, so each pre-period effect is a period-to-period change and e = -1 is estimated;
with ``base_period="universal"`` it is g - 1 for every t and e = -1 is the reference, fixed at
0.

Effects are aggregated as in ``did::aggte``: by event time e = t - g ("dynamic"), by cohort
("group") and overall ("simple": every post-treatment cell), with weights proportional to
cohort size. The weights are estimated shares of units, so each aggregate's influence
function includes the term of the estimated weights (Callaway and Sant'Anna, 2021).

Inference uses the influence function of each aggregate, summed within clusters (by default
the unit itself), with the t(G-1) reference distribution when there are fewer than 50
clusters. The joint pre-trend test is then a wild cluster bootstrap of the studentised Wald
statistic with the null imposed: its asymptotic version rejected parallel trends about 30% of
the time at the 5% level when cohorts sat in one to four treated clusters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from nlc_eval.errors import ImpactError

from . import _validate as v
from .estimate import Estimate
from .inference import cluster_codes, critical_value, if_inference, p_from_t, wild_wald_means

BASE_PERIODS = ("varying", "universal")


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


def weights_influence(cell_cohort: np.ndarray, unit_cohort: np.ndarray,
                      share: np.ndarray, att: np.ndarray) -> np.ndarray:
    """Influence of estimating the cohort-share weights of an aggregate (``did``'s ``wif``).

    An aggregate ``sum_k w_k ATT_k`` over cells k uses ``w_k = p_k / S``, ``S = sum_j p_j``,
    where ``p_k`` is the share of units in the cell's cohort, an estimated proportion. For
    unit i its influence is ``sum_k wif_ik ATT_k`` with ``wif_ik = (1[G_i = g_k] - p_k) / S
    - sum_j (1[G_i = g_j] - p_j) p_k / S^2``; summed over k that is
    ``(u_i - p'att) / S - (c_i - S) p'att / S^2``, where ``u_i`` and ``c_i`` are the sum of
    the effects and the number of the cells of unit i's own cohort. Returned divided by the
    number of units n, the scale of the other contributions.

    Parameters
    ----------
    cell_cohort : ndarray (k,)
        Cohort of each aggregated cell.
    unit_cohort : ndarray (n,)
        Cohort of each unit (``inf`` for never treated).
    share : ndarray (k,)
        ``p_k``, the cohort share of units of each cell.
    att : ndarray (k,)
        The cells' effects.

    Returns
    -------
    ndarray (n,)
    """
    n = len(unit_cohort)
    S = share.sum()
    pa = float(share @ att)
    u, c = np.zeros(n), np.zeros(n)
    for g in np.unique(cell_cohort):
        mine = cell_cohort == g
        in_g = unit_cohort == g
        u[in_g] += att[mine].sum()
        c[in_g] += mine.sum()
    return ((u - pa) / S - (c - S) * pa / S ** 2) / n


def _cells(Y, gidx, cohorts, control, base_period):
    """Group-time effects and their unit-level influence contributions."""
    n_units, T = Y.shape
    rows, psis, pre_cells = [], [], []
    for g in cohorts:
        in_g = gidx == g
        for t in range(T):
            if t >= g or base_period == "universal":
                base = g - 1
            else:
                base = t - 1
            if t == base or base < 0:
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
            rows.append({"g": int(g), "t": t, "event_time": t - int(g), "base": base,
                         "att": m_t - m_c, "n_cohort": n_t, "n_comparison": n_c})
            psis.append(psi)
            if t < g:
                used = tr | cc
                pre_cells.append((len(rows) - 1, dy[used], tr[used], used))
    return rows, psis, pre_cells


def _aggregate(sel: np.ndarray, gt: pd.DataFrame, PSI: np.ndarray, gidx: np.ndarray,
               share_of: dict, *, estimated_weights: bool = True):
    """Estimate and influence contributions of the cohort-share average of cells ``sel``."""
    cg = gt.loc[sel, "g"].to_numpy()
    p = np.array([share_of[g] for g in cg])
    w = p / p.sum()
    att = gt.loc[sel, "att"].to_numpy()
    psi = PSI[:, sel] @ w
    if estimated_weights:
        psi = psi + weights_influence(cg, gidx, p, att)
    full = np.zeros(len(gt))
    full[sel] = w
    return float(att @ w), psi, full


def event_study(df: pd.DataFrame, outcome: str, unit: str, time: str, first_treated: str, *,
                control: str = "notyet", cluster: str | None = None,
                base_period: str = "varying", randomisation: str = "auto",
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
        Column to cluster by; units must be nested in it. Default: the unit itself, with the
        same small-sample inference (t(G-1) intervals and the bootstrap pre-trend test with
        fewer than 50 units) as passing ``cluster=unit``.
    base_period : {"varying", "universal"}
        Base of the pre-treatment effects: the previous period (default, as R's ``did``) or
        the cohort's last untreated period g - 1 (then e = -1 is the reference, fixed at 0).
        Post-treatment effects always use g - 1.
    randomisation : {"auto", "always", "never"}
        With fewer than five clusters holding treated units (or comparison units), a
        :class:`~nlc_eval.impact.inference.FewClustersWarning` is issued and, when treatment
        starts are assigned by cluster, the headline p-value and interval come from
        randomisation inference: the clusters' start periods reassigned over the clusters
        (every distinct way when there are at most 199, else 199 random ones) and the simple
        ATT recomputed for each (``"auto"``); ``"always"``/``"never"`` override.
    window : (int, int), optional
        Smallest and largest event time to report (default all); the overall effects use
        every cell whatever the window, except the dynamic average, which averages the
        reported event times from 0 on.
    conf_level : float
    n_boot, random_state : int
        Draws and seed of the wild cluster bootstrap of the pre-trend test, used when there
        are fewer than 50 clusters.
    outcome_label, units, treated_label, control_label : str
        Wording of :meth:`Estimate.sentence`.

    Returns
    -------
    Estimate
        The headline effect is the "simple" aggregation: the average of all post-treatment
        group-time effects, weighted by cohort size. ``terms`` holds one row per event time
        (column ``event_time``). ``extra`` holds the pre-trend test (``pretrend_stat``,
        ``pretrend_df``, ``pretrend_p``, ``pretrend_method``), ``base_period``, the three
        aggregations ``aggregations`` (rows ``simple``, ``dynamic``, ``group``), the cohort
        effects ``group_effects``, the number of clusters holding each cohort's treated
        units (``cohort_clusters``) and the group-time table ``group_time`` (one row per
        cell, with its standard error), all DataFrames or dicts.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> n, T = 300, 5
    >>> d = pd.DataFrame({"id": np.repeat(np.arange(n), T), "t": np.tile(np.arange(T), n)})
    >>> d["first"] = np.repeat(rng.choice([0, 2, 3], n), T)
    >>> d["y"] = d.t + np.where((d["first"] > 0) & (d.t >= d["first"]), 1.0, 0.0)
    >>> d["y"] += rng.normal(0, 0.1, len(d))
    >>> es = event_study(d, "y", "id", "t", "first")
    >>> round(es.estimate, 1), es.extra["base_period"]
    (1.0, 'varying')
    """
    if randomisation not in ("auto", "always", "never"):
        raise ImpactError(f"randomisation={randomisation!r}. Fix: use 'auto', 'always' or "
                          "'never'.")
    est = _event_study(df, outcome, unit, time, first_treated, control=control,
                       cluster=cluster, base_period=base_period, window=window,
                       conf_level=conf_level, n_boot=n_boot, random_state=random_state,
                       outcome_label=outcome_label, units=units, treated_label=treated_label,
                       control_label=control_label)
    return _few_clusters(est, df, outcome, unit, time, first_treated, control=control,
                         cluster=cluster, base_period=base_period, conf_level=conf_level,
                         randomisation=randomisation, random_state=random_state)


def _few_clusters(est: Estimate, df, outcome, unit, time, first_treated, *, control, cluster,
                  base_period, conf_level, randomisation, random_state) -> Estimate:
    """The few-treated-clusters warning and randomisation inference for the simple ATT."""
    import warnings

    from .inference import (
        FEW_TREATED,
        FewClustersWarning,
        _assignments,
        few_clusters_warning,
        invert_placebos,
    )

    cl = cluster or unit
    units_tab = df.groupby(unit, sort=False).agg(cl=(cl, "first"), g=(first_treated, "first"))
    g = pd.to_numeric(units_tab["g"], errors="coerce").astype(float)
    g = g.where(np.isfinite(g) & (g != 0), np.inf)
    per_cluster = g.groupby(units_tab["cl"]).agg(["min", "max"])
    n1 = int(np.isfinite(per_cluster["min"]).sum())
    n0 = int((~np.isfinite(per_cluster["max"])).sum())
    few = min(n1, n0) < FEW_TREATED
    est.extra.update(n_treated_clusters=n1, n_control_clusters=n0)
    if not few and randomisation != "always":
        return est
    by_cluster = bool((per_cluster["min"] == per_cluster["max"]).all())
    try:
        tvals = df[time].to_numpy(dtype=float)
    except (TypeError, ValueError):        # periods that are not numbers: no placebo starts
        by_cluster = False
    use_ri = by_cluster and randomisation != "never"
    if few:
        text = few_clusters_warning(n1, n0, "clusters", randomised=use_ri)
        if randomisation == "never":
            text = text.split("; randomisation")[0]
        warnings.warn(FewClustersWarning(text), stacklevel=3)
        est.warnings.append(text)
    if not use_ri:
        return est
    start = per_cluster["min"].to_numpy()
    labels = per_cluster.index.to_numpy()
    starts, exact, total = _assignments(start, 199, np.random.default_rng(random_state))
    cl_of_row = df[cl].to_numpy()
    pos = pd.Index(labels).get_indexer(cl_of_row)
    gi = pd.to_numeric(df[first_treated], errors="coerce").astype(float).to_numpy()
    gi = np.where(np.isfinite(gi) & (gi != 0), gi, np.inf)
    d_obs = (tvals >= gi).astype(float)
    c, dd = [], []
    for assignment in starts:
        placebo = df.assign(**{first_treated: assignment[pos], "_d_obs_": d_obs})
        try:
            kw = dict(control=control, cluster=cluster, base_period=base_period,
                      conf_level=conf_level, n_boot=9, random_state=0)
            c.append(_event_study(placebo, outcome, unit, time, first_treated, **kw).estimate)
            dd.append(_event_study(placebo, "_d_obs_", unit, time, first_treated,
                                   **kw).estimate)
        except ImpactError:          # an assignment with no comparison cells says nothing
            continue
    p, lo, hi = invert_placebos(est.estimate, np.array(c), np.array(dd), conf_level)
    P = len(c)
    est.extra["cluster_robust"] = {"ci_low": est.ci_low, "ci_high": est.ci_high,
                                   "p_value": est.p_value, "inference": est.inference}
    est.p_value, est.ci_low, est.ci_high = p, lo, hi
    est.inference = (f"randomisation inference for the overall effect: the clusters' start "
                     f"periods reassigned over {len(labels)} clusters "
                     + (f"in all {P} distinct ways" if exact else
                        f"in {P - 1} random ways (seed {random_state}) of {total:,} possible")
                     + "; p-value and interval (by test inversion, assuming a constant effect) "
                     "from the placebo estimates; event-time rows keep "
                     + est.inference)
    est.extra["n_assignments"] = P
    est.assumptions.append("the treated clusters' start periods were assigned as if at "
                           "random among the clusters (randomisation inference), with a "
                           "constant effect for the interval")
    return est


def _event_study(df: pd.DataFrame, outcome: str, unit: str, time: str, first_treated: str, *,
                 control: str = "notyet", cluster: str | None = None,
                 base_period: str = "varying", window: tuple[int, int] | None = None,
                 conf_level: float = 0.95, n_boot: int = 999, random_state: int | None = 0,
                 outcome_label: str | None = None, units: str = "",
                 treated_label: str = "treated units",
                 control_label: str = "comparison units") -> Estimate:
    """The estimator behind :func:`event_study` (no few-cluster handling)."""
    v.require_frame(df)
    cols = [outcome, unit, time, first_treated] + ([cluster] if cluster else [])
    v.require_columns(df, cols)
    v.require_no_missing(df, [outcome, unit, time])
    v.require_numeric(df, [outcome], role="outcome")
    if control not in ("notyet", "never"):
        raise ImpactError(f"control={control!r}. Fix: use 'notyet' or 'never'.")
    if base_period not in BASE_PERIODS:
        raise ImpactError(f"base_period={base_period!r}. Fix: use 'varying' (the previous "
                          "period, as R's did) or 'universal' (the period before treatment).")
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
    cl_name = cluster or unit
    if cluster:
        clusters = df.groupby(unit, sort=False)[cluster].first().reindex(wide.index).to_numpy()
    else:
        clusters = wide.index.to_numpy()
    codes = cluster_codes(clusters)[0]
    rows, psis, pre_cells = _cells(Y, gidx, cohorts, control, base_period)
    if not rows:
        raise ImpactError("no cohort has a comparison group in any period. Fix: include "
                          "never-treated units or units treated later.")
    gt = pd.DataFrame(rows)
    PSI = np.column_stack(psis)
    post = (gt["event_time"] >= 0).to_numpy()
    if not post.any():
        raise ImpactError("no post-treatment period is observed for any cohort. "
                          "Fix: extend the panel past the start of treatment.")
    share_of = {int(g): float(np.mean(gidx == g)) for g in cohorts}
    ev = sorted(gt["event_time"].unique())
    if window is not None:
        ev = [e for e in ev if window[0] <= e <= window[1]]
    # every aggregate: its estimate and its influence contributions (n units each)
    names, theta, cols_psi = [], [], []
    A_ev = np.zeros((len(gt), len(ev)))        # cells -> event-time aggregates (weights)
    for j, e in enumerate(ev):
        est_e, psi_e, A_ev[:, j] = _aggregate((gt["event_time"] == e).to_numpy(), gt, PSI,
                                               gidx, share_of)
        names.append(f"event_time_{e}")
        theta.append(est_e)
        cols_psi.append(psi_e)
    simple, psi_simple, _ = _aggregate(post, gt, PSI, gidx, share_of)
    e_pos = [j for j, e in enumerate(ev) if e >= 0]
    g_post = [g for g in cohorts if (post & (gt["g"] == g).to_numpy()).any()]
    g_est, g_psi = [], []
    for g in g_post:   # within a cohort the weights are equal: nothing estimated
        est_g, psi_g, _ = _aggregate(post & (gt["g"] == g).to_numpy(), gt, PSI, gidx,
                                     share_of, estimated_weights=False)
        g_est.append(est_g)
        g_psi.append(psi_g)
    pg = np.array([share_of[g] for g in g_post])
    g_est_a = np.array(g_est)
    group_all = float(g_est_a @ (pg / pg.sum()))
    psi_group = (np.column_stack(g_psi) @ (pg / pg.sum())
                 + weights_influence(np.array(g_post, dtype=float), gidx, pg, g_est_a))
    if e_pos:
        dyn = float(np.mean([theta[j] for j in e_pos]))
        psi_dyn = np.mean([cols_psi[j] for j in e_pos], axis=0)
    else:
        dyn, psi_dyn = float("nan"), np.zeros(n_units)
    all_psi = np.column_stack(cols_psi + [psi_simple, psi_dyn, psi_group] + g_psi)
    inf = if_inference(all_psi, clusters)
    V, dfree, G = inf["vcov"], inf["df"], inf["n_clusters"]
    se_all = np.sqrt(np.clip(np.diag(V), 0, None))
    crit = critical_value(conf_level, dfree)
    k_ev = len(ev)

    def table(labels, est, se):
        est, se = np.asarray(est, dtype=float), np.asarray(se, dtype=float)
        return pd.DataFrame({
            "term": labels, "estimate": est, "std_error": se,
            "ci_low": est - crit * se, "ci_high": est + crit * se,
            "p_value": [p_from_t(a / b, dfree) if b > 0 else np.nan
                        for a, b in zip(est, se, strict=True)]})

    terms = table(names, theta, se_all[:k_ev])
    terms.insert(1, "event_time", ev)
    terms["n"] = [int(gt.loc[gt.event_time == e, "n_cohort"].sum()) for e in ev]
    if base_period == "universal":
        ref = pd.DataFrame([{"term": "event_time_-1", "event_time": -1, "estimate": 0.0,
                             "std_error": 0.0, "ci_low": 0.0, "ci_high": 0.0,
                             "p_value": np.nan, "n": int(treated_units.sum())}])
        if window is None or window[0] <= -1 <= window[1]:
            terms = pd.concat([terms, ref])
    terms = terms.sort_values("event_time", ignore_index=True)
    aggregations = table(["simple", "dynamic", "group"], [simple, dyn, group_all],
                         se_all[k_ev:k_ev + 3])
    group_effects = table([f"cohort_{times[g]}" for g in g_post], g_est, se_all[k_ev + 3:])
    group_effects.insert(1, "cohort", [times[g] for g in g_post])
    group_effects["n"] = [int((gidx == g).sum()) for g in g_post]
    cell_inf = if_inference(PSI, clusters)
    gt["std_error"] = np.sqrt(np.clip(np.diag(cell_inf["vcov"]), 0, None))
    gt.insert(0, "cohort", times[gt["g"].to_numpy()])
    gt.insert(1, "period", times[gt["t"].to_numpy()])
    gt["base"] = times[gt["base"].to_numpy()]
    gt = gt.drop(columns=["g", "t"])
    # joint pre-trend test over the estimated pre-treatment event times
    pre = [j for j, e in enumerate(ev) if e < 0]
    if pre:
        # studentised with the variance under the null: with every pre-period effect zero,
        # the estimated weights add nothing, and the bootstrap draws are studentised alike
        cell_rows = [r for r, *_ in pre_cells]
        A_pre = A_ev[np.ix_(cell_rows, pre)]
        th = np.array([theta[j] for j in pre])
        Vp = if_inference(PSI[:, cell_rows] @ A_pre, clusters)["vcov"]
        wald = float(th @ np.linalg.pinv(Vp) @ th)
        k = len(pre)
        if dfree is None:
            p_pre = float(stats.chi2.sf(wald, k))
            pre_method = f"cluster-robust Wald test, chi-squared({k})"
        else:
            # few clusters: the asymptotic (and Hotelling-scaled) tests over-reject when a
            # cohort sits in a handful of clusters, so the p-value comes from a wild cluster
            # bootstrap of the studentised Wald statistic with the null imposed
            cells = [(dy, tr, codes[used]) for _, dy, tr, used in pre_cells]
            wb = wild_wald_means(cells, A_pre, G, wald, n_boot=n_boot,
                                 random_state=random_state)
            p_pre = wb["p_value"]
            pre_method = (f"wild cluster bootstrap of the Wald statistic ({wb['weights']} "
                          f"weights, {n_boot} draws, seed {random_state}, null imposed)")
    else:
        wald, k, p_pre, pre_method = float("nan"), 0, float("nan"), "no pre-treatment periods"
    cohort_clusters = {}
    for g in cohorts:
        key = times[g].item() if hasattr(times[g], "item") else times[g]
        cohort_clusters[key] = int(len(np.unique(clusters[gidx == g])))
    est, s = simple, float(se_all[k_ev])
    inference = (f"influence-function standard errors clustered by "
                 f"{cl_name} ({G} clusters), including the estimation of the cohort weights"
                 + (f", t({dfree}) small-sample intervals" if dfree is not None else ""))
    assumptions = [
        "parallel trends: each cohort would have moved like the comparison units without "
        "support (checked, not proven, by the pre-trend test)",
        "no anticipation before the first treated period",
        "comparisons are never-treated" + (" or not-yet-treated" if control == "notyet" else "")
        + " units only, so staggered starts do not contaminate the estimate",
    ]
    thin = {c: n for c, n in cohort_clusters.items() if n < 5}
    if thin:
        listed = ", ".join(f"{c} ({n})" for c, n in thin.items())
        assumptions.append(
            f"cohorts whose treated units sit in fewer than 5 {cl_name} values: {listed}; "
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
               "pretrend_method": pre_method, "base_period": base_period,
               "aggregations": aggregations, "group_effects": group_effects,
               "cohort_clusters": cohort_clusters,
               "n_cohorts": int(len(cohorts)), "n_clusters": G, "group_time": gt},
    )
