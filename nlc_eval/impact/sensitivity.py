"""Sensitivity of an estimate to confounding nobody measured.

"How strong would a factor we did not measure have to be to explain this away?" Three
documented answers, chosen by the kind of estimate:

* **Regression-based estimates** (``did``, linear ``outcome_effect``, the entry-cohort
  design): the omitted-variable-bias framework of Cinelli & Hazlett (2020). The treatment's
  partial R² with the outcome, the robustness value ``RV_q`` (the share of the residual
  variance of both treatment and outcome a confounder must explain to cut the estimate by
  ``100q``%) and ``RV_{q,alpha}`` (to make it no longer significant), and bounds benchmarked
  on observed covariates ("a confounder ``k`` times as strong as prior attendance would
  leave an effect of ..."). Computed from the treatment's t statistic and residual degrees
  of freedom of the OLS fit (classical standard error, as the framework defines them), which
  the estimators keep in ``Estimate.extra["ovb_inputs"]``.
* **Ratio outcomes** (rate ratios of counts, risk ratios of binary outcomes): the E-value of
  VanderWeele & Ding (2017), the risk ratio a confounder must have with both treatment and
  outcome to explain the estimate away (and for its confidence limit nearer to 1).
* **Matching** (1:1 pairs): Rosenbaum bounds for Wilcoxon's signed-rank test (Rosenbaum,
  2002, ch. 4): the upper bound of the one-sided p-value when hidden bias can multiply the
  odds of treatment within a pair by up to Γ, and the largest Γ at which the effect stays
  significant. Weighting estimates use the E-value of the standardised difference
  (``RR ≈ exp(0.91 d)``, VanderWeele & Ding, 2017) given the outcome's SD.

References
----------
Cinelli, C. & Hazlett, C. (2020). Making sense of sensitivity: extending omitted variable
bias. JRSS B, 82(1), 39-67.
VanderWeele, T. J. & Ding, P. (2017). Sensitivity analysis in observational research:
introducing the E-value. Annals of Internal Medicine, 167(4), 268-274.
Rosenbaum, P. R. (2002). Observational Studies, 2nd ed. Springer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from nlc_eval import formatting as fmt
from nlc_eval.errors import ImpactError

__all__ = ["Sensitivity", "adjusted_estimate", "e_value", "ols_inputs", "ovb_bounds",
           "partial_r2", "robustness_value", "robustness_words", "rosenbaum_bounds",
           "sensitivity"]


# ------------------------------------------------------------------ Cinelli & Hazlett
def partial_r2(t_statistic: float, dof: float) -> float:
    """Partial R² of a regressor with the outcome from its t statistic: ``t²/(t² + dof)``.

    Examples
    --------
    >>> round(partial_r2(4.184, 783), 4)   # Darfur (Cinelli & Hazlett, 2020): 0.022
    0.0219
    """
    _check_dof(dof)
    return float(t_statistic ** 2 / (t_statistic ** 2 + dof))


def _check_dof(dof):
    if not (fmt.finite(dof) and dof > 1):
        raise ImpactError(f"residual degrees of freedom {dof!r}: the regression has too few "
                          "observations for a sensitivity analysis. Fix: use more data or "
                          "fewer covariates.")


def robustness_value(t_statistic: float, dof: float, q: float = 1.0,
                     alpha: float | None = None) -> float:
    """Robustness value ``RV_q`` (``alpha=None``) or ``RV_{q,alpha}`` (Cinelli & Hazlett).

    The partial R² a confounder must have with both the treatment and the outcome to
    reduce the estimate by ``100q``% (or, with ``alpha``, to make the reduced estimate no
    longer significant at ``alpha``).

    Examples
    --------
    >>> round(robustness_value(4.184, 783), 3), round(robustness_value(4.184, 783, alpha=0.05), 3)
    (0.139, 0.076)
    """
    _check_dof(dof)
    if q <= 0:
        raise ImpactError(f"q={q}: the share of the estimate to explain away must be > 0.")
    fq = q * abs(t_statistic) / math.sqrt(dof)
    if alpha is None:
        return float(0.5 * (math.sqrt(fq ** 4 + 4 * fq ** 2) - fq ** 2))
    f_crit = abs(stats.t.ppf(alpha / 2, dof - 1)) / math.sqrt(dof - 1)
    fqa = fq - f_crit
    if fqa <= 0:
        return 0.0
    if fq > 1 / f_crit:
        return float((fq ** 2 - f_crit ** 2) / (1 + fq ** 2))
    return float(0.5 * (math.sqrt(fqa ** 4 + 4 * fqa ** 2) - fqa ** 2))


def adjusted_estimate(estimate: float, se: float, dof: float, r2dz_x: float,
                      r2yz_dx: float, *, conf_level: float = 0.95) -> dict[str, float]:
    """Estimate, SE, t and interval after removing a confounder of the given strengths.

    ``r2dz_x`` is the confounder's partial R² with the treatment, ``r2yz_dx`` with the
    outcome; the bias is taken to shrink the estimate's size (Cinelli & Hazlett, 2020,
    section 4).
    """
    _check_dof(dof)
    if not (0 <= r2dz_x < 1 and 0 <= r2yz_dx <= 1):
        raise ImpactError(f"partial R² values {r2dz_x!r}, {r2yz_dx!r}: need 0 <= R² < 1.")
    bias = math.sqrt(r2yz_dx * r2dz_x / (1 - r2dz_x)) * se * math.sqrt(dof)
    adj = (1.0 if estimate >= 0 else -1.0) * (abs(estimate) - bias)
    adj_se = math.sqrt((1 - r2yz_dx) / (1 - r2dz_x)) * se * math.sqrt(dof / (dof - 1))
    crit = stats.t.ppf(0.5 + conf_level / 2, dof - 1)
    return {"adjusted_estimate": adj, "adjusted_se": adj_se,
            "adjusted_t": adj / adj_se if adj_se > 0 else float("nan"),
            "adjusted_ci_low": adj - crit * adj_se, "adjusted_ci_high": adj + crit * adj_se}


def ovb_bounds(r2dxj_x: float, r2yxj_dx: float, kd: float = 1.0,
               ky: float | None = None) -> tuple[float, float]:
    """Strengths of a confounder ``kd`` (``ky``) times as strong as a benchmark covariate.

    Parameters
    ----------
    r2dxj_x : float
        The benchmark covariate's partial R² with the treatment (given the others).
    r2yxj_dx : float
        Its partial R² with the outcome (given the treatment and the others).
    kd, ky : float
        Multiples of the benchmark's strength with treatment and outcome (``ky`` = ``kd``
        by default).

    Returns
    -------
    (r2dz_x, r2yz_dx)
        The bounds on the confounder's partial R² with treatment and outcome
        (Cinelli & Hazlett, 2020, eq. 34; the outcome bound is capped at 1).
    """
    ky = kd if ky is None else ky
    r2dz_x = kd * r2dxj_x / (1 - r2dxj_x)
    if r2dz_x >= 1:
        raise ImpactError(f"a confounder {kd} times as strong as this benchmark would "
                          "explain all of the treatment. Fix: use a smaller multiple kd.")
    r2zxj = kd * r2dxj_x ** 2 / ((1 - kd * r2dxj_x) * (1 - r2dxj_x))
    if r2zxj >= 1:
        raise ImpactError(f"kd={kd} is impossible for this benchmark. Fix: use a smaller kd.")
    r2yz_dx = ((math.sqrt(ky) + math.sqrt(r2zxj)) / math.sqrt(1 - r2zxj)) ** 2 * (
        r2yxj_dx / (1 - r2yxj_dx))
    return float(r2dz_x), float(min(r2yz_dx, 1.0))


def _rss(X: np.ndarray, y: np.ndarray) -> float:
    if X.shape[1] == 0:
        return float(y @ y)
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    r = y - X @ beta
    return float(r @ r)


def ols_inputs(X: np.ndarray, y: np.ndarray, treatment: int, *, n_absorbed: int = 0,
               benchmarks: Mapping[str, Sequence[int]] | None = None) -> dict:
    """What the sensitivity analysis of a regression needs, for ``Estimate.extra``.

    Parameters
    ----------
    X : ndarray (n, k)
        The design (intercept included, or fixed effects already removed from ``X`` and
        ``y`` by the within transformation).
    y : ndarray (n,)
    treatment : int
        Column of ``X`` holding the treatment.
    n_absorbed : int
        Parameters absorbed by the within transformation (levels of the fixed effects),
        which the residual degrees of freedom must pay for.
    benchmarks : mapping, optional
        Benchmark name -> columns of ``X`` (a group for a polynomial or a factor).

    Returns
    -------
    dict
        ``estimate``, ``se`` (classical OLS), ``t_statistic``, ``dof`` and ``benchmarks``:
        name -> ``{"r2dxj_x", "r2yxj_dx"}`` (partial R² with the treatment given the other
        covariates, and with the outcome given the treatment and the others; group partial
        R² for several columns).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, k = X.shape
    dof = n - k - int(n_absorbed)
    if dof < 2:  # too few rows: the estimate stands, its sensitivity() will say why not
        return {"estimate": float("nan"), "se": float("nan"), "t_statistic": float("nan"),
                "dof": int(dof), "benchmarks": {}}
    XtX_inv = np.linalg.pinv(X.T @ X)
    beta = XtX_inv @ (X.T @ y)
    resid = y - X @ beta
    rss = float(resid @ resid)
    se = math.sqrt(rss / dof * XtX_inv[treatment, treatment])
    out = {"estimate": float(beta[treatment]), "se": se,
           "t_statistic": float(beta[treatment] / se) if se > 0 else float("nan"),
           "dof": int(dof), "benchmarks": {}}
    d = X[:, treatment]
    others = [j for j in range(k) if j != treatment]
    Xo = X[:, others]
    full_rank = np.linalg.matrix_rank(X.T @ X) == k
    if full_rank:
        # the residual sum of squares after dropping columns C, from the full fit alone:
        # RSS_C = RSS + b_C' [(X'X)^-1]_CC^-1 b_C (the F-test identity), so no refit
        Go_inv = np.linalg.inv(Xo.T @ Xo)
        gamma = Go_inv @ (Xo.T @ d)
        rd = d - Xo @ gamma
        rss_d = float(rd @ rd)
    else:
        rss_d = _rss(Xo, d)
    pos = {j: i for i, j in enumerate(others)}
    for name, cols in (benchmarks or {}).items():
        cols = [int(c) for c in cols]
        if treatment in cols or not cols or not all(0 <= c < k for c in cols):
            raise ImpactError(f"benchmark {name!r}: columns {cols} must be covariates of "
                              f"the design (0..{k - 1}, not the treatment {treatment}).")
        if full_rank:
            rss_y_c = rss + _dropped(beta, XtX_inv, cols)
            rss_d_c = rss_d + _dropped(gamma, Go_inv, [pos[c] for c in cols])
        else:
            rss_y_c = _rss(X[:, [j for j in range(k) if j not in cols]], y)
            rss_d_c = _rss(X[:, [j for j in others if j not in cols]], d)
        r2y = 1 - rss / rss_y_c if rss_y_c > 0 else 0.0
        r2d = 1 - rss_d / rss_d_c if rss_d_c > 0 else 0.0
        out["benchmarks"][str(name)] = {"r2dxj_x": float(max(r2d, 0.0)),
                                        "r2yxj_dx": float(max(r2y, 0.0))}
    return out


