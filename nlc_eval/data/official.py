"""Official Scottish Government school statistics, read exactly as published.

:func:`load_school_statistics` reads every edition of "School level summary statistics"
(2019-2023 as Excel, 2024 as CSV) into one tidy table with one row per
(year, seed_code, sector). The other official files have their own loaders:
:func:`load_acel`, :func:`load_simd_datazones`, :func:`load_school_locations`,
:func:`load_contact_list`.

Conventions of the tidy tables
------------------------------
- Seed codes are strings of digits. Counts are nullable integers (``Int64``), rates and
  percentages nullable floats (``Float64``) on a 0-100 scale, shares on a 0-1 scale.
- Published markers become NA, never zero: suppressed (``c``, ``C``, ``*``, ``[c]``),
  not applicable (``z``, ``#``), not available (``x``, ``X``, blank). Each row counts its
  suppressed cells (``n_suppressed``) and names them (``suppressed_columns``).
- Banded values stay bands: an urban/rural share published as ``90-100%`` keeps its text
  (``urban_pct_band``) and its ends (``urban_pct_low`` = 90, ``urban_pct_high`` = 100); no
  midpoint is invented.
- ``fsm_pct`` is the free-school-meal registration rate of the stages NOT universally
  entitled, and ``fsm_stages`` says which they are: ``P4-S6`` (2019, 2020), ``P5-S6``
  (2021), ``P6-S6`` (2022 on); each includes special-school pupils.
- ``local_authority`` is as published except that names which drift between editions
  are harmonised to the latest spelling (``City of Edinburgh`` -> ``Edinburgh City``, see
  ``LOCAL_AUTHORITY_ALIASES``); the report counts the rows renamed.
- ``attendance_session`` names the school session the attendance and absence rates
  describe: collection was biennial until 2022/23 and the 2020 and 2022 editions repeat
  the 2019 and 2021 figures (sessions 2018/19 and 2020/21). Deduplicate on it before
  treating attendance as a yearly series.
- Suppressed SIMD quintile counts are reconstructed (see :func:`reconstruct_simd`) and
  flagged in ``simd_q1_imputed`` ... ``simd_unknown_imputed``.

Bookkeeping
-----------
Every table returned carries ``df.attrs["nlc_eval_report"]``: a dict with, per year, the
file and sheet read, rows kept, rows excluded and why, cells suppressed per column, cells
reconstructed, and rows whose SIMD counts do not add up. ``nlc-eval data check`` prints it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from nlc_eval.data import _official_columns as oc
from nlc_eval.data._official_io import (
    FILE_PATTERNS,
    GOV_SCOT_SOURCES,
    RawTable,
    cached,
    check_format,
    clear_cache,
    file_key,
    find_official_file,
    find_official_files,
    read_raw,
    to_numeric,
    to_seed_code,
    to_text,
)
from nlc_eval.data._official_other import (
    LoadReport,
    load_acel,
    load_contact_list,
    load_school_locations,
    load_simd_datazones,
)
from nlc_eval.errors import DataError

__all__ = [
    "load_school_statistics",
    "load_acel",
    "load_simd_datazones",
    "load_school_locations",
    "load_contact_list",
    "find_official_files",
    "find_official_file",
    "reconstruct_simd",
    "load_report",
    "clear_cache",
    "FILE_PATTERNS",
    "GOV_SCOT_SOURCES",
    "SUPPRESSED_MAX",
]

#: a suppressed count lies in 0..SUPPRESSED_MAX (counts under 5 are withheld)
SUPPRESSED_MAX = 4
REPORT_KEY = "nlc_eval_report"


def load_school_statistics(source: str | os.PathLike,
                           years: Iterable[int] | int | None = None) -> pd.DataFrame:
    """Load the school-level summary statistics into one tidy school-year table.

    Parameters
    ----------
    source : path-like
        The folder of official files (files named
        ``school-level-summary-statistics-<year>.xlsx`` or ``.csv``), or one such file.
    years : int or iterable of int, optional
        Census years to load (e.g. ``2024``); default every year found.

    Returns
    -------
    pandas.DataFrame
        One row per (year, seed_code, sector), columns as in
        :data:`nlc_eval.data._official_columns.OUTPUT_COLUMNS`, validated against
        :data:`nlc_eval.data.schemas.SCHOOL_STATISTICS`. ``attrs["nlc_eval_report"]`` holds
        the loader's bookkeeping (see :func:`load_report`).

    Raises
    ------
    DataError
        A file is missing, empty, of unknown format, lacks a required column, has an
        unknown header, a non-numeric count, or a duplicated (year, seed_code, sector).

    Examples
    --------
    >>> df = load_school_statistics("../shared/data/scotgov", years=2024)  # doctest: +SKIP
    >>> df.query("local_authority == 'North Lanarkshire'").sector.value_counts()  # doctest: +SKIP
    """
    files = _statistics_files(Path(source), years)
    frames, reports = [], {}
    for year, path in sorted(files.items()):
        df = cached(("school_statistics", *file_key(path), year),
                    lambda path=path, year=year: _load_one_edition(path, year))
        reports[year] = df.attrs.get(REPORT_KEY, {}).get("years", {}).get(year, {})
        frames.append(df)
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    out.attrs = {REPORT_KEY: LoadReport({"table": "school_statistics", "years": reports})}
    return out


def load_report(frame: pd.DataFrame) -> dict:
    """The loader's bookkeeping attached to a table (empty dict if there is none)."""
    return frame.attrs.get(REPORT_KEY, {})


