"""The comparison page for an officer: how the authority's schools compare with similar
schools elsewhere in Scotland, in readable tables and figures; diagnostics in an appendix.

Every function takes the results of :mod:`nlc_eval.compare`, :mod:`nlc_eval.compare_report`
and :mod:`nlc_eval.synthetic_control` and returns a :class:`Section` (tables with readable
headings, no pandas row numbers, no ``NaN``, numbers never in scientific notation).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nlc_eval import formatting as fmt
from nlc_eval.comparators import OUTCOMES
from nlc_eval.reports.sections._common import Figure, Section, Table, total_row

SOURCE = "Scottish Government school statistics, attendance and ACEL files"


def _measure(outcome: str) -> str:
    text = OUTCOMES.get(outcome, outcome.replace("_", " "))
    return text[:1].upper() + text[1:]


def _year(y) -> str:
    """The session a published year's attendance or ACEL figures are for.

    The school statistics of year ``Y`` carry the attendance and ACEL of the session that
    ended in ``Y`` (the 2024 file: attendance 2023/24), so ``2024`` -> ``'2023/24'``.
    """
    try:
        y = int(y)
    except (TypeError, ValueError):
        return "not published"
    return f"{y - 1}/{str(y)[-2:]}"


def _finite(x) -> float | None:
    """A finite number unrounded (None for missing): the table prints it at its decimals."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


def _no_counts(t: pd.DataFrame) -> pd.DataFrame:
    """A table with no count of people: nothing to suppress (blank cells: not available)."""
    t.attrs["disclosure"] = {"threshold": 5, "cells": [], "count_columns": []}
    return t


def _table(data, caption: str, source: str = SOURCE, **kw) -> Table:
    kw.setdefault("decimals", 2)
    return Table(data, caption=caption, source=source, missing="not available", **kw)


def schools_compared(cmp, stats: pd.DataFrame) -> Section:
    """Schools of the authority in the baseline census and how many have a comparator."""
    from nlc_eval import compare_report as cr

    t = cr.overview(cmp, stats)
    sec = Section()
    b = cmp.baseline_year
    names = {"schools": f"Schools in the {b} census", "compared": "Compared",
             "pupils": f"Pupils on roll, {b}",
             "not_compared": f"In the {b} census, not compared",
             "opened_after_baseline": f"Opened after {b} or new code, not compared"}
    order = ["schools", "compared", "not_compared", "opened_after_baseline", "pupils"]
    shown = t[[c for c in order if c in t] + [c for c in t if c not in order]]
    shown = shown.rename(columns=names)
    shown.index = [str(i).capitalize() for i in shown.index]
    shown.index.name = "Sector"
    rec = dict(t.attrs.get("disclosure", {}))
    rec["cells"] = [{**c, "row": str(c["row"]).capitalize(),
                     "column": names.get(c["column"], c["column"])}
                    for c in rec.get("cells", [])]
    rec["count_columns"] = [names.get(c, c) for c in rec.get("count_columns", [])]
    shown.attrs = {"disclosure": rec}
    body = shown.drop(index="Total", errors="ignore")
    totals = {c: int(pd.to_numeric(body[c], errors="coerce").sum())
              for c in shown.columns if c != names["pupils"]}
    shown = total_row(shown, totals)
    sec.tables["overview"] = Table(
        shown, caption=f"{cmp.authority}'s schools and how many have a virtual comparator "
                       f"(schools in the {b} census, and schools that opened later)",
        source=SOURCE,
        notes=(f"A school that opened after {b}, or took a new school code, has no {b} "
               "context to match on, so it has no virtual comparator and is not compared.",))
    sec.sentences.append(
        f"Each school is compared with its virtual comparator: the {cmp.k} schools of the "
        f"same sector in other authorities most like it in {b} (size, deprivation, free "
        "school meals, staffing), weighted by how close they are.")
    sec.sentences.append(cr.not_compared_words(totals[names["not_compared"]],
                                               totals[names["opened_after_baseline"]], b))
    n = int(len(cmp.unmatched))
    if n:
        u = cmp.unmatched
        reasons = pd.DataFrame({"Sector": u["sector"].astype(str).str.capitalize().to_numpy(),
                                "Why not compared": u["reason"].astype(str).to_numpy()})
        counts = reasons.value_counts().rename("Schools").reset_index().set_index("Sector")
        sec.tables["unmatched"] = _table(counts, caption=f"Schools of {cmp.authority} without "
                                        "a virtual comparator, by reason", source=SOURCE)
    return sec


