"""Finding, reading and caching the official gov.scot files.

Files are found in a folder by their published names (see :data:`FILE_PATTERNS`), read as
raw cells (nothing converted yet) and cached in-process keyed on (path, modification time,
size), so a second load of an unchanged file costs a dictionary look-up and a copy.
"""

from __future__ import annotations

import csv
import io
import os
import re
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from nlc_eval.data._official_columns import (
    MARKER_CLASSES,
    classify_marker,
    clean_text,
    normalise_header,
)
from nlc_eval.data._text import decode_text
from nlc_eval.data._xlsx import read_sheet
from nlc_eval.errors import DataError

#: kind -> (regex on the file name without extension, accepted extensions, description)
FILE_PATTERNS: dict[str, tuple[re.Pattern, tuple[str, ...], str]] = {
    "school_statistics": (
        re.compile(r"^school-level-summary-statistics-(?P<key>\d{4})$", re.I),
        (".xlsx", ".csv"),
        "school-level-summary-statistics-<year>.xlsx|csv",
    ),
    "acel": (
        re.compile(r"^acel-(?P<key>\d{4}-\d{2})-schools$", re.I),
        (".csv",),
        "acel-<yyyy-yy>-schools.csv",
    ),
    "simd": (
        re.compile(r"^simd(?P<key>\d{4}(?:v\d+)?)-datazones$", re.I),
        (".csv",),
        "simd<year>[v<n>]-datazones.csv",
    ),
    "locations": (
        re.compile(r"^school-roll-and-locations-(?P<key>\d{4})$", re.I),
        (".csv",),
        "school-roll-and-locations-<year>.csv",
    ),
    "contacts": (
        re.compile(r"^school-contact-list-(?P<key>\d{4}-\d{2}-\d{2})$", re.I),
        (".xlsx",),
        "school-contact-list-<yyyy-mm-dd>.xlsx",
    ),
}

GOV_SCOT_SOURCES = {
    "school_statistics": "https://www.gov.scot/publications/school-level-summary-statistics/",
    "acel": "https://www.gov.scot/publications/achievement-curriculum-excellence-cfe-levels-"
    "2021-22/",
    "simd": "https://www.gov.scot/collections/scottish-index-of-multiple-deprivation-2020/",
    "locations": "https://www.gov.scot/publications/school-contact-details/",
    "contacts": "https://www.gov.scot/publications/school-contact-details/",
}


def find_official_files(folder: str | os.PathLike, kind: str) -> dict[str, Path]:
    """Return the files of one kind in ``folder``, keyed by the year/date in their names.

    Parameters
    ----------
    folder : path-like
        The folder of official files.
    kind : str
        One of :data:`FILE_PATTERNS` (``school_statistics``, ``acel``, ``simd``,
        ``locations``, ``contacts``).

    Raises
    ------
    DataError
        If the folder does not exist, a file of this kind has an unknown format (e.g.
        ``.ods``), or one year is published twice (``.xlsx`` and ``.csv``).
    """
    if kind not in FILE_PATTERNS:
        raise DataError(f"unknown kind of official file {kind!r}.",
                        fix=f"use one of {sorted(FILE_PATTERNS)}.")
    pattern, extensions, description = FILE_PATTERNS[kind]
    root = Path(folder)
    if not root.is_dir():
        raise DataError("the folder of official files does not exist.", file=root,
                        fix="pass --data DIR or set NLC_EVAL_OFFICIAL_DATA to the right folder.")
    found: dict[str, Path] = {}
    for path in sorted(root.iterdir()):
        if not path.is_file() or path.name.startswith((".", "~$")):
            continue
        stem, suffix = path.stem, path.suffix.lower()
        m = pattern.match(stem)
        if m is None:
            continue
        if suffix not in extensions:
            raise DataError(
                f"unknown format {suffix or '(no extension)'!r} for a {kind} file.",
                file=path,
                fix=f"save it as {' or '.join(extensions)} with the published name "
                f"{description}.",
            )
        key = m.group("key")
        if key in found:
            raise DataError(
                f"two files publish the same {kind} edition {key}.",
                file=path,
                fix=f"keep only one of {found[key].name!r} and {path.name!r}.",
            )
        found[key] = path
    return found


