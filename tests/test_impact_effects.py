"""Education effect sizes against published formulas and tables."""

from __future__ import annotations

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
    assert g.ci_low == pytest.approx(0.5924 - 1.96 * 0.2028, abs=2e-3)


@pytest.mark.parametrize("es,months", [(0.0, 0), (0.01, 0), (0.02, 1), (0.09, 1), (0.10, 2),
                                       (0.26, 3), (0.27, 4), (0.44, 5), (0.52, 6),
                                       (0.95, 11), (0.96, 12), (1.5, 12), (-0.2, -3),
                                       (-0.05, -1)])
def test_eef_months_table_and_mirror(es, months):
    assert months_progress(es) == months


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
    J = 1 - 3 / (4 * 200 - 9)
    assert g.g == pytest.approx(0.2 * J) and g.ci_low == pytest.approx(0.1 * J)
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
