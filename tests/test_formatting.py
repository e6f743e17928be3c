"""Tests of the number formatter: printed intervals and words never contradict."""

from __future__ import annotations

import doctest
import math
import re
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import nlc_eval.formatting as fmt
from nlc_eval.impact import Estimate

UNITS = ["", "percentage points", "%", "£", "days"]


def _value(token: str) -> Decimal:
    """The number in a printed token such as ``-£1,794``, ``2.1%`` or ``0.070``."""
    t = token.strip().rstrip(",;.)").replace(",", "").replace("%", "")
    for sym in fmt.MONEY:
        t = t.replace(sym, "")
    return Decimal(t)


def _sig_figs(token: str) -> int:
    digits = re.sub(r"[^0-9]", "", token.replace(",", ""))
    return len(digits.lstrip("0"))


def _decimals(token: str) -> int:
    t = token.rstrip("%")
    return len(t.split(".")[1]) if "." in t else 0


_sizes = st.one_of(st.just(0.0), st.floats(1e-4, 1e5), st.floats(-1e5, -1e-4))
_widths = st.one_of(st.just(0.0), st.floats(0, 1e5), st.floats(0, 1e-3))


@st.composite
def _difference(draw):
    est = draw(_sizes)
    lo, hi = est - draw(_widths), est + draw(_widths)
    # bounds just either side of zero, where rounding could flip what the words say
    if draw(st.booleans()):
        tiny = draw(st.floats(-1e-6, 1e-6))
        if est >= 0:
            lo = min(est, tiny)
        else:
            hi = max(est, tiny)
    return est, lo, hi


def _parse_difference(s: str):
    iv = re.search(r"\((?:difference (\S+), )?(\d+% CI) (\S+) to (\S+)\)", s)
    assert iv, s
    lo, hi = _value(iv.group(3)), _value(iv.group(4))
    m = re.search(r" (rose|fell) (\S+)", s)
    if m:
        return (1 if m.group(1) == "rose" else -1), m.group(2), lo, hi, (iv.group(3), iv.group(4))
    m = re.search(r" was (\S+) (?:[a-z ]+ )?(higher|lower) than for", s)
    if m:
        return (1 if m.group(2) == "higher" else -1), m.group(1), lo, hi, (iv.group(3),
                                                                           iv.group(4))
    assert iv.group(1) is not None, s
    return 0, iv.group(1), lo, hi, (iv.group(3), iv.group(4))


@settings(max_examples=400, deadline=None)
@given(_difference(), st.sampled_from(UNITS), st.sampled_from(["change", "level"]))
def test_difference_sentence_never_contradicts_its_numbers(case, units, design):
    est, lo, hi = case
    s = Estimate(est, 1.0, lo, hi, 0.5, 10, 10, "m", outcome="attendance", units=units,
                 design=design).sentence()
    word_sign, token, plo, phi, bounds = _parse_difference(s)
    printed = word_sign * _value(token) if word_sign else _value(token)
    # the sign word follows the estimate; zero has none
    assert word_sign == (0 if est == 0 else (1 if est > 0 else -1)), s
    if est != 0:
        assert _value(token) > 0 and _sig_figs(token) >= 2, s
    # "includes no difference" iff the printed interval and the actual one include zero
    says = "includes no difference" in s
    assert says == (plo <= 0 <= phi), s
    if lo <= 0 <= hi or min(abs(lo), abs(hi)) >= 10.0 ** -fmt.MAX_DECIMALS:
        assert says == (lo <= 0 <= hi), s
    # the printed estimate lies within the printed interval, at the same decimals
    assert plo <= printed <= phi, s
    assert _decimals(bounds[0].lstrip("-£")) == _decimals(bounds[1].lstrip("-£")) \
        == _decimals(token.split()[0].lstrip("-£")), s


@st.composite
def _ratio(draw):
    est = draw(st.floats(0.01, 100))
    lo = est * math.exp(-draw(st.floats(0, 3)))
    hi = est * math.exp(draw(st.floats(0, 3)))
    if draw(st.booleans()):
        near = 1 + draw(st.floats(-1e-6, 1e-6))
        lo, hi = (min(est, near), hi) if est >= 1 else (lo, max(est, near))
    return est, lo, hi


@settings(max_examples=300, deadline=None)
@given(_ratio())
def test_ratio_sentence_never_contradicts_its_numbers(case):
    est, lo, hi = case
    s = Estimate(est, 0.1, lo, hi, 0.5, 10, 10, "m", outcome="exclusions",
                 scale="ratio").sentence()
    m = re.search(r"rate ratio (\S+), \d+% CI (\S+) to (\S+)\)", s)
    r, plo, phi = (_value(m.group(i)) for i in (1, 2, 3))
    assert plo <= r <= phi, s
    says = "includes no difference" in s
    assert says == (plo <= 1 <= phi), s
    if lo <= 1 <= hi or min(abs(lo - 1), abs(hi - 1)) >= 10.0 ** -fmt.MAX_DECIMALS:
        assert says == (lo <= 1 <= hi), s
    if est != 1:
        pct = re.search(r" was (\S+)% (higher|lower) than", s)
        assert pct, s
        assert (pct.group(2) == "higher") == (est > 1) == (r > 1), s
        assert _value(pct.group(1)) == abs(r - 1) * 100  # same digits as the ratio
        assert _sig_figs(pct.group(1)) >= 2, s


