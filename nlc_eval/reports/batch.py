"""``nlc-eval reports``: plan the reports of a batch, share the work, run, publish."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nlc_eval.errors import ReportError
from nlc_eval.reports import manifest, state
from nlc_eval.reports.ids import report_name, resolve_ids
from nlc_eval.reports.jobs import NOTEBOOK_DIR, NOTEBOOKS, ReportJob, declared_parameters
from nlc_eval.reports.outcome import BatchResult, JobOutcome

if TYPE_CHECKING:
    from nlc_eval.reports.context import ReportContext

# The context, the runner and the publication check (pandas, papermill, nbformat) are
# imported only when something has to be built: an unchanged rerun answers from the
# manifest alone, in well under the time those imports take.

#: Authority-wide reports: (report name, notebook kind, title).
AUTHORITY_REPORTS = (
    ("authority", "authority", "Authority overview"),
    ("authority-families", "family_formation", "How the family groups were formed"),
    ("authority-impact", "impact", "Impact of cluster supports: authority-wide evaluation"),
    ("authority-comparison", "authority_comparison",
     "Comparison with similar schools elsewhere in Scotland"),
)


def plan_batch(ctx: ReportContext, *, clusters: Sequence[str] | str | None = "all",
               families: Sequence[str] | str | None = "all", authority: bool = True,
               context_dir: str = "", notebook_dir: str | Path | None = None,
               common: dict[str, Any] | None = None) -> list[ReportJob]:
    """The reports of a batch, with validated ids and the parameters each notebook declares.

    Parameters
    ----------
    ctx : ReportContext
        The shared context (cluster and family ids come from it).
    clusters, families : ``"all"``, list of ids, or None
        Which cluster and family reports to run (None or ``[]`` with no ``"all"``: none).
    authority : bool
        Run the authority-wide reports (the comparison with other authorities needs the
        official files and its notebook).
    context_dir : str
        Folder of the pickled context, passed as the ``context`` parameter.
    common : dict
        Further parameters offered to every notebook (only those it declares are passed).
    """
    nb_dir = Path(notebook_dir or NOTEBOOK_DIR)
    base = {"context": context_dir, "seed": ctx.seed, "data_dir": ctx.official_dir,
            "extracts_dir": ctx.extracts_dir, **(common or {})}
    cluster_ids = resolve_ids(clusters, ctx.clusters, "cluster")
    family_ids = (resolve_ids(families, ctx.family_ids, "family")
                  if families not in (None, []) else [])
    if families not in (None, [], "all", ["all"]) and ctx.ensure_families() is None:
        raise ReportError("family reports were asked for but no families were formed: "
                          + "; ".join(ctx.notes))

    def job(name: str, kind: str, ident: str, title: str, extra: dict[str, Any]) -> ReportJob:
        notebook = nb_dir / NOTEBOOKS[kind]
        if not notebook.is_file():
            raise ReportError(f"the notebook for {kind} reports is missing: {notebook}.")
        declared = declared_parameters(notebook)
        required = {"cluster": "cluster", "family": "family"}.get(kind)
        if required and required not in declared:
            raise ReportError(f"notebook {notebook.name} does not declare the {required!r} "
                              "parameter, so every report would show the same "
                              f"{required}. Fix: declare it in the parameters cell.")
        params = {k: v for k, v in {**base, **extra}.items()
                  if k in declared and k != "output_json"}
        report_kind = "authority" if kind not in ("cluster", "family") else kind
        return ReportJob(name=name, notebook=str(notebook), parameters=params,
                         kind=report_kind, ident=ident, title=title)

    jobs: list[ReportJob] = []
    if authority:
        for name, kind, title in AUTHORITY_REPORTS:
            if kind == "authority_comparison" and (
                    ctx.source != "official" or not (nb_dir / NOTEBOOKS[kind]).is_file()):
                continue
            extra = {"authority": ctx.authority_name} if kind == "authority_comparison" else {}
            jobs.append(job(name, kind, "", title, extra))
    for c in cluster_ids:
        jobs.append(job(report_name("cluster", c), "cluster", c, f"{c}", {"cluster": c}))
    for f in family_ids:
        jobs.append(job(report_name("family", f), "family", f, f"Family {f}",
                        {"family": f, "year": ctx.year}))
    return jobs


def run_batch(*, clusters: Sequence[str] | str | None = "all",
              families: Sequence[str] | str | None = "all", authority: bool = True,
              data: str | os.PathLike | None = None, extracts: str | os.PathLike | None = None,
              out: str | os.PathLike = "reports", n_jobs: int = 2, executor: Any = "local",
              seed: int = 0, warm: bool = True, progress: bool = True,
              context_dir: str | os.PathLike | None = None,
              ctx: ReportContext | None = None, force: bool = False) -> BatchResult:
    """Run a report batch end to end (see ``nlc-eval reports --help``).

    The shared context is built once, pickled to ``context_dir`` (default: a private
    temporary folder, removed afterwards; with a multi-machine dask cluster give a folder
    every worker can read), and every notebook loads it.

    Only what changed is re-run (see :func:`nlc_eval.reports.runner.run_jobs`; ``force``
    re-runs everything). When the same selection was run before on the same input files,
    notebooks and kit and every page it produced is still there, nothing is rebuilt, not
    even the shared context. A second batch on the same ``out`` folder is refused at once.

    Raises
    ------
    ReportError
        For an unknown cluster or family id (listing the valid ones) or a missing notebook;
        failures of single reports are recorded in the result instead.
    """
    with state.FolderLock(out):
        key = None
        if ctx is None:
            key = _batch_key(clusters, families, authority, data, extracts, seed)
            if not force:
                done = _unchanged(out, key)
                if done is not None:
                    return done
            from nlc_eval.reports.context import build_context

            ctx = build_context(data, extracts, seed=seed,
                                families=families not in (None, []))
        return _run_batch(ctx, clusters=clusters, families=families, authority=authority,
                          out=out, n_jobs=n_jobs, executor=executor, seed=seed, warm=warm,
                          progress=progress, context_dir=context_dir, force=force,
                          batch_key=key)


def _batch_key(clusters, families, authority, data, extracts, seed) -> str:
    """What a whole batch depends on, known before its context is built."""
    from nlc_eval.config import official_data_dir

    official = official_data_dir(data, required=False)
    ext = Path(extracts).resolve() if extracts else None
    hashed = manifest.hash_inputs(manifest.input_files(official, ext))
    notebooks = manifest.hash_inputs(sorted(NOTEBOOK_DIR.glob("*.ipynb")))
    return state.fingerprint({
        "selection": json.dumps([clusters, families, bool(authority)], default=str),
        "data": str(official or ""), "extracts": str(ext or ""), "seed": str(seed),
        "inputs": state.inputs_digest(hashed), "notebooks": state.inputs_digest(notebooks),
        "kit": state.kit_fingerprint()})


def _unchanged(out: str | os.PathLike, key: str) -> BatchResult | None:
    """The result of an earlier identical batch whose pages are all still there, or None."""
    out = Path(out)
    doc = state.read_manifest(out)
    names = (doc.get("batch_keys") or {}).get(key)
    if not names:
        return None
    entries = state.previous_entries(doc)
    outcomes = []
    present = state.published_names(out)
    for name in names:
        e = entries.get(name)
        if e is None or e.get("stale") or not state.is_current(e, e.get("fingerprint"), out,
                                                               present):
            return None
        o = JobOutcome(**state.outcome_fields(e, JobOutcome))
        o.reused = True
        outcomes.append(o)
    return BatchResult(outcomes=outcomes, out_dir=out, index_path=out / "index.html",
                       manifest_path=out / "manifest.json", duration_s=0.0,
                       stale=[e["name"] for e in entries.values() if e.get("stale")])


def _run_batch(ctx: ReportContext, *, clusters, families, authority, out, n_jobs, executor,
               seed, warm, progress, context_dir, force, batch_key) -> BatchResult:
    from nlc_eval.reports.context import save_context
    from nlc_eval.reports.publication import PublicationCheck
    from nlc_eval.reports.runner import run_jobs

    own_dir = context_dir is None
    cdir = Path(tempfile.mkdtemp(prefix="nlc-eval-context-")) if own_dir else Path(context_dir)
    try:
        jobs = plan_batch(ctx, clusters=clusters, families=families, authority=authority,
                          context_dir=str(cdir))
        if not jobs:
            raise ReportError("nothing to run: choose --clusters, --families or --authority.")
        save_context(ctx, cdir)
        inputs = manifest.input_files(ctx.official_dir or None, ctx.extracts_dir or None)
        params = {"clusters": clusters, "families": families, "authority": authority,
                  "data": ctx.official_dir, "extracts": ctx.extracts_dir, "seed": seed,
                  "source": ctx.source, "pupil_source": ctx.pupil_source,
                  "session": ctx.year, "notes": ctx.notes}
        subtitle = f"{ctx.authority_name} · {ctx.describe()}"
        from nlc_eval.reports._html import school_entries

        schools, members = school_entries(
            ctx.schools, ctx.families.assignments if ctx.families is not None else None, jobs)
        return run_jobs(jobs, out, n_jobs=n_jobs, executor=executor, warm=warm,
                        progress=progress, inputs=inputs, batch_parameters=params,
                        title=f"{ctx.authority_name}: cluster, family and authority reports",
                        subtitle=subtitle,
                        check=PublicationCheck.for_ids(ctx.data.pupils["pupil_id"].unique()),
                        schools=schools, family_members=members, force=force,
                        batch_key=batch_key)
    finally:
        if own_dir:
            shutil.rmtree(cdir, ignore_errors=True)