def _dropped(beta: np.ndarray, inv_gram: np.ndarray, cols: list[int]) -> float:
    """Increase of the residual sum of squares when the columns ``cols`` are dropped."""
    b = beta[cols]
    return float(b @ np.linalg.solve(inv_gram[np.ix_(cols, cols)], b))


# ------------------------------------------------------------------ E-values
def e_value(ratio: float, low: float | None = None, high: float | None = None) -> dict:
    """E-value of a risk (or rate) ratio and of its confidence limit nearer to 1.

    ``E = RR + sqrt(RR (RR - 1))`` for ``RR >= 1`` (use ``1/RR`` below 1); the limit's
    E-value is 1 when the interval includes 1 (VanderWeele & Ding, 2017).

    Examples
    --------
    >>> {k: round(v, 2) for k, v in e_value(3.9, 1.8, 8.7).items()}
    {'e_value': 7.26, 'e_value_ci': 3.0}
    """
    def one(rr):
        if not (fmt.finite(rr) and rr > 0):
            raise ImpactError(f"ratio {rr!r}: an E-value needs a positive ratio.")
        rr = rr if rr >= 1 else 1 / rr
        return float(rr + math.sqrt(rr * (rr - 1)))

    out = {"e_value": one(ratio)}
    if low is not None and high is not None and fmt.finite(low) and fmt.finite(high):
        if low <= 1 <= high:
            out["e_value_ci"] = 1.0
        else:
            out["e_value_ci"] = one(low if ratio >= 1 else high)
    return out


