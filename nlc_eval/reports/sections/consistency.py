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
    """A section whose figures may be funnel plots (``plot="funnel"``: one stage, a panel
    per organiser; ``plot="funnel_grid"``: a panel per stage and organiser)."""

    def show_figure(self, name: str) -> None:
        """Draw a funnel figure with alt text and its data, or defer to the house charts."""
        f = self.figures.get(name)
        if f is None:
            return
        if f.plot not in ("funnel", "funnel_grid"):
            super().show_figure(name)
            return
        from nlc_eval import acel_consistency as ac
        from nlc_eval.reports import present

        kw = f.kwargs
        if f.data is None or f.data.empty:
            present.paragraph(f"{f.caption}: no figure. {f.empty}")
            return
        if f.plot == "funnel_grid":
            fig = funnel_grid(kw["result"], kw["stages"], kw["organisers"], kw["year"],
                              highlight=kw["highlight"], table=kw["table"], name=kw["name"])
            alt = grid_alt_text(kw["result"], kw["stages"], kw["organisers"], kw["year"],
                                caption=f.caption, highlight=kw["highlight"],
                                table=kw["table"], name=kw["name"])
            present.figure(fig, caption=f.caption, alt=alt, source=f.source, data=f.data,
                           name=name, index=True)
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


def _special(ctx) -> set[str]:
    """Seed codes of the additional support needs schools (not in the pupil funnels)."""
    return set(ctx.schools.loc[ctx.schools["sector"].astype(str) == "special",
                               "seed_code"].astype(str))


def _cached(ctx, key, make):
    cached = ctx.models.get(key) if isinstance(ctx.models, dict) else None
    if cached is not None:
        return cached
    value = make()
    if isinstance(ctx.models, dict):
        ctx.models[key] = value
    return value


def _pupil_counts(ctx) -> pd.DataFrame:
    from nlc_eval import acel_consistency as ac

    def make():
        counts = ac.pupil_counts(ctx.data.attainment, ctx.data.pupils, ctx.schools)
        # additional support needs schools are not compared with mainstream schools' levels
        return counts[~counts["seed_code"].isin(_special(ctx))].reset_index(drop=True)

    return _cached(ctx, ("acel_counts",), make)


def _funnel_result(ctx, method: str):
    """The authority-target funnels of the pupil records (computed once per context)."""
    from nlc_eval import acel_consistency as ac

    return _cached(ctx, ("acel_funnel", method),
                   lambda: ac.funnel(_pupil_counts(ctx), target="authority", method=method))


def _pupil_result(ctx, method: str):
    """The funnels and the year-to-year changes of the pupil records (cached)."""
    from nlc_eval import acel_consistency as ac

    def make():
        counts = _pupil_counts(ctx)
        return (ac.year_to_year(counts, method=method) if counts["year"].nunique() > 1
                else None)

    return _funnel_result(ctx, method), _cached(ctx, ("acel_changes", method), make)


def _figure_data(pub: pd.DataFrame, raw: pd.DataFrame, stage: str, year: int, simd: bool,
                 *, organisers=None, codes=None, authority: bool = False) -> pd.DataFrame:
    """One row per school: pupils, and each organiser's share and position (wide).

    Pupils assessed come from ``raw`` (suppression of the table hides those below 5);
    shares, positions and targets from ``pub`` (already hidden where they would disclose).
    ``organisers`` and ``codes`` (seed codes) restrict the columns and rows; ``authority``
    adds each organiser's authority share (the funnel's target).
    """
    from nlc_eval.acel_consistency import ORGANISERS

    sel = ((pub["stage"] == stage) & (pub["year"] == int(year))).to_numpy().copy()
    if codes is not None:
        sel &= pub["seed_code"].astype(str).isin([str(c) for c in codes]).to_numpy()
    g = pub[sel].assign(assessed=raw["assessed"].to_numpy()[sel])
    names = g.drop_duplicates("seed_code").set_index("seed_code")["school_name"]
    out = pd.DataFrame(index=names.index)
    first = True
    for org, org_name in ORGANISERS.items():
        if organisers is not None and org not in organisers:
            continue
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
        if authority:
            out[f"{org_name}: authority %"] = (100 * o["target"]).round(1).reindex(out.index)
        out[f"{org_name} position"] = o["position"].map(SHORT).reindex(out.index)
    labels = unique_labels(names.reindex(out.index).astype(str), pd.Series(out.index,
                                                                          index=out.index))
    out.index = pd.Index(labels.to_numpy(), name="School")
    return out.sort_index()