def comparator_sources(cmp, *, top: int = 12) -> Section:
    """Which authorities the comparator schools come from (share of comparator weight)."""
    from nlc_eval import compare_report as cr

    s = cr.comparator_sources(cmp).head(top)
    t = pd.DataFrame({"Comparator schools": s["comparator_schools"].astype("int64").to_numpy(),
                      "Share of comparator weight %": (100 * s["share_of_weight"]).round(1)
                      .to_numpy()},
                     index=pd.Index([str(i) for i in s.index], name="Authority"))
    sec = Section()
    sec.tables["sources"] = _table(
        t, caption=f"Where the virtual comparators of {cmp.authority}'s schools come from, "
                   f"{cmp.baseline_year} (the {top} largest shares)", source=SOURCE)
    fig = t.reset_index()[["Authority", "Share of comparator weight %"]]
    sec.figures["sources"] = Figure(
        "dot_plot", fig, {"value": "Share of comparator weight %", "label": "Authority",
                          "unit": "%"},
        caption=f"Share of comparator weight by authority, {cmp.baseline_year}", source=SOURCE)
    return sec


def gaps(cmp, gaps: pd.DataFrame) -> Section:
    """The difference from the virtual comparator, measure by measure and year by year."""
    from nlc_eval import compare_report as cr

    sec = Section()
    g = gaps.loc[gaps["sector"] == "all"].copy() if "sector" in gaps else gaps.copy()
    g = g.sort_values(["outcome", "year"])
    decimals = cr.gap_decimals(g)
    d_of = g["outcome"].astype(str).map(decimals).to_numpy()

    def cells(col: str) -> list[str | None]:
        # each measure's rows at the decimals its sentences use (cr.gap_decimals)
        return [fmt.number(v, int(d)) if _finite(v) is not None else None
                for v, d in zip(g[col].to_numpy(float), d_of, strict=True)]

    t = pd.DataFrame({"Measure": g["outcome"].map(_measure).to_numpy(),
                      "Session": g["year"].map(_year).to_numpy(),
                      "Difference from comparator (points)": cells("estimate"),
                      "95% interval from": cells("ci_low"),
                      "95% interval to": cells("ci_high"),
                      "Schools compared": g["n_schools"].astype("int64").to_numpy()})
    t = t.set_index(["Measure", "Session"])
    t = _no_counts(t)
    sessions = sorted(set(t.index.get_level_values("Session")))
    sec.tables["gaps"] = _table(
        t, caption=f"{cmp.authority}'s schools minus their virtual comparators, by measure, "
                   f"{sessions[0]} to {sessions[-1]}", source=SOURCE,
        notes=("Authority mean of (school minus virtual comparator), in percentage points, "
               "with 95% intervals that allow for the same school appearing every year. "
               "Higher is better for attendance and ACEL, lower is better for absence.",
               "Each measure is printed at the decimals its summary sentence uses.",
               "A measure appears only in years with new figures."))
    att = g[g["outcome"] == "attendance_rate"]
    if len(att):
        fig = pd.DataFrame({"Session": att["year"].map(_year).to_numpy(),
                            "Difference from comparator (points)": att["estimate"].to_numpy(float),
                            "95% interval from": att["ci_low"].to_numpy(float),
                            "95% interval to": att["ci_high"].to_numpy(float)})
        d = decimals["attendance_rate"]
        sec.figures["attendance"] = Figure(
            "trend", fig, {"x": "Session", "y": "Difference from comparator (points)",
                           "low": "95% interval from", "high": "95% interval to",
                           "unit": "percentage points"},
            caption=f"Attendance of {cmp.authority}'s schools minus their virtual comparators "
                    f"with 95% intervals, {_year(att['year'].min())} to "
                    f"{_year(att['year'].max())}", source=SOURCE,
            decimals=dict.fromkeys(fig.columns[1:], d))
    sec.sentences.append("The latest difference for each measure is summarised above; "
                         "every session is in the table.")
    return sec


def change(cmp, did: pd.DataFrame) -> Section:
    """Did the difference move? The comparative difference in differences."""
    from nlc_eval import compare_report as cr

    sec = Section()
    ok = did[did["estimate"].notna()]
    # the decimals of the summary's sentences about these changes (cr.did_sentence)
    d = cr.did_decimals(ok["estimate"], ok["ci_low"], ok["ci_high"])
    cols = ("Change in the difference (points)", "95% interval from", "95% interval to")
    t = pd.DataFrame({
        "Measure": ok["outcome"].map(_measure).to_numpy(),
        "From": ok["baseline"].map(_year).to_numpy(), "To": ok["followup"].map(_year).to_numpy(),
        "Change in the difference (points)": ok["estimate"].map(_finite).to_numpy(),
        "95% interval from": ok["ci_low"].map(_finite).to_numpy(),
        "95% interval to": ok["ci_high"].map(_finite).to_numpy(),
        "Schools compared": ok["n_schools"].astype("int64").to_numpy(),
        "Better is": ok["better_is"].astype(str).to_numpy(),
        "Note": ok["note"].fillna("").astype(str).to_numpy(),
    }).set_index("Measure")
    if len(t):
        sec.tables["did"] = _table(
            _no_counts(t),
            caption=f"Change in the difference from the virtual comparator, {cmp.authority}",
            source=SOURCE, notes=("Schools compared in both years only, so schools opening "
                                  "or closing do not move it.",),
            decimals=dict.fromkeys(cols, d))
        fig = pd.DataFrame({"Measure": [f"{m}, {a} to {b}" for m, a, b in
                                        zip(t.index, t["From"], t["To"], strict=True)],
                            "Change (points)": t["Change in the difference (points)"]
                            .astype(float).to_numpy(),
                            "95% interval from": t["95% interval from"].astype(float).to_numpy(),
                            "95% interval to": t["95% interval to"].astype(float).to_numpy()})
        sec.figures["did"] = Figure(
            "forest", fig, {"label": "Measure", "estimate": "Change (points)",
                            "low": "95% interval from", "high": "95% interval to",
                            "unit": "percentage points"},
            caption=f"Change in the difference from the virtual comparator with 95% "
                    f"intervals, {cmp.authority}", source=SOURCE,
            decimals=dict.fromkeys(fig.columns[1:], d))
    missing = did[did["estimate"].isna()]
    for (b, f), grp in missing.groupby([missing["baseline"].fillna(0),
                                       missing["followup"].fillna(0)], sort=False):
        names = [_measure(o) for o in grp["outcome"]]
        listing = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        when = f"published only for {_year(b)}" if b and b == f else "not published in two years"
        sec.sentences.append(f"{listing}: no change can be estimated ({when}).")
    return sec


