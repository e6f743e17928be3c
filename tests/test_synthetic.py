"""The synthetic authority: calibration, determinism, schema, truth, bias, official schools."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from nlc_eval.cli import main
from nlc_eval.commands.synth import official_schools
from nlc_eval.data.extracts import TABLES, session_of, term_of, validate_extracts
from nlc_eval.data.schemas import EXTRACT_SCHEMAS
from nlc_eval.data.synthetic import (
    CALIBRATION_TARGETS,
    DEFAULT_EFFECTS,
    _resolve_effects,
    authority,
    calibration_summary,
    no_effects,
)
from nlc_eval.errors import DataError

#: Stated tolerances of the calibration (absolute, in the figure's own unit).
TOLERANCE = {
    "pupils": 480,                          # 1%
    "simd_q1_share": 0.02,
    "fsm_share": 0.015,
    "attendance_rate": 0.3,                 # percentage points
    "learners_supported": 0.10 * 1531,
    "learners_cst_or_ciil": 0.10 * 956,
    "sessions_additional_intensive": 0.12 * 2442,
    "session_attendance": 2.5,              # percentage points
    "ended_successfully_share": 0.04,
}


@pytest.fixture(scope="module")
def auth():
    return authority(seed=0)


@pytest.fixture(scope="module")
def checked(auth):
    """The authority's tables after :func:`validate_extracts` (raises if any check fails)."""
    return validate_extracts(auth.extracts())


@pytest.fixture(scope="module")
def placebo():
    return authority(seed=0, effects=0)


def test_calibration_within_stated_tolerances(auth):
    got = calibration_summary(auth)
    for key, target in CALIBRATION_TARGETS.items():
        assert abs(got[key] - target) <= TOLERANCE[key], (key, got[key], target)
    # realistic clustering of attendance: school ICC 0.05-0.15, cluster ICC smaller, > 0
    assert 0.05 <= got["icc_school_attendance"] <= 0.15
    assert 0.0 < got["icc_cluster_attendance"] < got["icc_school_attendance"]


def test_invented_estate_looks_like_north_lanarkshire(auth):
    s = auth.schools
    assert s["sector"].value_counts().to_dict() == {"primary": 118, "secondary": 23,
                                                    "special": 13}
    assert s["cluster"].nunique() == 23
    assert (s.groupby("cluster")["sector"].apply(lambda x: (x == "secondary").sum()) == 1).all()
    sec = s[s["sector"] == "secondary"].set_index("cluster")["denomination"]
    prim = s[s["sector"] == "primary"]
    assert (prim["denomination"].to_numpy() == sec[prim["cluster"]].to_numpy()).all()
    assert set(s["denomination"]) == {"Roman Catholic", "Non-denominational"}
    assert (s["local_authority"] == "North Lanarkshire").all()
    for col in ["roll", "simd_q1_share", "simd_q5_share", "simd_unknown", "fsm_pct", "asn",
                "eal", "attendance_rate", "urban_rural_6fold"]:
        assert s[col].notna().all(), col
    shares = s[[f"simd_q{q}_share" for q in range(1, 6)]].sum(axis=1)
    assert np.allclose(shares, 1.0)
    # rolls in published ranges; pupils in the reference session match every roll
    assert s.loc[s["sector"] == "primary", "roll"].between(20, 600).all()
    ref = auth.pupils[auth.pupils["year"] == auth.design["reference_session"]]
    assert (ref["seed_code"].value_counts().reindex(s["seed_code"]).to_numpy()
            == s["roll"].to_numpy()).all()


def test_panel_design(auth):
    assert auth.design["sessions"] == [2021, 2022, 2023, 2024]
    p = auth.pupils
    assert set(p["stage"]) == {f"P{i}" for i in range(1, 8)} | {f"S{i}" for i in range(1, 7)}
    # a pupil advances one stage a session
    order = {s: i for i, s in enumerate([f"P{i}" for i in range(1, 8)]
                                        + [f"S{i}" for i in range(1, 7)])}
    q = p.assign(k=p["stage"].map(order)).sort_values(["pupil_id", "year"])
    step = q.groupby("pupil_id")[["k", "year"]].diff().dropna()
    assert ((step["k"] == 1) & (step["year"] == 1)).all()
    assert set(auth.attendance["term"]) == {1, 2, 3}
    # staggered roll-out: clusters start supports in three different terms
    waves = pd.DataFrame(auth.design["rollout"])
    assert waves["start_year"].nunique() == 3 and len(waves) == 23
    s = auth.supports
    first = s.merge(waves.rename(columns={"start_date": "adopt"}), on="cluster").groupby(
        "cluster").agg(first=("start_date", "min"), adopt=("adopt", "first"))
    assert (first["first"] >= pd.to_datetime(first["adopt"])).all()
    # supported pupils have rows before their support started
    ids = s.sort_values("start_date").drop_duplicates("pupil_id")
    start_session = session_of(ids["start_date"]).to_numpy()
    pre = p[p["pupil_id"].isin(ids["pupil_id"])].groupby("pupil_id")["year"].min()
    assert (pre.reindex(ids["pupil_id"]).to_numpy() < start_session).mean() > 0.7


