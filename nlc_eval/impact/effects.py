"""Education effect sizes: Hedges' g, EEF months' progress, WWC baseline equivalence, attrition.

Conventions:

* Hedges' g divides a (possibly adjusted) difference by a standard deviation and applies
  Hedges' (1981) exact small-sample correction
  J = Gamma(m / 2) / (sqrt(m / 2) Gamma((m - 1) / 2)), m = n_t + n_c - 2 (approximately
  1 - 3 / (4 m - 1)). For clustered data the SD is the *total* SD from an unconditional
  multilevel model (between-group plus within-group variance), as in EEF evaluation reports.
* The interval of Hedges' g from two samples inverts the noncentral t distribution of the
  two-sample t statistic (Steiger & Fouladi 1997; Hedges & Olkin 1985, ch. 5) and applies J
  to both ends, as R's ``effectsize`` and ``MBESS`` do: exact under normality, and wider
  than the normal interval in small samples. ``standardise`` keeps the estimator's own
  (e.g. clustered) interval.
* Months' progress uses the EEF Toolkit conversion table on the effect size rounded half-up
  to two decimals (as a decimal number, not a binary float); negative effects mirror it.
* WWC baseline equivalence: |g| <= 0.05 satisfied; 0.05 < |g| <= 0.25 requires statistical
  adjustment; > 0.25 not satisfied. Binary covariates use the Cox index.
* WWC attrition boundaries (Standards Handbook v4.0, Table II.1), cautious and optimistic.

Outcome-type models (attendance, exclusions, on-track) live in
:mod:`nlc_eval.impact.outcomes` and are re-exported here as :func:`outcome_effect`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from nlc_eval import formatting as fmt
from nlc_eval.errors import ImpactError

from . import _validate as v
from ._covariates import encode_covariates
from .estimate import Estimate
from .outcomes import outcome_effect  # noqa: F401  (re-exported)

# EEF Toolkit: upper end of each effect-size band (to 2 dp) for 0, 1, ..., 11 months;
# anything above 0.95 is 12 months. Bands are inclusive ranges of two-decimal values.
EEF_UPPER = np.array([0.01, 0.09, 0.18, 0.26, 0.35, 0.44, 0.52, 0.61, 0.69, 0.78, 0.87, 0.95])
_EEF_UPPER_DEC = tuple(Decimal(u) for u in ("0.01", "0.09", "0.18", "0.26", "0.35", "0.44",
                                            "0.52", "0.61", "0.69", "0.78", "0.87", "0.95"))
_CENT = Decimal("0.01")
EEF_MONTHS = pd.DataFrame({
    "months": np.arange(13),
    "effect_size_from": [-0.01, 0.02, 0.10, 0.19, 0.27, 0.36, 0.45, 0.53, 0.62, 0.70, 0.79,
                         0.88, 0.96],
    "effect_size_to": [0.01, 0.09, 0.18, 0.26, 0.35, 0.44, 0.52, 0.61, 0.69, 0.78, 0.87, 0.95,
                       1.00],
    "impact": ["very low or no impact", "low", "low", "moderate", "moderate", "moderate",
               "high", "high", "high", "very high", "very high", "very high", "very high"],
})

# WWC Standards Handbook v4.0, Table II.1: largest differential attrition (percentage points)
# for low attrition, by overall attrition 0, 1, ..., 57 percent.
WWC_CAUTIOUS = np.array([
    5.7, 5.8, 5.9, 5.9, 6.0, 6.1, 6.2, 6.3, 6.3, 6.3, 6.3, 6.2, 6.2, 6.1, 6.0, 5.9, 5.9, 5.8,
    5.7, 5.5, 5.4, 5.3, 5.2, 5.1, 4.9, 4.8, 4.7, 4.5, 4.4, 4.3, 4.1, 4.0, 3.8, 3.6, 3.5, 3.3,
    3.2, 3.1, 2.9, 2.8, 2.6, 2.5, 2.3, 2.1, 2.0, 1.8, 1.6, 1.5, 1.3, 1.2, 1.0, 0.9, 0.7, 0.6,
    0.4, 0.3, 0.2, 0.0])
WWC_OPTIMISTIC = np.array([
    10.0, 10.1, 10.2, 10.3, 10.4, 10.5, 10.7, 10.8, 10.9, 10.9, 10.9, 10.9, 10.9, 10.9, 10.8,
    10.8, 10.7, 10.6, 10.5, 10.3, 10.2, 10.0, 9.9, 9.7, 9.5, 9.4, 9.2, 9.0, 8.8, 8.6, 8.4, 8.2,
    8.0, 7.8, 7.6, 7.4, 7.2, 7.0, 6.7, 6.5, 6.3, 6.0, 5.8, 5.6, 5.3, 5.1, 4.9, 4.6, 4.4, 4.2,
    3.9, 3.7, 3.5, 3.2, 3.0, 2.8, 2.6, 2.3])


def two_decimals(g) -> Decimal:
    """``g`` as the decimal number it is written as, rounded half-up to two places.

    A float is read through its shortest representation (``0.185`` is 0.185, not the binary
    0.18499999...), so ``0.185`` rounds to 0.19 as a reader of the table expects.

    Examples
    --------
    >>> two_decimals(0.185), two_decimals(-0.265), two_decimals(0.955)
    (Decimal('0.19'), Decimal('-0.27'), Decimal('0.96'))
    """
    if isinstance(g, Decimal):
        value = g
    elif isinstance(g, (int, np.integer)) and not isinstance(g, bool):
        value = Decimal(int(g))
    else:
        value = Decimal(repr(float(g)) if not isinstance(g, np.floating) else str(g))
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def months_progress(g) -> int:
    """EEF additional months' progress for an effect size (negative effects mirrored).

    The effect size is rounded half-up to two decimals (:func:`two_decimals`) and placed in
    the EEF Toolkit's inclusive bands (0.02-0.09 is 1 month, 0.10-0.18 is 2, 0.19-0.26 is
    3, ..., 0.88-0.95 is 11, 0.96 and above 12).

    Examples
    --------
    >>> months_progress(0.2), months_progress(-0.2), months_progress(0.01)
    (3, -3, 0)
    >>> months_progress(0.185), months_progress(0.265), months_progress(0.355)
    (3, 4, 5)
    """
    if g is None or isinstance(g, bool) or not np.isfinite(float(g)):
        return 0
    a = abs(two_decimals(g))
    months = sum(a > upper for upper in _EEF_UPPER_DEC)
    return -months if g < 0 else months


def correction_factor(n_treated: int, n_control: int) -> float:
    """Hedges' (1981) exact small-sample correction J(m), m = n_t + n_c - 2.

    ``J(m) = Gamma(m / 2) / (sqrt(m / 2) Gamma((m - 1) / 2))``, approximately
    ``1 - 3 / (4 m - 1)``.

    Examples
    --------
    >>> round(correction_factor(19, 13), 6), round(1 - 3 / (4 * 30 - 1), 6)
    (0.974754, 0.97479)
    """
    m = n_treated + n_control - 2
    if m < 2:
        raise ImpactError(f"{n_treated} + {n_control} units: the small-sample correction "
                          "needs at least 4 in all. Fix: use larger groups.")
    return math.exp(math.lgamma(m / 2) - 0.5 * math.log(m / 2) - math.lgamma((m - 1) / 2))


def _nct_cdf(t: float, df: float, ncp: float) -> float:
    from scipy import stats

    p = float(stats.nct.cdf(t, df, ncp))
    if not np.isfinite(p):  # far tails, where the series gives up: the limit
        p = 0.0 if ncp > t else 1.0
    return p


def noncentral_t_interval(t: float, df: float, conf_level: float = 0.95
                          ) -> tuple[float, float]:
    """Interval for the noncentrality parameter of a t statistic by inverting its CDF.

    Finds ``lo`` and ``hi`` with ``P(T <= t | lo) = 1 - alpha / 2`` and
    ``P(T <= t | hi) = alpha / 2`` (Steiger & Fouladi 1997).
    """
    from scipy import optimize, stats

    alpha = 1 - conf_level
    z = float(stats.norm.ppf(1 - alpha / 2))
    width = 1 + 2 * z * math.sqrt(1 + t * t / (2 * df))

    def root(q: float) -> float:
        f = lambda ncp: _nct_cdf(t, df, ncp) - q  # noqa: E731
        a, b = t - width, t + width
        for _ in range(60):
            if f(a) >= 0 >= f(b):
                return float(optimize.brentq(f, a, b, xtol=1e-12, rtol=1e-12))
            a, b = t - 2 * (t - a), t + 2 * (b - t)
        raise ImpactError(f"no interval found for t = {t} with {df} degrees of freedom.")

    return root(1 - alpha / 2), root(alpha / 2)


@dataclass
class EffectSize:
    """A standardised effect size with its interval and EEF months' progress."""

    g: float
    se: float
    ci_low: float
    ci_high: float
    n_treated: int
    n_control: int
    sd: float
    method: str
    conf_level: float = 0.95
    p_value: float = float("nan")

    @property
    def months(self) -> int:
        """EEF months' progress of the point estimate."""
        return months_progress(self.g)

    @property
    def months_interval(self) -> tuple[int, int]:
        """EEF months' progress at the ends of the interval."""
        return months_progress(self.ci_low), months_progress(self.ci_high)

    def tidy(self) -> pd.DataFrame:
        """One row: ``term, estimate, std_error, ci_low, ci_high, p_value, n`` plus months."""
        from scipy import stats

        p = self.p_value
        if not np.isfinite(p):
            p = float(2 * stats.norm.sf(abs(self.g / self.se))) if self.se > 0 else np.nan
        return pd.DataFrame([{"term": "hedges_g", "estimate": self.g, "std_error": self.se,
                              "ci_low": self.ci_low, "ci_high": self.ci_high, "p_value": p,
                              "n": self.n_treated + self.n_control, "months": self.months}])

    def __repr__(self) -> str:  # short and formatted, as Estimate's
        f = fmt.effect(self.g, self.ci_low, self.ci_high, min_decimals=2,
                       conf_level=self.conf_level)
        return (f"EffectSize({self.method}: g = {f.estimate} [{f.low}, {f.high}], "
                f"{self.months} months, n_treated={self.n_treated}, "
                f"n_control={self.n_control})")

    def sentence(self) -> str:
        """Plain-English sentence with the interval and months' progress.

        Examples
        --------
        >>> EffectSize(0.2, 0.05, 0.1, 0.3, 100, 100, 1.0, "g").sentence()
        "Effect size g = 0.20 (95% CI 0.10 to 0.30), about 3 months' additional progress on the EEF scale (interval 2 to 4 months)."
        """
        m = self.months
        lo, hi = self.months_interval
        f = fmt.effect(self.g, self.ci_low, self.ci_high, min_decimals=2,
                       conf_level=self.conf_level)
        if m == 0:
            progress = "no additional months' progress"
        else:
            word = "additional" if m > 0 else "less"
            months = "1 month's" if abs(m) == 1 else f"{abs(m)} months'"
            progress = f"about {months} {word} progress"
        return (f"Effect size g = {f.estimate} ({f.interval}), {progress} on the EEF scale "
                f"(interval {lo} to {hi} months).")


