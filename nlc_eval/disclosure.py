"""Statistical disclosure control: small-number suppression of every published table.

Every table the kit publishes passes :func:`suppress`. It hides

* **primary** cells: every count of 1 to ``threshold - 1`` pupils (and zeros too when
  ``zeros="suppress"``);
* **secondary** cells: further counts chosen so that no hidden value can be worked out from
  the totals that are shown;
* **rates** (percentages, averages) computed from a hidden count, or from a group smaller
  than the threshold.

The guarantee
-------------
A table's *relations* are the sums it publishes: with a total column each row's cells add up
to that row's total; with a total row each column's cells add up to that column's total
(margins added by :func:`suppress` and totals the table already has, declared with
``total_row`` / ``total_column``). After :func:`suppress`:

1. no visible count lies in ``1 .. threshold-1``;
2. no relation (row or column) has exactly one hidden cell, counting its total as a cell,
   and no relation with a shown total has hidden members that add up to 1 to
   ``threshold - 1`` (the total minus the shown members would give that group away);
3. stronger: no hidden non-zero count is determined by *any combination* of the
   relations, even for an intruder who knows which hidden cells are zero. For every such
   cell there is another table, agreeing with every shown value, every relation and the
   zeros, in which that cell takes a different value (checked exactly through the null
   space of the relations restricted to the hidden non-zero cells). With
   ``zeros="suppress"`` zeros are secret too and every hidden cell is protected;
4. when the shown totals are consistent, the same holds with non-negativity added: for
   each hidden non-zero count (and each hidden zero when ``zeros="suppress"``, checked
   with one linear programme) the smallest and largest values an intruder can infer
   differ (see :func:`attacker_bounds`). With ``zeros="show"`` a hidden zero may be
   inferable as 0, which that policy treats as not disclosive.

Relations the table does not show (hierarchies across several tables, overlapping groups,
differences between tables published separately) are outside the guarantee: publish one
table per relation set, or suppress the combined table.

Nested groups
-------------
Two counts of groups where one contains the other (all supports and one level of support,
an authority and one of its clusters) give the group in between away by subtraction when
they differ by 1 to ``threshold - 1``. :func:`nested_counts` takes the groups themselves
(sets of pupils) and returns the counts to publish: when one group contains another and
their counts differ by less than the threshold, both are shown with the larger count (the
two groups are published as one), repeated until no such pair is left. Groups of 1 to
``threshold - 1`` are left to primary suppression. :func:`nested_differences` lists the
pairs a set of published counts would still give away.

Suppression is recorded in ``result.attrs["disclosure"]`` and can be listed with
:func:`suppression_log`. :func:`format_suppressed` and :func:`display` render hidden cells as
``c`` with a footnote; :func:`check_published` is the gate reports call before publishing.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"boys": [3, 12, 20], "girls": [10, 14, 25]}, index=["A", "B", "C"])
>>> out = suppress(t)
>>> out.loc["A", "boys"] is pd.NA
True
>>> format_suppressed(out).loc["A", "boys"]
'c'
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.linalg import null_space
from scipy.optimize import linprog

from nlc_eval.errors import DataError, DisclosureError

__all__ = [
    "FOOTNOTE",
    "THRESHOLD",
    "DisclosureView",
    "attacker_bounds",
    "check_published",
    "display",
    "format_suppressed",
    "nested_counts",
    "nested_differences",
    "suppress",
    "suppress_long",
    "suppression_log",
]

#: The suppression threshold: counts of 1 to ``THRESHOLD - 1`` pupils are never published.
THRESHOLD = 5

FOOTNOTE = (
    "c: confidential. Hidden because it counts fewer than {threshold} pupils, or because it "
    "could otherwise be worked out from the totals shown, or because it is a rate based on "
    "such a number."
)

_TOL = 1e-9


# ---------------------------------------------------------------------------
# Core: primary and secondary suppression of a block of counts
# ---------------------------------------------------------------------------


@dataclass
class _Block:
    """The count block of a table, with the relations (lines) it publishes."""

    values: np.ndarray  # (R, C) float
    is_total: np.ndarray  # (R, C) bool: cell is a margin (row or column total)
    lines: list[tuple[np.ndarray, np.ndarray]]  # (flat cell indices, signs)

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.shape


def _lines(n_rows: int, n_cols: int, total_row: int | None,
           row_relations: list[tuple[int, list[int]]]):
    """Relations as (flat cells, signs): each row's members minus its total, for every
    row relation; each column's members minus the total row."""
    lines = []
    for total_col, members in row_relations:
        for i in range(n_rows):
            cells = np.array([i * n_cols + j for j in [*members, total_col]])
            signs = np.array([1.0] * len(members) + [-1.0])
            lines.append((cells, signs))
    if total_row is not None:
        for j in range(n_cols):
            cells = np.array([i * n_cols + j for i in range(n_rows)])
            signs = np.array([-1.0 if i == total_row else 1.0 for i in range(n_rows)])
            lines.append((cells, signs))
    return lines


