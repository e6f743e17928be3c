"""Impact estimates the reports show: panels built from the extracts, estimators from
:mod:`nlc_eval.impact`.

The design (the same for every cluster, so reports are comparable): each pupil's termly
attendance rate is a panel over the sessions in the data; a pupil counts as supported from
the term their first support started; pupils never supported are the comparison group. The
difference-in-differences estimate (pupil and term fixed effects) compares the change in
supported pupils' attendance with the change in everyone else's. Intervals are clustered by
cluster (authority-wide) or by school (one cluster), with a wild cluster bootstrap when there
are few of them: with one cluster's handful of schools the intervals are wide, and the
reports say so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nlc_eval.errors import ReportError

LEVELS = ("universal", "additional", "intensive")
OUTCOMES = {
    "attendance_rate": ("attendance", "percentage points"),
}
#: Bootstrap draws of the report estimates (a seeded wild cluster bootstrap).
N_BOOT = 399


def first_supports(supports: pd.DataFrame) -> pd.DataFrame:
    """Each supported pupil's first support: pupil_id, start_date, level, cluster, driver."""
    if supports.empty:
        return pd.DataFrame(columns=["pupil_id", "start_date", "level", "cluster", "driver"])
    s = supports.sort_values(["pupil_id", "start_date", "support_id"])
    return s.drop_duplicates("pupil_id")[["pupil_id", "start_date", "level", "cluster",
                                          "driver"]].reset_index(drop=True)


def attendance_panel(ctx, cluster: str | None = None) -> pd.DataFrame:
    """Pupil-by-term attendance panel with the support indicator.

    Columns: ``pupil_id, period, year, term, seed_code, cluster, attendance_rate, supported,
    ever_supported, level`` (level of the first support, ``""`` if never supported).
    ``cluster`` keeps pupils whose school in their latest session is in that cluster.
    """
    from nlc_eval.data.extracts import session_of, term_of

    data = ctx.data
    att = data.attendance[["pupil_id", "year", "term", "possible_sessions",
                           "attended_sessions"]]
    att = att[att["possible_sessions"] > 0]
    roll = data.pupils[["pupil_id", "year", "seed_code"]].astype({"seed_code": str})
    cl = ctx.schools.set_index("seed_code")["cluster"].astype(str)
    latest = roll.sort_values("year").drop_duplicates("pupil_id", keep="last")
    home = pd.Series(latest["seed_code"].map(cl).to_numpy(), index=latest["pupil_id"])
    home_school = pd.Series(latest["seed_code"].to_numpy(), index=latest["pupil_id"])
    panel = att.copy()
    panel["cluster"] = panel["pupil_id"].map(home)
    panel["seed_code"] = panel["pupil_id"].map(home_school)
    if cluster is not None:
        panel = panel[panel["cluster"] == str(cluster)]
    panel = panel.dropna(subset=["cluster"])
    panel["period"] = panel["year"].astype("int64") * 3 + panel["term"].astype("int64") - 1
    panel["attendance_rate"] = 100.0 * panel["attended_sessions"] / panel["possible_sessions"]
    first = first_supports(data.supports)
    start = (session_of(first["start_date"]).to_numpy(dtype="int64") * 3
             + term_of(first["start_date"]).to_numpy(dtype="int64") - 1)
    start = pd.Series(start, index=first["pupil_id"].to_numpy())
    level = pd.Series(first["level"].to_numpy(), index=first["pupil_id"].to_numpy())
    first_period = panel["pupil_id"].map(start)
    panel["ever_supported"] = first_period.notna().astype("int64")
    panel["supported"] = (first_period.notna()
                          & (panel["period"] >= first_period.fillna(np.inf))).astype("int64")
    panel["level"] = panel["pupil_id"].map(level).fillna("")
    panel["first_period"] = first_period.astype(float)
    return panel[["pupil_id", "period", "year", "term", "seed_code", "cluster",
                  "attendance_rate", "supported", "ever_supported", "level",
                  "first_period"]].reset_index(drop=True)


