"""What every report section shares: the :class:`Section` itself, suppressed views, labels.

A section is one part of a report as data (sentences, suppressed tables, the data of its
figures and its key results); the notebooks display it with :meth:`Section.show_table` and
:meth:`Section.show_figure` (through :mod:`nlc_eval.reports.present`). Nothing here imports
the batch or the context module: a section receives the context as an argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nlc_eval.errors import ReportError
from nlc_eval.narrative import NOT_SHOWN, PROTECTED
from nlc_eval.reports import measures
from nlc_eval.reports.ids import check_id

SECTORS = ("primary", "secondary", "special")
SHARES = ("simd_q1_share", "simd_q2_share", "simd_q3_share", "simd_q4_share", "simd_q5_share")
# NOT_SHOWN and PROTECTED: what a reader is told in place of a hidden number (never the
# bare marker), shared with the sentences of nlc_eval.narrative


@dataclass
class Table:
    """A table ready to publish: suppressed data, caption, source and notes."""

    data: pd.DataFrame
    caption: str
    source: str
    notes: tuple[str, ...] = ()
    index: bool = True
    #: what a blank cell that was not suppressed reads as
    missing: str = "c"
    #: decimals of non-whole numbers: one for every column, or one per column heading
    #: (the sentences quoting a column print it at the same decimals)
    decimals: int | Mapping[str, int] = 1


@dataclass
class Figure:
    """A figure's data and how to draw it (a function of :mod:`nlc_eval.plots`)."""

    plot: str
    data: pd.DataFrame
    kwargs: dict[str, Any]
    caption: str
    source: str
    empty: str = "There is nothing to draw."
    #: decimals of the data table and alt text, as :attr:`Table.decimals`
    decimals: int | Mapping[str, int] = 1


@dataclass
class Section:
    """One part of a report: sentences, tables (suppressed), figures' data and results."""

    sentences: list[str] = field(default_factory=list)
    tables: dict[str, Table] = field(default_factory=dict)
    figures: dict[str, Figure] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: show each sentence as its own paragraph (for a summary that lists findings)
    split: bool = False

    @property
    def text(self) -> str:
        """The sentences (and notes) as one paragraph ("" when there are none)."""
        return " ".join(s for s in [*self.sentences, *self.notes] if s)

    def show_text(self) -> None:
        """Display the sentences as one paragraph (nothing when there are none)."""
        if not self.text:
            return
        from nlc_eval.reports import present

        if self.split:
            for sentence in [*self.sentences, " ".join(self.notes)]:
                if sentence:
                    present.paragraph(sentence)
        else:
            present.paragraph(self.text)

    def show_table(self, name: str) -> None:
        """Display one table with its caption, source and downloads (nothing if absent)."""
        if name not in self.tables:
            return
        from nlc_eval.reports import present

        t = self.tables[name]
        present.table(t.data, caption=t.caption, source=t.source, notes=t.notes,
                      name=name, index=t.index, missing=t.missing,
                      decimals=t.decimals)

    def show_figure(self, name: str) -> None:
        """Draw one figure in the house style, with alt text and its data (see plots)."""
        if name not in self.figures:
            return
        from nlc_eval import plots
        from nlc_eval.reports import present

        f = self.figures[name]
        values = f.data if f.data is not None else pd.DataFrame()
        if plots.is_empty(values, f.plot, f.kwargs):
            present.paragraph(f"{f.caption}: no figure. {f.empty}")
            return
        ax = getattr(plots, f.plot)(values, **f.kwargs)
        fig = ax.figure if hasattr(ax, "figure") else ax
        alt = plots.alt_text(values, f.plot, f.kwargs, caption=f.caption,
                             decimals=f.decimals)
        present.figure(fig, caption=f.caption, alt=alt, source=f.source,
                       data=plots.figure_table(values, f.plot, f.kwargs), name=name,
                       index=True, decimals=f.decimals)


def suppress(table: pd.DataFrame, **kwargs) -> pd.DataFrame:
    """:func:`nlc_eval.disclosure.suppress` (imported late: it is a large module)."""
    from nlc_eval.disclosure import suppress as _s

    return _s(table, **kwargs)


def unique_labels(names: pd.Series, extra: pd.Series) -> pd.Series:
    """School names, with the seed code added where two schools share a name."""
    dup = names.duplicated(keep=False)
    return names.where(~dup, names + " (" + extra.astype(str) + ")")


def num(x):
    """A finite float rounded to 4 places, or None (for the JSON results)."""
    if x is None or x is pd.NA:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if not np.isfinite(v) else round(v, 4)


