"""The output folder across batches: every report indexed, stale marking, incremental
rebuild, --force, the folder lock, and batches killed with SIGKILL."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from nlc_eval.errors import ReportError
from nlc_eval.reports import ReportJob, run_jobs, state

ROOT = Path(__file__).resolve().parents[1]

PARAMS = 'x: int = 1  # a number\nsrc: str = ""  # an input file\noutput_json: str = ""  # results'
BODY = """\
import time
from pathlib import Path
value = int(Path(src).read_text()) if src else 0
time.sleep(x % 10 / 10)
print("value", value + x)
"""
END = """\
from nlc_eval.reports import write_results
write_results(output_json, {"title": f"Report {x}", "headlines": [f"Value {value + x}."]})
"""


def _notebook(path: Path, body: str = BODY) -> Path:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(PARAMS)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell(body), nbformat.v4.new_code_cell(END)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


def _jobs(nb: Path, src: Path, xs) -> list[ReportJob]:
    return [ReportJob(name=f"r-{x}", notebook=str(nb), parameters={"x": x, "src": str(src)},
                      kind="cluster", ident=str(x), title=f"R {x}") for x in xs]


def _run(nb, src, xs, out, **kw):
    return run_jobs(_jobs(nb, src, xs), out, n_jobs=1, progress=False, inputs=[src],
                    pdf=False, **kw)


def _index_links(out: Path) -> list[str]:
    text = (out / "index.html").read_text(encoding="utf-8")
    return [h for h in re.findall(r'href="([^"#]+)"', text)
            if not h.startswith(("http:", "https:", "mailto:"))]


def _assert_folder_consistent(out: Path) -> None:
    """Every page whole, every index link resolves, manifest = the pages in the folder."""
    for link in _index_links(out):
        assert (out / link).is_file(), f"index links {link}, which is not there"
    pages = {p.stem for p in out.glob("*.html")} - {"index", "status"}
    for name in pages:
        text = (out / f"{name}.html").read_text(encoding="utf-8")
        assert text.rstrip().endswith("</html>"), f"{name}.html is cut short"
        nbformat.validate(nbformat.read(out / f"{name}.ipynb", as_version=4))
    doc = json.loads((out / "manifest.json").read_text())
    listed = {r["name"] for r in doc["reports"] if r["status"] == "ok"}
    assert pages <= listed, f"pages missing from the manifest: {pages - listed}"


@pytest.fixture(scope="module")
def nb(tmp_path_factory) -> Path:
    return _notebook(tmp_path_factory.mktemp("nb") / "r.ipynb")


def test_partial_rerun_keeps_other_reports_and_marks_stale(nb, tmp_path):
    src = tmp_path / "input.txt"
    src.write_text("100")
    out = tmp_path / "out"
    first = _run(nb, src, [1, 2, 3], out)
    assert [o.status for o in first.outcomes] == ["ok"] * 3
    # a correction of the input, then one report re-run (as after a correction)
    src.write_text("200")
    second = _run(nb, src, [2], out)
    assert [o.name for o in second.outcomes] == ["r-2"] and not second.outcomes[0].reused
    doc = json.loads((out / "manifest.json").read_text())
    by_name = {r["name"]: r for r in doc["reports"]}
    assert set(by_name) == {"r-1", "r-2", "r-3"}
    assert by_name["r-1"]["stale"] and by_name["r-3"]["stale"]
    assert "input files changed" in by_name["r-1"]["stale_reason"]
    assert not by_name["r-2"].get("stale")
    assert doc["n_stale"] == 2 and doc["n_reports"] == 3
    assert set(second.stale) == {"r-1", "r-3"} and "out of date" in second.summary()
    links = _index_links(out)
    assert {"r-1.html", "r-2.html", "r-3.html"} <= set(links)
    assert "Value 202." in (out / "index.html").read_text()
    _assert_folder_consistent(out)


def test_unchanged_reports_are_not_rerun_and_force_reruns(nb, tmp_path):
    src = tmp_path / "input.txt"
    src.write_text("5")
    out = tmp_path / "out"
    _run(nb, src, [1, 2], out)
    mtime = (out / "r-1.html").stat().st_mtime_ns
    again = _run(nb, src, [1, 2], out)
    assert all(o.reused for o in again.outcomes) and again.exit_code == 0
    assert (out / "r-1.html").stat().st_mtime_ns == mtime
    assert "2 up to date, not re-run" in again.summary()
    # a changed parameter re-runs that report only
    jobs = _jobs(nb, src, [1, 2])
    jobs[1].parameters["x"] = 12
    mixed = run_jobs(jobs, out, n_jobs=1, progress=False, inputs=[src], pdf=False)
    assert [o.reused for o in mixed.outcomes] == [True, False]
    # a changed notebook re-runs everything that uses it
    _notebook(nb.parent / "r2.ipynb", BODY + "\nprint('new')\n")
    changed = _run(nb.parent / "r2.ipynb", src, [1], out)
    assert not changed.outcomes[0].reused
    forced = _run(nb.parent / "r2.ipynb", src, [1], out, force=True)
    assert not forced.outcomes[0].reused
    assert (out / "r-1.html").stat().st_mtime_ns > mtime
    doc = json.loads((out / "manifest.json").read_text())
    assert doc["this_run"] == {"ran": ["r-1"], "up_to_date": [], "force": True}
    assert len(doc["kit_fingerprint"]) == 64


def test_deleted_page_is_rebuilt(nb, tmp_path):
    src = tmp_path / "input.txt"
    src.write_text("1")
    out = tmp_path / "out"
    _run(nb, src, [1], out)
    (out / "r-1.html").unlink()
    again = _run(nb, src, [1], out)
    assert not again.outcomes[0].reused and (out / "r-1.html").is_file()


def test_page_unknown_to_the_manifest_is_indexed_as_stale(nb, tmp_path):
    src = tmp_path / "input.txt"
    src.write_text("1")
    out = tmp_path / "out"
    _run(nb, src, [1], out)
    (out / "r-9.html").write_text((out / "r-1.html").read_text())
    (out / "r-9.ipynb").write_bytes((out / "r-1.ipynb").read_bytes())
    _run(nb, src, [1], out)
    by_name = {r["name"]: r for r in json.loads((out / "manifest.json").read_text())["reports"]}
    assert by_name["r-9"]["stale"] and "not in the manifest" in by_name["r-9"]["stale_reason"]


def test_second_batch_on_the_same_folder_is_refused_at_once(tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import time
            from nlc_eval.reports.state import FolderLock
            with FolderLock({str(out)!r}):
                print("locked", flush=True)
                time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        t0 = time.perf_counter()
        with pytest.raises(ReportError, match="in use by another batch") as err:
            run_jobs([], out, progress=False, pdf=False)
        assert time.perf_counter() - t0 < 5
        assert f"process {holder.pid}" in str(err.value) and "Fix:" in str(err.value)
    finally:
        holder.kill()
        holder.wait()
    # the lock dies with its holder, even killed: the folder is free again
    with state.FolderLock(out):
        assert (out / state.LOCK_NAME).is_file()
    assert not (out / state.LOCK_NAME).exists()


_KILLED_BATCH = """\
import sys
from pathlib import Path
from nlc_eval.reports import ReportJob, run_jobs
nb, src, out = sys.argv[1:4]
jobs = [ReportJob(name=f"r-{x}", notebook=nb, parameters={"x": x, "src": src},
                  kind="cluster", ident=str(x), title=f"R {x}") for x in (5, 6, 7)]
