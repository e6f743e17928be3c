"""``nlc-eval reports``: run the cluster, family and authority report notebooks."""

from __future__ import annotations

import argparse
import sys

NAME = "reports"
HELP = ("Run the report notebooks (one per cluster, per family group, and the authority-wide "
        "ones) and write HTML, executed notebooks, index.html and manifest.json.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clusters", nargs="*", metavar="ID",
                        help="cluster ids, or 'all' (default when no selection is given)")
    parser.add_argument("--families", nargs="*", metavar="ID",
                        help="family group ids, or 'all' (default when no selection is given)")
    parser.add_argument("--authority", action="store_true",
                        help="run the authority-wide reports")
    parser.add_argument("--data", metavar="DIR",
                        help="folder of official gov.scot files (default "
                        "$NLC_EVAL_OFFICIAL_DATA; without it the synthetic estate is used)")
    parser.add_argument("--extracts", metavar="DIR",
                        help="folder of the council's pupil-level extracts (default: "
                        "synthetic pupil data)")
    parser.add_argument("--out", default="reports", metavar="DIR",
                        help="output folder (default: reports)")
    parser.add_argument("--jobs", type=int, default=2, metavar="N",
                        help="notebooks run at once (default 2)")
    parser.add_argument("--executor", default="local", metavar="local|ADDRESS",
                        help="'local' (default) or a dask.distributed scheduler address")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    parser.add_argument("--cold", action="store_true",
                        help="start a fresh kernel for every report instead of reusing "
                        "one per worker")
    parser.add_argument("--force", action="store_true",
                        help="re-run every report (default: only those whose notebook, "
                        "parameters, input files or kit changed since their page was made)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def selection(args: argparse.Namespace) -> tuple:
    """(clusters, families, authority) from the arguments; nothing chosen = everything."""
    chosen = args.clusters is not None or args.families is not None or args.authority
    if not chosen:
        return "all", "all", True
    clusters = args.clusters if args.clusters is not None else None
    families = args.families if args.families is not None else None
    return ([] if clusters is None else clusters or "all",
            [] if families is None else families or "all", bool(args.authority))


def run(args: argparse.Namespace) -> int:
    from nlc_eval.reports.batch import run_batch

    clusters, families, authority = selection(args)
    try:
        result = run_batch(clusters=clusters, families=families, authority=authority,
                           data=args.data, extracts=args.extracts, out=args.out,
                           n_jobs=args.jobs, executor=args.executor, seed=args.seed,
                           warm=not args.cold, progress=not args.quiet, force=args.force)
    except KeyboardInterrupt:
        print(interrupted(args.out), file=sys.stderr)
        return 130
    stream = sys.stderr if result.failed else sys.stdout
    print(result.summary(), file=stream)
    return result.exit_code


def interrupted(out: str) -> str:
    """What to tell the user after Ctrl-C (instead of a traceback)."""
    return (f"interrupted: the reports finished so far are published in {out} and listed "
            "in its index; run the same command again to finish the rest (finished reports "
            "are not redone).")
