"""Outcomes of the synthetic authority: attendance, exclusions and attainment.

Untreated potential outcomes are drawn first for every pupil, session and term; supports
are then assigned (see :mod:`nlc_eval.data.synthetic_supports`) using only what an analyst
can see before a support starts; finally supported pupils' outcomes from the term the
support starts are redrawn with the planted effects. Pupil, school and cluster random
effects make outcomes correlated within pupils, schools and clusters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit, logit

#: Teaching sessions (half days) offered per term: Aug-Dec, Jan-Mar, Apr-Jun (190 days).
POSSIBLE = {1: 156, 2: 116, 3: 108}
#: Target mean attendance in the calibration session (North Lanarkshire 2022/23).
ATTENDANCE_TARGET = 0.887
#: Target exclusion incidents per 1,000 pupils per session.
EXCLUSIONS_PER_1000 = 18.0
#: Stage effects on logit attendance, P1..S6.
STAGE_ATT = np.array([0.0, 0.1, 0.12, 0.12, 0.12, 0.1, 0.05,
                      -0.25, -0.45, -0.6, -0.65, -0.5, -0.35])
#: Stage effects on log exclusion rate, P1..S6.
STAGE_EXC = np.array([-2.4, -2.2, -2.0, -1.6, -1.4, -1.2, -1.0,
                      0.0, 0.3, 0.4, 0.2, -0.6, -1.3])
QUINT_ATT = np.array([0.0, -0.35, -0.2, -0.05, 0.1, 0.2])   # unknown, Q1..Q5
QUINT_ABL = np.array([0.0, -0.45, -0.25, 0.0, 0.2, 0.4])
#: Year effects on logit attendance, relative to the calibration session (second).
YEAR_ATT = (0.12, 0.0, 0.04, 0.07)
TERM_ATT = {1: 0.1, 2: -0.12, 3: 0.0}
#: Random-effect standard deviations (logit attendance scale).
SD_CLUSTER, SD_SCHOOL, SD_PUPIL, SD_PUPIL_YEAR, SD_TERM = 0.1, 0.12, 0.72, 0.3, 0.25
ORGANISERS = ("reading", "writing", "listening_talking", "numeracy")
LITERACY = ("reading", "writing", "listening_talking")
ACEL_STAGES = {0: "P1", 3: "P4", 6: "P7", 9: "S3"}
#: Target share on track by organiser: (P1/P4/P7 combined, S3).
ACEL_TARGET = {"reading": (0.72, 0.88), "writing": (0.67, 0.87),
               "listening_talking": (0.82, 0.89), "numeracy": (0.71, 0.87)}
TARIFF_BASE = {10: 180.0, 11: 230.0, 12: 200.0}   # S4, S5, S6


def _solve_intercept(eta: np.ndarray, target: float, fn, weights=None) -> float:
    """Intercept ``a`` with ``average(fn(a + eta), weights) == target`` (bisection)."""
    lo, hi = -15.0, 15.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if np.average(fn(mid + eta), weights=weights) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def school_effects(schools: pd.DataFrame, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Cluster and school random effects for attendance, attainment and exclusions."""
    clusters = pd.factorize(schools["cluster"])[0]
    n_c = clusters.max() + 1
    c_att, c_abl = rng.normal(0, SD_CLUSTER, n_c), rng.normal(0, 0.12, n_c)
    return {
        "att": c_att[clusters] + rng.normal(0, SD_SCHOOL, len(schools)),
        "abl": c_abl[clusters] + rng.normal(0, 0.25, len(schools)),
        "exc": rng.normal(0, 0.3, n_c)[clusters] + rng.normal(0, 0.3, len(schools)),
        "tariff": rng.normal(0, 25, len(schools)),
    }