run_jobs(jobs, out, n_jobs=1, progress=False, inputs=[src], pdf=False)
"""


@pytest.mark.parametrize("moment", ["during the first report", "after the first page"])
def test_sigkill_leaves_whole_pages_and_a_consistent_index(nb, tmp_path, moment):
    src = tmp_path / "input.txt"
    src.write_text("1")
    out = tmp_path / "out"
    _run(nb, src, [5], out, force=True)        # an earlier run's page and index
    src.write_text("2")                         # the next batch has work to do
    script = tmp_path / "batch.py"
    script.write_text(_KILLED_BATCH)
    proc = subprocess.Popen([sys.executable, str(script), str(nb), str(src), str(out)],
                            start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            staging = list(out.glob(".staging-*/*.ipynb"))
            doc = state.read_manifest(out)
            ran = (doc.get("this_run") or {}).get("ran", [])
            if moment == "during the first report" and staging:
                break
            if moment == "after the first page" and ran:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the batch never reached the moment to kill it")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the batch and its kernel
        proc.wait()
    _assert_folder_consistent(out)
    assert (out / "r-5.html").is_file()
    # the next run cleans up and completes
    result = _run(nb, src, [5, 6, 7], out)
    assert result.exit_code == 0
    _assert_folder_consistent(out)
    assert not list(out.glob(".staging-*")) and not list(out.glob(".*.tmp"))
    assert "Value 7." in (out / "index.html").read_text()


@pytest.mark.slow
def test_sigkill_of_a_real_report_batch(tmp_path):
    """``nlc-eval reports`` on two clusters, killed while the second runs, then rerun."""
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "NLC_EVAL_OFFICIAL_DATA"}
    env["MPLBACKEND"] = "Agg"
    cmd = [str(Path(sys.executable).parent / "nlc-eval"), "reports", "--clusters", "01", "02",
           "--jobs", "1", "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 900
        while time.time() < deadline and proc.poll() is None:
            if (out / "manifest.json").is_file() and list(out.glob(".staging-*/*.ipynb")):
                break  # one report published, the next one executing
            time.sleep(0.2)
        else:
            pytest.fail("the batch ended or stalled before it could be killed")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    _assert_folder_consistent(out)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-2000:]
    _assert_folder_consistent(out)
    assert "Traceback" not in done.stderr and "without encryption" not in done.stderr
    doc = json.loads((out / "manifest.json").read_text())
    assert "cluster-01" in {r["name"] for r in doc["reports"] if r["status"] == "ok"}
    assert doc["lock_file"]["sha256"] == state.lock_file_info()["sha256"]


def test_identical_batch_is_recognised_before_any_work(nb, tmp_path):
    from nlc_eval.reports.batch import _unchanged

    src = tmp_path / "input.txt"
    src.write_text("3")
    out = tmp_path / "out"
    assert _unchanged(out, "key-1") is None
    _run(nb, src, [1, 2], out, batch_key="key-1")
    done = _unchanged(out, "key-1")
    assert done is not None and [o.name for o in done.outcomes] == ["r-1", "r-2"]
    assert all(o.reused for o in done.outcomes) and done.exit_code == 0
    assert _unchanged(out, "key-2") is None           # another selection or other inputs
    (out / "r-2.ipynb").unlink()                      # a file of one report is gone
    assert _unchanged(out, "key-1") is None


def test_unchanged_rerun_path_needs_none_of_the_notebook_machinery():
    """The up-to-date check (batch key, manifest) imports no pandas, papermill or nbformat.

    Those imports alone take several seconds on a slow machine; an unchanged rerun must
    answer before any of them (issue target: at most 5 s; measured in benchmarks/).
    """
    code = ("import sys\n"
            "from nlc_eval.cli import main\n"
            "from nlc_eval.reports.batch import _batch_key, _unchanged, run_batch\n"
            "import nlc_eval.commands.reports\n"
            "_batch_key('01', 'all', True, None, None, 0)\n"
            "_unchanged('.', 'no-such-key')\n"
            "heavy = sorted({m.split('.')[0] for m in sys.modules}\n"
            "               & {'pandas', 'numpy', 'papermill', 'nbformat', 'nbclient',\n"
            "                  'jupyter_client', 'matplotlib', 'scipy'})\n"
            "print(','.join(heavy))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "", f"imported on the fast path: {done.stdout.strip()}"
