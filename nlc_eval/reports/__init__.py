"""Report batch: papermill runs of the report notebooks, HTML, index and manifest.

Public entry points:

- :func:`run_batch` — the whole ``nlc-eval reports`` command (context, plan, run, index).
- :func:`run_jobs` — run any list of :class:`ReportJob` (the engine under ``run_batch``).
- :func:`write_results` — called by each notebook to record its key results as JSON.
- :func:`load_context` and the ``*_report_data`` helpers — what the notebooks call.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nlc_eval.reports._atomic import atomic_write_json
from nlc_eval.reports.jobs import NOTEBOOK_DIR, NOTEBOOKS, ReportJob, notebook_path, slug
from nlc_eval.reports.outcome import BatchResult, JobOutcome

if TYPE_CHECKING:
    from nlc_eval.reports.context import ReportContext, build_context, load_context, save_context
    from nlc_eval.reports.kernels import KernelSlot, KernelStartError
    from nlc_eval.reports.runner import execute_job, run_jobs

#: Names whose modules need pandas, papermill or nbformat: imported on first use, so that
#: importing the package (and an unchanged rerun of a batch) stays fast.
_LAZY = {"ReportContext": "context", "build_context": "context", "load_context": "context",
         "save_context": "context", "KernelSlot": "kernels", "KernelStartError": "kernels",
         "execute_job": "runner", "run_jobs": "runner"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"nlc_eval.reports.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nlc_eval.reports' has no attribute {name!r}")


def write_results(path: str | Path | None, results: dict[str, Any]) -> dict[str, Any]:
    """Record a notebook's key results as a JSON sidecar (atomically).

    Parameters
    ----------
    path : path-like or ``""``
        The notebook's ``output_json`` parameter; nothing is written when empty.
    results : dict
        JSON-able results. ``title`` (str) and ``headlines`` (list of str, plain-English
        findings) are shown on the index page.

    Returns
    -------
    dict
        ``results`` unchanged, so a notebook can display it.
    """
    if path:
        atomic_write_json(path, results)
    return results


__all__ = [
    "NOTEBOOKS",
    "NOTEBOOK_DIR",
    "BatchResult",
    "JobOutcome",
    "KernelSlot",
    "KernelStartError",
    "ReportContext",
    "build_context",
    "load_context",
    "save_context",
    "ReportJob",
    "execute_job",
    "notebook_path",
    "run_jobs",
    "slug",
    "write_results",
]
