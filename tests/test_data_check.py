"""Tests of the data check report and the ``nlc-eval data check`` command."""

from __future__ import annotations

import pytest

from nlc_eval.cli import main
from nlc_eval.data.check import data_check_report, school_statistics_summary


@pytest.fixture(scope="module")
def report(official_dir) -> str:
    return data_check_report(official_dir)


def test_report_per_year(report):
    for year in range(2019, 2025):
        assert f"  {year}: school-level-summary-statistics-{year}." in report
    assert "schools: 2,445 (26 combined campuses" in report
    assert "North Lanarkshire: 154 = 118 primary, 23 secondary, 13 special" in report
    assert "footnote rows under the table" in report
    assert "rows excluded: 12 blank rows" in report
    assert "suppressed cells reconstructed" in report


def test_report_other_files(report):
    assert "ACEL: acel-2021-22-schools.csv: 9,404 rows (North Lanarkshire 568)" in report
    assert "SIMD data zones: simd2020v2-datazones.csv: 6,976 rows" in report
    assert "school roll and locations" in report and "contact list" in report


def test_summary_numbers_match_the_table(official_dir):
    rows = {r["year"]: r for r in school_statistics_summary(official_dir)}
    assert rows[2024]["schools"] == 2445
    assert rows[2024]["simd_cells_reconstructed"] > 0
    assert rows[2019]["excluded"]["footnote rows under the table"] > 0


def test_cli_data_check(official_dir, capsys):
    assert main(["data", "check", "--data", str(official_dir)]) == 0
    out = capsys.readouterr().out
    assert "North Lanarkshire: 154 = 118 primary" in out


def test_cli_data_check_bad_folder(tmp_path, capsys):
    assert main(["data", "check", "--data", str(tmp_path / "missing")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["data", "check", "--data", str(tmp_path)]) == 1
    assert "no school-level summary statistics" in capsys.readouterr().err
