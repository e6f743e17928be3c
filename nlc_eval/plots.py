"""One house style for every figure the kit publishes, and alt text written from the data.

Figures take tidy tables that the analysis modules produced (already suppressed where they
show counts) and draw them; nothing here computes a result. Every drawing function returns
the matplotlib ``Axes`` it drew on.

The style follows the UK Government Analysis Function's guidance on charts: its categorical
palette (every colour at least 3:1 against white and against its neighbour in the palette),
never colour alone (the highlighted row has its own marker and a direct label; each SIMD
quintile has its own pattern and every segment a dark outline of at least 3:1 against the
page and every fill, WCAG 1.4.11), dots with
intervals rather than bars from zero, school sessions as ``2021/22``, plain numbers on log
axes, legends outside the data, and text that stays readable when a page is read on a phone.
Titles are left to the figure's caption (``present.figure``); a title given here is wrapped
to stay inside the figure.

:func:`alt_text` describes a figure from its data (what is plotted, the highlighted row
against the reference, the highest and lowest values); :func:`figure_table` gives the data
behind it with readable headings; :func:`is_empty` says when there is nothing to draw.

Examples
--------
>>> import pandas as pd
>>> from nlc_eval import plots
>>> plots.use_house_style()
>>> t = pd.DataFrame({"label": ["A", "B"], "estimate": [1.0, 2.0],
...                   "ci_low": [0.2, 0.5], "ci_high": [1.8, 3.5]})
>>> ax = plots.forest(t, label="label", unit="percentage points")
>>> plots.alt_text(t, "forest", {"label": "label"}, caption="Effects")[:30]
'Effects: dot plot with 95% int'
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from nlc_eval import formatting as fmt

#: UK Government Analysis Function categorical palette, in order of use.
PALETTE = ("#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1")
#: Every row of a comparison except the highlighted one.
BASE = PALETTE[0]
#: The colour of "this" cluster, school or family (3.4:1 against ``BASE``, 3:1 on white).
HIGHLIGHT = PALETTE[3]
#: Reference lines and their labels.
REFERENCE = PALETTE[4]
#: Rows that are not the subject of a map (still 4.6:1 on white).
MUTED = "#757575"
BACKGROUND = "#FFFFFF"
#: SIMD quintile 1 (most deprived) to 5 (least): a sequential scale, dark to light. No
#: five-step sequential scale can have every step 3:1 from white and from its neighbours,
#: so each segment is outlined in :data:`SIMD_EDGE` instead (WCAG 1.4.11): every fill here
#: is at least 3:1 against the outline, and the outline is 19:1 against the background.
SIMD_COLOURS = ("#1F6FB5", "#5596D6", "#8DBAE8", "#C4DCF2", "#F3E9D2")
#: Outline of every SIMD segment and legend key.
SIMD_EDGE = "#0B0C0C"
#: A pattern per quintile, drawn in the outline colour, so colour is never the only cue.
SIMD_HATCHES = ("", "//", "..", "\\\\", "xx")
SIMD_LABELS = ("Q1 (most deprived)", "Q2", "Q3", "Q4", "Q5 (least deprived)")
SIMD_SHARES = ("simd_q1_share", "simd_q2_share", "simd_q3_share", "simd_q4_share",
               "simd_q5_share")
#: Markers of the highlighted row and of the rest (shape as well as colour).
MARK_HIGHLIGHT, MARK_BASE = "D", "o"
NOT_SHOWN = "not shown: fewer than 5"
WIDTH = 6.4  # inches: at 100 dpi a phone shows the text at about 60% size, still >= 7 pt


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two ``#RRGGBB`` colours (1 to 21).

    >>> round(contrast("#000000", "#FFFFFF"))
    21
    """
    def lum(h: str) -> float:
        h = h.lstrip("#")
        c = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        c = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def use_house_style() -> None:
    """Apply the house style (white background, readable sizes, the palette)."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update({
        "figure.figsize": (WIDTH, 4.0),
        "figure.dpi": 100,
        "figure.facecolor": BACKGROUND,
        "savefig.dpi": 100,
        "savefig.bbox": "tight",
        "font.size": 12,
        "axes.titlesize": 13,
        "axes.titleweight": "bold",
        "axes.titlelocation": "left",
        "axes.labelsize": 12,
        "xtick.labelsize": 11,
        "ytick.labelsize": 11,
        "legend.fontsize": 11,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.color": "#D9D9D9",
        "grid.linewidth": 0.6,
        "axes.axisbelow": True,
        "axes.prop_cycle": cycler(color=list(PALETTE)),
        "axes.formatter.useoffset": False,
        "legend.frameon": False,
        "font.family": "sans-serif",
    })


def _axes(ax=None, size: tuple[float, float] | None = None):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=size or (WIDTH, 4.0))
    return ax


def _height(n_rows: int) -> float:
    return max(2.2, 0.46 * n_rows + 1.3)


def finish(ax, title: str = "", *, xlabel: str | None = None, ylabel: str | None = None,
           source: str = ""):
    """Axis labels, a title wrapped to stay inside the figure, and an optional source note."""
    if title:
        ax.set_title("\n".join(textwrap.wrap(title, 60)))
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if source:
        ax.annotate(source, xy=(0, 0), xycoords="figure fraction", xytext=(6, 4),
                    textcoords="offset points", fontsize=9, color=REFERENCE)
    ax.figure.tight_layout()
    return ax


def _wrap(labels, width: int = 24) -> list[str]:
    """Row labels wrapped to keep the plot wide on a phone (long school names)."""
    return ["\n".join(textwrap.wrap(str(v), width)) or str(v) for v in labels]


def _with_unit(label: str, unit: str) -> str:
    """An axis label with its unit, unless the label already names it."""
    if not unit or unit in label or "%" in label or "(points)" in label:
        return label
    return f"{label} ({unit})"


def session_label(year) -> str:
    """``2021`` -> ``'2021/22'`` (a session as schools write it)."""
    y = int(round(float(year)))
    return f"{y}/{str(y + 1)[-2:]}"


def _session_ticks(ax, values: Sequence) -> None:
    ticks = sorted({int(round(float(v))) for v in values if v is not None and np.isfinite(
        float(v))})
    ax.set_xticks(ticks, [session_label(t) for t in ticks])


def _plain_log_axis(axis) -> None:
    """Plain numbers (``100``, ``1,000``) on a log axis, never ``10^2``."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    axis.set_minor_formatter(NullFormatter())


