"""Sections built on the tracking and gaps modules: supports dashboard, drivers, gaps.

Cluster and authority pages share these functions (``group`` is a cluster id, or ``None``
for the authority), so the dashboard figures of a cluster are the same on every page.
"""

from __future__ import annotations

import importlib

import pandas as pd

from nlc_eval import formatting as fmt
from nlc_eval import narrative
from nlc_eval.reports import measures
from nlc_eval.reports.sections._common import (
    NOT_SHOWN,
    Figure,
    Section,
    Table,
    cell,
    hidden_words,
    view,
)

AUTHORITY_ROW = "Authority"
lab = measures.label

#: Dashboard columns and the measures they show.
DASHBOARD_COLUMNS = {
    "learners": lab("learners_supported"), "supports": lab("supports"),
    "universal": "Universal supports", "additional": "Additional supports",
    "intensive": "Intensive supports",
    "sessions_planned": lab("sessions_planned"), "sessions_attended": lab("sessions_attended"),
    "attendance_pct": lab("support_attendance"), "ended_successfully": "Supports ended successfully",
    "ended_otherwise": "Supports ended otherwise", "ongoing": "Supports ongoing",
    "success_pct": lab("success_pct"),
}
DRIVER_COLUMNS = {
    "pupils": lab("pupils"), "attendance_pct": lab("pupil_attendance"),
    "exclusions_per_1000": lab("exclusions_per_1000"),
    "supported": "Supported pupils", "attendance_supported_pct": "Attendance of supported pupils %",
    "q1_supported": "Supported pupils in SIMD deciles 1-2",
    "attendance_q1_supported_pct": "Attendance of supported pupils in SIMD deciles 1-2 %",
    "care_supported": "Supported care-experienced pupils",
    "attendance_care_supported_pct": "Attendance of supported care-experienced pupils %",
    "literacy_pct": lab("literacy_pct"), "numeracy_pct": lab("numeracy_pct"),
    "community_leadership_supports": "Community leadership supports",
    "family_engagement_learners": "Learners with family engagement support",
}
GAP_MEASURES = (("attendance", "Attendance %", "attendance_low", "attendance_high"),
                ("literacy", "Literacy on track %", "pct_low", "pct_high"),
                ("numeracy", "Numeracy on track %", "pct_low", "pct_high"))


def _module(name: str, sec: Section, what: str):
    """Import ``nlc_eval.<name>``; on failure say so in the section and return None."""
    try:
        return importlib.import_module(f"nlc_eval.{name}")
    except ImportError:
        sec.notes.append(f"The {what} is not available: the nlc_eval.{name} module is not "
                         "installed in this version of the kit.")
        return None


#: Decimals of every rate (%, per 1,000) in these tables and in the sentences quoting them.
RATE_DECIMALS = 1
#: Gap columns printed at one precision (the gap's, see :func:`gaps`).
GAP_COLUMNS = ("Gap (points)", "95% interval from", "95% interval to")


def _pct(x, decimals: int = RATE_DECIMALS) -> str | None:
    return None if x is None else fmt.number(x, decimals, thousands=False) + "%"


def _rate(x) -> str:
    return fmt.number(x, RATE_DECIMALS)


def interval_words(f: fmt.Formatted, name: str = "95% interval") -> str:
    """``'95% interval 1.2 to 3.0'``, or ``'95% interval not available'`` (never ``n/a``)."""
    if "n/a" in (f.low, f.high):
        return f"{name} not available"
    return f"{name} {f.low} to {f.high}"


def _summary(ctx, sec: Section):
    tracking = _module("tracking", sec, "supports dashboard")
    if tracking is None:
        return None
    if "summary" not in ctx.models:
        ctx.models["summary"] = tracking.support_summary(ctx.data.supports, by="cluster")
    return ctx.models["summary"]


