"""Tables, plain-English text and a JSON summary of an authority comparison.

These helpers keep ``notebooks/authority_comparison.ipynb`` thin: the notebook calls them and
shows what they return. Every table that holds a count of pupils passes
:func:`nlc_eval.disclosure.suppress` here, before it is shown.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from nlc_eval import formatting as fmt
from nlc_eval.compare import OUTCOMES, AuthorityComparison, DidResult, higher_is_better
from nlc_eval.errors import ImpactError

LIMITS = (
    "**What this can and cannot show.** These comparisons are observational: a difference "
    "from schools like ours elsewhere describes where the authority stands, it does not show "
    "what caused it, and other authorities made their own changes over the same years. They "
    "are school-level: each school counts once whatever its size, and nothing here is about "
    "individual pupils. Schools' pupils change from year to year (composition changes), so a "
    "moving gap can reflect who attends as well as what schools do. Comparators are chosen on "
    "context in {baseline} (size, deprivation, free school meals, staffing), not on every "
    "influence on attendance or attainment. Attendance is not collected every year; years "
    "without new figures are left out, never filled in."
)

#: the synthetic control's own limits, said in the technical appendix beside its diagnostics
SYNTHETIC_LIMITS = (
    "The synthetic control rests on {n_pre}, so its fit is a rough guide, and its placebo "
    "p-value can be no smaller than 1 in {n_units}."
)

#: placebo p-values up to this are read as "unlikely to be chance alone" in the summary
CLEAR_P = 0.1


def overview(cmp: AuthorityComparison, stats: pd.DataFrame) -> pd.DataFrame:
    """Schools of the authority by sector: in the baseline census, compared, not compared,
    and their baseline pupils (suppressed with :func:`nlc_eval.disclosure.suppress`)."""
    from nlc_eval.disclosure import suppress

    base = stats.loc[
        (stats["year"] == cmp.baseline_year) & (stats["local_authority"] == cmp.authority),
        ["seed_code", "sector", "roll"],
    ].astype({"seed_code": str})
    compared = cmp.comparators[["seed_code", "sector"]].drop_duplicates()
    compared = compared.assign(compared=1)
    base = base.merge(compared, on=["seed_code", "sector"], how="left")
    table = base.groupby("sector").agg(
        schools=("seed_code", "size"),
        compared=("compared", "sum"),
        pupils=("roll", "sum"),
    )
    later = cmp.unmatched["reason"].str.startswith("not in the").groupby(
        cmp.unmatched["sector"]).sum()
    table["not_compared"] = table["schools"] - table["compared"]
    table["opened_after_baseline"] = later.reindex(table.index).fillna(0)
    table = table.astype("int64")
    table.index = table.index.astype(str)
    out = suppress(table, count_columns=["pupils"], margins="row")
    return out


def comparator_sources(cmp: AuthorityComparison) -> pd.DataFrame:
    """Where the comparator schools are: authority, links and share of comparator weight."""
    c = cmp.comparators
    n_schools = c[["seed_code", "sector"]].drop_duplicates().shape[0]
    t = c.groupby("comparator_authority").agg(
        comparator_schools=("comparator_seed_code", "nunique"),
        links=("comparator_seed_code", "size"),
        weight=("weight", "sum"),
    )
    t["share_of_weight"] = t["weight"] / max(n_schools, 1)
    return t.drop(columns="weight").sort_values("share_of_weight", ascending=False)


def _nearest(years: Sequence[int], target: int, *, after: bool) -> int | None:
    ok = [y for y in years if (y >= target if after else y <= target)]
    if not ok:
        return None
    return min(ok) if after else max(ok)


def did_table(
    cmp: AuthorityComparison, baseline_year: int, followup_year: int, *, level: float = 0.95
) -> tuple[pd.DataFrame, dict[str, DidResult]]:
    """Comparative DiD for every outcome, between the published years nearest the request.

    For an outcome not published in ``baseline_year`` the first published year after it is
    used, and for the follow-up the last published year up to ``followup_year``; the ``note``
    column says so. Outcomes published in fewer than two such years get a row with the
    reason and no estimate.

    Returns
    -------
    table : DataFrame
        ``outcome, baseline, followup, estimate, ci_low, ci_high, p_value, n_schools,
        n_dropped, better_is, note``.
    results : dict
        Outcome -> :class:`nlc_eval.compare.DidResult`.
    """
    rows, results = [], {}
    for outcome in cmp.outcomes:
        years = cmp.years(outcome)
        b = _nearest(years, baseline_year, after=True)
        f = _nearest(years, followup_year, after=False)
        row = {"outcome": outcome, "baseline": b, "followup": f, "estimate": np.nan,
               "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan, "n_schools": 0,
               "n_dropped": 0, "better_is": "higher" if higher_is_better(outcome) else "lower",
               "note": ""}
        if b is None or f is None or b >= f:
            row["note"] = f"published only in {years}: no change can be estimated"
            rows.append(row)
            continue
        notes = []
        if b != baseline_year:
            notes.append(f"baseline {b} (not published in {baseline_year})")
        if f != followup_year:
            notes.append(f"follow-up {f} (not published in {followup_year})")
        try:
            res = cmp.did(outcome, b, f, level=level)
        except ImpactError as err:
            row["note"] = str(err)
            rows.append(row)
            continue
        results[outcome] = res
        row.update(estimate=res.estimate, ci_low=res.ci_low, ci_high=res.ci_high,
                   p_value=res.p_value, n_schools=res.n_schools, n_dropped=res.n_dropped,
                   note="; ".join(notes))
        rows.append(row)
    return pd.DataFrame(rows), results


def _label(outcome: str) -> str:
    return OUTCOMES.get(outcome, outcome.replace("_", " "))


def _session(year) -> str:
    """The session whose attendance or ACEL a published year carries (2024 -> 2023/24)."""
    y = int(year)
    return f"{y - 1}/{str(y)[-2:]}"


def _sessions(years) -> str:
    """Sessions in words: ``'2022/23'``, ``'2022/23 and 2023/24'``, ``'a, b and c'``."""
    names = [_session(y) for y in years]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _pooled(gaps: pd.DataFrame) -> pd.DataFrame:
    return gaps.loc[gaps["sector"] == "all"] if "sector" in gaps else gaps


#: least decimals of a gap or a change in the gap (percentage points)
GAP_MIN_DECIMALS = 2


def gap_decimals(gaps: pd.DataFrame) -> dict[str, int]:
    """Decimals of each measure's gaps on the page: outcome -> decimals.

    One precision per measure (:func:`nlc_eval.formatting.shared_decimals` over the
    authority-wide rows the page shows, every year): its table rows, figure data and every
    sentence quoting it print at these decimals, so an interval that excludes zero never
    prints a bound as zero.
    """
    pooled = _pooled(gaps)
    return {str(o): fmt.shared_decimals(g["estimate"].astype(float), g["ci_low"].astype(float),
                                        g["ci_high"].astype(float),
                                        min_decimals=GAP_MIN_DECIMALS)
            for o, g in pooled.groupby("outcome", sort=False)}


def did_decimals(estimates, lows, highs) -> int:
    """Decimals of every change in the gap on the page (its table, figure and sentences)."""
    return fmt.shared_decimals(list(estimates), list(lows), list(highs),
                               min_decimals=GAP_MIN_DECIMALS)


def gap_sentence(row: pd.Series, authority: str, decimals: int | None = None) -> str:
    """One sentence about one outcome-year row of :meth:`AuthorityComparison.gap`, at
    ``decimals`` (those of :func:`gap_decimals` for its measure; default: the row's own)."""
    label = _label(row["outcome"])
    est, lo, hi = row["estimate"], row["ci_low"], row["ci_high"]
    if not np.isfinite(est):
        return f"In {_session(row['year'])} the {label} gap could not be estimated."
    d = GAP_MIN_DECIMALS if decimals is None else decimals
    f = fmt.effect(est, lo, hi, min_decimals=d, sign=True)
    better = (est > 0) == higher_is_better(row["outcome"])
    if not (np.isfinite(lo) and np.isfinite(hi)):
        verdict = "no interval could be estimated"
    elif f.includes_null:
        verdict = "within the range expected by chance"
    else:
        verdict = "better than" if better else "worse than"
        verdict = f"{verdict} schools like them elsewhere"
    if f.sign == 0:
        where = "the same as their virtual comparators"
    else:
        where = (f"{fmt.number(abs(est), f.decimals)} points "
                 f"{'above' if f.sign > 0 else 'below'} their virtual comparators")
    return (
        f"In {_session(row['year'])}, {authority}'s {row['n_schools']} schools were on average "
        f"{where} on {label} (95% interval {f.low} to {f.high}): {verdict}."
    )


def did_sentence(res: DidResult, decimals: int | None = None) -> str:
    """The change in one measure's gap in a sentence, at ``decimals`` (those of
    :func:`did_decimals` over the page's changes; default: the result's own)."""
    label = _label(res.outcome_column)
    if not np.isfinite(res.estimate):
        return f"The change in the {label} gap could not be estimated."
    d = GAP_MIN_DECIMALS if decimals is None else decimals
    f = fmt.effect(res.estimate, res.ci_low, res.ci_high, min_decimals=d, sign=True)
    better = (res.estimate > 0) == higher_is_better(res.outcome_column)
    if not (np.isfinite(res.ci_low) and np.isfinite(res.ci_high)):
        verdict = "no interval could be estimated"
    elif f.includes_null:
        verdict = "the interval includes zero, so the data are consistent with no change"
    else:
        verdict = ("the interval excludes zero: the schools moved "
                   + ("ahead of" if better else "behind") + " schools like them elsewhere")
    text = (f"Between {_session(res.baseline_year)} and {_session(res.followup_year)} the "
            f"difference in {label} between the {res.n_schools} schools compared in both "
            f"years and their virtual comparators changed by {f.estimate} percentage points "
            f"({res.level:.0%} interval {f.low} to {f.high}); {verdict}.")
    for w in res.warnings:
        text += " " + w[:1].upper() + w[1:] + ("" if w.endswith(".") else ".")
    return text


def synthetic_decimals(sc) -> int:
    """Decimals of the synthetic control's average gap (its table, summary and appendix)."""
    return fmt.effect(sc.effect, sc.ci_low, sc.ci_high,
                      min_decimals=GAP_MIN_DECIMALS).decimals


def synthetic_summary(sc) -> str:
    """The authority-wide comparison in one plain sentence: what it found, how sure it is.

    How sure rests on the placebo p-value (the share of authorities, the authority among
    them, whose gap was at least as large); the numbers behind it are in the appendix.
    """
    label = sc.outcome.split(" (")[0] if isinstance(sc.outcome, str) else "attendance"
    when = _sessions(sc.post_years)
    if not np.isfinite(sc.effect):
        return (f"Taken as a whole, {sc.treated}'s {label} in {when} could not be compared "
                "with a blend of other authorities.")
    f = fmt.effect(sc.effect, sc.ci_low, sc.ci_high, min_decimals=synthetic_decimals(sc),
                   sign=True)
    blend = ("a blend of other authorities matched on how its attendance moved in earlier "
             "years" if sc.intercept else
             "a blend of other authorities that matched its attendance in earlier years")
    if f.sign == 0:
        found = f"{sc.treated}'s {label} in {when} was on average the same as {blend}"
    else:
        found = (f"{sc.treated}'s {label} in {when} was on average "
                 f"{fmt.number(abs(sc.effect), f.decimals)} points "
                 f"{'above' if f.sign > 0 else 'below'} {blend}")
    p = sc.p_value
    if not np.isfinite(p):
        sure = "how unusual that is could not be judged"
    elif p <= CLEAR_P:
        sure = ("few other authorities showed a gap as large when tested the same way, so "
                "it is unlikely to be chance alone")
    else:
        sure = ("many other authorities showed a gap at least as large when tested the same "
                "way, so it is not clear evidence of a real difference")
    return f"Taken as a whole, {found}; {sure} (details in the technical appendix)."


def synthetic_diagnostics(sc, authority: str) -> str:
    """The synthetic control's numbers for the technical appendix: average gap, placebo
    range and p-value, donors and fit (the figures of its tables, at their decimals)."""
    f = fmt.effect(sc.effect, sc.ci_low, sc.ci_high, min_decimals=synthetic_decimals(sc),
                   sign=True)
    what = ("changed relative to its pre-period difference from" if sc.intercept
            else "differed from")
    p = sc.p_value
    k = int(round(p * sc.n_units)) if np.isfinite(p) else 0
    how = ("a post/pre fit ratio" if sc.ratio_informative else "an average gap")
    top = sc.weights.head(3)
    donors = ", ".join(f"{name} ({v:.0%})" for name, v in top[top >= 0.005].items())
    n_pre = len(sc.pre_years)
    text = (
        f"Over {_sessions(sc.post_years)}, {authority}'s {sc.outcome} {what} its synthetic "
        f"comparator by {f.estimate} points on average (placebo-based "
        f"{round(sc.conf_level * 100):d}% range {f.low} to {f.high}). "
        f"{k} of {sc.n_units} authorities had {how} at least as large (placebo "
        f"{fmt.p_value(p)})"
        + ("" if sc.ratio_informative else
           "; the post/pre fit ratio is not used, as many placebo fits are exact")
        + f". The synthetic comparator is built mostly from {donors}, fitted on "
        f"{_plural(n_pre, 'pre-period year', 'pre-period years')} with RMSPE "
        f"{fmt.number(sc.pre_rmspe, 2)}."
    )
    return text


def synthetic_limits(sc) -> str:
    """What the synthetic control rests on, for the technical appendix."""
    return SYNTHETIC_LIMITS.format(
        n_pre=_plural(len(sc.pre_years), "pre-period year", "pre-period years"),
        n_units=sc.n_units)


def not_compared_words(in_census: int, later: int, baseline: int) -> str:
    """Which schools of the authority have no virtual comparator, and why, in words that
    match the overview table's columns (in the census but not compared; opened later)."""
    parts = []
    if later:
        parts.append(
            f"{_plural(later, 'school', 'schools')} opened after {baseline} or took a new "
            f"school code: with no {baseline} context, "
            + ("it has no virtual comparator and is" if later == 1
               else "they have no virtual comparator and are")
            + " not compared.")
    if in_census:
        parts.append(
            f"{_plural(in_census, 'school', 'schools')} in the {baseline} census "
            + ("has" if in_census == 1 else "have")
            + " no virtual comparator; the reasons are in the appendix.")
    if not parts:
        return f"Every school of the authority in the {baseline} census is compared."
    return " ".join(parts)


def narrative(
    cmp: AuthorityComparison,
    gaps: pd.DataFrame,
    dids: dict[str, DidResult],
    sc=None,
) -> str:
    """Markdown summary: latest gap per outcome, the change over time, the authority-wide
    comparison in one plain sentence, and the limits of the evidence (the synthetic
    control's diagnostics are in :func:`synthetic_diagnostics`, for the appendix)."""
    parts = [
        f"### {cmp.authority} compared with similar schools elsewhere\n",
        f"Each school was matched, on its {cmp.baseline_year} context, with the {cmp.k} most "
        "similar schools of the same sector in other Scottish authorities; its *virtual "
        "comparator* is their weighted average.",
    ]
    pooled = _pooled(gaps)
    decimals = gap_decimals(gaps)
    latest = pooled.sort_values("year").groupby("outcome").tail(1).set_index("outcome")
    latest = latest.reindex([o for o in cmp.outcomes if o in latest.index]).reset_index()
    for _, row in latest.iterrows():
        parts.append("- " + gap_sentence(row, cmp.authority, decimals.get(str(row["outcome"]))))
    if dids:
        d = did_decimals(*zip(*((r.estimate, r.ci_low, r.ci_high) for r in dids.values()),
                              strict=True))
        parts.append("\n**Change over time.**")
        for res in dids.values():
            parts.append("- " + did_sentence(res, d))
    if sc is not None:
        parts.append("\n**The authority as a whole.** " + synthetic_summary(sc))
    parts.append("\n" + LIMITS.format(baseline=cmp.baseline_year))
    return "\n".join(parts)


def headlines(
    cmp: AuthorityComparison, gaps: pd.DataFrame, dids: dict[str, DidResult], sc=None
) -> list[str]:
    """The few plain-English findings shown on a report index: latest attendance gap, its
    change over time and the authority-wide comparison (at the page's decimals)."""
    out = []
    pooled = _pooled(gaps)
    att = pooled.loc[pooled["outcome"] == "attendance_rate"].sort_values("year")
    if len(att):
        out.append(gap_sentence(att.iloc[-1], cmp.authority,
                                gap_decimals(gaps).get("attendance_rate")))
    if "attendance_rate" in dids:
        d = did_decimals(*zip(*((r.estimate, r.ci_low, r.ci_high) for r in dids.values()),
                              strict=True))
        out.append(did_sentence(dids["attendance_rate"], d))
    if sc is not None:
        out.append(synthetic_summary(sc))
    return out


def _clean(value):
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return None if not math.isfinite(float(value)) else float(value)
    if value is pd.NA:
        return None
    return value


def key_results(
    cmp: AuthorityComparison,
    gaps: pd.DataFrame,
    did: pd.DataFrame,
    sc=None,
    *,
    parameters: dict | None = None,
    dids: dict[str, DidResult] | None = None,
) -> dict:
    """JSON-ready dict of the key results (no pupil counts, no identifiers of pupils), with
    ``title`` and ``headlines`` for the report index."""
    out = {
        "title": f"{cmp.authority}: comparison with similar schools elsewhere in Scotland",
        "headlines": headlines(cmp, gaps, dids or {}, sc),
        "authority": cmp.authority,
        "baseline_year": cmp.baseline_year,
        "k": cmp.k,
        "parameters": parameters or {},
        "schools_compared": int(cmp.comparators[["seed_code", "sector"]].drop_duplicates()
                                .shape[0]),
        "schools_not_compared": int(len(cmp.unmatched)),
        "published_years": {o: cmp.years(o) for o in cmp.outcomes},
        "gaps": gaps.to_dict(orient="records"),
        "did": did.to_dict(orient="records"),
    }
    if sc is not None:
        lo, hi = sc.placebo_interval()
        out["synthetic_control"] = {
            "outcome": sc.outcome_column,
            "pre_years": sc.pre_years,
            "post_years": sc.post_years,
            "effect": sc.effect,
            "placebo_range_90": [lo, hi],
            "p_value": sc.p_value_ratio,
            "p_value_filtered": sc.p_value_filtered,
            "p_value_effect": sc.p_value_effect,
            "ratio_informative": sc.ratio_informative,
            "pre_rmspe": sc.pre_rmspe,
            "n_units": sc.n_units,
            "weights": sc.weights[sc.weights > 0.005].round(4).to_dict(),
        }
    return _clean(out)


def write_json(results: dict, path: str | Path) -> Path | None:
    """Write ``results`` to ``path`` (nothing when path is empty); returns the path."""
    if not path:
        return None
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(_clean(results), indent=2))
    return p
