"""Benchmark: FamilyFormer against k-means-constrained (KMeansConstrained).

Both get the same standardised feature matrix (nlc_eval.similarity.feature_matrix, default
spec: log roll and SIMD profile), the same number of families, the same size bounds and the
same number of starts. Reported: within-family sum of squares (computed here from each
method's labels, in the same units) and wall time.

Cases
-----
- all Scottish primaries in the 2024 official file, families of 6-10;
- all Scottish secondaries in the 2024 official file, trios and quads (3-4);
- synthetic schools, 5,000 and 20,000 (England's scale), families of 6-10.

Usage::

    NLC_EVAL_OFFICIAL_DATA=../shared/data/scotgov \\
        .venv/bin/python benchmarks/bench_families.py --write

``--cases`` selects cases; ``--n-init`` overrides the starts of every case; ``--ours-only``
times FamilyFormer alone (k-means-constrained takes about 25 minutes at 20,000 schools).
This is a benchmark, not a test: it times things and can take many minutes (the
k-means-constrained solve at 20,000 schools dominates).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from nlc_eval.families import FamilyFormer
from nlc_eval.similarity import feature_matrix

RESULTS = Path(__file__).resolve().parent / "results" / "families.md"

# name: (size_min, size_max, n_init used for both methods)
CASES = {
    "scotland-primary": (6, 10, 10),
    "scotland-secondary": (3, 4, 10),
    "synthetic-5000": (6, 10, 1),
    "synthetic-20000": (6, 10, 1),
}


def synthetic_schools(n: int, seed: int = 0) -> pd.DataFrame:
    """Schools with a realistic spread of roll and SIMD profile.

    Rolls are log-normal (median about 200); each school has a latent deprivation score
    that drives Dirichlet-distributed SIMD quintile shares (deprived schools concentrate in
    quintile 1, affluent ones in quintile 5), with a few very small rural schools.
    """
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    roll = np.exp(rng.normal(5.3, 0.75, size=n) - 0.1 * z)
    small = rng.random(n) < 0.08
    roll[small] = rng.integers(5, 40, size=small.sum())
    q = np.arange(1, 6)
    alpha = np.exp(-0.55 * np.outer(z, q - 3)) * 1.5
    shares = np.vstack([rng.dirichlet(a) for a in alpha])
    df = pd.DataFrame({"seed_code": [f"{i:07d}" for i in range(n)], "sector": "primary",
                       "roll": np.round(roll)})
    for j in range(5):
        df[f"simd_q{j + 1}_share"] = shares[:, j]
    return df


def official_matrix(sector: str) -> np.ndarray:
    from nlc_eval.config import official_data_dir
    from nlc_eval.data.official import load_school_statistics

    d = load_school_statistics(official_data_dir(), years=[2024])
    d = d[d["sector"].astype(str) == sector]
    return feature_matrix(d).to_numpy()


def matrix(case: str) -> np.ndarray:
    if case.startswith("synthetic-"):
        return feature_matrix(synthetic_schools(int(case.split("-")[1]))).to_numpy()
    return official_matrix(case.split("-")[1])


def ss(X: np.ndarray, labels: np.ndarray) -> float:
    total = 0.0
    for j in np.unique(labels):
        d = X[labels == j] - X[labels == j].mean(axis=0)
        total += float(np.sum(d * d))
    return total


def run_case(case: str, n_init: int | None, seed: int, ours_only: bool = False) -> dict:
    lo, hi, starts = CASES[case]
    starts = n_init or starts
    X = matrix(case)
    n = X.shape[0]
    k = int(min(max(round(n / ((lo + hi) / 2)), -(-n // hi)), n // lo))
    row = {"case": case, "n": n, "k": k, "bounds": f"{lo}-{hi}", "n_init": starts}
    t = time.perf_counter()
    ours = FamilyFormer(n_families=k, size_min=lo, size_max=hi, n_init=starts,
                        random_state=seed).fit(X)
    row["ours_s"] = time.perf_counter() - t
    row["ours_ss"] = ss(X, ours.labels_)
    sizes = np.bincount(ours.labels_)
    row["ours_sizes"] = f"{sizes.min()}-{sizes.max()}"
    if ours_only:
        print(f"{case:20s} n={n:6d} k={k:5d} SS ours {row['ours_ss']:10.3f} time ours "
              f"{row['ours_s']:7.1f}s sizes {row['ours_sizes']}", flush=True)
        return row
    from k_means_constrained import KMeansConstrained

    t = time.perf_counter()
    kmc = KMeansConstrained(n_clusters=k, size_min=lo, size_max=hi, n_init=starts,
                            random_state=seed).fit(X)
    row["kmc_s"] = time.perf_counter() - t
    row["kmc_ss"] = ss(X, kmc.labels_)
    sizes = np.bincount(kmc.labels_)
    row["kmc_sizes"] = f"{sizes.min()}-{sizes.max()}"
    row["ss_ratio"] = row["ours_ss"] / row["kmc_ss"]
    row["speedup"] = row["kmc_s"] / row["ours_s"]
    return row


def to_markdown(rows: list[dict], command: str) -> str:
    head = ("| case | n | k | bounds | n_init | SS ours | SS k-means-constrained | SS ratio | "
            "time ours (s) | time k-m-c (s) | speed-up | sizes ours | sizes k-m-c |\n"
            "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
    body = "".join(
        f"| {r['case']} | {r['n']} | {r['k']} | {r['bounds']} | {r['n_init']} | "
        f"{r['ours_ss']:.3f} | {r['kmc_ss']:.3f} | {r['ss_ratio']:.4f} | {r['ours_s']:.1f} | "
        f"{r['kmc_s']:.1f} | {r['speedup']:.1f}x | {r['ours_sizes']} | {r['kmc_sizes']} |\n"
        for r in rows)
    import k_means_constrained

    return (
        "# Family formation benchmark\n\n"
        "FamilyFormer (nlc_eval) against `k_means_constrained.KMeansConstrained` "
        f"{k_means_constrained.__version__} on the same standardised matrix (log roll, mean "
        "SIMD quintile, share in SIMD quintile 1; robust scaling), same number of families, "
        "same size bounds, same number of starts (`n_init`, column). Within-family sum of "
        "squares (SS) is computed from each method's labels; SS ratio = ours / theirs "
        "(below 1 = tighter families). Wall-clock times on a shared 2-core machine "
        f"(Python {platform.python_version()}); both methods single-threaded.\n\n"
        f"Command: `{command}`\n\n" + head + body
        + "\nk-means-constrained solves a min-cost flow on the full bipartite graph (n x k "
        "arcs) at every iteration, so its time grows with n x k; at 20,000 schools one start "
        "takes many minutes, hence one start each at 5,000 and 20,000 schools, for both methods.\n")


def exact_nl_secondaries(years=(2023, 2024)) -> list[dict]:
    """Time the exact solve of North Lanarkshire's secondaries (trios and quads, clusters
    apart) from the official files; the optimum is certified by HiGHS (gap 0)."""
    from nlc_eval.config import official_data_dir
    from nlc_eval.data.official import load_school_locations, load_school_statistics

    folder = official_data_dir()
    loc = load_school_locations(folder)
    rows = []
    for year in years:
        d = load_school_statistics(folder, years=[year])
        nl, _ = nl_clusters(d[d["local_authority"] == "North Lanarkshire"], loc)
        sec = nl[nl["sector"] == "secondary"]
        X = feature_matrix(sec).to_numpy()
        t = time.perf_counter()
        ff = FamilyFormer(size_min=3, size_max=4, random_state=0).fit(
            X, cannot_link=sec["cluster"].tolist())
        rows.append({"year": year, "n": len(sec), "solver": ff.solver_, "ss": ff.inertia_,
                     "gap": ff.gap_, "columns": ff.n_columns_,
                     "seconds": time.perf_counter() - t})
        print(f"NL secondaries {year}: {ff.solver_} SS {ff.inertia_:.4f} gap {ff.gap_:.2g} "
              f"({ff.n_columns_} families enumerated) in {rows[-1]['seconds']:.2f} s",
              flush=True)
    return rows


def nl_clusters(nl: pd.DataFrame, loc: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Approximate clusters for the schools with coordinates; the others get none."""
    from nlc_eval.data.clusters import approximate_clusters

    has = nl["seed_code"].astype(str).isin(set(loc["seed_code"].astype(str)))
    cl = approximate_clusters(nl[has], loc)
    out = nl.merge(cl[["seed_code", "sector", "cluster"]], on=["seed_code", "sector"],
                   how="left")
    return out, sorted(nl.loc[~has, "seed_code"].astype(str))