def _statistics_files(source: Path, years: Iterable[int] | int | None) -> dict[int, Path]:
    kind = "school_statistics"
    if source.is_file():
        check_format(source, kind)
        m = FILE_PATTERNS[kind][0].match(source.stem)
        if m is None:
            raise DataError(
                "cannot tell the census year from the file name.", file=source,
                fix=f"name the file as published: {FILE_PATTERNS[kind][2]}.")
        found = {int(m.group("key")): source}
    else:
        found = {int(k): v for k, v in find_official_files(source, kind).items()}
    if years is None:
        if not found:
            raise DataError(
                "no school-level summary statistics file found.", file=source,
                fix=f"download them from {GOV_SCOT_SOURCES[kind]} and keep the published "
                f"names ({FILE_PATTERNS[kind][2]}).")
        return found
    wanted = [int(years)] if isinstance(years, (int, np.integer)) else [int(y) for y in years]
    missing = [y for y in wanted if y not in found]
    if missing:
        raise DataError(
            f"no school-level summary statistics for {missing} (found {sorted(found)}).",
            file=source,
            fix=f"download the {missing} edition(s) from {GOV_SCOT_SOURCES[kind]} as "
            f"{FILE_PATTERNS[kind][2]}, or ask only for years that are there.")
    return {y: found[y] for y in wanted}


# ---------------------------------------------------------------------------
# One edition
# ---------------------------------------------------------------------------


def _map_headers(raw: RawTable) -> tuple[dict[str, int], dict[str, str], dict[str, str]]:
    """Map stable names to raw column positions; return (positions, published, fsm stages)."""
    positions: dict[str, int] = {}
    published: dict[str, str] = {}
    stages: dict[str, str] = {}
    unknown: list[str] = []
    for pos, header in enumerate(raw.headers):
        key = oc.normalise_header(header)
        if key == "":
            col = raw.frame[pos]
            blank = col.isna() | col.astype(str).str.strip().eq("")
            if not blank.all():
                first = int(np.flatnonzero(~blank.to_numpy())[0])
                raise DataError("a column without a header holds values.", file=raw.file,
                                sheet=raw.sheet, column=f"#{pos + 1}",
                                row=raw.row_number(first),
                                fix="give the file exactly as published.")
            continue
        name = oc.HEADER_ALIASES.get(key)
        if name is None:
            unknown.append(header)
            continue
        if "|" in name:
            name, stage = name.split("|")
            stages[name] = stage
        if name in positions:
            raise DataError(
                f"two columns map to {name!r}: {published[name]!r} and {header!r}.",
                file=raw.file, sheet=raw.sheet, column=header,
                fix="give the file exactly as published.")
        positions[name] = pos
        published[name] = header
    missing = [c for c in oc.REQUIRED if c not in positions]
    if unknown or missing:
        parts = []
        if missing:
            parts.append(f"required column(s) missing: {missing}")
        if unknown:
            parts.append(f"unknown header(s): {unknown}")
        raise DataError(
            "; ".join(parts) + ".", file=raw.file, sheet=raw.sheet,
            column=(unknown or missing)[0],
            fix="if gov.scot renamed a column, add the new spelling to HEADER_ALIASES in "
            "nlc_eval/data/_official_columns.py; otherwise restore the published header.")
    return positions, published, stages


