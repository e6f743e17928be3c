"""Cost of disclosure control: time and cells hidden, line rule only vs the exact check.

Usage::

    python benchmarks/bench_disclosure.py [--repeat 3] [--write]

Random count tables (a third of cells 1-4, the rest 0-60) of growing size, with row and
column totals, suppressed with ``exact=False`` (no row or column with a single hidden
cell) and ``exact=True`` (also no value recoverable by combining rows and columns). For
each: median seconds, cells hidden beyond the primary ones, and how many hidden cells the
line rule alone leaves recoverable (rank test). Prints a table; ``--write`` saves it as
``benchmarks/results/disclosure.md``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

from nlc_eval.disclosure import suppress, suppression_log


def _table(rows: int, cols: int, rng: np.random.Generator) -> pd.DataFrame:
    small = rng.random((rows, cols)) < 1 / 3
    values = np.where(small, rng.integers(1, 5, (rows, cols)), rng.integers(0, 61, (rows, cols)))
    return pd.DataFrame(values, index=[f"r{i}" for i in range(rows)],
                        columns=[f"c{j}" for j in range(cols)])


def _recoverable(out: pd.DataFrame) -> int:
    """Hidden non-zero cells determined by the relations (independent rank test)."""
    rec = out.attrs["disclosure"]
    cols = rec["count_columns"]
    hidden = [(r, c) for r in out.index for c in cols if out.loc[r, c] is pd.NA]
    if not hidden:
        return 0
    pos = {h: k for k, h in enumerate(hidden)}
    rels = []
    for total, members in rec["row_relations"]:
        for r in out.index:
            v = np.zeros(len(hidden))
            for c in members:
                if (r, c) in pos:
                    v[pos[(r, c)]] += 1
            if (r, total) in pos:
                v[pos[(r, total)]] -= 1
            rels.append(v)
    if rec["total_row"] is not None:
        for c in cols:
            v = np.zeros(len(hidden))
            for r in out.index:
                if (r, c) in pos:
                    v[pos[(r, c)]] += -1 if r == rec["total_row"] else 1
            rels.append(v)
    a = np.array(rels)
    base = np.linalg.matrix_rank(a)
    found = 0
    for k in range(len(hidden)):
        e = np.zeros(len(hidden))
        e[k] = 1
        found += np.linalg.matrix_rank(np.vstack([a, e])) == base
    return int(found)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    lines = ["| table (rows x cols) | rule | median s | primary | secondary | "
             "recoverable after |", "|---|---|---|---|---|---|"]
    for rows, cols in ((10, 4), (23, 6), (60, 8), (150, 10)):
        table = _table(rows, cols, rng)
        for exact in (False, True):
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                out = suppress(table, exact=exact)
                times.append(time.perf_counter() - t0)
            log = suppression_log(out)
            lines.append(
                f"| {rows} x {cols} | {'exact' if exact else 'line rule'} | "
                f"{statistics.median(times):.3f} | {(log.reason == 'primary').sum()} | "
                f"{(log.reason == 'secondary').sum()} | {_recoverable(out)} |")
    text = "\n".join(lines)
    note = (f"\nMachine: {platform.machine()}, Python {platform.python_version()}; "
            f"median of {args.repeat} runs. Command: "
            "`python benchmarks/bench_disclosure.py --write`.\n")
    print(text + "\n" + note)
    if args.write:
        path = Path(__file__).parent / "results" / "disclosure.md"
        path.parent.mkdir(exist_ok=True)
        path.write_text("# Disclosure control: cost of the exact check\n\n" + text + "\n" + note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
