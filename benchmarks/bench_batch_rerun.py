"""Benchmark: an unchanged rerun of a report batch (target: at most 5 s).

Runs ``nlc-eval reports`` twice on the same selection into a fresh folder: the first run
builds the context and executes the notebooks; the second finds the same selection, input
files, notebooks and kit in the folder's manifest and returns without rebuilding anything.
A third run with ``--force`` re-runs everything, for comparison. Each run is a separate
process, timed from start to exit (so imports count).

Usage::

    python benchmarks/bench_batch_rerun.py [--data DIR] [--clusters 01 ...] [--write]

``--data`` (or ``NLC_EVAL_OFFICIAL_DATA``) uses the official estate; without it the
synthetic one. ``--write`` saves the table to ``benchmarks/results/batch_rerun.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 5.0


def _run(args: list[str]) -> tuple[float, int, str]:
    cmd = [str(Path(sys.executable).parent / "nlc-eval"), "reports", *args, "--quiet"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return time.perf_counter() - t0, done.returncode, (done.stdout + done.stderr).strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("NLC_EVAL_OFFICIAL_DATA"))
    ap.add_argument("--clusters", nargs="+", default=["01"])
    ap.add_argument("--write", action="store_true")
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="nlc-bench-rerun-") as tmp:
        base = ["--clusters", *opts.clusters, "--out", tmp, "--jobs", "1"]
        if opts.data:
            base += ["--data", opts.data]
        rows = []
        for label, extra in (("first run", []), ("unchanged rerun", []),
                             ("rerun with --force", ["--force"])):
            secs, code, text = _run(base + extra)
            if code != 0:
                print(text, file=sys.stderr)
                return code
            rows.append((label, secs, text.splitlines()[0]))
            print(f"{label}: {secs:.1f} s  ({rows[-1][2]})")
    rerun = rows[1][1]
    verdict = "meets" if rerun <= TARGET_S else "MISSES"
    lines = [
        "# Unchanged rerun of a report batch",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {platform.node()} · {os.cpu_count()} CPUs · "
        f"Python {platform.python_version()} · estate: "
        f"{'official' if opts.data else 'synthetic'} · clusters {', '.join(opts.clusters)}",
        "",
        "Command: `python benchmarks/bench_batch_rerun.py"
        + (" --data DIR" if opts.data else "") + f" --clusters {' '.join(opts.clusters)}`",
        "",
        "| run | seconds | summary |",
        "|---|---:|---|",
        *[f"| {label} | {secs:.1f} | {summary} |" for label, secs, summary in rows],
        "",
        f"The unchanged rerun {verdict} the target of {TARGET_S:.0f} s.",
    ]
    text = "\n".join(lines) + "\n"
    if opts.write:
        (ROOT / "benchmarks" / "results" / "batch_rerun.md").write_text(text)
    print(text)
    return 0 if rerun <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
