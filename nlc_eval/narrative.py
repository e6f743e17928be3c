"""Plain-English sentences generated from numbers, for reports a headteacher can read.

Every function takes numbers (already computed and, where they count pupils, already
suppressed) and returns a sentence. Missing values (suppressed or not available) are
said to be so in words ("not shown: fewer than 5 learners"), or their clause is left out;
a sentence never carries the tables' suppression marker ``c``, ``nan`` or ``None``, and
nothing is invented. Intervals are always stated with the estimate, and
every estimate and its interval are printed by :mod:`nlc_eval.formatting` (at least two
significant figures, the interval at the same decimals, "includes zero" only when it does).

Examples
--------
>>> gap_sentence("attendance", 4.23, 3.1, 5.36, unit="percentage points")
'The attendance gap between pupils in SIMD quintile 1 and quintile 5 is 4.2 percentage points (95% CI 3.1 to 5.4).'
>>> dashboard_sentence(1531, 2442, 84.2, 39.0)
'1,531 learners were supported, with 2,442 sessions planned; 84% of planned sessions were attended and 39% of supports that ended did so successfully.'
>>> dashboard_sentence(1531, 2442, 84.2, None)
'1,531 learners were supported, with 2,442 sessions planned; 84% of planned sessions were attended. The share of supports that ended successfully is not shown: fewer than 5 learners.'
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from nlc_eval import formatting as fmt

SMALL_GROUP = 30
#: A number hidden because it counts a small group, in a sentence.
NOT_SHOWN = "not shown: fewer than 5 learners"
#: A number hidden to protect another (secondary suppression), in a sentence.
PROTECTED = "not shown, to protect a group of fewer than 5 learners"
#: A missing number inside a clause (never the tables' marker ``c``).
HIDDEN = "not shown"


def _missing(x) -> bool:
    """True for None, NA, NaN and infinite numbers (nothing a sentence can print)."""
    if x is None or x is pd.NA:
        return True
    try:
        if bool(pd.isna(x)):
            return True
    except (TypeError, ValueError):
        return False
    try:
        return not math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def number(x, decimals: int = 0) -> str:
    """``1531`` -> ``'1,531'``; missing -> ``'not shown'`` (never the marker ``c``)."""
    if _missing(x):
        return HIDDEN
    return fmt.number(x, decimals)


def pct(x, decimals: int = 0) -> str:
    """``84.2`` -> ``'84%'`` (x on a 0-100 scale); missing -> ``'not shown'``."""
    if _missing(x):
        return HIDDEN
    return fmt.number(x, decimals, thousands=False) + "%"


def not_shown(items: Sequence[str], words: str = NOT_SHOWN) -> str:
    """A sentence saying which numbers are hidden ("" when none).

    Examples
    --------
    >>> not_shown(["the number of learners supported"])
    'The number of learners supported is not shown: fewer than 5 learners.'
    >>> not_shown(["the share attended", "the share that ended successfully"])
    'The share attended and the share that ended successfully are not shown: fewer than 5 learners.'
    """
    items = [i for i in items if i]
    if not items:
        return ""
    verb = "is" if len(items) == 1 else "are"
    return fmt.capitalise(f"{join(items)} {verb} {words}.")


def interval(low, high, decimals: int = 1, level: int = 95, *, estimate=None) -> str:
    """``(1.2, 3.0)`` -> ``'95% CI 1.2 to 3.0'``.

    With ``estimate``, the decimals are those the estimate is printed with (at least
    ``decimals``; see :func:`effect_interval`), so the two always agree.

    Examples
    --------
    >>> interval(1.2, 3.0), interval(-0.042, 0.18, estimate=0.069)
    ('95% CI 1.2 to 3.0', '95% CI -0.042 to 0.180')
    """
    if _missing(low) or _missing(high):
        return f"{level}% CI not available"
    if estimate is not None and not _missing(estimate):
        f = fmt.effect(float(estimate), float(low), float(high), min_decimals=decimals,
                       conf_level=level / 100)
        return f.interval
    return f"{level}% CI {fmt.number(low, decimals)} to {fmt.number(high, decimals)}"


def effect_interval(estimate, low, high, *, unit: str = "points", decimals: int = 1,
                    sign: bool = True, level: int = 95) -> str:
    """An estimate with its unit and interval, printed together.

    At least two significant figures and at least ``decimals`` decimals, the interval at
    the same decimals (:func:`nlc_eval.formatting.effect`).

    Examples
    --------
    >>> effect_interval(2.13, 1.2, 3.04)
    '+2.1 points (95% CI 1.2 to 3.0)'
    >>> effect_interval(-0.04, -0.061, -0.019)
    '-0.040 points (95% CI -0.061 to -0.019)'
    """
    if _missing(estimate):
        return "not available"
    if _missing(low) or _missing(high):
        d = max(decimals, fmt.sig_decimals(float(estimate)))
        text = fmt.number(estimate, d, sign=sign)
        return f"{text}{' ' + unit if unit else ''} ({level}% CI not available)"
    f = fmt.effect(float(estimate), float(low), float(high), min_decimals=decimals,
                   sign=sign, conf_level=level / 100)
    # the bounds carry their own sign only: "+2.1 points (95% CI 1.2 to 3.0)"
    low_high = f"{f.level} {fmt.number(low, f.decimals)} to {fmt.number(high, f.decimals)}"
    return f"{f.estimate}{' ' + unit if unit else ''} ({low_high})"


def signed(x, unit: str = "points", decimals: int = 1, *, more: str = "higher",
           less: str = "lower") -> str:
    """``2.1`` -> ``'2.1 points higher'``; ``-0.4`` -> ``'0.4 points lower'``."""
    if _missing(x):
        return "not available"
    x = float(x)
    text = fmt.number(abs(x), decimals)
    if float(text.replace(",", "")) == 0:
        return "about the same"
    return f"{text} {unit} {more if x > 0 else less}"


def cluster_intro(cluster: str, n_primary: int, n_secondary: int, n_special: int, roll,
                  q1_share, authority_q1_share=None) -> str:
    """Who the cluster is, in one sentence (shares on a 0-1 scale)."""
    parts = []
    for n, word in ((n_secondary, "secondary"), (n_primary, "primary"),
                    (n_special, "additional support needs")):
        if n:
            parts.append(f"{n} {word} school{'s' if n != 1 else ''}")
    schools = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1] \
        if parts else "no schools"
    text = f"{cluster} brings together {schools}"
    if not _missing(roll):
        text += f", with {number(roll)} pupils on roll"
    if not _missing(q1_share):
        them = "them" if not _missing(roll) else "its pupils"
        text += f"; {pct(100 * float(q1_share))} of {them} live in SIMD quintile 1"
        if not _missing(authority_q1_share):
            diff = 100 * (float(q1_share) - float(authority_q1_share))
            text += (f" ({signed(diff, 'points', 0, more='above', less='below')} the "
                     "authority's share)" if round(abs(diff)) else " (about the authority's "
                     "share)")
    return text + "."


def dashboard_sentence(learners, sessions_planned, session_attendance, success_pct,
                       *, authority_attendance=None, authority_success=None) -> str:
    """The supports dashboard in one sentence (rates on a 0-100 scale).

    A hidden figure's clause is left out and a second sentence says what is not shown.
    """
    main = ""
    if not _missing(learners):
        main = f"{number(learners)} learners were supported"
        if not _missing(sessions_planned):
            main += f", with {number(sessions_planned)} sessions planned"
    elif not _missing(sessions_planned):
        main = f"{number(sessions_planned)} sessions were planned"
    rates = []
    if not _missing(session_attendance):
        rates.append(f"{pct(session_attendance)} of planned sessions were attended")
    if not _missing(success_pct):
        rates.append(f"{pct(success_pct)} of supports that ended did so successfully")
    text = "; ".join(t for t in (main, " and ".join(rates)) if t)
    hidden = [what for what, v in (("the number of learners supported", learners),
                                   ("the number of sessions planned", sessions_planned),
                                   ("the share of planned sessions attended",
                                    session_attendance),
                                   ("the share of supports that ended successfully",
                                    success_pct)) if _missing(v)]
    if not text:
        return not_shown(hidden)
    refs = []
    if not _missing(authority_attendance):
        refs.append(f"{pct(authority_attendance)} attendance")
    if not _missing(authority_success):
        refs.append(f"{pct(authority_success)} successful endings")
    if refs:
        text += f" (authority: {' and '.join(refs)})"
    return fmt.capitalise(text) + "." + (" " + not_shown(hidden) if hidden else "")


def gap_sentence(measure: str, gap, low=None, high=None, *, unit: str = "points",
                 groups: tuple[str, str] = ("SIMD quintile 1", "quintile 5"),
                 decimals: int = 1) -> str:
    """The gap between two groups with its interval; a positive gap favours the second.

    The gap has at least two significant figures (and at least ``decimals`` decimals), its
    interval the same decimals.

    Examples
    --------
    >>> gap_sentence("numeracy", 0.04, 0.01, 0.07, unit="points")
    'The numeracy gap between pupils in SIMD quintile 1 and quintile 5 is 0.040 points (95% CI 0.010 to 0.070).'
    """
    if _missing(gap):
        return (f"The {measure} gap between pupils in {groups[0]} and {groups[1]} cannot be "
                "published: one of the groups is too small.")
    if low is not None and high is not None and not (_missing(low) or _missing(high)):
        f = fmt.effect(float(gap), float(low), float(high), min_decimals=decimals)
        size, tail = f.estimate, f" ({f.interval})"
    else:
        size = fmt.number(gap, max(decimals, fmt.sig_decimals(float(gap))))
        tail = "" if low is None or high is None else f" ({interval(low, high)})"
    text = (f"The {measure} gap between pupils in {groups[0]} and {groups[1]} is "
            f"{size} {unit}{tail}")
    return text + "."


def estimate_sentence(estimate, *, n_treated=None, what: str = "") -> str:
    """An impact estimate's own sentence, with a small-numbers caveat when it applies."""
    text = estimate.sentence() if hasattr(estimate, "sentence") else str(estimate)
    n = n_treated if n_treated is not None else getattr(estimate, "n_treated", None)
    caveat = small_numbers_caveat(n, what=what)
    return f"{text} {caveat}".strip()


