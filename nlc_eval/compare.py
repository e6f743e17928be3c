"""Compare an authority's schools with the most similar schools in other authorities.

Each school of the chosen authority gets a *virtual comparator*: the weighted mean of the
``k`` most similar schools of the same sector in OTHER Scottish authorities, where similarity
is measured on context features (size, deprivation, free school meals, ...) fixed at a
baseline census year, so that later outcomes cannot contaminate who a school is compared
with. For each year and outcome (attendance, authorised and unauthorised absence, absence due
to exclusion, ACEL) the kit then reports

* the school's value, its virtual comparator's value and their difference;
* the authority-level mean difference per year with an interval clustered by school
  (:func:`authority_gap`);
* a comparative difference-in-differences between a baseline and a follow-up year
  (:func:`comparative_did`).

The authority-wide synthetic control lives in :mod:`nlc_eval.synthetic_control`.

Everything here is observational and school-level: a difference from the virtual comparator
describes, it does not attribute a cause, and a school's pupils change from year to year.

Examples
--------
>>> from nlc_eval.data.official import load_school_statistics  # doctest: +SKIP
>>> stats = load_school_statistics("scotgov/")                   # doctest: +SKIP
>>> cmp = compare_authority(stats, "North Lanarkshire", baseline_year=2019, k=5)  # doctest: +SKIP
>>> cmp.gap("attendance_rate")                                  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from nlc_eval import formatting as fmt
from nlc_eval.comparators import (
    CONTEXT_FEATURES,
    HIGHER_IS_BETTER,
    KEY,
    NOT_AUTHORITIES,
    OUTCOMES,
    _check_unique,
    _require,
    baseline_features,
    harmonise_authorities,
    higher_is_better,
    outcome_years,
    published_years,
    resolve_authority,
    select_comparators,
    virtual_comparator,
)
from nlc_eval.compare_acel import acel_outcomes
from nlc_eval.errors import DataError, ImpactError
from nlc_eval.impact.did import did
from nlc_eval.impact.estimate import Estimate
from nlc_eval.impact.inference import cluster_codes, cr1_vcov

__all__ = [
    "CONTEXT_FEATURES",
    "HIGHER_IS_BETTER",
    "OUTCOMES",
    "AuthorityComparison",
    "DidResult",
    "acel_outcomes",
    "authority_gap",
    "baseline_features",
    "compare_authority",
    "comparative_did",
    "did_panel",
    "harmonise_authorities",
    "higher_is_better",
    "outcome_years",
    "published_years",
    "resolve_authority",
    "select_comparators",
    "virtual_comparator",
]

_TABLE = "school statistics"


# ---------------------------------------------------------------------------
# authority-level estimates
# ---------------------------------------------------------------------------


def _cluster_mean(d: np.ndarray, groups: np.ndarray, w: np.ndarray | None = None):
    """Weighted mean with a CR1 cluster-robust standard error, and the number of clusters.

    The weighted least-squares regression of ``d`` on a constant, with the kit's one CR1
    (:func:`nlc_eval.impact.inference.cr1_vcov`; one parameter, so its factor is G/(G-1)).
    """
    w = np.ones_like(d, dtype=float) if w is None else np.asarray(w, dtype=float)
    w = w / w.sum()
    est = float(np.sum(w * d))
    codes, g = cluster_codes(groups)
    if g < 2:
        return est, np.nan, g
    root = np.sqrt(w)
    V = cr1_vcov(root[:, None], root * (d - est), codes, g, n_params=1)
    return est, float(np.sqrt(V[0, 0])), g


def _interval(est: float, se: float, g: int, level: float) -> tuple[float, float, float]:
    from scipy import stats as st

    if not np.isfinite(se) or g < 2:
        return np.nan, np.nan, np.nan
    tcrit = st.t.ppf(0.5 + level / 2, df=g - 1)
    if se == 0:
        return est, est, 0.0 if est != 0 else 1.0
    p = float(2 * st.t.sf(abs(est / se), df=g - 1))
    return est - tcrit * se, est + tcrit * se, p


def authority_gap(
    virtual: pd.DataFrame,
    outcome: str,
    *,
    years: Sequence[int] | None = None,
    weights: pd.Series | None = None,
    by_sector: bool = False,
    balanced: bool = False,
    level: float = 0.95,
) -> pd.DataFrame:
    """Authority mean difference from the virtual comparator, per year, clustered by school.

    Parameters
    ----------
    virtual : DataFrame
        From :func:`virtual_comparator`.
    outcome : str
        Outcome to summarise.
    years : sequence of int, optional
        Years to report (default: every year with a difference).
    weights : Series, optional
        School weights indexed by ``(seed_code, sector)`` (e.g. baseline roll); default equal.
    by_sector : bool
        Also report each sector separately (rows with ``sector`` set; pooled rows have
        ``sector == "all"``).
    balanced : bool
        Keep only schools compared in every one of ``years``, so that changes between years
        are not changes in which schools are compared.
    level : float
        Interval coverage.

    Returns
    -------
    DataFrame
        ``outcome, sector, year, estimate, std_error, ci_low, ci_high, p_value, n_schools``
        where n_schools counts schools with a difference that year. Standard errors cluster
        by seed code (a school with two sectors is one cluster); intervals use t with G-1 df.
    """
    _require(virtual, ["year", *KEY, "outcome", "difference"], "virtual comparator")
    sub = virtual.loc[(virtual["outcome"] == outcome) & virtual["difference"].notna()]
    if years is not None:
        sub = sub.loc[sub["year"].isin(list(years))]
    if balanced and len(sub):
        need = len(set(years)) if years is not None else sub["year"].nunique()
        sub = sub.loc[sub.groupby(KEY)["year"].transform("nunique") == need]
    groups = [("all", sub)]
    if by_sector:
        groups += [(str(k), g) for k, g in sub.groupby("sector")]
    rows = []
    for sector, part in groups:
        for year, g in part.groupby("year"):
            w = None
            if weights is not None:
                w = weights.reindex(pd.MultiIndex.from_frame(g[KEY])).to_numpy(dtype=float)
                if np.isnan(w).any():
                    raise DataError(
                        "a weight is missing for a compared school.",
                        table="weights",
                        fix="give a weight for every (seed_code, sector) compared.",
                    )
            est, se, n = _cluster_mean(
                g["difference"].to_numpy(float), g["seed_code"].to_numpy(), w
            )
            lo, hi, p = _interval(est, se, n, level)
            rows.append(
                {
                    "outcome": outcome,
                    "sector": sector,
                    "year": int(year),
                    "estimate": est,
                    "std_error": se,
                    "ci_low": lo,
                    "ci_high": hi,
                    "p_value": p,
                    "n_schools": int(len(g)),
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "outcome", "sector", "year", "estimate", "std_error", "ci_low", "ci_high",
            "p_value", "n_schools",
        ],
    )


def did_panel(
    virtual: pd.DataFrame, outcome: str, baseline_year: int, followup_year: int
) -> pd.DataFrame:
    """Stacked school / virtual-comparator panel for a comparative DiD.

    Only schools with a difference in BOTH years are kept (a balanced panel), so the estimate
    is not driven by schools entering or leaving.

    Returns
    -------
    DataFrame
        ``unit, cluster, year, post, treated, value`` with two rows per school and year: the
        school itself (treated=1) and its virtual comparator (treated=0), both clustered on
        the school's seed code.
    """
    sub = virtual.loc[
        (virtual["outcome"] == outcome)
        & virtual["year"].isin([baseline_year, followup_year])
        & virtual["difference"].notna()
    ]
    n_years = sub.groupby(KEY)["year"].transform("nunique")
    sub = sub.loc[n_years == 2]
    unit = sub["seed_code"].astype(str) + "|" + sub["sector"].astype(str)
    school = pd.DataFrame(
        {"unit": unit, "cluster": sub["seed_code"], "year": sub["year"],
         "treated": 1, "value": sub["school_value"]}
    )
    comp = pd.DataFrame(
        {"unit": unit + "|vc", "cluster": sub["seed_code"], "year": sub["year"],
         "treated": 0, "value": sub["comparator_value"]}
    )
    out = pd.concat([school, comp], ignore_index=True)
    out["post"] = (out["year"] == followup_year).astype(int)
    return out[["unit", "cluster", "year", "post", "treated", "value"]]


def _label(outcome: str) -> str:
    """An outcome's name as it reads in a sentence ("attendance rate", "ACEL reading")."""
    label = OUTCOMES.get(outcome, outcome.replace("_", " "))
    return label.split(" (")[0]


