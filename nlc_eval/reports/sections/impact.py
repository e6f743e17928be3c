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
    EFFECT_COLUMNS,
    effect_decimals,
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
    eff, shown, table, d = _page_effects(ctx, cl)
    span = estimate_sessions(ctx)
    place = cl or ctx.authority_name
    src = measures.source_line("effect", pupil_source=ctx.pupil_source)
    sec = Section(split=True)
    checks = placebo_display(ctx, _authority_effects(ctx, eff), shown)
    auth = eff[eff["scope"] == "authority"].iloc[0]
    if pd.notna(auth.get("estimate")):
        sec.sentences.append(
            f"Across {ctx.authority_name}, from {span}, learners in the term their cluster "
            f"support started had "
            f"{effect_words(auth['estimate'], auth['ci_low'], auth['ci_high'], d)}."
            + _beside(checks, "all") + _with_space(design_words(auth, d)))
    levels = eff[eff["scope"] == "level"]
    hidden = set(shown.index[shown[lab("effect")].isna()])
    for _, r in levels.iterrows():
        name = str(r['label']).removesuffix(" support").capitalize() + " support"
        if name in hidden or pd.isna(r.get("estimate")):
            sec.sentences.append(f"{name}: not shown, fewer than 5 learners.")
        else:
            sec.sentences.append(
                f"{name}: {effect_words(r['estimate'], r['ci_low'], r['ci_high'], d)}."
                + _beside(checks, str(r["level"])) + _with_space(design_words(r, d)))
    sec.sentences.append(
        "Supports are given to learners who need them, so this is a careful comparison, not "
        "an experiment: it allows for what supports are allocated on, and the page sets out "
        "below what it can and cannot show.")
    sec.tables["effects"] = Table(
        table, caption=f"Effect of cluster supports on attendance by level of support, "
                       f"{place}, {span}", source=src,
        notes=COUNT_NOTES, decimals=dict.fromkeys(EFFECT_COLUMNS, d))
    fig = pd.DataFrame({"Level of support": table.index,
                        lab("effect"): table[lab("effect")].astype(float).to_numpy(),
                        "95% interval from": table["95% interval from"].astype(float).to_numpy(),
                        "95% interval to": table["95% interval to"].astype(float).to_numpy()})
    sec.figures["levels"] = Figure(
        "forest", fig, {"label": "Level of support", "estimate": lab("effect"),
                        "low": "95% interval from", "high": "95% interval to",
                        "unit": "percentage points"},
        caption=f"Effect of cluster supports on attendance by level of support with 95% "
                f"intervals, {place}, {span}", source=src, empty="No estimate can be shown.",
        decimals=dict.fromkeys(EFFECT_COLUMNS, d))
    sec.results["by_level"] = {r["level"]: {k: num(r[k]) for k in
                                            ("estimate", "ci_low", "ci_high")}
                               for _, r in levels.iterrows()}
    sec.results["effect_decimals"] = d
    return sec


def _page_effects(ctx, cl: str | None):
    """The page's effects: the table (published counts), as shown, the rows the summary
    shows, and the page's one precision for effects (table, figure and every sentence)."""
    eff = effects(ctx, cl)
    if not (ctx.models and "effects" in ctx.models):
        # computed here: the cluster's row comes straight from its estimate
        eff = impact_models.with_published_counts(eff, impact_models.report_counts(ctx))
    shown = effects_display(eff)
    keep = shown.index[~shown.index.str.endswith(", all supports") | (shown.index == f"{cl}, all supports")] \
        if cl else shown.index[~shown.index.str.endswith(", all supports")]
    table = shown.loc[keep]
    table.attrs = shown.attrs
    return eff, shown, table, effect_decimals(table)


#: The number columns of the placebo checks' table (printed at one precision, as the
#: sentences quoting them).
CHECK_COLUMNS = ("Estimate (percentage points)", "From", "To")


