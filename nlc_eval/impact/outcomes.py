"""Effects on the three kinds of education outcome, each on its natural scale.

* attendance rate and other continuous outcomes: linear model, difference in the outcome's
  units (e.g. percentage points);
* exclusions and other counts: Poisson or negative binomial model (log link, optional
  exposure such as possible sessions), reported as a rate ratio;
* on-track yes/no and other binary outcomes: logistic model, reported as a risk difference
  in percentage points (average over the sample of predicted risks with and without
  treatment).

Standard errors are cluster-robust when ``cluster`` is given; with fewer than 50 clusters the
linear model uses the wild cluster bootstrap and the GLMs the t(G-1) reference distribution.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nlc_eval.errors import ImpactError

from . import _validate as v
from ._covariates import encode_covariates
from .estimate import Estimate
from .inference import (
    FEW_CLUSTERS,
    cluster_codes,
    critical_value,
    few_cluster_inference,
    ols_cluster,
    p_from_t,
)
from .sensitivity import ols_inputs

KINDS = ("linear", "count", "binary")


def _design(df, treatment, covs):
    t = v.binary_treatment(df, treatment).astype(float)
    cols = [np.ones(len(df)), t] + [df[c].to_numpy(dtype=float) for c in covs]
    return np.column_stack(cols), t


def outcome_effect(df: pd.DataFrame, outcome: str, treatment: str,
                   covariates: list[str] | None = None, *, kind: str = "linear",
                   cluster: str | None = None, exposure: str | None = None,
                   family: str = "poisson", conf_level: float = 0.95, n_boot: int = 999,
                   random_state: int | None = 0, absorb: list[str] | None = None,
                   randomisation: str = "auto", outcome_label: str | None = None,
                   units: str | None = None, treated_label: str = "treated units",
                   control_label: str = "comparison units") -> Estimate:
    """Covariate-adjusted treatment effect on the scale natural to the outcome type.

    Parameters
    ----------
    df : DataFrame
        One row per unit.
    outcome, treatment : str
        Outcome column and 0/1 treatment column.
    covariates : list of str, optional
        Numeric adjustment covariates.
    kind : {"linear", "count", "binary"}
        Outcome type (see module notes).
    cluster : str, optional
        Column for cluster-robust inference. With fewer than five treated or comparison
        clusters a :class:`~nlc_eval.impact.inference.FewClustersWarning` is issued and, when
        treatment is assigned by cluster, the p-value and interval come from randomisation
        inference over clusters (``randomisation="auto"``; ``"always"``/``"never"``).
    absorb : list of str, optional
        For ``kind="linear"``: categorical columns whose fixed effects are absorbed (e.g.
        school or term); the wild cluster bootstrap re-estimates them in every draw.
    exposure : str, optional
        For counts: exposure column (e.g. possible sessions); its log is the offset.
    family : {"poisson", "negbin"}
        Count model family.
    units : str, optional
        Units for the sentence; defaults to "percentage points" for binary outcomes.

    Returns
    -------
    Estimate
        ``scale="ratio"`` (rate ratio) for counts; risk difference in percentage points for
        binary outcomes; difference in the outcome's units for linear ones.
    """
    import statsmodels.api as sm

    if kind not in KINDS:
        raise ImpactError(f"kind={kind!r}. Fix: use one of {list(KINDS)}.")
    v.require_frame(df)
    covs = v.as_list(covariates)
    extra_cols = ([cluster] if cluster else []) + ([exposure] if exposure else [])
    v.require_columns(df, [outcome, treatment, *covs, *extra_cols])
    v.require_no_missing(df, [outcome], role="outcome")
    v.require_no_missing(df, extra_cols)
    df, covs, ref_levels = encode_covariates(df, covs, outcome=outcome,
                                             exclude={treatment: "treatment",
                                                      exposure: "exposure"},
                                             numeric=[exposure])
    X, t = _design(df, treatment, covs)
    y = df[outcome].to_numpy(dtype=float)
    label = outcome_label or outcome
    n_t, n_c = int(t.sum()), int((t == 0).sum())
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise ImpactError("the covariates are collinear with each other or the treatment. "
                          "Fix: drop redundant covariates.")
    base = dict(n_treated=n_t, n_control=n_c, outcome=label, design="level",
                conf_level=conf_level, treated_label=treated_label,
                control_label=control_label, reference_levels=ref_levels)
    common = ["no unmeasured confounding given the covariates",
              "each unit's outcome is unaffected by others' treatment"]
    absorb = v.as_list(absorb)
    if absorb and kind != "linear":
        raise ImpactError(f"absorb={absorb} is for kind='linear' only. Fix: pass these columns "
                          "as covariates (categories are encoded automatically).")
    if kind == "linear":
        clusters = df[cluster].to_numpy() if cluster else np.arange(len(df))
        codes = None
        if absorb:
            from .did import demean

            v.require_columns(df, absorb, role="fixed-effect column")
            v.require_no_missing(df, absorb, role="fixed-effect column")
            codes = [pd.factorize(df[c])[0] for c in absorb]
            Z = demean(np.column_stack([y, X[:, 1:]]), codes)[0]
            yfit, Xfit, k = Z[:, 0], Z[:, 1:], 0
            if np.linalg.matrix_rank(Xfit) < Xfit.shape[1]:
                raise ImpactError(f"the treatment or a covariate does not vary within the "
                                  f"absorbed groups ({', '.join(absorb)}). Fix: absorb fewer "
                                  "groups or drop the covariate.")
        else:
            yfit, Xfit, k = y, X, 1
        r = ols_cluster(Xfit, yfit, clusters, k, conf_level=conf_level, n_boot=n_boot,
                        random_state=random_state, absorb=codes)
        cautions: list[str] = []
        if cluster:
            r, cautions = few_cluster_inference(
                r, y, t, clusters, covariates=X[:, 2:],
                absorb=codes if absorb else [np.zeros(len(y), dtype=np.int64)],
                randomisation=randomisation, conf_level=conf_level, n_perm=n_boot,
                random_state=random_state)
        extra = {"n_clusters": r["n_clusters"]}
        extra.update({key: r[key] for key in ("n_treated_clusters", "n_control_clusters",
                                              "cluster_robust") if key in r})
        if absorb:
            extra["absorbed"] = list(absorb)
        extra["ovb_inputs"] = ols_inputs(
            Xfit, yfit, k,
            n_absorbed=sum(int(c.max()) + 1 for c in codes) - len(codes) + 1 if codes else 0,
            benchmarks={c: [j + 1 + k] for j, c in enumerate(covs)})
        return Estimate(estimate=r["estimate"], se=r["se"], ci_low=r["ci_low"],
                        ci_high=r["ci_high"], p_value=r["p_value"],
                        method="linear regression adjustment"
                        + (f" (absorbing {', '.join(absorb)})" if absorb else ""),
                        units=units or "", outcome_type="continuous", inference=r["inference"],
                        assumptions=common + ["the outcome is linear in the covariates"],
                        warnings=cautions, extra=extra, **base)
    if kind == "binary" and not np.isin(y, [0, 1]).all():
        raise ImpactError(f"outcome {outcome!r} must be 0/1 for kind='binary'. Fix: recode it.")
    if kind == "count" and ((y < 0).any() or not np.allclose(y, np.round(y))):
        raise ImpactError(f"outcome {outcome!r} must be non-negative whole numbers for "
                          "kind='count'.")
    offset = None
    if exposure:
        ex = df[exposure].to_numpy(dtype=float)
        if (ex <= 0).any():
            raise ImpactError(f"exposure {exposure!r} has {int((ex <= 0).sum())} rows <= 0. "
                              "Fix: drop units with no exposure explicitly.")
        offset = np.log(ex)
    if kind == "count":
        fam = (sm.families.Poisson() if family == "poisson"
               else sm.families.NegativeBinomial(alpha=_nb_alpha(y, X, offset)))
        if family not in ("poisson", "negbin"):
            raise ImpactError(f"family={family!r}. Fix: use 'poisson' or 'negbin'.")
    else:
        fam = sm.families.Binomial()
    model = sm.GLM(y, X, family=fam, offset=offset)
    if cluster:
        codes, G = cluster_codes(df[cluster].to_numpy())
        res = model.fit(cov_type="cluster", cov_kwds={"groups": codes})
        dfree = G - 1 if G < FEW_CLUSTERS else None
        how = f"cluster-robust standard errors over {G} clusters" + (
            f", t({G - 1}) interval" if dfree else "")
    else:
        res = model.fit(cov_type="HC1")
        G, dfree = len(df), None
        how = "heteroskedasticity-robust (HC1) standard errors"
    crit = critical_value(conf_level, dfree)
    b, V = np.asarray(res.params), np.asarray(res.cov_params())
    if kind == "count":
        se = float(np.sqrt(V[1, 1]))
        rr = float(np.exp(b[1]))
        return Estimate(estimate=rr, se=se, ci_low=float(np.exp(b[1] - crit * se)),
                        ci_high=float(np.exp(b[1] + crit * se)),
                        p_value=p_from_t(b[1] / se, dfree),
                        method=f"{'Poisson' if family == 'poisson' else 'negative binomial'} "
                               "regression (rate ratio)",
                        units=units or "", outcome_type="count", scale="ratio",
                        inference=how, assumptions=common + [
                            "the log rate is linear in the covariates"
                            + ("; over-dispersion handled by the negative binomial"
                               if family == "negbin" else
                               "; robust SEs protect against over-dispersion")],
                        extra={"log_rate_ratio": float(b[1]), "n_clusters": G}, **base)
    # binary: average risk difference by standardisation (g-computation), delta method
    X1, X0 = X.copy(), X.copy()
    X1[:, 1], X0[:, 1] = 1.0, 0.0
    p1, p0 = 1 / (1 + np.exp(-(X1 @ b))), 1 / (1 + np.exp(-(X0 @ b)))
    rd = float(np.mean(p1 - p0))
    grad = (X1 * (p1 * (1 - p1))[:, None]).mean(axis=0) - \
        (X0 * (p0 * (1 - p0))[:, None]).mean(axis=0)
    se = float(np.sqrt(grad @ V @ grad))
    return Estimate(estimate=100 * rd, se=100 * se, ci_low=100 * (rd - crit * se),
                    ci_high=100 * (rd + crit * se), p_value=p_from_t(rd / se, dfree),
                    method="logistic regression, average risk difference",
                    units=units or "percentage points", outcome_type="binary",
                    inference=how + "; delta-method interval",
                    assumptions=common + ["the log-odds are linear in the covariates"],
                    extra={"odds_ratio": float(np.exp(b[1])), "risk_treated": float(p1.mean()),
                           "risk_untreated": float(p0.mean()), "n_clusters": G}, **base)


def _nb_alpha(y, X, offset) -> float:
    """Method-of-moments over-dispersion of a negative binomial from a Poisson fit."""
    import statsmodels.api as sm

    mu = sm.GLM(y, X, family=sm.families.Poisson(), offset=offset).fit().fittedvalues
    alpha = float(np.sum(((y - mu) ** 2 - y) / mu ** 2) / (len(y) - X.shape[1]))
    return max(alpha, 1e-8)