def find_official_file(path: str | os.PathLike, kind: str) -> Path:
    """Resolve ``path`` to one file of ``kind``: the file itself, or the newest in a folder.

    Raises
    ------
    DataError
        If nothing matching the published name pattern is there.
    """
    p = Path(path)
    if p.is_file():
        check_format(p, kind)
        return p
    files = find_official_files(p, kind)
    if not files:
        raise DataError(
            f"no {kind} file found.",
            file=p,
            fix=f"download it from {GOV_SCOT_SOURCES[kind]} and save it in this folder as "
            f"{FILE_PATTERNS[kind][2]}.",
        )
    return files[max(files)]


def check_format(path: Path, kind: str) -> None:
    """Raise :class:`DataError` if ``path`` has an extension the ``kind`` loader cannot read."""
    extensions = FILE_PATTERNS[kind][1]
    if path.suffix.lower() not in extensions:
        raise DataError(
            f"unknown format {path.suffix or '(no extension)'!r}.",
            file=path,
            fix=f"give a {' or '.join(extensions)} file as published ({FILE_PATTERNS[kind][2]}).",
        )


# ---------------------------------------------------------------------------
# Raw reading
# ---------------------------------------------------------------------------


@dataclass
class RawTable:
    """Cells of one sheet under its header row, as published (object dtype)."""

    frame: pd.DataFrame
    file: Path
    sheet: str | None
    #: file row number (1-based, as a spreadsheet shows it) of the first data row
    first_row: int
    headers: list[str] = field(default_factory=list)

    def row_number(self, position: int) -> int:
        """Row number in the file (as shown by a spreadsheet) of data row ``position``."""
        return self.first_row + int(position)


def _read_cells(path: Path, sheet: str | int | None) -> tuple[list[list[object]], str | None]:
    """Return all rows of a csv file or of one sheet (default: the last) of an xlsx file."""
    if path.stat().st_size == 0:
        raise DataError("the file is empty.", file=path,
                        fix="download the file again from gov.scot.")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text = decode_text(path.read_bytes(), path)
        try:
            rows = [list(r) for r in csv.reader(io.StringIO(text))]
        except csv.Error as exc:
            raise DataError(f"the file is not valid CSV ({exc}).", file=path,
                            fix="download the file again from gov.scot.") from None
        return rows, None
    if suffix == ".xlsx":
        if not zipfile.is_zipfile(path):
            raise DataError("the file cannot be read as an Excel workbook (not an .xlsx zip).",
                            file=path, fix="download the file again from gov.scot.")
        try:
            rows, name = read_sheet(path, sheet)
        except DataError:
            raise
        except KeyError as exc:
            if isinstance(sheet, str) and exc.args == (sheet,):
                raise DataError("sheet not found in the workbook.", file=path, sheet=sheet,
                                fix="give the published workbook.") from exc
            rows, name = _read_xlsx_openpyxl(path, sheet)
        except Exception:  # noqa: BLE001 - anything the lean reader cannot parse: openpyxl
            rows, name = _read_xlsx_openpyxl(path, sheet)
        return rows, name
    raise DataError(f"unknown format {suffix or '(no extension)'!r}.", file=path,
                    fix="give the file as published by gov.scot (.xlsx or .csv).")