def test_every_table_passes_its_schema_and_cross_checks(auth, checked):
    for t in TABLES:
        assert len(getattr(checked, t)) == len(getattr(auth, t))


def test_truth_is_data_in_estimator_units(auth):
    t = auth.truth
    assert {"outcome", "level", "effect", "unit", "estimand", "sample_effect",
            "n_pupils"} <= set(t.columns)
    assert set(t["outcome"]) == {"attendance_rate", "exclusion_incidents", "on_track_literacy",
                                 "on_track_numeracy", "tariff_points"}
    units = t.groupby("outcome")["unit"].first().to_dict()
    assert units["attendance_rate"] == "percentage points"
    assert units["exclusion_incidents"] == "rate ratio"
    assert units["on_track_numeracy"] == "risk difference"
    for outcome, levels in DEFAULT_EFFECTS.items():
        rows = t[t["outcome"] == outcome].set_index("level")
        for level, value in levels.items():
            assert rows.at[level, "effect"] == value
            tol = 0.05 if outcome == "attendance_rate" else 0.005
            assert abs(rows.at[level, "sample_effect"] - value) <= tol
            assert rows.at[level, "n_pupils"] > 50
    # effects differ by level
    att = t[t["outcome"] == "attendance_rate"].set_index("level")["effect"]
    assert att["universal"] < att["additional"] < att["intensive"]
    assert set(auth.selection["need_coefficients"]) == {
        "prior_attendance_z", "prior_excluded", "care_experienced", "asn", "simd_q1", "fsm"}
    json.dumps(auth.truth_dict())


def _reference_session_comparison(a):
    """Naive and covariate-adjusted differences in termly attendance (pp) between pupils
    whose first support starts in a term of the reference session and eligible pupils
    not (yet) supported, using only the published tables and the selection observables."""
    ref = a.design["reference_session"]
    att = a.attendance.assign(rate=100 * a.attendance["attended_sessions"]
                              / a.attendance["possible_sessions"])
    prior = att[att["year"] == ref - 1].groupby("pupil_id").agg(
        att=("attended_sessions", "sum"), pos=("possible_sessions", "sum"),
        exc=("exclusion_incidents", "sum"))
    first = a.supports.sort_values("start_date").drop_duplicates("pupil_id")
    first = first.assign(y=session_of(first["start_date"]).to_numpy(),
                         t=term_of(first["start_date"]).to_numpy())
    pupils = a.pupils[a.pupils["year"] == ref].merge(a.schools[["seed_code", "cluster"]])
    rows = []
    for term in (1, 2, 3):
        before = first[(first["y"] < ref) | ((first["y"] == ref) & (first["t"] < term))]
        now = first[(first["y"] == ref) & (first["t"] == term)].set_index("pupil_id")["level"]
        pool = pupils[~pupils["pupil_id"].isin(before["pupil_id"])].copy()
        pool["level"] = pool["pupil_id"].map(now).fillna("none")
        y = att[(att["year"] == ref) & (att["term"] == term)].set_index("pupil_id")["rate"]
        pool["y"] = pool["pupil_id"].map(y).to_numpy()
        pool["cell"] = f"t{term}"
        rows.append(pool)
    d = pd.concat(rows, ignore_index=True)
    pr = prior.reindex(d["pupil_id"])
    z = ((pr["att"] / pr["pos"]).to_numpy() - 0.887) / 0.085
    d["miss"] = np.isnan(z).astype(float)
    d["z"] = np.clip(np.nan_to_num(z), -5, 2)
    d["exc"] = (pr["exc"].fillna(0).to_numpy() > 0).astype(float)
    d["q1"] = (d["simd_decile"].astype("Float64") <= 2).fillna(False).astype(float)
    naive = {lv: d.loc[d["level"] == lv, "y"].mean() - d.loc[d["level"] == "none", "y"].mean()
             for lv in ("universal", "additional", "intensive")}
    levels = ["universal", "additional", "intensive"]
    treat = np.column_stack([(d["level"] == lv).to_numpy(float) for lv in levels])
    cov = np.column_stack([d["z"], d["z"] ** 2, d["z"] ** 3, d["miss"], d["exc"],
                           d["care_experienced"], d["asn"], d["q1"], d["fsm"]]).astype(float)
    fe = pd.get_dummies(d["cluster"], drop_first=True).to_numpy(float)
    cells = np.column_stack([pd.get_dummies(d["cell"], drop_first=True).to_numpy(float),
                             pd.get_dummies(d["stage"], drop_first=True).to_numpy(float)])
    X = np.column_stack([np.ones(len(d)), treat, cov, fe, cells])
    fit = sm.OLS(d["y"].to_numpy(float), X).fit()
    adjusted = {lv: (fit.params[1 + i], fit.bse[1 + i]) for i, lv in enumerate(levels)}
    return naive, adjusted


