"""The house style of figures: palette contrast, session ticks, plain log axes, alt text."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from nlc_eval import plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    plots.use_house_style()
    yield
    plt.close("all")


def test_contrast_matches_published_wcag_values():
    # values from the WCAG 2 definition: black on white 21:1, #767676 on white 4.54:1
    assert plots.contrast("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert plots.contrast("#767676", "#FFFFFF") == pytest.approx(4.54, abs=0.01)
    assert plots.contrast("#FFFFFF", "#FFFFFF") == pytest.approx(1.0)


def test_palette_meets_three_to_one_against_background_and_neighbours():
    for c in plots.PALETTE:
        assert plots.contrast(c, plots.BACKGROUND) >= 3.0, c
    for a, b in zip(plots.PALETTE, plots.PALETTE[1:], strict=False):
        assert plots.contrast(a, b) >= 3.0, (a, b)
    assert plots.contrast(plots.HIGHLIGHT, plots.BASE) >= 3.0
    assert plots.contrast(plots.MUTED, plots.BACKGROUND) >= 4.5


def test_highlight_is_not_colour_alone():
    t = pd.DataFrame({"School": ["A", "B", "C"], "Attendance %": [91.0, 88.5, 93.2]})
    ax = plots.dot_plot(t, "Attendance %", label="School", highlight="B", reference=90.0)
    markers = {line.get_marker() for line in ax.lines if line.get_marker() not in ("None", "")}
    assert {plots.MARK_HIGHLIGHT, plots.MARK_BASE} <= markers
    bold = [t.get_text() for t in ax.get_yticklabels() if t.get_fontweight() == "bold"]
    assert bold == ["B"]
    # dots, not bars from zero: the axis is fitted to the values
    lo, hi = ax.get_xlim()
    assert lo > 80 and hi < 100


def test_sessions_on_the_axis_read_as_sessions():
    t = pd.DataFrame({"Session": [2021, 2022, 2023, 2024], "Gap": [4.0, 4.8, 5.3, 3.9],
                      "lo": [1.0, 2.0, 3.0, 1.0], "hi": [6.0, 7.0, 8.0, 6.0]})
    ax = plots.trend(t, x="Session", y="Gap", low="lo", high="hi")
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["2021/22", "2022/23", "2023/24", "2024/25"]
    # session labels as text work too
    t2 = t.assign(Session=["2021/22", "2022/23", "2023/24", "2024/25"])
    ax2 = plots.trend(t2, x="Session", y="Gap")
    assert [x.get_text() for x in ax2.get_xticklabels()] == labels


def test_log_axis_has_plain_numbers():
    t = pd.DataFrame({"School": list("ABCDEF"), "family": ["F1"] * 3 + ["F2"] * 3,
                      "Pupils on roll": [30, 120, 450, 800, 1500, 60],
                      "% in SIMD Q1": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]})
    ax = plots.family_map(t, x="Pupils on roll", y="% in SIMD Q1", family="family",
                          highlight="F1")
    ax.figure.canvas.draw()
    labels = [x.get_text() for x in ax.get_xticklabels() if x.get_text()]
    assert labels and all(not any(ch in s for ch in "^$e") for s in labels), labels
    assert "1,000" in labels or "100" in labels


def test_alt_text_names_the_values_a_reader_needs():
    t = pd.DataFrame({"Cluster": [f"C{i}" for i in range(20)],
                      "Attendance %": np.linspace(76.0, 93.0, 20)})
    text = plots.alt_text(t, "dot_plot", {"value": "Attendance %", "label": "Cluster",
                                          "highlight": "C3", "reference": 85.0, "unit": "%"},
                          caption="Attendance by cluster, 2024/25")
    assert text.startswith("Attendance by cluster, 2024/25: dot plot")
    assert "C3 (highlighted) 78.7%" in text and "against authority 85.0%" in text
    assert "Highest: C19 93.0%" in text and "lowest: C0 76.0%" in text
    assert "table under the figure" in text          # 20 rows: not every value listed
    hidden = t.assign(**{"Attendance %": [np.nan] + list(t["Attendance %"][1:])})
    assert "1 row is not shown" in plots.alt_text(hidden, "dot_plot", {
        "value": "Attendance %", "label": "Cluster"})


def test_empty_figures_are_recognised_and_data_tables_mark_hidden_cells():
    t = pd.DataFrame({"School": ["A", "B"], "Attendance %": [np.nan, np.nan]})
    assert plots.is_empty(t, "dot_plot", {"value": "Attendance %", "label": "School"})
    t.loc[1, "Attendance %"] = 90.0
    assert not plots.is_empty(t, "dot_plot", {"value": "Attendance %", "label": "School"})
    d = plots.figure_table(t, "dot_plot", {"value": "Attendance %", "label": "School"})
    assert d.index.name == "School"
    assert d.attrs["disclosure"]["cells"] == [{"row": "A", "column": "Attendance %",
                                               "reason": "hidden"}]


def test_simd_profile_data_has_readable_headings():
    t = pd.DataFrame({"school_name": ["A"], **{f"simd_q{i}_share": [20.0] for i in range(1, 6)}})
    d = plots.figure_table(t, "simd_profile", {"label": "school_name"})
    assert d.index.name == "School"
    assert list(d.columns)[0] == "% in SIMD Q1 (most deprived)"
    ax = plots.simd_profile(t)
    assert ax.get_legend() is not None
    # the legend sits below the axes, outside the data
    ax.figure.canvas.draw()
    box = ax.get_legend().get_window_extent()
    assert box.y1 <= ax.get_window_extent().y0


def test_alt_text_prints_values_at_the_data_tables_decimals():
    t = pd.DataFrame({"Group": ["A", "B"], "Effect": [0.5, 1.333],
                      "lo": [0.1, 1.1], "hi": [0.9, 1.55]})
    kw = {"label": "Group", "estimate": "Effect", "low": "lo", "high": "hi"}
    text = plots.alt_text(t, "forest", kw, decimals={"Effect": 2})
    assert "A 0.50 (95% interval 0.10 to 0.90)" in text and "B 1.33" in text
    assert "A 0.5 (95% interval 0.1 to 0.9)" in plots.alt_text(t, "forest", kw)


def test_family_map_never_tells_families_apart_by_colour_alone():
    """WCAG 1.4.1: neighbouring families differ in marker as well as colour, and no two of
    up to 36 families share both."""
    n = 36
    t = pd.DataFrame({"School": [f"S{i}" for i in range(n)],
                      "family": [f"F{i:02d}" for i in range(n)],
                      "Pupils on roll": np.linspace(30, 900, n),
                      "% in SIMD Q1": np.linspace(5, 80, n)})
    ax = plots.family_map(t, x="Pupils on roll", y="% in SIMD Q1", family="family")
    styles = []
    for coll in ax.collections:
        colour = tuple(np.round(coll.get_facecolor()[0], 3))
        path = coll.get_paths()[0]
        styles.append((colour, path.vertices.round(3).tobytes()))
    assert len(styles) == n
    assert all(a[1] != b[1] for a, b in zip(styles[:6], styles[1:6], strict=False))
    assert len({s[1] for s in styles[:6]}) == 6, "the first six families need six markers"
    assert len(set(styles)) == n, "two families share both colour and marker"
