"""``nlc-eval demo``: every report on the official files (or the synthetic estate)."""

from __future__ import annotations

import argparse
import sys

NAME = "demo"
HELP = ("Form family groups and run every cluster, family and authority report, with the "
        "official files when available (else the synthetic estate) and synthetic pupil data; "
        "print the path of reports/index.html.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", metavar="DIR",
                        help="folder of official gov.scot files (default "
                        "$NLC_EVAL_OFFICIAL_DATA; without it the synthetic estate is used)")
    parser.add_argument("--jobs", type=int, default=2, metavar="N",
                        help="notebooks run at once (default 2)")
    parser.add_argument("--out", default="reports", metavar="DIR",
                        help="output folder (default: reports)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    parser.add_argument("--force", action="store_true",
                        help="re-run every report, even those that are up to date")


def _data_check(source) -> None:
    """Print the official-data summary first, when that command's library is installed."""
    try:
        from nlc_eval.data.check import data_check_report
    except ImportError:
        return
    print(data_check_report(source))


def run(args: argparse.Namespace) -> int:
    from nlc_eval.config import official_data_dir
    from nlc_eval.reports.batch import run_batch

    source = official_data_dir(args.data, required=False)
    if source is not None:
        print(f"Official files: {source}")
        _data_check(source)
    else:
        print("No official files given (--data or NLC_EVAL_OFFICIAL_DATA): using the "
              "synthetic estate.")
    try:
        result = run_batch(clusters="all", families="all", authority=True, data=source,
                           out=args.out, n_jobs=args.jobs, seed=args.seed, force=args.force)
    except KeyboardInterrupt:
        from nlc_eval.commands.reports import interrupted

        print(interrupted(args.out), file=sys.stderr)
        return 130
    print(result.summary(), file=sys.stderr if result.failed else sys.stdout)
    print(result.index_path.resolve())
    return result.exit_code