def _numeric(s: pd.Series) -> np.ndarray:
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)


def _is_hi(value, highlight) -> bool:
    return highlight is not None and str(value) == str(highlight)


def _legend_below(ax, **kw) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(loc="upper left", bbox_to_anchor=(0, -0.18), ncol=kw.pop("ncol", 2),
                  borderaxespad=0, **kw)


def dot_plot(table: pd.DataFrame, value: str, *, label: str, highlight=None,
             reference: float | None = None, reference_label: str = "authority",
             unit: str = "", ax=None, title: str = "", sort: bool = True):
    """A dot per row of ``value`` (the axis fitted to the data, not from zero).

    The highlighted row has its own colour, marker and a bold label; a reference value is a
    dashed line labelled directly. Missing (suppressed) values are listed as not shown.
    """
    data = table[[label, value]].copy()
    data[value] = pd.to_numeric(data[value], errors="coerce")
    if sort:
        data = data.sort_values(value, na_position="first")
    ax = _axes(ax, (WIDTH, _height(len(data))))
    y = np.arange(len(data))
    vals = data[value].to_numpy(float)
    finite = vals[np.isfinite(vals)]
    lo_hi = list(finite) + ([reference] if reference is not None and np.isfinite(reference)
                            else [])
    lo, hi = (min(lo_hi), max(lo_hi)) if lo_hi else (0.0, 1.0)
    pad = max((hi - lo) * 0.08, 0.5)
    for yi, v, name in zip(y, vals, data[label], strict=True):
        hi_row = _is_hi(name, highlight)
        if np.isfinite(v):
            ax.plot([lo - pad, v], [yi, yi], color="#D9D9D9", linewidth=1, zorder=1)
            ax.plot([v], [yi], MARK_HIGHLIGHT if hi_row else MARK_BASE,
                    color=HIGHLIGHT if hi_row else BASE, markersize=8 if hi_row else 6,
                    zorder=3)
        else:
            ax.annotate(NOT_SHOWN, (lo - pad, yi), xytext=(4, 0), textcoords="offset points",
                        va="center", fontsize=10, color=REFERENCE)
    ax.set_yticks(y, _wrap(data[label]))
    for tick, name in zip(ax.get_yticklabels(), data[label], strict=True):
        if _is_hi(name, highlight):
            tick.set_fontweight("bold")
            tick.set_color(HIGHLIGHT if contrast(HIGHLIGHT, BACKGROUND) >= 4.5 else "#000000")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(-0.7, len(data) - 0.3)
    ax.grid(axis="y", visible=False)
    if reference is not None and np.isfinite(reference):
        ax.axvline(reference, color=REFERENCE, linestyle="--", linewidth=1.2, zorder=2)
        ax.annotate(f"{reference_label} {reference:.1f}", (reference, len(data) - 0.3),
                    xytext=(4, 2), textcoords="offset points", fontsize=10, color=REFERENCE,
                    va="bottom", annotation_clip=False)
    return finish(ax, title, xlabel=_with_unit(value, unit), ylabel="")


