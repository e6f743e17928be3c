"""Tests of the Estimate result object."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from nlc_eval.impact import Estimate  # noqa: E402
from nlc_eval.impact.estimate import TIDY_COLUMNS  # noqa: E402


def _est(**kw):
    base = dict(estimate=2.1, se=0.45, ci_low=1.2, ci_high=3.0, p_value=0.001, n_treated=500,
                n_control=4000, method="difference-in-differences", outcome="attendance",
                units="percentage points", design="change",
                treated_label="supported learners", control_label="comparable learners")
    base.update(kw)
    return Estimate(**base)


def test_sentence_in_outcome_units_with_interval():
    assert _est().sentence() == (
        "Attendance of supported learners rose 2.1 percentage points more than comparable "
        "learners (95% CI 1.2 to 3.0).")


def test_sentence_negative_and_not_significant():
    s = _est(estimate=-0.4, ci_low=-1.5, ci_high=0.7, p_value=0.5).sentence()
    assert "fell 0.4 percentage points" in s
    assert "-1.5 to 0.7" in s
    assert "cannot be ruled out" in s


def test_sentence_ratio_and_money():
    r = _est(estimate=0.8, ci_low=0.7, ci_high=0.9, scale="ratio", outcome="exclusions",
             units="", design="level").sentence()
    assert "20% lower" in r and "rate ratio 0.80" in r and "0.70 to 0.90" in r
    m = _est(estimate=1794.3, ci_low=-50.0, ci_high=3600.0, units="$", design="level",
             outcome="earnings").sentence()
    assert "$1,794 higher" in m and "-$50 to $3,600" in m


def test_tidy_columns_and_terms():
    terms = pd.DataFrame({"term": ["event_time_0"], "estimate": [1.0], "std_error": [0.1],
                          "ci_low": [0.8], "ci_high": [1.2], "p_value": [0.0], "n": [10],
                          "event_time": [0]})
    t = _est(terms=terms).tidy()
    assert list(t.columns) == TIDY_COLUMNS
    assert t["term"].tolist() == ["effect", "event_time_0"]
    assert t.loc[0, "n"] == 4500


def test_summary_states_assumptions_and_never_prints(capsys):
    s = _est(assumptions=["parallel trends"], inference="CR1").summary()
    assert "parallel trends" in s and "Inference: CR1" in s and "95% CI" in s
    assert capsys.readouterr().out == ""


def test_plot_returns_axes_for_point_and_event_time():
    ax = _est().plot()
    assert ax.get_xlabel().startswith("effect on attendance")
    terms = pd.DataFrame({"term": ["a", "b"], "event_time": [-1, 0], "estimate": [0.0, 1.0],
                          "std_error": [0, 0.1], "ci_low": [0, 0.8], "ci_high": [0, 1.2],
                          "p_value": [np.nan, 0], "n": [5, 5]})
    ax2 = _est(terms=terms).plot()
    assert ax2.get_xlabel() == "periods relative to first treatment"
    import matplotlib.pyplot as plt

    plt.close("all")
