"""Tests of the report batch: runner, outputs, index, manifest, executors, and a real batch."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import nbformat
import pytest

from nlc_eval.errors import ReportError
from nlc_eval.reports import ReportJob, _atomic, kernels, run_jobs

# ---------------------------------------------------------------------------
# Tiny notebooks written to tmp_path
# ---------------------------------------------------------------------------

TINY_PARAMS = 'x: int = 1  # a number\noutput_json: str = ""  # where results go'
TINY_BODY = """\
import pandas as pd
assert "leak" not in globals(), "namespace leaked from a previous report"
leak = 1
if x < 0:
    raise ValueError("x must be positive")
pd.DataFrame({"value": [x * 10, 20]})
"""
TINY_END = """\
from nlc_eval.reports import write_results
write_results(output_json, {"title": f"Tiny {x}", "headlines": [f"The value is {x * 10}."],
                            "x": x})
"""


def _notebook(path: Path, params: str = TINY_PARAMS, body: str = TINY_BODY,
              end: str = TINY_END) -> Path:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_markdown_cell("# A tiny report"),
                nbformat.v4.new_code_cell(body), nbformat.v4.new_code_cell(end)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return _notebook(tmp_path_factory.mktemp("nb") / "tiny.ipynb")


@pytest.fixture(scope="module")
def batch(tiny, tmp_path_factory):
    """Three reports in one warm kernel: two succeed, the middle one fails."""
    out = tmp_path_factory.mktemp("out")
    data = tmp_path_factory.mktemp("data")
    (data / "a.csv").write_text("seed_code,roll\n1,100\n")
    # a stale report from an earlier run, under the name of the one that will fail
    (out / "t-bad.html").write_text("<html>old</html>")
    jobs = [ReportJob(name="t-one", notebook=str(tiny), parameters={"x": 1}, kind="cluster",
                      ident="one", title="Tiny one"),
            ReportJob(name="t-bad", notebook=str(tiny), parameters={"x": -1}, kind="cluster",
                      ident="bad"),
            ReportJob(name="t-three", notebook=str(tiny), parameters={"x": 3}, kind="family",
                      ident="three")]
    result = run_jobs(jobs, out, n_jobs=1, progress=False, inputs=[data / "a.csv"],
                      batch_parameters={"seed": 7})
    return result, out, data


def test_failing_notebook_does_not_stop_others(batch):
    result, out, _ = batch
    status = {o.name: o.status for o in result.outcomes}
    assert status == {"t-one": "ok", "t-bad": "failed", "t-three": "ok"}
    assert result.exit_code == 1
    summary = result.summary()
    assert "FAILED t-bad" in summary and "ValueError: x must be positive" in summary
    assert "2 of 3 reports" in summary


def test_warm_kernel_resets_namespace_between_reports(batch):
    result, _, _ = batch
    # each report asserts that the previous report's variable is gone
    assert [o.ok for o in result.outcomes if o.name != "t-bad"] == [True, True]
    assert result.outcomes[0].kernel_attempts == 1 and result.outcomes[2].kernel_attempts == 0


def test_outputs_are_complete_and_atomic(batch):
    _, out, _ = batch
    for name in ("t-one", "t-three"):
        for suffix in (".html", ".ipynb", ".json"):
            assert (out / f"{name}{suffix}").is_file()
        nbformat.validate(nbformat.read(out / f"{name}.ipynb", as_version=4))
    # the failed report: nothing published, stale copy removed, traceback kept aside
    assert not (out / "t-bad.html").exists() and not (out / "t-bad.json").exists()
    assert (out / "_failed" / "t-bad.ipynb").is_file()
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert leftovers == [], f"temporary files left behind: {leftovers}"
    assert json.loads((out / "t-three.json").read_text())["x"] == 3


def test_html_has_outputs_but_no_code(batch):
    _, out, _ = batch
    text = (out / "t-one.html").read_text()
    assert "A tiny report" in text           # markdown kept
    assert "value" in text                   # the table output kept
    assert "import pandas" not in text and "write_results" not in text
    assert 'class="highlight' not in text    # no highlighted source anywhere


def test_index_lists_every_report_with_status_and_headlines(batch):
    _, out, _ = batch
    index = (out / "index.html").read_text()
    assert 'href="t-one.html"' in index and 'href="t-three.html"' in index
    assert 'href="t-bad.html"' not in index
    assert "The value is 10." in index and "The value is 30." in index
    assert "Tiny 1" in index and "x must be positive" not in index   # errors: status page
    status = (out / "status.html").read_text()
    assert "failed" in status and "x must be positive" in status and 'href="t-one.html"' in status


def test_manifest_records_parameters_hashes_versions_durations(batch):
    _, out, data = batch
    doc = json.loads((out / "manifest.json").read_text())
    assert doc["parameters"] == {"seed": 7}
    assert doc["n_reports"] == 3 and doc["n_failed"] == 1
    expected = hashlib.sha256((data / "a.csv").read_bytes()).hexdigest()
    assert [i["sha256"] for i in doc["inputs"]] == [expected]
    assert len(doc["notebooks"]) == 1 and len(doc["notebooks"][0]["sha256"]) == 64
    for pkg in ("python", "pandas", "papermill", "nlc_eval"):
        assert doc["packages"][pkg]
    by_name = {r["name"]: r for r in doc["reports"]}
    assert by_name["t-three"]["parameters"] == {"x": 3, "output_json": "t-three.json"}
    assert by_name["t-bad"]["status"] == "failed"
    assert all(r["duration_s"] > 0 for r in doc["reports"])


def test_relative_out_with_warm_kernels(tiny, tmp_path, monkeypatch):
    """A relative --out (as ``make demo`` uses) must not depend on the kernel's directory."""
    monkeypatch.chdir(tmp_path)
    jobs = [ReportJob(name=f"r-{i}", notebook=str(tiny), parameters={"x": i}, kind="cluster",
                      ident=str(i)) for i in (1, 2, 3)]
    result = run_jobs(jobs, "rel/out", n_jobs=2, warm=True, progress=False)
    assert result.exit_code == 0, result.summary()
    out = tmp_path / "rel" / "out"
    for i in (1, 2, 3):
        assert json.loads((out / f"r-{i}.json").read_text())["x"] == i
        assert (out / f"r-{i}.html").is_file()
    # nothing written beside the notebook (the kernel's working directory)
    assert not list(Path(tiny).parent.glob("r-*.json"))


