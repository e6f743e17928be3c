"""Cluster dashboard: how many supports, for whom, how well attended, how they ended.

Works on the council's ``supports`` extract (one row per support: support_id, pupil_id,
cluster, provider, level, driver, start_date, end_date, status, sessions_planned,
sessions_attended) and, for school breakdowns and the drivers' measures, ``pupils``,
``attendance`` and ``attainment`` (schema in ``data/README.md``).

A support *counts in a period* when it is active at some point in it: started on or before
the period's last day and not ended before its first day. Its end state is, by default
(``status="recorded"``), the status recorded in the extract, as the dashboard shows it
(so a support active in August-December that ended successfully in February counts as
ended successfully); with ``status="at_period_end"`` it is the recorded status only if the
support ended by the period's last day, and ``ongoing`` otherwise.

Publishable tables (passed through :func:`nlc_eval.disclosure.suppress`, counts under 5
hidden, ``attrs["disclosure"]`` set): :func:`support_summary`, :func:`support_trend` and
:func:`driver_measures` with ``publish=True`` (the default). :func:`headline` returns
figures and a sentence for the whole authority; it refuses to state a figure under the
threshold. ``publish=False`` returns the raw numbers for analysis only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from nlc_eval import formatting as fmt
from nlc_eval.disclosure import suppress
from nlc_eval.errors import DataError, DisclosureError

__all__ = [
    "DRIVERS",
    "LEVELS",
    "active_supports",
    "driver_measures",
    "headline",
    "support_summary",
    "support_trend",
]

LEVELS = ("universal", "additional", "intensive")
DRIVERS = ("wellbeing", "attainment", "community_leadership")
STATUSES = ("ended_successful", "ended_other", "ongoing")
SUPPORT_COLUMNS = ("support_id", "pupil_id", "cluster", "provider", "level", "driver",
                   "start_date", "end_date", "status", "sessions_planned", "sessions_attended")
BY = ("cluster", "school", "driver", "level", "provider")
AUTHORITY = "Authority"
_Z = stats.norm.ppf(0.975)


def _check(df: pd.DataFrame, table: str, columns: Sequence[str]) -> None:
    if not isinstance(df, pd.DataFrame):
        raise DataError("expected a DataFrame", table=table)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"missing columns {missing}", table=table, column=missing[0],
                        fix="use the extract schema in data/README.md")


def _supports(supports: pd.DataFrame) -> pd.DataFrame:
    _check(supports, "supports", SUPPORT_COLUMNS)
    s = supports.copy()
    for col in ("start_date", "end_date"):
        s[col] = pd.to_datetime(s[col], errors="coerce")
    bad = s["start_date"].isna()
    if bad.any():
        raise DataError("start_date is blank or not a date", table="supports",
                        column="start_date", row=s.index[bad.to_numpy()][0],
                        fix="every support needs a start date (YYYY-MM-DD)")
    for col, allowed in (("level", LEVELS), ("status", STATUSES)):
        odd = ~s[col].isin(allowed)
        if odd.any():
            row = s.index[odd.to_numpy()][0]
            raise DataError(f"unknown value {s.loc[row, col]!r}", table="supports", column=col,
                            row=row, fix=f"use one of {list(allowed)}")
    over = s["sessions_attended"] > s["sessions_planned"]
    if over.any():
        raise DataError("more sessions attended than planned", table="supports",
                        column="sessions_attended", row=s.index[over.to_numpy()][0],
                        fix="correct the session counts in the extract")
    return s


def default_period(supports: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    """August to December of the latest session in which a support starts."""
    last = pd.to_datetime(supports["start_date"]).max()
    year = last.year - (last.month < 8)
    return pd.Timestamp(year, 8, 1), pd.Timestamp(year, 12, 31)


def _period(supports: pd.DataFrame, period) -> tuple[pd.Timestamp, pd.Timestamp]:
    if period is None:
        return default_period(supports)
    try:
        start, end = (pd.Timestamp(p) for p in period)
    except (TypeError, ValueError) as exc:
        raise DataError(f"period {period!r} is not two dates", table="supports",
                        fix="pass period=('2024-08-01', '2024-12-31')") from exc
    if end < start:
        raise DataError("period ends before it starts", table="supports",
                        fix="pass (start, end)")
    return start, end


def active_supports(supports: pd.DataFrame, period=None,
                    status: str = "recorded") -> pd.DataFrame:
    """Supports active in ``period`` with their end state ``status_at_end`` and ``days``.

    Parameters
    ----------
    supports : DataFrame
        The supports extract.
    period : (start, end), optional
        Dates; default August-December of the latest session.
    status : {"recorded", "at_period_end"}
        End state as recorded in the extract, or as it stood on the period's last day.
        ``days`` (start to end date) is given for supports that have ended, in the same
        sense.
    """
    if status not in ("recorded", "at_period_end"):
        raise DataError(f"status={status!r} unknown", table="supports",
                        fix='use "recorded" or "at_period_end"')
    s = _supports(supports)
    start, end = _period(s, period)
    act = s[(s["start_date"] <= end) & (s["end_date"].isna() | (s["end_date"] >= start))].copy()
    ended = act["end_date"].notna() & (act["status"] != "ongoing")
    if status == "at_period_end":
        ended &= act["end_date"] <= end
    act["status_at_end"] = np.where(ended, act["status"], "ongoing")
    act["days"] = np.where(ended, (act["end_date"] - act["start_date"]).dt.days, np.nan)
    act.attrs["period"] = (start, end)
    return act


def _school_of(act: pd.DataFrame, pupils: pd.DataFrame | None) -> pd.Series:
    if pupils is None:
        raise DataError("by='school' needs the pupils table", table="supports",
                        fix="pass pupils=authority.pupils")
    _check(pupils, "pupils", ("pupil_id", "seed_code", "year"))
    session = act["start_date"].dt.year - (act["start_date"].dt.month < 8)
    key = pd.DataFrame({"pupil_id": act["pupil_id"].to_numpy(), "year": session.to_numpy()})
    p = pupils[["pupil_id", "year", "seed_code"]].drop_duplicates(["pupil_id", "year"])
    merged = key.merge(p, on=["pupil_id", "year"], how="left")
    latest = pupils.sort_values("year").drop_duplicates("pupil_id", keep="last")
    fallback = merged["pupil_id"].map(latest.set_index("pupil_id")["seed_code"])
    school = merged["seed_code"].fillna(fallback)
    if school.isna().any():
        raise DataError(f"{int(school.isna().sum())} supported pupils are not in the pupils "
                        "table", table="supports", column="pupil_id",
                        fix="use pupils and supports from the same extract")
    return pd.Series(school.to_numpy(), index=act.index)


def _ratio_ci(num: np.ndarray, den: np.ndarray) -> tuple[float, float, float]:
    """Ratio of sums with a linearisation interval treating supports as units."""
    total = den.sum()
    if total <= 0:
        return np.nan, np.nan, np.nan
    r = num.sum() / total
    n = len(num)
    if n < 2:
        return 100 * r, np.nan, np.nan
    se = np.sqrt(n / (n - 1) * np.sum((num - r * den) ** 2)) / total
    return 100 * r, 100 * max(r - _Z * se, 0.0), 100 * min(r + _Z * se, 1.0)


def wilson(x: float, n: float) -> tuple[float, float]:
    """Wilson 95% interval for a proportion, in percent."""
    if n <= 0:
        return np.nan, np.nan
    p = x / n
    centre = (p + _Z**2 / (2 * n)) / (1 + _Z**2 / n)
    half = _Z * np.sqrt(p * (1 - p) / n + _Z**2 / (4 * n**2)) / (1 + _Z**2 / n)
    return 100 * (centre - half), 100 * (centre + half)


def _measures(g: pd.DataFrame) -> dict:
    planned = g["sessions_planned"].to_numpy(dtype=float)
    attended = g["sessions_attended"].to_numpy(dtype=float)
    att, att_lo, att_hi = _ratio_ci(attended, planned)
    n = len(g)
    ok = int((g["status_at_end"] == "ended_successful").sum())
    lo, hi = wilson(ok, n)
    row = {
        "learners": g["pupil_id"].nunique(),
        "supports": n,
        **{lvl: int((g["level"] == lvl).sum()) for lvl in LEVELS},
        "sessions_planned": int(planned.sum()),
        "sessions_attended": int(attended.sum()),
        "attendance_pct": att, "attendance_pct_low": att_lo, "attendance_pct_high": att_hi,
        "ended_successfully": ok,
        "ended_otherwise": int((g["status_at_end"] == "ended_other").sum()),
        "ongoing": int((g["status_at_end"] == "ongoing").sum()),
        "success_pct": 100 * ok / n if n else np.nan,
        "success_pct_low": lo, "success_pct_high": hi,
        "median_days": float(np.nanmedian(g["days"])) if g["days"].notna().any() else np.nan,
    }
    return row


COUNTS = ["learners", "supports", *LEVELS, "sessions_planned", "sessions_attended",
          "ended_successfully", "ended_otherwise", "ongoing"]


def support_summary(
    supports: pd.DataFrame,
    by: str = "cluster",
    period=None,
    pupils: pd.DataFrame | None = None,
    publish: bool = True,
    threshold: int = 5,
    status: str = "recorded",
) -> pd.DataFrame:
    """The cluster dashboard table: one row per group and one for the authority.

    Parameters
    ----------
    supports : DataFrame
        The supports extract.
    by : {"cluster", "school", "driver", "level", "provider"}
        Grouping; ``"school"`` needs ``pupils`` (school of the pupil in the session the
        support started).
    period : (start, end), optional
        Default August-December of the latest session.
    pupils : DataFrame, optional
        The pupils extract (for ``by="school"``).
    publish : bool, default True
        Pass the table through :func:`~nlc_eval.disclosure.suppress` (the authority row is
        declared as the total; levels and end states as breakdowns of ``supports``).
    threshold : int, default 5
    status : {"recorded", "at_period_end"}
        How end states are counted (module docstring).

    Returns
    -------
    DataFrame
        Index: group (and ``"Authority"``). Counts: learners (distinct pupils), supports,
        universal/additional/intensive, sessions_planned, sessions_attended,
        ended_successfully, ended_otherwise, ongoing (status at period end). Rates with 95%
        intervals: ``attendance_pct`` (sessions attended / planned; interval treats
        supports as the units), ``success_pct`` (share of the period's supports that ended
        successfully; Wilson). ``median_days`` of supports that ended in the period.
        ``attendance_vs_authority`` and ``success_vs_authority``: difference from the
        authority row in percentage points.
    """
    if by not in BY:
        raise DataError(f"by={by!r} is not a grouping", table="supports",
                        fix=f"use one of {list(BY)}")
    act = active_supports(supports, period, status)
    key = _school_of(act, pupils) if by == "school" else act[by]
    rows = {name: _measures(g) for name, g in act.groupby(key.to_numpy(), sort=True)}
    rows[AUTHORITY] = _measures(act)
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = by
    for col in COUNTS:
        out[col] = out[col].astype("int64")
    out["attendance_vs_authority"] = out["attendance_pct"] - out.loc[AUTHORITY, "attendance_pct"]
    out["success_vs_authority"] = out["success_pct"] - out.loc[AUTHORITY, "success_pct"]
    out.attrs["period"] = [str(d.date()) for d in act.attrs["period"]]
    if not publish:
        return out
    rates = {
        "attendance_pct": ("sessions_attended", "sessions_planned"),
        "attendance_pct_low": ["attendance_pct"], "attendance_pct_high": ["attendance_pct"],
        "success_pct": ("ended_successfully", "supports"),
        "success_pct_low": ["success_pct"], "success_pct_high": ["success_pct"],
        "median_days": (None, "learners"),
        "attendance_vs_authority": ["attendance_pct"],
        "success_vs_authority": ["success_pct"],
    }
    res = suppress(out, threshold, margins=False, count_columns=COUNTS, rate_columns=rates,
                   total_row=AUTHORITY, group_size="learners",
                   row_relations=[("supports", list(LEVELS)),
                                  ("supports", ["ended_successfully", "ended_otherwise",
                                                "ongoing"])])
    res.attrs["period"] = out.attrs["period"]
    return res


def support_trend(
    supports: pd.DataFrame,
    by: str | None = None,
    measure: str = "started",
    period=None,
    pupils: pd.DataFrame | None = None,
    publish: bool = True,
    threshold: int = 5,
) -> pd.DataFrame:
    """Month-by-month counts of supports, for the authority or by group.

    Parameters
    ----------
    supports : DataFrame
    by : {None, "cluster", "school", "driver", "level", "provider"}
        Columns of the table (one per group, plus ``Total``); None gives one column
        ``Authority``.
    measure : {"started", "ended_successfully", "ended_otherwise", "active"}
        ``started``/``ended_*``: supports starting / ending in the month (months add up to
        the period, so a ``Total`` row is shown); ``active``: supports active at any time
        in the month (no total row: months overlap).
    period : (start, end), optional
        Default: the whole span of the extract.

    Returns
    -------
    DataFrame
        Index ``month`` (``YYYY-MM``); suppressed when ``publish``.
    """
    measures = ("started", "ended_successfully", "ended_otherwise", "active")
    if measure not in measures:
        raise DataError(f"measure={measure!r} unknown", table="supports",
                        fix=f"use one of {list(measures)}")
    s = _supports(supports)
    if period is None:
        last = s["end_date"].max() if s["end_date"].notna().any() else s["start_date"].max()
        period = (s["start_date"].min(), max(last, s["start_date"].max()))
    act = active_supports(s, period)
    start, end = act.attrs["period"]
    if by is None:
        key = pd.Series(AUTHORITY, index=act.index)
    elif by == "school":
        key = _school_of(act, pupils)
    elif by in BY:
        key = act[by]
    else:
        raise DataError(f"by={by!r} is not a grouping", table="supports",
                        fix=f"use None or one of {list(BY)}")
    months = pd.period_range(start, end, freq="M")
    groups = sorted(key.unique())
    table = pd.DataFrame(0, index=[str(m) for m in months], columns=groups, dtype="int64")
    table.index.name = "month"
    if measure == "active":
        first = act["start_date"].clip(lower=start).dt.to_period("M")
        last = act["end_date"].fillna(end).clip(upper=end).dt.to_period("M")
        for f, la, g in zip(first, last, key, strict=True):
            for m in pd.period_range(f, la, freq="M"):
                table.loc[str(m), g] += 1
    else:
        if measure == "started":
            sel, date = act["start_date"] >= start, act["start_date"]
        else:
            status = measure.replace("ended_successfully", "ended_successful")
            sel = ((act["status_at_end"] == status) & act["end_date"].notna()
                   & (act["end_date"] <= end))
            date = act["end_date"]
        counts = pd.crosstab(date[sel].dt.to_period("M").astype(str), key[sel])
        table.loc[counts.index, counts.columns] = counts.to_numpy()
    table.attrs["measure"] = measure
    if not publish:
        return table
    if by is None:
        margins = "row" if measure != "active" else False
    else:
        margins = True if measure != "active" else "column"
    out = suppress(table, threshold, margins=margins, count_columns=groups)
    out.attrs["measure"] = measure
    return out


def headline(supports: pd.DataFrame, period=None, threshold: int = 5,
             status: str = "recorded") -> dict:
    """The authority's headline figures for a period, and a sentence.

    Returns
    -------
    dict
        ``learners_supported``; ``learners_cst_or_ciil`` (learners supported by cluster
        support teachers or cluster inclusion and integration leads); ``supports`` active;
        ``sessions_additional_intensive`` (sessions planned at additional or intensive
        level) and ``attendance_pct`` (their attendance, with ``attendance_ci``);
        ``success_pct`` (share of the period's supports that ended successfully, with
        ``success_ci``); ``period``; ``sentence``.

    Raises
    ------
    DisclosureError
        If a headline count is between 1 and ``threshold - 1``.
    """
    act = active_supports(supports, period, status)
    start, end = act.attrs["period"]
    ai = act[act["level"].isin(["additional", "intensive"])]
    att, att_lo, att_hi = _ratio_ci(ai["sessions_attended"].to_numpy(float),
                                    ai["sessions_planned"].to_numpy(float))
    ok = int((act["status_at_end"] == "ended_successful").sum())
    n = len(act)
    succ_lo, succ_hi = wilson(ok, n)
    out = {
        "period": (str(start.date()), str(end.date())),
        "learners_supported": int(act["pupil_id"].nunique()),
        "learners_cst_or_ciil": int(act.loc[act["provider"].isin(
            ["cluster_support_teacher", "ciil"]), "pupil_id"].nunique()),
        "sessions_additional_intensive": int(ai["sessions_planned"].sum()),
        "attendance_pct": att, "attendance_ci": (att_lo, att_hi),
        "supports": n,
        "success_pct": 100 * ok / n if n else np.nan, "success_ci": (succ_lo, succ_hi),
    }
    for key in ("learners_supported", "learners_cst_or_ciil",
                "sessions_additional_intensive", "supports"):
        if 1 <= out[key] < threshold:
            raise DisclosureError(f"headline {key} is {out[key]}, fewer than {threshold}: "
                                  "it cannot be published. Fix: widen the period.")
    out["sentence"] = (
        f"From {start:%-d %B %Y} to {end:%-d %B %Y}, {out['learners_supported']:,} learners "
        f"were supported ({out['learners_cst_or_ciil']:,} by cluster support teachers or "
        f"cluster inclusion and integration leads); {out['sessions_additional_intensive']:,}"
        f" sessions were planned at additional or intensive level, with "
        f"{_pct_interval(att, att_lo, att_hi)} average attendance; "
        f"{_pct_interval(out['success_pct'], succ_lo, succ_hi, ' of supports')} ended "
        "successfully."
    )
    return out


def _pct_interval(value, low, high, what: str = "") -> str:
    """``84% (95% interval 83% to 85%)`` by the kit's formatter (two significant figures)."""
    f = fmt.effect(value, low, high, units="%", min_decimals=0)
    return f"{f.estimate}{what} (95% interval {f.low} to {f.high})"



