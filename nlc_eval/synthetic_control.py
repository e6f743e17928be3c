"""Synthetic control of an authority-wide rate, built from the other authorities.

The authority's series (e.g. its attendance rate) is matched in the pre-period by a convex
combination of other authorities: non-negative weights summing to one, chosen by
constrained least squares on the pre-period values (optionally with standardised
pre-period covariates). The post-period gap between the authority and its synthetic twin is
the estimate; inference is by placebo runs, giving every other authority the same treatment
in turn, and ranking the ratio of post- to pre-period root mean squared prediction error
(RMSPE): the p-value is the share of authorities whose ratio is at least the treated one's.

With few pre-period years (attendance is collected every other year until 2022/23) the fit
rests on few points; the result says so through its pre-period RMSPE and the number of
pre-period years.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> years = [2015, 2016, 2017, 2018, 2019, 2020]
>>> Y = pd.DataFrame(90 + rng.normal(0, 1, (8, 6)).cumsum(axis=1),
...                  index=[f"LA{i}" for i in range(8)], columns=years)
>>> Y.loc["LA0"] = 0.5 * Y.loc["LA1"] + 0.5 * Y.loc["LA2"]
>>> Y.loc["LA0", [2019, 2020]] += 2.0
>>> res = synthetic_control(Y, "LA0", pre_years=years[:4], post_years=years[4:])
>>> round(res.effect, 1)
2.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import minimize, nnls

from nlc_eval import formatting as fmt
from nlc_eval.comparators import OUTCOMES
from nlc_eval.errors import DataError, ImpactError
from nlc_eval.impact.estimate import Estimate

_TABLE = "authority series"


def authority_series(
    stats: pd.DataFrame,
    outcome: str = "attendance_rate",
    *,
    weight: str | None = "roll",
    sectors: Sequence[str] | None = None,
    years: Sequence[int] | None = None,
    exclude: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Authority-by-year series of a school-level rate (roll-weighted mean of schools).

    Parameters
    ----------
    stats : DataFrame
        School-year table with ``year``, ``local_authority``, ``outcome`` (and ``weight``).
    outcome : str
        Rate to aggregate.
    weight : str or None
        Column weighting schools (default ``roll``, approximating the pupil-weighted rate);
        None gives each school equal weight.
    sectors : sequence of str, optional
        Keep only these sectors.
    years : sequence of int, optional
        Keep only these years (e.g. those in which the outcome is published).
    exclude : sequence of str, optional
        Groups that are not authorities (default
        :data:`nlc_eval.comparators.NOT_AUTHORITIES`, i.e. grant-aided schools).

    Returns
    -------
    DataFrame
        Index authority, columns years; missing where an authority has no value.
    """
    need = ["year", "local_authority", outcome] + ([weight] if weight else [])
    missing = [c for c in need if c not in stats.columns]
    if missing:
        raise DataError(
            f"column(s) {missing} missing.",
            table="school statistics",
            column=missing[0],
            fix="pass the table from load_school_statistics.",
        )
    from nlc_eval.comparators import NOT_AUTHORITIES, harmonise_authorities

    df = harmonise_authorities(stats)
    exclude = NOT_AUTHORITIES if exclude is None else exclude
    if exclude:
        df = df.loc[~df["local_authority"].isin(list(exclude))]
    if sectors is not None:
        df = df.loc[df["sector"].isin(list(sectors))]
    if years is not None:
        df = df.loc[df["year"].isin(list(years))]
    y = pd.to_numeric(df[outcome], errors="coerce")
    w = pd.to_numeric(df[weight], errors="coerce") if weight else pd.Series(1.0, df.index)
    ok = y.notna() & w.notna() & (w > 0)
    d = pd.DataFrame(
        {"la": df["local_authority"], "year": df["year"].astype(int), "wy": w * y, "w": w}
    )[ok]
    agg = d.groupby(["la", "year"])[["wy", "w"]].sum()
    out = (agg["wy"] / agg["w"]).unstack("year").sort_index(axis=1)
    out.index.name = "local_authority"
    out.attrs["outcome"] = outcome
    return out