def _flag_table(res, pub: pd.DataFrame, *, label_target: str, codes=None
                ) -> tuple[pd.DataFrame, int]:
    """Officers' table: results outside the 99.8% limits, or outside the 95% limits in the
    same direction in two or more sessions (of the schools ``codes``, default every
    school). Returns the table and how many were hidden."""
    s = res.schools
    side = np.sign(s["z_adjusted"].to_numpy(float)) * s["outside_95"].to_numpy()
    s = s.assign(_side=side)
    repeat = s[s["_side"] != 0].groupby(["seed_code", "stage", "organiser", "_side"]).size()
    key = list(zip(s["seed_code"], s["stage"], s["organiser"], s["_side"], strict=True))
    times = np.array([repeat.get(k, 0) for k in key])
    keep = s["outside_998"].to_numpy() | (times >= 2)
    if codes is not None:
        keep &= s["seed_code"].astype(str).isin([str(c) for c in codes]).to_numpy()
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


# ---------------------------------------------------------------------------
# A cluster's or family's schools among every school of the authority
# ---------------------------------------------------------------------------

#: Organisers drawn in the cluster and family reports (their table lists every organiser).
HIGHLIGHT_ORGANISERS = ("reading", "numeracy")
#: Most highlighted schools named in one panel of :func:`funnel_grid`.
GRID_LABELS = 2
#: Why a school's result is not shown, in a sentence.
HIDDEN_REASON = ("the numbers are too small to publish (fewer than 5 pupils assessed, or "
                 "fewer than 5 achieving or not achieving the level)")


def _codes(highlight) -> list[str]:
    if highlight is None:
        return []
    return [str(h) for h in ([highlight] if isinstance(highlight, str | int) else highlight)]


def _listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _panels(result, stages, organisers, year) -> list[tuple[str, str]]:
    have = {(s, o) for s, o, y in result.groups() if y == int(year)}
    return [(s, o) for s in stages for o in organisers if (s, o) in have]


def funnel_grid(result, stages, organisers, year: int, *, highlight=None, table=None,
                name: str = ""):
    """Small multiples: a funnel plot per stage (rows) and organiser (columns).

    ``highlight`` schools are drawn as diamonds (:func:`~nlc_eval.acel_consistency.plot_funnel`),
    named in a panel with at most :data:`GRID_LABELS` of them (more would overlap; the
    data table names them all); a hidden share (``table``, default
    :meth:`FunnelResult.publishable`) is not drawn. ``name`` names them in the legend.
    """
    import matplotlib.pyplot as plt

    from nlc_eval import acel_consistency as ac
    from nlc_eval import plots

    tab = result.publishable() if table is None else table
    have = set(_panels(result, stages, organisers, year))
    rows, cols = len(stages), len(organisers)
    if not have:
        raise ValueError(f"no funnel for {stages} and {organisers} in {year}")
    height = 2.5 * rows + 0.9
    fig, axes = plt.subplots(rows, cols, figsize=(plots.WIDTH * (1.2 if cols > 1 else 1),
                                                  height), squeeze=False)
    labels: dict[str, Any] = {}
    mine = f"schools of {name}" if name else "highlighted schools"
    legend = {"target": "authority's share", "highlighted school": mine,
              "highlighted schools": mine}
    for i, stage in enumerate(stages):
        for j, org in enumerate(organisers):
            ax = axes[i, j]
            if (stage, org) not in have:
                ax.set_visible(False)
                continue
            ac.plot_funnel(result, stage, org, year, highlight=highlight, ax=ax, table=tab,
                           legend=False)
            ax.set_title(f"{stage} {ac.ORGANISERS.get(org, org).lower()}", fontsize=11)
            ax.tick_params(labelsize=9)
            ax.set_xlabel(ax.get_xlabel() if i == rows - 1 else "", fontsize=9)
            ax.set_ylabel("% achieving" if j == 0 else "", fontsize=9)
            if len(ax.texts) > GRID_LABELS:
                for t in list(ax.texts):
                    t.remove()
            for h, lab_ in zip(*ax.get_legend_handles_labels(), strict=True):
                lab_ = legend.get(lab_, lab_)
                labels.setdefault(lab_, h)
    fig.legend(list(labels.values()), list(labels), loc="lower center", ncol=3, fontsize=9,
               frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, (0.75 if len(labels) > 3 else 0.45) / height, 1, 1))
    return fig


def _pct(v: float) -> str:
    """A share as the tables print it (rounded as they round it, then formatted)."""
    from nlc_eval import formatting as fmt

    return fmt.number(float(np.round(100 * float(v), 1)), 1) + "%"


