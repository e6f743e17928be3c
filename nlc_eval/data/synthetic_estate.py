"""The school estate of the synthetic authority: invented, or prepared from official rows.

:func:`invent_estate` makes a North-Lanarkshire-like estate (118 primary, 23 secondary and
13 special schools; 23 clusters, each around a secondary; Roman Catholic and
non-denominational catchments) with official-style columns. :func:`prepare_official`
takes official school rows (``nlc_eval.data.official.load_school_statistics``) and fills
what the generator needs: complete SIMD quintile and stage counts (suppressed cells are
imputed so that every school's counts add up to its roll; imputed schools are flagged) and
a cluster for every school.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nlc_eval.errors import DataError

LOCAL_AUTHORITY = "North Lanarkshire"
PRIMARY_STAGES = [f"P{i}" for i in range(1, 8)]
SECONDARY_STAGES = [f"S{i}" for i in range(1, 7)]
ALL_STAGES = PRIMARY_STAGES + SECONDARY_STAGES
STAGE_COLUMNS = [s.lower() for s in ALL_STAGES]
QUINTILES = [f"simd_q{q}" for q in range(1, 6)]
SHARES = [f"simd_q{q}_share" for q in range(1, 6)]
SECTOR_STAGES = {
    "primary": PRIMARY_STAGES,
    "secondary": SECONDARY_STAGES,
    "special": ALL_STAGES,
}
URBAN_RURAL = {
    "Large urban areas": 0.34,
    "Other urban areas": 0.49,
    "Accessible small towns": 0.05,
    "Accessible rural areas": 0.12,
}
#: Authority-wide SIMD quintile shares used to spread suppressed counts (NLC 2024 census).
AUTHORITY_QUINTILE_SHARES = np.array([0.321, 0.263, 0.129, 0.185, 0.098])
#: Share of the authority's pupils living in SIMD quintile 1.
Q1_TARGET = 0.32


def _rolls(rng: np.random.Generator, n: int, median: float, sdlog: float,
           lo: int, hi: int) -> np.ndarray:
    x = np.exp(np.log(median) + sdlog * rng.standard_normal(n))
    return np.clip(np.round(x), lo, hi).astype(int)


def _split_sizes(rng: np.random.Generator, n_items: int, n_groups: int, minimum: int) -> np.ndarray:
    """Random group sizes summing to ``n_items`` with at least ``minimum`` each."""
    extra = n_items - minimum * n_groups
    if extra < 0:
        minimum, extra = 0, n_items
    return minimum + rng.multinomial(extra, rng.dirichlet(np.full(n_groups, 6.0)))


def _quintile_probs(position: np.ndarray) -> np.ndarray:
    """Quintile probabilities for schools at latent deprivation ``position``.

    A discretised normal on the quintile scale centred at ``2.2 + 1.1 * position`` (so
    position 0 is a school somewhat more deprived than Scotland's median), sd 1.25.
    """
    centre = 2.2 + 1.1 * position[:, None]
    q = np.arange(1, 6)[None, :]
    logp = -((q - centre) ** 2) / (2 * 1.25**2)
    p = np.exp(logp - logp.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def invent_estate(rng: np.random.Generator, year: int) -> pd.DataFrame:
    """Invent a North-Lanarkshire-like school estate.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    year : int
        Census year (= start of the school session) the rolls describe.

    Returns
    -------
    pandas.DataFrame
        One row per school with ``seed_code``, ``school_name``, ``sector``, ``cluster``,
        ``denomination`` and the official-style columns (``roll``, ``p1``..``s6``,
        ``female``, ``male``, ``asn``, ``eal``, ``fsm_pct``, ``simd_q1``..``simd_q5``,
        ``simd_unknown``, shares, ``urban_rural_6fold``, ``local_authority``, ``year``).
        ``attendance_rate`` is filled later from the synthetic pupils.
    """
    n_sec_rc, n_sec_nd = 9, 14
    n_pri_rc, n_pri_nd = 46, 72
    n_special = 13
    n_clusters = n_sec_rc + n_sec_nd
    sec_denom = np.array(["Roman Catholic"] * n_sec_rc + ["Non-denominational"] * n_sec_nd)
    order = rng.permutation(n_clusters)
    sec_denom = sec_denom[order]
    clusters = np.array([f"Cluster {k + 1:02d}" for k in range(n_clusters)])
    # cluster deprivation: positions spread so the authority has about 32% in quintile 1
    cluster_pos = rng.normal(0.0, 0.75, n_clusters)

    rows: list[dict] = []
    prim_cluster: list[int] = []
    for denom, n_pri in (("Roman Catholic", n_pri_rc), ("Non-denominational", n_pri_nd)):
        idx = np.flatnonzero(sec_denom == denom)
        sizes = _split_sizes(rng, n_pri, len(idx), 3)
        for k, size in zip(idx, sizes, strict=True):
            prim_cluster.extend([int(k)] * int(size))
    prim_cluster_arr = np.array(prim_cluster)
    prim_denom = sec_denom[prim_cluster_arr]
    prim_pos = cluster_pos[prim_cluster_arr] + rng.normal(0.0, 0.55, len(prim_cluster_arr))
    prim_roll = _rolls(rng, len(prim_cluster_arr), 214, 0.42, 36, 522)
    sec_roll = _rolls(rng, n_clusters, 930, 0.3, 443, 1476)
    # a secondary's intake mirrors its primaries
    sec_pos = np.array([
        np.average(prim_pos[prim_cluster_arr == k], weights=prim_roll[prim_cluster_arr == k])
        if np.any(prim_cluster_arr == k) else cluster_pos[k]
        for k in range(n_clusters)
    ]) + rng.normal(0.0, 0.15, n_clusters)
    spec_cluster = rng.permutation(n_clusters)[:n_special]
    spec_pos = cluster_pos[spec_cluster] + rng.normal(0.0, 0.4, n_special)
    spec_roll = _rolls(rng, n_special, 65, 0.8, 5, 199)

    # shift deprivation so that the expected share in quintile 1 is the authority's 32%
    all_pos = np.concatenate([prim_pos, sec_pos, spec_pos])
    all_roll = np.concatenate([prim_roll, sec_roll, spec_roll])
    lo, hi = -3.0, 3.0
    for _ in range(40):
        mid = (lo + hi) / 2
        q1 = np.average(_quintile_probs(all_pos + mid)[:, 0], weights=all_roll)
        lo, hi = (lo, mid) if q1 < Q1_TARGET else (mid, hi)
    shift = (lo + hi) / 2
    prim_pos, sec_pos, spec_pos = prim_pos + shift, sec_pos + shift, spec_pos + shift

    # scale mainstream rolls to about 48,000 pupils in the authority
    target = 48_000 - spec_roll.sum()
    factor = target / (prim_roll.sum() + sec_roll.sum())
    prim_roll = np.maximum(np.round(prim_roll * factor), 20).astype(int)
    sec_roll = np.maximum(np.round(sec_roll * factor), 300).astype(int)

    codes = rng.choice(np.arange(8_500_000, 8_600_000), size=len(prim_roll) + n_clusters
                       + n_special, replace=False)
    ci = iter(codes)
    for i in range(len(prim_roll)):
        rows.append(dict(seed_code=str(next(ci)), school_name=f"Primary School {i + 1:03d}",
                         sector="primary", cluster=clusters[prim_cluster_arr[i]],
                         denomination=prim_denom[i], roll=prim_roll[i], position=prim_pos[i]))
    for k in range(n_clusters):
        rows.append(dict(seed_code=str(next(ci)), school_name=f"High School {k + 1:02d}",
                         sector="secondary", cluster=clusters[k], denomination=sec_denom[k],
                         roll=sec_roll[k], position=sec_pos[k]))
    for j in range(n_special):
        rows.append(dict(seed_code=str(next(ci)), school_name=f"Additional Support School {j + 1:02d}",
                         sector="special", cluster=clusters[spec_cluster[j]],
                         denomination="Non-denominational", roll=spec_roll[j],
                         position=spec_pos[j]))
    schools = pd.DataFrame(rows)
    n = len(schools)
    roll = schools["roll"].to_numpy()
    pos = schools["position"].to_numpy()

    # SIMD counts: multinomial over quintiles 1-5 and unknown (about 0.3%)
    p = _quintile_probs(pos) * 0.997
    p = np.column_stack([p, np.full(n, 0.003)])
    counts = np.vstack([rng.multinomial(r, pr / pr.sum()) for r, pr in zip(roll, p, strict=True)])
    for q in range(5):
        schools[QUINTILES[q]] = counts[:, q]
    schools["simd_unknown"] = counts[:, 5]

    # stage counts
    stage_counts = np.zeros((n, len(ALL_STAGES)))
    stage_counts[:] = np.nan
    sec_shape = np.array([0.19, 0.19, 0.19, 0.18, 0.14, 0.11])
    for i, (sector, r) in enumerate(zip(schools["sector"], roll, strict=True)):
        if sector == "primary":
            stage_counts[i, :7] = rng.multinomial(r, np.full(7, 1 / 7))
        elif sector == "secondary":
            stage_counts[i, 7:] = rng.multinomial(r, sec_shape)
    for j, col in enumerate(STAGE_COLUMNS):
        schools[col] = stage_counts[:, j]

    q1 = schools["simd_q1"] / roll
    female_share = np.where(schools["sector"] == "special", 0.3, 0.494)
    schools["female"] = rng.binomial(roll, female_share)
    schools["male"] = roll - schools["female"]
    asn_share = np.where(schools["sector"] == "special", 1.0,
                         np.clip(0.28 + 0.15 * (q1 - 0.32) + rng.normal(0, 0.06, n), 0.08, 0.7))
    schools["asn"] = rng.binomial(roll, asn_share)
    schools["eal"] = rng.binomial(roll, np.clip(rng.gamma(2.0, 0.02, n), 0, 0.3))
    schools["fsm_pct"] = np.round(100 * np.clip(0.04 + 0.45 * q1 + rng.normal(0, 0.03, n),
                                                0.01, 0.8), 1)
    ur = rng.choice(list(URBAN_RURAL), size=n, p=list(URBAN_RURAL.values()))
    schools["urban_rural_6fold"] = ur
    schools["local_authority"] = LOCAL_AUTHORITY
    schools["year"] = int(year)
    schools["simd_imputed"] = False
    schools = schools.drop(columns="position")
    return finish_shares(schools)


def finish_shares(schools: pd.DataFrame) -> pd.DataFrame:
    """Add ``simd_q*_share`` columns: each quintile's share of pupils with a known quintile."""
    known = schools[QUINTILES].sum(axis=1).replace(0, np.nan)
    for col, share in zip(QUINTILES, SHARES, strict=True):
        schools[share] = schools[col] / known
    return schools


def _fill_counts(values: np.ndarray, total: int, weights: np.ndarray) -> np.ndarray:
    """Fill NaN cells of one school's count vector so the vector sums to ``total``.

    The remainder is spread over the missing cells in proportion to ``weights``
    (largest-remainder rounding). Returns integer counts.
    """
    out = values.copy()
    missing = np.isnan(out)
    known = np.nansum(out)
    remainder = total - known
    if missing.any():
        w = weights[missing]
        w = w / w.sum() if w.sum() > 0 else np.full(missing.sum(), 1 / missing.sum())
        raw = max(remainder, 0) * w
        base = np.floor(raw)
        left = int(round(max(remainder, 0) - base.sum()))
        if left > 0:
            base[np.argsort(-(raw - base))[:left]] += 1
        out[missing] = base
    return out.astype(int)


def prepare_official(schools: pd.DataFrame) -> pd.DataFrame:
    """Prepare official school rows for the generator.

    Parameters
    ----------
    schools : pandas.DataFrame
        Rows of ``load_school_statistics`` for one local authority (several years are
        allowed: the latest is used).

    Returns
    -------
    pandas.DataFrame
        A copy with complete integer ``simd_q1``..``simd_q5``/``simd_unknown`` and stage
        counts (suppressed cells imputed so each school's counts add up to its roll;
        ``simd_imputed`` flags schools where that happened), shares recomputed, and
        ``cluster`` filled (see :func:`assign_clusters`).

    Raises
    ------
    DataError
        Required columns missing, more than one authority, a missing roll, or published
        quintile counts that exceed the roll.
    """
    need = ["seed_code", "school_name", "sector", "roll", *QUINTILES]
    missing = [c for c in need if c not in schools.columns]
    if missing:
        raise DataError(f"the official schools table lacks columns {missing}.", table="schools",
                        column=missing[0],
                        fix="pass rows from nlc_eval.data.official.load_school_statistics.")
    df = schools.copy()
    if "year" in df.columns and df["year"].nunique() > 1:
        df = df[df["year"] == df["year"].max()].copy()
    if "local_authority" in df.columns and df["local_authority"].nunique() > 1:
        raise DataError(
            f"the schools table covers {df['local_authority'].nunique()} local authorities.",
            table="schools", column="local_authority",
            fix="filter the official rows to one authority, e.g. "
            "schools[schools.local_authority == 'North Lanarkshire'].")
    df = df.reset_index(drop=True)
    df["seed_code"] = df["seed_code"].astype(str)
    df["sector"] = df["sector"].astype(str).str.lower()
    bad = ~df["sector"].isin(list(SECTOR_STAGES))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"unknown sector {df.loc[i, 'sector']!r}.", table="schools",
                        column="sector", row=i, fix="use primary, secondary or special.")
    roll = pd.to_numeric(df["roll"], errors="coerce")
    if roll.isna().any() or (roll <= 0).any():
        i = int(np.flatnonzero(roll.isna() | (roll <= 0))[0])
        raise DataError("the school has no positive roll.", table="schools", column="roll",
                        row=i, fix="drop schools without a published roll before generating.")
    df["roll"] = roll.astype(int)
    if "simd_unknown" not in df.columns:
        df["simd_unknown"] = np.nan
    qcols = [*QUINTILES, "simd_unknown"]
    qvals = df[qcols].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    imputed = np.isnan(qvals).any(axis=1)
    weights = np.append(AUTHORITY_QUINTILE_SHARES, 0.003)
    filled = np.empty_like(qvals)
    for i in range(len(df)):
        known = np.nansum(qvals[i])
        if known > df["roll"].iat[i]:
            raise DataError(
                f"published SIMD counts add up to {int(known)}, more than the roll "
                f"{df['roll'].iat[i]}.", table="schools", column="simd_q1", row=i,
                fix="check the school's row in the official file.")
        if not np.isnan(qvals[i]).any() and known != df["roll"].iat[i]:
            # complete rows that do not add up: put the difference into 'unknown'
            qvals[i, 5] += df["roll"].iat[i] - known
        filled[i] = _fill_counts(qvals[i], int(df["roll"].iat[i]), weights)
    for j, c in enumerate(qcols):
        df[c] = filled[:, j].astype(int)
    df["simd_imputed"] = imputed
    for c in STAGE_COLUMNS:
        if c not in df.columns:
            df[c] = np.nan
    stage = df[STAGE_COLUMNS].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    for i, sector in enumerate(df["sector"]):
        cols = [ALL_STAGES.index(s) for s in SECTOR_STAGES[sector]]
        v = stage[i, cols]
        if sector == "special" or np.all(np.isnan(v)):
            stage[i] = np.nan
            continue
        stage[i, cols] = _fill_counts(v, int(df["roll"].iat[i]), np.ones(len(cols)))
    for j, c in enumerate(STAGE_COLUMNS):
        df[c] = stage[:, j]
    for c, default in (("local_authority", LOCAL_AUTHORITY), ("denomination", "Non-denominational")):
        if c not in df.columns:
            df[c] = default
    df["denomination"] = df["denomination"].fillna("Non-denominational")
    return finish_shares(df)