def fit_weights(
    target: np.ndarray, donors: np.ndarray, *, method: str = "slsqp"
) -> np.ndarray:
    """Non-negative weights summing to one minimising ``||target - donors.T @ w||``.

    Parameters
    ----------
    target : array, shape (p,)
        Pre-period values (and standardised covariates) of the treated unit.
    donors : array, shape (J, p)
        The same for each donor.
    method : {"slsqp", "nnls"}
        Exact constrained least squares (SLSQP, started from the NNLS solution) or NNLS with
        the sum-to-one constraint imposed as a heavily weighted extra row.

    Returns
    -------
    array, shape (J,)
    """
    A = np.asarray(donors, float).T  # (p, J)
    b = np.asarray(target, float)
    J = A.shape[1]
    scale = max(float(np.abs(A).max()), 1.0)
    big = 1e3 * scale
    A_aug = np.vstack([A, big * np.ones((1, J))])
    b_aug = np.append(b, big)
    w0, _ = nnls(A_aug, b_aug, maxiter=50 * J)
    w0 = np.clip(w0, 0, None)
    w0 = w0 / w0.sum() if w0.sum() > 0 else np.full(J, 1.0 / J)
    if method == "nnls":
        return w0
    if method != "slsqp":
        raise DataError(f"unknown method {method!r}.", fix="use 'slsqp' or 'nnls'.")

    def loss(w):
        r = A @ w - b
        return float(r @ r)

    def grad(w):
        return 2 * A.T @ (A @ w - b)

    res = minimize(
        loss,
        w0,
        jac=grad,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * J,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(J)}],
        options={"maxiter": 500, "ftol": 1e-12},
    )
    w = np.clip(res.x, 0, None) if res.success else w0
    w = w / w.sum()
    return w if loss(w) <= loss(w0) + 1e-12 else w0


def _rmspe(x: np.ndarray) -> float:
    x = np.asarray(x, float)
    return float(np.sqrt(np.mean(x**2))) if len(x) else np.nan