def grid_alt_text(result, stages, organisers, year: int, *, caption: str = "",
                  highlight=None, table=None, name: str = "the highlighted schools") -> str:
    """Alt text of :func:`funnel_grid` from the data: each panel's authority share, how
    many schools lie outside the 95% limits, and where each highlighted school is."""
    from nlc_eval.acel_consistency import ORGANISERS, POSITIONS

    tab = result.publishable() if table is None else table
    hl = set(_codes(highlight))
    start = f"{caption}: " if caption else ""
    text = [f"{start}funnel plots of the share of pupils achieving the expected level "
            f"against pupils assessed, one panel per stage and organiser, session "
            f"{measures.session(year)}, with the authority's share and 95% and 99.8% "
            f"limits; the schools of {name} are diamonds."]
    for stage, org in _panels(result, stages, organisers, year):
        g = tab[(tab["stage"] == stage) & (tab["organiser"] == org)
                & (tab["year"] == int(year))]
        shown = g[g["shown"].astype(bool)]
        pos = shown["position"].value_counts()
        up = int(pos.get(POSITIONS[3], 0) + pos.get(POSITIONS[4], 0))
        down = int(pos.get(POSITIONS[0], 0) + pos.get(POSITIONS[1], 0))
        target = float(result._group(stage, org, year)["target_mean"])
        part = (f"{stage} {ORGANISERS[org].lower()}: authority {_pct(target)}; "
                f"{len(shown)} schools shown, {up} above and {down} below the 95% limits")
        mine = g[g["seed_code"].astype(str).isin(hl)]
        for r in mine.sort_values("school_name").itertuples():
            if bool(r.shown):
                part += f"; {r.school_name} {_pct(r.plotted)}, {r.position}"
            else:
                part += f"; {r.school_name} not shown (small numbers)"
        text.append(part + ".")
    text.append("The values of the schools of " + name + " are in the table under the figure.")
    return " ".join(text)


