"""A seeded synthetic authority with the extracts' schema and known, planted effects.

:func:`authority` builds a North-Lanarkshire-like authority (or uses official school
rows), its pupils over four school sessions, their termly attendance and exclusions,
their attainment, and Empowering Clusters supports chosen by a known rule. ``truth``
holds the planted effects in the units the estimators report, with the effect realised
in the sample. The design is documented in ``data/README.md``.

Examples
--------
>>> a = authority(seed=1)                                    # doctest: +SKIP
>>> a.truth.query("outcome == 'attendance_rate'")[["level", "effect", "unit"]]  # doctest: +SKIP
"""

from __future__ import annotations

import json
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from nlc_eval.data.extracts import TABLES, Extracts, pseudonymise
from nlc_eval.data.synthetic_estate import (
    assign_clusters,
    finish_shares,
    invent_estate,
    prepare_official,
)
from nlc_eval.data.synthetic_outcomes import (
    apply_attendance_effects,
    attainment,
    attendance_baseline,
    school_effects,
)
from nlc_eval.data.synthetic_pupils import make_population
from nlc_eval.data.synthetic_supports import (
    LEVELS,
    SELECTION,
    START_RATE,
    assign_supports,
    rollout,
)
from nlc_eval.errors import DataError

#: Number of school sessions generated; the last is the reference session.
N_SESSIONS = 4
#: Default reference session when the estate is invented (2024 = session 2024/25).
DEFAULT_YEAR = 2024

#: Planted effects by outcome and level, in the units estimators report.
DEFAULT_EFFECTS: dict[str, dict[str, float]] = {
    "attendance_rate": {"universal": 0.5, "additional": 1.5, "intensive": 3.0},
    "exclusion_incidents": {"universal": 0.95, "additional": 0.85, "intensive": 0.7},
    "on_track_literacy": {"universal": 0.01, "additional": 0.03, "intensive": 0.05},
    "on_track_numeracy": {"universal": 0.01, "additional": 0.04, "intensive": 0.06},
}
UNITS = {
    "attendance_rate": "percentage points",
    "exclusion_incidents": "rate ratio",
    "on_track_literacy": "risk difference",
    "on_track_numeracy": "risk difference",
    "tariff_points": "points",
}
ESTIMANDS = {
    "attendance_rate": "ATT: change in a supported pupil's termly attendance rate (attended / "
    "possible sessions, in percentage points) in the term the support starts and every "
    "later term, against the same pupil unsupported",
    "exclusion_incidents": "ATT as a rate ratio: expected exclusion incidents per term of "
    "supported pupils from the start term onwards, divided by the same without support",
    "on_track_literacy": "ATT risk difference: change in the probability of being on track "
    "(reading, writing, listening_talking) at P1, P4, P7 or S3 in the session a support "
    "starts and later sessions",
    "on_track_numeracy": "ATT risk difference: change in the probability of being on track "
    "in numeracy at P1, P4, P7 or S3 in the session a support starts and later sessions",
    "tariff_points": "no effect planted on senior-phase tariff points (a placebo outcome)",
}
NULL_VALUE = {"attendance_rate": 0.0, "exclusion_incidents": 1.0, "on_track_literacy": 0.0,
              "on_track_numeracy": 0.0}


def no_effects() -> dict[str, dict[str, float]]:
    """Effects that change nothing (for placebo tests): 0 differences, rate ratios of 1."""
    return {o: dict.fromkeys(LEVELS, v) for o, v in NULL_VALUE.items()}


