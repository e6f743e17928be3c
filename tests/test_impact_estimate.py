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
    assert "fell 0.40 percentage points" in s  # two significant figures
    assert "-1.50 to 0.70" in s  # the interval at the estimate's decimals
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


# ---------------------------------------------------------------- issue examples
def test_small_significant_effect_is_not_printed_as_zero():
    # was "fell 0.0 more than comparison units (95% CI -0.1 to 0.0)" for p = 0.0007
    s = _est(estimate=-0.040, ci_low=-0.063, ci_high=-0.017, p_value=0.0007, units="",
             treated_label="treated units", control_label="comparison units").sentence()
    assert s == ("Attendance of treated units fell 0.040 more than comparison units "
                 "(95% CI -0.063 to -0.017).")


def test_interval_that_includes_zero_is_printed_so():
    # was "rose 0.1 (95% CI 0.0 to 0.2); the interval includes no difference"
    s = _est(estimate=0.069, ci_low=-0.042, ci_high=0.18, p_value=0.22,
             units="").sentence()
    assert "rose 0.069 more" in s and "(95% CI -0.042 to 0.180)" in s
    assert "includes no difference" in s


def test_significant_interval_never_prints_a_zero_bound():
    s = _est(estimate=0.5, ci_low=0.0004, ci_high=1.0, p_value=0.049).sentence()
    assert "(95% CI 0.0004 to 1.0000)" in s and "includes no difference" not in s


def test_money_and_ratio_keep_enough_digits():
    m = _est(estimate=0.42, ci_low=0.11, ci_high=0.73, units="£", design="level",
             outcome="cost").sentence()
    assert "£0.42 higher" in m and "£0.11 to £0.73" in m
    tiny = _est(estimate=0.004, ci_low=0.001, ci_high=0.007, units="£", design="level",
                outcome="cost").sentence()
    assert "£0.0040 higher" in tiny and "£0.0010 to £0.0070" in tiny
    r = _est(estimate=1.004, ci_low=1.001, ci_high=1.007, scale="ratio",
             outcome="exclusions", units="", design="level").sentence()
    # was "rate ratio 1.00 (1.00 to 1.01)" while significant
    assert "0.40% higher" in r and "rate ratio 1.0040, 95% CI 1.0010 to 1.0070" in r
    assert "includes no difference" not in r


def test_zero_estimate_has_no_sign_word():
    s = _est(estimate=0.0, ci_low=-1.2, ci_high=1.2, p_value=1.0).sentence()
    assert "rose" not in s and "fell" not in s
    assert "changed by the same amount as comparable learners (difference 0.0" in s


def test_raw_column_name_reads_as_words():
    s = _est(outcome="attendance_rate").sentence()
    assert s.startswith("Attendance rate of supported learners rose 2.1")


def test_summary_has_no_raw_floats():
    e = _est(estimate=-0.0401234567, se=0.0112345, ci_low=-0.0621234, ci_high=-0.018123,
             p_value=0.000712345, n_control=12345, extra={"icc": 0.0523456789,
                                                          "draws": 9999, "note": "x_y"})
    s = e.summary()
    assert "Effect: -0.040 percentage points  (SE 0.011)" in s
    assert "95% CI: -0.062 to -0.018   p = 0.0007" in s
    assert "Comparison: 12,345" in s and "Icc: 0.0523" in s and "Draws: 9,999" in s
    assert "Note: x_y" in s
    assert "0.0401234" not in s and "0.000712" not in s and "p-value" not in s
    assert "p < 0.0001" in _est(p_value=1e-12).summary()
    assert repr(e) == ("Estimate(difference-in-differences: -0.040 [-0.062, -0.018], "
                       "p = 0.0007, n_treated=500, n_control=12345)")


def test_summary_keeps_warnings_and_reference_levels():
    s = _est(warnings=["only 3 treated clusters"], reference_levels={"sex": "F"}).summary()
    assert "Warning: only 3 treated clusters" in s and "Reference level of sex: F" in s
    assert s.endswith("(95% CI 1.2 to 3.0). Only 3 treated clusters.")


def test_missing_estimate_or_interval_is_said_so():
    nan = float("nan")
    s = _est(estimate=nan, se=nan, ci_low=nan, ci_high=nan, p_value=nan).sentence()
    assert s == "The effect on attendance of supported learners could not be estimated."
    s = _est(ci_low=nan, ci_high=nan, p_value=nan).sentence()
    assert "rose 2.1 percentage points more than comparable learners (95% CI not available)" \
        in s and "includes no difference" not in s and "no interval could be estimated" in s
    r = _est(estimate=0.8, ci_low=nan, ci_high=nan, scale="ratio", units="").sentence()
    assert "rate ratio 0.80, 95% CI not available" in r and "includes no" not in r
