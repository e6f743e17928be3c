"""Decoding text files as users save them: UTF-8 (with or without BOM), UTF-16, cp1252.

Excel's "CSV UTF-8" adds a byte-order mark, "Unicode text" is UTF-16, and an older "CSV"
export is Windows-1252. Anything else (a spreadsheet saved under a .csv name, a damaged
download, binary data) is refused with a :class:`~nlc_eval.errors.DataError` naming the
file and the byte where decoding failed, never with a ``UnicodeDecodeError``.

Examples
--------
>>> decode_text("Seed Code,Roll\\n".encode("utf-16"), "a.csv")
'Seed Code,Roll\\n'
>>> decode_text("Caf\\u00e9\\n".encode("cp1252"), "a.csv")
'Café\\n'
"""

from __future__ import annotations

import codecs
import io
import os
import re
import zipfile

from nlc_eval.errors import DataError

#: Control characters other than tab, line feed, carriage return and form feed.
_CONTROL = re.compile(r"[\x01-\x08\x0b\x0e-\x1f\x7f]")
#: Share of other control characters above which a decoded file is taken for binary data.
_MAX_CONTROL_SHARE = 0.001


def _utf16_without_bom(data: bytes) -> str | None:
    """'le' or 'be' when the bytes look like BOM-less UTF-16 text (ASCII with NUL halves)."""
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "be"
    return None


def detect_encoding(data: bytes) -> str:
    """The encoding of a text file's bytes (see the module docstring for the order tried).

    Raises
    ------
    UnicodeDecodeError
        If no accepted encoding decodes the bytes (callers turn it into a DataError).
    """
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    half = _utf16_without_bom(data)
    if half:
        return f"utf-16-{half}"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        data.decode("cp1252")  # raises for the five bytes cp1252 leaves undefined
        return "cp1252"


def decode_text(data: bytes, file: str | os.PathLike, *, table: str | None = None) -> str:
    """Decode a text file's bytes, or raise :class:`DataError` if it is not text.

    Parameters
    ----------
    data : bytes
        The file's content.
    file : path-like
        Named in the error.
    table : str, optional
        Named in the error (the council extracts' table).

    Raises
    ------
    DataError
        A workbook saved under a text name, undecodable bytes, or binary content
        (NUL bytes or many control characters).
    """
    fix = ("save the file as CSV (UTF-8, UTF-16 or Windows-1252 text) with a header row, "
           "or download it again.")
    if data.startswith(b"PK\x03\x04") and zipfile.is_zipfile(io.BytesIO(data)):
        raise DataError("the file is a zip or Excel workbook, not CSV text.", file=file,
                        table=table, fix="save the sheet as CSV, or give the .xlsx name.")
    try:
        encoding = detect_encoding(data)
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise DataError(f"the file is not text in any accepted encoding (byte {exc.start} "
                        f"is {data[exc.start:exc.start + 1]!r}).", file=file, table=table,
                        fix=fix) from None
    if encoding.startswith("utf-16") and text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        raise DataError(f"the file holds binary data (a NUL character at position "
                        f"{text.index(chr(0))}).", file=file, table=table, fix=fix)
    control = len(_CONTROL.findall(text))
    if control and control > _MAX_CONTROL_SHARE * len(text):
        raise DataError(f"the file holds binary data ({control} control characters).",
                        file=file, table=table, fix=fix)
    return text