def dashboard_sentence(summary: pd.DataFrame, row: str, name: str) -> str:
    """The dashboard of one row in words; hidden figures are said to be not shown.

    A hidden figure's clause is left out of the first sentence, and a sentence of its own
    says what is not shown and why (kept apart from the shares, so no count can be worked
    out from the two together).
    """
    period = measures.period_words(summary.attrs.get("period"))
    when = f"From {period}" if period else "In the dashboard period"
    if row not in summary.index:
        return f"{when}, no learners were supported in {name}."
    learners, planned = cell(summary, row, "learners"), cell(summary, row, "sessions_planned")
    att, succ = cell(summary, row, "attendance_pct"), cell(summary, row, "success_pct")
    if learners is not None:
        text = f"{when}, {int(learners):,} learners were supported in {name}"
        if planned is not None:
            text += f", with {int(planned):,} support sessions planned"
    elif planned is not None:
        text = f"{when}, {int(planned):,} support sessions were planned in {name}"
    else:
        text = f"{when}, in {name}"
    clauses = []
    if att is not None:
        clauses.append(f"{_pct(att)} of planned support sessions were attended")
    if succ is not None:
        clauses.append(f"{_pct(succ)} of the supports that ended did so successfully")
    if clauses:
        text += ("; " if learners is not None or planned is not None else ", ") + \
            " and ".join(clauses)
    if row != AUTHORITY_ROW:
        a_att = cell(summary, AUTHORITY_ROW, "attendance_pct")
        a_succ = cell(summary, AUTHORITY_ROW, "success_pct")
        refs = [f"{_pct(a_att)} attended" if a_att is not None else "",
                f"{_pct(a_succ)} ended successfully" if a_succ is not None else ""]
        refs = [r for r in refs if r]
        if refs:
            text += f" (authority: {' and '.join(refs)})"
    sentences = [text + "."] if (learners is not None or planned is not None or clauses) \
        else []
    hidden: dict[str, list[str]] = {}
    for key, what in (("learners", f"the number of learners supported in {name}"),
                      ("sessions_planned", f"the number of support sessions planned in {name}"),
                      ("attendance_pct", "the share of planned support sessions attended"),
                      ("success_pct", "the share of supports that ended successfully")):
        if cell(summary, row, key) is None:
            hidden.setdefault(hidden_words(summary, row, key), []).append(what)
    sentences += [narrative.not_shown(items, words) for words, items in hidden.items()]
    return " ".join(sentences)


def dashboard(ctx, cluster: str | None) -> Section:
    """The supports dashboard of one cluster (against the authority), or of every cluster."""
    sec = Section()
    summary = _summary(ctx, sec)
    if summary is None:
        return sec
    period = measures.period_words(summary.attrs.get("period"))
    src = measures.source_line("support_attendance", pupil_source=ctx.pupil_source)
    row = cluster or AUTHORITY_ROW
    name = cluster or ctx.authority_name
    sentence = dashboard_sentence(summary, row, name)
    sec.sentences.append(sentence)
    rows = [cluster, AUTHORITY_ROW] if cluster else None
    shown = view(summary, rows=rows, columns=DASHBOARD_COLUMNS)
    shown.index.name = "Cluster"
    place = f"{cluster} and the authority" if cluster else "each cluster and the authority"
    sec.tables["supports"] = Table(
        shown, caption=f"Cluster supports in {place}, {period}", source=src,
        notes=("Learners are counted once however many supports they had; support session "
               "attendance is support sessions attended out of those planned, at every level "
               "of support.",))
    fig = summary.drop(index=AUTHORITY_ROW)[["attendance_pct"]].reset_index()
    fig.columns = ["Cluster", lab("support_attendance")]
    sec.figures["attendance"] = Figure(
        "dot_plot", fig, {"value": lab("support_attendance"), "label": "Cluster",
                          "highlight": cluster,
                          "reference": cell(summary, AUTHORITY_ROW, "attendance_pct"),
                          "reference_label": "authority", "unit": "%"},
        caption=f"Attendance at planned support sessions by cluster, {period}", source=src,
        empty="No cluster has support sessions to show.")
    sec.results.update({k: cell(summary, row, k) for k in
                        ("learners", "supports", "sessions_planned", "attendance_pct",
                         "success_pct")})
    sec.results["period"] = list(summary.attrs.get("period") or [])
    sec.results["headlines"] = [sentence]
    return sec


def authority_headline(ctx) -> Section:
    """The authority's published headline (additional and intensive sessions) in words."""
    sec = Section()
    tracking = _module("tracking", sec, "supports headline")
    if tracking is None:
        return sec
    from nlc_eval.errors import DisclosureError

    try:
        h = tracking.headline(ctx.data.supports)
    except DisclosureError as exc:
        sec.notes.append(f"The authority's headline figures are not shown: {exc}")
        return sec
    period = measures.period_words(h["period"])
    lo, hi = h["attendance_ci"]
    slo, shi = h["success_ci"]
    att = fmt.effect(h["attendance_pct"], lo, hi, units="%")
    ok = fmt.effect(h["success_pct"], slo, shi, units="%")
    sec.sentences.append(
        f"From {period}, {h['learners_supported']:,} learners were supported "
        f"({h['learners_cst_or_ciil']:,} by cluster support teachers or cluster inclusion and "
        f"integration leads). {h['sessions_additional_intensive']:,} support sessions were "
        f"planned at additional or intensive level, and {att.estimate} of them "
        f"were attended ({interval_words(att)}); "
        f"{ok.estimate} of supports ended successfully ({interval_words(ok)}).")
    sec.results.update(learners_supported=h["learners_supported"],
                       support_attendance_ai=round(float(h["attendance_pct"]), 4),
                       success_pct=round(float(h["success_pct"]), 4), period=list(h["period"]))
    sec.results["headlines"] = list(sec.sentences)
    return sec


