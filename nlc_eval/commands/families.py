"""``nlc-eval families``: form family groups from the official school statistics."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

NAME = "families"
HELP = ("Form family groups of similar schools (size and SIMD) and write them to a CSV and "
        "an XLSX workbook.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--year", type=int, required=True, help="census year, e.g. 2024")
    parser.add_argument("--sector", default="primary",
                        choices=["primary", "secondary", "special", "all"],
                        help="sector to group, or all three (default primary)")
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
    parser.add_argument("--keep", default=None, metavar="FILE",
                        help="CSV or XLSX (columns seed_code, family[, sector]) of schools "
                        "locked into named families; the rest are formed around them")
    parser.add_argument("--keep-open", action="store_true",
                        help="let the families of --keep gain schools up to the maximum "
                        "size (by default a family listed with at least the minimum size "
                        "is kept exactly as listed; smaller ones are filled up)")
    parser.add_argument("--bound-time", type=float, default=300.0, metavar="SECONDS",
                        help="safety time limit of the certified lower bound of each large "
                        "group (default 300; it normally finishes well within it)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--data", metavar="DIR",
                        help="folder of official files (default $NLC_EVAL_OFFICIAL_DATA)")
    parser.add_argument("--out", default=None, metavar="FILE",
                        help="CSV to write (default families-<sector>-<year>.csv)")
    parser.add_argument("--xlsx", default=None, metavar="FILE",
                        help="workbook to write (default: the CSV name with .xlsx): a sheet "
                        "per sector with each family's members and profile, and a quality "
                        "sheet with the within-family SS, its certified lower bound and gap")


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


def _read_table(path: str, what: str):
    import pandas as pd

    from nlc_eval.errors import DataError

    p = Path(path)
    if not p.is_file():
        raise DataError(f"the {what} file does not exist.", table=str(p),
                        fix="give the path of a CSV or XLSX file.")
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        t = pd.read_excel(p, dtype={"seed_code": str, "family": str})
    else:
        t = pd.read_csv(p, dtype={"seed_code": str, "family": str})
    missing = [c for c in ("seed_code", "family") if c not in t.columns]
    if missing:
        raise DataError(f"the {what} file has no column {missing[0]!r}.", table=str(p),
                        column=missing[0], fix="give columns seed_code and family "
                        "(and optionally sector).")
    bad = t["seed_code"].isna() | t["family"].isna()
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0]) + 2
        raise DataError(f"the {what} file has a blank seed_code or family.", table=str(p),
                        column="seed_code" if t["seed_code"].isna().any() else "family",
                        row=row, fix="fill or delete that row.")
    return t


def workbook_sheets(result, sectors) -> dict:
    """The sheets of the families workbook, every one passed through small-number
    suppression (rolls under 5 pupils are hidden, with the profile figures derived from
    them)."""

    from nlc_eval.disclosure import format_suppressed, suppress

    sheets = {}
    members = result.members
    table = result.table()
    for sector in sectors:
        m = members[members["sector"] == sector]
        if m.empty:
            continue
        cols = [c for c in ("family", "seed_code", "school_name", "roll", "simd_mean_quintile",
                            "simd_q1_share", "distance_to_centre", "cannot_link_group",
                            "previous_family", "changed") if c in m.columns]
        mm = m[cols].rename(columns={"cannot_link_group": "cluster"}).sort_values(
            ["family", "school_name"]).reset_index(drop=True)
        rates = {c: (None, "roll") for c in ("simd_mean_quintile", "simd_q1_share")
                 if c in mm.columns}
        mm["roll"] = mm["roll"].round().astype("int64")
        mm = format_suppressed(suppress(mm, count_columns=["roll"], rate_columns=rates,
                                        margins=False), decimals=3)
        fam = table[table["group"] == sector].drop(columns=["group"]).reset_index(drop=True)
        counts = [c for c in ("roll_min", "roll_max") if c in fam.columns]
        for c in counts:
            fam[c] = fam[c].round().astype("int64")
        frates = {c: ["roll_min"] for c in fam.columns if c.endswith("_mean")
                  and "roll_min" in fam.columns}
        fam = fam.astype({"n_schools": "float64"})
        fam = format_suppressed(suppress(fam, count_columns=counts, rate_columns=frates,
                                         margins=False), decimals=3)
        fam["n_schools"] = fam["n_schools"].map(lambda v: str(int(float(v))))
        sheets[sector] = fam
        sheets[f"{sector} schools"] = mm
    q = result.quality(n_random=100).reset_index()
    keep = [c for c in ("group", "solver", "n_schools", "n_families", "size_min", "size_max",
                        "within_ss", "objective", "lower_bound", "gap", "gap_note",
                        "ratio_to_random", "ratio_to_kmeans", "silhouette",
                        "cannot_link_violations", "changed") if c in q.columns]
    sheets["quality"] = q[keep]
    return sheets


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from nlc_eval.config import official_data_dir
    from nlc_eval.data.official import load_school_locations, load_school_statistics
    from nlc_eval.errors import ConstraintError, DataError
    from nlc_eval.families import SECTOR_SIZES, form_families

    folder = official_data_dir(args.data)
    sectors = ["primary", "secondary", "special"] if args.sector == "all" else [args.sector]
    if args.size and len(sectors) > 1:
        raise ConstraintError("--size applies to one sector; with --sector all the "
                              "authority's bounds are used (6-10, 3-4, 3-7).")
    size = {args.sector: parse_size(args.size)} if args.size else SECTOR_SIZES
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

        locations = load_school_locations(folder)
        has = schools["seed_code"].astype(str).isin(set(locations["seed_code"].astype(str)))
        if not has.all():
            codes = sorted(schools.loc[~has, "seed_code"].astype(str))
            print(f"Note: {len(codes)} school(s) are not in the locations file, so they have "
                  f"no cluster and are not kept apart from any school: {', '.join(codes)}.")
        clusters = approximate_clusters(schools[has], locations)
        schools = schools.merge(clusters[["seed_code", "sector", "cluster"]],
                                on=["seed_code", "sector"], how="left")
    schools = schools[schools["sector"].astype(str).isin(sectors)]
    if schools.empty:
        raise DataError(f"no {args.sector} schools for {args.authority} in {args.year}.",
                        column="sector", fix="check --sector and --year.")
    previous = None
    if args.previous:
        previous = _read_table(args.previous, "--previous")
        if "sector" in previous.columns:
            previous = previous[previous["sector"].isin(sectors)]
    fixed = None
    if args.keep:
        fixed = _read_table(args.keep, "--keep")
        if "sector" in fixed.columns:
            fixed = fixed[fixed["sector"].isin(sectors)]
        unknown = sorted(set(fixed["seed_code"]) - set(schools["seed_code"].astype(str)))
        if unknown:
            raise DataError(f"--keep lists {len(unknown)} school(s) not among the "
                            f"{args.sector} schools of {args.year}: {unknown[:5]}.",
                            table=args.keep, column="seed_code",
                            fix="check the seed codes, --sector and --year.")
    result = form_families(schools, size=size, cannot_link=args.cannot_link,
                           previous=previous, fixed=fixed, random_state=args.seed,
                           closed=False if args.keep_open else "auto",
                           n_families=args.families, bound_time=args.bound_time)
    out = Path(args.out or f"families-{args.sector}-{args.year}.csv")
    cols = [c for c in ("seed_code", "school_name", "sector", "family", "roll",
                        "simd_mean_quintile", "simd_q1_share", "distance_to_centre",
                        "cannot_link_group", "previous_family", "changed")
            if c in result.members.columns]
    table = result.members[cols].rename(columns={"cannot_link_group": "cluster"})
    table.sort_values(["family", "school_name"]).to_csv(out, index=False)
    book = Path(args.xlsx) if args.xlsx else out.with_suffix(".xlsx")
    with pd.ExcelWriter(book, engine="openpyxl") as xl:
        for name, sheet in workbook_sheets(result, sectors).items():
            sheet.to_excel(xl, sheet_name=name[:31], index=False)
    print(result.summary())
    print(f"Wrote {len(table)} schools in {result.members['family'].nunique()} families "
          f"to {out} and {book}.")
    return 0
