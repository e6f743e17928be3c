"""The :class:`Estimate` result object returned by every impact estimator.

An estimate carries its number, its uncertainty, the sizes of the groups compared, the method
and the assumptions it rests on, and can describe itself as a tidy table, a text summary, a
plain-English sentence and a plot. It never prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nlc_eval import formatting as fmt

TIDY_COLUMNS = ["term", "estimate", "std_error", "ci_low", "ci_high", "p_value", "n"]


def _fmt(value: float, digits: int = 1) -> str:
    """``value`` with ``digits`` decimals by the kit's formatter (no negative zero)."""
    return fmt.number(value, digits)


@dataclass
class Estimate:
    """An intervention-effect estimate with its interval.

    Parameters
    ----------
    estimate : float
        Point estimate (a difference, or a ratio when ``scale == "ratio"``).
    se : float
        Standard error (of the log ratio when ``scale == "ratio"``).
    ci_low, ci_high : float
        Confidence interval at ``conf_level``.
    p_value : float
        Two-sided p-value for "no effect" (0 difference, ratio 1).
    n_treated, n_control : int
        Numbers of treated and comparison units used.
    method : str
        Short name of the estimator, e.g. ``"difference-in-differences (two-way fixed effects)"``.
    outcome : str
        Name of the outcome as it should read in a sentence, e.g. ``"attendance"``.
    units : str
        Units of the outcome, e.g. ``"percentage points"``, ``"£"`` or ``""``.
    outcome_type : str
        ``"continuous"``, ``"count"`` or ``"binary"``.
    scale : str
        ``"difference"`` or ``"ratio"`` (rate ratios from count models).
    design : str
        ``"change"`` (effects on a change over time, e.g. DiD) or ``"level"`` (cross-sectional).
    conf_level : float
        Confidence level of the interval.
    inference : str
        How the interval was obtained (e.g. "wild cluster bootstrap, 23 clusters").
    assumptions : list of str
        What the estimate relies on; stated in :meth:`summary`.
    treated_label, control_label : str
        How to name the groups in :meth:`sentence`.
    terms : DataFrame, optional
        Further rows for :meth:`tidy` (e.g. event-time effects), in the tidy columns.
    extra : dict
        Method-specific details (ICC, pre-trend test, bootstrap draws, ...).
    warnings : list of str
        Cautions a reader must see beside the number (e.g. few treated clusters); printed
        by :meth:`summary` and added to :meth:`sentence`.
    reference_levels : dict
        For categorical covariates encoded automatically: column -> the reference level
        left out of the dummies; printed by :meth:`summary`.

    Examples
    --------
    >>> e = Estimate(2.1, 0.45, 1.2, 3.0, 0.001, 500, 4000, "difference-in-differences",
    ...              outcome="attendance", units="percentage points", design="change",
    ...              treated_label="supported learners", control_label="comparable learners")
    >>> e.sentence()
    'Attendance of supported learners rose 2.1 percentage points more than comparable learners (95% CI 1.2 to 3.0).'
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    n_treated: int
    n_control: int
    method: str
    outcome: str = "the outcome"
    units: str = ""
    outcome_type: str = "continuous"
    scale: str = "difference"
    design: str = "level"
    conf_level: float = 0.95
    inference: str = ""
    assumptions: list[str] = field(default_factory=list)
    treated_label: str = "treated units"
    control_label: str = "comparison units"
    terms: pd.DataFrame | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    reference_levels: dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ tables
    @property
    def null_value(self) -> float:
        """The value meaning "no effect" (0 for differences, 1 for ratios)."""
        return 1.0 if self.scale == "ratio" else 0.0

    @property
    def significant(self) -> bool:
        """True when the interval excludes "no effect"."""
        return not (self.ci_low <= self.null_value <= self.ci_high)

    def tidy(self) -> pd.DataFrame:
        """One row per reported term: ``term, estimate, std_error, ci_low, ci_high, p_value, n``.

        The first row is the headline effect (term ``"effect"``); estimators with more terms
        (event times, covariates) append them.
        """
        head = pd.DataFrame(
            [
                {
                    "term": "effect",
                    "estimate": self.estimate,
                    "std_error": self.se,
                    "ci_low": self.ci_low,
                    "ci_high": self.ci_high,
                    "p_value": self.p_value,
                    "n": int(self.n_treated + self.n_control),
                }
            ]
        )
        if self.terms is None or len(self.terms) == 0:
            return head
        more = self.terms.reindex(columns=TIDY_COLUMNS)
        return pd.concat([head, more], ignore_index=True)

    # ------------------------------------------------------------------ text
    @property
    def outcome_label(self) -> str:
        """The outcome as it reads in a sentence (raw column names made readable)."""
        return fmt.label(self.outcome)

    def _units_text(self, value: float, decimals: int | None = None) -> str:
        """``value`` in the outcome's units, at ``decimals`` (default: the formatter's)."""
        if decimals is None:
            decimals = fmt.decimals_for(value, min_decimals=0 if self._money else 1)
            decimals = 2 if self._money and 0 < decimals < 2 else decimals
        return fmt.with_units(value, decimals, self.units)

    @property
    def _money(self) -> bool:
        return self.units.strip() in fmt.MONEY

    def formatted(self) -> fmt.Formatted:
        """The estimate and its interval as printed (same decimals; see :mod:`formatting`).

        Money carries its symbol (``£4.30``); other units are left to the caller.
        """
        if self.scale == "ratio":
            return fmt.ratio(self.estimate, self.ci_low, self.ci_high,
                             conf_level=self.conf_level)[0]
        return fmt.effect(self.estimate, self.ci_low, self.ci_high,
                          units=self.units if self._money else "",
                          conf_level=self.conf_level)

    def sentence(self) -> str:
        """One plain-English sentence with the interval, in the units of the outcome.

        The effect has at least two significant figures and its interval the same decimals;
        the sign word follows the estimate, and the interval is said to include no
        difference only when it does (see :mod:`nlc_eval.formatting`).
        """
        subject = fmt.capitalise(self.outcome_label)
        if not fmt.finite(self.estimate):
            return (f"The effect on {self.outcome_label} of {self.treated_label} could not be "
                    "estimated." + "".join(" " + fmt.capitalise(w) +
                                           ("" if w.endswith(".") else ".")
                                           for w in self.warnings))
        bounds = fmt.finite(self.ci_low) and fmt.finite(self.ci_high)
        if self.scale == "ratio":
            f, change = fmt.ratio(self.estimate, self.ci_low, self.ci_high,
                                  conf_level=self.conf_level)
            numbers = f"rate ratio {f.estimate}, " + (f.interval if bounds else
                                                      f"{f.level} not available")
            if f.sign == 0:
                text = (f"{subject} was the same among {self.treated_label} as among "
                        f"{self.control_label} ({numbers})")
            else:
                word = "higher" if f.sign > 0 else "lower"
                text = (f"{subject} among {self.treated_label} was {change} {word} than "
                        f"among {self.control_label} ({numbers})")
        else:
            f = self.formatted()
            size = fmt.with_units(abs(self.estimate), f.decimals, self.units)
            interval = f.interval if bounds else f"{f.level} not available"
            if f.sign == 0:
                same = ("changed by the same amount as" if self.design == "change"
                        else "was the same as for")
                text = (f"{subject} of {self.treated_label} {same} {self.control_label} "
                        f"(difference {f.estimate}, {interval})")
            elif self.design == "change":
                verb = "rose" if f.sign > 0 else "fell"
                text = (f"{subject} of {self.treated_label} {verb} {size} more than "
                        f"{self.control_label} ({interval})")
            else:
                word = "higher" if f.sign > 0 else "lower"
                text = (f"{subject} of {self.treated_label} was {size} {word} than for "
                        f"{self.control_label} ({interval})")
        if not bounds:
            text += "; no interval could be estimated, so how precise this is is unknown"
        elif f.includes_null:
            text += "; the interval includes no difference, so no effect cannot be ruled out"
        text += "."
        for w in self.warnings:
            text += " " + fmt.capitalise(w) + ("" if w.endswith(".") else ".")
        return text

    def summary(self) -> str:
        """A multi-line text summary: method, effect, interval, groups, inference, assumptions.

        Every number is printed by :mod:`nlc_eval.formatting` (no raw floats).
        """
        f = self.formatted()
        if self.scale == "ratio":
            effect = f"rate ratio {f.estimate}"
            se = f"SE of the log ratio {fmt.general(self.se, 2)}"
            units = ""
        else:
            effect = fmt.with_units(self.estimate, f.decimals, self.units)
            units = f" ({self.units})" if self.units else ""
            se = f"SE {fmt.number(self.se, max(f.decimals, fmt.sig_decimals(self.se)))}"
        lines = [
            f"Method: {self.method}",
            f"Outcome: {self.outcome_label}{units}",
            f"Effect: {effect}  ({se})",
            f"{f.level}: {f.low} to {f.high}   {fmt.p_value(self.p_value)}",
            f"Treated: {fmt.general(int(self.n_treated))}   "
            f"Comparison: {fmt.general(int(self.n_control))}",
        ]
        if self.inference:
            lines.append(f"Inference: {self.inference}")
        for key, value in self.extra.items():
            if isinstance(value, (int, float, str, np.floating, np.integer)):
                shown = value if isinstance(value, str) else fmt.general(value)
                lines.append(f"{fmt.capitalise(key.replace('_', ' '))}: {shown}")
        for column, level in self.reference_levels.items():
            lines.append(f"Reference level of {column}: {level}")
        for w in self.warnings:
            lines.append(f"Warning: {w}")
        if self.assumptions:
            lines.append("Assumptions:")
            lines.extend(f"  - {a}" for a in self.assumptions)
        lines.append(self.sentence())
        return "\n".join(lines)

    def sensitivity(self, **options):
        """Sensitivity to unmeasured confounding (see :mod:`nlc_eval.impact.sensitivity`).

        Regression-based estimates give the treatment's ``partial_r2``, the
        ``robustness_value`` and ``robustness_value_alpha`` (Cinelli & Hazlett, 2020) and
        bounds benchmarked on observed covariates; ratios give E-values; 1:1 matching
        Rosenbaum bounds. ``options`` go to :func:`~nlc_eval.impact.sensitivity.sensitivity`.
        """
        from .sensitivity import sensitivity

        return sensitivity(self, **options)

    def __repr__(self) -> str:  # short, so notebooks show something readable
        f = self.formatted()
        return (
            f"Estimate({self.method}: {f.estimate} [{f.low}, {f.high}], "
            f"{fmt.p_value(self.p_value)}, n_treated={self.n_treated}, "
            f"n_control={self.n_control})"
        )

    # ------------------------------------------------------------------ plot
    def plot(self, ax=None):
        """Draw the estimate with its interval (event-time effects when there are any).

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        terms = self.terms
        if terms is not None and "event_time" in terms.columns:
            x = terms["event_time"].to_numpy(dtype=float)
            y = terms["estimate"].to_numpy(dtype=float)
            lo = terms["ci_low"].to_numpy(dtype=float)
            hi = terms["ci_high"].to_numpy(dtype=float)
            ax.axhline(self.null_value, color="0.5", lw=1)
            ax.axvline(-0.5, color="0.5", lw=1, ls="--")
            ax.fill_between(x, lo, hi, color="C0", alpha=0.2, lw=0)
            ax.plot(x, y, "o-", color="C0")
            ax.set_xlabel("periods relative to first treatment")
            ax.set_ylabel(f"effect on {self.outcome}" + (f" ({self.units})" if self.units else ""))
        else:
            ax.axvline(self.null_value, color="0.5", lw=1)
            ax.errorbar(
                [self.estimate],
                [0],
                xerr=[[self.estimate - self.ci_low], [self.ci_high - self.estimate]],
                fmt="o",
                color="C0",
                capsize=4,
            )
            ax.set_yticks([0])
            ax.set_yticklabels([self.method[:40]])
            ax.set_xlabel(f"effect on {self.outcome}" + (f" ({self.units})" if self.units else ""))
        ax.set_title(f"{self.method}: {round(self.conf_level * 100)}% interval", fontsize=10)
        return ax
