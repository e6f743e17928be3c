"""Shared work of a report batch, computed once and loaded by every notebook.

:func:`build_context` loads the inputs (official files when given, else the synthetic
estate; the council's extracts when given, else the synthetic pupil data), forms the family
groups and fits the authority-wide impact models. :func:`save_context` pickles the result
into a private folder; each notebook receives that folder as its ``context`` parameter and
calls :func:`load_context`. With ``context=""`` a notebook builds what it needs itself (so it
runs standalone, and under nbval); the build is cached in the process, so a warm kernel
builds it at most once.

The context holds pupil-level data: it lives outside the published report folder and is
deleted when the batch ends.
"""

from __future__ import annotations

import functools
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from nlc_eval.errors import ReportError

CONTEXT_FILE = "context.pkl"
AUTHORITY_NAME = "North Lanarkshire"


@dataclass
class ReportContext:
    """Everything the report notebooks share.

    Attributes
    ----------
    source : str
        ``"official"`` (schools from the gov.scot files) or ``"synthetic"`` (invented estate).
    pupil_source : str
        ``"extracts"`` (the council's files) or ``"synthetic"``.
    authority_name : str
        The local authority reported on.
    year : int
        Reference session (calendar year it starts in).
    seed : int
        Seed of the synthetic data and of every random choice.
    schools : DataFrame
        The authority's schools: seed_code, school_name, sector, cluster and official-style
        columns.
    data : object
        The pupil-level tables (``pupils``, ``attendance``, ``attainment``, ``supports``;
        a synthetic authority also has ``truth``).
    families : object or None
        The family groups (:class:`nlc_eval.families.FamilyResult`), if formed.
    models : dict
        Authority-wide results computed once per batch (e.g. impact estimates by cluster).
    official_dir, extracts_dir : str
        Where the inputs came from (``""`` if not used).
    notes : list of str
        Plain statements of what could not be done and why (shown in the reports).
    """

    source: str
    pupil_source: str
    authority_name: str
    year: int
    seed: int
    schools: pd.DataFrame
    data: Any
    families: Any = None
    models: dict[str, Any] = field(default_factory=dict)
    official_dir: str = ""
    extracts_dir: str = ""
    notes: list[str] = field(default_factory=list)
    families_pending: bool = False

    def ensure_families(self):
        """Form the families now if the context was built without them (standalone runs)."""
        if self.families is None and self.families_pending:
            from nlc_eval.reports.sections._common import form_authority_families

            self.families_pending = False
            self.families = form_authority_families(self)
        return self.families

    @property
    def clusters(self) -> list[str]:
        """Cluster ids, sorted."""
        return sorted(self.schools["cluster"].dropna().astype(str).unique())

    @property
    def family_ids(self) -> list[str]:
        """Family ids, sorted (empty when no families were formed)."""
        if self.ensure_families() is None:
            return []
        return sorted(pd.Series(self.families.assignments).dropna().astype(str).unique())

    def describe(self) -> str:
        """One sentence on where the data came from (for every report's opening)."""
        school_src = ("the Scottish Government's published school statistics"
                      if self.source == "official" else "an invented estate shaped like "
                      f"{self.authority_name}'s")
        pupil_src = ("the council's pupil-level extracts" if self.pupil_source == "extracts"
                     else "synthetic pupil-level data (not real pupils)")
        return (f"Schools: {school_src} ({len(self.schools)} schools, census of September "
                f"{self.year}, session {self.year}/{str(self.year + 1)[-2:]}). Pupils and "
                f"supports: {pupil_src}.")


def _official_schools(official_dir: Path, authority_name: str) -> tuple[pd.DataFrame, Any]:
    from nlc_eval.data import official

    files = official.find_official_files(official_dir, "school_statistics")
    latest = max(int(k) for k in files)
    stats = official.load_school_statistics(official_dir, years=latest)
    mine = stats[stats["local_authority"] == authority_name]
    if mine.empty:
        names = sorted(stats["local_authority"].dropna().unique())
        raise ReportError(f"no schools of {authority_name!r} in the {latest} statistics; "
                          f"authorities there: {', '.join(names)}.")
    locations = None
    try:
        locations = official.load_school_locations(official_dir)
    except NotImplementedError:
        locations = None
    return mine.reset_index(drop=True), locations


