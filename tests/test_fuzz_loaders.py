"""Property-based fuzzing of every loader with mutants of the real files.

Each mutant is a real official file (cut to its first rows, see ``tests/_mutants.py``) or a
synthetic council extract with byte flips, truncation, garbage, renamed, swapped or
dropped columns, values in other units, duplicated or blank rows and cells, other text
encodings, and damaged workbook parts. A loader must either raise an
:class:`~nlc_eval.errors.NlcEvalError` whose message names the file, or return a table
that passes the consistency checks written here (independently of the loaders' own
checks). Hypothesis runs with a fixed, derandomised profile, so CI sees the same mutants
every time; the number run is asserted (at least 1,000 across all loaders).
"""

from __future__ import annotations

import random
import shutil
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _mutants import cut_csv, cut_xlsx, mutate_csv, mutate_xlsx, write_mutant
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlc_eval.data import _official_columns as oc
from nlc_eval.data import official
from nlc_eval.data.clusters import load_clusters
from nlc_eval.data.extracts import TABLES, Extracts, load_extracts
from nlc_eval.data.synthetic import authority
from nlc_eval.errors import NlcEvalError

#: Mutants per original; the sum is asserted to be at least 1,000.
N_MUTANTS = {
    "school-level-summary-statistics-2024.csv": 100,
    "school-level-summary-statistics-2023.xlsx": 80,
    "school-level-summary-statistics-2019.xlsx": 50,
    "acel-2021-22-schools.csv": 150,
    "simd2020v2-datazones.csv": 80,
    "school-roll-and-locations-2023.csv": 90,
    "school-contact-list-2024-10-31.xlsx": 50,
    "extracts-csv": 200,
    "extracts-xlsx": 50,
    "clusters.csv": 160,
}
RUN: dict[str, int] = {}

#: First rows of each official file kept in its original (enough for several
#: authorities, sectors and suppressed cells; small enough to load in milliseconds).
CUT_ROWS = 30


def _profile(n: int):
    return settings(max_examples=n, derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck), print_blob=False)


# ---------------------------------------------------------------------------
# Consistency checks of loaded tables (what a loaded table must satisfy)
# ---------------------------------------------------------------------------

def _ok(mask) -> bool:
    """True when no cell of a boolean Series or DataFrame is True (NA counts as False)."""
    return not bool(np.asarray(mask.fillna(False), dtype=bool).any())


def check_school_statistics(df: pd.DataFrame, year: int) -> None:
    assert len(df) > 0
    assert (df["year"] == year).all()
    assert df["seed_code"].str.fullmatch(r"\d+").all()
    assert not df.duplicated(["year", "seed_code", "sector"]).any()
    assert df["sector"].isin(["primary", "secondary", "special"]).all()
    roll = df["roll"].astype("Float64")
    assert roll.notna().all() and (roll >= 0).all()
    for c in oc.COUNT_COLUMNS:
        v = df[c].astype("Float64")
        assert _ok(v < 0), c
        assert _ok(v > roll), f"{c} exceeds the roll"
    groups = [oc.STAGES, ["female", "male"], ["asn", "no_asn"], ["eal", "no_eal"],
              ["gaelic", "no_gaelic"],
              ["minority_ethnic", "white_british", "white_other", "ethnicity_not_known"]]
    for cols in groups:
        total = df[cols].astype("Float64").sum(axis=1)
        assert _ok(total > roll), f"{cols} add up to more than the roll"
    simd = df[oc.SIMD_CELLS].astype("Float64").sum(axis=1)
    status = df["simd_status"]
    assert _ok((simd > roll) & status.ne("infeasible"))
    rec = status.isin(["reconstructed", "reconstructed_wide"])
    assert _ok(rec & ((simd - roll).abs() > 0.5)), "reconstructed SIMD does not add to roll"
    for c in oc.FLOAT_COLUMNS:
        v = df[c].astype("Float64")
        assert _ok(v < 0), c
        if c.endswith(("_pct", "_rate")):
            assert _ok(v > 100), c
    shares = df[oc.SIMD_SHARES].astype("Float64")
    assert _ok((shares < 0) | (shares > 1))
    total = shares.sum(axis=1, min_count=5)
    assert _ok((total - 1).abs() > 1e-6)
    for b in oc.URBAN_BANDS:
        lo, hi = df[f"{b}_pct_low"].astype("Float64"), df[f"{b}_pct_high"].astype("Float64")
        assert _ok(lo > hi) and _ok(lo < 0) and _ok(hi > 100)