def _resolve_effects(effects) -> dict[str, dict[str, float]]:
    out = deepcopy(DEFAULT_EFFECTS)
    if effects is None:
        return out
    if isinstance(effects, (int, float)) and not isinstance(effects, bool) and effects == 0:
        return no_effects()
    if isinstance(effects, pd.DataFrame):
        effects = {o: dict(zip(g["level"], g["effect"], strict=True))
                   for o, g in effects.groupby("outcome")}
    if not isinstance(effects, dict):
        raise DataError(f"effects must be None, 0, a dict or a truth-like DataFrame, not "
                        f"{type(effects).__name__}.", fix="e.g. effects={'attendance_rate': "
                        "{'intensive': 5.0}} or effects=no_effects().")
    for outcome, value in effects.items():
        if outcome not in out:
            raise DataError(f"unknown outcome {outcome!r} in effects.",
                            fix=f"use one of {', '.join(out)}.")
        levels = value if isinstance(value, dict) else dict.fromkeys(LEVELS, value)
        for level, v in levels.items():
            if level not in LEVELS:
                raise DataError(f"unknown level {level!r} for {outcome}.",
                                fix=f"use one of {', '.join(LEVELS)}.")
            v = float(v)
            if outcome == "exclusion_incidents" and v <= 0:
                raise DataError(f"rate ratio {v} for {level} is not positive.",
                                fix="give a rate ratio above 0 (1 = no effect).")
            if outcome.startswith("on_track") and not -1 < v < 1:
                raise DataError(f"risk difference {v} for {level} is outside (-1, 1).",
                                fix="give a difference in probability, e.g. 0.05.")
            out[outcome][level] = v
    return out


@dataclass
class Authority:
    """A synthetic authority: the five extract tables and what was planted.

    Attributes
    ----------
    schools, pupils, attendance, attainment, supports : pandas.DataFrame
        The extract tables (schema in ``data/README.md``).
    truth : pandas.DataFrame
        One row per outcome and level: ``outcome, level, effect`` (planted), ``unit``,
        ``estimand``, ``sample_effect`` (realised among the supported pupils: the average
        change in expected outcome, after clipping probabilities to [0, 1]),
        ``n_pupils`` (supported pupils contributing).
    selection : dict
        The selection rule as data (coefficients of the need score and how they are used).
    design : dict
        Sessions, terms, calibration window, cluster roll-out waves, seed.
    """

    schools: pd.DataFrame
    pupils: pd.DataFrame
    attendance: pd.DataFrame
    attainment: pd.DataFrame
    supports: pd.DataFrame
    truth: pd.DataFrame
    selection: dict = field(default_factory=dict)
    design: dict = field(default_factory=dict)

    def extracts(self) -> Extracts:
        """The five tables as :class:`~nlc_eval.data.extracts.Extracts`."""
        return Extracts(**{t: getattr(self, t) for t in TABLES})

    def truth_dict(self) -> dict:
        """Effects, selection rule and design as JSON-ready data."""
        return {"effects": json.loads(self.truth.to_json(orient="records")),
                "selection": self.selection, "design": self.design}

    def write(self, directory, *, fmt: str = "csv") -> list[Path]:
        """Write the five tables (``<table>.csv`` or ``.xlsx``) and ``truth.json``.

        Returns the paths written. Dates are written as YYYY-MM-DD.
        """
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        if fmt not in ("csv", "xlsx"):
            raise DataError(f"unknown format {fmt!r}.", fix="use 'csv' or 'xlsx'.")
        paths = []
        for t in TABLES:
            df = getattr(self, t).copy()
            for col in df.columns:
                if pd.api.types.is_datetime64_any_dtype(df[col]):
                    df[col] = df[col].dt.strftime("%Y-%m-%d")
            p = d / f"{t}.{fmt}"
            if fmt == "csv":
                df.to_csv(p, index=False)
            else:
                df.to_excel(p, index=False, sheet_name=t)
            paths.append(p)
        p = d / "truth.json"
        p.write_text(json.dumps(self.truth_dict(), indent=2, default=str))
        paths.append(p)
        return paths