# ------------------------------------------------------------------ Rosenbaum bounds
def _signed_rank_upper_p(ranks2: np.ndarray, t_obs: int, p_plus: float,
                         exact: bool) -> float:
    """Upper bound of P(T >= t_obs) when each pair's sign is + with prob. ``p_plus``.

    ``ranks2`` are twice the (mid)ranks, so whole numbers; exact by convolution.
    """
    if exact:
        total = int(ranks2.sum())
        dist = np.zeros(total + 1)
        dist[0] = 1.0
        for r in ranks2.astype(int):
            new = dist * (1 - p_plus)
            new[r:] += dist[: total + 1 - r] * p_plus
            dist = new
        return float(min(dist[int(t_obs):].sum(), 1.0))
    r = ranks2 / 2.0
    mean = p_plus * r.sum()
    var = p_plus * (1 - p_plus) * (r ** 2).sum()
    return float(stats.norm.sf((t_obs / 2.0 - mean) / math.sqrt(var)))


def rosenbaum_bounds(differences, gammas: Sequence[float] = (1, 1.25, 1.5, 2, 2.5, 3, 4, 5),
                     *, alpha: float = 0.05, exact: bool | None = None) -> dict:
    """Rosenbaum bounds for Wilcoxon's signed-rank test of matched-pair differences.

    Parameters
    ----------
    differences : array
        Treated minus matched comparison outcome, one per pair (zeros are dropped).
    gammas : sequence of float
        Values of Γ >= 1: hidden bias may multiply the odds of treatment within a pair by
        up to Γ.
    alpha : float
        Level of the one-sided test for ``critical_gamma``.
    exact : bool, optional
        Exact distribution by convolution (default for up to 300 pairs) or the normal
        approximation of Rosenbaum (2002, section 4.3.3).

    Returns
    -------
    dict
        ``table`` (DataFrame ``gamma, p_upper``; the one-sided p-value's upper bound in the
        direction of the estimate), ``critical_gamma`` (largest Γ, to 0.01, at which the
        upper bound stays below ``alpha``; 1.0 if it is not below at Γ = 1), ``n_pairs``.
    """
    d = np.asarray(differences, dtype=float)
    if d.ndim != 1 or not np.isfinite(d).all():
        raise ImpactError("pair differences must be a 1-d array of finite numbers.")
    d = d[d != 0]
    if len(d) < 2:
        raise ImpactError(f"{len(d)} non-zero pair differences: Rosenbaum bounds need "
                          "several pairs. Fix: match more units.")
    if any(g < 1 for g in gammas):
        raise ImpactError(f"gammas {list(gammas)}: every Γ must be at least 1.")
    sign = 1.0 if np.median(d) >= 0 else -1.0
    d = d * sign
    ranks2 = np.rint(2 * stats.rankdata(np.abs(d))).astype(np.int64)
    t_obs = int(ranks2[d > 0].sum())
    exact = len(d) <= 300 if exact is None else exact

    def p_up(g):
        return _signed_rank_upper_p(ranks2, t_obs, g / (1 + g), exact)

    table = pd.DataFrame({"gamma": [float(g) for g in gammas],
                          "p_upper": [p_up(g) for g in gammas]})
    if p_up(1.0) >= alpha:
        crit = 1.0
    else:
        lo, hi = 1.0, 2.0
        while p_up(hi) < alpha and hi < 1e6:
            lo, hi = hi, hi * 2
        while hi - lo > 0.005:
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if p_up(mid) < alpha else (lo, mid)
        crit = lo
    return {"table": table, "critical_gamma": float(crit), "n_pairs": int(len(d)),
            "statistic": t_obs / 2.0, "direction": "positive" if sign > 0 else "negative"}


