"""Consistency of ACEL judgements: funnel plots, moderation flags, year-to-year movement.

The sections here are shared by the authority overview (every school) and, with schools
highlighted, by cluster and family reports. Funnels are drawn by
:mod:`nlc_eval.acel_consistency` (not a :mod:`nlc_eval.plots` chart), so the sections are
:class:`ConsistencySection`, whose :meth:`~ConsistencySection.show_figure` knows how to
draw them; everything else is an ordinary :class:`~nlc_eval.reports.sections.Section`.

Every table is built from :meth:`FunnelResult.publishable` (shares that would disclose a
count of 1-4 pupils hidden) and passed through :func:`nlc_eval.disclosure.suppress`; rows
whose share is hidden are left out of the officers' tables and counted in a note.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nlc_eval.reports import measures
from nlc_eval.reports.sections._common import (
    Figure,
    Section,
    Table,
    num,
    suppress,
    unique_labels,
)

STAGE_ORDER = ("P1", "P4", "P7", "P1, P4 and P7", "S3")
MODERATION = ("Outside the limits is a prompt for a moderation conversation, not a verdict: "
              "a school may be doing very well, may be struggling, or may be judging "
              "differently from other schools.")
SHORT = {"below the 99.8% limit": "below 99.8%", "below the 95% limit": "below 95%",
         "inside the limits": "inside", "above the 95% limit": "above 95%",
         "above the 99.8% limit": "above 99.8%"}


class ConsistencySection(Section):
    """A section whose figures may be funnel plots (``plot="funnel"``)."""

    def show_figure(self, name: str) -> None:
        """Draw a funnel figure with alt text and its data, or defer to the house charts."""
        f = self.figures.get(name)
        if f is None:
            return
        if f.plot != "funnel":
            super().show_figure(name)
            return
        from nlc_eval import acel_consistency as ac
        from nlc_eval.reports import present

        kw = f.kwargs
        if f.data is None or f.data.empty:
            present.paragraph(f"{f.caption}: no figure. {f.empty}")
            return
        fig = ac.funnel_figure(kw["result"], kw["stage"], kw["year"],
                               highlight=kw.get("highlight"), table=kw["table"])
        alt = ac.funnel_alt_text(kw["result"], kw["stage"], kw["year"], caption=f.caption,
                                 highlight=kw.get("highlight"), table=kw["table"])
        present.figure(fig, caption=f.caption, alt=alt, source=f.source, data=f.data,
                       name=name, index=True)


def _stage_key(stage: str) -> int:
    return STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER)


def _slug(stage: str) -> str:
    return "funnel_" + "".join(ch for ch in stage.lower() if ch.isalnum())


def _pupil_result(ctx, method: str):
    from nlc_eval import acel_consistency as ac

    key = ("acel_consistency", method)
    cached = ctx.models.get(key) if isinstance(ctx.models, dict) else None
    if cached is not None:
        return cached
    counts = ac.pupil_counts(ctx.data.attainment, ctx.data.pupils, ctx.schools)
    # additional support needs schools are not compared with mainstream schools' levels
    special = set(ctx.schools.loc[ctx.schools["sector"].astype(str) == "special",
                                  "seed_code"].astype(str))
    counts = counts[~counts["seed_code"].isin(special)].reset_index(drop=True)
    res = ac.funnel(counts, target="authority", method=method)
    changes = ac.year_to_year(counts, method=method) if counts["year"].nunique() > 1 \
        else None
    if isinstance(ctx.models, dict):
        ctx.models[key] = (res, changes)
    return res, changes


def _figure_data(pub: pd.DataFrame, raw: pd.DataFrame, stage: str, year: int, simd: bool
                 ) -> pd.DataFrame:
    """One row per school: pupils, and each organiser's share and position (wide).

    Pupils assessed come from ``raw`` (suppression of the table hides those below 5);
    shares, positions and targets from ``pub`` (already hidden where they would disclose).
    """
    from nlc_eval.acel_consistency import ORGANISERS

    sel = ((pub["stage"] == stage) & (pub["year"] == int(year))).to_numpy()
    g = pub[sel].assign(assessed=raw["assessed"].to_numpy()[sel])
    names = g.drop_duplicates("seed_code").set_index("seed_code")["school_name"]
    out = pd.DataFrame(index=names.index)
    first = True
    for org, org_name in ORGANISERS.items():
        o = g[g["organiser"] == org].set_index("seed_code")
        if o.empty:
            continue
        if first:
            out[measures.label("acel_assessed")] = o["assessed"].round().reindex(
                out.index).fillna(0).astype("int64")
            first = False
        out[f"{org_name} %"] = (100 * o["share"]).round(1).reindex(out.index)
        if simd:
            out[f"{org_name} expected %"] = (100 * o["target"]).round(1).reindex(out.index)
        out[f"{org_name} position"] = o["position"].map(SHORT).reindex(out.index)
    labels = unique_labels(names.reindex(out.index).astype(str), pd.Series(out.index,
                                                                          index=out.index))
    out.index = pd.Index(labels.to_numpy(), name="School")
    return out.sort_index()


def _flag_table(res, pub: pd.DataFrame, *, label_target: str) -> tuple[pd.DataFrame, int]:
    """Officers' table: results outside the 99.8% limits, or outside the 95% limits in the
    same direction in two or more sessions. Returns the table and how many were hidden."""
    s = res.schools
    side = np.sign(s["z_adjusted"].to_numpy(float)) * s["outside_95"].to_numpy()
    s = s.assign(_side=side)
    repeat = s[s["_side"] != 0].groupby(["seed_code", "stage", "organiser", "_side"]).size()
    key = list(zip(s["seed_code"], s["stage"], s["organiser"], s["_side"], strict=True))
    times = np.array([repeat.get(k, 0) for k in key])
    keep = s["outside_998"].to_numpy() | (times >= 2)
    rows = pub[keep].copy()
    rows["_times"] = times[keep]
    hidden = int((~rows["shown"].astype(bool)).sum())
    rows = rows[rows["shown"].astype(bool)]
    from nlc_eval.acel_consistency import ORGANISERS

    idx = pd.MultiIndex.from_arrays(
        [rows["school_name"].astype(str).to_numpy(), rows["stage"].astype(str).to_numpy(),
         rows["organiser"].map(ORGANISERS).to_numpy(),
         [measures.session(y) for y in rows["year"]]],
        names=["School", "Stage", "Organiser", "Session"])
    t = pd.DataFrame({
        measures.label("acel_assessed"): res.schools.loc[rows.index, "assessed"].round()
        .astype("int64").to_numpy(),
        "% achieving expected level": (100 * rows["share"].astype(float)).round(1).to_numpy(),
        label_target: (100 * rows["target"].astype(float)).round(1).to_numpy(),
        "z-score (adjusted)": rows["z_adjusted"].astype(float).round(2).to_numpy(),
        "Position": rows["position"].astype(str).to_numpy(),
        "Sessions outside 95% limits, same side": rows["_times"].astype(int).to_numpy(),
    }, index=idx)
    t = t[~t.index.duplicated()].sort_index()
    return t, hidden


def _dispersion_table(res, year: int) -> pd.DataFrame:
    from nlc_eval.acel_consistency import ORGANISERS

    d = res.dispersion[res.dispersion["year"] == int(year)].copy()
    d = d.sort_values(["stage", "organiser"], key=lambda c: c.map(_stage_key)
                      if c.name == "stage" else c)
    idx = pd.MultiIndex.from_arrays([d["stage"].astype(str).to_numpy(),
                                     d["organiser"].map(ORGANISERS).to_numpy()],
                                    names=["Stage", "Organiser"])
    return pd.DataFrame({
        "Schools": d["schools"].astype(int).to_numpy(),
        ("Authority %" if res.target == "authority" else "Average expected %"):
            (100 * d["target_mean"]).round(1).to_numpy(),
        "Over-dispersion (phi)": d["phi"].round(2).to_numpy(),
        "Between-school spread (points)": (100 * np.sqrt(d["tau2"])).round(1).to_numpy(),
        "Adjustment": d["adjustment"].astype(str).to_numpy(),
    }, index=idx)


def _published(t: pd.DataFrame) -> pd.DataFrame:
    counts = [c for c in t.columns if c == measures.label("acel_assessed")]
    rates = {c: (None, counts[0]) for c in t.columns
             if counts and pd.api.types.is_float_dtype(t[c])}
    return suppress(t, margins=False, count_columns=counts, rate_columns=rates, exact=False)


def _funnel_section(res, changes, *, session: int, source: str, highlight=None,
                    what: str, label_target: str) -> ConsistencySection:
    pub = res.publishable()
    sec = ConsistencySection()
    latest = res.schools[res.schools["year"] == session]
    n95 = int(latest["outside_95"].sum())
    n998 = int(latest["outside_998"].sum())
    schools = latest["seed_code"].nunique()
    sname = measures.session(session)
    sec.sentences.append(
        f"Each funnel plot shows every school's share of pupils achieving the expected "
        f"level, compared with {what}, against the number of pupils it assessed, in session {sname}. "
        "Small schools' shares vary more by chance, so the limits are wider for them.")
    sec.sentences.append(
        f"Of {len(latest):,} school results ({schools} schools, each stage and organiser), "
        f"{n95} lie outside the 95% limits and {n998} outside the 99.8% limits; with "
        f"ordinary variation alone about {0.05 * len(latest):.0f} and "
        f"{0.002 * len(latest):.0f} would.")
    sec.sentences.append(MODERATION)
    sec.notes.extend(res.assumptions[1:-1])
    if res.target == "authority":
        sec.notes.append("Additional support needs schools are not included: their "
                         "pupils' levels are not comparable with mainstream schools'.")
    stages = sorted(latest["stage"].unique(), key=_stage_key)
    simd = res.target == "simd"
    for stage in stages:
        data = _figure_data(pub, res.schools, stage, session, simd)
        tab = pub
        sec.figures[_slug(stage)] = Figure(
            "funnel", _published(data),
            {"result": res, "stage": stage, "year": session, "highlight": highlight,
             "table": tab},
            caption=f"Share of {stage} pupils achieving the expected level by organiser "
                    f"against pupils assessed, with 95% and 99.8% limits, session {sname}",
            source=source, empty="No school has a share that can be shown.")
    flags, hidden = _flag_table(res, pub, label_target=label_target)
    notes = ["Listed: results outside the 99.8% limits, and results outside the 95% limits "
             "on the same side in two or more sessions.", MODERATION]
    if hidden:
        notes.append(f"{hidden} further flagged results are not listed because the school's "
                     "numbers are too small to publish.")
    years = sorted(res.schools["year"].unique())
    period = measures.sessions(years[0], years[-1])
    if len(flags):
        sec.tables["flagged"] = Table(
            _published(flags), caption=f"School results for moderation: outside the "
                                       f"limits, {period}", source=source,
            notes=tuple(notes), decimals={"z-score (adjusted)": 2})
    else:
        sec.sentences.append(f"No school result is outside the 99.8% limits, or repeatedly "
                             f"outside the 95% limits, in {period}.")
    sec.tables["dispersion"] = Table(
        _dispersion_table(res, session),
        caption=f"How much schools differ beyond chance, by stage and organiser, session "
                f"{sname}", source=source,
        notes=("Over-dispersion (phi) above 1 means schools differ by more than chance "
               "alone; the limits are widened by the between-school spread.",),
        decimals={"Over-dispersion (phi)": 2})
    sec.results.update(
        session=int(session), target=res.target, method=res.method,
        results=int(len(latest)), outside_95=n95, outside_998=n998,
        flagged_listed=int(len(flags)), flagged_not_listed=hidden,
        headlines=[f"ACEL consistency ({sname}): {n95} of {len(latest):,} school results "
                   f"outside the 95% limits and {n998} outside the 99.8% limits, against "
                   f"{what}."])
    if changes is not None:
        sec.results["changes_outside_998"] = int(changes.changes["outside_998"].sum())
    return sec


def funnels(ctx, *, highlight=None, method: str = "additive") -> ConsistencySection:
    """Funnel plots of the latest session from the pupil records, against the authority mean.

    Parameters
    ----------
    highlight : seed code or list of them, optional
        Schools drawn as labelled diamonds (a cluster's or family's members).
    method : {"additive", "multiplicative", "none"}
        Over-dispersion adjustment (:func:`nlc_eval.acel_consistency.funnel`).
    """
    res, changes = _pupil_result(ctx, method)
    session = int(res.schools["year"].max())
    source = measures.source_line("acel_assessed", pupil_source=ctx.pupil_source)
    return _funnel_section(res, changes, session=session, source=source,
                           highlight=highlight, what="the authority's own share",
                           label_target="Authority %")


def changes(ctx, *, method: str = "additive") -> ConsistencySection:
    """Schools whose share moves from one session to the next more than cohort size allows."""
    from nlc_eval.acel_consistency import ORGANISERS

    res, ch = _pupil_result(ctx, method)
    sec = ConsistencySection()
    source = measures.source_line("acel_assessed", pupil_source=ctx.pupil_source)
    if ch is None:
        sec.sentences.append("Year-to-year consistency needs two or more sessions of pupil "
                             "records; there is one.")
        return sec
    pub = ch.publishable()
    c = ch.changes
    n95, n998 = int(c["outside_95"].sum()), int(c["outside_998"].sum())
    years = sorted(c["year"].unique())
    period = measures.sessions(int(years[0]) - 1, int(years[-1]))
    sec.sentences.append(
        f"Between consecutive sessions from {period}, {n95} of {len(c):,} changes in a "
        f"school's share (each stage and organiser) lie outside the 95% limits and {n998} "
        f"outside the 99.8% limits, after allowing for the authority's own change and "
        f"for each school's cohort sizes; about {0.05 * len(c):.0f} and "
        f"{0.002 * len(c):.0f} would by chance.")
    sec.sentences.append(ch.assumptions[-1])
    sec.notes.extend(ch.assumptions[:2])
    rows = pub[c["outside_998"].to_numpy()]
    hidden = int((~rows["shown"].astype(bool)).sum())
    rows = rows[rows["shown"].astype(bool)]
    if len(rows):
        idx = pd.MultiIndex.from_arrays(
            [rows["school_name"].astype(str).to_numpy(), rows["stage"].astype(str).to_numpy(),
             rows["organiser"].map(ORGANISERS).to_numpy(),
             [f"{measures.session(y - 1)} to {measures.session(y)}" for y in rows["year"]]],
            names=["School", "Stage", "Organiser", "Sessions"])
        t = pd.DataFrame({
            "Pupils assessed, earlier session": c.loc[rows.index, "assessed_before"].round()
            .astype("int64").to_numpy(),
            measures.label("acel_assessed"): c.loc[rows.index, "assessed"].round()
            .astype("int64").to_numpy(),
            "% achieving, earlier session": (100 * rows["share_before"].astype(float))
            .round(1).to_numpy(),
            "% achieving expected level": (100 * rows["share"].astype(float)).round(1)
            .to_numpy(),
            "Change (points)": (100 * rows["change"].astype(float)).round(1).to_numpy(),
            "Authority change (points)": (100 * rows["target_change"].astype(float)).round(1)
            .to_numpy(),
            "Position": rows["position"].astype(str).to_numpy(),
        }, index=idx)
        t = t[~t.index.duplicated()].sort_index()
        earlier = "Pupils assessed, earlier session"
        shown = suppress(t, margins=False, count_columns=[earlier,
                                                          measures.label("acel_assessed")],
                         exact=False)
        notes = ["Listed: changes outside the 99.8% limits.", ch.assumptions[-1]]
        if hidden:
            notes.append(f"{hidden} further changes outside the limits are not listed "
                         "because the school's numbers are too small to publish.")
        sec.tables["changes"] = Table(shown, caption=f"Changes between sessions larger than "
                                                     f"cohort size allows, {period}",
                                      source=source, notes=tuple(notes))
    else:
        sec.sentences.append("No listed change: none outside the 99.8% limits can be shown.")
    sec.results.update(changes=int(len(c)), outside_95=n95, outside_998=n998,
                       listed=int(len(rows)), not_listed=hidden)
    return sec


def official(ctx, *, highlight=None, method: str = "additive") -> ConsistencySection:
    """Funnel plots of the published ACEL file against the SIMD-based expectation.

    Needs the official files (``ctx.official_dir``: the ACEL file and the school
    statistics of its census year); without them the section says so. Banded values
    (such as ``95-100%``) are taken at the middle of their band so that the highest
    results are not left out; suppressed values (``[c]``) are left out.
    """
    sec = ConsistencySection()
    if not ctx.official_dir:
        sec.sentences.append("The comparison with what schools of the same SIMD profile "
                             "achieve across Scotland needs the published ACEL file; it "
                             "was not given, so it is not shown.")
        return sec
    from nlc_eval import acel_consistency as ac
    from nlc_eval.acel_model import expected_acel
    from nlc_eval.data import official as off

    try:
        acel = off.load_acel(ctx.official_dir)
    except Exception as err:  # noqa: BLE001 - a missing file is reported, not fatal
        sec.sentences.append(f"The published ACEL file could not be read ({err}); the "
                             "comparison with the SIMD-based expectation is not shown.")
        return sec
    session = str(acel["session"].dropna().iloc[0])
    year = int(session[:4])
    census = off.load_school_statistics(ctx.official_dir, years=year)
    exp = expected_acel(acel, census, bands="midpoint", publish=False)
    res = ac.funnel(ac.official_counts(exp), target="simd", method=method,
                    local_authority=ctx.authority_name)
    source = (f"Scottish Government, Achievement of Curriculum for Excellence Levels "
              f"{session} (school level), and school statistics, census {year}")
    sec = _funnel_section(res, None, session=year, source=source, highlight=highlight,
                          what="what schools with the same SIMD profile achieve across "
                               "Scotland (adjusted for intake)",
                          label_target="Expected %")
    s = res.schools
    gap = 100 * float(np.average(s["share"] - s["target"], weights=s["assessed"]))
    sec.sentences.insert(2, f"On average {ctx.authority_name}'s schools are "
                            f"{abs(gap):.1f} percentage points "
                            f"{'above' if gap >= 0 else 'below'} what schools with the same "
                            "SIMD profile achieve across Scotland; the limits are about "
                            "single schools against that national expectation.")
    sec.results["authority_vs_expected_points"] = num(gap)
    return sec


def results(**sections: Section | None) -> dict[str, Any]:
    """The key results of the consistency sections."""
    return {k: v.results for k, v in sections.items() if v is not None}