def _authority_effects(ctx, eff: pd.DataFrame | None = None) -> pd.DataFrame:
    """The authority-wide and level rows of the effects table (published counts), computed
    once per context: from ``eff`` (a page's effects table) when given."""
    cache = ctx.models if isinstance(getattr(ctx, "models", None), dict) else {}
    if "impact_authority_effects" not in cache:
        if eff is None:
            eff = effects(ctx, None)
            if "effects" not in cache:
                eff = impact_models.with_published_counts(eff,
                                                          impact_models.report_counts(ctx))
        keep = eff["scope"].isin(["authority", "level"])
        cache["impact_authority_effects"] = eff[keep].reset_index(drop=True)
    return cache["impact_authority_effects"]


def _level_name(level: str) -> str:
    return "All supports" if level == "all" else f"{level.capitalize()} support"


def placebo_display(ctx, eff: pd.DataFrame, shown: pd.DataFrame) -> dict[str, Any]:
    """The placebo checks of the page's estimates (:func:`impact_models.placebo_checks`),
    ready to show: ``table`` (published), ``rows`` (per level and check, the numbers as the
    table prints them) and ``decimals``.

    A level whose effect is hidden (fewer than 5 learners) has its checks hidden too, and a
    placebo estimate resting on fewer than 5 supported learners is hidden.
    """
    raw = impact_models.placebo_checks(ctx, effects=eff)
    hidden_levels = {("all" if name == "All supports, authority" else
                      name.removesuffix(" support").lower())
                     for name in shown.index[shown[lab("effect")].isna()]}
    records, cells, rows = [], [], {}
    for _, r in raw.iterrows():
        level, check = str(r["level"]), str(r["check"])
        if check == "stability" and pd.notna(r["groups_kept"]):
            what = (f"Random subsets of {int(r['groups_kept'])} of {int(r['n_groups'])} "
                    "clusters: median, lowest and highest estimate")
        elif check == "stability":
            what = "Random subsets of clusters"
        else:
            what = "Term before support started: 'effect' and 95% interval"
        key = (_level_name(level), what)
        small = check == "placebo outcome" and pd.notna(r["n_treated"]) and (
            int(r["n_treated"]) < THRESHOLD)
        hide = level in hidden_levels or small
        made = pd.notna(r["passed"]) and fmt.finite(r["estimate"])
        if hide:
            result = "Not shown (fewer than 5 learners)"
        elif not made:
            result = "Not made"
        elif check == "stability":
            share = fmt.number(100 * float(r["same_sign"]), 0)
            result = (f"{'Passed' if r['passed'] else 'Failed'}: same sign in {share}% of "
                      "subsets")
        else:
            result = "Passed" if r["passed"] else "Failed"
        values = [np.nan] * 3 if (hide or not made) else [
            float(r["estimate"]), float(r["ci_low"]), float(r["ci_high"])]
        records.append({"Level of support": key[0], "Check": key[1],
                        **dict(zip(CHECK_COLUMNS, values, strict=True)), "Result": result})
        if hide:
            cells += [{"row": key, "column": c, "reason": "primary"} for c in CHECK_COLUMNS]
        rows[(level, check)] = {"row": key, "hidden": hide, "made": made, "raw": r}
    table = pd.DataFrame(records).set_index(["Level of support", "Check"])
    table.attrs["disclosure"] = {"threshold": THRESHOLD, "cells": cells, "count_columns": []}
    shown_rows = [k for k, v in rows.items() if not v["hidden"] and v["made"]]
    d = fmt.shared_decimals(*(pd.Series([float(rows[k]["raw"][c]) for k in shown_rows],
                                        dtype=float)
                              for c in ("estimate", "ci_low", "ci_high")))
    for v in rows.values():
        r = v["raw"]
        if v["made"] and not v["hidden"]:
            v["text"] = tuple(fmt.number(float(r[c]), d)
                              for c in ("estimate", "ci_low", "ci_high"))
    return {"table": table, "rows": rows, "decimals": d, "raw": raw}


