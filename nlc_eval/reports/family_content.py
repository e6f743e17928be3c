"""Report sections about family groups: members, profiles, outcomes, who to learn from."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nlc_eval import narrative
from nlc_eval.errors import ReportError
from nlc_eval.reports._section import Section, _num, _q1_share, _suppress


def _families(ctx):
    if ctx.ensure_families() is None:
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
    """Who is in the family and why (distance to the family centre, nearest members)."""
    family = check_family(ctx, family)
    fam = _families(ctx)
    sec = Section()
    members = family_schools(ctx, family)
    roll = pd.to_numeric(members["roll"], errors="coerce")
    q1 = members["simd_q1_share"].astype(float)
    sector = str(members["sector"].mode().iloc[0]) if len(members) else ""
    sec.sentences.append(narrative.family_sentence(
        family, len(members), sector, (roll.min(), roll.max()), (q1.min(), q1.max())))
    m = fam.members[fam.members["family"].astype(str) == family]
    clusters = members.set_index("seed_code")["cluster"].astype(str)
    t = pd.DataFrame({
        "Sector": m["sector"].str.capitalize().to_numpy(),
        "Cluster": m["seed_code"].map(clusters).to_numpy(),
        "Pupils": pd.to_numeric(m["roll"], errors="coerce").round().astype("Int64").to_numpy(),
        "Distance to family centre": m["distance_to_centre"].round(2).to_numpy(),
    }, index=pd.Index(m["school_name"].to_numpy(), name="School"))
    sec.tables["members"] = _suppress(t.sort_values("Distance to family centre"),
                                      margins=False, count_columns=["Pupils"])
    if "cannot_link_group" in m.columns and m["cannot_link_group"].notna().all():
        sec.sentences.append("Each member comes from a different cluster, so the family "
                             "looks outwards, beyond the schools its members already work "
                             "with.")
    central = m.sort_values("distance_to_centre")
    if len(central):
        sec.sentences.append(fam.explain(str(central["seed_code"].iloc[-1]),
                                         sector=str(central["sector"].iloc[-1])).text())
    group = fam.members[fam.members["group"] == m["group"].iloc[0]] if len(m) else m
    sec.figures["map"] = ("family_map", group, {"x": "roll", "y": "simd_q1_share",
                                                "family": "family", "highlight": family})
    sec.results.update(n_members=int(len(members)), sector=sector,
                       members=sorted(members["school_name"].astype(str)))
    return sec


def family_profiles(ctx, family: str) -> Section:
    """Profiles side by side: roll, SIMD, FSM, attendance of each member."""
    from nlc_eval.reports.content import school_profiles, simd_figure_data

    family = check_family(ctx, family)
    sec = Section()
    members = family_schools(ctx, family)
    profiles = school_profiles(members)
    sec.tables["profiles"] = profiles
    sec.figures["simd"] = ("simd_profile", simd_figure_data(profiles, members),
                           {"title": f"SIMD profile of family {family}"})
    sec.results["q1_share"] = _num(_q1_share(members))
    return sec


def _session(ctx, year: int) -> int:
    years = sorted(int(y) for y in ctx.data.pupils["year"].unique())
    if year in (0, None):
        return years[-1]
    if int(year) not in years:
        raise ReportError(f"no pupil data for session {year}; sessions available: "
                          f"{', '.join(map(str, years))}.")
    return int(year)


def school_outcomes(ctx, year: int) -> pd.DataFrame:
    """Per school in a session: pupils, attendance rate, pupils assessed and on track.

    Attendance is sessions attended over sessions possible for the school's pupils; on
    track is the share of ACEL judgements (P1, P4, P7, S3; all organisers) at the expected
    level.
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

    s = ctx.schools[["seed_code", "school_name", "sector", "roll"] + list(
        c for c in ("simd_q1_share", "simd_q2_share", "simd_q3_share", "simd_q4_share",
                    "simd_q5_share"))].copy()
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