def small_numbers_caveat(n, *, threshold: int = SMALL_GROUP, what: str = "") -> str:
    """A warning that small numbers give wide intervals (empty when n is large enough)."""
    if _missing(n):
        return ("Too few learners were supported to publish an estimate; the authority-wide "
                "estimate is the better guide.")
    n = int(n)
    if n < 5:
        return ("Fewer than five learners were supported, so no estimate is published; the "
                "authority-wide estimate is the better guide.")
    if n < threshold:
        return (f"Only {n} learners{' ' + what if what else ''} are in this estimate, so its "
                "interval is wide: read it as a rough indication, and set it beside the "
                "authority-wide estimate.")
    return ""


def compare_sentence(name: str, measure: str, value, reference, *, unit: str = "points",
                     reference_name: str = "its family", decimals: int = 1,
                     higher_is_better: bool = True) -> str:
    """``School A's attendance (91.2%) is 1.3 points higher than its family's average.``"""
    if _missing(value) or _missing(reference):
        return f"{name}'s {measure} cannot be compared with {reference_name}: not available."
    diff = float(value) - float(reference)
    verdict = signed(diff, unit, decimals)
    shown, ref = fmt.number(value, decimals), fmt.number(reference, decimals)
    if verdict == "about the same":
        return (f"{name}'s {measure} ({shown}) is about the same as "
                f"{reference_name}'s average ({ref}).")
    return (f"{name}'s {measure} ({shown}) is {verdict} than "
            f"{reference_name}'s average ({ref}).")