def attendance_baseline(people: pd.DataFrame, rolls: pd.DataFrame, schools: pd.DataFrame,
                        years: list[int], effects: dict, rng: np.random.Generator) -> pd.DataFrame:
    """Untreated termly attendance and exclusions for every pupil on roll.

    Returns
    -------
    pandas.DataFrame
        ``pid, year, term, stage_idx, school, possible, r0, mu0, attended, incidents,
        openings`` (``r0``: probability of attending a session; ``mu0``: expected
        exclusion incidents in the term; realised counts are untreated draws).
    """
    n_py = len(rolls)
    pid = rolls["pid"].to_numpy()
    p = people.iloc[pid]
    sector_special = (schools["sector"].to_numpy() == "special")[rolls["school"].to_numpy()]
    stage = rolls["stage_idx"].to_numpy()
    year_eff = dict(zip(years, YEAR_ATT[-len(years):] if len(years) <= 4 else
                        np.zeros(len(years)), strict=True))
    eta_py = (STAGE_ATT[stage] + QUINT_ATT[p["quintile"].to_numpy()]
              - 0.25 * p["asn"].to_numpy() - 0.45 * p["care_experienced"].to_numpy()
              - 0.25 * p["fsm"].to_numpy() - 0.35 * sector_special
              + effects["att"][rolls["school"].to_numpy()]
              + SD_PUPIL * p["z_att"].to_numpy()
              + rng.normal(0, SD_PUPIL_YEAR, n_py)
              + np.array([year_eff[y] for y in rolls["year"]]))
    log_mu_py = (STAGE_EXC[stage] + 0.9 * p["z_exc"].to_numpy()
                 + 0.35 * (p["quintile"].to_numpy() == 1) + 0.5 * p["care_experienced"].to_numpy()
                 + 0.3 * p["asn"].to_numpy() + 0.4 * sector_special
                 + effects["exc"][rolls["school"].to_numpy()] + rng.normal(0, 0.5, n_py))
    rows = np.repeat(np.arange(n_py), 3)
    term = np.tile([1, 2, 3], n_py)
    possible = np.array([POSSIBLE[t] for t in (1, 2, 3)])[term - 1]
    eta = eta_py[rows] + np.array([TERM_ATT[t] for t in (1, 2, 3)])[term - 1] \
        + rng.normal(0, SD_TERM, len(rows))
    years_rows = rolls["year"].to_numpy()[rows]
    calib = years_rows == years[min(1, len(years) - 1)]
    a = _solve_intercept(eta[calib], ATTENDANCE_TARGET, expit, weights=possible[calib])
    r0 = expit(a + eta)
    log_mu = log_mu_py[rows] + np.log(possible / sum(POSSIBLE.values()))
    target_per_term = EXCLUSIONS_PER_1000 / 1000 / 3
    k = np.log(target_per_term / np.mean(np.exp(log_mu)))
    mu0 = np.exp(k + log_mu)
    incidents = rng.poisson(mu0)
    openings = 2 * incidents + rng.poisson(2 * incidents)
    openings = np.minimum(openings, possible)
    attended = np.minimum(rng.binomial(possible, r0), possible - openings)
    return pd.DataFrame({
        "pid": pid[rows], "year": years_rows, "term": term, "stage_idx": stage[rows],
        "school": rolls["school"].to_numpy()[rows], "possible": possible, "r0": r0,
        "mu0": mu0, "attended": attended, "incidents": incidents, "openings": openings,
    })