# ---------------------------------------------------------------------------
# The three drivers' key measures
# ---------------------------------------------------------------------------

#: What the extracts cannot show, by driver: reported as "not measured", never estimated.
NOT_MEASURED = {
    "wellbeing": ["balance of care (no placement data in the extracts)"],
    "attainment": ["senior-phase qualifications by cluster (tariff points are in the "
                   "extract but no cluster target is defined)",
                   "positive destinations (no destination data)"],
    "community_leadership": ["leadership capacity of parents, partners and staff (no "
                             "measure in the extracts); only family-engagement and "
                             "community-leadership supports are counted"],
}
LITERACY = ("reading", "writing", "listening_talking")


def _on_track(attainment: pd.DataFrame, ids: pd.Index, year: int) -> pd.DataFrame:
    """Per pupil: literacy (on track in all three literacy organisers) and numeracy, as
    nullable booleans (NA when not assessed)."""
    a = attainment[(attainment["year"] == year) & attainment["on_track"].notna()]
    wide = a.pivot_table(index="pupil_id", columns="organiser", values="on_track",
                         aggfunc="max", observed=True)
    out = pd.DataFrame(index=ids)
    have = [c for c in LITERACY if c in wide.columns]
    if len(have) == len(LITERACY):
        lit = wide[list(LITERACY)]
        out["literacy"] = lit.astype(float).min(axis=1).where(lit.notna().all(axis=1))
    else:
        out["literacy"] = np.nan
    out["numeracy"] = wide["numeracy"].astype(float) if "numeracy" in wide.columns else np.nan
    return out.reindex(ids)


