"""Event study: coverage of the aggregated effects and size of the pre-trend test over seeds.

Simulated staggered panels (``tests/_impact_sim.panel``: 23 clusters, about half treated,
cohorts starting in periods 3, 4 or 5, cluster-period shocks, a planted effect
``1 + 0.25 e`` at event time e >= 0, parallel trends true). For every seed it records whether
the 95% intervals of the e = 0 effect and of the simple, dynamic and group aggregations
cover their planted values, and whether the pre-trend test rejects at 5%. Two settings:

1. ``cluster="cluster"`` (23 clusters; t(22) intervals, bootstrap pre-trend test);
2. no ``cluster=`` on 40-unit panels without cluster shocks: the clusters default to the
   units, so the small-sample path (t(39), bootstrap pre-trend test) is taken.

Usage::

    python benchmarks/bench_event_study.py --seeds 100 --out benchmarks/results/event_study.md
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _impact_sim import panel  # noqa: E402

from nlc_eval.impact import event_study  # noqa: E402

DYN = 0.25


def _truths(es) -> dict[str, float]:
    """Planted values of the aggregations, with the estimator's own cohort-size weights."""
    gt = es.extra["group_time"]
    post = gt[gt.event_time >= 0].copy()
    post["truth"] = 1.0 + DYN * post["event_time"]
    size = es.extra["group_effects"].set_index("cohort")["n"]
    post["w"] = post["cohort"].map(size).astype(float)
    simple = float(np.average(post["truth"], weights=post["w"]))
    dynamic = float(np.mean([1.0 + DYN * e for e in sorted(post.event_time.unique())]))
    by_g = post.groupby("cohort")["truth"].mean()
    group = float(np.average(by_g, weights=size.reindex(by_g.index)))
    return {"simple": simple, "dynamic": dynamic, "group": group}


def run(setting: str, seeds: range, n_boot: int) -> dict:
    hits = {k: [] for k in ("e=0", "simple", "dynamic", "group")}
    rejects, times = [], []
    for s in seeds:
        if setting == "cluster":
            p = panel(seed=5000 + s, n_units=600, effect=1.0, dynamic=DYN, cluster_sd=0.3)
            kw = {"cluster": "cluster"}
        else:
            p = panel(seed=7000 + s, n_units=40, effect=1.0, dynamic=DYN, cluster_sd=0.0)
            kw = {}
        t0 = time.perf_counter()
        es = event_study(p, "y", "unit", "period", "first", n_boot=n_boot, random_state=s,
                         **kw)
        times.append(time.perf_counter() - t0)
        t = es.terms.set_index("event_time")
        hits["e=0"].append(t.loc[0, "ci_low"] <= 1.0 <= t.loc[0, "ci_high"])
        agg = es.extra["aggregations"].set_index("term")
        for k, truth in _truths(es).items():
            hits[k].append(agg.loc[k, "ci_low"] <= truth <= agg.loc[k, "ci_high"])
        rejects.append(es.extra["pretrend_p"] < 0.05)
    return {"setting": setting, "seeds": len(seeds), "n_clusters": es.extra["n_clusters"],
            "inference": es.inference, "pretrend_method": es.extra["pretrend_method"],
            **{f"coverage {k}": float(np.mean(v)) for k, v in hits.items()},
            "pre-trend rejection at 5%": float(np.mean(rejects)),
            "median s per fit": float(np.median(times))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--n-boot", type=int, default=399)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    rows = [run(s, range(a.seeds), a.n_boot) for s in ("cluster", "default units")]
    table = pd.DataFrame(rows)
    cols = [c for c in table.columns if c not in ("inference", "pretrend_method")]
    text = ["# Event study: coverage and pre-trend size over seeds", "",
            f"`python benchmarks/bench_event_study.py --seeds {a.seeds} --n-boot {a.n_boot}`",
            "", table[cols].to_markdown(index=False, floatfmt=".3f"), ""]
    for r in rows:
        text.append(f"- {r['setting']}: {r['inference']}; pre-trend: {r['pretrend_method']}")
    out = "\n".join(text) + "\n"
    print(out)
    if a.out:
        a.out.write_text(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
