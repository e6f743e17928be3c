"""The council's pupil-level extracts: schema, loading, validation and pseudonymisation.

Five tables describe the authority's own evidence (documented column by column in
``data/README.md``, section "Council pupil-level extracts"):

``schools``
    seed_code, school_name, sector, cluster (+ official columns when known).
``pupils``
    one row per pupil and session: pupil_id, seed_code, year, stage, sex, simd_decile,
    fsm, asn, eal, care_experienced.
``attendance``
    one row per pupil, session and term: possible_sessions, attended_sessions,
    exclusions (openings lost), exclusion_incidents.
``attainment``
    one row per pupil, session and organiser: on_track, tariff_points.
``supports``
    one row per support: support_id, pupil_id, cluster, provider, level, driver,
    start_date, end_date, status, sessions_planned, sessions_attended.

``year`` is always the calendar year in which the school session starts (2022 = session
2022/23, the September 2022 census). Terms: 1 = August-December, 2 = January-March,
3 = April-July.

Examples
--------
>>> ids = pseudonymise(["SCN0001", "SCN0002"], salt="a long secret kept elsewhere")
>>> ids[0].startswith("P") and len(ids[0]) == 17
True
"""

from __future__ import annotations

import hashlib
import hmac
import io
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from nlc_eval.data import schemas
from nlc_eval.data._text import decode_text
from nlc_eval.errors import DataError

TABLES = ("schools", "pupils", "attendance", "attainment", "supports")

#: Columns of each table and their kind: str, int, Int (nullable int), float, bool,
#: boolean (nullable bool), date.
COLUMNS: dict[str, dict[str, str]] = {
    "schools": {"seed_code": "str", "school_name": "str", "sector": "str", "cluster": "str"},
    "pupils": {"pupil_id": "str", "seed_code": "str", "year": "int", "stage": "str",
               "sex": "str", "simd_decile": "Int", "fsm": "bool", "asn": "bool", "eal": "bool",
               "care_experienced": "bool"},
    "attendance": {"pupil_id": "str", "year": "int", "term": "int", "possible_sessions": "int",
                   "attended_sessions": "int", "exclusions": "int",
                   "exclusion_incidents": "int"},
    "attainment": {"pupil_id": "str", "year": "int", "organiser": "str",
                   "on_track": "boolean", "tariff_points": "float"},
    "supports": {"support_id": "str", "pupil_id": "str", "cluster": "str", "provider": "str",
                 "level": "str", "driver": "str", "start_date": "date", "end_date": "date",
                 "status": "str", "sessions_planned": "int", "sessions_attended": "int"},
}
#: Optional official-style columns of ``schools`` and their kinds.
SCHOOL_OPTIONAL = {"year": "Int", "roll": "Int", "simd_q1": "Int", "simd_q2": "Int", "simd_q3": "Int",
                   "simd_q4": "Int", "simd_q5": "Int", "simd_unknown": "Int",
                   "fsm_pct": "float", "attendance_rate": "float", "asn": "Int", "eal": "Int"}
#: Columns that may be blank.
NULLABLE = {("pupils", "simd_decile"), ("attainment", "on_track"),
            ("attainment", "tariff_points"), ("supports", "end_date")}
_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}
#: Shortest salt :func:`pseudonymise` accepts.
MIN_SALT_LENGTH = 16


# ---------------------------------------------------------------------------
# School calendar
# ---------------------------------------------------------------------------

def session_of(dates) -> pd.Series:
    """School session (start year) of each date: 1 August to 31 July.

    Examples
    --------
    >>> session_of(pd.to_datetime(["2023-07-31", "2023-08-01"])).tolist()
    [2022, 2023]
    """
    d = pd.to_datetime(pd.Series(dates))
    return (d.dt.year - (d.dt.month < 8)).astype("Int64")


def term_of(dates) -> pd.Series:
    """Term of each date: 1 = August-December, 2 = January-March, 3 = April-July.

    Examples
    --------
    >>> term_of(pd.to_datetime(["2023-09-01", "2024-02-01", "2024-05-01"])).tolist()
    [1, 2, 3]
    """
    m = pd.to_datetime(pd.Series(dates)).dt.month
    return pd.Series(np.select([m >= 8, m <= 3], [1, 2], 3), index=m.index).where(
        m.notna()).astype("Int64")


# ---------------------------------------------------------------------------
# Pseudonymisation
# ---------------------------------------------------------------------------

