"""The authority overview: the estate, the families of every sector, supports, gaps, impact."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nlc_eval.reports import measures
from nlc_eval.reports.sections import impact as impact_sections
from nlc_eval.reports.sections import tracking
from nlc_eval.reports.sections._common import (
    SECTORS,
    Figure,
    Section,
    Table,
    collect,
    num,
    q1_share,
    suppress,
    total_row,
)
from nlc_eval.reports.sections.cluster import census_source

lab = measures.label
SECTOR_NAMES = {"primary": "Primary", "secondary": "Secondary",
                "special": "Additional support needs"}


def cluster_profiles(schools: pd.DataFrame) -> pd.DataFrame:
    """One row per cluster: schools, pupils and % in SIMD Q1, census attendance (suppressed)."""
    s = schools.copy()
    s["roll"] = pd.to_numeric(s["roll"], errors="coerce")
    s["q1"] = pd.to_numeric(s["simd_q1"], errors="coerce")
    s["known"] = sum(pd.to_numeric(s[f"simd_q{i}"], errors="coerce").fillna(0)
                     for i in range(1, 6))
    att = pd.to_numeric(s.get("attendance_rate"), errors="coerce") if "attendance_rate" in s \
        else pd.Series(np.nan, index=s.index)
    s["att_x_roll"] = att * s["roll"]
    s["roll_att"] = s["roll"].where(att.notna())
    g = s.groupby(s["cluster"].astype(str))
    t = pd.DataFrame({
        lab("schools"): g.size().astype("int64"),
        lab("roll"): g["roll"].sum().round().astype("int64"),
        lab("simd_q1_pupils"): g["q1"].sum().round().astype("int64"),
    })
    t[lab("simd_q1_pct")] = (100 * g["q1"].sum() / g["known"].sum().replace(0, np.nan)).round(1)
    t[lab("census_attendance")] = (g["att_x_roll"].sum()
                                   / g["roll_att"].sum().replace(0, np.nan)).round(1)
    t.index.name = "Cluster"
    out = suppress(t, margins="row", count_columns=[lab("roll"), lab("simd_q1_pupils")],
                   rate_columns={lab("simd_q1_pct"): (lab("simd_q1_pupils"), lab("roll")),
                                 lab("census_attendance"): (None, lab("roll"))})
    # the total row's school count and rates are the authority's (not hidden cells)
    return total_row(out, {lab("schools"): int(len(s)),
                           lab("simd_q1_pct"): round(100 * s["q1"].sum() / s["known"].sum(), 1)
                           if s["known"].sum() else np.nan,
                           lab("census_attendance"): round(s["att_x_roll"].sum()
                                                           / s["roll_att"].sum(), 1)
                           if s["roll_att"].sum() else np.nan})


def who(ctx) -> Section:
    """The authority's estate in a sentence, a table of clusters, and the SIMD figure."""
    s = ctx.schools
    n = s["sector"].value_counts()
    roll = pd.to_numeric(s["roll"], errors="coerce").sum()
    sec = Section()
    sec.sentences.append(
        f"{ctx.authority_name} has {int(n.get('primary', 0))} primary, "
        f"{int(n.get('secondary', 0))} secondary and {int(n.get('special', 0))} additional "
        f"support needs schools in {len(ctx.clusters)} clusters, with {int(roll):,} "
        f"pupils on roll at the September {ctx.year} census; {100 * q1_share(s):.1f}% of "
        "pupils with a known SIMD quintile live in quintile 1, the most deprived fifth of "
        "Scotland.")
    sec.sentences.append(ctx.describe())
    sec.notes.extend(ctx.notes)
    profiles = cluster_profiles(s)
    census = measures.session(ctx.year)
    sec.tables["clusters"] = Table(
        profiles, caption=f"Clusters of {ctx.authority_name}: schools, pupils, SIMD and "
                          f"attendance, census {census}",
        source=census_source(ctx, "roll", "census_attendance"),
        notes=("Cluster attendance is the roll-weighted mean of its schools' rates.",))
    fig = profiles.drop(index="Total", errors="ignore")[[lab("simd_q1_pct")]].reset_index()
    sec.figures["q1"] = Figure(
        "dot_plot", fig, {"value": lab("simd_q1_pct"), "label": "Cluster",
                          "reference": 100 * q1_share(s), "reference_label": "authority",
                          "unit": "%"},
        caption=f"Share of pupils living in SIMD quintile 1 by cluster, census {census}",
        source=census_source(ctx, "roll"))
    sec.results.update(n_schools=int(len(s)), n_clusters=len(ctx.clusters), roll=int(roll),
                       q1_share=num(q1_share(s)), source=ctx.source,
                       pupil_source=ctx.pupil_source, session=ctx.year)
    return sec


