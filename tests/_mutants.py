"""Mutations of real input files for the loader fuzz tests.

Each mutation takes a :class:`random.Random` and a file's bytes and returns new bytes.
Originals are the real official files (cut to their first rows so that a mutant loads in
milliseconds; the cut keeps the published header, title rows, other sheets and the
workbook's structure untouched) and the synthetic council extracts.
"""

from __future__ import annotations

import csv
import io
import random
import re
import zipfile
from pathlib import Path

# ---------------------------------------------------------------------------
# Originals
# ---------------------------------------------------------------------------

_ROW_END = re.compile(rb"</row>")


def cut_csv(data: bytes, n_rows: int) -> bytes:
    """The first ``n_rows`` lines after the header of a CSV file (bytes kept verbatim)."""
    lines = data.splitlines(keepends=True)
    return b"".join(lines[:n_rows + 1])


def cut_xlsx(data: bytes, n_rows: int, part: str | None = None) -> bytes:
    """The same workbook with only the first ``n_rows`` rows of one worksheet part.

    ``part`` defaults to the largest worksheet (the data sheet of the published files).
    Every other zip member is copied byte for byte.
    """
    src = zipfile.ZipFile(io.BytesIO(data))
    sheets = [i for i in src.infolist() if i.filename.startswith("xl/worksheets/sheet")]
    target = part or max(sheets, key=lambda i: i.file_size).filename
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == target:
                ends = [m.end() for m in _ROW_END.finditer(body)]
                if len(ends) > n_rows:
                    start = body.index(b"</sheetData>")
                    body = body[:ends[n_rows - 1]] + body[start:]
            dst.writestr(info.filename, body)
    return out.getvalue()


# ---------------------------------------------------------------------------
# Byte-level mutations (any file)
# ---------------------------------------------------------------------------

def flip_bytes(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[:rng.randrange(len(data))]


def insert_garbage(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data) + 1)
    return data[:i] + rng.randbytes(rng.randint(1, 64)) + data[i:]


def garbage(rng: random.Random, data: bytes) -> bytes:
    return rng.randbytes(rng.randint(1, 4096))


def empty(rng: random.Random, data: bytes) -> bytes:
    return b""


BYTE_MUTATIONS = [flip_bytes, truncate, insert_garbage, garbage, empty]

# ---------------------------------------------------------------------------
# CSV mutations: parse, change the table, write back (in another encoding sometimes)
# ---------------------------------------------------------------------------

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "cp1252"]


def _decode(data: bytes) -> str:
    for enc in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes anything")


def _rows(data: bytes) -> list[list[str]]:
    return [list(r) for r in csv.reader(io.StringIO(_decode(data)))]


