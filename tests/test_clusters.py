"""Tests of nlc_eval.data.clusters."""

from __future__ import annotations

import pandas as pd
import pytest

from nlc_eval.data.clusters import (
    APPROXIMATION_NOTE,
    approximate_clusters,
    cluster_slug,
    load_clusters,
)
from nlc_eval.data.official import load_school_locations, load_school_statistics
from nlc_eval.errors import DataError

NL = "North Lanarkshire"


@pytest.fixture(scope="module")
def nl_2024(official_dir) -> pd.DataFrame:
    stats = load_school_statistics(official_dir, years=2024)
    return stats[stats["local_authority"] == NL].reset_index(drop=True)


@pytest.fixture(scope="module")
def locations(official_dir) -> pd.DataFrame:
    return load_school_locations(official_dir)


@pytest.fixture(scope="module")
def approx(nl_2024, locations) -> pd.DataFrame:
    return approximate_clusters(nl_2024, locations)


def test_north_lanarkshire_has_23_clusters(approx, nl_2024):
    assert len(approx) == len(nl_2024) == 154
    assert approx["cluster"].nunique() == 23
    assert approx["cluster_id"].nunique() == 23
    assert approx["approximate"].all()
    assert approx.attrs["note"] == APPROXIMATION_NOTE


def test_each_secondary_leads_its_own_cluster(approx):
    sec = approx[approx["sector"] == "secondary"]
    assert (sec["cluster"] == sec["school_name"]).all()
    assert (sec["secondary_seed_code"] == sec["seed_code"]).all()


def test_primaries_join_a_secondary_of_their_denomination(approx):
    lead = approx[approx["sector"] == "secondary"].set_index("seed_code")["denomination"]
    prim = approx[approx["sector"] == "primary"]
    joined = prim["secondary_seed_code"].map(lead)
    rc = prim["denomination"] == "Roman Catholic"
    assert rc.sum() > 20
    assert (joined[rc] == "Roman Catholic").all()
    assert (joined[~rc] != "Roman Catholic").all()
    assert approx["distance_km"].between(0, 15).all()


def _toy():
    schools = pd.DataFrame({
        "seed_code": ["1", "2", "3", "4", "5", "6"],
        "sector": ["secondary", "secondary", "primary", "primary", "special", "primary"],
        "school_name": ["North High", "St Mary's High", "A Primary", "St B's Primary",
                        "C School", "D Primary"],
        "local_authority": ["X"] * 6,
        "denomination": ["Non-denominational", "Roman Catholic", "Non-denominational",
                         "Roman Catholic", "Non-denominational", "Episcopalian"],
    })
    # secondaries at latitude 56.0 and 55.0; A and B next to the OTHER denomination's school
    locations = pd.DataFrame({
        "seed_code": ["1", "2", "3", "4", "5", "6"],
        "sector": ["secondary", "secondary", "primary", "primary", "special", "primary"],
        "latitude": [56.0, 55.0, 55.01, 55.99, 55.1, 55.0],
        "longitude": [-4.0] * 6,
    })
    return schools, locations


def test_rules_on_a_toy_authority():
    schools, locations = _toy()
    got = approximate_clusters(schools, locations).set_index("seed_code")
    # A (non-denominational) is 1 km from St Mary's but joins North High, 110 km away
    assert got.at["3", "cluster"] == "North High"
    assert got.at["3", "distance_km"] == pytest.approx(110, abs=2)
    assert got.at["4", "cluster"] == "St Mary's High"
    # special: nearest secondary of any denomination
    assert got.at["5", "cluster"] == "St Mary's High"
    # other denomination: nearest non-denominational secondary
    assert got.at["6", "cluster"] == "North High"
    assert got.at["2", "cluster_id"] == "st-marys-high"


def test_approximation_refuses_bad_input(nl_2024, locations):
    schools, locs = _toy()
    with pytest.raises(DataError, match="no coordinates"):
        approximate_clusters(schools, locs.iloc[:4])
    with pytest.raises(DataError, match="no secondary"):
        approximate_clusters(schools[schools["sector"] != "secondary"], locs)
    two_years = pd.concat([nl_2024, nl_2024.assign(year=2023)])
    with pytest.raises(DataError, match="years"):
        approximate_clusters(two_years, locations)


def test_slug():
    assert cluster_slug("Our Lady's High School - Cumbernauld") == "our-ladys-high-cumbernauld"


def _write(tmp_path, text: str):
    path = tmp_path / "clusters.csv"
    path.write_text(text)
    return path


def test_load_clusters_round_trip(tmp_path, approx, nl_2024):
    one = approx.drop_duplicates("seed_code")[["seed_code", "cluster"]]
    path = tmp_path / "clusters.csv"
    one.to_csv(path, index=False)
    got = load_clusters(path, nl_2024)
    assert len(got) == 154 and not got["approximate"].any()
    assert got["cluster"].nunique() == 23
    merged = got.merge(approx, on=["seed_code", "sector"])
    assert (merged["cluster_x"] == merged["cluster_y"]).all()


def test_load_clusters_errors(tmp_path):
    schools, _ = _toy()
    ok = "seed_code,cluster\n1,N\n2,S\n3,N\n4,S\n5,S\n6,N\n"
    assert len(load_clusters(_write(tmp_path, ok), schools)) == 6
    cases = {
        "": "empty",
        "seed_code,cluster\n": "no rows",
        "code,cluster\n1,N\n": "'seed_code' is missing",
        ok + "99,N\n": "not among the schools",
        ok.replace("6,N\n", ""): "no cluster: \\['6'\\]",
        ok + "6,S\n": "listed twice",
        ok.replace("3,N", "3x,N"): "not a string of digits",
        ok.replace("3,N", "3,"): "blank cluster",
    }
    for text, message in cases.items():
        with pytest.raises(DataError, match=message):
            load_clusters(_write(tmp_path, text), schools)
    with pytest.raises(DataError, match="unknown format"):
        path = tmp_path / "clusters.xlsx"
        path.write_text(ok)
        load_clusters(path, schools)
    with pytest.raises(DataError, match="does not exist"):
        load_clusters(tmp_path / "nope.csv", schools)


def test_load_clusters_reads_float_seed_codes(tmp_path):
    schools, _ = _toy()
    text = "Seed Code,Cluster\n1.0,N\n2.0,S\n3.0,N\n4,S\n5,S\n6,N\n"
    got = load_clusters(_write(tmp_path, text), schools)
    assert got.set_index("seed_code").at["3", "cluster"] == "N"
