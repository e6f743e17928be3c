"""``nlc-eval synth``: write a synthetic authority's five extract tables and its truth."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from nlc_eval.errors import DataError

NAME = "synth"
HELP = ("Write a seeded synthetic authority (schools, pupils, attendance, attainment, "
        "supports as CSV, plus truth.json with the planted effects).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="data/synthetic", type=Path,
                        help="folder to write to (default: data/synthetic)")
    parser.add_argument("--seed", default=0, type=int, help="random seed (default 0)")
    parser.add_argument("--official", default=None, type=Path, metavar="DIR",
                        help="folder of official gov.scot files: use the authority's real "
                        "schools (latest census year) instead of an invented estate")
    parser.add_argument("--authority", default="North Lanarkshire",
                        help="local authority to take from the official files "
                        "(default: North Lanarkshire)")
    parser.add_argument("--format", default="csv", choices=("csv", "xlsx"),
                        help="file format of the tables (default csv)")


def official_schools(directory: Path, authority: str):
    """The authority's latest official school rows and, if available, school locations."""
    from nlc_eval.data.official import load_school_locations, load_school_statistics

    years = sorted(int(m.group(1)) for f in Path(directory).glob("school-level-summary-*")
                   if (m := re.search(r"(\d{4})\.(?:csv|xlsx?)$", f.name)))
    stats = load_school_statistics(directory, years=years[-1] if years else None)
    rows = stats[stats["local_authority"] == authority]
    if rows.empty:
        raise DataError(f"no schools of {authority!r} in the official files.", file=directory,
                        column="local_authority",
                        fix="give the authority's name as published, e.g. 'North "
                        "Lanarkshire'.")
    rows = rows[rows["year"] == rows["year"].max()]
    try:
        locations = load_school_locations(directory)
    except DataError:
        locations = None
    return rows, locations


def run(args: argparse.Namespace) -> int:
    from nlc_eval.data.synthetic import authority, calibration_summary

    schools = locations = None
    if args.official is not None:
        schools, locations = official_schools(args.official, args.authority)
    a = authority(schools, seed=args.seed, locations=locations)
    paths = a.write(args.out, fmt=args.format)
    c = calibration_summary(a)
    print(f"wrote {len(paths)} files to {args.out}: "
          + ", ".join(p.name for p in paths))
    print(f"{int(c['pupils']):,} pupils in {a.design['reference_session']}/"
          f"{(a.design['reference_session'] + 1) % 100:02d} at {len(a.schools)} schools; "
          f"{a.supports['pupil_id'].nunique():,} pupils supported over "
          f"{len(a.design['sessions'])} sessions; attendance "
          f"{c['attendance_rate']:.1f}% in {a.design['sessions'][1]}/"
          f"{(a.design['sessions'][1] + 1) % 100:02d}")
    return 0