def learn_from(table: pd.DataFrame, *, label: str, measure: str, residual: str = "residual",
               low: str = "ci_low", high: str = "ci_high", unit: str = "points",
               decimals: int = 1) -> str:
    """Who to learn from on ``measure``: schools clearly above expectation.

    A school is named only when its whole interval is above zero (it does better than
    schools with its profile, beyond what chance would explain). Each residual and its
    interval are printed together (:func:`effect_interval`); a school's interval is said
    to include zero only when it does.

    Examples
    --------
    >>> t = pd.DataFrame({"school": ["A", "B"], "residual": [0.04, -1.0],
    ...                   "ci_low": [0.01, -2.0], "ci_high": [0.07, 0.5]})
    >>> learn_from(t, label="school", measure="numeracy")
    'On numeracy, learn from A (+0.040 points, 95% CI 0.010 to 0.070): above what schools with the same SIMD profile achieve, beyond chance.'
    """
    if table.empty or residual not in table:
        return f"There is no {measure} result against expectation to compare."
    t = table.copy()
    for c in (residual, low, high):
        t[c] = pd.to_numeric(t[c], errors="coerce")
    # above zero as printed too (a bound within 1e-12 of zero prints as zero)
    above = [bool(r[low] > 0) and not fmt.effect(r[residual], r[low], r[high],
                                                 min_decimals=decimals).includes_null
             for _, r in t.iterrows()]
    strong = t[np.array(above, dtype=bool)].sort_values(residual, ascending=False)
    if strong.empty:
        best = t.dropna(subset=[residual]).sort_values(residual, ascending=False)
        if best.empty:
            return f"No {measure} result against expectation can be published."
        r = best.iloc[0]
        if _missing(r[low]) or _missing(r[high]):
            why = "but its interval is not available"
        elif fmt.effect(r[residual], r[low], r[high], min_decimals=decimals).includes_null:
            why = "but its interval includes zero"
        else:
            why = "and its whole interval is below zero"
        return (f"On {measure}, no school stands out once SIMD profiles are taken into account; "
                f"{r[label]} is highest ({_residual(r, residual, low, high, unit, decimals)}), "
                f"{why}.")
    names = [f"{r[label]} ({_residual(r, residual, low, high, unit, decimals)})"
             for _, r in strong.head(3).iterrows()]
    return (f"On {measure}, learn from {join(names)}: above what schools with the same SIMD "
            "profile achieve, beyond chance.")


