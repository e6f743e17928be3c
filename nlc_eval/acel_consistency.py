"""Consistency of ACEL judgements across schools: funnel plots and moderation flags.

ACEL levels (P1, P4, P7, S3) are teacher judgements. A school whose share of pupils
achieving the expected level is far from what its intake predicts may be doing very well,
may be struggling, or may be judging differently; this module says which differences are
larger than chance, so that officers know where a moderation conversation is worth having.
Being outside the limits is a prompt for moderation, not a verdict on a school.

For each stage, organiser and session (a *group*), school ``i`` has ``n_i`` pupils assessed,
``x_i`` achieving the expected level and share ``y_i = x_i / n_i``, compared with a
*target* ``t_i``:

``target="authority"``
    the authority's own pooled share in the group (``sum x / sum n``), the same for every
    school;
``target="simd"``
    the school's expected share from :func:`nlc_eval.acel_model.expected_acel` (a model of
    all Scottish schools on their SIMD profile), different for each school.

Funnel plots follow Spiegelhalter (2005, *Statistics in Medicine* 24:1185-1202, "Funnel
plots for comparing institutional performance") and, for over-dispersion, Spiegelhalter
(2005, *Quality and Safety in Health Care* 14:347-351, "Handling over-dispersion of
performance indicators"):

- the z-score is ``z_i = (y_i - t_i) / s_i`` with ``s_i = sqrt(t_i (1 - t_i) / n_i)``;
- over-dispersion: the z-scores are winsorised (by default the lowest and highest 10% are
  set to the 10th and 90th percentiles) and ``phi = mean(z_w^2) / c``, where ``c`` is the
  mean square of a winsorised standard normal (0.68 at 10%; ``consistent=False`` leaves it
  out, as the published formula does, which under-states ``phi`` and flags about twice too
  many schools when there is over-dispersion); ``I * phi`` is compared with a chi-squared
  distribution on ``I - 1`` degrees of freedom (``I`` when the target comes from outside
  the group, as the SIMD expectation does);
- ``method="multiplicative"``: ``z_i / sqrt(phi)`` (no change when ``phi <= 1``);
- ``method="additive"`` (default): a random-effects variance by the
  DerSimonian-Laird-type moment estimator
  ``tau^2 = (I phi - (I - 1)) / (sum w - sum w^2 / sum w)`` with ``w_i = 1 / s_i^2``
  (zero when ``I phi <= I - 1``), and ``z_i = (y_i - t_i) / sqrt(s_i^2 + tau^2)``;
- ``method="none"``: exact binomial limits, with mid-p tail probabilities: a school is
  above the ``L`` limit when ``P(X > x) + P(X = x) / 2 < (1 - L) / 2`` for
  ``X ~ Binomial(n_i, t_i)``, and its z-score is ``Phi^-1(P(X < x) + P(X = x) / 2)``, so
  ``|z| > Phi^-1(1 - (1 - L)/2)`` exactly when it is outside.

Limits are drawn at 95% and 99.8% (``z = 1.96`` and ``3.09``). With the authority target the
funnel shows each school's share itself; with the SIMD target every school has its own
target, so the funnel shows an *intake-adjusted share* on the scale of the authority's
average expectation ``tbar``: ``tbar + z_i * sigma(n_i, tbar)``, where ``sigma`` is the
limits' standard error at that size. A school is then outside the drawn limits exactly
when its z-score is.

Groups of fewer than :data:`MIN_SCHOOLS` schools are not adjusted for over-dispersion (too
few to estimate it) and say so. A school with no pupils assessed is left out.

:func:`year_to_year` does the same for the change in a school's share between consecutive
sessions, against the authority's own change, with the variance of a difference of two
independent cohorts: a school whose judgements move more than its cohort sizes allow.

Examples
--------
>>> import pandas as pd
>>> counts = pd.DataFrame({"seed_code": [str(i) for i in range(12)], "year": 2023,
...                        "stage": "P4", "organiser": "reading",
...                        "assessed": [20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75],
...                        "achieved": [15, 19, 22, 27, 30, 34, 38, 41, 45, 49, 52, 74]})
>>> res = funnel(counts, method="none")
>>> res.schools.loc[res.schools["seed_code"] == "11", "position"].item()
'above the 99.8% limit'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from nlc_eval.errors import DataError

__all__ = ["LEVELS", "METHODS", "MIN_SCHOOLS", "ORGANISERS", "TARGETS", "ChangeResult",
           "FunnelResult", "exact_limits", "funnel", "funnel_alt_text", "funnel_figure",
           "mid_p_z", "official_counts", "overdispersion", "plot_funnel", "pupil_counts",
           "winsor_consistency", "winsorise", "year_to_year"]

#: Control limits: 95% and 99.8% (about 2 and 3 standard errors).
LEVELS = (0.95, 0.998)
METHODS = ("additive", "multiplicative", "none")
TARGETS = ("authority", "simd")
#: Fewest schools in a group for which over-dispersion is estimated.
MIN_SCHOOLS = 10
#: Organiser keys and the names a reader sees.
ORGANISERS = {"reading": "Reading", "writing": "Writing",
              "listening_talking": "Listening and talking", "numeracy": "Numeracy"}
_ORGANISER_KEYS = {"reading": "reading", "writing": "writing", "numeracy": "numeracy",
                   "listening and talking": "listening_talking",
                   "listening_talking": "listening_talking",
                   "listening & talking": "listening_talking"}
_STAGE_NAMES = {"P1, P4 & P7 combined": "P1, P4 and P7"}
KEYS = ("stage", "organiser", "year")
POSITIONS = ("below the 99.8% limit", "below the 95% limit", "inside the limits",
             "above the 95% limit", "above the 99.8% limit")


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------

def _require(table: pd.DataFrame, columns: Sequence[str], name: str, fix: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"expected a DataFrame, got {type(table).__name__}", table=name,
                        fix=fix)
    for col in columns:
        if col not in table.columns:
            raise DataError("missing column", table=name, column=col, fix=fix)


def _organiser_key(values: pd.Series, table: str) -> pd.Series:
    keys = values.astype(str).str.strip().str.casefold().map(_ORGANISER_KEYS)
    if keys.isna().any():
        bad = values[keys.isna()].iloc[0]
        raise DataError(f"unknown ACEL organiser {bad!r}", table=table, column="organiser",
                        fix=f"organisers are {', '.join(ORGANISERS.values())}")
    return keys


def pupil_counts(attainment: pd.DataFrame, pupils: pd.DataFrame,
                 schools: pd.DataFrame | None = None,
                 stages: Sequence[str] = ("P1", "P4", "P7", "S3")) -> pd.DataFrame:
    """Pupils assessed and achieving the expected level per school, stage, organiser, session.

    Parameters
    ----------
    attainment : DataFrame
        Pupil-level judgements: ``pupil_id, year, organiser, on_track`` (the council's
        extract or the synthetic authority's ``attainment``); rows without a judgement
        (``on_track`` missing) are not counted as assessed.
    pupils : DataFrame
        ``pupil_id, year, seed_code, stage``: where each pupil was in each session.
    schools : DataFrame, optional
        ``seed_code, school_name`` (and ``local_authority``) to name the schools.
    stages : sequence of str
        The ACEL stages.

    Returns
    -------
    DataFrame
        ``seed_code, school_name, year, stage, organiser, assessed, achieved``.
    """
    _require(attainment, ("pupil_id", "year", "organiser", "on_track"), "attainment",
             "pass the pupil-level attainment table (pupil_id, year, organiser, on_track)")
    _require(pupils, ("pupil_id", "year", "seed_code", "stage"), "pupils",
             "pass the pupil table (pupil_id, year, seed_code, stage)")
    a = attainment[attainment["organiser"].astype(str).str.casefold()
                   .isin(list(_ORGANISER_KEYS)) & attainment["on_track"].notna()]
    a = a[["pupil_id", "year", "organiser", "on_track"]]
    p = pupils[pupils["stage"].astype(str).isin(list(stages))][
        ["pupil_id", "year", "seed_code", "stage"]]
    m = a.merge(p, on=["pupil_id", "year"], how="inner")
    if m.empty:
        raise DataError("no ACEL judgement of a pupil at P1, P4, P7 or S3", table="attainment",
                        fix="check that attainment and pupils share pupil_id and year")
    m["organiser"] = _organiser_key(m["organiser"], "attainment")
    m["on"] = m["on_track"].astype(bool).astype(int)
    out = (m.groupby(["seed_code", "year", "stage", "organiser"], observed=True)["on"]
           .agg(assessed="size", achieved="sum").reset_index())
    out["seed_code"] = out["seed_code"].astype(str)
    out["year"] = out["year"].astype(int)
    if schools is not None:
        _require(schools, ("seed_code", "school_name"), "schools",
                 "pass the schools table (seed_code, school_name)")
        names = schools.assign(seed_code=schools["seed_code"].astype(str)) \
            .drop_duplicates("seed_code").set_index("seed_code")
        out["school_name"] = out["seed_code"].map(names["school_name"]).fillna(
            out["seed_code"])
        if "local_authority" in names:
            out["local_authority"] = out["seed_code"].map(names["local_authority"])
    else:
        out["school_name"] = out["seed_code"]
    out.attrs["source"] = "pupil records"
    return out


def official_counts(expected: pd.DataFrame) -> pd.DataFrame:
    """The published ACEL file as counts, from :func:`~nlc_eval.acel_model.expected_acel`.

    Call ``expected_acel(acel, stats, publish=False)`` on all of Scotland first. The number
    of pupils assessed is not published, so the school's census roll in those stages
    (``n_pupils``) stands in for it and ``achieved = share x roll`` (not a whole number);
    ``expected`` (the SIMD-based expectation) becomes the column of the same name, as a
    proportion. The session ``2021/22`` becomes ``year`` 2021 (the year it starts).
    """
    _require(expected, ("seed_code", "stage", "organiser", "n_pupils", "actual", "expected"),
             "expected ACEL", "pass expected_acel(..., publish=False) output")
    if expected.attrs.get("disclosure"):
        raise DataError("the table has been through suppression", table="expected ACEL",
                        fix="call expected_acel(..., publish=False): the funnel needs every "
                            "school's value; suppress the funnel's own output instead")
    meta = expected.attrs.get("acel_model", {})
    session = str(meta.get("session", ""))
    if not session[:4].isdigit():
        raise DataError("the ACEL session is not known", table="expected ACEL",
                        fix="pass the output of expected_acel (it records the session)")
    d = expected.dropna(subset=["n_pupils", "actual", "expected"])
    out = pd.DataFrame({
        "seed_code": d["seed_code"].astype(str).to_numpy(),
        "school_name": (d["school_name"] if "school_name" in d else d["seed_code"])
        .astype(str).to_numpy(),
        "year": int(session[:4]),
        "stage": d["stage"].astype(str).map(lambda s: _STAGE_NAMES.get(s, s)).to_numpy(),
        "organiser": _organiser_key(d["organiser"], "expected ACEL").to_numpy(),
        "assessed": d["n_pupils"].astype(float).to_numpy(),
        "achieved": (d["actual"].astype(float) / 100 * d["n_pupils"].astype(float)).to_numpy(),
        "expected": (d["expected"].astype(float) / 100).to_numpy(),
    })
    if "local_authority" in d:
        out["local_authority"] = d["local_authority"].astype(str).to_numpy()
    out.attrs["source"] = "published ACEL"
    out.attrs["acel_model"] = meta
    return out


# ---------------------------------------------------------------------------
# The statistics
# ---------------------------------------------------------------------------

def winsorise(z: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """Values below the ``fraction`` quantile set to it, and above ``1 - fraction`` likewise.

    >>> winsorise(np.arange(11.0), 0.1).tolist()
    [1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 9.0]
    """
    z = np.asarray(z, dtype=float)
    if not 0 <= fraction < 0.5:
        raise DataError(f"winsorising fraction {fraction} is outside [0, 0.5)",
                        fix="use a fraction such as 0.1 (10% at each end)")
    if fraction == 0 or z.size == 0:
        return z.copy()
    lo, hi = np.quantile(z, [fraction, 1 - fraction])
    return np.clip(z, lo, hi)


def winsor_consistency(fraction: float) -> float:
    """``E[w(Z)^2]`` for ``Z ~ N(0, 1)`` winsorised at its ``fraction`` quantiles.

    The mean square of winsorised z-scores estimates ``c * phi``, not ``phi``: dividing by
    ``c`` makes the winsorised estimate consistent when the z-scores are normal.

    >>> round(winsor_consistency(0.1), 4)
    0.6787
    """
    if fraction == 0:
        return 1.0
    q = float(stats.norm.ppf(1 - fraction))
    return float((1 - 2 * fraction) - 2 * q * stats.norm.pdf(q) + 2 * fraction * q * q)


def overdispersion(z: np.ndarray, s: np.ndarray, *, winsor: float = 0.1,
                   dof: int | None = None, consistent: bool = True) -> dict:
    """Spiegelhalter's over-dispersion estimates from unadjusted z-scores.

    Parameters
    ----------
    z : array
        ``(y - target) / s`` of each unit.
    s : array
        Each unit's standard error under the target (``w = 1 / s^2``).
    winsor : float
        Fraction winsorised at each end before ``phi`` is estimated.
    dof : int, optional
        Degrees of freedom of the test of ``I * phi`` (default ``I - 1``).
    consistent : bool, default True
        Divide the winsorised mean square by :func:`winsor_consistency` (``False``: the
        published formula as it stands, which under-estimates ``phi`` by that factor,
        0.68 at 10%, when the z-scores are normal).

    Returns
    -------
    dict
        ``units``, ``phi_winsorised`` (Spiegelhalter's ``mean(z_w^2)``), ``consistency``
        (the divisor used, 1 when ``consistent=False``), ``phi`` (the estimate used, may
        be below 1), ``chi2`` (``I * phi``), ``dof``, ``p_value`` (of no over-dispersion),
        ``tau2`` (additive variance, >= 0).

    Examples
    --------
    >>> r = overdispersion(np.array([-2.0, -1.0, 0.0, 1.0, 3.0]), np.full(5, 0.1), winsor=0)
    >>> round(r["phi"], 6), round(r["tau2"], 6)
    (3.0, 0.0275)
    """
    z = np.asarray(z, dtype=float)
    s = np.asarray(s, dtype=float)
    units = int(z.size)
    c = winsor_consistency(winsor) if consistent else 1.0
    if units < 2:
        return {"units": units, "phi_winsorised": float("nan"), "consistency": c,
                "phi": float("nan"), "chi2": float("nan"), "dof": 0,
                "p_value": float("nan"), "tau2": 0.0}
    zw = winsorise(z, winsor)
    phi_w = float(np.mean(zw**2))
    phi = phi_w / c
    dof = units - 1 if dof is None else int(dof)
    chi2 = units * phi
    w = 1 / s**2
    denom = float(w.sum() - (w**2).sum() / w.sum())
    excess = chi2 - (units - 1)
    tau2 = float(excess / denom) if excess > 0 and denom > 0 else 0.0
    return {"units": units, "phi_winsorised": phi_w, "consistency": c, "phi": phi,
            "chi2": float(chi2), "dof": dof, "p_value": float(stats.chi2.sf(chi2, dof)),
            "tau2": tau2}


def _mid_cdf(x: np.ndarray, n: np.ndarray, t: np.ndarray) -> np.ndarray:
    return stats.binom.cdf(x - 1, n, t) + 0.5 * stats.binom.pmf(x, n, t)


def mid_p_z(x, n, t) -> np.ndarray:
    """Exact binomial z-score: ``Phi^-1(P(X < x) + P(X = x) / 2)``, ``X ~ Bin(n, t)``.

    >>> round(float(mid_p_z(10, 10, 0.5)), 3)
    3.297
    """
    x = np.rint(np.asarray(x, dtype=float))
    n = np.asarray(n, dtype=float)
    t = np.clip(np.asarray(t, dtype=float), 1e-12, 1 - 1e-12)
    return stats.norm.ppf(_mid_cdf(x, n, t))


def exact_limits(n: int, target: float, level: float) -> tuple[float, float]:
    """Exact (mid-p) binomial control limits of a share at size ``n`` around ``target``.

    The upper limit lies between ``(k - 1) / n`` and ``k / n`` where ``k`` is the fewest
    pupils achieving that put a school above it (``P(X > k) + P(X = k)/2 < (1 - level)/2``),
    interpolated on the mid-p distribution function as Spiegelhalter (2005) interpolates
    the binomial one, so that a share is above the limit exactly when it is flagged; the
    lower limit likewise. Without such a ``k`` the limit is 1 (or 0): no school of that
    size can be flagged on that side.

    >>> lo, hi = exact_limits(100, 0.5, 0.95)
    >>> 0.39 < lo < 0.41 and 0.59 < hi < 0.61
    True
    """
    n = int(n)
    if n <= 0:
        raise DataError(f"{n} pupils: control limits need at least one",
                        fix="leave out schools with no pupils assessed")
    a = (1 - level) / 2
    k = np.arange(n + 1)
    g = _mid_cdf(k, n, float(np.clip(target, 1e-12, 1 - 1e-12)))
    above = np.flatnonzero(g > 1 - a)
    if above.size and above[0] > 0:
        kk = int(above[0])
        gamma = (1 - a - g[kk - 1]) / (g[kk] - g[kk - 1])
        hi = (kk - 1 + gamma) / n
    elif above.size:
        hi = 0.0
    else:
        hi = 1.0
    below = np.flatnonzero(g < a)
    if below.size and below[-1] < n:
        kk = int(below[-1])
        gamma = (g[kk + 1] - a) / (g[kk + 1] - g[kk])
        lo = (kk + 1 - gamma) / n
    elif below.size:
        lo = 1.0
    else:
        lo = 0.0
    return float(lo), float(hi)


def _z_level(level: float) -> float:
    return float(stats.norm.ppf(1 - (1 - level) / 2))


def _position(z: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    z95, z998 = (_z_level(v) for v in levels)
    out = np.full(z.shape, POSITIONS[2], dtype=object)
    out[z > z95] = POSITIONS[3]
    out[z > z998] = POSITIONS[4]
    out[z < -z95] = POSITIONS[1]
    out[z < -z998] = POSITIONS[0]
    out[~np.isfinite(z)] = None
    return out


def _check(method: str, winsor: float, levels: Sequence[float]) -> tuple[float, float]:
    if method not in METHODS:
        raise DataError(f"method={method!r} unknown",
                        fix=f"use one of {', '.join(METHODS)}")
    if not 0 <= winsor < 0.5:
        raise DataError(f"winsor={winsor} is outside [0, 0.5)", fix="use e.g. 0.1")
    levels = tuple(float(v) for v in levels)
    if len(levels) != 2 or not 0.5 < levels[0] < levels[1] < 1:
        raise DataError(f"levels={levels} must be two levels such as (0.95, 0.998)",
                        fix="pass levels=(0.95, 0.998)")
    return levels


def _clean(counts: pd.DataFrame, name: str) -> pd.DataFrame:
    _require(counts, ("seed_code", "year", "stage", "organiser", "assessed", "achieved"),
             name, "pass pupil_counts() or official_counts() output")
    d = counts.copy()
    d["seed_code"] = d["seed_code"].astype(str)
    if "school_name" not in d:
        d["school_name"] = d["seed_code"]
    n = pd.to_numeric(d["assessed"], errors="coerce").astype(float)
    x = pd.to_numeric(d["achieved"], errors="coerce").astype(float)
    bad = n.notna() & x.notna() & ((x < 0) | (x > n + 1e-9))
    if bad.any():
        i = d.index[bad.to_numpy()][0]
        raise DataError(f"{x[i]:g} achieving of {n[i]:g} assessed", table=name,
                        column="achieved", row=i,
                        fix="achieved must lie between 0 and the pupils assessed")
    if d.duplicated(["seed_code", *KEYS]).any():
        i = d.index[d.duplicated(["seed_code", *KEYS]).to_numpy()][0]
        raise DataError("the same school, stage, organiser and session twice", table=name,
                        row=i, fix="give one row per school, stage, organiser and session")
    d["assessed"], d["achieved"] = n, x
    d = d[n.notna() & x.notna() & (n > 0)].reset_index(drop=True)
    d["year"] = d["year"].astype(int)
    return d


# ---------------------------------------------------------------------------
# Funnels
# ---------------------------------------------------------------------------

@dataclass
class FunnelResult:
    """Schools against their target with control limits, per stage, organiser and session.

    Attributes
    ----------
    schools : DataFrame
        One row per school and group: ``seed_code, school_name, stage, organiser, year,
        assessed, achieved, share, target, plotted, z, z_adjusted, low_95, high_95,
        low_998, high_998, position, outside_95, outside_998`` (shares as proportions; the
        limits are at the school's size on the plotted scale).
    dispersion : DataFrame
        Per group: schools, ``target_mean`` (``tbar``), ``phi``, ``chi2``, ``dof``,
        ``p_value``, ``tau2``, ``adjustment`` (what was applied, in words).
    target, method, levels, winsor :
        As passed to :func:`funnel`.
    assumptions : list of str
        What the limits assume, in plain words (shown with every table and figure).
    """

    schools: pd.DataFrame
    dispersion: pd.DataFrame
    target: str
    method: str
    levels: tuple[float, float]
    winsor: float
    assumptions: list[str] = field(default_factory=list)

    def groups(self) -> list[tuple[str, str, int]]:
        """The (stage, organiser, year) groups, in order."""
        return [tuple(k) for k in self.dispersion[list(KEYS)].itertuples(index=False)]

    def curve(self, stage: str, organiser: str, year: int, points: int = 120
              ) -> pd.DataFrame:
        """The funnel of one group: ``assessed, centre, low_95, high_95, low_998, high_998``."""
        row = self._group(stage, organiser, year)
        g = self.schools[(self.schools["stage"] == stage)
                         & (self.schools["organiser"] == organiser)
                         & (self.schools["year"] == int(year))]
        n_min = max(1.0, float(g["assessed"].min()) * 0.9)
        n_max = float(g["assessed"].max()) * 1.05
        if self.method == "none" and self.target == "authority":
            n = np.unique(np.round(np.geomspace(n_min, n_max, points)).astype(int))
        else:
            n = np.geomspace(n_min, n_max, points)
        tbar = float(row["target_mean"])
        out = {"assessed": n, "centre": np.full(n.shape, tbar)}
        for lev, tag in zip(self.levels, ("95", "998"), strict=True):
            if self.method == "none" and self.target == "authority":
                lims = np.array([exact_limits(int(k), tbar, lev) for k in n])
                out[f"low_{tag}"], out[f"high_{tag}"] = lims[:, 0], lims[:, 1]
            else:
                sd = _sigma(n, tbar, self.method, float(row["phi"]), float(row["tau2"]),
                            bool(row["adjusted"]))
                out[f"low_{tag}"] = tbar - _z_level(lev) * sd
                out[f"high_{tag}"] = tbar + _z_level(lev) * sd
        return pd.DataFrame(out)

    def _group(self, stage, organiser, year) -> pd.Series:
        d = self.dispersion
        m = (d["stage"] == stage) & (d["organiser"] == organiser) & (d["year"] == int(year))
        if not m.any():
            raise DataError(f"no funnel for {stage}, {organiser}, {year}",
                            fix="pick one of FunnelResult.groups()")
        return d[m].iloc[0]

    def flagged(self, level: float = 0.998) -> pd.DataFrame:
        """Schools outside the ``level`` limits (unpublished: includes small schools)."""
        col = {self.levels[0]: "outside_95", self.levels[1]: "outside_998"}.get(level)
        if col is None:
            raise DataError(f"level {level} is not one of {self.levels}",
                            fix=f"use one of {self.levels}")
        return self.schools[self.schools[col]].reset_index(drop=True)

    def publishable(self, threshold: int = 5) -> pd.DataFrame:
        """:attr:`schools` with shares that would disclose a small count hidden.

        A share (and the z-score and position, from which it could be worked out) is
        hidden when fewer than ``threshold`` pupils were assessed, or when 1 to
        ``threshold - 1`` pupils achieved or did not achieve the level (with the published
        file, where the census roll stands in for pupils assessed, the counts are share x
        roll, rounded). ``attrs["disclosure"]`` records how many were hidden.
        """
        from nlc_eval.disclosure import suppress

        s = self.schools.copy()
        n = np.round(s["assessed"].to_numpy(float)).astype("int64")
        x = np.round(s["achieved"].to_numpy(float)).astype("int64")
        table = pd.DataFrame({"assessed": n, "achieved": x, "not_achieved": n - x,
                              "share": s["share"].to_numpy(float)})
        # achieved and not achieved are never published, so no sum across the row needs
        # protecting: the share goes wherever either count is 1 to threshold - 1
        res = suppress(table, threshold, margins=False,
                       count_columns=["assessed", "achieved", "not_achieved"],
                       rate_columns={"share": ["achieved", "not_achieved"]},
                       exact=False, group_size="assessed")
        hide = res["share"].isna().to_numpy()
        out = s.copy()
        out["assessed"] = res["assessed"].to_numpy()
        for col in ("achieved", "share", "plotted", "z", "z_adjusted", "position",
                    "outside_95", "outside_998"):
            if col in out:
                out[col] = out[col].astype(object).where(~hide, None)
        for col in ("share", "plotted", "z", "z_adjusted"):
            out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
        out = out.drop(columns=["achieved"])
        out["shown"] = ~hide
        out.attrs = {**self.schools.attrs,
                     "disclosure": {"threshold": threshold, "hidden_shares": int(hide.sum())}}
        return out

    def summary(self) -> str:
        """One paragraph: groups, schools outside the limits, the adjustment made."""
        s = self.schools
        n95, n998 = int(s["outside_95"].sum()), int(s["outside_998"].sum())
        return (f"{len(self.dispersion)} funnels (stage, organiser and session) of "
                f"{s['seed_code'].nunique()} schools against the "
                f"{'authority mean' if self.target == 'authority' else 'SIMD-based expectation'}"
                f": {n95} of {len(s)} school results outside the 95% limits and {n998} outside "
                f"the 99.8% limits. " + " ".join(self.assumptions))

    def plot(self, stage: str, organiser: str, year: int, *, highlight=None, ax=None,
             table: pd.DataFrame | None = None):
        """The funnel plot of one group (see :func:`plot_funnel`)."""
        return plot_funnel(self, stage, organiser, year, highlight=highlight, ax=ax,
                           table=table)


def _sigma(n, t, method: str, phi: float, tau2: float, adjusted: bool) -> np.ndarray:
    base = np.asarray(t, dtype=float) * (1 - np.asarray(t, dtype=float)) / np.asarray(
        n, dtype=float)
    if not adjusted or method == "none":
        return np.sqrt(base)
    if method == "multiplicative":
        return np.sqrt(max(phi, 1.0) * base)
    return np.sqrt(base + tau2)


def _adjust(y, t, n, x, *, method, winsor, dof, exact: bool, consistent: bool
            ) -> tuple[np.ndarray, dict]:
    """z-scores of one group and its over-dispersion record."""
    t_c = np.clip(t, 1e-9, 1 - 1e-9)
    s = np.sqrt(t_c * (1 - t_c) / n)
    z = (y - t) / s
    info = overdispersion(z, s, winsor=winsor, dof=dof, consistent=consistent)
    units = info["units"]
    info["adjusted"] = method != "none" and units >= MIN_SCHOOLS
    if method == "none":
        info["adjustment"] = "none: exact binomial limits" if exact else "none"
        z_adj = mid_p_z(x, n, t) if exact else z
    elif units < MIN_SCHOOLS:
        info["adjustment"] = (f"none: {units} schools, too few to estimate over-dispersion "
                              f"(needs {MIN_SCHOOLS})")
        z_adj = z
    elif method == "multiplicative":
        phi = max(info["phi"], 1.0)
        info["adjustment"] = (f"multiplicative, phi {phi:.2f}" if info["phi"] > 1
                              else "none needed: phi at most 1")
        z_adj = z / np.sqrt(phi)
    else:
        info["adjustment"] = (f"additive, tau {np.sqrt(info['tau2']):.3f}"
                              if info["tau2"] > 0 else "none needed: tau^2 is 0")
        z_adj = (y - t) / np.sqrt(s**2 + info["tau2"])
    return z_adj, {**info, "z": z}


def funnel(counts: pd.DataFrame, *, target: str = "authority", method: str = "additive",
           winsor: float = 0.1, levels: Sequence[float] = LEVELS,
           local_authority: str | None = None, consistent: bool = True) -> FunnelResult:
    """Each school's share achieving the expected level against its target, with limits.

    Parameters
    ----------
    counts : DataFrame
        :func:`pupil_counts` or :func:`official_counts` output (``seed_code, year, stage,
        organiser, assessed, achieved``; ``expected`` for ``target="simd"``).
    target : {"authority", "simd"}
        The authority's own pooled share, or each school's SIMD-based expectation.
    method : {"additive", "multiplicative", "none"}
        Over-dispersion adjustment (see the module docstring).
    winsor : float
        Fraction of z-scores winsorised at each end when over-dispersion is estimated.
    levels : pair of float
        The inner and outer limits.
    local_authority : str, optional
        Report only this authority's schools. With ``target="authority"`` everything
        (target and over-dispersion) is computed on its schools; with ``"simd"`` the
        over-dispersion is estimated on every school given (e.g. all of Scotland).
    consistent : bool, default True
        Correct the winsorised ``phi`` for winsorising (see :func:`overdispersion`).

    Returns
    -------
    FunnelResult
    """
    levels = _check(method, winsor, levels)
    if target not in TARGETS:
        raise DataError(f"target={target!r} unknown", fix=f"use one of {', '.join(TARGETS)}")
    d = _clean(counts, "ACEL counts")
    if target == "simd" and "expected" not in d:
        raise DataError("missing column", table="ACEL counts", column="expected",
                        fix="target='simd' needs the SIMD-based expectation: use "
                            "official_counts(expected_acel(..., publish=False))")
    if local_authority is not None:
        if "local_authority" not in d:
            raise DataError("missing column", table="ACEL counts", column="local_authority",
                            fix="pass counts with local_authority, or no local_authority")
        mine = d["local_authority"] == local_authority
        if not mine.any():
            raise DataError(f"no schools in {local_authority!r}", table="ACEL counts",
                            column="local_authority", fix="use the name as published")
        if target == "authority":
            d = d[mine].reset_index(drop=True)
    if d.empty:
        raise DataError("no school with pupils assessed", table="ACEL counts",
                        fix="pass counts with assessed > 0")
    exact = method == "none"
    parts, rows = [], []
    for (stage, organiser, year), g in d.groupby(list(KEYS), sort=True):
        g = g.copy()
        n, x = g["assessed"].to_numpy(float), g["achieved"].to_numpy(float)
        y = x / n
        if target == "authority":
            t = np.full(len(g), x.sum() / n.sum())
            dof = len(g) - 1
        else:
            t = g["expected"].astype(float).to_numpy()
            if not np.all((t > 0) & (t < 1)):
                raise DataError("an expected share outside (0, 1)", table="ACEL counts",
                                column="expected", fix="give expected shares as proportions")
            dof = len(g)
        z_adj, info = _adjust(y, t, n, x, method=method, winsor=winsor, dof=dof,
                              exact=exact, consistent=consistent)
        local = (g["local_authority"] == local_authority).to_numpy() \
            if local_authority is not None else np.ones(len(g), bool)
        tbar = float(np.average(t[local], weights=n[local]))
        sd = _sigma(n, tbar, method, info["phi"], info["tau2"], info["adjusted"])
        g["share"], g["target"], g["z"], g["z_adjusted"] = y, t, info["z"], z_adj
        if target == "authority":
            g["plotted"] = y
        else:
            g["plotted"] = tbar + z_adj * sd
        for lev, tag in zip(levels, ("95", "998"), strict=True):
            if exact and target == "authority":
                lims = np.array([exact_limits(int(k), tbar, lev) for k in np.rint(n)])
                g[f"low_{tag}"], g[f"high_{tag}"] = lims[:, 0], lims[:, 1]
            else:
                g[f"low_{tag}"] = tbar - _z_level(lev) * sd
                g[f"high_{tag}"] = tbar + _z_level(lev) * sd
        g["position"] = _position(z_adj, levels)
        g["outside_95"] = np.abs(z_adj) > _z_level(levels[0])
        g["outside_998"] = np.abs(z_adj) > _z_level(levels[1])
        parts.append(g[local])
        rows.append({"stage": stage, "organiser": organiser, "year": int(year),
                     "schools": int(local.sum()), "schools_in_estimate": info["units"],
                     "target_mean": tbar, "phi_winsorised": info["phi_winsorised"],
                     "phi": info["phi"], "chi2": info["chi2"],
                     "dof": info["dof"], "p_value": info["p_value"], "tau2": info["tau2"],
                     "adjusted": info["adjusted"], "adjustment": info["adjustment"]})
    out = pd.concat(parts, ignore_index=True)
    cols = ["seed_code", "school_name", *(["local_authority"] if "local_authority" in out
                                         else []), "stage", "organiser", "year", "assessed",
            "achieved", "share", "target", "plotted", "z", "z_adjusted", "low_95", "high_95",
            "low_998", "high_998", "position", "outside_95", "outside_998"]
    out = out[cols]
    out.attrs = {"source": counts.attrs.get("source", "")}
    disp = pd.DataFrame(rows)
    return FunnelResult(out, disp, target, method, levels, winsor,
                        _assumptions(target, method, winsor, levels, counts, consistent))


def _assumptions(target, method, winsor, levels, counts, consistent) -> list[str]:
    pct = [f"{100 * v:g}%" for v in levels]
    words = []
    if target == "authority":
        words.append("Each school is compared with the authority's own share achieving the "
                     "expected level at that stage, in that organiser and session; "
                     "differences in intake are not taken into account.")
    else:
        words.append("Each school is compared with what schools with its SIMD profile "
                     "achieve across Scotland (a model of every Scottish school); the "
                     "funnel shows shares adjusted for intake.")
    words.append(f"The limits ({pct[0]} and {pct[1]}) are narrower for larger cohorts: with "
                 f"ordinary variation about 1 school result in 20 lies outside the {pct[0]} "
                 f"limits and about 1 in 500 outside the {pct[1]} limits by chance.")
    if method == "additive":
        words.append("They allow for ordinary differences between schools beyond chance "
                     "(over-dispersion), estimated in each funnel as an additive "
                     "between-school variance (random effects, a moment estimator on "
                     f"z-scores winsorised at {100 * winsor:g}% at each end"
                     + (", corrected for winsorising)." if consistent and winsor else ")."))
    elif method == "multiplicative":
        words.append("They are widened by a multiplicative over-dispersion factor estimated "
                     f"in each funnel from z-scores winsorised at {100 * winsor:g}% at each "
                     "end.")
    else:
        words.append("They are exact binomial limits that allow for chance alone, not for "
                     "ordinary differences between schools.")
    if counts.attrs.get("source") == "published ACEL":
        words.append("The number of pupils assessed is not published; the school's census "
                     "roll at those stages stands in for it.")
    words.append("Outside the limits is a prompt for a moderation conversation, not a "
                 "verdict: a school may be doing very well, struggling, or judging "
                 "differently.")
    return words


# ---------------------------------------------------------------------------
# Year to year
# ---------------------------------------------------------------------------

@dataclass
class ChangeResult:
    """Changes in each school's share between consecutive sessions, with limits.

    ``changes`` has one row per school, stage, organiser and pair of sessions: ``year``
    (the later session), ``assessed_before``, ``assessed``, ``share_before``, ``share``,
    ``change``, ``target_change`` (the authority's pooled change), ``z``, ``z_adjusted``,
    ``position``, ``outside_95``, ``outside_998``; ``dispersion`` one row per group.
    """

    changes: pd.DataFrame
    dispersion: pd.DataFrame
    method: str
    levels: tuple[float, float]
    winsor: float
    assumptions: list[str] = field(default_factory=list)

    def flagged(self, level: float = 0.998) -> pd.DataFrame:
        """Changes outside the ``level`` limits (unpublished)."""
        col = {self.levels[0]: "outside_95", self.levels[1]: "outside_998"}.get(level)
        if col is None:
            raise DataError(f"level {level} is not one of {self.levels}",
                            fix=f"use one of {self.levels}")
        return self.changes[self.changes[col]].reset_index(drop=True)

    def publishable(self, threshold: int = 5) -> pd.DataFrame:
        """:attr:`changes` with both sessions' shares hidden where either would disclose."""
        c = self.changes.copy()
        hide = np.zeros(len(c), bool)
        for suffix in ("_before", ""):
            n = np.round(c[f"assessed{suffix}"].to_numpy(float))
            x = np.round(c[f"achieved{suffix}"].to_numpy(float))
            hide |= (n < threshold) | ((x >= 1) & (x < threshold)) | (
                (n - x >= 1) & (n - x < threshold))
        for col in ("share_before", "share", "change", "z", "z_adjusted"):
            c[col] = c[col].where(~hide)
        for col in ("position", "outside_95", "outside_998"):
            c[col] = c[col].astype(object).where(~hide, None)
        c = c.drop(columns=["achieved_before", "achieved"])
        c["shown"] = ~hide
        c.attrs = {"disclosure": {"threshold": threshold, "hidden_shares": int(hide.sum())}}
        return c


def year_to_year(counts: pd.DataFrame, *, method: str = "additive", winsor: float = 0.1,
                 levels: Sequence[float] = LEVELS, consistent: bool = True) -> ChangeResult:
    """Schools whose share moves between consecutive sessions more than cohort size allows.

    The change ``y_t - y_(t-1)`` of each school is compared with the authority's pooled
    change over the schools present in both sessions; its standard error is that of the
    difference of two independent cohorts, ``sqrt(p (1 - p) (1/n_(t-1) + 1/n_t))`` with
    ``p = (x_(t-1) + x_t + 0.5) / (n_(t-1) + n_t + 1)`` (the school's own pooled share), and
    over-dispersion of changes is allowed for as in :func:`funnel` (``method="none"`` uses
    the normal approximation).
    """
    levels = _check(method, winsor, levels)
    d = _clean(counts, "ACEL counts")
    years = sorted(d["year"].unique())
    if len(years) < 2:
        raise DataError(f"one session only ({years[0] if years else 'none'})",
                        table="ACEL counts", column="year",
                        fix="year-to-year consistency needs two or more sessions")
    prev = d.assign(year=d["year"] + 1)[["seed_code", *KEYS, "assessed", "achieved"]]
    m = d.merge(prev, on=["seed_code", *KEYS], suffixes=("", "_before"))
    parts, rows = [], []
    for (stage, organiser, year), g in m.groupby(list(KEYS), sort=True):
        g = g.copy()
        n0, x0 = g["assessed_before"].to_numpy(float), g["achieved_before"].to_numpy(float)
        n1, x1 = g["assessed"].to_numpy(float), g["achieved"].to_numpy(float)
        change = x1 / n1 - x0 / n0
        target = x1.sum() / n1.sum() - x0.sum() / n0.sum()
        p = (x0 + x1 + 0.5) / (n0 + n1 + 1)
        s = np.sqrt(p * (1 - p) * (1 / n0 + 1 / n1))
        z = (change - target) / s
        info = overdispersion(z, s, winsor=winsor, dof=len(g) - 1, consistent=consistent)
        adjusted = method != "none" and info["units"] >= MIN_SCHOOLS
        if not adjusted:
            z_adj = z
            info["adjustment"] = "none" if method == "none" else (
                f"none: {info['units']} schools, too few to estimate over-dispersion")
        elif method == "multiplicative":
            z_adj = z / np.sqrt(max(info["phi"], 1.0))
            info["adjustment"] = f"multiplicative, phi {max(info['phi'], 1.0):.2f}"
        else:
            z_adj = (change - target) / np.sqrt(s**2 + info["tau2"])
            info["adjustment"] = f"additive, tau {np.sqrt(info['tau2']):.3f}"
        g["share_before"], g["share"], g["change"] = x0 / n0, x1 / n1, change
        g["target_change"], g["z"], g["z_adjusted"] = target, z, z_adj
        g["position"] = _position(z_adj, levels)
        g["outside_95"] = np.abs(z_adj) > _z_level(levels[0])
        g["outside_998"] = np.abs(z_adj) > _z_level(levels[1])
        parts.append(g)
        rows.append({"stage": stage, "organiser": organiser, "year": int(year),
                     "schools": int(len(g)), "target_change": float(target),
                     "phi": info["phi"], "p_value": info["p_value"], "tau2": info["tau2"],
                     "adjustment": info["adjustment"]})
    out = pd.concat(parts, ignore_index=True)
    out = out[["seed_code", "school_name", "stage", "organiser", "year", "assessed_before",
               "achieved_before", "assessed", "achieved", "share_before", "share", "change",
               "target_change", "z", "z_adjusted", "position", "outside_95", "outside_998"]]
    words = ["Each school's change from one session to the next is compared with the "
             "authority's own change; a different cohort of pupils is assessed each "
             "session, so some movement is expected, more in small schools.",
             "The limits allow for chance given both cohorts' sizes" + (
                 " and for ordinary year-to-year differences between schools "
                 "(over-dispersion, estimated in each stage and organiser)."
                 if method != "none" else "."),
             "A change outside the limits is a prompt to look at how judgements were "
             "made in both sessions, not a verdict."]
    return ChangeResult(out, pd.DataFrame(rows), method, levels, winsor, words)


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------

_MARKERS = {POSITIONS[0]: ("v", 2), POSITIONS[1]: ("v", 2), POSITIONS[2]: ("o", 0),
            POSITIONS[3]: ("^", 1), POSITIONS[4]: ("^", 1)}


def plot_funnel(result: FunnelResult, stage: str, organiser: str, year: int, *,
                highlight=None, ax=None, table: pd.DataFrame | None = None,
                legend: bool = True):
    """Funnel plot of one stage, organiser and session in the house style.

    Schools are circles inside the limits, upward triangles above and downward triangles
    below (shape as well as colour); the target is a solid line, the 95% limits dashed and
    the 99.8% limits dotted, each named in the legend. ``highlight`` (a seed code or a list
    of them) draws those schools as labelled diamonds. ``table`` defaults to
    :meth:`FunnelResult.publishable`: a hidden share is not drawn.
    """
    import matplotlib.pyplot as plt

    from nlc_eval import plots

    if ax is None:
        _, ax = plt.subplots(figsize=(plots.WIDTH, 4.4))
    tab = result.publishable() if table is None else table
    g = tab[(tab["stage"] == stage) & (tab["organiser"] == organiser)
            & (tab["year"] == int(year))]
    g = g[g["shown"]] if "shown" in g else g
    curve = result.curve(stage, organiser, year)
    # a share cannot leave 0-100%: normal-approximation limits are drawn clipped to it
    curve[["low_95", "high_95", "low_998", "high_998"]] = curve[
        ["low_95", "high_95", "low_998", "high_998"]].clip(0.0, 1.0)
    n = curve["assessed"]
    colours = (plots.BASE, plots.PALETTE[1], plots.PALETTE[2])
    ax.plot(n, 100 * curve["centre"], color=plots.REFERENCE, linewidth=1.4,
            label="target" if result.target == "authority" else "expected (average)")
    for tag, style, name in (("95", "--", "95% limits"), ("998", ":", "99.8% limits")):
        ax.plot(n, 100 * curve[f"low_{tag}"], color=plots.REFERENCE, linestyle=style,
                linewidth=1.2, label=name)
        ax.plot(n, 100 * curve[f"high_{tag}"], color=plots.REFERENCE, linestyle=style,
                linewidth=1.2)
    hl = set() if highlight is None else {str(h) for h in (
        [highlight] if isinstance(highlight, str | int) else highlight)}
    seen = set()
    for pos in POSITIONS:
        rows = g[(g["position"] == pos) & ~g["seed_code"].astype(str).isin(hl)]
        marker, c = _MARKERS[pos]
        if rows.empty:
            continue
        key = pos.split(" ")[0]
        label = {"inside": "inside the limits", "above": "above a limit",
                 "below": "below a limit"}[key]
        ax.scatter(rows["assessed"].astype(float), 100 * rows["plotted"].astype(float),
                   marker=marker, s=30 if key == "inside" else 42,
                   facecolor="none" if key == "inside" else colours[c],
                   edgecolor=colours[c], linewidth=1.1,
                   label=None if key in seen else label, zorder=3)
        seen.add(key)
    mine = g[g["seed_code"].astype(str).isin(hl)]
    if len(mine):
        ax.scatter(mine["assessed"].astype(float), 100 * mine["plotted"].astype(float),
                   marker=plots.MARK_HIGHLIGHT, s=70, color=plots.HIGHLIGHT,
                   edgecolor="#000000", linewidth=0.8, zorder=4,
                   label="highlighted school" if len(mine) == 1 else "highlighted schools")
        if len(mine) <= 4:
            for r in mine.itertuples():
                ax.annotate(str(r.school_name), (float(r.assessed), 100 * float(r.plotted)),
                            xytext=(6, 4), textcoords="offset points", fontsize=9,
                            color="#000000")
    lo = min(100 * curve["low_998"].min(), 100 * g["plotted"].astype(float).min()
             if len(g) else 100)
    hi = max(100 * curve["high_998"].max(), 100 * g["plotted"].astype(float).max()
             if len(g) else 0)
    span = hi - lo
    ax.set_ylim(max(lo - 0.04 * span, -5), min(hi + 0.04 * span, 105))
    ax.set_xlim(0, float(n.max()))
    if legend:
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(0, -0.2), ncol=3,
                  borderaxespad=0, fontsize=9)
    ylab = ("% achieving expected level" if result.target == "authority"
            else "% achieving, adjusted for intake")
    return plots.finish(ax, "", xlabel="Pupils assessed" if result.schools.attrs.get(
        "source") != "published ACEL" else "Pupils on roll at those stages", ylabel=ylab)


def funnel_figure(result: FunnelResult, stage: str, year: int, *, highlight=None,
                  organisers: Sequence[str] | None = None, table: pd.DataFrame | None = None):
    """One figure per stage: a funnel plot of each organiser (2 x 2 panels)."""
    import matplotlib.pyplot as plt

    from nlc_eval import plots

    have = {o for s, o, y in result.groups() if s == stage and y == int(year)}
    orgs = [o for o in (organisers or ORGANISERS) if o in have]
    if not orgs:
        raise DataError(f"no funnel for {stage} in {year}", fix="pick a stage and session "
                        "from FunnelResult.groups()")
    tab = result.publishable() if table is None else table
    cols = 2 if len(orgs) > 1 else 1
    rows = int(np.ceil(len(orgs) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(plots.WIDTH * (1.25 if cols == 2 else 1),
                                                  3.3 * rows + 1.0), squeeze=False)
    for ax, org in zip(axes.flat, orgs, strict=False):
        plot_funnel(result, stage, org, year, highlight=highlight, ax=ax, table=tab,
                    legend=False)
        ax.set_title(ORGANISERS.get(org, org), fontsize=12)
        ax.tick_params(labelsize=10)
        ax.xaxis.label.set_size(10)
        ax.yaxis.label.set_size(10)
    for ax in list(axes.flat)[len(orgs):]:
        ax.set_visible(False)
    handles, labels = {}, {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                labels[lab] = h
    handles = list(labels.values())
    fig.legend(handles, list(labels), loc="lower center", ncol=3, fontsize=10,
               frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.1 if len(labels) > 3 else 0.07, 1, 1))
    return fig


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def funnel_alt_text(result: FunnelResult, stage: str, year: int, *, caption: str = "",
                    highlight=None, table: pd.DataFrame | None = None,
                    names: int = 4) -> str:
    """Alt text of :func:`funnel_figure` from the data: each panel's target and flags."""
    tab = result.publishable() if table is None else table
    hl = set() if highlight is None else {str(h) for h in (
        [highlight] if isinstance(highlight, str | int) else highlight)}
    from nlc_eval.reports.measures import session as session_label

    start = f"{caption}: " if caption else ""
    kind = ("share achieving the expected level" if result.target == "authority"
            else "intake-adjusted share achieving the expected level")
    text = [f"{start}funnel plots of the {kind} against cohort size, {stage}, session "
            f"{session_label(year)}, one panel per organiser, with 95% and 99.8% limits."]
    for org in ORGANISERS:
        g = tab[(tab["stage"] == stage) & (tab["organiser"] == org)
                & (tab["year"] == int(year))]
        if g.empty:
            continue
        disp = result._group(stage, org, year)
        shown = g[g["shown"]] if "shown" in g else g
        hidden = len(g) - len(shown)
        counts = shown["position"].value_counts()
        up = int(counts.get(POSITIONS[3], 0) + counts.get(POSITIONS[4], 0))
        down = int(counts.get(POSITIONS[0], 0) + counts.get(POSITIONS[1], 0))
        out998 = shown[shown["position"].isin([POSITIONS[0], POSITIONS[4]])]
        part = (f"{ORGANISERS[org]}: {'target' if result.target == 'authority' else 'average expected'} "
                f"{_pct(float(disp['target_mean']))}; {len(shown)} schools shown, {up} above "
                f"and {down} below the 95% limits")
        if len(out998):
            listed = [f"{r.school_name} ({r.position.split(' ')[0]})"
                      for r in out998.head(names).itertuples()]
            more = len(out998) - len(listed)
            part += (f", outside the 99.8% limits: {', '.join(listed)}"
                     + (f" and {more} more" if more > 0 else ""))
        if hidden:
            part += f"; {hidden} not shown (small numbers)"
        for r in shown[shown["seed_code"].astype(str).isin(hl)].itertuples():
            part += f"; {r.school_name} (highlighted) {_pct(r.plotted)}, {r.position}"
        for r in g[~g["shown"] & g["seed_code"].astype(str).isin(hl)].itertuples() \
                if "shown" in g else ():
            part += f"; {r.school_name} (highlighted) not shown: small numbers"
        text.append(part + ".")
    text.append("Every value is in the table under the figure.")
    return " ".join(text)