def placebo_words(check: dict[str, Any], decimals: int) -> str:
    """The placebo-outcome check of one estimate in a sentence ("" when it is hidden)."""
    if check["hidden"]:
        return ""
    r = check["raw"]
    if not check["made"]:
        return ("The same analysis could not be repeated on attendance in the term before "
                "support started (too few learners with that term recorded), so that check "
                "is not available.")
    ci = fmt.finite(r["ci_low"]) and fmt.finite(r["ci_high"])
    f = fmt.effect(r["estimate"], r["ci_low"] if ci else None, r["ci_high"] if ci else None,
                   min_decimals=decimals)
    if not ci:
        return (f"The same analysis on attendance in the term before support started gives "
                f"{f.estimate} percentage points with no interval, so that check cannot be "
                "judged.")
    numbers = f"({f.estimate} percentage points, 95% interval {f.low} to {f.high})"
    if r["passed"]:
        return (f"The same analysis finds no clear 'effect' on attendance in the term before "
                f"support started {numbers}, as it should: support cannot have changed that "
                "term, and the interval includes no difference.")
    return (f"But the same analysis finds an 'effect' on attendance in the term before "
            f"support started {numbers}, when support cannot yet have made any difference: "
            "the supported learners already differed in a way the comparison does not allow "
            "for, so part or all of the estimate may come from how learners were chosen "
            "rather than from the support.")


def _beside(checks: dict[str, Any], level: str) -> str:
    c = checks["rows"].get((level, "placebo outcome"))
    words = placebo_words(c, checks["decimals"]) if c is not None else ""
    return f" {words}" if words else ""


def stability_words(check: dict[str, Any], decimals: int) -> str:
    """The stability check of one estimate in a sentence ("" when it is hidden)."""
    if check["hidden"]:
        return ""
    r = check["raw"]
    what = "all supports" if r["level"] == "all" else f"{r['level']} support"
    if not check["made"]:
        return (f"The estimate for {what} could not be repeated on random subsets of "
                "clusters.")
    low, high = check["text"][1], check["text"][2]
    share = float(r["same_sign"])
    where = (f"Re-estimated on {int(r['n_estimated'])} random subsets of "
             f"{int(r['groups_kept'])} of the {int(r['n_groups'])} clusters")
    if low == high:
        spread = f"the effect of {what} was {low} percentage points in every subset"
    else:
        spread = f"the effect of {what} ranged from {low} to {high} percentage points"
    if share == 1.0:
        return f"{where}, {spread} and kept its sign in every subset."
    shown = fmt.number(100 * share, 0)
    if r["passed"]:
        return f"{where}, {spread} and kept its sign in {shown}% of them."
    return (f"{where}, {spread} and kept its sign in only {shown}% of them (the check asks "
            f"for {fmt.number(100 * impact_models.STABILITY_SAME_SIGN, 0)}%): the estimate "
            "depends on which clusters are included, so it should be read with caution.")


