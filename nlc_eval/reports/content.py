"""What each report shows, as data: the tables, figures' data and sentences of a report.

The notebooks stay thin: they call one function here per section and display what comes
back. Every table returned for display has been through
:func:`nlc_eval.disclosure.suppress` (show it with :func:`nlc_eval.disclosure.display`);
no table carries a pupil identifier.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nlc_eval import narrative
from nlc_eval.errors import ReportError
from nlc_eval.reports import impact_models
from nlc_eval.reports._section import (
    Section,
    _num,
    _q1_share,
    _suppress,
    _unique_labels,
)

SECTORS = ("primary", "secondary", "special")
SHARES = ("simd_q1_share", "simd_q2_share", "simd_q3_share", "simd_q4_share", "simd_q5_share")


# ---------------------------------------------------------------------------
# Shared work (called once per batch by the context)
# ---------------------------------------------------------------------------

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

    Attendance effects (authority, by level, by cluster; the reports' default design,
    :data:`impact_models.DEFAULT_METHOD`) and, when the tracking module is installed, the
    supports dashboard and drivers' measures of every cluster.
    """
    models: dict[str, Any] = {"effects": impact_models.effects_table(ctx)}
    try:
        from nlc_eval import tracking
    except ImportError:
        return models
    models["summary"] = tracking.support_summary(ctx.data.supports, by="cluster")
    models["drivers"] = tracking.driver_measures(ctx.data, by="cluster")
    return models


def _effects(ctx, cluster: str | None) -> pd.DataFrame:
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
        row = {"scope": "cluster", "label": str(cluster), "level": "all"}
        if est is not None:
            row.update(estimate=est.estimate, ci_low=est.ci_low, ci_high=est.ci_high,
                       p_value=est.p_value, n_treated=est.n_treated, n_control=est.n_control,
                       inference=est.inference, sentence=est.sentence(), method=est.method)
        out = pd.concat([out, pd.DataFrame([row])], ignore_index=True)
        for col in ("n_treated", "n_control"):
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("Int64")
    return out


def effects_display(effects: pd.DataFrame) -> pd.DataFrame:
    """An effects table ready to publish: suppressed, estimates hidden for tiny groups."""
    t = effects.copy()
    t["Estimate"] = t["estimate"].round(2)
    t["95% CI from"] = t["ci_low"].round(2)
    t["95% CI to"] = t["ci_high"].round(2)
    t["Learners supported"] = t["n_treated"].astype("Int64")
    t["Comparison learners"] = t["n_control"].astype("Int64")
    t = t.set_index("label")[["Learners supported", "Comparison learners", "Estimate",
                              "95% CI from", "95% CI to"]]
    t.index.name = "Group"
    rates = {c: (None, "Learners supported") for c in ("Estimate", "95% CI from", "95% CI to")}
    return _suppress(t, margins=False, count_columns=["Learners supported",
                                                      "Comparison learners"],
                     rate_columns=rates)


# ---------------------------------------------------------------------------
# Who the schools are
# ---------------------------------------------------------------------------

