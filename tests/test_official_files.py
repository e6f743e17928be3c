"""Tests of the other official loaders: ACEL, SIMD data zones, roll and locations, contacts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from nlc_eval.data.official import (
    clear_cache,
    load_acel,
    load_contact_list,
    load_report,
    load_school_locations,
    load_simd_datazones,
)
from nlc_eval.errors import DataError

NL = "North Lanarkshire"
ACEL = "acel-2021-22-schools.csv"
SIMD = "simd2020v2-datazones.csv"
LOCATIONS = "school-roll-and-locations-2023.csv"


def _head(src: Path, dest: Path, n: int) -> list[str]:
    lines = src.read_bytes().decode("utf-8-sig").splitlines()[: n + 1]
    dest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    clear_cache(dest)
    return lines


def test_acel_real(official_dir):
    df = load_acel(official_dir)
    assert len(df) == 9404
    nl = df[df["local_authority"] == NL]
    assert len(nl) == 568 and nl["seed_code"].nunique() == 142
    assert set(df["session"]) == {"2021/22"}
    band = df[df["banded"].to_numpy(dtype=bool)]
    assert len(band) > 0 and band["pct"].isna().all()
    assert (band["pct_low"] < band["pct_high"]).all()
    row = band[band["pct_band"] == "95-100%"].iloc[0]
    assert (row["pct_low"], row["pct_high"]) == (95, 100)
    supp = df[df["suppressed"].to_numpy(dtype=bool)]
    assert len(supp) == load_report(df)["suppressed_cells"] == 1568
    assert supp[["pct", "pct_low", "pct_high"]].isna().all().all()
    plain = df[~df["banded"].to_numpy(dtype=bool) & ~df["suppressed"].to_numpy(dtype=bool)]
    assert (plain["pct"] == plain["pct_low"]).all()


def test_acel_broken(tmp_path, official_dir):
    lines = _head(official_dir / ACEL, tmp_path / ACEL, 10)
    assert len(load_acel(tmp_path)) == 10
    (tmp_path / ACEL).write_text("\n".join(
        [lines[0].replace("Organiser", "Subject"), *lines[1:]]) + "\n")
    clear_cache(tmp_path)
    with pytest.raises(DataError, match="(?i)organiser"):
        load_acel(tmp_path)
    bad = lines[:]
    bad[3] = bad[3].rsplit(",", 1)[0] + ",lots"
    (tmp_path / ACEL).write_text("\n".join(bad) + "\n")
    clear_cache(tmp_path)
    with pytest.raises(DataError, match="row 4"):
        load_acel(tmp_path)
    (tmp_path / ACEL).write_text("\n".join(lines + [lines[2]]) + "\n")
    clear_cache(tmp_path)
    with pytest.raises(DataError, match="twice"):
        load_acel(tmp_path)


def test_simd_real(official_dir):
    df = load_simd_datazones(official_dir)
    assert len(df) == 6976 and df["data_zone"].is_unique
    nl = df[df["council_area"] == NL]
    assert len(nl) == 447
    assert int(nl["total_population"].sum()) == 339960
    assert df["simd_quintile"].value_counts().between(1390, 1400).all()
    assert df["simd_rank"].min() == 1 and df["simd_rank"].max() == 6976
    assert df["income_rate"].between(0, 100).all()  # "8%" -> 8.0
    assert load_report(df)["suppressed_by_column"]["crime_rate"] == 500


def test_simd_broken(tmp_path, official_dir):
    lines = _head(official_dir / SIMD, tmp_path / SIMD, 5)
    assert len(load_simd_datazones(tmp_path)) == 5
    bad = lines[:]
    bad[2] = bad[2].replace('"S01006507","Culter","Aberdeen City",793',
                            '"S01006507","Culter","Aberdeen City",many')
    (tmp_path / SIMD).write_text("\n".join(bad) + "\n")
    clear_cache(tmp_path)
    with pytest.raises(DataError, match="Total_population"):
        load_simd_datazones(tmp_path)
    (tmp_path / SIMD).write_text(lines[0].replace("SIMD2020v2_Quintile", "Q") + "\n"
                                 + "\n".join(lines[1:]) + "\n")
    clear_cache(tmp_path)
    with pytest.raises(DataError, match="simd_quintile"):
        load_simd_datazones(tmp_path)


def test_locations_real(official_dir):
    df = load_school_locations(official_dir)
    assert len(df) == 2483
    assert (df["local_authority"] == NL).sum() == 155
    assert df["latitude"].between(54.6, 61).all() and df["longitude"].between(-8, -0.5).all()
    assert df["seed_code"].str.fullmatch(r"\d+").all()
    banded = df.dropna(subset=["simd20_pct_band"])
    assert (banded["simd20_pct_low"] <= banded["simd20_pct_high"]).all()
    assert df["simd20_pct_suppressed"].to_numpy(dtype=bool).sum() == 388


def test_locations_broken(tmp_path, official_dir):
    lines = _head(official_dir / LOCATIONS, tmp_path / LOCATIONS, 6)
    assert len(load_school_locations(tmp_path)) == 6
    (tmp_path / LOCATIONS).write_text("\n".join(lines + [lines[1]]) + "\n")
    clear_cache(tmp_path)
    with pytest.raises(DataError, match="appears twice"):
        load_school_locations(tmp_path)
    (tmp_path / LOCATIONS).write_text(lines[0].replace("Latitude", "Lat") + "\n"
                                      + "\n".join(lines[1:]) + "\n")
    clear_cache(tmp_path)
    with pytest.raises(DataError, match="Latitude|latitude"):
        load_school_locations(tmp_path)


def test_contact_list_real(official_dir):
    df = load_contact_list(official_dir)
    assert len(df) == 2440 and df["seed_code"].is_unique
    assert (df["local_authority"] == NL).sum() == 154
    assert df["secondary_department"].dtype == "boolean"
    assert not df["school_name"].str.contains("&apos;").any()


def test_contact_list_broken(tmp_path, official_dir):
    shutil.copy(official_dir / "school-contact-list-2024-10-31.xlsx",
                tmp_path / "school-contact-list-2024-10-31.xlsx")
    with pytest.raises(DataError, match="sheet"):
        load_contact_list(tmp_path, sheet="No such sheet")
    (tmp_path / "school-contact-list-2024-10-31.xlsx").write_bytes(b"")
    clear_cache(tmp_path)
    with pytest.raises(DataError, match="empty"):
        load_contact_list(tmp_path)


def test_missing_files_say_where_to_get_them(tmp_path):
    with pytest.raises(DataError, match="gov.scot"):
        load_acel(tmp_path)
    with pytest.raises(DataError, match="simd"):
        load_simd_datazones(tmp_path)


# ---------------------------------------------------------------------------
# Encodings, binary files, damaged workbooks, figures that contradict the roll
# ---------------------------------------------------------------------------

def _cut_copy(official_dir, tmp_path, name, n_rows=30):
    from _mutants import cut_csv, cut_xlsx

    data = (official_dir / name).read_bytes()
    data = cut_csv(data, n_rows) if name.endswith(".csv") else cut_xlsx(data, n_rows)
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name, loader", [
    ("school-level-summary-statistics-2024.csv", "load_school_statistics"),
    ("acel-2021-22-schools.csv", "load_acel"),
    ("simd2020v2-datazones.csv", "load_simd_datazones"),
    ("school-roll-and-locations-2023.csv", "load_school_locations"),
])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"])
def test_csv_in_any_accepted_encoding_loads_the_same_table(official_dir, tmp_path, name,
                                                           loader, encoding):
    from nlc_eval.data import official

    path = _cut_copy(official_dir, tmp_path, name)
    load = getattr(official, loader)
    expected = load(path)
    other = tmp_path / encoding / name
    other.parent.mkdir()
    other.write_bytes(path.read_bytes().decode("utf-8-sig").encode(encoding))
    pd.testing.assert_frame_equal(load(other), expected)


@pytest.mark.parametrize("content", [bytes(range(256)) * 8, b"\x00\x01\x02" * 500,
                                     b"\x81\x8d\x8f\x90\x9d" * 100])
def test_binary_garbage_is_a_data_error(tmp_path, content):
    from nlc_eval.data import official

    path = tmp_path / "school-level-summary-statistics-2024.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match="not text|binary data") as err:
        official.load_school_statistics(path)
    assert path.name in str(err.value) and "Fix:" in str(err.value)


def test_simd_counts_above_the_roll_are_a_data_error(official_dir, tmp_path):
    import csv
    import io

    from nlc_eval.data import official

    path = _cut_copy(official_dir, tmp_path, "school-level-summary-statistics-2024.csv")
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
    q1 = next(j for j, h in enumerate(rows[0]) if h.startswith("SIMD Quintile 1"))
    roll = rows[0].index("Pupil roll")
    rows[5][q1] = str(int(rows[5][roll]) * 10)      # far above the school's roll
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    with pytest.raises(DataError, match="exceeds the pupil roll") as err:
        official.load_school_statistics(path)
    assert "row 6" in str(err.value) and "SIMD Quintile 1" in str(err.value)


@pytest.mark.parametrize("damage", ["no worksheets", "no workbook part", "bad shared string"])
def test_damaged_workbook_is_a_data_error(official_dir, tmp_path, damage):
    import io
    import re
    import zipfile

    from nlc_eval.data import official

    path = _cut_copy(official_dir, tmp_path, "school-level-summary-statistics-2023.xlsx")
    src = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    members = {i.filename: src.read(i.filename) for i in src.infolist()}
    if damage == "no worksheets":
        members = {k: v for k, v in members.items() if not k.startswith("xl/worksheets/")}
    elif damage == "no workbook part":
        members.pop("xl/workbook.xml")
    else:
        part = "xl/worksheets/sheet3.xml"
        members[part] = re.sub(rb'(t="s"[^>]*><v>)\d+', rb"\g<1>99999999", members[part],
                               count=1)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in members.items():
            z.writestr(k, v)
    path.write_bytes(buf.getvalue())
    with pytest.raises(DataError) as err:
        official.load_school_statistics(path)
    assert path.name in str(err.value) and "Fix:" in str(err.value)
