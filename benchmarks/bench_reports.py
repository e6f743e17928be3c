"""Benchmark: the whole report batch against papermill running an import-only notebook.

The batch is every report of North Lanarkshire (23 clusters, every family group, the
authority-wide reports) run by ``nlc_eval.reports`` with warm kernels. The baseline, in the
same run and with the same number of workers, is papermill's own engine executing a notebook
that only imports what a report imports, once per report (a cold kernel each time): the
fixed cost any per-report papermill batch pays before doing any work.

Usage::

    python benchmarks/bench_reports.py [--data DIR] [--jobs 2] [--cold] [--write]
    python benchmarks/bench_reports.py --render DIR [--write]

``--render DIR`` times only the publishing step over the executed notebooks (``*.ipynb``)
of a finished batch in ``DIR``: nbconvert's HTML exporter (code hidden, as the batch used
before the house template) against the house template, and the Word and PDF copies, with
the page sizes of each.

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
from nlc_eval.reports import load_context, present, write_results
from nlc_eval.reports.sections import cluster, family
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


RENDER_BEGIN = "<!-- render benchmark -->"
RENDER_END = "<!-- /render benchmark -->"


def render_benchmark(folder: Path) -> str:
    """Publishing step alone, over a finished batch's executed notebooks (markdown table)."""
    from nbconvert import HTMLExporter

    from nlc_eval.reports import _html, export

    notebooks = sorted(p for p in folder.glob("*.ipynb"))
    if not notebooks:
        raise SystemExit(f"no executed notebooks (*.ipynb) in {folder}")
    old = HTMLExporter(exclude_input=True, exclude_input_prompt=True,
                       exclude_output_prompt=True)
    tot = {"nbconvert": 0.0, "house": 0.0, "docx": 0.0, "pdf": 0.0}
    size = {"nbconvert": [], "house": []}
    work = Path(tempfile.mkdtemp(prefix="nlc-bench-render-"))
    try:
        pages = []
        for path in notebooks:
            nb = nbformat.read(path, as_version=4)
            t0 = time.perf_counter()
            body, _ = old.from_notebook_node(_html.publishable(nb))
            tot["nbconvert"] += time.perf_counter() - t0
            size["nbconvert"].append(len(body.encode()))
            t0 = time.perf_counter()
            page, files = export.render(path.stem, nb, path.stem)
            (work / f"{path.stem}.html").write_text(page)
            export.write_extras(work, path.stem, page, files, title=path.stem, docx=False)
            tot["house"] += time.perf_counter() - t0
            size["house"].append(len(page.encode()))
            pages.append(path.stem)
        t0 = time.perf_counter()
        for name in pages:
            export.html_to_docx((work / f"{name}.html").read_text(), work / f"{name}.docx",
                                base=work)
        tot["docx"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        errors = export.print_pdfs(work, pages)
        tot["pdf"] = time.perf_counter() - t0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = len(notebooks)
    kb = {k: (sum(v) / n / 1024, max(v) / 1024) for k, v in size.items()}
    lines = [
        RENDER_BEGIN,
        f"## Publishing step alone ({datetime.now(UTC):%Y-%m-%d})",
        "",
        f"Command: `python benchmarks/bench_reports.py --render {folder} --write` over the "
        f"{n} executed notebooks of one batch (same machine, shared; wall times).",
        "",
        "| step | total (s) | per page (s) | mean page (KB) | largest page (KB) |",
        "|---|---:|---:|---:|---:|",
        f"| nbconvert HTML exporter, code hidden (before) | {tot['nbconvert']:.1f} | "
        f"{tot['nbconvert'] / n:.2f} | {kb['nbconvert'][0]:.0f} | {kb['nbconvert'][1]:.0f} |",
        f"| house template with downloads (after) | {tot['house']:.1f} | "
        f"{tot['house'] / n:.2f} | {kb['house'][0]:.0f} | {kb['house'][1]:.0f} |",
        f"| Word copy (python-docx) | {tot['docx']:.1f} | {tot['docx'] / n:.2f} | | |",
        f"| PDF copy (one headless Chromium session) | {tot['pdf']:.1f} | "
        f"{tot['pdf'] / n:.2f} | | |",
        "",
        f"PDF failures: {len(errors)}." + (f" First: {next(iter(errors.values()))}"
                                           if errors else ""),
        RENDER_END,
    ]
    return "\n".join(lines) + "\n"


def _write_block(block: str) -> Path:
    out = ROOT / "benchmarks" / "results" / "reports.md"
    text = out.read_text() if out.is_file() else ""
    if RENDER_BEGIN in text:
        head, _, rest = text.partition(RENDER_BEGIN)
        _, _, tail = rest.partition(RENDER_END)
        text = head + block.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block
    out.write_text(text)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--render", default="", help="time the publishing step over DIR/*.ipynb")
    ap.add_argument("--data", default=os.environ.get("NLC_EVAL_OFFICIAL_DATA", ""))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cold", action="store_true", help="also time a fresh kernel per report")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    if args.render:
        block = render_benchmark(Path(args.render))
        print(block)
        if args.write:
            print(f"written {_write_block(block)}")
        return 0

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
        old = out.read_text() if out.is_file() else ""
        keep = old[old.index(RENDER_BEGIN):] if RENDER_BEGIN in old else ""
        out.write_text(text + ("\n" + keep if keep else ""))
        print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
