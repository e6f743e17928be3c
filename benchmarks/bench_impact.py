"""Benchmark of nlc_eval.impact: speed, the LaLonde benchmark and interval coverage.

Usage::

    python benchmarks/bench_impact.py [--seeds 50] [--panel-seeds 200] [--lalonde-boot 199] [--write]

Prints small tables and, with ``--write``, writes ``benchmarks/results/impact.md``.

1. Speed: ``did`` and ``event_study`` on 48,000 pupils x 6 terms (23 clusters, so the DiD
   interval is a 999-draw wild cluster bootstrap).
2. LaLonde: NSW treated against CPS comparison units; the experimental answer is $1,794, the
   naive difference about -$8,500.
3. Coverage on the synthetic authority over ``--seeds`` seeds: the planted attendance effects
   of intensive and additional support, estimated by the reports' entry-cohort design
   (``nlc_eval.reports.impact_models.entry_cohorts`` and ``cohort_effect``: learners starting
   support in a term against learners not yet supported in the same term and cluster,
   regression adjustment for the selection rule's observables, every term with a previous
   session pooled), by the same design in the reference session's first term only, by the
   naive supported-vs-rest difference and by the two-way fixed-effects difference in
   differences. (Propensity-score matching on these data leaves prior attendance imbalanced
   because supported pupils are extreme on it; its balance table flags this, and
   ``tests/test_impact_synthetic.py`` checks both that and the weighting estimators.)
4. Coverage on cheap simulated panels (planted effect 1.0, 23 clusters) for ``did`` and
   ``event_study`` over ``--panel-seeds`` seeds.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from nlc_eval.impact import (  # noqa: E402
    OverlapWarning,
    did,
    doubly_robust,
    event_study,
    ipw,
    match,
)


def big_panel(seed: int = 0, n_pupils: int = 48_000, n_terms: int = 6, effect: float = 2.0):
    """48,000 pupils x 6 terms, 23 clusters, staggered starts for 10% of pupils."""
    rng = np.random.default_rng(seed)
    cl = rng.integers(0, 23, n_pupils)
    first = np.where(rng.random(n_pupils) < 0.1, rng.integers(3, n_terms + 1, n_pupils), 0)
    unit = np.repeat(np.arange(n_pupils), n_terms)
    term = np.tile(np.arange(1, n_terms + 1), n_pupils)
    f = np.repeat(first, n_terms)
    treated = ((f > 0) & (term >= f)).astype(int)
    y = (88 + np.repeat(rng.normal(0, 5, n_pupils), n_terms) + 0.2 * term
         + rng.normal(0, 0.5, (23, n_terms))[np.repeat(cl, n_terms), term - 1]
         + effect * treated + rng.normal(0, 4, len(unit)))
    return pd.DataFrame({"pupil": unit, "term": term, "cluster": np.repeat(cl, n_terms),
                         "first": f, "treated": treated, "attendance": y})


def bench_speed() -> pd.DataFrame:
    p = big_panel()
    rows = []
    for name, fn in [
        ("did (CR1 by pupil)", lambda: did(p, "attendance", "treated", "pupil", "term")),
        ("did (wild cluster bootstrap, 23 clusters, 999 draws)",
         lambda: did(p, "attendance", "treated", "pupil", "term", cluster="cluster")),
        ("event_study (Callaway-Sant'Anna, 23 clusters)",
         lambda: event_study(p, "attendance", "pupil", "term", "first", cluster="cluster")),
    ]:
        t0 = time.perf_counter()
        e = fn()
        rows.append({"task": name, "rows": len(p), "seconds": time.perf_counter() - t0,
                     "estimate": e.estimate, "ci": f"{e.ci_low:.2f} to {e.ci_high:.2f}",
                     "truth": 2.0})
    return pd.DataFrame(rows)


def lalonde_frame() -> pd.DataFrame:
    import causaldata

    nsw = causaldata.nsw_mixtape.load_pandas().data
    cps = causaldata.cps_mixtape.load_pandas().data
    d = pd.concat([nsw[nsw.treat == 1], cps], ignore_index=True)
    d = d.drop(columns="data_id").astype(float)
    d["age2"], d["age3"], d["educ2"] = d.age ** 2, d.age ** 3, d.educ ** 2
    d["u74"], d["u75"] = (d.re74 == 0).astype(float), (d.re75 == 0).astype(float)
    d["educ_re74"] = d.educ * d.re74
    return d


LALONDE_COVS = ["age", "age2", "age3", "educ", "educ2", "marr", "nodegree", "black", "hisp",
                "re74", "re75", "u74", "u75", "educ_re74"]


def bench_lalonde(n_boot: int) -> pd.DataFrame:
    d = lalonde_frame()
    naive = d.loc[d.treat == 1, "re78"].mean() - d.loc[d.treat == 0, "re78"].mean()
    rows = [{"method": "experimental benchmark (NSW treated - NSW control)",
             "estimate": 1794.0, "ci_low": np.nan, "ci_high": np.nan, "seconds": np.nan},
            {"method": "naive (NSW treated - CPS)", "estimate": naive, "ci_low": np.nan,
             "ci_high": np.nan, "seconds": np.nan}]
    runs = [
        ("match 1:1 with replacement", lambda: match(d, "re78", "treat", LALONDE_COVS,
                                                     replace=True, n_boot=999)),
        ("match 3:1 with replacement", lambda: match(d, "re78", "treat", LALONDE_COVS,
                                                     replace=True, ratio=3, n_boot=999)),
        ("match 1:1 caliper 0.2 SD", lambda: match(d, "re78", "treat", LALONDE_COVS,
                                                   caliper=0.2, n_boot=999)),
        ("ipw (ATT)", lambda: ipw(d, "re78", "treat", LALONDE_COVS, estimand="ATT",
                                  n_boot=n_boot)),
        ("doubly robust AIPW (ATT)", lambda: doubly_robust(d, "re78", "treat", LALONDE_COVS,
                                                           estimand="ATT", n_boot=n_boot)),
    ]
    for name, fn in runs:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OverlapWarning)
            e = fn()
        rows.append({"method": name, "estimate": e.estimate, "ci_low": e.ci_low,
                     "ci_high": e.ci_high, "seconds": time.perf_counter() - t0})
    return pd.DataFrame(rows)


def _coverage_row(seed, truth, name, level, est, lo=None, hi=None, n=None) -> dict:
    """One estimate of one seed: an Estimate, or a number with its interval and count."""
    return {"seed": seed, "estimator": name, "level": level, "truth": truth,
            "estimate": float(getattr(est, "estimate", est)),
            "ci_low": float(est.ci_low if lo is None else lo),
            "ci_high": float(est.ci_high if hi is None else hi),
            "n_treated": int(est.n_treated if n is None else n)}


COHORT_SLOPES_NAME = "entry cohorts, every term, prior-attendance slopes by entry term"


def bench_synthetic(seeds: int, start: int = 0, cohort_only: bool = False,
                    slopes_by_cohort: bool = False, per_seed: str = ""
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Coverage of the planted attendance effects over ``seeds`` synthetic authorities.

    The designs come from the library (:mod:`nlc_eval.reports.impact_models`): the pooled
    entry-cohort design the reports use (every term with a previous session; intensive and
    additional support), the same design restricted to the first term of the reference
    session, the naive supported-vs-rest difference in the pooled design, and the reports'
    two-way fixed-effects difference in differences. With ``slopes_by_cohort`` the
    entry-cohort rows use the same design with the cubic in previous-session attendance
    given its own slopes in each entry term (``slopes_by="cohort"`` of
    :func:`nlc_eval.impact.entry_cohort_effect`, the reports' adjustment otherwise unchanged).
    """
    from types import SimpleNamespace

    from nlc_eval.data.synthetic import authority
    from nlc_eval.reports import impact_models as im

    rows = []
    for s in range(start, start + seeds):
        t0 = time.perf_counter()
        a = authority(seed=s)
        truth = a.truth[a.truth.outcome == "attendance_rate"].set_index("level")["effect"]
        design = im.entry_cohorts(a)
        ref = a.design["reference_session"]
        first_term = design[design.cohort == im.cohort_label(ref, 1)]
        schools = a.schools.assign(seed_code=a.schools.seed_code.astype(str))
        ctx = SimpleNamespace(data=a, schools=schools, seed=s)

        def add(name, level, est, lo=None, hi=None, n=None, s=s, truth=truth):
            rows.append(_coverage_row(s, float(truth[level]), name, level, est, lo, hi, n))

        for level in ("intensive", "additional"):
            if slopes_by_cohort:
                saved = im.COHORT_ADJUSTMENT
                im.COHORT_ADJUSTMENT = {**saved, "slopes_by": "cohort"}
                try:
                    add(COHORT_SLOPES_NAME, level,
                        im.cohort_effect(design, level=level, random_state=s))
                finally:
                    im.COHORT_ADJUSTMENT = saved
            else:
                add("entry cohorts, every term (reports' default)", level,
                    im.cohort_effect(design, level=level, random_state=s))
        if per_seed:  # written after every seed, so an interrupted run keeps what it did
            pd.DataFrame(rows).to_csv(per_seed, index=False)
        if cohort_only:
            print(f"  seed {s} ({time.perf_counter() - t0:.0f}s): " + "; ".join(
                f"{r['level'][:3]} {r['estimate']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
                for r in rows if r["seed"] == s), flush=True)
            continue
        add("entry cohort, reference session term 1 only", "intensive",
            im.cohort_effect(first_term, level="intensive", random_state=s))
        d = design[(design.treated == 0) | (design.level == "intensive")]
        y1 = d.loc[d.treated == 1, "attendance_rate"]
        y0 = d.loc[d.treated == 0, "attendance_rate"]
        naive = y1.mean() - y0.mean()
        se = np.sqrt(y1.var(ddof=1) / len(y1) + y0.var(ddof=1) / len(y0))
        add("naive supported - rest (same design)", "intensive", naive,
            naive - 1.96 * se, naive + 1.96 * se, int(len(y1)))
        add("difference in differences (two-way fixed effects)", "intensive",
            im.attendance_effect(ctx, level="intensive", method="did"))
        last = [r for r in rows if r["seed"] == s]
        print(f"  seed {s} ({time.perf_counter() - t0:.0f}s): " + "; ".join(
            f"{r['estimator'].split(' (')[0].split(',')[0]} {r['level'][:3]} "
            f"{r['estimate']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}] truth {r['truth']}"
            for r in last), flush=True)
    return summarise(pd.DataFrame(rows)), pd.DataFrame(rows)


