"""Run a list of report notebooks: bounded worker pool, retries, atomic outputs, index, manifest.

:func:`run_jobs` is the engine of ``nlc-eval reports``; it knows nothing about clusters or
families (see :mod:`nlc_eval.reports.batch` for that), so it can run any parameterised
notebooks.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import sys
import threading
import time
import traceback
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat

from nlc_eval.errors import ReportError
from nlc_eval.reports import _html, export, manifest, state
from nlc_eval.reports._atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from nlc_eval.reports.jobs import ReportJob, check_unique, declared_parameters
from nlc_eval.reports.kernels import ENGINE_NAME, KernelSlot, KernelStartError
from nlc_eval.reports.outcome import BatchResult, JobOutcome
from nlc_eval.reports.publication import PublicationCheck

FAILED_DIR = "_failed"


# ---------------------------------------------------------------------------
# One job
# ---------------------------------------------------------------------------

def execute_job(job: ReportJob, out_dir: str | Path, staging: str | Path,
                slot: KernelSlot | None = None, *, kernel_name: str = "python3",
                cell_timeout: float | None = 600, retries: int = 3,
                kernel_cwd: str | None = None,
                check: PublicationCheck | None = None,
                remove_stale: bool = True) -> JobOutcome:
    """Execute one report notebook and publish its outputs atomically.

    Parameters
    ----------
    job : ReportJob
        What to run.
    out_dir : path-like
        Where ``<name>.html``, ``<name>.ipynb`` and ``<name>.json`` are published.
    staging : path-like
        A scratch folder on the same file system as ``out_dir``.
    slot : KernelSlot, optional
        A warm kernel to reuse (reset before the report). Without one a kernel is started
        for this report and shut down afterwards.
    kernel_name, cell_timeout, retries, kernel_cwd :
        Kernel spec, per-cell time limit in seconds, kernel start attempts, working directory.
    check : PublicationCheck, optional
        A page that fails it is not published; the report is recorded as failed.
    remove_stale : bool
        Remove earlier published files of a report that failed (the batch does it itself,
        after the index stops linking them).

    Returns
    -------
    JobOutcome
        Never raises for a failing notebook: the error is recorded in the outcome, any stale
        published files of the same name are removed, and the executed notebook (with its
        traceback) goes to ``<out_dir>/_failed/`` for the analyst.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out_dir, staging = Path(out_dir).resolve(), Path(staging).resolve()
    staging.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    params = dict(job.parameters)
    outcome = JobOutcome(name=job.name, kind=job.kind, ident=job.ident, title=job.title,
                         notebook=job.notebook, parameters=params,
                         started=datetime.now(UTC).isoformat(timespec="seconds"))
    tmp_nb = staging / f"{job.name}.{uuid.uuid4().hex[:8]}.ipynb"
    tmp_json = staging / f"{job.name}.{uuid.uuid4().hex[:8]}.json"
    own_slot = slot is None
    cwd = kernel_cwd or str(Path(job.notebook).resolve().parent)
    try:
        declared = declared_parameters(job.notebook)
        if "output_json" in declared:
            params["output_json"] = str(tmp_json)
        unknown = sorted(set(params) - set(declared))
        if unknown:
            raise ReportError(
                f"notebook {Path(job.notebook).name} does not declare parameter(s) "
                f"{', '.join(unknown)}; it declares: {', '.join(declared) or 'none'}.")
        if own_slot:
            slot = KernelSlot(kernel_name=kernel_name, cwd=cwd, retries=retries)
        outcome.kernel_attempts = slot.ensure()
        if not own_slot and slot.runs:
            slot.reset(cwd)
        slot.runs += 1
        nb = papermill.execute_notebook(
            job.notebook, str(tmp_nb), parameters=params, engine_name=ENGINE_NAME,
            kernel_name=slot.kernel_name, progress_bar=False, log_output=False,
            execution_timeout=cell_timeout, slot=slot)
        results = _read_sidecar(tmp_json) if "output_json" in declared else {}
        outcome.headlines = [str(h) for h in results.get("headlines", [])]
        outcome.results = results
        title = results.get("title")
        if title:
            outcome.title = str(title)
        html_text, downloads = export.render(job.name, nb, outcome.title)
        if check is not None:
            problems = check.problems(html_text, json.dumps(results, default=str))
            if problems:
                raise ReportError("not published, the page failed the disclosure check: "
                                  + "; ".join(problems[:5])
                                  + (f" (and {len(problems) - 5} more)" if len(problems) > 5
                                     else ""))
        # Everything is rendered; now publish each file by an atomic rename.
        files = [atomic_write_text(out_dir / f"{job.name}.html", html_text)]
        files += export.write_extras(out_dir, job.name, html_text, downloads,
                                     title=outcome.title)
        files.append(atomic_write_bytes(out_dir / f"{job.name}.ipynb",
                                        nbformat.writes(nb).encode("utf-8")))
        if results:
            files.append(atomic_write_json(out_dir / f"{job.name}.json", results))
        outcome.files = [p.name for p in files]
        outcome.status = "ok"
        (out_dir / FAILED_DIR / f"{job.name}.ipynb").unlink(missing_ok=True)
    except PapermillExecutionError as exc:
        outcome.error = (f"cell {exc.cell_index + 1} of the executed notebook: {exc.ename}: "
                         f"{_first_line(exc.evalue)}")
        _keep_failed(tmp_nb, out_dir, job.name)
    except KernelStartError as exc:
        outcome.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - one report's failure must not stop the batch
        outcome.error = f"{type(exc).__name__}: {_first_line(str(exc))}"
        _keep_failed(tmp_nb, out_dir, job.name)
        if slot is not None and not own_slot and not slot.alive:
            slot.shutdown()
    finally:
        if "output_json" in params:
            params["output_json"] = f"{job.name}.json"
        if own_slot and slot is not None:
            slot.shutdown()
        tmp_nb.unlink(missing_ok=True)
        tmp_json.unlink(missing_ok=True)
        outcome.duration_s = round(time.perf_counter() - t0, 3)
    if not outcome.ok and remove_stale:
        remove_published(out_dir, job.name)
    return outcome


