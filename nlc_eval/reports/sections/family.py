"""The family report: members and why each is there, profiles, outcomes, who to learn from."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nlc_eval import formatting as fmt
from nlc_eval.errors import ReportError
from nlc_eval.reports import measures
from nlc_eval.reports.sections._common import (
    Figure,
    Section,
    Table,
    check_family,
    collect,
    families_of,
    map_data,
    num,
    q1_share,
    school_profiles,
    simd_figure_data,
    suppress,
)
from nlc_eval.reports.sections.cluster import Q1_DECIMALS, census_source

lab = measures.label
check = check_family
SECTOR_WORDS = {"primary": "primary", "secondary": "secondary",
                "special": "additional support needs"}


def schools(ctx, family: str) -> pd.DataFrame:
    """The schools of a family (rows of ``ctx.schools``) with a ``family`` column."""
    fam = families_of(ctx)
    assign = pd.Series(fam.assignments).astype(str)
    s = ctx.schools.copy()
    s["family"] = s["seed_code"].map(assign)
    return s[s["family"] == str(family)].reset_index(drop=True)


def _member_words(row: pd.Series, explanation, family_roll: float, family_q1: float,
                  shown_q1: bool) -> str:
    """Why one member is in the family, in a headteacher's words."""
    name = str(row["school_name"])
    roll = pd.to_numeric(row["roll"], errors="coerce")
    share = 100 * float(row["simd_q1_share"]) if pd.notna(row["simd_q1_share"]) else np.nan
    nearest = explanation.nearest_members
    near = str(nearest["school_name"].iloc[0]) if len(nearest) else ""
    if fmt.finite(roll) and fmt.finite(family_roll):
        size = ("a similar number of pupils to" if abs(roll - family_roll) <= 0.15 * family_roll
                else ("more pupils than" if roll > family_roll else "fewer pupils than"))
        text = (f"{name} ({fmt.number(roll, 0)} pupils) has {size} the family's average "
                f"({fmt.number(family_roll, 0)})")
        joiner = " and"
    else:
        text, joiner = f"{name} has", ""
    if shown_q1 and np.isfinite(share) and np.isfinite(family_q1):
        diff = share - family_q1
        rel = ("about the same share" if abs(diff) < 5 else
               ("a larger share" if diff > 0 else "a smaller share"))
        # at the decimals of the profile table's "% in SIMD Q1"
        text += (f"{joiner} {rel} of pupils living in SIMD quintile 1 "
                 f"({fmt.number(share, Q1_DECIMALS)}% against "
                 f"{fmt.number(family_q1, Q1_DECIMALS)}%)")
    elif not joiner:
        text = f"{name} is in the family on its size and SIMD profile"
    text += "."
    if near:
        text += f" Of the other members, the school most like it is {near}."
    return text


