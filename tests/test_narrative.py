"""Tests of the plain-English sentence helpers."""

from __future__ import annotations

import re
from decimal import Decimal

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from nlc_eval import formatting as fmt
from nlc_eval import narrative as nv
from nlc_eval.impact import Estimate


def test_numbers_percentages_and_missing_values():
    assert nv.number(1531) == "1,531" and nv.number(-0.3) == "0"  # never "-0"
    assert nv.pct(84.2) == "84%" and nv.pct(-0.2) == "0%"
    # a missing number reads as words, never as the tables' marker
    for missing in (None, np.nan, pd.NA, float("inf")):
        assert nv.number(missing) == "not shown" and nv.pct(missing) == "not shown"


def test_interval_alone_and_with_its_estimate():
    assert nv.interval(1.2, 3.0) == "95% CI 1.2 to 3.0"
    assert nv.interval(None, 3.0) == "95% CI not available"
    # with the estimate the decimals follow it: no "0.0 to 0.2" for an effect of 0.069
    assert nv.interval(-0.042, 0.18, estimate=0.069) == "95% CI -0.042 to 0.180"
    assert nv.interval(0.0004, 1.0, estimate=0.5) == "95% CI 0.0004 to 1.0000"


def test_effect_interval_examples():
    assert nv.effect_interval(2.13, 1.2, 3.04) == "+2.1 points (95% CI 1.2 to 3.0)"
    assert nv.effect_interval(-0.04, -0.061, -0.019) == \
        "-0.040 points (95% CI -0.061 to -0.019)"
    assert nv.effect_interval(1.5, None, 2.0) == "+1.5 points (95% CI not available)"
    assert nv.effect_interval(None, 1, 2) == "not available"
    assert nv.effect_interval(3.25, 2.0, 4.5, unit="", sign=False) == "3.2 (95% CI 2.0 to 4.5)"


def _num(token: str) -> Decimal:
    return Decimal(token.replace(",", ""))


@settings(max_examples=300, deadline=None)
@given(st.floats(-100, 100), st.floats(0, 50), st.floats(0, 50))
def test_effect_interval_estimate_lies_in_its_printed_interval(est, a, b):
    text = nv.effect_interval(est, est - a, est + b)
    m = re.fullmatch(r"(\S+) points \(95% CI (\S+) to (\S+)\)", text)
    assert m, text
    e, lo, hi = (_num(m.group(i)) for i in (1, 2, 3))
    assert lo <= e <= hi, text
    decimals = {len(m.group(i).split(".")[1]) if "." in m.group(i) else 0 for i in (1, 2, 3)}
    assert len(decimals) == 1, text
    if abs(est) >= 10.0 ** -fmt.MAX_DECIMALS:  # smaller is zero to printing precision
        assert e != 0 and (e > 0) == (est > 0), text


def test_signed_follows_the_printed_number():
    assert nv.signed(2.1) == "2.1 points higher" and nv.signed(-0.4) == "0.4 points lower"
    assert nv.signed(0.04) == "about the same" and nv.signed(-0.04) == "about the same"
    assert nv.signed(0.05) == "0.1 points higher"  # 0.05 rounds to 0.1 (printed, not zero)
    assert nv.signed(None) == "not available"


def test_gap_sentence_keeps_small_gaps_readable():
    assert nv.gap_sentence("numeracy", 0.04, 0.01, 0.07) == (
        "The numeracy gap between pupils in SIMD quintile 1 and quintile 5 is 0.040 points "
        "(95% CI 0.010 to 0.070).")
    assert nv.gap_sentence("reading", 12.34).endswith("is 12.3 points.")
    assert "cannot be published" in nv.gap_sentence("reading", None)
    assert nv.gap_sentence("reading", 5.0, np.nan, np.nan).endswith(
        "(95% CI not available).")


def test_compare_sentence():
    assert nv.compare_sentence("A", "attendance", 91.24, 89.9) == (
        "A's attendance (91.2) is 1.3 points higher than its family's average (89.9).")
    assert "about the same" in nv.compare_sentence("A", "attendance", 90.02, 90.0)
    assert "not available" in nv.compare_sentence("A", "attendance", None, 90.0)


