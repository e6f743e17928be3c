"""What one report is: a notebook, its parameters, and the name of its outputs."""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nlc_eval.errors import ReportError

#: Folder of the report notebooks in a checkout (``notebooks/`` beside the package).
NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"

#: The notebook behind each kind of report.
NOTEBOOKS = {
    "cluster": "cluster_report.ipynb",
    "family": "family_report.ipynb",
    "authority": "authority_overview.ipynb",
    "family_formation": "family_formation.ipynb",
    "impact": "impact_evaluation.ipynb",
    "authority_comparison": "authority_comparison.ipynb",
}


def notebook_path(kind: str, notebook_dir: str | Path | None = None) -> Path:
    """Return the path of the notebook for a report kind.

    Raises
    ------
    ReportError
        If the kind is unknown or its notebook is missing.
    """
    if kind not in NOTEBOOKS:
        raise ReportError(
            f"unknown report kind {kind!r}; valid kinds: {', '.join(sorted(NOTEBOOKS))}."
        )
    path = Path(notebook_dir or NOTEBOOK_DIR) / NOTEBOOKS[kind]
    if not path.is_file():
        raise ReportError(
            f"the notebook for {kind!r} reports is missing: {path}. Fix: run from a checkout "
            "of the project, or pass the folder holding the notebooks."
        )
    return path


def slug(value: object) -> str:
    """A file-name-safe version of an identifier: lower case, runs of other characters -> '-'.

    Examples
    --------
    >>> slug("Airdrie Academy")
    'airdrie-academy'
    >>> slug("P-03")
    'p-03'
    """
    text = re.sub(r"[^a-z0-9]+", "-", str(value).strip().lower()).strip("-")
    return text or "x"


@dataclass
class ReportJob:
    """One notebook run of a batch.

    Parameters
    ----------
    name : str
        Base name of its outputs (``<name>.html``, ``<name>.ipynb``, ``<name>.json``).
    notebook : str
        Path of the notebook to execute.
    parameters : dict
        Parameters injected by papermill. ``output_json`` is filled in by the runner when
        the notebook declares it.
    kind : str
        ``cluster``, ``family``, ``authority`` ... (used to group the index).
    ident : str
        The cluster or family id, or ``""``.
    title : str
        Human title shown in the index.
    """

    name: str
    notebook: str
    parameters: dict[str, Any] = field(default_factory=dict)
    kind: str = "report"
    ident: str = ""
    title: str = ""

    def __post_init__(self) -> None:
        if slug(self.name) != self.name:
            raise ReportError(
                f"report name {self.name!r} is not file-name safe; use {slug(self.name)!r}."
            )
        self.notebook = str(self.notebook)
        if not self.title:
            self.title = self.name

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@functools.lru_cache(maxsize=64)
def _declared(notebook: str, mtime: float) -> tuple[str, ...]:
    import nbformat
    import papermill

    names = tuple(papermill.inspect_notebook(notebook).keys())
    nb = nbformat.read(notebook, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if cells:
        lines = [ln for ln in cells[0].source.splitlines()
                 if ln.strip() and not ln.lstrip().startswith("#")
                 and not ln.startswith((" ", "\t"))]
        if len(lines) != len(names):
            missed = [ln for ln in lines if ln.split(":")[0].split("=")[0].strip() not in names]
            raise ReportError(
                f"notebook {Path(notebook).name}: papermill cannot read the parameter line(s) "
                f"{missed}. Fix: one 'name: type = value  # comment' per line, with no ';' in "
                "the comment.")
    return names


def declared_parameters(notebook: str | Path) -> tuple[str, ...]:
    """Names of the parameters a notebook declares in its ``parameters`` cell."""
    path = Path(notebook)
    if not path.is_file():
        raise ReportError(f"notebook not found: {path}")
    return _declared(str(path), path.stat().st_mtime)


def check_unique(jobs: list[ReportJob]) -> None:
    """Raise :class:`ReportError` if two jobs would write the same files."""
    seen: dict[str, int] = {}
    for i, job in enumerate(jobs):
        if job.name in seen:
            raise ReportError(
                f"two reports are named {job.name!r} (jobs {seen[job.name]} and {i}); "
                "each report needs its own name."
            )
        seen[job.name] = i