def drivers(ctx, cluster: str) -> Section:
    """The three drivers' key measures for one cluster, against the authority."""
    sec = Section()
    tracking = _module("tracking", sec, "drivers' measures table")
    if tracking is None:
        return sec
    if "drivers" not in ctx.models:
        ctx.models["drivers"] = tracking.driver_measures(ctx.data, by="cluster")
    d = ctx.models["drivers"]
    year = d.attrs.get("year", ctx.year)
    shown = view(d, rows=[cluster, AUTHORITY_ROW], columns=DRIVER_COLUMNS)
    shown.index.name = "Cluster"
    counts = set(shown.attrs["disclosure"].get("count_columns", []))
    hidden = {(c["row"], c["column"]) for c in shown.attrs["disclosure"]["cells"]}
    text = pd.DataFrame({
        r: [None if (r, c) in hidden or pd.isna(shown.loc[r, c]) else
            (f"{int(shown.loc[r, c]):,}" if c in counts else _rate(shown.loc[r, c]))
            for c in shown.columns] for r in shown.index},
        index=pd.Index(shown.columns, name="Measure"))
    sec.tables["drivers"] = Table(
        text,
        caption=f"The three drivers' measures, {cluster} and the authority, session "
                f"{measures.session(year)}",
        source=measures.source_line("pupil_attendance", pupil_source=ctx.pupil_source))
    # the transposed table keeps its hidden cells
    text.attrs["disclosure"] = {"threshold": 5, "count_columns": [], "cells": [
        {"row": c, "column": r, "reason": "copied"} for (r, c) in hidden]}
    for key, label, unit, better in (
            ("attendance_pct", "attendance", "percentage points", True),
            ("literacy_pct", "share of pupils on track in literacy", "percentage points", True),
            ("numeracy_pct", "share of pupils on track in numeracy", "percentage points", True),
            ("exclusions_per_1000", "exclusion incidents per 1,000 pupils", "incidents", False)):
        sec.sentences.append(_compare(cluster, label, cell(d, cluster, key),
                                      cell(d, AUTHORITY_ROW, key), unit, better,
                                      hidden=hidden_words(d, cluster, key, "pupils")))
    missing = d.attrs.get("not_measured") or {}
    if missing:
        sec.notes.append("Not measured from these data: " + "; ".join(
            f"{k.replace('_', ' ')}: {', '.join(v)}" for k, v in missing.items()) + ".")
    sec.results.update({k: cell(d, cluster, k) for k in
                        ("attendance_pct", "literacy_pct", "numeracy_pct",
                         "exclusions_per_1000")})
    return sec


def _compare(name: str, measure: str, value, reference, unit: str, higher_is_better: bool,
             *, hidden: str = NOT_SHOWN) -> str:
    """A cluster's rate against the authority's, both at the table's decimals."""
    if value is None:
        return f"{name}'s {measure} is {hidden}."
    if reference is None:
        return (f"{name}'s {measure} is {_rate(value)}; the authority's is not available to "
                "compare it with.")
    shown, ref = _rate(value), _rate(reference)
    diff = value - reference  # from the unrounded figures, as the statistics are
    if _rate(abs(diff)) == _rate(0):
        return f"{name}'s {measure} ({shown}) is the same as the authority's."
    verdict = "higher" if diff > 0 else "lower"
    good = (diff > 0) == higher_is_better
    return (f"{name}'s {measure} ({shown}) is {_rate(abs(diff))} {unit} {verdict} than the "
            f"authority's ({ref}){'' if good else ', which is worse'}.")


def _gap_tables(ctx, sec: Section, by: str):
    gaps = _module("gaps", sec, "gap analysis")
    if gaps is None:
        return None
    key = f"gaps_{by}"
    if key not in ctx.models:
        ctx.models[key] = {
            "attendance": gaps.attendance_gap(ctx.data, by=by),
            "literacy": gaps.attainment_gap(ctx.data, organiser="literacy", by=by),
            "numeracy": gaps.attainment_gap(ctx.data, organiser="numeracy", by=by),
        }
    return ctx.models[key]


