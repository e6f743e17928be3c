"""Mind the Gap: attainment and attendance gaps between the most and least deprived.

The *poverty-related gap* compares pupils living in SIMD quintile 1 (deciles 1-2, the 20%
most deprived data zones) with quintile 5 (deciles 9-10); ``compare="decile"`` compares
deciles 1-2 with everyone else (deciles 3-10). Gaps are given per school, cluster, family
or for the authority, for every session, as *quintile 5 minus quintile 1* (so a positive
gap means the most deprived pupils are behind), in percentage points.

Intervals (95% by default):

* a single school: Newcombe's hybrid score interval for a difference of proportions
  (attainment) or Welch's interval for a difference of means (attendance);
* a group of at least ``min_schools_robust`` schools (default 5): a cluster-robust (CR1)
  interval from a regression on a quintile-5 indicator with schools as clusters, using a
  t distribution with (schools - 1) degrees of freedom;
* a group of 2-4 schools: the single-school intervals, flagged ``clustering_ignored``:
  pupils in one school are alike, so these intervals are too narrow.

Publishable tables (through :func:`nlc_eval.disclosure.suppress`): :func:`attainment_gap`
and :func:`attendance_gap` with ``publish=True`` (the default), :func:`gap_trend` of a
published table and :func:`stretch_aims` (which describes published figures). The ACEL
comparison with schools across Scotland is in :mod:`nlc_eval.acel_model`
(:func:`expected_acel`, re-exported here).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from nlc_eval.acel_model import expected_acel
from nlc_eval.disclosure import suppress
from nlc_eval.errors import DataError

__all__ = [
    "attainment_gap",
    "attendance_gap",
    "expected_acel",
    "gap_trend",
    "pupil_groups",
    "stretch_aims",
]

BY = ("school", "cluster", "family", "authority")
COMPARE = {"quintile": ((1, 2), (9, 10)), "decile": ((1, 2), tuple(range(3, 11)))}
LITERACY = ("reading", "writing", "listening_talking")
AUTHORITY = "Authority"


# ---------------------------------------------------------------------------
# Intervals
# ---------------------------------------------------------------------------


def _wilson(x: float, n: float, z: float) -> tuple[float, float]:
    if n <= 0:
        return np.nan, np.nan
    p = x / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


def newcombe(x1: float, n1: float, x2: float, n2: float,
             level: float = 0.95) -> tuple[float, float, float]:
    """Difference p2 - p1 with Newcombe's hybrid score interval (method 10).

    Examples
    --------
    >>> d, lo, hi = newcombe(56, 70, 48, 80)   # Newcombe (1998), example (a), reversed
    >>> round(float(-d), 4), round(float(-hi), 4), round(float(-lo), 4)
    (0.2, 0.0524, 0.3339)
    """
    z = stats.norm.ppf(0.5 + level / 2)
    if n1 <= 0 or n2 <= 0:
        return np.nan, np.nan, np.nan
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = _wilson(x1, n1, z)
    l2, u2 = _wilson(x2, n2, z)
    d = p2 - p1
    lo = d - np.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    hi = d + np.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return d, lo, hi


def welch(y1: np.ndarray, y2: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Difference of means mean(y2) - mean(y1) with Welch's interval."""
    n1, n2 = len(y1), len(y2)
    if n1 < 2 or n2 < 2:
        return (np.mean(y2) - np.mean(y1) if n1 and n2 else np.nan), np.nan, np.nan
    v1, v2 = np.var(y1, ddof=1) / n1, np.var(y2, ddof=1) / n2
    d = np.mean(y2) - np.mean(y1)
    se = np.sqrt(v1 + v2)
    if se == 0:
        return d, d, d
    df = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
    t = stats.t.ppf(0.5 + level / 2, df)
    return d, d - t * se, d + t * se