def school_profiles(schools: pd.DataFrame, *, total: bool = True) -> pd.DataFrame:
    """Profile table of schools: roll, pupils and % in SIMD quintiles 1 and 5, FSM, attendance.

    Percentages computed from fewer than five pupils are hidden (suppressed).
    """
    s = schools.copy()
    label = _unique_labels(s["school_name"].astype(str), s["seed_code"])
    roll = pd.to_numeric(s["roll"], errors="coerce").round().astype("Int64")
    known = sum(pd.to_numeric(s[f"simd_q{i}"], errors="coerce").fillna(0) for i in range(1, 6))
    t = pd.DataFrame({
        "Sector": s["sector"].astype(str).str.capitalize().to_numpy(),
        "Pupils": roll.to_numpy(),
        "Pupils in SIMD Q1": pd.to_numeric(s["simd_q1"], errors="coerce").round()
        .astype("Int64").to_numpy(),
        "% in SIMD Q1": (100 * pd.to_numeric(s["simd_q1"], errors="coerce")
                         / known.replace(0, np.nan)).round(1).to_numpy(),
        "Pupils in SIMD Q5": pd.to_numeric(s["simd_q5"], errors="coerce").round()
        .astype("Int64").to_numpy(),
        "% in SIMD Q5": (100 * pd.to_numeric(s["simd_q5"], errors="coerce")
                         / known.replace(0, np.nan)).round(1).to_numpy(),
        "% FSM": pd.to_numeric(s.get("fsm_pct"), errors="coerce").round(1).to_numpy()
        if "fsm_pct" in s else np.nan,
        "Attendance %": pd.to_numeric(s.get("attendance_rate"), errors="coerce").round(1)
        .to_numpy() if "attendance_rate" in s else np.nan,
    }, index=pd.Index(label.to_numpy(), name="School"))
    t = t.sort_values(["Sector", "Pupils"], ascending=[False, False])
    rates = {"% in SIMD Q1": ("Pupils in SIMD Q1", "Pupils"),
             "% in SIMD Q5": ("Pupils in SIMD Q5", "Pupils"),
             "% FSM": (None, "Pupils"), "Attendance %": (None, "Pupils")}
    return _suppress(t, margins="row" if total else False,
                     count_columns=["Pupils", "Pupils in SIMD Q1", "Pupils in SIMD Q5"],
                     rate_columns=rates)


def simd_figure_data(profiles: pd.DataFrame, schools: pd.DataFrame) -> pd.DataFrame:
    """SIMD quintile shares per school for the profile figure, blank where suppressed."""
    s = schools.copy()
    s["label"] = _unique_labels(s["school_name"].astype(str), s["seed_code"]).to_numpy()
    s = s.set_index("label")
    shown = profiles.index.intersection(s.index)
    out = s.loc[shown, list(SHARES)].astype(float)
    for q in (1, 5):
        hidden = profiles.loc[shown, f"% in SIMD Q{q}"].isna().to_numpy()
        out.loc[hidden, f"simd_q{q}_share"] = np.nan
    counts = s.loc[shown, [f"simd_q{i}" for i in range(1, 6)]].apply(pd.to_numeric,
                                                                      errors="coerce")
    for i in (2, 3, 4):
        small = ((counts[f"simd_q{i}"] >= 1) & (counts[f"simd_q{i}"] < 5)).to_numpy()
        out.loc[small, f"simd_q{i}_share"] = np.nan
    return out.reset_index().rename(columns={"label": "school_name"})


# ---------------------------------------------------------------------------
# Cluster report
# ---------------------------------------------------------------------------

def check_cluster(ctx, cluster: str) -> str:
    """The cluster id itself, or "" -> the first cluster; unknown ids raise ReportError."""
    if cluster in ("", None):
        return ctx.clusters[0]
    from nlc_eval.reports.batch import resolve_ids

    return resolve_ids([str(cluster)], ctx.clusters, "cluster")[0]


def cluster_who(ctx, cluster: str) -> Section:
    """Who the cluster is: its schools, their profiles and SIMD figure."""
    cluster = check_cluster(ctx, cluster)
    mine = ctx.schools[ctx.schools["cluster"].astype(str) == cluster]
    n = mine["sector"].value_counts()
    roll = pd.to_numeric(mine["roll"], errors="coerce").sum()
    sec = Section()
    sec.sentences.append(narrative.cluster_intro(
        cluster, int(n.get("primary", 0)), int(n.get("secondary", 0)), int(n.get("special", 0)),
        roll, _q1_share(mine), _q1_share(ctx.schools)))
    profiles = school_profiles(mine)
    sec.tables["schools"] = profiles
    sec.figures["simd"] = ("simd_profile", simd_figure_data(profiles, mine),
                           {"title": f"SIMD profile of {cluster}'s schools"})
    sec.results.update(cluster=cluster, n_schools=int(len(mine)), roll=int(roll),
                       q1_share=round(_q1_share(mine), 4))
    return sec


