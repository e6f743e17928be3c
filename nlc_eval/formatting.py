"""One number formatter for every sentence, summary and report text.

Rules
-----
* An effect is printed with at least two significant figures (and at least
  ``min_decimals`` decimals: 1 by default, 2 for ratios and effect sizes, 0 for money);
  its interval is printed with the same number of decimals.
* When the interval excludes "no effect" (0, or 1 for ratios) the decimals grow until the
  printed bounds exclude it too, so a printed interval never looks as if it touched zero
  when it does not; rounding is monotone, so an interval that includes zero still prints
  one that does, and the printed estimate always lies within its printed interval. (A
  bound within 10**-12 of "no effect" prints as it, and then counts as including it.)
* Sign words follow the sign of the estimate; an estimate of exactly zero has no sign word.
* Money is never shown as ``£0`` for a non-zero amount: amounts under ten are shown in pence
  (``£4.30``) or with more decimals still (``£0.0042``).
* Ratios are shown with at least two decimals and as many more as the interval needs to
  exclude 1 when the interval does; the matching percentage change has the same digits.
* p-values: ``p = 0.54``, ``p = 0.012``, ``p = 0.0007``, ``p < 0.0001``; never ``p = 0``.
* Raw column names become readable labels (``attendance_rate`` -> ``attendance rate``).

Examples
--------
>>> f = effect(-0.040, -0.061, -0.019)
>>> f.estimate, f.low, f.high, f.includes_null
('-0.040', '-0.061', '-0.019', False)
>>> effect(0.069, -0.042, 0.18).text
'0.069 (95% CI -0.042 to 0.180)'
>>> money(0.4), money(-50), money(1794.3)
('£0.40', '-£50', '£1,794')
>>> p_value(0.0007), p_value(0.54), p_value(3e-9)
('p = 0.0007', 'p = 0.54', 'p < 0.0001')
>>> label("attendance_rate"), label("pct_sessions")
('attendance rate', 'percentage of sessions')
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

MONEY = frozenset({"£", "$", "€"})
#: Most decimals ever printed: a bound within 10**-12 of "no effect" is "no effect" to
#: printing precision, and the words then say the interval includes it.
MAX_DECIMALS = 12

#: Readable labels of the kit's own column names.
LABELS: dict[str, str] = {
    "attendance": "attendance",
    "attendance_rate": "attendance rate",
    "attendance_pct": "attendance",
    "attendance_session": "attendance in the session",
    "authorised_absence_rate": "authorised absence rate",
    "unauthorised_absence_rate": "unauthorised absence rate",
    "exclusion_absence_rate": "absence due to exclusion",
    "exclusions": "exclusions",
    "exclusion_incidents": "exclusion incidents",
    "acel_reading": "ACEL reading",
    "acel_writing": "ACEL writing",
    "acel_listening_talking": "ACEL listening and talking",
    "acel_numeracy": "ACEL numeracy",
    "literacy": "literacy",
    "numeracy": "numeracy",
    "on_track": "pupils on track",
    "pct_on_track": "percentage of pupils on track",
    "pct_sessions": "percentage of sessions",
    "sessions_attended": "sessions attended",
    "sessions_planned": "sessions planned",
    "possible_sessions": "possible sessions",
    "attended_sessions": "sessions attended",
    "tariff_points": "tariff points",
    "fsm": "free school meals",
    "fsm_pct": "free school meal registration",
    "asn": "additional support needs",
    "eal": "English as an additional language",
    "care_experienced": "care experience",
    "simd_q1": "share in SIMD quintile 1",
    "simd_quintile": "SIMD quintile",
    "roll": "school roll",
    "fte_teachers": "teachers (full-time equivalent)",
}

# Words of raw column names and how they read.
_WORDS = {"pct": "percentage of", "perc": "percentage of", "n": "number of",
          "num": "number of", "avg": "average", "mean": "average", "sd": "SD",
          "simd": "SIMD", "acel": "ACEL", "fsm": "free school meals",
          "asn": "additional support needs", "eal": "EAL", "fte": "FTE", "id": "id",
          "rr": "rate ratio", "q1": "quintile 1", "q5": "quintile 5"}


def label(name: str) -> str:
    """A readable label for a column name (known kit columns, else a generic rewrite).

    Names that already read as words (spaces, no underscores) are returned unchanged.

    Examples
    --------
    >>> label("exclusion_incidents"), label("n_pupils"), label("attendance of pupils")
    ('exclusion incidents', 'number of pupils', 'attendance of pupils')
    """
    text = str(name)
    if text in LABELS:
        return LABELS[text]
    if " " in text.strip() or not re.search(r"[_.]|[a-z][A-Z]", text):
        return text
    words = re.sub(r"([a-z])([A-Z])", r"\1_\2", text).replace(".", "_").split("_")
    out = [_WORDS.get(w.lower(), w.lower()) for w in words if w]
    if out and out[-1] in ("percentage of", "number of"):  # "sessions_pct"
        out = [out[-1]] + out[:-1]
    return " ".join(out).strip()


def capitalise(text: str) -> str:
    """Upper-case the first character only (``'ACEL reading'`` stays as it is)."""
    return text[:1].upper() + text[1:]


def finite(x) -> bool:
    """True for a real, finite number."""
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def sig_decimals(x: float, sig: int = 2) -> int:
    """Decimals needed to show ``x`` with ``sig`` significant figures (0 for large ``x``).

    Examples
    --------
    >>> sig_decimals(2.13), sig_decimals(0.04), sig_decimals(0.0049), sig_decimals(123.0)
    (1, 3, 4, 0)
    """
    if not finite(x) or x == 0:
        return 0
    a = abs(float(x))
    e = math.floor(math.log10(a))
    d = sig - 1 - e
    # 0.0996 to 2 s.f. is 0.10, which needs one decimal fewer than the exponent says
    if d > 0 and round(a, d) >= 10.0 ** (e + 1):
        d -= 1
    return max(d, 0)


def number(x, decimals: int = 1, *, sign: bool = False, thousands: bool = True) -> str:
    """``x`` with ``decimals`` decimals; no negative zero; ``'n/a'`` when not finite.

    Examples
    --------
    >>> number(-0.04, 1), number(1794.3, 0), number(2.5, 1, sign=True)
    ('0.0', '1,794', '+2.5')
    """
    if not finite(x):
        return "n/a"
    x = float(x)
    comma = "," if thousands else ""
    text = f"{x:{'+' if sign else ''}{comma}.{decimals}f}"
    if float(text.replace(",", "")) == 0:  # strip the sign of a rounded zero
        text = f"{0.0:{comma}.{decimals}f}"
    return text


def _excludes(x: float, null: float, decimals: int) -> bool:
    """True when ``x`` printed at ``decimals`` decimals differs from ``null``."""
    return Decimal(number(x, decimals, thousands=False)) != Decimal(str(null))


def decimals_for(estimate, low=None, high=None, *, null: float = 0.0, sig: int = 2,
                 min_decimals: int = 1) -> int:
    """Decimals for an estimate and its interval under the rules of this module."""
    if finite(estimate) and estimate != null:
        d = max(min_decimals, sig_decimals(float(estimate) - null, sig))
    else:
        spread = [abs(float(b) - null) for b in (low, high) if finite(b) and b != null]
        d = max(min_decimals, sig_decimals(max(spread), sig) if spread else 0)
    if finite(low) and finite(high) and not (low <= null <= high):
        bound = float(low) if low > null else float(high)
        while d < MAX_DECIMALS and not _excludes(bound, null, d):
            d = max(d + 1, sig_decimals(bound - null, 1))
    return min(d, MAX_DECIMALS)


def shared_decimals(estimates, lows=None, highs=None, *, null: float = 0.0, sig: int = 2,
                    min_decimals: int = 1) -> int:
    """Decimals that print every row of one measure by the rules of this module.

    The most any one row needs (:func:`decimals_for`): each estimate keeps at least ``sig``
    significant figures and each interval that excludes ``null`` prints so. A measure is
    then printed at one precision on a page: its table column at these decimals, and every
    sentence quoting it through ``effect(..., min_decimals=shared_decimals(...))``, which
    prints each row at exactly these decimals. Rows with nothing finite are skipped; with
    no such row, ``min_decimals``.

    Examples
    --------
    >>> shared_decimals([2.13, 0.5, 12.0])
    2
    >>> shared_decimals([1.3, -0.04], [0.9, -0.061], [1.7, -0.019])
    3
    >>> d = shared_decimals([0.5, 2.13]); effect(2.13, 1.2, 3.04, min_decimals=d).text
    '2.13 (95% CI 1.20 to 3.04)'
    """
    est = list(estimates)
    n = len(est)
    lo = [None] * n if lows is None else list(lows)
    hi = [None] * n if highs is None else list(highs)
    d = int(min_decimals)
    for e, a, b in zip(est, lo, hi, strict=True):
        e, a, b = (float(v) if finite(v) else None for v in (e, a, b))
        if e is None and a is None and b is None:
            continue
        d = max(d, decimals_for(e, a, b, null=null, sig=sig, min_decimals=min_decimals))
    return min(d, MAX_DECIMALS)


@dataclass(frozen=True)
class Formatted:
    """An estimate and its interval printed with the same decimals.

    ``includes_null`` is decided on the actual interval, and the printed one agrees with it
    (a bound within ``10**-MAX_DECIMALS`` of null prints as null and counts as including it).
    ``sign`` is the sign of the printed estimate (-1, 0 or 1).
    """

    estimate: str
    low: str
    high: str
    decimals: int
    includes_null: bool
    sign: int
    level: str = "95% CI"

    @property
    def interval(self) -> str:
        """``'95% CI 1.2 to 3.0'``."""
        return f"{self.level} {self.low} to {self.high}"

    @property
    def text(self) -> str:
        """``'2.1 (95% CI 1.2 to 3.0)'``."""
        return f"{self.estimate} ({self.interval})"


def level_text(conf_level: float = 0.95) -> str:
    """``0.95`` -> ``'95% CI'``."""
    pct = conf_level * 100
    return f"{number(pct, 0 if round(pct) == pct else 1, thousands=False)}% CI"


def effect(estimate, low, high, *, units: str = "", null: float = 0.0, sig: int = 2,
           min_decimals: int | None = None, sign: bool = False,
           conf_level: float = 0.95) -> Formatted:
    """Print an estimate and its interval by the rules of this module.

    Parameters
    ----------
    estimate, low, high : float
        The estimate and its interval (missing bounds print as ``n/a``).
    units : str
        ``"£"``/``"$"``/``"€"`` for money (symbol before the number), ``"%"`` (after), any
        other text after a space, or ``""`` for none.
    null : float
        The value meaning "no effect" (0, or 1 for ratios).
    sig : int
        Least number of significant figures of the estimate (of its distance from ``null``).
    min_decimals : int, optional
        Least decimals: 0 for money, 1 otherwise unless given.
    sign : bool
        Print a ``+`` before positive values (for gaps and residuals).
    conf_level : float
        Confidence level, for the interval's name.
    """
    is_money = units.strip() in MONEY
    if min_decimals is None:
        min_decimals = 0 if is_money else 1
    d = decimals_for(estimate, low, high, null=null, sig=sig, min_decimals=min_decimals)
    if is_money and 0 < d < 2:
        d = 2  # pence
    est_text = number(estimate, d, sign=sign)
    printed = float(est_text.replace(",", "")) if finite(estimate) else math.nan
    s = 0 if not finite(printed) or printed == null else (1 if printed > null else -1)
    inc = not (finite(low) and finite(high)) or (low <= null <= high)
    if not inc:  # a bound within 10**-MAX_DECIMALS of null prints as null: say so
        bound = low if low > null else high
        inc = not _excludes(bound, null, d)
    return Formatted(
        estimate=with_units(estimate, d, units, sign=sign),
        low=with_units(low, d, units, sign=sign),
        high=with_units(high, d, units, sign=sign),
        decimals=d, includes_null=bool(inc), sign=s, level=level_text(conf_level))


def with_units(x, decimals: int, units: str = "", *, sign: bool = False) -> str:
    """``x`` at ``decimals`` with its units: ``£1,794``, ``-£50``, ``2.1%``, ``2.1 days``."""
    u = units.strip()
    if not finite(x):
        return "n/a"
    if u in MONEY:
        body = number(abs(float(x)), decimals)
        neg = float(x) < 0 and float(body.replace(",", "")) != 0
        return ("-" if neg else ("+" if sign and float(x) > 0 else "")) + u + body
    text = number(x, decimals, sign=sign)
    if not u:
        return text
    return f"{text}%" if u == "%" else f"{text} {u}"


def money(x, symbol: str = "£") -> str:
    """An amount of money: whole units from ten up, else pence or more decimals."""
    d = 0 if not finite(x) or abs(float(x)) >= 10 or x == 0 else max(2, sig_decimals(x))
    return with_units(x, d, symbol)


def ratio(estimate, low, high, *, conf_level: float = 0.95) -> tuple[Formatted, str]:
    """A ratio and its interval, and the matching percentage change (same digits).

    Examples
    --------
    >>> f, pct = ratio(1.004, 1.001, 1.007)
    >>> f.text, pct
    ('1.0040 (95% CI 1.0010 to 1.0070)', '0.40%')
    """
    f = effect(estimate, low, high, null=1.0, min_decimals=2, conf_level=conf_level)
    if not finite(estimate):
        return f, "n/a"
    change = abs(Decimal(f.estimate.replace(",", "")) - 1) * 100
    return f, f"{change:,.{max(f.decimals - 2, 0)}f}%"


def p_value(p) -> str:
    """``p = 0.54``, ``p = 0.012``, ``p = 0.0007``, ``p < 0.0001``; never ``p = 0``.

    Two significant figures, with at most four decimals.
    """
    if not finite(p):
        return "p not available"
    p = float(p)
    if p < 0.0001:
        return "p < 0.0001"
    d = min(max(sig_decimals(p), 1), 4)
    return f"p = {number(min(p, 1.0), d)}"


def general(x, sig: int = 3) -> str:
    """A number in a summary line: integers with thousands separators, else ``sig`` s.f.

    Examples
    --------
    >>> general(4000), general(0.052345), general(12345.678), general(float("nan"))
    ('4,000', '0.0523', '12,346', 'n/a')
    """
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int) or (hasattr(x, "dtype") and getattr(x.dtype, "kind", "") in "iu"):
        return f"{int(x):,}"
    if not finite(x):
        return "n/a"
    return number(x, sig_decimals(x, sig))
