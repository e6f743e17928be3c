"""``nlc-eval families``: form family groups from the official school statistics."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

NAME = "families"
HELP = "Form family groups of similar schools (size and SIMD) and write them to a CSV."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--year", type=int, required=True, help="census year, e.g. 2024")
    parser.add_argument("--sector", default="primary",
                        choices=["primary", "secondary", "special"],
                        help="sector to group (default primary)")
    parser.add_argument("--size", default=None, metavar="MIN-MAX",
                        help="family size bounds, e.g. 6-10 (default 6-10 for primaries, "
                        "3-4 for secondaries, 3-7 for special schools)")
    parser.add_argument("--families", type=int, default=None, metavar="K",
                        help="number of families (default chosen from the bounds)")
    parser.add_argument("--cannot-link", default=None, choices=["cluster"],
                        help="keep schools of the same cluster in different families "
                        "(clusters approximated from school locations)")
    parser.add_argument("--authority", default="North Lanarkshire",
                        help='local authority as published, or "all" for Scotland '
                        "(default North Lanarkshire)")
    parser.add_argument("--previous", default=None, metavar="CSV",
                        help="last year's families (columns seed_code, family): warm start "
                        "that keeps most schools in their family")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--data", metavar="DIR",
                        help="folder of official files (default $NLC_EVAL_OFFICIAL_DATA)")
    parser.add_argument("--out", default=None, metavar="FILE",
                        help="CSV to write (default families-<sector>-<year>.csv)")


def parse_size(text: str):
    """Parse ``"6-10"`` into ``(6, 10)``.

    >>> parse_size("3-4")
    (3, 4)
    """
    from nlc_eval.errors import ConstraintError

    m = re.fullmatch(r"\s*(\d+)\s*[-:,]\s*(\d+)\s*", text or "")
    if not m:
        raise ConstraintError(f"--size must look like 6-10 (got {text!r}).")
    return int(m.group(1)), int(m.group(2))


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from nlc_eval.config import official_data_dir
    from nlc_eval.data.official import load_school_locations, load_school_statistics
    from nlc_eval.errors import DataError
    from nlc_eval.families import SECTOR_SIZES, form_families

    folder = official_data_dir(args.data)
    size = parse_size(args.size) if args.size else SECTOR_SIZES[args.sector]
    schools = load_school_statistics(folder, years=[args.year])
    if args.authority.lower() != "all":
        la = schools["local_authority"].astype(str)
        schools = schools[la.str.lower() == args.authority.lower()]
        if schools.empty:
            raise DataError(f"no schools for authority {args.authority!r} in {args.year}.",
                            column="local_authority",
                            fix="use the name as published, e.g. \"North Lanarkshire\".")
    # clusters are built from all sectors (primaries join a secondary), then filtered
    if args.cannot_link == "cluster":
        from nlc_eval.data.clusters import approximate_clusters

        clusters = approximate_clusters(schools, load_school_locations(folder))
        schools = schools.merge(clusters[["seed_code", "sector", "cluster"]],
                                on=["seed_code", "sector"], how="left")
    schools = schools[schools["sector"].astype(str) == args.sector]
    if schools.empty:
        raise DataError(f"no {args.sector} schools for {args.authority} in {args.year}.",
                        column="sector", fix="check --sector and --year.")
    previous = None
    if args.previous:
        previous = pd.read_csv(args.previous, dtype={"seed_code": str, "family": str})
        if "sector" in previous.columns:
            previous = previous[previous["sector"] == args.sector]
    result = form_families(schools, size=size, cannot_link=args.cannot_link,
                           previous=previous, random_state=args.seed,
                           n_families=args.families)
    out = Path(args.out or f"families-{args.sector}-{args.year}.csv")
    cols = [c for c in ("seed_code", "school_name", "sector", "family", "roll",
                        "simd_mean_quintile", "simd_q1_share", "distance_to_centre",
                        "cannot_link_group", "previous_family", "changed")
            if c in result.members.columns]
    table = result.members[cols].rename(columns={"cannot_link_group": "cluster"})
    table.sort_values(["family", "school_name"]).to_csv(out, index=False)
    print(result.summary())
    print(f"Wrote {len(table)} schools in {result.members['family'].nunique()} families "
          f"to {out}.")
    return 0