def q1_share(schools: pd.DataFrame) -> float:
    """Share (0-1) of pupils with a known SIMD quintile who live in quintile 1."""
    q = [pd.to_numeric(schools[f"simd_q{i}"], errors="coerce").fillna(0).sum()
         for i in range(1, 6)]
    total = float(sum(q))
    return q[0] / total if total else float("nan")


def view(table: pd.DataFrame, *, rows=None, columns: dict[str, str] | None = None
         ) -> pd.DataFrame:
    """Part of a suppressed table, with readable headers (hidden cells stay missing).

    Rows and columns are picked from the table AFTER suppression, so every report that
    shows part of the same table hides the same cells (nothing can be recovered by
    setting two reports side by side).

    Parameters
    ----------
    table : DataFrame
        Output of :func:`nlc_eval.disclosure.suppress` (or a module that called it).
    rows : list, optional
        Row labels to keep (default all).
    columns : dict, optional
        ``{column: heading}`` to keep and rename (default all, unchanged).

    Raises
    ------
    ReportError
        When ``table`` has not been through suppression.
    """
    if not table.attrs.get("disclosure"):
        raise ReportError("view() needs a table that has been through "
                          "nlc_eval.disclosure.suppress(); suppress it first.")
    shown = table.copy()
    if rows is not None:
        shown = shown.loc[[r for r in rows if r in shown.index]]
    names = {c: c for c in shown.columns}
    if columns is not None:
        names = {c: columns[c] for c in columns if c in shown.columns}
        shown = shown[list(names)].rename(columns=names)
    record = dict(table.attrs["disclosure"])
    keep = set(shown.index)
    record["cells"] = [{**c, "column": names[c["column"]]} for c in record.get("cells", [])
                       if c["column"] in names and c["row"] in keep]
    record["count_columns"] = [names[c] for c in record.get("count_columns", []) if c in names]
    shown.attrs = {**table.attrs, "disclosure": record}
    return shown


def hidden_words(table: pd.DataFrame, row, column, people: str = "learners") -> str:
    """Why a cell of a suppressed table is not shown, in words for a sentence.

    ``"not shown: fewer than 5 learners"`` for a cell hidden because it is a small group;
    for one hidden only to protect another (secondary suppression, or a rate of a hidden
    count), ``"not shown, to protect a group of fewer than 5 learners"``.
    """
    record = table.attrs.get("disclosure") or {}
    threshold = int(record.get("threshold", 5))
    reasons = {c.get("reason") for c in record.get("cells", [])
               if c["row"] == row and c["column"] == column}
    words = NOT_SHOWN if reasons & {"primary", "small group", "zero"} else PROTECTED
    return words.replace("5", str(threshold)).replace("learners", people)


def cell(table: pd.DataFrame, row, column):
    """A value of a suppressed table as a float, or None when hidden or absent."""
    try:
        v = table.loc[row, column]
    except KeyError:
        return None
    return num(v)


def check_cluster(ctx, cluster: str | None) -> str:
    """The cluster id itself, or "" -> the first cluster; unknown ids raise ReportError."""
    return check_id(cluster, ctx.clusters, "cluster")


def families_of(ctx):
    """The context's family groups, or a ReportError saying why there are none."""
    if ctx.ensure_families() is None:
        raise ReportError("no family groups in this context: " + " ".join(ctx.notes))
    return ctx.families


def check_family(ctx, family: str | None) -> str:
    """The family id itself, or "" -> the first family; unknown ids raise ReportError."""
    families_of(ctx)
    return check_id(family, ctx.family_ids, "family")


def truth_table(ctx, outcome: str = "attendance_rate") -> pd.DataFrame | None:
    """Effects built into a synthetic authority (None for real extracts)."""
    truth = getattr(ctx.data, "truth", None)
    if truth is None or ctx.pupil_source != "synthetic":
        return None
    t = truth[truth["outcome"] == outcome][["level", "effect", "sample_effect", "n_pupils"]]
    return t.reset_index(drop=True)


def source_of(ctx, measure: str) -> str:
    """The source line of ``measure`` for this context (see :mod:`measures`)."""
    return measures.source_line(measure, school_source=ctx.source,
                                pupil_source=ctx.pupil_source)


