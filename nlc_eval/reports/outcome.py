"""What a report batch returns: one :class:`JobOutcome` per report and a :class:`BatchResult`.

Kept free of the notebook machinery (papermill, nbformat, pandas) so that a batch whose
pages are all up to date can answer without importing any of it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class JobOutcome:
    """The result of one report run (also one entry of ``manifest.json``)."""

    name: str
    kind: str
    ident: str
    title: str
    notebook: str
    parameters: dict[str, Any]
    status: str = "failed"
    error: str = ""
    duration_s: float = 0.0
    kernel_attempts: int = 0
    headlines: list[str] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    started: str = ""
    #: what the report depends on (see :mod:`nlc_eval.reports.state`)
    fingerprint: str = ""
    fingerprint_parts: dict[str, str] = field(default_factory=dict)
    #: True when an up-to-date page of an earlier run was kept instead of re-running
    reused: bool = False
    stale: bool = False
    stale_reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchResult:
    """All outcomes of a batch, with the paths of its index and manifest."""

    outcomes: list[JobOutcome]
    out_dir: Path
    index_path: Path
    manifest_path: Path
    duration_s: float
    #: names of reports in the folder from earlier runs whose inputs changed since
    stale: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[JobOutcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    @property
    def reused(self) -> list[JobOutcome]:
        return [o for o in self.outcomes if o.reused]

    def summary(self) -> str:
        """A few lines for the terminal: counts, time, stale pages and every failure."""
        n = len(self.outcomes)
        kept = len(self.reused)
        lines = [f"{n - len(self.failed)} of {n} reports produced in {self.duration_s:.1f} s"
                 + (f" ({kept} up to date, not re-run)" if kept else "")
                 + f"; index: {self.index_path}"]
        if self.stale:
            lines.append(f"{len(self.stale)} report(s) of earlier runs are out of date: "
                         f"{', '.join(self.stale[:10])}"
                         + (" ..." if len(self.stale) > 10 else "")
                         + " (rerun them, or all with --force)")
        if self.failed:
            lines.append(f"{len(self.failed)} report(s) failed:")
        for o in self.failed:
            lines.append(f"FAILED {o.name}: {o.error}")
        return "\n".join(lines)
