"""Tests of nlc_eval.similarity: features, scaling, weights, comparators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nlc_eval.errors import DataError
from nlc_eval.similarity import FeatureSpec, feature_matrix, raw_features, similar_schools


def make_schools(n: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    shares = rng.dirichlet(np.ones(5), size=n)
    df = pd.DataFrame({
        "seed_code": [f"{8000000 + i}" for i in range(n)],
        "school_name": [f"School {i}" for i in range(n)],
        "sector": "primary",
        "local_authority": np.where(np.arange(n) % 2 == 0, "North Lanarkshire", "Fife"),
        "roll": rng.integers(20, 600, size=n).astype(float),
        "fsm_pct": rng.uniform(5, 50, size=n),
        "asn": rng.integers(0, 100, size=n),
        "eal": rng.integers(0, 30, size=n),
        "attendance_rate": rng.uniform(85, 96, size=n),
        "urban_rural_6fold": rng.choice(["Large urban areas", "Remote rural areas"], size=n),
    })
    for q in range(5):
        df[f"simd_q{q + 1}_share"] = shares[:, q]
    return df


def test_default_features_are_size_and_simd_summary():
    s = make_schools()
    X = feature_matrix(s)
    assert list(X.columns) == ["log_roll", "simd_mean_quintile", "simd_q1_share"]
    assert X.index.equals(s.index)
    raw = X.attrs["raw"]
    np.testing.assert_allclose(raw["log_roll"], np.log1p(s["roll"]))
    expected_mean_q = (s[[f"simd_q{q}_share" for q in range(1, 6)]].to_numpy()
                       * np.arange(1, 6)).sum(axis=1)
    np.testing.assert_allclose(raw["simd_mean_quintile"], expected_mean_q)


def test_robust_scaling_and_block_weights():
    s = make_schools(101)
    X = feature_matrix(s)
    # median-centred; the size block has unit robust spread, each SIMD column half
    np.testing.assert_allclose(X.median(), 0, atol=1e-12)
    iqr = X.quantile(0.75) - X.quantile(0.25)
    np.testing.assert_allclose(iqr["log_roll"], 1.349, rtol=1e-9)
    np.testing.assert_allclose(iqr["simd_mean_quintile"], 1.349 * np.sqrt(0.5), rtol=1e-9)
    X2 = feature_matrix(s, FeatureSpec(weights={"size": 4.0}))
    np.testing.assert_allclose(X2["log_roll"], 2 * X["log_roll"])
    np.testing.assert_allclose(X2["simd_q1_share"], X["simd_q1_share"])


def test_hellinger_distance_matches_its_definition():
    s = make_schools(40)
    X = feature_matrix(s, FeatureSpec(size=None, simd="hellinger", scaling="none"))
    p = s[[f"simd_q{q}_share" for q in range(1, 6)]].to_numpy()
    d_features = np.sum((X.iloc[0] - X.iloc[1]) ** 2)
    d_true = np.sum((np.sqrt(p[0]) - np.sqrt(p[1])) ** 2)  # = 2 x squared Hellinger distance
    assert d_features == pytest.approx(d_true)
    # with scaling, one common factor keeps the geometry: distances stay proportional
    Y = feature_matrix(s, FeatureSpec(size=None, simd="hellinger"))
    ratio = np.sum((Y.iloc[2] - Y.iloc[3]) ** 2) / np.sum((X.iloc[2] - X.iloc[3]) ** 2)
    ratio2 = np.sum((Y.iloc[0] - Y.iloc[5]) ** 2) / np.sum((X.iloc[0] - X.iloc[5]) ** 2)
    assert ratio == pytest.approx(ratio2)


def test_extras_and_shares_from_counts():
    s = make_schools()
    counts = s.drop(columns=[f"simd_q{q}_share" for q in range(1, 6)])
    for q in range(1, 6):
        counts[f"simd_q{q}"] = np.round(s[f"simd_q{q}_share"] * 1000)
    raw = raw_features(counts, FeatureSpec(extras=("asn_pct", "eal_pct", "urban_rural",
                                                   "fsm_pct", "attendance_rate")))
    np.testing.assert_allclose(raw["asn_pct"], 100 * s["asn"] / s["roll"])
    assert set(raw["urban_rural"]) == {1.0, 6.0}
    tot = counts[[f"simd_q{q}" for q in range(1, 6)]].sum(axis=1)
    np.testing.assert_allclose(raw["simd_q1_share"], counts["simd_q1"] / tot)


def test_missing_values_imputed_and_reported_or_raised():
    s = make_schools()
    s.loc[3, "roll"] = np.nan
    X = feature_matrix(s)
    imp = X.attrs["imputed"]
    assert list(imp["seed_code"]) == [s.loc[3, "seed_code"]]
    assert imp["feature"].iloc[0] == "log_roll"
    assert X.loc[3, "log_roll"] == pytest.approx(0.0)  # the median, after centring
    with pytest.raises(DataError, match=r"column 'log_roll', row 3 \(seed code 8000003\)"):
        feature_matrix(s, FeatureSpec(missing="raise"))


def test_bad_inputs_name_column_and_fix():
    s = make_schools().drop(columns=["roll"])
    with pytest.raises(DataError, match="column 'roll'.*Fix"):
        feature_matrix(s)
    s = make_schools()
    s.loc[2, "simd_q1_share"] += 0.3
    with pytest.raises(DataError, match="sum to"):
        feature_matrix(s)
    with pytest.raises(DataError, match="extra 'pupils'"):
        FeatureSpec(extras=("pupils",))
    with pytest.raises(DataError, match="no features"):
        FeatureSpec(size=None, simd=None)


def test_similar_schools_nearest_first_and_explained():
    s = make_schools(40)
    code = s.loc[0, "seed_code"]
    out = similar_schools(s, code, n=5, scope="scotland")
    assert len(out) == 5 and code not in set(out["seed_code"])
    assert out["distance"].is_monotonic_increasing
    X = feature_matrix(s)
    d = np.sqrt(((X - X.loc[0]) ** 2).sum(axis=1)).drop(index=0).sort_values()
    np.testing.assert_allclose(out["distance"], d.iloc[:5].to_numpy())
    shares = out[["d_log_roll", "d_simd_mean_quintile", "d_simd_q1_share"]].sum(axis=1)
    np.testing.assert_allclose(shares, 1.0)
    assert set(out["closest_on"]) <= {"roll", "mean SIMD quintile", "share in SIMD quintile 1"}
    local = similar_schools(s, code, n=50, scope="authority")
    assert set(local["local_authority"]) == {"North Lanarkshire"}
    assert len(local) == 19


def test_similar_schools_twin_is_first():
    s = make_schools(20)
    twin = s.loc[[4]].copy()
    twin["seed_code"] = "9999999"
    twin["roll"] += 1
    s = pd.concat([s, twin], ignore_index=True)
    out = similar_schools(s, s.loc[4, "seed_code"], n=3, scope="all")
    assert out["seed_code"].iloc[0] == "9999999"


def test_similar_schools_errors():
    s = make_schools(10)
    with pytest.raises(DataError, match="not in the table"):
        similar_schools(s, "123", scope="all")
    two = pd.concat([s, s.iloc[[0]].assign(sector="secondary")], ignore_index=True)
    with pytest.raises(DataError, match="several sectors"):
        similar_schools(two, s.loc[0, "seed_code"])
    out = similar_schools(two, s.loc[0, "seed_code"], sector="primary", scope="all")
    assert set(out["sector"]) == {"primary"}
    dup = pd.concat([s, s.iloc[[1]]], ignore_index=True)
    with pytest.raises(DataError, match="one census year"):
        similar_schools(dup, s.loc[0, "seed_code"])


def test_real_data_comparators(official_dir):
    from nlc_eval.data.official import load_school_statistics

    d = load_school_statistics(official_dir, years=2024)
    nl = d[(d["local_authority"] == "North Lanarkshire") & (d["sector"] == "secondary")]
    code = nl["seed_code"].iloc[0]
    out = similar_schools(d, code, n=8)
    assert len(out) == 8
    assert set(out["local_authority"]) == {"North Lanarkshire"}
    assert set(out["sector"]) == {"secondary"}
    wide = similar_schools(d, code, n=8, scope="scotland")
    # Scotland-wide comparators are at least as close as the authority's own
    assert (wide["distance"].to_numpy() <= out["distance"].to_numpy() + 1e-12).all()
