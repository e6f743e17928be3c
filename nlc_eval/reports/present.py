"""Publishing primitives of the report notebooks: numbered tables and figures, prose.

Every report notebook calls :func:`start` once (after its parameters), then shows its content
with :func:`table`, :func:`figure`, :func:`paragraph` and :func:`heading`. Each call displays
semantic HTML (IPython ``text/html``) that the house renderer
(:func:`nlc_eval.reports._html.notebook_to_html`) publishes as it is:

- a table is a ``<table>`` with a ``<caption>`` "Table N. ...", column headers
  ``<th scope="col">``, the first column as row headers ``<th scope="row">``, numbers
  formatted by :func:`nlc_eval.formatting.number` (at the decimals the caller gives per
  column, which sections take from the same rule as their sentences), hidden cells shown as ``c`` (with the suppression footnote only when a cell is
  hidden), its source, and links to CSV and Excel downloads of exactly the cells shown;
- a figure is a ``<figure>`` with an ``<img alt=...>``, a ``<figcaption>`` "Figure N. ...
  Source: ...", the data behind it as a table in a ``<details>`` element, and PNG, SVG and
  CSV downloads.

Downloads
---------
The files of each table and figure travel with its display output, in the output's
metadata (``metadata["nlc_eval"]["files"]``: file name to base64 content). The batch
writes them beside the page, under ``<out>/downloads/<report name>/``, and fills in the
links when it renders the page; a notebook does not need to know where the batch
publishes. Opened by hand (Jupyter, nbval) the links are simply absent. When
:func:`start` is given a ``downloads`` folder the files are also written there as they are
made, which is how an analyst gets them from a notebook run by hand.

Examples
--------
>>> import pandas as pd
>>> from nlc_eval.reports import present
>>> present.start("example")
>>> t = pd.DataFrame({"School": ["A", "B"], "Pupils": [120, 85]})
>>> html = present.table_html(t, caption="Pupils by school, 2024/25", source="Pupil census")
>>> "<caption" in html and "Table 1. Pupils by school, 2024/25" in html
True
"""

from __future__ import annotations

import base64
import html as _html
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nlc_eval import formatting as fmt
from nlc_eval.disclosure import FOOTNOTE as _DISCLOSURE_FOOTNOTE
from nlc_eval.errors import ReportError

__all__ = [
    "FOOTNOTE",
    "MARKER",
    "figure",
    "figure_html",
    "heading",
    "paragraph",
    "start",
    "state",
    "table",
    "table_html",
]

#: The marker of a hidden (suppressed) cell.
MARKER = "c"
#: Footnote printed under a table with at least one hidden cell (the disclosure module's).
FOOTNOTE = _DISCLOSURE_FOOTNOTE
#: Alt texts that say nothing about the figure (nbconvert's placeholder and the like).
PLACEHOLDER_ALTS = frozenset({"", "image", "figure", "plot", "chart", "graph", "png",
                              "no description has been provided for this image",
                              "matplotlib figure", "<figure>"})
#: Largest PNG embedded in a page (bytes); a larger one is linked from the downloads instead.
MAX_EMBEDDED_PNG = 150_000
#: PNGs larger than this (bytes) are reduced to 256 colours when that makes them much smaller.
PALETTE_FROM = 40_000
_IDENT = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")
_NAN_WORD = re.compile(r"(?<![\w-])(nan|NaN|None)(?![\w-])")
# what a sentence must never print for a number: a missing value, "n/a", or the tables'
# suppression marker as a word of its own (a sentence that explains the marker, such as
# 'marked c' or 'shown as "c"', is not using it)
_NOT_AVAILABLE = re.compile(r"(?<![\w/-])n/a(?![\w/-])", re.IGNORECASE)
_MARKER_WORD = re.compile(r"(?<![\w'’.-])c(?![\w'’-])")   # as the publication gate
_MARKER_EXPLAINED = re.compile(r"\b(shown as|marked|marker|as)\s+[\W_]*c\b[\W_]*|^c:",
                               re.IGNORECASE)
_YEARISH = re.compile(r"\b(year|session|years)\b", re.IGNORECASE)


