"""Loaders of the other official files: ACEL, SIMD data zones, roll and locations, contacts.

Re-exported by :mod:`nlc_eval.data.official`; see there for the conventions (markers to
NA with flags, bands kept as bands, seed codes as digit strings, bookkeeping in
``df.attrs["nlc_eval_report"]``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from nlc_eval.data import _official_columns as oc
from nlc_eval.data._official_io import (
    FILE_PATTERNS,
    RawTable,
    cached,
    file_key,
    find_official_file,
    read_raw,
    to_numeric,
    to_seed_code,
    to_text,
)
from nlc_eval.errors import DataError

REPORT_KEY = "nlc_eval_report"


class LoadReport(dict):
    """The loader's bookkeeping for a table, kept in ``DataFrame.attrs``.

    pandas deep-copies ``attrs`` on every operation that returns a new frame; this report is
    written once by the loader and only read afterwards, so copies share it (about 20% of
    the time of filtering the six-year table went into copying it as a plain dict).
    """

    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self


def _columns(raw: RawTable, mapping: dict[str, str], required: list[str],
             table: str) -> dict[str, int]:
    """Map stable names to raw positions via normalised headers; check required ones."""
    positions: dict[str, int] = {}
    for pos, header in enumerate(raw.headers):
        key = oc.normalise_header(header)
        if key in mapping:
            positions[mapping[key]] = pos
    missing = [c for c in required if c not in positions]
    if missing:
        wanted = {v: k for k, v in mapping.items()}
        raise DataError(
            f"required column(s) missing from the {table} file: "
            f"{[wanted.get(m, m) for m in missing]}.",
            file=raw.file, sheet=raw.sheet, column=wanted.get(missing[0], missing[0]),
            fix="give the file exactly as published by gov.scot (headers unchanged).")
    return positions


def _body(raw: RawTable) -> tuple[pd.DataFrame, int]:
    """Data rows without the blank ones, and how many blank rows were dropped."""
    frame = raw.frame
    filled = frame.notna() & frame.astype(str).apply(lambda c: c.str.strip().ne(""))
    keep = filled.any(axis=1)
    rows = frame[keep]
    if rows.empty:
        raise DataError("the file holds no data rows.", file=raw.file, sheet=raw.sheet,
                        fix="download the file again from gov.scot.")
    return rows, int((~keep).sum())


def _bands(text: pd.Series, raw: RawTable, published: str) -> tuple[pd.Series, ...]:
    """Split band text into (band text, low, high, suppressed) columns."""
    band = text.copy()
    low = np.full(len(text), np.nan)
    high = np.full(len(text), np.nan)
    supp = np.zeros(len(text), dtype=bool)
    for k, (label, value) in enumerate(text.items()):
        if pd.isna(value):
            continue
        if oc.classify_marker(value) == "suppressed":
            supp[k] = True
            band[label] = pd.NA
            continue
        parsed = oc.parse_band(value)
        if parsed is None:
            raise DataError(f"{value!r} is neither a percentage band nor a known marker.",
                            file=raw.file, sheet=raw.sheet, column=published,
                            row=raw.row_number(label), fix="correct the cell.")
        low[k], high[k] = parsed
    return (band, pd.array(low, dtype="Float64").astype("Float64"),
            pd.array(np.where(np.isnan(high), None, high), dtype="Float64"),
            pd.array(supp, dtype="boolean"))


def _finish(out: pd.DataFrame, schema_name: str, raw: RawTable, report: dict) -> pd.DataFrame:
    from nlc_eval.data import schemas

    file_rows = [raw.row_number(i) for i in out.index]
    out = out.reset_index(drop=True)
    out = schemas.validate_official_table(out, getattr(schemas, schema_name), file=raw.file,
                                          sheet=raw.sheet, file_rows=file_rows)
    out.attrs = {REPORT_KEY: LoadReport({"table": schema_name.lower(), "file": raw.file.name,
                                         "sheet": raw.sheet, "rows_kept": int(len(out)),
                                         **report})}
    return out


# ---------------------------------------------------------------------------
# ACEL
# ---------------------------------------------------------------------------

_ACEL_COLUMNS = {
    "stage": "stage", "la name": "local_authority", "seed code": "seed_code",
    "school name": "school_name", "organiser": "organiser",
    "percentage achieved expected level": "value",
}


def load_acel(path: str | os.PathLike, session: str | None = None) -> pd.DataFrame:
    """Achievement of Curriculum for Excellence Levels by school.

    Parameters
    ----------
    path : path-like
        ``acel-<yyyy-yy>-schools.csv`` or the folder holding it.
    session : str, optional
        School session such as ``"2021/22"``; default read from the file name.

    Returns
    -------
    DataFrame
        One row per (seed_code, stage, organiser): ``pct`` where a number is published;
        ``pct_low``/``pct_high`` always (equal to ``pct`` for a number, the band's ends for
        a band such as ``95-100%``); ``pct_band`` (the band text), ``banded`` and
        ``suppressed`` (``[c]``) flags. A band never becomes a made-up number.
    """
    file = find_official_file(path, "acel")
    if session is None:
        m = FILE_PATTERNS["acel"][0].match(file.stem)
        if m is None:
            raise DataError("cannot tell the school session from the file name.", file=file,
                            fix="pass session='2021/22' or keep the published file name.")
        session = m.group("key").replace("-", "/")
    return cached(("acel", *file_key(file), session), lambda: _load_acel(file, session))


def _load_acel(file: Path, session: str) -> pd.DataFrame:
    raw = read_raw(file, header_keys={"seed code"})
    pos = _columns(raw, _ACEL_COLUMNS, list(_ACEL_COLUMNS.values()), "ACEL")
    rows, n_blank = _body(raw)
    out = pd.DataFrame(index=rows.index)
    out["session"] = pd.Series(session, index=rows.index, dtype="string")
    out["stage"] = to_text(rows[pos["stage"]])
    out["local_authority"] = to_text(rows[pos["local_authority"]])
    out["seed_code"] = to_seed_code(rows[pos["seed_code"]], table=raw,
                                    published=raw.headers[pos["seed_code"]])
    out["school_name"] = to_text(rows[pos["school_name"]])
    out["organiser"] = to_text(rows[pos["organiser"]])
    value = rows[pos["value"]]
    published = raw.headers[pos["value"]]
    as_text = value.map(lambda v: None if v is None else str(v).strip())
    band_mask = as_text.str.contains("-", regex=False, na=False) & ~as_text.str.match(
        r"^-?\d+(\.\d+)?$", na=False)
    plain = value.where(~band_mask, None)
    res = to_numeric(plain, table=raw, column="pct", published=published)
    band_text = to_text(value.where(band_mask, None))
    band, low, high, _ = _bands(band_text, raw, published)
    out["pct"] = res.values
    out["pct_low"] = res.values.where(~band_mask, low)
    out["pct_high"] = res.values.where(~band_mask, high)
    out["pct_band"] = band
    out["banded"] = pd.array(band_mask.to_numpy(), dtype="boolean")
    out["suppressed"] = pd.array(res.suppressed.to_numpy(), dtype="boolean")
    dup = out.duplicated(["seed_code", "stage", "organiser"])
    if dup.any():
        label = dup[dup].index[0]
        raise DataError("the same (seed code, stage, organiser) appears twice.", file=file,
                        column=raw.headers[pos["seed_code"]], row=raw.row_number(label),
                        fix="remove the repeated row.")
    report = {"excluded": {"blank rows": n_blank} if n_blank else {},
              "suppressed_cells": int(res.suppressed.sum()),
              "banded_cells": int(band_mask.sum()),
              "not_applicable_cells": int(res.not_applicable.sum())}
    return _finish(out, "ACEL", raw, report)


# ---------------------------------------------------------------------------
# SIMD data zones
# ---------------------------------------------------------------------------

_SIMD_PREFIX = re.compile(r"^simd_?\d{4}(?:v\d+)?_")
_SIMD_CORE = {"rank", "percentile", "vigintile", "decile", "quintile"}


def _simd_name(header: str) -> str:
    key = oc.normalise_header(header).replace(" ", "_")
    stripped = _SIMD_PREFIX.sub("", key)
    if stripped in _SIMD_CORE:
        return f"simd_{stripped}"
    return stripped


def load_simd_datazones(path: str | os.PathLike) -> pd.DataFrame:
    """Scottish Index of Multiple Deprivation, one row per data zone.

    Columns: ``data_zone``, ``intermediate_zone``, ``council_area``, populations,
    ``simd_rank``, ``simd_percentile``, ``simd_vigintile``, ``simd_decile``,
    ``simd_quintile``, the domain ranks (``income_domain_rank`` ...) and the indicators
    under their published lower-case names. Percent strings (``8%``) become numbers on a
    0-100 scale; suppressed indicators (``*``) are NA and counted in the report.
    """
    file = find_official_file(path, "simd")
    return cached(("simd", *file_key(file)), lambda: _load_simd(file))


def _load_simd(file: Path) -> pd.DataFrame:
    raw = read_raw(file, header_keys={"data_zone", "datazone", "data zone"})
    names = [_simd_name(h) for h in raw.headers]
    if names.count("datazone") and "data_zone" not in names:
        names[names.index("datazone")] = "data_zone"
    required = ["data_zone", "intermediate_zone", "council_area", "total_population",
                "working_age_population", "simd_rank", "simd_percentile", "simd_vigintile",
                "simd_decile", "simd_quintile"]
    missing = [c for c in required if c not in names]
    if missing:
        raise DataError(f"required column(s) missing from the SIMD file: {missing}.",
                        file=file, column=missing[0],
                        fix="give the SIMD data-zone file exactly as published.")
    rows, n_blank = _body(raw)
    out = pd.DataFrame(index=rows.index)
    suppressed: dict[str, int] = {}
    for pos, name in enumerate(names):
        if name == "":
            continue
        if name in ("data_zone", "intermediate_zone", "council_area"):
            out[name] = to_text(rows[pos])
            continue
        res = to_numeric(rows[pos], table=raw, column=name, published=raw.headers[pos],
                         integer=name in required or name.endswith("_count"))
        out[name] = res.values
        if res.suppressed.any():
            suppressed[name] = int(res.suppressed.sum())
    _check_simd_bands(out, raw, names)
    report = {"excluded": {"blank rows": n_blank} if n_blank else {},
              "suppressed_cells": int(sum(suppressed.values())),
              "suppressed_by_column": suppressed}
    return _finish(out, "SIMD_DATAZONES", raw, report)


#: Data zones ranked by SIMD 2016 and SIMD 2020 (the 2011 data zones).
SIMD_DATA_ZONES = 6976


def _check_simd_bands(out: pd.DataFrame, raw: RawTable, names: list[str]) -> None:
    """Rank, percentile, vigintile, decile and quintile of each zone must agree.

    With ``N`` = :data:`SIMD_DATA_ZONES` zones, rank ``r`` (1 = most deprived) lies in
    percentile ``ceil(100 r / N)``, vigintile ``ceil(20 r / N)``, decile ``ceil(10 r / N)``
    and quintile ``ceil(5 r / N)``; the working-age population is part of the total.
    Every row of the published SIMD 2020v2 file passes.
    """
    rank = out["simd_rank"].astype("Float64")
    checks = [(rank > SIMD_DATA_ZONES, "simd_rank",
               f"the rank is above the {SIMD_DATA_ZONES} data zones ranked")]
    for name, steps in (("simd_percentile", 100), ("simd_vigintile", 20),
                        ("simd_decile", 10), ("simd_quintile", 5)):
        expected = np.ceil(rank.to_numpy(dtype=float, na_value=np.nan) * steps
                           / SIMD_DATA_ZONES)
        got = out[name].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        checks.append((pd.Series(~np.isnan(expected) & ~np.isnan(got) & (expected != got),
                                 index=out.index), name,
                       f"{name} does not match the rank (rank r is in band "
                       f"ceil({steps} r / {SIMD_DATA_ZONES}))"))
    checks.append((out["working_age_population"].astype("Float64")
                   > out["total_population"].astype("Float64"), "working_age_population",
                   "the working-age population exceeds the total population"))
    for bad, name, message in checks:
        bad = bad.fillna(False).astype(bool)
        if bad.any():
            label = bad.index[bad.to_numpy()][0]
            raise DataError(f"{message} ({int(bad.sum())} row(s)).", file=raw.file,
                            column=raw.headers[names.index(name)], row=raw.row_number(label),
                            fix="give the SIMD data-zone file exactly as published (a column "
                            "shifted or edited).")


# ---------------------------------------------------------------------------
# School roll and locations
# ---------------------------------------------------------------------------

_LOCATION_COLUMNS = {
    "seedcode": "seed_code", "schuid": "school_uid", "schooltype": "sector",
    "centretype": "centre_type", "schoolname": "school_name",
    "addressline1": "address_line1", "addressline2": "address_line2",
    "addressline3": "address_line3", "postcode": "postcode", "laname": "local_authority",
    "lacode": "la_code", "datazone": "data_zone", "uprn": "uprn", "email": "email",
    "phone": "phone", "website": "website", "denomination": "denomination",
    "fteteacher": "fte_teachers", "pupilroll": "roll",
    "proppupilsminorityethnic": "minority_ethnic_pct",
    "proppupils20pcmostdeprived": "simd20_pct",
    "dzsimdpercentile": "dz_simd_percentile", "dzsimdmostdep15pct": "dz_most_deprived_15pct",
    "dzsimdmostdep16_25pct": "dz_most_deprived_16_25pct",
    "dzsimdmostdep25pct": "dz_most_deprived_25pct", "addrur8": "address_urban_rural_8fold",
    "addrur6": "address_urban_rural_6fold", "addrur8desc": "address_urban_rural_8fold_desc",
    "addrur6desc": "address_urban_rural_6fold_desc", "dzur8": "dz_urban_rural_8fold",
    "dzur6": "dz_urban_rural_6fold", "dzur8desc": "dz_urban_rural_8fold_desc",
    "dzur6desc": "dz_urban_rural_6fold_desc", "gridrefeasting": "easting",
    "gridrefnorthing": "northing", "latitude": "latitude", "longitude": "longitude",
    "notes": "notes",
}
_LOCATION_REQUIRED = ["seed_code", "sector", "school_name", "local_authority", "denomination",
                      "roll", "latitude", "longitude"]
_LOCATION_NUMERIC = {"fte_teachers": False, "roll": True, "dz_simd_percentile": True,
                     "address_urban_rural_8fold": True, "address_urban_rural_6fold": True,
                     "dz_urban_rural_8fold": True, "dz_urban_rural_6fold": True,
                     "easting": False, "northing": False, "latitude": False,
                     "longitude": False}


def load_school_locations(path: str | os.PathLike) -> pd.DataFrame:
    """School roll and locations: one row per (seed_code, sector) with coordinates.

    Banded shares (``PropPupils20PCMostDeprived`` such as ``50 - <55%``, the minority
    ethnic share such as ``>20%``) keep their text in ``*_band`` and their ends in
    ``*_low``/``*_high``; ``*`` (suppressed) is NA with a ``*_suppressed`` flag. ``Y``/``N``
    flags become booleans.
    """
    file = find_official_file(path, "locations")
    return cached(("locations", *file_key(file)), lambda: _load_locations(file))


def _load_locations(file: Path) -> pd.DataFrame:
    raw = read_raw(file, header_keys={"seedcode"})
    pos = _columns(raw, _LOCATION_COLUMNS, _LOCATION_REQUIRED, "school roll and locations")
    rows, n_blank = _body(raw)
    out = pd.DataFrame(index=rows.index)
    out["seed_code"] = to_seed_code(rows[pos["seed_code"]], table=raw,
                                    published=raw.headers[pos["seed_code"]])
    suppressed = {}
    for name, p in pos.items():
        published = raw.headers[p]
        if name == "seed_code":
            continue
        if name in _LOCATION_NUMERIC:
            res = to_numeric(rows[p], table=raw, column=name, published=published,
                             integer=_LOCATION_NUMERIC[name])
            out[name] = res.values
        elif name in ("minority_ethnic_pct", "simd20_pct"):
            band, low, high, supp = _bands(to_text(rows[p]), raw, published)
            out[f"{name}_band"], out[f"{name}_low"], out[f"{name}_high"] = band, low, high
            out[f"{name}_suppressed"] = supp
            suppressed[name] = int(np.asarray(supp).sum())
        elif name.startswith("dz_most_deprived"):
            text = to_text(rows[p]).str.upper()
            bad = text.notna() & ~text.isin(["Y", "N"])
            if bad.any():
                label = bad[bad].index[0]
                raise DataError(f"{rows.at[label, p]!r} is not Y or N.", file=file,
                                column=published, row=raw.row_number(label),
                                fix="correct the cell.")
            out[name] = text.map({"Y": True, "N": False}).astype("boolean")
        elif name in ("uprn", "la_code", "data_zone", "school_uid"):
            out[name] = to_text(rows[p].map(
                lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else v))
        else:
            out[name] = to_text(rows[p])
    out["sector"] = out["sector"].str.lower()
    dup = out.duplicated(["seed_code", "sector"])
    if dup.any():
        label = dup[dup].index[0]
        raise DataError(f"seed code {out.at[label, 'seed_code']} appears twice as a "
                        f"{out.at[label, 'sector']} school.", file=file,
                        column=raw.headers[pos["seed_code"]], row=raw.row_number(label),
                        fix="remove the repeated row.")
    report = {"excluded": {"blank rows": n_blank} if n_blank else {},
              "suppressed_cells": int(sum(suppressed.values())),
              "suppressed_by_column": suppressed,
              "rows_without_coordinates": int(out["latitude"].isna().sum())}
    return _finish(out, "SCHOOL_LOCATIONS", raw, report)


# ---------------------------------------------------------------------------
# Contact list
# ---------------------------------------------------------------------------

_CONTACT_COLUMNS = {
    "seed code": "seed_code", "la name": "local_authority", "centre type": "centre_type",
    "school name": "school_name", "address line1": "address_line1",
    "address line2": "address_line2", "address line3": "address_line3",
    "post code": "postcode", "unique property reference number (uprn)": "uprn",
    "email": "email", "phone number": "phone", "website address": "website",
    "pre-school department": "pre_school_department",
    "primary department": "primary_department",
    "secondary department": "secondary_department",
    "special department": "special_department",
    "provision for gaelic learners": "gaelic_provision",
    "medium of education": "medium_of_education",
    "meeting the pe target (2 hours primary, 2 periods secondary)": "meets_pe_target",
    "number of half day openings per week": "half_day_openings",
    "integrated special unit": "integrated_special_unit", "denomination": "denomination",
}
_CONTACT_REQUIRED = ["seed_code", "local_authority", "school_name", "primary_department",
                     "secondary_department", "special_department", "denomination"]
_YES_NO = ["pre_school_department", "primary_department", "secondary_department",
           "special_department", "gaelic_provision", "meets_pe_target",
           "integrated_special_unit"]


def load_contact_list(path: str | os.PathLike, sheet: str = "Open Schools") -> pd.DataFrame:
    """The official school contact list: open schools, one row per seed code.

    ``Yes``/``No`` columns become booleans (blank stays NA); the licence text and title
    rows above the header are skipped. Other sheets (``Schools renamed``, ``Schools
    Opened or closed``) can be named with ``sheet`` but must have the same headers.
    """
    file = find_official_file(path, "contacts")
    return cached(("contacts", *file_key(file), sheet), lambda: _load_contacts(file, sheet))


def _load_contacts(file: Path, sheet: str) -> pd.DataFrame:
    raw = read_raw(file, header_keys={"seed code"}, sheet=sheet)
    pos = _columns(raw, _CONTACT_COLUMNS, _CONTACT_REQUIRED, "contact list")
    rows, n_blank = _body(raw)
    out = pd.DataFrame(index=rows.index)
    for name, p in pos.items():
        published = raw.headers[p]
        if name == "seed_code":
            out[name] = to_seed_code(rows[p], table=raw, published=published)
        elif name == "half_day_openings":
            out[name] = to_numeric(rows[p], table=raw, column=name, published=published,
                                   integer=True).values
        elif name in _YES_NO:
            text = to_text(rows[p]).str.lower()
            bad = text.notna() & ~text.isin(["yes", "no"])
            if bad.any():
                label = bad[bad].index[0]
                raise DataError(f"{rows.at[label, p]!r} is not Yes or No.", file=file,
                                sheet=raw.sheet, column=published, row=raw.row_number(label),
                                fix="correct the cell.")
            out[name] = text.map({"yes": True, "no": False}).astype("boolean")
        elif name == "uprn":
            out[name] = to_text(rows[p].map(lambda v: str(v) if isinstance(v, int) else v))
        else:
            out[name] = to_text(rows[p])
    for name in ("primary_department", "secondary_department", "special_department"):
        if out[name].isna().any():
            label = out.index[out[name].isna().to_numpy()][0]
            raise DataError("the department flag is blank.", file=file, sheet=raw.sheet,
                            column=raw.headers[pos[name]], row=raw.row_number(label),
                            fix="fill in Yes or No.")
    dup = out["seed_code"].duplicated()
    if dup.any():
        label = dup[dup].index[0]
        raise DataError(f"seed code {out.at[label, 'seed_code']} appears twice.", file=file,
                        sheet=raw.sheet, column=raw.headers[pos["seed_code"]],
                        row=raw.row_number(label), fix="remove the repeated row.")
    report = {"excluded": {"blank rows": n_blank} if n_blank else {}}
    return _finish(out, "CONTACT_LIST", raw, report)
