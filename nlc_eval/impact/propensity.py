"""Propensity scores, covariate balance and overlap diagnostics shared by matching/weighting.

Balance follows the conventions of R's cobalt: standardised mean differences (SMD) and
variance ratios before and after adjustment, with |SMD| < 0.05 marked "good", < 0.1
"acceptable" and larger "imbalanced". The SMD denominator is the standard deviation of the
treated group before adjustment for the ATT, of the comparison group for the ATC and the
pooled one for the ATE, and is the same before and after adjustment.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nlc_eval.errors import ImpactError

from .estimate import Estimate

SMD_GOOD = 0.05
SMD_OK = 0.1


class OverlapWarning(UserWarning):
    """Part of the sample lies outside the region of common support."""


def design_matrix(df: pd.DataFrame, covariates: list[str]) -> tuple[np.ndarray, np.ndarray,
                                                                    np.ndarray]:
    """Standardised covariates with an intercept column; also the raw means and SDs."""
    raw = df[covariates].to_numpy(dtype=float)
    mu = raw.mean(axis=0)
    sd = raw.std(axis=0)
    const = sd == 0
    if const.any():
        names = [c for c, k in zip(covariates, const, strict=True) if k]
        raise ImpactError(
            f"covariate(s) {names} take a single value, so they cannot explain treatment. "
            "Fix: drop them."
        )
    Z = (raw - mu) / sd
    return np.column_stack([np.ones(len(Z)), Z]), mu, sd


def fit_logit(X: np.ndarray, t: np.ndarray, *, ridge: float = 1e-6,
              max_iter: int = 100, tol: float = 1e-8,
              beta0: np.ndarray | None = None) -> np.ndarray:
    """Logistic regression by Newton–Raphson (IRLS); returns the coefficients.

    A tiny ridge penalty (not on the intercept) keeps the fit finite under quasi-separation;
    complete separation is reported by :func:`nlc_eval.impact._validate.check_overlap`.
    ``beta0`` warm-starts the iterations (used by the bootstrap).
    """
    n, p = X.shape
    beta = np.zeros(p) if beta0 is None else np.array(beta0, dtype=float)
    pen = np.full(p, ridge * n)
    pen[0] = 0.0
    for _ in range(max_iter):
        eta = np.clip(X @ beta, -35, 35)
        mu = 1 / (1 + np.exp(-eta))
        w = mu * (1 - mu)
        grad = X.T @ (t - mu) - pen * beta
        H = (X * w[:, None]).T @ X + np.diag(pen)
        try:
            step = np.linalg.solve(H, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(H, grad, rcond=None)[0]
        beta += step
        if np.max(np.abs(step)) < tol:
            break
    return beta


def predict_ps(X: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Propensity scores from :func:`fit_logit` coefficients."""
    return 1 / (1 + np.exp(-np.clip(X @ beta, -35, 35)))


def overlap_diagnostics(ps: np.ndarray, t: np.ndarray, estimand: str, *,
                        warn_share: float = 0.05) -> dict:
    """Share of units outside common support; warns with :class:`OverlapWarning`.

    For the ATT the relevant units are treated units with a propensity score above the
    largest comparison score; for the ATC comparison units below the smallest treated score;
    for the ATE both, plus any unit with a score outside [0.01, 0.99].
    """
    pt, pc = ps[t == 1], ps[t == 0]
    out_t = float(np.mean((pt > pc.max()) | (pt < pc.min())))
    out_c = float(np.mean((pc < pt.min()) | (pc > pt.max())))
    extreme = float(np.mean((ps < 0.01) | (ps > 0.99)))
    share = {"ATT": out_t, "ATC": out_c}.get(estimand, max(out_t, out_c, extreme))
    info = {"treated_outside_support": out_t, "comparison_outside_support": out_c,
            "extreme_scores": extreme, "share_outside": share}
    if share > warn_share:
        warnings.warn(
            f"limited overlap: {share:.0%} of the units that define the {estimand} lie outside "
            "the common support of the propensity score (see overlap_plot()); the estimate "
            "extrapolates there. Consider a caliper, trimming, or the ATT.",
            OverlapWarning, stacklevel=3)
    return info


