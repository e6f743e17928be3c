"""Benchmark of the official-data loaders.

Times a cold load of each school-statistics edition, all six together, a cached reload,
the other loaders, and the lean xlsx reader against openpyxl on the same sheet.

Usage::

    NLC_EVAL_OFFICIAL_DATA=../shared/data/scotgov python benchmarks/bench_official.py [--write]

``--write`` also saves the table to ``benchmarks/results/official.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

from nlc_eval.data import official
from nlc_eval.data._official_io import _read_xlsx_openpyxl
from nlc_eval.data._xlsx import read_sheet


def _time(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("NLC_EVAL_OFFICIAL_DATA"))
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if not args.data:
        print("set NLC_EVAL_OFFICIAL_DATA or pass --data", file=sys.stderr)
        return 2
    data = Path(args.data)
    rows: list[tuple[str, float]] = []
    files = official.find_official_files(data, "school_statistics")
    for year in sorted(files):
        official.clear_cache()
        rows.append((f"school statistics {year} (cold)",
                     _time(lambda y=int(year): official.load_school_statistics(data, y))))
    official.clear_cache()
    rows.append(("school statistics, all years (cold)",
                 _time(lambda: official.load_school_statistics(data))))
    rows.append(("school statistics, all years (cached)",
                 _time(lambda: official.load_school_statistics(data), repeat=3)))
    for name, fn in [("ACEL", official.load_acel), ("SIMD data zones",
                     official.load_simd_datazones), ("roll and locations",
                     official.load_school_locations), ("contact list",
                     official.load_contact_list)]:
        official.clear_cache()
        rows.append((f"{name} (cold)", _time(lambda fn=fn: fn(data))))
    sheet = files["2021"]
    rows.append(("read 2021 sheet: lean reader", _time(lambda: read_sheet(sheet))))
    rows.append(("read 2021 sheet: openpyxl", _time(lambda: _read_xlsx_openpyxl(sheet, None))))

    width = max(len(r[0]) for r in rows)
    lines = [f"| {'step'.ljust(width)} | seconds |", f"|{'-' * (width + 2)}|---------|"]
    lines += [f"| {name.ljust(width)} | {secs:7.2f} |" for name, secs in rows]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    header = (f"Official loaders on {platform.python_implementation()} "
              f"{platform.python_version()}, {os.cpu_count()} CPUs, load average {load:.1f} "
              f"at start of the last step")
    text = "\n".join([header, "", *lines])
    print(text)
    if args.write:
        out = Path(__file__).parent / "results" / "official.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("# Benchmark: official loaders\n\nCommand: `NLC_EVAL_OFFICIAL_DATA="
                       "../shared/data/scotgov python benchmarks/bench_official.py --write`"
                       "\n\n" + text + "\n")
        print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