def check_acel(df: pd.DataFrame) -> None:
    assert len(df) > 0
    assert df["seed_code"].str.fullmatch(r"\d+").all()
    assert not df.duplicated(["seed_code", "stage", "organiser"]).any()
    for c in ("pct", "pct_low", "pct_high"):
        v = df[c].astype("Float64")
        assert _ok((v < 0) | (v > 100)), c
    assert _ok(df["pct_low"] > df["pct_high"])
    number = df["pct"].notna()
    assert _ok(number & df["suppressed"].astype(bool))
    assert _ok(number & (df["pct_low"] != df["pct"]))


def check_simd(df: pd.DataFrame) -> None:
    assert len(df) > 0
    assert df["data_zone"].str.fullmatch(r"S01\d{6}").all()
    assert not df["data_zone"].duplicated().any()
    rank = df["simd_rank"].astype("Float64")
    assert _ok((rank < 1) | (rank > 6976))
    assert _ok(df["working_age_population"] > df["total_population"])
    # the bands of one ranking nest: vigintile 2k-1 and 2k make decile k, and so on
    for fine, coarse in (("simd_vigintile", "simd_decile"), ("simd_decile", "simd_quintile"),
                         ("simd_percentile", "simd_vigintile")):
        width = {"simd_vigintile": 2, "simd_decile": 2, "simd_percentile": 5}[fine]
        f, c = df[fine].astype("Float64"), df[coarse].astype("Float64")
        assert _ok(np.ceil(f / width) != c), f"{fine} and {coarse} disagree"
    # a rank falls in its percentile: 6976 zones in 100 equal steps
    pct = df["simd_percentile"].astype("Float64")
    assert _ok(np.ceil(rank * 100 / 6976) != pct), "rank and percentile disagree"


def check_locations(df: pd.DataFrame) -> None:
    assert len(df) > 0
    assert df["seed_code"].str.fullmatch(r"\d+").all()
    assert not df.duplicated(["seed_code", "sector"]).any()
    assert _ok(df["roll"].astype("Float64") < 0)
    assert _ok(df["fte_teachers"].astype("Float64") < 0)
    lat, lon = df["latitude"].astype("Float64"), df["longitude"].astype("Float64")
    assert _ok((lat < 54) | (lat > 61.5)) and _ok((lon < -9) | (lon > 0))
    for c in ("simd20_pct", "minority_ethnic_pct"):
        lo, hi = df[f"{c}_low"].astype("Float64"), df[f"{c}_high"].astype("Float64")
        assert _ok(lo > hi) and _ok((lo < 0) | (hi > 100))
    p = df["dz_simd_percentile"].astype("Float64")
    assert _ok((p < 1) | (p > 100))


def check_contacts(df: pd.DataFrame) -> None:
    assert len(df) > 0
    assert df["seed_code"].str.fullmatch(r"\d+").all()
    assert not df["seed_code"].duplicated().any()
    for c in ("primary_department", "secondary_department", "special_department"):
        assert df[c].notna().all()
    h = df["half_day_openings"].astype("Float64") if "half_day_openings" in df else None
    if h is not None:
        assert _ok((h < 0) | (h > 10)), "more than ten half-day openings a week"