def family_outcomes(ctx, family: str, *, year: int = 0) -> Section:
    """Attendance and attainment of each member against the family and expectation."""
    family = check_family(ctx, family)
    session = _session(ctx, year)
    sec = Section()
    members = family_schools(ctx, family)
    allo = school_outcomes(ctx, session)
    att_exp = expected_outcomes(ctx, allo, "attendance_rate").set_index("seed_code")
    acel_exp = expected_outcomes(ctx, allo, "on_track_pct").set_index("seed_code")
    mine = members[["seed_code", "school_name"]].merge(allo, on="seed_code", how="left")
    for col in ("pupils", "assessed", "on_track", "possible", "attended"):
        mine[col] = mine[col].fillna(0)
    mine["label"] = mine["school_name"].astype(str)
    fam_att = (mine["attended"].sum() / mine["possible"].sum() * 100
               if mine["possible"].sum() else float("nan"))
    fam_on = (mine["on_track"].sum() / mine["assessed"].sum() * 100
              if mine["assessed"].sum() else float("nan"))
    t = pd.DataFrame({
        "Pupils": mine["pupils"].astype("Int64").to_numpy(),
        "Attendance %": mine["attendance_rate"].round(1).to_numpy(),
        "vs family (points)": (mine["attendance_rate"] - fam_att).round(1).to_numpy(),
        "vs expected (points)": mine["seed_code"].map(att_exp["residual"]).round(1).to_numpy(),
        "Pupils assessed (ACEL)": mine["assessed"].astype("Int64").to_numpy(),
        "Pupils on track": mine["on_track"].astype("Int64").to_numpy(),
        "% on track": mine["on_track_pct"].round(1).to_numpy(),
        "On track vs expected (points)": mine["seed_code"].map(acel_exp["residual"]).round(1)
        .to_numpy(),
    }, index=pd.Index(mine["label"].to_numpy(), name="School"))
    rates = {"Attendance %": (None, "Pupils"), "vs family (points)": (None, "Pupils"),
             "vs expected (points)": (None, "Pupils"),
             "% on track": ("Pupils on track", "Pupils assessed (ACEL)"),
             "On track vs expected (points)": ("Pupils on track", "Pupils assessed (ACEL)")}
    shown = _suppress(t, margins=False,
                      count_columns=["Pupils", "Pupils assessed (ACEL)", "Pupils on track"],
                      rate_columns=rates)
    sec.tables["outcomes"] = shown
    sec.sentences.append(
        f"In session {session}/{str(session + 1)[-2:]} the family's attendance was "
        f"{narrative.pct(fam_att, 1)} and {narrative.pct(fam_on, 0)} of pupils assessed at "
        "P1, P4, P7 and S3 were on track in every area of literacy and numeracy. "
        "'Expected' is what schools of the same sector with the same SIMD profile and size "
        "achieve across the authority.")
    fig = pd.DataFrame({"School": shown.index, "Attendance %": shown["Attendance %"]
                        .astype(float).to_numpy()})
    sec.figures["attendance"] = ("compare_bars", fig, {
        "value": "Attendance %", "label": "School", "reference": fam_att,
        "reference_label": "family", "unit": "%", "title": "Attendance by school"})
    exp = mine[["label", "seed_code"]].join(att_exp, on="seed_code")
    hidden = shown["vs expected (points)"].isna().to_numpy()
    exp.loc[hidden, ["residual", "ci_low", "ci_high"]] = np.nan
    sec.figures["expectation"] = ("against_expectation", exp.dropna(subset=["residual"]), {
        "label": "label", "unit": "percentage points",
        "title": "Attendance against expectation (95% prediction intervals)"})
    sec.results.update(session=session, family_attendance=_num(fam_att),
                       family_on_track=_num(fam_on))
    sec.results["headlines"] = [
        f"Family attendance {narrative.pct(fam_att, 1)}; "
        f"{narrative.pct(fam_on, 0)} of pupils assessed on track."]
    return sec


