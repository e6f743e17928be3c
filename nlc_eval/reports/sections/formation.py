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


def form(ctx, *, sector: str = "primary", size: tuple[int, int] = (6, 10),
         cannot_link: str = "cluster") -> Section:
    """Form the families of one sector with the given bounds and describe them."""
    from nlc_eval.families import form_families

    sectors = sorted(ctx.schools["sector"].astype(str).unique())
    if sector not in sectors:
        raise ReportError(f"unknown sector {sector!r}; valid sectors: {', '.join(sectors)}.")
    if cannot_link and cannot_link not in ctx.schools.columns:
        raise ReportError(f"cannot_link={cannot_link!r} is not a column of the schools "
                          "table; use 'cluster' or an empty string.")
    schools = ctx.schools[ctx.schools["sector"].astype(str) == sector]
    res = form_families(schools.set_index("seed_code", drop=False), size=tuple(size),
                        by="sector", cannot_link=cannot_link or None, random_state=ctx.seed)
    sec = Section()
    q = res.quality(n_random=100)
    table = res.table()
    census = measures.session(ctx.year)
    src = census_source(ctx, "roll")
    fam = pd.DataFrame({
        lab("schools"): table["n_schools"].astype("int64").to_numpy(),
        "Pupils on roll, smallest school": table["roll_min"].round().astype("int64").to_numpy(),
        "Pupils on roll, largest school": table["roll_max"].round().astype("int64").to_numpy(),
        "% in SIMD Q1 (mean of the schools)": (100 * table["simd_q1_share_mean"]).round(1)
        .to_numpy(),
        "Members": table["members"].to_numpy(),
    }, index=pd.Index(table["family"].to_numpy(), name="Family"))
    sec.tables["families"] = Table(
        suppress(fam, margins=False, count_columns=["Pupils on roll, smallest school",
                                                    "Pupils on roll, largest school"]),
        caption=f"The {sector} families, their sizes and members, census {census}", source=src)
    qq = q.reset_index()
    pupils = pd.to_numeric(res.members.groupby("group")["roll"].sum(), errors="coerce")
    qt = pd.DataFrame({
        "Families": qq["n_families"].to_numpy(),
        lab("roll"): pupils.reindex(qq["group"]).round().astype("int64").to_numpy(),
        "Schools per family": [f"{a} to {b}" for a, b in zip(qq["size_min"], qq["size_max"],
                                                              strict=True)],
        "Spread against random groupings": qq["ratio_to_random"].astype(float).to_numpy(),
        "Spread against unconstrained k-means": qq["ratio_to_kmeans"].astype(float)
        .to_numpy(),
        "Silhouette": qq["silhouette"].astype(float).to_numpy(),
        "Pairs from the same cluster": qq["cannot_link_violations"].to_numpy(),
    }, index=pd.Index(qq["group"].str.capitalize().to_numpy(), name="Sector"))
    sec.tables["quality"] = Table(
        suppress(qt, margins=False, count_columns=[lab("roll")]),
        caption=f"How alike the {sector} families are, census {census}", source=src,
        decimals=dict.fromkeys(RATIO_COLUMNS, RATIO_DECIMALS),
        notes=("Spread: the within-family spread of size and SIMD profile as a share of that "
               "of random groupings of the same sizes (below 1 is better); silhouette: how "
               "much nearer schools are to their own family than to the next (-1 to 1).",))
    r = qq.iloc[0]
    sec.sentences.append(
        f"{int(r['n_schools'])} {sector} schools form {int(r['n_families'])} families of "
        f"{int(r['size_min'])} to {int(r['size_max'])} schools.")
    sec.sentences.append(_quality_sentence(r, cannot_link))
    m = res.members
    data = map_data(ctx, m)
    sec.figures["map"] = Figure(
        "family_map", data, {"x": lab("roll"), "y": lab("simd_q1_pct"), "family": "Family"},
        caption=f"{sector.capitalize()} schools by pupils on roll and share in SIMD quintile "
                f"1, by family, census {census}", source=src)
    sec.results.update(n_schools=int(r["n_schools"]), n_families=int(r["n_families"]),
                       ratio_to_random=num(r["ratio_to_random"]),
                       cannot_link_violations=int(r["cannot_link_violations"]),
                       assignments={str(k): str(v) for k, v in res.assignments.items()})
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


def results(ctx, formation: Section, *, sector: str, size: tuple[int, int],
            cannot_link: str) -> dict[str, Any]:
    """Key results of the family formation notebook."""
    return {"title": f"How the {sector} family groups were formed", "kind": "family_formation",
            "sector": sector, "size": list(size), "cannot_link": cannot_link,
            "headlines": formation.sentences[:2], "source": ctx.source,
            "sections": collect(formation=formation)}