def pseudonymise(ids: Iterable, salt: str | bytes, *, prefix: str = "P",
                 length: int = 16) -> list[str]:
    """Turn real pupil identifiers into stable keyed hashes.

    Each identifier (e.g. a Scottish Candidate Number) is stripped of surrounding white
    space and hashed with HMAC-SHA256 keyed by ``salt``; the first ``length`` hex digits,
    upper-cased, follow ``prefix``. The same identifier and salt always give the same
    pseudonym, so extracts from different systems or years still join; without the salt
    the pseudonyms cannot be reversed or recomputed from a list of candidate numbers.
    Keep the salt secret and outside the extract, and use one salt per data-sharing
    agreement.

    Parameters
    ----------
    ids : iterable
        Identifiers (converted with ``str``). Missing values are refused.
    salt : str or bytes
        Secret key, at least :data:`MIN_SALT_LENGTH` characters.
    prefix : str
        Text put before the hash (default ``"P"``).
    length : int
        Hex digits kept (8-64; default 16, i.e. 64 bits).

    Returns
    -------
    list of str

    Raises
    ------
    DataError
        Empty or short salt, a missing identifier, or two different identifiers sharing
        a pseudonym (only possible with a very short ``length``).
    """
    key = salt.encode() if isinstance(salt, str) else bytes(salt or b"")
    if len(key) < MIN_SALT_LENGTH:
        raise DataError(f"the pseudonymisation salt is {'empty' if not key else 'too short'} "
                        f"({len(key)} characters).",
                        fix=f"use a secret of at least {MIN_SALT_LENGTH} characters, kept "
                        "outside the extract (e.g. in the council's key store).")
    if not 8 <= int(length) <= 64:
        raise DataError(f"length={length} is outside 8-64 hex digits.", fix="use length=16.")
    out, seen = [], {}
    keyed = hmac.new(key, digestmod=hashlib.sha256)
    n = int(length)
    for i, raw in enumerate(ids):
        if raw is None or raw is pd.NA or (isinstance(raw, float) and np.isnan(raw)):
            raise DataError("an identifier is missing.", row=i,
                            fix="remove or complete the record before pseudonymising.")
        text = str(raw).strip()
        h = keyed.copy()
        h.update(text.encode())
        token = prefix + h.hexdigest()[:n].upper()
        if seen.setdefault(token, text) != text:
            raise DataError("two identifiers share a pseudonym.", row=i,
                            fix="use a larger length.")
        out.append(token)
    return out


# ---------------------------------------------------------------------------
# The extracts
# ---------------------------------------------------------------------------