def checks(ctx, *, cluster: str = "") -> Section:
    """Placebo and stability checks of the authority-wide estimates, with the reasons."""
    cl = check_cluster(ctx, cluster) if cluster else None
    eff = _authority_effects(ctx)
    c = placebo_display(ctx, eff, effects_display(eff))
    d, rows = c["decimals"], c["rows"]
    span = estimate_sessions(ctx)
    src = measures.source_line("effect", pupil_source=ctx.pupil_source)
    sec = Section()
    outcome = [v for (lv, chk), v in rows.items() if chk == "placebo outcome"
               and not v["hidden"] and v["made"]]
    failed = [v for v in outcome if not v["raw"]["passed"]]
    sec.sentences.append(
        "Two checks ask whether the comparison finds something where there should be "
        "nothing, and whether the estimates rest on a few clusters. Both were run on the "
        f"authority-wide estimates{' (not on ' + cl + ' alone)' if cl else ''}, for all "
        "supports and each level of support.")
    if outcome:
        verdict = ("It found no clear 'effect' for any of them, as it should." if not failed
                   else "It found an 'effect' for "
                   + ", ".join(_level_name(str(v["raw"]["level"])).lower() for v in failed)
                   + ": for " + ("that estimate" if len(failed) == 1 else "those estimates")
                   + ", part or all of the effect may come from how learners were chosen "
                   "rather than from the support.")
        sec.sentences.append(
            "The first repeats the same analysis, with the same allowances and the same "
            "interval method, on attendance in the term before support started, which "
            f"support cannot have changed. {verdict}")
    for lv in ("all", *impact_models.LEVELS):
        v = rows.get((lv, "stability"))
        words = stability_words(v, d) if v is not None else ""
        if words:
            sec.sentences.append(words)
    sec.sentences.append(
        "A third check, pretending that support started a term early, is not run "
        "separately: in this design it would compare, among learners not yet supported, "
        "those whose support started in the next term with the others, in the term before "
        "their support, which is what the first check already does. Its "
        "difference-in-differences form tests whether attendance was following parallel "
        "trends before support, which this design does not assume.")
    sec.notes.append(
        "For supports starting in the first term of a session, the term before is the last "
        "term of the previous session, whose attendance the comparison already allows for; "
        "the first check therefore mostly tests supports starting later in a session, where "
        "a dip earlier in the same session could bias the estimate. Learners with no "
        "attendance recorded in the term before (for example, new to the authority) are "
        "left out of that check.")
    sec.tables["placebo"] = Table(
        c["table"], caption=f"Placebo and stability checks of the effect of cluster supports "
                            f"on attendance by level of support, {ctx.authority_name}, {span}",
        source=src, missing="not available", decimals=dict.fromkeys(CHECK_COLUMNS, d),
        notes=("Term before support started: the same comparison, allowances and wild "
               "cluster bootstrap interval, on attendance in the term before support started; "
               "it passes when the 95% interval includes no difference.",
               f"Random subsets of clusters: the estimate on "
               f"{impact_models.STABILITY_SUBSETS} random subsets of whole clusters (chosen "
               f"with seed {int(ctx.seed)}); From and To are the lowest and highest subset "
               f"estimates; it passes when at least "
               f"{fmt.number(100 * impact_models.STABILITY_SAME_SIGN, 0)}% of subsets keep "
               "the sign of the estimate on all clusters."))
    sec.results["placebo"] = [
        {"level": str(v["raw"]["level"]), "check": chk,
         "passed": None if v["hidden"] or not v["made"] else bool(v["raw"]["passed"]),
         **({k: num(v["raw"][k]) for k in ("estimate", "ci_low", "ci_high", "p_value",
                                            "same_sign")}
            if not v["hidden"] else {})}
        for (lv, chk), v in rows.items()]
    sec.results["placebo_decimals"] = d
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
    # the sentence quotes the table's cells: both at the estimate's decimals, and at least
    # at the page's one precision for effects when the summary shows this estimate
    de = fmt.shared_decimals([est.estimate], [est.ci_low], [est.ci_high])
    if method == impact_models.DEFAULT_METHOD:
        de = max(de, _page_effects(ctx, cl)[3])
    sec.sentences.append(
        f"The estimate below is for {what} in {scope}, from {span}, by "
        f"{METHOD_NAMES[method]}: learners had "
        f"{effect_words(est.estimate, est.ci_low, est.ci_high, de)} "
        f"({fmt.p_value(est.p_value)}).")
    sec.sentences.extend(design_and_sensitivity(est, sec.results, de))
    t = pd.DataFrame({
        lab("effect"): [float(est.estimate)], "95% interval from": [float(est.ci_low)],
        "95% interval to": [float(est.ci_high)], "p-value": [fmt.p_value(est.p_value)],
        lab("learners_in_estimate"): pd.array([n_supported], dtype="Int64"),
        lab("comparison_learners"): pd.array([n_comparison], dtype="Int64")},
        index=pd.Index([f"{scope}, {what}"], name="Estimate"))
    sec.tables["estimate"] = Table(
        suppress(t, margins=False, count_columns=[lab("learners_in_estimate"),
                                                  lab("comparison_learners")],
                 rate_columns={c: (None, lab("learners_in_estimate"))
                               for c in (lab("effect"), "95% interval from", "95% interval to")}),
        caption=f"Effect of {what} on attendance in the term support started, {scope}, "
                f"{span}", source=src, notes=COUNT_NOTES, decimals=dict.fromkeys(EFFECT_COLUMNS, de))
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


