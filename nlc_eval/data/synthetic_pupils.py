"""Pupils of the synthetic authority: who is on each school's roll in each session.

Each school's pupils are built cohort by cohort so that, in the reference session (the
latest), the school's stage counts, roll and SIMD quintile counts are exactly those of the
schools table. Earlier sessions follow the same cohorts back in time (a pupil in P5 in
the reference session was in P4 the session before); cohorts that have already left are
added at the top stage. In the senior phase, pupils who left after S4 or S5 are added so
that staying-on rates match the school's S4/S5/S6 counts. Pupils do not move between
schools: a pupil who goes from P7 to S1 appears under a new identifier (documented in
``data/README.md``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nlc_eval.data.synthetic_estate import (
    ALL_STAGES,
    QUINTILES,
    SECTOR_STAGES,
    STAGE_COLUMNS,
)

#: relative likelihood by SIMD quintile (unknown, 1..5) of FSM registration, ASN, care
FSM_REL = np.array([1.0, 2.2, 1.2, 0.7, 0.45, 0.3])
ASN_REL = np.array([1.0, 1.25, 1.1, 0.95, 0.85, 0.8])
CARE_REL = np.array([1.0, 2.4, 1.2, 0.6, 0.4, 0.25])
FSM_TARGET = 0.2005
CARE_TARGET = 1311 / 48_000
EAL_DEFAULT = 0.045


def _stage_counts(row: pd.Series, rng: np.random.Generator) -> np.ndarray:
    """Counts per stage of the school's sector in the reference session (sum = roll)."""
    stages = SECTOR_STAGES[row["sector"]]
    cols = [STAGE_COLUMNS[ALL_STAGES.index(s)] for s in stages]
    roll = int(row["roll"])
    v = pd.to_numeric(row[cols], errors="coerce").to_numpy(float)
    if row["sector"] == "special" or np.isnan(v).any() or v.sum() <= 0:
        return rng.multinomial(roll, np.full(len(stages), 1 / len(stages)))
    raw = v / v.sum() * roll
    base = np.floor(raw)
    left = int(roll - base.sum())
    if left > 0:
        base[np.argsort(-(raw - base))[:left]] += 1
    return base.astype(int)


