"""The impact page: a plain-language summary and figure first, the method after."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nlc_eval import formatting as fmt
from nlc_eval.disclosure import THRESHOLD
from nlc_eval.errors import ReportError
from nlc_eval.reports import impact_models, measures
from nlc_eval.reports.sections._common import (
    Figure,
    Section,
    Table,
    check_cluster,
    collect,
    num,
    suppress,
    truth_table,
)
from nlc_eval.reports.sections.cluster import (
    effect_words,
    effects,
    effects_display,
    estimate_sessions,
)

lab = measures.label
#: How each method is named on the page (never its code name).
METHOD_NAMES = {"cohort": "comparison with learners not yet supported (entry cohorts)",
                "did": "difference in differences",
                "event_study": "event study (effects term by term)"}
#: How the impact tables count learners, and the rule that protects nested groups.
COUNT_NOTES = (
    "Learners are counted once each, however many terms of the estimate they appear in "
    "(learners, not learner-terms). A level's comparison learners are those not yet "
    "supported in the terms and clusters in which a learner started that level of support, "
    "so they can be fewer than for all supports.",
    f"Where one group of learners contains another and their counts would differ by fewer "
    f"than {THRESHOLD}, both are shown with the larger count, so that no small group can be "
    "worked out by subtraction.")
#: Baseline characteristics of the entry-cohort design, as the report names them.
BASELINE_LABELS = {"prior_attendance": "Attendance in the previous session",
                   "prior_missing": "Not on roll in the previous session",
                   "prior_excluded": "Excluded in the previous session",
                   "simd_q1": "Lives in SIMD deciles 1-2", "asn": "Additional support needs",
                   "care_experienced": "Care-experienced", "fsm": "Free school meals"}


def summary(ctx, *, cluster: str = "") -> Section:
    """What the supports did, by level of support, in plain words with a figure."""
    cl = check_cluster(ctx, cluster) if cluster else None
    eff = effects(ctx, cl)
    if not (ctx.models and "effects" in ctx.models):
        # computed here: the cluster's row comes straight from its estimate
        eff = impact_models.with_published_counts(eff, impact_models.report_counts(ctx))
    shown = effects_display(eff)
    span = estimate_sessions(ctx)
    place = cl or ctx.authority_name
    src = measures.source_line("effect", pupil_source=ctx.pupil_source)
    sec = Section(split=True)
    auth = eff[eff["scope"] == "authority"].iloc[0]
    if pd.notna(auth.get("estimate")):
        sec.sentences.append(
            f"Across {ctx.authority_name}, from {span}, learners in the term their cluster "
            f"support started had {effect_words(auth['estimate'], auth['ci_low'], auth['ci_high'])}.")
    levels = eff[eff["scope"] == "level"]
    hidden = set(shown.index[shown[lab("effect")].isna()])
    for _, r in levels.iterrows():
        name = str(r['label']).removesuffix(" support").capitalize() + " support"
        if name in hidden or pd.isna(r.get("estimate")):
            sec.sentences.append(f"{name}: not shown, fewer than 5 learners.")
        else:
            sec.sentences.append(f"{name}: {effect_words(r['estimate'], r['ci_low'], r['ci_high'])}.")
    sec.sentences.append(
        "Supports are given to learners who need them, so this is a careful comparison, not "
        "an experiment: it allows for what supports are allocated on, and the page sets out "
        "below what it can and cannot show.")
    keep = shown.index[~shown.index.str.endswith(", all supports") | (shown.index == f"{cl}, all supports")] \
        if cl else shown.index[~shown.index.str.endswith(", all supports")]
    table = shown.loc[keep]
    table.attrs = shown.attrs
    sec.tables["effects"] = Table(
        table, caption=f"Effect of cluster supports on attendance by level of support, "
                       f"{place}, {span}", source=src,
        notes=COUNT_NOTES)
    fig = pd.DataFrame({"Level of support": table.index,
                        lab("effect"): table[lab("effect")].astype(float).to_numpy(),
                        "95% interval from": table["95% interval from"].astype(float).to_numpy(),
                        "95% interval to": table["95% interval to"].astype(float).to_numpy()})
    sec.figures["levels"] = Figure(
        "forest", fig, {"label": "Level of support", "estimate": lab("effect"),
                        "low": "95% interval from", "high": "95% interval to",
                        "unit": "percentage points"},
        caption=f"Effect of cluster supports on attendance by level of support with 95% "
                f"intervals, {place}, {span}", source=src, empty="No estimate can be shown.")
    sec.results["by_level"] = {r["level"]: {k: num(r[k]) for k in
                                            ("estimate", "ci_low", "ci_high")}
                               for _, r in levels.iterrows()}
    return sec


def evaluation(ctx, *, outcome: str = "attendance_rate",
               method: str = impact_models.DEFAULT_METHOD, level: str = "",
               cluster: str = "") -> Section:
    """One impact estimate in full: sentence, table, diagnostics, method and limits."""
    if outcome not in impact_models.OUTCOMES:
        raise ReportError(f"unknown outcome {outcome!r}; valid outcomes: "
                          f"{', '.join(impact_models.OUTCOMES)}.")
    if method not in METHOD_NAMES:
        raise ReportError(f"unknown method {method!r}; valid methods: "
                          f"{', '.join(METHOD_NAMES)}.")
    cl = check_cluster(ctx, cluster) if cluster else None
    design = impact_models.entry_cohort_design(ctx) if method == "cohort" else None
    est = impact_models.attendance_effect(ctx, cluster=cl, level=level or None, method=method,
                                          design=design)
    sec = Section()
    scope = cl or ctx.authority_name
    span = estimate_sessions(ctx)
    src = measures.source_line("effect", pupil_source=ctx.pupil_source)
    if est is None:
        sec.sentences.append(f"No learner in {scope} had a support of this kind, so there is "
                             "nothing to estimate.")
        sec.results["estimate"] = None
        return sec
    what = f"{level} support" if level else "all supports"
    # the same count of the same group as every other table of the batch (never learner-terms)
    counts = impact_models.report_counts(ctx, method=method, design=design)
    n_supported, n_comparison = counts.get((cl, level or None), (est.n_treated, est.n_control))
    sec.sentences.append(
        f"The estimate below is for {what} in {scope}, from {span}, by "
        f"{METHOD_NAMES[method]}: learners had "
        f"{effect_words(est.estimate, est.ci_low, est.ci_high)} "
        f"({fmt.p_value(est.p_value)}).")
    sec.sentences.extend(design_and_sensitivity(est, sec.results))
    t = pd.DataFrame({
        lab("effect"): [round(est.estimate, 2)], "95% interval from": [round(est.ci_low, 2)],
        "95% interval to": [round(est.ci_high, 2)], "p-value": [fmt.p_value(est.p_value)],
        lab("learners_in_estimate"): pd.array([n_supported], dtype="Int64"),
        lab("comparison_learners"): pd.array([n_comparison], dtype="Int64")},
        index=pd.Index([f"{scope}, {what}"], name="Estimate"))
    sec.tables["estimate"] = Table(
        suppress(t, margins=False, count_columns=[lab("learners_in_estimate"),
                                                  lab("comparison_learners")],
                 rate_columns={c: (None, lab("learners_in_estimate"))
                               for c in (lab("effect"), "95% interval from", "95% interval to")}),
        caption=f"Effect of {what} on attendance in the term support started, {scope}, "
                f"{span}", source=src, notes=COUNT_NOTES)
    if est.terms is not None and "event_time" in est.terms:
        terms = est.terms[["event_time", "estimate", "ci_low", "ci_high"]].copy()
        fig = pd.DataFrame({"Term from the start of support":
                            terms["event_time"].map(lambda e: f"{int(e):+d}").to_numpy(),
                            lab("effect"): terms["estimate"].to_numpy(float),
                            "95% interval from": terms["ci_low"].to_numpy(float),
                            "95% interval to": terms["ci_high"].to_numpy(float)})
        sec.figures["event"] = Figure(
            "forest", fig, {"label": "Term from the start of support",
                            "estimate": lab("effect"), "low": "95% interval from",
                            "high": "95% interval to", "unit": "percentage points"},
            caption=f"Effect by term relative to the start of support (term -1 is the "
                    f"reference), {scope}, {span}", source=src)
        p = est.extra.get("pretrend_p")
        if p is not None and np.isfinite(p):
            verdict = ("shows differences before support started, so the comparison of changes "
                       "is doubtful" if p < 0.05 else "finds no clear difference before "
                       "support started")
            sec.sentences.append(f"The test of the terms before support ({fmt.p_value(p)}) "
                                 f"{verdict}.")
    if design is not None:
        _effect_size_and_baseline(sec, est, design, cl, level or None, src=src)
    truth = truth_table(ctx, outcome)
    if truth is not None:
        built_in = (truth.set_index("level")["sample_effect"].get(level) if level else
                    float(np.average(truth["sample_effect"], weights=truth["n_pupils"])))
        covered = est.ci_low <= built_in <= est.ci_high
        sec.notes.append(
            f"The pupils are synthetic, with an effect of {built_in:.2f} percentage points "
            f"built in; the interval {'includes' if covered else 'misses'} it.")
        sec.results["built_in"] = round(float(built_in), 4)
        sec.results["covered"] = bool(covered)
    sec.results["estimate"] = {"estimate": num(est.estimate), "ci_low": num(est.ci_low),
                               "ci_high": num(est.ci_high), "p_value": num(est.p_value),
                               "n_treated": int(n_supported), "method": method}
    return sec


def design_and_sensitivity(est, results: dict | None = None) -> list[str]:
    """What the design could detect and how strong an unmeasured factor would have to be.

    The smallest effect the estimate's design detects with 80% power (its multiplier times
    its standard error, :func:`nlc_eval.impact.design.mdes_of_estimate`) and, for
    regression-based estimates, the robustness value of :meth:`Estimate.sensitivity`
    benchmarked on living in SIMD deciles 1-2; the numbers go to ``results``.
    """
    from nlc_eval.errors import ImpactError
    from nlc_eval.impact.design import mdes_of_estimate

    out: list[str] = []
    try:
        m = mdes_of_estimate(est)
    except ImpactError:
        m = None
    if m is not None:
        size = m.parameters["in_units"]
        out.append(f"This design could detect an effect of "
                   f"{fmt.number(size, max(1, fmt.sig_decimals(size)))} percentage points or "
                   "more with 80% power; a smaller true effect could go unseen.")
        if results is not None:
            results["mdes"] = num(size)
    bench = (est.extra.get("ovb_inputs") or {}).get("benchmarks", {})
    try:
        s = est.sensitivity(benchmarks=[b for b in ("simd_q1",) if b in bench], kd=(1,))
    except ImpactError:
        return out
    if "robustness_value" in s:
        out.append(s.sentence(labels={"simd_q1": "living in SIMD deciles 1-2"}))
        if results is not None:
            results["robustness_value"] = num(s["robustness_value"])
            results["robustness_value_alpha"] = num(s["robustness_value_alpha"])
    return out


def method(ctx, *, method: str = impact_models.DEFAULT_METHOD) -> Section:
    """How the estimate was made and what it rests on, in plain words."""
    sec = Section()
    sec.sentences.append(
        "Supports are not given at random: learners are chosen because of need, often after "
        "their attendance has fallen, and low attendance partly recovers without help. The "
        "estimate therefore compares learners in the term their support started with learners "
        "in the same term and cluster who had not yet been supported, after allowing for what "
        "supports are allocated on: attendance and exclusions in the previous session, living "
        "in SIMD deciles 1-2, additional support needs, care experience and free school "
        "meals.")
    sec.sentences.append(
        "It is only as good as that list: if learners were also chosen on something else "
        "that affects attendance, the estimate is still biased. The interval allows for "
        "learners of the same school or cluster being alike (a wild cluster bootstrap), so "
        "estimates for a single cluster, resting on few schools, have wide intervals.")
    if method != "cohort":
        sec.sentences.append(
            f"This page uses {METHOD_NAMES[method]}, which compares changes over time; with "
            "targeted supports it overstates the effect, because supported learners' "
            "attendance had dipped before support.")
    return sec


def _effect_size_and_baseline(sec: Section, est, design: pd.DataFrame, cluster: str | None,
                              level: str | None, threshold: int = 5, src: str = "") -> None:
    """Hedges' g of the estimate and the WWC baseline-equivalence table of the design.

    g divides the estimate and its interval by the total SD of termly attendance from an
    unconditional multilevel model (pupils within schools within clusters) of the latest
    entry cohort (EEF practice). Baseline differences are shown before adjustment; a 0/1
    characteristic's difference is hidden when fewer than ``threshold`` learners in either
    group have it or lack it, since it could reveal how many do.
    """
    from nlc_eval.impact.effects import baseline_equivalence, standardise, total_sd

    d = design if cluster is None else design[design["cluster"] == str(cluster)]
    if level is not None:
        d = d[(d["treated"] == 0) | (d["level"] == level)]
    latest = d[d["cohort"] == d["cohort"].iloc[-1]]
    groups = ["seed_code"] if cluster is not None else ["cluster", "seed_code"]
    sd = total_sd(latest, "attendance_rate", groups)
    es = standardise(est, sd)
    g = fmt.effect(es.g, es.ci_low, es.ci_high, min_decimals=2)
    sec.sentences.append(
        f"As an effect size: g = {g.estimate} (95% interval {g.low} to {g.high}), "
        f"in units of the spread of termly attendance between learners ({sd:.1f} percentage "
        "points). The months'-progress scale is for attainment, so it is not applied to "
        "attendance.")
    covs = [c for c in impact_models.SELECTION_COVARIATES if d[c].std() > 0]
    be = baseline_equivalence(d, "treated", covs).set_index("covariate")
    t = d["treated"].to_numpy() == 1
    shown, hidden = [], []
    for c in covs:
        x = d[c].to_numpy(dtype=float)
        small = False
        if np.isin(x, [0, 1]).all():
            small = min(x[t].sum(), (1 - x[t]).sum(), x[~t].sum(), (1 - x[~t]).sum()) < threshold
        name = BASELINE_LABELS.get(c, c.replace("_", " ").capitalize())
        shown.append({"Characteristic": name,
                      "Difference (effect size)": None if small else round(
                          float(be.loc[c, "effect_size"]), 2),
                      "WWC baseline equivalence": None if small else str(be.loc[c, "verdict"])})
        if small:
            hidden += [{"row": name, "column": k, "reason": "primary"}
                       for k in ("Difference (effect size)", "WWC baseline equivalence")]
    table = pd.DataFrame(shown).set_index("Characteristic")
    table.attrs["disclosure"] = {"threshold": threshold, "cells": hidden, "count_columns": []}
    sec.tables["baseline"] = Table(
        table, caption="How supported learners and the comparison group differed before "
                       "support, before adjustment", source=src or "entry-cohort design",
        notes=("What Works Clearinghouse standard: a difference up to 0.05 is equivalent; "
               "0.05 to 0.25 needs statistical adjustment; above 0.25 is not equivalent.",))
    n_not = int((be["verdict"] == "not satisfied").sum())
    sec.sentences.append(
        f"Before adjustment, supported learners and the comparison group differ by more than "
        f"0.25 standard deviations on {n_not} of {len(covs)} characteristics, as expected "
        "when supports are targeted: the estimate adjusts for all of them, and rests on that "
        "adjustment." if n_not else
        "Before adjustment, supported learners and the comparison group are within 0.25 "
        "standard deviations on every characteristic; the estimate adjusts for them.")
    sec.results["effect_size"] = {"g": num(es.g), "ci_low": num(es.ci_low),
                                  "ci_high": num(es.ci_high), "sd": num(sd)}
    sec.results["baseline_not_satisfied"] = n_not


def results(ctx, evaluation: Section, *, summary: Section | None = None, outcome: str,
            method: str, level: str, cluster: str) -> dict[str, Any]:
    """Key results of an impact evaluation."""
    heads = (summary.sentences[:1] if summary is not None else []) or evaluation.sentences[:1]
    return {"title": "Impact of cluster supports: authority-wide evaluation" if not cluster
            else f"Impact of cluster supports: {cluster}", "kind": "impact",
            "outcome": outcome, "method": method, "level": level or "all",
            "cluster": cluster or "all", "headlines": heads, "source": ctx.source,
            "pupil_source": ctx.pupil_source,
            "sections": collect(summary=summary, evaluation=evaluation)}