@dataclass(repr=False)
class DidResult(Estimate):
    """Comparative difference-in-differences of an authority against its virtual comparators.

    An :class:`nlc_eval.impact.Estimate` (``estimate, se, ci_low, ci_high, p_value,
    n_treated, n_control, method, inference, assumptions, warnings, ...``): ``estimate`` is
    the change in the mean school-minus-comparator difference from the baseline to the
    follow-up year, on schools compared in both years. ``n_treated`` counts those schools
    and ``n_control`` their virtual comparators (one each).

    Attributes
    ----------
    outcome_column : str
        The outcome's column (``outcome`` is its name as it reads in a sentence).
    baseline_year, followup_year : int
    n_schools : int
        Schools compared in both years.
    n_dropped : int
        Schools compared in only one of the years, left out.
    """

    outcome_column: str = ""
    baseline_year: int = 0
    followup_year: int = 0
    n_schools: int = 0
    n_dropped: int = 0

    @property
    def level(self) -> float:
        """The interval's confidence level (``conf_level``)."""
        return self.conf_level

    def tidy(self) -> pd.DataFrame:
        """One row: the tidy columns of :meth:`Estimate.tidy`, then ``n_schools,
        n_dropped, method``."""
        out = super().tidy()
        out["term"] = (f"{self.outcome_column}: change in gap {self.baseline_year}->"
                       f"{self.followup_year}")
        return out.assign(n_schools=self.n_schools, n_dropped=self.n_dropped,
                          method=self.method)

    def sentence(self) -> str:
        """Plain-English statement of the result and its interval (with any warnings)."""
        label = OUTCOMES.get(self.outcome_column, self.outcome_column.replace("_", " "))
        if not np.isfinite(self.estimate):
            return f"The change in the {label} gap could not be estimated."
        better = (self.estimate > 0) == higher_is_better(self.outcome_column)
        f = fmt.effect(self.estimate, self.ci_low, self.ci_high, min_decimals=2, sign=True)
        if not (np.isfinite(self.ci_low) and np.isfinite(self.ci_high)):
            verdict = "no interval could be estimated"
        elif f.includes_null:
            verdict = "the interval includes zero, so the data are consistent with no change"
        else:
            verdict = (
                "the interval excludes zero: the schools moved "
                + ("ahead of" if better else "behind")
                + " schools like them elsewhere"
            )
        text = (
            f"Between {self.baseline_year} and {self.followup_year} the difference in {label} "
            f"between the {self.n_schools} schools compared in both years and their virtual "
            f"comparators changed by {f.estimate} percentage points "
            f"({self.level:.0%} interval {f.low} to {f.high}); {verdict}."
        )
        for w in self.warnings:
            text += " " + w[:1].upper() + w[1:] + ("" if w.endswith(".") else ".")
        return text