def cluster_impact(ctx, cluster: str) -> Section:
    """Impact estimates for the cluster beside the authority-wide ones, with caveats."""
    cluster = check_cluster(ctx, cluster)
    eff = _effects(ctx, cluster)
    sec = Section()
    shown = effects_display(eff)
    sec.tables["effects"] = shown
    fig = eff[["label", "estimate", "ci_low", "ci_high"]].copy()
    hidden = shown["Estimate"].isna().to_numpy()
    fig.loc[hidden, ["estimate", "ci_low", "ci_high"]] = np.nan
    sec.figures["forest"] = ("forest", fig, {
        "unit": "percentage points", "highlight": cluster,
        "title": "Attendance in the term support started, against comparable learners not "
                 "yet supported"})
    mine = eff[eff["scope"] == "cluster"]
    auth = eff[eff["scope"] == "authority"].iloc[0]
    if not mine.empty and pd.notna(mine.iloc[0].get("estimate")) and not hidden[-1]:
        row = mine.iloc[0]
        sec.sentences.append(f"In {cluster}: {row['sentence']}")
        sec.sentences.append(narrative.small_numbers_caveat(row["n_treated"]))
        n_sch = int((ctx.schools["cluster"].astype(str) == cluster).sum())
        width = float(row["ci_high"] - row["ci_low"])
        auth_width = float(auth["ci_high"] - auth["ci_low"])
        if np.isfinite(width) and auth_width > 0:
            sec.sentences.append(
                f"The interval allows for pupils of the same school being alike; with "
                f"{n_sch} schools in the cluster it is {width / auth_width:.0f} times as wide "
                "as the authority-wide interval.")
        sec.results["cluster_effect"] = {k: _num(row[k]) for k in
                                         ("estimate", "ci_low", "ci_high", "n_treated")}
    else:
        sec.sentences.append(narrative.small_numbers_caveat(None))
        sec.results["cluster_effect"] = None
    if pd.notna(auth.get("estimate")):
        sec.sentences.append(f"Across the authority: {auth['sentence']}")
        sec.results["authority_effect"] = {k: _num(auth[k]) for k in
                                           ("estimate", "ci_low", "ci_high", "n_treated")}
    sec.sentences.append(
        "Each estimate compares learners' attendance in the term their support started with "
        "that of learners in the same term and school (cluster, for the authority-wide "
        "estimates) not yet supported, after allowing for "
        "what supports are allocated on: attendance and exclusions in the previous session, "
        "SIMD quintile 1, additional support needs, care experience and free school meals. "
        "If learners were also chosen on something else that affects attendance, such as a "
        "dip earlier in the same session, the estimates can still be biased.")
    return sec


def headline_effect(sec: Section) -> str:
    """One short headline from an impact section."""
    eff = sec.results.get("cluster_effect")
    if not eff:
        return "Too few learners supported for a cluster estimate of the effect on attendance."
    return (f"Attendance of supported learners: {eff['estimate']:+.1f} points against "
            f"comparable learners ({narrative.interval(eff['ci_low'], eff['ci_high'])}).")


# ---------------------------------------------------------------------------
# Authority overview
# ---------------------------------------------------------------------------

def cluster_profiles(schools: pd.DataFrame) -> pd.DataFrame:
    """One row per cluster: schools, pupils, pupils and % in SIMD Q1, attendance (suppressed)."""
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
        "Schools": g.size().astype("int64"),
        "Pupils": g["roll"].sum().round().astype("int64"),
        "Pupils in SIMD Q1": g["q1"].sum().round().astype("int64"),
    })
    t["% in SIMD Q1"] = (100 * g["q1"].sum() / g["known"].sum().replace(0, np.nan)).round(1)
    t["Attendance %"] = (g["att_x_roll"].sum() / g["roll_att"].sum().replace(0, np.nan)).round(1)
    t.index.name = "Cluster"
    return _suppress(t, margins="row", count_columns=["Pupils", "Pupils in SIMD Q1"],
                     rate_columns={"% in SIMD Q1": ("Pupils in SIMD Q1", "Pupils"),
                                   "Attendance %": (None, "Pupils")})


