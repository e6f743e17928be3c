"""The building block of every report section (text, suppressed tables, figures, results)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class Section:
    """One part of a report: sentences, tables (suppressed) and figures' data.

    ``figures`` maps a name to ``(plot function name in nlc_eval.plots, data, kwargs)``.
    """

    sentences: list[str] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, tuple[str, pd.DataFrame, dict[str, Any]]] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    views: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The sentences (and notes) as one paragraph."""
        return " ".join(s for s in [*self.sentences, *self.notes] if s)

    def markdown(self):
        """The text as IPython Markdown (for display in a notebook)."""
        from IPython.display import Markdown

        return Markdown(self.text or "_Nothing to report._")

    def table(self, name: str):
        """A table for display: suppressed cells as ``c``, with the footnote."""
        from IPython.display import Markdown

        from nlc_eval.disclosure import display

        if name in self.views:
            return self.views[name]
        if name not in self.tables:
            return Markdown(f"_No {name.replace('_', ' ')} table: "
                            f"{' '.join(self.notes) or 'no data.'}_")
        return display(self.tables[name])

    def plot(self, name: str, **kwargs) -> None:
        """Draw a figure of this section in the house style and show it."""
        import matplotlib.pyplot as plt

        from nlc_eval import plots

        if name not in self.figures:
            return None
        fn, data, base = self.figures[name]
        if data is None or len(data) == 0:
            return None
        ax = getattr(plots, fn)(data, **{**base, **kwargs})
        fig = ax.figure if hasattr(ax, "figure") else ax
        # display the figure as a PNG, whatever the matplotlib backend of the kernel
        import io

        from IPython.display import Image, display

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        display(Image(data=buf.getvalue(), format="png"))
        return None


def _suppress(table: pd.DataFrame, **kwargs) -> pd.DataFrame:
    from nlc_eval.disclosure import suppress

    return suppress(table, **kwargs)


def _unique_labels(names: pd.Series, extra: pd.Series) -> pd.Series:
    dup = names.duplicated(keep=False)
    return names.where(~dup, names + " (" + extra.astype(str) + ")")


def _num(x):
    if x is None or x is pd.NA:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if not np.isfinite(v) else round(v, 4)


def _q1_share(schools: pd.DataFrame) -> float:
    q = [pd.to_numeric(schools[f"simd_q{i}"], errors="coerce").fillna(0).sum()
         for i in range(1, 6)]
    total = float(sum(q))
    return q[0] / total if total else float("nan")


def view(table: pd.DataFrame, *, rows=None, columns: dict[str, str] | None = None,
         decimals: int = 1):
    """Part of a suppressed table, rendered for display (hidden cells as ``c``).

    Rows and columns are picked from the table AFTER suppression, so every report that
    shows part of the same table hides the same cells (nothing can be recovered by
    setting two reports side by side).

    Parameters
    ----------
    table : DataFrame
        Output of :func:`nlc_eval.disclosure.suppress` (or a module that called it).
    rows : list, optional
        Row labels to keep (default all).
    columns : dict, optional
        ``{column: heading}`` to keep and rename (default all, unchanged).
    """
    from nlc_eval.disclosure import FOOTNOTE, DisclosureView, format_suppressed

    record = table.attrs.get("disclosure")
    if not record:
        raise ValueError("view() needs a table that has been through suppress().")
    shown = format_suppressed(table, decimals=decimals)
    if rows is not None:
        shown = shown.loc[[r for r in rows if r in shown.index]]
    if columns is not None:
        shown = shown[[c for c in columns if c in shown.columns]].rename(columns=columns)
    return DisclosureView(shown, FOOTNOTE.format(threshold=record.get("threshold", 5)))


def cell(table: pd.DataFrame, row, column):
    """A value of a suppressed table as a float, or None when hidden or absent."""
    try:
        v = table.loc[row, column]
    except KeyError:
        return None
    return _num(v)