def _read_xlsx_openpyxl(path: Path, sheet: str | int | None) -> tuple[list[list[object]], str]:
    """Fallback reader for workbooks the lean reader does not understand."""
    import openpyxl

    damaged = "download the file again from gov.scot (the workbook is damaged)."
    with warnings.catch_warnings():
        # openpyxl warns about parts it skips; a damaged part is reported below instead
        warnings.simplefilter("ignore")
        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - a damaged workbook can fail anywhere
            raise DataError(f"the file cannot be read as an Excel workbook "
                            f"({type(exc).__name__}: {exc}).", file=path,
                            fix=damaged) from None
        try:
            names = wb.sheetnames
            if not names:
                raise DataError("the workbook has no worksheets.", file=path, fix=damaged)
            if sheet is None:
                name = names[-1]
            elif isinstance(sheet, int):
                if not -len(names) <= sheet < len(names):
                    raise DataError(f"the workbook has {len(names)} worksheet(s), no sheet "
                                    f"number {sheet}.", file=path, fix=damaged)
                name = names[sheet]
            else:
                if sheet not in names:
                    raise DataError(f"sheet not found; the workbook has {names}.", file=path,
                                    sheet=sheet, fix="give the published workbook.")
                name = sheet
            rows = [list(r) for r in wb[name].iter_rows(values_only=True)]
        except DataError:
            raise
        except Exception as exc:  # noqa: BLE001 - a damaged worksheet can fail anywhere
            raise DataError(f"a worksheet of the workbook cannot be read "
                            f"({type(exc).__name__}: {exc}).", file=path, fix=damaged) from None
        finally:
            wb.close()
    return rows, name


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "") or (
        isinstance(value, float) and np.isnan(value))


def read_raw(path: Path, *, header_keys: set[str], sheet: str | int | None = None,
             search_rows: int = 12) -> RawTable:
    """Read a sheet and locate its header row by a known normalised header.

    The header row is the first of the top ``search_rows`` rows holding any of
    ``header_keys`` (after :func:`normalise_header`); for the school statistics it is the
    second row of the last sheet.
    """
    rows, sheet_name = _read_cells(path, sheet)
    if not rows or all(all(_blank(v) for v in r) for r in rows):
        raise DataError("the file has no rows.", file=path, sheet=sheet_name,
                        fix="download the file again from gov.scot.")
    header_at = None
    for i, r in enumerate(rows[:search_rows]):
        if any(normalise_header(v) in header_keys for v in r):
            header_at = i
            break
    if header_at is None:
        raise DataError(
            f"no header row found in the first {search_rows} rows (looked for a column "
            f"named like {sorted(header_keys)[0]!r}).",
            file=path, sheet=sheet_name,
            fix="give the file exactly as published by gov.scot.",
        )
    header = ["" if v is None else str(v) for v in rows[header_at]]
    width = len(header)
    body = rows[header_at + 1:]
    body = [(r + [None] * (width - len(r)))[:width] if len(r) != width else r for r in body]
    # wider rows than the header: keep nothing silently
    for i, r in enumerate(rows[header_at + 1:]):
        if len(r) > width and any(not _blank(v) for v in r[width:]):
            raise DataError("a row has more cells than the header.", file=path,
                            sheet=sheet_name, row=header_at + 2 + i,
                            fix="give the file exactly as published.")
    frame = pd.DataFrame(body, columns=range(width), dtype=object)
    return RawTable(frame=frame, file=path, sheet=sheet_name, first_row=header_at + 2,
                    headers=header)


# ---------------------------------------------------------------------------
# Cell conversion
# ---------------------------------------------------------------------------


#: stripped cell text -> marker class ("" is a blank cell: not available)
MARKER_LOOKUP = {"": "not_available", **{
    m: name for name, ms in MARKER_CLASSES.items() for m in ms}}


@dataclass
class NumericResult:
    """A parsed numeric column and where its markers were."""

    values: pd.Series
    suppressed: pd.Series
    not_applicable: pd.Series
    not_available: pd.Series