METHODS = ("did", "event_study")


def attendance_effect(ctx, *, cluster: str | None = None, level: str | None = None,
                      panel: pd.DataFrame | None = None, n_boot: int = N_BOOT,
                      method: str = "did"):
    """Difference-in-differences estimate of supports on termly attendance.

    Parameters
    ----------
    ctx : ReportContext
    cluster : str, optional
        One cluster (intervals clustered by school) or the authority (by cluster).
    level : {"universal", "additional", "intensive"}, optional
        Only pupils whose first support was at this level (plus the comparison group).
    panel : DataFrame, optional
        A panel from :func:`attendance_panel` to reuse.
    method : {"did", "event_study"}
        Two-way fixed-effects difference-in-differences, or the heterogeneity-robust event
        study (group-time effects against not-yet-supported learners, with a pre-trend test).

    Returns
    -------
    nlc_eval.impact.Estimate or None
        None when no pupil in the selection was supported.
    """
    from nlc_eval.impact.did import did
    from nlc_eval.impact.event_study import event_study

    if method not in METHODS:
        raise ReportError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}.")
    if level is not None and level not in LEVELS:
        raise ReportError(f"unknown support level {level!r}; valid levels: {', '.join(LEVELS)}.")
    p = attendance_panel(ctx, cluster) if panel is None else panel
    if cluster is not None and panel is not None:
        p = p[p["cluster"] == str(cluster)]
    if level is not None:
        p = p[(p["ever_supported"] == 0) | (p["level"] == level)]
    if p.empty or p["supported"].sum() == 0 or (p["ever_supported"] == 0).all():
        return None
    by = "seed_code" if cluster is not None else "cluster"
    who = "supported learners" if level is None else f"learners given {level} support"
    if method == "event_study":
        return event_study(p, "attendance_rate", "pupil_id", "period", "first_period",
                           cluster=by, outcome_label="attendance", units="percentage points",
                           treated_label=who, control_label="learners not yet supported")
    return did(p, "attendance_rate", "supported", "pupil_id", "period", cluster=by,
               n_boot=n_boot, random_state=ctx.seed, outcome_label="attendance",
               units="percentage points", treated_label=who,
               control_label="learners not supported")


def effects_table(ctx, *, by_cluster: bool = True, panel: pd.DataFrame | None = None,
                  n_boot: int = N_BOOT) -> pd.DataFrame:
    """Attendance effect estimates: authority-wide, by level, and (optionally) by cluster.

    Columns: ``scope, label, level, estimate, ci_low, ci_high, p_value, n_treated,
    n_control, inference, sentence``.
    """
    p = attendance_panel(ctx) if panel is None else panel
    rows = []

    def add(scope: str, label: str, est, level: str = "all") -> None:
        if est is None:
            rows.append({"scope": scope, "label": label, "level": level})
            return
        rows.append({"scope": scope, "label": label, "level": level,
                     "estimate": est.estimate, "ci_low": est.ci_low, "ci_high": est.ci_high,
                     "p_value": est.p_value, "n_treated": est.n_treated,
                     "n_control": est.n_control, "inference": est.inference,
                     "sentence": est.sentence()})

    add("authority", "All supports", attendance_effect(ctx, panel=p, n_boot=n_boot))
    for lv in LEVELS:
        add("level", f"{lv.capitalize()} support",
            attendance_effect(ctx, level=lv, panel=p, n_boot=n_boot), lv)
    if by_cluster:
        for c in ctx.clusters:
            add("cluster", c, attendance_effect(ctx, cluster=c, panel=p, n_boot=n_boot))
    out = pd.DataFrame(rows)
    for col in ("estimate", "ci_low", "ci_high", "p_value"):
        out[col] = pd.to_numeric(out.get(col), errors="coerce")
    for col in ("n_treated", "n_control"):
        out[col] = pd.to_numeric(out.get(col), errors="coerce").astype("Int64")
    return out
