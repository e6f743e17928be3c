"""Covariates as they come: numbers, booleans, categories and text, encoded for the models.

Every estimator that adjusts for covariates passes them through :func:`encode_covariates`:

- numeric columns are used as they are;
- boolean columns become one 0/1 column under their own name (reference level ``False``);
- categorical (``category``), text (``str``, ``object``) columns become one 0/1 column per
  level but the first, named ``"column=level"``. The first level is the reference: the
  first category of a ``category`` column (its declared order), otherwise the first value
  in sorted order, as R's ``factor`` and patsy do. Categories with no rows are left out.

A column is refused, with every such column listed in one error, only where it cannot be
used: it has missing values; it takes a single value (no variation); it looks like an
identifier (a text or categorical column with a different value in more than half the
rows: one dummy per row would absorb the outcome); its type is not a number, a boolean, a
category or text (dates, for example); it is the outcome, or the treatment, itself. With a
binary treatment or outcome to model (``binary_target``), a level in which it does not vary
is refused too: the propensity score (or the outcome's log-odds) is 0 or 1 there, so the
model has no finite fit and the units of that level have no comparison.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from nlc_eval.errors import ImpactError

ID_LIKE_SHARE = 0.5


class Encoded(NamedTuple):
    """Result of :func:`encode_covariates`.

    Attributes
    ----------
    data : DataFrame
        ``df`` with the encoded 0/1 columns added (``df`` itself when nothing needed
        encoding); the original columns are untouched (booleans are used as they are).
    names : list of str
        The columns to use as covariates, in order (encoded dummies in place of their
        column).
    reference_levels : dict
        Column -> reference level (the level without a dummy), for every boolean,
        categorical and text covariate; goes to ``Estimate.reference_levels``.
    """

    data: pd.DataFrame
    names: list[str]
    reference_levels: dict[str, str]


def _kind(s: pd.Series) -> str:
    """``"bool"``, ``"numeric"``, ``"categorical"`` or ``"other"``."""
    if pd.api.types.is_bool_dtype(s):
        return "bool"
    if isinstance(s.dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(s):
        return "numeric"
    if pd.api.types.is_string_dtype(s) or pd.api.types.is_object_dtype(s):
        return "categorical"
    return "other"


def _levels(s: pd.Series) -> list:
    """Observed levels in reference order (category order, else sorted)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        seen = set(s.dropna().unique().tolist())
        return [c for c in s.cat.categories.tolist() if c in seen]
    values = pd.unique(s.dropna()).tolist()
    try:
        return sorted(values)
    except TypeError:                       # mixed types: sort by their text
        return sorted(values, key=str)


def _unique_name(base: str, taken: set[str]) -> str:
    name = base
    while name in taken:
        name += "_"
    return name


def _check_outcome(df: pd.DataFrame, outcome: str | None, problems: list[str]) -> None:
    if outcome is None:
        return
    s = df[outcome]
    kind = _kind(s)
    if kind in ("numeric", "bool"):
        return
    if kind == "categorical":
        shown = ", ".join(repr(x) for x in _levels(s)[:4])
        problems.append(
            f"outcome {outcome!r} is text or categorical (dtype {s.dtype}; values such as "
            f"{shown}), and an outcome must be a number. Fix: code it as numbers, e.g. "
            f"df[{outcome!r}] = (df[{outcome!r}] == 'yes').astype(int) for a yes/no outcome "
            "(with outcome_effect(kind='binary') for a 0/1 outcome).")
    else:
        problems.append(f"outcome {outcome!r} has dtype {s.dtype}, not a number. Fix: "
                        "convert it to numbers.")


def _level_variation(s: pd.Series, levels: list, target: np.ndarray, target_name: str,
                     need: str, column: str, problems: list[str]) -> None:
    """Levels of ``s`` in which the binary ``target`` takes one value only."""
    for level in levels:
        inside = (s == level).to_numpy()
        n1 = int(target[inside].sum())
        n0 = int(inside.sum()) - n1
        if n1 and not n0 and need in ("both", "zeros"):
            problems.append(
                f"covariate {column!r}, level {level!r}: all {n1} rows have {target_name} = 1 "
                f"and none 0, so the model of {target_name} has no finite fit there and those "
                "rows have no comparison. Fix: drop those rows explicitly, or merge the level "
                "with a similar one.")
        if n0 and not n1 and need in ("both", "ones"):
            problems.append(
                f"covariate {column!r}, level {level!r}: all {n0} rows have {target_name} = 0 "
                f"and none 1, so the model of {target_name} has no finite fit there and those "
                "rows have no comparison. Fix: drop those rows explicitly, or merge the level "
                "with a similar one.")


