"""Ours beside the peer libraries: pyfixest (CR1), wildboottest (wild cluster bootstrap) and
csdid (Callaway-Sant'Anna), values and times on simulated panels.

Usage::

    python benchmarks/bench_peers.py [--write]

With ``--write`` the tables go to ``benchmarks/results/peers.md``. The peers are test
dependencies (``pip install -e '.[test]'``). Times are wall-clock seconds of one call on the
shared 2-core machine (the first pyfixest call includes its JIT compilation, so each timing is
the second of two calls).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlc_eval.impact import did, event_study  # noqa: E402
from nlc_eval.impact.did import demean  # noqa: E402
from nlc_eval.impact.inference import wild_cluster_bootstrap  # noqa: E402


def panel(G, per, T, n_treated, start, seed, effect=0.5):
    """G clusters of ``per`` units over T periods, treatment by cluster from ``start``."""
    rng = np.random.default_rng(seed)
    n = G * per
    cl = np.repeat(np.arange(G), per)
    unit = np.repeat(np.arange(n), T)
    time_ = np.tile(np.arange(T), n)
    c = cl[unit]
    d = ((c < n_treated) & (time_ >= start)).astype(int)
    x = rng.normal(size=n * T)
    y = (rng.normal(size=n)[unit] + 0.3 * time_ + rng.normal(0, 0.5, (G, T))[c, time_]
         + effect * d + 0.2 * x + rng.normal(size=n * T))
    return pd.DataFrame({"unit": unit, "cluster": c, "time": time_, "d": d, "x": x, "y": y})


def timed(fn, repeat=2):
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        sec = time.perf_counter() - t0
    return out, sec


def bench_cr1() -> pd.DataFrame:
    import pyfixest as pf

    rows = []
    for G, per, T in [(23, 20, 6), (23, 2087, 6), (100, 50, 6)]:
        p = panel(G, per, T, n_treated=G // 3, start=3, seed=G + per)
        ours, t_ours = timed(lambda p=p: did(p, "y", "d", "unit", "time", covariates=["x"],
                                             cluster="cluster", n_boot=99))
        fit, t_pf = timed(lambda p=p: pf.feols("y ~ d + x | unit + time", data=p,
                                               vcov={"CRV1": "cluster"}))
        rows.append({"panel": f"{G} clusters x {per} units x {T} periods", "rows": len(p),
                     "estimate ours": ours.estimate, "estimate pyfixest": fit.coef()["d"],
                     "CR1 SE ours": ours.se, "CR1 SE pyfixest": fit.se()["d"],
                     "rel. diff SE": abs(ours.se / fit.se()["d"] - 1),
                     "s ours (incl. bootstrap)": t_ours, "s pyfixest (CR1 only)": t_pf})
    return pd.DataFrame(rows)


def _wbt(p, B, seed):
    import statsmodels.api as sm
    from wildboottest.wildboottest import wildboottest

    X = pd.get_dummies(p[["d", "x", "unit", "time"]].astype({"unit": str, "time": str}),
                       columns=["unit", "time"], drop_first=True, dtype=float)
    model = sm.OLS(p["y"], sm.add_constant(X))
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        out = wildboottest(model, B=B, cluster=p["cluster"].to_numpy(), param="d",
                           weights_type="rademacher", impose_null=True, bootstrap_type="11",
                           seed=seed, parallel=False, show=False)
    return float(np.asarray(out["p-value"])[0])


def bench_wild() -> pd.DataFrame:
    rows = []
    cases = [(10, 4, 5, 4, 1025, "all 1,024 sign vectors"),
             (23, 4, 5, 8, 9999, "9,999 draws"),
             (23, 4, 5, 3, 9999, "9,999 draws, 3 treated clusters")]
    for G, per, T, n_treated, B, label in cases:
        p = panel(G, per, T, n_treated=n_treated, start=3, seed=7 * G + n_treated, effect=0.3)
        u, t = p["unit"].to_numpy(), p["time"].to_numpy()

        def ours(p=p, u=u, t=t, B=B):
            Z = demean(p[["y", "d", "x"]].to_numpy(), [u, t])[0]
            return wild_cluster_bootstrap(Z[:, 1:], Z[:, 0], p["cluster"], 0,
                                          weights="rademacher", n_boot=min(B, 9999),
                                          absorb=[u, t], random_state=1)

        r, t_ours = timed(ours)
        peer, t_peer = timed(lambda p=p, B=B: _wbt(p, B, 1), repeat=1)
        mc = np.sqrt(2 * max(r.p_value * (1 - r.p_value), 1e-4) / B)
        rows.append({"panel": f"{G} clusters ({n_treated} treated), {len(p)} rows",
                     "draws": label, "p ours": r.p_value, "p wildboottest": peer,
                     "difference": r.p_value - peer,
                     "MC s.e. of difference": 0.0 if r.enumerated else mc,
                     "s ours": t_ours, "s wildboottest": t_peer})
    return pd.DataFrame(rows)


def staggered(seed=1, n_units=3000, T=6):
    rng = np.random.default_rng(seed)
    first = rng.choice([0, 3, 4, 5], n_units, p=[0.4, 0.2, 0.2, 0.2])
    unit = np.repeat(np.arange(n_units), T)
    period = np.tile(np.arange(1, T + 1), n_units)
    f = np.repeat(first, T)
    treated = (f > 0) & (period >= f)
    y = (rng.normal(size=n_units)[unit] + 0.2 * period
         + np.where(treated, 1.0 + 0.3 * (period - f), 0.0) + rng.normal(size=len(unit)))
    return pd.DataFrame({"unit": unit, "period": period, "first": f, "y": y})


def bench_csdid() -> pd.DataFrame:
    from csdid.att_gt import ATTgt

    rows = []
    for n_units in (300, 3000):
        p = staggered(n_units=n_units)
        ours, t_ours = timed(lambda p=p: event_study(p, "y", "unit", "period", "first",
                                                     n_boot=199))

        def peer(p=p):
            with contextlib.redirect_stdout(io.StringIO()):
                fit = ATTgt(yname="y", tname="period", idname="unit", gname="first", data=p,
                            control_group="notyettreated").fit(est_method="dr",
                                                               base_period="varying",
                                                               bstrap=False)
                fit.aggte(typec="simple", bstrap=False)
            return fit.atte

        agg, t_peer = timed(peer, repeat=1)
        f = np.sqrt((n_units - 1) / n_units)      # ours scale by G/(G-1), csdid does not
        rows.append({"panel": f"{n_units} units x 6 periods, 3 cohorts",
                     "simple ATT ours": ours.estimate, "simple ATT csdid": agg["overall_att"],
                     "SE ours x sqrt((G-1)/G)": ours.se * f,
                     "SE csdid (analytical)": agg["overall_se"],
                     "s ours (incl. pre-trend bootstrap)": t_ours, "s csdid": t_peer})
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    parts = []
    for title, fn in [("CR1 standard errors: did against pyfixest feols", bench_cr1),
                      ("Restricted wild cluster bootstrap p-values with unit and time effects: "
                       "against wildboottest (statsmodels OLS with dummies)", bench_wild),
                      ("Callaway-Sant'Anna simple ATT and analytical SE: against csdid",
                       bench_csdid)]:
        table = fn()
        with pd.option_context("display.width", 200, "display.max_columns", 20,
                               "display.float_format", "{:.6g}".format):
            text = table.to_string(index=False)
        print(f"\n## {title}\n\n{text}")
        parts.append(f"## {title}\n\n```\n{text}\n```\n")
    if args.write:
        out = ROOT / "benchmarks" / "results" / "peers.md"
        out.write_text("# Ours beside peer libraries\n\nCommand: `python benchmarks/"
                       "bench_peers.py --write`\n\n" + "\n".join(parts))
        print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
