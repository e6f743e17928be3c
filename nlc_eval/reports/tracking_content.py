"""Report sections built on the tracking and gaps modules: dashboard, drivers, gaps."""

from __future__ import annotations

import importlib

import pandas as pd

from nlc_eval import narrative
from nlc_eval.reports._section import Section, cell, view


def _module(name: str, sec: Section, what: str):
    """Import ``nlc_eval.<name>``; on failure say so in the section and return None."""
    try:
        return importlib.import_module(f"nlc_eval.{name}")
    except ImportError:
        sec.notes.append(f"The {what} is not available: the nlc_eval.{name} module is not "
                         "installed in this version of the kit.")
        return None


DASHBOARD_COLUMNS = {
    "learners": "Learners", "supports": "Supports", "universal": "Universal",
    "additional": "Additional", "intensive": "Intensive",
    "sessions_planned": "Sessions planned", "sessions_attended": "Sessions attended",
    "attendance_pct": "Session attendance %", "ended_successfully": "Ended successfully",
    "ended_otherwise": "Ended otherwise", "ongoing": "Ongoing",
    "success_pct": "Ended successfully %",
}
DRIVER_COLUMNS = {
    "pupils": "Pupils", "attendance_pct": "Attendance %",
    "exclusions_per_1000": "Exclusion incidents per 1,000 pupils",
    "supported": "Supported pupils", "attendance_supported_pct": "Attendance of supported %",
    "q1_supported": "Supported pupils in SIMD deciles 1-2",
    "attendance_q1_supported_pct": "Their attendance %",
    "care_supported": "Supported care-experienced pupils",
    "attendance_care_supported_pct": "Attendance of care-experienced supported %",
    "literacy_pct": "Literacy on track %", "numeracy_pct": "Numeracy on track %",
    "community_leadership_supports": "Community leadership supports",
    "family_engagement_learners": "Learners with family engagement support",
}
AUTHORITY_ROW = "Authority"


def _dashboard(ctx, sec: Section):
    tracking = _module("tracking", sec, "supports dashboard")
    if tracking is None:
        return None
    if "summary" not in ctx.models:
        ctx.models["summary"] = tracking.support_summary(ctx.data.supports, by="cluster")
    return ctx.models["summary"]


def _period_words(table) -> str:
    period = table.attrs.get("period") or []
    return f" from {period[0]} to {period[1]}" if len(period) == 2 else ""


def cluster_dashboard(ctx, cluster: str) -> Section:
    """The supports dashboard of one cluster, against the authority."""
    from nlc_eval.reports.content import check_cluster

    cluster = check_cluster(ctx, cluster)
    sec = Section()
    summary = _dashboard(ctx, sec)
    if summary is None:
        return sec
    sec.views["supports"] = view(summary, rows=[cluster, AUTHORITY_ROW],
                                 columns=DASHBOARD_COLUMNS)
    sentence = narrative.dashboard_sentence(
        cell(summary, cluster, "learners"), cell(summary, cluster, "sessions_planned"),
        cell(summary, cluster, "attendance_pct"), cell(summary, cluster, "success_pct"),
        authority_attendance=cell(summary, AUTHORITY_ROW, "attendance_pct"),
        authority_success=cell(summary, AUTHORITY_ROW, "success_pct"))
    sec.sentences.append(f"In {cluster}{_period_words(summary)}: {sentence}")
    fig = summary.drop(index=AUTHORITY_ROW).reset_index()
    fig = fig.rename(columns={fig.columns[0]: "Cluster"})
    sec.figures["attendance"] = ("compare_bars", fig[["Cluster", "attendance_pct"]], {
        "value": "attendance_pct", "label": "Cluster", "highlight": cluster,
        "reference": cell(summary, AUTHORITY_ROW, "attendance_pct"), "unit": "%",
        "title": "Attendance at planned support sessions, by cluster"})
    sec.results.update({k: cell(summary, cluster, k) for k in
                        ("learners", "supports", "sessions_planned", "attendance_pct",
                         "success_pct")})
    sec.results["headlines"] = [sentence]
    return sec


def authority_dashboard(ctx) -> Section:
    """The supports dashboard of every cluster, with the authority's headline."""
    sec = Section()
    summary = _dashboard(ctx, sec)
    if summary is None:
        return sec
    import nlc_eval.tracking as tracking

    try:
        head = tracking.headline(ctx.data.supports)
        sec.sentences.append(head["sentence"])
        sec.results["headlines"] = [head["sentence"]]
        sec.results.update({k: head.get(k) for k in ("learners_supported", "attendance_pct",
                                                      "success_pct")})
    except Exception as exc:  # noqa: BLE001 - a DisclosureError or too little data
        sec.notes.append(f"No authority headline: {exc}")
    sec.views["supports"] = view(summary, columns=DASHBOARD_COLUMNS)
    fig = summary.drop(index=AUTHORITY_ROW).reset_index()
    fig = fig.rename(columns={fig.columns[0]: "Cluster"})
    sec.figures["attendance"] = ("compare_bars", fig[["Cluster", "attendance_pct"]], {
        "value": "attendance_pct", "label": "Cluster",
        "reference": cell(summary, AUTHORITY_ROW, "attendance_pct"), "unit": "%",
        "title": "Attendance at planned support sessions, by cluster"})
    return sec