def members(ctx, family: str) -> Section:
    """Who is in the family and why, member by member."""
    family = check_family(ctx, family)
    fam = families_of(ctx)
    sec = Section()
    mine = schools(ctx, family)
    roll = pd.to_numeric(mine["roll"], errors="coerce")
    sector = str(mine["sector"].mode().iloc[0]) if len(mine) else ""
    q1 = 100 * q1_share(mine)
    facts = []
    if roll.notna().any():
        facts.append(f"from {fmt.number(roll.min(), 0)} to {fmt.number(roll.max(), 0)} "
                     "pupils on roll")
    if np.isfinite(q1):
        # at the decimals of the profile table's total "% in SIMD Q1" (the same share)
        facts.append(f"{fmt.number(q1, Q1_DECIMALS)}% of the family's pupils living in SIMD "
                     "quintile 1")
    sec.sentences.append(
        f"Family {family} brings together {len(mine)} {SECTOR_WORDS.get(sector, sector)} "
        f"schools of similar size and deprivation"
        + (": " + ", with ".join(facts) if facts else "") + ".")
    m = fam.members[fam.members["family"].astype(str) == family]
    if "cannot_link_group" in m.columns and m["cannot_link_group"].notna().all():
        sec.sentences.append("Each member comes from a different cluster, so the family "
                             "looks outwards, beyond the schools its members already work "
                             "with.")
    profiles = school_profiles(ctx, mine, total=False)
    q1_hidden = set(profiles.index[profiles[lab("simd_q1_pct")].isna()])
    words = []
    clusters = mine.set_index("seed_code")["cluster"].astype(str)
    for _, r in mine.sort_values("school_name").iterrows():
        e = fam.explain(str(r["seed_code"]), sector=str(r["sector"]))
        words.append({"School": str(r["school_name"]),
                      "Cluster": clusters.get(r["seed_code"], ""),
                      "Why it is in this family": _member_words(
                          r, e, float(roll.mean()), q1, r["school_name"] not in q1_hidden)})
    table = pd.DataFrame(words).set_index("School")
    sec.tables["members"] = Table(
        table, caption=f"Members of family {family} and why each is there, census "
                       f"{measures.session(ctx.year)}", source=census_source(ctx, "roll"),
        notes=("Families are formed from pupils on roll and the SIMD profile of each school's "
               "pupils; schools of the same cluster are kept apart.",))
    group = fam.members[fam.members["group"] == m["group"].iloc[0]] if len(m) else m
    data = map_data(ctx, group)
    sec.figures["map"] = Figure(
        "family_map", data, {"x": lab("roll"), "y": lab("simd_q1_pct"), "family": "Family",
                             "highlight": family},
        caption=f"{SECTOR_WORDS.get(sector, sector).capitalize()} schools by pupils on roll "
                f"and share in SIMD quintile 1, family {family} highlighted, census "
                f"{measures.session(ctx.year)}", source=census_source(ctx, "roll"))
    sec.results.update(n_members=int(len(mine)), sector=sector,
                       members=sorted(mine["school_name"].astype(str)))
    return sec


def profiles(ctx, family: str) -> Section:
    """Profiles side by side: roll, SIMD, free school meals, census attendance."""
    family = check_family(ctx, family)
    sec = Section()
    mine = schools(ctx, family)
    table = school_profiles(ctx, mine)
    sec.tables["profiles"] = Table(
        table, caption=f"Members of family {family}: pupils, SIMD, free school meals and "
                       f"attendance, census {measures.session(ctx.year)}",
        source=census_source(ctx, "roll", "census_attendance"))
    sec.figures["simd"] = Figure(
        "simd_profile", simd_figure_data(table, mine), {"label": "school_name"},
        caption=f"Share of pupils in each SIMD quintile, members of family {family}, census "
                f"{measures.session(ctx.year)}", source=census_source(ctx, "roll"))
    sec.results["q1_share"] = num(q1_share(mine))
    return sec


def _session(ctx, year: int) -> int:
    years = sorted(int(y) for y in ctx.data.pupils["year"].unique())
    if year in (0, None):
        return years[-1]
    if int(year) not in years:
        raise ReportError(f"no pupil data for session {year}; sessions available: "
                          f"{', '.join(map(str, years))}. Fix: pass one of them as year.")
    return int(year)


def school_outcomes(ctx, year: int) -> pd.DataFrame:
    """Per school in a session: pupils, attendance rate, pupils assessed and on track.

    Attendance is sessions attended over sessions possible for the school's pupils (pupil
    records); on track is the share of pupils assessed (P1, P4, P7, S3) on track in every
    ACEL organiser.
    """
    d = ctx.data
    roll = d.pupils[d.pupils["year"] == year][["pupil_id", "seed_code"]]
    roll = roll.astype({"seed_code": str})
    att = d.attendance[d.attendance["year"] == year].merge(roll, on="pupil_id")
    a = att.groupby("seed_code").agg(possible=("possible_sessions", "sum"),
                                     attended=("attended_sessions", "sum"))
    acel = d.attainment[(d.attainment["year"] == year) & d.attainment["on_track"].notna()]
    acel = acel.merge(roll, on="pupil_id")
    acel = acel.assign(on=acel["on_track"].astype(bool))
    per_pupil = acel.groupby(["seed_code", "pupil_id"])["on"].all().reset_index()
    b = per_pupil.groupby("seed_code").agg(assessed=("on", "size"), on_track=("on", "sum"))
    out = pd.DataFrame({"pupils": roll.groupby("seed_code").size()})
    out = out.join(a).join(b)
    out["attendance_rate"] = 100 * out["attended"] / out["possible"]
    out["on_track_pct"] = 100 * out["on_track"] / out["assessed"]
    return out.reset_index()


