"""Virtual comparators: the most similar schools of the same sector in other authorities.

The building blocks of :mod:`nlc_eval.compare`:

* :func:`outcome_years` finds, from the data, the years in which an outcome is published
  (attendance is not collected every year; some editions repeat the previous figures);
* :func:`baseline_features` fixes the context features at a baseline census year;
* :func:`select_comparators` picks, for each school of an authority, the ``k`` nearest
  schools of the same sector in OTHER authorities, with weights;
* :func:`virtual_comparator` gives each school and year the weighted mean of its
  comparators' values.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics.pairwise import nan_euclidean_distances

from nlc_eval.errors import DataError

#: Outcomes compared by default (percent, from the school statistics).
OUTCOMES: dict[str, str] = {
    "attendance_rate": "attendance rate (%)",
    "authorised_absence_rate": "authorised absence rate (%)",
    "unauthorised_absence_rate": "unauthorised absence rate (%)",
    "exclusion_absence_rate": "absence due to exclusion (%)",
    "acel_reading": "ACEL reading (% achieving expected level)",
    "acel_writing": "ACEL writing (% achieving expected level)",
    "acel_listening_talking": "ACEL listening and talking (% achieving expected level)",
    "acel_numeracy": "ACEL numeracy (% achieving expected level)",
}

#: Direction of each outcome: True when a higher value is better for pupils.
HIGHER_IS_BETTER: dict[str, bool] = {
    "attendance_rate": True,
    "authorised_absence_rate": False,
    "unauthorised_absence_rate": False,
    "exclusion_absence_rate": False,
}


def higher_is_better(outcome: str) -> bool:
    """Whether a higher value of ``outcome`` is better (ACEL and attendance: yes; absence: no)."""
    return HIGHER_IS_BETTER.get(outcome, not ("absence" in outcome or "exclusion" in outcome))


#: Plain context columns suggested for ``features=`` (the default is a similarity spec, see
#: :func:`default_spec`). Outcomes (attendance, absence, ACEL) are deliberately absent.
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


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """Shallow copy without ``attrs`` (loader bookkeeping would be deep-copied on every step)."""
    out = df.copy(deep=False)
    out.attrs = {}
    return out


def _norm(name: object) -> str:
    return " ".join(str(name).replace("&", "and").split()).casefold()


#: Published groups of schools that are not local authorities (never a comparator pool).
NOT_AUTHORITIES: tuple[str, ...] = ("Grant aided",)


def _authority_key(name: object) -> str:
    words = _norm(name).replace(",", " ").split()
    return " ".join(w for w in words if w not in ("city", "of", "council", "the"))


def harmonise_authorities(stats: pd.DataFrame) -> pd.DataFrame:
    """Give each authority one spelling across editions (the latest year's).

    Editions spell some names differently (``City of Edinburgh`` / ``Edinburgh City``,
    ``&`` / ``and``); left alone, one authority would look like two.

    Examples
    --------
    >>> df = pd.DataFrame({"year": [2020, 2024], "local_authority":
    ...     ["City of Edinburgh", "Edinburgh City"]})
    >>> harmonise_authorities(df)["local_authority"].tolist()
    ['Edinburgh City', 'Edinburgh City']
    """
    _require(stats, ["year", "local_authority"], "school statistics")
    out = _plain(stats)
    la = out["local_authority"]
    key = la.map(_authority_key)
    latest = (
        pd.DataFrame({"key": key, "la": la, "year": out["year"]})
        .dropna()
        .sort_values("year")
        .groupby("key")["la"]
        .last()
    )
    out["local_authority"] = key.map(latest).where(la.notna(), la)
    return out


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
    with a (non-zero) value in both years carry exactly the previous published year's figure.

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
    stats = _plain(stats)
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
            # zeros recur naturally (e.g. no exclusions), so only non-zero pairs are compared
            both = col.notna() & prev.notna() & ((col != 0) | (prev != 0))
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


#: Outcome columns that may never define similarity (they are what is being compared).
OUTCOME_COLUMNS = frozenset(
    ["attendance_rate", "authorised_absence_rate", "unauthorised_absence_rate",
     "exclusion_absence_rate"]
)


def default_spec():
    """The similarity spec used by default: log roll, SIMD profile (mean quintile and
    quintile-1 share) and free school meals, each block weighted equally."""
    from nlc_eval.similarity import FeatureSpec

    return FeatureSpec(size="log_roll", simd="summary", extras=("fsm_pct",))


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
        Plain columns to use instead of a similarity spec (log of ``roll``, then each
        column z-scored within sector). Missing values stay missing; distances use the
        features two schools share.
    spec : nlc_eval.similarity.FeatureSpec, optional
        Used when ``features`` is not given (default :func:`default_spec`):
        :func:`nlc_eval.similarity.feature_matrix` builds the matrix separately for each
        sector, so a primary is scaled against primaries. Imputed cells are listed in the
        matrix's ``attrs["imputed"]``.

    Returns
    -------
    schools, matrix : DataFrame, DataFrame
        ``schools`` (seed_code, sector, local_authority, school_name) and the numeric matrix,
        both on the same RangeIndex.

    Raises
    ------
    DataError
        The baseline year is absent, or an outcome column is asked for as a feature.
    """
    _require(stats, ["year", *KEY, "local_authority"], _TABLE)
    stats = _plain(stats)
    years = sorted(stats["year"].dropna().astype(int).unique())
    if baseline_year not in years:
        raise DataError(
            f"baseline year {baseline_year} is not in the data (years present: {years}).",
            table=_TABLE,
            column="year",
            fix="choose one of the years present as the baseline.",
        )
    base = stats.loc[stats["year"] == baseline_year].reset_index(drop=True)
    asked = set(features or ()) | set(getattr(spec, "extras", ()) or ())
    bad = sorted(asked & OUTCOME_COLUMNS)
    if bad:
        raise DataError(
            f"{bad} are outcomes being compared and cannot also define similarity.",
            table=_TABLE,
            column=bad[0],
            fix="match on context only (roll, SIMD, free school meals, ...).",
        )
    if features is None:
        from nlc_eval.similarity import feature_matrix

        spec = spec or default_spec()
        parts, imputed = [], []
        for _, rows in base.groupby("sector", sort=False):
            m = feature_matrix(rows, spec=spec, table=f"{_TABLE} {baseline_year}")
            imputed.append(m.attrs.get("imputed"))
            m = m.copy(deep=False)
            m.attrs = {}
            parts.append(m)
        matrix = pd.concat(parts).reindex(base.index)
        matrix.attrs = {}
        imp = [i for i in imputed if i is not None and len(i)]
        matrix.attrs["imputed"] = (
            pd.concat(imp, ignore_index=True) if imp else pd.DataFrame(
                columns=["row", "seed_code", "feature", "value"])
        )
    else:
        cols = [c for c in features if c in base.columns]
        if not cols:
            raise DataError(
                "none of the requested features is present.",
                table=_TABLE,
                column=str(list(features)[0]) if len(features) else None,
                fix=f"choose columns of the school statistics, e.g. {list(CONTEXT_FEATURES)}.",
            )
        raw = base[cols].apply(pd.to_numeric, errors="coerce").astype(float)
        if "roll" in raw.columns:
            raw["roll"] = np.log1p(raw["roll"].clip(lower=0))
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
    schools = _plain(schools)
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
    codes = schools["seed_code"].to_numpy()
    las = schools["local_authority"].to_numpy()
    names = schools["school_name"].to_numpy() if "school_name" in schools else np.full(
        len(schools), "", dtype=object)
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
                    "seed_code": codes[i],
                    "sector": sectors[i],
                    "rank": r,
                    "comparator_seed_code": codes[j],
                    "comparator_authority": las[j],
                    "comparator_name": names[j],
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
            {"seed_code": codes[i], "sector": sectors[i], "reason": why}
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