def _data_rows(raw: RawTable, positions: dict[str, int]) -> tuple[pd.DataFrame, dict[str, int]]:
    """Split rows into school rows and excluded (blank, footnote) rows."""
    frame = raw.frame

    def filled(col: pd.Series) -> pd.Series:
        return col.notna() & col.astype(str).str.strip().ne("")

    sector_ok = filled(frame[positions["sector"]])
    roll_ok = filled(frame[positions["roll"]])
    # only rows without a school type and a roll can be blank or a note: count their cells
    candidates = frame[~sector_ok & ~roll_ok]
    n_filled = pd.Series(0, index=frame.index)
    if not candidates.empty:
        n_filled[candidates.index] = candidates.apply(filled).sum(axis=1)
    blank = ~sector_ok & ~roll_ok & (n_filled == 0)
    # a note under the table fills one or two cells, never the school type or the roll
    footnote = ~sector_ok & ~roll_ok & (n_filled > 0) & (n_filled <= 2)
    keep = ~blank & ~footnote
    excluded = {}
    if blank.any():
        excluded["blank rows"] = int(blank.sum())
    if footnote.any():
        excluded["footnote rows under the table"] = int(footnote.sum())
    return frame[keep], excluded


def _load_one_edition(path: Path, year: int) -> pd.DataFrame:
    raw = read_raw(path, header_keys={"seedcode", "seed code"})
    positions, published, stages = _map_headers(raw)
    rows, excluded = _data_rows(raw, positions)
    if rows.empty:
        raise DataError("the file holds no school rows.", file=path, sheet=raw.sheet,
                        fix="download the file again from gov.scot.")
    out = pd.DataFrame(index=rows.index)
    out["year"] = year
    suppressed: dict[str, pd.Series] = {}
    counts = {"not_applicable": 0, "not_available": 0}

    out["seed_code"] = to_seed_code(rows[positions["seed_code"]], table=raw,
                                    published=published["seed_code"])
    sector = to_text(rows[positions["sector"]]).str.lower()
    bad = ~sector.isin(list(oc.SECTORS)).fillna(False)
    if bad.any():
        label = bad[bad].index[0]
        raise DataError(f"school type {rows.at[label, positions['sector']]!r} is not Primary, "
                        "Secondary or Special.", file=path, sheet=raw.sheet,
                        column=published["sector"], row=raw.row_number(label),
                        fix="correct the school type.")
    out["sector"] = sector
    for name in oc.TEXT_COLUMNS:
        if name in positions:
            out[name] = to_text(rows[positions[name]])
    renamed = out["local_authority"].isin(list(oc.LOCAL_AUTHORITY_ALIASES)).fillna(False)
    out["local_authority"] = out["local_authority"].replace(oc.LOCAL_AUTHORITY_ALIASES)
    for name in oc.COUNT_COLUMNS + oc.FLOAT_COLUMNS:
        if name not in positions:
            continue
        res = to_numeric(rows[positions[name]], table=raw, column=name,
                         published=published[name], integer=name in oc.COUNT_COLUMNS)
        out[name] = res.values
        suppressed[name] = res.suppressed
        counts["not_applicable"] += int(res.not_applicable.sum())
        counts["not_available"] += int(res.not_available.sum())
    if out["roll"].isna().any():
        label = out.index[out["roll"].isna().to_numpy()][0]
        raise DataError("the pupil roll is missing.", file=path, sheet=raw.sheet,
                        column=published["roll"], row=raw.row_number(label),
                        fix="every school row needs its roll; correct the cell.")
    out["attendance_session"] = pd.Series(oc.attendance_session(year), index=out.index,
                                          dtype="string")
    out["fsm_stages"] = pd.Series(stages.get("fsm_pct"), index=out.index, dtype="string")
    out["fsm_universal_stages"] = pd.Series(stages.get("fsm_universal_pct"), index=out.index,
                                            dtype="string")
    for band in oc.URBAN_BANDS:
        name = f"{band}_pct_band"
        if name in positions:
            _add_band(out, rows[positions[name]], band, raw, published[name])

    n_dupes = _check_key(out, raw, published)
    _check_consistency(out, raw, published, suppressed)
    simd = reconstruct_simd(out, {c: suppressed[c] for c in oc.SIMD_CELLS})
    for col in simd.columns:
        out[col] = simd[col]
    out["simd_sum_mismatch"] = out["simd_sum_mismatch"].astype("boolean")
    supp_frame = pd.DataFrame(suppressed)
    out["n_suppressed"] = supp_frame.sum(axis=1).astype("Int64")
    names = np.array(supp_frame.columns)
    out["suppressed_columns"] = pd.Series(
        [",".join(names[m]) for m in supp_frame.to_numpy()], index=out.index, dtype="string")
    for name in oc.OUTPUT_COLUMNS:
        if name not in out:
            out[name] = _empty_like(name, len(out), out.index)
    file_rows = [raw.row_number(i) for i in out.index]
    out = out[oc.OUTPUT_COLUMNS].reset_index(drop=True)
    out["year"] = out["year"].astype("int64")

    from nlc_eval.data.schemas import SCHOOL_STATISTICS, validate_official_table

    out = validate_official_table(out, SCHOOL_STATISTICS, file=path, sheet=raw.sheet,
                                  file_rows=file_rows)
    report = {
        "file": path.name,
        "sheet": raw.sheet,
        "header_row": raw.first_row - 1,
        "rows_kept": int(len(out)),
        "excluded": excluded,
        "duplicate_keys": n_dupes,
        "suppressed_cells": int(supp_frame.to_numpy().sum()),
        "suppressed_by_column": {k: int(v.sum()) for k, v in suppressed.items() if v.any()},
        "not_applicable_cells": counts["not_applicable"],
        "not_available_cells": counts["not_available"],
        **simd.attrs.get("simd_report", {}),
        "fsm_stages": stages.get("fsm_pct"),
        "attendance_session": oc.attendance_session(year),
        "local_authority_renamed": int(renamed.sum()),
    }
    out.attrs = {REPORT_KEY: LoadReport({"table": "school_statistics",
                                         "years": {year: report}})}
    return out