def cluster_robust(y: np.ndarray, high: np.ndarray, school: np.ndarray,
                   level: float = 0.95) -> tuple[float, float, float]:
    """Difference of means (high - low group) from OLS with CR1 school-clustered errors.

    The kit's one CR1 (:func:`nlc_eval.impact.inference.cr1_vcov`, factor
    ``G/(G-1) (N-1)/(N-2)``); the interval uses t with G-1 degrees of freedom.
    """
    from nlc_eval.impact.inference import cluster_codes, cr1_vcov

    x = np.column_stack([np.ones_like(y, dtype=float), high.astype(float)])
    bread = np.linalg.pinv(x.T @ x)
    beta = bread @ x.T @ y
    e = y - x @ beta
    inv, g = cluster_codes(school)
    cov = cr1_vcov(x, e, inv, g, XtX_inv=bread, n_params=x.shape[1])
    se = np.sqrt(cov[1, 1])
    t = stats.t.ppf(0.5 + level / 2, g - 1)
    return beta[1], beta[1] - t * se, beta[1] + t * se


# ---------------------------------------------------------------------------
# Pupils and their groups
# ---------------------------------------------------------------------------


def pupil_groups(data, by: str = "school", families: pd.Series | None = None,
                 compare: str = "quintile") -> pd.DataFrame:
    """Pupils with their group (``group``), school and deprivation group (``simd_group``:
    ``"low"`` = most deprived, ``"high"``, or NA for pupils in neither or unknown).

    Parameters
    ----------
    data : Authority or Extracts
        Needs ``pupils`` and ``schools``.
    by : {"school", "cluster", "family", "authority"}
    families : Series, optional
        seed_code -> family id (e.g. ``FamilyResult.assignments``); needed for
        ``by="family"``.
    compare : {"quintile", "decile"}
    """
    if by not in BY:
        raise DataError(f"by={by!r} is not a grouping", table="pupils",
                        fix=f"use one of {list(BY)}")
    if compare not in COMPARE:
        raise DataError(f"compare={compare!r} unknown", table="pupils",
                        fix=f"use one of {list(COMPARE)}")
    p = data.pupils
    for col in ("pupil_id", "seed_code", "year", "simd_decile"):
        if col not in p.columns:
            raise DataError("missing column", table="pupils", column=col,
                            fix="use the extract schema in data/README.md")
    p = p[["pupil_id", "seed_code", "year", "simd_decile"]].copy()
    if by == "school":
        p["group"] = p["seed_code"]
    elif by == "authority":
        p["group"] = AUTHORITY
    elif by == "cluster":
        clusters = data.schools.set_index("seed_code")["cluster"]
        p["group"] = p["seed_code"].map(clusters)
    else:
        if families is None:
            raise DataError("by='family' needs families", table="pupils",
                            fix="pass families=result.assignments (seed_code -> family)")
        fam = pd.Series(families)
        fam.index = fam.index.astype(str)
        p["group"] = p["seed_code"].astype(str).map(fam)
    missing = p["group"].isna()
    if missing.any():
        raise DataError(f"{int(p.loc[missing, 'seed_code'].nunique())} schools have no {by}",
                        table="pupils", column="seed_code",
                        row=p.loc[missing, "seed_code"].iloc[0],
                        fix=f"give every school a {by}")
    low, high = COMPARE[compare]
    dec = p["simd_decile"].astype("Float64")
    p["simd_group"] = pd.Series(pd.NA, index=p.index, dtype="string")
    p.loc[dec.isin(low).fillna(False).to_numpy(dtype=bool), "simd_group"] = "low"
    p.loc[dec.isin(high).fillna(False).to_numpy(dtype=bool), "simd_group"] = "high"
    return p


def _method(n_schools: int, min_schools_robust: int) -> str:
    if n_schools >= min_schools_robust:
        return "cluster_robust"
    return "single_school" if n_schools == 1 else "clustering_ignored"


