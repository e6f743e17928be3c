"""The cluster report: who the cluster is, its supports, drivers, gaps and impact."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nlc_eval import formatting as fmt
from nlc_eval.reports import impact_models, measures
from nlc_eval.reports.sections import tracking
from nlc_eval.reports.sections._common import (
    NOT_SHOWN,
    Figure,
    Section,
    Table,
    check_cluster,
    collect,
    num,
    q1_share,
    school_profiles,
    simd_figure_data,
    suppress,
)

lab = measures.label
check = check_cluster
#: Decimals of the profile tables' percentages (and of sentences quoting them).
Q1_DECIMALS = 1
#: Columns of the effects table printed at one precision (the estimates', see
#: :func:`effect_decimals`).
EFFECT_COLUMNS = (lab("effect"), "95% interval from", "95% interval to")


def census_source(ctx, *keys: str) -> str:
    """Source line of census measures of this context (census year and attendance session)."""
    session = ""
    if "attendance_session" in ctx.schools:
        vals = ctx.schools["attendance_session"].dropna().astype(str).unique()
        session = ", ".join(sorted(vals))
    return measures.sources(keys or ("roll",), school_source=ctx.source,
                            pupil_source=ctx.pupil_source, year=ctx.year,
                            attendance_session=session)


def intro(name: str, schools: pd.DataFrame, authority_q1: float | None) -> str:
    """Who a group of schools is, in one sentence (census roll and SIMD share)."""
    n = schools["sector"].value_counts()
    parts = []
    for key, word in (("secondary", "secondary"), ("primary", "primary"),
                      ("special", "additional support needs")):
        k = int(n.get(key, 0))
        if k:
            parts.append(f"{k} {word} school{'s' if k != 1 else ''}")
    listing = (", ".join(parts[:-1]) + " and " + parts[-1]) if len(parts) > 1 else (
        parts[0] if parts else "no schools")
    rolls = pd.to_numeric(schools["roll"], errors="coerce")
    text = f"{name} brings together {listing}"
    if rolls.notna().any():
        text += f", with {fmt.number(rolls.sum(), 0)} pupils on roll"
    share = q1_share(schools)
    if np.isfinite(share):
        # at the decimals of the profile table's "% in SIMD Q1" (its total row is this share)
        shown = fmt.number(100 * share, Q1_DECIMALS)
        text += f"; {shown}% of pupils with a known SIMD quintile live in quintile 1"
        if authority_q1 is not None and np.isfinite(authority_q1):
            auth = fmt.number(100 * authority_q1, Q1_DECIMALS)
            text += (f" (authority: {auth}%)" if auth != shown
                     else " (the same as the authority)")
    return text + "."


def who(ctx, cluster: str) -> Section:
    """Who the cluster is: its schools, their profiles and SIMD figure."""
    cluster = check_cluster(ctx, cluster)
    mine = ctx.schools[ctx.schools["cluster"].astype(str) == cluster]
    sec = Section()
    sec.sentences.append(intro(cluster, mine, q1_share(ctx.schools)))
    sec.sentences.append("Roll, SIMD and free school meals are from the pupil census of "
                         f"September {ctx.year}; attendance % is the school statistics' "
                         "figure for the session named in the source line.")
    profiles = school_profiles(ctx, mine)
    src = census_source(ctx, "roll", "census_attendance")
    sec.tables["schools"] = Table(
        profiles, caption=f"Schools of {cluster}: pupils, SIMD, free school meals and "
                          f"attendance, census {measures.session(ctx.year)}", source=src)
    fig = simd_figure_data(profiles, mine)
    sec.figures["simd"] = Figure(
        "simd_profile", fig, {"label": "school_name"},
        caption=f"Share of pupils in each SIMD quintile, schools of {cluster}, census "
                f"{measures.session(ctx.year)}", source=census_source(ctx, "roll"),
        empty="No school has a SIMD profile to show.")
    roll = pd.to_numeric(mine["roll"], errors="coerce").sum()
    sec.results.update(cluster=cluster, n_schools=int(len(mine)), roll=int(roll),
                       q1_share=num(q1_share(mine)))
    return sec


def effects_display(effects: pd.DataFrame) -> pd.DataFrame:
    """An effects table ready to publish: suppressed, estimates hidden for tiny groups."""
    t = effects.copy()
    labels = t["label"].astype(str)
    levels = labels.str.removesuffix(" support").str.capitalize() + " support"
    t["Group"] = np.where(t["scope"] == "level", levels,
                          np.where(t["scope"] == "authority", "All supports, authority",
                                   labels + ", all supports"))
    # unrounded: the page prints them at one precision (effect_decimals)
    t[lab("effect")] = pd.to_numeric(t["estimate"], errors="coerce").astype(float)
    t["95% interval from"] = pd.to_numeric(t["ci_low"], errors="coerce").astype(float)
    t["95% interval to"] = pd.to_numeric(t["ci_high"], errors="coerce").astype(float)
    t[lab("learners_in_estimate")] = t["n_treated"].astype("Int64")
    t[lab("comparison_learners")] = t["n_control"].astype("Int64")
    t = t.set_index("Group")[[lab("learners_in_estimate"), lab("comparison_learners"),
                              lab("effect"), "95% interval from", "95% interval to"]]
    rates = {c: (None, lab("learners_in_estimate"))
             for c in (lab("effect"), "95% interval from", "95% interval to")}
    return suppress(t, margins=False, count_columns=[lab("learners_in_estimate"),
                                                     lab("comparison_learners")],
                    rate_columns=rates)


def effect_decimals(shown: pd.DataFrame) -> int:
    """Decimals of every effect and interval on the page: the most any shown row needs.

    Each estimate keeps at least two significant figures and each interval that excludes
    zero prints so (:func:`nlc_eval.formatting.shared_decimals`); hidden rows do not count.
    """
    return fmt.shared_decimals(*(shown[c].astype(float) for c in EFFECT_COLUMNS))


def estimate_sessions(ctx) -> str:
    """The sessions the impact estimates cover (every session with a previous one)."""
    years = sorted(int(y) for y in ctx.data.pupils["year"].unique())
    return measures.sessions(years[1], years[-1]) if len(years) > 1 else (
        measures.session(years[0]))


def effects(ctx, cluster: str | None) -> pd.DataFrame:
    """Effects table from the context, or computed now for just what is needed."""
    table = ctx.models.get("effects") if ctx.models else None
    if table is not None:
        keep = table["scope"].isin(["authority", "level"])
        if cluster is not None:
            keep |= (table["scope"] == "cluster") & (table["label"] == str(cluster))
        return table[keep].reset_index(drop=True)
    design = impact_models.entry_cohort_design(ctx)
    out = impact_models.effects_table(ctx, by_cluster=False, design=design)
    if cluster is not None:
        est = impact_models.attendance_effect(ctx, cluster=cluster, design=design)
        row: dict[str, Any] = {"scope": "cluster", "label": str(cluster), "level": "all"}
        if est is not None:
            row.update(estimate=est.estimate, ci_low=est.ci_low, ci_high=est.ci_high,
                       p_value=est.p_value, n_treated=est.n_treated, n_control=est.n_control,
                       inference=est.inference, sentence=est.sentence(), method=est.method)
        out = pd.concat([out, pd.DataFrame([row])], ignore_index=True)
        for col in ("n_treated", "n_control"):
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("Int64")
        # the counts every page publishes for these groups (one per group; nested groups
        # never 1-4 apart), not the estimate's own, as in the batch's shared table
        out = impact_models.with_published_counts(
            out, impact_models.report_counts(ctx, design=design))
    return out


def effect_words(estimate: float, low: float, high: float, decimals: int = 1) -> str:
    """An effect on attendance and its interval in plain words (after "had").

    Printed at ``decimals`` at least (those of the effects table, :func:`effect_decimals`).
    """
    if not _finite(estimate):
        return "no estimate that can be shown"
    ci = _finite(low) and _finite(high)
    f = fmt.effect(estimate, low if ci else None, high if ci else None,
                   min_decimals=decimals)
    interval = (f"95% interval {f.low} to {f.high}" if ci else "95% interval not available")
    if f.sign == 0:
        text = (f"the same attendance as comparable learners not yet supported "
                f"(difference {f.estimate} percentage points, {interval})")
    else:
        side = "higher" if f.sign > 0 else "lower"
        text = (f"attendance {fmt.number(abs(estimate), f.decimals)} percentage points "
                f"{side} than comparable learners not yet supported ({interval})")
    if not ci:
        return text
    if not f.includes_null:
        return text
    return text + "; the interval includes no difference, so the data cannot rule out no effect"


def impact(ctx, cluster: str) -> Section:
    """Impact estimates for the cluster beside the authority-wide ones, with caveats."""
    cluster = check_cluster(ctx, cluster)
    eff = effects(ctx, cluster)
    sec = Section()
    shown = effects_display(eff)
    span = estimate_sessions(ctx)
    src = measures.source_line("effect", pupil_source=ctx.pupil_source)
    sec.tables["effects"] = Table(
        shown, caption=f"Effect of cluster supports on attendance in the term support started, "
                       f"{cluster} and the authority, {span}", source=src,
        notes=("Learners are counted once each across the sessions of the estimate; a "
               "comparison learner is one not yet supported in a term in which others started "
               "support.",))
    fig = pd.DataFrame({"Group": shown.index,
                        lab("effect"): shown[lab("effect")].astype(float).to_numpy(),
                        "95% interval from": shown["95% interval from"].astype(float).to_numpy(),
                        "95% interval to": shown["95% interval to"].astype(float).to_numpy()})
    sec.figures["forest"] = Figure(
        "forest", fig, {"label": "Group", "estimate": lab("effect"), "low": "95% interval from",
                        "high": "95% interval to", "unit": "percentage points",
                        "highlight": f"{cluster}, all supports"},
        caption=f"Effect of cluster supports on attendance with 95% intervals, {cluster} and "
                f"the authority, {span}", source=src, empty="No estimate can be shown.")
    d = effect_decimals(shown)
    decimals = dict.fromkeys(EFFECT_COLUMNS, d)
    sec.tables["effects"].decimals = decimals
    sec.figures["forest"].decimals = decimals
    mine = eff[eff["scope"] == "cluster"]
    auth = eff[eff["scope"] == "authority"].iloc[0]
    hidden = shown[lab("effect")].isna().to_numpy()
    if not mine.empty and pd.notna(mine.iloc[0].get("estimate")) and not hidden[-1]:
        row = mine.iloc[0]
        sec.sentences.append(
            f"In {cluster}, learners in the term their support started had "
            f"{effect_words(row['estimate'], row['ci_low'], row['ci_high'], d)}.")
        n_sch = int((ctx.schools["cluster"].astype(str) == cluster).sum())
        width = float(row["ci_high"] - row["ci_low"])
        auth_width = float(auth["ci_high"] - auth["ci_low"])
        if np.isfinite(width) and auth_width > 0:
            sec.sentences.append(
                f"With {n_sch} schools in the cluster, its interval is "
                f"{width / auth_width:.0f} times as wide as the authority-wide one, so set the "
                "two side by side before drawing conclusions.")
        sec.results["cluster_effect"] = {k: num(row[k]) for k in
                                         ("estimate", "ci_low", "ci_high", "n_treated")}
        sec.results["headlines"] = [_headline(row["estimate"], row["ci_low"],
                                              row["ci_high"], d)]
    else:
        sec.sentences.append(f"No estimate for {cluster} is shown: fewer than 5 learners "
                             "were supported; the authority-wide estimate is the better guide.")
        sec.results["cluster_effect"] = None
    if pd.notna(auth.get("estimate")):
        sec.sentences.append(
            f"Across the authority, supported learners had "
            f"{effect_words(auth['estimate'], auth['ci_low'], auth['ci_high'], d)}.")
        sec.results["authority_effect"] = {k: num(auth[k]) for k in
                                           ("estimate", "ci_low", "ci_high", "n_treated")}
    sec.notes.append(
        "Each estimate compares learners' attendance in the term their support started with "
        "that of learners in the same term and school (cluster, for the authority-wide "
        "estimates) not yet supported, after allowing for what supports are allocated on: "
        "attendance and exclusions in the previous session, SIMD quintile 1, additional "
        "support needs, care experience and free school meals. If learners were also chosen "
        "on something else that affects attendance, such as a dip earlier in the same "
        "session, the estimates can still be biased.")
    return sec


def _finite(x) -> bool:
    return x is not None and x is not pd.NA and fmt.finite(x)


def _headline(estimate, low, high, decimals: int = 1) -> str:
    ci = _finite(low) and _finite(high)
    f = fmt.effect(estimate, low if ci else None, high if ci else None, sign=True,
                   min_decimals=decimals)
    # the estimate carries a sign word's "+", the bounds their own sign only (as the table)
    interval = (f"95% interval {fmt.number(low, f.decimals)} to {fmt.number(high, f.decimals)}"
                if ci else "95% interval not available")
    return (f"Attendance of supported learners: {f.estimate} percentage points "
            f"against comparable learners ({interval}).")


def headline_effect(sec: Section) -> str:
    """One short headline from an impact section (at the effects table's decimals)."""
    heads = sec.results.get("headlines")
    if heads:
        return heads[0]
    eff = sec.results.get("cluster_effect")
    if not eff or not _finite(eff.get("estimate")):
        return f"Cluster estimate of the effect on attendance {NOT_SHOWN} supported."
    return _headline(eff["estimate"], eff.get("ci_low"), eff.get("ci_high"))


def dashboard(ctx, cluster: str) -> Section:
    """The supports dashboard of the cluster, against the authority."""
    return tracking.dashboard(ctx, check_cluster(ctx, cluster))


def drivers(ctx, cluster: str) -> Section:
    """The three drivers' measures of the cluster, against the authority."""
    return tracking.drivers(ctx, check_cluster(ctx, cluster))


def gaps(ctx, cluster: str) -> Section:
    """Gaps between pupils in SIMD quintiles 1 and 5 in the cluster."""
    return tracking.gaps(ctx, check_cluster(ctx, cluster))


def consistency(ctx, cluster: str) -> Section:
    """The cluster's schools highlighted in the authority's funnel plots of ACEL judgements."""
    from nlc_eval.reports.sections import consistency as cons

    cluster = check_cluster(ctx, cluster)
    codes = ctx.schools.loc[ctx.schools["cluster"].astype(str) == cluster, "seed_code"]
    return cons.highlighted(ctx, list(codes.astype(str)), name=cluster)


def results(ctx, cluster: str, *, who: Section, dashboard: Section, drivers: Section,
            gaps: Section, impact: Section, consistency: Section | None = None
            ) -> dict[str, Any]:
    """Key results of a cluster report, with its title and headlines."""
    heads = [who.sentences[0]] if who.sentences else []
    heads += list(dashboard.results.get("headlines", []))
    heads += list(gaps.results.get("headlines", []))
    heads.append(headline_effect(impact))
    return {"title": f"{cluster}: cluster report", "kind": "cluster", "cluster": cluster,
            "source": ctx.source, "pupil_source": ctx.pupil_source, "session": ctx.year,
            "headlines": heads, "sections": collect(who=who, dashboard=dashboard,
                                                    drivers=drivers, gaps=gaps, impact=impact,
                                                    consistency=consistency)}
