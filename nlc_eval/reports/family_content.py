"""Report sections about family groups: members, profiles, outcomes, who to learn from."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nlc_eval import narrative
from nlc_eval.errors import ReportError
from nlc_eval.reports._section import Section, _num, _q1_share


def _families(ctx):
    if ctx.families is None:
        raise ReportError("no family groups in this context: " + " ".join(ctx.notes))
    return ctx.families


def check_family(ctx, family: str) -> str:
    """The family id itself, or "" -> the first family; unknown ids raise ReportError."""
    _families(ctx)
    if family in ("", None):
        return ctx.family_ids[0]
    from nlc_eval.reports.batch import resolve_ids

    return resolve_ids([str(family)], ctx.family_ids, "family")[0]


def family_schools(ctx, family: str) -> pd.DataFrame:
    """The schools of a family (rows of ``ctx.schools``) with a ``family`` column."""
    fam = _families(ctx)
    assign = pd.Series(fam.assignments).astype(str)
    s = ctx.schools.copy()
    s["family"] = s["seed_code"].map(assign)
    return s[s["family"] == str(family)].reset_index(drop=True)


def family_members(ctx, family: str) -> Section:
    """Who is in the family and why."""
    sec = Section()
    members = family_schools(ctx, check_family(ctx, family))
    roll = pd.to_numeric(members["roll"], errors="coerce")
    q1 = members["simd_q1_share"].astype(float)
    sector = str(members["sector"].mode().iloc[0]) if len(members) else ""
    sec.sentences.append(narrative.family_sentence(
        family, len(members), sector, (roll.min(), roll.max()), (q1.min(), q1.max())))
    sec.results.update(n_members=int(len(members)), sector=sector)
    return sec


def family_profiles(ctx, family: str) -> Section:
    """Profiles side by side."""
    from nlc_eval.reports.content import school_profiles, simd_figure_data

    sec = Section()
    members = family_schools(ctx, check_family(ctx, family))
    profiles = school_profiles(members)
    sec.tables["profiles"] = profiles
    sec.figures["simd"] = ("simd_profile", simd_figure_data(profiles, members),
                           {"title": f"SIMD profile of family {family}"})
    sec.results["q1_share"] = _num(_q1_share(members))
    return sec


def family_outcomes(ctx, family: str, *, year: int = 0) -> Section:
    """Attendance against the family and against expectation."""
    sec = Section()
    sec.notes.append("Outcomes against expectation need the gaps module.")
    return sec


def family_learning(ctx, family: str, *, year: int = 0) -> Section:
    """Who to learn from, on what."""
    sec = Section()
    sec.notes.append("Needs the gaps module.")
    return sec


def family_formation(ctx, *, sector: str = "primary", size: tuple[int, int] = (6, 10),
                     cannot_link: str = "cluster") -> Section:
    """Form the families of one sector and describe them."""
    sec = Section()
    sec.notes.append("Needs the families module.")
    return sec


__all__ = ["check_family", "family_formation", "family_learning", "family_members",
           "family_outcomes", "family_profiles", "family_schools", "np"]
