"""Simulated data with planted effects for the impact tests (shared helpers)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def panel(seed: int = 0, n_units: int = 1200, n_periods: int = 6, n_clusters: int = 23,
          effect: float = 2.0, cluster_sd: float = 0.5, staggered: bool = True,
          dynamic: float = 0.0, pre_trend: float = 0.0) -> pd.DataFrame:
    """Long panel with unit, period and cluster effects and a planted treatment effect.

    Units in a treated cluster start treatment in a cluster-specific period (staggered) or
    all in period 3; the effect is ``effect + dynamic * (periods since start)``. With
    ``pre_trend`` treated units drift upwards before treatment (violating parallel trends).
    Treatment is assigned by cluster, so cluster-level shocks matter for inference.
    """
    rng = np.random.default_rng(seed)
    cl = rng.integers(0, n_clusters, n_units)
    starts = np.array([3, 4, 5]) if staggered else np.array([3])
    cluster_start = np.where(rng.random(n_clusters) < 0.5,
                             rng.choice(starts, n_clusters), 0)
    first = cluster_start[cl]
    unit = np.repeat(np.arange(n_units), n_periods)
    period = np.tile(np.arange(1, n_periods + 1), n_units)
    f = np.repeat(first, n_periods)
    c = np.repeat(cl, n_periods)
    e = np.where(f > 0, period - f, -99)
    treated_now = (f > 0) & (e >= 0)
    cluster_time = rng.normal(0, cluster_sd, (n_clusters, n_periods))[c, period - 1]
    y = (np.repeat(rng.normal(0, 3, n_units), n_periods) + 0.4 * period + cluster_time
         + np.where(treated_now, effect + dynamic * e, 0.0)
         + np.where(f > 0, pre_trend * period, 0.0)
         + rng.normal(0, 1.5, len(unit)))
    x = rng.normal(size=len(unit))
    return pd.DataFrame({"unit": unit, "period": period, "cluster": c, "first": f,
                         "treated": treated_now.astype(int), "x": x, "y": y + 0.5 * x})


def cross_section(seed: int = 0, n: int = 3000, effect: float = 1.5) -> pd.DataFrame:
    """Units selected into treatment on observed covariates (confounded naive difference)."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.binomial(1, 0.4, n).astype(float)
    x3 = rng.normal(size=n)
    lin = -1.0 + 1.0 * x1 + 0.8 * x2 - 0.5 * x3
    t = rng.binomial(1, 1 / (1 + np.exp(-lin)))
    y = 2 + 3 * x1 + 2 * x2 + 1.0 * x3 + effect * t + rng.normal(0, 2, n)
    return pd.DataFrame({"x1": x1, "x2": x2, "x3": x3, "t": t, "y": y,
                         "school": rng.integers(0, 60, n)})
