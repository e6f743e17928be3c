"""Bad input gives ImpactError with a clear message."""

from __future__ import annotations

import numpy as np
import pytest
from _impact_sim import cross_section, panel

from nlc_eval.errors import ImpactError
from nlc_eval.impact import did, event_study, ipw, match, multilevel, outcome_effect


def test_missing_column_named():
    d = cross_section()
    with pytest.raises(ImpactError, match=r"'nope' not found.*Fix"):
        match(d, "y", "t", ["x1", "nope"])


def test_treatment_not_binary():
    d = cross_section()
    d["t"] = d["t"] * 2
    with pytest.raises(ImpactError, match="must be 0/1"):
        ipw(d, "y", "t", ["x1"], n_boot=5)


@pytest.mark.parametrize("value,word", [(0, "no treated"), (1, "no comparison")])
def test_all_or_none_treated(value, word):
    d = cross_section()
    d["t"] = value
    with pytest.raises(ImpactError, match=word):
        outcome_effect(d, "y", "t", ["x1"])


def test_no_overlap():
    d = cross_section()
    d["t"] = (d["x1"] > 0).astype(int)
    with pytest.raises(ImpactError, match="no overlap"):
        match(d, "y", "t", ["x1"])


def test_nan_covariates_say_how_many_rows():
    d = cross_section()
    d.loc[d.index[[3, 10, 11]], "x2"] = np.nan
    with pytest.raises(ImpactError, match=r"'x2' has missing values in 3 of 3000 rows"):
        match(d, "y", "t", ["x1", "x2"])
    with pytest.raises(ImpactError, match="3 of 3000 rows"):
        multilevel(d, "y", "t", ["school"], ["x2"])


def test_unit_treated_before_panel_starts():
    p = panel()
    p.loc[p["unit"] == 0, "first"] = -1
    with pytest.raises(ImpactError, match="1 units .* before the panel starts"):
        event_study(p, "y", "unit", "period", "first")
    p.loc[p["unit"] == 0, "first"] = 1
    with pytest.raises(ImpactError, match="treated from the first period"):
        event_study(p, "y", "unit", "period", "first")


def test_first_treated_must_be_constant_within_unit():
    p = panel()
    p.loc[(p["unit"] == 0) & (p["period"] == 2), "first"] = 4
    with pytest.raises(ImpactError, match="changes within"):
        event_study(p, "y", "unit", "period", "first")


def test_duplicate_unit_periods_and_no_within_variation():
    p = panel()
    with pytest.raises(ImpactError, match="repeat"):
        did(p.iloc[list(range(len(p))) + [0]], "y", "treated", "unit", "period")
    q = p.copy()
    q["treated"] = (q["unit"] % 2).astype(int)
    with pytest.raises(ImpactError, match="does not vary within units"):
        did(q, "y", "treated", "unit", "period")


def test_bad_options():
    d = cross_section()
    with pytest.raises(ImpactError, match="estimand"):
        match(d, "y", "t", ["x1"], estimand="LATE")
    with pytest.raises(ImpactError, match="replace=True"):
        match(d, "y", "t", ["x1"], estimand="ATE")
    with pytest.raises(ImpactError, match="not a pandas|DataFrame"):
        did([1, 2], "y", "t", "u", "p")


@pytest.mark.parametrize("name", ["match", "ipw", "multilevel", "outcome_effect", "did",
                                  "event_study"])
def test_text_outcome_is_named_as_the_outcome_by_every_estimator(name):
    d = cross_section(n=400)
    d["y"] = np.where(d["y"] > d["y"].median(), "high", "low")
    p = panel(seed=1, n_units=60)
    p["y"] = p["y"].astype(str)
    calls = {
        "match": lambda: match(d, "y", "t", ["x1"]),
        "ipw": lambda: ipw(d, "y", "t", ["x1"], n_boot=5),
        "multilevel": lambda: multilevel(d, "y", "t", ["school"], ["x1"]),
        "outcome_effect": lambda: outcome_effect(d, "y", "t", ["x1"]),
        "did": lambda: did(p, "y", "treated", "unit", "period", covariates=["x"]),
        "event_study": lambda: event_study(p, "y", "unit", "period", "first"),
    }
    with pytest.raises(ImpactError, match=r"outcome 'y' (is not numeric|is text)"):
        calls[name]()