@dataclass
class _State:
    report: str = "report"
    downloads: Path | None = None
    tables: int = 0
    figures: int = 0
    files: list[str] = field(default_factory=list)


_STATE = _State()


def start(report: str, downloads: str | Path | None = None) -> None:
    """Begin a report: reset the table and figure numbers and say where downloads go.

    Parameters
    ----------
    report : str
        The report's name (e.g. ``"cluster-07"``); used in download file names.
    downloads : path-like, optional
        A folder the download files are also written to as they are made. Without it they
        are only carried in the display outputs, from which the batch publishes them under
        ``<out>/downloads/<report name>/`` (see the module docstring).
    """
    if not isinstance(report, str) or not report.strip():
        raise ReportError("present.start(report) needs the report's name, e.g. 'cluster-07'.")
    global _STATE
    _STATE = _State(report=_slug(report),
                    downloads=None if downloads in (None, "") else Path(downloads))


def state() -> dict[str, Any]:
    """The current report name, download folder and how many tables and figures are shown."""
    return {"report": _STATE.report, "downloads": _STATE.downloads,
            "tables": _STATE.tables, "figures": _STATE.figures, "files": list(_STATE.files)}


# ---------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------

def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")
    return s or "report"


def _missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    try:
        return bool(isinstance(v, float | np.floating) and math.isnan(v))
    except TypeError:
        return False


def _header(col: Any) -> str:
    if isinstance(col, tuple):
        parts = [str(c) for c in col if str(c) != ""]
        text = " – ".join(dict.fromkeys(parts))
    else:
        text = str(col)
    if _IDENT.match(text):
        raise ReportError(
            f"column {text!r} is a raw column name, not a heading a reader understands. "
            f"Fix: rename it before publishing, e.g. "
            f"df.rename(columns={{{text!r}: {text.replace('_', ' ').capitalize()!r}}}).")
    return text


def _column_decimals(decimals: int | Mapping[str, int], col: str) -> int:
    if isinstance(decimals, Mapping):
        return int(decimals.get(col, 1))
    return int(decimals)


def _years(values: pd.Series) -> bool:
    """True when every value is a whole number that reads as a year (1900 to 2100)."""
    v = pd.to_numeric(values, errors="coerce").astype(float)
    v = v[np.isfinite(v)]
    return bool(len(v)) and bool(((v == np.round(v)) & (v >= 1900) & (v <= 2100)).all())


def _format_column(values: pd.Series, header: str, *, count: bool, decimals: int,
                   hidden: set, missing: str) -> tuple[list[str], bool]:
    """The displayed text of each cell and whether the column is numeric."""
    numeric = pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
        values.dtype)
    # years and sessions print without a thousands separator ("2024", not "2,024"); a rate
    # whose heading names sessions ("Support session attendance %") is not a year
    plain_int = numeric and bool(_YEARISH.search(header)) and _years(values)
    out = []
    for label, v in values.items():
        if label in hidden:
            out.append(MARKER)
        elif _missing(v):
            out.append(missing)
        elif isinstance(v, bool | np.bool_):
            out.append("Yes" if v else "No")
        elif isinstance(v, int | np.integer):
            out.append(f"{int(v)}" if plain_int else f"{int(v):,}")
        elif isinstance(v, float | np.floating):
            if not math.isfinite(float(v)):
                out.append(missing)
            elif plain_int and float(v).is_integer():
                out.append(f"{int(v)}")
            elif count and float(v).is_integer():
                out.append(f"{int(v):,}")
            else:
                out.append(fmt.number(float(v), decimals))
        elif isinstance(v, pd.Timestamp):
            out.append(f"{v:%d %B %Y}".lstrip("0"))
        else:
            text = str(v)
            if _NAN_WORD.fullmatch(text.strip()):
                text = missing
            out.append(text)
    looks_numeric = numeric or all(
        t == MARKER or t == missing or re.fullmatch(r"[-−+]?[\d,]+(\.\d+)?%?", t)
        for t in out)
    return out, bool(looks_numeric and any(t not in (MARKER, missing) for t in out))