def authority_who(ctx) -> Section:
    """The authority's estate in a sentence, a table of clusters, and the SIMD figure."""
    s = ctx.schools
    n = s["sector"].value_counts()
    roll = pd.to_numeric(s["roll"], errors="coerce").sum()
    sec = Section()
    sec.sentences.append(
        f"{ctx.authority_name} has {int(n.get('primary', 0))} primary, "
        f"{int(n.get('secondary', 0))} secondary and {int(n.get('special', 0))} additional "
        f"support needs schools in {len(ctx.clusters)} clusters, with {narrative.number(roll)} "
        f"pupils on roll; {narrative.pct(100 * _q1_share(s))} of pupils with a known SIMD "
        "quintile live in quintile 1, the most deprived fifth of Scotland.")
    sec.sentences.append(ctx.describe())
    sec.notes.extend(ctx.notes)
    profiles = cluster_profiles(s)
    sec.tables["clusters"] = profiles
    fig = profiles.drop(index="Total", errors="ignore").reset_index()
    sec.figures["q1"] = ("compare_bars", fig, {
        "value": "% in SIMD Q1", "label": "Cluster",
        "reference": 100 * _q1_share(s), "unit": "%",
        "title": "Share of pupils living in SIMD quintile 1, by cluster"})
    sec.results.update(n_schools=int(len(s)), n_clusters=len(ctx.clusters), roll=int(roll),
                       q1_share=round(_q1_share(s), 4), source=ctx.source,
                       pupil_source=ctx.pupil_source, session=ctx.year)
    return sec


def truth_table(ctx, outcome: str = "attendance_rate") -> pd.DataFrame | None:
    """Planted effects of a synthetic authority (None for real extracts)."""
    truth = getattr(ctx.data, "truth", None)
    if truth is None or ctx.pupil_source != "synthetic":
        return None
    t = truth[truth["outcome"] == outcome][["level", "effect", "sample_effect", "n_pupils"]]
    return t.reset_index(drop=True)


def authority_impact(ctx) -> Section:
    """Authority-wide effects on attendance, by level and by cluster, with their limits."""
    eff = ctx.models.get("effects") if ctx.models else None
    if eff is None:
        eff = impact_models.effects_table(ctx)
    sec = Section()
    sec.tables["effects"] = effects_display(eff)
    fig = eff[eff["scope"] == "cluster"][["label", "estimate", "ci_low", "ci_high"]]
    sec.figures["clusters"] = ("forest", fig, {
        "unit": "percentage points",
        "title": "Attendance of supported learners against comparable learners, by cluster"})
    lv = eff[eff["scope"] == "level"][["label", "estimate", "ci_low", "ci_high"]]
    sec.figures["levels"] = ("forest", lv, {"unit": "percentage points",
                                            "title": "By level of support"})
    auth = eff[eff["scope"] == "authority"].iloc[0]
    if pd.notna(auth.get("estimate")):
        sec.sentences.append(str(auth["sentence"]))
        sec.results["authority_effect"] = {k: _num(auth[k]) for k in
                                           ("estimate", "ci_low", "ci_high", "n_treated")}
    for _, r in eff[eff["scope"] == "level"].iterrows():
        if pd.notna(r.get("estimate")):
            sec.sentences.append(
                f"{r['label']}: {r['estimate']:+.1f} points "
                f"({narrative.interval(r['ci_low'], r['ci_high'])}).")
    sec.results["by_level"] = {r["level"]: {k: _num(r[k]) for k in
                                            ("estimate", "ci_low", "ci_high")}
                               for _, r in eff[eff["scope"] == "level"].iterrows()}
    truth = truth_table(ctx)
    if truth is not None:
        joined = ", ".join(f"{r.level} {r.sample_effect:.1f}" for r in truth.itertuples())
        sec.sentences.append(
            f"These pupils are synthetic, with known effects planted on attendance ({joined} "
            "percentage points for universal, additional and intensive support). The "
            "estimates adjust for how learners were chosen for support (the entry-cohort "
            "design), so they can be set beside the planted effects; a comparison of changes "
            "(difference in differences) would be biased upwards, because supports go to "
            "learners whose attendance had dipped.")
        sec.results["planted"] = {r.level: round(float(r.sample_effect), 4)
                                  for r in truth.itertuples()}
    return sec