@dataclass
class Extracts:
    """The five pupil-level tables, checked.

    Attributes
    ----------
    schools, pupils, attendance, attainment, supports : pandas.DataFrame
    sources : dict
        Table name -> file it was read from (empty for tables built in memory). Row
        numbers in errors are spreadsheet rows (header = row 1) for tables read from a
        file and index labels otherwise.
    """

    schools: pd.DataFrame
    pupils: pd.DataFrame
    attendance: pd.DataFrame
    attainment: pd.DataFrame
    supports: pd.DataFrame
    sources: dict[str, str] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The five tables by name."""
        return {t: getattr(self, t) for t in TABLES}

    def validate(self) -> Extracts:
        """Coerce types, check every schema and the cross-table rules; return a checked
        copy (see :func:`validate_extracts`)."""
        return validate_extracts(self)


def _where(ex: Extracts, table: str, index) -> dict:
    src = ex.sources.get(table)
    row = index
    if src is not None and isinstance(index, (int, np.integer)):
        row = int(index) + 2
    return {"file": src, "table": table, "row": row}


def _infer(s: pd.Series) -> pd.Series:
    """Type of an extra (undocumented) column read as text: numbers or true/false if every
    non-blank cell is one, else text unchanged."""
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return s
    txt = s.astype(str).str.strip().where(s.notna())
    blank = txt.isna() | (txt == "")
    if blank.all():
        return s
    num = pd.to_numeric(txt.where(~blank), errors="coerce")
    if not (num.isna() & ~blank).any():
        return num
    low = txt.str.lower()
    if low[~blank].isin({"true", "false"}).all() and not blank.any():
        return low == "true"
    return s


def _dates(s: pd.Series) -> pd.Series:
    """Parse ISO dates (``2023-09-01``, with or without a time) and UK dates
    (``01/09/2023`` = 1 September); anything else becomes NaT (and is reported)."""
    iso = pd.to_datetime(s, errors="coerce", format="ISO8601")
    uk = s.str.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}").fillna(False).astype(bool)
    if uk.any():
        iso[uk] = pd.to_datetime(s[uk], errors="coerce", format="%d/%m/%Y")
    return iso


def _coerce(df: pd.DataFrame, table: str, ex: Extracts) -> pd.DataFrame:
    cols = dict(COLUMNS[table])
    if table == "schools":
        cols.update({c: k for c, k in SCHOOL_OPTIONAL.items() if c in df.columns})
    missing = [c for c in COLUMNS[table] if c not in df.columns]
    if missing:
        raise DataError(f"required column {missing[0]!r} is missing "
                        f"({len(missing)} missing: {', '.join(missing)}).",
                        file=ex.sources.get(table), table=table, column=missing[0],
                        fix=f"add the column; the {table} table needs "
                        f"{', '.join(COLUMNS[table])} (see data/README.md).")
    out = df.copy()
    for col in out.columns:
        if col not in cols:
            out[col] = _infer(out[col])
    for col, kind in cols.items():
        s = out[col]
        textual = not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)
                       or pd.api.types.is_datetime64_any_dtype(s))
        if textual:
            s = s.astype(str).str.strip().where(s.notna())
            blank = s.isna() | (s == "")
        else:
            blank = s.isna()
        required = (table, col) not in NULLABLE and col in COLUMNS[table]
        if required and blank.any():
            i = s.index[blank.to_numpy()][0]
            raise DataError(f"{int(blank.sum())} blank value(s) in a required column.",
                            column=col, **_where(ex, table, i),
                            fix="fill every cell of this column; nothing is dropped "
                            "silently.")
        if kind == "str":
            txt = s.astype(str) if not textual else s
            if col == "seed_code":
                txt = txt.str.replace(r"\.0$", "", regex=True)
            out[col] = txt.astype(str)
            continue
        if kind == "date":
            val = _dates(s.where(~blank)) if textual else pd.to_datetime(s, errors="coerce")
        elif kind in ("bool", "boolean") and not textual:
            val = s.astype("boolean")
        elif kind in ("bool", "boolean"):
            low = s.str.lower()
            val = pd.Series(pd.NA, index=s.index, dtype="boolean")
            val[low.isin(_TRUE)] = True
            val[low.isin(_FALSE)] = False
        else:
            val = pd.to_numeric(s.where(~blank), errors="coerce")
        bad = val.isna() & ~blank
        if kind in ("int", "Int") and not bad.any():
            frac = val.notna() & (val % 1 != 0)
            bad = bad | frac
        if bad.any():
            i = s.index[bad.to_numpy()][0]
            expected = {"date": "a date (YYYY-MM-DD or DD/MM/YYYY)", "bool": "true/false (or yes/no, 1/0)",
                        "boolean": "true/false or blank", "int": "a whole number",
                        "Int": "a whole number or blank", "float": "a number"}[kind]
            raise DataError(f"{s[i]!r} is not {expected} ({int(bad.sum())} such value(s)).",
                            column=col, **_where(ex, table, i),
                            fix=f"correct the value to {expected}.")
        if kind == "int":
            out[col] = val.astype("int64")
        elif kind == "Int":
            out[col] = val.round().astype("Int64")
        elif kind == "bool":
            out[col] = val.astype(bool)
        elif kind == "boolean":
            out[col] = val
        elif kind == "float":
            out[col] = val.astype(float)
        else:
            out[col] = val.astype("datetime64[ns]")
    return out


def _schema_check(df: pd.DataFrame, table: str, ex: Extracts) -> None:
    try:
        schemas.EXTRACT_SCHEMAS[table].validate(df, lazy=True)
    except pa.errors.SchemaErrors as err:
        fc = err.failure_cases
        first = fc.iloc[0]
        col = first["column"] if isinstance(first["column"], str) else None
        idx = first["index"]
        idx = None if pd.isna(idx) else idx
        check = str(first["check"])
        allowed = ""
        if col is not None and table in schemas.EXTRACT_SCHEMAS:
            column = schemas.EXTRACT_SCHEMAS[table].columns.get(col)
            for c in getattr(column, "checks", []) or []:
                stats = getattr(c, "statistics", {}) or {}
                if "allowed_values" in stats:
                    allowed = f" Allowed values: {', '.join(map(str, stats['allowed_values']))}."
        where = _where(ex, table, idx) if idx is not None else {"file": ex.sources.get(table),
                                                                "table": table}
        raise DataError(
            f"value {first['failure_case']!r} fails the check {check} "
            f"({len(fc)} failure(s) in this table).{allowed}",
            column=col, **where,
            fix="correct the value (see data/README.md for the allowed values); for "
            "'unique' failures remove the duplicate rows.") from None


def _first(mask: pd.Series) -> object:
    return mask.index[mask.to_numpy()][0]


def _school_checks(ex: Extracts) -> None:
    """Optional official-style counts of ``schools`` fit within the school's roll."""
    sch = ex.schools
    if "roll" not in sch.columns:
        return
    roll = sch["roll"].astype("Float64")
    parts = [c for c in ("simd_q1", "simd_q2", "simd_q3", "simd_q4", "simd_q5",
                         "simd_unknown") if c in sch.columns]
    checks = [(sch[c].astype("Float64") > roll, c, f"{c} exceeds the roll")
              for c in [*parts, "asn", "eal"] if c in sch.columns]
    if len(parts) > 1:
        checks.append((sch[parts].astype("Float64").fillna(0).sum(axis=1) > roll, parts[0],
                       "the SIMD quintile counts add up to more than the roll"))
    for bad, col, msg in checks:
        bad = bad.fillna(False).astype(bool)
        if bad.any():
            i = _first(bad)
            raise DataError(f"{msg} ({int(bad.sum())} row(s)).", column=col,
                            **_where(ex, "schools", i),
                            fix="counts of a school's pupils cannot exceed its roll: check "
                            "the row (a shifted column or other units).")


