"""The family-formation page: how the families of one sector were formed, and how good."""

from __future__ import annotations

from typing import Any

import pandas as pd

from nlc_eval import formatting as fmt
from nlc_eval.errors import ReportError
from nlc_eval.reports import measures
from nlc_eval.reports.sections._common import (
    Figure,
    Section,
    Table,
    collect,
    map_data,
    num,
    suppress,
)
from nlc_eval.reports.sections.cluster import census_source

lab = measures.label
#: Decimals of the quality ratios, in the quality table and in the sentences quoting them.
RATIO_DECIMALS = 2
RATIO_COLUMNS = ("Spread against random groupings", "Spread against unconstrained k-means",
                 "Silhouette")


def form(ctx, *, sector: str = "all", size: tuple[int, int] | None = None,
         cannot_link: str = "cluster") -> Section:
    """Form the families of every sector (or of one) and describe them.

    Parameters
    ----------
    sector : str
        ``"all"`` (primary, secondary and special schools, each in its own families) or one
        sector.
    size : (int, int), optional
        Family size bounds of the one ``sector``; default the authority's practice
        (``families.SECTOR_SIZES``: primaries 6-10, secondaries in trios and quads).
    cannot_link : str
        Keep schools with the same value of this column apart ("" for no rule).

    With every sector, the authority's bounds and the cluster rule, the families are the
    batch's own (those of the family reports). Tables ``families_<sector>`` and figures
    ``map_<sector>`` per sector, one ``quality`` table with a row per sector;
    ``results["sectors"]`` lists the sectors in page order.
    """
    from nlc_eval.families import SECTOR_SIZES, form_families

    present = list(dict.fromkeys(ctx.schools["sector"].astype(str)))
    ordered = [x for x in SECTOR_SIZES if x in present] + sorted(
        x for x in present if x not in SECTOR_SIZES)
    if sector != "all" and sector not in ordered:
        raise ReportError(f"unknown sector {sector!r}; valid sectors: all, "
                          f"{', '.join(ordered)}.")
    if size is not None and sector == "all":
        raise ReportError("size bounds are for one sector: give sector= with size=, or "
                          "leave size out for the authority's bounds of every sector.")
    if cannot_link and cannot_link not in ctx.schools.columns:
        raise ReportError(f"cannot_link={cannot_link!r} is not a column of the schools "
                          "table; use 'cluster' or an empty string.")
    chosen = ordered if sector == "all" else [sector]
    bounds = {x: tuple(SECTOR_SIZES[x]) for x in chosen if x in SECTOR_SIZES}
    if size is not None:
        bounds = {sector: tuple(size)}
    missing = [x for x in chosen if x not in bounds]
    if missing:
        raise ReportError(f"no family size bounds for sector(s) {', '.join(missing)}; give "
                          "sector= and size=.")
    res = None
    if sector == "all" and size is None and cannot_link == "cluster":
        res = ctx.ensure_families()          # the family reports' own families
    if res is None:
        schools = ctx.schools[ctx.schools["sector"].astype(str).isin(chosen)]
        res = form_families(schools.set_index("seed_code", drop=False), size=bounds,
                            by="sector", cannot_link=cannot_link or None,
                            random_state=ctx.seed)
    sec = Section()
    q = res.quality(n_random=100)
    q = q.loc[[x for x in chosen if x in q.index]].reset_index()      # the page's order
    table = res.table()
    census = measures.session(ctx.year)
    src = census_source(ctx, "roll")
    members = res.members
    for x in q["group"]:
        t = table[table["group"].astype(str) == x]
        fam = pd.DataFrame({
            lab("schools"): t["n_schools"].astype("int64").to_numpy(),
            "Pupils on roll, smallest school": t["roll_min"].round().astype("int64").to_numpy(),
            "Pupils on roll, largest school": t["roll_max"].round().astype("int64").to_numpy(),
            "% in SIMD Q1 (mean of the schools)": (100 * t["simd_q1_share_mean"]).round(1)
            .to_numpy(),
            "Members": t["members"].to_numpy(),
        }, index=pd.Index(t["family"].to_numpy(), name="Family"))
        sec.tables[f"families_{x}"] = Table(
            suppress(fam, margins=False, count_columns=["Pupils on roll, smallest school",
                                                        "Pupils on roll, largest school"]),
            caption=f"The {x} families, their sizes and members, census {census}",
            source=src)
        sec.figures[f"map_{x}"] = Figure(
            "family_map", map_data(ctx, members[members["group"] == x]),
            {"x": lab("roll"), "y": lab("simd_q1_pct"), "family": "Family"},
            caption=f"{x.capitalize()} schools by pupils on roll and share in SIMD quintile "
                    f"1, by family, census {census}", source=src)
    pupils = pd.to_numeric(members.groupby("group")["roll"].sum(), errors="coerce")
    qt = pd.DataFrame({
        "Families": q["n_families"].to_numpy(),
        lab("roll"): pupils.reindex(q["group"]).round().astype("int64").to_numpy(),
        "Schools per family": [f"{a} to {b}" for a, b in zip(q["size_min"], q["size_max"],
                                                              strict=True)],
        "Spread against random groupings": q["ratio_to_random"].astype(float).to_numpy(),
        "Spread against unconstrained k-means": q["ratio_to_kmeans"].astype(float)
        .to_numpy(),
        "Silhouette": q["silhouette"].astype(float).to_numpy(),
        "Pairs from the same cluster": q["cannot_link_violations"].to_numpy(),
    }, index=pd.Index(q["group"].str.capitalize().to_numpy(), name="Sector"))
    which = "the" if sector == "all" else f"the {sector}"
    sec.tables["quality"] = Table(
        suppress(qt, margins=False, count_columns=[lab("roll")]),
        caption=f"How alike {which} families are, by sector, census {census}", source=src,
        decimals=dict.fromkeys(RATIO_COLUMNS, RATIO_DECIMALS),
        notes=("Spread: the within-family spread of size and SIMD profile as a share of that "
               "of random groupings of the same sizes (below 1 is better); silhouette: how "
               "much nearer schools are to their own family than to the next (-1 to 1).",))
    shown_families = set(members.loc[members["group"].isin(q["group"]), "family"].astype(str))
    by_sector: dict[str, list[str]] = {}
    for r in q.itertuples(index=False):
        r = pd.Series(r._asdict())
        by_sector[str(r["group"])] = [
            f"{int(r['n_schools'])} {r['group']} schools form {int(r['n_families'])} "
            f"families of {int(r['size_min'])} to {int(r['size_max'])} schools.",
            _quality_sentence(r, cannot_link)]
        sec.sentences.extend(by_sector[str(r["group"])])
    sec.results.update(
        sectors=list(q["group"].astype(str)), sector_sentences=by_sector,
        n_schools=int(q["n_schools"].sum()), n_families=int(q["n_families"].sum()),
        ratio_to_random={str(g): num(v) for g, v in zip(q["group"], q["ratio_to_random"],
                                                        strict=True)},
        cannot_link_violations=int(q["cannot_link_violations"].sum()),
        assignments={str(k): str(v) for k, v in res.assignments.items()
                     if str(v) in shown_families})
    return sec