# ---------------------------------------------------------------------------
# Impact evaluation
# ---------------------------------------------------------------------------

def impact_evaluation(ctx, *, outcome: str = "attendance_rate",
                      method: str = impact_models.DEFAULT_METHOD, level: str = "",
                      cluster: str = "") -> Section:
    """One impact estimate in full: sentence, tidy table, diagnostics and limits."""
    if outcome not in impact_models.OUTCOMES:
        raise ReportError(f"unknown outcome {outcome!r}; valid outcomes: "
                          f"{', '.join(impact_models.OUTCOMES)}.")
    cl = check_cluster(ctx, cluster) if cluster else None
    design = impact_models.entry_cohort_design(ctx) if method == "cohort" else None
    est = impact_models.attendance_effect(ctx, cluster=cl, level=level or None, method=method,
                                          design=design)
    sec = Section()
    scope = cl or ctx.authority_name
    if est is None:
        sec.sentences.append(f"No learner in {scope} had a support of this kind: nothing to "
                             "estimate.")
        sec.results["estimate"] = None
        return sec
    sec.sentences.append(narrative.estimate_sentence(est))
    sec.sentences.append(f"Method: {est.method}. Interval: {est.inference}.")
    t = pd.DataFrame({
        "Estimate": [round(est.estimate, 2)], "95% CI from": [round(est.ci_low, 2)],
        "95% CI to": [round(est.ci_high, 2)], "p-value": [round(est.p_value, 4)],
        "Learners supported": pd.array([est.n_treated], dtype="Int64"),
        "Comparison learners": pd.array([est.n_control], dtype="Int64")},
        index=pd.Index([f"{scope}: attendance"], name="Effect"))
    sec.tables["estimate"] = _suppress(
        t, margins=False, count_columns=["Learners supported", "Comparison learners"],
        rate_columns={c: (None, "Learners supported")
                      for c in ("Estimate", "95% CI from", "95% CI to", "p-value")})
    if est.terms is not None and "event_time" in est.terms:
        terms = est.terms[["event_time", "estimate", "ci_low", "ci_high"]].copy()
        terms["label"] = terms["event_time"].map(lambda e: f"{int(e):+d} terms")
        sec.figures["event"] = ("forest", terms, {
            "unit": "percentage points",
            "title": "Effect by term relative to the start of support" + (
                " (-1 = reference)" if est.extra.get("base_period") == "universal" else
                " (terms before 0: change from the term before)")})
        p = est.extra.get("pretrend_p")
        if p is not None and np.isfinite(p):
            verdict = ("shows differences before support started, so the parallel-trends "
                       "assumption is doubtful" if p < 0.05 else "finds no clear difference "
                       "before support started")
            sec.sentences.append(f"The pre-trend test (p = {p:.3f}) {verdict}.")
    sec.sentences.append("Assumptions: " + "; ".join(est.assumptions) + ".")
    if design is not None:
        _effect_size_and_baseline(sec, est, design, cl, level or None)
    else:
        sec.notes.append("Baseline characteristics are compared for the entry-cohort design "
                         "(method 'cohort') only.")
    truth = truth_table(ctx, outcome)
    if truth is not None:
        planted = (truth.set_index("level")["sample_effect"].get(level) if level else
                   float(np.average(truth["sample_effect"], weights=truth["n_pupils"])))
        covered = est.ci_low <= planted <= est.ci_high
        sec.sentences.append(
            f"Check against the truth planted in the synthetic data: {planted:.2f} points; "
            f"the interval {'covers' if covered else 'misses'} it.")
        sec.results["planted"] = round(float(planted), 4)
        sec.results["covered"] = bool(covered)
    sec.results["estimate"] = {"estimate": _num(est.estimate), "ci_low": _num(est.ci_low),
                               "ci_high": _num(est.ci_high), "p_value": _num(est.p_value),
                               "n_treated": int(est.n_treated), "method": est.method}
    return sec


#: Baseline characteristics of the entry-cohort design, as the report names them.
BASELINE_LABELS = {"prior_attendance": "Attendance in the previous session",
                   "prior_missing": "Not on roll in the previous session",
                   "prior_excluded": "Excluded in the previous session",
                   "simd_q1": "Lives in SIMD quintile 1", "asn": "Additional support needs",
                   "care_experienced": "Care-experienced", "fsm": "Free school meals"}


