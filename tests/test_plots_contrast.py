"""WCAG 1.4.11 (non-text contrast) of the SIMD-quintile figure, read from the drawn artists.

Colours are taken from the matplotlib artists of the figure as drawn (fills, outlines,
hatches, legend keys, label boxes), and contrast ratios are computed here from the WCAG 2
definition of relative luminance, not from the module's constants or its own function.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from nlc_eval import plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    plots.use_house_style()
    yield
    plt.close("all")


def _luminance(colour) -> float:
    """WCAG 2 relative luminance of a colour (alpha composited on white)."""
    r, g, b, a = to_rgba(colour)
    channels = [a * c + (1 - a) * 1.0 for c in (r, g, b)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _ratio(a, b) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_the_ratio_here_matches_published_wcag_values():
    assert _ratio("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert _ratio("#767676", "#FFFFFF") == pytest.approx(4.54, abs=0.01)
    assert _ratio((0.5, 0.5, 0.5, 0.0), "#FFFFFF") == pytest.approx(1.0)


def _profiles() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    shares = rng.dirichlet(np.ones(5), size=6) * 100
    t = pd.DataFrame(shares, columns=list(plots.SIMD_SHARES))
    t.insert(0, "school_name", [f"School {i}" for i in range(6)])
    t.loc[2, "simd_q4_share"] = np.nan          # a hidden share
    t.loc[4, "simd_q2_share"] = 0.0             # an empty quintile
    return t


def _bars(ax) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle) and p.get_width() > 0]


def _failures(ax) -> list[str]:
    """Every way the drawn figure falls short of WCAG 1.4.11 (empty when it meets it)."""
    ax.figure.canvas.draw()
    out = []
    backgrounds = [ax.get_facecolor(), ax.figure.get_facecolor()]
    bars = _bars(ax)
    if not bars:
        return ["no bars drawn"]
    for p in bars:
        fill, edge, width = p.get_facecolor(), p.get_edgecolor(), p.get_linewidth()
        visible_edge = width > 0 and to_rgba(edge)[3] > 0
        for bg in backgrounds:
            # the bar's extent must be visible against the page: by its fill or its outline
            if _ratio(fill, bg) < 3 and not (visible_edge and _ratio(edge, bg) >= 3):
                out.append(f"segment {to_rgba(fill)} at y={p.get_y():.1f} is below 3:1 "
                           f"against the background and has no outline that is not")
    rows: dict[float, list[Rectangle]] = {}
    for p in bars:
        rows.setdefault(round(p.get_y(), 6), []).append(p)
    for y, row in rows.items():
        row.sort(key=lambda p: p.get_x())
        for a, b in zip(row, row[1:], strict=False):
            if _ratio(a.get_facecolor(), b.get_facecolor()) >= 3:
                continue
            sep = [p.get_edgecolor() for p in (a, b) if p.get_linewidth() > 0]
            if not any(_ratio(e, a.get_facecolor()) >= 3 and _ratio(e, b.get_facecolor()) >= 3
                       for e in sep):
                out.append(f"row y={y}: neighbouring segments {to_rgba(a.get_facecolor())} "
                           f"and {to_rgba(b.get_facecolor())} are below 3:1 and no "
                           "separator is 3:1 against both")
    # colour is never the only cue: each quintile has its own pattern, repeated in the legend
    quintiles = {(to_rgba(p.get_facecolor()), p.get_hatch() or "") for p in bars}
    hatches_by_fill: dict[tuple, set] = {}
    for fill, hatch in quintiles:
        hatches_by_fill.setdefault(fill, set()).add(hatch)
    fills = list(hatches_by_fill)
    patterns = [frozenset(hatches_by_fill[f]) for f in fills]
    if len(set(patterns)) < len(fills):
        out.append("two quintiles share a pattern: colour is the only cue between them")
    legend = ax.get_legend()
    keys = {(to_rgba(h.get_facecolor()), h.get_hatch() or "")
            for h in (legend.get_patches() if legend else [])}
    if not quintiles <= keys:
        out.append("the legend does not show each segment's colour and pattern")
    for h in legend.get_patches() if legend else []:
        if _ratio(h.get_edgecolor(), backgrounds[0]) < 3 and \
                _ratio(h.get_facecolor(), backgrounds[0]) < 3:
            out.append(f"legend key {to_rgba(h.get_facecolor())} is below 3:1 on the page")
    # labels inside segments: text 4.5:1 against the box it sits on (WCAG 1.4.3)
    for t in ax.texts:
        box = t.get_bbox_patch()
        under = box.get_facecolor() if box is not None else None
        if under is None:
            x, yy = t.xy
            hits = [p for p in bars if p.get_x() <= x <= p.get_x() + p.get_width()
                    and p.get_y() <= yy <= p.get_y() + p.get_height()]
            under = hits[0].get_facecolor() if hits else backgrounds[0]
        if _ratio(t.get_color(), under) < 4.5:
            out.append(f"label {t.get_text()!r} is below 4.5:1 against its segment")
    return out


def test_simd_profile_as_drawn_meets_non_text_contrast():
    ax = plots.simd_profile(_profiles())
    assert _failures(ax) == []
    # every quintile is drawn, so the check above saw all five fills
    assert len({to_rgba(p.get_facecolor()) for p in _bars(ax)}) == 5
    # no outline is drawn for a blank or zero share (a stray line would read as a segment)
    widths = [p.get_width() for p in ax.patches if isinstance(p, Rectangle)]
    assert min(widths) > 0


def test_the_check_fails_for_the_old_palette_with_white_separators(monkeypatch):
    monkeypatch.setattr(plots, "SIMD_COLOURS",
                        ("#12436D", "#2073BC", "#6BACE6", "#BFD8EF", "#F3E9D2"))
    monkeypatch.setattr(plots, "SIMD_EDGE", plots.BACKGROUND)
    monkeypatch.setattr(plots, "SIMD_HATCHES", ("",) * 5)
    failures = _failures(plots.simd_profile(_profiles()))
    assert any("background" in f for f in failures)
    assert any("neighbouring segments" in f for f in failures)
    assert any("pattern" in f for f in failures)