# ------------------------------------------------------------------ one entry point
class Sensitivity(dict):
    """The sensitivity analysis of an :class:`~nlc_eval.impact.Estimate`: a mapping.

    Keys depend on ``method``: ``"omitted variable bias (Cinelli & Hazlett, 2020)"`` has
    ``partial_r2``, ``robustness_value``, ``robustness_value_alpha``, ``q``, ``alpha``,
    ``t_statistic``, ``dof`` and ``bounds`` (DataFrame); E-value analyses have
    ``e_value`` (and ``e_value_ci``); Rosenbaum bounds have ``table`` and
    ``critical_gamma``. :meth:`sentence` says it in plain words.
    """

    def sentence(self, labels: Mapping[str, str] | None = None, *, units: str = "",
                 decimals: int | None = None, outcome: str = "the outcome") -> str:
        """One or two plain-English sentences a report can print beside the effect.

        ``labels`` maps benchmark covariates to the words used for them (default: the
        kit's readable label of the column name); ``units``, ``decimals`` and ``outcome``
        are how the bound's numbers and the outcome are printed
        (:func:`robustness_words`).
        """
        m = self.get("method", "")
        if m.startswith("omitted"):
            b = self.get("bounds")
            bound = name = None
            kd = 1.0
            if isinstance(b, pd.DataFrame) and len(b):
                row = b.iloc[0]
                bound = (row["adjusted_estimate"], row["adjusted_ci_low"],
                         row["adjusted_ci_high"])
                kd = float(row["kd"])
                name = (labels or {}).get(row["benchmark"], fmt.label(row["benchmark"]))
            return robustness_words(self["robustness_value"], self["robustness_value_alpha"],
                                    bound=bound, benchmark=name, kd=kd, units=units,
                                    decimals=decimals, outcome=outcome)
        if "e_value" in self:
            text = (f"To explain this effect away, a factor we did not measure would need "
                    f"to make both being supported and the outcome "
                    f"{fmt.number(self['e_value'], 2)} times as likely (E-value)")
            ci = self.get("e_value_ci")
            if ci is not None:
                text += ("; the interval already includes no effect" if ci <= 1 else
                         f"; {fmt.number(ci, 2)} times to move the interval to include no "
                         "effect")
            return text + "."
        if "critical_gamma" in self:
            g = self["critical_gamma"]
            if g <= 1:
                return ("The matched comparison is not statistically significant even "
                        "without hidden bias.")
            return (f"The matched comparison stays statistically significant unless a "
                    f"factor we did not measure made supported pupils up to "
                    f"{fmt.number(g, 1)} times as likely to be supported as their matched "
                    "comparison (Rosenbaum bounds).")
        return "No sensitivity analysis is available for this estimate."