def _effect_size_and_baseline(sec: Section, est, design: pd.DataFrame, cluster: str | None,
                              level: str | None, threshold: int = 5) -> None:
    """Hedges' g of the estimate and the WWC baseline-equivalence table of the design.

    g divides the estimate and its interval by the total SD of termly attendance from an
    unconditional multilevel model (pupils within schools within clusters) of the latest
    entry cohort (EEF practice). Baseline differences are shown before adjustment; a 0/1
    characteristic's difference is hidden (``c``) when fewer than ``threshold`` learners in
    either group have it or lack it, since it could reveal how many do.
    """
    from nlc_eval.impact.effects import baseline_equivalence, standardise, total_sd

    d = design if cluster is None else design[design["cluster"] == str(cluster)]
    if level is not None:
        d = d[(d["treated"] == 0) | (d["level"] == level)]
    latest = d[d["cohort"] == d["cohort"].iloc[-1]]
    groups = ["seed_code"] if cluster is not None else ["cluster", "seed_code"]
    sd = total_sd(latest, "attendance_rate", groups)
    es = standardise(est, sd)
    sec.sentences.append(
        f"As an effect size: g = {es.g:.2f} (95% CI {es.ci_low:.2f} to {es.ci_high:.2f}), "
        f"in units of the total standard deviation of termly attendance ({sd:.1f} points, "
        "from an unconditional multilevel model of pupils in schools"
        + (" in clusters" if cluster is None else "") + "). The EEF months'-progress scale "
        "is for attainment, so it is not applied to attendance.")
    covs = [c for c in impact_models.SELECTION_COVARIATES if d[c].std() > 0]
    be = baseline_equivalence(d, "treated", covs).set_index("covariate")
    t = d["treated"].to_numpy() == 1
    shown = []
    for c in covs:
        x = d[c].to_numpy(dtype=float)
        small = False
        if np.isin(x, [0, 1]).all():
            small = min(x[t].sum(), (1 - x[t]).sum(), x[~t].sum(), (1 - x[~t]).sum()) < threshold
        shown.append({"Characteristic": BASELINE_LABELS.get(c, c),
                      "Difference (effect size)": "c" if small else f"{be.loc[c, 'effect_size']:.2f}",
                      "WWC baseline equivalence": "c" if small else be.loc[c, "verdict"]})
    table = pd.DataFrame(shown).set_index("Characteristic")
    sec.tables["baseline"] = table
    verdicts = be["verdict"]
    n_not = int((verdicts == "not satisfied").sum())
    sec.sentences.append(
        f"Before adjustment, supported learners and the comparison group differ by more than "
        f"0.25 standard deviations on {n_not} of {len(covs)} baseline characteristics (What "
        "Works Clearinghouse: equivalence not satisfied), as expected when supports are "
        "targeted: the estimate adjusts for all of them, and rests on that adjustment."
        if n_not else
        "Before adjustment, supported learners and the comparison group are within 0.25 "
        "standard deviations on every baseline characteristic; the estimate adjusts for them.")
    sec.results["effect_size"] = {"g": _num(es.g), "ci_low": _num(es.ci_low),
                                  "ci_high": _num(es.ci_high), "sd": _num(sd)}
    sec.results["baseline_not_satisfied"] = n_not


# ---------------------------------------------------------------------------
# Results recorded by each notebook (the JSON sidecar)
# ---------------------------------------------------------------------------

def headlines_markdown(results: dict[str, Any]) -> str:
    """The headlines of a report as a markdown list under "In brief"."""
    heads = results.get("headlines") or []
    if not heads:
        return ""
    return "## In brief\n\n" + "\n".join(f"- {h}" for h in heads)


def _collect(**sections: Section) -> dict[str, Any]:
    return {name: sec.results for name, sec in sections.items() if sec is not None}