def hedges_g(treated, control, *, conf_level: float = 0.95) -> EffectSize:
    """Hedges' g of two samples with the small-sample correction and its interval.

    Uses the pooled SD and Hedges' exact correction J (:func:`correction_factor`). The
    interval is the noncentral-t interval of Steiger & Fouladi (1997) for Cohen's d,
    multiplied by J (as R's ``effectsize::hedges_g``); the SE is the large-sample
    ``J sqrt((n_t + n_c) / (n_t n_c) + d^2 / (2 (n_t + n_c)))`` and the p-value that of the
    pooled two-sample t-test.

    Examples
    --------
    >>> round(hedges_g([2, 3, 4, 5], [1, 2, 3, 4]).g, 3)
    0.673
    """
    a = np.asarray(treated, dtype=float)
    b = np.asarray(control, dtype=float)
    if np.isnan(a).any() or np.isnan(b).any():
        raise ImpactError(f"{int(np.isnan(a).sum() + np.isnan(b).sum())} missing values in the "
                          "samples. Fix: drop or impute them explicitly.")
    n1, n0 = len(a), len(b)
    if n1 < 2 or n0 < 2:
        raise ImpactError("each group needs at least 2 values for an effect size.")
    sd = float(np.sqrt(((n1 - 1) * a.var(ddof=1) + (n0 - 1) * b.var(ddof=1)) / (n1 + n0 - 2)))
    if sd == 0:
        raise ImpactError("the outcome does not vary, so no standardised effect exists.")
    from scipy import stats

    if not 0 < conf_level < 1:
        raise ImpactError(f"conf_level={conf_level}. Fix: give a level between 0 and 1, "
                          "e.g. 0.95.")
    d = float((a.mean() - b.mean()) / sd)
    J = correction_factor(n1, n0)
    g = J * d
    se = float(J * np.sqrt((n1 + n0) / (n1 * n0) + d ** 2 / (2 * (n1 + n0))))
    df = n1 + n0 - 2
    scale = math.sqrt(n1 * n0 / (n1 + n0))
    t = d * scale
    lo, hi = noncentral_t_interval(t, df, conf_level)
    return EffectSize(g=float(g), se=se, ci_low=J * lo / scale, ci_high=J * hi / scale,
                      n_treated=n1, n_control=n0, sd=sd,
                      method="Hedges' g (pooled SD; noncentral-t interval)",
                      conf_level=conf_level, p_value=float(2 * stats.t.sf(abs(t), df)))