def highlighted(ctx, highlight, *, name: str, year: int = 0,
                organisers=HIGHLIGHT_ORGANISERS, method: str = "additive"
                ) -> ConsistencySection:
    """A cluster's or family's schools in the authority's funnel plots of ACEL judgements.

    One small-multiples figure: a panel per stage the schools have and organiser drawn
    (``organisers``, default reading and numeracy), every mainstream school of the
    authority against the authority's share, the schools ``highlight`` (seed codes) as
    labelled diamonds. Sentences say where the schools' results lie (every organiser), which
    cannot be shown and why, and that outside the limits is a prompt for moderation; a table
    lists their results for moderation (outside the 99.8% limits, or outside the 95% limits
    on the same side in two or more sessions).

    Parameters
    ----------
    highlight : seed code or list of them
        The report's schools.
    name : str
        How the sentences name the group ("Cluster 07", "family 3").
    year : int
        Session (the calendar year it starts); 0 means the latest in the pupil records.
    """
    from nlc_eval.acel_consistency import ORGANISERS, POSITIONS

    sec = ConsistencySection()
    codes = _codes(highlight)
    schools = ctx.schools.assign(seed_code=ctx.schools["seed_code"].astype(str))
    names = schools.drop_duplicates("seed_code").set_index("seed_code")["school_name"]
    special = [c for c in codes if c in _special(ctx)]
    codes = [c for c in codes if c not in special]
    if special:
        listing = _listing(sorted(str(names.get(c, c)) for c in special))
        sec.notes.append(f"Additional support needs schools ({listing}) are not in the "
                         "funnels: their pupils' levels are not comparable with mainstream "
                         "schools'.")
    if not codes:
        sec.sentences.append(f"The funnel plots of ACEL judgements compare mainstream "
                             f"schools; {name} has none, so they are not shown.")
        sec.results.update(results=0, shown=0)
        return sec
    res = _funnel_result(ctx, method)
    years = sorted(int(y) for y in res.schools["year"].unique())
    session = int(year) if year and int(year) in years else years[-1]
    sname = measures.session(session)
    pub = res.publishable()
    latest = (pub["year"] == session).to_numpy()
    mine = pub[latest & pub["seed_code"].astype(str).isin(codes).to_numpy()]
    absent = [c for c in codes if c not in set(mine["seed_code"].astype(str))]
    source = measures.source_line("acel_assessed", pupil_source=ctx.pupil_source)
    orgs = [o for o in organisers if o in ORGANISERS]
    org_words = _listing([ORGANISERS[o].lower() for o in orgs])
    shown = mine[mine["shown"].astype(bool)]
    drawn = shown[shown["organiser"].isin(orgs)]
    stages = sorted(drawn["stage"].unique(), key=_stage_key)
    sec.sentences.append(
        f"The funnel plots place the schools of {name} (diamonds) among every mainstream "
        f"school of the authority: each school's share of pupils achieving the expected "
        f"level in {org_words}, session {sname}, against the number of pupils it assessed, "
        "with 95% and 99.8% limits around the authority's share. Small schools' shares vary "
        "more by chance, so the limits are wider for them.")
    if len(shown):
        pos = shown["position"].value_counts()
        up = int(pos.get(POSITIONS[3], 0) + pos.get(POSITIONS[4], 0))
        down = int(pos.get(POSITIONS[0], 0) + pos.get(POSITIONS[1], 0))
        inside = int(pos.get(POSITIONS[2], 0))
        text = (f"Of the {len(shown)} results of {name}'s schools in session {sname} that "
                f"can be shown (each stage and organiser, all four organisers), {inside} "
                f"lie inside the 95% limits, {up} above and {down} below")
        out = shown[shown["position"] != POSITIONS[2]].copy()
        if len(out):
            out["_k"] = out["stage"].map(_stage_key)
            out["_o"] = out["organiser"].map(list(ORGANISERS).index)
            out = out.sort_values(["school_name", "_k", "_o"])
            items = [f"{r.school_name} ({r.stage} {ORGANISERS[r.organiser].lower()}, "
                     f"{_pct(r.share)}, {r.position})" for r in out.itertuples()]
            more = len(items) - 8
            text += ": " + _listing(items[:8] if more <= 0 else [*items[:8],
                                                                 f"{more} more"])
        sec.sentences.append(text + ".")
    hidden = mine[~mine["shown"].astype(bool)]
    if len(hidden):
        items = []
        for (school, stage), g in hidden.assign(_k=hidden["stage"].map(_stage_key)) \
                .sort_values(["school_name", "_k"]).groupby(["school_name", "stage"],
                                                            sort=False):
            have = mine[(mine["school_name"] == school) & (mine["stage"] == stage)]
            which = ("every organiser" if len(g) == len(have) else
                     _listing([ORGANISERS[o].lower() for o in ORGANISERS
                               if o in set(g["organiser"])]))
            items.append(f"{school} at {stage} ({which})")
        sec.sentences.append(f"Not shown, because {HIDDEN_REASON}: {_listing(items)}; these "
                             "results are not drawn.")
    if absent:
        listing = _listing(sorted(str(names.get(c, c)) for c in absent))
        sec.sentences.append(f"No ACEL judgements of pupils of {listing} are in the pupil "
                             f"records of session {sname}, so they are not shown.")
    sec.sentences.append(MODERATION)
    sec.notes.extend(res.assumptions[1:-1])
    parts = []
    for stage in stages:
        d = _figure_data(pub, res.schools, stage, session, False, organisers=orgs,
                         codes=codes, authority=True)
        d.index = pd.MultiIndex.from_arrays([d.index, [stage] * len(d)],
                                            names=["School", "Stage"])
        parts.append(d)
    data = _published(pd.concat(parts)) if parts else pd.DataFrame()
    sec.figures["funnels"] = Figure(
        "funnel_grid", data,
        {"result": res, "stages": stages, "organisers": orgs, "year": session,
         "highlight": codes, "table": pub, "name": name},
        caption=f"Share of pupils achieving the expected level in {org_words} against "
                f"pupils assessed, schools of {name} among every mainstream school of the "
                f"authority, with 95% and 99.8% limits, session {sname}",
        source=source, empty=f"None of the results of {name}'s schools in {org_words} can "
                             "be shown.")
    flags, hidden_flags = _flag_table(res, pub, label_target="Authority %", codes=codes)
    period = measures.sessions(years[0], years[-1])
    notes = ["Listed: results outside the 99.8% limits, and results outside the 95% limits "
             "on the same side in two or more sessions, every organiser.", MODERATION]
    if hidden_flags:
        notes.append(f"{hidden_flags} further flagged results of these schools are not listed "
                     "because the school's numbers are too small to publish.")
    if len(flags):
        sec.tables["flagged"] = Table(
            _published(flags), caption=f"Results of the schools of {name} for moderation: "
                                       f"outside the limits, {period}", source=source,
            notes=tuple(notes), decimals={"z-score (adjusted)": 2})
    else:
        sec.sentences.append(f"No result of {name}'s schools that can be shown is outside "
                             f"the 99.8% limits, or outside the 95% limits on the same side "
                             f"in two or more sessions, from {period}.")
        if hidden_flags:
            sec.sentences.append(f"{hidden_flags} such results are not listed because the "
                                 "school's numbers are too small to publish.")
    sec.results.update(
        session=session, results=int(len(mine)), shown=int(len(shown)),
        not_shown=int(len(hidden)),
        outside_95=int((shown["position"] != POSITIONS[2]).sum()),
        flagged_listed=int(len(flags)), flagged_not_listed=hidden_flags,
        stages=list(stages), organisers=list(orgs))
    return sec


def results(**sections: Section | None) -> dict[str, Any]:
    """The key results of the consistency sections."""
    return {k: v.results for k, v in sections.items() if v is not None}