@dataclass
class _Shown:
    """A table as displayed: headers, row-header texts and cells, and its footnotes."""

    columns: list[str]
    cells: list[list[str]]
    numeric: list[bool]
    index_names: list[str]
    index_cells: list[list[str]]
    suppressed: bool
    threshold: int

    def frame(self) -> pd.DataFrame:
        data = {name: [r[i] for r in self.index_cells]
                for i, name in enumerate(self.index_names)}
        for j, col in enumerate(self.columns):
            data[col] = [r[j] for r in self.cells]
        return pd.DataFrame(data, columns=[*self.index_names, *self.columns])


def _shown(df: Any, *, index: bool, decimals: int | Mapping[str, int],
           missing: str) -> _Shown:
    from nlc_eval.disclosure import DisclosureView

    if isinstance(df, DisclosureView):
        frame, threshold, attrs = df.frame, 5, dict(df.frame.attrs)
    elif isinstance(df, pd.Series):
        frame, attrs = df.to_frame(), dict(df.attrs)
        threshold = 5
    elif isinstance(df, pd.DataFrame):
        frame, attrs, threshold = df, dict(df.attrs), 5
    else:
        raise ReportError(f"present.table needs a pandas DataFrame, not {type(df).__name__}.")
    record = attrs.get("disclosure") or {}
    threshold = int(record.get("threshold", threshold))
    hidden_cells = {(c["row"], c["column"]) for c in record.get("cells", [])}
    counts = set(record.get("count_columns", []))
    if frame.columns.duplicated().any():
        dup = list(frame.columns[frame.columns.duplicated()])
        raise ReportError(f"table has duplicated column headings {dup}. Fix: give each "
                          "column its own heading.")
    columns, cells_by_col, numeric = [], [], []
    for col in frame.columns:
        head = _header(col)
        hidden = {r for (r, c) in hidden_cells if c == col}
        texts, is_num = _format_column(frame[col], head, count=col in counts,
                                       decimals=_column_decimals(decimals, head),
                                       hidden=hidden, missing=missing)
        columns.append(head)
        cells_by_col.append(texts)
        numeric.append(is_num)
    cells = [list(r) for r in zip(*cells_by_col, strict=True)] if cells_by_col else [
        [] for _ in range(len(frame))]
    index_names: list[str] = []
    index_cells: list[list[str]] = [[] for _ in range(len(frame))]
    if index:
        names = list(frame.index.names)
        index_names = [_header(n) if n is not None else "" for n in names]
        for i, label in enumerate(frame.index):
            labels = label if isinstance(label, tuple) else (label,)
            index_cells[i] = [missing if _missing(v) else
                              (f"{int(v)}" if isinstance(v, float) and float(v).is_integer()
                               else str(v)) for v in labels]
    suppressed = any(t == MARKER for row in cells for t in row)
    return _Shown(columns, cells, numeric, index_names, index_cells, suppressed, threshold)


def _e(text: Any) -> str:
    return _html.escape(str(text), quote=True)


def _sentence(text: str) -> str:
    text = " ".join(str(text).split())
    return text if text.endswith((".", "?", "!")) else text + "."


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


#: Characters of a text cell above which its column keeps a readable width (``.text``).
LONG_TEXT = 60


def _downloads_p(files: Sequence[tuple[str, str]]) -> str:
    """The placeholder the renderer turns into links (``data-nlc-downloads``)."""
    spec = ";".join(f"{_e(name)}|{_e(label)}" for name, label in files)
    return f'<p class="nlc-downloads" data-nlc-downloads="{spec}"></p>'


