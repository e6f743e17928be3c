"""A school's ACEL results against what schools with its SIMD profile achieve in Scotland.

For each stage group (``P1, P4 & P7 combined`` for primaries, ``S3`` for secondaries) and
organiser, a model is fitted on ALL Scottish schools with a published percentage: the
empirical logit of the share achieving the expected level,
``log((x + 0.5) / (n - x + 0.5))`` with ``x = pct/100 * n`` and ``n`` the school's pupils
in those stages (census roll of the matching year), regressed on the school's SIMD quintile
shares (quintile 3 the reference) by weighted least squares with weights
``n p (1 - p)`` (the inverse binomial variance of a logit), and the residual variance
estimated from the data (over-dispersion: schools differ by more than sampling).

Each school gets ``expected`` (percent) and a 95% *prediction* interval for a school of
that profile and size; ``residual`` = actual - expected (percentage points) and
``versus_expected``: "above", "below" or "as expected" (actual outside or inside the
interval). Schools doing better than expected are the ones a family can learn from.

Banded values (``95-100%``) are dropped by default (``bands="drop"``) and counted;
``bands="midpoint"`` uses the middle of the band. Suppressed values (``[c]``) are always
dropped and counted. ``attrs["acel_model"]`` holds the coefficients, the number of schools
fitted and the counts dropped by reason.

The returned table is publishable: it passes :func:`nlc_eval.disclosure.suppress` with
``n_pupils`` as the count (rows describing fewer than 5 pupils are hidden).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from nlc_eval.disclosure import suppress
from nlc_eval.errors import DataError

__all__ = ["STAGE_SECTOR", "expected_acel"]

STAGE_SECTOR = {"P1, P4 & P7 combined": ("primary", ("p1", "p4", "p7")),
                "S3": ("secondary", ("s3",))}
SHARES = ("simd_q1_share", "simd_q2_share", "simd_q4_share", "simd_q5_share")


def _census_year(session: str, years: np.ndarray) -> int:
    start = int(str(session)[:4])
    earlier = years[years <= start]
    return int(earlier.max()) if earlier.size else int(years.min())


def _fit(d: pd.DataFrame, level: float) -> tuple[pd.DataFrame, dict]:
    n = d["n_pupils"].to_numpy(float)
    x = d["pct_used"].to_numpy(float) / 100 * n
    y = np.log((x + 0.5) / (n - x + 0.5))
    p = (x + 0.5) / (n + 1)
    w = n * p * (1 - p)
    design = np.column_stack([np.ones(len(d)), d[list(SHARES)].to_numpy(float)])
    k = design.shape[1]
    if len(d) <= k + 5:
        raise DataError(f"only {len(d)} schools to fit", table="acel",
                        fix="use the full Scottish file, not one authority")
    xtw = design.T * w
    cov_unscaled = np.linalg.pinv(xtw @ design)
    beta = cov_unscaled @ xtw @ y
    resid = y - design @ beta
    dof = len(d) - k
    scale = float(np.sum(w * resid**2) / dof)
    cov = cov_unscaled * scale
    fit = design @ beta
    var_pred = np.einsum("ij,jk,ik->i", design, cov, design) + scale / w
    t = stats.t.ppf(0.5 + level / 2, dof)
    lo, hi = fit - t * np.sqrt(var_pred), fit + t * np.sqrt(var_pred)

    def to_pct(v):
        return 100 / (1 + np.exp(-v))

    out = pd.DataFrame({"expected": to_pct(fit), "pi_low": to_pct(lo), "pi_high": to_pct(hi)},
                       index=d.index)
    info = {"coefficients": dict(zip(["intercept", *SHARES], map(float, beta), strict=True)),
            "std_errors": dict(zip(["intercept", *SHARES],
                                   map(float, np.sqrt(np.diag(cov))), strict=True)),
            "dispersion": scale, "schools": int(len(d))}
    return out, info


def expected_acel(acel: pd.DataFrame, stats_table: pd.DataFrame, bands: str = "drop",
                  level: float = 0.95, local_authority: str | None = None,
                  publish: bool = True, threshold: int = 5) -> pd.DataFrame:
    """Actual against expected ACEL per school, from a model fitted on all of Scotland.

    Parameters
    ----------
    acel : DataFrame
        :func:`nlc_eval.data.official.load_acel` output (all authorities).
    stats_table : DataFrame
        :func:`nlc_eval.data.official.load_school_statistics` output with the census year
        of the ACEL session (2021 for 2021/22) or an earlier one.
    bands : {"drop", "midpoint"}
        What to do with banded percentages.
    level : float, default 0.95
        Prediction interval level.
    local_authority : str, optional
        Keep only this authority's schools in the result (the model still uses all).
    publish : bool, default True
        Pass through :func:`~nlc_eval.disclosure.suppress`.

    Returns
    -------
    DataFrame
        One row per (seed_code, stage, organiser): school_name, local_authority,
        n_pupils, actual, expected, pi_low, pi_high, residual, versus_expected, plus
        the school's simd shares; ``attrs["acel_model"]``.
    """
    if bands not in ("drop", "midpoint"):
        raise DataError(f"bands={bands!r} unknown", table="acel",
                        fix='use "drop" or "midpoint"')
    need_a = ("session", "stage", "seed_code", "organiser", "pct", "pct_low", "pct_high",
              "banded", "suppressed")
    for col in need_a:
        if col not in acel.columns:
            raise DataError("missing column", table="acel", column=col,
                            fix="pass the output of load_acel")
    need_s = ("year", "seed_code", "sector", "p1", "p4", "p7", "s3", *SHARES)
    for col in need_s:
        if col not in stats_table.columns:
            raise DataError("missing column", table="school statistics", column=col,
                            fix="pass the output of load_school_statistics")
    sessions = acel["session"].dropna().unique()
    if len(sessions) != 1:
        raise DataError(f"expected one ACEL session, found {list(sessions)}", table="acel",
                        column="session", fix="fit one session at a time")
    year = _census_year(sessions[0], np.asarray(stats_table["year"].unique(), dtype=int))
    census = stats_table[stats_table["year"] == year]
    a = acel.copy()
    dropped: dict[str, int] = {}
    unknown_stage = ~a["stage"].isin(list(STAGE_SECTOR))
    dropped["stage not modelled"] = int(unknown_stage.sum())
    a = a[~unknown_stage]
    a["sector"] = a["stage"].map({k: v[0] for k, v in STAGE_SECTOR.items()})
    supp = a["suppressed"].fillna(False).astype(bool)
    dropped["suppressed [c]"] = int(supp.sum())
    a = a[~supp]
    banded = a["banded"].fillna(False).astype(bool)
    a["pct_used"] = a["pct"].astype("Float64")
    if bands == "midpoint":
        mid = (a["pct_low"].astype("Float64") + a["pct_high"].astype("Float64")) / 2
        a.loc[banded, "pct_used"] = mid[banded]
        dropped["banded (midpoint used, kept)"] = int(banded.sum())
    else:
        dropped["banded"] = int(banded.sum())
        a = a[~banded]
    missing_value = a["pct_used"].isna()
    dropped["no value"] = int(missing_value.sum())
    a = a[~missing_value]
    keep = ["seed_code", "sector", "p1", "p4", "p7", "s3", *SHARES]
    if "local_authority" in census.columns and "local_authority" not in a.columns:
        keep.append("local_authority")
    m = a.merge(census[keep].drop_duplicates(["seed_code", "sector"]),
                on=["seed_code", "sector"], how="left", indicator=True)
    no_census = m["_merge"] != "both"
    dropped[f"not in the {year} census"] = int(no_census.sum())
    m = m[~no_census].drop(columns="_merge")
    n = np.zeros(len(m))
    for stage, (_, cols) in STAGE_SECTOR.items():
        rows = (m["stage"] == stage).to_numpy()
        n[rows] = m.loc[rows, list(cols)].astype("Float64").sum(axis=1, skipna=False) \
            .to_numpy(dtype=float, na_value=np.nan)
    m["n_pupils"] = n
    bad = ~np.isfinite(n) | (n <= 0) | m[list(SHARES)].isna().any(axis=1).to_numpy()
    dropped["no stage roll or SIMD profile"] = int(bad.sum())
    m = m[~bad].reset_index(drop=True)
    m["n_pupils"] = m["n_pupils"].astype("int64")
    parts, info = [], {}
    for (stage, organiser), g in m.groupby(["stage", "organiser"], sort=True):
        fit, meta = _fit(g, level)
        parts.append(g.join(fit))
        info[f"{stage} | {organiser}"] = meta
    out = pd.concat(parts).reset_index(drop=True)
    out["actual"] = out["pct_used"].astype(float)
    out["residual"] = out["actual"] - out["expected"]
    out["versus_expected"] = np.where(out["actual"] > out["pi_high"], "above",
                                      np.where(out["actual"] < out["pi_low"], "below",
                                               "as expected"))
    out["banded"] = out["banded"].fillna(False).astype(bool)
    cols = ["seed_code", "school_name", "local_authority", "stage", "organiser", "n_pupils",
            "actual", "banded", "expected", "pi_low", "pi_high", "residual",
            "versus_expected", *SHARES]
    out = out[[c for c in cols if c in out.columns]]
    n_in = int(len(acel))
    meta = {"session": str(sessions[0]), "census_year": year, "level": level,
            "bands": bands, "rows_in": n_in, "rows_used": int(len(out)),
            "dropped": dropped, "models": info}
    if local_authority is not None:
        sel = out["local_authority"] == local_authority
        if not sel.any():
            raise DataError(f"no schools in {local_authority!r}", table="acel",
                            column="local_authority", fix="use the name as published")
        out = out[sel].reset_index(drop=True)
    out.attrs["acel_model"] = meta
    if not publish:
        return out
    res = suppress(out, threshold, margins=False, count_columns=["n_pupils"],
                   rate_columns={c: (None, "n_pupils") for c in
                                 ("actual", "expected", "pi_low", "pi_high", "residual")})
    res.loc[res["actual"].isna(), "versus_expected"] = pd.NA
    res.attrs["acel_model"] = meta
    return res