def school_profiles(ctx, schools: pd.DataFrame, *, total: bool = True) -> pd.DataFrame:
    """Profile table of schools: roll, pupils and % in SIMD quintiles 1 and 5, FSM, attendance.

    Every column is a census measure (:mod:`measures`): roll, SIMD counts and FSM from the
    school statistics, attendance from the attendance statistics of the same census
    year, so a school's figure is the same in every report. Percentages computed from
    fewer than five pupils are hidden (suppressed).
    """
    s = schools.copy()
    label = unique_labels(s["school_name"].astype(str), s["seed_code"])
    roll = pd.to_numeric(s["roll"], errors="coerce").round().astype("Int64")
    known = sum(pd.to_numeric(s[f"simd_q{i}"], errors="coerce").fillna(0) for i in range(1, 6))
    lab = measures.label
    t = pd.DataFrame({
        "Sector": s["sector"].astype(str).str.capitalize().to_numpy(),
        lab("roll"): roll.to_numpy(),
        lab("simd_q1_pupils"): pd.to_numeric(s["simd_q1"], errors="coerce").round()
        .astype("Int64").to_numpy(),
        lab("simd_q1_pct"): (100 * pd.to_numeric(s["simd_q1"], errors="coerce")
                             / known.replace(0, np.nan)).round(1).to_numpy(),
        lab("simd_q5_pupils"): pd.to_numeric(s["simd_q5"], errors="coerce").round()
        .astype("Int64").to_numpy(),
        lab("simd_q5_pct"): (100 * pd.to_numeric(s["simd_q5"], errors="coerce")
                             / known.replace(0, np.nan)).round(1).to_numpy(),
        lab("fsm_pct"): pd.to_numeric(s.get("fsm_pct"), errors="coerce").round(1).to_numpy()
        if "fsm_pct" in s else np.nan,
        lab("census_attendance"): pd.to_numeric(s.get("attendance_rate"), errors="coerce")
        .round(1).to_numpy() if "attendance_rate" in s else np.nan,
    }, index=pd.Index(label.to_numpy(), name="School"))
    t = t.sort_values(["Sector", lab("roll")], ascending=[False, False])
    rates = {lab("simd_q1_pct"): (lab("simd_q1_pupils"), lab("roll")),
             lab("simd_q5_pct"): (lab("simd_q5_pupils"), lab("roll")),
             lab("fsm_pct"): (None, lab("roll")), lab("census_attendance"): (None, lab("roll"))}
    # a share of people beside the roll gives a count away: hide it when every count it
    # could round from is 1-4 (free school meals has no count column to follow)
    from nlc_eval.reports.publication import candidates

    fsm = lab("fsm_pct")
    small = [bool(pd.notna(n) and pd.notna(p) and n > 0
                  and all(1 <= k < 5 for k in candidates(float(n), f"{float(p):.1f}") or [0]))
             for n, p in zip(t[lab("roll")], t[fsm], strict=True)]
    t.loc[np.asarray(small), fsm] = np.nan
    out = suppress(t, margins="row" if total else False,
                   count_columns=[lab("roll"), lab("simd_q1_pupils"), lab("simd_q5_pupils")],
                   rate_columns=rates)
    out.attrs["disclosure"]["cells"] += [{"row": r, "column": fsm, "reason": "derivable"}
                                         for r, hide in zip(t.index, small, strict=True)
                                         if hide]
    if not total:
        return out
    q1, q5 = (pd.to_numeric(s[f"simd_q{i}"], errors="coerce").sum() for i in (1, 5))
    att = pd.to_numeric(s.get("attendance_rate"), errors="coerce") if "attendance_rate" in s \
        else pd.Series(np.nan, index=s.index)
    w = pd.to_numeric(s["roll"], errors="coerce").where(att.notna())
    k = float(known.sum())
    return total_row(out, {
        "Sector": "All", lab("simd_q1_pct"): round(100 * q1 / k, 1) if k else np.nan,
        lab("simd_q5_pct"): round(100 * q5 / k, 1) if k else np.nan,
        lab("fsm_pct"): "not calculated",
        lab("census_attendance"): round(float((att * w).sum() / w.sum()), 1)
        if w.sum() else np.nan})


def total_row(table: pd.DataFrame, values: dict[str, Any], name: str = "Total"
              ) -> pd.DataFrame:
    """Fill the cells of a suppressed table's total row that suppression does not sum.

    Counts in the total row come from :func:`nlc_eval.disclosure.suppress`; a school count,
    a rate of the whole group or a label is filled here, so no cell of the total row is
    left missing (a missing cell would read as a hidden one).
    """
    if name not in table.index:
        return table
    out = table.copy()
    for col, v in values.items():
        if col in out.columns:
            if isinstance(v, str) and not pd.api.types.is_object_dtype(out[col]):
                out[col] = out[col].astype(object)
            out.loc[name, col] = v
    out.attrs = table.attrs
    return out