def remove_published(out_dir: str | Path, name: str) -> None:
    """Remove every published file of report ``name`` (after a failure)."""
    out_dir = Path(out_dir)
    for suffix in (".html", ".ipynb", ".json"):
        (out_dir / f"{name}{suffix}").unlink(missing_ok=True)
    export.remove(out_dir, name)


def _first_line(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).strip().split())
    return text[:limit] + ("…" if len(text) > limit else "")


def _read_sidecar(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ReportError(
            "the notebook declares output_json but wrote no results file; its last cell "
            "should call nlc_eval.reports.write_results(output_json, ...).")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ReportError(f"the notebook's results file is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ReportError("the notebook's results file must hold a JSON object.")
    return data


def _keep_failed(tmp_nb: Path, out_dir: Path, name: str) -> None:
    if tmp_nb.is_file():
        dest = out_dir / FAILED_DIR / f"{name}.ipynb"
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp_nb, dest)


def _execute_cold(job_dict: dict[str, Any], out_dir: str, staging: str, kernel_name: str,
                  cell_timeout: float | None, retries: int,
                  check: PublicationCheck | None = None) -> dict[str, Any]:
    """Task run on a dask worker: one report in a fresh kernel; returns a plain dict."""
    job = ReportJob(**job_dict)
    return execute_job(job, out_dir, staging, None, kernel_name=kernel_name,
                       cell_timeout=cell_timeout, retries=retries, check=check).to_dict()


# ---------------------------------------------------------------------------
# Pools
# ---------------------------------------------------------------------------

def _run_local(jobs: list[ReportJob], out_dir: Path, staging: Path, n_workers: int,
               warm: bool, kernel_name: str, cell_timeout: float | None, retries: int,
               on_done, check: PublicationCheck | None = None) -> None:
    todo: queue.Queue = queue.Queue()
    for job in jobs:
        todo.put(job)

    def worker() -> None:
        slot = KernelSlot(kernel_name=kernel_name, retries=retries) if warm else None
        try:
            while True:
                try:
                    job = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    outcome = execute_job(job, out_dir, staging, slot, kernel_name=kernel_name,
                                          cell_timeout=cell_timeout, retries=retries,
                                          check=check, remove_stale=False)
                except Exception as exc:  # noqa: BLE001 - defensive: record and go on
                    outcome = JobOutcome(name=job.name, kind=job.kind, ident=job.ident,
                                         title=job.title, notebook=job.notebook,
                                         parameters=job.parameters,
                                         error=f"{type(exc).__name__}: {exc}")
                    traceback.print_exc()
                on_done(outcome)
        finally:
            if slot is not None:
                slot.shutdown()

    threads = [threading.Thread(target=worker, name=f"nlc-report-{i}", daemon=True)
               for i in range(max(1, min(n_workers, len(jobs))))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _run_dask(jobs: list[ReportJob], out_dir: Path, staging: Path, executor: Any,
              kernel_name: str, cell_timeout: float | None, retries: int, on_done,
              check: PublicationCheck | None = None) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ReportError(
            "--executor with a scheduler address needs dask.distributed. Fix: "
            "pip install 'nlc_eval[dask]'.") from exc
    own = not isinstance(executor, Client)
    client = Client(executor) if own else executor
    try:
        futures = [client.submit(_execute_cold, job.to_dict(), str(out_dir), str(staging),
                                 kernel_name, cell_timeout, retries, check, pure=False,
                                 key=f"nlc-report-{job.name}-{uuid.uuid4().hex[:6]}")
                   for job in jobs]
        by_key = {f.key: job for f, job in zip(futures, jobs, strict=True)}
        for fut in as_completed(futures):
            job = by_key[fut.key]
            try:
                outcome = JobOutcome(**fut.result())
            except Exception as exc:  # noqa: BLE001 - a lost worker fails one report only
                outcome = JobOutcome(name=job.name, kind=job.kind, ident=job.ident,
                                     title=job.title, notebook=job.notebook,
                                     parameters=job.parameters,
                                     error=f"{type(exc).__name__}: {exc}")
            on_done(outcome)
    finally:
        if own:
            client.close()


# ---------------------------------------------------------------------------
# The batch
# ---------------------------------------------------------------------------

def run_jobs(jobs: list[ReportJob], out_dir: str | Path, *, n_jobs: int = 2,
             executor: Any = "local", warm: bool = True, kernel_name: str = "python3",
             cell_timeout: float | None = 600, retries: int = 3, progress: bool = True,
             inputs: list[str | Path] | None = None, batch_parameters: dict | None = None,
             title: str = "Reports", subtitle: str = "",
             check: PublicationCheck | None = None, schools: list[dict] | None = None,
             family_members: dict[str, list[str]] | None = None,
             pdf: bool = True, force: bool = False,
             batch_key: str | None = None) -> BatchResult:
    """Run report notebooks and write ``index.html`` and ``manifest.json`` under ``out_dir``.

    Parameters
    ----------
    jobs : list of ReportJob
        The reports; their names must be unique.
    out_dir : path-like
        Output folder (created).
    n_jobs : int
        Worker count of the local pool.
    executor : ``"local"``, a scheduler address, or a ``distributed.Client``
        Where to run. With dask each report runs in a fresh kernel on a worker; the output
        folder must be visible to the workers.
    warm : bool
        Local pool only: reuse one kernel per worker, reset between reports.
    kernel_name, cell_timeout, retries :
        See :func:`execute_job`.
    progress : bool
        Show a progress bar on stderr.
    inputs : list of path-like
        Input files whose SHA-256 goes into the manifest.
    batch_parameters : dict
        Batch-level settings recorded in the manifest.
    title, subtitle : str
        Heading of the index page.
    check : PublicationCheck, optional
        Disclosure check every page must pass before it is published (default: small counts
        and code; :func:`nlc_eval.reports.batch.run_batch` adds the batch's pupil ids).
    schools, family_members :
        The index's school finder and family member lists (see
        :func:`nlc_eval.reports._html.index_html`).
    pdf : bool
        Also print every published page to PDF (headless Chromium, one session).
    force : bool
        Re-run every report. Otherwise a report whose notebook, parameters, input files
        and kit are unchanged since its page in ``out_dir`` was produced is kept as it is.
    batch_key : str, optional
        Digest of the batch's selection and inputs, recorded with the names of its reports
        so an identical batch can be recognised before any work (see
        :func:`nlc_eval.reports.batch.run_batch`).

    Notes
    -----
    One batch at a time writes a folder (:class:`~nlc_eval.reports.state.FolderLock`).
    The index, status page and manifest cover every report in the folder, this batch's
    and earlier ones (marked stale when out of date), and are rewritten atomically after
    each report, so a batch killed at any moment leaves whole pages and an index whose
    links resolve; the next run cleans the scratch files and completes the rest.

    Returns
    -------
    BatchResult
        Failures are recorded, not raised; see :attr:`BatchResult.exit_code`.
    """
    check_unique(jobs)
    check = PublicationCheck() if check is None else check
    out_dir = Path(out_dir)
    with state.FolderLock(out_dir):
        return _run_locked(
            jobs, out_dir, n_jobs=n_jobs, executor=executor, warm=warm,
            kernel_name=kernel_name, cell_timeout=cell_timeout, retries=retries,
            progress=progress, inputs=inputs, batch_parameters=batch_parameters, title=title,
            subtitle=subtitle, check=check, schools=schools, family_members=family_members,
            pdf=pdf, force=force, batch_key=batch_key)


def _run_locked(jobs: list[ReportJob], out_dir: Path, *, n_jobs: int, executor: Any,
                warm: bool, kernel_name: str, cell_timeout: float | None, retries: int,
                progress: bool, inputs: list[str | Path] | None,
                batch_parameters: dict | None, title: str, subtitle: str,
                check: PublicationCheck, schools: list[dict] | None,
                family_members: dict[str, list[str]] | None, pdf: bool,
                force: bool, batch_key: str | None) -> BatchResult:
    """:func:`run_jobs` once the folder's lock is held."""
    from tqdm.auto import tqdm

    state.clean_leftovers(out_dir)
    before_doc = state.read_manifest(out_dir)
    previous = state.previous_entries(before_doc)
    batch_keys = dict(before_doc.get("batch_keys") or {})
    if batch_key:
        batch_keys.pop(batch_key, None)
        batch_keys[batch_key] = [job.name for job in jobs]
        batch_keys = dict(list(batch_keys.items())[-state.BATCH_KEYS_KEPT:])
    hashed_inputs = manifest.hash_inputs(inputs or [])
    digest = state.inputs_digest(hashed_inputs)
    kit = state.kit_fingerprint()
    present = state.published_names(out_dir)
    prints: dict[str, tuple[str, dict[str, str]]] = {}
    todo: list[ReportJob] = []
    outcomes: list[JobOutcome] = []
    for job in jobs:
        parts = state.fingerprint_parts(job.notebook, job.parameters, digest, kit)
        fp = state.fingerprint(parts)
        prints[job.name] = (fp, parts)
        before = previous.get(job.name)
        if not force and state.is_current(before, fp, out_dir, present):
            kept = JobOutcome(**state.outcome_fields(before, JobOutcome))
            kept.reused, kept.stale, kept.stale_reason = True, False, ""
            outcomes.append(kept)
        else:
            todo.append(job)
    staging = out_dir / f".staging-{uuid.uuid4().hex[:10]}"
    staging.mkdir()
    lock = threading.Lock()
    bar = tqdm(total=len(jobs), initial=len(outcomes), desc="reports", unit="report",
               disable=not progress, file=sys.stderr)
    t0 = time.perf_counter()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    notebooks = manifest.hash_inputs(sorted({job.notebook for job in jobs}))
    order = {job.name: i for i, job in enumerate(jobs)}
    pdf_errors: dict[str, str] = {}
    recorded = {"git_commit": manifest.git_commit(), "kit_fingerprint": kit,
                "lock_file": state.lock_file_info(), "packages": manifest.package_versions()}

    def publish() -> tuple[Path, Path, list[dict[str, Any]]]:
        """Index, status page and manifest of every report now in the folder."""
        outcomes.sort(key=lambda o: order.get(o.name, len(order)))
        entries = state.merge([o.to_dict() for o in outcomes], previous, out_dir, digest, kit)
        index = atomic_write_text(
            out_dir / "index.html",
            _html.index_html(entries, title=title, subtitle=subtitle, schools=schools,
                             family_members=family_members))
        atomic_write_text(out_dir / "status.html", _html.status_html(entries, title=title))
        doc = {
            "title": title,
            "started": started,
            "duration_s": round(time.perf_counter() - t0, 3),
            "executor": executor if isinstance(executor, str) else type(executor).__name__,
            "n_jobs": n_jobs,
            "warm_kernels": bool(warm) and isinstance(executor, str)
            and executor in ("", "local"),
            "parameters": batch_parameters or {},
            **recorded,
            "inputs": hashed_inputs,
            "notebooks": notebooks,
            "this_run": {"ran": [o.name for o in outcomes if not o.reused],
                         "up_to_date": [o.name for o in outcomes if o.reused],
                         "force": force},
            "n_reports": len(entries),
            "n_failed": sum(e.get("status") != "ok" for e in entries),
            "n_stale": sum(bool(e.get("stale")) for e in entries),
            "pdf_errors": pdf_errors,
            # a batch key is only recorded once all its reports are published
            "batch_keys": batch_keys if all(o.ok for o in outcomes) and len(outcomes) == len(
                jobs) else {k: v for k, v in batch_keys.items() if k != batch_key},
            "reports": [{k: v for k, v in e.items() if k != "results"} for e in entries],
        }
        return index, atomic_write_json(out_dir / "manifest.json", doc), entries

    def on_done(outcome: JobOutcome) -> None:
        with lock:
            outcome.fingerprint, outcome.fingerprint_parts = prints.get(outcome.name,
                                                                        ("", {}))
            outcomes.append(outcome)
            # the index stops linking a failed report before its old files go
            publish()
            if not outcome.ok:
                remove_published(out_dir, outcome.name)
            bar.update(1)
            if not outcome.ok:
                bar.write(f"failed: {outcome.name}: {outcome.error}", file=sys.stderr)

    try:
        if not todo:
            pass
        elif isinstance(executor, str) and executor in ("", "local"):
            _run_local(todo, out_dir, staging, n_jobs, warm, kernel_name, cell_timeout,
                       retries, on_done, check)
        else:
            _run_dask(todo, out_dir, staging, executor, kernel_name, cell_timeout, retries,
                      on_done, check)
    finally:
        bar.close()
        shutil.rmtree(staging, ignore_errors=True)
    duration = time.perf_counter() - t0
    fresh = [o.name for o in outcomes if o.ok and not o.reused]
    if pdf and fresh:
        pdf_errors.update(export.print_pdfs(out_dir, fresh))
    index_path, manifest_path, entries = publish()
    outcomes.sort(key=lambda o: order.get(o.name, len(order)))
    return BatchResult(outcomes=outcomes, out_dir=out_dir, index_path=index_path,
                       manifest_path=manifest_path, duration_s=duration,
                       stale=[e["name"] for e in entries if e.get("stale")])
