"""Benchmark: the whole report batch against papermill running an import-only notebook.

The batch is every report of North Lanarkshire (23 clusters, every family group, the
authority-wide reports) run by ``nlc_eval.reports`` with warm kernels. The baseline, in the
same run and with the same number of workers, is papermill's own engine executing a notebook
that only imports what a report imports, once per report (a cold kernel each time): the
fixed cost any per-report papermill batch pays before doing any work.

Usage::

    python benchmarks/bench_reports.py [--data DIR] [--jobs 2] [--cold] [--write]

``--data`` (or ``NLC_EVAL_OFFICIAL_DATA``) uses the official estate; without it the
synthetic one. ``--cold`` also times the batch with a fresh kernel per report. ``--write``
saves the table to ``benchmarks/results/reports.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import queue
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
IMPORTS = """\
import matplotlib.pyplot as plt
from IPython.display import Markdown
from IPython.display import display as show

from nlc_eval import plots
from nlc_eval.reports import content, load_context, write_results
"""


def import_only_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('name: str = ""  # which report this stands for')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(IMPORTS)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


def baseline(names: list[str], n_jobs: int, workdir: Path) -> float:
    """papermill.execute_notebook on the import-only notebook, once per report."""
    import papermill

    nb = import_only_notebook(workdir / "import_only.ipynb")
    todo: queue.Queue = queue.Queue()
    for n in names:
        todo.put(n)
    errors: list[str] = []

    def worker() -> None:
        while True:
            try:
                name = todo.get_nowait()
            except queue.Empty:
                return
            try:
                papermill.execute_notebook(str(nb), str(workdir / f"{name}.ipynb"),
                                           parameters={"name": name}, progress_bar=False,
                                           kernel_name="python3")
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(f"{name}: {exc}")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(n_jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit("baseline failed: " + "; ".join(errors[:3]))
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("NLC_EVAL_OFFICIAL_DATA", ""))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cold", action="store_true", help="also time a fresh kernel per report")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)

    from nlc_eval.reports.batch import plan_batch, run_batch
    from nlc_eval.reports.context import build_context

    work = Path(tempfile.mkdtemp(prefix="nlc-bench-reports-"))
    rows = []
    try:
        t0 = time.perf_counter()
        ctx = build_context(args.data or None, None, seed=args.seed)
        t_ctx = time.perf_counter() - t0
        jobs = plan_batch(ctx, clusters="all", families="all", authority=True)
        names = [j.name for j in jobs]
        n = len(names)
        print(f"{ctx.authority_name} ({ctx.source} estate): {len(ctx.clusters)} clusters, "
              f"{len(ctx.family_ids)} families, {n} reports; shared context built in "
              f"{t_ctx:.1f} s", flush=True)

        t_base = baseline(names, args.jobs, work)
        rows.append(("baseline: papermill, import-only notebook, cold kernel per report",
                     t_base))
        print(f"baseline {t_base:.1f} s", flush=True)

        res = run_batch(clusters="all", families="all", authority=True, out=work / "warm",
                        n_jobs=args.jobs, progress=False, ctx=ctx)
        if res.failed:
            print(res.summary(), file=sys.stderr)
        rows.append(("batch: every report, warm kernel per worker", res.duration_s))
        print(f"warm batch {res.duration_s:.1f} s", flush=True)
        if args.cold:
            res_c = run_batch(clusters="all", families="all", authority=True,
                              out=work / "cold", n_jobs=args.jobs, progress=False, ctx=ctx,
                              warm=False)
            rows.append(("batch: every report, fresh kernel per report", res_c.duration_s))
            print(f"cold batch {res_c.duration_s:.1f} s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lines = [
        f"# Report batch benchmark ({datetime.now(UTC):%Y-%m-%d})",
        "",
        f"Command: `python benchmarks/bench_reports.py --jobs {args.jobs}"
        f"{' --data ' + args.data if args.data else ''}{' --cold' if args.cold else ''}"
        " --write`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs (shared), Python "
        f"{platform.python_version()}. Estate: {ctx.authority_name}, {ctx.source} schools, "
        f"{ctx.pupil_source} pupils; {n} reports ({len(ctx.clusters)} clusters, "
        f"{len(ctx.family_ids)} families, {n - len(ctx.clusters) - len(ctx.family_ids)} "
        f"authority-wide); {args.jobs} workers.",
        "",
        "| run | wall time (s) | per report (s) | vs baseline |",
        "|---|---:|---:|---:|",
    ]
    for label, secs in rows:
        lines.append(f"| {label} | {secs:.1f} | {secs / n:.2f} | {secs / t_base:.2f} |")
    lines += ["",
              f"Shared work (loading, synthetic pupils, families, authority-wide models), "
              f"computed once per batch before the reports run: {t_ctx:.1f} s. "
              f"Batch including it: {rows[1][1] + t_ctx:.1f} s "
              f"({(rows[1][1] + t_ctx) / t_base:.2f} of the baseline)."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        out = ROOT / "benchmarks" / "results" / "reports.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
