"""Multilevel models recover planted variance components and effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nlc_eval.impact import multilevel, variance_components


def _nested(seed=0, C=20, S=5, P=30, effect=0.3):
    rng = np.random.default_rng(seed)
    cl = np.repeat(np.arange(C), S * P)
    sc = np.repeat(np.arange(C * S), P)
    x = rng.normal(size=len(cl))
    t = np.repeat(rng.integers(0, 2, C * S), P)  # treatment assigned by school
    y = (rng.normal(0, 1.0, C)[cl] + rng.normal(0, 0.7, C * S)[sc] + 0.5 * x + effect * t
         + rng.normal(0, 2.0, len(cl)))
    # school labels repeat across clusters: nesting must be handled
    return pd.DataFrame({"cluster": cl, "school": sc % S, "x": x, "t": t, "y": y})


def test_variance_components_and_icc():
    vc = variance_components(_nested(1, C=40), "y", ["cluster", "school"]).set_index("level")
    total = 1.0 + 0.49 + 4.25  # x contributes 0.25 to the residual of the empty model
    assert vc.loc["cluster", "icc"] == pytest.approx(1.0 / total, abs=0.07)
    assert vc.loc["residual", "variance"] == pytest.approx(4.25, rel=0.1)


def test_multilevel_recovers_effect_with_small_sample_interval():
    e = multilevel(_nested(2, effect=0.6), "y", "t", ["cluster", "school"], ["x"])
    assert e.ci_low < 0.6 < e.ci_high
    assert "t(18)" in e.inference
    assert 0 < e.extra["icc_cluster"] < 0.5
    assert e.tidy()["term"].tolist() == ["effect", "x"]
    assert e.tidy().loc[1, "estimate"] == pytest.approx(0.5, abs=0.1)