def summarise(per: pd.DataFrame) -> pd.DataFrame:
    """Coverage table from per-seed rows (``seed, estimator, level, truth, estimate, ...``)."""
    per = per.copy()
    per["covered"] = (per.ci_low <= per.truth) & (per.truth <= per.ci_high)
    per["width"] = per.ci_high - per.ci_low
    summary = per.groupby(["estimator", "level"], sort=False).agg(
        seeds=("seed", "size"), truth=("truth", "mean"), mean_estimate=("estimate", "mean"),
        sd_estimate=("estimate", "std"), mean_ci_width=("width", "mean"),
        mean_n_treated=("n_treated", "mean"), coverage_95=("covered", "mean")).reset_index()
    return summary


def bench_panels(seeds: int) -> pd.DataFrame:
    from _impact_sim import panel

    cov = {"did (wild cluster bootstrap)": [], "event_study e=0": [], "naive treated-untreated": []}
    for s in range(seeds):
        p = panel(seed=10_000 + s, n_units=600, staggered=False, effect=1.0, cluster_sd=0.3)
        e = did(p, "y", "treated", "unit", "period", cluster="cluster", n_boot=399,
                random_state=s)
        cov["did (wild cluster bootstrap)"].append(e.ci_low <= 1.0 <= e.ci_high)
        es = event_study(p, "y", "unit", "period", "first", cluster="cluster")
        t = es.terms.set_index("event_time")
        cov["event_study e=0"].append(t.loc[0, "ci_low"] <= 1.0 <= t.loc[0, "ci_high"])
        a, b = p.loc[p.treated == 1, "y"], p.loc[p.treated == 0, "y"]
        se = np.sqrt(a.var() / len(a) + b.var() / len(b))
        cov["naive treated-untreated"].append(abs(a.mean() - b.mean() - 1.0) <= 1.96 * se)
    return pd.DataFrame([{"estimator": k, "seeds": seeds, "coverage_95": np.mean(v)}
                         for k, v in cov.items()])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=50, help="synthetic authorities (0 = skip)")
    ap.add_argument("--panel-seeds", type=int, default=200, help="simulated panels")
    ap.add_argument("--lalonde-boot", type=int, default=199, help="bootstrap draws, weighting")
    ap.add_argument("--seed-start", type=int, default=0, help="first synthetic authority seed")
    ap.add_argument("--write", action="store_true", help="write the results file")
    ap.add_argument("--out", default="impact.md", help="results file in benchmarks/results/")
    ap.add_argument("--cohort-only", action="store_true",
                    help="synthetic authority: only the reports' entry-cohort estimates")
    ap.add_argument("--no-speed", action="store_true", help="skip the speed and LaLonde parts")
    ap.add_argument("--slopes-by-cohort", action="store_true",
                    help="synthetic authority: entry-cohort slopes on prior attendance by "
                    "entry term")
    ap.add_argument("--per-seed", default="", help="CSV file for the per-seed estimates")
    ap.add_argument("--summarise", nargs="*", default=None,
                    help="only summarise per-seed CSV files written by earlier runs")
    args = ap.parse_args(argv)
    sections = []

    def show(title, table, note=""):
        text = table.to_string(index=False, float_format=lambda x: f"{x:,.3f}")
        print(f"\n== {title}\n{text}\n", flush=True)
        sections.append(f"## {title}\n\n{note}\n\n```\n{text}\n```\n")

    cmd = "python benchmarks/bench_impact.py " + " ".join(argv or sys.argv[1:])
    if args.summarise is not None:
        per = pd.concat([pd.read_csv(f) for f in args.summarise], ignore_index=True)
        show("Coverage on the synthetic authority (attendance)", summarise(per),
             f"Seeds {per.seed.min()} to {per.seed.max()} ({per.seed.nunique()} authorities), "
             "from " + ", ".join(f"`{f}`" for f in args.summarise) + ".")
        args.seeds = args.panel_seeds = 0
        args.no_speed = True
    if not args.no_speed:
        show("Speed: 48,000 pupils x 6 terms", bench_speed(),
             "Planted effect 2.0; wall-clock seconds on the shared 2-core machine.")
        show("LaLonde (NSW treated vs CPS comparison)", bench_lalonde(args.lalonde_boot),
             "Experimental answer $1,794; 95% intervals.")
    if args.panel_seeds:
        show("Coverage on simulated panels", bench_panels(args.panel_seeds),
             "Planted effect 1.0, 600 units x 6 periods, treatment by cluster (23 clusters).")
    if args.seeds:
        summary, per = bench_synthetic(args.seeds, args.seed_start, args.cohort_only,
                                       args.slopes_by_cohort, args.per_seed)
        if args.per_seed:
            per.to_csv(args.per_seed, index=False)
        show("Coverage on the synthetic authority (attendance)", summary,
             "Planted effect from `authority(seed).truth` (3.0 intensive, 1.5 additional "
             "percentage points); 95% intervals; one authority per seed (seeds "
             f"{args.seed_start} to {args.seed_start + args.seeds - 1}). Entry-cohort intervals: wild cluster bootstrap over the 23 "
             "clusters, 399 draws. The naive interval is the two-sample normal one.")
    if args.write:
        out = ROOT / "benchmarks" / "results" / args.out
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("# Impact estimators: benchmark\n\nCommand: `" + cmd.strip()
                       + "`\n\n" + "\n".join(sections))
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