#: What every comparative DiD rests on, in the words of the comparison (these replace the
#: generic parallel-trends, anticipation and spill-over assumptions of nlc_eval.impact.did).
DID_ASSUMPTIONS = (
    "parallel trends: without whatever distinguishes the authority, its schools' and their "
    "virtual comparators' outcomes would have moved in parallel",
    "the virtual comparators are fixed at the baseline census, so later outcomes do not "
    "decide who a school is compared with",
    "school-level and observational: a change in the gap describes, it does not attribute a "
    "cause, and a school's pupils change from year to year",
)
_GENERIC = ("parallel trends", "no anticipation", "no spill-over")


def comparative_did(
    virtual: pd.DataFrame,
    outcome: str,
    baseline_year: int,
    followup_year: int,
    *,
    level: float = 0.95,
    n_boot: int = 999,
    random_state: int | None = 0,
) -> DidResult:
    """Comparative difference-in-differences for a baseline and a follow-up year.

    :func:`nlc_eval.impact.did` on the stacked school / virtual-comparator panel from
    :func:`did_panel`, clustering on the school, so the interval comes from its inference:
    CR1 with 50 or more schools, otherwise the wild cluster bootstrap (seeded by
    ``random_state``, ``n_boot`` draws), with its warnings when few schools are compared.

    Raises
    ------
    ImpactError
        If the years are the same, or fewer than two schools are compared in both years.
    """
    if baseline_year == followup_year:
        raise ImpactError(
            f"baseline and follow-up year are both {baseline_year}; choose two different years."
        )
    panel = did_panel(virtual, outcome, baseline_year, followup_year)
    sub = virtual.loc[(virtual["outcome"] == outcome) & virtual["year"].isin(
        [baseline_year, followup_year])]
    n_any = int(sub.loc[sub["difference"].notna(), KEY].drop_duplicates().shape[0])
    n_both = int(panel.loc[panel["treated"] == 1, "unit"].nunique())
    if n_both < 2:
        raise ImpactError(
            f"only {n_both} school(s) have a {outcome} comparison in both {baseline_year} and "
            f"{followup_year}; pick years in which the outcome is published "
            "(see nlc_eval.compare.outcome_years)."
        )
    data = panel.assign(d=panel["treated"] * panel["post"])
    res = did(
        data, outcome="value", treated="d", unit="unit", time="year", cluster="cluster",
        conf_level=level, n_boot=n_boot, random_state=random_state,
        outcome_label=_label(outcome), units="percentage points", treated_label="schools",
        control_label="their virtual comparators",
    )
    base = {f.name: getattr(res, f.name) for f in fields(Estimate)}
    base["method"] = f"comparative {res.method} against virtual comparators"
    base["assumptions"] = list(DID_ASSUMPTIONS) + [
        a for a in res.assumptions if not a.startswith(_GENERIC)]
    return DidResult(
        **base,
        outcome_column=outcome,
        baseline_year=int(baseline_year),
        followup_year=int(followup_year),
        n_schools=n_both,
        n_dropped=n_any - n_both,
    )