def _table_markup(shown: _Shown, *, caption_html: str, table_id: str,
                  row_header: bool) -> str:
    cap_id = f"{table_id}-caption"
    # a column of long text (a family's members, why a school is in its family) keeps a
    # readable width on a phone: the table scrolls sideways instead of a row growing a
    # screen tall
    long = [not num and any(len(str(r[j])) > LONG_TEXT for r in shown.cells)
            for j, num in enumerate(shown.numeric)]
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in shown.index_names)
    for h, num, wide in zip(shown.columns, shown.numeric, long, strict=True):
        cls = ' class="num"' if num else (' class="text"' if wide else "")
        head += f'<th scope="col"{cls}>{_e(h)}</th>'
    rows = []
    for idx, row in zip(shown.index_cells, shown.cells, strict=True):
        parts = [f'<th scope="row">{_e(v)}</th>' for v in idx]
        for j, (v, num) in enumerate(zip(row, shown.numeric, strict=True)):
            cls = ' class="num"' if num else (' class="text"' if long[j] else "")
            if j == 0 and row_header and not idx:
                parts.append(f'<th scope="row"{cls}>{_e(v)}</th>')
            else:
                parts.append(f"<td{cls}>{_e(v)}</td>")
        rows.append("<tr>" + "".join(parts) + "</tr>")
    return (f'<div class="table-scroll" role="region" aria-labelledby="{cap_id}" tabindex="0">'
            f'<table id="{table_id}"><caption id="{cap_id}">{caption_html}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def _notes_html(source: str | None, notes: Sequence[str], shown: _Shown, missing: str) -> str:
    parts = []
    if source:
        parts.append(f'<p class="source">Source: {_e(_sentence(source).rstrip("."))}.</p>')
    for n in notes:
        if n:
            parts.append(f'<p class="note">{_e(_sentence(n))}</p>')
    if shown.suppressed:
        parts.append(f'<p class="note footnote">{_e(FOOTNOTE.format(threshold=shown.threshold))}'
                     "</p>")
    if missing != MARKER and any(t == missing for row in shown.cells for t in row):
        parts.append(f'<p class="note">{_e(missing)}: no figure for this cell.</p>')
    return "".join(parts)


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    plain = frame.map(lambda t: t.replace(",", "") if isinstance(t, str)
                      and re.fullmatch(r"-?[\d,]+(\.\d+)?", t) else t)
    return plain.to_csv(index=False).encode("utf-8-sig")


def _xlsx_bytes(frame: pd.DataFrame, *, title: str, source: str | None,
                notes: Sequence[str]) -> bytes:
    def typed(t):
        if isinstance(t, str) and re.fullmatch(r"-?[\d,]+(\.\d+)?", t):
            v = float(t.replace(",", ""))
            return int(v) if v.is_integer() and "." not in t else v
        return t

    data = frame.map(typed)
    meta = pd.DataFrame({"About this table": [title, *(
        [f"Source: {source}"] if source else []), *notes]})
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xl:
        data.to_excel(xl, sheet_name="Table", index=False)
        meta.to_excel(xl, sheet_name="Notes", index=False)
        ws = xl.sheets["Table"]
        for j, col in enumerate(data.columns, start=1):
            width = max([len(str(col)), *(len(str(v)) for v in frame[col])]) + 2
            ws.column_dimensions[ws.cell(row=1, column=j).column_letter].width = min(width, 60)
        ws.freeze_panes = "A2"
    return buf.getvalue()


def _write(files: Mapping[str, bytes]) -> None:
    _STATE.files.extend(files)
    if _STATE.downloads is None:
        return
    folder = _STATE.downloads
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
    except OSError as exc:
        raise ReportError(f"could not write downloads to {folder}: {exc}. Fix: pass a "
                          "writable folder to present.start(downloads=...).") from exc


def _display(html_text: str, text: str, files: Mapping[str, bytes], kind: str,
             number: int) -> None:
    from IPython.display import display

    meta = {"nlc_eval": {"kind": kind, "number": number,
                         "files": {k: _b64(v) for k, v in files.items()}}}
    display({"text/html": html_text, "text/plain": text}, raw=True, metadata=meta)


# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------

def _check_caption(caption: str, what: str) -> str:
    if not isinstance(caption, str) or not caption.strip():
        raise ReportError(f"every {what} needs a caption naming the measure, place and years.")
    return " ".join(caption.split()).rstrip(".")


def _table_parts(df, *, caption: str, source: str, notes: Sequence[str], name: str | None,
                 index: bool, decimals, missing: str, row_header: bool, number: int,
                 prefix: str, label: str):
    caption = _check_caption(caption, "table")
    shown = _shown(df, index=index, decimals=decimals, missing=missing)
    if not shown.columns and not shown.index_names:
        raise ReportError(f"table '{caption}' has no columns to show.")
    base = f"{prefix}-{number}" + (f"-{_slug(name)}" if name else "")
    table_id = f"{prefix}-{number}" if prefix == "table" else f"{prefix}-{number}-data"
    cap = f"{label} {number}. {caption}" if label else caption
    frame = shown.frame()
    note_texts = [_sentence(n) for n in notes if n]
    if shown.suppressed:
        note_texts.append(FOOTNOTE.format(threshold=shown.threshold))
    files = {f"{_STATE.report}-{base}.csv": _csv_bytes(frame),
             f"{_STATE.report}-{base}.xlsx": _xlsx_bytes(frame, title=cap, source=source,
                                                         notes=note_texts)}
    markup = _table_markup(shown, caption_html=_e(cap), table_id=table_id,
                           row_header=row_header)
    body = markup + _notes_html(source, notes, shown, missing)
    links = [(n, f"{cap.split('.')[0]} as {'CSV' if n.endswith('.csv') else 'Excel workbook'}")
             for n in files]
    return body, links, files, frame, cap


def table_html(df, *, caption: str, source: str, notes: Sequence[str] = (),
               name: str | None = None, index: bool = False,
               decimals: int | Mapping[str, int] = 1, missing: str = MARKER,
               row_header: bool = True) -> str:
    """The HTML :func:`table` displays (and counts: the table takes the next number).

    See :func:`table` for the parameters.
    """
    html_text, _, _ = _make_table(df, caption=caption, source=source, notes=notes, name=name,
                                  index=index, decimals=decimals, missing=missing,
                                  row_header=row_header)
    return html_text


def _make_table(df, **kw):
    if not kw.get("source"):
        raise ReportError(f"table '{kw.get('caption')}' needs its source (e.g. 'Pupil "
                          "census, September 2024' or 'Council pupil extract').")
    number = _STATE.tables + 1
    body, links, files, frame, cap = _table_parts(df, number=number, prefix="table",
                                                  label="Table", **kw)
    _STATE.tables = number
    html_text = (f'<div class="nlc-table" id="table-{number}-block">{body}'
                 f"{_downloads_p(links)}</div>")
    text = f"{cap}\n{frame.to_string(index=False)}\nSource: {kw['source']}"
    return html_text, text, files


def table(df, *, caption: str, source: str, notes: Sequence[str] = (), name: str | None = None,
          index: bool = False, decimals: int | Mapping[str, int] = 1, missing: str = MARKER,
          row_header: bool = True) -> None:
    """Show a numbered, captioned table with its source and downloads.

    Parameters
    ----------
    df : DataFrame or DisclosureView
        The table to publish, already through :func:`nlc_eval.disclosure.suppress` where it
        holds counts of people. Cells hidden by suppression (``attrs["disclosure"]``) and
        missing cells are shown as ``c``; the footnote explaining ``c`` is printed only when
        at least one cell shows it.
    caption : str
        What the table shows: measure, place and years (shown as "Table N. {caption}").
    source : str
        Where the numbers come from (e.g. "Pupil census, September 2024").
    notes : sequence of str
        Further notes printed under the table.
    name : str, optional
        A short name added to the download file names.
    index : bool
        Show the DataFrame's index as row headers (default: the index is not shown).
    decimals : int or mapping of column heading to int
        Decimal places of non-whole numbers (default 1).
    missing : str
        What a missing (not suppressed) cell shows; default ``c``.
    row_header : bool
        Mark the first column's cells as row headers (``<th scope="row">``).

    Raises
    ------
    ReportError
        No caption or source, a raw column name (``snake_case``) as a heading, duplicated
        headings, or no columns.
    """
    html_text, text, files = _make_table(df, caption=caption, source=source, notes=notes,
                                         name=name, index=index, decimals=decimals,
                                         missing=missing, row_header=row_header)
    _write(files)
    _display(html_text, text, files, "table", _STATE.tables)


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------

def _check_alt(alt: str) -> str:
    text = " ".join(str(alt or "").split())
    if text.lower().rstrip(".") in PLACEHOLDER_ALTS or len(text) < 15:
        raise ReportError(
            f"figure alt text {alt!r} does not describe the figure. Fix: say what is plotted "
            "and the values a reader needs (e.g. 'Bar chart of attendance in 2024/25: "
            "School A 91%, School B 88%').")
    return text


def _figure_object(fig):
    if hasattr(fig, "savefig"):
        return fig
    if hasattr(fig, "figure") and hasattr(fig.figure, "savefig"):
        return fig.figure
    if hasattr(fig, "get_figure"):
        return fig.get_figure()
    raise ReportError(f"present.figure needs a matplotlib Figure or Axes, not "
                      f"{type(fig).__name__}.")


def _embeddable_png(data: bytes) -> bytes:
    """A PNG over :data:`PALETTE_FROM` bytes as 256 colours, when that is much smaller.

    House figures have few colours (anti-aliased edges apart), so a palette image looks
    the same at a third of the size and keeps pages light; a small PNG, or one the palette
    does not make at least a fifth smaller, is returned unchanged.
    """
    if len(data) <= PALETTE_FROM:
        return data
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            rgba = im.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.split()[-1])
        small = io.BytesIO()
        flat.quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                      dither=Image.Dither.NONE).save(small, format="PNG", optimize=True)
    except Exception:  # noqa: BLE001 - PIL is optional; the original PNG is still valid
        return data
    out = small.getvalue()
    return out if len(out) <= 0.8 * len(data) else data