def forest(table: pd.DataFrame, *, label: str = "label", estimate: str = "estimate",
           low: str = "ci_low", high: str = "ci_high", null: float = 0.0, unit: str = "",
           highlight=None, ax=None, title: str = ""):
    """Point estimates with their intervals, one row each, and the no-effect line."""
    data = table.reset_index(drop=True)
    ax = _axes(ax, (WIDTH, _height(len(data))))
    y = np.arange(len(data))
    est, lo, hi = _numeric(data[estimate]), _numeric(data[low]), _numeric(data[high])
    for yi, e, a, b, name in zip(y, est, lo, hi, data[label], strict=True):
        hi_row = _is_hi(name, highlight)
        colour = HIGHLIGHT if hi_row else BASE
        if np.isfinite(e):
            if np.isfinite(a) and np.isfinite(b):
                ax.plot([a, b], [yi, yi], color=colour, linewidth=2.2)
            ax.plot([e], [yi], MARK_HIGHLIGHT if hi_row else MARK_BASE, color=colour,
                    markersize=8 if hi_row else 6)
        else:
            ax.annotate(NOT_SHOWN + " learners", (null, yi), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=10, color=REFERENCE)
    ax.axvline(null, color=REFERENCE, linewidth=1)
    ax.set_yticks(y, _wrap(data[label]))
    for tick, name in zip(ax.get_yticklabels(), data[label], strict=True):
        if _is_hi(name, highlight):
            tick.set_fontweight("bold")
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    return finish(ax, title, xlabel=f"effect ({unit})" if unit else "effect", ylabel="")


def trend(table: pd.DataFrame, *, x: str, y: str, hue: str | None = None, low: str | None = None,
          high: str | None = None, unit: str = "", ax=None, title: str = ""):
    """Lines over sessions (one per ``hue``, labelled at their ends), with interval bars.

    ``x`` may hold session start years (``2021``) or session labels (``'2021/22'``); either
    way the axis reads ``2021/22``.
    """
    ax = _axes(ax)
    data = table.copy()
    xs = data[x]
    if not pd.api.types.is_numeric_dtype(xs):
        data["_x"] = xs.astype(str).str.slice(0, 4).astype(int)
    else:
        data["_x"] = xs.astype(float)
    groups = [(None, data)] if hue is None else list(data.groupby(hue, sort=True))
    for i, (name, g) in enumerate(groups):
        g = g.sort_values("_x")
        colour = PALETTE[i % len(PALETTE)]
        yy = _numeric(g[y])
        marker = ("o", "s", "^", "D", "v", "P")[i % 6]
        ax.plot(g["_x"], yy, marker=marker, color=colour, linewidth=2)
        if low and high:
            lo, hi = _numeric(g[low]), _numeric(g[high])
            ax.errorbar(g["_x"], yy, yerr=[yy - lo, hi - yy], fmt="none", ecolor=colour,
                        elinewidth=1.2, capsize=3)
        if name is not None and np.isfinite(yy).any():
            last = np.flatnonzero(np.isfinite(yy))[-1]
            ax.annotate(str(name), (g["_x"].iloc[last], yy[last]), xytext=(6, 0),
                        textcoords="offset points", va="center", color=colour, fontsize=10)
    _session_ticks(ax, data["_x"])
    return finish(ax, title, xlabel="Session", ylabel=_with_unit(y, unit))