def robustness_words(rv: float, rv_alpha: float, *, bound=None, benchmark: str | None = None,
                     kd: float = 1.0, units: str = "", decimals: int | None = None,
                     outcome: str = "the outcome", bound_interval: bool = True) -> str:
    """The robustness values (and a benchmarked bound) in plain words.

    ``rv`` and ``rv_alpha`` are the robustness values to explain the effect away and to make
    it no longer significant; ``bound`` an (estimate, low, high) left by a factor ``kd``
    times as strong as ``benchmark``, printed at least at ``decimals`` decimals, with the
    words ``units`` after the estimate, and its interval unless ``bound_interval`` is false
    (e.g. when the bound's classical standard error is not the one the reader was shown).

    Examples
    --------
    >>> # Darfur (sensemakr): RV 0.139, RV at 5% 0.076, bound of 1x female
    >>> robustness_words(0.13878, 0.07626, bound=(0.075220, 0.032283, 0.118158),
    ...                  benchmark="being female", decimals=3)
    'To explain this effect away, a factor we did not measure would have to account for 14% of the remaining variation in both who was supported and the outcome (7.6% to make it no longer statistically significant); a factor as strong as being female would leave an effect of 0.075 (95% interval 0.032 to 0.118).'
    """
    text = (f"To explain this effect away, a factor we did not measure would have to "
            f"account for {_pct(rv)} of the remaining variation in both who was "
            f"supported and {outcome}")
    text += (f" ({_pct(rv_alpha)} to make it no longer statistically significant)"
             if rv_alpha > 0 else "; the effect is not statistically significant even "
             "without one")
    if bound is not None and benchmark and fmt.finite(bound[0]) and (
            not bound_interval or all(fmt.finite(x) for x in bound)):
        f = fmt.effect(*bound, min_decimals=decimals)
        times = "" if kd == 1 else f"{fmt.number(kd, 0 if kd == round(kd) else 1)} times "
        text += (f"; a factor {times}as strong as {benchmark} would leave an effect of "
                 f"{f.estimate}{' ' + units if units else ''}")
        if bound_interval:
            text += f" ({f.level.removesuffix(' CI')} interval {f.low} to {f.high})"
    return text + "."