def authority(schools: pd.DataFrame | None = None, seed: int = 0, effects=None, *,
              locations: pd.DataFrame | None = None) -> Authority:
    """Generate a synthetic authority.

    Parameters
    ----------
    schools : pandas.DataFrame, optional
        Official school rows for one authority (``load_school_statistics``); the latest
        year is the reference session and every school's pupils match its roll and SIMD
        quintile counts in that session. ``None`` invents a North-Lanarkshire-like estate
        (reference session 2024/25).
    seed : int
        Seed; the same seed (and inputs) gives identical tables.
    effects : dict, DataFrame or 0, optional
        Planted effects: ``{outcome: {level: value}}`` (a partial dict overrides
        :data:`DEFAULT_EFFECTS`), a truth-like DataFrame, or ``0`` /
        :func:`no_effects` for none. Selection, baseline outcomes and supports do not
        depend on ``effects``.
    locations : pandas.DataFrame, optional
        School locations (``load_school_locations``), used to approximate clusters when
        ``schools`` has no ``cluster`` column.

    Returns
    -------
    Authority
    """
    eff = _resolve_effects(effects)
    ss = np.random.SeedSequence(int(seed))
    (r_estate, r_pupils, r_latent, r_att, r_sel, r_sup, r_treat,
     r_acel) = (np.random.default_rng(s) for s in ss.spawn(8))
    if schools is None:
        est = invent_estate(r_estate, DEFAULT_YEAR)
        ref = DEFAULT_YEAR
    else:
        est = prepare_official(schools)
        est["cluster"] = assign_clusters(est, locations).to_numpy()
        ref = int(est["year"].max()) if "year" in est.columns else DEFAULT_YEAR
        est["year"] = ref
    years = list(range(ref - N_SESSIONS + 1, ref + 1))
    people, rolls = make_population(est, years, r_pupils)
    sfx = school_effects(est, r_latent)
    att0 = attendance_baseline(people, rolls, est, years, sfx, r_att)
    waves = rollout(sorted(est["cluster"].astype(str).unique()), years, r_sel)
    sup = assign_supports(people, rolls, att0, est, years, waves, r_sup)

    first = sup[sup["order"] == 0].drop_duplicates("pid")
    start_year = np.full(len(people), -1)
    start_term = np.zeros(len(people), int)
    level = np.full(len(people), "", dtype=object)
    start_year[first["pid"]] = first["start_year"]
    start_term[first["pid"]] = first["start_term"]
    level[first["pid"]] = first["level"]
    pid = att0["pid"].to_numpy()
    exposed = (start_year[pid] >= 0) & (
        att0["year"].to_numpy() * 10 + att0["term"].to_numpy()
        >= start_year[pid] * 10 + start_term[pid])
    att, realised = apply_attendance_effects(att0, exposed, level[pid], eff["attendance_rate"],
                                             eff["exclusion_incidents"], r_treat)
    acel, realised_acel = attainment(people, rolls, est, sfx, start_year, level,
                                     eff["on_track_literacy"], eff["on_track_numeracy"], r_acel)

    ids = np.array(pseudonymise(range(len(people)), f"nlc-eval synthetic authority {seed}"))
    seed_codes = est["seed_code"].astype(str).to_numpy()
    pupils = pd.DataFrame({
        "pupil_id": ids[rolls["pid"].to_numpy()],
        "seed_code": seed_codes[rolls["school"].to_numpy()],
        "year": rolls["year"].to_numpy().astype("int64"),
        "stage": rolls["stage"].to_numpy(),
    })
    pp = people.iloc[rolls["pid"].to_numpy()].reset_index(drop=True)
    for c in ("sex", "simd_decile", "fsm", "asn", "eal", "care_experienced"):
        pupils[c] = pp[c].to_numpy() if c != "simd_decile" else pp[c].array
    attendance = pd.DataFrame({
        "pupil_id": ids[pid], "year": att["year"].to_numpy().astype("int64"),
        "term": att["term"].to_numpy().astype("int64"),
        "possible_sessions": att["possible"].to_numpy().astype("int64"),
        "attended_sessions": att["attended"].to_numpy().astype("int64"),
        "exclusions": att["openings"].to_numpy().astype("int64"),
        "exclusion_incidents": att["incidents"].to_numpy().astype("int64"),
    })
    attain = pd.DataFrame({
        "pupil_id": ids[acel["pid"].to_numpy()], "year": acel["year"].to_numpy().astype("int64"),
        "organiser": acel["organiser"].to_numpy(), "on_track": acel["on_track"].array,
        "tariff_points": acel["tariff_points"].to_numpy(float),
    })
    supports = pd.DataFrame({
        "support_id": [f"S{i + 1:06d}" for i in range(len(sup))],
        "pupil_id": ids[sup["pid"].to_numpy()],
        **{c: sup[c].to_numpy() for c in ("cluster", "provider", "level", "driver")},
        "start_date": sup["start_date"].astype("datetime64[ns]"),
        "end_date": sup["end_date"].astype("datetime64[ns]"),
        "status": sup["status"].to_numpy(),
        "sessions_planned": sup["sessions_planned"].astype("int64"),
        "sessions_attended": sup["sessions_attended"].astype("int64"),
    })

    schools_out = _finish_schools(est, pupils, attendance)
    truth = _truth(eff, realised, realised_acel)
    design = {
        "seed": int(seed), "sessions": years, "reference_session": ref,
        "year_meaning": "calendar year in which the school session starts (2022 = 2022/23)",
        "terms": {"1": "August-December", "2": "January-March", "3": "April-July"},
        "possible_sessions_per_term": {"1": 156, "2": 116, "3": 108},
        "calibration_window": [f"{ref}-08-01", f"{ref}-12-31"],
        "estate": "invented" if schools is None else "official",
        "rollout": json.loads(waves.assign(start_date=waves["start_date"].dt.strftime(
            "%Y-%m-%d")).to_json(orient="records")),
        "effect_timing": "from the term a pupil's first support starts, for every later term "
        "(attendance, exclusions) and from the session it starts (on track); sustained",
    }
    selection = {
        "rule": "each term from its cluster's adoption, a cluster starts supports for "
        "Poisson(START_RATE x pupils eligible) pupils, drawn without replacement among pupils "
        "on roll not yet supported with weight exp(need); level by ranking need + "
        "Logistic(0, 1) noise within the term: top 15% intensive, next 35% additional, rest "
        "universal",
        "need_coefficients": dict(SELECTION),
        "prior_attendance_z": "(attendance rate in the previous session - 0.887) / 0.085, "
        "clipped to [-5, 2]; 0 when the pupil was not on roll in the previous session",
        "prior_excluded": "1 if any exclusion incident in the previous session",
        "observables": ["prior-session attendance rate", "prior-session exclusion", "SIMD "
                        "quintile 1", "asn", "care_experienced", "fsm"],
        "start_rate_per_term": float(START_RATE),
        "note": "selection uses the previous session's realised attendance, which includes "
        "transitory shocks: conditioning on the observables gives unbiased comparisons; a "
        "difference in differences without it is biased upwards (regression to the mean)",
    }
    return Authority(schools=schools_out, pupils=pupils, attendance=attendance,
                     attainment=attain, supports=supports, truth=truth, selection=selection,
                     design=design)


