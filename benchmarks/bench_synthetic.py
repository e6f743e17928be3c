"""Time to generate a whole synthetic authority (and to check and write it).

Usage::

    python benchmarks/bench_synthetic.py [--repeat 3] [--official DIR] [--write]

Prints a small table (median seconds over the repeats, with min and max) and, with
``--write``, saves it as ``benchmarks/results/synthetic.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from nlc_eval.data.extracts import load_extracts, validate_extracts
from nlc_eval.data.synthetic import authority


def _time(fn, repeat: int) -> tuple[list[float], object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--official", type=Path, default=None,
                        help="also time generation from official North Lanarkshire schools")
    parser.add_argument("--write", action="store_true",
                        help="save the table to benchmarks/results/synthetic.md")
    args = parser.parse_args(argv)

    rows = []
    times, a = _time(lambda: authority(seed=0), args.repeat)
    size = (f"{len(a.schools)} schools, {len(a.pupils):,} pupil-sessions, "
            f"{len(a.attendance):,} pupil-terms, {len(a.supports):,} supports")
    rows.append(("authority(seed=0), invented estate", times, size))
    if args.official is not None:
        from nlc_eval.commands.synth import official_schools

        schools, locations = official_schools(args.official, "North Lanarkshire")
        t, b = _time(lambda: authority(schools, seed=0, locations=locations), args.repeat)
        rows.append(("authority(official NL schools)", t, f"{len(b.pupils):,} pupil-sessions"))
    t, _ = _time(lambda: validate_extracts(a.extracts()), args.repeat)
    rows.append(("validate_extracts (all checks)", t, "schemas + cross-table rules"))
    with tempfile.TemporaryDirectory() as tmp:
        t, _ = _time(lambda: a.write(tmp), 1)
        rows.append(("Authority.write (CSV)", t, "five tables + truth.json"))
        t, _ = _time(lambda: load_extracts(tmp), 1)
        rows.append(("load_extracts (CSV)", t, "read + all checks"))

    lines = [
        "# Synthetic authority benchmark",
        "",
        f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"load average at the end {os.getloadavg()[0]:.1f} (shared machine), "
        f"repeats: {args.repeat} (write/load: 1). Command: "
        "`python benchmarks/bench_synthetic.py" + (" --official DIR" if args.official else "")
        + "`",
        "",
        "| step | median s | min s | max s | size |",
        "|---|---|---|---|---|",
    ]
    for name, t, note in rows:
        lines.append(f"| {name} | {statistics.median(t):.2f} | {min(t):.2f} | {max(t):.2f} "
                     f"| {note} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        out = Path(__file__).resolve().parent / "results" / "synthetic.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