def gap_table(tables: dict, group) -> pd.DataFrame:
    """One table of the three gaps of ``group``: rows (measure, session), suppressed cells kept.

    Columns: pupils and rate in SIMD quintile 1 and quintile 5, the gap and its interval.
    """
    rows, hidden = [], []
    for name, heading, low, high in GAP_MEASURES:
        t = tables.get(name)
        if t is None:
            continue
        hid = {(c["row"], c["column"]) for c in t.attrs.get("disclosure", {}).get("cells", [])}
        for r in [r for r in t.index if r[0] == group]:
            label = (heading, measures.session(int(r[1])))
            rows.append({"Measure": label[0], "Session": label[1],
                         "Pupils in SIMD Q1": cell(t, r, "n_low"), "Q1 %": cell(t, r, low),
                         "Pupils in SIMD Q5": cell(t, r, "n_high"), "Q5 %": cell(t, r, high),
                         "Gap (points)": cell(t, r, "gap"),
                         "95% interval from": cell(t, r, "gap_lo"),
                         "95% interval to": cell(t, r, "gap_hi")})
            names = {"n_low": "Pupils in SIMD Q1", low: "Q1 %", "n_high": "Pupils in SIMD Q5",
                     high: "Q5 %", "gap": "Gap (points)", "gap_lo": "95% interval from",
                     "gap_hi": "95% interval to"}
            hidden += [{"row": label, "column": names[c], "reason": "copied"}
                       for (rr, c) in hid if rr == r and c in names]
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out = out.set_index(["Measure", "Session"])
    for c in ("Pupils in SIMD Q1", "Pupils in SIMD Q5"):
        out[c] = pd.array(out[c], dtype="Int64")
    out.attrs["disclosure"] = {"threshold": 5, "cells": hidden,
                               "count_columns": ["Pupils in SIMD Q1", "Pupils in SIMD Q5"]}
    return out


def gaps(ctx, cluster: str | None) -> Section:
    """Attendance and attainment gaps between SIMD quintiles 1 and 5 (cluster or authority)."""
    sec = Section()
    tables = _gap_tables(ctx, sec, "cluster" if cluster else "authority")
    if tables is None:
        return sec
    group = cluster if cluster else next(iter(tables["attendance"].index))[0]
    place = cluster or ctx.authority_name
    table = gap_table(tables, group)
    if table.empty:
        sec.sentences.append(f"There are no gap figures for {place}.")
        return sec
    years = sorted({s for _, s in table.index})
    src = measures.source_line("pupil_attendance", pupil_source=ctx.pupil_source)
    # the gap and its interval at one precision in the table, the figure and the sentences
    d = fmt.shared_decimals(*(pd.to_numeric(table[c], errors="coerce") for c in GAP_COLUMNS))
    decimals = {"Q1 %": RATE_DECIMALS, "Q5 %": RATE_DECIMALS, **dict.fromkeys(GAP_COLUMNS, d)}
    sec.tables["gaps"] = Table(
        table, decimals=decimals, caption=f"Attendance, literacy and numeracy of pupils in SIMD quintiles 1 and "
                       f"5, {place}, {years[0]} to {years[-1]}", source=src,
        notes=("Gap: quintile 5 minus quintile 1, in percentage points; a positive gap means "
               "pupils in the most deprived fifth are behind. Literacy and numeracy: pupils "
               "assessed at P1, P4, P7 and S3 on track for their level.",))
    results = {}
    for name, heading, _, _ in GAP_MEASURES:
        if name not in tables:
            continue
        last = (heading, years[-1])
        g = table["Gap (points)"].get(last)
        lo, hi = table["95% interval from"].get(last), table["95% interval to"].get(last)
        what = "attendance" if name == "attendance" else f"{name} (share on track)"
        if g is None or pd.isna(g):
            sec.sentences.append(f"In {years[-1]}, the {what} gap between pupils in SIMD "
                                 f"quintile 1 and quintile 5 is not shown: fewer than 5 pupils "
                                 "in one of the groups.")
        else:
            gf = fmt.effect(g, lo, hi, min_decimals=d)
            sec.sentences.append(
                f"In {years[-1]}, the {what} gap between pupils in SIMD quintile 1 and "
                f"quintile 5 is {gf.estimate} percentage points ({interval_words(gf)}).")
        results[name] = {s: {"gap": cell(table, (heading, s), "Gap (points)"),
                             "gap_lo": cell(table, (heading, s), "95% interval from"),
                             "gap_hi": cell(table, (heading, s), "95% interval to")}
                         for s in years}
    sec.results.update(results)
    fig = table.xs("Attendance %", level="Measure")[["Gap (points)", "95% interval from",
                                                      "95% interval to"]].reset_index()
    sec.figures["trend"] = Figure(
        "trend", fig, {"x": "Session", "y": "Gap (points)", "low": "95% interval from",
                       "high": "95% interval to", "unit": "percentage points"},
        caption=f"Attendance gap between SIMD quintiles 5 and 1, {place}, {years[0]} to "
                f"{years[-1]}", source=src, empty="No session has a gap to show.",
        decimals=decimals)
    sec.sentences.append("A positive gap means pupils in the most deprived fifth (SIMD "
                         "quintile 1) are behind those in the least deprived fifth.")
    sec.results["headlines"] = sec.sentences[:1]
    return sec