def _weighted_pick(groups: np.ndarray, weights: np.ndarray, counts: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """Choose exactly ``counts[g]`` members of each group ``g``, with probability rising
    with ``weights`` (Efraimidis-Spirakis keys). Returns a boolean mask."""
    keys = np.log(rng.random(len(groups))) / weights
    order = np.lexsort((-keys, groups))
    g_sorted = groups[order]
    starts = np.searchsorted(g_sorted, g_sorted, side="left")
    rank = np.arange(len(groups)) - starts
    chosen = np.zeros(len(groups), bool)
    chosen[order] = rank < counts[g_sorted]
    return chosen


def make_population(schools: pd.DataFrame, years: list[int],
                    rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Build the pupils and their session-by-session rolls.

    Parameters
    ----------
    schools : pandas.DataFrame
        Prepared schools (complete quintile counts, ``sector``, ``roll``, ``cluster``).
    years : list of int
        Consecutive sessions; the last is the reference session matched exactly.
    rng : numpy.random.Generator

    Returns
    -------
    people : pandas.DataFrame
        One row per pupil (index = internal id): ``school`` (row number in ``schools``),
        ``quintile`` (0 = unknown), ``simd_decile``, ``sex``, ``fsm``, ``asn``, ``eal``,
        ``care_experienced``, and latent standard-normal traits ``z_att``, ``z_abl``,
        ``z_exc`` (attendance, ability, exclusion proneness; correlated).
    rolls : pandas.DataFrame
        One row per pupil and session: ``pid``, ``year``, ``stage`` (e.g. "P4"),
        ``stage_idx`` (0 = P1 .. 12 = S6), ``school``.
    """
    ref = years[-1]
    back = len(years) - 1
    sch, vv, last, inref = [], [], [], []
    for i, row in enumerate(schools.itertuples(index=False)):
        r = pd.Series(row._asdict())
        stages = SECTOR_STAGES[r["sector"]]
        k = len(stages)
        n = _stage_counts(r, rng)
        cont = np.ones(max(k - 1, 0))
        if r["sector"] == "secondary":
            cont[3] = np.clip(n[4] / max(n[3], 1), 0.4, 0.98)
            cont[4] = np.clip(n[5] / max(n[4], 1), 0.3, 0.95)
        anchors = [(j, int(n[j]), True) for j in range(k)]
        anchors += [(k - 1 + t, int(rng.poisson(n[k - 1])), False) for t in range(1, back + 1)]
        for v, m, present in anchors:
            a = min(v, k - 1)
            sch.append(np.full(m, i))
            vv.append(np.full(m, v))
            last.append(np.full(m, k - 1))
            inref.append(np.full(m, present))
            cur = m
            for s in range(a - 1, max(v - back, 0) - 1, -1):
                if cont[s] < 1:
                    extra = int(rng.poisson(cur * (1 / cont[s] - 1)))
                    sch.append(np.full(extra, i))
                    vv.append(np.full(extra, v))
                    last.append(np.full(extra, s))
                    inref.append(np.zeros(extra, bool))
                    cur += extra
    school = np.concatenate(sch).astype(int)
    v = np.concatenate(vv).astype(int)
    last_stage = np.concatenate(last).astype(int)
    in_ref = np.concatenate(inref).astype(bool)
    n_p = len(school)

    sector = schools["sector"].to_numpy()[school]
    roll = schools["roll"].to_numpy(float)
    is_ref = in_ref

    # SIMD quintile: exact counts for pupils on the reference roll, shares for the others
    qcounts = schools[[*QUINTILES, "simd_unknown"]].to_numpy(int)
    quint = np.zeros(n_p, int)
    ref_idx = np.flatnonzero(is_ref)
    order = ref_idx[np.lexsort((rng.random(len(ref_idx)), school[ref_idx]))]
    labels = np.concatenate([np.repeat([1, 2, 3, 4, 5, 0], qcounts[s]) for s in range(len(schools))])
    quint[order] = labels
    other = np.flatnonzero(~is_ref)
    probs = (qcounts + 0.01) / (qcounts + 0.01).sum(axis=1, keepdims=True)
    cum = probs.cumsum(axis=1)[school[other]]
    pick = (rng.random(len(other))[:, None] > cum).sum(axis=1)
    quint[other] = np.array([1, 2, 3, 4, 5, 0])[np.minimum(pick, 5)]
    decile = np.where(quint > 0, 2 * quint - 1 + rng.integers(0, 2, n_p), 0)

    def exact(col: str, default_share: np.ndarray, rel: np.ndarray | None) -> np.ndarray:
        counts = pd.to_numeric(schools.get(col), errors="coerce") if col in schools else None
        share = default_share.copy()
        if counts is not None:
            c = counts.to_numpy(float)
            share = np.where(np.isnan(c), share, c / roll)
        share = np.clip(share, 0, 1)
        w = np.ones(n_p) if rel is None else rel[quint]
        cnt = np.round(share * roll).astype(int)
        flag = np.zeros(n_p, bool)
        flag[ref_idx] = _weighted_pick(school[ref_idx], w[ref_idx], cnt, rng)
        mean_w = np.bincount(school, w, len(schools)) / np.maximum(np.bincount(school, None, len(schools)), 1)
        p = np.clip(share[school[other]] * w[other] / mean_w[school[other]], 0, 1)
        flag[other] = rng.random(len(other)) < p
        return flag

    sec = schools["sector"].to_numpy()
    female = exact("female", np.where(sec == "special", 0.3, 0.494), None)
    asn = exact("asn", np.where(sec == "special", 1.0, 0.33), ASN_REL)
    eal = exact("eal", np.full(len(schools), EAL_DEFAULT), None)

    fsm_school = pd.to_numeric(schools.get("fsm_pct", pd.Series(np.nan, index=schools.index)),
                               errors="coerce").to_numpy(float)
    q1s = schools["simd_q1"].to_numpy(float) / roll
    fsm_school = np.where(np.isnan(fsm_school), 100 * (0.04 + 0.45 * q1s), fsm_school)
    raw = fsm_school[school] * FSM_REL[quint]
    raw = raw * FSM_TARGET / raw[is_ref].mean()
    fsm = rng.random(n_p) < np.clip(raw, 0, 0.95)
    craw = CARE_REL[quint] * np.where(sector == "special", 2.0, 1.0)
    care = rng.random(n_p) < np.clip(craw * CARE_TARGET / craw[is_ref].mean(), 0, 0.5)

    # latent traits: attendance propensity, ability, exclusion proneness
    corr = np.array([[1.0, 0.35, -0.45], [0.35, 1.0, -0.2], [-0.45, -0.2, 1.0]])
    z = rng.standard_normal((n_p, 3)) @ np.linalg.cholesky(corr).T

    people = pd.DataFrame({
        "school": school, "quintile": quint,
        "simd_decile": pd.array(np.where(decile > 0, decile, 0), dtype="Int64"),
        "sex": np.where(female, "F", "M"), "fsm": fsm, "asn": asn, "eal": eal,
        "care_experienced": care, "z_att": z[:, 0], "z_abl": z[:, 1], "z_exc": z[:, 2],
    })
    people.loc[quint == 0, "simd_decile"] = pd.NA

    offset = np.where(sector == "secondary", 7, 0)
    parts = []
    for y in years:
        st = v - (ref - y)
        present = (st >= 0) & (st <= last_stage)
        pid = np.flatnonzero(present)
        parts.append(pd.DataFrame({"pid": pid, "year": y, "stage_idx": st[pid] + offset[pid],
                                   "school": school[pid]}))
    rolls = pd.concat(parts, ignore_index=True)
    rolls["stage"] = np.array(ALL_STAGES)[rolls["stage_idx"].to_numpy()]
    keep = np.zeros(n_p, bool)
    keep[rolls["pid"].to_numpy()] = True
    if not keep.all():  # pupils never on roll inside the window (ghosts of early cohorts)
        new_id = np.cumsum(keep) - 1
        people = people[keep].reset_index(drop=True)
        rolls["pid"] = new_id[rolls["pid"].to_numpy()]
    return people, rolls