def apply_attendance_effects(att: pd.DataFrame, exposed: np.ndarray, level: np.ndarray,
                             eff_att: dict, eff_exc: dict,
                             rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """Redraw attendance and exclusions of exposed supported rows with planted effects.

    Parameters
    ----------
    att : DataFrame from :func:`attendance_baseline` (modified copy returned).
    exposed : bool array, rows of supported pupils in or after their start term.
    level : array of level names per row (meaningful where ``exposed``).
    eff_att : level -> percentage points; eff_exc : level -> rate ratio.

    Returns
    -------
    att : DataFrame with ``r1``/``mu1`` and redrawn ``attended``, ``incidents``,
        ``openings``.
    realised : dict level -> {"attendance_rate": mean pp change, "exclusion_incidents":
        ratio of expected incidents, "n_pupils": pupils, "n_rows": pupil-terms}.
    """
    att = att.copy()
    add = np.zeros(len(att))
    ratio = np.ones(len(att))
    for lv, pp in eff_att.items():
        add[exposed & (level == lv)] = pp / 100
    for lv, rr in eff_exc.items():
        ratio[exposed & (level == lv)] = rr
    r1 = np.clip(att["r0"].to_numpy() + add, 0.0, 0.999)
    r1 = np.where(add == 0, att["r0"].to_numpy(), r1)
    mu1 = att["mu0"].to_numpy() * ratio
    redraw = exposed & ((add != 0) | (ratio != 1))
    idx = np.flatnonzero(redraw)
    poss = att["possible"].to_numpy()
    inc = att["incidents"].to_numpy().copy()
    ope = att["openings"].to_numpy().copy()
    attd = att["attended"].to_numpy().copy()
    inc[idx] = rng.poisson(mu1[idx])
    ope[idx] = 2 * inc[idx] + rng.poisson(2 * inc[idx])
    ope[idx] = np.minimum(ope[idx], poss[idx])
    attd[idx] = np.minimum(rng.binomial(poss[idx], r1[idx]), poss[idx] - ope[idx])
    att["r1"], att["mu1"] = r1, mu1
    att["attended"], att["incidents"], att["openings"] = attd, inc, ope
    realised = {}
    pids = att["pid"].to_numpy()
    for lv in eff_att:
        m = exposed & (level == lv)
        realised[lv] = {
            "attendance_rate": float(np.mean(100 * (r1[m] - att["r0"].to_numpy()[m])))
            if m.any() else float("nan"),
            "exclusion_incidents": float(mu1[m].sum() / att["mu0"].to_numpy()[m].sum())
            if m.any() else float("nan"),
            "n_pupils": int(len(np.unique(pids[m]))), "n_rows": int(m.sum()),
        }
    return att, realised


def attainment(people: pd.DataFrame, rolls: pd.DataFrame, schools: pd.DataFrame,
               effects: dict, start_year: np.ndarray, level: np.ndarray,
               eff_lit: dict, eff_num: dict, rng: np.random.Generator
               ) -> tuple[pd.DataFrame, dict]:
    """On-track judgements (P1, P4, P7, S3) and senior-phase tariff points (S4-S6).

    Parameters
    ----------
    start_year : per-pupil session of the first support (-1 when never supported).
    level : per-pupil level of that support ("" when never supported).
    eff_lit, eff_num : level -> risk difference on being on track.

    Returns
    -------
    table : DataFrame ``pid, year, organiser, on_track, tariff_points``.
    realised : dict ``(outcome, level) -> {"effect", "n_pupils", "n_rows"}``.
    """
    acel = rolls[rolls["stage_idx"].isin(list(ACEL_STAGES))]
    n = len(acel)
    pid = acel["pid"].to_numpy()
    p = people.iloc[pid]
    sch = acel["school"].to_numpy()
    special = (schools["sector"].to_numpy() == "special")[sch]
    base = (0.9 * p["z_abl"].to_numpy() + 0.25 * p["z_att"].to_numpy()
            + QUINT_ABL[p["quintile"].to_numpy()] - 0.8 * p["asn"].to_numpy()
            - 0.5 * p["care_experienced"].to_numpy() - 0.2 * p["fsm"].to_numpy()
            - 1.5 * special + effects["abl"][sch])
    is_s3 = acel["stage_idx"].to_numpy() == 9
    exposed = (start_year[pid] >= 0) & (start_year[pid] <= acel["year"].to_numpy())
    lv = level[pid]
    parts, realised = [], {}
    for org in ORGANISERS:
        eta = base + rng.normal(0, 0.5, n)
        a = np.zeros(n)
        for stage_mask, target in ((~is_s3, ACEL_TARGET[org][0]), (is_s3, ACEL_TARGET[org][1])):
            if stage_mask.any():
                a[stage_mask] = _solve_intercept(eta[stage_mask], target,
                                                 lambda x: 0.03 + 0.92 * expit(x))
        p0 = 0.03 + 0.92 * expit(a + eta)
        eff = eff_num if org == "numeracy" else eff_lit
        rd = np.zeros(n)
        for lvl, value in eff.items():
            rd[exposed & (lv == lvl)] = value
        p1 = np.clip(p0 + rd, 0.0, 1.0)
        u = rng.random(n)
        parts.append(pd.DataFrame({"pid": pid, "year": acel["year"].to_numpy(),
                                   "organiser": org, "on_track": u < p1}))
        outcome = "on_track_numeracy" if org == "numeracy" else "on_track_literacy"
        for lvl in eff:
            m = exposed & (lv == lvl)
            acc = realised.setdefault((outcome, lvl), {"sum": 0.0, "rows": 0, "pids": set()})
            acc["sum"] += float((p1[m] - p0[m]).sum())
            acc["rows"] += int(m.sum())
            acc["pids"].update(pid[m].tolist())
    sp = rolls[rolls["stage_idx"] >= 10]
    q = people["quintile"].to_numpy()[sp["pid"].to_numpy()]
    pp = people.iloc[sp["pid"].to_numpy()]
    tariff = (np.array([TARIFF_BASE[s] for s in sp["stage_idx"]])
              + 110 * pp["z_abl"].to_numpy() + 30 * pp["z_att"].to_numpy()
              - 40 * (q == 1) + 25 * (q == 5) - 60 * pp["asn"].to_numpy()
              + effects["tariff"][sp["school"].to_numpy()] + rng.normal(0, 60, len(sp)))
    parts.append(pd.DataFrame({"pid": sp["pid"].to_numpy(), "year": sp["year"].to_numpy(),
                               "organiser": "senior_phase",
                               "tariff_points": np.round(np.maximum(tariff, 0.0), 1)}))
    table = pd.concat(parts, ignore_index=True)
    table["on_track"] = table["on_track"].astype("boolean")
    out = {k: {"effect": v["sum"] / v["rows"] if v["rows"] else float("nan"),
               "n_pupils": len(v["pids"]), "n_rows": v["rows"]} for k, v in realised.items()}
    return table, out


def logit_safe(x: np.ndarray) -> np.ndarray:
    """Logit clipped away from 0 and 1."""
    return logit(np.clip(x, 1e-4, 1 - 1e-4))