def _publish(table: pd.DataFrame, prefix_counts: list[str], rates: dict,
             relations: list, threshold: int) -> pd.DataFrame:
    out = suppress(table, threshold, margins=False, count_columns=prefix_counts,
                   rate_columns=rates, row_relations=relations)
    return out


# ---------------------------------------------------------------------------
# Attainment gap
# ---------------------------------------------------------------------------


def _outcome(attainment: pd.DataFrame, organiser: str) -> pd.DataFrame:
    for col in ("pupil_id", "year", "organiser", "on_track"):
        if col not in attainment.columns:
            raise DataError("missing column", table="attainment", column=col,
                            fix="use the extract schema in data/README.md")
    a = attainment[attainment["on_track"].notna()]
    if organiser == "literacy":
        a = a[a["organiser"].isin(LITERACY)]
        wide = a.pivot_table(index=["pupil_id", "year"], columns="organiser",
                             values="on_track", aggfunc="max", observed=True)
        if not set(LITERACY) <= set(wide.columns):
            raise DataError("literacy needs reading, writing and listening_talking",
                            table="attainment", column="organiser",
                            fix="use a single organiser instead")
        wide = wide[list(LITERACY)].dropna()
        y = wide.astype(float).min(axis=1)
    else:
        known = set(attainment["organiser"].unique())
        if organiser not in known:
            raise DataError(f"organiser {organiser!r} not in the data", table="attainment",
                            column="organiser", fix=f"use 'literacy' or one of {sorted(known)}")
        y = a[a["organiser"] == organiser].groupby(["pupil_id", "year"])["on_track"].max()
        y = y.astype(float)
    return y.rename("y").reset_index()


def attainment_gap(data, organiser: str = "numeracy", by: str = "school",
                   years=None, compare: str = "quintile", families: pd.Series | None = None,
                   level: float = 0.95, min_schools_robust: int = 5, publish: bool = True,
                   threshold: int = 5) -> pd.DataFrame:
    """Gap in the share of pupils on track between the most and least deprived.

    Parameters
    ----------
    data : Authority or Extracts
        ``pupils``, ``schools`` and ``attainment``.
    organiser : str, default "numeracy"
        An organiser of the attainment table, or ``"literacy"`` (on track in reading,
        writing and listening and talking).
    by, families, compare
        See :func:`pupil_groups`.
    years : list of int, optional
        Sessions; default all.
    level : float, default 0.95
    min_schools_robust : int, default 5
        Smallest group given a cluster-robust interval.
    publish : bool, default True
        Suppress: counts under ``threshold`` hidden, and percentages and gaps built on
        them.

    Returns
    -------
    DataFrame
        One row per (group, year): ``n_low``, ``on_track_low``, ``not_on_track_low``,
        ``pct_low`` and its interval (``pct_low_lo``, ``pct_low_hi``), the same for
        ``high``, ``gap`` = pct_high - pct_low (percentage points) with ``gap_lo``,
        ``gap_hi``, ``schools`` and ``method`` (module docstring).
    """
    p = pupil_groups(data, by, families, compare)
    y = _outcome(data.attainment, organiser)
    d = y.merge(p, on=["pupil_id", "year"], how="inner")
    d = d[d["simd_group"].notna()]
    if years is not None:
        d = d[d["year"].isin(list(years))]
    if d.empty:
        raise DataError("no assessed pupils in the groups compared", table="attainment",
                        fix="check years and organiser")
    z = stats.norm.ppf(0.5 + level / 2)
    rows = []
    for (group, year), g in d.groupby(["group", "year"], sort=True):
        low, high = g[g["simd_group"] == "low"], g[g["simd_group"] == "high"]
        n1, x1, n2, x2 = len(low), low["y"].sum(), len(high), high["y"].sum()
        schools = g["seed_code"].nunique()
        method = _method(schools, min_schools_robust)
        if method == "cluster_robust" and n1 and n2:
            gap, glo, ghi = cluster_robust(g["y"].to_numpy(float),
                                           (g["simd_group"] == "high").to_numpy(),
                                           g["seed_code"].to_numpy(), level)
        else:
            gap, glo, ghi = newcombe(x1, n1, x2, n2, level)
        l1, u1 = _wilson(x1, n1, z)
        l2, u2 = _wilson(x2, n2, z)
        rows.append({
            by: group, "year": int(year),
            "n_low": n1, "on_track_low": int(x1), "not_on_track_low": int(n1 - x1),
            "pct_low": 100 * x1 / n1 if n1 else np.nan, "pct_low_lo": 100 * l1,
            "pct_low_hi": 100 * u1,
            "n_high": n2, "on_track_high": int(x2), "not_on_track_high": int(n2 - x2),
            "pct_high": 100 * x2 / n2 if n2 else np.nan, "pct_high_lo": 100 * l2,
            "pct_high_hi": 100 * u2,
            "gap": 100 * gap, "gap_lo": 100 * glo, "gap_hi": 100 * ghi,
            "schools": schools, "method": method,
        })
    out = pd.DataFrame(rows).set_index([by, "year"])
    out.attrs.update({"organiser": organiser, "compare": compare, "level": level,
                      "measure": "attainment"})
    if not publish:
        return out
    counts = ["n_low", "on_track_low", "not_on_track_low", "n_high", "on_track_high",
              "not_on_track_high"]
    rates = {}
    for side in ("low", "high"):
        rates[f"pct_{side}"] = [f"on_track_{side}", f"not_on_track_{side}"]
        rates[f"pct_{side}_lo"] = [f"pct_{side}"]
        rates[f"pct_{side}_hi"] = [f"pct_{side}"]
    rates.update({"gap": ["pct_low", "pct_high"], "gap_lo": ["gap"], "gap_hi": ["gap"]})
    relations = [(f"n_{s}", [f"on_track_{s}", f"not_on_track_{s}"]) for s in ("low", "high")]
    res = _publish(out, counts, rates, relations, threshold)
    res.attrs.update({k: v for k, v in out.attrs.items()})
    return res