def _cross_checks(ex: Extracts) -> None:
    _school_checks(ex)
    pupils = ex.pupils
    known_schools = set(ex.schools["seed_code"])
    bad = ~pupils["seed_code"].isin(known_schools)
    if bad.any():
        i = _first(bad)
        raise DataError(f"seed code {pupils.at[i, 'seed_code']!r} is not in the schools table "
                        f"({int(bad.sum())} row(s)).", column="seed_code",
                        **_where(ex, "pupils", i),
                        fix="add the school to schools or correct the seed code.")
    # integer codes for pupils make the membership tests fast on large extracts
    ids = pd.Index(pupils["pupil_id"].unique())
    on_roll = ids.get_indexer(pupils["pupil_id"]).astype(np.int64) * 10_000 + pupils["year"]
    on_roll = np.unique(on_roll.to_numpy())
    for table in ("attendance", "attainment", "supports"):
        df = getattr(ex, table)
        code = ids.get_indexer(df["pupil_id"]).astype(np.int64)
        bad = pd.Series(code < 0, index=df.index)
        if bad.any():
            i = _first(bad)
            raise DataError(f"pupil_id is not in the pupils table ({int(bad.sum())} row(s)).",
                            column="pupil_id", **_where(ex, table, i),
                            fix="add the pupil to pupils (one row per session on roll) or "
                            "remove the row; check both files used the same salt.")
        if "year" in df.columns:
            key = code * 10_000 + df["year"].to_numpy(np.int64)
            bad = pd.Series(~np.isin(key, on_roll), index=df.index)
            if bad.any():
                i = _first(bad)
                raise DataError(f"the pupil is not on roll in session {df.at[i, 'year']} "
                                f"({int(bad.sum())} row(s)).", column="year",
                                **_where(ex, table, i),
                                fix="add the pupil's row for that session to pupils or correct "
                                "the year (the year the session starts).")
    att = ex.attendance
    for bad, col, msg, fix in (
        (att["attended_sessions"] > att["possible_sessions"], "attended_sessions",
         "attended_sessions exceeds possible_sessions",
         "attended sessions must be at most the possible sessions."),
        (att["exclusions"] > att["possible_sessions"] - att["attended_sessions"], "exclusions",
         "openings lost to exclusion exceed the sessions not attended",
         "exclusions count openings lost; they must fit within the absences."),
        ((att["exclusions"] > 0) != (att["exclusion_incidents"] > 0), "exclusion_incidents",
         "openings lost and exclusion incidents disagree (one is zero, the other not)",
         "record the incidents that caused the openings lost, or neither."),
    ):
        if bad.any():
            i = _first(bad)
            raise DataError(f"{msg} ({int(bad.sum())} row(s)).", column=col,
                            **_where(ex, "attendance", i), fix=fix)
    sup = ex.supports
    years = pupils["year"]
    first_day = pd.Timestamp(int(years.min()), 8, 1)
    last_day = pd.Timestamp(int(years.max()) + 1, 7, 31)
    checks = [
        (sup["end_date"].notna() & (sup["end_date"] < sup["start_date"]), "end_date",
         "end_date is before start_date", "correct the dates (end on or after the start)."),
        (sup["sessions_attended"] > sup["sessions_planned"], "sessions_attended",
         "sessions_attended exceeds sessions_planned",
         "attended sessions must be at most the planned sessions."),
        (sup["status"].eq("ongoing") & sup["end_date"].notna(), "end_date",
         "an ongoing support has an end_date",
         "leave end_date blank for ongoing supports or set the status it ended with."),
        (sup["status"].ne("ongoing") & sup["end_date"].isna(), "end_date",
         "an ended support has no end_date", "give the date the support ended."),
        (~sup["cluster"].isin(set(ex.schools["cluster"])), "cluster",
         "the cluster is not in the schools table", "use the cluster names of the schools table."),
    ]
    for col in ("start_date", "end_date"):
        d = sup[col]
        checks.append((d.notna() & ((d < first_day) | (d > last_day)), col,
                       f"the date is outside the school years of the extract "
                       f"({first_day.date()} to {last_day.date()})",
                       "correct the date, or add the pupils' rows for that session."))
    for bad, col, msg, fix in checks:
        if bad.any():
            i = _first(bad)
            raise DataError(f"{msg} ({int(bad.sum())} row(s)).", column=col,
                            **_where(ex, "supports", i), fix=fix)