def _empty_like(name: str, n: int, index: pd.Index) -> pd.Series:
    if name in oc.COUNT_COLUMNS:
        return pd.Series(pd.NA, index=index, dtype="Int64")
    if name in oc.FLOAT_COLUMNS or name.endswith(("_low", "_high")):
        return pd.Series(pd.NA, index=index, dtype="Float64")
    return pd.Series(pd.NA, index=index, dtype="string")


def _add_band(out: pd.DataFrame, raw_col: pd.Series, band: str, raw: RawTable,
              published: str) -> None:
    text = to_text(raw_col)
    lows, highs = [], []
    for label, value in text.items():
        if pd.isna(value):
            lows.append(np.nan)
            highs.append(np.nan)
            continue
        if oc.classify_marker(value) == "suppressed":
            text[label] = pd.NA
            lows.append(np.nan)
            highs.append(np.nan)
            continue
        parsed = oc.parse_band(value)
        if parsed is None:
            raise DataError(f"{value!r} is not a percentage band like '90-100%'.",
                            file=raw.file, sheet=raw.sheet, column=published,
                            row=raw.row_number(label), fix="correct the cell.")
        lows.append(parsed[0])
        highs.append(parsed[1])
    out[f"{band}_pct_band"] = text
    out[f"{band}_pct_low"] = pd.array(lows, dtype="Float64")
    out[f"{band}_pct_high"] = pd.array(highs, dtype="Float64")


def _check_key(out: pd.DataFrame, raw: RawTable, published: dict[str, str]) -> int:
    dup = out.duplicated(["year", "seed_code", "sector"], keep="first")
    if dup.any():
        label = dup[dup].index[0]
        code, sector = out.at[label, "seed_code"], out.at[label, "sector"]
        raise DataError(
            f"seed code {code} appears twice as a {sector} school "
            f"({int(dup.sum())} duplicated (year, seed_code, sector) key(s)).",
            file=raw.file, sheet=raw.sheet, column=published["seed_code"],
            row=raw.row_number(label),
            fix="remove the repeated row; a combined campus has one primary and one "
            "secondary row, never two of the same sector.")
    return 0


#: Counts that split the roll: their published values add up to at most the roll.
ROLL_PARTS = {
    "stage counts": oc.STAGES,
    "female and male": ["female", "male"],
    "pupils with and without an additional support need": ["asn", "no_asn"],
    "pupils with and without English as an additional language": ["eal", "no_eal"],
    "pupils taught and not taught in Gaelic": ["gaelic", "no_gaelic"],
    "ethnic groups": ["minority_ethnic", "white_british", "white_other",
                      "ethnicity_not_known"],
    "SIMD quintile counts": oc.SIMD_CELLS,
}
#: Attendance and absence rates of a school add up to at most 100 (less where part of
#: the absence is recorded otherwise; published to 1 or 2 decimal places).
RATE_PARTS = ["attendance_rate", "authorised_absence_rate", "unauthorised_absence_rate"]
RATE_TOLERANCE = 1.0


