"""Evaluation design: minimum detectable effect sizes, sample sizes and the data's ICCs.

Before an estimate is read, a design must say what it could detect. This module follows the
formulas of PowerUp! (Dong & Maynard, 2013; the same as Bloom, 2005 and Raudenbush, 1997)
for two- and three-level designs (pupils in schools, pupils in schools in clusters) with the
treatment assigned to pupils, schools or clusters:

    MDES = M(df) * SE,   M(df) = t(1 - alpha/2, df) + t(power, df)

where SE is the standard error of the standardised effect (in SDs of the total outcome
variance) and ``df`` the design's degrees of freedom (e.g. ``J - g - 2`` for ``J`` schools
assigned with ``g`` school-level covariates). Power is the noncentral-t power of the
two-sided test. ICCs and the share of variance explained by covariates at each level
(``R²``) can be estimated from the authority's own data with intervals
(:func:`design_parameters`), so an officer can ask what an evaluation with 23 clusters could
detect.

Designs (``levels``, ``assign``) and their PowerUp! names
------------------------------------------------------
* ``(2, "school")``  CRA2_2 — schools assigned; ``df = J - g - 2``.
* ``(2, "pupil")``   BIRA2_1 — pupils assigned within schools: random school effects
  (``omega`` = variance of the effect across schools / school variance; ``df = J - g - 1``),
  or ``blocks="fixed"`` (BIRA2_1f, ``df = J(n - 2) - g``) or ``"constant"`` (BIRA2_1c,
  ``df = J(n - 1) - g - 1``).
* ``(3, "cluster")`` CRA3_3 — clusters assigned; ``df = K - g - 2``.
* ``(3, "school")``  BCRA3_2 — schools assigned within clusters: random cluster effects
  (``df = K - g - 1``) or ``blocks="fixed"`` (BCRA3_2f, ``df = K(J - 2) - g``).
* ``(3, "pupil")``   BIRA3_1 — pupils assigned within schools, random effects at both
  levels; ``df = K - g - 1``.

References
----------
Dong, N. & Maynard, R. (2013). PowerUp!: A tool for calculating minimum detectable effect
sizes and minimum required sample sizes for experimental and quasi-experimental design
studies. Journal of Research on Educational Effectiveness, 6(1), 24-67.
Bloom, H. S. (2005). Randomizing groups to evaluate place-based programs. In *Learning More
from Social Experiments*. Russell Sage Foundation.

Examples
--------
>>> round(mdes(pupils_per_school=15, schools=20, icc_school=0.17).mdes, 3)
0.629
>>> schools_needed(0.25, pupils_per_school=60, icc=0.15, r2_school=0.5)
47
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from nlc_eval import formatting as fmt
from nlc_eval.errors import ImpactError

from . import _validate as v

__all__ = ["DesignParameters", "Mdes", "clusters_needed", "design_parameters", "mdes",
           "mdes_of_estimate", "multiplier", "power", "schools_needed"]

_DESIGNS = {(2, "school"): "CRA2_2", (2, "pupil"): "BIRA2_1", (3, "cluster"): "CRA3_3",
            (3, "school"): "BCRA3_2", (3, "pupil"): "BIRA3_1"}


def multiplier(df: float, *, power: float = 0.8, alpha: float = 0.05,
               two_tailed: bool = True) -> float:
    """The MDES multiplier ``M = t(1 - alpha/2, df) + t(power, df)`` (Bloom, 1995).

    Examples
    --------
    >>> round(multiplier(1e9), 2)   # the large-sample 2.80 of Bloom (1995)
    2.8
    """
    _check_prob(power, "power")
    _check_prob(alpha, "alpha")
    if not df >= 1:
        raise ImpactError(f"the design has {df} degrees of freedom, so nothing can be "
                          "detected. Fix: add units at the level of assignment or use fewer "
                          "covariates at that level.")
    t1 = stats.t.ppf(1 - alpha / 2 if two_tailed else 1 - alpha, df)
    t2 = stats.t.ppf(power, df)
    return float(t1 + t2)


def _check_prob(x, name, *, closed=False):
    ok = (0 <= x <= 1) if closed else (0 < x < 1)
    if not (isinstance(x, (int, float, np.floating)) and ok):
        raise ImpactError(f"{name}={x!r} must be a proportion "
                          f"{'from 0 to 1' if closed else 'strictly between 0 and 1'}. "
                          f"Fix: pass e.g. {name}=0.5.")


def _check_count(x, name, least=1):
    if not (isinstance(x, (int, float, np.integer, np.floating)) and x >= least):
        raise ImpactError(f"{name}={x!r}: need a number of at least {least}. Fix: pass the "
                          f"(average) {name.replace('_', ' ')}.")


def _se_df(levels, assign, *, n, J, K, icc_school, icc_cluster, r2_pupil, r2_school,
           r2_cluster, p, g, blocks, omega_school, omega_cluster):
    """Standardised standard error and degrees of freedom of a design (PowerUp! models)."""
    key = (levels, assign)
    if key not in _DESIGNS:
        raise ImpactError(f"no design with levels={levels} and assign={assign!r}. Fix: use "
                          "levels=2 with assign 'school' or 'pupil', or levels=3 with "
                          "'cluster', 'school' or 'pupil'.")
    pq = p * (1 - p)
    r1 = (1 - icc_school - icc_cluster) * (1 - r2_pupil)
    if levels == 2:
        if assign == "school":
            return math.sqrt(icc_school * (1 - r2_school) / (pq * J) + r1 / (pq * J * n)), J - g - 2
        if blocks == "random":
            return (math.sqrt(icc_school * omega_school / J + r1 / (pq * J * n)), J - g - 1)
        if blocks == "fixed":
            return math.sqrt(r1 / (pq * J * n)), J * (n - 2) - g
        return math.sqrt(r1 / (pq * J * n)), J * (n - 1) - g - 1
    if assign == "cluster":
        se = math.sqrt(icc_cluster * (1 - r2_cluster) / (pq * K)
                       + icc_school * (1 - r2_school) / (pq * J * K) + r1 / (pq * J * K * n))
        return se, K - g - 2
    if assign == "school":
        if blocks == "fixed":
            r1f = (1 - icc_school) * (1 - r2_pupil)
            se = math.sqrt(icc_school * (1 - r2_school) / (pq * J * K) + r1f / (pq * J * K * n))
            return se, K * (J - 2) - g
        se = math.sqrt(icc_cluster * omega_cluster / K
                       + icc_school * (1 - r2_school) / (pq * J * K) + r1 / (pq * J * K * n))
        return se, K - g - 1
    se = math.sqrt(icc_cluster * omega_cluster / K + icc_school * omega_school / (J * K)
                   + r1 / (pq * J * K * n))
    return se, K - g - 1


@dataclass(frozen=True)
class Mdes:
    """A design's minimum detectable effect size.

    Attributes
    ----------
    mdes : float
        Smallest true effect (in SDs of the outcome) detected with the stated power.
    standard_error : float
        Standard error of the standardised effect estimate.
    df : float
        Degrees of freedom of the test.
    multiplier : float
        ``mdes / standard_error``.
    design : str
        PowerUp! name of the design (e.g. ``"CRA3_3"``).
    power, alpha : float
    parameters : dict
        Everything the calculation used.
    """

    mdes: float
    standard_error: float
    df: float
    multiplier: float
    design: str
    power: float
    alpha: float
    parameters: dict = field(default_factory=dict)

    def __float__(self) -> float:
        return float(self.mdes)

    def sentence(self, sd: float | None = None, units: str = "") -> str:
        """Plain words: what the design could detect (optionally in the outcome's units).

        Examples
        --------
        >>> mdes(pupils_per_school=15, schools=20, icc_school=0.17).sentence()
        'This design could detect an effect of 0.63 SD or more with 80% power (5% significance, two-sided); smaller effects could go unseen.'
        """
        size = f"{fmt.number(self.mdes, max(2, fmt.sig_decimals(self.mdes)))} SD"
        if sd is not None and fmt.finite(sd):
            amount = self.mdes * float(sd)
            size += f" (about {fmt.with_units(amount, fmt.sig_decimals(amount), units)})"
        return (f"This design could detect an effect of {size} or more with "
                f"{fmt.number(100 * self.power, 0)}% power ({fmt.number(100 * self.alpha, 0)}% "
                "significance, two-sided); smaller effects could go unseen.")


def mdes(*, pupils_per_school: float, schools: float, icc_school: float,
         clusters: float | None = None, icc_cluster: float = 0.0, assign: str = "school",
         r2_pupil: float = 0.0, r2_school: float = 0.0, r2_cluster: float = 0.0,
         treated_share: float = 0.5, n_covariates: int = 0, blocks: str = "random",
         omega_school: float = 0.0, omega_cluster: float = 0.0, power: float = 0.8,
         alpha: float = 0.05, two_tailed: bool = True) -> Mdes:
    """Minimum detectable effect size of a two- or three-level design (PowerUp!).

    Parameters
    ----------
    pupils_per_school : float
        Pupils per school (harmonic mean for unequal sizes).
    schools : float
        Two-level: number of schools. Three-level: schools per cluster (harmonic mean).
    icc_school : float
        Share of the outcome's variance between schools (within clusters, for three levels).
    clusters : float, optional
        Number of clusters: gives a three-level design.
    icc_cluster : float
        Share of the variance between clusters (three levels).
    assign : {"pupil", "school", "cluster"}
        The level the treatment is assigned at.
    r2_pupil, r2_school, r2_cluster : float
        Share of each level's variance explained by covariates (e.g. prior attainment).
    treated_share : float
        Share of the assigned units treated.
    n_covariates : int
        Covariates at the level of assignment (``g``), which cost degrees of freedom.
    blocks : {"random", "fixed", "constant"}
        For designs assigning within blocks: how the block (school or cluster) effects are
        modelled. ``"constant"`` only for two-level pupil assignment.
    omega_school, omega_cluster : float
        Random-block designs: variance of the treatment effect across blocks as a share of
        the blocks' outcome variance (0: the same effect everywhere).
    power, alpha, two_tailed
        Target power and the test.

    Returns
    -------
    Mdes

    Raises
    ------
    ImpactError
        On proportions outside [0, 1], ICCs summing to 1 or more, too few units or a
        design that does not exist.

    Examples
    --------
    >>> round(mdes(pupils_per_school=15, schools=3, clusters=60, icc_school=0.17,
    ...            icc_cluster=0.06, assign="cluster").mdes, 3)
    0.269
    """
    for name, val in (("icc_school", icc_school), ("icc_cluster", icc_cluster),
                      ("r2_pupil", r2_pupil), ("r2_school", r2_school),
                      ("r2_cluster", r2_cluster)):
        _check_prob(val, name, closed=True)
    _check_prob(treated_share, "treated_share")
    if icc_school + icc_cluster >= 1:
        raise ImpactError(f"icc_school + icc_cluster = {icc_school + icc_cluster:.3g} >= 1, "
                          "leaving no variance between pupils. Fix: check the ICCs.")
    if blocks not in ("random", "fixed", "constant"):
        raise ImpactError(f"blocks={blocks!r}. Fix: use 'random', 'fixed' or 'constant'.")
    if omega_school < 0 or omega_cluster < 0:
        raise ImpactError("omega_school and omega_cluster must be 0 or more.")
    _check_count(pupils_per_school, "pupils_per_school", 1)
    _check_count(schools, "schools", 1)
    levels = 2 if clusters is None else 3
    if levels == 3:
        _check_count(clusters, "clusters", 1)
    if levels == 3 and blocks == "constant":
        raise ImpactError("blocks='constant' is for two-level pupil assignment only. "
                          "Fix: use 'random' or 'fixed'.")
    se, dfree = _se_df(levels, assign, n=float(pupils_per_school), J=float(schools),
                       K=float(clusters or 0), icc_school=icc_school,
                       icc_cluster=icc_cluster if levels == 3 else 0.0, r2_pupil=r2_pupil,
                       r2_school=r2_school, r2_cluster=r2_cluster, p=treated_share,
                       g=n_covariates, blocks=blocks, omega_school=omega_school,
                       omega_cluster=omega_cluster)
    m = multiplier(dfree, power=power, alpha=alpha, two_tailed=two_tailed)
    params = dict(pupils_per_school=pupils_per_school, schools=schools, clusters=clusters,
                  icc_school=icc_school, icc_cluster=icc_cluster, assign=assign,
                  r2_pupil=r2_pupil, r2_school=r2_school, r2_cluster=r2_cluster,
                  treated_share=treated_share, n_covariates=n_covariates, blocks=blocks,
                  omega_school=omega_school, omega_cluster=omega_cluster,
                  two_tailed=two_tailed)
    name = _DESIGNS[(levels, assign)]
    if (levels, assign) in ((2, "pupil"), (3, "school")) and blocks != "random":
        name += blocks[0]
    return Mdes(mdes=m * se, standard_error=se, df=dfree, multiplier=m, design=name,
                power=power, alpha=alpha, parameters=params)


def mdes_of_estimate(est, *, sd: float | None = None, power: float = 0.8,
                     alpha: float | None = None) -> Mdes:
    """The MDES of the design an estimate came from: ``M(df) * SE`` (Bloom, 1995).

    The estimate's own standard error already carries its design (clustering, covariates,
    group sizes), so the smallest effect it could detect with ``power`` is the multiplier
    times that SE. Degrees of freedom are clusters - 1 when the estimate has fewer than 50
    clusters (as its few-cluster inference), else large.

    Parameters
    ----------
    est : Estimate
        A difference (not a ratio).
    sd : float, optional
        SD of the outcome: the MDES is then in SDs (``mdes``) as well as in the outcome's
        units (``parameters["in_units"]``); without it ``mdes`` is in the outcome's units.
    power, alpha
        Target power; the test's level (default ``1 - est.conf_level``).

    Examples
    --------
    >>> from nlc_eval.impact import Estimate
    >>> e = Estimate(1.0, 0.5, 0.0, 2.0, 0.05, 300, 3000, "x", extra={"n_clusters": 23})
    >>> round(mdes_of_estimate(e).mdes, 2)    # (t(.975, 22) + t(.8, 22)) * 0.5
    1.47
    """
    if getattr(est, "scale", "difference") == "ratio":
        raise ImpactError("mdes_of_estimate needs a difference, not a ratio. Fix: use the "
                          "log-ratio SE with multiplier() directly.")
    if not (fmt.finite(est.se) and est.se > 0):
        raise ImpactError("the estimate has no standard error, so its MDES is unknown.")
    alpha = 1 - est.conf_level if alpha is None else alpha
    G = (est.extra or {}).get("n_clusters")
    dfree = G - 1 if isinstance(G, (int, np.integer)) and 1 < G < 50 else 1e6
    m = multiplier(dfree, power=power, alpha=alpha)
    in_units = m * float(est.se)
    scale = float(sd) if sd is not None and fmt.finite(sd) and sd > 0 else 1.0
    return Mdes(mdes=in_units / scale, standard_error=float(est.se) / scale, df=dfree,
                multiplier=m, design="estimate", power=power, alpha=alpha,
                parameters={"in_units": in_units, "sd": sd, "units": est.units})


def power(effect_size: float, **design) -> float:
    """Power of the two-sided test to detect ``effect_size`` (noncentral t, as PowerUp!).

    Takes the design arguments of :func:`mdes` (``power`` excepted).

    Examples
    --------
    >>> round(power(0.629, pupils_per_school=15, schools=20, icc_school=0.17), 2)
    0.8
    """
    design.pop("power", None)
    alpha = design.get("alpha", 0.05)
    two = design.get("two_tailed", True)
    m = mdes(**design)
    lam = effect_size / m.standard_error
    if two:
        c = stats.t.ppf(1 - alpha / 2, m.df)
        return float(stats.nct.sf(c, m.df, lam) + stats.nct.cdf(-c, m.df, lam))
    return float(stats.nct.sf(stats.t.ppf(1 - alpha, m.df), m.df, lam))


def _smallest(size_of, effect_size, start, limit, what):
    """Smallest whole number ``x >= start`` with ``size_of(x) <= effect_size``."""
    if not (fmt.finite(effect_size) and effect_size > 0):
        raise ImpactError(f"effect_size={effect_size!r}. Fix: give a positive effect in SDs "
                          "(e.g. 0.2).")
    x = start
    while x <= limit:
        try:
            if size_of(x) <= effect_size:
                return int(x)
        except ImpactError:
            pass
        x += 1
    raise ImpactError(f"no design with up to {limit} {what} detects {effect_size} SD. "
                      "Fix: expect a larger effect, add covariates or add units lower down.")


def schools_needed(effect_size: float, pupils_per_school: float, icc: float,
                   r2_school: float = 0.0, r2_pupil: float = 0.0, power: float = 0.8,
                   alpha: float = 0.05, *, treated_share: float = 0.5,
                   n_covariates: int = 0, two_tailed: bool = True,
                   limit: int = 100_000) -> int:
    """Schools needed for a two-level school-assigned design to detect ``effect_size``.

    The smallest whole number of schools whose MDES is at most ``effect_size`` (the
    degrees of freedom change with the number of schools, so the search is exact rather
    than PowerUp!'s fixed-point iteration).

    Examples
    --------
    >>> schools_needed(0.63, pupils_per_school=15, icc=0.17)   # PowerUp!'s cross-check: 20
    20
    """
    def size(J):
        return mdes(pupils_per_school=pupils_per_school, schools=J, icc_school=icc,
                    r2_school=r2_school, r2_pupil=r2_pupil, treated_share=treated_share,
                    n_covariates=n_covariates, power=power, alpha=alpha,
                    two_tailed=two_tailed).mdes
    return _smallest(size, effect_size, n_covariates + 3, limit, "schools")


def clusters_needed(effect_size: float, pupils_per_school: float, schools_per_cluster: float,
                    icc_school: float, icc_cluster: float, *, assign: str = "cluster",
                    r2_pupil: float = 0.0, r2_school: float = 0.0, r2_cluster: float = 0.0,
                    power: float = 0.8, alpha: float = 0.05, treated_share: float = 0.5,
                    n_covariates: int = 0, blocks: str = "random", omega_school: float = 0.0,
                    omega_cluster: float = 0.0, two_tailed: bool = True,
                    limit: int = 100_000) -> int:
    """Clusters needed for a three-level design to detect ``effect_size``.

    Examples
    --------
    >>> clusters_needed(0.27, 15, 3, icc_school=0.17, icc_cluster=0.06)  # PowerUp!: 60
    60
    """
    def size(K):
        return mdes(pupils_per_school=pupils_per_school, schools=schools_per_cluster,
                    clusters=K, icc_school=icc_school, icc_cluster=icc_cluster,
                    assign=assign, r2_pupil=r2_pupil, r2_school=r2_school,
                    r2_cluster=r2_cluster, treated_share=treated_share,
                    n_covariates=n_covariates, blocks=blocks, omega_school=omega_school,
                    omega_cluster=omega_cluster, power=power, alpha=alpha,
                    two_tailed=two_tailed).mdes
    return _smallest(size, effect_size, n_covariates + 2, limit, "clusters")


# ---------------------------------------------------------------- the data's ICCs and R²
def _nested_components(y: np.ndarray, codes: list[np.ndarray], *, parts_only: bool = False):
    """ANOVA (moment) variance components of a nested design, outermost level first.

    Returns the between-group variance of each level and the residual variance
    (unbalanced coefficients of Searle, Casella & McCulloch, 1992, ch. 3 and 5); with
    ``parts_only`` the mean squares, their degrees of freedom and the matrix ``C`` of
    ``E[MS] = C @ components`` instead.
    """
    N = len(y)
    # sums of squares between successive partitions: top, ..., finest, pupils
    parts = [np.zeros(N, dtype=np.int64)] + codes
    L = len(codes)
    ss, dfs = [], []
    for j in range(1, L + 1):
        fine, coarse = parts[j], parts[j - 1]
        nf = np.bincount(fine)
        mf = np.bincount(fine, weights=y) / np.where(nf > 0, nf, 1)
        nc = np.bincount(coarse)
        mc = np.bincount(coarse, weights=y) / np.where(nc > 0, nc, 1)
        first = np.unique(fine, return_index=True)[1]
        parent = coarse[first]
        ss.append(float(np.sum(nf[nf > 0] * (mf[nf > 0] - mc[parent]) ** 2)))
        dfs.append(int((nf > 0).sum() - (nc > 0).sum()))
    nfin = np.bincount(parts[-1])
    mfin = np.bincount(parts[-1], weights=y) / np.where(nfin > 0, nfin, 1)
    ss.append(float(np.sum((y - mfin[parts[-1]]) ** 2)))
    dfs.append(int(N - (nfin > 0).sum()))
    ms = np.array(ss) / np.maximum(np.array(dfs), 1)
    # E[MS_j] = sigma2 + sum_{l >= j} c[j, l] var_l; c from the group sizes
    C = np.zeros((L + 1, L + 1))
    C[:, L] = 1.0
    for j in range(1, L + 1):          # MS of level j (partition j within j-1)
        fine, coarse = parts[j], parts[j - 1]
        for lev in range(j, L + 1):    # coefficient of the variance of level lev (1..L)
            # groups g of level lev are nested in both partitions: the coefficient is
            # (sum_g n_g^2 / n_fine(g) - sum_g n_g^2 / n_coarse(g)) / df
            g = parts[lev]
            n_g = np.bincount(g).astype(float)
            first = np.unique(g, return_index=True)[1]
            n_fine = np.bincount(fine).astype(float)[fine[first]]
            n_coarse = np.bincount(coarse).astype(float)[coarse[first]]
            sq = n_g[n_g > 0] ** 2
            C[j - 1, lev - 1] = (np.sum(sq / n_fine) - np.sum(sq / n_coarse)) / max(
                dfs[j - 1], 1)
    if parts_only:
        return ms, np.array(dfs, dtype=float), C
    comps = np.linalg.solve(C, ms)
    return comps


def _pivotal_iccs(y: np.ndarray, codes: list[np.ndarray], n_draws: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Draws of every level's share of the variance from generalised pivotal quantities.

    Under normal random effects each mean square is its expectation times an independent
    ``chi2(df) / df`` (exactly so in balanced data, approximately otherwise), so
    ``ms_j* = SS_j / chi2_j`` is a draw of the expected mean squares given the data and
    ``C^-1 ms*`` a draw of the components (Weerahandi, 1993; for nested designs Burdick &
    Graybill, 1992). Negative components are set to zero, as in the point estimate.
    Returns an array (levels + 1, n_draws).
    """
    ms, dfs, C = _nested_components(y, codes, parts_only=True)
    ss = ms * dfs
    chi = rng.chisquare(np.maximum(dfs, 1)[:, None], size=(len(dfs), n_draws))
    comp = np.maximum(np.linalg.solve(C, ss[:, None] / chi), 0.0)
    total = comp.sum(axis=0)
    return comp / np.where(total > 0, total, 1.0)


class _GroupSums:
    """Sums of a nested design per finest group (school), for reweighted top-level groups.

    The ANOVA components of :func:`_nested_components` depend on the data only through each
    finest group's count, sum and sum of squares (and, for the residuals of a regression,
    its cross-products of covariates), so a bootstrap draw of whole top-level groups is a
    vector of multiplicities ``w`` (a group drawn twice counts as two groups) and the
    components of many draws are a few matrix products. The same reweighting gives the
    delete-one-group jackknife (``w`` with one group set to 0).
    """

    def __init__(self, y: np.ndarray, codes: list[np.ndarray], X: np.ndarray | None = None):
        # centred (components and residuals do not change; sums of squares keep precision
        # for outcomes far from zero, such as attendance rates near 90%)
        y = np.asarray(y, dtype=float) - float(np.mean(y))
        if X is not None:   # the first column is the intercept
            X = np.column_stack([X[:, :1], X[:, 1:] - X[:, 1:].mean(0)])
        top, fine = codes[0], codes[-1]
        S = int(fine.max() + 1)
        self.levels = len(codes)
        self.K = int(top.max() + 1)
        self.top_of = np.zeros(S, dtype=np.int64)
        self.top_of[fine] = top
        self.n = np.bincount(fine, minlength=S).astype(float)
        self.T = np.bincount(fine, weights=y, minlength=S)
        self.Q = np.bincount(fine, weights=y * y, minlength=S)
        self.onehot = np.zeros((S, self.K))
        self.onehot[np.arange(S), self.top_of] = 1.0
        self.nk = self.n @ self.onehot
        self.Ak = (self.n ** 2) @ self.onehot
        self.X = X is not None
        if X is not None:
            p = X.shape[1]
            self.Sx = np.stack([np.bincount(fine, X[:, j], S) for j in range(p)], 1)
            self.Sxy = np.stack([np.bincount(fine, X[:, j] * y, S) for j in range(p)], 1)
            self.XXs = np.zeros((S, p, p))
            np.add.at(self.XXs, fine, np.einsum("ip,iq->ipq", X, X))
            self.XXk = np.einsum("sk,spq->kpq", self.onehot, self.XXs)
            self.Xyk = self.onehot.T @ self.Sxy

    def components(self, W: np.ndarray, T=None, Q=None) -> np.ndarray:
        """Untruncated components (outermost first, residual last) of each row of ``W``."""
        T = self.T if T is None else T
        Q = self.Q if Q is None else Q
        ws = W[:, self.top_of]
        n = self.n
        N = ws @ n
        total = (ws * T).sum(1)
        Rs = T ** 2 / n
        s1 = (ws * (Q - Rs)).sum(1) / (N - ws.sum(1))
        df_top = W.sum(1) - 1
        if self.levels == 1:
            ss_b = (ws * Rs).sum(1) - total ** 2 / N
            c = (N - ws @ n ** 2 / N) / df_top
            return np.stack([(ss_b / df_top - s1) / c, s1], 1)
        Tk = T @ self.onehot
        Rk = Tk ** 2 / self.nk
        df_mid = ws.sum(1) - W.sum(1)
        ss_mid = (ws * Rs).sum(1) - (W * Rk).sum(1)
        ss_top = (W * Rk).sum(1) - total ** 2 / N
        a_over_n = W @ (self.Ak / self.nk)
        c_tt = (N - W @ self.nk ** 2 / N) / df_top
        c_tm = (a_over_n - W @ self.Ak / N) / df_top
        c_mm = (N - a_over_n) / np.where(df_mid > 0, df_mid, np.nan)
        s2 = (ss_mid / np.where(df_mid > 0, df_mid, np.nan) - s1) / c_mm
        s3 = (ss_top / df_top - s1 - c_tm * s2) / c_tt
        return np.stack([s3, s2, s1], 1)

    def residual_sums(self, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-group sums and sums of squares of the residuals of the regression refitted
        on each row's groups."""
        A = np.einsum("bk,kpq->bpq", W, self.XXk)
        beta = np.linalg.solve(A, (W @ self.Xyk)[..., None])[..., 0]
        Tr = self.T[None, :] - beta @ self.Sx.T
        Qr = (self.Q[None, :] - 2 * beta @ self.Sxy.T
              + np.einsum("bp,spq,bq->bs", beta, self.XXs, beta, optimize=True))
        return Tr, Qr

    def ratios(self, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Numerators and denominators of the ratios estimated, for each row of ``W``.

        Columns: the ICC of each grouping level (its component over the total), then, with
        covariates, ``1 - R²`` of every level (the residuals' component over the outcome's).
        All untruncated, so that they are smooth in the weights.
        """
        comp = self.components(W)
        total = comp.sum(1, keepdims=True)
        num, den = [comp[:, :-1]], [np.repeat(total, comp.shape[1] - 1, 1)]
        if self.X:
            num.append(self.components(W, *self.residual_sums(W)))
            den.append(comp)
        return np.column_stack(num), np.column_stack(den)

    def jackknife(self, W: np.ndarray, chunk: int = 20_000) -> tuple[np.ndarray, ...]:
        """Delete-one-group jackknife (co)variances of the numerators and denominators of
        :meth:`ratios` within each row of ``W`` (a group drawn more than once is deleted
        one copy at a time): ``v_nn, v_dd, v_nd``, each (rows, ratios)."""
        B, K = W.shape
        parts: list[list[np.ndarray]] = [[], [], []]
        step = max(1, chunk // K)
        eye = np.eye(K)
        for s in range(0, B, step):
            Wb = W[s:s + step]
            Wj = (Wb[:, None, :] - eye[None]).reshape(-1, K)
            keep = (Wj >= 0).all(1)
            num, den = self.ratios(np.where(keep[:, None], Wj, 1.0))
            num, den = num.reshape(len(Wb), K, -1), den.reshape(len(Wb), K, -1)
            wt = Wb[:, :, None]
            with np.errstate(invalid="ignore"):
                dn = num - np.nansum(wt * num, 1)[:, None] / K
                dd = den - np.nansum(wt * den, 1)[:, None] / K
                for j, prod in enumerate((dn * dn, dd * dd, dn * dd)):
                    parts[j].append((K - 1) / K * np.nansum(wt * prod, 1))
        return tuple(np.concatenate(p) for p in parts)


#: Points of [0, 1] at which the studentized intervals test each ratio (steps of 0.00025).
_GRID = np.linspace(0.0, 1.0, 4001)


def _studentized_intervals(sums: _GroupSums, conf_level: float, n_boot: int,
                           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Point estimates and intervals (2, ratios) of every ratio of :meth:`_GroupSums.ratios`.

    Each ratio ``theta = num / den`` (an ICC, or 1 - R²) is tested through the Fieller
    pivot ``t(theta) = (num - theta * den) / se(theta)``, which is linear in the variance
    components, with ``se`` from the delete-one-group jackknife. The pivot's distribution
    comes from the bootstrap of whole top-level groups (``t*`` at the estimate, with its own
    jackknife in each draw: a studentized bootstrap) rather than from normality, and the
    interval is every theta in [0, 1] that the pivot does not reject. It is unbounded (all
    of [0, 1]) when the denominator may be zero, as an interval for a ratio must be when
    the level's variance cannot be told from none.
    """
    K = sums.K
    one = np.ones((1, K))
    num, den = (a[0] for a in sums.ratios(one))
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = num / den
    v_nn, v_dd, v_nd = (v[0] for v in sums.jackknife(one))
    W = rng.multinomial(K, np.full(K, 1.0 / K), size=int(n_boot)).astype(float)
    nb, db = sums.ratios(W)
    bnn, bdd, bnd = sums.jackknife(W)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_star = (nb - theta * db) / np.sqrt(bnn - 2 * theta * bnd + theta ** 2 * bdd)
    t_star[~np.isfinite(t_star)] = np.nan
    a = (1 - conf_level) / 2
    out = np.full((2, len(theta)), np.nan)
    for j in range(len(theta)):
        finite = t_star[:, j][np.isfinite(t_star[:, j])]
        if not (np.isfinite(theta[j]) and len(finite) >= 10):
            continue
        q_lo, q_hi = np.quantile(finite, [a, 1 - a])
        g = _GRID
        var = v_nn[j] - 2 * g * v_nd[j] + g ** 2 * v_dd[j]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (num[j] - g * den[j]) / np.sqrt(np.maximum(var, 0.0))
        kept = g[(t >= q_lo) & (t <= q_hi)]
        if len(kept):
            out[:, j] = kept.min(), kept.max()
        else:   # every value in [0, 1] rejected: the estimate lies outside; its nearest end
            out[:, j] = float(np.clip(theta[j], 0.0, 1.0))
    return theta, out


@dataclass
class DesignParameters:
    """ICCs and covariate R² of each level, estimated from data, with intervals.

    Attributes
    ----------
    table : DataFrame
        One row per level (outermost first, then ``"pupil"`` for the residual): ``level,
        variance, icc, icc_low, icc_high`` and, when covariates were given, ``r2, r2_low,
        r2_high``.
    sizes : dict
        ``groups`` (number of top-level groups) and the harmonic mean size of each nested
        level: what :meth:`mdes` plugs in.
    method, conf_level
    """

    table: pd.DataFrame
    sizes: dict
    groups: list[str]
    conf_level: float
    method: str

    def icc(self, level: str) -> float:
        """The ICC of ``level`` (a grouping column)."""
        row = self.table.loc[self.table["level"] == level]
        if row.empty:
            raise ImpactError(f"no level {level!r}. Fix: use one of {list(self.table.level)}.")
        return float(row["icc"].iloc[0])

    def r2(self, level: str) -> float:
        """Covariate R² of ``level`` (0 when no covariates were given)."""
        if "r2" not in self.table:
            return 0.0
        return float(max(self.table.loc[self.table["level"] == level, "r2"].iloc[0], 0.0))

    def mdes(self, *, assign: str, treated_share: float = 0.5, n_covariates: int = 0,
             power: float = 0.8, alpha: float = 0.05, use_r2: bool = True) -> Mdes:
        """MDES of assigning ``assign`` (a grouping column or ``"pupil"``) in these data."""
        g = self.groups
        r2 = (lambda lev: self.r2(lev)) if use_r2 else (lambda lev: 0.0)
        names = {g[-1]: "school", "pupil": "pupil"}
        if len(g) == 2:
            names[g[0]] = "cluster"
        if assign not in names:
            raise ImpactError(f"assign={assign!r}. Fix: use one of {list(names)}.")
        if len(g) == 1:
            return mdes(pupils_per_school=self.sizes["pupil"], schools=self.sizes[g[0]],
                        icc_school=self.icc(g[0]), assign=names[assign],
                        r2_pupil=r2("pupil"), r2_school=r2(g[0]), treated_share=treated_share,
                        n_covariates=n_covariates, power=power, alpha=alpha)
        return mdes(pupils_per_school=self.sizes["pupil"], schools=self.sizes[g[1]],
                    clusters=self.sizes[g[0]], icc_school=self.icc(g[1]),
                    icc_cluster=self.icc(g[0]), assign=names[assign], r2_pupil=r2("pupil"),
                    r2_school=r2(g[1]), r2_cluster=r2(g[0]), treated_share=treated_share,
                    n_covariates=n_covariates, power=power, alpha=alpha)


def _harmonic(counts) -> float:
    counts = np.asarray(counts, dtype=float)
    return float(len(counts) / np.sum(1.0 / counts))


def design_parameters(df: pd.DataFrame, outcome: str, groups: list[str],
                      covariates: list[str] | None = None, *, conf_level: float = 0.95,
                      n_boot: int = 999, random_state: int | None = 0,
                      interval: str = "studentized", n_draws: int = 10_000
                      ) -> DesignParameters:
    """ICC and covariate R² at each level of ``df``, with intervals.

    Variance components come from the nested ANOVA (moment) estimator, which equals the
    REML estimate of :func:`nlc_eval.impact.multilevel.variance_components` in balanced
    data. With ``covariates`` the components of the residuals of the outcome's regression on
    them give ``R² = 1 - conditional / unconditional variance`` at each level (the R² of
    the PowerUp! formulas). Intervals (``interval``):

    - ``"studentized"`` (default): a studentized bootstrap of whole top-level groups
      (``n_boot`` draws) of the Fieller pivot of each ratio (ICC = component / total,
      1 - R² = conditional / unconditional component), with delete-one-group jackknife
      standard errors; the interval is every value in [0, 1] the pivot does not reject.
      It assumes no distribution for the random effects and is unbounded (up to all of
      [0, 1]) when a level's variance cannot be told from none. With 23 clusters it
      covers close to 95% for ICCs and R² alike (``docs/design.md``,
      ``benchmarks/bench_design.py``);
    - ``"pivotal"``: generalised pivotal quantities of the ANOVA mean squares (``n_draws``
      draws; ICCs only, R² by the percentile bootstrap), which assume normal random
      effects;
    - ``"bootstrap"``: percentiles of the bootstrap of whole top-level groups, too narrow
      with few groups.

    Parameters
    ----------
    df : DataFrame
        One row per pupil.
    outcome : str
        Numeric outcome (e.g. attendance rate).
    groups : list of str
        Grouping columns, outermost first: ``["school"]`` or ``["cluster", "school"]``.
    covariates : list of str, optional
        Numeric pupil-, school- or cluster-level covariates (e.g. prior attendance); the
        regression is refitted in every bootstrap draw.
    conf_level, n_boot, random_state, interval, n_draws
        Interval options (seeded).

    Returns
    -------
    DesignParameters

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> d = pd.DataFrame({"school": np.repeat(np.arange(60), 40)})
    >>> d["y"] = rng.normal(0, 0.5, 60)[d.school] + rng.normal(0, 1, len(d))
    >>> p = design_parameters(d, "y", ["school"], n_boot=199)
    >>> 0.1 < p.icc("school") < 0.3
    True
    """
    if interval not in ("studentized", "pivotal", "bootstrap"):
        raise ImpactError(f"interval={interval!r}. Fix: use 'studentized', 'pivotal' or "
                          "'bootstrap'.")
    groups = v.as_list(groups)
    if not groups or len(groups) > 2:
        raise ImpactError(f"groups={groups}: need one or two grouping columns, outermost "
                          "first (e.g. ['cluster', 'school']).")
    covs = v.as_list(covariates)
    v.require_frame(df)
    v.require_columns(df, [outcome, *groups, *covs])
    v.require_no_missing(df, [outcome, *covs], role="column")
    v.require_no_missing(df, groups, role="grouping column")
    v.require_numeric(df, [outcome, *covs], role="column")
    y = df[outcome].to_numpy(dtype=float)
    codes = [pd.factorize(df[groups[0]])[0]]
    if len(groups) == 2:
        codes.append(pd.factorize(pd.Series(codes[0]).astype(str) + "|"
                                  + df[groups[1]].astype(str).to_numpy())[0])
    n_top = int(codes[0].max() + 1)
    if n_top < 3:
        raise ImpactError(f"{groups[0]!r} has {n_top} groups; ICCs need several. Fix: use "
                          "data with more groups.")
    X = (np.column_stack([np.ones(len(y))] + [df[c].to_numpy(dtype=float) for c in covs])
         if covs else None)
    sums = _GroupSums(y, codes, X)
    L = len(groups)
    one = np.ones((1, n_top))
    comp = np.maximum(sums.components(one)[0], 0.0)
    table = pd.DataFrame({"level": [*groups, "pupil"], "variance": comp,
                          "icc": comp / comp.sum()})
    if X is not None:
        cond = np.maximum(sums.components(one, *sums.residual_sums(one))[0], 0.0)
        table["r2"] = np.where(comp > 0, 1 - cond / np.where(comp > 0, comp, 1), np.nan)
    rng = np.random.default_rng(random_state)
    a = (1 - conf_level) / 2
    icc_ci = r2_ci = None
    if interval == "studentized" and n_boot:
        _, ci = _studentized_intervals(sums, conf_level, int(n_boot), rng)
        icc_ci = ci[:, :L]
        if X is not None:
            r2_ci = np.sort(1 - ci[:, L:], axis=0)
    elif n_boot or (interval == "pivotal" and n_draws):
        draws = None
        if n_boot and (interval == "bootstrap" or X is not None):
            W = rng.multinomial(n_top, np.full(n_top, 1.0 / n_top),
                                size=int(n_boot)).astype(float)
            c_b = np.maximum(sums.components(W), 0.0)
            draws = [c_b[:, :L] / c_b.sum(1, keepdims=True)]
            if X is not None:
                k_b = np.maximum(sums.components(W, *sums.residual_sums(W)), 0.0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    draws.append(np.where(c_b > 0, 1 - k_b / c_b, np.nan))
        if interval == "pivotal" and n_draws:
            icc_ci = np.quantile(_pivotal_iccs(y, codes, int(n_draws), rng)[:L].T,
                                 [a, 1 - a], axis=0)
        elif draws is not None:
            icc_ci = np.quantile(draws[0], [a, 1 - a], axis=0)
        if draws is not None and X is not None:
            r2_ci = np.nanquantile(draws[1], [a, 1 - a], axis=0)
    if icc_ci is not None:
        table["icc_low"] = [*icc_ci[0], np.nan]
        table["icc_high"] = [*icc_ci[1], np.nan]
    if r2_ci is not None:
        table["r2_low"], table["r2_high"] = r2_ci[0], r2_ci[1]
    table.loc[table["level"] == "pupil", "icc"] = np.nan  # the residual share is no ICC
    sizes = {groups[0]: n_top}
    if len(groups) == 2:
        per_top = pd.Series(codes[1]).groupby(codes[0]).nunique()
        sizes[groups[1]] = _harmonic(per_top)
    sizes["pupil"] = _harmonic(np.bincount(codes[-1]))
    return DesignParameters(table=table, sizes=sizes, groups=groups, conf_level=conf_level,
                            method=_method_text(interval, groups[0], n_boot, n_draws,
                                                random_state, bool(covs)))


def _method_text(interval, top, n_boot, n_draws, seed, r2) -> str:
    if interval == "studentized":
        return (f"nested ANOVA variance components; {'ICC and R²' if r2 else 'ICC'} "
                f"intervals from a studentized bootstrap of whole {top} groups of each "
                f"ratio's Fieller pivot ({n_boot} draws, seed {seed}; jackknife standard "
                "errors; no distribution assumed for the random effects)")
    if interval == "pivotal":
        text = (f"nested ANOVA variance components; ICC intervals from generalised pivotal "
                f"quantities of the mean squares ({n_draws} draws, seed {seed}; assumes "
                f"normal random effects)")
        if r2:
            text += (f"; R² intervals from percentiles of a bootstrap of whole {top} groups "
                     f"({n_boot} draws)")
        return text
    return (f"nested ANOVA variance components; percentiles of a bootstrap of whole {top} "
            f"groups ({n_boot} draws, seed {seed})")
