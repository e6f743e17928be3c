"""Education effect sizes against published formulas and tables."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from nlc_eval.errors import ImpactError
from nlc_eval.impact import (
    EEF_MONTHS,
    Estimate,
    attrition,
    baseline_equivalence,
    clustered_effect_size,
    hedges_g,
    months_progress,
    standardise,
    wwc_verdict,
)
from nlc_eval.impact.effects import correction_factor


def test_hedges_g_textbook_example():
    # Borenstein et al. (2009), ch. 4: means 103 vs 100, SD 5.5 and 4.5, n = 50 each:
    # d = 0.5970, J = 0.9923, g = 0.5924, Var(g) = 0.0411 (SE 0.2028)
    rng = np.random.default_rng(0)
    a = rng.normal(size=50)
    b = rng.normal(size=50)
    a = (a - a.mean()) / a.std(ddof=1) * 5.5 + 103
    b = (b - b.mean()) / b.std(ddof=1) * 4.5 + 100
    g = hedges_g(a, b)
    assert g.g == pytest.approx(0.5924, abs=1e-3)
    assert g.se == pytest.approx(0.2028, abs=1e-3)
    # with 50 per group the noncentral-t interval is close to the normal one
    assert g.ci_low == pytest.approx(0.5924 - 1.96 * 0.2028, abs=1e-2)
    assert g.ci_high == pytest.approx(0.5924 + 1.96 * 0.2028, abs=1e-2)


# mtcars (R datasets): mpg of automatic (am = 0) and manual (am = 1) cars
MTCARS_MPG = [21.0, 21.0, 22.8, 21.4, 18.7, 18.1, 14.3, 24.4, 22.8, 19.2, 17.8, 16.4, 17.3,
              15.2, 10.4, 10.4, 14.7, 32.4, 30.4, 33.9, 21.5, 15.5, 15.2, 13.3, 19.2, 27.3,
              26.0, 30.4, 15.8, 19.7, 15.0, 21.4]
MTCARS_AM = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1,
             1, 1, 1, 1, 1]


def test_hedges_g_matches_r_effectsize_noncentral_t_interval():
    # R effectsize 0.8.3, hedges_g(mpg ~ am, data = mtcars) and cohens_d(...), as stored in
    # the tidystats package's test data: g = -1.440635 (95% CI -2.208767 to -0.65364);
    # d = -1.477947 (95% CI -2.265973 to -0.670569); t.test(var.equal = TRUE): t = -4.1061
    from scipy import stats

    mpg, am = np.array(MTCARS_MPG), np.array(MTCARS_AM)
    g = hedges_g(mpg[am == 0], mpg[am == 1])
    assert (g.n_treated, g.n_control) == (19, 13)
    assert g.g == pytest.approx(-1.440635, abs=1e-6)
    assert g.ci_low == pytest.approx(-2.208767, abs=2e-6)
    assert g.ci_high == pytest.approx(-0.653640, abs=2e-6)
    J = correction_factor(19, 13)
    assert g.g / J == pytest.approx(-1.477947, abs=1e-6)
    assert g.ci_low / J == pytest.approx(-2.265973, abs=2e-6)
    assert g.ci_high / J == pytest.approx(-0.670569, abs=2e-6)
    ref = stats.ttest_ind(mpg[am == 0], mpg[am == 1])
    assert ref.statistic == pytest.approx(-4.1061, abs=1e-4)
    assert g.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert g.tidy().loc[0, "p_value"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert "noncentral-t" in g.method


def test_noncentral_t_interval_bounds_have_the_stated_tail_probabilities():
    from scipy import stats

    a = [12.0, 14.5, 11.0, 15.2, 13.3]
    b = [10.1, 11.8, 12.2, 9.7, 10.9]
    for level in (0.8, 0.9, 0.95, 0.99):
        g = hedges_g(a, b, conf_level=level)
        J, scale = correction_factor(5, 5), np.sqrt(5 * 5 / 10)
        t = g.g / J * scale
        lo, hi = g.ci_low / J * scale, g.ci_high / J * scale
        assert stats.nct.cdf(t, 8, lo) == pytest.approx(1 - (1 - level) / 2, abs=1e-9)
        assert stats.nct.cdf(t, 8, hi) == pytest.approx((1 - level) / 2, abs=1e-9)
        # in samples this small the normal interval with the shrunk SE is too narrow
        z = stats.norm.ppf(1 - (1 - level) / 2)
        assert g.ci_high - g.ci_low > 2 * z * g.se
    with pytest.raises(ImpactError, match="conf_level"):
        hedges_g(a, b, conf_level=95)


def test_hedges_correction_is_the_exact_gamma_form():
    from math import gamma, sqrt

    for n1, n0 in [(3, 3), (10, 12), (19, 13), (60, 40)]:
        m = n1 + n0 - 2
        assert correction_factor(n1, n0) == pytest.approx(
            gamma(m / 2) / (sqrt(m / 2) * gamma((m - 1) / 2)), rel=1e-12)
        assert correction_factor(n1, n0) == pytest.approx(1 - 3 / (4 * m - 1), abs=3e-3)
    assert correction_factor(5000, 4000) == pytest.approx(1 - 3 / (4 * 8998 - 1), rel=1e-9)


@pytest.mark.parametrize("es,months", [(0.0, 0), (0.01, 0), (0.02, 1), (0.09, 1), (0.10, 2),
                                       (0.26, 3), (0.27, 4), (0.44, 5), (0.52, 6),
                                       (0.95, 11), (0.96, 12), (1.5, 12), (-0.2, -3),
                                       (-0.05, -1)])
def test_eef_months_table_and_mirror(es, months):
    assert months_progress(es) == months


@pytest.mark.parametrize("es,months", [(0.185, 3), (0.265, 4), (0.355, 5), (0.955, 12),
                                       (0.015, 1), (0.095, 2), (0.445, 6), (-0.185, -3),
                                       (-0.005, 0), (0.0049, 0), (-0.015, -1)])
def test_eef_months_round_half_up_on_decimal_values(es, months):
    # 0.185 is the binary 0.18499999...: read as the decimal 0.185 it rounds to 0.19
    assert months_progress(es) == months
    assert months_progress(Decimal(str(es))) == months
    assert months_progress(np.float64(es)) == months


def _band(value: Decimal) -> int:
    """Months for a two-decimal value from the published table, read as decimals."""
    a = abs(value)
    for _, row in EEF_MONTHS.iterrows():
        lo = Decimal(f"{row['effect_size_from']:.2f}")
        hi = Decimal(f"{row['effect_size_to']:.2f}")
        if lo <= a <= hi or (row["months"] == 12 and a >= lo) or (row["months"] == 0 and
                                                                   a <= hi):
            return int(row["months"]) * (-1 if value < 0 else 1)
    raise AssertionError(f"{value} is in no band")


def test_eef_months_at_every_band_boundary():
    half, step = Decimal("0.005"), Decimal("0.0001")
    for to in EEF_MONTHS["effect_size_to"].iloc[:-1]:
        upper = Decimal(f"{to:.2f}")
        below, above = upper + half - step, upper + half  # e.g. 0.1849 and 0.185
        for sign in (1, -1):
            for value, expected in ((upper, upper), (below, upper),
                                    (above, upper + Decimal("0.01"))):
                x = float(sign * value)
                assert repr(x) == str(sign * value)  # the float is the decimal written
                assert months_progress(x) == _band(sign * expected), (x, expected)
    assert months_progress(1.4) == 12 and months_progress(float("nan")) == 0


def test_eef_table_published_bands():
    assert len(EEF_MONTHS) == 13
    assert EEF_MONTHS.loc[3, "effect_size_from"] == 0.19
    assert EEF_MONTHS.loc[3, "effect_size_to"] == 0.26


@pytest.mark.parametrize("g,verdict", [(0.05, "satisfied"), (-0.04, "satisfied"),
                                       (0.06, "requires statistical adjustment"),
                                       (-0.25, "requires statistical adjustment"),
                                       (0.26, "not satisfied")])
def test_wwc_verdicts(g, verdict):
    assert wwc_verdict(g) == verdict


def test_baseline_equivalence_continuous_and_binary():
    rng = np.random.default_rng(1)
    n = 4000
    t = rng.integers(0, 2, n)
    d = pd.DataFrame({"t": t, "score": rng.normal(size=n) + 0.15 * t,
                      "fsm": rng.binomial(1, np.where(t == 1, 0.5, 0.2))})
    be = baseline_equivalence(d, "t", ["score", "fsm"]).set_index("covariate")
    assert be.loc["score", "verdict"] == "requires statistical adjustment"
    assert be.loc["fsm", "kind"].startswith("binary")
    # Cox index for p = 0.5 vs 0.2: ln(1) - ln(0.25) = 1.386 / 1.65 = 0.84
    assert be.loc["fsm", "effect_size"] == pytest.approx(0.84, abs=0.08)
    assert be.loc["fsm", "verdict"] == "not satisfied"


def test_wwc_attrition_boundaries():
    low = attrition(100, 90, 100, 88)  # overall 11%, differential 2 pp
    assert low["overall"] == pytest.approx(11.0)
    assert low["differential"] == pytest.approx(2.0)
    assert low["max_differential"] == 6.2 and low["verdict"] == "low attrition"
    # 30% overall with 8 pp differential: high (cautious 4.1) but low (optimistic 8.4)
    assert attrition(100, 66, 100, 74)["verdict"] == "high attrition"
    assert attrition(100, 66, 100, 74, boundary="optimistic")["verdict"] == "low attrition"
    assert attrition(100, 30, 100, 32)["verdict"] == "high attrition"  # beyond the table
    with pytest.raises(ImpactError, match="inconsistent"):
        attrition(10, 12, 10, 9)


def test_standardise_keeps_estimator_interval_and_clustered_g():
    e = Estimate(2.0, 0.5, 1.0, 3.0, 0.01, 100, 100, "x")
    g = standardise(e, 10.0)
    J = correction_factor(100, 100)
    assert J == pytest.approx(1 - 3 / (4 * 200 - 9), abs=1e-5)
    assert g.g == pytest.approx(0.2 * J) and g.ci_low == pytest.approx(0.1 * J)
    assert g.p_value == 0.01 and g.tidy().loc[0, "p_value"] == 0.01
    assert "months" in g.sentence()
    rng = np.random.default_rng(3)
    C, P = 30, 60
    cl = np.repeat(np.arange(C), P)
    t = np.repeat(rng.integers(0, 2, C), P)
    y = rng.normal(0, 0.5, C)[cl] + rng.normal(0, np.sqrt(0.75), C * P) + 0.3 * t
    d = pd.DataFrame({"cl": cl, "t": t, "y": y})
    cg = clustered_effect_size(d, "y", "t", ["cl"])
    assert cg.sd == pytest.approx(1.0, abs=0.15)  # total SD = sqrt(0.25 + 0.75)
    assert cg.ci_low < 0.3 < cg.ci_high


def test_effect_size_sentence_and_repr_by_the_formatter():
    from nlc_eval.impact import EffectSize

    e = EffectSize(0.004, 0.001, 0.002, 0.006, 5000, 5000, 1.0, "g")
    assert e.sentence() == ("Effect size g = 0.0040 (95% CI 0.0020 to 0.0060), no additional "
                            "months' progress on the EEF scale (interval 0 to 0 months).")
    assert repr(e) == "EffectSize(g: g = 0.0040 [0.0020, 0.0060], 0 months, n_treated=5000, " \
        "n_control=5000)"
    neg = EffectSize(-0.05, 0.02, -0.09, -0.01, 100, 100, 1.0, "g").sentence()
    assert "about 1 month's less progress" in neg and "-0.050 (95% CI -0.090 to -0.010)" in neg