def _table(rows):
    return pd.DataFrame(rows, columns=["school", "residual", "ci_low", "ci_high"])


def test_learn_from_names_only_schools_clearly_above():
    t = _table([("A", 2.04, 0.51, 3.6), ("B", 1.0, -0.5, 2.5), ("C", 0.04, 0.01, 0.07)])
    s = nv.learn_from(t, label="school", measure="reading")
    assert s == ("On reading, learn from A (+2.0 points, 95% CI 0.5 to 3.6) and C (+0.040 "
                 "points, 95% CI 0.010 to 0.070): above what schools with the same SIMD "
                 "profile achieve, beyond chance.")
    assert "B" not in s


def test_learn_from_says_includes_zero_only_when_it_does():
    s = nv.learn_from(_table([("A", 0.5, -0.2, 1.2), ("B", -1.0, -2, 0)]), label="school",
                      measure="reading")
    assert "A is highest (+0.50 points, 95% CI -0.20 to 1.20), but its interval includes zero" \
        in s
    below = nv.learn_from(_table([("A", -0.5, -0.9, -0.1)]), label="school", measure="reading")
    assert "includes zero" not in below and "whole interval is below zero" in below
    missing = nv.learn_from(_table([("A", 0.5, np.nan, np.nan)]), label="school",
                            measure="reading")
    assert "includes zero" not in missing and "not available" in missing
    assert "no reading result" in nv.learn_from(_table([]), label="school", measure="reading")


@settings(max_examples=200, deadline=None)
@given(st.floats(-5, 5), st.floats(0, 3), st.floats(0, 3))
def test_learn_from_words_match_the_printed_interval(res, a, b):
    s = nv.learn_from(_table([("A", res, res - a, res + b)]), label="school", measure="m")
    m = re.search(r"95% CI (\S+) to (\S+)\)", s)
    lo, hi = _num(m.group(1)), _num(m.group(2))
    if "learn from A" in s:
        assert lo > 0, s
    else:
        assert ("includes zero" in s) == (lo <= 0 <= hi), s


def test_descriptive_sentences():
    assert nv.dashboard_sentence(1531, 2442, 84.2, 39.0) == (
        "1,531 learners were supported, with 2,442 sessions planned; 84% of planned sessions "
        "were attended and 39% of supports that ended did so successfully.")
    assert nv.dashboard_sentence(10, 20, 80, 50, authority_attendance=84).endswith(
        "(authority: 84% attendance).")
    c = nv.cluster_intro("Airdrie", 8, 1, 0, 5200, 0.41, 0.32)
    assert c == ("Airdrie brings together 1 secondary school and 8 primary schools, with "
                 "5,200 pupils on roll; 41% of them live in SIMD quintile 1 (9 points above "
                 "the authority's share).")
    assert "about the authority's share" in nv.cluster_intro("X", 2, 1, 0, 900, 0.32, 0.32)
    f = nv.family_sentence("3", 8, "primary", (150, 420), (0.1, 0.35))
    assert f == ("Family 3 groups 8 primary schools of similar size (150 to 420 pupils) and "
                 "similar deprivation (10% to 35% of pupils in SIMD quintile 1).")
    assert nv.join(["a", "b", "c"]) == "a, b and c" and nv.join([]) == ""
    assert nv.finite(1.0) and not nv.finite(np.nan) and not nv.finite("x")


def test_estimate_sentence_adds_the_small_numbers_caveat():
    e = Estimate(0.069, 0.05, -0.042, 0.18, 0.2, 12, 300, "m", outcome="attendance_rate")
    s = nv.estimate_sentence(e)
    assert s.startswith("Attendance rate of treated units was 0.069 higher")
    assert "(95% CI -0.042 to 0.180); the interval includes no difference" in s
    assert "Only 12 learners are in this estimate" in s
    assert "Fewer than five" in nv.small_numbers_caveat(3)
    assert nv.small_numbers_caveat(100) == ""