def figure_html(fig, *, caption: str, alt: str, source: str, data: pd.DataFrame,
                name: str | None = None, dpi: int = 100, decimals: int | Mapping = 1,
                index: bool = False) -> str:
    """The HTML :func:`figure` displays (it takes the next figure number, closes ``fig``)."""
    html_text, _, _ = _make_figure(fig, caption=caption, alt=alt, source=source, data=data,
                                   name=name, dpi=dpi, decimals=decimals, index=index)
    return html_text


def _make_figure(fig, *, caption, alt, source, data, name, dpi, decimals, index):
    import matplotlib.pyplot as plt

    caption = _check_caption(caption, "figure")
    alt = _check_alt(alt)
    if not source:
        raise ReportError(f"figure '{caption}' needs its source.")
    if data is None or not isinstance(data, pd.DataFrame | pd.Series) or len(data) == 0:
        raise ReportError(f"figure '{caption}' needs the data behind it (a non-empty "
                          "DataFrame, already suppressed), shown beside it as a table.")
    f = _figure_object(fig)
    number = _STATE.figures + 1
    base = f"figure-{number}" + (f"-{_slug(name)}" if name else "")
    stem = f"{_STATE.report}-{base}"
    png, svg = io.BytesIO(), io.BytesIO()
    try:
        f.savefig(png, format="png", dpi=dpi, bbox_inches="tight")
        f.savefig(svg, format="svg", bbox_inches="tight", metadata={"Date": None})
        width, height = (int(round(v)) for v in f.get_size_inches() * dpi)
    finally:
        plt.close(f)
    png_bytes = _embeddable_png(png.getvalue())
    try:
        from PIL import Image

        with Image.open(io.BytesIO(png_bytes)) as im:
            width, height = im.size
    except Exception:  # noqa: BLE001 - PIL is optional; the figure size is a fine fallback
        pass
    label = f"Figure {number}"
    body, links, files, frame, _ = _table_parts(
        data, caption=f"Data behind figure {number}: {caption}", source=source, notes=(),
        name=name, index=index, decimals=decimals, missing=MARKER, row_header=True,
        number=number, prefix="figure", label="")
    _STATE.figures = number
    files = {f"{stem}.png": png_bytes, f"{stem}.svg": svg.getvalue(),
             f"{stem}-data.csv": next(v for k, v in files.items() if k.endswith(".csv"))}
    if len(png_bytes) <= MAX_EMBEDDED_PNG:
        src = f"data:image/png;base64,{_b64(png_bytes)}"
    else:
        src = ""
    img = (f'<img src="{src}" data-nlc-file="{_e(stem)}.png" alt="{_e(alt)}" '
           f'width="{width}" height="{height}">')
    cap = f"{label}. {_e(caption)}. Source: {_e(_sentence(source).rstrip('.'))}."
    flinks = [(f"{stem}.png", f"{label} as PNG image"), (f"{stem}.svg", f"{label} as SVG image"),
              (f"{stem}-data.csv", f"Data of {label.lower()} as CSV")]
    html_text = (f'<figure class="nlc-figure" id="figure-{number}">{img}'
                 f"<figcaption>{cap}</figcaption>"
                 f'<details><summary>Data behind figure {number}</summary>{body}</details>'
                 f"{_downloads_p(flinks)}</figure>")
    text = f"{label}. {caption}. {alt}"
    return html_text, text, files


