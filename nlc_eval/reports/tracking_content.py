"""Report sections built on the tracking and gaps modules: dashboard, drivers, gaps."""

from __future__ import annotations

import importlib

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


def cluster_gaps(ctx, cluster: str) -> Section:
    """Attendance and attainment gaps between SIMD quintiles 1 and 5 in one cluster."""
    sec = Section()
    _module("gaps", sec, "gap analysis")
    return sec


def authority_gaps(ctx) -> Section:
    """Attendance and attainment gaps across the authority."""
    sec = Section()
    _module("gaps", sec, "gap analysis")
    return sec
