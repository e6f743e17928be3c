"""Benchmark of the authority comparison on the official files.

Times, after one (untimed) load of the official files: comparator selection and virtual
comparator values for three authorities, the yearly gaps, the comparative DiD for every
outcome, and the synthetic control of attendance with its 31 placebo runs.

Usage::

    NLC_EVAL_OFFICIAL_DATA=../shared/data/scotgov python benchmarks/bench_compare.py [--write]

``--write`` also saves the table to ``benchmarks/results/compare.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

from nlc_eval import compare_report
from nlc_eval.comparators import harmonise_authorities
from nlc_eval.compare import acel_outcomes, compare_authority
from nlc_eval.data import official
from nlc_eval.synthetic_control import authority_synthetic_control

AUTHORITIES = ("North Lanarkshire", "Fife", "Glasgow City")


def _time(fn, repeat: int = 1):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("NLC_EVAL_OFFICIAL_DATA"))
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    if not args.data:
        print("set NLC_EVAL_OFFICIAL_DATA or pass --data", file=sys.stderr)
        return 2
    data = Path(args.data)
    stats = harmonise_authorities(official.load_school_statistics(data))
    acel = acel_outcomes(official.load_acel(data), stats)
    rows: list[tuple[str, float, str]] = []
    for la in AUTHORITIES:
        secs, cmp = _time(lambda la=la: compare_authority(stats, la, k=args.k, extra=acel))
        n = cmp.comparators[["seed_code", "sector"]].drop_duplicates().shape[0]
        rows.append((f"compare_authority {la} (k={args.k})", secs, f"{n} schools"))
        secs, gaps = _time(lambda cmp=cmp: cmp.gaps(by_sector=True))
        rows.append((f"gaps by sector {la}", secs, f"{len(gaps)} rows"))
        secs, (table, _) = _time(lambda cmp=cmp: compare_report.did_table(cmp, 2019, 2024))
        rows.append((f"comparative DiD, all outcomes {la}", secs,
                     f"{int(table['estimate'].notna().sum())} estimates"))
        secs, sc = _time(lambda la=la: authority_synthetic_control(stats, la))
        rows.append((f"synthetic control + placebos {la}", secs, f"{sc.n_units} authorities"))
    width = max(len(r[0]) for r in rows)
    lines = [f"| {'step':<{width}} | seconds | size |", f"|{'-' * (width + 2)}|---:|---|"]
    lines += [f"| {name:<{width}} | {secs:7.2f} | {size} |" for name, secs, size in rows]
    header = (f"Authority comparison benchmark ({platform.python_version()}, "
              f"{platform.machine()}, {os.cpu_count()} cores; official files loaded once, "
              "not timed)")
    text = header + "\n\n" + "\n".join(lines) + "\n"
    print(text)
    if args.write:
        out = Path(__file__).parent / "results" / "compare.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("# " + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