def _ratio(x) -> str:
    return fmt.number(x, RATIO_DECIMALS)


def _quality_sentence(r, cannot_link: str) -> str:
    """The quality of the grouping in words, at the quality table's decimals."""
    rules = f"the size bounds{' and the cluster rule' if cannot_link else ''}"
    if not fmt.finite(r.get("ratio_to_random")):
        return ("The within-family spread against random groupings of the same sizes is not "
                "available.")
    band = (f" (95% range {_ratio(r['ratio_to_random_low'])} to "
            f"{_ratio(r['ratio_to_random_high'])})"
            if fmt.finite(r.get("ratio_to_random_low")) and fmt.finite(
                r.get("ratio_to_random_high")) else "")
    text = (f"Within-family spread is {_ratio(r['ratio_to_random'])} of that of random "
            f"groupings of the same sizes{band}: well below 1 means families of genuinely "
            "similar schools")
    if fmt.finite(r.get("ratio_to_kmeans")):
        text += (f"; {rules} cost {_ratio(r['ratio_to_kmeans'])} times the spread of "
                 "unconstrained k-means")
    return text + "."


def title(sector: str) -> str:
    """The page's title: every sector's families, or one sector's."""
    return ("How the family groups are formed" if sector == "all"
            else f"How the {sector} family groups are formed")


def show(formation: Section) -> None:
    """Each sector's sentences, families table and map under its own heading."""
    from nlc_eval.reports import present

    for x in formation.results["sectors"]:
        present.heading(f"{x.capitalize()} families", 3)
        for sentence in formation.results["sector_sentences"][x]:
            present.paragraph(sentence)
        formation.show_table(f"families_{x}")
        formation.show_figure(f"map_{x}")


def results(ctx, formation: Section, *, sector: str, size: tuple[int, int] | None,
            cannot_link: str) -> dict[str, Any]:
    """Key results of the family formation notebook."""
    heads = [v[0] for v in formation.results["sector_sentences"].values()]
    return {"title": title(sector), "kind": "family_formation",
            "sector": sector, "size": list(size) if size else None, "cannot_link": cannot_link,
            "headlines": heads, "source": ctx.source,
            "sections": collect(formation=formation)}