def nl_primaries(years=range(2019, 2025), seed: int = 0) -> list[dict]:
    """North Lanarkshire's primaries per year: form_families as the command runs it
    (families of 6-10, clusters apart, bound="auto"), with SS, bound, gap and time."""
    from nlc_eval.config import official_data_dir
    from nlc_eval.data.official import load_school_locations, load_school_statistics
    from nlc_eval.families import form_families

    folder = official_data_dir()
    loc = load_school_locations(folder)
    rows = []
    for year in years:
        d = load_school_statistics(folder, years=[year])
        nl, no_xy = nl_clusters(d[d["local_authority"] == "North Lanarkshire"], loc)
        pr = nl[nl["sector"] == "primary"]
        t = time.perf_counter()
        res = form_families(pr, size=(6, 10), cannot_link="cluster", random_state=seed)
        sec = time.perf_counter() - t
        f = res.groups["primary"].former
        rows.append({"year": year, "n": len(pr), "k": f.n_families_, "solver": f.solver_,
                     "ss": f.objective_, "bound": f.lower_bound_, "gap": f.gap_,
                     "converged": getattr(f, "bound_converged_", None),
                     "clock": getattr(f, "bound_clock_stopped_", None),
                     "no_xy": len(set(no_xy) & set(pr["seed_code"].astype(str))),
                     "seconds": sec})
        r = rows[-1]
        print(f"| {year} | {r['n']} | {r['k']} | {r['ss']:.4f} | {r['bound']:.4f} | "
              f"{100 * r['gap']:.2f}% | {r['solver']} | {r['converged']} | {r['clock']} | "
              f"{r['no_xy']} | {sec:.1f} |", flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    ap.add_argument("--n-init", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", action="store_true", help=f"write {RESULTS}")
    ap.add_argument("--exact-nl", action="store_true",
                    help="time only the exact solve of North Lanarkshire's secondaries")
    ap.add_argument("--ours-only", action="store_true",
                    help="time FamilyFormer alone (no k-means-constrained run)")
    ap.add_argument("--nl-primaries", action="store_true",
                    help="North Lanarkshire's primaries 2019-2024: SS, bound, gap, time")
    args = ap.parse_args(argv)
    if args.exact_nl:
        exact_nl_secondaries()
        return 0
    if args.nl_primaries:
        print("| year | schools | families | SS | bound | gap | solver | converged | "
              "clock stopped | no coordinates | seconds |\n"
              "|---|---:|---:|---:|---:|---:|---|---|---|---:|---:|")
        nl_primaries(seed=args.seed)
        return 0
    if any(not c.startswith("synthetic") for c in args.cases) and not os.environ.get(
            "NLC_EVAL_OFFICIAL_DATA"):
        print("set NLC_EVAL_OFFICIAL_DATA for the official cases", file=sys.stderr)
        return 2
    command = "NLC_EVAL_OFFICIAL_DATA=../shared/data/scotgov .venv/bin/python " \
        "benchmarks/bench_families.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.ours_only:
        for case in args.cases:
            run_case(case, args.n_init, args.seed, ours_only=True)
        return 0
    rows = []
    for case in args.cases:
        rows.append(run_case(case, args.n_init, args.seed))
        r = rows[-1]
        print(f"{case:20s} n={r['n']:6d} k={r['k']:5d} SS ours {r['ours_ss']:10.3f} "
              f"k-m-c {r['kmc_ss']:10.3f} ratio {r['ss_ratio']:.4f}  time ours "
              f"{r['ours_s']:7.1f}s k-m-c {r['kmc_s']:7.1f}s  speed-up {r['speedup']:6.1f}x",
              flush=True)
        if args.write:
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(to_markdown(rows, command.strip()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
