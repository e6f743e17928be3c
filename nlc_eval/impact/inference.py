"""Inference helpers: cluster-robust variances, the wild cluster bootstrap, bootstraps.

With many clusters (50 or more) the CR1 cluster-robust variance and normal-theory intervals
are adequate. With fewer clusters (a local authority has 23 school clusters) they are too
narrow, so linear models use the restricted wild cluster bootstrap (the null imposed): its
test gives the p-value, and the interval is every value the test does not reject (test
inversion). Weights are Rademacher, or Webb's six-point weights below 12 clusters.
Every random draw is seeded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

FEW_CLUSTERS = 50
WEBB_BELOW = 12
FEW_TREATED = 5

WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


def cluster_codes(values) -> tuple[np.ndarray, int]:
    """Integer codes 0..G-1 for cluster labels, and G."""
    codes, uniques = np.unique(np.asarray(values), return_inverse=True)
    return uniques.astype(np.int64), len(codes)


def bootstrap_weights(n_clusters: int, n_boot: int, kind: str, rng: np.random.Generator):
    """Draw ``(n_clusters, n_boot)`` wild-bootstrap weights.

    Parameters
    ----------
    kind : {"auto", "rademacher", "webb"}
        ``"auto"`` uses Webb's six-point weights below 12 clusters (Rademacher weights then
        give too few distinct draws), Rademacher otherwise.
    """
    kind = weight_kind(kind, n_clusters)
    if kind == "rademacher":
        return rng.choice(np.array([-1.0, 1.0]), size=(n_clusters, n_boot))
    if kind == "webb":
        return rng.choice(WEBB, size=(n_clusters, n_boot))
    raise ValueError(f"unknown bootstrap weights {kind!r}; use 'auto', 'rademacher' or 'webb'")


def critical_value(conf_level: float, df: float | None) -> float:
    """Two-sided critical value: t with ``df`` degrees of freedom, or normal when ``None``."""
    q = 0.5 + conf_level / 2
    return float(stats.norm.ppf(q) if df is None else stats.t.ppf(q, df))


def p_from_t(t: float, df: float | None) -> float:
    """Two-sided p-value of a t statistic (normal when ``df`` is ``None``)."""
    if not np.isfinite(t):
        return float("nan")
    return float(2 * (stats.norm.sf(abs(t)) if df is None else stats.t.sf(abs(t), df)))


def _cluster_sums(M: np.ndarray, codes: np.ndarray, n_clusters: int) -> np.ndarray:
    """Sum the rows of ``M`` (n x k) within clusters -> (G x k)."""
    from scipy import sparse

    M = np.asarray(M, dtype=float)
    n = M.shape[0]
    S = sparse.csr_matrix((np.ones(n), (np.asarray(codes), np.arange(n))),
                          shape=(n_clusters, n))
    return np.asarray(S @ M)


def absorbed_dof(absorb: list[np.ndarray] | None, codes: np.ndarray | None = None) -> int:
    """Parameters the absorbed fixed effects add to K in CR1's small-sample factor.

    fixest's default (``ssc(fixef.K = "nested")``, also pyfixest's): every absorbed level
    counts, less one per factor after the first; a factor whose levels are all nested in the
    clusters counts as a single parameter (its levels are already paid for by the cluster
    adjustment G/(G-1)).

    Parameters
    ----------
    absorb : list of int arrays (n,)
        Codes 0..L-1 of each absorbed factor.
    codes : int array (n,), optional
        Cluster codes; without them no factor is treated as nested.

    Examples
    --------
    >>> import numpy as np
    >>> unit = np.repeat(np.arange(4), 3); time = np.tile(np.arange(3), 4)
    >>> absorbed_dof([unit, time], codes=unit)   # 4 unit levels nested, 3 periods
    3
    >>> absorbed_dof([unit, time])
    6
    """
    if not absorb:
        return 0
    levels = [int(len(np.unique(f))) for f in absorb]
    total = sum(levels) - (len(absorb) - 1)
    if codes is None:
        return total
    for f, n_levels in zip(absorb, levels, strict=True):
        if is_nested(f, codes):
            total -= n_levels - 1
    return total


def is_nested(factor: np.ndarray, codes: np.ndarray) -> bool:
    """True when every level of ``factor`` lies within a single cluster."""
    f = pd.factorize(np.asarray(factor))[0].astype(np.int64)
    c = pd.factorize(np.asarray(codes))[0].astype(np.int64)
    pairs = np.unique(f * (int(c.max()) + 1) + c)
    return len(pairs) == int(f.max()) + 1


def cr1_vcov(X: np.ndarray, resid: np.ndarray, codes: np.ndarray, n_clusters: int,
             XtX_inv: np.ndarray | None = None, n_params: int | None = None) -> np.ndarray:
    """CR1 cluster-robust covariance of OLS coefficients.

    ``V = c (X'X)^-1 (sum_g s_g s_g') (X'X)^-1`` with ``s_g = X_g' u_g`` and the usual
    small-sample factor ``c = G/(G-1) * (N-1)/(N-K)``. ``K`` is ``n_params`` when given
    (regressors plus absorbed fixed effects, see :func:`absorbed_dof`), else the columns of X.
    This is the kit's one CR1: every module that needs cluster-robust errors calls it.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.column_stack([np.ones(6), [0, 1, 0, 1, 0, 1.0]])
    >>> y = np.array([1.5, 0.5, 3.0, 2.0, 0.2, 1.8])
    >>> u = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    >>> round(float(cr1_vcov(X, u, np.array([0, 0, 1, 1, 2, 2]), 3)[1, 1]), 6)  # = statsmodels
    0.938889
    """
    n, k = X.shape
    if XtX_inv is None:
        XtX_inv = np.linalg.inv(X.T @ X)
    k_adj = k if n_params is None else n_params
    scores = _cluster_sums(X * resid[:, None], codes, n_clusters)
    meat = scores.T @ scores
    c = n_clusters / max(n_clusters - 1, 1) * (n - 1) / max(n - k_adj, 1)
    return c * XtX_inv @ meat @ XtX_inv


@dataclass
class WildResult:
    """Result of :func:`wild_cluster_bootstrap` for one coefficient."""

    p_value: float
    ci_low: float
    ci_high: float
    t_stat: float
    se: float
    n_boot: int
    weights: str
    bootstrap: str = "restricted"
    enumerated: bool = False


def weight_kind(weights: str, n_clusters: int) -> str:
    """The weights ``"auto"`` resolves to: Webb's six-point below 12 clusters, else Rademacher."""
    if weights == "auto":
        return "webb" if n_clusters < WEBB_BELOW else "rademacher"
    if weights not in ("rademacher", "webb"):
        raise ValueError(f"unknown bootstrap weights {weights!r}; use 'auto', 'rademacher' or "
                         "'webb'")
    return weights


def all_sign_vectors(n_clusters: int) -> np.ndarray:
    """Every one of the 2^G Rademacher weight vectors, as a (G, 2^G) array."""
    idx = np.arange(2 ** n_clusters)
    bits = (idx[None, :] >> np.arange(n_clusters)[:, None]) & 1
    return np.where(bits == 1, 1.0, -1.0)


def _weights(G: int, n_boot: int, kind: str, random_state) -> tuple[np.ndarray, bool]:
    """Weights (G, B): all 2^G sign vectors when Rademacher and 2^G <= n_boot, else drawn."""
    if kind == "rademacher" and 2 ** G <= n_boot:
        return all_sign_vectors(G), True
    return bootstrap_weights(G, n_boot, kind, np.random.default_rng(random_state)), False


class _Restricted:
    """Wild cluster bootstrap t statistics of coefficient k, for any tested value b.

    The bootstrap outcome is ``y* = fit + w_g u`` with ``u`` the restricted residuals
    (``beta_k = b`` imposed: ``u = e_y - b e_x``, the residuals of ``y`` and of column k on
    the other columns) or, unrestricted, the full-model residuals. The bootstrap regression
    re-estimates every absorbed fixed effect: its residuals are ``M_D(w * u) - X d*``, where
    ``M_D`` removes the absorbed effects. When a factor is not nested in the clusters (time
    effects with unit clusters), ``M_D(w * u)`` differs from ``w * u``, so the projection of
    each cluster's block ``u 1_h`` is computed once (``absorb``). Every cluster-level quantity
    is affine in b, so each b costs O(B) after an O(n G) set-up.
    """

    def __init__(self, X, y, XtX_inv, codes, G, k, W, scale, absorb=None):
        n, p = X.shape
        keep = [j for j in range(p) if j != k]
        if keep:
            Xr = X[:, keep]
            ey = y - Xr @ np.linalg.lstsq(Xr, y, rcond=None)[0]
            ex = X[:, k] - Xr @ np.linalg.lstsq(Xr, X[:, k], rcond=None)[0]
        else:
            ey, ex = y.copy(), X[:, k].copy()
        a = XtX_inv[k]
        xa = X @ a
        R = _cluster_sums(xa[:, None] * X, codes, G)             # G x p : a' X_g' X_g
        project = absorb is not None and any(not is_nested(f, codes) for f in absorb)
        self.scale = scale
        if project:
            from .did import demean

            # K[g, h] = a' X_g' M_D(e 1_h) = (M_D(xa 1_g))' (e 1_h): one projection of the
            # cluster blocks of X a serves both e_y and e_x
            blocks = np.zeros((n, G))
            blocks[np.arange(n), codes] = xa
            XaD = demean(blocks, list(absorb))[0]                # n x G
        mats = []
        for e in (ey, ex):
            C = _cluster_sums(X * e[:, None], codes, G)          # G x p : X_h' e_h
            q = C @ a                                            # a' X_h' e_h
            if project:
                K = _cluster_sums(XaD * e[:, None], codes, G).T  # G x G : [g, h]
            else:
                K = np.diag(q)
            A = K - R @ (XtX_inv @ C.T)                          # G x G
            mats.append((q @ W, A @ W))
        (self.ny, AyW), (self.nx, AxW) = mats
        self.Syy = np.sum(AyW * AyW, axis=0)
        self.Sxy = np.sum(AyW * AxW, axis=0)
        self.Sxx = np.sum(AxW * AxW, axis=0)

    def t_stats(self, b: float) -> np.ndarray:
        """Bootstrap t statistics of ``beta_k = b`` with that null imposed (B values)."""
        num = self.ny - b * self.nx                         # beta*_k - b
        var = self.scale * (self.Syy - 2 * b * self.Sxy + b * b * self.Sxx)
        se = np.sqrt(np.clip(var, 0.0, None))
        return num / np.where(se > 0, se, np.nan)

    def p_value(self, b: float, beta_hat: float, se: float) -> float:
        t = self.t_stats(b)
        return float(np.nanmean(np.abs(t) >= abs((beta_hat - b) / se) * (1 - 1e-12)))


def _invert(boot: _Restricted, beta_hat: float, se: float, alpha: float) -> tuple[float, float]:
    """Interval of the values b that the restricted bootstrap test does not reject at alpha.

    The p-value is a step function of b; each bound is located to 1e-6 SE by bisection on
    the last value not rejected, so a peer's p-value at the bound is ``alpha`` up to the
    step at the bound.
    """
    def bound(direction: int) -> float:
        inside, step = beta_hat, se
        outside = beta_hat + direction * step
        for _ in range(60):                          # widen until the test rejects
            if boot.p_value(outside, beta_hat, se) <= alpha:
                break
            inside, step = outside, step * 2
            outside = beta_hat + direction * step
        else:
            return float(direction * np.inf)
        for _ in range(100):                         # bisect to a millionth of a SE
            mid = 0.5 * (inside + outside)
            if boot.p_value(mid, beta_hat, se) > alpha:
                inside = mid
            else:
                outside = mid
            if abs(outside - inside) < 1e-6 * se:
                break
        return float(0.5 * (inside + outside))

    return bound(-1), bound(1)


def wild_cluster_bootstrap(X: np.ndarray, y: np.ndarray, clusters, k: int, *,
                           n_boot: int = 999, weights: str = "auto", conf_level: float = 0.95,
                           random_state: int | None = 0, n_params: int | None = None,
                           absorb: list[np.ndarray] | None = None,
                           bootstrap: str = "restricted") -> WildResult:
    """Wild cluster bootstrap for coefficient ``k`` of the OLS regression of ``y`` on ``X``.

    Restricted (default, WCR): the p-value tests ``beta_k = 0`` with the null imposed on the
    bootstrap data, and the interval holds every value ``b`` that the same test of
    ``beta_k = b`` does not reject (test inversion, as Stata's ``boottest`` and R's
    ``fwildclusterboot``). Unrestricted (WCU): bootstrap-t around the estimate, symmetric
    interval from the quantile of ``|t*|``. Statistics are studentised with the CR1 standard
    error. With absorbed fixed effects every draw re-estimates them (exactly, by the
    projection in :class:`_Restricted`), so results equal a bootstrap with explicit dummies.
    Weights: Webb's six-point below 12 clusters, Rademacher otherwise; when ``2^G <= n_boot``
    Rademacher weights are enumerated in full (an exact p-value, no Monte Carlo error).

    Parameters
    ----------
    X : ndarray (n, p)
        Regressors (already demeaned when fixed effects are absorbed).
    y : ndarray (n,)
        Outcome (demeaned likewise).
    clusters : array-like (n,)
        Cluster labels.
    k : int
        Column of the coefficient tested.
    n_boot : int
        Number of bootstrap draws.
    weights : {"auto", "rademacher", "webb"}
    random_state : int or None
        Seed of the weights.
    n_params : int, optional
        K of CR1's small-sample factor (it cancels in the bootstrap test, not in the SE).
    absorb : list of int arrays, optional
        Codes of the fixed effects absorbed from X and y (e.g. ``[unit, time]``).
    bootstrap : {"restricted", "unrestricted"}

    Returns
    -------
    WildResult
    """
    if bootstrap not in ("restricted", "unrestricted"):
        raise ValueError(f"bootstrap={bootstrap!r}; use 'restricted' or 'unrestricted'")
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    codes, G = cluster_codes(clusters)
    n, p = X.shape
    k_adj = p if n_params is None else n_params
    scale = G / max(G - 1, 1) * (n - 1) / max(n - k_adj, 1)
    XtX_inv = np.linalg.inv(X.T @ X)
    beta = XtX_inv @ (X.T @ y)
    resid = y - X @ beta
    V = cr1_vcov(X, resid, codes, G, XtX_inv, n_params)
    se = float(np.sqrt(V[k, k]))
    t_obs = beta[k] / se
    kind = weight_kind(weights, G)
    W, enumerated = _weights(G, n_boot, kind, random_state)
    boot = _Restricted(X, y, XtX_inv, codes, G, k, W, scale, absorb)
    bk = float(beta[k])
    if bootstrap == "restricted":
        p_value = boot.p_value(0.0, bk, se)
        lo, hi = _invert(boot, bk, se, 1 - conf_level)
    else:
        t_star = boot.t_stats(bk)                       # residuals of the full model
        p_value = float(np.nanmean(np.abs(t_star) >= abs(t_obs) * (1 - 1e-12)))
        crit = float(np.nanquantile(np.abs(t_star), conf_level))
        lo, hi = bk - crit * se, bk + crit * se
    return WildResult(p_value=p_value, ci_low=lo, ci_high=hi, t_stat=float(t_obs), se=se,
                      n_boot=int(W.shape[1]), weights=kind, bootstrap=bootstrap,
                      enumerated=enumerated)


def ols_cluster(X: np.ndarray, y: np.ndarray, clusters, k: int, *, conf_level: float = 0.95,
                n_boot: int = 999, weights: str = "auto", random_state: int | None = 0,
                n_params: int | None = None, few_clusters: int = FEW_CLUSTERS,
                absorb: list[np.ndarray] | None = None,
                bootstrap: str = "restricted") -> dict:
    """OLS coefficient ``k`` with cluster-robust inference chosen by the number of clusters.

    Returns a dict with ``estimate, se, ci_low, ci_high, p_value, n_clusters, inference,
    n_params``. With fewer than ``few_clusters`` clusters the interval and p-value come from
    :func:`wild_cluster_bootstrap`; otherwise CR1 with t(G-1) reference distribution. With
    ``absorb`` (codes of fixed effects already removed from X and y) and no ``n_params``, K
    counts them as fixest does (:func:`absorbed_dof`).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    codes, G = cluster_codes(clusters)
    if n_params is None:
        n_params = X.shape[1] + absorbed_dof(absorb, codes)
    XtX_inv = np.linalg.inv(X.T @ X)
    beta = XtX_inv @ (X.T @ y)
    resid = y - X @ beta
    V = cr1_vcov(X, resid, codes, G, XtX_inv, n_params)
    se = float(np.sqrt(V[k, k]))
    if G < few_clusters:
        wr = wild_cluster_bootstrap(X, y, clusters, k, n_boot=n_boot, weights=weights,
                                    conf_level=conf_level, random_state=random_state,
                                    n_params=n_params, absorb=absorb, bootstrap=bootstrap)
        draws = (f"all {wr.n_boot} sign vectors enumerated" if wr.enumerated
                 else f"{wr.n_boot} draws, seed {random_state}")
        how = ("p-value and interval from the test with the null imposed (the interval by "
               "test inversion)" if bootstrap == "restricted"
               else "unrestricted bootstrap-t p-value and interval")
        fe = "; every draw re-estimates the absorbed fixed effects" if absorb else ""
        return {"estimate": float(beta[k]), "se": se, "ci_low": wr.ci_low,
                "ci_high": wr.ci_high, "p_value": wr.p_value, "n_clusters": G,
                "n_params": n_params,
                "inference": (f"wild cluster bootstrap ({wr.weights} weights, {draws}) over "
                              f"{G} clusters; {how}{fe}; CR1 standard error")}
    crit = critical_value(conf_level, G - 1)
    t = beta[k] / se
    return {"estimate": float(beta[k]), "se": se, "ci_low": float(beta[k] - crit * se),
            "ci_high": float(beta[k] + crit * se), "p_value": p_from_t(t, G - 1),
            "n_clusters": G, "n_params": n_params,
            "inference": f"cluster-robust (CR1) standard error over {G} clusters, t({G - 1})"}


class FewClustersWarning(UserWarning):
    """Fewer than five treated (or comparison) clusters: cluster-robust inference and the wild
    cluster bootstrap are unreliable (MacKinnon & Webb 2017, 2018)."""


def treated_clusters(d: np.ndarray, clusters, unit=None) -> tuple[int, int]:
    """Clusters with any treated observation, and clusters with any never-treated unit.

    Parameters
    ----------
    d : array (n,)
        0/1 treatment.
    clusters : array-like (n,)
    unit : array-like (n,), optional
        Panel unit; a unit treated in any period is not a comparison unit.
    """
    codes, G = cluster_codes(clusters)
    d = np.asarray(d, dtype=float)
    treated = np.zeros(G, bool)
    treated[codes[d > 0]] = True
    if unit is None:
        never = d == 0
    else:
        ucodes = pd.factorize(np.asarray(unit))[0]
        ever = np.zeros(ucodes.max() + 1, bool)
        ever[ucodes[d > 0]] = True
        never = ~ever[ucodes]
    control = np.zeros(G, bool)
    control[codes[never]] = True
    return int(treated.sum()), int(control.sum())


def few_clusters_warning(n_treated: int, n_control: int, what: str = "clusters",
                         randomised: bool = True) -> str | None:
    """The caution a reader must see with fewer than five treated or comparison clusters."""
    if min(n_treated, n_control) >= FEW_TREATED:
        return None
    side = ("treated" if n_treated < FEW_TREATED else "comparison")
    n = n_treated if side == "treated" else n_control
    noun = what[:-1] if (n == 1 and what.endswith("s")) else what
    text = (f"only {n} {noun} {'is' if n == 1 else 'are'} {side}: with fewer than "
            f"{FEW_TREATED}, cluster-robust errors and the wild cluster bootstrap are unreliable")
    if randomised:
        text += (", so the p-value and interval are from randomisation inference (placebo "
                 f"assignments of the treatment over {what})")
    else:
        text += ("; randomisation inference over clusters is not possible here because "
                 "treatment varies within clusters, so treat the interval with caution")
    return text


def _starts(d: np.ndarray, codes: np.ndarray, G: int, key: np.ndarray | None):
    """Each cluster's treatment start (a key value; +inf = never), or None when treatment is
    not of the form 1{key >= start} for every row of the cluster."""
    if key is None:
        key = np.zeros(len(d))
    key = np.asarray(key, dtype=float)
    start = np.full(G, np.inf)
    np.minimum.at(start, codes[d > 0], key[d > 0])
    implied = (key >= start[codes]).astype(float)
    if not np.array_equal(implied, d):
        return None
    return start


def _assignments(start: np.ndarray, n_perm: int, rng: np.random.Generator):
    """Placebo assignments of the clusters' start times: every distinct one when there are at
    most ``n_perm`` (exact), else the observed one plus ``n_perm`` random permutations."""
    from itertools import combinations
    from math import factorial, prod

    values, inverse, counts = np.unique(start, return_inverse=True, return_counts=True)
    G = len(start)
    total = factorial(G) // prod(factorial(int(c)) for c in counts)
    if total <= n_perm:
        out = []

        def fill(free: list[int], level: int, current: np.ndarray):
            if level == len(values) - 1:
                current = current.copy()
                current[free] = level
                out.append(current)
                return
            for chosen in combinations(free, int(counts[level])):
                nxt = current.copy()
                nxt[list(chosen)] = level
                fill([g for g in free if g not in chosen], level + 1, nxt)

        fill(list(range(G)), 0, np.zeros(G, dtype=np.int64))
        return values[np.array(out)], True, total
    perms = np.array([rng.permutation(inverse) for _ in range(n_perm)])
    return values[np.vstack([inverse[None, :], perms])], False, total


def randomisation_inference(y: np.ndarray, d: np.ndarray, clusters, *,
                            covariates: np.ndarray | None = None,
                            absorb: list[np.ndarray] | None = None, key=None,
                            conf_level: float = 0.95, n_perm: int = 999,
                            random_state: int | None = 0) -> dict | None:
    """Randomisation inference by placebo assignments over clusters (placebo in space).

    The treatment is reassigned to clusters as if at random, keeping how many clusters start
    treatment at each time (``key``, e.g. the period; treatment must be ``1{key >= start}``
    within each cluster), and the coefficient of the regression of ``y`` on the treatment,
    ``covariates`` and the ``absorb``-ed fixed effects is recomputed for each assignment. The
    p-value is the share of assignments whose coefficient is at least as far from the tested
    value as the observed one (the observed assignment included). Under a constant effect
    ``b`` the untreated outcomes are ``y - b d``, so the coefficient of every assignment is
    linear in b and the interval (every b not rejected, by test inversion) is exact. All
    distinct assignments are enumerated when there are at most ``n_perm``.

    Returns
    -------
    dict or None
        ``estimate, p_value, ci_low, ci_high, n_assignments, exact, inference``; None when the
        treatment is not assigned by cluster (it varies within a cluster and period).
    """
    from .did import demean

    y = np.asarray(y, dtype=float)
    d = np.asarray(d, dtype=float)
    codes, G = cluster_codes(clusters)
    start = _starts(d, codes, G, key)
    if start is None:
        return None
    keyv = np.zeros(len(d)) if key is None else np.asarray(key, dtype=float)
    starts, exact, total = _assignments(start, n_perm, np.random.default_rng(random_state))

    def resid(M):
        M = np.atleast_2d(M.T).T
        if absorb:
            M = demean(M, list(absorb))[0]
        if covariates is not None and covariates.shape[1]:
            C = covariates
            M = M - C @ np.linalg.lstsq(C, M, rcond=None)[0]
        return M

    C = None
    if covariates is not None and np.asarray(covariates).size:
        C = np.asarray(covariates, dtype=float)
        C = demean(C, list(absorb))[0] if absorb else C
    covariates = C
    yt, dt = resid(np.column_stack([y, d])).T
    c_vals, d_vals = [], []
    for chunk in np.array_split(np.arange(len(starts)), max(1, len(starts) // 64)):
        Dp = (keyv[:, None] >= starts[chunk][:, codes].T).astype(float)   # n x chunk
        Dt = resid(Dp)
        ss = np.sum(Dt * Dt, axis=0)
        ok = ss > 1e-12 * max(ss.max(), 1.0)
        c_vals.append(np.where(ok, Dt.T @ yt / np.where(ok, ss, 1), np.nan))
        d_vals.append(np.where(ok, Dt.T @ dt / np.where(ok, ss, 1), np.nan))
    c, dd = np.concatenate(c_vals), np.concatenate(d_vals)
    valid = np.isfinite(c)
    c, dd = c[valid], dd[valid]
    beta = float(dt @ yt / (dt @ dt))
    P = len(c)

    p0, lo, hi = invert_placebos(beta, c, dd, conf_level)
    how = (f"randomisation inference: the treatment reassigned over {G} clusters "
           + (f"in all {P} distinct ways" if exact else f"in {P - 1} random ways (seed "
              f"{random_state}) of {total:,} possible")
           + "; p-value and interval (by test inversion, assuming a constant effect) from the "
           "placebo coefficients")
    if P * (1 - conf_level) < 1:
        how += (f"; with only {P} assignments no p-value can fall below {1 / P:.3g}, so the "
                f"{round(conf_level * 100)}% interval is unbounded")
    return {"estimate": beta, "p_value": p0, "ci_low": float(lo), "ci_high": float(hi),
            "n_assignments": int(P), "exact": bool(exact), "inference": how}


def invert_placebos(beta: float, c: np.ndarray, dd: np.ndarray, conf_level: float = 0.95
                    ) -> tuple[float, float, float]:
    """p-value of "no effect" and the interval from placebo estimates linear in the effect.

    For each assignment the estimate on the untreated outcomes ``y - b d`` is ``c - b dd``
    (``c``: the estimate on ``y``; ``dd``: on the observed treatment ``d``); the observed
    assignment is one of them (``c = beta``, ``dd = 1``). ``p(b)`` is the share with
    ``|c - b dd| >= |beta - b|``; it changes only at breakpoints, so the interval (the hull
    of every b with ``p(b) > 1 - conf_level``) is exact.

    Returns
    -------
    (p_value, ci_low, ci_high)
    """
    c, dd = np.asarray(c, dtype=float), np.asarray(dd, dtype=float)

    def pval(b):
        return float(np.mean(np.abs(c - b * dd) >= np.abs(beta - b) * (1 - 1e-12) - 1e-15))

    alpha = 1 - conf_level
    with np.errstate(divide="ignore", invalid="ignore"):
        br = np.concatenate([(c - beta) / (dd - 1), (c + beta) / (dd + 1)])
    br = np.unique(br[np.isfinite(br)])
    if len(br) == 0:
        return pval(0.0), -np.inf, np.inf
    span = max(float(np.ptp(br)), abs(beta), 1.0)
    grid = np.concatenate([[br[0] - span], 0.5 * (br[1:] + br[:-1]), [br[-1] + span]])
    accepted = np.flatnonzero([pval(b) > alpha for b in grid])
    if accepted.size == 0:            # only where every segment is rejected: no interval
        return pval(0.0), float("nan"), float("nan")
    i0, i1 = int(accepted.min()), int(accepted.max())
    # the accepted set is a union of segments between breakpoints: its hull is reported
    lo = -np.inf if i0 == 0 else float(br[i0 - 1])
    hi = np.inf if i1 == len(br) else float(br[i1])
    return pval(0.0), lo, hi


def few_cluster_inference(res: dict, y: np.ndarray, d: np.ndarray, clusters, *,
                          covariates: np.ndarray | None = None,
                          absorb: list[np.ndarray] | None = None, key=None, unit=None,
                          randomisation: str = "auto", conf_level: float = 0.95,
                          n_perm: int = 999, random_state: int | None = 0,
                          what: str = "clusters") -> tuple[dict, list[str]]:
    """Check a linear estimate (``res`` from :func:`ols_cluster`) for few treated clusters.

    With fewer than five treated or comparison clusters (``randomisation="auto"``), or always
    (``"always"``), the p-value and interval are replaced by :func:`randomisation_inference`
    (the bootstrap's are kept under ``res["cluster_robust"]``), a :class:`FewClustersWarning`
    is issued and the caution is returned for the estimate's ``warnings``. ``"never"`` keeps
    the bootstrap and still warns.

    Returns
    -------
    (dict, list of str)
        The updated result and the warnings to print with it.
    """
    import warnings as _warnings

    if randomisation not in ("auto", "always", "never"):
        raise ValueError(f"randomisation={randomisation!r}; use 'auto', 'always' or 'never'")
    n1, n0 = treated_clusters(d, clusters, unit)
    few = min(n1, n0) < FEW_TREATED
    res = dict(res, n_treated_clusters=n1, n_control_clusters=n0)
    ri = None
    if randomisation == "always" or (few and randomisation == "auto"):
        ri = randomisation_inference(y, d, clusters, covariates=covariates, absorb=absorb,
                                     key=key, conf_level=conf_level, n_perm=n_perm,
                                     random_state=random_state)
    notes: list[str] = []
    if few:
        text = few_clusters_warning(n1, n0, what, randomised=ri is not None)
        if ri is None and randomisation == "never":
            text = text.split("; randomisation")[0]
        _warnings.warn(FewClustersWarning(text), stacklevel=3)
        notes.append(text)
    if ri is not None:
        res["cluster_robust"] = {k: res[k] for k in ("ci_low", "ci_high", "p_value",
                                                     "inference")}
        res.update(ci_low=ri["ci_low"], ci_high=ri["ci_high"], p_value=ri["p_value"],
                   n_assignments=ri["n_assignments"],
                   inference=ri["inference"] + "; the standard error shown is CR1")
    return res, notes


def if_inference(psi: np.ndarray, clusters=None, *, conf_level: float = 0.95,
                 few_clusters: int = FEW_CLUSTERS) -> dict:
    """Variance of an estimator from its influence-function contributions.

    ``psi`` is (n,) or (n, m): contributions such that ``estimate - truth ~ sum(psi)``. With
    clusters, contributions are summed within clusters and scaled by G/(G-1); with fewer than
    ``few_clusters`` clusters the reference distribution is t(G-1) (a small-sample correction).

    Returns a dict with ``vcov`` (m x m), ``df`` (None = normal) and ``n_clusters``.
    """
    psi = np.asarray(psi, dtype=float)
    if psi.ndim == 1:
        psi = psi[:, None]
    if clusters is None:
        G = psi.shape[0]
        S = psi
    else:
        codes, G = cluster_codes(clusters)
        S = _cluster_sums(psi, codes, G)
    V = G / max(G - 1, 1) * (S.T @ S)
    df = (G - 1) if (clusters is not None and G < few_clusters) else None
    return {"vcov": V, "df": df, "n_clusters": G}


def wild_wald_means(cells: list[tuple[np.ndarray, np.ndarray, np.ndarray]], A: np.ndarray,
                    n_clusters: int, wald: float, *, n_boot: int = 999,
                    weights: str = "auto", random_state: int | None = 0) -> dict:
    """Wild cluster bootstrap p-value of a joint Wald test that mean differences are zero.

    Each cell ``j`` is a difference of means ``mean(y[treated]) - mean(y[comparison])`` (the
    group-time effects of an event study); ``A`` (cells x k) aggregates cells into the k
    tested quantities. The null (every cell zero) is imposed: within a cell, outcomes become
    the pooled mean plus ``w_c`` times the residual from it, with one weight per cluster shared
    by all cells. Each draw recomputes the aggregates and their cluster-robust covariance from
    the bootstrap data, so the statistic is studentised like the observed one.

    Parameters
    ----------
    cells : list of (y, treated, cluster_code)
        Per cell: outcomes of the units used (1-d), a boolean treated mask, and integer
        cluster codes 0..G-1 of those units.
    A : ndarray (cells, k)
    n_clusters : int
        Number of clusters G.
    wald : float
        Observed Wald statistic, ``theta' V^+ theta`` with ``V = G/(G-1) S'S``.

    Returns
    -------
    dict with ``p_value``, ``n_boot``, ``weights`` (the kind used) and ``draws``.
    """
    G = int(n_clusters)
    J, k = A.shape
    St, Sc = np.zeros((G, J)), np.zeros((G, J))
    Nt, Nc = np.zeros((G, J)), np.zeros((G, J))
    nt, nc = np.zeros(J), np.zeros(J)
    for j, (y, tr, cl) in enumerate(cells):
        e = y - y.mean()                        # residuals with the null imposed
        np.add.at(St[:, j], cl[tr], e[tr])
        np.add.at(Sc[:, j], cl[~tr], e[~tr])
        np.add.at(Nt[:, j], cl[tr], 1.0)
        np.add.at(Nc[:, j], cl[~tr], 1.0)
        nt[j], nc[j] = tr.sum(), (~tr).sum()
    kind = weight_kind(weights, G)
    W = bootstrap_weights(G, n_boot, kind, np.random.default_rng(random_state)).T  # B x G
    at, ac = (W @ St) / nt, (W @ Sc) / nc                                        # B x J
    theta = (at - ac) @ A                                                        # B x k
    psi = ((W[:, :, None] * St[None] - at[:, None, :] * Nt[None]) / nt
           - (W[:, :, None] * Sc[None] - ac[:, None, :] * Nc[None]) / nc)         # B x G x J
    S = psi @ A                                                                  # B x G x k
    V = G / max(G - 1, 1) * np.einsum("bgk,bgl->bkl", S, S)
    draws = np.einsum("bk,bkl,bl->b", theta, np.linalg.pinv(V, hermitian=True), theta)
    p = float((1 + np.sum(draws >= wald - 1e-12)) / (n_boot + 1))
    return {"p_value": p, "n_boot": int(n_boot), "weights": kind, "draws": draws}


def bootstrap_indices(n: int, n_boot: int, rng: np.random.Generator, strata=None):
    """Yield bootstrap index arrays, resampling within ``strata`` when given."""
    if strata is None:
        for _ in range(n_boot):
            yield rng.integers(0, n, n)
        return
    strata = np.asarray(strata)
    groups = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    for _ in range(n_boot):
        yield np.concatenate([g[rng.integers(0, len(g), len(g))] for g in groups])


def cluster_bootstrap_indices(clusters, n_boot: int, rng: np.random.Generator):
    """Yield row-index arrays of a cluster (block) bootstrap: whole clusters resampled."""
    codes, G = cluster_codes(clusters)
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(G + 1))
    members = [order[starts[g]:starts[g + 1]] for g in range(G)]
    for _ in range(n_boot):
        pick = rng.integers(0, G, G)
        yield np.concatenate([members[g] for g in pick])


def summarise_draws(estimate: float, draws: np.ndarray, *, conf_level: float = 0.95,
                    df: float | None = None) -> dict:
    """SE, interval and p-value from bootstrap draws of an estimate.

    With ``df`` (few clusters) the interval is ``estimate +- t(df) * se``; otherwise the
    percentile interval. The p-value is the normal (or t) approximation with the bootstrap SE.
    """
    draws = np.asarray(draws, dtype=float)
    draws = draws[np.isfinite(draws)]
    se = float(np.std(draws, ddof=1)) if len(draws) > 1 else float("nan")
    if df is not None:
        crit = critical_value(conf_level, df)
        lo, hi = estimate - crit * se, estimate + crit * se
    else:
        alpha = 1 - conf_level
        lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    p = p_from_t(estimate / se, df) if se > 0 else float("nan")
    return {"se": se, "ci_low": float(lo), "ci_high": float(hi), "p_value": p,
            "n_valid": int(len(draws))}