def families(ctx) -> Section:
    """The family groups of every sector: how many, of what size, how alike."""
    sec = Section()
    fam = ctx.ensure_families()
    if fam is None:
        sec.sentences.append("Family groups were not formed: " + " ".join(ctx.notes))
        return sec
    table = fam.table()
    rows = []
    for sector in SECTORS:
        t = table[table["group"].astype(str) == sector] if "group" in table else table.iloc[0:0]
        if t.empty:
            continue
        rows.append({"Sector": SECTOR_NAMES[sector], "Families": int(len(t)),
                     lab("schools"): int(t["n_schools"].sum()),
                     "Schools per family": f"{int(t['n_schools'].min())} to "
                                           f"{int(t['n_schools'].max())}"})
    if not rows:
        sec.sentences.append("No family groups were formed.")
        return sec
    out = pd.DataFrame(rows).set_index("Sector")
    sec.tables["families"] = Table(
        out, caption=f"Family groups of {ctx.authority_name} by sector, census "
                     f"{measures.session(ctx.year)}", source=census_source(ctx, "roll"))
    sec.sentences.append(
        "Family groups bring together schools of similar size and deprivation so that "
        "headteachers compare like with like: " + "; ".join(
            f"{r['Families']} {r['Sector'].lower()} families of {r['Schools per family']} "
            "schools" for r in rows) + ". Each family has its own report, and the family "
        "formation pages explain how they were formed.")
    sec.results["families"] = {r["Sector"]: r["Families"] for r in rows}
    return sec


def dashboard(ctx) -> Section:
    """The authority's supports headline and the dashboard of every cluster."""
    head = tracking.authority_headline(ctx)
    sec = tracking.dashboard(ctx, None)
    sec.sentences = head.sentences + [s for s in sec.sentences]
    sec.split = True
    sec.notes = head.notes + sec.notes
    sec.results["headline"] = head.results
    sec.results["headlines"] = head.results.get("headlines", sec.results.get("headlines", []))
    if head.sentences:
        sec.sentences.insert(1, "The published headline counts sessions at additional or "
                                "intensive level; the table below counts support sessions "
                                "at every level, so its attendance differs.")
    return sec


def gaps(ctx) -> Section:
    """Gaps between pupils in SIMD quintiles 1 and 5 across the authority."""
    return tracking.gaps(ctx, None)


