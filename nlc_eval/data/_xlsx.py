"""A lean reader of cell values from one sheet of an .xlsx workbook.

openpyxl builds a full cell object (with styles) for every cell, which makes the yearly
school statistics (about 140,000 cells each) take seconds to read. Only values are needed
here, so this module walks the sheet's XML with the standard library's C parser. Any
workbook it cannot understand is left to openpyxl by the caller.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from xml.etree.ElementTree import iterparse
from xml.sax.saxutils import unescape

_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def _text_of(elem) -> str:
    return "".join(t.text or "" for t in elem.iter(f"{_NS_MAIN}t"))


def sheet_names(zf: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(sheet name, part path inside the zip) in workbook order."""
    rels = {}
    with zf.open("xl/_rels/workbook.xml.rels") as fh:
        for _, el in iterparse(fh):
            if el.tag == f"{_NS_PKG}Relationship":
                target = el.get("Target")
                target = target.lstrip("/")
                if not target.startswith("xl/"):
                    target = "xl/" + target
                rels[el.get("Id")] = target
    out = []
    with zf.open("xl/workbook.xml") as fh:
        for _, el in iterparse(fh):
            if el.tag == f"{_NS_MAIN}sheet":
                out.append((el.get("name"), rels[el.get(f"{_NS_REL}id")]))
    return out


def read_sheet(path: Path, sheet: str | int | None = None) -> tuple[list[list[object]], str]:
    """Rows of cell values of one sheet (default: the last), and the sheet's name.

    Numbers come back as int when whole, else float; text as str; empty cells as None.
    """
    with zipfile.ZipFile(path) as zf:
        sheets = sheet_names(zf)
        if sheet is None:
            name, part = sheets[-1]
        elif isinstance(sheet, int):
            name, part = sheets[sheet]
        else:
            matches = [s for s in sheets if s[0] == sheet]
            if not matches:
                raise KeyError(sheet)
            name, part = matches[0]
        shared: list[str] = []
        if "xl/sharedStrings.xml" in zf.namelist():
            with zf.open("xl/sharedStrings.xml") as fh:
                for _, el in iterparse(fh):
                    if el.tag == f"{_NS_MAIN}si":
                        shared.append(_text_of(el))
                        el.clear()
        xml = zf.read(part).decode("utf-8")
    return _parse_rows(xml, shared), name


_ATTR_T = re.compile(r'\bt="(\w+)"')
_V = re.compile(r"<v>(.*?)</v>", re.S)
_T = re.compile(r"<t\b[^>]*?>(.*?)</t>", re.S)
_ENTITIES = {"&quot;": '"', "&apos;": "'"}


def _unescape(text: str) -> str:
    return unescape(text, _ENTITIES) if "&" in text else text


_CELL_RE = re.compile(r'<c r="([A-Z]+)(\d+)"([^>]*?)(?:/>|>(.*?)</c>)', re.S)


def _parse_rows(xml: str, shared: list[str]) -> list[list[object]]:
    """Cell values of a worksheet part (SpreadsheetML as Excel writes it).

    One pass over the cells; each carries its own reference (``r="AB12"``), which gives
    both its row and its column. Cells without a reference are not expected from Excel;
    if any is found the caller falls back to openpyxl.
    """
    found = _CELL_RE.findall(xml)
    if xml.count("<c ") + xml.count("<c>") != len(found):
        raise ValueError("cells without a reference")
    rows: list[list[object]] = []
    cells: list[object] = []
    current = -1
    col_cache: dict[str, int] = {}
    for letters, rownum, attrs, body in found:
        r = int(rownum) - 1
        if r != current:
            while len(rows) < r:
                rows.append([])
            cells = []
            rows.append(cells)
            current = r
        j = col_cache.get(letters)
        if j is None:
            j = col_cache[letters] = _col_index(letters)
        if j > len(cells):
            cells.extend([None] * (j - len(cells)))
        t = ""
        if 't="' in attrs:
            t = _ATTR_T.search(attrs).group(1)
        if t == "inlineStr":
            cells.append(_unescape("".join(_T.findall(body))))
            continue
        if body.startswith("<v>") and body.endswith("</v>"):
            v: str | None = body[3:-4]
        else:
            m = _V.search(body)  # e.g. a formula <f>..</f> before the cached value
            v = m.group(1) if m else None
        if v is None or (v == "" and t != "str"):
            value: object = None
        elif t == "s":
            k = int(v)
            if not 0 <= k < len(shared):
                raise ValueError(f"shared string {k} of {len(shared)}")
            value = shared[k]
        elif t == "" or t == "n":
            num = float(v)
            value = int(num) if num.is_integer() and "." not in v and "E" not in v \
                and "e" not in v else num
        elif t in ("str", "e"):
            value = _unescape(v)
        elif t == "b":
            value = v == "1"
        else:
            raise ValueError(f"unknown cell type {t!r}")
        cells.append(value)
    return rows