def validate_extracts(extracts: Extracts) -> Extracts:
    """Coerce, schema-check and cross-check the five tables.

    Checks: required columns and types; allowed values and ranges (pandera schemas in
    :mod:`nlc_eval.data.schemas`); unique keys; every pupil's school is in ``schools``;
    every ``pupil_id`` of attendance, attainment and supports is in ``pupils`` (and on
    roll in that session where the table has a year); attended <= possible sessions;
    openings lost to exclusion fit within absences; end_date >= start_date;
    sessions_attended <= sessions_planned; ongoing supports have no end date and ended
    ones have one; support dates inside the school years covered by ``pupils``;
    support clusters exist.

    Returns
    -------
    Extracts
        A copy with coerced dtypes.

    Raises
    ------
    DataError
        The first problem found, naming file (if read from disk), table, column, row and
        the fix. Nothing is dropped.
    """
    coerced = Extracts(**{t: _coerce(getattr(extracts, t), t, extracts) for t in TABLES},
                       sources=dict(extracts.sources))
    for t in TABLES:
        _schema_check(getattr(coerced, t), t, coerced)
    _cross_checks(coerced)
    return coerced


def _read(path: Path, table: str) -> pd.DataFrame:
    if path.suffix.lower() == ".csv":
        text = decode_text(path.read_bytes(), path, table=table)
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl's notes on parts it skips
            sheets = pd.read_excel(path, sheet_name=None, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty or has no header row.", file=path, table=table,
                        fix=f"write a header row with the {table} columns "
                        "(see data/README.md) and one row per record.") from None
    except Exception as exc:  # noqa: BLE001 - any reader failure becomes a DataError
        raise DataError(f"the file cannot be read ({type(exc).__name__}: {exc}).",
                        file=path, table=table,
                        fix="save it as CSV (UTF-8, UTF-16 or Windows-1252) or .xlsx with "
                        "a header row.") from None
    if not sheets:
        raise DataError("the workbook has no worksheets.", file=path, table=table,
                        fix=f"save the {table} table as the workbook's sheet {table!r}.")
    if table in sheets:
        return sheets[table]
    if len(sheets) != 1:
        raise DataError(f"the workbook has {len(sheets)} sheets and none is named {table!r}.",
                        file=path, table=table, fix=f"name the data sheet {table!r}.")
    return next(iter(sheets.values()))


def load_extracts(directory) -> Extracts:
    """Read and check the five tables from ``directory``.

    Each table is one file named after it: ``pupils.csv`` or ``pupils.xlsx`` (the sheet
    named after the table, or the only sheet). Values are read as text and converted
    with :func:`validate_extracts`, so a malformed cell is reported, never guessed.

    Parameters
    ----------
    directory : path-like

    Returns
    -------
    Extracts

    Raises
    ------
    DataError
        Missing folder or table, two files for one table, or any failed check (the
        message names the file, table, column, spreadsheet row and fix).
    """
    d = Path(directory).expanduser()
    if not d.is_dir():
        raise DataError("the extracts folder does not exist.", file=d,
                        fix="give the folder holding schools, pupils, attendance, attainment "
                        "and supports files.")
    frames, sources = {}, {}
    for table in TABLES:
        found = [d / f"{table}{ext}" for ext in (".csv", ".xlsx", ".xls")
                 if (d / f"{table}{ext}").is_file()]
        if not found:
            raise DataError(f"no file for the {table} table.", file=d / f"{table}.csv",
                            table=table, fix=f"add {table}.csv or {table}.xlsx to the folder.")
        if len(found) > 1:
            raise DataError(f"two files for the {table} table: "
                            f"{', '.join(p.name for p in found)}.", file=found[0], table=table,
                            fix="keep one of them.")
        frames[table] = _read(found[0], table)
        sources[table] = str(found[0])
    return validate_extracts(Extracts(**frames, sources=sources))
