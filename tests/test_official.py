"""Tests of nlc_eval.data.official: the real gov.scot files and small broken copies."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nlc_eval.data import _official_columns as oc
from nlc_eval.data.official import (
    clear_cache,
    find_official_files,
    load_report,
    load_school_statistics,
    reconstruct_simd,
)
from nlc_eval.errors import DataError

YEARS = [2019, 2020, 2021, 2022, 2023, 2024]
NL = "North Lanarkshire"
CSV_2024 = "school-level-summary-statistics-2024.csv"


@pytest.fixture(scope="module")
def stats(official_dir: Path) -> pd.DataFrame:
    return load_school_statistics(official_dir)


# ---------------------------------------------------------------------------
# The real files
# ---------------------------------------------------------------------------


def test_all_six_years_load(stats):
    assert sorted(stats["year"].unique()) == YEARS
    assert list(stats.columns) == oc.OUTPUT_COLUMNS


def test_2024_counts_match_the_publication(stats):
    y = stats[stats["year"] == 2024]
    assert len(y) == 2445
    nl = y[y["local_authority"] == NL]
    assert len(nl) == 154
    assert nl["sector"].value_counts().to_dict() == {"primary": 118, "secondary": 23,
                                                     "special": 13}


def test_key_is_unique_and_combined_campuses_keep_both_rows(stats):
    assert not stats.duplicated(["year", "seed_code", "sector"]).any()
    # counted from the files: one seed code with a primary and a secondary row
    campuses = stats.groupby("year")["seed_code"].apply(lambda s: int(s.duplicated().sum()))
    assert campuses.to_dict() == {2019: 25, 2020: 26, 2021: 26, 2022: 26, 2023: 26, 2024: 26}
    y = stats[stats["year"] == 2024]
    both = y[y["seed_code"].duplicated(keep=False)]
    assert len(both) == 52
    assert (both.groupby("seed_code")["sector"].apply(frozenset)
            == frozenset({"primary", "secondary"})).all()


def test_seed_codes_are_digit_strings(stats):
    codes = stats["seed_code"]
    assert codes.str.fullmatch(r"\d+").all()
    assert not codes.str.endswith(".0").any()


def test_reconstructed_simd_rows_sum_to_the_roll(stats):
    imputed = stats[oc.SIMD_IMPUTED].to_numpy(dtype=bool).any(axis=1)
    assert imputed.sum() > 5000
    rows = stats[imputed]
    assert (rows[oc.SIMD_CELLS].sum(axis=1) == rows["roll"]).all()
    narrow = rows[rows["simd_status"] == "reconstructed"]
    for c in oc.SIMD_CELLS:
        cells = narrow.loc[narrow[f"{c}_imputed"].to_numpy(dtype=bool), c]
        assert cells.between(0, 4).all()


def test_rows_not_summing_are_flagged_not_altered(stats):
    bad = stats[stats["simd_sum_mismatch"].to_numpy(dtype=bool)]
    assert len(bad) > 0
    assert (bad[oc.SIMD_CELLS].sum(axis=1) != bad["roll"]).all()
    assert not bad[oc.SIMD_IMPUTED].to_numpy(dtype=bool).any()


def test_hand_checked_row_2024(stats):
    # Abbotswell School 2024 as published: Q1 44, Q2 46, Q3 107, Q4 32, Q5 C, unknown C,
    # roll 231 -> the two hidden cells hold 2 pupils: one each.
    row = stats[(stats["year"] == 2024) & (stats["seed_code"] == "5237521")].iloc[0]
    assert row["roll"] == 231
    assert [row[c] for c in oc.SIMD_CELLS] == [44, 46, 107, 32, 1, 1]
    assert bool(row["simd_q5_imputed"]) and bool(row["simd_unknown_imputed"])
    assert not bool(row["simd_q1_imputed"])
    assert row["simd_q1_share"] == pytest.approx(44 / 230)
    assert pd.isna(row["ethnicity_not_known"])  # published C: NA, never 0
    assert "ethnicity_not_known" in row["suppressed_columns"].split(",")
    assert pd.isna(row["s1"])  # z: not applicable
    assert row["urban_pct_band"] == "90-100%"
    assert (row["urban_pct_low"], row["urban_pct_high"]) == (90, 100)
    assert row["fsm_stages"] == "P6-S6"


def test_markers_are_never_zero(stats):
    y19 = stats[stats["year"] == 2019]
    # 2019 used '*' for suppressed and '#' for not applicable
    assert y19["s1"][y19["sector"] == "primary"].isna().all()
    assert (y19["n_suppressed"] > 0).sum() > 1000
    nulls = stats["female"].isna() & stats["suppressed_columns"].str.contains("female")
    assert nulls.sum() > 0


def test_north_lanarkshire_quintile_one_share_matches_published_figure(stats):
    # the council's own documents: about 32% of pupils live in SIMD quintile 1
    nl = stats[(stats["year"] == 2024) & (stats["local_authority"] == NL)]
    share = nl["simd_q1"].sum() / nl[oc.SIMD_COUNTS].sum().sum()
    assert 0.30 < share < 0.34


def test_fsm_stages_follow_the_editions(stats):
    got = stats.groupby("year")["fsm_stages"].first().to_dict()
    assert got == {2019: "P4-S6", 2020: "P4-S6", 2021: "P5-S6", 2022: "P6-S6",
                   2023: "P6-S6", 2024: "P6-S6"}


def test_attendance_sessions_match_repeated_figures(stats):
    # the 2020 and 2022 editions repeat the previous edition's attendance: check the files
    p = stats.pivot_table(index=["seed_code", "sector"], columns="year",
                          values="attendance_rate", aggfunc="first")
    for a, b in zip(YEARS[:-1], YEARS[1:], strict=True):
        both = p[[a, b]].dropna()
        same = (both[a] == both[b]).mean()
        session = stats.groupby("year")["attendance_session"].first()
        assert (same > 0.99) == (session[a] == session[b]), (a, b, same)
    assert session.to_dict()[2024] == "2023/24"


def test_authorities_are_one_series_across_years(stats):
    years = stats.groupby("local_authority")["year"].nunique()
    assert (years == 6).all(), years[years < 6]
    assert load_report(stats)["years"][2020]["local_authority_renamed"] > 0


def test_text_is_cleaned(stats):
    names = stats["school_name"]
    assert not names.str.contains("&apos;").any()
    assert names.str.contains("'").any()
    assert not stats["local_authority"].str.contains(r"\[", regex=True).any()


def test_rates_and_shares_in_range(stats):
    for c in ("attendance_rate", "authorised_absence_rate", "fsm_pct"):
        assert stats[c].dropna().between(0, 100).all()
    shares = stats[oc.SIMD_SHARES].dropna()
    assert np.allclose(shares.sum(axis=1), 1.0)
    assert stats.loc[stats["year"] == 2024, "attendance_rate"].notna().mean() > 0.99


def test_report_counts_exclusions_and_cells(stats):
    report = load_report(stats)["years"]
    assert set(report) == set(YEARS)
    assert report[2019]["excluded"]["footnote rows under the table"] > 0
    assert report[2024]["excluded"] == {"blank rows": 12}
    assert report[2024]["rows_kept"] == 2445
    assert report[2024]["suppressed_cells"] == int(stats.loc[stats.year == 2024,
                                                             "n_suppressed"].sum())


def test_cache_returns_copies(official_dir, stats):
    a = load_school_statistics(official_dir, years=2024)
    a.loc[:, "roll"] = 0
    b = load_school_statistics(official_dir, years=2024)
    assert (b["roll"] > 0).any()
    assert load_report(b)["years"][2024]["rows_kept"] == 2445


def test_find_files(official_dir):
    files = find_official_files(official_dir, "school_statistics")
    assert sorted(int(k) for k in files) == YEARS


# ---------------------------------------------------------------------------
# Broken copies
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def csv_rows(official_dir) -> list[list[str]]:
    text = (official_dir / CSV_2024).read_bytes().decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))[:31]


def _write(folder: Path, rows: list[list[str]], name: str = CSV_2024) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path = folder / name
    path.write_bytes(("\ufeff" + buf.getvalue()).encode("utf-8"))
    clear_cache(folder)
    return path


def _col(rows, header_start: str) -> int:
    return next(i for i, h in enumerate(rows[0]) if h.startswith(header_start))


def test_small_copy_loads(tmp_path, csv_rows):
    _write(tmp_path, csv_rows)
    df = load_school_statistics(tmp_path)
    assert len(df) == 30 and df["year"].eq(2024).all()


def test_renamed_column(tmp_path, csv_rows):
    rows = [r[:] for r in csv_rows]
    rows[0][_col(rows, "Pupil roll")] = "Pupils on roll"
    _write(tmp_path, rows)
    with pytest.raises(DataError) as err:
        load_school_statistics(tmp_path)
    msg = str(err.value)
    assert "Pupils on roll" in msg and "'roll'" in msg and CSV_2024 in msg
    assert "HEADER_ALIASES" in msg


def test_missing_column(tmp_path, csv_rows):
    j = _col(csv_rows, "Male")
    rows = [r[:j] + r[j + 1:] for r in csv_rows]
    _write(tmp_path, rows)
    with pytest.raises(DataError, match=r"required column\(s\) missing: \['male'\]"):
        load_school_statistics(tmp_path)


def test_duplicated_key(tmp_path, csv_rows):
    rows = csv_rows + [csv_rows[5]]
    _write(tmp_path, rows)
    with pytest.raises(DataError) as err:
        load_school_statistics(tmp_path)
    assert "appears twice" in str(err.value)
    assert "row 32" in str(err.value)  # the repeated line of the file


def test_empty_file(tmp_path):
    tmp_path.joinpath(CSV_2024).write_bytes(b"")
    clear_cache(tmp_path)
    with pytest.raises(DataError, match="empty"):
        load_school_statistics(tmp_path)


def test_garbage_in_a_number(tmp_path, csv_rows):
    rows = [r[:] for r in csv_rows]
    j = _col(rows, "Pupil roll")
    rows[3][j] = "two hundred"
    _write(tmp_path, rows)
    with pytest.raises(DataError) as err:
        load_school_statistics(tmp_path)
    msg = str(err.value)
    assert "'two hundred'" in msg and "column 'Pupil roll'" in msg and "row 4" in msg


def test_schema_failure_names_file_column_and_row(tmp_path, csv_rows):
    rows = [r[:] for r in csv_rows]
    rows[6][_col(rows, "Attendance rate")] = "112.5"
    _write(tmp_path, rows)
    with pytest.raises(DataError) as err:
        load_school_statistics(tmp_path)
    msg = str(err.value)
    assert "school_statistics schema" in msg and "attendance_rate" in msg
    assert "row 7" in msg and "112.5" in msg and CSV_2024 in msg


def test_garbage_seed_code(tmp_path, csv_rows):
    rows = [r[:] for r in csv_rows]
    rows[2][_col(rows, "SeedCode")] = "52375X1"
    _write(tmp_path, rows)
    with pytest.raises(DataError, match="seed code '52375X1'"):
        load_school_statistics(tmp_path)


def test_unknown_sector(tmp_path, csv_rows):
    rows = [r[:] for r in csv_rows]
    rows[2][_col(rows, "School Type")] = "Nursery"
    _write(tmp_path, rows)
    with pytest.raises(DataError, match="Nursery"):
        load_school_statistics(tmp_path)


def test_unknown_format(tmp_path):
    tmp_path.joinpath("school-level-summary-statistics-2024.ods").write_bytes(b"PK..")
    with pytest.raises(DataError, match="unknown format '.ods'"):
        load_school_statistics(tmp_path)


def test_not_a_workbook(tmp_path):
    tmp_path.joinpath("school-level-summary-statistics-2023.xlsx").write_text("hello")
    clear_cache(tmp_path)
    with pytest.raises(DataError, match="Excel workbook"):
        load_school_statistics(tmp_path)


def test_missing_year_and_missing_folder(tmp_path, csv_rows):
    _write(tmp_path, csv_rows)
    with pytest.raises(DataError, match=r"\[2019\]"):
        load_school_statistics(tmp_path, years=[2019, 2024])
    with pytest.raises(DataError, match="does not exist"):
        load_school_statistics(tmp_path / "nowhere")
    with pytest.raises(DataError, match="no school-level summary statistics file"):
        load_school_statistics(_empty(tmp_path))


def _empty(tmp_path: Path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_excel_edition_with_notes_sheet_and_footnotes(tmp_path, csv_rows):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    wb.active.title = "Background notes "
    wb.active.append(["Notes about the publication"])
    ws = wb.create_sheet("2019")
    ws.append(["School level summary statistics 2019"])
    header = [h.replace("Pupil roll", "Pupil roll(1)").replace("Unauthorised", "Unuathorised")
              for h in csv_rows[0]]
    ws.append(header)
    for r in csv_rows[1:6]:
        ws.append([int(v) if v.isdigit() else v for v in r])
    ws.append([])
    ws.append(["(1) Pupil roll at the September census."])
    ws.append([None, " - Large urban areas (settlements with population over 125,000)"])
    path = tmp_path / "school-level-summary-statistics-2019.xlsx"
    wb.save(path)
    clear_cache(tmp_path)
    df = load_school_statistics(path)
    assert len(df) == 5 and (df["year"] == 2019).all()
    assert df["seed_code"].str.fullmatch(r"\d+").all()
    report = load_report(df)["years"][2019]
    assert report["excluded"] == {"blank rows": 1, "footnote rows under the table": 2}
    assert report["sheet"] == "2019"


# ---------------------------------------------------------------------------
# Pieces
# ---------------------------------------------------------------------------


def _simd_frame(rows):
    df = pd.DataFrame(rows, columns=["local_authority", "roll", *oc.SIMD_CELLS])
    supp = {c: df[c].isna() for c in oc.SIMD_CELLS}
    for c in oc.SIMD_CELLS:
        df[c] = df[c].astype("Int64")
    return df, supp


def test_reconstruct_simd_rules():
    df, supp = _simd_frame([
        ["A", 100, 50, 40, None, None, 3, 0],      # r=7 over 2 cells -> 4 and 3 (narrow)
        ["A", 100, 50, None, None, 5, 5, 0],       # r=40 over 2 cells -> wide
        ["A", 100, 50, 50, None, 5, 5, 0],         # r=-10 -> infeasible
        ["A", 100, 50, 40, 5, 3, 1, 0],            # complete, 99 != 100 -> mismatch
        ["A", 10, 5, 5, 0, 0, 0, None],            # r=0 over one cell -> 0
        ["A", 20, 5, 5, 0, 0, 0, None],            # one hidden cell of 10: beyond 0-4
    ])
    out = reconstruct_simd(df, supp)
    assert out["simd_status"].tolist() == ["reconstructed", "reconstructed_wide", "infeasible",
                                           "complete", "reconstructed", "reconstructed_wide"]
    assert out.at[5, "simd_unknown"] == 10
    assert sorted([out.at[0, "simd_q3"], out.at[0, "simd_q4"]]) == [3, 4]
    # the leftover pupil goes to the category more common in the authority's published
    # counts: q4 (5 + 5 + 3 = 13 pupils) before q3 (5 pupils)
    assert (out.at[0, "simd_q3"], out.at[0, "simd_q4"]) == (3, 4)
    assert out.at[1, "simd_q2"] + out.at[1, "simd_q3"] == 40
    assert pd.isna(out.at[2, "simd_q3"])
    assert bool(out.at[3, "simd_sum_mismatch"])
    assert out.at[4, "simd_unknown"] == 0 and bool(out.at[4, "simd_unknown_imputed"])
    assert out.attrs["simd_report"]["simd_rows_infeasible"] == 1


@pytest.mark.parametrize("header,expected", [
    ("Pupil roll(1)", "roll"),
    ("Teachers (Full Time Equivalent) [Note 1]", "fte_teachers"),
    ("Unuathorised absence rate", "unauthorised_absence_rate"),
    ("Unauthorised absence rate (%)[Note 8] [Note 9]", "unauthorised_absence_rate"),
    ("SIMD not availble [Note 6]", "simd_unknown"),
    ("School&apos;s 6-fold urban/rural classification(4)", "urban_rural_6fold"),
])
def test_header_drift_maps_to_stable_names(header, expected):
    assert oc.HEADER_ALIASES[oc.normalise_header(header)] == expected


@pytest.mark.parametrize("text,kind", [("c", "suppressed"), (" c", "suppressed"),
                                       ("C", "suppressed"), ("*", "suppressed"),
                                       ("[c]", "suppressed"), ("z", "not_applicable"),
                                       ("#", "not_applicable"), ("x", "not_available"),
                                       ("12", None)])
def test_markers(text, kind):
    assert oc.classify_marker(text) == kind


def _suppress_like_gov_scot(true: list[int], secondary: bool) -> list[int | None]:
    """Hide counts under 5; with ``secondary``, also the smallest other count."""
    shown: list[int | None] = [None if v < 5 else v for v in true]
    hidden = [i for i, v in enumerate(shown) if v is None]
    if secondary and len(hidden) == 1:
        others = [i for i, v in enumerate(shown) if v is not None]
        if others:
            shown[min(others, key=lambda i: true[i])] = None
    return shown


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    given = None

if given is not None:

    @settings(max_examples=40, deadline=None)
    @given(st.lists(st.lists(st.integers(0, 40), min_size=6, max_size=6), min_size=1,
                    max_size=15), st.booleans())
    def test_reconstruction_recovers_known_truth(true_rows, secondary):
        rows = []
        for true in true_rows:
            rows.append(["A", sum(true), *_suppress_like_gov_scot(true, secondary)])
        df, supp = _simd_frame(rows)
        out = reconstruct_simd(df, supp)
        for k, true in enumerate(true_rows):
            got = [int(out.at[k, c]) for c in oc.SIMD_CELLS]
            assert sum(got) == sum(true)  # every row sums to its roll
            hidden = [i for i, c in enumerate(oc.SIMD_CELLS) if supp[c].iloc[k]]
            for i in range(len(oc.SIMD_CELLS)):
                if i not in hidden:
                    assert got[i] == true[i]  # published cells are never altered
            if out.at[k, "simd_status"] == "reconstructed":
                # hidden cells stay in 0-4, so each is within 4 of the truth
                assert all(0 <= got[i] <= 4 and abs(got[i] - true[i]) <= 4 for i in hidden)
            if all(true[i] < 5 for i in hidden) and hidden:
                assert out.at[k, "simd_status"] == "reconstructed"