def test_relative_data_dir_reaches_notebooks_as_absolute(tmp_path, monkeypatch):
    from nlc_eval.config import official_data_dir

    (tmp_path / "official").mkdir()
    monkeypatch.chdir(tmp_path)
    got = official_data_dir("official")
    assert got.is_absolute() and got == (tmp_path / "official").resolve()


def test_atomic_write_keeps_old_file_when_replace_fails(tmp_path, monkeypatch):
    target = tmp_path / "r.html"
    target.write_text("old")

    def boom(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(_atomic.os, "replace", boom)
    with pytest.raises(OSError):
        _atomic.atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_unknown_notebook_parameter_fails_that_report(tiny, tmp_path):
    result = run_jobs([ReportJob(name="t", notebook=str(tiny), parameters={"nope": 1})],
                      tmp_path, progress=False)
    assert result.exit_code == 1
    assert "does not declare parameter(s) nope" in result.outcomes[0].error


def test_duplicate_report_names_rejected(tiny, tmp_path):
    jobs = [ReportJob(name="a", notebook=str(tiny)), ReportJob(name="a", notebook=str(tiny))]
    with pytest.raises(ReportError, match="two reports are named 'a'"):
        run_jobs(jobs, tmp_path, progress=False)


def test_kernel_start_failure_is_retried(tiny, tmp_path, monkeypatch):
    real = kernels.NotebookClient.start_new_kernel
    calls = {"n": 0}

    def flaky(self, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("Kernel died before replying to kernel_info")
        return real(self, **kwargs)

    monkeypatch.setattr(kernels.NotebookClient, "start_new_kernel", flaky)
    monkeypatch.setattr(kernels, "START_BACKOFF", 0.0)
    result = run_jobs([ReportJob(name="t", notebook=str(tiny), parameters={"x": 2})],
                      tmp_path, progress=False)
    (outcome,) = result.outcomes
    assert outcome.ok, outcome.error
    assert outcome.kernel_attempts == 2 and calls["n"] == 2


def test_kernel_that_never_starts_fails_with_clear_error(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(kernels, "START_BACKOFF", 0.0)
    result = run_jobs([ReportJob(name="t", notebook=str(tiny))], tmp_path, progress=False,
                      kernel_name="no-such-kernel-xyz", retries=2)
    (outcome,) = result.outcomes
    assert not outcome.ok
    assert "could not start after 2 attempts" in outcome.error
    assert "jupyter kernelspec list" in outcome.error


def test_dask_local_cluster_executor(tiny, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        result = run_jobs([ReportJob(name="d-one", notebook=str(tiny), parameters={"x": 4})],
                          tmp_path, executor=cluster.scheduler_address, progress=False)
    assert result.exit_code == 0, result.summary()
    assert (tmp_path / "d-one.html").is_file()
    doc = json.loads((tmp_path / "manifest.json").read_text())
    assert "://" in doc["executor"] and doc["warm_kernels"] is False
    assert "The value is 40." in (tmp_path / "index.html").read_text()


# ---------------------------------------------------------------------------
# Planning: ids and parameters
# ---------------------------------------------------------------------------

def _tiny_context():
    import pandas as pd

    from nlc_eval.reports.context import ReportContext

    schools = pd.DataFrame({"seed_code": ["1", "2", "3"], "school_name": ["A", "B", "C"],
                            "sector": ["secondary", "primary", "primary"],
                            "cluster": ["Cluster 01", "Cluster 02", "Cluster 10"]})
    return ReportContext(source="synthetic", pupil_source="synthetic",
                         authority_name="North Lanarkshire", year=2024, seed=0,
                         schools=schools, data=None)


def test_unknown_cluster_id_lists_valid_ones():
    from nlc_eval.reports.batch import plan_batch

    with pytest.raises(ReportError) as info:
        plan_batch(_tiny_context(), clusters=["Cluster 01", "Cluster 99"], families=None,
                   authority=False)
    msg = str(info.value)
    assert "unknown cluster id(s): Cluster 99" in msg
    assert "Valid cluster ids: Cluster 01, Cluster 02, Cluster 10" in msg


def test_cluster_ids_match_short_forms_and_names():
    from nlc_eval.reports.batch import plan_batch
    from nlc_eval.reports.ids import report_name, resolve_ids

    valid = ["Cluster 01", "Cluster 02", "Cluster 10"]
    assert resolve_ids(["01", "cluster-10", "cluster 02"], valid, "cluster") == \
        ["Cluster 01", "Cluster 10", "Cluster 02"]
    assert resolve_ids("all", valid, "cluster") == valid
    assert report_name("cluster", "Cluster 07") == "cluster-07"
    assert report_name("cluster", "Airdrie Academy") == "cluster-airdrie-academy"
    jobs = plan_batch(_tiny_context(), clusters=["10"], families=None, authority=False,
                      context_dir="/x")
    (job,) = jobs
    assert job.name == "cluster-10" and job.parameters["cluster"] == "Cluster 10"
    assert job.parameters["context"] == "/x"
    assert "output_json" not in job.parameters


def test_unknown_family_id_lists_valid_ones():
    from nlc_eval.reports.ids import resolve_ids

    with pytest.raises(ReportError, match=r"unknown family id\(s\): Z9. Valid family ids: "
                       r"P01, S01"):
        resolve_ids(["Z9"], ["P01", "S01"], "family")


def test_parameter_cell_that_papermill_cannot_read_is_an_error(tmp_path):
    from nlc_eval.reports.jobs import declared_parameters

    nb = _notebook(tmp_path / "bad.ipynb",
                   params='cluster: str = ""  # id, empty = the first\nseed: int = 0  # seed')
    with pytest.raises(ReportError, match="papermill cannot read"):
        declared_parameters(nb)


# ---------------------------------------------------------------------------
# A small real batch on the synthetic authority
# ---------------------------------------------------------------------------

PUPIL_ID = re.compile(r"\bP[0-9A-F]{16}\b")
COUNT_HEADERS = ("Pupils", "Learners", "Comparison learners", "Supports", "Universal",
                 "Additional", "Intensive", "Sessions planned", "Sessions attended",
                 "Ended successfully", "Ended otherwise", "Ongoing", "Supported pupils",
                 "Supported care-experienced", "Community leadership supports")


def _html_tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    out = []
    for table in soup.find_all("table"):
        header = [th.get_text(strip=True) for th in table.find("thead").find_all("th")] \
            if table.find("thead") else []
        rows = [[c.get_text(strip=True) for c in tr.find_all(["th", "td"])]
                for tr in table.find("tbody").find_all("tr")] if table.find("tbody") else []
        out.append((header, rows))
    return out


@pytest.fixture(scope="module")
def real_batch(tmp_path_factory):
    from nlc_eval.reports.batch import run_batch
    from nlc_eval.reports.context import build_context

    with pytest.MonkeyPatch.context() as mp:     # the synthetic estate, even under make test
        mp.delenv("NLC_EVAL_OFFICIAL_DATA", raising=False)
        ctx = build_context(None, None, seed=0)
    out = tmp_path_factory.mktemp("reports")
    clusters = ctx.clusters[:2]
    result = run_batch(clusters=clusters, families=[ctx.family_ids[0]], authority=True,
                       out=out, n_jobs=2, progress=False, ctx=ctx)
    return result, out, ctx


@pytest.mark.slow
def test_real_batch_runs_every_report(real_batch):
    result, out, ctx = real_batch
    assert result.exit_code == 0, result.summary()
    names = {o.name for o in result.outcomes}
    assert {"authority", "authority-impact", "authority-families"} <= names
    assert len([n for n in names if n.startswith("cluster-")]) == 2
    assert len([n for n in names if n.startswith("family-")]) == 1
    doc = json.loads((out / "manifest.json").read_text())
    assert doc["parameters"]["source"] == "synthetic"
    for o in result.outcomes:
        sidecar = json.loads((out / f"{o.name}.json").read_text())
        assert sidecar["headlines"], f"{o.name} recorded no headline"
    # recorded results match the data, not just the code's own output
    cl = json.loads((out / f"{result.outcomes[3].name}.json").read_text())
    who = cl["sections"]["who"]
    mine = ctx.schools[ctx.schools["cluster"] == who["cluster"]]
    assert who["n_schools"] == len(mine) and who["roll"] == int(mine["roll"].sum())
    impact = json.loads((out / "authority-impact.json").read_text())
    est = impact["sections"]["evaluation"]["estimate"]
    assert est["ci_low"] < est["estimate"] < est["ci_high"]


@pytest.mark.slow
def test_real_batch_html_is_safe_to_publish(real_batch):
    result, out, ctx = real_batch
    pages = sorted(out.glob("*.html"))
    assert len(pages) == len(result.outcomes) + 2          # + index.html, status.html
    n_tables = 0
    for page in pages:
        text = page.read_text()
        assert not PUPIL_ID.search(text), f"pupil identifier in {page.name}"
        assert 'class="highlight' not in text and "load_context(" not in text, page.name
        assert "sections.who" not in text and "import " not in text, page.name
        for header, rows in _html_tables(text):
            cols = [i for i, h in enumerate(header)
                    if h.startswith(COUNT_HEADERS) and not h.endswith("%")]
            for row in rows:
                for i in cols:
                    if i < len(row) and row[i] not in ("", "c"):
                        value = float(row[i].replace(",", ""))
                        assert not 1 <= value <= 4, f"count {row[i]} shown in {page.name}"
            n_tables += bool(cols)
    assert n_tables >= 8
    for sidecar in out.glob("*.json"):
        assert not PUPIL_ID.search(sidecar.read_text()), sidecar.name
    assert "<img" in (out / f"{result.outcomes[3].name}.html").read_text()
    # the batch's own publication gate agrees with this independent scan
    from nlc_eval.reports.publication import PublicationCheck, scan_directory

    assert scan_directory(out, PublicationCheck.for_ids(ctx.data.pupils["pupil_id"])) == {}