def figure(fig, *, caption: str, alt: str, source: str, data: pd.DataFrame,
           name: str | None = None, dpi: int = 100, decimals: int | Mapping[str, int] = 1,
           index: bool = False) -> None:
    """Show a numbered figure with alt text, caption, its data and downloads; close it.

    Parameters
    ----------
    fig : matplotlib Figure or Axes
    caption : str
        What the figure shows (measure, place, years): "Figure N. {caption}. Source: ...".
    alt : str
        Alt text: what is plotted and the values a reader needs. Placeholders such as
        "image" or nbconvert's "No description has been provided" are refused.
    source : str
        Where the numbers come from.
    data : DataFrame
        The (suppressed) numbers behind the figure, with readable column headings; shown
        as a table in a ``<details>`` element and offered as CSV.
    name : str, optional
        Added to the download file names.
    dpi : int
        Resolution of the PNG (default 100). A PNG over ``PALETTE_FROM`` bytes is reduced
        to 256 colours when that makes it much smaller; one still over ``MAX_EMBEDDED_PNG``
        bytes is not embedded; the published page links it from the downloads.
    decimals, index :
        As for :func:`table`, for the data table.

    Raises
    ------
    ReportError
        No caption, alt text that is a placeholder or too short, no source or no data.
    """
    html_text, text, files = _make_figure(fig, caption=caption, alt=alt, source=source,
                                          data=data, name=name, dpi=dpi, decimals=decimals,
                                          index=index)
    _write(files)
    _display(html_text, text, files, "figure", _STATE.figures)