def _determined(block: _Block, hidden: np.ndarray) -> np.ndarray:
    """Flat indices of hidden cells whose value the relations determine exactly."""
    unknown = np.flatnonzero(hidden.ravel())
    if unknown.size == 0 or not block.lines:
        return np.array([], dtype=int)
    pos = {cell: k for k, cell in enumerate(unknown)}
    rows = []
    for cells, signs in block.lines:
        row = np.zeros(unknown.size)
        for cell, sign in zip(cells, signs, strict=True):
            k = pos.get(cell)
            if k is not None:
                row[k] = sign
        if row.any():
            rows.append(row)
    if not rows:
        return np.array([], dtype=int)
    basis = null_space(np.vstack(rows))
    if basis.size == 0:
        return unknown
    free = np.abs(basis).max(axis=1) > 1e-8
    return unknown[~free]


def _system(block: _Block, hidden: np.ndarray):
    """The intruder's equations ``A x = b`` over the hidden cells (flat indices)."""
    unknown = np.flatnonzero(hidden.ravel())
    flat = block.values.ravel()
    pos = {cell: k for k, cell in enumerate(unknown)}
    a_rows, b = [], []
    for cells, signs in block.lines:
        row = np.zeros(unknown.size)
        rhs = 0.0
        for cell, sign in zip(cells, signs, strict=True):
            k = pos.get(cell)
            if k is None:
                rhs -= sign * flat[cell]
            else:
                row[k] = sign
        if row.any():
            a_rows.append(row)
            b.append(rhs)
    a_eq = np.vstack(a_rows) if a_rows else np.zeros((0, unknown.size))
    return unknown, a_eq, np.array(b)


def _always_zero(block: _Block, hidden: np.ndarray) -> np.ndarray | None:
    """Hidden cells that are 0 in every non-negative solution (None: relations disagree).

    One LP: maximise sum(t) with 0 <= t_j <= min(1, x_j). A cell that can be positive in
    some solution can be positive together with all others (average the solutions), so
    the optimum has t_j > 0 exactly for the cells that are not forced to 0.
    """
    unknown, a_eq, b_eq = _system(block, hidden)
    n = unknown.size
    if n == 0 or a_eq.shape[0] == 0:
        return np.array([], dtype=int)
    c = np.concatenate([np.zeros(n), -np.ones(n)])
    a_full = np.hstack([a_eq, np.zeros_like(a_eq)])
    a_ub = np.hstack([-np.eye(n), np.eye(n)])  # t - x <= 0
    res = linprog(c, A_ub=a_ub, b_ub=np.zeros(n), A_eq=a_full, b_eq=b_eq,
                  bounds=[(0, None)] * n + [(0, 1)] * n, method="highs")
    if res.status != 0:
        return None
    return unknown[res.x[n:] < 1e-7]