def _pct(x: float) -> str:
    return f"{fmt.number(100 * x, max(0, fmt.sig_decimals(100 * x) if x < 0.1 else 0))}%"


def _benchmark_table(inputs, conf_level, kd, ky, benchmarks):
    rows = []
    bench = inputs.get("benchmarks", {})
    names = list(bench) if benchmarks is None else list(benchmarks)
    for name in names:
        if name not in bench:
            raise ImpactError(f"no benchmark covariate {name!r}. Fix: use one of "
                              f"{list(bench)}.")
        b = bench[name]
        for k_d in kd:
            k_y = k_d if ky is None else ky
            try:
                r2d, r2y = ovb_bounds(b["r2dxj_x"], b["r2yxj_dx"], k_d, k_y)
            except ImpactError:
                continue
            adj = adjusted_estimate(inputs["estimate"], inputs["se"], inputs["dof"], r2d,
                                    r2y, conf_level=conf_level)
            rows.append({"benchmark": name, "kd": float(k_d), "ky": float(k_y),
                         "r2dz_x": r2d, "r2yz_dx": r2y, **adj})
    return pd.DataFrame(rows, columns=["benchmark", "kd", "ky", "r2dz_x", "r2yz_dx",
                                       "adjusted_estimate", "adjusted_se", "adjusted_t",
                                       "adjusted_ci_low", "adjusted_ci_high"])