def assign_clusters(schools: pd.DataFrame, locations: pd.DataFrame | None = None) -> pd.Series:
    """A cluster for every school: the given column, approximate clusters, or a simple rule.

    Order of preference: an existing complete ``cluster`` column; otherwise
    ``nlc_eval.data.clusters.approximate_clusters(schools, locations)`` when
    ``locations`` are given; otherwise each secondary is a cluster and each other school
    joins the secondary of its own denomination (falling back to any) whose quintile-1
    share is closest to its own, ties broken by the smaller cluster.

    Returns
    -------
    pandas.Series
        Cluster name aligned to ``schools.index``.
    """
    if "cluster" in schools.columns and schools["cluster"].notna().all():
        return schools["cluster"].astype(str)
    if locations is not None:
        from nlc_eval.data.clusters import approximate_clusters

        got = approximate_clusters(schools, locations)
        mapping = dict(zip(got["seed_code"].astype(str), got["cluster"].astype(str), strict=False))
        out = schools["seed_code"].astype(str).map(mapping)
        if out.notna().all():
            return out
    secs = schools[schools["sector"] == "secondary"]
    if secs.empty:
        raise DataError("no secondary school to build clusters around.", table="schools",
                        column="sector", fix="include the authority's secondary schools.")
    names = pd.Series([f"Cluster {name}" for name in secs["school_name"]], index=secs.index)
    out = pd.Series(index=schools.index, dtype=object)
    out.loc[secs.index] = names
    size = dict.fromkeys(names, 0)
    q1 = schools["simd_q1_share"].fillna(0.32)
    for i in schools.index[schools["sector"] != "secondary"]:
        same = secs[secs["denomination"] == schools.at[i, "denomination"]]
        pool = same if not same.empty else secs
        dist = (q1[pool.index] - q1[i]).abs().to_numpy()
        order = np.lexsort(([size[names[k]] for k in pool.index], np.round(dist, 2)))
        chosen = names[pool.index[order[0]]]
        out.at[i] = chosen
        size[chosen] += 1
    return out.astype(str)