@pytest.mark.slow
def test_naive_comparison_is_biased_and_adjustment_recovers_truth(auth):
    naive, adjusted = _reference_session_comparison(auth)
    truth = auth.truth[auth.truth["outcome"] == "attendance_rate"].set_index("level")["effect"]
    for level, effect in truth.items():
        est, se = adjusted[level]
        # selection on low prior attendance: the naive difference has the wrong sign
        assert naive[level] < 0 < effect
        assert effect - naive[level] > 10 * se
        # conditioning on the selection observables recovers the planted effect
        assert abs(est - effect) < 3 * se, (level, est, se, effect)


@pytest.mark.slow
def test_zero_effects_change_only_outcomes(auth, placebo):
    assert (placebo.truth.loc[placebo.truth["outcome"] != "exclusion_incidents", "effect"]
            == 0).all()
    assert (placebo.truth.loc[placebo.truth["outcome"] == "exclusion_incidents", "effect"]
            == 1).all()
    # same seed: selection, supports and pupils do not depend on the effects
    pd.testing.assert_frame_equal(placebo.pupils, auth.pupils)
    pd.testing.assert_frame_equal(placebo.supports, auth.supports)
    pd.testing.assert_frame_equal(placebo.schools.drop(columns="attendance_rate"),
                                  auth.schools.drop(columns="attendance_rate"))
    assert not placebo.attendance.equals(auth.attendance)
    _, adjusted = _reference_session_comparison(placebo)
    for level, (est, se) in adjusted.items():
        assert abs(est) < 3 * se, (level, est, se)


def test_effects_override_and_validation():
    e = _resolve_effects({"attendance_rate": {"intensive": 5.0}, "on_track_numeracy": 0.1})
    assert e["attendance_rate"] == {"universal": 0.5, "additional": 1.5, "intensive": 5.0}
    assert set(e["on_track_numeracy"].values()) == {0.1}
    assert _resolve_effects(0) == no_effects()
    with pytest.raises(DataError, match="unknown outcome"):
        _resolve_effects({"happiness": 1.0})
    with pytest.raises(DataError, match="unknown level"):
        _resolve_effects({"attendance_rate": {"huge": 1.0}})
    with pytest.raises(DataError, match="rate ratio"):
        _resolve_effects({"exclusion_incidents": 0.0})
    with pytest.raises(DataError, match="risk difference"):
        _resolve_effects({"on_track_literacy": 2.0})


def test_synth_command_writes_same_tables_for_same_seed(auth, tmp_path, capsys):
    """Same seed, separate runs: byte-identical files (CSV loading is tested in
    test_extracts on a slice, to keep this file fast)."""
    assert main(["synth", "--out", str(tmp_path / "cli"), "--seed", "0"]) == 0
    assert "pupils in 2024/25 at 154 schools" in capsys.readouterr().out
    auth.write(tmp_path / "api")
    for name in [f"{t}.csv" for t in TABLES] + ["truth.json"]:
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "api" / name).read_bytes()
    back = pd.read_csv(tmp_path / "cli" / "supports.csv", dtype={"pupil_id": str})
    assert back["pupil_id"].tolist() == auth.supports["pupil_id"].tolist()
    truth = json.loads((tmp_path / "cli" / "truth.json").read_text())
    assert {"effects", "selection", "design"} <= set(truth)
    assert len(truth["effects"]) == len(auth.truth)


def test_official_schools_give_matching_rolls_and_quintiles(official_dir):
    rows, locations = official_schools(official_dir, "North Lanarkshire")
    a = authority(rows, seed=2, locations=locations)
    ref = a.design["reference_session"]
    assert ref == int(rows["year"].max())
    p = a.pupils[a.pupils["year"] == ref]
    q = np.ceil(p["simd_decile"].astype("Float64") / 2).fillna(0).astype(int)
    got = pd.crosstab(p["seed_code"], q).reindex(columns=range(6), fill_value=0)
    official = rows.set_index("seed_code")
    cols = ["simd_unknown", "simd_q1", "simd_q2", "simd_q3", "simd_q4", "simd_q5"]
    want = official[cols].astype(float)
    got = got.reindex(want.index).to_numpy()
    known = want.notna().to_numpy()
    assert (got[known] == want.to_numpy()[known]).all()
    assert (got.sum(axis=1) == official["roll"].to_numpy()).all()
    assert a.schools["cluster"].nunique() == (rows["sector"] == "secondary").sum()
    assert set(a.schools["seed_code"]) == set(rows["seed_code"].astype(str))
    EXTRACT_SCHEMAS["schools"].validate(a.schools)
    EXTRACT_SCHEMAS["supports"].validate(a.supports.astype({"start_date": "datetime64[ns]"}))