def against_expectation(table: pd.DataFrame, *, label: str, residual: str = "residual",
                        low: str = "ci_low", high: str = "ci_high", unit: str = "points",
                        ax=None, title: str = ""):
    """Each school's result minus what schools like it achieve, with intervals."""
    data = table.sort_values(residual).reset_index(drop=True)
    return forest(data, label=label, estimate=residual, low=low, high=high, null=0.0,
                  unit=unit, ax=ax, title=title)


def family_map(table: pd.DataFrame, *, x: str = "roll", y: str = "simd_q1_share",
               family: str = "family", highlight=None, ax=None, title: str = ""):
    """Schools by size (log scale, plain numbers) and share in SIMD quintile 1, by family.

    With ``highlight`` the family is drawn as labelled diamonds over the others (grey
    circles); without, each family has a colour and a marker.
    """
    ax = _axes(ax)
    data = table.copy()
    yy = _numeric(data[y])
    if np.nanmax(np.append(yy, 0)) <= 1.0 + 1e-9:
        yy = yy * 100
    data["_y"] = yy
    data["_x"] = _numeric(data[x])
    if highlight is not None:
        rest = data[data[family].astype(str) != str(highlight)]
        mine = data[data[family].astype(str) == str(highlight)]
        ax.scatter(rest["_x"], rest["_y"], s=22, color=MUTED, marker=MARK_BASE,
                   label="other families", alpha=0.7, linewidth=0)
        ax.scatter(mine["_x"], mine["_y"], s=60, color=HIGHLIGHT, marker=MARK_HIGHLIGHT,
                   label=f"family {highlight}", edgecolor="#000000", linewidth=0.6)
        # schools of a family sit close together: names would overlap, so they are in
        # the data table under the figure rather than on it
    else:
        # never colour alone: neighbouring families differ in marker as well as colour, and
        # no two of the first 36 share both
        marks = ("o", "s", "^", "D", "v", "P")
        for i, (name, g) in enumerate(data.groupby(family, sort=True)):
            ax.scatter(g["_x"], g["_y"], s=26, color=PALETTE[i % len(PALETTE)],
                       marker=marks[(i + i // len(PALETTE)) % len(marks)], label=str(name),
                       linewidth=0)
    ax.set_xscale("log")
    _plain_log_axis(ax.xaxis)
    n = data[family].nunique()
    if highlight is not None or n <= 12:
        _legend_below(ax, ncol=2 if highlight is not None else 4)
    return finish(ax, title, xlabel=f"{x} (log scale)",
                  ylabel=y if "%" in y else "% of pupils in SIMD quintile 1")


def text_colour(fill: str) -> str:
    """Black or white, whichever contrasts more with ``fill`` (always at least 4.5:1)."""
    return "#000000" if contrast(fill, "#000000") >= contrast(fill, "#FFFFFF") else "#FFFFFF"


def simd_profile(table: pd.DataFrame, *, label: str = "school_name",
                 shares: Sequence[str] = SIMD_SHARES, ax=None, title: str = ""):
    """Horizontal stacked bars of each row's SIMD quintile shares (0-1 or 0-100).

    Every segment is outlined in :data:`SIMD_EDGE` (at least 3:1 against the background and
    against every fill) and carries its quintile's pattern (:data:`SIMD_HATCHES`), which
    the legend under the plot repeats, so a segment can be told apart without its colour.
    Shares of 8% or more are labelled in their segment, on a patch of the segment's own
    colour; a hidden (suppressed) share is left out, and the row says so.
    """
    from matplotlib.patches import Patch
    from matplotlib.transforms import offset_copy

    data = table.set_index(label)[list(shares)].apply(pd.to_numeric, errors="coerce")
    scale = 100.0 if data.max().max() <= 1.0 + 1e-9 else 1.0
    data = data.astype(float) * scale
    ax = _axes(ax, (WIDTH, _height(len(data)) + 0.6))
    left = np.zeros(len(data))
    y = np.arange(len(data))
    keys = []
    for col, colour, hatch, name in zip(shares, SIMD_COLOURS, SIMD_HATCHES, SIMD_LABELS,
                                        strict=True):
        values = data[col].to_numpy()
        drawn = np.isfinite(values) & (values > 0)  # no zero-width outline for a blank share
        style = {"facecolor": colour, "edgecolor": SIMD_EDGE, "hatch": hatch,
                 "linewidth": 0.8, "hatch_linewidth": 0.6}
        if drawn.any():
            ax.barh(y[drawn], values[drawn], left=left[drawn], **style)
        keys.append(Patch(label=name, **style))
        for yi, v, lft in zip(y, values, left, strict=True):
            if np.isfinite(v) and v >= 8:
                ax.annotate(f"{v:.0f}", (lft + v / 2, yi), ha="center", va="center",
                            fontsize=9, color=text_colour(colour),
                            bbox={"boxstyle": "square,pad=0.3", "facecolor": colour,
                                  "edgecolor": "none"})
        left += np.nan_to_num(values)
    labels = [f"{v} (part not shown)" if data.loc[v].isna().any() else str(v)
              for v in data.index]
    ax.set_yticks(y, _wrap(labels))
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.grid(axis="y", visible=False)
    # under the axis label whatever the figure's height (44 points below the axes)
    below = offset_copy(ax.transAxes, fig=ax.figure, y=-44, units="points")
    ax.legend(handles=keys, loc="upper left", bbox_to_anchor=(0, 0), bbox_transform=below,
              ncol=3, borderaxespad=0, handleheight=1.4, handlelength=2.4)
    return finish(ax, title, xlabel="% of pupils with a known SIMD quintile")


# ---------------------------------------------------------------------------
# What a figure shows, in words and as a table
# ---------------------------------------------------------------------------

def _value_columns(plot: str, kwargs: dict[str, Any]) -> list[str]:
    if plot == "dot_plot":
        return [kwargs["value"]]
    if plot in ("forest", "against_expectation"):
        est = kwargs.get("estimate", kwargs.get("residual", "estimate" if plot == "forest"
                                                 else "residual"))
        return [est]
    if plot == "trend":
        return [kwargs["y"]]
    if plot == "family_map":
        return [kwargs.get("x", "roll"), kwargs.get("y", "simd_q1_share")]
    if plot == "simd_profile":
        return list(kwargs.get("shares", SIMD_SHARES))
    raise ValueError(f"unknown plot {plot!r}")


def is_empty(table: pd.DataFrame, plot: str, kwargs: dict[str, Any]) -> bool:
    """True when a figure would have nothing to draw (no row with a value)."""
    if table is None or len(table) == 0:
        return True
    cols = [c for c in _value_columns(plot, kwargs) if c in table]
    if not cols:
        return True
    return not np.isfinite(table[cols].apply(pd.to_numeric, errors="coerce")
                           .to_numpy(dtype=float)).any()


def _fmt(v: float, unit: str = "", decimals: int | None = None) -> str:
    if not np.isfinite(v):
        return NOT_SHOWN
    if decimals is not None:
        text = fmt.number(v, decimals)
    else:
        text = f"{v:,.0f}" if abs(v) >= 100 else f"{v:.1f}"
    if unit == "%":
        return text + "%"
    return text


def _decimals_of(decimals: int | Mapping[str, int] | None, column: str) -> int | None:
    if decimals is None or isinstance(decimals, int):
        return decimals
    return decimals.get(column)


def alt_text(table: pd.DataFrame, plot: str, kwargs: dict[str, Any], *, caption: str = "",
             max_rows: int = 12, decimals: int | Mapping[str, int] | None = None) -> str:
    """Alt text of a figure from its data: what is plotted and the values a reader needs.

    Says what kind of chart it is and of what; the highlighted row against the reference;
    the highest and lowest rows; and, for a short chart, every row's value (for a longer one,
    that the full values are in the table under the figure). With ``decimals`` (one number,
    or one per column heading: those of the data table under the figure) values of a line,
    dot or forest plot are printed at them, so the alt text, the data table and the page's
    sentences agree.

    Examples
    --------
    >>> t = pd.DataFrame({"School": ["A", "B", "C"], "Attendance %": [91.0, 88.5, 93.2]})
    >>> alt_text(t, "dot_plot", {"value": "Attendance %", "label": "School",
    ...                          "highlight": "B", "reference": 90.0, "unit": "%"})
    'Dot plot of Attendance % for 3 rows. B (highlighted) 88.5%, against authority 90.0%. Highest: C 93.2%; lowest: B 88.5%. Values: C 93.2%, A 91.0%, B 88.5%.'
    """
    start = f"{caption}: " if caption else ""
    if plot == "simd_profile":
        lab = kwargs.get("label", "school_name")
        shares = list(kwargs.get("shares", SIMD_SHARES))
        d = table.set_index(lab)[shares].apply(pd.to_numeric, errors="coerce")
        if d.max().max() <= 1.0 + 1e-9:
            d = d * 100
        q1 = d[shares[0]]
        text = (f"{start}stacked bars of the share of pupils in each SIMD quintile, "
                f"{len(d)} schools.")
        if q1.notna().any():
            text += (f" Largest share in quintile 1 (most deprived): {q1.idxmax()} "
                     f"{q1.max():.0f}%; smallest: {q1.idxmin()} {q1.min():.0f}%.")
        if len(d) <= max_rows:
            text += " Quintile 1 shares: " + ", ".join(
                f"{k} {_fmt(v, '%')}" for k, v in q1.items()) + "."
        return text
    if plot == "family_map":
        x, y, fam = kwargs.get("x", "roll"), kwargs.get("y", "simd_q1_share"), kwargs.get(
            "family", "family")
        hl = kwargs.get("highlight")
        xs, ys = _numeric(table[x]), _numeric(table[y])
        if np.nanmax(np.append(ys, 0)) <= 1.0 + 1e-9:
            ys = ys * 100
        text = (f"{start}scatter plot of {len(table)} schools by {x} (log scale) and "
                f"{y if '%' in y else 'share in SIMD quintile 1'}, "
                f"{table[fam].nunique()} families.")
        if hl is not None:
            mine = (table[fam].astype(str) == str(hl)).to_numpy()
            if mine.any():
                text += (f" Family {hl} (highlighted): {mine.sum()} schools, {np.nanmin(xs[mine]):,.0f} "
                         f"to {np.nanmax(xs[mine]):,.0f} pupils and {np.nanmin(ys[mine]):.0f}% to "
                         f"{np.nanmax(ys[mine]):.0f}% in SIMD quintile 1; all schools: "
                         f"{np.nanmin(xs):,.0f} to {np.nanmax(xs):,.0f} pupils.")
        return text
    if plot == "trend":
        xcol, ycol = kwargs["x"], kwargs["y"]
        d = table.copy()
        vals = _numeric(d[ycol])
        xs = [session_label(v) if not isinstance(v, str) else v for v in d[xcol]]
        text = f"{start}line chart of {ycol} by session, {xs[0]} to {xs[-1]}." if xs else start
        dy = _decimals_of(decimals, ycol)
        pairs = [f"{s} {_fmt(v, '', dy)}" for s, v in zip(xs, vals, strict=True)]
        if pairs:
            text += " Values: " + ", ".join(pairs) + "."
        return text
    # dot plots and forest plots: one value per row
    lab = kwargs.get("label", "label")
    col = _value_columns(plot, kwargs)[0]
    unit = kwargs.get("unit", "")
    u = "%" if unit == "%" else ""
    dv = _decimals_of(decimals, col)
    d = pd.DataFrame({"label": table[lab].astype(str).to_numpy(),
                      "v": _numeric(table[col])})
    kind = "Dot plot" if plot == "dot_plot" else "Dot plot with 95% intervals"
    text = f"{start}{kind[0].lower() + kind[1:] if start else kind} of {col} for {len(d)} rows."
    hl = kwargs.get("highlight")
    ref = kwargs.get("reference")
    if hl is not None and (d["label"] == str(hl)).any():
        v = d.loc[d["label"] == str(hl), "v"].iloc[0]
        text += f" {hl} (highlighted) {_fmt(v, u, dv)}"
        if ref is not None and np.isfinite(ref):
            text += (f", against {kwargs.get('reference_label', 'authority')} "
                     f"{_fmt(ref, u, dv)}")
        text += "."
    elif ref is not None and np.isfinite(ref):
        text += (f" Reference line: {kwargs.get('reference_label', 'authority')} "
                 f"{_fmt(ref, u, dv)}.")
    shown = d.dropna(subset=["v"])
    if len(shown):
        top, bottom = shown.loc[shown["v"].idxmax()], shown.loc[shown["v"].idxmin()]
        text += (f" Highest: {top['label']} {_fmt(top['v'], u, dv)}; lowest: "
                 f"{bottom['label']} {_fmt(bottom['v'], u, dv)}.")
    hidden = int(d["v"].isna().sum())
    if hidden:
        text += f" {hidden} {'row is' if hidden == 1 else 'rows are'} {NOT_SHOWN}."
    if len(d) <= max_rows and len(shown):
        order = shown.sort_values("v", ascending=False)
        if plot in ("forest", "against_expectation"):
            lo_c = kwargs.get("low", "ci_low")
            hi_c = kwargs.get("high", "ci_high")
            lows = dict(zip(table[lab].astype(str), _numeric(table[lo_c]), strict=True))
            highs = dict(zip(table[lab].astype(str), _numeric(table[hi_c]), strict=True))
            text += " Values: " + ", ".join(
                f"{r.label} {_fmt(r.v, '', dv)} (95% interval {_fmt(lows[r.label], '', dv)} "
                f"to {_fmt(highs[r.label], '', dv)})" for r in order.itertuples()) + "."
        else:
            text += " Values: " + ", ".join(f"{r.label} {_fmt(r.v, u, dv)}"
                                            for r in order.itertuples()) + "."
    elif len(d) > max_rows:
        text += " Every value is in the table under the figure."
    return text


def figure_table(table: pd.DataFrame, plot: str, kwargs: dict[str, Any]) -> pd.DataFrame:
    """The data behind a figure with readable headings; blank values marked as hidden."""
    d = table.copy()
    if plot == "simd_profile":
        lab = kwargs.get("label", "school_name")
        shares = list(kwargs.get("shares", SIMD_SHARES))
        d = d[[lab, *shares]].rename(columns={lab: "School", **{
            s: f"% in SIMD {name}" for s, name in zip(shares, SIMD_LABELS, strict=True)}})
    d = d.reset_index(drop=True)
    values = [c for c in d.columns if pd.api.types.is_numeric_dtype(d[c])]
    cells = [{"row": i, "column": c, "reason": "hidden"} for c in values
             for i in d.index[d[c].isna()]]
    first = d.columns[0]
    d = d.set_index(first)
    for c in cells:
        c["row"] = d.index[c["row"]]
    d.attrs["disclosure"] = {"threshold": 5, "cells": cells, "count_columns": []}
    return d

