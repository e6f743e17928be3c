"""Compare an authority's schools with the most similar schools in other authorities.

Each school of the chosen authority gets a *virtual comparator*: the weighted mean of the
``k`` most similar schools of the same sector in OTHER Scottish authorities, where similarity
is measured on context features (size, deprivation, free school meals, ...) fixed at a
baseline census year, so that later outcomes cannot contaminate who a school is compared
with. For each year and outcome (attendance, authorised and unauthorised absence, absence due
to exclusion, ACEL) the kit then reports

* the school's value, its virtual comparator's value and their difference;
* the authority-level mean difference per year with an interval clustered by school
  (:func:`authority_gap`);
* a comparative difference-in-differences between a baseline and a follow-up year
  (:func:`comparative_did`).

The authority-wide synthetic control lives in :mod:`nlc_eval.synthetic_control`.

Everything here is observational and school-level: a difference from the virtual comparator
describes, it does not attribute a cause, and a school's pupils change from year to year.

Examples
--------
>>> from nlc_eval.data.official import load_school_statistics  # doctest: +SKIP
>>> stats = load_school_statistics("scotgov/")                   # doctest: +SKIP
>>> cmp = compare_authority(stats, "North Lanarkshire", baseline_year=2019, k=5)  # doctest: +SKIP
>>> cmp.gap("attendance_rate")                                  # doctest: +SKIP
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics.pairwise import nan_euclidean_distances

from nlc_eval.errors import DataError, ImpactError

#: Outcomes compared by default (percent, from the school statistics).
OUTCOMES: dict[str, str] = {
    "attendance_rate": "attendance rate (%)",
    "authorised_absence_rate": "authorised absence rate (%)",
    "unauthorised_absence_rate": "unauthorised absence rate (%)",
    "exclusion_absence_rate": "absence due to exclusion (%)",
}

#: Context features used to find similar schools when no feature matrix is given. Outcomes
#: (attendance, absence, ACEL) are deliberately absent: they are what is being compared.
CONTEXT_FEATURES: tuple[str, ...] = (
    "roll",
    "simd_q1_share",
    "simd_q2_share",
    "simd_q4_share",
    "simd_q5_share",
    "fsm_pct",
    "pupil_teacher_ratio",
)

KEY = ["seed_code", "sector"]
_TABLE = "school statistics"


# ---------------------------------------------------------------------------
# input checks and helpers
# ---------------------------------------------------------------------------


def _require(df: pd.DataFrame, columns: Sequence[str], table: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(
            f"required column(s) {missing} are missing (columns present: {list(df.columns)}).",
            table=table,
            column=missing[0],
            fix="pass the table returned by nlc_eval.data.official.load_school_statistics "
            "or add the missing column(s).",
        )


def _norm(name: object) -> str:
    return " ".join(str(name).replace("&", "and").split()).casefold()


def resolve_authority(stats: pd.DataFrame, authority: str) -> str:
    """Return the authority name exactly as published, matching case and spacing loosely.

    Raises
    ------
    DataError
        If no authority of that name is in ``stats``; the message suggests close names.
    """
    _require(stats, ["local_authority"], _TABLE)
    names = pd.Series(stats["local_authority"].dropna().unique())
    hits = names[names.map(_norm) == _norm(authority)]
    if len(hits):
        return str(hits.iloc[0])
    close = difflib.get_close_matches(str(authority), list(names.astype(str)), n=3, cutoff=0.5)
    raise DataError(
        f"authority {authority!r} is not in the data.",
        table=_TABLE,
        column="local_authority",
        fix=f"use a published name, e.g. {close or sorted(names.astype(str))[:3]}.",
    )


def _check_unique(stats: pd.DataFrame) -> None:
    dup = stats.duplicated(["year", *KEY], keep=False)
    if dup.any():
        first = stats.index[dup.to_numpy()][0]
        raise DataError(
            f"{int(dup.sum())} rows repeat a (year, seed_code, sector) key.",
            table=_TABLE,
            column="seed_code",
            row=first,
            fix="keep one row per school, sector and year.",
        )


# ---------------------------------------------------------------------------
# which years carry an outcome
# ---------------------------------------------------------------------------


def outcome_years(
    stats: pd.DataFrame,
    outcome: str,
    *,
    min_coverage: float = 0.3,
    repeat_share: float = 0.9,
) -> pd.DataFrame:
    """Find the years in which an outcome is actually published, from the data itself.

    Attendance is not collected every year: some editions leave it blank and some repeat the
    previous collection's figures unchanged. A year counts as *published* when at least
    ``min_coverage`` of its schools have a value and fewer than ``repeat_share`` of the schools
    with a value in both years carry exactly the previous year's figure.

    Parameters
    ----------
    stats : DataFrame
        School-year table (``year``, ``seed_code``, ``sector`` and ``outcome``).
    outcome : str
        Column to inspect.
    min_coverage, repeat_share : float
        Thresholds described above.

    Returns
    -------
    DataFrame
        One row per year: ``year, n_schools, n_values, coverage, share_repeated, status``
        where status is ``"published"``, ``"not published"`` or ``"repeat of YEAR"``.

    Examples
    --------
    >>> df = pd.DataFrame({"year": [2019, 2019, 2020, 2020, 2021, 2021],
    ...     "seed_code": ["1", "2"] * 3, "sector": ["primary"] * 6,
    ...     "attendance_rate": [90.0, 92.0, 90.0, 92.0, None, None]})
    >>> outcome_years(df, "attendance_rate")["status"].tolist()
    ['published', 'repeat of 2019', 'not published']
    """
    _require(stats, ["year", *KEY, outcome], _TABLE)
    values = pd.to_numeric(stats[outcome], errors="coerce")
    wide = (
        stats.assign(_v=values)
        .pivot_table(index=KEY, columns="year", values="_v", aggfunc="first", dropna=False)
        .sort_index(axis=1)
    )
    counts = stats.groupby("year").size()
    rows = []
    prev_year = None
    for year in sorted(counts.index):
        col = wide[year] if year in wide.columns else pd.Series(dtype=float)
        n_values = int(col.notna().sum())
        coverage = n_values / int(counts[year])
        share_rep = np.nan
        status = "published" if coverage >= min_coverage else "not published"
        if status == "published" and prev_year is not None:
            prev = wide[prev_year]
            both = col.notna() & prev.notna()
            if both.sum() > 0:
                share_rep = float((np.isclose(col[both], prev[both])).mean())
                if share_rep >= repeat_share:
                    status = f"repeat of {prev_year}"
        rows.append(
            {
                "year": int(year),
                "n_schools": int(counts[year]),
                "n_values": n_values,
                "coverage": coverage,
                "share_repeated": share_rep,
                "status": status,
            }
        )
        if status == "published":
            prev_year = year
    return pd.DataFrame(rows)


def published_years(stats: pd.DataFrame, outcome: str, **kwargs) -> list[int]:
    """Years in which ``outcome`` carries newly published values (see :func:`outcome_years`)."""
    table = outcome_years(stats, outcome, **kwargs)
    return table.loc[table["status"] == "published", "year"].astype(int).tolist()


# ---------------------------------------------------------------------------
# comparator selection
# ---------------------------------------------------------------------------


def baseline_features(
    stats: pd.DataFrame,
    baseline_year: int,
    *,
    features: Sequence[str] | None = None,
    spec: object | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Schools present in the baseline census and their (scaled) context features.

    Parameters
    ----------
    stats : DataFrame
        School-year table.
    baseline_year : int
        Census year whose characteristics define similarity.
    features : sequence of str, optional
        Columns to use (default :data:`CONTEXT_FEATURES` that exist). Ignored if ``spec`` is
        given.
    spec : nlc_eval.similarity.FeatureSpec, optional
        If given, :func:`nlc_eval.similarity.feature_matrix` builds the matrix.

    Returns
    -------
    schools, matrix : DataFrame, DataFrame
        ``schools`` (seed_code, sector, local_authority, school_name) and the numeric matrix,
        both on the same RangeIndex.
    """
    _require(stats, ["year", *KEY, "local_authority"], _TABLE)
    years = sorted(stats["year"].dropna().astype(int).unique())
    if baseline_year not in years:
        raise DataError(
            f"baseline year {baseline_year} is not in the data (years present: {years}).",
            table=_TABLE,
            column="year",
            fix="choose one of the years present as the baseline.",
        )
    base = stats.loc[stats["year"] == baseline_year].reset_index(drop=True)
    if spec is not None:
        from nlc_eval.similarity import feature_matrix

        matrix = feature_matrix(base, spec=spec)
        matrix = pd.DataFrame(matrix).reindex(base.index)
    else:
        cols = [c for c in (features or CONTEXT_FEATURES) if c in base.columns]
        if not cols:
            raise DataError(
                "none of the context features is present.",
                table=_TABLE,
                column=str((features or CONTEXT_FEATURES)[0]),
                fix=f"provide at least one of {list(features or CONTEXT_FEATURES)}.",
            )
        raw = base[cols].apply(pd.to_numeric, errors="coerce")
        if "roll" in raw.columns:
            raw["roll"] = np.log1p(raw["roll"].clip(lower=0))
        # scale within sector: a primary's roll is judged against primaries
        grouped = raw.groupby(base["sector"])
        sd = grouped.transform("std").replace(0, np.nan)
        matrix = (raw - grouped.transform("mean")) / sd
    keep = [c for c in ["seed_code", "sector", "local_authority", "school_name"] if c in base]
    return base[keep].copy(), matrix