def cluster_drivers(ctx, cluster: str) -> Section:
    """The three drivers' key measures for one cluster, against the authority."""
    from nlc_eval.reports.content import check_cluster

    cluster = check_cluster(ctx, cluster)
    sec = Section()
    tracking = _module("tracking", sec, "drivers' measures table")
    if tracking is None:
        return sec
    if "drivers" not in ctx.models:
        ctx.models["drivers"] = tracking.driver_measures(ctx.data, by="cluster")
    d = ctx.models["drivers"]
    sec.views["drivers"] = view(d, rows=[cluster, AUTHORITY_ROW], columns=DRIVER_COLUMNS)
    for key, label, unit in (("attendance_pct", "attendance", "points"),
                             ("literacy_pct", "share of pupils on track in literacy", "points"),
                             ("numeracy_pct", "share of pupils on track in numeracy", "points"),
                             ("exclusions_per_1000", "exclusion incidents per 1,000 pupils",
                              "")):
        sec.sentences.append(narrative.compare_sentence(
            cluster, label, cell(d, cluster, key), cell(d, AUTHORITY_ROW, key),
            unit=unit or "incidents", reference_name="the authority",
            higher_is_better=key != "exclusions_per_1000"))
    missing = d.attrs.get("not_measured") or {}
    if missing:
        sec.notes.append("Not measured from these data: " + "; ".join(
            f"{k.replace('_', ' ')}: {', '.join(v)}" for k, v in missing.items()) + ".")
    sec.results.update({k: cell(d, cluster, k) for k in
                        ("attendance_pct", "literacy_pct", "numeracy_pct",
                         "exclusions_per_1000")})
    return sec


GAP_COLUMNS = {
    "n_low": "Pupils in SIMD Q1", "attendance_low": "Attendance % (Q1)",
    "n_high": "Pupils in SIMD Q5", "attendance_high": "Attendance % (Q5)",
    "gap": "Gap (points)", "gap_lo": "95% CI from", "gap_hi": "95% CI to",
}
ACEL_GAP_COLUMNS = {
    "n_low": "Pupils assessed in SIMD Q1", "pct_low": "On track % (Q1)",
    "n_high": "Pupils assessed in SIMD Q5", "pct_high": "On track % (Q5)",
    "gap": "Gap (points)", "gap_lo": "95% CI from", "gap_hi": "95% CI to",
}


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


def _gap_section(sec: Section, tables: dict, group) -> None:
    """Sentences, views and figure data of the gaps for one group (all sessions)."""
    for name, table in tables.items():
        rows = [r for r in table.index if r[0] == group]
        if not rows:
            continue
        cols = GAP_COLUMNS if name == "attendance" else ACEL_GAP_COLUMNS
        sec.views[name] = view(table, rows=rows, columns=cols)
        last = rows[-1]
        what = "attendance" if name == "attendance" else f"{name} (share on track)"
        sentence = narrative.gap_sentence(
            what, cell(table, last, "gap"), cell(table, last, "gap_lo"),
            cell(table, last, "gap_hi"), unit="percentage points")
        sec.sentences.append(f"In {last[1]}/{str(int(last[1]) + 1)[-2:]}, t{sentence[1:]}")
        sec.results[name] = {str(r[1]): {k: cell(table, r, k) for k in ("gap", "gap_lo",
                                                                         "gap_hi")}
                             for r in rows}
    if "attendance" in tables:
        t = tables["attendance"]
        rows = [r for r in t.index if r[0] == group]
        fig = pd.DataFrame({"session": [int(r[1]) for r in rows],
                            "gap": [cell(t, r, "gap") for r in rows],
                            "lo": [cell(t, r, "gap_lo") for r in rows],
                            "hi": [cell(t, r, "gap_hi") for r in rows]}).astype(float)
        sec.figures["trend"] = ("trend", fig, {
            "x": "session", "y": "gap", "low": "lo", "high": "hi",
            "unit": "percentage points",
            "title": "Attendance gap between SIMD quintiles 5 and 1, by session"})
    sec.sentences.append("A positive gap means pupils in the most deprived fifth (SIMD "
                         "quintile 1) are behind those in the least deprived fifth.")
    sec.results["headlines"] = sec.sentences[:1]


def cluster_gaps(ctx, cluster: str) -> Section:
    """Attendance and attainment gaps between SIMD quintiles 1 and 5 in one cluster."""
    from nlc_eval.reports.content import check_cluster

    cluster = check_cluster(ctx, cluster)
    sec = Section()
    tables = _gap_tables(ctx, sec, "cluster")
    if tables is not None:
        _gap_section(sec, tables, cluster)
    return sec


def authority_gaps(ctx) -> Section:
    """Attendance and attainment gaps across the authority."""
    sec = Section()
    tables = _gap_tables(ctx, sec, "authority")
    if tables is not None:
        group = next(iter(tables["attendance"].index))[0]
        _gap_section(sec, tables, group)
    return sec