@settings(max_examples=300, deadline=None)
@given(st.floats(0, 1))
def test_p_value_is_never_printed_as_zero(p):
    text = fmt.p_value(p)
    assert text.startswith("p = ") or text == "p < 0.0001"
    if text.startswith("p = "):
        shown = Decimal(text[4:])
        assert shown > 0 and _sig_figs(text[4:]) >= 1
        assume(p >= 0.001)
        assert abs(float(shown) - p) <= 0.05 * p + 1e-12


@settings(max_examples=300, deadline=None)
@given(st.floats(-1e6, 1e6).filter(lambda x: x != 0))
def test_money_is_never_printed_as_zero(x):
    text = fmt.money(x)
    assert _value(text) != 0 and text.startswith("-£" if x < 0 else "£")
    assert _sig_figs(text) >= 2


# ---------------------------------------------------------------- examples
def test_issue_examples():
    assert fmt.effect(-0.040, -0.063, -0.017).text == "-0.040 (95% CI -0.063 to -0.017)"
    f = fmt.effect(0.069, -0.042, 0.18)
    assert f.text == "0.069 (95% CI -0.042 to 0.180)" and f.includes_null
    assert fmt.ratio(1.004, 1.001, 1.007)[0].text == "1.0040 (95% CI 1.0010 to 1.0070)"
    assert fmt.effect(12.34, 10.1, 14.6).text == "12.3 (95% CI 10.1 to 14.6)"
    assert fmt.effect(2.5, 1.0, 4.0, units="£").text == "£2.50 (95% CI £1.00 to £4.00)"
    assert fmt.effect(2.5, -1.0, 4.0, sign=True).text == "+2.5 (95% CI -1.0 to +4.0)"
    assert fmt.effect(float("nan"), 1, 2).estimate == "n/a"


@pytest.mark.parametrize("x,d", [(0.0996, 2), (9.96, 0), (0.0949, 3), (1.0, 1), (0.1, 2),
                                 (99.4, 0), (-0.004, 4)])
def test_sig_decimals_gives_two_significant_figures(x, d):
    assert fmt.sig_decimals(x) == d
    assert _sig_figs(fmt.number(x, d)) >= 2


@pytest.mark.parametrize("p,text", [(0.54, "p = 0.54"), (0.0123, "p = 0.012"),
                                    (0.0007, "p = 0.0007"), (0.05, "p = 0.050"),
                                    (1.0, "p = 1.0"), (2e-5, "p < 0.0001"),
                                    (float("nan"), "p not available")])
def test_p_value_examples(p, text):
    assert fmt.p_value(p) == text


@pytest.mark.parametrize("name,text", [
    ("attendance_rate", "attendance rate"), ("pct_sessions", "percentage of sessions"),
    ("sessions_pct", "percentage of sessions"), ("acel_numeracy", "ACEL numeracy"),
    ("n_supported", "number of supported"), ("simd_q1_share", "SIMD quintile 1 share"),
    ("meanScore", "average score"), ("attendance", "attendance"),
    ("the outcome", "the outcome")])
def test_labels(name, text):
    assert fmt.label(name) == text


def test_conf_level_is_named():
    assert fmt.effect(1, 0, 2, conf_level=0.9).interval.startswith("90% CI")
    assert fmt.level_text(0.995) == "99.5% CI"


@pytest.mark.parametrize("module", ["nlc_eval.formatting", "nlc_eval.narrative",
                                    "nlc_eval.impact.estimate", "nlc_eval.impact.effects"])
def test_doctests(module):
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0


# ---------------------------------------------------------------- other modules' sentences
def test_authority_gap_sentence_prints_small_gaps_and_says_chance_only_when_so():
    import numpy as np
    import pandas as pd

    from nlc_eval.compare_report import gap_sentence

    def row(est, lo, hi, outcome="attendance_rate"):
        return pd.Series({"outcome": outcome, "year": 2023, "estimate": est, "ci_low": lo,
                          "ci_high": hi, "n_schools": 140})

    s = gap_sentence(row(-0.0040, -0.0061, -0.0019), "North Lanarkshire")
    assert s.endswith("North Lanarkshire's 140 schools were on average 0.0040 points "
                      "below their virtual comparators on attendance rate (%) (95% interval "
                      "-0.0061 to -0.0019): worse than schools like them elsewhere.")
    s = gap_sentence(row(0.069, -0.042, 0.18), "NLC")
    assert "0.069 points above" in s and "(95% interval -0.042 to +0.180)" in s
    assert s.endswith("within the range expected by chance.")
    assert "better than" in gap_sentence(row(-1.2, -2.0, -0.4, "unauthorised_absence_rate"),
                                         "NLC")
    assert "the same as their virtual comparators" in gap_sentence(row(0.0, -1, 1), "NLC")
    assert gap_sentence(row(1.0, np.nan, np.nan), "NLC").endswith(
        "no interval could be estimated.")


def test_tracking_headline_percentages_have_two_significant_figures():
    from nlc_eval.tracking import _pct_interval

    assert _pct_interval(84.2, 83.1, 85.3) == "84% (95% interval 83% to 85%)"
    assert _pct_interval(5.3, 2.1, 9.8, " of supports") == \
        "5.3% of supports (95% interval 2.1% to 9.8%)"