def to_numeric(raw: pd.Series, *, table: RawTable, column: str, published: str,
               integer: bool = False) -> NumericResult:
    """Convert a raw column to numbers, mapping markers to NA and refusing garbage.

    Blank cells are NA and counted as not available. Any other text that is neither a
    number nor a known marker raises :class:`DataError` naming the file row.
    """
    values = pd.to_numeric(raw, errors="coerce")
    text_mask = values.isna() & raw.notna()
    kinds = pd.Series(None, index=raw.index, dtype=object)
    if text_mask.any():
        txt = raw[text_mask].astype(str).str.strip()
        retry = pd.to_numeric(txt.str.rstrip("%").str.replace(",", "", regex=False),
                              errors="coerce")
        values[retry.index[retry.notna()]] = retry[retry.notna()]
        rest = txt[retry.isna()]
        found = rest.map(MARKER_LOOKUP)
        if found.isna().any():
            label = found.index[found.isna()][0]
            raise DataError(
                f"{raw[label]!r} is not a number nor a known marker (c, z, x, *, #).",
                file=table.file, sheet=table.sheet, column=published,
                row=table.row_number(label),
                fix="correct the cell or download the file again from gov.scot.",
            )
        kinds[found.index] = found
    values = values.astype("Float64")
    if integer:
        frac = values.notna() & (values.round() != values)
        if frac.fillna(False).any():
            label = frac[frac.fillna(False)].index[0]
            raise DataError(f"count {values[label]} is not a whole number.", file=table.file,
                            sheet=table.sheet, column=published, row=table.row_number(label),
                            fix="correct the cell.")
        values = values.round().astype("Int64")
    return NumericResult(values=values, suppressed=kinds.eq("suppressed"),
                         not_applicable=kinds.eq("not_applicable"),
                         not_available=kinds.eq("not_available"))


def to_text(raw: pd.Series) -> pd.Series:
    """Text cells cleaned of ``&apos;``, notes and stray spaces; blanks and markers to NA."""
    def one(v: object) -> object:
        if _blank(v):
            return pd.NA
        s = clean_text(str(v))
        if s == "" or classify_marker(s) in ("not_applicable", "not_available"):
            return pd.NA
        return s
    return raw.map(one).astype("string")


_SEED = re.compile(r"^\d+$")
_SEED_FLOAT = re.compile(r"^(\d+)\.0+$")


def to_seed_code(raw: pd.Series, *, table: RawTable, published: str) -> pd.Series:
    """Seed codes as strings of digits (``1004620``, never ``1004620.0``)."""
    def one(label: int, v: object) -> str:
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            return str(int(v))
        if isinstance(v, float) and not np.isnan(v) and float(v).is_integer():
            return str(int(v))
        s = "" if _blank(v) else str(v).strip()
        m = _SEED_FLOAT.match(s)
        if m:
            return m.group(1)
        if _SEED.match(s):
            return s
        raise DataError(f"seed code {v!r} is not a string of digits.", file=table.file,
                        sheet=table.sheet, column=published, row=table.row_number(label),
                        fix="correct the seed code (the Scottish Government school identifier).")
    return pd.Series([one(i, v) for i, v in raw.items()], index=raw.index, dtype="string")


# ---------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------

_CACHE: dict[tuple, object] = {}


def file_key(path: Path) -> tuple:
    """(resolved path, mtime_ns, size): changes whenever the file is replaced or edited."""
    st = path.stat()
    return (str(path.resolve()), st.st_mtime_ns, st.st_size)


def cached(key: tuple, build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """Return a copy of the cached frame for ``key``, building it on first use."""
    if key not in _CACHE:
        _CACHE[key] = build()
    frame = _CACHE[key]
    out = frame.copy()
    out.attrs = _deep_copy_attrs(frame.attrs)
    return out


def _deep_copy_attrs(attrs: dict) -> dict:
    import copy

    return copy.deepcopy(attrs)


def clear_cache(path: str | os.PathLike | None = None) -> None:
    """Forget cached tables: all of them, or those read from ``path`` (a file or folder).

    Normal use never needs this: the cache key includes each file's modification time
    and size, so an edited file is read again.
    """
    if path is None:
        _CACHE.clear()
        return
    root = str(Path(path).resolve())
    for key in [k for k in _CACHE if str(k[1]) == root or str(k[1]).startswith(root + os.sep)]:
        del _CACHE[key]
