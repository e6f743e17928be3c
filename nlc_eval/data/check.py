"""``nlc-eval data check``: what was read from the official files, and what was done to it.

:func:`data_check_report` loads every official file in a folder and returns a plain-text
summary: per census year the file read, schools, the authority's schools by sector, cells
suppressed and SIMD cells reconstructed, rows excluded and why; then the other files.
"""

from __future__ import annotations

import os
from pathlib import Path

from nlc_eval.data import official
from nlc_eval.errors import DataError

AUTHORITY = "North Lanarkshire"


def _excluded(excluded: dict) -> str:
    if not excluded:
        return "none"
    return ", ".join(f"{n} {why}" for why, n in excluded.items())


def school_statistics_summary(source: str | os.PathLike,
                              authority: str = AUTHORITY) -> list[dict]:
    """One dict per year: the numbers :func:`data_check_report` prints."""
    stats = official.load_school_statistics(source)
    report = official.load_report(stats)["years"]
    rows = []
    for year, info in sorted(report.items()):
        one = stats[stats["year"] == year]
        mine = one[one["local_authority"] == authority]
        by_sector = mine["sector"].value_counts()
        rows.append({
            "year": year,
            "file": info["file"],
            "sheet": info["sheet"],
            "schools": int(len(one)),
            "authority_schools": int(len(mine)),
            "primary": int(by_sector.get("primary", 0)),
            "secondary": int(by_sector.get("secondary", 0)),
            "special": int(by_sector.get("special", 0)),
            "combined_campuses": int(one["seed_code"].duplicated().sum()),
            "suppressed_cells": info["suppressed_cells"],
            "not_applicable_cells": info["not_applicable_cells"],
            "not_available_cells": info["not_available_cells"],
            "simd_rows_reconstructed": info["simd_rows_reconstructed"],
            "simd_rows_reconstructed_wide": info["simd_rows_reconstructed_wide"],
            "simd_cells_reconstructed": info["simd_cells_reconstructed"],
            "simd_rows_infeasible": info["simd_rows_infeasible"],
            "simd_cells_left_suppressed": info["simd_cells_left_suppressed"],
            "simd_rows_sum_mismatch": info["simd_rows_sum_mismatch"],
            "simd_rows_not_collected": info["simd_rows_not_collected"],
            "fsm_stages": info["fsm_stages"],
            "attendance_session": info["attendance_session"],
            "excluded": info["excluded"],
        })
    return rows


def data_check_report(source: str | os.PathLike, authority: str = AUTHORITY) -> str:
    """Plain-text summary of every official file in ``source``.

    Parameters
    ----------
    source : path-like
        Folder of official gov.scot files.
    authority : str
        Local authority whose schools are counted by sector.

    Returns
    -------
    str
        Several lines, ready to print.

    Raises
    ------
    DataError
        The folder is missing or holds no school statistics, or a file is malformed.
    """
    folder = Path(source)
    lines = [f"Official files in {folder}", ""]
    lines.append("School level summary statistics")
    for r in school_statistics_summary(folder, authority):
        where = r["file"] + (f" [sheet {r['sheet']!r}]" if r["sheet"] else "")
        lines += [
            f"  {r['year']}: {where}",
            f"    schools: {r['schools']:,} ({r['combined_campuses']} combined campuses "
            f"with a primary and a secondary row)",
            f"    {authority}: {r['authority_schools']} = {r['primary']} primary, "
            f"{r['secondary']} secondary, {r['special']} special",
            f"    cells suppressed: {r['suppressed_cells']:,}; not applicable: "
            f"{r['not_applicable_cells']:,}; not available: {r['not_available_cells']:,}",
            f"    SIMD: {r['simd_cells_reconstructed']:,} suppressed cells reconstructed in "
            f"{r['simd_rows_reconstructed']:,} rows ({r['simd_rows_reconstructed_wide']:,} "
            f"of them with secondary suppression); {r['simd_cells_left_suppressed']} cells "
            f"left suppressed in {r['simd_rows_infeasible']} infeasible rows; "
            f"{r['simd_rows_sum_mismatch']} rows published complete but not summing to the "
            f"roll (flagged); {r['simd_rows_not_collected']} rows not collected",
            f"    FSM rate covers {r['fsm_stages']} (earlier stages universally entitled); "
            f"attendance figures describe session {r['attendance_session']}",
            f"    rows excluded: {_excluded(r['excluded'])}",
        ]
    lines.append("")
    lines.append("Other files")
    others = [
        ("acel", "ACEL", official.load_acel),
        ("simd", "SIMD data zones", official.load_simd_datazones),
        ("locations", "school roll and locations", official.load_school_locations),
        ("contacts", "school contact list (open schools)", official.load_contact_list),
    ]
    for kind, label, loader in others:
        files = official.find_official_files(folder, kind)
        if not files:
            lines.append(f"  {label}: not found ({official.FILE_PATTERNS[kind][2]})")
            continue
        try:
            df = loader(folder)
        except DataError as exc:
            lines.append(f"  {label}: ERROR {exc}")
            continue
        info = official.load_report(df)
        extra = []
        if info.get("suppressed_cells"):
            extra.append(f"{info['suppressed_cells']:,} cells suppressed")
        if info.get("banded_cells"):
            extra.append(f"{info['banded_cells']:,} banded")
        extra.append(f"rows excluded: {_excluded(info.get('excluded', {}))}")
        la_col = "council_area" if "council_area" in df.columns else "local_authority"
        n_la = int((df[la_col] == authority).sum())
        lines.append(f"  {label}: {info['file']}: {len(df):,} rows ({authority} {n_la}); "
                     + "; ".join(extra))
    return "\n".join(lines)