def _check_consistency(out: pd.DataFrame, raw: RawTable, published: dict[str, str],
                       suppressed: dict[str, pd.Series]) -> None:
    """Raise :class:`DataError` where one row's figures contradict each other.

    No count exceeds the roll; counts that split the roll (stages, sexes, SIMD quintiles,
    ...) add up to at most the roll (suppressed cells count as 0, their least value);
    attendance and absence rates add up to at most 100. The published editions 2019-2024
    all pass; a file that fails has been edited, shifted or re-saved in other units.
    """
    roll = out["roll"].astype("Float64")

    def fail(mask: pd.Series, column: str, message: str) -> None:
        label = out.index[mask.fillna(False).to_numpy(dtype=bool)][0]
        raise DataError(
            f"{message} ({int(mask.fillna(False).sum())} row(s)).", file=raw.file,
            sheet=raw.sheet, column=published.get(column, column), row=raw.row_number(label),
            fix="the figures of one school must agree with each other: check the row "
            "against the file published by gov.scot (a shifted column, an edit or other "
            "units).")

    for c in oc.COUNT_COLUMNS:
        if c == "roll" or c not in published:
            continue
        over = out[c].astype("Float64") > roll
        if over.fillna(False).any():
            label = out.index[over.fillna(False).to_numpy(dtype=bool)][0]
            fail(over, c, f"{c} = {out.at[label, c]} exceeds the pupil roll "
                 f"({out.at[label, 'roll']})")
    for what, cols in ROLL_PARTS.items():
        cols = [c for c in cols if c in published]
        if len(cols) < 2:
            continue
        total = out[cols].astype("Float64").fillna(0).sum(axis=1)
        over = total > roll
        if over.any():
            label = out.index[over.to_numpy(dtype=bool)][0]
            fail(over, cols[0], f"the {what} add up to {int(total[label])}, more than the "
                 f"pupil roll ({out.at[label, 'roll']})")
    if all(c in published for c in RATE_PARTS):
        total = out[RATE_PARTS].astype("Float64").sum(axis=1, min_count=3)
        parts = out[RATE_PARTS].astype("Float64")
        in_range = ((parts >= 0) & (parts <= 100)).all(axis=1)  # else the schema says so
        off = (total > 100 + RATE_TOLERANCE) & in_range
        if off.fillna(False).any():
            label = out.index[off.fillna(False).to_numpy(dtype=bool)][0]
            fail(off, RATE_PARTS[0], f"attendance and absence rates add up to "
                 f"{float(total[label]):g}%, more than 100%")


