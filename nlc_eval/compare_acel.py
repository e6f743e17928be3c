"""ACEL (Achievement of Curriculum for Excellence Levels) as school-year outcomes.

Turns :func:`nlc_eval.data.official.load_acel` output into the long school-year form that
:func:`nlc_eval.compare.compare_authority` takes as ``extra`` outcomes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nlc_eval.comparators import _plain, _require
from nlc_eval.errors import DataError

#: ACEL organisers and the outcome columns they become.
ACEL_ORGANISERS: dict[str, str] = {
    "reading": "acel_reading",
    "writing": "acel_writing",
    "listening and talking": "acel_listening_talking",
    "numeracy": "acel_numeracy",
}


def _session_year(session: object) -> int:
    text = str(session)
    digits = text.replace("-", "/").split("/")
    try:
        start = int(digits[0])
    except ValueError as err:
        raise DataError(
            f"cannot read the school session {text!r}.",
            table="ACEL",
            column="session",
            fix="sessions are written like '2021/22'.",
        ) from err
    return start + 1


def acel_outcomes(acel: pd.DataFrame, stats: pd.DataFrame | None = None) -> pd.DataFrame:
    """ACEL percentages as school-year outcome columns for :func:`compare_authority`.

    The primary figure (P1, P4 and P7 combined) becomes the school's ``primary`` row and the
    S3 figure its ``secondary`` row; one column per organiser (``acel_reading``,
    ``acel_writing``, ``acel_listening_talking``, ``acel_numeracy``). A session such as
    ``2021/22`` is labelled with the census year in which it ends (2022), as the attendance of
    a session is published in that year's edition. Only published numbers are used: banded
    (e.g. ``95-100%``) and suppressed values stay missing, never a made-up midpoint.

    Parameters
    ----------
    acel : DataFrame
        From :func:`nlc_eval.data.official.load_acel` (``session, stage, seed_code,
        organiser, pct``).
    stats : DataFrame, optional
        School statistics; when given, a school published under another sector that year
        (e.g. a special school reporting P1-P7 levels) is placed under that sector.

    Returns
    -------
    DataFrame
        ``year, seed_code, sector`` and the ACEL columns; ``attrs["banded_or_suppressed"]``
        counts the values left missing.
    """
    _require(acel, ["session", "stage", "seed_code", "organiser", "pct"], "ACEL")
    a = _plain(acel)
    stage = a["stage"].astype(str).str.strip().str.upper()
    sector = np.where(stage.str.startswith("S"), "secondary", "primary")
    org = a["organiser"].astype(str).str.strip().str.casefold().map(ACEL_ORGANISERS)
    unknown = org.isna()
    if unknown.any():
        first = a.index[unknown.to_numpy()][0]
        raise DataError(
            f"unknown organiser {a.loc[first, 'organiser']!r}.",
            table="ACEL",
            column="organiser",
            row=first,
            fix=f"organisers are {list(ACEL_ORGANISERS)}.",
        )
    long = pd.DataFrame(
        {
            "year": a["session"].map(_session_year).astype(int),
            "seed_code": a["seed_code"].astype(str),
            "sector": sector,
            "column": org,
            "pct": pd.to_numeric(a["pct"], errors="coerce").astype(float),
        }
    )
    if stats is not None:
        st = _plain(stats)[["year", "seed_code", "sector"]].astype({"seed_code": str})
        st["year"] = st["year"].astype(int)
        known = set(map(tuple, st[["year", "seed_code", "sector"]].to_numpy()))
        only = st.groupby(["year", "seed_code"])["sector"].agg(
            lambda s: s.iloc[0] if s.nunique() == 1 else None
        )
        miss = [
            (y, c, s) not in known
            for y, c, s in long[["year", "seed_code", "sector"]].to_numpy()
        ]
        alt = pd.MultiIndex.from_frame(long[["year", "seed_code"]]).map(only.to_dict().get)
        fix = np.array(miss) & pd.notna(np.asarray(alt, dtype=object))
        long.loc[fix, "sector"] = np.asarray(alt, dtype=object)[fix]
    wide = long.pivot_table(
        index=["year", "seed_code", "sector"], columns="column", values="pct",
        aggfunc="first", dropna=False,
    ).reset_index()
    wide.columns.name = None
    for col in ACEL_ORGANISERS.values():
        if col not in wide:
            wide[col] = np.nan
    wide.attrs["banded_or_suppressed"] = int(long["pct"].isna().sum())
    return wide[["year", "seed_code", "sector", *ACEL_ORGANISERS.values()]]
