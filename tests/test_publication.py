"""The disclosure check every report page passes before it is published."""

from __future__ import annotations

import json

import nbformat
import pandas as pd
import pytest

from nlc_eval.reports import ReportJob, run_jobs
from nlc_eval.reports._html import notebook_to_html
from nlc_eval.reports.publication import PublicationCheck, scan_directory

IDS = ["P92134226EC8908FA", "P00000000000000AB"]


def _page(table: pd.DataFrame, text: str = "") -> str:
    return f"<html><body><p>{text}</p>{table.to_html()}</body></html>"


def test_small_count_in_a_count_column_is_found():
    check = PublicationCheck.for_ids(IDS)
    bad = _page(pd.DataFrame({"School": ["A", "B"], "Pupils": ["3", "120"],
                              "Attendance %": [2.0, 91.0]}))
    (problem,) = check.problems(bad)
    assert "count 3 under 'Pupils'" in problem and "threshold 5" in problem
    # suppressed cells, zeros, large counts and small rates are all fine
    ok = _page(pd.DataFrame({"School": ["A", "B", "C"], "Pupils": ["c", "0", "1,204"],
                             "Attendance %": [2.0, 3.0, 91.0]}))
    assert check.problems(ok) == []


def test_threshold_is_respected():
    page = _page(pd.DataFrame({"Learners": [7]}))
    assert PublicationCheck(threshold=5).problems(page) == []
    assert PublicationCheck(threshold=10).problems(page)


def test_pupil_identifier_in_page_or_sidecar_is_found():
    check = PublicationCheck.for_ids(IDS + ["42"])          # short ids are not scanned
    page = _page(pd.DataFrame({"Pupils": [40]}), text=f"see {IDS[1]} for details")
    assert check.problems(page) == ["1 pupil identifier(s) in the page"]
    assert check.problems(_page(pd.DataFrame({"Pupils": [42]})),
                          json.dumps({"who": IDS[0]})) == [
        "1 pupil identifier(s) in the results file"]
    assert "42" not in check.pupil_ids


def test_code_cells_are_found_but_stylesheet_rules_are_not():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"),
                nbformat.v4.new_code_cell("x = secret_analysis()")]
    clean = notebook_to_html(nb, "t")
    assert PublicationCheck().problems(clean) == []      # the stylesheet names input areas
    from nbconvert import HTMLExporter

    with_code, _ = HTMLExporter().from_notebook_node(nb)
    assert PublicationCheck().problems(with_code) == ["code cells in the page"]


def test_unsafe_report_is_not_published(tmp_path):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('n: int = 3  # pupils in the group')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "import pandas as pd\npd.DataFrame({'Group': ['a'], 'Pupils': [n]})")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = tmp_path / "leaky.ipynb"
    nbformat.write(nb, path)
    out = tmp_path / "out"
    jobs = [ReportJob(name="leaky", notebook=str(path), parameters={"n": 3}, kind="cluster",
                      ident="a"),
            ReportJob(name="safe", notebook=str(path), parameters={"n": 30}, kind="cluster",
                      ident="b")]
    result = run_jobs(jobs, out, n_jobs=1, progress=False)
    status = {o.name: o for o in result.outcomes}
    assert status["safe"].ok and (out / "safe.html").is_file()
    assert not status["leaky"].ok and not (out / "leaky.html").exists()
    assert "disclosure check" in status["leaky"].error and "count 3" in status["leaky"].error
    assert result.exit_code == 1
    assert scan_directory(out) == {}


@pytest.mark.parametrize("value", ["1", "4"])
def test_scan_directory_reports_each_file(tmp_path, value):
    (tmp_path / "a.html").write_text(_page(pd.DataFrame({"Supports": [value]})))
    (tmp_path / "b.html").write_text(_page(pd.DataFrame({"Supports": ["25"]})))
    found = scan_directory(tmp_path)
    assert list(found) == ["a.html"]