# ---------------------------------------------------------------------------
# Prose
# ---------------------------------------------------------------------------

def _check_prose(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ReportError("present.paragraph needs text; say what is not shown and why "
                          "(e.g. 'Not shown: fewer than 5 learners.') instead of an empty "
                          "paragraph.")
    for pattern, what in ((_NAN_WORD, "a missing value"), (_NOT_AVAILABLE, "'n/a'")):
        m = pattern.search(text)
        if m:
            raise ReportError(f"prose contains {what} ({m.group(0)!r}): {text[:160]!r}. Fix: "
                              "say what is not available and why instead (e.g. 'not shown: "
                              "fewer than 5 learners').")
    if _MARKER_WORD.search(_MARKER_EXPLAINED.sub("", text)):
        raise ReportError(f"prose contains the suppression marker 'c' as a word: "
                          f"{text[:160]!r}. Fix: the marker is for table cells; in a sentence "
                          "say the number is not shown and why (e.g. 'not shown: fewer than "
                          "5 learners').")
    return " ".join(text.split())


def paragraph(text: str) -> None:
    """Show one paragraph of plain text (HTML-escaped; no markdown)."""
    from IPython.display import display

    text = _check_prose(text)
    display({"text/html": f"<p>{_e(text)}</p>", "text/plain": text}, raw=True)


def heading(text: str, level: int = 2) -> None:
    """Show a heading (``level`` 1 is the page title, used once; 2-4 for sections)."""
    from IPython.display import display

    if level not in (1, 2, 3, 4):
        raise ReportError(f"heading level must be 1 to 4, not {level!r}.")
    text = _check_prose(text)
    display({"text/html": f"<h{level}>{_e(text)}</h{level}>", "text/plain": text}, raw=True)