def _write(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode(encoding, errors="replace")


def _header_at(rows: list[list[str]]) -> int:
    return 0


def _numeric_cells(rows: list[list[str]]) -> list[tuple[int, int]]:
    out = []
    for i, r in enumerate(rows[1:], start=1):
        for j, v in enumerate(r):
            try:
                float(v)
            except ValueError:
                continue
            out.append((i, j))
    return out


def _body_rows(rows):
    return [i for i in range(1, len(rows))]


def rename_column(rng, rows):
    j = rng.randrange(len(rows[0]))
    rows[0][j] = rng.choice(["", "x", "Roll", "Seed Code", "SeedCode", rows[0][j].upper(),
                             rows[0][j] + " (%)", rng.choice(rows[0])])
    return rows


def swap_columns(rng, rows):
    a, b = rng.sample(range(len(rows[0])), 2)
    rows[0][a], rows[0][b] = rows[0][b], rows[0][a]
    return rows


def swap_column_values(rng, rows):
    a, b = rng.sample(range(len(rows[0])), 2)
    for r in rows[1:]:
        if len(r) > max(a, b):
            r[a], r[b] = r[b], r[a]
    return rows


def drop_column(rng, rows):
    j = rng.randrange(len(rows[0]))
    return [r[:j] + r[j + 1:] for r in rows]


def duplicate_row(rng, rows):
    if len(rows) > 1:
        i = rng.randrange(1, len(rows))
        rows.insert(rng.randrange(1, len(rows) + 1), list(rows[i]))
    return rows


def blank_cells(rng, rows):
    for _ in range(rng.randint(1, 5)):
        i = rng.randrange(len(rows))
        if rows[i]:
            rows[i][rng.randrange(len(rows[i]))] = rng.choice(["", " ", "NA", "-"])
    return rows


def blank_row(rng, rows):
    i = rng.randrange(len(rows))
    rows[i] = [""] * len(rows[i])
    return rows


def change_units(rng, rows):
    cells = _numeric_cells(rows)
    for i, j in rng.sample(cells, min(len(cells), rng.randint(1, 6))):
        v = float(rows[i][j])
        factor = rng.choice([100, 1000, 0.01, -1, 10])
        new = v * factor
        rows[i][j] = str(int(new)) if new.is_integer() else f"{new:g}"
    return rows


def scale_column(rng, rows):
    """Every number of one column in other units (e.g. shares 0-1 -> per cent, or x1000)."""
    j = rng.randrange(len(rows[0]))
    factor = rng.choice([100, 1000, 0.01, -1, 10])
    for r in rows[1:]:
        if len(r) > j:
            try:
                v = float(r[j])
            except ValueError:
                continue
            new = v * factor
            r[j] = str(int(new)) if new.is_integer() else f"{new:g}"
    return rows


def random_text(rng, rows):
    i = rng.randrange(len(rows))
    if rows[i]:
        rows[i][rng.randrange(len(rows[i]))] = rng.choice(
            ["abc", "c", "z", "x", "*", "[c]", "1e400", "nan", "inf", "-5", "12.5.3", "1,000",
             "95-100%", "<5", "\u00e9\u00e8", "9" * 30, "2019-13-45", "\x00", "'", '"'])
    return rows


def extra_cell(rng, rows):
    i = rng.randrange(len(rows))
    rows[i].append(rng.choice(["", "extra", "12"]))
    return rows


def drop_rows(rng, rows):
    k = rng.randint(1, max(1, len(rows) - 1))
    start = rng.randrange(len(rows))
    return rows[:start] + rows[start + k:]


def shuffle_rows(rng, rows):
    body = rows[1:]
    rng.shuffle(body)
    return [rows[0]] + body


TABLE_MUTATIONS = [rename_column, swap_columns, swap_column_values, drop_column,
                   duplicate_row, blank_cells, blank_row, change_units, scale_column,
                   random_text, extra_cell, drop_rows, shuffle_rows]


def mutate_csv(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """One mutant of a CSV file: (description, bytes)."""
    if rng.random() < 0.25:
        op = rng.choice(BYTE_MUTATIONS)
        return op.__name__, op(rng, data)
    rows = _rows(data)
    names = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        op = rng.choice(TABLE_MUTATIONS)
        names.append(op.__name__)
        if rows:
            rows = op(rng, rows) or rows
    enc = rng.choice(ENCODINGS)
    return "+".join(names) + f"@{enc}", _write(rows, enc)


# ---------------------------------------------------------------------------
# Workbook mutations: cells of the data sheet's XML, parts of the zip
# ---------------------------------------------------------------------------

_CELL = re.compile(rb'<c r="[A-Z]+\d+"[^>]*?(?:/>|>.*?</c>)', re.S)
_ROW = re.compile(rb"<row\b[^>]*?(?:/>|>.*?</row>)", re.S)


def _members(data: bytes) -> dict[str, bytes]:
    zf = zipfile.ZipFile(io.BytesIO(data))
    return {i.filename: zf.read(i.filename) for i in zf.infolist()}


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in members.items():
            z.writestr(name, body)
    return out.getvalue()


def _data_part(members: dict[str, bytes]) -> str:
    sheets = [n for n in members if n.startswith("xl/worksheets/sheet")]
    return max(sheets, key=lambda n: len(members[n]))


def _cell_ref(cell: bytes) -> bytes:
    return re.match(rb'<c r="([A-Z]+\d+)"', cell).group(1)


def _inline(ref: bytes, text: str) -> bytes:
    esc = text.replace("&", "&amp;").replace("<", "&lt;").encode("utf-8")
    return b'<c r="' + ref + b'" t="inlineStr"><is><t>' + esc + b"</t></is></c>"


def _number(ref: bytes, value: str) -> bytes:
    return b'<c r="' + ref + b'"><v>' + value.encode() + b"</v></c>"


def xl_cells(rng: random.Random, xml: bytes) -> bytes:
    cells = list(_CELL.finditer(xml))
    if not cells:
        return xml
    out = xml
    for m in sorted(rng.sample(cells, min(len(cells), rng.randint(1, 6))),
                    key=lambda m: -m.start()):
        ref = _cell_ref(m.group(0))
        kind = rng.choice(["blank", "number", "text", "shared", "scale", "type"])
        if kind == "blank":
            new = b'<c r="' + ref + b'"/>'
        elif kind == "number":
            new = _number(ref, rng.choice(["-3", "0", "1e9", "99999", "250", "0.5", "101"]))
        elif kind == "text":
            new = _inline(ref, rng.choice(["abc", "c", "*", "z", "", "95-100%", "1,000",
                                           "Seed Code", "Primary", "x"]))
        elif kind == "shared":
            new = b'<c r="' + ref + b'" t="s"><v>' + str(rng.randint(0, 10**7)).encode() \
                + b"</v></c>"
        elif kind == "type":
            new = b'<c r="' + ref + b'" t="' + rng.choice([b"q", b"b", b"e", b"str"]) \
                + b'"><v>1</v></c>'
        else:
            v = re.search(rb"<v>([-0-9.Ee]+)</v>", m.group(0))
            if v is None:
                continue
            new = _number(ref, f"{float(v.group(1)) * rng.choice([100, 1000, -1, 0.01]):g}")
        out = out[:m.start()] + new + out[m.end():]
    return out


def xl_rows(rng: random.Random, xml: bytes) -> bytes:
    rows = list(_ROW.finditer(xml))
    if not rows:
        return xml
    m = rng.choice(rows)
    op = rng.choice(["duplicate", "delete", "swap_header"])
    if op == "duplicate":
        return xml[:m.end()] + m.group(0) + xml[m.end():]
    if op == "delete":
        return xml[:m.start()] + xml[m.end():]
    # swap the contents of two cells of one of the first rows (a header row)
    m = rng.choice(rows[:4])
    cells = list(_CELL.finditer(m.group(0)))
    if len(cells) < 2:
        return xml
    a, b = sorted(rng.sample(cells, 2), key=lambda c: c.start())
    row = m.group(0)
    ra, rb_ = _cell_ref(a.group(0)), _cell_ref(b.group(0))
    new_a = b.group(0).replace(b'r="' + rb_ + b'"', b'r="' + ra + b'"', 1)
    new_b = a.group(0).replace(b'r="' + ra + b'"', b'r="' + rb_ + b'"', 1)
    row = row[:a.start()] + new_a + row[a.end():b.start()] + new_b + row[b.end():]
    return xml[:m.start()] + row + xml[m.end():]


def mutate_xlsx(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """One mutant of a workbook: (description, bytes)."""
    r = rng.random()
    if r < 0.2:
        op = rng.choice(BYTE_MUTATIONS)
        return op.__name__, op(rng, data)
    members = _members(data)
    part = _data_part(members)
    if r < 0.4:
        op = rng.choice(["drop_part", "drop_sheet", "truncate_part", "rename_sheet",
                         "drop_strings", "bad_xml", "all_sheets_gone"])
        if op == "drop_part":
            members.pop(rng.choice(list(members)))
        elif op == "drop_sheet":
            members.pop(part)
        elif op == "all_sheets_gone":
            for n in [n for n in members if n.startswith("xl/worksheets/")]:
                members.pop(n)
        elif op == "truncate_part":
            name = rng.choice([part, "xl/workbook.xml", "xl/sharedStrings.xml",
                               "xl/_rels/workbook.xml.rels"])
            if name in members:
                members[name] = members[name][:rng.randrange(len(members[name]) or 1)]
        elif op == "rename_sheet":
            members["xl/workbook.xml"] = re.sub(rb'(<sheet [^>]*?name=")[^"]*"',
                                                lambda m: m.group(1) + b'Renamed"',
                                                members["xl/workbook.xml"])
        elif op == "drop_strings":
            members.pop("xl/sharedStrings.xml", None)
        else:
            body = members[part]
            i = rng.randrange(len(body))
            members[part] = body[:i] + b"<<&" + body[i:]
        return op, _zip(members)
    ops = []
    for _ in range(rng.choice([1, 1, 2])):
        if rng.random() < 0.6:
            members[part] = xl_cells(rng, members[part])
            ops.append("cells")
        else:
            members[part] = xl_rows(rng, members[part])
            ops.append("rows")
    return "+".join(ops), _zip(members)


def write_mutant(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path