def _residual(r, residual: str, low: str, high: str, unit: str, decimals: int) -> str:
    return effect_interval(r[residual], r[low], r[high], unit=unit,
                           decimals=decimals).replace(" (", ", ", 1)[:-1]


def family_sentence(family: str, n_members: int, sector: str, roll_range: Sequence,
                    q1_range: Sequence) -> str:
    """Why a family's members belong together (roll and SIMD Q1 share ranges, 0-1 scale).

    A range with a missing end is left out of the sentence.
    """
    lo_r, hi_r = roll_range
    lo_q, hi_q = q1_range
    size = "similar size"
    if not (_missing(lo_r) or _missing(hi_r)):
        size += f" ({number(lo_r)} to {number(hi_r)} pupils)"
    depr = "similar deprivation"
    if not (_missing(lo_q) or _missing(hi_q)):
        depr += (f" ({pct(100 * float(lo_q))} to {pct(100 * float(hi_q))} of pupils in SIMD "
                 "quintile 1)")
    return f"Family {family} groups {n_members} {sector} schools of {size} and {depr}."


def join(items: Sequence[str]) -> str:
    """``['a', 'b', 'c']`` -> ``'a, b and c'``."""
    items = [str(i) for i in items]
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def finite(x) -> bool:
    """True for a real, finite number."""
    try:
        return not _missing(x) and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False