def build_context(data: str | os.PathLike | None = None, extracts: str | os.PathLike | None = None,
                  *, seed: int = 0, authority_name: str = AUTHORITY_NAME,
                  families: bool = True, models: bool = True) -> ReportContext:
    """Compute the shared work of a batch.

    Parameters
    ----------
    data : path-like, optional
        Folder of official files; default ``NLC_EVAL_OFFICIAL_DATA`` if set, else none (the
        synthetic estate is used).
    extracts : path-like, optional
        Folder of the council's extracts (``load_extracts``); default synthetic pupil data.
    seed : int
        Seed of the synthetic data and of family formation.
    authority_name : str
        Authority to report on when official files are used.
    families, models : bool
        Form family groups; fit the authority-wide models.

    Returns
    -------
    ReportContext
    """
    from nlc_eval.config import official_data_dir
    from nlc_eval.data import synthetic

    official_dir = official_data_dir(data, required=False)
    notes: list[str] = []
    locations = None
    if official_dir is not None:
        schools_in, locations = _official_schools(official_dir, authority_name)
        source = "official"
        if locations is None:
            notes.append("School locations could not be read, so clusters were approximated "
                         "without them.")
    else:
        schools_in, source = None, "synthetic"
    if extracts:
        from nlc_eval.data.extracts import load_extracts

        tables = load_extracts(extracts)
        pupil_source = "extracts"
    else:
        tables = synthetic.authority(schools=schools_in, seed=seed, locations=locations)
        pupil_source = "synthetic"
    schools = tables.schools.copy()
    schools["seed_code"] = schools["seed_code"].astype(str)
    year = int(schools["year"].max()) if "year" in schools else int(
        tables.pupils["year"].max())
    ctx = ReportContext(source=source, pupil_source=pupil_source,
                        authority_name=authority_name, year=year, seed=int(seed),
                        schools=schools, data=tables,
                        official_dir=str(official_dir or ""),
                        extracts_dir=str(Path(extracts).resolve()) if extracts else "",
                        notes=notes)
    from nlc_eval.reports.sections._common import authority_models, form_authority_families

    if families:
        ctx.families = form_authority_families(ctx)
    else:
        ctx.families_pending = True
    if models:
        ctx.models = authority_models(ctx)
    return ctx


def save_context(ctx: ReportContext, directory: str | os.PathLike) -> Path:
    """Pickle ``ctx`` into ``directory`` (created, private to the user); return the folder."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(d / CONTEXT_FILE, "wb") as fh:
        pickle.dump(ctx, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return d


@functools.lru_cache(maxsize=4)
def _built(data: str, extracts: str, seed: int) -> ReportContext:
    # standalone: families and authority-wide models are computed only when a section
    # needs them (a cluster report does not need the families)
    return build_context(data or None, extracts or None, seed=seed, families=False,
                         models=False)


@functools.lru_cache(maxsize=4)
def _unpickled(path: str, mtime: float) -> ReportContext:
    with open(path, "rb") as fh:
        ctx = pickle.load(fh)
    if not isinstance(ctx, ReportContext):
        raise ReportError(f"{path} does not hold a report context.")
    return ctx


def load_context(context: str | os.PathLike = "", *, data_dir: str = "", extracts_dir: str = "",
                 seed: int = 0) -> ReportContext:
    """The batch's shared context, or a freshly built one when ``context`` is empty.

    Parameters
    ----------
    context : path-like
        Folder written by :func:`save_context` (the notebooks' ``context`` parameter).
    data_dir, extracts_dir, seed :
        Used only when ``context`` is empty (see :func:`build_context`).
    """
    if context:
        path = Path(context) / CONTEXT_FILE
        if not path.is_file():
            raise ReportError(f"no report context at {path}. Fix: pass the folder written "
                              "by the batch, or leave context empty to compute it.")
        return _unpickled(str(path), path.stat().st_mtime)
    env = os.environ.get("NLC_EVAL_OFFICIAL_DATA", "")
    return _built(str(data_dir or env), str(extracts_dir or ""), int(seed))