def total_sd(df: pd.DataFrame, outcome: str, groups: list[str] | None = None) -> float:
    """Total SD of ``outcome``: sample SD, or from an unconditional multilevel model.

    With ``groups`` (outermost first) the total variance is the sum of the variance
    components of :func:`nlc_eval.impact.multilevel.variance_components` (EEF practice for
    clustered designs).
    """
    v.require_columns(df, [outcome, *v.as_list(groups)])
    v.require_no_missing(df, [outcome], role="outcome")
    if not groups:
        return float(df[outcome].std(ddof=1))
    from .multilevel import variance_components

    return float(np.sqrt(variance_components(df, outcome, groups)["variance"].sum()))


def standardise(estimate: Estimate, sd: float) -> EffectSize:
    """Convert an adjusted difference (any :class:`Estimate`) into Hedges' g.

    The estimate and its interval are divided by ``sd`` and multiplied by the small-sample
    correction J, so the interval keeps the estimator's own (e.g. clustered) uncertainty.
    """
    if estimate.scale != "difference":
        raise ImpactError("only differences can be standardised, not ratios. Fix: use the "
                          "linear model of the outcome.")
    if not sd or not np.isfinite(sd) or sd <= 0:
        raise ImpactError(f"sd={sd}: the standard deviation must be positive.")
    J = correction_factor(estimate.n_treated, estimate.n_control)
    return EffectSize(g=J * estimate.estimate / sd, se=J * estimate.se / sd,
                      ci_low=J * estimate.ci_low / sd, ci_high=J * estimate.ci_high / sd,
                      n_treated=estimate.n_treated, n_control=estimate.n_control, sd=sd,
                      method=f"Hedges' g from {estimate.method}",
                      conf_level=estimate.conf_level, p_value=estimate.p_value)