def _wstats(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    w = w / w.sum()
    m = float(np.sum(w * x))
    var = float(np.sum(w * (x - m) ** 2))
    return m, var


def balance_table(df: pd.DataFrame, covariates: list[str], t: np.ndarray,
                  weights_after: np.ndarray, estimand: str) -> pd.DataFrame:
    """Standardised mean differences and variance ratios before and after adjustment.

    Returns one row per covariate with ``mean_treated, mean_control`` (after),
    ``smd_before, smd_after, var_ratio_before, var_ratio_after`` and ``status``.
    """
    rows = []
    ones = np.ones(len(t))
    for c in covariates:
        x = df[c].to_numpy(dtype=float)
        mt0, vt0 = _wstats(x[t == 1], ones[t == 1])
        mc0, vc0 = _wstats(x[t == 0], ones[t == 0])
        sd = {"ATT": np.sqrt(vt0), "ATC": np.sqrt(vc0)}.get(estimand,
                                                           np.sqrt((vt0 + vc0) / 2))
        if sd == 0:
            sd = np.sqrt((vt0 + vc0) / 2) or 1.0
        wt, wc = weights_after[t == 1], weights_after[t == 0]
        mt1, vt1 = _wstats(x[t == 1], wt) if wt.sum() > 0 else (np.nan, np.nan)
        mc1, vc1 = _wstats(x[t == 0], wc) if wc.sum() > 0 else (np.nan, np.nan)
        smd1 = (mt1 - mc1) / sd
        rows.append({
            "covariate": c, "mean_treated": mt1, "mean_control": mc1,
            "smd_before": (mt0 - mc0) / sd, "smd_after": smd1,
            "var_ratio_before": vt0 / vc0 if vc0 > 0 else np.nan,
            "var_ratio_after": vt1 / vc1 if vc1 > 0 else np.nan,
            "status": ("good (<0.05)" if abs(smd1) < SMD_GOOD else
                       "acceptable (<0.1)" if abs(smd1) < SMD_OK else "imbalanced"),
        })
    return pd.DataFrame(rows)


@dataclass(repr=False)
class BalancedEstimate(Estimate):
    """An :class:`Estimate` from matching or weighting, with balance and overlap diagnostics.

    Attributes
    ----------
    balance : DataFrame
        See :func:`balance_table`.
    propensity : ndarray
        Estimated propensity scores of all units.
    treatment : ndarray
        0/1 treatment of all units.
    weights : ndarray
        Matching or weighting weights of all units (0 = unused).
    """

    balance: pd.DataFrame = field(default_factory=pd.DataFrame)
    propensity: np.ndarray = field(default_factory=lambda: np.zeros(0))
    treatment: np.ndarray = field(default_factory=lambda: np.zeros(0))
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __repr__(self) -> str:
        return Estimate.__repr__(self)

    def love_plot(self, ax=None):
        """Absolute SMDs before and after adjustment, with the 0.05 and 0.1 thresholds."""
        import matplotlib.pyplot as plt

        b = self.balance.iloc[::-1]
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.35 * len(b) + 1.5))
        y = np.arange(len(b))
        ax.scatter(b["smd_before"].abs(), y, marker="o", facecolors="none",
                   edgecolors="C3", label="before")
        ax.scatter(b["smd_after"].abs(), y, marker="o", color="C0", label="after")
        ax.axvline(SMD_GOOD, color="0.6", ls=":", lw=1)
        ax.axvline(SMD_OK, color="0.4", ls="--", lw=1)
        ax.set_yticks(y)
        ax.set_yticklabels(b["covariate"])
        ax.set_xlabel("absolute standardised mean difference")
        ax.legend(loc="lower right", frameon=False)
        ax.set_title("Covariate balance (thresholds 0.05 and 0.1)", fontsize=10)
        return ax

    def overlap_plot(self, ax=None, bins: int = 30):
        """Histograms of propensity scores by group (common support)."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        edges = np.linspace(0, 1, bins + 1)
        ps, t = self.propensity, self.treatment
        ax.hist(ps[t == 1], bins=edges, density=True, alpha=0.5, color="C0",
                label=self.treated_label)
        ax.hist(ps[t == 0], bins=edges, density=True, alpha=0.5, color="C3",
                label=self.control_label)
        ax.set_xlabel("propensity score")
        ax.set_ylabel("density")
        ax.legend(frameon=False)
        share = self.extra.get("share_outside")
        title = "Overlap of propensity scores"
        if share is not None:
            title += f" ({share:.0%} outside common support)"
        ax.set_title(title, fontsize=10)
        return ax