def check_extracts(ex: Extracts) -> None:
    p, a, t, s = ex.pupils, ex.attendance, ex.attainment, ex.supports
    assert not p.duplicated(["pupil_id", "year"]).any()
    assert p["seed_code"].isin(set(ex.schools["seed_code"])).all()
    assert p["year"].between(2000, 2100).all()
    d = p["simd_decile"].astype("Float64")
    assert _ok((d < 1) | (d > 10))
    assert (a["attended_sessions"] >= 0).all()
    assert (a["attended_sessions"] <= a["possible_sessions"]).all()
    assert (a["exclusions"] <= a["possible_sessions"] - a["attended_sessions"]).all()
    assert a["pupil_id"].isin(set(p["pupil_id"])).all()
    assert not a.duplicated(["pupil_id", "year", "term"]).any()
    assert t["pupil_id"].isin(set(p["pupil_id"])).all()
    tp = t["tariff_points"].astype("Float64")
    assert _ok(tp < 0)
    assert s["pupil_id"].isin(set(p["pupil_id"])).all()
    assert not s["support_id"].duplicated().any()
    assert (s["sessions_attended"] >= 0).all()
    assert (s["sessions_attended"] <= s["sessions_planned"]).all()
    assert _ok(s["end_date"] < s["start_date"])
    first, last = pd.Timestamp(int(p["year"].min()), 8, 1), pd.Timestamp(
        int(p["year"].max()) + 1, 7, 31)
    assert ((s["start_date"] >= first) & (s["start_date"] <= last)).all()
    roll = ex.schools["roll"].astype("Float64") if "roll" in ex.schools else None
    if roll is not None:
        assert _ok(roll < 0)
        for c in [c for c in ex.schools.columns if c.startswith("simd_q") or c in ("asn", "eal")]:
            assert _ok(ex.schools[c].astype("Float64") > roll), c
            assert _ok(ex.schools[c].astype("Float64") < 0), c
    for c in ("fsm_pct", "attendance_rate"):
        if c in ex.schools:
            v = ex.schools[c].astype("Float64")
            assert _ok((v < 0) | (v > 100)), c


# ---------------------------------------------------------------------------
# The harness
# ---------------------------------------------------------------------------

def _fuzz(key: str, tmp: Path, original: bytes, file_name: str, mutate, load, check) -> None:
    """Run ``N_MUTANTS[key]`` mutants of ``original`` through ``load`` and ``check``."""
    seen: set[int] = set()

    @_profile(N_MUTANTS[key])
    @given(st.integers(min_value=0, max_value=2**31 - 1))
    def one(seed: int) -> None:
        rng = random.Random(seed)
        desc, data = mutate(rng, original)
        folder = tmp / uuid.uuid4().hex[:12]
        path = write_mutant(folder, file_name, data)
        try:
            try:
                loaded = load(path)
            except NlcEvalError as exc:
                message = str(exc)
                assert file_name in message or str(folder) in message, (
                    f"mutant {desc} (seed {seed}): the error does not name the file: "
                    f"{message}")
                assert "Fix:" in message, f"mutant {desc}: the error gives no fix: {message}"
                return
            try:
                check(loaded)
            except AssertionError as exc:
                raise AssertionError(f"mutant {desc} (seed {seed}) loaded but is "
                                     f"inconsistent: {exc}") from exc
        finally:
            seen.add(seed)
            official.clear_cache()
            shutil.rmtree(folder, ignore_errors=True)

    one()
    RUN[key] = len(seen)
    assert len(seen) >= 0.95 * N_MUTANTS[key], f"only {len(seen)} distinct mutants ran"


def _original(official_dir: Path, name: str) -> bytes:
    data = (official_dir / name).read_bytes()
    if name.endswith(".csv"):
        return cut_csv(data, CUT_ROWS)
    return cut_xlsx(data, CUT_ROWS + 2)


def _year(name: str) -> int:
    return int(name.rsplit("-", 1)[1].split(".")[0])


@pytest.mark.parametrize("name", [k for k in N_MUTANTS if k.startswith("school-level")])
def test_fuzz_school_statistics(name, official_dir, tmp_path):
    original = _original(official_dir, name)
    year = _year(name)
    check_school_statistics(official.load_school_statistics(
        write_mutant(tmp_path / "orig", name, original)), year)
    mutate = mutate_xlsx if name.endswith(".xlsx") else mutate_csv
    _fuzz(name, tmp_path, original, name, mutate, official.load_school_statistics,
          lambda df: check_school_statistics(df, year))


@pytest.mark.parametrize("name, load, check", [
    ("acel-2021-22-schools.csv", official.load_acel, check_acel),
    ("simd2020v2-datazones.csv", official.load_simd_datazones, check_simd),
    ("school-roll-and-locations-2023.csv", official.load_school_locations, check_locations),
    ("school-contact-list-2024-10-31.xlsx", official.load_contact_list, check_contacts),
])
def test_fuzz_other_official_files(name, load, check, official_dir, tmp_path):
    original = _original(official_dir, name)
    check(load(write_mutant(tmp_path / "orig", name, original)))
    mutate = mutate_xlsx if name.endswith(".xlsx") else mutate_csv
    _fuzz(name, tmp_path, original, name, mutate, load, check)


