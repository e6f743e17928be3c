"""Report structure and content: no import circles, one definition per measure, views."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest

from nlc_eval.errors import ReportError
from nlc_eval.reports import measures

REPORTS = Path(__file__).resolve().parents[1] / "nlc_eval" / "reports"


def _module_name(path: Path) -> str:
    rel = path.relative_to(REPORTS.parents[1]).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every nlc_eval.reports module imported anywhere in the file (inside functions too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        for n in names:
            if n.startswith("nlc_eval.reports"):
                out.add(n)
    return out


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in REPORTS.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        graph[name] = {m for m in _imports(path) if m in files and m != name}
    return graph


def test_no_import_circle_inside_reports():
    graph = _graph()
    # package __init__ modules re-export; a module importing its own package's __init__
    # is not a circle of code, so only edges into non-package modules count
    packages = {n for n in graph if (REPORTS.parents[1] / n.replace(".", "/")).is_dir()}
    edges = {n: {m for m in deps if m not in packages} for n, deps in graph.items()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(n):
        state[n] = 1
        path.append(n)
        for m in sorted(edges[n]):
            if state.get(m) == 1:
                raise AssertionError("import circle: " + " -> ".join(path[path.index(m):] + [m]))
            if m not in state:
                visit(m)
        path.pop()
        state[n] = 2

    for n in sorted(edges):
        if n not in state:
            visit(n)


def test_the_circle_check_can_fail(tmp_path, monkeypatch):
    """The checker sees a circle made through an import inside a function."""
    a = tmp_path / "nlc_eval" / "reports"
    a.mkdir(parents=True)
    (a / "__init__.py").write_text("")
    (a / "x.py").write_text("from nlc_eval.reports import y\n")
    (a / "y.py").write_text("def f():\n    from nlc_eval.reports.x import g\n")
    monkeypatch.setattr(f"{__name__}.REPORTS", a)
    with pytest.raises(AssertionError, match="import circle"):
        test_no_import_circle_inside_reports()


def test_sections_never_import_the_batch_or_the_context():
    graph = _graph()
    banned = {"nlc_eval.reports.batch", "nlc_eval.reports.context", "nlc_eval.reports.runner"}
    for name, deps in graph.items():
        if name.startswith("nlc_eval.reports.sections") or name == "nlc_eval.reports.ids":
            assert not deps & banned, f"{name} imports {deps & banned}"
    assert graph["nlc_eval.reports.ids"] <= {"nlc_eval.reports.jobs"}


def test_old_content_modules_are_gone():
    for old in ("content.py", "family_content.py", "tracking_content.py", "_section.py"):
        assert not (REPORTS / old).exists()


# ---------------------------------------------------------------------------
# Measures
# ---------------------------------------------------------------------------

def test_every_measure_has_its_own_label_and_a_known_source():
    labels = [m.label for m in measures.MEASURES.values()]
    assert len(labels) == len(set(labels)), "two measures share a name"
    for m in measures.MEASURES.values():
        assert m.source in {"census", "attendance_statistics", "pupil_extract",
                            "supports_extract", "estimate"}
        for school, pupil in (("official", "synthetic"), ("synthetic", "extracts")):
            line = measures.source_line(m.key, school_source=school, pupil_source=pupil,
                                        year=2024, attendance_session="2023/24")
            assert line and "{" not in line
        if not m.is_count and m.unit == "%":
            assert m.denominator, f"{m.key} is a rate without a denominator"


def test_counts_of_people_are_scanned_by_the_gate_and_rates_are_not():
    from nlc_eval.reports.publication import _is_count_header

    for m in measures.MEASURES.values():
        if m.unit in ("pupils", "learners", "supports", "sessions"):
            assert _is_count_header(m.label), f"the gate would not scan {m.label!r}"
        if m.unit in ("%", "percentage points", "per 1,000 pupils"):
            assert not _is_count_header(m.label), f"the gate would scan rate {m.label!r}"


def test_the_measures_the_issue_found_inconsistent_are_now_different_measures():
    # census attendance (45.4% for one school) and pupil-record attendance (85.0%)
    assert measures.get("census_attendance").source != measures.get("pupil_attendance").source
    # 84% (additional and intensive sessions) and 85.8% (every level)
    assert (measures.get("support_attendance").denominator
            != measures.get("support_attendance_ai").denominator)
    # 1,565 learners supported Aug-Dec and 6,804 learners in a three-session estimate
    assert measures.get("learners_supported").period == "dashboard"
    assert measures.get("learners_in_estimate").period == "sessions"
    # 54,692 comparison learners over three sessions against a one-census roll of 48,345
    assert measures.get("comparison_learners").period != measures.get("roll").period


def test_unknown_measure_names_the_fix():
    with pytest.raises(ReportError, match="measures.py"):
        measures.get("attendence")


def test_sessions_and_periods_in_words():
    assert measures.session(2024) == "2024/25"
    assert measures.session(1999) == "1999/00"
    assert measures.sessions(2022, 2024) == "2022/23 to 2024/25"
    assert measures.period_words(("2024-08-01", "2024-12-31")) == "August to December 2024"
    assert measures.period_words(("2024-08-01", "2025-06-30")) == "August 2024 to June 2025"


# ---------------------------------------------------------------------------
# Views of suppressed tables
# ---------------------------------------------------------------------------

def test_view_keeps_hidden_cells_under_their_new_headings():
    from nlc_eval.disclosure import suppress
    from nlc_eval.reports.sections._common import view

    t = pd.DataFrame({"learners": [3, 40, 50], "supports": [9, 60, 70]},
                     index=pd.Index(["A", "B", "C"], name="cluster"))
    s = suppress(t, margins=False, count_columns=["learners", "supports"])
    v = view(s, rows=["A", "B"], columns={"learners": "Learners supported"})
    cells = {(c["row"], c["column"]) for c in v.attrs["disclosure"]["cells"]}
    assert ("A", "Learners supported") in cells
    assert all(col == "Learners supported" for _, col in cells)
    assert list(v.columns) == ["Learners supported"] and list(v.index) == ["A", "B"]
    with pytest.raises(ReportError, match="suppress"):
        view(t)
