"""Who gets an Empowering Clusters support in the synthetic authority, when, and how.

Clusters adopt the model in three waves (the first term of the second, third and fourth
sessions), so supports start at different times in different clusters. In every term from
its adoption, each active cluster starts supports for a number of pupils proportional to
its roll. Pupils are chosen by weighted sampling without replacement among pupils not yet
supported, with weight ``exp(need)``, where ``need`` is a linear score of what the school
knows before the support starts (:data:`SELECTION`). A pupil is supported at most once
(some get two concurrent supports from different providers). The level is set by ranking
``need`` plus logistic noise within the term.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nlc_eval.data.synthetic_outcomes import ATTENDANCE_TARGET

LEVELS = ("universal", "additional", "intensive")
PROVIDERS = ("cluster_support_teacher", "ciil", "family_engagement_worker", "partner")
DRIVERS = ("community_leadership", "wellbeing", "attainment")

#: Coefficients of the need score (selection into support and level of support).
SELECTION = {
    "prior_attendance_z": -0.9,   # z = (previous-session attendance rate - 0.887) / 0.085
    "prior_excluded": 0.9,        # any exclusion incident in the previous session
    "care_experienced": 0.8,
    "asn": 0.5,
    "simd_q1": 0.5,
    "fsm": 0.3,
}
#: Share of a cluster's roll newly supported per term once the cluster is active.
START_RATE = 0.0255
#: Within a term, the top 15% of need-plus-noise are intensive, the next 35% additional.
LEVEL_QUANTILES = (0.5, 0.85)
PROVIDER_PROBS = {
    "universal": (0.41, 0.20, 0.17, 0.22),
    "additional": (0.40, 0.25, 0.20, 0.15),
    "intensive": (0.30, 0.40, 0.20, 0.10),
}
#: Duration of a support in days: minimum + gamma(shape, scale), by level.
DURATION = {"universal": (21, 2.0, 18.0), "additional": (35, 2.0, 35.0),
            "intensive": (49, 2.0, 70.0)}
#: Planned sessions: 1 + Poisson(rate per week of duration), by level.
SESSIONS_PER_WEEK = {"universal": 0.1, "additional": 0.062, "intensive": 0.072}
SECOND_SUPPORT_SHARE = 0.08
#: First teaching day of each term (month, day) and last.
TERM_START = {1: (8, 19), 2: (1, 7), 3: (4, 15)}
SUCCESS_INTERCEPT = -0.6
#: Logit of the typical share of planned sessions a pupil attends.
SESSION_ATTEND_LOGIT = 2.4
SUCCESS_LEVEL = {"universal": 0.35, "additional": 0.0, "intensive": -0.45}


def term_start(year: int, term: int) -> pd.Timestamp:
    """First teaching day of ``term`` in session ``year`` (session ``year``/``year+1``)."""
    m, d = TERM_START[term]
    return pd.Timestamp(year + (term > 1), m, d)


def rollout(clusters: list[str], years: list[int], rng: np.random.Generator) -> pd.DataFrame:
    """Adoption of the model by cluster: three waves starting in the first term of the
    second, third and fourth sessions (sizes as equal as possible, order random)."""
    order = rng.permutation(len(clusters))
    waves = np.array_split(order, 3)
    rows = []
    for w, members in enumerate(waves):
        y = years[min(w + 1, len(years) - 1)]
        for k in members:
            rows.append({"cluster": clusters[k], "wave": w + 1, "start_year": y, "start_term": 1,
                         "start_date": term_start(y, 1)})
    return pd.DataFrame(rows).sort_values("cluster").reset_index(drop=True)


def _need(people: pd.DataFrame, prior_rate: np.ndarray, prior_exc: np.ndarray,
          pid: np.ndarray) -> np.ndarray:
    p = people.iloc[pid]
    z = np.where(np.isnan(prior_rate), 0.0, (prior_rate - ATTENDANCE_TARGET) / 0.085)
    z = np.clip(z, -5, 2)
    s = SELECTION
    return (s["prior_attendance_z"] * z + s["prior_excluded"] * prior_exc
            + s["care_experienced"] * p["care_experienced"].to_numpy()
            + s["asn"] * p["asn"].to_numpy()
            + s["simd_q1"] * (p["quintile"].to_numpy() == 1)
            + s["fsm"] * p["fsm"].to_numpy())


def assign_supports(people: pd.DataFrame, rolls: pd.DataFrame, att: pd.DataFrame,
                    schools: pd.DataFrame, years: list[int], waves: pd.DataFrame,
                    rng: np.random.Generator) -> pd.DataFrame:
    """Choose supported pupils and describe their supports.

    Returns
    -------
    pandas.DataFrame
        One row per support: ``pid, cluster, provider, level, driver, start_date,
        end_date, status, sessions_planned, sessions_attended, start_year, start_term,
        need``.
    """
    cluster_of_school = schools["cluster"].astype(str).to_numpy()
    start_key = dict(zip(waves["cluster"], waves["start_year"] * 10 + waves["start_term"],
                         strict=True))
    annual = att.groupby(["pid", "year"], sort=False).agg(
        attended=("attended", "sum"), possible=("possible", "sum"),
        incidents=("incidents", "sum"))
    supported = np.zeros(len(people), bool)
    chosen = []
    for y in years[1:]:
        on_roll = rolls[rolls["year"] == y]
        prev = annual.reindex(pd.MultiIndex.from_arrays([on_roll["pid"].to_numpy(),
                                                         np.full(len(on_roll), y - 1)]))
        prior_rate = (prev["attended"] / prev["possible"]).to_numpy(float)
        prior_exc = (prev["incidents"].fillna(0).to_numpy() > 0).astype(float)
        cl = cluster_of_school[on_roll["school"].to_numpy()]
        cl_start = pd.Series(cl).map(start_key).to_numpy()
        need_all = _need(people, prior_rate, prior_exc, on_roll["pid"].to_numpy())
        for t in (1, 2, 3):
            active = cl_start <= y * 10 + t
            elig = active & ~supported[on_roll["pid"].to_numpy()]
            if not elig.any():
                continue
            idx = np.flatnonzero(elig)
            groups, gnames = pd.factorize(cl[idx])
            size = np.bincount(groups)
            n_start = rng.poisson(START_RATE * size)
            need = need_all[idx]
            keys = np.log(rng.random(len(idx))) / np.exp(need)
            order = np.lexsort((-keys, groups))
            g_sorted = groups[order]
            rank = np.arange(len(idx)) - np.searchsorted(g_sorted, g_sorted)
            pick = order[rank < n_start[g_sorted]]
            rows = idx[pick]
            pids = on_roll["pid"].to_numpy()[rows]
            supported[pids] = True
            score = need[pick] + rng.logistic(0, 1, len(pick))
            q1, q2 = np.quantile(score, LEVEL_QUANTILES) if len(score) else (0, 0)
            level = np.where(score > q2, "intensive", np.where(score > q1, "additional",
                                                                 "universal"))
            chosen.append(pd.DataFrame({
                "pid": pids, "cluster": cl[rows], "level": level, "start_year": y,
                "start_term": t, "need": need[pick], "prior_rate": prior_rate[rows],
                "prior_excluded": prior_exc[rows]}))
    sup = pd.concat(chosen, ignore_index=True)
    return _describe(sup, people, years, rng)


def _describe(sup: pd.DataFrame, people: pd.DataFrame, years: list[int],
              rng: np.random.Generator) -> pd.DataFrame:
    n = len(sup)
    # a share of pupils get a second, concurrent support from another provider
    second = rng.random(n) < SECOND_SUPPORT_SHARE
    base = sup.assign(order=0)
    extra = sup[second].assign(order=1)
    sup = pd.concat([base, extra], ignore_index=True)
    n = len(sup)
    level = sup["level"].to_numpy()
    provider = np.empty(n, object)
    u = rng.random(n)
    for lv, probs in PROVIDER_PROBS.items():
        m = level == lv
        cum = np.cumsum(probs)
        provider[m] = np.array(PROVIDERS)[np.minimum((u[m][:, None] > cum).sum(axis=1), 3)]
    second_rows = sup["order"].to_numpy() == 1
    provider[second_rows] = np.where(rng.random(second_rows.sum()) < 0.5,
                                     "family_engagement_worker", "partner")
    z = np.where(np.isnan(sup["prior_rate"].to_numpy()), 0.0,
                 (sup["prior_rate"].to_numpy() - ATTENDANCE_TARGET) / 0.085)
    p_wellbeing = 1 / (1 + np.exp(-(-0.1 - 0.8 * z + 0.8 * sup["prior_excluded"].to_numpy())))
    u = rng.random(n)
    driver = np.where(u < 0.10, "community_leadership",
                      np.where(rng.random(n) < p_wellbeing, "wellbeing", "attainment"))
    key = sup["start_year"].to_numpy() * 10 + sup["start_term"].to_numpy()
    first_day = {k: np.datetime64(term_start(k // 10, k % 10), "ns") for k in np.unique(key)}
    starts = np.array([first_day[k] for k in key], dtype="datetime64[ns]")
    offset = rng.integers(0, 36, n)
    offset[second_rows] = np.minimum(offset[second_rows] + rng.integers(0, 15, second_rows.sum()),
                                     49)
    start_date = starts + offset.astype("timedelta64[D]")
    dur = np.zeros(n)
    rate = np.zeros(n)
    for lv, (lo, shape, scale) in DURATION.items():
        m = level == lv
        dur[m] = lo + rng.gamma(shape, scale, m.sum())
        rate[m] = SESSIONS_PER_WEEK[lv]
    end = start_date + np.round(dur).astype("timedelta64[D]")
    extract_date = np.datetime64(f"{years[-1] + 1}-06-30")
    ongoing = end > extract_date
    planned = 1 + rng.poisson(rate * dur / 7)
    z_att = people["z_att"].to_numpy()[sup["pid"].to_numpy()]
    q = 1 / (1 + np.exp(-(SESSION_ATTEND_LOGIT + 0.5 * z_att + rng.normal(0, 0.6, n))))
    attended = rng.binomial(planned, q)
    frac = np.where(planned > 0, attended / np.maximum(planned, 1), 0)
    lin = SUCCESS_INTERCEPT + np.array([SUCCESS_LEVEL[lv] for lv in level]) + 2.0 * (frac - 0.84)
    success = rng.random(n) < 1 / (1 + np.exp(-lin))
    status = np.where(ongoing, "ongoing", np.where(success, "ended_successful", "ended_other"))
    out = pd.DataFrame({
        "pid": sup["pid"].to_numpy(), "cluster": sup["cluster"].to_numpy(),
        "provider": provider, "level": level, "driver": driver,
        "start_date": pd.to_datetime(start_date),
        "end_date": pd.to_datetime(np.where(ongoing, np.datetime64("NaT"), end)),
        "status": status, "sessions_planned": planned.astype(int),
        "sessions_attended": attended.astype(int),
        "start_year": sup["start_year"].to_numpy(), "start_term": sup["start_term"].to_numpy(),
        "need": sup["need"].to_numpy(), "order": sup["order"].to_numpy(),
    })
    return out.sort_values(["start_date", "pid", "order"]).reset_index(drop=True)
