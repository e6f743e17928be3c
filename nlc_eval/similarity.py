"""School similarity: feature specs, robust scaling, distances and comparator lists.

Two schools are "similar" when they are close in a small, explicit feature space. By default
(the authority's own practice for family groups) that space has two blocks of equal weight:

- **size**: the logarithm of the pupil roll (a school of 100 differs from one of 200 as much
  as one of 300 from one of 600);
- **SIMD profile**: the pupils' SIMD quintile shares summarised by the *mean quintile*
  (1 = everyone in the most deprived fifth, 5 = everyone in the least) and the *share in
  quintile 1*, each carrying half the block's weight. The shares are compositional (they
  sum to one), so they are not used as five independent coordinates; see
  ``docs/families.md`` for why this summary is the default and when to choose the
  ``"hellinger"`` alternative (square-root shares, a proper distance between profiles).

Optional blocks: free school meals (``fsm_pct``), additional support needs and English as
an additional language as a share of the roll (``asn_pct``, ``eal_pct``), the 6-fold
urban/rural class (``urban_rural``, ordinal 1 = large urban ... 6 = remote rural) and
``attendance_rate``. Each column is centred on its median and divided by its interquartile
range / 1.349 (robust scaling: a few very large schools do not squash everyone else);
each block then carries total variance equal to its weight, so the squared Euclidean
distance is a weighted sum of squared robust z-scores.

Examples
--------
>>> import pandas as pd
>>> schools = pd.DataFrame({
...     "seed_code": ["1", "2", "3", "4"], "sector": "primary",
...     "roll": [100, 120, 400, 420],
...     "simd_q1_share": [.6, .5, .1, .2], "simd_q2_share": [.2, .2, .1, .2],
...     "simd_q3_share": [.1, .1, .2, .2], "simd_q4_share": [.05, .1, .3, .2],
...     "simd_q5_share": [.05, .1, .3, .2]})
>>> list(feature_matrix(schools).columns)
['log_roll', 'simd_mean_quintile', 'simd_q1_share']
>>> similar_schools(schools, "1", n=1, scope="all")["seed_code"].tolist()
['2']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nlc_eval.errors import DataError

__all__ = ["FeatureSpec", "raw_features", "feature_matrix", "similar_schools", "FEATURE_LABELS"]

SHARES = [f"simd_q{q}_share" for q in range(1, 6)]
COUNTS = [f"simd_q{q}" for q in range(1, 6)]
URBAN_RURAL_6 = {
    "large urban areas": 1,
    "other urban areas": 2,
    "accessible small towns": 3,
    "remote small towns": 4,
    "accessible rural areas": 5,
    "accessible rural": 5,
    "remote rural areas": 6,
    "remote rural": 6,
}
EXTRAS = ("fsm_pct", "asn_pct", "eal_pct", "urban_rural", "attendance_rate")
SIMD_MODES = ("summary", "hellinger", "shares")
FEATURE_LABELS = {
    "log_roll": "roll",
    "roll": "roll",
    "simd_mean_quintile": "mean SIMD quintile",
    "simd_q1_share": "share in SIMD quintile 1",
    "fsm_pct": "% registered for free school meals",
    "asn_pct": "% with additional support needs",
    "eal_pct": "% with English as an additional language",
    "urban_rural": "urban/rural class (6-fold)",
    "attendance_rate": "attendance rate (%)",
}
for _q in range(1, 6):
    FEATURE_LABELS[f"simd_h{_q}"] = f"SIMD quintile {_q} (root share)"
    FEATURE_LABELS[f"simd_s{_q}"] = f"share in SIMD quintile {_q}"


@dataclass(frozen=True)
class FeatureSpec:
    """Which school features define similarity, and how much each counts.

    Parameters
    ----------
    size : {"log_roll", "roll", None}
        Size feature (default the log of the roll).
    simd : {"summary", "hellinger", "shares", None}
        SIMD profile treatment: mean quintile + quintile-1 share (default), square-root
        shares (Hellinger geometry) or raw shares.
    extras : tuple of str
        Optional blocks from ``("fsm_pct", "asn_pct", "eal_pct", "urban_rural",
        "attendance_rate")``.
    weights : mapping
        Block weights by block name (``"size"``, ``"simd"`` or an extra); default 1 each.
    scaling : {"robust", "standard", "none"}
        Median/IQR (default), mean/SD, or none.
    missing : {"impute", "raise"}
        A missing feature value is replaced by the column median of the schools given (and
        listed in ``attrs["imputed"]``), or raises :class:`DataError`.
    """

    size: str | None = "log_roll"
    simd: str | None = "summary"
    extras: tuple[str, ...] = ()
    weights: Mapping[str, float] = field(default_factory=dict)
    scaling: str = "robust"
    missing: str = "impute"

    def __post_init__(self) -> None:
        bad = []
        if self.size not in ("log_roll", "roll", None):
            bad.append(f"size={self.size!r} (use 'log_roll', 'roll' or None)")
        if self.simd not in (*SIMD_MODES, None):
            bad.append(f"simd={self.simd!r} (use one of {SIMD_MODES} or None)")
        for e in self.extras:
            if e not in EXTRAS:
                bad.append(f"extra {e!r} (known: {', '.join(EXTRAS)})")
        if self.scaling not in ("robust", "standard", "none"):
            bad.append(f"scaling={self.scaling!r} (use 'robust', 'standard' or 'none')")
        if self.missing not in ("impute", "raise"):
            bad.append(f"missing={self.missing!r} (use 'impute' or 'raise')")
        for name, wt in dict(self.weights).items():
            if name not in self.blocks():
                bad.append(f"weight for unknown block {name!r} (blocks: {self.blocks()})")
            elif not (np.isfinite(wt) and wt >= 0):
                bad.append(f"weight {name}={wt!r} must be a non-negative number")
        if not self.blocks():
            bad.append("no features at all (size, simd and extras are all empty)")
        if bad:
            raise DataError("invalid feature spec: " + "; ".join(bad) + ".",
                            fix="see nlc_eval.similarity.FeatureSpec for the options.")

    def blocks(self) -> list[str]:
        """Names of the feature blocks in use."""
        out = []
        if self.size:
            out.append("size")
        if self.simd:
            out.append("simd")
        return out + list(self.extras)

    def weight(self, block: str) -> float:
        return float(dict(self.weights).get(block, 1.0))


def _numeric(schools: pd.DataFrame, col: str, table: str) -> pd.Series:
    if col not in schools.columns:
        raise DataError(
            "required column is missing.", table=table, column=col,
            fix="pass a table from nlc_eval.data.official.load_school_statistics or add "
            "the column; or drop the feature from the FeatureSpec.",
        )
    return pd.to_numeric(schools[col], errors="coerce").astype(float)


def _simd_shares(schools: pd.DataFrame, table: str) -> pd.DataFrame:
    if all(c in schools.columns for c in SHARES):
        sh = pd.DataFrame({c: _numeric(schools, c, table) for c in SHARES})
    elif all(c in schools.columns for c in COUNTS):
        cnt = pd.DataFrame({c: _numeric(schools, c, table) for c in COUNTS})
        sh = cnt.div(cnt.sum(axis=1, min_count=5), axis=0)
        sh.columns = SHARES
    else:
        raise DataError(
            "SIMD quintile shares (simd_q1_share..simd_q5_share) or counts "
            "(simd_q1..simd_q5) are missing.", table=table, column="simd_q1_share",
            fix="load schools with nlc_eval.data.official.load_school_statistics, or use "
            "FeatureSpec(simd=None).",
        )
    total = sh.sum(axis=1, min_count=5)
    off = total.notna() & ((total - 1).abs() > 0.02)
    if off.any():
        row = sh.index[off.to_numpy()][0]
        raise DataError(
            f"SIMD quintile shares sum to {total[row]:.3f}, not 1.", table=table,
            column="simd_q1_share", row=_row_label(schools, row),
            fix="shares are of pupils with a known quintile; recompute them from the counts.",
        )
    return sh.div(total, axis=0)


def _row_label(schools: pd.DataFrame, idx) -> str:
    if "seed_code" in schools.columns:
        return f"{idx} (seed code {schools.loc[idx, 'seed_code']})"
    return str(idx)


def raw_features(schools: pd.DataFrame, spec: FeatureSpec | None = None,
                 table: str = "schools") -> pd.DataFrame:
    """Unscaled, interpretable feature values (before imputation), aligned to ``schools``.

    Columns follow the spec: ``log_roll`` or ``roll``; ``simd_mean_quintile`` and
    ``simd_q1_share`` (summary), ``simd_h1..5`` (hellinger) or ``simd_s1..5`` (shares);
    then the extras. Also always includes ``roll`` for display.
    """
    spec = spec or FeatureSpec()
    out = pd.DataFrame(index=schools.index)
    roll = _numeric(schools, "roll", table) if (spec.size or "roll" in schools.columns) else None
    if spec.size:
        bad = roll.notna() & (roll < 0)
        if bad.any():
            raise DataError("negative pupil roll.", table=table, column="roll",
                            row=_row_label(schools, roll.index[bad.to_numpy()][0]),
                            fix="correct the roll.")
        out[spec.size] = np.log1p(roll) if spec.size == "log_roll" else roll
    if spec.simd:
        sh = _simd_shares(schools, table)
        if spec.simd == "summary":
            out["simd_mean_quintile"] = sh.to_numpy() @ np.arange(1, 6)
            out["simd_q1_share"] = sh["simd_q1_share"]
        elif spec.simd == "hellinger":
            for q in range(1, 6):
                out[f"simd_h{q}"] = np.sqrt(sh[f"simd_q{q}_share"].clip(lower=0))
        else:
            for q in range(1, 6):
                out[f"simd_s{q}"] = sh[f"simd_q{q}_share"]
    for e in spec.extras:
        if e in ("asn_pct", "eal_pct"):
            num = _numeric(schools, e[:3], table)
            r = _numeric(schools, "roll", table)
            out[e] = 100 * num / r.where(r > 0)
        elif e == "urban_rural":
            if "urban_rural_6fold" not in schools.columns:
                raise DataError("required column is missing.", table=table,
                                column="urban_rural_6fold",
                                fix="load schools with load_school_statistics or drop "
                                "'urban_rural' from the extras.")
            txt = schools["urban_rural_6fold"].astype("string").str.strip().str.lower()
            out[e] = txt.map(URBAN_RURAL_6).astype(float)
        else:
            out[e] = _numeric(schools, e, table)
    if spec.size != "roll" and roll is not None:
        out["roll"] = roll
    return out


def _block_of(col: str, spec: FeatureSpec) -> str:
    if col in ("log_roll", "roll") and spec.size:
        return "size"
    if col.startswith("simd_"):
        return "simd"
    return col


def feature_matrix(schools: pd.DataFrame, spec: FeatureSpec | None = None,
                   table: str = "schools") -> pd.DataFrame:
    """Scaled, weighted features aligned to ``schools.index``.

    Squared Euclidean distance between two rows is the weighted sum of squared robust
    z-score differences. ``attrs`` carries ``raw`` (unscaled values), ``center``, ``scale``,
    ``block`` (column -> block), ``weight`` (column -> multiplier applied) and ``imputed``
    (a DataFrame of row, seed_code, feature, value for every imputed cell).

    Raises
    ------
    DataError
        A required column is missing, a value is missing with ``missing="raise"``, or a
        feature is missing for every school.
    """
    spec = spec or FeatureSpec()
    raw = raw_features(schools, spec, table)
    cols = [c for c in raw.columns if not (c == "roll" and spec.size != "roll")]
    vals = raw[cols].copy()
    imputed = []
    for c in cols:
        miss = vals[c].isna()
        if not miss.any():
            continue
        if miss.all():
            raise DataError("the feature is missing for every school.", table=table,
                            column=c, fix="drop it from the FeatureSpec.")
        if spec.missing == "raise":
            raise DataError(
                "feature value is missing.", table=table, column=c,
                row=_row_label(schools, vals.index[miss.to_numpy()][0]),
                fix="fill it, remove the school, or use FeatureSpec(missing='impute').",
            )
        med = float(vals[c].median())
        for idx in vals.index[miss.to_numpy()]:
            imputed.append({"row": idx, "seed_code": schools.loc[idx, "seed_code"]
                            if "seed_code" in schools.columns else idx,
                            "feature": c, "value": med})
        vals[c] = vals[c].fillna(med)
    center = pd.Series(0.0, index=cols)
    scale = pd.Series(1.0, index=cols)
    for c in cols:
        x = vals[c].to_numpy(float)
        if spec.scaling == "robust":
            center[c] = np.median(x)
            s = (np.percentile(x, 75) - np.percentile(x, 25)) / 1.349
            if not s > 0:
                s = x.std()
        elif spec.scaling == "standard":
            center[c] = x.mean()
            s = x.std()
        else:
            s = 1.0
        scale[c] = s if s > 0 else 1.0
    block = {c: _block_of(c, spec) for c in cols}
    mult = pd.Series(1.0, index=cols)
    for b in spec.blocks():
        members = [c for c in cols if block[c] == b]
        wt = spec.weight(b)
        if b == "simd" and spec.simd in ("hellinger", "shares"):
            # one common scale keeps the geometry of the composition
            if spec.scaling != "none":
                tot = float(np.sqrt(np.sum(scale[members] ** 2)))
                for c in members:
                    scale[c] = tot if tot > 0 else 1.0
            for c in members:
                mult[c] = np.sqrt(wt)
        else:
            for c in members:
                mult[c] = np.sqrt(wt / len(members))
    out = (vals - center) / scale * mult
    out.attrs = {"raw": raw, "center": center, "scale": scale, "block": block,
                 "weight": mult, "imputed": pd.DataFrame(
                     imputed, columns=["row", "seed_code", "feature", "value"]),
                 "spec": spec}
    return out


def _check_schools(schools: pd.DataFrame, table: str = "schools") -> None:
    for c in ("seed_code", "sector"):
        if c not in schools.columns:
            raise DataError("required column is missing.", table=table, column=c,
                            fix="pass one year of load_school_statistics().")
    key = schools[["seed_code", "sector"]].astype(str)
    dup = key.duplicated(keep=False)
    if dup.any():
        first = schools.index[dup.to_numpy()][0]
        raise DataError(
            "the same (seed_code, sector) appears more than once (several years?).",
            table=table, column="seed_code", row=_row_label(schools, first),
            fix="filter the table to one census year, e.g. schools[schools.year == 2024].",
        )


def similar_schools(
    schools: pd.DataFrame,
    seed_code: str,
    n: int = 10,
    scope: str = "authority",
    same_sector: bool = True,
    spec: FeatureSpec | None = None,
    sector: str | None = None,
) -> pd.DataFrame:
    """The ``n`` schools most similar to one school, with why they are close.

    Parameters
    ----------
    schools : DataFrame
        One census year of school statistics (one row per seed code and sector).
    seed_code : str
        The school to find comparators for.
    n : int
        How many comparators.
    scope : {"authority", "scotland", "all"}
        Compare within the school's own local authority, or across every school given.
    same_sector : bool
        Only compare with schools of the same sector (default).
    spec : FeatureSpec, optional
        Features; default size and SIMD profile. Scaling uses every school of the
        compared sector(s) in ``schools``, whatever the scope, so distances mean the same
        in both scopes.
    sector : str, optional
        Needed only when the seed code has two departments (e.g. primary and secondary).

    Returns
    -------
    DataFrame
        One row per comparator, nearest first: ``rank``, ``seed_code``, ``school_name``,
        ``local_authority``, ``sector``, ``distance``, the raw feature values, ``d_<feature>``
        (each feature's share of the squared distance), ``closest_on`` and ``differs_on``
        (the features contributing least and most). ``attrs["target"]`` holds the
        school's own raw features.
    """
    _check_schools(schools)
    if scope not in ("authority", "scotland", "all"):
        raise DataError(f"unknown scope {scope!r}.", fix="use 'authority' or 'scotland'.")
    if n < 1:
        raise DataError(f"n must be at least 1 (got {n}).", fix="ask for 1 or more.")
    code = str(seed_code)
    hit = schools["seed_code"].astype(str) == code
    if sector is not None:
        hit &= schools["sector"].astype(str) == sector
    if not hit.any():
        raise DataError(f"seed code {code!r} is not in the table.", table="schools",
                        column="seed_code", fix="check the seed code and the year filter.")
    if hit.sum() > 1:
        secs = ", ".join(sorted(schools.loc[hit, "sector"].astype(str)))
        raise DataError(f"seed code {code!r} has several sectors ({secs}).",
                        table="schools", column="sector",
                        fix="pass sector='primary' (or the one you mean).")
    target = schools.index[hit.to_numpy()][0]
    pool = schools
    if same_sector:
        pool = schools[schools["sector"].astype(str) == str(schools.loc[target, "sector"])]
    X = feature_matrix(pool, spec)
    raw = X.attrs["raw"]
    cand = pool
    if scope == "authority":
        if "local_authority" not in schools.columns:
            raise DataError("required column is missing.", table="schools",
                            column="local_authority", fix="use scope='scotland'.")
        la = schools.loc[target, "local_authority"]
        cand = pool[pool["local_authority"] == la]
    cand_idx = cand.index[cand.index != target]
    diff2 = (X.loc[cand_idx] - X.loc[target]) ** 2
    dist = np.sqrt(diff2.sum(axis=1))
    order = np.lexsort((cand.loc[cand_idx, "seed_code"].astype(str).to_numpy(), dist.to_numpy()))
    top = cand_idx[order[:n]]
    keep = [c for c in ("seed_code", "school_name", "local_authority", "sector")
            if c in schools.columns]
    out = schools.loc[top, keep].copy()
    out.insert(0, "rank", np.arange(1, len(top) + 1))
    out["distance"] = dist.loc[top].to_numpy()
    for c in raw.columns:
        out[c] = raw.loc[top, c].to_numpy()
    contrib = diff2.loc[top]
    share = contrib.div(contrib.sum(axis=1).replace(0, np.nan), axis=0).fillna(0)
    for c in contrib.columns:
        out[f"d_{c}"] = share[c].to_numpy()
    label = [FEATURE_LABELS.get(c, c) for c in contrib.columns]
    arr = contrib.to_numpy()
    out["closest_on"] = [label[int(np.argmin(r))] for r in arr]
    out["differs_on"] = [label[int(np.argmax(r))] for r in arr]
    out = out.reset_index(drop=True)
    out.attrs["target"] = raw.loc[target].to_dict()
    out.attrs["imputed"] = X.attrs["imputed"]
    return out
