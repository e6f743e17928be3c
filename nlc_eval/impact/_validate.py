"""Input checks shared by the impact estimators.

Every check raises :class:`nlc_eval.errors.ImpactError` with a message that names the
column, says how many rows are affected (never which pupil) and says what to do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from nlc_eval.errors import ImpactError


def as_list(columns: str | Sequence[str] | None) -> list[str]:
    """Return ``columns`` as a list (``None`` -> ``[]``, a string -> ``[string]``)."""
    if columns is None:
        return []
    if isinstance(columns, str):
        return [columns]
    return list(columns)


def require_frame(df: object) -> pd.DataFrame:
    """Check that ``df`` is a non-empty DataFrame."""
    if not isinstance(df, pd.DataFrame):
        raise ImpactError(
            f"expected a pandas DataFrame, got {type(df).__name__}. "
            "Fix: pass the data as a DataFrame with one row per observation."
        )
    if len(df) == 0:
        raise ImpactError("the DataFrame has no rows. Fix: pass the data to analyse.")
    return df


def require_columns(df: pd.DataFrame, columns: Iterable[str], role: str = "column") -> None:
    """Raise if any of ``columns`` is missing from ``df``."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        shown = ", ".join(repr(c) for c in missing)
        have = ", ".join(repr(c) for c in list(df.columns)[:12])
        more = " ..." if len(df.columns) > 12 else ""
        raise ImpactError(
            f"{role} {shown} not found in the data (columns are: {have}{more}). "
            "Fix: check the spelling or add the column."
        )


def require_no_missing(df: pd.DataFrame, columns: Iterable[str], role: str = "column") -> None:
    """Raise if any of ``columns`` has missing values, saying how many rows."""
    for col in columns:
        bad = df[col].isna().to_numpy()
        n_bad = int(bad.sum())
        if n_bad:
            first = df.index[np.flatnonzero(bad)[0]]
            raise ImpactError(
                f"{role} {col!r} has missing values in {n_bad} of {len(df)} rows "
                f"(first at row {first!r}). Fix: impute them, or drop those rows explicitly "
                "before estimating (the kit never drops rows silently)."
            )


def require_numeric(df: pd.DataFrame, columns: Iterable[str], role: str = "column") -> None:
    """Raise if any of ``columns`` is not numeric (booleans are accepted)."""
    for col in columns:
        s = df[col]
        if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
            raise ImpactError(
                f"{role} {col!r} is not numeric (dtype {s.dtype}). Fix: convert it to numbers"
                + (", e.g. (df[col] == 'yes').astype(int) for a yes/no outcome"
                   if role == "outcome" else "")
                + " (covariates may be categories or text: the estimators encode them)."
            )


def binary_treatment(df: pd.DataFrame, column: str, *, need_both: bool = True) -> np.ndarray:
    """Return ``df[column]`` as a 0/1 integer array, checking that it is a valid treatment."""
    s = df[column]
    if s.isna().any():
        n_bad = int(s.isna().sum())
        raise ImpactError(
            f"treatment column {column!r} has missing values in {n_bad} rows. "
            "Fix: code every row 1 (treated) or 0 (comparison)."
        )
    if pd.api.types.is_bool_dtype(s):
        values = s.to_numpy().astype(int)
    else:
        try:
            values = pd.to_numeric(s).to_numpy()
        except (TypeError, ValueError):
            values = None
        if values is None or not np.isin(values, [0, 1]).all():
            seen = sorted(pd.unique(s).tolist(), key=str)[:6]
            raise ImpactError(
                f"treatment column {column!r} must be 0/1 (or True/False); found values "
                f"{seen}. Fix: recode it, e.g. df[{column!r}] = (df[{column!r}] == 'yes')"
                ".astype(int)."
            )
        values = values.astype(int)
    if need_both:
        n_t = int(values.sum())
        if n_t == 0:
            raise ImpactError(
                f"treatment column {column!r} has no treated rows (all 0). "
                "Fix: check the filter; an effect needs treated and comparison units."
            )
        if n_t == len(values):
            raise ImpactError(
                f"treatment column {column!r} has no comparison rows (all 1). "
                "Fix: add untreated units to compare with."
            )
    return values


def check_estimand(estimand: str, allowed: Sequence[str]) -> str:
    """Normalise and check an estimand name."""
    value = str(estimand).upper()
    if value not in allowed:
        raise ImpactError(
            f"estimand {estimand!r} is not supported here. Fix: use one of {list(allowed)}."
        )
    return value


def check_overlap(ps: np.ndarray, t: np.ndarray, *, column: str) -> None:
    """Raise when treated and comparison propensity scores do not overlap at all."""
    pt, pc = ps[t == 1], ps[t == 0]
    if pt.min() >= pc.max() or pc.min() >= pt.max():
        raise ImpactError(
            f"no overlap: the covariates separate the treated and comparison units of "
            f"{column!r} completely (treated propensity scores {pt.min():.3f}-{pt.max():.3f}, "
            f"comparison {pc.min():.3f}-{pc.max():.3f}). Fix: compare with more similar units, "
            "or drop the covariate that defines treatment."
        )


def constant_within(df: pd.DataFrame, column: str, by: str) -> None:
    """Raise if ``column`` takes more than one value within a level of ``by``."""
    n_values = df.groupby(by, sort=False)[column].nunique(dropna=False)
    bad = n_values[n_values > 1]
    if len(bad):
        raise ImpactError(
            f"column {column!r} changes within {len(bad)} levels of {by!r}; it must be constant "
            f"for each {by}. Fix: use one value per {by} (e.g. the first treatment time)."
        )