def cluster_results(ctx, cluster: str, *, who: Section, dashboard: Section, drivers: Section,
                    gaps: Section, impact: Section) -> dict[str, Any]:
    """Key results of a cluster report, with its title and headlines."""
    heads = [who.sentences[0]] if who.sentences else []
    heads += [s for s in dashboard.results.get("headlines", [])]
    heads += [s for s in gaps.results.get("headlines", [])]
    heads.append(headline_effect(impact))
    return {"title": f"{cluster}: cluster report", "kind": "cluster", "cluster": cluster,
            "source": ctx.source, "pupil_source": ctx.pupil_source, "session": ctx.year,
            "headlines": heads, "sections": _collect(who=who, dashboard=dashboard,
                                                     drivers=drivers, gaps=gaps, impact=impact)}


def authority_results(ctx, *, who: Section, dashboard: Section, gaps: Section,
                      impact: Section) -> dict[str, Any]:
    """Key results of the authority overview."""
    heads = [who.sentences[0]] if who.sentences else []
    heads += list(dashboard.results.get("headlines", []))
    heads += list(gaps.results.get("headlines", []))
    if impact.sentences:
        heads.append(impact.sentences[0])
    return {"title": f"{ctx.authority_name}: authority overview", "kind": "authority",
            "source": ctx.source, "pupil_source": ctx.pupil_source, "session": ctx.year,
            "headlines": heads, "sections": _collect(who=who, dashboard=dashboard, gaps=gaps,
                                                     impact=impact)}


def impact_results(ctx, evaluation: Section, *, outcome: str, method: str, level: str,
                   cluster: str) -> dict[str, Any]:
    """Key results of an impact evaluation."""
    heads = evaluation.sentences[:1]
    if "covered" in evaluation.results:
        heads.append(f"Planted effect {evaluation.results['planted']:.2f}: "
                     f"{'inside' if evaluation.results['covered'] else 'outside'} the interval.")
    return {"title": "Impact of cluster supports: authority-wide evaluation" if not cluster
            else f"Impact of cluster supports: {cluster}", "kind": "impact",
            "outcome": outcome, "method": method, "level": level or "all",
            "cluster": cluster or "all", "headlines": heads, "source": ctx.source,
            "pupil_source": ctx.pupil_source, "sections": _collect(evaluation=evaluation)}


def family_results(ctx, family: str, *, members: Section, profiles: Section,
                   outcomes: Section, learn: Section) -> dict[str, Any]:
    """Key results of a family report."""
    heads = members.sentences[:1] + list(outcomes.results.get("headlines", []))
    heads += learn.sentences[:2]
    return {"title": f"Family group {family}", "kind": "family", "family": family,
            "source": ctx.source, "pupil_source": ctx.pupil_source, "session": ctx.year,
            "headlines": heads, "sections": _collect(members=members, profiles=profiles,
                                                     outcomes=outcomes, learn=learn)}


def formation_results(ctx, formation: Section, *, sector: str, size: tuple[int, int],
                      cannot_link: str) -> dict[str, Any]:
    """Key results of the family formation notebook."""
    return {"title": f"How the {sector} family groups were formed", "kind": "family_formation",
            "sector": sector, "size": list(size), "cannot_link": cannot_link,
            "headlines": formation.sentences[:2], "source": ctx.source,
            "sections": _collect(formation=formation)}


from nlc_eval.reports.family_content import (  # noqa: E402  (re-exported for notebooks)
    check_family,
    family_formation,
    family_learning,
    family_members,
    family_outcomes,
    family_profiles,
)
from nlc_eval.reports.tracking_content import (  # noqa: E402
    authority_dashboard,
    authority_gaps,
    cluster_dashboard,
    cluster_drivers,
    cluster_gaps,
)

__all__ = [
    "Section", "authority_dashboard", "authority_gaps", "authority_impact", "authority_results",
    "authority_who", "check_cluster", "check_family", "cluster_dashboard", "cluster_drivers",
    "cluster_gaps", "cluster_impact", "cluster_results", "cluster_who", "family_formation",
    "family_learning", "family_members", "family_outcomes", "family_profiles",
    "family_results", "formation_results", "headlines_markdown", "impact_evaluation",
    "impact_results",
]