def _with_space(text: str) -> str:
    return f" {text}" if text else ""


def design_words(row, decimals: int) -> str:
    """:func:`design_sentences` as one text ("" when nothing is known)."""
    return " ".join(design_sentences(row, decimals))


def design_sentences(row, decimals: int) -> list[str]:
    """What one effect's design could detect and how strong a factor we did not measure
    would have to be to explain it away, in plain words (one sentence each, when known).

    ``row`` is a row of :func:`impact_models.effects_table` (its
    :data:`impact_models.SENSITIVITY_COLUMNS`); numbers in percentage points are printed at
    ``decimals`` at least (the page's precision for effects). Significance is judged by the
    effect's own interval (``robustness_value_alpha`` by the reported standard error); the
    bound is given without an interval, because the framework's classical standard error
    is narrower than the wild cluster bootstrap interval printed beside it.
    """
    from nlc_eval.impact.sensitivity import robustness_words

    get = row.get                      # a row of the table (Series) or a mapping
    out = []
    size = get("mdes", np.nan)
    if fmt.finite(size):
        out.append(f"This design could detect an effect of "
                   f"{fmt.number(size, max(decimals, fmt.sig_decimals(size)))} percentage "
                   "points or more with 80% power; a smaller true effect could go unseen.")
    rv, rva = get("robustness_value", np.nan), get("robustness_value_alpha", np.nan)
    if fmt.finite(rv) and fmt.finite(rva):
        bound = tuple(get(k, np.nan) for k in ("bound_estimate", "bound_ci_low",
                                                "bound_ci_high"))
        out.append(robustness_words(
            rv, rva, bound=bound, benchmark=impact_models.SENSITIVITY_BENCHMARK[1],
            units="percentage points", decimals=decimals, outcome="attendance",
            bound_interval=False))
    return out


def design_and_sensitivity(est, results: dict | None = None,
                           decimals: int | None = None) -> list[str]:
    """What the design could detect and how strong an unmeasured factor would have to be.

    The smallest effect the estimate's design detects with 80% power (its multiplier times
    its standard error, :func:`nlc_eval.impact.design.mdes_of_estimate`) and, for
    regression-based estimates, the robustness value of :meth:`Estimate.sensitivity`
    benchmarked on living in SIMD deciles 1-2; the numbers go to ``results``.
    """
    nums = impact_models.design_and_sensitivity_numbers(est)
    if results is not None:
        for k in ("mdes", "robustness_value", "robustness_value_alpha"):
            if fmt.finite(nums[k]):
                results[k] = num(nums[k])
    d = fmt.shared_decimals([est.estimate], [est.ci_low], [est.ci_high]) \
        if decimals is None else decimals
    return design_sentences(nums, d)


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


def results(ctx, evaluation: Section, *, summary: Section | None = None,
            checks: Section | None = None, outcome: str, method: str, level: str,
            cluster: str) -> dict[str, Any]:
    """Key results of an impact evaluation."""
    heads = (summary.sentences[:1] if summary is not None else []) or evaluation.sentences[:1]
    return {"title": "Impact of cluster supports: authority-wide evaluation" if not cluster
            else f"Impact of cluster supports: {cluster}", "kind": "impact",
            "outcome": outcome, "method": method, "level": level or "all",
            "cluster": cluster or "all", "headlines": heads, "source": ctx.source,
            "pupil_source": ctx.pupil_source,
            "sections": collect(summary=summary, evaluation=evaluation, checks=checks)}
