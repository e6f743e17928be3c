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

TIDY_COLUMNS = ["term", "estimate", "std_error", "ci_low", "ci_high", "p_value", "n"]


def _fmt(value: float, digits: int = 1) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    text = f"{value:,.{digits}f}"
    return "0" + text[2:] if text.startswith("-0") and float(text) == 0 else text


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
    def _units_text(self, value: float) -> str:
        u = self.units.strip()
        if not u:
            return _fmt(value)
        if u in {"£", "$", "€"}:
            return f"{u}{_fmt(value, 0)}"
        if u == "%":
            return f"{_fmt(value)}%"
        return f"{_fmt(value)} {u}"

    def sentence(self) -> str:
        """One plain-English sentence with the interval, in the units of the outcome."""
        level = f"{round(self.conf_level * 100):d}% CI"
        subject = self.outcome[:1].upper() + self.outcome[1:]
        if self.scale == "ratio":
            pct = (self.estimate - 1.0) * 100
            word = "higher" if pct >= 0 else "lower"
            text = (
                f"{subject} among {self.treated_label} was {abs(pct):.0f}% {word} than among "
                f"{self.control_label} (rate ratio {self.estimate:.2f}, {level} "
                f"{self.ci_low:.2f} to {self.ci_high:.2f})"
            )
        else:
            size = self._units_text(abs(self.estimate))
            lo, hi = self._units_text(self.ci_low), self._units_text(self.ci_high)
            if self.units.strip() in {"£", "$", "€"}:
                lo = lo if self.ci_low >= 0 else "-" + self._units_text(-self.ci_low)
                hi = hi if self.ci_high >= 0 else "-" + self._units_text(-self.ci_high)
            else:
                lo, hi = _fmt(self.ci_low), _fmt(self.ci_high)
            if self.design == "change":
                verb = "rose" if self.estimate >= 0 else "fell"
                text = (
                    f"{subject} of {self.treated_label} {verb} {size} more than "
                    f"{self.control_label} ({level} {lo} to {hi})"
                )
            else:
                word = "higher" if self.estimate >= 0 else "lower"
                text = (
                    f"{subject} of {self.treated_label} was {size} {word} than for "
                    f"{self.control_label} ({level} {lo} to {hi})"
                )
        if not self.significant:
            text += "; the interval includes no difference, so no effect cannot be ruled out"
        text += "."
        for w in self.warnings:
            text += " " + w[:1].upper() + w[1:] + ("" if w.endswith(".") else ".")
        return text

    def summary(self) -> str:
        """A multi-line text summary: method, effect, interval, groups, inference, assumptions."""
        level = f"{round(self.conf_level * 100):d}%"
        lines = [
            f"Method: {self.method}",
            f"Outcome: {self.outcome}" + (f" ({self.units})" if self.units else ""),
            f"Effect: {self.estimate:.4g}  (SE {self.se:.3g})",
            f"{level} CI: {self.ci_low:.4g} to {self.ci_high:.4g}   p = {self.p_value:.3g}",
            f"Treated: {self.n_treated}   Comparison: {self.n_control}",
        ]
        if self.inference:
            lines.append(f"Inference: {self.inference}")
        for key, value in self.extra.items():
            if isinstance(value, (int, float, str, np.floating, np.integer)):
                lines.append(f"{key.replace('_', ' ').capitalize()}: {value}")
        for column, level in self.reference_levels.items():
            lines.append(f"Reference level of {column}: {level}")
        for w in self.warnings:
            lines.append(f"Warning: {w}")
        if self.assumptions:
            lines.append("Assumptions:")
            lines.extend(f"  - {a}" for a in self.assumptions)
        lines.append(self.sentence())
        return "\n".join(lines)

    def __repr__(self) -> str:  # short, so notebooks show something readable
        return (
            f"Estimate({self.method}: {self.estimate:.4g} "
            f"[{self.ci_low:.4g}, {self.ci_high:.4g}], p={self.p_value:.3g}, "
            f"n_treated={self.n_treated}, n_control={self.n_control})"
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