def _bounds(block: _Block, hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Intruder's LP bounds (min, max) for each hidden cell; None if the relations disagree."""
    unknown, a_eq, b_eq = _system(block, hidden)
    if unknown.size == 0:
        return unknown, np.array([]), np.array([])
    lo = np.zeros(unknown.size)
    hi = np.full(unknown.size, np.inf)
    if a_eq.shape[0] == 0:
        return unknown, lo, hi
    for k in range(unknown.size):
        c = np.zeros(unknown.size)
        c[k] = 1.0
        low = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        if low.status == 2:  # infeasible: declared totals are not exact sums
            return None
        high = linprog(-c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        lo[k] = low.fun if low.status == 0 else 0.0
        hi[k] = -high.fun if high.status == 0 else np.inf
    return unknown, lo, hi


def _pick(block: _Block, hidden: np.ndarray, candidates: Iterable[int]) -> int | None:
    """Choose the secondary cell: members before totals, non-zero before zero, cells that
    also repair a crossing line, then the smallest value."""
    flat_hidden = hidden.ravel()
    flat_vals = block.values.ravel()
    flat_total = block.is_total.ravel()
    single = {}
    for cells, _ in block.lines:
        n = int(flat_hidden[cells].sum())
        for cell in cells:
            single.setdefault(cell, 0)
            if n == 1:
                single[cell] += 1
    best, best_key = None, None
    for cell in candidates:
        if flat_hidden[cell]:
            continue
        key = (bool(flat_total[cell]), flat_vals[cell] == 0, -single.get(cell, 0),
               flat_vals[cell], cell)
        if best_key is None or key < best_key:
            best, best_key = cell, key
    return best


def _small_hidden_group(block: _Block, flat_hidden: np.ndarray, threshold: int
                        ) -> int | None:
    """A line whose shown total minus its shown members gives a small group away.

    With the total of a line shown, its hidden members add up to the total minus the
    visible members: that sum is the count of a group (the hidden members together) and
    must be 0 or at least ``threshold``. Returns the cell to hide next on the first line
    that breaks this (its smallest visible non-zero member, else its total), or None.
    """
    flat_vals = block.values.ravel()
    flat_total = block.is_total.ravel()
    for cells, signs in block.lines:
        members = cells[signs > 0]
        totals = cells[signs < 0]
        if totals.size != 1 or flat_hidden[totals[0]]:
            continue
        gone = members[flat_hidden[members]]
        if gone.size < 2:
            continue               # one hidden member is handled by the single-cell rule
        group = float(flat_vals[gone].sum())
        if 0 < group < threshold:
            shown = [int(c) for c in members if not flat_hidden[c] and flat_vals[c] != 0
                     and not flat_total[c]]
            if shown:
                return min(shown, key=lambda c: (flat_vals[c], c))
            return int(totals[0])
    return None


def _protect(block: _Block, hidden: np.ndarray, reason: np.ndarray, *, exact: bool,
             protect_zeros: bool = False, threshold: int = THRESHOLD) -> None:
    """Add secondary suppression in place until the guarantee holds."""
    if not (hidden.flags.c_contiguous and reason.flags.c_contiguous):
        raise ValueError("internal: suppression masks must be C-contiguous")
    flat_hidden = hidden.reshape(-1)  # a view, so hiding updates `hidden`
    flat_reason = reason.reshape(-1)
    cell_lines: dict[int, list[int]] = {}
    for n, (cells, _) in enumerate(block.lines):
        for cell in cells:
            cell_lines.setdefault(int(cell), []).append(n)

    def hide(cell: int) -> None:
        flat_hidden[cell] = True
        flat_reason[cell] = "secondary"

    while True:
        # 1. no line with exactly one hidden cell (fixed point)
        changed = True
        while changed:
            changed = False
            for cells, _ in block.lines:
                if int(flat_hidden[cells].sum()) == 1:
                    cell = _pick(block, hidden, cells)
                    if cell is None:
                        raise DisclosureError(
                            "cannot protect a hidden cell: its row or column has no other "
                            "cell to suppress. Fix: drop the total or merge categories."
                        )
                    hide(cell)
                    changed = True
            # 1b. nor a shown total minus its shown members that gives away a small group
            # (the hidden members together)
            cell = _small_hidden_group(block, flat_hidden, threshold)
            if cell is not None:
                hide(cell)
                changed = True
        if not exact:
            return
        # 2. no hidden cell determined by any combination of lines. With zeros shown by
        # policy, the intruder is assumed to know which hidden cells are zero.
        unknown = hidden if protect_zeros else hidden & (block.values != 0)
        fixed = _determined(block, unknown)
        if fixed.size == 0 and protect_zeros:
            # 3. nor pinned by non-negativity: only hidden zeros can sit on a bound. Find
            # those forced to 0 (one LP), and repeat the exact test treating them as known.
            # Every other hidden cell is then free in the null space and positive, so none
            # is pinned.
            if not (block.values.ravel()[flat_hidden] == 0).any():
                return
            zero = _always_zero(block, hidden)
            if zero is None or zero.size == 0:
                return
            rest = hidden.copy()
            rest.reshape(-1)[zero] = False
            fixed = np.concatenate([zero, _determined(block, rest)])
        if fixed.size == 0:
            return
        touched: set[int] = set()
        for target in (int(t) for t in fixed):
            lines = cell_lines.get(target, [])
            if touched.intersection(lines):
                continue  # a partner was just added on one of its lines: re-check first
            candidates = [c for n in lines for c in block.lines[n][0]]
            cell = _pick(block, hidden, candidates)
            if cell is None:  # widen the search to every visible cell
                cell = _pick(block, hidden, range(flat_hidden.size))
            if cell is None:
                raise DisclosureError(
                    "cannot protect the table: every cell is already suppressed yet a "
                    "value is still determined. Fix: publish without totals or merge "
                    "categories."
                )
            hide(cell)
            touched.update(lines)
            touched.update(cell_lines.get(cell, []))


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def _count_columns(table: pd.DataFrame, count_columns, rate_columns) -> list:
    if count_columns is not None:
        cols = list(count_columns)
        for col in cols:
            if col not in table.columns:
                raise DataError(
                    "count column not in the table", table="suppress", column=str(col),
                    fix=f"choose from {list(table.columns)}",
                )
        return cols
    rate_cols = set(rate_columns or {})
    return [
        c for c in table.columns
        if c not in rate_cols and pd.api.types.is_integer_dtype(table[c].dtype)
    ]


def _as_counts(table: pd.DataFrame, cols: list) -> pd.DataFrame:
    out = {}
    for col in cols:
        s = pd.to_numeric(table[col], errors="coerce")
        bad = s.isna() & table[col].notna()
        if bad.any() or s.isna().any():
            row = table.index[(bad | s.isna()).to_numpy()][0]
            raise DataError(
                "count is missing or not a number", table="suppress", column=str(col),
                row=row, fix="fill absent counts with 0 before suppressing",
            )
        arr = s.to_numpy(dtype=float)
        if (arr < 0).any() or (np.abs(arr - np.round(arr)) > _TOL).any():
            row = table.index[((arr < 0) | (np.abs(arr - np.round(arr)) > _TOL))][0]
            raise DataError(
                "counts must be whole numbers of at least 0", table="suppress",
                column=str(col), row=row, fix="pass only count columns as count_columns",
            )
        out[col] = arr
    return pd.DataFrame(out, index=table.index)


def suppress(
    table: pd.DataFrame,
    threshold: int = THRESHOLD,
    margins: bool | str = True,
    count_columns: Iterable[Hashable] | None = None,
    rate_columns: Mapping[Hashable, Hashable | tuple] | None = None,
    zeros: str = "show",
    *,
    total_row: Hashable | None = None,
    total_column: Hashable | None = None,
    row_relations: Mapping[Hashable, Iterable[Hashable]] | Iterable[tuple] | None = None,
    margins_name: str = "Total",
    min_denominator: int | None = None,
    group_size: Hashable | None = None,
    exact: bool = True,
) -> pd.DataFrame:
    """Hide small counts and everything from which they could be recovered.

    Parameters
    ----------
    table : DataFrame
        Rows are groups (unique index), columns are counts, rates and labels.
    threshold : int, default 5
        Counts ``1 .. threshold-1`` are hidden (primary suppression).
    margins : bool or {"row", "column"}, default True
        Add totals, computed before suppression and shown unless they must be hidden
        themselves. ``True`` adds a total row (sum of each count column) and, when there are
        at least two count columns, a total column (sum across the count columns, which
        must then be categories that add up); ``"row"`` adds only the total row; ``"column"``
        only the total column; ``False`` neither.
    count_columns : list, optional
        Columns holding counts of pupils (or supports, sessions). Default: integer columns
        not named in ``rate_columns``.
    rate_columns : mapping, optional
        ``rate_col -> count_col``: hide the rate where that count is hidden;
        ``rate_col -> [col, ...]``: where any of those counts or (earlier) rates is hidden;
        or
        ``rate_col -> (numerator, denominator)``: hide it where either is hidden or the
        denominator is below ``min_denominator``; ``numerator`` may be None for a statistic
        (mean, median) of a group whose size is ``denominator``: hidden only when the group
        is smaller than ``min_denominator``. Rates are blank in added
        margin rows.
    zeros : {"show", "suppress"}, default "show"
        Whether zero counts are shown or hidden as primary cells.
    total_row, total_column : label, optional
        Existing totals in the table (index label / column label); ``total_column`` is
        the sum of all the other count columns. They are treated as published relations
        even when not exact sums (e.g. distinct learners), which can only add suppression.
    row_relations : mapping or list of pairs, optional
        Further sums across a row: ``{total_col: [member_col, ...]}``, e.g.
        ``{"supports": ["universal", "additional", "intensive"]}``, or a list of
        ``(total_col, [member_col, ...])`` pairs when several breakdowns share a total.
    margins_name : str, default "Total"
        Label of added margins.
    min_denominator : int, optional
        Smallest group a rate may describe; default ``threshold``.
    group_size : label, optional
        A count column giving each row's number of pupils: in rows where it is
        ``1 .. threshold-1`` every count is hidden as primary (reason ``small group``), so
        that no figure describes fewer pupils than the threshold (e.g. sessions attended by
        two learners).
    exact : bool, default True
        Besides the line rule, check every combination of relations and non-negativity
        (see the module docstring). ``False`` applies only the line rule.

    Returns
    -------
    DataFrame
        Count columns as ``Int64`` and rate columns as ``Float64`` with hidden cells
        ``pd.NA``; ``attrs["disclosure"]`` records threshold, columns, totals and each hidden
        cell with its reason (``primary``, ``zero``, ``secondary``, ``rate``).

    Raises
    ------
    DataError
        Counts missing, negative or fractional; labels or columns not found.
    DisclosureError
        The table cannot be protected.
    """
    if not isinstance(table, pd.DataFrame):
        raise DataError("suppress needs a DataFrame", table="suppress")
    if zeros not in ("show", "suppress"):
        raise DataError(f"zeros={zeros!r} is not a policy", table="suppress",
                        fix='use zeros="show" or zeros="suppress"')
    if margins not in (True, False, "row", "column"):
        raise DataError(f"margins={margins!r} not understood", table="suppress",
                        fix='use True, False, "row" or "column"')
    if not isinstance(threshold, int | np.integer) or threshold < 1:
        raise DataError(f"threshold={threshold!r} must be a whole number >= 1",
                        table="suppress")
    if table.index.has_duplicates:
        dup = table.index[table.index.duplicated()][0]
        raise DataError("row labels must be unique", table="suppress", row=dup,
                        fix="aggregate or set a unique index first")
    rate_columns = dict(rate_columns or {})
    min_den = threshold if min_denominator is None else min_denominator
    cols = _count_columns(table, count_columns, rate_columns)
    if not cols:
        raise DataError("no count columns found", table="suppress",
                        fix="name them with count_columns=[...]")
    out = table.copy()
    counts = _as_counts(out, cols)

    if total_column is not None and total_column not in cols:
        raise DataError("total_column is not a count column", table="suppress",
                        column=str(total_column), fix="include it in count_columns")
    if total_row is not None and total_row not in out.index:
        raise DataError("total_row label not found", table="suppress", row=total_row,
                        fix=f"choose from {list(out.index)[:10]}")
    add_row = margins in (True, "row")
    add_col = margins == "column" or (margins is True and len(cols) >= 2)
    if add_row and total_row is not None:
        raise DataError("the table already has a total row", table="suppress",
                        row=total_row, fix='use margins="column" or margins=False')
    if add_col and total_column is not None:
        raise DataError("the table already has a total column", table="suppress",
                        column=str(total_column), fix='use margins="row" or margins=False')
    member_cols = [c for c in cols if c != total_column]
    pairs = row_relations.items() if isinstance(row_relations, Mapping) else row_relations
    relations = [(k, list(v)) for k, v in (pairs or [])]
    for tot, members in relations:
        for col in [tot, *members]:
            if col not in cols:
                raise DataError("row relation names a column that is not a count column",
                                table="suppress", column=str(col),
                                fix="include it in count_columns")
    if total_column is not None:
        relations.append((total_column, member_cols))
    if add_col:
        if margins_name in out.columns:
            raise DataError("margin label already used as a column", table="suppress",
                            column=margins_name, fix="pass another margins_name")
        counts[margins_name] = counts[member_cols].sum(axis=1)
        out[margins_name] = counts[margins_name]
        total_column = margins_name
        relations.append((margins_name, member_cols))
        cols = cols + [margins_name]
    if add_row:
        label = margins_name
        if isinstance(out.index, pd.MultiIndex):
            label = (margins_name,) + ("",) * (out.index.nlevels - 1)
        if label in out.index:
            raise DataError("margin label already used as a row", table="suppress",
                            row=label, fix="pass another margins_name")
        member_rows = [r for r in out.index]
        total = counts.loc[member_rows].sum(axis=0)
        extra = pd.DataFrame([{c: pd.NA for c in out.columns}], index=[label])
        if isinstance(out.index, pd.MultiIndex):
            extra.index = pd.MultiIndex.from_tuples([label], names=out.index.names)
        else:
            extra.index.name = out.index.name
        for c in cols:
            extra[c] = total[c]
        for c in out.columns:
            if c not in cols and c not in rate_columns:
                extra[c] = margins_name if out[c].dtype == object else pd.NA
        out = pd.concat([out, extra.astype(object)], axis=0)
        counts = pd.concat([counts, pd.DataFrame([total], index=extra.index)], axis=0)
        total_row = label

    values = np.ascontiguousarray(counts[cols].to_numpy(dtype=float))
    n_rows, n_cols = values.shape
    tr = None if total_row is None else list(counts.index).index(total_row)
    rel_idx = [(cols.index(t), [cols.index(m) for m in ms]) for t, ms in relations]
    is_total = np.zeros(values.shape, dtype=bool)
    if tr is not None:
        is_total[tr, :] = True
    for t, _ in rel_idx:
        is_total[:, t] = True
    block = _Block(values, is_total, _lines(n_rows, n_cols, tr, rel_idx))

    reason = np.full(values.shape, "", dtype=object)
    hidden = np.ascontiguousarray((values >= 1) & (values < threshold))
    reason[hidden] = "primary"
    if zeros == "suppress":
        zero = (values == 0) & ~hidden
        reason[zero] = "zero"
        hidden |= zero
    if group_size is not None:
        if group_size not in cols:
            raise DataError("group_size is not a count column", table="suppress",
                            column=str(group_size), fix="include it in count_columns")
        size = values[:, cols.index(group_size)]
        small = ((size >= 1) & (size < threshold))[:, None] & ~hidden
        reason[small] = "small group"
        hidden |= small
    _protect(block, hidden, reason, exact=exact, protect_zeros=zeros == "suppress",
             threshold=threshold)

    record = []
    for j, c in enumerate(cols):
        col = pd.array(values[:, j].round().astype("int64"), dtype="Int64")
        col[hidden[:, j]] = pd.NA
        out[c] = col
    for i in range(n_rows):
        for j in range(n_cols):
            if hidden[i, j]:
                record.append({"row": counts.index[i], "column": cols[j],
                               "reason": str(reason[i, j])})

    hidden_df = pd.DataFrame(hidden, index=counts.index, columns=cols)
    for rate, spec in rate_columns.items():
        if rate not in out.columns:
            raise DataError("rate column not in the table", table="suppress",
                            column=str(rate), fix="check rate_columns")
        if isinstance(spec, tuple):
            num, den = spec
            mask = pd.Series(False, index=out.index)
            if num is not None:  # rate and numerator shown would give the denominator
                mask |= _hidden_of(hidden_df, num, rate)
                mask |= _hidden_of(hidden_df, den, rate)
            else:
                _hidden_of(hidden_df, den, rate)
            mask |= counts[den].to_numpy() < min_den  # true group size, before hiding
        elif isinstance(spec, list):
            mask = pd.Series(False, index=out.index)
            for col in spec:
                mask |= _hidden_of(hidden_df, col, rate)
        else:
            mask = _hidden_of(hidden_df, spec, rate)
        hidden_df[rate] = np.asarray(mask, dtype=bool)
        vals = pd.to_numeric(pd.Series(np.asarray(table[rate], dtype=object)),
                             errors="coerce")
        vals = pd.array(list(vals) + [np.nan] * (len(out) - len(vals)), dtype="Float64")
        vals[np.asarray(mask, dtype=bool)] = pd.NA
        out[rate] = vals
        for label in out.index[np.asarray(mask, dtype=bool)]:
            record.append({"row": label, "column": rate, "reason": "rate"})

    for c in out.columns:
        if c not in cols and c not in rate_columns and out[c].dtype == object:
            out[c] = out[c].infer_objects()
    out.attrs["disclosure"] = {
        "threshold": int(threshold),
        "zeros": zeros,
        "count_columns": list(cols),
        "rate_columns": {k: (list(v) if isinstance(v, tuple | list) else v)
                         for k, v in rate_columns.items()},
        "group_size": group_size,
        "total_row": total_row,
        "total_column": total_column,
        "row_relations": [[t, list(ms)] for t, ms in relations],
        "cells": record,
    }
    return out


def _hidden_of(hidden_df: pd.DataFrame, col: Hashable, rate: Hashable) -> pd.Series:
    if col not in hidden_df.columns:
        raise DataError(
            f"rate {rate!r} refers to {col!r}, which is not a count column or an earlier "
            "rate column",
            table="suppress", column=str(rate), fix="add it to count_columns",
        )
    return hidden_df[col]


def suppress_long(
    data: pd.DataFrame,
    count: str,
    by: str | list[str],
    across: str | None = None,
    threshold: int = THRESHOLD,
    margins: bool = True,
    zeros: str = "show",
    margins_name: str = "Total",
    exact: bool = True,
) -> pd.DataFrame:
    """Suppress a tidy table with one count column grouped by dimensions.

    Parameters
    ----------
    data : DataFrame
        One row per combination of the ``by`` (and ``across``) columns.
    count : str
        The count column.
    by : str or list of str
        Row dimensions.
    across : str, optional
        A column dimension whose categories add up (e.g. support level); the table is
        pivoted to ``by`` x ``across`` (absent combinations are zeros), suppressed with row
        and column totals, and returned long again.
    threshold, margins, zeros, margins_name, exact
        As in :func:`suppress`.

    Returns
    -------
    DataFrame
        Long table with ``count`` as ``Int64`` (hidden = ``pd.NA``), total rows labelled
        ``margins_name``, and ``attrs["disclosure"]``.
    """
    by = [by] if isinstance(by, str) else list(by)
    needed = by + [count] + ([across] if across else [])
    for col in needed:
        if col not in data.columns:
            raise DataError("column not found", table="suppress_long", column=col,
                            fix=f"choose from {list(data.columns)}")
    keys = by + ([across] if across else [])
    if data.duplicated(keys).any():
        row = data.index[data.duplicated(keys)][0]
        raise DataError("more than one row per group", table="suppress_long", row=row,
                        fix=f"aggregate first: data.groupby({keys})[{count!r}].sum()")
    if across is None:
        wide = data.set_index(by)[[count]]
        out = suppress(wide, threshold, "row" if margins else False, [count], zeros=zeros,
                       margins_name=margins_name, exact=exact)
        attrs = out.attrs["disclosure"]
        res = out.reset_index()
        res.attrs["disclosure"] = attrs
        return res
    wide = data.pivot_table(index=by, columns=across, values=count, aggfunc="sum",
                            fill_value=0, observed=True)
    wide.columns = list(wide.columns)
    wide = wide.astype("int64")
    out = suppress(wide, threshold, margins, list(wide.columns), zeros=zeros,
                   margins_name=margins_name, exact=exact)
    attrs = out.attrs["disclosure"]
    res = out.reset_index().melt(id_vars=by, var_name=across, value_name=count)
    if not margins:
        present = data[keys].apply(tuple, axis=1)
        res = res[res[keys].apply(tuple, axis=1).isin(set(present))]
    res = res.reset_index(drop=True)
    res[count] = res[count].astype("Int64")
    res.attrs["disclosure"] = attrs
    return res


def suppression_log(table: pd.DataFrame) -> pd.DataFrame:
    """Which cells :func:`suppress` hid and why (columns ``row``, ``column``, ``reason``)."""
    record = table.attrs.get("disclosure")
    if record is None:
        raise DisclosureError("this table has not been through suppress(). "
                              "Fix: call nlc_eval.disclosure.suppress(table) first.")
    return pd.DataFrame(record["cells"], columns=["row", "column", "reason"])


def attacker_bounds(table: pd.DataFrame) -> pd.DataFrame:
    """What an intruder can infer about each hidden count from the table's totals.

    Solves two linear programmes per hidden count (minimise and maximise it, subject to
    every shown value, every published relation and non-negativity).

    Parameters
    ----------
    table : DataFrame
        Output of :func:`suppress` (only its shown values and ``attrs`` are used).

    Returns
    -------
    DataFrame
        ``row, column, lower, upper`` per hidden count.
    """
    record = table.attrs.get("disclosure")
    if record is None:
        raise DisclosureError("attacker_bounds needs a table with attrs['disclosure'] "
                              "from suppress(). Fix: call suppress(table) first.")
    cols = record["count_columns"]
    hidden = np.zeros((len(table), len(cols)), dtype=bool)
    rows = list(table.index)
    for cell in record["cells"]:
        if cell["column"] in cols:
            hidden[rows.index(cell["row"]), cols.index(cell["column"])] = True
    values = table[cols].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(values[~hidden]).any():
        raise DisclosureError("a shown count is missing. Fix: pass a suppressed table.")
    values = np.where(hidden, 0.0, values)
    tr = None if record["total_row"] is None else rows.index(record["total_row"])
    block = _Block(values, np.zeros_like(hidden),
                   _lines(len(rows), len(cols), tr, _relation_index(record, cols)))
    res = _bounds(block, hidden)
    if res is None:
        raise DisclosureError("the table's totals are not consistent; bounds undefined.")
    unknown, lo, hi = res
    out = []
    for k, cell in enumerate(unknown):
        i, j = divmod(int(cell), len(cols))
        out.append({"row": rows[i], "column": cols[j], "lower": lo[k], "upper": hi[k]})
    return pd.DataFrame(out, columns=["row", "column", "lower", "upper"])


def check_published(
    table: pd.DataFrame,
    threshold: int = THRESHOLD,
    count_columns: Iterable[Hashable] | None = None,
) -> None:
    """Refuse to publish a table with a visible small count or an unprotected line.

    Parameters
    ----------
    table : DataFrame
        Ideally the output of :func:`suppress`. Without ``attrs["disclosure"]`` the count
        columns are ``count_columns`` or the integer columns.
    threshold : int, default 5

    Raises
    ------
    DisclosureError
        If a shown count is in ``1 .. threshold-1``, or (for suppressed tables) a row or
        column with a shown total has exactly one hidden cell.
    """
    record = table.attrs.get("disclosure") or {}
    cols = list(count_columns) if count_columns is not None else record.get("count_columns")
    if cols is None:
        cols = [c for c in table.columns if pd.api.types.is_integer_dtype(table[c].dtype)
                or pd.api.types.is_float_dtype(table[c].dtype) and _whole(table[c])]
    for col in cols:
        if col not in table.columns:
            raise DisclosureError(f"count column {col!r} missing from the table.")
        s = pd.to_numeric(table[col], errors="coerce")
        small = (s >= 1) & (s < threshold)
        if small.any():
            row = table.index[small.fillna(False).to_numpy(dtype=bool)][0]
            raise DisclosureError(
                f"column {col!r}, row {row!r}: a count of {int(s[row])} (fewer than "
                f"{threshold}) would be published. Fix: pass the table through "
                "nlc_eval.disclosure.suppress() first."
            )
    if record.get("total_row") is None and not record.get("row_relations"):
        return
    rcols = record["count_columns"]
    rows = list(table.index)
    hidden = table[rcols].isna().to_numpy()
    tr = None if record["total_row"] is None else rows.index(record["total_row"])
    for cells, _ in _lines(len(rows), len(rcols), tr, _relation_index(record, rcols)):
        if int(hidden.ravel()[cells].sum()) == 1:
            i, j = divmod(int(cells[hidden.ravel()[cells]][0]), len(rcols))
            raise DisclosureError(
                f"column {rcols[j]!r}, row {rows[i]!r}: the only hidden cell of its row or "
                "column can be recovered from the total. Fix: suppress the table again."
            )


def _relation_index(record: dict, cols: list) -> list[tuple[int, list[int]]]:
    return [(cols.index(t), [cols.index(m) for m in ms])
            for t, ms in record.get("row_relations", [])]


def _whole(s: pd.Series) -> bool:
    v = pd.to_numeric(s, errors="coerce").dropna()
    return bool(len(v)) and bool((np.abs(v - np.round(v)) < _TOL).all())


# ---------------------------------------------------------------------------
# Nested groups: no difference of two published counts gives a small group away
# ---------------------------------------------------------------------------


def _nested(a: frozenset, b: frozenset) -> bool:
    return a <= b or b <= a


def nested_differences(counts: Mapping[Hashable, int | None],
                       groups: Mapping[Hashable, Collection[Hashable]],
                       threshold: int = THRESHOLD) -> list[tuple[Hashable, Hashable, int]]:
    """Pairs of nested groups whose published counts differ by 1 to ``threshold - 1``.

    Parameters
    ----------
    counts : mapping
        Group key to the count that is (or would be) published; ``None`` for a hidden count.
    groups : mapping
        Group key to its members (pupil ids); a group contains another when its members
        include the other's.
    threshold : int

    Returns
    -------
    list of (larger, smaller, difference)
        Empty when the counts are safe to publish together.

    Examples
    --------
    >>> g = {"all": set(range(60)), "level": set(range(57))}
    >>> nested_differences({"all": 60, "level": 57}, g)
    [('all', 'level', 3)]
    >>> nested_differences(nested_counts(g), g)
    []
    """
    sets = {k: frozenset(v) for k, v in groups.items()}
    shown = sorted(((int(v), k) for k, v in counts.items() if v is not None and k in sets),
                   key=lambda x: x[0])
    out = []
    for i, (va, a) in enumerate(shown):
        for vb, b in shown[i + 1:]:
            if vb - va >= threshold:
                break
            if 0 < vb - va and _nested(sets[a], sets[b]):
                out.append((b, a, vb - va))
    return out


def nested_counts(groups: Mapping[Hashable, Collection[Hashable]],
                  threshold: int = THRESHOLD) -> dict[Hashable, int]:
    """Counts of possibly nested groups that are safe to publish together.

    The rule: when one group contains another and their counts differ by 1 to
    ``threshold - 1``, both are published with the larger count (shown as one group); this
    is repeated until no pair of nested groups has published counts that differ by 1 to
    ``threshold - 1``. A group merged into a chain of such groups takes the count of the
    largest. Groups of 1 to ``threshold - 1`` members keep their own count (primary
    suppression hides it) and are never merged. Groups that overlap without one containing
    the other are left alone: their difference is not the size of any group.

    Parameters
    ----------
    groups : mapping
        Group key to its members (pupil ids).
    threshold : int

    Returns
    -------
    dict
        Group key to the count to publish.

    Examples
    --------
    >>> nested_counts({"all": set(range(100)), "level": set(range(98)),
    ...                "cluster": set(range(40))})
    {'all': 100, 'level': 100, 'cluster': 40}
    """
    sets = {k: frozenset(v) for k, v in groups.items()}
    parent = {k: k for k in sets}

    def root(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    def published() -> dict:
        size: dict = {}
        for k, s in sets.items():
            r = root(k)
            size[r] = max(size.get(r, 0), len(s))
        return {k: (len(s) if len(s) < threshold else size[root(k)]) for k, s in sets.items()}

    while True:
        pub = published()
        pairs = nested_differences(
            {k: v for k, v in pub.items() if len(sets[k]) >= threshold}, sets, threshold)
        if not pairs:
            return pub
        for a, b, _ in pairs:
            parent[root(b)] = root(a)


# ---------------------------------------------------------------------------
# Display
# ---------------------------------------------------------------------------


def format_suppressed(table: pd.DataFrame, decimals: int = 1, marker: str = "c") -> pd.DataFrame:
    """Render a suppressed table as strings, hidden cells as ``marker``.

    Counts get thousands separators; rates ``decimals`` places; other missing values
    (not hidden by suppression) are shown blank.
    """
    record = table.attrs.get("disclosure") or {}
    hidden = {(c["row"], c["column"]) for c in record.get("cells", [])}
    counts = set(record.get("count_columns", []))
    out = pd.DataFrame(index=table.index, columns=table.columns, dtype=object)
    for col in table.columns:
        for label, value in table[col].items():
            if (label, col) in hidden:
                text = marker
            elif value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
                text = marker if col in counts else ""
            elif col in counts or isinstance(value, int | np.integer):
                text = f"{int(value):,}"
            elif isinstance(value, float | np.floating):
                text = f"{value:,.{decimals}f}"
            else:
                text = str(value)
            out.loc[label, col] = text
    out.attrs = dict(table.attrs)
    return out


@dataclass
class DisclosureView:
    """A suppressed table ready to show: strings, with the footnote."""

    frame: pd.DataFrame
    footnote: str

    def to_html(self) -> str:
        body = self.frame.to_html(escape=True)
        return f"{body}\n<p><small>{self.footnote}</small></p>"

    def to_markdown(self) -> str:
        frame = self.frame.reset_index()
        head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
        rule = "|" + "|".join("---" for _ in frame.columns) + "|"
        lines = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.to_numpy()]
        return "\n".join([head, rule, *lines, "", self.footnote])

    def _repr_html_(self) -> str:
        return self.to_html()

    def __str__(self) -> str:
        return f"{self.frame.to_string()}\n\n{self.footnote}"


def display(table: pd.DataFrame, decimals: int = 1) -> DisclosureView:
    """A view of a suppressed table for notebooks and reports (``c`` + footnote).

    Raises
    ------
    DisclosureError
        If the table would publish a small count (see :func:`check_published`).
    """
    record = table.attrs.get("disclosure") or {}
    threshold = record.get("threshold", THRESHOLD)
    check_published(table, threshold)
    return DisclosureView(format_suppressed(table, decimals),
                          FOOTNOTE.format(threshold=threshold))