@dataclass(repr=False)
class SyntheticControlResult(Estimate):
    """A synthetic control with its placebo inference.

    An :class:`nlc_eval.impact.Estimate`: ``estimate`` (also ``effect``) is the average
    post-period gap between the treated unit and its synthetic comparator; ``p_value`` the
    placebo p-value :meth:`sentence` reports (``p_value_ratio`` when the fit ratio is
    informative, else ``p_value_effect``); ``ci_low, ci_high`` the placebo interval at
    ``conf_level`` (:meth:`placebo_interval`); ``se`` the standard deviation of the placebo
    effects; ``n_treated`` is 1 and ``n_control`` the number of donors.

    Attributes
    ----------
    treated : str
    outcome_column : str
        The series' outcome column (``outcome`` is its name as it reads in a sentence).
    pre_years, post_years : list of int
    weights : Series
        Donor weights (non-negative, sum one), largest first.
    path : DataFrame
        Per year: ``actual``, ``synthetic``, ``gap``, ``period``.
    pre_rmspe, post_rmspe, ratio : float
    placebos : DataFrame
        Per unit (treated included): ``pre_rmspe, post_rmspe, ratio, effect, treated``.
    placebo_gaps : DataFrame
        Gap paths of every unit (rows units, columns years).
    p_value_ratio : float
        Share of units with ratio at least the treated one's (treated included).
    p_value_filtered : float
        The same among placebos whose pre-period RMSPE is at most ``rmspe_filter`` times the
        treated one's (poorly fitted placebos say little).
    p_value_effect : float
        Share of units whose absolute average post-period gap is at least the treated one's.
    n_exact_placebos : int
        Placebos fitted exactly in the pre-period (pre-RMSPE ~ 0): with few pre-period years
        this is common, their RMSPE ratios are unbounded and the ratio p-value says little;
        when over a tenth of them are, the reported ``p_value`` is ``p_value_effect``.
    intercept : bool
        Whether the demeaned variant was fitted.
    """

    treated: str = ""
    outcome_column: str = ""
    pre_years: list[int] = field(default_factory=list)
    post_years: list[int] = field(default_factory=list)
    weights: pd.Series | None = None
    path: pd.DataFrame | None = None
    pre_rmspe: float = float("nan")
    post_rmspe: float = float("nan")
    ratio: float = float("nan")
    placebos: pd.DataFrame | None = None
    placebo_gaps: pd.DataFrame | None = None
    p_value_ratio: float = float("nan")
    p_value_filtered: float = float("nan")
    rmspe_filter: float = 5.0
    p_value_effect: float = float("nan")
    n_exact_placebos: int = 0
    intercept: bool = False

    @property
    def effect(self) -> float:
        """The average post-period gap (``estimate``)."""
        return self.estimate

    @property
    def n_units(self) -> int:
        """Units in the placebo distribution (treated included)."""
        return int(len(self.placebos))

    def tidy(self) -> pd.DataFrame:
        """The tidy columns of :meth:`Estimate.tidy`: first the average post-period gap with
        its placebo p-value and interval, then one row per post-period year (gap only)."""
        out = super().tidy()
        out.loc[0, "term"] = "average post-period gap"
        return out

    def placebo_interval(self, level: float | None = None) -> tuple[float, float]:
        """Interval for the average effect from the spread of placebo effects.

        The treated effect minus the placebo effects' central quantiles at ``level``
        (default ``conf_level``): a rough interval assuming the placebo effects describe the
        null distribution of a no-effect gap.
        """
        level = self.conf_level if level is None else level
        return _placebo_interval(self.estimate, self.placebos, level)

    def top_weights(self, n: int = 5) -> pd.Series:
        """The ``n`` largest donor weights."""
        return self.weights.head(n)

    @property
    def ratio_informative(self) -> bool:
        """False when over a tenth of placebos fit the pre-period exactly (their RMSPE ratios
        are unbounded, so ranking ratios says little)."""
        return self.n_exact_placebos <= 0.1 * (self.n_units - 1)

    def sentence(self) -> str:
        """Plain-English summary with the placebo p-value and fit quality."""
        lo, hi = self.ci_low, self.ci_high
        top = self.weights.head(3)
        donors = ", ".join(f"{k} ({v:.0%})" for k, v in top[top >= 0.005].items())
        what = (
            "changed relative to its pre-period difference from" if self.intercept
            else "differed from"
        )
        p = self.p_value
        if self.ratio_informative:
            how = "a post/pre fit ratio"
        else:
            how = "an average gap (many placebo fits are exact, so the fit ratio is " \
                "uninformative)"
        k = int(round(p * self.n_units))
        f = fmt.effect(self.effect, lo, hi, min_decimals=2, sign=True)
        return (
            f"Over {', '.join(map(str, self.post_years))}, {self.treated}'s "
            f"{self.outcome} {what} its synthetic comparator by "
            f"{f.estimate} points on average (placebo-based "
            f"{round(self.conf_level * 100):d}% range {f.low} to "
            f"{f.high}); {k} of {self.n_units} authorities had {how} at least as large "
            f"(placebo {fmt.p_value(p)}). The synthetic comparator is built mostly from {donors}, "
            f"fitted on {_years(len(self.pre_years))} before the change with RMSPE "
            f"{self.pre_rmspe:.2f}."
        )

    def plot(self, ax=None):
        """Actual vs synthetic series (left) and placebo gaps (right); returns the Axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(1, 2, figsize=(11, 3.8))
        a, b = ax
        p = self.path
        a.plot(p.index, p["actual"], "o-", label=self.treated)
        a.plot(p.index, p["synthetic"], "s--", label="synthetic comparator")
        cut = max(self.pre_years) + 0.5
        for axis in (a, b):
            axis.axvline(cut, color="grey", ls=":", lw=1)
            axis.set_xticks(list(p.index))
            axis.set_xlabel("census year")
        a.set_ylabel(self.outcome)
        a.legend(frameon=False)
        for unit, row in self.placebo_gaps.iterrows():
            if unit != self.treated:
                b.plot(row.index, row.to_numpy(), color="lightgrey", lw=1)
        b.plot(p.index, p["gap"], "o-", color="C0", lw=2, label=self.treated)
        b.axhline(0, color="black", lw=0.8)
        b.set_ylabel("actual minus synthetic")
        b.set_title("placebo runs (grey: other authorities)")
        return ax


def _placebo_interval(effect: float, placebos: pd.DataFrame | None,
                      level: float) -> tuple[float, float]:
    if placebos is None:
        return np.nan, np.nan
    pl = placebos.loc[~placebos["treated"].astype(bool), "effect"].dropna()
    if len(pl) < 2:
        return np.nan, np.nan
    q_lo, q_hi = np.quantile(pl, [(1 - level) / 2, (1 + level) / 2])
    return float(effect - q_hi), float(effect - q_lo)


def outcome_label_of(outcome: str) -> str:
    """An outcome's name as it reads in a sentence ("attendance rate", not the column)."""
    return OUTCOMES.get(outcome, outcome.replace("_", " ")).split(" (")[0]