# ---------------------------------------------------------------------------
# Attendance gap
# ---------------------------------------------------------------------------


def attendance_gap(data, by: str = "school", years=None, compare: str = "quintile",
                   families: pd.Series | None = None, level: float = 0.95,
                   min_schools_robust: int = 5, publish: bool = True,
                   threshold: int = 5) -> pd.DataFrame:
    """Gap in attendance (mean of pupils' annual attendance rates, percent).

    Parameters are as in :func:`attainment_gap`; ``data`` needs ``attendance``.

    Returns
    -------
    DataFrame
        One row per (group, year): ``n_low``, ``attendance_low``, ``n_high``,
        ``attendance_high``, ``gap`` = attendance_high - attendance_low (percentage
        points) with ``gap_lo``, ``gap_hi``, ``schools``, ``method``.
    """
    p = pupil_groups(data, by, families, compare)
    att = data.attendance
    for col in ("pupil_id", "year", "possible_sessions", "attended_sessions"):
        if col not in att.columns:
            raise DataError("missing column", table="attendance", column=col,
                            fix="use the extract schema in data/README.md")
    annual = att.groupby(["pupil_id", "year"])[["possible_sessions",
                                                "attended_sessions"]].sum().reset_index()
    annual = annual[annual["possible_sessions"] > 0]
    annual["y"] = 100 * annual["attended_sessions"] / annual["possible_sessions"]
    d = annual.merge(p, on=["pupil_id", "year"], how="inner")
    d = d[d["simd_group"].notna()]
    if years is not None:
        d = d[d["year"].isin(list(years))]
    if d.empty:
        raise DataError("no pupils with attendance in the groups compared",
                        table="attendance", fix="check years")
    rows = []
    for (group, year), g in d.groupby(["group", "year"], sort=True):
        y1 = g.loc[g["simd_group"] == "low", "y"].to_numpy(float)
        y2 = g.loc[g["simd_group"] == "high", "y"].to_numpy(float)
        schools = g["seed_code"].nunique()
        method = _method(schools, min_schools_robust)
        if method == "cluster_robust" and len(y1) and len(y2):
            gap, glo, ghi = cluster_robust(g["y"].to_numpy(float),
                                           (g["simd_group"] == "high").to_numpy(),
                                           g["seed_code"].to_numpy(), level)
        else:
            gap, glo, ghi = welch(y1, y2, level)
        rows.append({
            by: group, "year": int(year),
            "n_low": len(y1), "attendance_low": y1.mean() if len(y1) else np.nan,
            "n_high": len(y2), "attendance_high": y2.mean() if len(y2) else np.nan,
            "gap": gap, "gap_lo": glo, "gap_hi": ghi, "schools": schools, "method": method,
        })
    out = pd.DataFrame(rows).set_index([by, "year"])
    out.attrs.update({"compare": compare, "level": level, "measure": "attendance"})
    if not publish:
        return out
    rates = {"attendance_low": (None, "n_low"), "attendance_high": (None, "n_high"),
             "gap": ["attendance_low", "attendance_high"], "gap_lo": ["gap"],
             "gap_hi": ["gap"]}
    res = _publish(out, ["n_low", "n_high"], rates, [], threshold)
    res.attrs.update({k: v for k, v in out.attrs.items()})
    return res