def _finish_schools(est: pd.DataFrame, pupils: pd.DataFrame,
                    attendance: pd.DataFrame) -> pd.DataFrame:
    """Schools table: identity columns first; invented estates get the synthetic pupils'
    attendance rate in the reference session."""
    out = est.copy()
    ref = int(out["year"].max())
    if "attendance_rate" not in out.columns or out["attendance_rate"].isna().all():
        a = attendance[attendance["year"] == ref].merge(
            pupils.loc[pupils["year"] == ref, ["pupil_id", "seed_code"]], on="pupil_id")
        g = a.groupby("seed_code")[["attended_sessions", "possible_sessions"]].sum()
        rate = (100 * g["attended_sessions"] / g["possible_sessions"]).round(1)
        out["attendance_rate"] = out["seed_code"].map(rate).astype(float)
    first = ["seed_code", "school_name", "sector", "cluster", "local_authority", "year"]
    out = finish_shares(out)
    return out[first + [c for c in out.columns if c not in first]].reset_index(drop=True)


def _truth(eff: dict, realised: dict, realised_acel: dict) -> pd.DataFrame:
    rows = []
    for outcome, by_level in eff.items():
        for level, value in by_level.items():
            if outcome in ("attendance_rate", "exclusion_incidents"):
                r = realised.get(level, {})
                sample, n = r.get(outcome, float("nan")), r.get("n_pupils", 0)
            else:
                r = realised_acel.get((outcome, level), {})
                sample, n = r.get("effect", float("nan")), r.get("n_pupils", 0)
            rows.append({"outcome": outcome, "level": level, "effect": float(value),
                         "unit": UNITS[outcome], "estimand": ESTIMANDS[outcome],
                         "sample_effect": float(sample), "n_pupils": int(n)})
    for level in LEVELS:
        rows.append({"outcome": "tariff_points", "level": level, "effect": 0.0,
                     "unit": UNITS["tariff_points"], "estimand": ESTIMANDS["tariff_points"],
                     "sample_effect": 0.0,
                     "n_pupils": int(realised.get(level, {}).get("n_pupils", 0))})
    return pd.DataFrame(rows)


