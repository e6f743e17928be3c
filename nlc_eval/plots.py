"""One house style for every figure the kit publishes.

Figures take tidy tables that the analysis modules produced (already suppressed where they
show counts) and draw them; nothing here computes a result. Every function returns the
matplotlib ``Axes`` (or ``Figure``) it drew on, so a notebook can add to it.

Examples
--------
>>> import pandas as pd
>>> from nlc_eval import plots
>>> plots.use_house_style()
>>> t = pd.DataFrame({"label": ["A", "B"], "estimate": [1.0, 2.0],
...                   "ci_low": [0.2, 0.5], "ci_high": [1.8, 3.5]})
>>> ax = plots.forest(t, label="label", unit="percentage points")
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: Accessible categorical palette (Okabe-Ito), in order of use.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000")
#: The colour of "this" cluster, school or family when it is compared with the rest.
HIGHLIGHT = "#D55E00"
#: Everything else in a comparison.
MUTED = "#9AA5B1"
#: SIMD quintile 1 (most deprived) to 5 (least), a sequential blue-to-sand scale.
SIMD_COLOURS = ("#08306B", "#2171B5", "#6BAED6", "#C6DBEF", "#F2E6C9")
SIMD_LABELS = ("Q1 (most deprived)", "Q2", "Q3", "Q4", "Q5 (least deprived)")
SOURCE_SYNTHETIC = "Source: synthetic pupil data (not real pupils)."


def use_house_style() -> None:
    """Apply the house style (seaborn whitegrid, readable sizes, the palette)."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", palette=list(PALETTE))
    mpl.rcParams.update({
        "figure.figsize": (8.0, 4.5),
        "figure.dpi": 100,
        "savefig.dpi": 150,
        "savefig.bbox": "tight",
        "axes.titlesize": 13,
        "axes.titleweight": "bold",
        "axes.titlelocation": "left",
        "axes.labelsize": 11,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
        "font.family": "sans-serif",
    })


def _axes(ax=None, size: tuple[float, float] | None = None):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def finish(ax, title: str = "", *, xlabel: str | None = None, ylabel: str | None = None,
           source: str = ""):
    """Title, axis labels and a source note under the plot."""
    if title:
        ax.set_title(title)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if source:
        ax.annotate(source, xy=(0, 0), xycoords="figure fraction", xytext=(6, 4),
                    textcoords="offset points", fontsize=8, color="#5b6475")
    ax.figure.tight_layout()
    return ax


def simd_profile(table: pd.DataFrame, *, label: str = "school_name",
                 shares: Sequence[str] = ("simd_q1_share", "simd_q2_share", "simd_q3_share",
                                          "simd_q4_share", "simd_q5_share"),
                 ax=None, title: str = "SIMD profile"):
    """Horizontal stacked bars of each row's SIMD quintile shares (0-1 or 0-100).

    Rows with a missing (suppressed) share are drawn with the share left out and a hatch.
    """
    data = table.set_index(label)[list(shares)].apply(pd.to_numeric, errors="coerce")
    scale = 100.0 if data.max().max() <= 1.0 + 1e-9 else 1.0
    data = data.astype(float) * scale
    ax = _axes(ax, (8.0, max(2.0, 0.38 * len(data) + 1.2)))
    left = np.zeros(len(data))
    y = np.arange(len(data))
    for col, colour, name in zip(shares, SIMD_COLOURS, SIMD_LABELS, strict=True):
        values = data[col].to_numpy()
        ax.barh(y, np.nan_to_num(values), left=left, color=colour, label=name,
                edgecolor="white", linewidth=0.5)
        left += np.nan_to_num(values)
    ax.set_yticks(y, [str(v) for v in data.index])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.legend(ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=8)
    return finish(ax, title, xlabel="% of pupils with a known SIMD quintile")


def compare_bars(table: pd.DataFrame, value: str, *, label: str, highlight=None,
                 reference: float | None = None, reference_label: str = "authority",
                 unit: str = "", ax=None, title: str = "", sort: bool = True):
    """Bars of ``value`` by ``label``, one bar highlighted, with a reference line.

    Missing (suppressed) values are shown as a gap labelled ``c``.
    """
    data = table[[label, value]].copy()
    data[value] = pd.to_numeric(data[value], errors="coerce")
    if sort:
        data = data.sort_values(value, na_position="last")
    ax = _axes(ax, (8.0, max(2.5, 0.3 * len(data) + 1.2)))
    colours = [HIGHLIGHT if highlight is not None and str(v) == str(highlight) else MUTED
               for v in data[label]]
    y = np.arange(len(data))
    ax.barh(y, data[value].fillna(0).to_numpy(float), color=colours)
    for yi, v in zip(y, data[value], strict=True):
        if pd.isna(v):
            ax.annotate("c", (0, yi), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize=8)
    ax.set_yticks(y, [str(v) for v in data[label]])
    if reference is not None and np.isfinite(reference):
        ax.axvline(reference, color="#1d2433", linestyle="--", linewidth=1)
        ax.annotate(f"{reference_label} {reference:.1f}", (reference, len(data) - 0.5),
                    xytext=(4, 0), textcoords="offset points", fontsize=8)
    return finish(ax, title, xlabel=f"{value.replace('_', ' ')}"
                  + (f" ({unit})" if unit else ""), ylabel="")