def _weights(dist: np.ndarray, weighting: str) -> np.ndarray:
    if weighting == "equal":
        w = np.ones_like(dist)
    elif weighting == "inverse_distance":
        floor = max(float(np.max(dist)) * 0.05, 1e-9)
        w = 1.0 / np.maximum(dist, floor)
    elif weighting == "gaussian":
        h = max(float(np.max(dist)), 1e-9)
        w = np.exp(-0.5 * (dist / h) ** 2)
    else:
        raise DataError(
            f"unknown weighting {weighting!r}.",
            fix="use 'inverse_distance', 'gaussian' or 'equal'.",
        )
    return w / w.sum()


def select_comparators(
    schools: pd.DataFrame,
    matrix: pd.DataFrame,
    authority: str,
    *,
    k: int = 5,
    weighting: str = "inverse_distance",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``k`` most similar same-sector schools in other authorities, with weights.

    Parameters
    ----------
    schools : DataFrame
        ``seed_code``, ``sector``, ``local_authority`` (one row per school and sector).
    matrix : DataFrame
        Numeric features on the same index as ``schools`` (already scaled and weighted).
        Missing values are allowed: distances use the features both schools have.
    authority : str
        The authority whose schools are compared (published name).
    k : int
        Comparators per school.
    weighting : {"inverse_distance", "gaussian", "equal"}
        How comparators are weighted; weights of a school sum to one. Gaussian uses the
        distance to the k-th neighbour as bandwidth.

    Returns
    -------
    comparators : DataFrame
        ``seed_code, sector, rank, comparator_seed_code, comparator_authority,
        comparator_name, distance, weight``.
    unmatched : DataFrame
        Schools of the authority that could not be matched, with ``reason``.

    Examples
    --------
    >>> schools = pd.DataFrame({"seed_code": ["1", "2", "3", "4"],
    ...     "sector": ["primary"] * 4, "local_authority": ["A", "B", "B", "A"]})
    >>> X = pd.DataFrame({"x": [0.0, 0.1, 5.0, 0.2]})
    >>> comps, _ = select_comparators(schools, X, "A", k=1)
    >>> comps["comparator_seed_code"].tolist()
    ['2', '2']
    """
    _require(schools, [*KEY, "local_authority"], "schools")
    if k < 1:
        raise DataError(f"k must be at least 1, got {k}.", fix="ask for k >= 1 comparators.")
    if not matrix.index.equals(schools.index):
        raise DataError(
            "the feature matrix is not aligned with the schools table.",
            table="feature matrix",
            fix="build the matrix from the same schools table (same index).",
        )
    X = matrix.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    is_home = schools["local_authority"].map(_norm).to_numpy() == _norm(authority)
    if not is_home.any():
        raise DataError(
            f"no school of authority {authority!r} in the baseline schools.",
            table="schools",
            column="local_authority",
            fix="check the authority name and the baseline year.",
        )
    empty = np.isnan(X).all(axis=1)
    rows, unmatched = [], []
    sectors = schools["sector"].to_numpy()
    names = schools["school_name"] if "school_name" in schools else pd.Series("", schools.index)
    home_idx = np.flatnonzero(is_home & ~empty)
    away_idx = np.flatnonzero(~is_home & ~empty)
    dist = (
        nan_euclidean_distances(X[home_idx], X[away_idx])
        if len(home_idx) and len(away_idx)
        else np.empty((len(home_idx), len(away_idx)))
    )
    row_of = {i: r for r, i in enumerate(home_idx)}
    for i in np.flatnonzero(is_home):
        if empty[i]:
            unmatched.append((i, "no context features in the baseline year"))
            continue
        same = sectors[away_idx] == sectors[i]
        pool = away_idx[same]
        if len(pool) == 0:
            unmatched.append((i, f"no {sectors[i]} school in other authorities"))
            continue
        d = dist[row_of[i]][same]
        ok = np.isfinite(d)
        pool, d = pool[ok], d[ok]
        if len(pool) == 0:
            unmatched.append((i, "no comparator shares a non-missing feature"))
            continue
        order = np.argsort(d, kind="stable")[:k]
        w = _weights(d[order], weighting)
        for r, (j, dj, wj) in enumerate(zip(pool[order], d[order], w, strict=True), start=1):
            rows.append(
                {
                    "seed_code": schools["seed_code"].iloc[i],
                    "sector": sectors[i],
                    "rank": r,
                    "comparator_seed_code": schools["seed_code"].iloc[j],
                    "comparator_authority": schools["local_authority"].iloc[j],
                    "comparator_name": names.iloc[j],
                    "distance": float(dj),
                    "weight": float(wj),
                }
            )
    comps = pd.DataFrame(
        rows,
        columns=[
            "seed_code", "sector", "rank", "comparator_seed_code", "comparator_authority",
            "comparator_name", "distance", "weight",
        ],
    )
    um = pd.DataFrame(
        [
            {"seed_code": schools["seed_code"].iloc[i], "sector": sectors[i], "reason": why}
            for i, why in unmatched
        ],
        columns=["seed_code", "sector", "reason"],
    )
    return comps, um


# ---------------------------------------------------------------------------
# virtual comparator values
# ---------------------------------------------------------------------------


def virtual_comparator(
    panel: pd.DataFrame,
    comparators: pd.DataFrame,
    outcomes: Sequence[str],
    *,
    min_weight: float = 0.5,
) -> pd.DataFrame:
    """Each school's value and its virtual comparator's value, per year and outcome.

    The virtual comparator is the weighted mean of the comparators that have a value that
    year, with weights renormalised over them; if those comparators carry less than
    ``min_weight`` of the total weight the value is left missing (``status`` says why).

    Parameters
    ----------
    panel : DataFrame
        Long school-year table with ``year``, ``seed_code``, ``sector`` and the outcomes.
    comparators : DataFrame
        From :func:`select_comparators`.
    outcomes : sequence of str
        Outcome columns.
    min_weight : float
        Least share of comparator weight that must be observed.

    Returns
    -------
    DataFrame
        ``year, seed_code, sector, outcome, school_value, comparator_value, difference,
        n_comparators, weight_observed, status`` with status one of ``"ok"``,
        ``"school missing"``, ``"comparators missing"``.
    """
    _require(panel, ["year", *KEY, *outcomes], "panel")
    _require(comparators, [*KEY, "comparator_seed_code", "weight"], "comparators")
    years = sorted(panel["year"].dropna().astype(int).unique())
    long = panel[["year", *KEY, *outcomes]].melt(
        id_vars=["year", *KEY], var_name="outcome", value_name="value"
    )
    long["value"] = pd.to_numeric(long["value"], errors="coerce")
    home = comparators[KEY].drop_duplicates()
    frames = []
    for outcome in outcomes:
        vals = long.loc[long["outcome"] == outcome, ["year", *KEY, "value"]]
        grid = home.merge(pd.DataFrame({"year": years}), how="cross")
        school = grid.merge(vals, on=["year", *KEY], how="left").rename(
            columns={"value": "school_value"}
        )
        comp_vals = vals.rename(columns={"seed_code": "comparator_seed_code"})
        c = comparators[[*KEY, "comparator_seed_code", "weight"]].merge(
            pd.DataFrame({"year": years}), how="cross"
        )
        c = c.merge(comp_vals, on=["year", "comparator_seed_code", "sector"], how="left")
        c["obs"] = c["value"].notna()
        c["wv"] = c["weight"] * c["value"].fillna(0.0)
        c["wo"] = c["weight"] * c["obs"]
        agg = c.groupby(["year", *KEY], as_index=False).agg(
            wv=("wv", "sum"), wo=("wo", "sum"), n_comparators=("obs", "sum")
        )
        out = school.merge(agg, on=["year", *KEY], how="left")
        out["weight_observed"] = out["wo"].fillna(0.0)
        enough = out["weight_observed"] >= min_weight - 1e-12
        out["comparator_value"] = np.where(enough, out["wv"] / out["wo"].where(enough), np.nan)
        out["difference"] = out["school_value"] - out["comparator_value"]
        out["status"] = np.select(
            [out["school_value"].isna(), ~enough], ["school missing", "comparators missing"], "ok"
        )
        out["outcome"] = outcome
        out["n_comparators"] = out["n_comparators"].fillna(0).astype(int)
        frames.append(
            out[
                [
                    "year", *KEY, "outcome", "school_value", "comparator_value", "difference",
                    "n_comparators", "weight_observed", "status",
                ]
            ]
        )
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------
# authority-level estimates
# ---------------------------------------------------------------------------


def _cluster_mean(d: np.ndarray, groups: np.ndarray, w: np.ndarray | None = None):
    """Weighted mean with a CR1 cluster-robust standard error and G-1 degrees of freedom."""
    w = np.ones_like(d) if w is None else w
    w = w / w.sum()
    est = float(np.sum(w * d))
    scores = pd.Series(w * (d - est)).groupby(groups).sum().to_numpy()
    g = len(scores)
    if g < 2:
        return est, np.nan, g
    se = float(np.sqrt(g / (g - 1) * np.sum(scores**2)))
    return est, se, g


def _interval(est: float, se: float, g: int, level: float) -> tuple[float, float, float]:
    from scipy import stats as st

    if not np.isfinite(se) or g < 2:
        return np.nan, np.nan, np.nan
    tcrit = st.t.ppf(0.5 + level / 2, df=g - 1)
    if se == 0:
        return est, est, 0.0 if est != 0 else 1.0
    p = float(2 * st.t.sf(abs(est / se), df=g - 1))
    return est - tcrit * se, est + tcrit * se, p


def authority_gap(
    virtual: pd.DataFrame,
    outcome: str,
    *,
    years: Sequence[int] | None = None,
    weights: pd.Series | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Authority mean difference from the virtual comparator, per year, clustered by school.

    Parameters
    ----------
    virtual : DataFrame
        From :func:`virtual_comparator`.
    outcome : str
        Outcome to summarise.
    years : sequence of int, optional
        Years to report (default: every year with at least two schools with a difference).
    weights : Series, optional
        School weights indexed by ``(seed_code, sector)`` (e.g. baseline roll); default equal.
    level : float
        Interval coverage.

    Returns
    -------
    DataFrame
        ``outcome, year, estimate, std_error, ci_low, ci_high, p_value, n_schools`` where
        n_schools counts schools with a difference that year. Standard errors cluster by seed
        code (a school with two sectors is one cluster); intervals use t with G-1 df.
    """
    _require(virtual, ["year", *KEY, "outcome", "difference"], "virtual comparator")
    sub = virtual.loc[(virtual["outcome"] == outcome) & virtual["difference"].notna()]
    if years is not None:
        sub = sub.loc[sub["year"].isin(list(years))]
    rows = []
    for year, g in sub.groupby("year"):
        w = None
        if weights is not None:
            w = weights.reindex(pd.MultiIndex.from_frame(g[KEY])).to_numpy(dtype=float)
            if np.isnan(w).any():
                raise DataError(
                    "a weight is missing for a compared school.",
                    table="weights",
                    fix="give a weight for every (seed_code, sector) compared.",
                )
        est, se, n = _cluster_mean(g["difference"].to_numpy(float), g["seed_code"].to_numpy(), w)
        lo, hi, p = _interval(est, se, n, level)
        rows.append(
            {
                "outcome": outcome,
                "year": int(year),
                "estimate": est,
                "std_error": se,
                "ci_low": lo,
                "ci_high": hi,
                "p_value": p,
                "n_schools": int(len(g)),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "outcome", "year", "estimate", "std_error", "ci_low", "ci_high", "p_value",
            "n_schools",
        ],
    )


def did_panel(
    virtual: pd.DataFrame, outcome: str, baseline_year: int, followup_year: int
) -> pd.DataFrame:
    """Stacked school / virtual-comparator panel for a comparative DiD.

    Only schools with a difference in BOTH years are kept (a balanced panel), so the estimate
    is not driven by schools entering or leaving.

    Returns
    -------
    DataFrame
        ``unit, cluster, year, post, treated, value`` with two rows per school and year: the
        school itself (treated=1) and its virtual comparator (treated=0), both clustered on
        the school's seed code.
    """
    sub = virtual.loc[
        (virtual["outcome"] == outcome)
        & virtual["year"].isin([baseline_year, followup_year])
        & virtual["difference"].notna()
    ]
    n_years = sub.groupby(KEY)["year"].transform("nunique")
    sub = sub.loc[n_years == 2]
    unit = sub["seed_code"].astype(str) + "|" + sub["sector"].astype(str)
    school = pd.DataFrame(
        {"unit": unit, "cluster": sub["seed_code"], "year": sub["year"],
         "treated": 1, "value": sub["school_value"]}
    )
    comp = pd.DataFrame(
        {"unit": unit + "|vc", "cluster": sub["seed_code"], "year": sub["year"],
         "treated": 0, "value": sub["comparator_value"]}
    )
    out = pd.concat([school, comp], ignore_index=True)
    out["post"] = (out["year"] == followup_year).astype(int)
    return out[["unit", "cluster", "year", "post", "treated", "value"]]


@dataclass
class DidResult:
    """Comparative difference-in-differences of an authority against its virtual comparators.

    ``estimate`` is the change in the mean school-minus-comparator difference from the
    baseline to the follow-up year, on schools compared in both years.
    """

    outcome: str
    baseline_year: int
    followup_year: int
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    n_schools: int
    n_dropped: int
    method: str
    level: float = 0.95

    def tidy(self) -> pd.DataFrame:
        """One-row table in the kit's tidy format."""
        return pd.DataFrame(
            [
                {
                    "term": f"{self.outcome}: change in gap {self.baseline_year}->"
                    f"{self.followup_year}",
                    "estimate": self.estimate,
                    "std_error": self.se,
                    "ci_low": self.ci_low,
                    "ci_high": self.ci_high,
                    "p_value": self.p_value,
                    "n": self.n_schools,
                    "n_dropped": self.n_dropped,
                    "method": self.method,
                }
            ]
        )

    def sentence(self) -> str:
        """Plain-English statement of the result and its interval."""
        label = OUTCOMES.get(self.outcome, self.outcome.replace("_", " "))
        if not np.isfinite(self.estimate):
            return f"The change in the {label} gap could not be estimated."
        direction = "widened in the schools' favour" if self.estimate > 0 else "moved against them"
        if self.ci_low <= 0 <= self.ci_high:
            verdict = "the interval includes no change"
        else:
            verdict = "the interval excludes no change"
        return (
            f"Between {self.baseline_year} and {self.followup_year} the difference in {label} "
            f"between the {self.n_schools} schools compared in both years and their virtual "
            f"comparators changed by {self.estimate:+.2f} points "
            f"({self.level:.0%} interval {self.ci_low:+.2f} to {self.ci_high:+.2f}; "
            f"{verdict}). A positive change means the schools' value rose relative to their "
            f"comparators ({direction} for a measure where higher is better)."
        )


def comparative_did(
    virtual: pd.DataFrame,
    outcome: str,
    baseline_year: int,
    followup_year: int,
    *,
    level: float = 0.95,
) -> DidResult:
    """Comparative difference-in-differences for a baseline and a follow-up year.

    Uses :func:`nlc_eval.impact.did` on the stacked school / virtual-comparator panel from
    :func:`did_panel` when that estimator is available, clustering on the school; otherwise
    the equivalent clustered regression of the change in each school's difference on a
    constant.

    Raises
    ------
    ImpactError
        If fewer than two schools are compared in both years.
    """
    if baseline_year == followup_year:
        raise ImpactError(
            f"baseline and follow-up year are both {baseline_year}; choose two different years."
        )
    panel = did_panel(virtual, outcome, baseline_year, followup_year)
    sub = virtual.loc[(virtual["outcome"] == outcome) & virtual["year"].isin(
        [baseline_year, followup_year])]
    n_any = int(sub.loc[sub["difference"].notna(), KEY].drop_duplicates().shape[0])
    n_both = int(panel.loc[panel["treated"] == 1, "unit"].nunique())
    if n_both < 2:
        raise ImpactError(
            f"only {n_both} school(s) have a {outcome} comparison in both {baseline_year} and "
            f"{followup_year}; pick years in which the outcome is published "
            "(see nlc_eval.compare.outcome_years)."
        )
    est = _did_with_impact(panel, level)
    if est is None:
        wide = panel.loc[panel["treated"] == 1].copy()
        comp = panel.loc[panel["treated"] == 0].copy()
        comp["unit"] = comp["unit"].str.removesuffix("|vc")
        diff = wide.merge(comp, on=["unit", "year", "cluster"], suffixes=("", "_vc"))
        diff["d"] = diff["value"] - diff["value_vc"]
        change = diff.pivot_table(index=["unit", "cluster"], columns="post", values="d")
        change = (change[1] - change[0]).reset_index(name="delta")
        e, se, g = _cluster_mean(change["delta"].to_numpy(float), change["cluster"].to_numpy())
        lo, hi, p = _interval(e, se, g, level)
        est = (e, se, lo, hi, p, "clustered first-difference regression")
    e, se, lo, hi, p, method = est
    return DidResult(
        outcome=outcome,
        baseline_year=int(baseline_year),
        followup_year=int(followup_year),
        estimate=e,
        se=se,
        ci_low=lo,
        ci_high=hi,
        p_value=p,
        n_schools=n_both,
        n_dropped=n_any - n_both,
        method=method,
        level=level,
    )


def _did_with_impact(panel: pd.DataFrame, level: float):
    """Run nlc_eval.impact.did on the stacked panel; None when it is not available."""
    try:
        from nlc_eval.impact.did import did
    except ImportError:
        return None
    data = panel.assign(d=panel["treated"] * panel["post"])
    res = did(
        data,
        outcome="value",
        treated="d",
        unit="unit",
        time="year",
        cluster="cluster",
        conf_level=level,
        random_state=0,
        units="percentage points",
        treated_label="schools",
        control_label="their virtual comparators",
    )
    return (
        float(res.estimate), float(res.se), float(res.ci_low), float(res.ci_high),
        float(res.p_value), f"nlc_eval.impact.did: {res.method}; {res.inference}",
    )


# ---------------------------------------------------------------------------
# front end
# ---------------------------------------------------------------------------


@dataclass
class AuthorityComparison:
    """Result of :func:`compare_authority`: comparators, virtual comparator values, estimates.

    Attributes
    ----------
    authority : str
        Authority compared (as published).
    baseline_year, k : int
        Census year of the similarity features and comparators per school.
    comparators, unmatched, virtual, availability : DataFrame
        Comparator sets with weights; schools that could not be matched and why; school and
        virtual comparator values per year and outcome; which years carry each outcome.
    """

    authority: str
    baseline_year: int
    k: int
    comparators: pd.DataFrame
    unmatched: pd.DataFrame
    virtual: pd.DataFrame
    availability: pd.DataFrame
    weights: pd.Series | None = None
    outcomes: list[str] = field(default_factory=list)

    def years(self, outcome: str) -> list[int]:
        """Years in which ``outcome`` is published (detected from the data)."""
        a = self.availability
        return a.loc[(a["outcome"] == outcome) & (a["status"] == "published"), "year"].tolist()

    def gap(self, outcome: str, *, level: float = 0.95) -> pd.DataFrame:
        """Per-year authority difference from the virtual comparator (published years only)."""
        return authority_gap(
            self.virtual, outcome, years=self.years(outcome), weights=self.weights, level=level
        )

    def gaps(self, *, level: float = 0.95) -> pd.DataFrame:
        """:meth:`gap` for every outcome, stacked."""
        frames = [self.gap(o, level=level) for o in self.outcomes]
        return pd.concat([f for f in frames if len(f)], ignore_index=True)

    def did(self, outcome: str, baseline_year: int, followup_year: int, **kw) -> DidResult:
        """Comparative DiD (see :func:`comparative_did`); both years must be published."""
        ok = self.years(outcome)
        for y in (baseline_year, followup_year):
            if y not in ok:
                raise ImpactError(
                    f"{outcome} is not published for {y} (published years: {ok}); "
                    "choose published years."
                )
        return comparative_did(self.virtual, outcome, baseline_year, followup_year, **kw)

    def school_table(self, outcome: str, year: int) -> pd.DataFrame:
        """School-by-school values for one outcome and year."""
        v = self.virtual
        return v.loc[(v["outcome"] == outcome) & (v["year"] == year)].reset_index(drop=True)

    def plot_gap(self, outcome: str, ax=None):
        """Per-year difference with its interval; returns the matplotlib Axes."""
        import matplotlib.pyplot as plt

        g = self.gap(outcome)
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        ax.axhline(0, color="grey", lw=1)
        ax.errorbar(
            g["year"], g["estimate"],
            yerr=[g["estimate"] - g["ci_low"], g["ci_high"] - g["estimate"]],
            fmt="o-", capsize=4,
        )
        ax.set_xticks(g["year"])
        ax.set_xlabel("census year")
        ax.set_ylabel("school minus virtual comparator")
        ax.set_title(f"{self.authority}: {OUTCOMES.get(outcome, outcome)}")
        return ax


def compare_authority(
    stats: pd.DataFrame,
    authority: str = "North Lanarkshire",
    *,
    baseline_year: int = 2019,
    k: int = 5,
    outcomes: Sequence[str] | None = None,
    extra: pd.DataFrame | None = None,
    features: Sequence[str] | None = None,
    spec: object | None = None,
    weighting: str = "inverse_distance",
    weight_by_roll: bool = False,
    min_weight: float = 0.5,
) -> AuthorityComparison:
    """Compare every school of ``authority`` with its virtual comparator, year by year.

    Parameters
    ----------
    stats : DataFrame
        From :func:`nlc_eval.data.official.load_school_statistics` (one row per year, seed
        code and sector).
    authority : str
        Authority to compare (matched loosely to the published name).
    baseline_year : int
        Census year of the similarity features.
    k : int
        Comparators per school.
    outcomes : sequence of str, optional
        Outcome columns of ``stats`` (default: those of :data:`OUTCOMES` present).
    extra : DataFrame, optional
        More outcomes in long school-year form (``year, seed_code, sector`` + columns), e.g.
        ACEL from :func:`acel_outcomes`; they are compared in the years they exist.
    features, spec
        Similarity features (see :func:`baseline_features`).
    weighting : str
        Comparator weights (see :func:`select_comparators`).
    weight_by_roll : bool
        Weight schools by baseline roll in authority averages (default: each school equally).
    min_weight : float
        See :func:`virtual_comparator`.
    """
    _require(stats, ["year", *KEY, "local_authority"], _TABLE)
    _check_unique(stats)
    stats = stats.assign(
        seed_code=stats["seed_code"].astype(str), year=stats["year"].astype(int)
    )
    name = resolve_authority(stats, authority)
    outs = list(outcomes) if outcomes is not None else [o for o in OUTCOMES if o in stats]
    panel = stats[["year", *KEY, *[o for o in outs if o in stats]]]
    extra_cols: list[str] = []
    if extra is not None and len(extra):
        _require(extra, ["year", *KEY], "extra outcomes")
        extra = extra.assign(seed_code=extra["seed_code"].astype(str),
                             year=extra["year"].astype(int))
        extra_cols = [c for c in extra.columns if c not in ("year", *KEY)]
        panel = panel.merge(extra, on=["year", *KEY], how="outer")
    all_outcomes = outs + extra_cols
    _require(panel, all_outcomes, _TABLE)
    schools, matrix = baseline_features(stats, baseline_year, features=features, spec=spec)
    comps, unmatched = select_comparators(
        schools, matrix, name, k=k, weighting=weighting
    )
    home_all = stats.loc[stats["local_authority"] == name, KEY].drop_duplicates()
    late = home_all.merge(schools[KEY], how="left", indicator=True)
    late = late.loc[late["_merge"] == "left_only", KEY]
    if len(late):
        late = late.assign(
            reason=f"not in the {baseline_year} census (opened later or new seed code), so "
            "it has no baseline features"
        )
        unmatched = pd.concat([unmatched, late], ignore_index=True)
    virtual = virtual_comparator(panel, comps, all_outcomes, min_weight=min_weight)
    avail = pd.concat(
        [outcome_years(panel, o).assign(outcome=o) for o in all_outcomes], ignore_index=True
    )
    weights = None
    if weight_by_roll:
        base = stats.loc[stats["year"] == baseline_year].set_index(KEY)["roll"]
        weights = pd.to_numeric(base, errors="coerce")
    return AuthorityComparison(
        authority=name,
        baseline_year=int(baseline_year),
        k=int(k),
        comparators=comps,
        unmatched=unmatched,
        virtual=virtual,
        availability=avail[["outcome", *[c for c in avail.columns if c != "outcome"]]],
        weights=weights,
        outcomes=all_outcomes,
    )