def _fit_one(Y, X, unit, donors, pre, post, method, intercept=False):
    pre_cols = list(pre)
    if intercept:
        # demeaned synthetic control: match each unit's deviations from its own pre-period
        # mean, so a level difference does not count as a misfit
        Y = Y.sub(Y[pre_cols].mean(axis=1), axis=0)
    target = Y.loc[unit, pre_cols].to_numpy(float)
    D = Y.loc[donors, pre_cols].to_numpy(float)
    if X is not None:
        target = np.append(target, X.loc[unit].to_numpy(float))
        D = np.hstack([D, X.loc[donors].to_numpy(float)])
    w = fit_weights(target, D, method=method)
    synth = pd.Series(w @ Y.loc[donors].to_numpy(float), index=Y.columns)
    gap = Y.loc[unit] - synth
    return w, synth, gap


def synthetic_control(
    series: pd.DataFrame,
    treated: str,
    *,
    pre_years: Sequence[int],
    post_years: Sequence[int],
    covariates: pd.DataFrame | None = None,
    covariate_weight: float = 1.0,
    rmspe_filter: float = 5.0,
    method: str = "slsqp",
    intercept: bool = False,
    conf_level: float = 0.9,
    units: str = "",
    outcome_label: str | None = None,
) -> SyntheticControlResult:
    """Synthetic control of ``treated`` from the other rows of ``series``, with placebos.

    Parameters
    ----------
    series : DataFrame
        Units (authorities) by years (e.g. from :func:`authority_series`).
    treated : str
        Row of the treated unit.
    pre_years, post_years : sequence of int
        Fit period and evaluation period (columns of ``series``).
    covariates : DataFrame, optional
        Pre-period predictors by unit (e.g. SIMD Q1 share, FSM %); standardised across
        units and multiplied by ``covariate_weight`` (relative to the outcome's own scale)
        before being matched alongside the pre-period outcome.
    rmspe_filter : float
        Placebos with pre-period RMSPE above this multiple of the treated one's are left out
        of ``p_value_filtered``.
    method : {"slsqp", "nnls"}
        Weight solver (see :func:`fit_weights`).
    intercept : bool
        Demeaned synthetic control: every unit's series is taken relative to its own
        pre-period mean before fitting, so an authority whose level lies outside the others'
        range (e.g. the lowest attendance) can still be tracked; the gap is then a change
        relative to the pre-period difference.
    conf_level : float
        Level of the placebo interval (default 90%: with some 30 authorities the tails of
        the placebo distribution rest on a handful of units).
    units, outcome_label : str, optional
        Units of the series (e.g. ``"percentage points"``) and the outcome's name in
        sentences (default from :data:`nlc_eval.comparators.OUTCOMES` or the column name).

    Returns
    -------
    SyntheticControlResult
        An :class:`nlc_eval.impact.Estimate` with the placebo results.

    Raises
    ------
    ImpactError
        If the treated unit is missing, the periods are empty or overlap, or fewer than two
        donors have complete data.
    """
    pre, post = [int(y) for y in pre_years], [int(y) for y in post_years]
    if not pre or not post:
        raise ImpactError("both a pre-period and a post-period year are needed.")
    if set(pre) & set(post):
        raise ImpactError(f"pre and post periods overlap in {sorted(set(pre) & set(post))}.")
    cols = sorted(pre + post)
    absent = [y for y in cols if y not in series.columns]
    if absent:
        raise ImpactError(
            f"years {absent} are not in the series (years present: {list(series.columns)}); "
            "use years in which the outcome is published."
        )
    if treated not in series.index:
        raise ImpactError(f"{treated!r} is not a row of the series; check the authority name.")
    Y = series[cols].astype(float)
    if Y.loc[treated].isna().any():
        raise ImpactError(
            f"{treated!r} has no value in {Y.columns[Y.loc[treated].isna()].tolist()}."
        )
    X = None
    if covariates is not None:
        X = covariates.reindex(Y.index).astype(float)
        sd = X.std(ddof=0).replace(0, np.nan)
        ysd = float(np.nanstd(Y[pre].to_numpy())) or 1.0
        X = ((X - X.mean()) / sd).fillna(0.0) * covariate_weight * ysd
    complete = Y.notna().all(axis=1) & (X.notna().all(axis=1) if X is not None else True)
    members = [u for u in Y.index if complete[u]]
    donors = [u for u in members if u != treated]
    if len(donors) < 2:
        raise ImpactError(f"only {len(donors)} donor(s) have complete data; need at least 2.")
    w, synth, gap = _fit_one(Y, X, treated, donors, pre, post, method, intercept)
    if intercept:
        synth = synth + Y.loc[treated, pre].mean()
    weights = pd.Series(w, index=donors, name="weight").sort_values(ascending=False)
    path = pd.DataFrame(
        {
            "actual": Y.loc[treated],
            "synthetic": synth,
            "gap": gap,
            "period": ["pre" if y in pre else "post" for y in cols],
        }
    )
    rows, gaps = [], {}
    for unit in members:
        if unit == treated:
            g = gap
        else:
            pool = [d for d in donors if d != unit]
            _, _, g = _fit_one(Y, X, unit, pool, pre, post, method, intercept)
        pr, po = _rmspe(g[pre]), _rmspe(g[post])
        rows.append(
            {
                "unit": unit,
                "pre_rmspe": pr,
                "post_rmspe": po,
                "ratio": po / pr if pr > 0 else np.inf,
                "effect": float(g[post].mean()),
                "treated": unit == treated,
            }
        )
        gaps[unit] = g
    placebos = pd.DataFrame(rows).set_index("unit")
    tr = placebos.loc[treated]
    p_value = float((placebos["ratio"] >= tr["ratio"] - 1e-12).mean())
    keep = placebos["pre_rmspe"] <= rmspe_filter * max(tr["pre_rmspe"], 1e-12)
    p_filt = float((placebos.loc[keep, "ratio"] >= tr["ratio"] - 1e-12).mean())
    p_eff = float((placebos["effect"].abs() >= abs(tr["effect"]) - 1e-12).mean())
    scale = max(float(np.nanstd(Y[pre].to_numpy())), 1e-9)
    n_exact = int((placebos.loc[~placebos["treated"], "pre_rmspe"] < 1e-6 * scale).sum())
    column = series.attrs.get("outcome", "rate")
    ratio_ok = n_exact <= 0.1 * (len(placebos) - 1)
    effect = float(tr["effect"])
    ci_low, ci_high = _placebo_interval(effect, placebos, conf_level)
    others = placebos.loc[~placebos["treated"], "effect"].dropna()
    se = float(others.std(ddof=1)) if len(others) > 1 else np.nan
    n = len(placebos)
    variant = "demeaned " if intercept else ""
    post_gap = gap[post]
    terms = pd.DataFrame({"term": [f"gap {int(y)}" for y in post_gap.index],
                          "estimate": post_gap.to_numpy(dtype=float), "n": n})
    return SyntheticControlResult(
        estimate=effect,
        se=se,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p_value if ratio_ok else p_eff,
        n_treated=1,
        n_control=len(donors),
        method=(f"{variant}synthetic control (non-negative donor weights summing to one, "
                f"fitted on {_years(len(pre))} before the change)"),
        outcome=outcome_label or outcome_label_of(column),
        units=units,
        design="change" if intercept else "level",
        conf_level=conf_level,
        inference=(f"placebo-in-space permutation over {n} units: the synthetic control "
                   f"refitted with each of the {n - 1} others as if treated; p-value = share "
                   "of units with a post/pre RMSPE ratio (or, when many placebo fits are "
                   "exact, an absolute average gap) at least the treated one's; interval = "
                   f"the effect minus the central {round(conf_level * 100):d}% of placebo "
                   "effects; standard error = standard deviation of the placebo effects"),
        assumptions=[
            "without the intervention the treated unit would have followed its synthetic "
            "comparator (a convex combination of the donors) after the pre-period as before",
            "no donor was affected by the intervention or by a shock of its own that the "
            "treated unit did not share",
            "the placebo effects describe how large a gap arises by chance",
        ],
        treated_label=treated,
        control_label="its synthetic comparator",
        terms=terms,
        extra={"n_pre_years": len(pre), "pre_rmspe": float(tr["pre_rmspe"]),
               "p_value_ratio": p_value, "p_value_effect": p_eff,
               "n_exact_placebos": n_exact},
        treated=treated,
        outcome_column=column,
        pre_years=pre,
        post_years=post,
        weights=weights,
        path=path,
        pre_rmspe=float(tr["pre_rmspe"]),
        post_rmspe=float(tr["post_rmspe"]),
        ratio=float(tr["ratio"]),
        placebos=placebos.sort_values("ratio", ascending=False),
        placebo_gaps=pd.DataFrame(gaps).T,
        p_value_ratio=p_value,
        p_value_filtered=p_filt,
        rmspe_filter=rmspe_filter,
        p_value_effect=p_eff,
        n_exact_placebos=n_exact,
        intercept=intercept,
    )