# ---------------------------------------------------------------------------
# front end
# ---------------------------------------------------------------------------


@dataclass
class AuthorityComparison:
    """Result of :func:`compare_authority`: comparators, virtual comparator values, estimates.

    Attributes
    ----------
    authority : str
        Authority compared (as published).
    baseline_year, k : int
        Census year of the similarity features and comparators per school.
    comparators, unmatched, virtual, availability : DataFrame
        Comparator sets with weights; schools that could not be matched and why; school and
        virtual comparator values per year and outcome; which years carry each outcome.
    imputed : DataFrame or None
        Baseline feature values imputed by the similarity module (row, seed_code, feature,
        value), so no school is silently dropped for a missing feature.
    """

    authority: str
    baseline_year: int
    k: int
    comparators: pd.DataFrame
    unmatched: pd.DataFrame
    virtual: pd.DataFrame
    availability: pd.DataFrame
    weights: pd.Series | None = None
    outcomes: list[str] = field(default_factory=list)
    imputed: pd.DataFrame | None = None

    def years(self, outcome: str) -> list[int]:
        """Years in which ``outcome`` is published (detected from the data)."""
        a = self.availability
        return a.loc[(a["outcome"] == outcome) & (a["status"] == "published"), "year"].tolist()

    def gap(
        self,
        outcome: str,
        *,
        by_sector: bool = False,
        balanced: bool = False,
        level: float = 0.95,
    ) -> pd.DataFrame:
        """Per-year authority difference from the virtual comparator (published years only).

        See :func:`authority_gap` for ``by_sector`` and ``balanced``.
        """
        return authority_gap(
            self.virtual, outcome, years=self.years(outcome), weights=self.weights,
            by_sector=by_sector, balanced=balanced, level=level,
        )

    def gaps(self, **kwargs) -> pd.DataFrame:
        """:meth:`gap` for every outcome, stacked."""
        frames = [self.gap(o, **kwargs) for o in self.outcomes]
        frames = [f for f in frames if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def coverage(self) -> pd.DataFrame:
        """Schools of the authority per outcome, year and status (ok / school or comparators
        missing), for published years: how many schools each yearly estimate rests on."""
        v = self.virtual.merge(
            self.availability.loc[self.availability["status"] == "published",
                                  ["outcome", "year"]],
            on=["outcome", "year"],
        )
        out = v.groupby(["outcome", "year", "status"]).size().unstack("status", fill_value=0)
        return out.reset_index()

    def did(self, outcome: str, baseline_year: int, followup_year: int, **kw) -> DidResult:
        """Comparative DiD (see :func:`comparative_did`); both years must be published."""
        ok = self.years(outcome)
        for y in (baseline_year, followup_year):
            if y not in ok:
                raise ImpactError(
                    f"{outcome} is not published for {y} (published years: {ok}); "
                    "choose published years."
                )
        return comparative_did(self.virtual, outcome, baseline_year, followup_year, **kw)

    def school_table(self, outcome: str, year: int) -> pd.DataFrame:
        """School-by-school values for one outcome and year."""
        v = self.virtual
        return v.loc[(v["outcome"] == outcome) & (v["year"] == year)].reset_index(drop=True)

    def plot_gap(self, outcome: str, ax=None):
        """Per-year difference with its interval; returns the matplotlib Axes."""
        import matplotlib.pyplot as plt

        g = self.gap(outcome, by_sector=True)
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        ax.axhline(0, color="grey", lw=1)
        for i, (sector, part) in enumerate(g.groupby("sector", sort=False)):
            x = part["year"] + (i - 1.5) * 0.08
            ax.errorbar(
                x, part["estimate"],
                yerr=[part["estimate"] - part["ci_low"], part["ci_high"] - part["estimate"]],
                fmt="o-" if sector == "all" else "o:", capsize=3, label=sector,
                lw=2 if sector == "all" else 1,
            )
        ax.legend(frameon=False, fontsize="small")
        ax.set_xticks(sorted(g["year"].unique()))
        ax.set_xlabel("census year")
        ax.set_ylabel("school minus virtual comparator")
        ax.set_title(f"{self.authority}: {OUTCOMES.get(outcome, outcome)}")
        return ax


def compare_authority(
    stats: pd.DataFrame,
    authority: str = "North Lanarkshire",
    *,
    baseline_year: int = 2019,
    k: int = 5,
    outcomes: Sequence[str] | None = None,
    extra: pd.DataFrame | None = None,
    features: Sequence[str] | None = None,
    spec: object | None = None,
    weighting: str = "inverse_distance",
    weight_by_roll: bool = False,
    min_weight: float = 0.5,
    exclude: Sequence[str] = NOT_AUTHORITIES,
) -> AuthorityComparison:
    """Compare every school of ``authority`` with its virtual comparator, year by year.

    Parameters
    ----------
    stats : DataFrame
        From :func:`nlc_eval.data.official.load_school_statistics` (one row per year, seed
        code and sector).
    authority : str
        Authority to compare (matched loosely to the published name).
    baseline_year : int
        Census year of the similarity features.
    k : int
        Comparators per school.
    outcomes : sequence of str, optional
        Outcome columns of ``stats`` (default: those of :data:`OUTCOMES` present).
    extra : DataFrame, optional
        More outcomes in long school-year form (``year, seed_code, sector`` + columns), e.g.
        ACEL from :func:`acel_outcomes`; they are compared in the years they exist.
    features, spec
        Similarity features (see :func:`baseline_features`).
    weighting : str
        Comparator weights (see :func:`select_comparators`).
    weight_by_roll : bool
        Weight schools by baseline roll in authority averages (default: each school equally).
    min_weight : float
        See :func:`virtual_comparator`.
    exclude : sequence of str
        Published groups left out entirely (default: grant-aided schools, which belong to no
        authority).

    Notes
    -----
    Authority names are harmonised across editions first (:func:`harmonise_authorities`).
    """
    _require(stats, ["year", *KEY, "local_authority"], _TABLE)
    stats = harmonise_authorities(stats)
    if exclude:
        stats = stats.loc[~stats["local_authority"].isin(list(exclude))]
    _check_unique(stats)
    stats = stats.assign(
        seed_code=stats["seed_code"].astype(str), year=stats["year"].astype(int)
    )
    name = resolve_authority(stats, authority)
    outs = list(outcomes) if outcomes is not None else [o for o in OUTCOMES if o in stats]
    panel = stats[["year", *KEY, *[o for o in outs if o in stats]]]
    extra_cols: list[str] = []
    if extra is not None and len(extra):
        _require(extra, ["year", *KEY], "extra outcomes")
        extra = extra.assign(seed_code=extra["seed_code"].astype(str),
                             year=extra["year"].astype(int))
        extra_cols = [c for c in extra.columns if c not in ("year", *KEY)]
        panel = panel.merge(extra, on=["year", *KEY], how="outer")
    all_outcomes = outs + extra_cols
    _require(panel, all_outcomes, _TABLE)
    schools, matrix = baseline_features(stats, baseline_year, features=features, spec=spec)
    comps, unmatched = select_comparators(
        schools, matrix, name, k=k, weighting=weighting
    )
    home_all = stats.loc[stats["local_authority"] == name, KEY].drop_duplicates()
    late = home_all.merge(schools[KEY], how="left", indicator=True)
    late = late.loc[late["_merge"] == "left_only", KEY]
    if len(late):
        late = late.assign(
            reason=f"not in the {baseline_year} census (opened later or new seed code), so "
            "it has no baseline features"
        )
        unmatched = pd.concat([unmatched, late], ignore_index=True)
    virtual = virtual_comparator(panel, comps, all_outcomes, min_weight=min_weight)
    avail = pd.concat(
        [outcome_years(panel, o).assign(outcome=o) for o in all_outcomes], ignore_index=True
    )
    weights = None
    if weight_by_roll:
        base = stats.loc[stats["year"] == baseline_year].set_index(KEY)["roll"]
        weights = pd.to_numeric(base, errors="coerce")
    return AuthorityComparison(
        authority=name,
        baseline_year=int(baseline_year),
        k=int(k),
        comparators=comps,
        unmatched=unmatched,
        virtual=virtual,
        availability=avail[["outcome", *[c for c in avail.columns if c != "outcome"]]],
        weights=weights,
        outcomes=all_outcomes,
        imputed=matrix.attrs.get("imputed"),
    )