#: Published North Lanarkshire figures the synthetic authority is calibrated to.
CALIBRATION_TARGETS = {
    "pupils": 48_000,
    "simd_q1_share": 0.32,
    "fsm_share": 0.2005,
    "attendance_rate": 88.7,
    "learners_supported": 1531,
    "learners_cst_or_ciil": 956,
    "sessions_additional_intensive": 2442,
    "session_attendance": 84.0,
    "ended_successfully_share": 0.39,
}


def _icc(values: np.ndarray, groups: np.ndarray) -> float:
    """One-way ANOVA estimate of the intraclass correlation of ``values`` within
    ``groups``."""
    df = pd.DataFrame({"y": values, "g": groups})
    g = df.groupby("g")["y"].agg(["mean", "count"])
    n, k = len(df), len(g)
    grand = df["y"].mean()
    msb = (g["count"] * (g["mean"] - grand) ** 2).sum() / (k - 1)
    msw = ((df["y"] - df["g"].map(g["mean"])) ** 2).sum() / (n - k)
    n0 = (n - (g["count"] ** 2).sum() / n) / (k - 1)
    s2b = max((msb - msw) / n0, 0.0)
    return float(s2b / (s2b + msw))


def calibration_summary(a: Authority) -> dict[str, float]:
    """The synthetic authority's values of :data:`CALIBRATION_TARGETS`, plus ICCs.

    Pupil figures are for the reference session; attendance is for the calibration
    session (the second of the four, 2022/23 by default); support figures are for
    supports active in August-December of the reference session (started on or before
    31 December and not ended before 1 August). ``icc_school_attendance`` and
    ``icc_cluster_attendance`` are one-way ANOVA ICCs of pupils' annual attendance rates
    in the reference session.
    """
    ref = a.design["reference_session"]
    calib = a.design["sessions"][1]
    p = a.pupils[a.pupils["year"] == ref]
    dec = p["simd_decile"].dropna().astype(int)
    att = a.attendance[a.attendance["year"] == calib]
    lo, hi = (pd.Timestamp(x) for x in a.design["calibration_window"])
    s = a.supports
    active = s[(s["start_date"] <= hi) & (s["end_date"].isna() | (s["end_date"] >= lo))]
    ai = active[active["level"].isin(["additional", "intensive"])]
    annual = a.attendance[a.attendance["year"] == ref].groupby("pupil_id")[
        ["attended_sessions", "possible_sessions"]].sum()
    rate = (annual["attended_sessions"] / annual["possible_sessions"]).rename("rate")
    r = p.set_index("pupil_id").join(rate, how="inner")
    cluster = r["seed_code"].map(a.schools.set_index("seed_code")["cluster"])
    return {
        "pupils": float(len(p)),
        "simd_q1_share": float((dec <= 2).mean()),
        "fsm_share": float(p["fsm"].mean()),
        "attendance_rate": float(100 * att["attended_sessions"].sum()
                                 / att["possible_sessions"].sum()),
        "learners_supported": float(active["pupil_id"].nunique()),
        "learners_cst_or_ciil": float(active.loc[active["provider"].isin(
            ["cluster_support_teacher", "ciil"]), "pupil_id"].nunique()),
        "sessions_additional_intensive": float(ai["sessions_planned"].sum()),
        "session_attendance": float(100 * ai["sessions_attended"].sum()
                                    / max(ai["sessions_planned"].sum(), 1)),
        "ended_successfully_share": float((active["status"] == "ended_successful").mean()),
        "icc_school_attendance": _icc(r["rate"].to_numpy(), r["seed_code"].to_numpy()),
        "icc_cluster_attendance": _icc(r["rate"].to_numpy(), cluster.to_numpy()),
    }