# ---------------------------------------------------------------------------
# SIMD reconstruction
# ---------------------------------------------------------------------------


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` whole units in proportion to ``weights`` (Hamilton's method)."""
    share = total * weights / weights.sum()
    fill = np.floor(share)
    left = int(total - fill.sum())
    if left:
        fill[np.argsort(-(share - fill), kind="stable")[:left]] += 1
    return fill


def reconstruct_simd(schools: pd.DataFrame, suppressed: dict[str, pd.Series]) -> pd.DataFrame:
    """Reconstruct suppressed SIMD quintile counts from the roll.

    The five quintile counts plus ``simd_unknown`` add up to the roll, and every
    suppressed count lies in 0-4. For a row with ``m`` suppressed cells and remainder
    ``r`` = roll - (sum of published cells):

    - if ``0 <= r <= 4 m`` the remainder is spread as evenly as possible: each suppressed
      cell gets ``r // m``, and the ``r % m`` leftover pupils go one each to the suppressed
      cells whose category is most common among the published counts of the same local
      authority and year (ties: lower quintile first, ``simd_unknown`` last). The row then
      sums exactly to its roll and each cell stays in 0-4 (``simd_status =
      'reconstructed'``).
    - if ``r > 4 m`` (secondary suppression: gov.scot also hid a larger count so the small
      one cannot be derived by subtraction, common in 2019-2023) the total ``r`` of the
      hidden cells is still known exactly; it is split in proportion to the authority-year
      totals of those categories (largest-remainder rounding; a single hidden cell simply
      takes ``r``). These rows have
      ``simd_status = 'reconstructed_wide'``: they sum to the roll, but which hidden cell
      holds the larger count is an estimate. Exclude them where that matters.
    - if ``r < 0`` (published cells already exceed the roll) nothing is invented: the
      cells stay NA and ``simd_status`` is ``'infeasible'``.

    Rows published complete but not summing to the roll keep their values and get
    ``simd_sum_mismatch = True``. Rows where SIMD is not collected (grant-aided schools)
    are ``'not_collected'``.

    Parameters
    ----------
    schools : DataFrame
        One edition: ``roll``, ``local_authority``, ``simd_q1`` .. ``simd_q5``,
        ``simd_unknown`` (NA where not published).
    suppressed : dict of boolean Series
        For each of those six columns, True where the published cell was suppressed.

    Returns
    -------
    DataFrame
        The six counts (reconstructed), ``*_imputed`` flags, ``simd_q1_share`` ..
        ``simd_q5_share`` (of pupils with a known quintile), ``simd_status`` and
        ``simd_sum_mismatch``; ``attrs["simd_report"]`` counts rows and cells.
    """
    cells = oc.SIMD_CELLS
    values = schools[cells].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    supp = np.column_stack([suppressed[c].to_numpy(dtype=bool) for c in cells])
    roll = schools["roll"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    other_na = np.isnan(values) & ~supp
    n_supp = supp.sum(axis=1)
    known_sum = np.nansum(np.where(supp, 0.0, values), axis=1)
    remainder = roll - known_sum
    not_collected = other_na.all(axis=1)
    partial_missing = other_na.any(axis=1) & ~not_collected
    has_supp = (n_supp > 0) & ~other_na.any(axis=1) & ~np.isnan(roll) & (remainder >= 0)
    narrow = has_supp & (remainder <= SUPPRESSED_MAX * n_supp)
    wide = has_supp & ~narrow

    # authority-level weights of each category (published counts only)
    la = schools["local_authority"].astype("string").fillna("").to_numpy()
    weights = pd.DataFrame(np.where(supp | np.isnan(values), 0.0, values), columns=cells)
    weights["la"] = la
    la_tot = weights.groupby("la")[cells].transform("sum").to_numpy(dtype=float, copy=True)
    # rank: larger authority weight first, then lower quintile first; unknown postcode last
    rank_w = la_tot.copy()
    rank_w[:, -1] = -1.0
    order_key = -rank_w + np.arange(len(cells))[None, :] * 1e-9

    new = values.copy()
    imputed = np.zeros_like(supp)
    for i in np.flatnonzero(has_supp):
        idx = np.flatnonzero(supp[i])
        r = int(round(remainder[i]))
        if wide[i]:
            fill = _largest_remainder(r, la_tot[i, idx] + 1.0)
        else:
            base, extra = divmod(r, len(idx))
            fill = np.full(len(idx), base, dtype=float)
            if extra:
                fill[np.argsort(order_key[i, idx], kind="stable")[:extra]] += 1
        new[i, idx] = fill
        imputed[i, idx] = True

    complete = (n_supp == 0) & ~other_na.any(axis=1)
    mismatch = complete & ~np.isnan(roll) & (np.abs(known_sum - roll) > 0.5)
    status = np.full(len(schools), "complete", dtype=object)
    status[(n_supp > 0) & ~has_supp] = "infeasible"
    status[narrow] = "reconstructed"
    status[wide] = "reconstructed_wide"
    status[partial_missing & (n_supp == 0)] = "incomplete"
    status[not_collected] = "not_collected"
    feasible = has_supp

    out = pd.DataFrame(index=schools.index)
    for j, c in enumerate(cells):
        out[c] = pd.array(np.where(np.isnan(new[:, j]), None, new[:, j]), dtype="Float64"
                          ).round().astype("Int64")
        out[f"{c}_imputed"] = pd.array(imputed[:, j], dtype="boolean")
    quint = new[:, :5]
    known = quint.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = quint / known[:, None]
    ok = ~np.isnan(quint).any(axis=1) & (known > 0)
    for j in range(5):
        col = np.where(ok, shares[:, j], np.nan)
        out[f"simd_q{j + 1}_share"] = pd.array(np.where(np.isnan(col), None, col),
                                               dtype="Float64")
    out["simd_status"] = pd.array(status, dtype="string")
    out["simd_sum_mismatch"] = mismatch
    out.attrs["simd_report"] = {
        "simd_rows_reconstructed": int(feasible.sum()),
        "simd_rows_reconstructed_wide": int(wide.sum()),
        "simd_cells_reconstructed": int(imputed.sum()),
        "simd_rows_infeasible": int(((n_supp > 0) & ~feasible).sum()),
        "simd_cells_left_suppressed": int(supp[(n_supp > 0) & ~feasible].sum()),
        "simd_rows_sum_mismatch": int(mismatch.sum()),
        "simd_rows_not_collected": int(not_collected.sum()),
    }
    return out