def simd_figure_data(profiles: pd.DataFrame, schools: pd.DataFrame) -> pd.DataFrame:
    """SIMD quintile shares (%) per school for the profile figure, blank where suppressed.

    A share is blank when the profile table hides it, or when its count is 1-4 pupils
    (a share beside a roll would give the count away). A row's shares add up to 100%, so a
    row never hides exactly one share (100 minus the others would give it, undoing the
    table's protection of that cell), nor 1-4 pupils in all: further quintiles 2-4 are hidden
    (smallest first) until it does neither.
    """
    s = schools.copy()
    s["label"] = unique_labels(s["school_name"].astype(str), s["seed_code"]).to_numpy()
    s = s.set_index("label")
    shown = profiles.index.intersection(s.index)
    out = s.loc[shown, list(SHARES)].astype(float)
    for q in (1, 5):
        hidden = profiles.loc[shown, measures.label(f"simd_q{q}_pct")].isna().to_numpy()
        out.loc[hidden, f"simd_q{q}_share"] = np.nan
    counts = s.loc[shown, [f"simd_q{i}" for i in range(1, 6)]].apply(pd.to_numeric,
                                                                      errors="coerce")
    for i in (2, 3, 4):
        small = ((counts[f"simd_q{i}"] >= 1) & (counts[f"simd_q{i}"] < 5)).to_numpy()
        out.loc[small, f"simd_q{i}_share"] = np.nan
    # 100 minus the shown shares is the hidden share, and quintile 1's count and % in the
    # profile table give the denominator; only quintiles 2-4 can be added (the table shows 1, 5)
    for row in range(len(out)):
        hidden = out.iloc[row].isna().to_numpy().copy()
        cnt = counts.iloc[row].to_numpy(dtype=float)
        while hidden.sum() == 1 or 0 < np.nansum(cnt[hidden]) < 5:
            spare = [i for i in (1, 2, 3) if not hidden[i]]
            if not spare:
                break
            pick = min(spare, key=lambda i: (cnt[i] if np.isfinite(cnt[i]) else np.inf, i))
            hidden[pick] = True
            out.iloc[row, pick] = np.nan
    out = (100 * out).round(1)
    return out.reset_index().rename(columns={"label": "school_name"})


def map_data(ctx, members: pd.DataFrame) -> pd.DataFrame:
    """Schools of a family map: name, family, pupils on roll and % in SIMD Q1 (suppressed).

    A school's share is blank when 1-4 of its pupils live in quintile 1 (beside the roll
    it would give the count away).
    """
    q1 = pd.to_numeric(ctx.schools.set_index(ctx.schools["seed_code"].astype(str))["simd_q1"],
                       errors="coerce")
    counts = members["seed_code"].astype(str).map(q1)
    share = (100 * pd.to_numeric(members["simd_q1_share"], errors="coerce")).round(1)
    share = share.where(~((counts >= 1) & (counts < 5)))
    return pd.DataFrame({"School": members["school_name"].astype(str).to_numpy(),
                         "Family": members["family"].astype(str).to_numpy(),
                         measures.label("roll"): pd.to_numeric(members["roll"], errors="coerce")
                         .round().astype("Int64").to_numpy(),
                         measures.label("simd_q1_pct"): share.to_numpy()})


def headlines_markdown(results: dict[str, Any]) -> str:
    """The headlines of a report as a markdown list under "In brief" ("" when none)."""
    heads = [h for h in results.get("headlines") or [] if h]
    if not heads:
        return ""
    return "## In brief\n\n" + "\n".join(f"- {h}" for h in heads)


def collect(**sections: Section | None) -> dict[str, Any]:
    """The results of several sections, keyed by section name."""
    return {name: sec.results for name, sec in sections.items() if sec is not None}


def form_authority_families(ctx, *, size=None):
    """Family groups of the authority's schools (None, with a note, if unavailable).

    Default bounds follow the authority's practice (``families.SECTOR_SIZES``: primaries
    6-10, secondaries in trios and quads); schools of one cluster are kept apart.
    """
    try:
        from nlc_eval.families import SECTOR_SIZES, form_families
    except ImportError:
        ctx.notes.append("Family groups were not formed: the families module is not "
                         "available in this installation.")
        return None
    return form_families(ctx.schools.set_index("seed_code", drop=False),
                         size=SECTOR_SIZES if size is None else size,
                         by="sector", cannot_link="cluster", random_state=ctx.seed)


def authority_models(ctx) -> dict[str, Any]:
    """Authority-wide work computed once per batch.

    Attendance effects (authority, by level, by cluster; the reports' default design) and,
    when the tracking module is installed, the supports dashboard and drivers' measures
    of every cluster.
    """
    from nlc_eval.reports import impact_models

    models: dict[str, Any] = {"effects": impact_models.effects_table(ctx)}
    try:
        from nlc_eval import tracking
    except ImportError:
        return models
    models["summary"] = tracking.support_summary(ctx.data.supports, by="cluster")
    models["drivers"] = tracking.driver_measures(ctx.data, by="cluster")
    return models