def family_learning(ctx, family: str, *, year: int = 0) -> Section:
    """Who to learn from, on what: members clearly above expectation."""
    family = check_family(ctx, family)
    session = _session(ctx, year)
    sec = Section()
    members = family_schools(ctx, family)
    allo = school_outcomes(ctx, session)
    mine = members[["seed_code", "school_name"]].merge(allo, on="seed_code", how="left")
    rows = []
    for measure, label, n_col in (("attendance_rate", "attendance", "pupils"),
                                  ("on_track_pct", "literacy and numeracy on track",
                                   "assessed")):
        exp = expected_outcomes(ctx, allo, measure)
        t = mine[["seed_code", "school_name", n_col]].merge(exp, on="seed_code")
        t = t[t[n_col] >= 5]
        sec.sentences.append(narrative.learn_from(t, label="school_name", measure=label,
                                                  unit="points"))
        strong = t[t["ci_low"] > 0]
        for r in strong.itertuples():
            rows.append({"School": r.school_name, "On": label,
                         "Pupils": int(getattr(r, n_col)),
                         "Above expected (points)": round(r.residual, 1),
                         "95% interval from": round(r.ci_low, 1),
                         "95% interval to": round(r.ci_high, 1)})
    if rows:
        t = pd.DataFrame(rows).set_index("School")
        t.index = t.index + " – " + t["On"]
        sec.tables["learn"] = _suppress(t.drop(columns="On"), margins=False,
                                        count_columns=["Pupils"])
    sec.results["learn_from"] = rows
    return sec


def family_formation(ctx, *, sector: str = "primary", size: tuple[int, int] = (6, 10),
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
    fam = pd.DataFrame({
        "Schools": table["n_schools"].astype("int64").to_numpy(),
        "Pupils, smallest school": table["roll_min"].round().astype("int64").to_numpy(),
        "Pupils, largest school": table["roll_max"].round().astype("int64").to_numpy(),
        "% in SIMD Q1 (mean)": (100 * table["simd_q1_share_mean"]).round(1).to_numpy(),
        "Members": table["members"].to_numpy(),
    }, index=pd.Index(table["family"].to_numpy(), name="Family"))
    sec.tables["families"] = _suppress(fam, margins=False, count_columns=[
        "Pupils, smallest school", "Pupils, largest school"])
    qq = q.reset_index()
    pupils = pd.to_numeric(res.members.groupby("group")["roll"].sum(), errors="coerce")
    qt = pd.DataFrame({
        "Families": qq["n_families"].to_numpy(),
        "Pupils": pupils.reindex(qq["group"]).round().astype("int64").to_numpy(),
        "Sizes": [f"{a}-{b}" for a, b in zip(qq["size_min"], qq["size_max"], strict=True)],
        "Spread vs random groupings": qq["ratio_to_random"].round(2).to_numpy(),
        "Spread vs unconstrained k-means": qq["ratio_to_kmeans"].round(2).to_numpy(),
        "Silhouette": qq["silhouette"].round(2).to_numpy(),
        "Same-cluster pairs": qq["cannot_link_violations"].to_numpy(),
    }, index=pd.Index(qq["group"].str.capitalize().to_numpy(), name="Sector"))
    sec.tables["quality"] = _suppress(qt, margins=False, count_columns=["Pupils"])
    r = qq.iloc[0]
    sec.sentences.append(
        f"{int(r['n_schools'])} {sector} schools form {int(r['n_families'])} families of "
        f"{int(r['size_min'])} to {int(r['size_max'])} schools.")
    sec.sentences.append(
        f"Within-family spread is {r['ratio_to_random']:.2f} of that of random groupings of "
        f"the same sizes (95% range {r['ratio_to_random_low']:.2f} to "
        f"{r['ratio_to_random_high']:.2f}): well below 1 means families of genuinely "
        f"similar schools; the size bounds{' and the cluster rule' if cannot_link else ''} "
        f"cost {r['ratio_to_kmeans']:.2f} times the spread of unconstrained k-means.")
    sec.figures["map"] = ("family_map", res.members, {"x": "roll", "y": "simd_q1_share",
                                                      "family": "family"})
    sec.results.update(n_schools=int(r["n_schools"]), n_families=int(r["n_families"]),
                       ratio_to_random=_num(r["ratio_to_random"]),
                       cannot_link_violations=int(r["cannot_link_violations"]),
                       assignments={str(k): str(v) for k, v in res.assignments.items()})
    return sec
