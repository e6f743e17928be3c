"""Intervention-effect estimation over any DataFrame, with education effect sizes.

Every estimator returns an :class:`Estimate` (``estimate, se, ci_low, ci_high, p_value,
n_treated, n_control, method``; ``.tidy()``, ``.summary()``, ``.sentence()``, ``.plot()``).
Nothing here knows about schools, clusters or notebooks: pass column names.

Estimators
----------
did
    Two-way fixed-effects difference-in-differences (within transformation).
event_study
    Leads and lags with a pre-trend test; Callaway–Sant'Anna group-time effects, robust to
    staggered adoption.
match, ipw, doubly_robust
    Propensity-score matching, inverse probability weighting, AIPW; with ``.balance``,
    ``.love_plot()`` and ``.overlap_plot()``.
multilevel
    Random-intercept models (pupils within schools within clusters) with ICCs.
entry_cohort_effect
    The entry-cohort design: units starting treatment in a period against units not yet
    treated in the same stratum, regression-adjusted for who is chosen
    (:mod:`nlc_eval.impact.cohort`; :func:`stack_entry_cohorts` builds the design).
outcome_effect
    Linear (attendance, pp), count (exclusions, rate ratio), binary (on track, risk
    difference).

Design and sensitivity: :mod:`~nlc_eval.impact.design` (MDES and sample sizes of two- and
three-level designs, ICCs and R² from data), :mod:`~nlc_eval.impact.sensitivity`
(``Estimate.sensitivity()``: robustness values, E-values, Rosenbaum bounds) and
:mod:`~nlc_eval.impact.placebo` (placebo outcome, placebo timing, stability over subsets).

Education layer: :mod:`nlc_eval.impact.effects` (Hedges' g, EEF months' progress, WWC
baseline equivalence and attrition).
"""

from .cohort import entry_cohort_effect, stack_entry_cohorts
from .design import (
    clusters_needed,
    design_parameters,
    mdes,
    mdes_of_estimate,
    power,
    schools_needed,
)
from .did import did
from .effects import (
    EEF_MONTHS,
    EffectSize,
    attrition,
    baseline_equivalence,
    clustered_effect_size,
    hedges_g,
    months_progress,
    standardise,
    total_sd,
    wwc_verdict,
)
from .estimate import Estimate
from .event_study import event_study
from .inference import wild_cluster_bootstrap
from .matching import match
from .multilevel import multilevel, variance_components
from .outcomes import outcome_effect
from .placebo import placebo_outcome, placebo_table, placebo_timing, stability
from .propensity import BalancedEstimate, OverlapWarning
from .sensitivity import e_value, robustness_value, rosenbaum_bounds, sensitivity
from .weighting import doubly_robust, ipw

__all__ = [
    "EEF_MONTHS",
    "BalancedEstimate",
    "EffectSize",
    "Estimate",
    "OverlapWarning",
    "attrition",
    "clusters_needed",
    "design_parameters",
    "e_value",
    "mdes",
    "mdes_of_estimate",
    "placebo_outcome",
    "placebo_table",
    "placebo_timing",
    "power",
    "robustness_value",
    "rosenbaum_bounds",
    "schools_needed",
    "sensitivity",
    "stability",
    "baseline_equivalence",
    "clustered_effect_size",
    "did",
    "doubly_robust",
    "entry_cohort_effect",
    "event_study",
    "hedges_g",
    "ipw",
    "match",
    "months_progress",
    "multilevel",
    "outcome_effect",
    "stack_entry_cohorts",
    "standardise",
    "total_sd",
    "variance_components",
    "wild_cluster_bootstrap",
    "wwc_verdict",
]