def authority_synthetic_control(
    stats: pd.DataFrame,
    authority: str,
    *,
    outcome: str = "attendance_rate",
    pre_period_end: int = 2021,
    covariates: Sequence[str] = ("simd_q1_share", "fsm_pct"),
    covariate_year: int | None = None,
    covariate_weight: float = 1.0,
    years: Sequence[int] | None = None,
    intercept: bool = True,
) -> SyntheticControlResult:
    """Synthetic control of an authority's rate from the school statistics, with placebos.

    The years used are those in which ``outcome`` is newly published (detected with
    :func:`nlc_eval.comparators.published_years`, unless ``years`` is given); years up to
    ``pre_period_end`` form the fit period and later ones the evaluation period. Authority
    covariates are roll-weighted means of the school values in ``covariate_year`` (default:
    the first fit year), matched alongside the pre-period outcome. By default the demeaned
    variant is fitted (``intercept=True``, see :func:`synthetic_control`), as an authority at
    the edge of the range (e.g. the lowest attendance) cannot be matched in level.

    Raises
    ------
    ImpactError
        If either period has no published year.
    """
    from nlc_eval.comparators import harmonise_authorities, published_years, resolve_authority

    stats = harmonise_authorities(stats)
    name = resolve_authority(stats, authority)
    use = list(years) if years is not None else published_years(stats, outcome)
    pre = [y for y in use if y <= pre_period_end]
    post = [y for y in use if y > pre_period_end]
    if not pre or not post:
        raise ImpactError(
            f"{outcome} is published in {use}: with pre_period_end={pre_period_end} the "
            f"{'fit' if not pre else 'evaluation'} period is empty. Choose pre_period_end "
            "between the first and last published year."
        )
    series = authority_series(stats, outcome, years=use)
    series.attrs["outcome"] = outcome
    X = None
    if covariates:
        cy = pre[0] if covariate_year is None else covariate_year
        X = pd.concat(
            {c: authority_series(stats, c, years=[cy])[cy] for c in covariates}, axis=1
        )
    return synthetic_control(
        series, name, pre_years=pre, post_years=post, covariates=X,
        covariate_weight=covariate_weight, intercept=intercept,
        units="percentage points" if outcome in OUTCOMES else "",
    )


def _years(n: int) -> str:
    """``1`` -> ``'1 year'``, ``2`` -> ``'2 years'``."""
    return f"{n} year" if n == 1 else f"{n} years"
