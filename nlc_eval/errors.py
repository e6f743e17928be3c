"""Errors raised by nlc_eval.

Every error the kit raises on bad input is an :class:`NlcEvalError`. Messages name the
file, sheet, table, column and row involved where they are known, and say what to do.
"""

from __future__ import annotations


class NlcEvalError(Exception):
    """Base class of every error the kit raises on purpose."""


class DataError(NlcEvalError, ValueError):
    """An input file or table is missing, malformed or inconsistent.

    Parameters
    ----------
    message : str
        What is wrong.
    file, sheet, table, column, row : optional
        Where it is wrong; included in the message when given.
    fix : str, optional
        What the user should do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        file: object | None = None,
        sheet: str | None = None,
        table: str | None = None,
        column: str | None = None,
        row: object | None = None,
        fix: str | None = None,
    ) -> None:
        self.file = None if file is None else str(file)
        self.sheet = sheet
        self.table = table
        self.column = column
        self.row = row
        self.fix = fix
        where = []
        if self.file is not None:
            where.append(f"file {self.file!r}")
        if sheet is not None:
            where.append(f"sheet {sheet!r}")
        if table is not None:
            where.append(f"table {table!r}")
        if column is not None:
            where.append(f"column {column!r}")
        if row is not None:
            where.append(f"row {row}")
        text = message
        if where:
            text = f"{', '.join(where)}: {message}"
        if fix:
            text = f"{text} Fix: {fix}"
        super().__init__(text)


class ConstraintError(NlcEvalError, ValueError):
    """A family-formation request cannot be satisfied (e.g. size bounds are infeasible)."""


class ImpactError(NlcEvalError, ValueError):
    """An impact estimator was given data it cannot use (missing columns, no overlap, ...)."""


class DisclosureError(NlcEvalError, ValueError):
    """A table cannot be made safe for publication as requested."""


class ReportError(NlcEvalError, RuntimeError):
    """A report could not be produced (bad parameter, failed notebook, ...)."""
