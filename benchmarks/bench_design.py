"""Design parameters: coverage of the ICC and R² intervals with 23 clusters, over seeds.

Simulated authorities like North Lanarkshire's: 23 clusters (``--clusters``) of 2-8 schools of 5-40 pupils
(unbalanced). The outcome has variance 0.1 between clusters, 0.2 between schools and 0.7
between pupils (ICCs 0.1 and 0.2), and one covariate at each level explains a known share
of its level: 50% of the cluster level (a cluster covariate), 30% of the school level (a
school covariate) and 50% of the pupil level (a pupil covariate). Random effects and
pupil residuals are normal, or skewed (standardised gamma with shape 2: skewness 1.4,
excess kurtosis 3). For each seed, :func:`nlc_eval.impact.design.design_parameters` is run
with each interval method on the same data, and the table gives the share of the 95%
intervals that cover the planted ICCs and R², the Monte Carlo standard error of a coverage
(``sqrt(p (1 - p) / seeds)``) and the median width.

Usage::

    python benchmarks/bench_design.py --seeds 300 --out benchmarks/results/design.md
    python benchmarks/bench_design.py --seeds 300 --skewed --out benchmarks/results/design_skewed.md
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from nlc_eval.impact.design import design_parameters

#: Planted values: level variances, and the share of each level explained by its covariate.
VARIANCE = {"cluster": 0.1, "school": 0.2, "pupil": 0.7}
R2 = {"cluster": 0.5, "school": 0.3, "pupil": 0.5}
K = 23  # clusters (--clusters changes it)
METHODS = ("studentized", "pivotal", "bootstrap")


def authority(seed: int, skewed: bool, K: int = K) -> pd.DataFrame:
    """One simulated authority: pupils with cluster, school, covariates and outcome."""
    rng = np.random.default_rng(seed)
    per_cluster = rng.integers(2, 9, K)
    school_cluster = np.repeat(np.arange(K), per_cluster)
    school = np.repeat(np.arange(len(school_cluster)),
                       rng.integers(5, 41, len(school_cluster)))
    cluster = school_cluster[school]

    def noise(size):
        if skewed:
            return (rng.gamma(2.0, size=size) - 2.0) / np.sqrt(2.0)
        return rng.normal(size=size)

    w, z, x = rng.normal(size=K), rng.normal(size=len(school_cluster)), rng.normal(
        size=len(school))
    parts = []
    for level, cov, idx, n in (("cluster", w, cluster, K),
                               ("school", z, school, len(school_cluster)),
                               ("pupil", x, None, len(school))):
        explained, rest = R2[level] * VARIANCE[level], (1 - R2[level]) * VARIANCE[level]
        e = noise(n)
        c = cov
        if idx is not None:
            e, c = e[idx], cov[idx]
        parts.append(np.sqrt(explained) * c + np.sqrt(rest) * e)
    return pd.DataFrame({"cluster": cluster, "school": school, "w": w[cluster],
                         "z": z[school], "x": x, "y": sum(parts)})


def run(seeds: int, start: int, skewed: bool, n_boot: int, K: int = K
        ) -> tuple[pd.DataFrame, dict]:
    rows = []
    times = {m: [] for m in METHODS}
    icc_true = {k: VARIANCE[k] / sum(VARIANCE.values()) for k in ("cluster", "school")}
    for seed in range(start, start + seeds):
        df = authority(seed, skewed, K)
        for m in METHODS:
            t0 = time.perf_counter()
            p = design_parameters(df, "y", ["cluster", "school"], ["w", "z", "x"],
                                  interval=m, n_boot=n_boot, n_draws=4000,
                                  random_state=seed)
            times[m].append(time.perf_counter() - t0)
            t = p.table.set_index("level")
            for lev, truth in icc_true.items():
                lo, hi = t.loc[lev, "icc_low"], t.loc[lev, "icc_high"]
                rows.append({"method": m, "quantity": f"ICC {lev}", "seed": seed,
                             "covered": bool(lo <= truth <= hi), "width": hi - lo})
            for lev, truth in R2.items():
                lo, hi = t.loc[lev, "r2_low"], t.loc[lev, "r2_high"]
                rows.append({"method": m, "quantity": f"R² {lev}", "seed": seed,
                             "covered": bool(lo <= truth <= hi), "width": hi - lo})
    return pd.DataFrame(rows), {m: float(np.median(v)) for m, v in times.items()}


def summarise(res: pd.DataFrame) -> pd.DataFrame:
    g = res.groupby(["quantity", "method"], sort=False)
    out = g.agg(seeds=("covered", "size"), coverage=("covered", "mean"),
                median_width=("width", "median")).reset_index()
    out["mc_se"] = np.sqrt(out["coverage"] * (1 - out["coverage"]) / out["seeds"])
    return out[["quantity", "method", "seeds", "coverage", "mc_se", "median_width"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=300)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--n-boot", type=int, default=999)
    ap.add_argument("--skewed", action="store_true")
    ap.add_argument("--clusters", type=int, default=K)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--csv", type=Path, help="per-seed results")
    a = ap.parse_args()
    t0 = time.perf_counter()
    res, times = run(a.seeds, a.start, a.skewed, a.n_boot, a.clusters)
    if a.csv:
        res.to_csv(a.csv, index=False)
    table = summarise(res)
    setting = "skewed (gamma, shape 2)" if a.skewed else "normal"
    cmd = (f"python benchmarks/bench_design.py --seeds {a.seeds} --start {a.start} "
           f"--n-boot {a.n_boot}{' --skewed' if a.skewed else ''}"
           + (f" --clusters {a.clusters}" if a.clusters != K else ""))
    text = [f"# Design parameters: coverage of 95% intervals, {a.clusters} clusters, {setting} "
            "random effects", "", f"`{cmd}`", "",
            table.to_markdown(index=False, floatfmt=".3f"), "",
            "Median seconds per call: " + ", ".join(f"{m} {t:.2f}" for m, t in times.items())
            + f"; whole run {time.perf_counter() - t0:.0f} s.", ""]
    out = "\n".join(text)
    print(out)
    if a.out:
        a.out.write_text(out)


if __name__ == "__main__":
    main()