def encode_covariates(df: pd.DataFrame, covariates: Sequence[str] | str | None, *,
                      outcome: str | None = None, exclude: Mapping[str | None, str] | None = None,
                      numeric: Iterable[str | None] = (),
                      binary_target: tuple[np.ndarray, str, str] | None = None) -> Encoded:
    """Check covariates and one-hot encode the boolean, categorical and text ones.

    Parameters
    ----------
    df : DataFrame
    covariates : list of str
        Covariate columns (any of numeric, boolean, ``category``, ``str``, ``object``).
    outcome : str, optional
        The outcome column: it must be numeric (or boolean) and must not be a covariate;
        problems with it are reported in the same error, naming it as the outcome.
    exclude : dict, optional
        Other columns that must not be covariates, with their role, e.g.
        ``{"supported": "treatment", "pupil": "unit"}`` (``None`` keys are ignored).
    numeric : list of str, optional
        Further columns that must be numeric (e.g. an exposure).
    binary_target : (ndarray, str, str), optional
        ``(values, name, need)``: a 0/1 array the covariates will model (the treatment of a
        propensity model, a binary outcome), its name, and which value every level that has
        rows must also contain: ``"both"``; ``"zeros"`` (levels with 1s need 0s: the ATT);
        ``"ones"`` (the ATC).

    Returns
    -------
    Encoded
        ``(data, names, reference_levels)``.

    Raises
    ------
    ImpactError
        Naming every column that cannot be used, why, and what to do.

    Examples
    --------
    >>> d = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6], "x": [0.5, 1, 2, 1, 3, 2],
    ...                   "area": ["north", "south", "east", "north", "south", "east"],
    ...                   "fsm": [True, False, True, False, True, False]})
    >>> enc = encode_covariates(d, ["x", "area", "fsm"], outcome="y")
    >>> enc.names
    ['x', 'area=north', 'area=south', 'fsm']
    >>> enc.reference_levels
    {'area': 'east', 'fsm': 'False'}
    """
    covs = [] if covariates is None else ([covariates] if isinstance(covariates, str)
                                          else list(covariates))
    problems: list[str] = []
    _check_outcome(df, outcome, problems)
    for col in numeric:
        if col is not None and _kind(df[col]) not in ("numeric", "bool"):
            problems.append(f"column {col!r} has dtype {df[col].dtype}, not a number. Fix: "
                            "convert it to numbers.")
    roles = {c: f"the {role}" for c, role in (exclude or {}).items() if c is not None}
    if outcome is not None:
        roles[outcome] = "the outcome"
    seen: set[str] = set()
    for c in covs:
        if c in seen:
            problems.append(f"covariate {c!r} is listed twice. Fix: list it once.")
        seen.add(c)
        if c in roles:
            problems.append(f"covariate {c!r} is {roles[c]}, so it cannot also be a "
                            "covariate. Fix: remove it from the covariates.")
    n = len(df)
    taken = set(map(str, df.columns))
    new_cols: dict[str, np.ndarray] = {}
    names: list[str] = []
    refs: dict[str, str] = {}
    for c in dict.fromkeys(covs):
        if c in roles:
            continue
        s = df[c]
        n_missing = int(s.isna().sum())
        if n_missing:
            first = df.index[np.flatnonzero(s.isna().to_numpy())[0]]
            problems.append(
                f"covariate {c!r} has missing values in {n_missing} of {n} rows (first at row "
                f"{first!r}). Fix: impute them, or drop those rows explicitly before "
                "estimating (the kit never drops rows silently).")
            continue
        kind = _kind(s)
        if kind == "other":
            problems.append(
                f"covariate {c!r} has dtype {s.dtype}, which is neither a number, a boolean, "
                "a category nor text. Fix: convert it, e.g. a date to its year or to days "
                "since a start date.")
            continue
        if kind == "numeric":
            if s.nunique() <= 1:
                value = s.iloc[0].item() if hasattr(s.iloc[0], "item") else s.iloc[0]
                problems.append(f"covariate {c!r} takes a single value ({value!r}) in "
                                "every row, so it cannot explain anything. Fix: drop it.")
                continue
            names.append(c)
            if binary_target is not None and s.nunique() == 2:
                _level_variation(s, _levels(s), *_target(binary_target), c, problems)
            continue
        levels = _levels(s)
        if len(levels) <= 1:
            shown = repr(levels[0]) if levels else "nothing"
            problems.append(f"covariate {c!r} takes a single value ({shown}) in every row, "
                            "so it cannot explain anything. Fix: drop it.")
            continue
        if kind == "categorical" and len(levels) > 2 and len(levels) > ID_LIKE_SHARE * n:
            problems.append(
                f"covariate {c!r} has {len(levels)} different values in {n} rows, like an "
                "identifier or free text: one dummy per value would leave nothing to "
                "estimate from. Fix: drop it, group its values into a few categories, or, if "
                f"it holds numbers stored as text, convert it with pd.to_numeric(df[{c!r}]).")
            continue
        if binary_target is not None:
            _level_variation(s, levels, *_target(binary_target), c, problems)
        if kind == "bool":                  # used as it is: 1 = True
            names.append(c)
            refs[c] = "False"
            continue
        refs[c] = str(levels[0])
        values = s.to_numpy()
        for level in levels[1:]:
            name = _unique_name(f"{c}={level}", taken)
            taken.add(name)
            new_cols[name] = (values == level).astype(float)
            names.append(name)
    if problems:
        lead = ("1 column cannot be used" if len(problems) == 1 else
                f"{len(problems)} problems with the columns")
        raise ImpactError(f"{lead}:\n- " + "\n- ".join(problems))
    data = df.assign(**new_cols) if new_cols else df
    return Encoded(data=data, names=names, reference_levels=refs)


def _target(binary_target):
    values, name, need = binary_target
    if need not in ("both", "zeros", "ones"):
        raise ValueError(f"need={need!r}; use 'both', 'zeros' or 'ones'")
    return np.asarray(values, dtype=float), name, need
