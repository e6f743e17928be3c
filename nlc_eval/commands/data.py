"""``nlc-eval data check``: summarise the official files and what loading did to them."""

from __future__ import annotations

import argparse

NAME = "data"
HELP = "Check the official gov.scot files: schools per year, suppressed and reconstructed cells."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="load every official file and print a summary",
                           description="Load every official file and print, per year, "
                           "schools, North Lanarkshire schools by sector, cells suppressed "
                           "and reconstructed, and rows excluded and why.")
    check.add_argument("--data", metavar="DIR",
                       help="folder of official files (default $NLC_EVAL_OFFICIAL_DATA)")
    check.add_argument("--authority", default="North Lanarkshire",
                       help="local authority counted by sector (default North Lanarkshire)")


def run(args: argparse.Namespace) -> int:
    from nlc_eval.config import official_data_dir
    from nlc_eval.data.check import data_check_report

    folder = official_data_dir(args.data)
    print(data_check_report(folder, authority=args.authority))
    return 0