def driver_measures(data, year: int | None = None, by: str = "cluster",
                    publish: bool = True, threshold: int = 5) -> pd.DataFrame:
    """Key measures of the three drivers, per cluster (or school) and for the authority.

    Parameters
    ----------
    data : Authority or Extracts
        Anything with ``schools``, ``pupils``, ``attendance``, ``attainment`` and
        ``supports`` tables.
    year : int, optional
        School session (start year); default the latest in ``attendance``.
    by : {"cluster", "school"}
    publish : bool, default True
        Suppress (authority row declared as the total; assessed = on track + not).
    threshold : int, default 5

    Returns
    -------
    DataFrame
        Wellbeing: ``pupils``, ``attendance_pct`` (with interval, pupils as units),
        ``exclusion_incidents``, ``pupils_excluded``, ``exclusions_per_1000``,
        ``supported`` (pupils with a support active in the session) and their
        ``attendance_supported_pct``; the most vulnerable supported groups:
        ``care_supported``/``attendance_care_supported_pct`` and
        ``q1_supported``/``attendance_q1_supported_pct`` (SIMD deciles 1-2).
        Attainment: ``literacy_assessed``, ``literacy_on_track``, ``literacy_pct`` (on track
        in reading, writing and listening and talking; Wilson interval) and the same for
        numeracy. Community leadership: ``community_leadership_supports``,
        ``family_engagement_supports``, ``family_engagement_learners``.
        ``attrs["not_measured"]`` lists, by driver, what the data cannot show.
    """
    for name in ("schools", "pupils", "attendance", "attainment", "supports"):
        if not hasattr(data, name):
            raise DataError(f"data has no {name} table", table=name,
                            fix="pass an Authority or Extracts object")
    _check(data.pupils, "pupils", ("pupil_id", "seed_code", "year", "simd_decile",
                                   "care_experienced"))
    _check(data.attendance, "attendance", ("pupil_id", "year", "possible_sessions",
                                           "attended_sessions", "exclusion_incidents"))
    _check(data.attainment, "attainment", ("pupil_id", "year", "organiser", "on_track"))
    _check(data.schools, "schools", ("seed_code", "cluster"))
    if by not in ("cluster", "school"):
        raise DataError(f"by={by!r} is not a grouping", table="pupils",
                        fix='use "cluster" or "school"')
    year = int(data.attendance["year"].max()) if year is None else int(year)
    pupils = data.pupils[data.pupils["year"] == year].drop_duplicates("pupil_id")
    if pupils.empty:
        raise DataError(f"no pupils in session {year}", table="pupils", column="year",
                        fix=f"choose from {sorted(data.pupils['year'].unique())}")
    p = pupils.set_index("pupil_id")
    cluster = p["seed_code"].map(data.schools.set_index("seed_code")["cluster"])
    if by == "cluster" and cluster.isna().any():
        raise DataError("pupils at schools with no cluster", table="schools",
                        column="cluster", row=p.loc[cluster.isna(), "seed_code"].iloc[0],
                        fix="give every school a cluster")
    p["group"] = cluster if by == "cluster" else p["seed_code"]
    att = data.attendance[data.attendance["year"] == year].groupby("pupil_id")[
        ["possible_sessions", "attended_sessions", "exclusion_incidents"]].sum()
    p = p.join(att, how="left")
    s = _supports(data.supports)
    lo, hi = pd.Timestamp(year, 8, 1), pd.Timestamp(year + 1, 7, 31)
    act = s[(s["start_date"] <= hi) & (s["end_date"].isna() | (s["end_date"] >= lo))]
    p["supported"] = p.index.isin(act["pupil_id"])
    fe = act[act["provider"] == "family_engagement_worker"]
    p = p.join(_on_track(data.attainment, p.index, year))
    act = act.assign(group=act["pupil_id"].map(p["group"]))

    def measures(g: pd.DataFrame, sup: pd.DataFrame) -> dict:
        has = g[g["possible_sessions"] > 0]
        rate, rlo, rhi = _ratio_ci(has["attended_sessions"].to_numpy(float),
                                   has["possible_sessions"].to_numpy(float))

        def att_of(mask: pd.Series) -> float:
            h = has[mask.reindex(has.index).fillna(False).to_numpy(dtype=bool)]
            return _ratio_ci(h["attended_sessions"].to_numpy(float),
                             h["possible_sessions"].to_numpy(float))[0]

        q1 = g["simd_decile"].astype("Float64").le(2).fillna(False).astype(bool)
        care = g["care_experienced"].astype(bool)
        row = {
            "pupils": len(g), "attendance_pct": rate, "attendance_pct_low": rlo,
            "attendance_pct_high": rhi,
            "exclusion_incidents": int(g["exclusion_incidents"].fillna(0).sum()),
            "pupils_excluded": int((g["exclusion_incidents"].fillna(0) > 0).sum()),
            "supported": int(g["supported"].sum()),
            "attendance_supported_pct": att_of(g["supported"]),
            "care_supported": int((g["supported"] & care).sum()),
            "attendance_care_supported_pct": att_of(g["supported"] & care),
            "q1_supported": int((g["supported"] & q1).sum()),
            "attendance_q1_supported_pct": att_of(g["supported"] & q1),
        }
        row["exclusions_per_1000"] = 1000 * row["exclusion_incidents"] / max(len(g), 1)
        for subject in ("literacy", "numeracy"):
            v = g[subject].dropna()
            n, x = len(v), int(v.sum())
            low, high = wilson(x, n)
            row.update({f"{subject}_assessed": n, f"{subject}_on_track": x,
                        f"{subject}_not_on_track": n - x,
                        f"{subject}_pct": 100 * x / n if n else np.nan,
                        f"{subject}_pct_low": low, f"{subject}_pct_high": high})
        row["community_leadership_supports"] = int(
            (sup["driver"] == "community_leadership").sum())
        row["family_engagement_supports"] = int(
            (sup["provider"] == "family_engagement_worker").sum())
        row["family_engagement_learners"] = int(
            sup.loc[sup["provider"] == "family_engagement_worker", "pupil_id"].nunique())
        return row

    rows = {name: measures(g, act[act["group"] == name])
            for name, g in p.groupby("group", sort=True)}
    rows[AUTHORITY] = measures(p, act[act["pupil_id"].isin(p.index)])
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = by
    counts = ["pupils", "exclusion_incidents", "pupils_excluded", "supported",
              "care_supported", "q1_supported", "literacy_assessed", "literacy_on_track",
              "literacy_not_on_track", "numeracy_assessed", "numeracy_on_track",
              "numeracy_not_on_track", "community_leadership_supports",
              "family_engagement_supports", "family_engagement_learners"]
    for c in counts:
        out[c] = out[c].astype("int64")
    out.attrs["year"] = year
    out.attrs["not_measured"] = NOT_MEASURED
    out.attrs["family_engagement_supports_in_session"] = int(len(fe))
    if not publish:
        return out
    rates = {
        "attendance_pct": (None, "pupils"), "attendance_pct_low": ["attendance_pct"],
        "attendance_pct_high": ["attendance_pct"],
        "exclusions_per_1000": ("exclusion_incidents", "pupils"),
        "attendance_supported_pct": (None, "supported"),
        "attendance_care_supported_pct": (None, "care_supported"),
        "attendance_q1_supported_pct": (None, "q1_supported"),
    }
    for subject in ("literacy", "numeracy"):
        rates[f"{subject}_pct"] = [f"{subject}_on_track", f"{subject}_not_on_track"]
        rates[f"{subject}_pct_low"] = [f"{subject}_pct"]
        rates[f"{subject}_pct_high"] = [f"{subject}_pct"]
    res = suppress(out, threshold, margins=False, count_columns=counts, rate_columns=rates,
                   total_row=AUTHORITY, group_size="pupils",
                   row_relations=[(f"{s_}_assessed", [f"{s_}_on_track", f"{s_}_not_on_track"])
                                  for s_ in ("literacy", "numeracy")])
    for key in ("year", "not_measured"):
        res.attrs[key] = out.attrs[key]
    return res
