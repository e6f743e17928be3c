"""Tests of nlc_eval.families: bounds, constraints, warm starts, explanations, quality."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from nlc_eval.errors import ConstraintError, DataError
from nlc_eval.families import SECTOR_SIZES, FamilyFormer, feasible_counts, form_families

FAST = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


def fast_families(schools, **kw):
    """form_families without the lower bound (not what these tests are about)."""
    return form_families(schools, bound=False, **kw)


def ss(X, labels):
    return sum(float(np.sum((X[labels == j] - X[labels == j].mean(axis=0)) ** 2))
               for j in np.unique(labels))


def matched_changes(a, b) -> int:
    """Rows whose family differs after the best one-to-one matching of family labels."""
    ua, ia = np.unique(a, return_inverse=True)
    ub, ib = np.unique(b, return_inverse=True)
    overlap = np.zeros((len(ua), len(ub)))
    np.add.at(overlap, (ia, ib), 1)
    r, c = linear_sum_assignment(-overlap)
    return int(len(a) - overlap[r, c].sum())


def make_schools(n=60, seed=0, n_clusters=6, sector="primary"):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    shares = np.vstack([rng.dirichlet(np.exp(-0.6 * zi * (np.arange(5) - 2)) * 2) for zi in z])
    df = pd.DataFrame({
        "seed_code": [f"{8100000 + i}" for i in range(n)],
        "school_name": [f"School {i}" for i in range(n)],
        "sector": sector,
        "roll": np.round(np.exp(rng.normal(5.2, 0.7, size=n))),
        "cluster": [f"c{i % n_clusters}" for i in range(n)],
    })
    for q in range(5):
        df[f"simd_q{q + 1}_share"] = shares[:, q]
    return df


# --------------------------------------------------------------------------- bounds


@FAST
@given(n=st.integers(1, 70), lo=st.integers(1, 7), extra=st.integers(0, 6),
       d=st.integers(1, 4), seed=st.integers(0, 10_000), pick_k=st.booleans())
def test_bounds_always_hold_or_request_raises(n, lo, extra, d, seed, pick_k):
    hi = lo + extra
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 3, size=d)
    if seed % 3 == 0:
        X[: n // 2] += 5  # lumpy data
    ks = feasible_counts(n, lo, hi)
    k = int(rng.integers(1, max(2, n // max(lo, 1) + 2))) if pick_k else None
    ff = FamilyFormer(n_families=k, size_min=lo, size_max=hi, n_init=1, random_state=seed)
    if (k is None and not len(ks)) or (k is not None and k not in ks):
        with pytest.raises(ConstraintError, match="families of"):
            ff.fit(X)
        return
    labels = ff.fit(X).labels_
    sizes = np.bincount(labels, minlength=ff.n_families_)
    assert labels.shape == (n,)
    assert sizes.min() >= lo and sizes.max() <= hi
    assert ff.n_families_ == (k if k is not None else ff.n_families_)
    assert ff.inertia_ == pytest.approx(ss(X, labels))


@FAST
@given(n=st.integers(12, 60), n_groups=st.integers(2, 8), seed=st.integers(0, 10_000))
def test_cannot_link_always_honoured(n, n_groups, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    groups = rng.integers(0, n_groups, size=n)
    ff = FamilyFormer(size_min=3, size_max=6, n_init=1, random_state=seed)
    k = ff._check_params(n)
    if np.bincount(groups).max() > k:
        with pytest.raises(ConstraintError, match="cannot-link group"):
            ff.fit(X, cannot_link=groups)
        return
    try:
        labels = ff.fit(X, cannot_link=groups).labels_
    except ConstraintError as exc:  # a genuinely infeasible combination must say so
        assert "keeps every cannot-link group apart" in str(exc)
        return
    pairs = pd.Series(list(zip(groups, labels, strict=True)))
    assert pairs.value_counts().max() == 1
    sizes = np.bincount(labels)
    assert sizes.min() >= 3 and sizes.max() <= 6


def test_infeasible_requests_say_what_is_possible():
    X = np.random.default_rng(0).normal(size=(23, 2))
    with pytest.raises(ConstraintError, match="23 schools can form 3 to 3 families|can form 3"):
        FamilyFormer(n_families=5, size_min=6, size_max=10).fit(X)
    with pytest.raises(ConstraintError, match=r"cannot be split into families of 6-7.*size_max >= 8"):
        FamilyFormer(size_min=6, size_max=7).fit(X[:15])
    with pytest.raises(ConstraintError, match="size_min \\(5\\) is larger"):
        FamilyFormer(size_min=5, size_max=4).fit(X)
    with pytest.raises(ConstraintError, match="only 3 families"):
        FamilyFormer(size_min=6, size_max=10).fit(X, cannot_link=["a"] * 4 + [None] * 19)
    with pytest.raises(ConstraintError, match="more than size_max=4"):
        FamilyFormer(size_min=3, size_max=4).fit(X, must_link=[(0, 1), (1, 2), (2, 3), (3, 4)])
    with pytest.raises(ConstraintError, match="same cannot-link group"):
        FamilyFormer(size_min=3, size_max=4).fit(X, must_link=[(0, 1)],
                                                 cannot_link=["a", "a"] + [None] * 21)
    with pytest.raises(ConstraintError, match="missing or infinite"):
        FamilyFormer(size_min=3, size_max=4).fit(np.full((6, 2), np.nan))


def test_must_link_pairs_stay_together_within_bounds():
    X = np.random.default_rng(1).normal(size=(40, 2))
    pairs = [(0, 39), (5, 20), (20, 33), (7, 8)]
    ff = FamilyFormer(size_min=4, size_max=6, random_state=0, n_init=3).fit(X, must_link=pairs)
    lab = ff.labels_
    for i, j in pairs:
        assert lab[i] == lab[j]
    sizes = np.bincount(lab)
    assert sizes.min() >= 4 and sizes.max() <= 6
    assert ff.inertia_ == pytest.approx(ss(X, lab))


# --------------------------------------------------------------------------- quality vs truth


def test_planted_families_are_recovered_exactly():
    rng = np.random.default_rng(3)
    centres = rng.uniform(-50, 50, size=(12, 3))
    X = np.repeat(centres, 8, axis=0) + rng.normal(scale=0.5, size=(96, 3))
    truth = np.repeat(np.arange(12), 8)
    lab = FamilyFormer(size_min=6, size_max=10, random_state=0).fit(X).labels_
    assert matched_changes(truth, lab) == 0


def test_global_optimum_on_small_problems_by_enumeration():
    rng = np.random.default_rng(7)
    labs = np.array([(0, *a) for a in itertools.product(range(3), repeat=8)])
    onehot = labs[:, :, None] == np.arange(3)  # (partitions, 9, 3)
    sizes = onehot.sum(axis=1)
    ok = (sizes.min(axis=1) >= 2) & (sizes.max(axis=1) <= 4)
    onehot, sizes = onehot[ok].astype(float), sizes[ok]
    for trial in range(3):
        X = rng.normal(size=(9, 2))
        sums = np.einsum("pij,id->pjd", onehot, X)
        all_ss = np.sum(X * X) - np.sum(np.sum(sums**2, axis=2) / sizes, axis=1)
        ours = FamilyFormer(n_families=3, size_min=2, size_max=4, n_init=5,
                            random_state=trial).fit(X)
        assert ours.inertia_ == pytest.approx(all_ss.min(), rel=1e-9)


def test_not_worse_than_k_means_constrained():
    kmc = pytest.importorskip("k_means_constrained")
    rng = np.random.default_rng(11)
    X = np.vstack([rng.normal(size=(150, 3)), rng.normal(3, 0.5, size=(50, 3))])
    theirs = kmc.KMeansConstrained(n_clusters=25, size_min=6, size_max=10, n_init=3,
                                   random_state=0).fit(X)
    ours = FamilyFormer(n_families=25, size_min=6, size_max=10, n_init=3,
                        random_state=0).fit(X)
    assert ours.inertia_ <= ss(X, theirs.labels_) + 1e-9


def test_large_problem_path_keeps_bounds_and_stays_near_k_means():
    """Above the size where the LP stage ends early (k * n over 2 million): sizes stay in
    bounds and the SS is close to unconstrained k-means with as many families (which is
    not a lower bound, but a constrained partition far above it would be a poor one)."""
    from sklearn.cluster import KMeans

    from nlc_eval._family_solver import LARGE

    rng = np.random.default_rng(8)
    n, k = 4200, 525
    assert n * k > LARGE
    X = rng.normal(size=(n, 3)) * np.array([1.0, 0.6, 0.3])
    ours = FamilyFormer(n_families=k, size_min=6, size_max=10, n_init=1,
                        random_state=0).fit(X)
    sizes = np.bincount(ours.labels_, minlength=k)
    assert sizes.min() >= 6 and sizes.max() <= 10
    free = KMeans(n_clusters=k, n_init=1, random_state=0).fit(X)
    assert ours.inertia_ <= 1.25 * free.inertia_


def test_deterministic_for_a_seed():
    X = np.random.default_rng(5).normal(size=(80, 3))
    a = FamilyFormer(size_min=6, size_max=10, random_state=42).fit(X).labels_
    b = FamilyFormer(size_min=6, size_max=10, random_state=42).fit(X).labels_
    assert np.array_equal(a, b)
    s = make_schools(70, n_clusters=12)
    r1 = fast_families(s, cannot_link="cluster", random_state=3, n_init=3)
    r2 = fast_families(s, cannot_link="cluster", random_state=3, n_init=3)
    pd.testing.assert_series_equal(r1.assignments, r2.assignments)


# --------------------------------------------------------------------------- warm start


def test_warm_start_reduces_churn_at_a_small_cost():
    s = make_schools(90, seed=2)
    last = fast_families(s, random_state=0, n_init=3)
    rng = np.random.default_rng(9)
    nxt = s.copy()
    nxt["roll"] = np.round(nxt["roll"] * np.exp(rng.normal(0, 0.08, size=len(s))))
    cold = fast_families(nxt, random_state=1, n_init=3)
    warm = fast_families(nxt, previous=last, random_state=1, n_init=3)
    prev = last.assignments.to_numpy()
    churn_cold = matched_changes(prev, cold.assignments.to_numpy())
    churn_warm = matched_changes(prev, warm.assignments.to_numpy())
    assert churn_warm < churn_cold
    # the result reports the schools that changed, and ids follow last year's
    assert warm.n_changed == int((warm.assignments != last.assignments).sum())
    assert warm.n_changed <= churn_warm + 0  # ids keep last year's families
    assert set(warm.changed["seed_code"]) == set(
        warm.assignments.index[(warm.assignments != last.assignments).to_numpy()])
    q_cold = cold.quality(n_random=20).loc["primary", "within_ss"]
    q_warm = warm.quality(n_random=20).loc["primary", "within_ss"]
    assert q_warm <= 1.5 * q_cold
    # stability=0 uses last year's families only as a start
    free = fast_families(nxt, previous=last, random_state=1, stability=0.0, n_init=3)
    assert free.quality(n_random=20).loc["primary", "within_ss"] <= q_warm + 1e-9


def test_warm_start_with_new_and_closed_schools():
    s = make_schools(64, seed=4)
    last = fast_families(s, random_state=0)
    nxt = pd.concat([s.iloc[4:], make_schools(6, seed=5).assign(
        seed_code=[f"82{i:05d}" for i in range(6)])], ignore_index=True)
    res = fast_families(nxt, previous=last.assignments, random_state=0)
    sizes = res.assignments.value_counts()
    assert sizes.min() >= 6 and sizes.max() <= 10
    new = res.members[res.members["seed_code"].str.startswith("82")]
    assert new["previous_family"].isna().all() and not new["changed"].any()


# --------------------------------------------------------------------------- results


def test_explanations_consistent_with_assignment():
    s = make_schools(48, seed=6, n_clusters=5)
    res = fast_families(s, size=(4, 6), cannot_link="cluster", random_state=0, n_init=3)
    fit = res.groups["primary"]
    X = fit.X.to_numpy()
    lab = fit.labels
    for pos in range(0, 48, 3):
        code = s["seed_code"].iloc[pos]
        e = res.explain(code)
        assert e.family == res.assignments[code]
        fam = res.assignments
        assert (fam[e.nearest_members["seed_code"]] == e.family).all()
        other = e.nearest_other
        assert fam[other["seed_code"]] != e.family
        d = np.sqrt(((X - X[pos]) ** 2).sum(axis=1))
        assert other["distance"] == pytest.approx(d[lab != lab[pos]].min())
        assert e.reason in {"worse_fit", "blocked"}
        if not np.isnan(e.move_change):  # exact: recompute the SS after the move
            moved = lab.copy()
            moved[pos] = lab[s["seed_code"].to_numpy() == other["seed_code"]][0]
            assert e.move_change == pytest.approx(ss(X, moved) - ss(X, lab), abs=1e-9)
            assert e.move_change >= -1e-9
        if not np.isnan(e.swap_change):
            t = int(np.flatnonzero(s["seed_code"].to_numpy() == other["seed_code"])[0])
            sw = lab.copy()
            sw[pos], sw[t] = lab[t], lab[pos]
            assert e.swap_change == pytest.approx(ss(X, sw) - ss(X, lab), abs=1e-9)
            assert e.swap_change >= -1e-9
        if e.reason == "blocked":
            assert e.blocked and np.isnan(e.move_change) and np.isnan(e.swap_change)
        assert e.school_name in e.text() and other["school_name"] in e.text()


def test_table_quality_and_plot():
    import matplotlib

    matplotlib.use("Agg")
    s = make_schools(60)
    res = fast_families(s, random_state=0, n_init=3)
    t = res.table()
    assert t["n_schools"].sum() == 60 and t["n_schools"].between(6, 10).all()
    q = res.quality(n_random=50).loc["primary"]
    assert q["n_families"] == len(t)
    assert q["ratio_to_random_low"] <= q["ratio_to_random"] <= q["ratio_to_random_high"]
    assert q["ratio_to_random"] < 0.5  # far tighter than chance
    assert q["ratio_to_kmeans"] >= 1 - 1e-6 or q["ratio_to_kmeans"] == pytest.approx(1, 0.05)
    assert -1 <= q["silhouette"] <= 1
    assert "6-10" in res.summary() or "families of" in res.summary()
    ax = res.plot()
    assert len(ax.collections) == len(t)


def test_special_schools_own_families_or_excluded():
    s = pd.concat([make_schools(40), make_schools(8, seed=1, sector="special").assign(
        seed_code=[f"83{i:05d}" for i in range(8)])], ignore_index=True)
    own = fast_families(s, size=SECTOR_SIZES, random_state=0)
    sp = own.members[own.members["sector"] == "special"]
    assert len(sp) == 8 and sp["family"].str.startswith("X").all()
    assert not set(sp["family"]) & set(own.members.loc[own.members["sector"] == "primary",
                                                       "family"])
    ex = fast_families(s, size=SECTOR_SIZES, random_state=0, special="exclude")
    assert len(ex.excluded) == 8 and ex.excluded["reason"].str.contains("special").all()
    assert "special" not in set(ex.members["sector"])
    with pytest.raises(DataError, match="excluded"):
        ex.explain("8300000")


def test_front_end_errors():
    s = make_schools(30)
    with pytest.raises(DataError, match="column 'cluster_name'"):
        fast_families(s, cannot_link="cluster_name")
    with pytest.raises(DataError, match="one census year"):
        fast_families(pd.concat([s, s.iloc[[0]]], ignore_index=True))
    with pytest.raises(ConstraintError, match="'primary'.*cannot be split"):
        fast_families(s.iloc[:15], size=(6, 7))
    with pytest.raises(ConstraintError, match="no size bounds given for 'primary'"):
        fast_families(s, size={"secondary": (3, 4)})
    groups = pd.Series({c: f"g{i % 6}" for i, c in enumerate(s["seed_code"])})
    res = fast_families(s, size=(3, 5), cannot_link=groups, random_state=0)
    assert res.quality(n_random=5).loc["primary", "cannot_link_violations"] == 0


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def north_lanarkshire(official_dir):
    from nlc_eval.data.clusters import approximate_clusters
    from nlc_eval.data.official import load_school_locations, load_school_statistics

    d = load_school_statistics(official_dir, years=2024)
    nl = d[d["local_authority"] == "North Lanarkshire"]
    cl = approximate_clusters(nl, load_school_locations(official_dir))
    return nl.merge(cl[["seed_code", "sector", "cluster"]], on=["seed_code", "sector"],
                    how="left")


def test_real_north_lanarkshire_families(north_lanarkshire):
    nl = north_lanarkshire[north_lanarkshire["sector"].isin(["primary", "secondary"])]
    res = form_families(nl, size=SECTOR_SIZES, cannot_link="cluster", random_state=0,
                        bound_time=5.0)
    m = res.members
    assert len(m) == 118 + 23
    for sector, (lo, hi) in (("primary", (6, 10)), ("secondary", (3, 4))):
        sizes = m[m["sector"] == sector]["family"].value_counts()
        assert sizes.min() >= lo and sizes.max() <= hi
    # no two schools of one cluster share a family
    assert not m.duplicated(["sector", "family", "cannot_link_group"]).any()
    q = res.quality(n_random=30)
    assert (q["cannot_link_violations"] == 0).all()
    assert (q["ratio_to_random_high"] < 0.5).all()
    # secondaries are solved exactly: the optimum of all 10,626 trios and quads (9.2019)
    assert q.loc["secondary", "solver"] == "exact" and abs(q.loc["secondary", "gap"]) < 1e-12
    assert q.loc["secondary", "within_ss"] == pytest.approx(9.2019, abs=1e-4)
    assert q.loc["primary", "lower_bound"] <= q.loc["primary", "within_ss"]
    again = form_families(nl[nl["sector"] == "secondary"], size=SECTOR_SIZES,
                          cannot_link="cluster", random_state=0)
    sec = res.assignments[m["sector"].to_numpy() == "secondary"]
    pd.testing.assert_series_equal(again.assignments, sec)
    code = m[m["sector"] == "primary"]["seed_code"].iloc[0]
    e = res.explain(code)
    assert e.family == res.assignments[code] and e.reason in {"worse_fit", "blocked"}


def test_cli_writes_csv(official_dir, tmp_path):
    from nlc_eval.cli import main

    out = tmp_path / "fam.csv"
    rc = main(["families", "--year", "2024", "--sector", "secondary", "--size", "3-4",
               "--cannot-link", "cluster", "--data", str(official_dir), "--out", str(out)])
    assert rc == 0
    t = pd.read_csv(out, dtype={"seed_code": str})
    assert len(t) == 23 and t["family"].value_counts().between(3, 4).all()
    assert not t.duplicated(["family", "cluster"]).any()
    assert main(["families", "--year", "2024", "--sector", "primary", "--size", "5-5",
                 "--data", str(official_dir), "--out", str(out)]) == 1


def test_cli_keeps_locked_schools_and_writes_workbook(official_dir, tmp_path):
    from nlc_eval.cli import main

    keep = tmp_path / "keep.csv"
    pd.DataFrame({"seed_code": ["8516634", "8516839"], "family": ["S90", "S90"],
                  "sector": "secondary"}).to_csv(keep, index=False)
    out = tmp_path / "fam.csv"
    rc = main(["families", "--year", "2024", "--sector", "secondary", "--cannot-link",
               "cluster", "--keep", str(keep), "--data", str(official_dir), "--out", str(out)])
    assert rc == 0
    t = pd.read_csv(out, dtype={"seed_code": str})
    fam = t.set_index("seed_code")["family"]
    assert fam["8516634"] == fam["8516839"] == "S90"
    book = pd.read_excel(tmp_path / "fam.xlsx", sheet_name=None, dtype=str)
    assert set(book) == {"secondary", "secondary schools", "quality"}
    q = book["quality"].set_index("group")
    assert q.loc["secondary", "solver"] == "exact" and abs(float(q.loc["secondary", "gap"])) < 1e-12
    assert float(q.loc["secondary", "lower_bound"]) == pytest.approx(
        float(q.loc["secondary", "within_ss"]))
    assert "S90" in set(book["secondary"]["family"])
    assert len(book["secondary schools"]) == 23
    # the pair (fewer than 3) was filled up; a listed trio is a whole family, kept as it is
    assert (fam == "S90").sum() in (3, 4)
    trio = sorted(fam[fam != "S90"].index)[:3]
    whole = tmp_path / "whole.csv"
    pd.DataFrame({"seed_code": trio, "family": "S91"}).to_csv(whole, index=False)
    for extra, exact in (([], True), (["--keep-open"], False)):
        assert main(["families", "--year", "2024", "--sector", "secondary", "--cannot-link",
                     "cluster", "--keep", str(whole), "--data", str(official_dir), "--out",
                     str(out), *extra]) == 0
        f2 = pd.read_csv(out, dtype={"seed_code": str}).set_index("seed_code")["family"]
        assert (f2[trio] == "S91").all()
        if exact:
            assert sorted(f2[f2 == "S91"].index) == trio
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"seed_code": ["0000000"], "family": ["S90"]}).to_csv(bad, index=False)
    assert main(["families", "--year", "2024", "--sector", "secondary", "--keep", str(bad),
                 "--data", str(official_dir), "--out", str(out)]) == 1