def clustered_effect_size(df: pd.DataFrame, outcome: str, treatment: str, groups: list[str],
                          covariates: list[str] | None = None, *,
                          conf_level: float = 0.95) -> EffectSize:
    """Hedges' g for clustered data (EEF practice).

    The numerator is the treatment coefficient of a multilevel model (adjusted for
    ``covariates``); the denominator the total SD of an unconditional multilevel model.
    """
    from .multilevel import multilevel

    est = multilevel(df, outcome, treatment, groups, covariates, conf_level=conf_level)
    return standardise(est, total_sd(df, outcome, groups))


def wwc_verdict(g: float) -> str:
    """WWC baseline-equivalence verdict for one standardised baseline difference."""
    a = abs(g)
    if a <= 0.05:
        return "satisfied"
    if a <= 0.25:
        return "requires statistical adjustment"
    return "not satisfied"


def baseline_equivalence(df: pd.DataFrame, treatment: str, covariates: list[str]
                         ) -> pd.DataFrame:
    """WWC baseline equivalence of the analysed groups on each baseline covariate.

    Continuous covariates use Hedges' g; 0/1 covariates the Cox index
    ``(logit(p_t) - logit(p_c)) / 1.65`` with the same small-sample correction.

    Returns
    -------
    DataFrame
        ``covariate, kind, mean_treated, mean_control, effect_size, verdict``.
    """
    v.require_frame(df)
    covs = v.as_list(covariates)
    v.require_columns(df, [treatment, *covs])
    df, covs, _ = encode_covariates(df, covs, exclude={treatment: "treatment"})
    t = v.binary_treatment(df, treatment)
    rows = []
    for c in covs:
        x = df[c].to_numpy(dtype=float)
        a, b = x[t == 1], x[t == 0]
        J = correction_factor(len(a), len(b))
        if np.isin(x, [0, 1]).all():
            pa = np.clip(a.mean(), 0.5 / len(a), 1 - 0.5 / len(a))
            pb = np.clip(b.mean(), 0.5 / len(b), 1 - 0.5 / len(b))
            es = J * (np.log(pa / (1 - pa)) - np.log(pb / (1 - pb))) / 1.65
            kind = "binary (Cox index)"
        else:
            es = hedges_g(a, b).g if x.std() > 0 else 0.0
            kind = "continuous (Hedges' g)"
        rows.append({"covariate": c, "kind": kind, "mean_treated": a.mean(),
                     "mean_control": b.mean(), "effect_size": float(es),
                     "verdict": wwc_verdict(es)})
    return pd.DataFrame(rows)