def expected_outcomes(ctx, outcomes: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Each school's ``measure`` against what schools of its sector and profile achieve.

    A weighted least-squares fit across the authority's schools of the same sector
    (``measure ~ share in SIMD Q1 + mean SIMD quintile + log roll``, weights = pupils);
    the residual's 95% interval is the prediction interval of that school.
    """
    import statsmodels.api as sm

    s = ctx.schools[["seed_code", "school_name", "sector", "roll",
                     "simd_q1_share", "simd_q2_share", "simd_q3_share", "simd_q4_share",
                     "simd_q5_share"]].copy()
    s["seed_code"] = s["seed_code"].astype(str)
    df = s.merge(outcomes, on="seed_code", how="inner")
    shares = df[[f"simd_q{i}_share" for i in range(1, 6)]].astype(float)
    df["mean_quintile"] = (shares * np.arange(1, 6)).sum(axis=1) / shares.sum(axis=1)
    df["log_roll"] = np.log(pd.to_numeric(df["roll"], errors="coerce").clip(lower=1))
    rows = []
    for _sector, g in df.groupby("sector"):
        g = g.dropna(subset=[measure, "mean_quintile", "simd_q1_share", "log_roll"])
        n_w = "assessed" if measure == "on_track_pct" else "pupils"
        g = g[g[n_w] > 0]
        if len(g) < 8:
            continue
        X = sm.add_constant(g[["simd_q1_share", "mean_quintile", "log_roll"]].astype(float))
        fit = sm.WLS(g[measure].astype(float), X, weights=g[n_w].astype(float)).fit()
        pred = fit.get_prediction(X, weights=g[n_w].astype(float).to_numpy()).summary_frame(
            alpha=0.05)
        resid = g[measure].to_numpy(float) - pred["mean"].to_numpy()
        half = (pred["obs_ci_upper"] - pred["mean"]).to_numpy()
        rows.append(pd.DataFrame({"seed_code": g["seed_code"].to_numpy(),
                                  "expected": pred["mean"].to_numpy(), "residual": resid,
                                  "ci_low": resid - half, "ci_high": resid + half}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["seed_code", "expected", "residual", "ci_low", "ci_high"])


def outcomes(ctx, family: str, *, year: int = 0) -> Section:
    """Attendance and attainment (pupil records) of each member against family and expectation."""
    family = check_family(ctx, family)
    session = _session(ctx, year)
    sname = measures.session(session)
    sec = Section()
    mine_s = schools(ctx, family)
    allo = school_outcomes(ctx, session)
    att_exp = expected_outcomes(ctx, allo, "attendance_rate").set_index("seed_code")
    acel_exp = expected_outcomes(ctx, allo, "on_track_pct").set_index("seed_code")
    mine = mine_s[["seed_code", "school_name"]].merge(allo, on="seed_code", how="left")
    for col in ("pupils", "assessed", "on_track", "possible", "attended"):
        mine[col] = mine[col].fillna(0)
    fam_att = (mine["attended"].sum() / mine["possible"].sum() * 100
               if mine["possible"].sum() else float("nan"))
    fam_on = (mine["on_track"].sum() / mine["assessed"].sum() * 100
              if mine["assessed"].sum() else float("nan"))
    t = pd.DataFrame({
        lab("pupils"): mine["pupils"].astype("Int64").to_numpy(),
        lab("pupil_attendance"): mine["attendance_rate"].round(1).to_numpy(),
        lab("attendance_vs_family"): (mine["attendance_rate"] - fam_att).round(1).to_numpy(),
        lab("attendance_vs_expected"): mine["seed_code"].map(att_exp["residual"]).round(1)
        .to_numpy(),
        lab("acel_assessed"): mine["assessed"].astype("Int64").to_numpy(),
        lab("acel_on_track"): mine["on_track"].astype("Int64").to_numpy(),
        lab("acel_on_track_pct"): mine["on_track_pct"].round(1).to_numpy(),
        lab("acel_vs_expected"): mine["seed_code"].map(acel_exp["residual"]).round(1)
        .to_numpy(),
    }, index=pd.Index(mine["school_name"].astype(str).to_numpy(), name="School"))
    P, A, N = lab("pupils"), lab("acel_assessed"), lab("acel_on_track")
    rates = {lab("pupil_attendance"): (None, P), lab("attendance_vs_family"): (None, P),
             lab("attendance_vs_expected"): (None, P),
             lab("acel_on_track_pct"): (N, A), lab("acel_vs_expected"): (N, A)}
    shown = suppress(t, margins=False, count_columns=[P, A, N], rate_columns=rates)
    src = measures.source_line("pupil_attendance", pupil_source=ctx.pupil_source)
    sec.tables["outcomes"] = Table(
        shown, caption=f"Attendance and ACEL of members of family {family} against the family "
                       f"and against expectation, session {sname}", source=src,
        notes=("Expected: what schools of the same sector with the same SIMD profile and size "
               "achieve across the authority.", "This attendance is from the pupil records "
               "of the session; the profile table's attendance is the school statistics' "
               "figure, a different source and session."))
    # at the decimals of the outcomes table's rates
    att_text = f"{fmt.number(fam_att, 1)}%" if np.isfinite(fam_att) else ""
    on_text = f"{fmt.number(fam_on, 1)}%" if np.isfinite(fam_on) else ""
    att_words = (f"attendance across the family's pupils was {att_text} (pupil records)"
                 if att_text else "attendance across the family's pupils is not available")
    on_words = (f"{on_text} of pupils assessed at P1, P4, P7 and S3 were on track in every "
                "area of literacy and numeracy" if on_text else "the share of pupils on track "
                "in every area of literacy and numeracy is not available")
    sec.sentences.append(f"In session {sname}, {att_words}, and {on_words}.")
    fig = pd.DataFrame({"School": shown.index,
                        lab("pupil_attendance"): shown[lab("pupil_attendance")].astype(float)
                        .to_numpy()})
    sec.figures["attendance"] = Figure(
        "dot_plot", fig, {"value": lab("pupil_attendance"), "label": "School",
                          "reference": fam_att, "reference_label": "family", "unit": "%"},
        caption=f"Attendance by member of family {family}, session {sname} (pupil records)",
        source=src)
    exp = pd.DataFrame({"School": shown.index,
                        "Against expected (points)": shown[lab("attendance_vs_expected")]
                        .astype(float).to_numpy()})
    # the interval's own bounds (not the rounded estimate plus a half-width: rounded twice,
    # a bound could read 0.1 here and 0.2 in the table of members above expectation);
    # blank wherever the estimate is
    hidden = exp["Against expected (points)"].isna().to_numpy()
    for col, key in (("95% interval from", "ci_low"), ("95% interval to", "ci_high")):
        exp[col] = np.where(hidden, np.nan,
                            mine["seed_code"].map(att_exp[key]).astype(float).to_numpy())
    sec.figures["expectation"] = Figure(
        "against_expectation", exp.dropna(subset=["Against expected (points)"]),
        {"label": "School", "residual": "Against expected (points)",
         "low": "95% interval from", "high": "95% interval to", "unit": "percentage points"},
        caption=f"Attendance against expectation with 95% prediction intervals, members of "
                f"family {family}, session {sname}", source=src,
        empty="No member has an attendance figure against expectation to show.")
    sec.results.update(session=session, family_attendance=num(fam_att),
                       family_on_track=num(fam_on))
    sec.results["headlines"] = [
        f"Family attendance {att_text or 'not available'} in {sname} (pupil records); "
        + (f"{on_text} of pupils assessed on track in every area." if on_text else
           "the share of pupils on track in every area is not available.")]
    return sec


def learning(ctx, family: str, *, year: int = 0) -> Section:
    """Who to learn from, on what: members clearly above expectation."""
    family = check_family(ctx, family)
    session = _session(ctx, year)
    sec = Section()
    mine_s = schools(ctx, family)
    allo = school_outcomes(ctx, session)
    mine = mine_s[["seed_code", "school_name"]].merge(allo, on="seed_code", how="left")
    rows = []
    # one table per measure: each counts its own pupils (in the records; assessed for ACEL)
    for name, measure, label, n_col, n_key in (
            ("learn", "attendance_rate", "attendance", "pupils", "pupils"),
            ("learn_acel", "on_track_pct", "literacy and numeracy on track", "assessed",
             "acel_assessed")):
        exp = expected_outcomes(ctx, allo, measure)
        t = mine[["seed_code", "school_name", n_col]].merge(exp, on="seed_code")
        t = t[t[n_col] >= 5]
        strong = t[t["ci_low"] > 0].sort_values("residual", ascending=False)
        if strong.empty:
            sec.sentences.append(f"On {label}, no member stands out once size and SIMD "
                                 "profile are taken into account.")
        else:
            names = list(strong["school_name"].astype(str))
            listing = names[0] if len(names) == 1 else (", ".join(names[:-1]) + " and "
                                                        + names[-1])
            sec.sentences.append(f"On {label}, learn from {listing}: above what schools with "
                                 "the same size and SIMD profile achieve, beyond the range "
                                 "expected by chance.")
        mine_rows = [{"School": r.school_name, "On": label, lab(n_key): int(getattr(r, n_col)),
                      "Above expected (points)": round(r.residual, 1),
                      "95% interval from": round(r.ci_low, 1),
                      "95% interval to": round(r.ci_high, 1)} for r in strong.itertuples()]
        rows += mine_rows
        if mine_rows:
            t = pd.DataFrame(mine_rows).drop(columns="On").set_index("School")
            sec.tables[name] = Table(
                suppress(t, margins=False, count_columns=[lab(n_key)]),
                caption=f"Members of family {family} above expectation on {label}, session "
                        f"{measures.session(session)}",
                source=measures.source_line("pupil_attendance" if n_key == "pupils"
                                            else "acel_assessed",
                                            pupil_source=ctx.pupil_source))
    sec.results["learn_from"] = rows
    return sec


def consistency(ctx, family: str, *, year: int = 0) -> Section:
    """The family's schools highlighted in the authority's funnel plots of ACEL judgements."""
    from nlc_eval.reports.sections import consistency as cons

    family = check_family(ctx, family)
    codes = schools(ctx, family)["seed_code"].astype(str)
    return cons.highlighted(ctx, list(codes), name=f"family {family}",
                            year=_session(ctx, year))


def results(ctx, family: str, *, members: Section, profiles: Section, outcomes: Section,
            learn: Section, consistency: Section | None = None) -> dict[str, Any]:
    """Key results of a family report."""
    heads = members.sentences[:1] + list(outcomes.results.get("headlines", []))
    heads += learn.sentences[:2]
    return {"title": f"Family group {family}", "kind": "family", "family": family,
            "source": ctx.source, "pupil_source": ctx.pupil_source, "session": ctx.year,
            "headlines": heads, "sections": collect(members=members, profiles=profiles,
                                                    outcomes=outcomes, learn=learn,
                                                    consistency=consistency)}