def impact(ctx) -> Section:
    """Authority-wide effects on attendance by level and by cluster, with their limits.

    Every effect on the page (the table by level, the figures and the sentences) is printed
    at one precision, :func:`~nlc_eval.reports.sections.cluster.effect_decimals` of every
    row shown, so that a number quoted in a sentence is the table's cell.
    """
    from nlc_eval.reports import impact_models
    from nlc_eval.reports.sections import cluster as cl

    sec = impact_sections.summary(ctx)
    eff = ctx.models.get("effects") if ctx.models else None
    if eff is None:
        eff = impact_models.effects_table(ctx)
    table = sec.tables["effects"].data
    shown = [table]
    if (eff["scope"] == "cluster").any():
        every = cl.effects_display(eff)
        keep = every.index[every.index.str.endswith(", all supports")]
        clusters = every.loc[keep]
        shown.append(clusters)
        fig = pd.DataFrame({"Cluster": [k.removesuffix(", all supports") for k in keep],
                            lab("effect"): clusters[lab("effect")].astype(float).to_numpy(),
                            "95% interval from": clusters["95% interval from"]
                            .astype(float).to_numpy(),
                            "95% interval to": clusters["95% interval to"]
                            .astype(float).to_numpy()})
        sec.figures["clusters"] = Figure(
            "forest", fig, {"label": "Cluster", "estimate": lab("effect"),
                            "low": "95% interval from", "high": "95% interval to",
                            "unit": "percentage points"},
            caption=f"Effect of cluster supports on attendance by cluster with 95% intervals, "
                    f"{cl.estimate_sessions(ctx)}",
            source=measures.source_line("effect", pupil_source=ctx.pupil_source))
    d = cl.effect_decimals(pd.concat([t[list(cl.EFFECT_COLUMNS)] for t in shown]))
    decimals = dict.fromkeys(cl.EFFECT_COLUMNS, d)
    sec.tables["effects"].decimals = decimals
    for f in sec.figures.values():
        f.decimals = decimals
    sec.sentences = _effect_sentences(ctx, table, d) + [
        s for s in sec.sentences if not _is_effect_sentence(ctx, s, table)]
    sec.results["decimals"] = d
    return sec


def _is_effect_sentence(ctx, sentence: str, table: pd.DataFrame) -> bool:
    """Whether a sentence of the impact summary quotes one of the table's effects."""
    starts = [f"Across {ctx.authority_name}, from "] + [
        f"{row}: " for row in table.index if not str(row).startswith("All supports")]
    return any(sentence.startswith(s) for s in starts)


def _effect_sentences(ctx, table: pd.DataFrame, decimals: int) -> list[str]:
    """The authority's and each level's effect, from the effects table as printed."""
    from nlc_eval.reports.sections import cluster as cl

    est, low, high = cl.EFFECT_COLUMNS
    out = []
    span = cl.estimate_sessions(ctx)
    for row, r in table.iterrows():
        if pd.isna(r[est]):
            words = None
        else:
            words = cl.effect_words(r[est], r[low], r[high], decimals)
        if str(row) == "All supports, authority":
            if words is not None:
                out.insert(0, f"Across {ctx.authority_name}, from {span}, learners in the term "
                              f"their cluster support started had {words}.")
        elif words is None:
            out.append(f"{row}: not shown, fewer than 5 learners.")
        else:
            out.append(f"{row}: {words}.")
    return out


def consistency(ctx) -> Section:
    """Funnel plots of ACEL judgements of every school against the authority's own share."""
    from nlc_eval.reports.sections import consistency as cons

    return cons.funnels(ctx)


def consistency_changes(ctx) -> Section:
    """Schools whose ACEL judgements move between sessions more than cohort size allows."""
    from nlc_eval.reports.sections import consistency as cons

    return cons.changes(ctx)


def consistency_official(ctx) -> Section:
    """The published ACEL file against the SIMD-based expectation (official files only)."""
    from nlc_eval.reports.sections import consistency as cons

    return cons.official(ctx)


def results(ctx, *, who: Section, dashboard: Section, gaps: Section, impact: Section,
            families: Section | None = None, consistency: Section | None = None,
            consistency_changes: Section | None = None,
            consistency_official: Section | None = None) -> dict[str, Any]:
    """Key results of the authority overview."""
    heads = [who.sentences[0]] if who.sentences else []
    heads += list(dashboard.results.get("headlines", []))
    heads += list(gaps.results.get("headlines", []))
    if impact.sentences:
        heads.append(impact.sentences[0])
    if consistency is not None:
        heads += list(consistency.results.get("headlines", []))
    return {"title": f"{ctx.authority_name}: authority overview", "kind": "authority",
            "source": ctx.source, "pupil_source": ctx.pupil_source, "session": ctx.year,
            "headlines": heads, "sections": collect(
                who=who, families=families, dashboard=dashboard, gaps=gaps, impact=impact,
                consistency=consistency, consistency_changes=consistency_changes,
                consistency_official=consistency_official)}