def forest(table: pd.DataFrame, *, label: str = "label", estimate: str = "estimate",
           low: str = "ci_low", high: str = "ci_high", null: float = 0.0, unit: str = "",
           highlight=None, ax=None, title: str = "Estimates with 95% intervals"):
    """Point estimates with their intervals, one row each, and the no-effect line."""
    data = table.reset_index(drop=True)
    ax = _axes(ax, (8.0, max(2.2, 0.42 * len(data) + 1.2)))
    y = np.arange(len(data))
    est = pd.to_numeric(data[estimate], errors="coerce").to_numpy(float)
    lo = pd.to_numeric(data[low], errors="coerce").to_numpy(float)
    hi = pd.to_numeric(data[high], errors="coerce").to_numpy(float)
    colours = [HIGHLIGHT if highlight is not None and str(v) == str(highlight) else PALETTE[0]
               for v in data[label]]
    for yi, e, a, b, c in zip(y, est, lo, hi, colours, strict=True):
        if np.isfinite(e):
            ax.plot([a, b], [yi, yi], color=c, linewidth=2)
            ax.plot([e], [yi], "o", color=c, markersize=6)
        else:
            ax.annotate("c (too few learners)", (null, yi), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=8)
    ax.axvline(null, color="#1d2433", linewidth=1)
    ax.set_yticks(y, [str(v) for v in data[label]])
    ax.invert_yaxis()
    return finish(ax, title, xlabel=f"effect ({unit})" if unit else "effect", ylabel="")


def trend(table: pd.DataFrame, *, x: str, y: str, hue: str | None = None, low: str | None = None,
          high: str | None = None, unit: str = "", ax=None, title: str = ""):
    """Lines over time (one per ``hue``), with a shaded interval when given."""
    ax = _axes(ax)
    groups = [(None, table)] if hue is None else list(table.groupby(hue, sort=True))
    for i, (name, g) in enumerate(groups):
        g = g.sort_values(x)
        colour = PALETTE[i % len(PALETTE)]
        yy = pd.to_numeric(g[y], errors="coerce").astype(float)
        ax.plot(g[x], yy, marker="o", color=colour, label=None if name is None else str(name))
        if low and high:
            ax.fill_between(g[x], pd.to_numeric(g[low], errors="coerce").astype(float),
                            pd.to_numeric(g[high], errors="coerce").astype(float),
                            color=colour, alpha=0.15, linewidth=0)
    if hue is not None:
        ax.legend()
    return finish(ax, title, xlabel=x.replace("_", " "),
                  ylabel=y.replace("_", " ") + (f" ({unit})" if unit else ""))


def against_expectation(table: pd.DataFrame, *, label: str, residual: str = "residual",
                        low: str = "ci_low", high: str = "ci_high", unit: str = "points",
                        ax=None, title: str = "Against expectation"):
    """Each school's result minus what schools like it achieve, with intervals."""
    data = table.sort_values(residual).reset_index(drop=True)
    return forest(data, label=label, estimate=residual, low=low, high=high, null=0.0,
                  unit=unit, ax=ax, title=title)


def family_map(table: pd.DataFrame, *, x: str = "roll", y: str = "simd_q1_share",
               family: str = "family", highlight=None, ax=None,
               title: str = "Family groups by size and deprivation"):
    """Schools by size (log scale) and share in SIMD quintile 1, coloured by family."""
    ax = _axes(ax)
    data = table.copy()
    yy = pd.to_numeric(data[y], errors="coerce").astype(float)
    if yy.max() <= 1.0 + 1e-9:
        yy = yy * 100
    data["_y"] = yy
    for i, (name, g) in enumerate(data.groupby(family, sort=True)):
        is_hi = highlight is not None and str(name) == str(highlight)
        ax.scatter(pd.to_numeric(g[x], errors="coerce"), g["_y"], s=46 if is_hi else 22,
                   color=HIGHLIGHT if is_hi else PALETTE[i % len(PALETTE)],
                   alpha=1.0 if is_hi or highlight is None else 0.45,
                   label=str(name) if is_hi or highlight is None else None,
                   edgecolor="white", linewidth=0.4)
    ax.set_xscale("log")
    if highlight is not None or data[family].nunique() <= 12:
        ax.legend(fontsize=8, ncol=2)
    return finish(ax, title, xlabel=f"{x} (log scale)", ylabel="% of pupils in SIMD quintile 1")