# ---------------------------------------------------------------------------
# Council extracts and the cluster list
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def extract_files(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """A small, consistent synthetic authority written as the five CSV extracts."""
    a = authority(seed=5)
    schools = a.schools
    codes = schools.sort_values("roll")["seed_code"].iloc[:3].tolist()
    pupils = a.pupils[a.pupils["seed_code"].isin(codes)]
    ids = set(pupils["pupil_id"].drop_duplicates().head(15))
    pupils = pupils[pupils["pupil_id"].isin(ids)].reset_index(drop=True)
    tables = {"schools": schools[["seed_code", "school_name", "sector", "cluster", "roll",
                                  "simd_q1", "fsm_pct"]],
              "pupils": pupils}
    for t in ("attendance", "attainment", "supports"):
        df = getattr(a, t)
        tables[t] = df[df["pupil_id"].isin(ids)].reset_index(drop=True)
    if tables["supports"].empty:
        sup = a.supports.iloc[:3].copy()
        sup["pupil_id"] = pupils["pupil_id"].iloc[0]
        tables["supports"] = sup
    folder = tmp_path_factory.mktemp("extracts")
    for t, df in tables.items():
        df = df.copy()
        for c in df.columns:
            if pd.api.types.is_datetime64_any_dtype(df[c]):
                df[c] = df[c].dt.strftime("%Y-%m-%d")
        df.to_csv(folder / f"{t}.csv", index=False)
    check_extracts(load_extracts(folder))
    return folder, schools


def _extract_mutant(folder: Path, fmt: str):
    """A mutate function over the whole folder: one table's file is mutated."""
    def mutate(rng: random.Random, _: bytes) -> tuple[str, bytes]:
        table = rng.choice(TABLES)
        src = folder / f"{table}.csv"
        if fmt == "csv":
            desc, data = mutate_csv(rng, src.read_bytes())
        else:
            import io

            buf = io.BytesIO()
            pd.read_csv(src, dtype=str, keep_default_na=False).to_excel(
                buf, index=False, sheet_name=table)
            desc, data = mutate_xlsx(rng, buf.getvalue())
        return f"{table}:{desc}", table.encode() + b"\0" + data
    return mutate


def _load_extract_mutant(folder: Path, fmt: str):
    def load(path: Path):
        table, data = path.read_bytes().split(b"\0", 1)
        table = table.decode()
        target = path.parent / "x"
        shutil.copytree(folder, target)
        (target / f"{table}.csv").unlink()
        (target / f"{table}.{fmt}").write_bytes(data)
        try:
            return load_extracts(target)
        except NlcEvalError as exc:
            # the message names the mutated file (or the folder); rename for the harness
            message = str(exc)
            assert f"{table}.{fmt}" in message or str(target) in message, message
            raise type(exc)(message.replace(str(target), str(path))) from None
    return load


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_fuzz_extracts(fmt, extract_files, tmp_path):
    folder, _ = extract_files
    _fuzz(f"extracts-{fmt}", tmp_path, b"", "mutant.bin", _extract_mutant(folder, fmt),
          _load_extract_mutant(folder, fmt), check_extracts)


def test_fuzz_cluster_list(extract_files, tmp_path):
    _, schools = extract_files
    original = schools[["seed_code", "cluster"]].to_csv(index=False).encode()
    codes = set(schools["seed_code"].astype(str))

    def check(df: pd.DataFrame) -> None:
        assert set(df["seed_code"]) == codes and df["seed_code"].is_unique
        assert df["cluster"].str.strip().ne("").all()
        assert df["cluster_id"].str.fullmatch(r"[a-z0-9-]+").all()

    _fuzz("clusters.csv", tmp_path, original, "clusters.csv", mutate_csv,
          lambda p: load_clusters(p, schools), check)


def test_fuzz_count_is_at_least_1000():
    """The mutants of every fuzz test above ran (this test comes last in the file)."""
    missing = [k for k in N_MUTANTS if k not in RUN]
    if missing:
        pytest.skip(f"fuzz tests not run in this session: {missing}")
    total = sum(RUN.values())
    assert total >= 1000, f"only {total} mutants ran"