def sensitivity(est, *, q: float = 1.0, alpha: float = 0.05,
                benchmarks: Sequence[str] | None = None, kd: Sequence[float] = (1, 2, 3),
                ky: float | None = None, outcome_sd: float | None = None,
                gammas: Sequence[float] = (1, 1.25, 1.5, 2, 2.5, 3, 4, 5)) -> Sensitivity:
    """Sensitivity analysis of an estimate to unmeasured confounding (see module notes).

    Parameters
    ----------
    est : Estimate
    q, alpha : float
        Share of the estimate to explain away and the significance level of ``RV_{q,alpha}``
        (and of Rosenbaum's ``critical_gamma``).
    benchmarks : sequence of str, optional
        Observed covariates to benchmark on (default: every one the estimator kept).
    kd, ky
        Multiples of each benchmark's strength (Cinelli & Hazlett's bounds).
    outcome_sd : float, optional
        SD of a continuous outcome, for the E-value of weighting estimates.
    gammas : sequence of float
        Γ values of the Rosenbaum table.

    Returns
    -------
    Sensitivity

    Raises
    ------
    ImpactError
        When the estimate carries nothing a documented method can use (e.g. weighting
        without ``outcome_sd``).
    """
    extra = est.extra or {}
    inputs = extra.get("ovb_inputs")
    if inputs is not None:
        t, dof = inputs["t_statistic"], inputs["dof"]
        rep_t = est.estimate / est.se if est.se and fmt.finite(est.se) else float("nan")
        out = Sensitivity(
            method="omitted variable bias (Cinelli & Hazlett, 2020)",
            partial_r2=partial_r2(t, dof), robustness_value=robustness_value(t, dof, q),
            robustness_value_alpha=robustness_value(t, dof, q, alpha),
            robustness_value_alpha_reported_se=(robustness_value(rep_t, dof, q, alpha)
                                                if fmt.finite(rep_t) else float("nan")),
            q=q, alpha=alpha, t_statistic=t, dof=dof,
            bounds=_benchmark_table(inputs, est.conf_level, kd, ky, benchmarks))
        return out
    if est.scale == "ratio":
        return Sensitivity(method="E-value (VanderWeele & Ding, 2017), rate ratio",
                           **e_value(est.estimate, est.ci_low, est.ci_high))
    if est.outcome_type == "binary" and "risk_untreated" in extra:
        p0 = float(extra["risk_untreated"])
        rr = float(extra["risk_treated"]) / p0
        lo = (p0 + est.ci_low / 100) / p0
        hi = (p0 + est.ci_high / 100) / p0
        return Sensitivity(method="E-value (VanderWeele & Ding, 2017), risk ratio from the "
                                  "standardised risks (interval with the untreated risk "
                                  "held fixed)",
                           risk_ratio=rr, **e_value(rr, max(lo, 1e-12), hi))
    if "pair_differences" in extra:
        rb = rosenbaum_bounds(extra["pair_differences"], gammas, alpha=alpha)
        return Sensitivity(method="Rosenbaum bounds, Wilcoxon signed-rank test of matched "
                                  "pairs", **rb)
    if outcome_sd is not None:
        if not (fmt.finite(outcome_sd) and outcome_sd > 0):
            raise ImpactError(f"outcome_sd={outcome_sd!r}. Fix: pass the outcome's SD (> 0).")
        d = est.estimate / outcome_sd
        conv = [math.exp(0.91 * x / outcome_sd) for x in (est.ci_low, est.ci_high)]
        return Sensitivity(method="E-value (VanderWeele & Ding, 2017) of the standardised "
                                  "difference, RR = exp(0.91 d)", standardised=d,
                           **e_value(math.exp(0.91 * d), *conv))
    raise ImpactError(
        f"no sensitivity analysis for this estimate ({est.method}): it keeps no OLS "
        "statistics, ratio or matched pairs. Fix: pass outcome_sd= (the outcome's SD) for "
        "an E-value of the standardised difference, or use a regression-based estimator."
    )