# ---------------------------------------------------------------------------
# Trend and stretch aims
# ---------------------------------------------------------------------------


def gap_trend(table: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Change in the gap per year, per group: inverse-variance weighted least squares of
    the (shown) gaps on year.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`attainment_gap` or :func:`attendance_gap` (index group, year).

    Returns
    -------
    DataFrame
        Per group: ``years`` used, ``first``/``last`` gap, ``change_per_year`` with
        ``change_lo``/``change_hi`` (t interval with years - 2 degrees of freedom; NA with
        fewer than 3 years), ``direction`` ("narrowing", "widening" or "no clear change").
    """
    for col in ("gap", "gap_lo", "gap_hi"):
        if col not in table.columns:
            raise DataError("not a gap table", table="gap_trend", column=col,
                            fix="pass the output of attainment_gap or attendance_gap")
    z = stats.norm.ppf(0.5 + level / 2)
    rows = []
    name = table.index.names[0]
    for group, g in table.groupby(level=0, sort=True):
        g = g.droplevel(0)
        g = g[g["gap"].notna() & g["gap_lo"].notna() & g["gap_hi"].notna()]
        g = g.astype({"gap": float, "gap_lo": float, "gap_hi": float})
        years = g.index.to_numpy(dtype=float)
        row = {name: group, "years": len(g),
               "first": g["gap"].iloc[0] if len(g) else np.nan,
               "last": g["gap"].iloc[-1] if len(g) else np.nan,
               "change_per_year": np.nan, "change_lo": np.nan, "change_hi": np.nan,
               "direction": "too few years"}
        if len(g) >= 3:
            se = ((g["gap_hi"] - g["gap_lo"]) / (2 * z)).to_numpy(float)
            w = 1 / np.maximum(se, 1e-9) ** 2
            x = np.column_stack([np.ones_like(years), years - years.mean()])
            xtw = x.T * w
            cov = np.linalg.inv(xtw @ x)
            beta = cov @ xtw @ g["gap"].to_numpy(float)
            resid = g["gap"].to_numpy(float) - x @ beta
            dof = len(g) - 2
            scale = max(1.0, float(np.sum(w * resid**2) / dof))  # allow extra variation
            s = np.sqrt(cov[1, 1] * scale)
            t = stats.t.ppf(0.5 + level / 2, dof)
            lo, hi = beta[1] - t * s, beta[1] + t * s
            direction = ("narrowing" if hi < 0 else "widening" if lo > 0
                         else "no clear change")
            row.update({"change_per_year": beta[1], "change_lo": lo, "change_hi": hi,
                        "direction": direction})
        rows.append(row)
    out = pd.DataFrame(rows).set_index(name)
    out.attrs = {k: v for k, v in table.attrs.items() if k != "disclosure"}
    return out


def stretch_aims(aims: pd.DataFrame, actual: pd.DataFrame) -> pd.DataFrame:
    """Progress against stretch aims: on track or not.

    Parameters
    ----------
    aims : DataFrame
        ``measure``, ``baseline``, ``target``, ``year`` (the year the target is for) and
        optionally ``baseline_year`` (default: the first year of ``actual`` for that
        measure). A target below the baseline means lower is better (e.g. a gap).
    actual : DataFrame
        ``measure``, ``year``, ``value`` and optionally ``low``, ``high`` (an interval).

    Returns
    -------
    DataFrame
        Per aim: latest ``year_latest`` and ``value``, ``expected`` (on the straight line
        from baseline to target), ``status``: "achieved" (target met), "on track" (at or
        beyond the line), "not on track", or "no data"; ``certain`` is False when the
        interval of ``value`` crosses the line (or no interval was given).
    """
    for col in ("measure", "baseline", "target", "year"):
        if col not in aims.columns:
            raise DataError("missing column", table="stretch aims", column=col,
                            fix="give measure, baseline, target, year")
    for col in ("measure", "year", "value"):
        if col not in actual.columns:
            raise DataError("missing column", table="actual", column=col,
                            fix="give measure, year, value")
    rows = []
    for i, aim in aims.reset_index(drop=True).iterrows():
        obs = actual[actual["measure"] == aim["measure"]].dropna(subset=["value"])
        obs = obs.sort_values("year")
        base_year = aim.get("baseline_year", np.nan)
        if pd.isna(base_year):
            if obs.empty:
                raise DataError("no baseline_year and no data for the measure",
                                table="stretch aims", column="baseline_year", row=i,
                                fix="give baseline_year")
            base_year = obs["year"].iloc[0]
        base_year, target_year = int(base_year), int(aim["year"])
        if target_year <= base_year:
            raise DataError("target year is not after the baseline year",
                            table="stretch aims", column="year", row=i,
                            fix="check the aim's years")
        up = aim["target"] >= aim["baseline"]
        row = {"measure": aim["measure"], "baseline": aim["baseline"],
               "baseline_year": base_year, "target": aim["target"], "year": target_year,
               "year_latest": np.nan, "value": np.nan, "expected": np.nan,
               "status": "no data", "certain": False}
        later = obs[obs["year"] >= base_year]
        if not later.empty:
            last = later.iloc[-1]
            frac = min(1.0, (last["year"] - base_year) / (target_year - base_year))
            expected = aim["baseline"] + frac * (aim["target"] - aim["baseline"])
            value = last["value"]

            def beyond(v, line, up=up):
                return v >= line if up else v <= line

            if beyond(value, aim["target"]):
                status, line = "achieved", aim["target"]
            elif beyond(value, expected):
                status, line = "on track", expected
            else:
                status, line = "not on track", expected
            certain = False
            if "low" in last.index and "high" in last.index and pd.notna(last["low"]) \
                    and pd.notna(last["high"]):
                certain = not (last["low"] < line < last["high"])
            row.update({"year_latest": int(last["year"]), "value": value,
                        "expected": expected, "status": status, "certain": certain})
        rows.append(row)
    return pd.DataFrame(rows)


def as_measure(table: pd.DataFrame, name: str, group=AUTHORITY, column: str = "gap") -> \
        pd.DataFrame:
    """One group's gap by year as the ``actual`` table of :func:`stretch_aims`."""
    g = table.xs(group, level=0)
    return pd.DataFrame({"measure": name, "year": g.index.astype(int),
                         "value": g[column].astype(float).to_numpy(),
                         "low": g[f"{column}_lo"].astype(float).to_numpy(),
                         "high": g[f"{column}_hi"].astype(float).to_numpy()})
