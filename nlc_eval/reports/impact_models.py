"""Impact estimates the reports show: designs built from the extracts, estimators from
:mod:`nlc_eval.impact`.

Supports are targeted: learners are chosen because their attendance in the previous session
was low, they had been excluded, or they are in SIMD quintile 1, have additional support
needs, are care-experienced or registered for free school meals. A comparison of changes
(difference in differences, event study) then overstates the effect, because attendance
that was unusually low partly recovers anyway (regression to the mean). The reports
therefore use, by default, the **entry-cohort design** (``method="cohort"``):

* one *entry cohort* per term that has a previous session in the data (every term of every
  session after the first): the learners on roll in that term who had not been supported
  before it;
* treated: learners whose first support starts in that term (at the level asked for, when
  one is); comparison: the others (some of them are supported later, which is fine: their
  attendance in this term is untreated); learners whose first support starting in the term
  is at another level are left out;
* outcome: the attendance rate in that term (%), so the effect is the one in the term
  support starts (including the weeks of the term before it started, where it starts
  mid-term);
* regression adjustment, within entry term and cluster (or entry term and school for one
  cluster), for what the selection is based on: a cubic in previous-session attendance,
  previous-session exclusion, SIMD quintile 1, ASN, care-experienced and free school meals
  (with an indicator for learners not on roll in the previous session), plus stage
  (precision only). The slopes are the same in every entry term. Only entry terms and
  clusters (schools) with a supported learner are used;
* the cohorts are stacked (a learner not yet supported is a comparison in each term until
  supported) and the effect is one coefficient; for all levels together, the level effects
  are averaged with the supported learners' shares of each level as weights (the average
  effect on the supported);
* intervals clustered by cluster (authority-wide) or by school (one cluster): with fewer
  than 50 clusters a wild cluster bootstrap (Webb weights with 12 or fewer), so the interval
  allows for the few clusters; with one cluster's handful of schools it is wide.

Pooling every term's cohort rather than using only the reference session's first term uses
all supported learners (several times as many) and stays honest as long as who is chosen in
a term depends on the adjusted observables and not on how the term itself, or the earlier
terms of the same session, went. On the synthetic authority (where that is true by
construction) the estimates are unbiased and their 95% intervals cover the planted effect at
close to the nominal rate (slightly below it for intensive support, where the wild bootstrap
intervals run a little narrow); the figures are in ``benchmarks/results/impact.md``.

Difference in differences (``"did"``) and the event study (``"event_study"``) remain
available; their estimates say plainly that targeted supports bias them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nlc_eval.errors import DataError, ImpactError, ReportError
from nlc_eval.impact.cohort import adjustment_matrix, entry_cohort_effect, stack_entry_cohorts

LEVELS = ("universal", "additional", "intensive")
OUTCOMES = {
    "attendance_rate": ("attendance", "percentage points"),
}
#: Bootstrap draws of the report estimates (a seeded wild cluster bootstrap).
N_BOOT = 399
#: Methods of :func:`attendance_effect`; the first is the reports' default.
METHODS = ("cohort", "did", "event_study")
DEFAULT_METHOD = METHODS[0]
#: What the entry-cohort design adjusts for: the observables supports are allocated on.
SELECTION_COVARIATES = ("prior_attendance", "prior_missing", "prior_excluded", "simd_q1",
                        "asn", "care_experienced", "fsm")
#: How the entry-cohort design adjusts (arguments of :func:`nlc_eval.impact.entry_cohort_effect`):
#: a cubic in standardised previous-session attendance, the other selection observables, and
#: stage indicators (precision only).
COHORT_ADJUSTMENT = {"polynomial": {"prior_attendance": 3},
                     "covariates": list(SELECTION_COVARIATES[1:]), "factors": ["stage"]}
#: Columns the entry-cohort design reads, by table.
DESIGN_COLUMNS = {
    "pupils": ("pupil_id", "seed_code", "year", "stage", "simd_decile", "fsm", "asn",
               "care_experienced"),
    "attendance": ("pupil_id", "year", "term", "possible_sessions", "attended_sessions",
                   "exclusion_incidents"),
    "supports": ("support_id", "pupil_id", "start_date", "level"),
    "schools": ("seed_code", "cluster"),
}
#: Columns of the frame :func:`entry_cohorts` returns.
DESIGN_FRAME = ("pupil_id", "year", "term", "cohort", "seed_code", "cluster", "stage",
                "attendance_rate", "treated", "level", *SELECTION_COVARIATES)
#: Stated with every difference-in-differences and event-study estimate of the reports.
TARGETING_BIAS = (
    "WARNING: supports are targeted at learners whose attendance had fallen, and low "
    "attendance partly recovers without help (regression to the mean), so this comparison "
    "of changes overstates the effect of supports; the entry-cohort design (method "
    "'cohort') adjusts for how learners were chosen")


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


# ---------------------------------------------------------------------------
# The entry-cohort design (the reports' default)
# ---------------------------------------------------------------------------

def _table(data, name: str) -> pd.DataFrame:
    table = data.get(name) if isinstance(data, dict) else getattr(data, name, None)
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"the pupil-level data have no {name!r} table.", table=name,
                        fix="pass the extracts (load_extracts) or a synthetic authority, which "
                        f"have the tables {', '.join(DESIGN_COLUMNS)}.")
    missing = [c for c in DESIGN_COLUMNS[name] if c not in table.columns]
    if missing:
        raise DataError(f"the {name} table has no column {', '.join(map(repr, missing))}, "
                        "which the entry-cohort design needs.", table=name, column=missing[0],
                        fix=f"add it to the {name} extract (see data/README.md, 'Council "
                        "pupil-level extracts'), or use method='did'.")
    return table


def _flag(values: pd.Series, table: str, column: str, rows: pd.Series | None = None
          ) -> np.ndarray:
    """A yes/no column as 0.0/1.0; blank or unreadable values are an error naming the first
    such row of ``table`` (``rows``: the table's row labels of ``values``)."""
    v = values.astype("boolean") if values.dtype != bool else values
    if v.isna().any():
        labels = values.index if rows is None else pd.Index(rows)
        bad = labels[v.isna().to_numpy()]
        n_bad, first = int(bad.nunique()), bad[0]
        raise DataError(f"{n_bad} blank value{'s' if n_bad > 1 else ''} among the pupils the "
                        "design uses.", table=table, column=column, row=first,
                        fix="record yes or no for every pupil.")
    return v.to_numpy(dtype=float)


def cohort_label(year: int, term: int) -> str:
    """``"2024/25 term 1"`` for session 2024 and term 1."""
    return f"{int(year)}/{str(int(year) + 1)[-2:]} term {int(term)}"


def entry_cohorts(data, schools: pd.DataFrame | None = None, *,
                  cohorts: list[tuple[int, int]] | None = None) -> pd.DataFrame:
    """The entry-cohort design: one row per learner and term in which they could start support.

    For each entry term (a session and term with the previous session in the data) the rows
    are the learners on roll that session with attendance recorded in the term
    (``possible_sessions > 0``) who had not been supported before the term. ``treated`` is 1
    for those whose first support starts in the term (``level`` is that support's level, ``""``
    for the others). A learner not yet supported appears once per entry term until supported.

    Parameters
    ----------
    data : object or dict
        Tables ``pupils``, ``attendance``, ``supports`` (and ``schools`` when ``schools`` is
        not given) with the columns of :data:`DESIGN_COLUMNS`: the council's extracts, a
        synthetic authority, or a report context's ``data``.
    schools : DataFrame, optional
        ``seed_code`` and ``cluster`` of every school (a report context's ``schools``).
    cohorts : list of (session, term), optional
        Only these entry terms, e.g. ``[(2024, 1)]`` for the first term of session 2024/25;
        default every term with a previous session.

    Returns
    -------
    DataFrame
        Columns :data:`DESIGN_FRAME`: ``attendance_rate`` is the term's rate (%);
        ``prior_attendance`` the previous session's rate (%; the mean of the entry term when
        the learner was not on roll then, flagged by ``prior_missing``), ``prior_excluded``
        any exclusion incident in the previous session, ``simd_q1`` SIMD decile 1 or 2 (blank
        counts as no), ``asn``, ``care_experienced``, ``fsm`` (0/1). ``seed_code`` and
        ``cluster`` are the learner's school and cluster in the entry session.

    Examples
    --------
    >>> from nlc_eval.data.synthetic import authority   # doctest: +SKIP
    >>> d = entry_cohorts(authority(seed=0))             # doctest: +SKIP
    >>> d.groupby("cohort")["treated"].sum()             # doctest: +SKIP
    """
    from nlc_eval.data.extracts import session_of, term_of

    pupils, att, sup = (_table(data, t) for t in ("pupils", "attendance", "supports"))
    if schools is None:
        schools = _table(data, "schools")
    missing = [c for c in DESIGN_COLUMNS["schools"] if c not in schools.columns]
    if missing:
        raise DataError(f"the schools table has no column {', '.join(map(repr, missing))}.",
                        table="schools", column=missing[0],
                        fix="give every school its seed_code and cluster.")
    att = att.loc[att["possible_sessions"] > 0, list(DESIGN_COLUMNS["attendance"])].copy()
    if att.empty:
        raise DataError("no row has possible_sessions above 0.", table="attendance",
                        column="possible_sessions", fix="check the attendance extract.")
    att["year"] = att["year"].astype("int64")
    att["term"] = att["term"].astype("int64")
    bad = ~att["term"].isin([1, 2, 3])
    if bad.any():
        raise DataError(f"{int(bad.sum())} rows have a term other than 1, 2 or 3.",
                        table="attendance", column="term", row=att.index[bad.to_numpy()][0],
                        fix="code terms 1 (August-December), 2 (January-March) and 3 "
                        "(April-July).")
    att["attendance_rate"] = 100.0 * att["attended_sessions"] / att["possible_sessions"]
    annual = att.groupby(["pupil_id", "year"], sort=False)[
        ["attended_sessions", "possible_sessions", "exclusion_incidents"]].sum().reset_index()
    prior = pd.DataFrame({
        "pupil_id": annual["pupil_id"], "year": annual["year"] + 1,
        "prior_attendance": 100.0 * annual["attended_sessions"] / annual["possible_sessions"],
        "prior_excluded": (annual["exclusion_incidents"] > 0).astype(float)})
    sessions = sorted(att["year"].unique())
    available = sorted({(int(y), int(t)) for y, t in att[["year", "term"]].drop_duplicates()
                        .itertuples(index=False) if y - 1 in sessions})
    if not available:
        raise DataError(f"the attendance table covers only session {sessions[0]}: the "
                        "entry-cohort design needs the previous session's attendance.",
                        table="attendance", column="year",
                        fix="include the previous session in the attendance extract.")
    if cohorts is None:
        chosen = available
    else:
        chosen = [(int(y), int(t)) for y, t in cohorts]
        wrong = [c for c in chosen if c not in available]
        if wrong:
            raise ImpactError(
                f"entry term(s) {', '.join(cohort_label(*c) for c in wrong)} have no attendance"
                " or no previous session in the data. Fix: choose from "
                f"{', '.join(cohort_label(*c) for c in available)}.")
    sup = sup.assign(start_date=pd.to_datetime(sup["start_date"], errors="coerce"))
    if sup["start_date"].isna().any():
        raise DataError(f"{int(sup['start_date'].isna().sum())} rows have no readable "
                        "start_date, so the term support started is unknown.",
                        table="supports", column="start_date",
                        row=sup.index[sup["start_date"].isna().to_numpy()][0],
                        fix="record the date each support started (YYYY-MM-DD).")
    first = sup.sort_values(["pupil_id", "start_date", "support_id"]).drop_duplicates(
        "pupil_id")
    start = first["start_date"]
    key = session_of(start).to_numpy(dtype="int64") * 3 + term_of(start).to_numpy(
        dtype="int64") - 1
    first_key = pd.Series(key, index=first["pupil_id"].to_numpy())
    first_level = pd.Series(first["level"].astype(str).to_numpy(),
                            index=first["pupil_id"].to_numpy())

    att["key"] = att["year"] * 3 + att["term"] - 1
    d = att.loc[att["key"].isin([y * 3 + t - 1 for y, t in chosen]),
                ["pupil_id", "year", "term", "key", "attendance_rate"]]
    roll = pupils[list(DESIGN_COLUMNS["pupils"])].drop_duplicates(["pupil_id", "year"])
    roll = roll.assign(_row=roll.index)
    roll = roll.assign(year=roll["year"].astype("int64"),
                       seed_code=roll["seed_code"].astype(str))
    d = d.merge(roll, on=["pupil_id", "year"], how="inner")
    d = d.merge(prior, on=["pupil_id", "year"], how="left")
    d = stack_entry_cohorts(d, unit="pupil_id", period="key", first_treated=first_key)
    treated = d["treated"].to_numpy() == 1
    d["level"] = np.where(treated, d["pupil_id"].map(first_level).fillna(""), "")
    cl = schools.assign(seed_code=schools["seed_code"].astype(str)).drop_duplicates(
        "seed_code").set_index("seed_code")["cluster"]
    d["cluster"] = d["seed_code"].map(cl)
    d = d.dropna(subset=["cluster"])
    d["cluster"] = d["cluster"].astype(str)
    d["prior_missing"] = d["prior_attendance"].isna().astype(float)
    d["prior_attendance"] = d["prior_attendance"].fillna(
        d.groupby("key")["prior_attendance"].transform("mean")).fillna(0.0)
    d["prior_excluded"] = d["prior_excluded"].fillna(0.0)
    decile = pd.to_numeric(d["simd_decile"], errors="coerce")
    d["simd_q1"] = (decile <= 2).fillna(False).astype(float)
    for c in ("asn", "care_experienced", "fsm"):
        d[c] = _flag(d[c], "pupils", c, d["_row"])
    d["stage"] = d["stage"].astype(str)
    d["cohort"] = [cohort_label(y, t) for y, t in zip(d["year"], d["term"], strict=True)]
    return d[list(DESIGN_FRAME)].sort_values(["year", "term", "pupil_id"]).reset_index(
        drop=True)


def entry_cohort_design(ctx) -> pd.DataFrame:
    """:func:`entry_cohorts` of a report context's pupil data and schools."""
    return entry_cohorts(ctx.data, ctx.schools)


def _select(design: pd.DataFrame, level: str | None, cluster: str | None) -> pd.DataFrame:
    missing = [c for c in DESIGN_FRAME if c not in design.columns]
    if missing:
        raise ImpactError(f"the design has no column {', '.join(map(repr, missing))}. Fix: "
                          "build it with entry_cohorts().")
    d = design
    if cluster is not None:
        d = d[d["cluster"] == str(cluster)]
    if level is not None:
        d = d[(d["treated"] == 0) | (d["level"] == level)]
    return d


def cohort_covariates(d: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Adjustment matrix of the entry-cohort design and the names of its columns.

    A cubic in standardised previous-session attendance, the other selection observables
    (:data:`SELECTION_COVARIATES`) and stage indicators (for precision), as
    :func:`nlc_eval.impact.cohort.adjustment_matrix` builds them for :func:`cohort_effect`.
    """
    C, names, _ = adjustment_matrix(d, **COHORT_ADJUSTMENT)
    return C, names


def cohort_effect(design: pd.DataFrame, *, level: str | None = None,
                  cluster: str | None = None, n_boot: int = N_BOOT,
                  random_state: int | None = 0, conf_level: float = 0.95,
                  treated_label: str | None = None, outcome: str = "attendance_rate",
                  outcome_label: str = "attendance"):
    """Effect of starting a support on attendance in that term, from the entry-cohort design.

    The council's use of :func:`nlc_eval.impact.entry_cohort_effect`: strata are entry term
    and cluster (or entry term and school for one cluster), the adjustment is
    :data:`COHORT_ADJUSTMENT`, and the support levels are the treatment arms.

    Parameters
    ----------
    design : DataFrame
        From :func:`entry_cohorts`.
    level : {"universal", "additional", "intensive"}, optional
        Only learners whose first support is at this level (plus the comparison learners);
        default all levels, with the level effects averaged by the supported learners' shares.
    cluster : str, optional
        One cluster: comparisons within entry term and school, intervals clustered by school.
        Default the authority: within entry term and cluster, clustered by cluster.
    n_boot, random_state, conf_level :
        The wild cluster bootstrap (used with fewer than 50 clusters) and the interval.
    outcome, outcome_label : str
        The outcome column (default the entry term's attendance rate) and how sentences name
        it; the placebo check (:func:`placebo_checks`) uses the term before instead.

    Returns
    -------
    nlc_eval.impact.Estimate or None
        None when no learner in the selection started a support, or when the supported
        learners sit in a single school or cluster (no interval can be computed).

    Raises
    ------
    ImpactError
        For an unknown level or a design without the columns of :data:`DESIGN_FRAME`.
    """
    if level is not None and level not in LEVELS:
        raise ImpactError(f"unknown support level {level!r}; valid levels: {', '.join(LEVELS)}."
                          " Fix: pass one of them, or level=None for all levels.")
    by = "seed_code" if cluster is not None else "cluster"
    where = "school" if cluster is not None else "cluster"
    d = _select(design, level, cluster)
    if d.empty or d["treated"].sum() == 0:
        return None
    # the cases entry_cohort_effect refuses, which the reports show as "no estimate"
    stratum = d.groupby(["cohort", by], sort=False).ngroup().to_numpy()
    t = d["treated"].to_numpy()
    used = np.bincount(stratum, weights=t)[stratum] > 0
    if (t[used] == 0).sum() == 0 or d.loc[t == 1, by].nunique() < 2:
        return None
    est = entry_cohort_effect(
        d, outcome=outcome, treatment="treated", strata=["cohort", by], cluster=by,
        arm="level", arm_order=LEVELS, unit="pupil_id", conf_level=conf_level, n_boot=n_boot,
        random_state=random_state, outcome_label=outcome_label, units="percentage points",
        cluster_label=f"{where}s", treated_label=treated_label or ("supported learners" if level is None
                                        else f"learners given {level} support"),
        control_label="comparable learners not yet supported",
        method=("entry-cohort regression adjustment (learners starting support in a term "
                f"against learners not yet supported in the same term and {where})"),
        assumptions=_cohort_assumptions(where), **COHORT_ADJUSTMENT)
    n_tc = est.extra["n_treated_clusters"]
    if n_tc < 10:
        est.assumptions.append(f"only {n_tc} {where}s contain supported learners: even the "
                               "wild cluster bootstrap can mislead with so few")
    rows = d[used]
    est.extra = {"n_rows": est.extra["n_rows"], "n_cohorts": int(rows["cohort"].nunique()),
                 "cohorts": sorted(rows["cohort"].unique()),
                 "n_clusters": est.extra["n_clusters"], "n_treated_clusters": n_tc,
                 "clustered_by": where, "n_strata": est.extra["n_strata"],
                 "level_weights": est.extra["arm_weights"],
                 "covariates": est.extra["covariates"],
                 "ovb_inputs": est.extra["ovb_inputs"]}
    return est


def _cohort_assumptions(where: str) -> list[str]:
    return [
        "selection on observables: within an entry term and " + where + ", which learners "
        "start a support depends only on what is adjusted for (previous-session attendance, "
        "as a cubic; any exclusion in the previous session; SIMD quintile 1; additional "
        "support needs; care experience; free school meals), the observables supports are "
        "allocated on",
        "no unmeasured selection: nothing else that affects attendance (for example a dip "
        "earlier in the same session, or a family crisis known to staff) decides who is "
        "supported or when",
        "comparison learners are those not supported before the entry term; some are "
        "supported later, which is allowed because their attendance in the entry term is "
        "untreated",
        "the entry terms are pooled: a learner not yet supported is a comparison in each term "
        "until supported, and the interval, clustered by " + where + ", allows for that",
        "attendance is linear in the adjustment covariates, with the same slopes in every "
        "entry term",
        "the effect is on attendance in the term support starts, including the weeks of that "
        "term before it started (diluted where supports start mid-term)",
        "no spill-over from supported learners to the comparison learners",
    ]


# ---------------------------------------------------------------------------
# The estimates the reports show
# ---------------------------------------------------------------------------

def attendance_effect(ctx, *, cluster: str | None = None, level: str | None = None,
                      panel: pd.DataFrame | None = None, n_boot: int = N_BOOT,
                      method: str = DEFAULT_METHOD, design: pd.DataFrame | None = None):
    """Effect of supports on termly attendance, by the chosen design.

    Parameters
    ----------
    ctx : ReportContext
    cluster : str, optional
        One cluster (intervals clustered by school) or the authority (by cluster).
    level : {"universal", "additional", "intensive"}, optional
        Only pupils whose first support was at this level (plus the comparison group).
    panel : DataFrame, optional
        A panel from :func:`attendance_panel` to reuse (``"did"``, ``"event_study"``).
    design : DataFrame, optional
        A design from :func:`entry_cohorts` to reuse (``"cohort"``).
    method : {"cohort", "did", "event_study"}
        ``"cohort"`` (default, recommended): the entry-cohort design with regression
        adjustment for the selection observables (:func:`cohort_effect`). ``"did"``:
        two-way fixed-effects difference-in-differences. ``"event_study"``: group-time
        effects against not-yet-supported learners, with a pre-trend test. Both of the
        latter are biased upwards by targeted supports, and say so in their assumptions.

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
    if method == "cohort":
        d = entry_cohort_design(ctx) if design is None else design
        return cohort_effect(d, level=level, cluster=cluster, n_boot=n_boot,
                             random_state=ctx.seed)
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
        est = event_study(p, "attendance_rate", "pupil_id", "period", "first_period",
                          cluster=by, outcome_label="attendance", units="percentage points",
                          treated_label=who, control_label="learners not yet supported")
    else:
        est = did(p, "attendance_rate", "supported", "pupil_id", "period", cluster=by,
                  n_boot=n_boot, random_state=ctx.seed, outcome_label="attendance",
                  units="percentage points", treated_label=who,
                  control_label="learners not supported")
    est.assumptions.insert(0, TARGETING_BIAS)
    est.extra["targeting_bias"] = TARGETING_BIAS
    return est


# ---------------------------------------------------------------------------
# The groups of learners behind the counts the reports publish
# ---------------------------------------------------------------------------

def estimate_groups(*, design: pd.DataFrame | None = None, panel: pd.DataFrame | None = None,
                    clusters=None) -> dict[tuple[str | None, str | None],
                                           tuple[frozenset, frozenset]]:
    """The learners each estimate of the reports counts: supported and comparison learners.

    One entry per estimate the reports can show: ``(cluster, level)`` with ``None`` for the
    authority or for all levels, for every cluster of the design (or panel) and every level.
    The value is ``(supported learners, comparison learners)``, each the set of distinct
    ``pupil_id`` s in the rows the estimate uses (a learner compared in several terms is
    one learner): for the entry-cohort design (``design``), the learners of the entry terms
    and clusters (schools, for one cluster) in which a learner started support at the level;
    for the difference in differences and the event study (``panel``), learners with a
    supported term and the others. Their sizes are the estimates' ``n_treated`` and
    ``n_control``.
    """
    if (design is None) == (panel is None):
        raise ReportError("pass design (entry-cohort design) or panel (attendance panel).")
    d = design if design is not None else panel
    names = sorted(d["cluster"].astype(str).unique()) if clusters is None else [
        str(c) for c in clusters]
    out: dict = {}
    if design is not None:
        t = design["treated"].to_numpy() == 1
        lv = design["level"].astype(str).to_numpy()
        cl = design["cluster"].astype(str).to_numpy()
        ids = design["pupil_id"].to_numpy()
        for by in ("cluster", "seed_code"):
            stratum = design.groupby(["cohort", by], sort=False).ngroup().to_numpy()
            for level in (None, *LEVELS):
                start = t if level is None else t & (lv == level)
                used = np.bincount(stratum, weights=start)[stratum] > 0
                keep = used & ((~t) | start)
                for c in ([None] if by == "cluster" else names):
                    rows = keep if c is None else keep & (cl == c)
                    out[(c, level)] = (frozenset(ids[rows & t]), frozenset(ids[rows & ~t]))
        return out
    for c in (None, *names):
        p = panel if c is None else panel[panel["cluster"].astype(str) == c]
        for level in (None, *LEVELS):
            q = p if level is None else p[(p["ever_supported"] == 0) | (p["level"] == level)]
            ever = q.groupby("pupil_id")["supported"].max()
            out[(c, level)] = (frozenset(ever.index[ever == 1]),
                               frozenset(ever.index[ever == 0]))
    return out


def published_counts(groups: dict, threshold: int | None = None
                     ) -> dict[tuple[str | None, str | None], tuple[int, int]]:
    """``(supported, comparison)`` learners to publish for each estimate of :func:`estimate_groups`.

    Counts of learners are distinct learners, never learner-terms. Supported and comparison
    learners are each protected by :func:`nlc_eval.disclosure.nested_counts` over all the
    estimates at once (authority, levels, clusters, clusters by level), so every page shows
    the same count for the same group, and no two counts of groups where one contains the
    other (all supports and a level, the authority and a cluster) differ by 1 to
    ``threshold - 1``: such a pair is published with the larger count. ``threshold``
    defaults to :data:`nlc_eval.disclosure.THRESHOLD`.
    """
    from nlc_eval.disclosure import THRESHOLD, nested_counts

    threshold = THRESHOLD if threshold is None else threshold
    treated = nested_counts({k: v[0] for k, v in groups.items()}, threshold)
    control = nested_counts({k: v[1] for k, v in groups.items()}, threshold)
    return {k: (treated[k], control[k]) for k in groups}


def report_counts(ctx, *, method: str = DEFAULT_METHOD, design: pd.DataFrame | None = None,
                  panel: pd.DataFrame | None = None) -> dict:
    """:func:`published_counts` of a report context, computed once and kept in ``ctx.models``."""
    cache = ctx.models if isinstance(getattr(ctx, "models", None), dict) else {}
    key = f"published_counts_{method}"
    if key not in cache:
        if method == "cohort":
            groups = estimate_groups(design=entry_cohort_design(ctx) if design is None
                                     else design, clusters=ctx.clusters)
        else:
            groups = estimate_groups(panel=attendance_panel(ctx) if panel is None else panel,
                                     clusters=ctx.clusters)
        cache[key] = published_counts(groups)
    return cache[key]


def with_published_counts(table: pd.DataFrame, counts: dict) -> pd.DataFrame:
    """An effects table (:func:`effects_table`) with ``n_treated`` and ``n_control`` replaced
    by the counts to publish (:func:`published_counts`), row by row from ``scope``, ``label``
    and ``level``; rows without an estimate keep theirs."""
    out = table.copy()
    for i, r in out.iterrows():
        if pd.isna(r.get("n_treated")):
            continue
        cluster = str(r["label"]) if r["scope"] == "cluster" else None
        level = r["level"] if r["scope"] == "level" else None
        if (cluster, level) in counts:
            out.loc[i, ["n_treated", "n_control"]] = counts[(cluster, level)]
    for col in ("n_treated", "n_control"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("Int64")
    return out


def effects_table(ctx, *, by_cluster: bool = True, panel: pd.DataFrame | None = None,
                  n_boot: int = N_BOOT, method: str = DEFAULT_METHOD,
                  design: pd.DataFrame | None = None, clusters=None) -> pd.DataFrame:
    """Attendance effect estimates: authority-wide, by level, and (optionally) by cluster.

    Columns: ``scope, label, level, estimate, ci_low, ci_high, p_value, n_treated,
    n_control, inference, sentence, method`` and :data:`SENSITIVITY_COLUMNS` (what the
    design could detect and the sensitivity to unmeasured confounding). The panel (``"did"``, ``"event_study"``) or
    design (``"cohort"``) is built once and reused. ``clusters`` limits the cluster rows
    (default every cluster). ``n_treated`` and ``n_control`` are the counts to publish
    (:func:`published_counts`: distinct learners, nested groups protected).
    """
    if method not in METHODS:
        raise ReportError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}.")
    if method == "cohort":
        design = entry_cohort_design(ctx) if design is None else design
    elif panel is None:
        panel = attendance_panel(ctx)
    rows = []

    def add(scope: str, label: str, est, level: str = "all") -> None:
        if est is None:
            rows.append({"scope": scope, "label": label, "level": level})
            return
        rows.append({"scope": scope, "label": label, "level": level,
                     "estimate": est.estimate, "ci_low": est.ci_low, "ci_high": est.ci_high,
                     "p_value": est.p_value, "n_treated": est.n_treated,
                     "n_control": est.n_control, "inference": est.inference,
                     "sentence": est.sentence(), "method": est.method,
                     **design_and_sensitivity_numbers(est)})

    def fit(**kw):
        return attendance_effect(ctx, panel=panel, design=design, n_boot=n_boot,
                                 method=method, **kw)

    add("authority", "All supports", fit())
    for lv in LEVELS:
        add("level", f"{lv.capitalize()} support", fit(level=lv), lv)
    if by_cluster:
        for c in (ctx.clusters if clusters is None else clusters):
            add("cluster", c, fit(cluster=c))
    out = pd.DataFrame(rows)
    for col in ("estimate", "ci_low", "ci_high", "p_value", *SENSITIVITY_COLUMNS):
        out[col] = pd.to_numeric(out.get(col), errors="coerce")
    for col in ("n_treated", "n_control"):
        out[col] = pd.to_numeric(out.get(col), errors="coerce").astype("Int64")
    return with_published_counts(out, report_counts(ctx, method=method, design=design,
                                                    panel=panel))


#: The observed covariate the sensitivity bound of each effect is benchmarked on, and how
#: the page names it.
SENSITIVITY_BENCHMARK = ("simd_q1", "living in SIMD deciles 1-2")
#: Columns :func:`design_and_sensitivity_numbers` adds to each row of :func:`effects_table`.
SENSITIVITY_COLUMNS = ("mdes", "robustness_value", "robustness_value_alpha",
                       "bound_estimate", "bound_ci_low", "bound_ci_high")


def design_and_sensitivity_numbers(est) -> dict[str, float]:
    """What an estimate's design could detect and how strong an unmeasured factor would have
    to be to explain it away, as numbers (missing ones are NaN).

    ``mdes``: the smallest effect (percentage points) detected with 80% power at the
    estimate's own level, its multiplier times its standard error
    (:func:`nlc_eval.impact.design.mdes_of_estimate`). ``robustness_value``:
    :meth:`Estimate.sensitivity` (Cinelli & Hazlett, 2020), the share of residual variance
    a confounder must explain to take the estimate to zero; ``robustness_value_alpha``: the
    share that makes it no longer significant by the estimate's reported (wild cluster
    bootstrap) standard error, the one its interval on the page uses (by the classical OLS
    standard error when that is missing); ``bound_*``: the estimate left by a factor as
    strong as :data:`SENSITIVITY_BENCHMARK` with both the treatment and the outcome, and
    its interval by the classical standard error of the framework.
    """
    from nlc_eval.impact.design import mdes_of_estimate

    out = dict.fromkeys(SENSITIVITY_COLUMNS, np.nan)
    try:
        out["mdes"] = float(mdes_of_estimate(est).parameters["in_units"])
    except ImpactError:
        pass
    name = SENSITIVITY_BENCHMARK[0]
    bench = (est.extra.get("ovb_inputs") or {}).get("benchmarks", {})
    try:
        s = est.sensitivity(benchmarks=[name] if name in bench else [], kd=(1,))
    except ImpactError:
        return out
    if "robustness_value" in s:
        out["robustness_value"] = float(s["robustness_value"])
        rep = s.get("robustness_value_alpha_reported_se", np.nan)
        out["robustness_value_alpha"] = float(rep if np.isfinite(rep)
                                              else s["robustness_value_alpha"])
        b = s.get("bounds")
        if isinstance(b, pd.DataFrame) and len(b):
            row = b.iloc[0]
            out.update(bound_estimate=float(row["adjusted_estimate"]),
                       bound_ci_low=float(row["adjusted_ci_low"]),
                       bound_ci_high=float(row["adjusted_ci_high"]))
    return out


# ---------------------------------------------------------------------------
# Placebo checks of the entry-cohort estimates
# ---------------------------------------------------------------------------

#: The placebo outcome: attendance in the term before the entry term (support had not started).
PLACEBO_OUTCOME = "previous_term_attendance"
#: How sentences of the placebo estimates name their outcome.
PLACEBO_LABEL = "attendance in the term before support started"
#: Random subsets of whole clusters of the stability check, and the share of clusters kept.
STABILITY_SUBSETS = 200
STABILITY_FRACTION = 0.8
#: Share of subsets that must keep the full estimate's sign for the stability check to pass.
STABILITY_SAME_SIGN = 0.9
#: Columns of :func:`placebo_checks`.
PLACEBO_COLUMNS = ("level", "check", "passed", "estimate", "ci_low", "ci_high", "p_value",
                   "inference", "full_estimate", "same_sign", "n_subsets", "n_estimated",
                   "groups_kept", "n_groups", "n_treated", "n_control", "detail")


def with_previous_term(design: pd.DataFrame, data) -> pd.DataFrame:
    """The design with :data:`PLACEBO_OUTCOME`: each row's attendance rate (%) in the term
    before its entry term (term 3 of the previous session for a first term), missing when the
    learner had no attendance recorded then. No learner of an entry term had been supported
    before it, so this attendance is untreated for every row."""
    att = _table(data, "attendance")
    att = att.loc[att["possible_sessions"] > 0, ["pupil_id", "year", "term",
                                                 "attended_sessions", "possible_sessions"]]
    # a learner with two rows in a term (two schools) has the term's sessions added up
    att = att.assign(_key=att["year"].to_numpy(dtype="int64") * 3
                     + att["term"].to_numpy(dtype="int64"))
    term = att.groupby(["pupil_id", "_key"], sort=False)[
        ["attended_sessions", "possible_sessions"]].sum().reset_index()
    prev = pd.DataFrame({
        "pupil_id": term["pupil_id"], "_key": term["_key"],
        PLACEBO_OUTCOME: 100.0 * term["attended_sessions"].to_numpy(float)
        / term["possible_sessions"].to_numpy(float)})
    # a row's entry term has key year*3 + term - 1; the term before it, key year*3 + term - 2,
    # which is the attendance row with year*3 + term equal to the entry term's key
    out = design.assign(_key=design["year"].to_numpy(dtype="int64") * 3
                        + design["term"].to_numpy(dtype="int64") - 1)
    out = out.merge(prev, on=["pupil_id", "_key"], how="left", validate="many_to_one")
    return out.drop(columns="_key")


def cohort_subset_estimates(design: pd.DataFrame, *, level: str | None = None,
                            outcome: str = "attendance_rate"):
    """The authority-wide entry-cohort estimate on any subset of whole clusters, quickly.

    Strata (entry term and cluster) are nested in clusters, so the within-stratum regression
    of :func:`cohort_effect` on the learners of a subset of clusters uses exactly those
    clusters' rows of the full design's demeaned data: its estimate follows from per-cluster
    cross-products, and the level effects are averaged with the subset's shares of supported
    learner-terms, as :func:`nlc_eval.impact.entry_cohort_effect` does. Equal to
    ``cohort_effect(design[design["cluster"].isin(kept)], level=level).estimate``.

    Returns
    -------
    callable
        ``f(kept_clusters) -> float``; NaN where :func:`cohort_effect` gives no estimate
        (supported learners in fewer than two clusters, or no comparison learner).
    """
    from nlc_eval.impact.cohort import independent_columns, within

    d = _select(design, level, None)
    stratum_all = d.groupby(["cohort", "cluster"], sort=False).ngroup().to_numpy()
    t_all = d["treated"].to_numpy(dtype=float)
    used = np.bincount(stratum_all, weights=t_all)[stratum_all] > 0
    d = d[used]
    if d.empty:
        return lambda kept: float("nan")
    stratum = pd.factorize(stratum_all[used])[0]
    t = t_all[used] == 1
    lv = d["level"].astype(str).to_numpy()
    present = set(lv[t])
    arms = [a for a in LEVELS if a in present] + sorted(present - set(LEVELS))
    T = np.column_stack([(t & (lv == a)).astype(float) for a in arms])
    C, _, _ = adjustment_matrix(d, **COHORT_ADJUSTMENT)
    Z = within(np.column_stack([d[outcome].to_numpy(dtype=float), T, C]), stratum)
    keep = independent_columns(Z[:, 1:], T.shape[1])
    X, y = Z[:, 1:][:, keep], Z[:, 0]
    codes, names = pd.factorize(d["cluster"].astype(str))
    G, k = len(names), X.shape[1]
    XtX, Xty = np.zeros((G, k, k)), np.zeros((G, k))
    for g in range(G):
        rows = codes == g
        XtX[g] = X[rows].T @ X[rows]
        Xty[g] = X[rows].T @ y[rows]
    n_arm = np.column_stack([np.bincount(codes, weights=T[:, j], minlength=G)
                             for j in range(T.shape[1])])
    n_control = np.bincount(codes, weights=(~t).astype(float), minlength=G)
    index = {c: i for i, c in enumerate(names)}

    def estimate(kept) -> float:
        g = [index[str(c)] for c in kept if str(c) in index]
        arm_n = n_arm[g].sum(axis=0)
        if (n_arm[g].sum(axis=1) > 0).sum() < 2 or n_control[g].sum() == 0:
            return float("nan")
        on = [j for j in range(T.shape[1]) if arm_n[j] > 0]
        cols = on + list(range(T.shape[1], k))
        A = XtX[g].sum(axis=0)[np.ix_(cols, cols)]
        b = Xty[g].sum(axis=0)[cols]
        live = np.diag(A) > 1e-9 * max(1.0, float(np.diag(A).max()))
        beta = np.zeros(len(cols))
        beta[live] = np.linalg.lstsq(A[np.ix_(live, live)], b[live], rcond=None)[0]
        w = arm_n[on] / arm_n[on].sum()
        return float(w @ beta[:len(on)])

    return estimate


def placebo_checks(ctx, *, design: pd.DataFrame | None = None,
                   effects: pd.DataFrame | None = None, n_boot: int = N_BOOT,
                   n_subsets: int = STABILITY_SUBSETS,
                   fraction: float = STABILITY_FRACTION) -> pd.DataFrame:
    """The placebo checks of the authority-wide entry-cohort estimates, for every level.

    For all supports and each level of support (``level`` ``"all"`` or the level):

    * ``"placebo outcome"``: :func:`cohort_effect`, with the same strata, adjustment and wild
      cluster bootstrap, on :data:`PLACEBO_OUTCOME` (attendance in the term before support
      started), over the rows with that term recorded. Support cannot have changed it, so
      the check passes when its 95% interval includes no difference
      (:func:`nlc_eval.impact.placebo.placebo_outcome`).
    * ``"stability"``: the estimate on ``n_subsets`` random subsets of ``fraction`` of the
      clusters, whole (:func:`nlc_eval.impact.placebo.stability`, seeded by ``ctx.seed``, the
      subset estimates from :func:`cohort_subset_estimates`); ``estimate`` is their median,
      ``ci_low`` and ``ci_high`` the lowest and highest; passes when at least
      :data:`STABILITY_SAME_SIGN` of them keep the full estimate's sign.

    A placebo start date (support pretended to start a term early) is not a separate check
    of this design: among learners not yet supported, it compares those starting support in
    the next term with the others, in the term before support, which is what the placebo
    outcome does; the difference-in-differences placebo start tests parallel trends, which
    this design does not assume.

    Computed once per context (kept in ``ctx.models["placebo"]``). ``effects`` is the effects
    table (:func:`effects_table`) whose estimates the stability check starts from (default:
    computed). ``n_treated`` and ``n_control`` are not for publication (they are learners of
    the placebo estimate, a part of the published groups).

    Returns
    -------
    DataFrame
        Columns :data:`PLACEBO_COLUMNS`, one row per level and check.
    """
    import warnings

    from nlc_eval.impact.placebo import placebo_outcome, stability

    cache = ctx.models if isinstance(getattr(ctx, "models", None), dict) else {}
    key = ("placebo", n_boot, n_subsets, fraction)
    if cache.get("placebo_key") == key and "placebo" in cache:
        return cache["placebo"]
    design = entry_cohort_design(ctx) if design is None else design
    if effects is None:
        effects = effects_table(ctx, by_cluster=False, design=design, n_boot=n_boot)
    with_prev = with_previous_term(design, ctx.data)
    placebo_rows = with_prev[with_prev[PLACEBO_OUTCOME].notna()]
    seed = int(getattr(ctx, "seed", 0) or 0)
    n_groups = int(design["cluster"].nunique())
    rows = []
    for level in (None, *LEVELS):
        name = "all" if level is None else level
        base = {"level": name, "n_groups": n_groups}
        row = effects[(effects["scope"] == ("authority" if level is None else "level"))
                      & (effects["level"] == name)]
        full = float(row["estimate"].iloc[0]) if len(row) else float("nan")
        try:
            chk = placebo_outcome(cohort_effect, placebo_rows, placebo=PLACEBO_OUTCOME,
                                  level=level, n_boot=n_boot, random_state=seed,
                                  outcome_label=PLACEBO_LABEL)
            e = chk.estimate
            rows.append({**base, "check": "placebo outcome", "passed": chk.passed,
                         "estimate": e.estimate, "ci_low": e.ci_low, "ci_high": e.ci_high,
                         "p_value": e.p_value, "inference": e.inference,
                         "full_estimate": full, "n_treated": e.n_treated,
                         "n_control": e.n_control, "detail": chk.detail})
        except ImpactError as err:
            rows.append({**base, "check": "placebo outcome", "passed": None,
                         "full_estimate": full, "detail": str(err)})
        if not np.isfinite(full):
            rows.append({**base, "check": "stability", "passed": None, "full_estimate": full,
                         "detail": "no estimate on all clusters"})
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            st = stability(cohort_effect, design, by="cluster", fraction=fraction,
                           n_subsets=n_subsets, random_state=seed,
                           min_same_sign=STABILITY_SAME_SIGN, full=full,
                           subset_estimate=cohort_subset_estimates(design, level=level))
        ok = st.draws["estimate"].dropna()
        rows.append({**base, "check": "stability", "passed": st.passed,
                     "estimate": float(ok.median()), "ci_low": float(ok.min()),
                     "ci_high": float(ok.max()), "full_estimate": full,
                     "same_sign": st.same_sign, "n_subsets": int(n_subsets),
                     "n_estimated": int(len(ok)),
                     "groups_kept": int(st.draws["n_groups"].iloc[0]), "detail": st.detail})
    out = pd.DataFrame(rows).reindex(columns=list(PLACEBO_COLUMNS))
    for col in ("estimate", "ci_low", "ci_high", "p_value", "full_estimate", "same_sign"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    for col in ("n_subsets", "n_estimated", "groups_kept", "n_groups", "n_treated",
                "n_control"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("Int64")
    out["passed"] = out["passed"].astype("boolean")
    cache["placebo"], cache["placebo_key"] = out, key
    return out