# ---------------------------------------------------------------------------
# Missing and suppressed values never reach a sentence as a marker
# ---------------------------------------------------------------------------

_MARKERS = re.compile(r"(?<![\w'’.-])c(?![\w'’-])|(?<![\w-])(nan|NaN|None|n/a|<NA>|inf)"
                      r"(?![\w-])|\(\s*\)|\s[,;.:]|[,;]\s*[,;.]|\s{2,}|^\W|:\s*\.")
MISSING = (None, np.nan, pd.NA)


def no_marker(sentence: str) -> str:
    """The sentence, after checking it has no marker, missing value or empty stub."""
    assert isinstance(sentence, str) and sentence.strip(), repr(sentence)
    m = _MARKERS.search(sentence)
    assert m is None, f"{m.group(0)!r} in {sentence!r}"
    assert (sentence[0].isupper() or sentence[0].isdigit()) and sentence.endswith("."), \
        sentence
    return sentence


def test_the_marker_check_can_fail():
    for bad in ("1,531 learners were supported and c of supports ended.", "It is nan%.",
                "Attendance None.", "A gap of n/a points.", "Shown ( ) here.", "A , b.",
                "Learners supported: .", "ends with a stub;."):
        try:
            no_marker(bad)
        except AssertionError:
            continue
        raise AssertionError(f"not caught: {bad!r}")


def _values(*pairs):
    """Every combination of each value and a missing one."""
    import itertools

    return itertools.product(*[(v, *MISSING[:2]) for v in pairs])


def test_dashboard_sentence_never_prints_a_marker():
    for learners, planned, att, succ in _values(1531, 2442, 84.2, 39.0):
        text = no_marker(nv.dashboard_sentence(learners, planned, att, succ,
                                               authority_attendance=86.0))
        for value, shown in ((learners, "1,531"), (planned, "2,442"), (att, "84%"),
                             (succ, "39%")):
            assert (shown in text) == nv.finite(value), text
        hidden = sum(not nv.finite(v) for v in (learners, planned, att, succ))
        # what is hidden is said to be, in its own sentence (away from the shares)
        assert text.count("not shown") == (1 if hidden else 0), text
        if hidden:
            last = text.split(". ")[-1]
            assert "not shown: fewer than 5 learners" in last and "%" not in last, text


def test_cluster_and_family_sentences_never_print_a_marker():
    for roll, q1, auth in _values(5200, 0.41, 0.32):
        text = no_marker(nv.cluster_intro("Airdrie", 8, 1, 0, roll, q1, auth))
        assert ("5,200 pupils on roll" in text) == nv.finite(roll), text
        assert ("41%" in text) == nv.finite(q1), text
    for lo_r, hi_r, lo_q, hi_q in _values(150, 420, 0.1, 0.35):
        text = no_marker(nv.family_sentence("3", 8, "primary", (lo_r, hi_r), (lo_q, hi_q)))
        assert ("150 to 420 pupils" in text) == (nv.finite(lo_r) and nv.finite(hi_r)), text
        assert ("10% to 35%" in text) == (nv.finite(lo_q) and nv.finite(hi_q)), text


def test_gap_compare_and_effect_sentences_never_print_a_marker():
    for gap, low, high in _values(4.23, 3.1, 5.36):
        no_marker(nv.gap_sentence("attendance", gap, low, high))
        wrapped = f"The effect is {nv.effect_interval(gap, low, high)}."
        no_marker(wrapped)
    for value, ref in _values(91.2, 89.9):
        no_marker(nv.compare_sentence("A", "attendance", value, ref))
    no_marker(nv.compare_sentence("A", "attendance", float("inf"), 89.9))
    t = _table([("A", np.nan, np.nan, np.nan), ("B", 0.5, np.nan, 1.0)])
    no_marker(nv.learn_from(t, label="school", measure="reading"))
    no_marker(nv.small_numbers_caveat(None))