def attrition(randomised_treated: int, analysed_treated: int, randomised_control: int,
              analysed_control: int, *, boundary: str = "cautious") -> dict:
    """WWC overall and differential attrition and whether attrition is low or high.

    Parameters
    ----------
    randomised_treated, analysed_treated, randomised_control, analysed_control : int
        Numbers assigned to each group and numbers with outcome data.
    boundary : {"cautious", "optimistic"}
        WWC boundary (cautious when attrition may relate to the intervention).

    Returns
    -------
    dict
        ``overall`` and ``differential`` (percent), ``max_differential`` allowed at that
        overall rate, and ``verdict`` ("low attrition" or "high attrition").

    Examples
    --------
    >>> attrition(100, 90, 100, 88)["verdict"]
    'low attrition'
    """
    counts = [randomised_treated, analysed_treated, randomised_control, analysed_control]
    if min(counts) < 0 or analysed_treated > randomised_treated or \
            analysed_control > randomised_control or min(randomised_treated,
                                                         randomised_control) == 0:
        raise ImpactError(f"attrition counts {counts} are inconsistent. Fix: give the numbers "
                          "randomised (assigned) and analysed in each group, analysed <= "
                          "assigned.")
    if boundary not in ("cautious", "optimistic"):
        raise ImpactError(f"boundary={boundary!r}. Fix: use 'cautious' or 'optimistic'.")
    table = WWC_CAUTIOUS if boundary == "cautious" else WWC_OPTIMISTIC
    lost_t = 1 - analysed_treated / randomised_treated
    lost_c = 1 - analysed_control / randomised_control
    overall = 100 * (1 - (analysed_treated + analysed_control)
                     / (randomised_treated + randomised_control))
    differential = 100 * abs(lost_t - lost_c)
    idx = int(np.floor(overall + 1e-9))
    max_diff = float(table[idx]) if idx < len(table) else float("nan")
    low = bool(np.isfinite(max_diff) and round(differential, 1) <= max_diff)
    return {"overall": overall, "differential": differential, "max_differential": max_diff,
            "boundary": boundary, "verdict": "low attrition" if low else "high attrition"}