def synthetic_control(sc, authority: str) -> Section:
    """The authority-wide synthetic control of attendance, its weights and placebos: the
    technical appendix (the page's summary says it in one plain sentence,
    :func:`nlc_eval.compare_report.synthetic_summary`)."""
    from nlc_eval import compare_report as cr

    sec = Section()
    sec.sentences.append(cr.synthetic_diagnostics(sc, authority))
    w = sc.weights[sc.weights > 0.005].sort_values(ascending=False)
    sec.tables["weights"] = _table(
        pd.DataFrame({"Weight %": (100 * w).round(1).to_numpy()},
                     index=pd.Index([str(i) for i in w.index], name="Authority")),
        caption=f"Authorities making up {authority}'s synthetic control (attendance)",
        source=SOURCE)
    tidy = sc.tidy()
    # at the decimals of the sentence above (its average gap is the first row)
    d = cr.synthetic_decimals(sc)
    t = pd.DataFrame({"Effect (points)": tidy["estimate"].map(_finite).to_numpy(),
                      "95% interval from": tidy["ci_low"].map(_finite).to_numpy(),
                      "95% interval to": tidy["ci_high"].map(_finite).to_numpy(),
                      "p-value": tidy["p_value"].map(
                          lambda p: fmt.p_value(p) if np.isfinite(p) else None).to_numpy()},
                     index=pd.Index([str(x).replace("_", " ").capitalize()
                                     for x in tidy["term"]], name="Estimate"))
    sec.tables["effect"] = _table(
        _no_counts(t),
        caption=f"Attendance of {authority} against its synthetic control", source=SOURCE,
        decimals={"Effect (points)": d, "95% interval from": d, "95% interval to": d})
    p = sc.placebos.copy()
    # the authority's name: a "unit" column, else the index (never a column of numbers)
    names = p["unit"] if "unit" in p else pd.Series(p.index, index=p.index)
    pt = pd.DataFrame({
        # two decimals, as the sentence above quotes the authority's fit
        "Fit before (RMSPE)": p["pre_rmspe"].map(lambda v: fmt.number(v, 2)).to_numpy(),
        "Gap after (RMSPE)": p["post_rmspe"].map(lambda v: fmt.number(v, 2)).to_numpy(),
        "After / before": p["ratio"].map(lambda v: fmt.general(v) if np.isfinite(v) and v < 1e4
                                         else "very large (fit before is near zero)")
        .to_numpy(),
        "The authority itself": np.where(p["treated"].astype(bool), "Yes", "No")},
        index=pd.Index(names.astype(str).to_numpy(), name="Authority"))
    # the ten largest ratios, and the authority itself wherever it ranks (the caption says so)
    own = pt["The authority itself"].eq("Yes").to_numpy()
    top = np.arange(len(pt)) < 10
    sec.tables["placebos"] = _table(
        pt[top | own], caption=f"Placebo tests of the synthetic control: {authority} and the "
                             "authorities with the largest after/before ratios", source=SOURCE,
        notes=("Each authority is given the same treatment in turn; a gap after the fit "
               "period that is large for the authority and small for the others is "
               "evidence of an effect.", cr.synthetic_limits(sc)))
    return sec


def appendix(cmp) -> Section:
    """Diagnostics: which years carry which measure, and data coverage."""
    sec = Section()
    a = cmp.availability.pivot(index="outcome", columns="year", values="status")
    a.index = [_measure(o) for o in a.index]
    a.index.name = "Measure"
    a.columns = [_year(c) for c in a.columns]
    a = a.fillna("not published").astype(str)
    sec.tables["availability"] = _table(
        a, caption="Which sessions carry new figures for each measure", source=SOURCE,
        notes=("Editions that leave a measure blank or repeat the previous collection's "
               "figures are left out, never filled in.",))
    sec.sentences.append("These tables record the data behind the comparison; they are for "
                         "checking, not for reading the results.")
    return sec
