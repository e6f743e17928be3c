"""A certified lower bound on the within-family sum of squares (column generation).

The families problem is a set-partitioning programme over every admissible family ``S``
(size within the bounds, at most one school of a cannot-link group) with cost ``SS(S)``.
For *any* prices ``pi`` on the schools, every partition into ``k`` families satisfies::

    sum_S SS(S)  =  sum_S [pi(S) + (SS(S) - pi(S))]  >=  sum_i pi_i + k * m(pi),
    m(pi) = min over admissible S of  SS(S) - pi(S),

the Lagrangian bound of the linear relaxation. Column generation improves ``pi``: the
restricted master LP over the families found so far gives prices, pricing finds families of
negative reduced cost, and the bound is kept at its best over the iterations. At the end
the bound equals the LP relaxation's value (the best such bound).

Pricing is solved *exactly* by branch and bound over the family centre ``c``: since
``SS(S) = min_c sum_{i in S} |x_i - c|^2``,

    m(pi) = min_s min_c  (sum of the s smallest admissible values of |x_i - c|^2 - pi_i),

and for a box of centres the same expression with each ``|x_i - c|^2`` replaced by the
squared distance from ``x_i`` to the box is a lower bound (the sum of the ``s`` smallest
admissible values is monotone in every value; with one cannot-link group per school the
admissible choice is a partition matroid, so the greedy choice is exact). Boxes are split
until the lower bound of every box is within a tolerance of the best family found; the
minimum of the box bounds is a valid lower bound on ``m(pi)`` whenever the search stops.
Must-link (weighted) points use an exact-weight knapsack over the box bounds; constraints
the bound cannot express (a school in several groups) are relaxed, which keeps it valid.

The families generated along the way also feed a restricted set-partitioning integer
programme (price and branch), whose solution replaces the heuristic's when it is better;
further rounds add the families one school away from the incumbent's and from the
generated families of least reduced cost, keeping only those that the bound's prices do
not rule out (reduced-cost fixing, :func:`_price_and_branch`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from nlc_eval import _family_solver as engine
from nlc_eval._family_exact import family_costs, solve_master

_TRACE = False
_ALPHA = 0.5
_CENTRAL = True

__all__ = ["Certificate", "certify", "pricing_bound"]


@dataclass
class Certificate:
    """Outcome of :func:`certify`.

    Attributes
    ----------
    bound : float
        Lower bound on the SS (without churn penalty) of every admissible partition of the
        super-points; the churn penalty is non-negative, so it also bounds the objective.
    labels : ndarray
        The better of the given labels and the restricted integer programme's solution.
    objective : float
        Objective of ``labels``.
    n_columns : int
        Families generated.
    iterations : int
        Column-generation iterations.
    converged : bool
        True when pricing proved that no family has a negative reduced cost (the bound is
        the LP relaxation's value).
    clock_stopped : bool
        True when the time limit (rather than a count) stopped a step, so that the result
        may differ on a faster or slower machine.
    prices, price_min : ndarray or None, float
        The prices ``pi`` of the best bound and a lower bound ``m(pi)`` on every admissible
        family's ``SS(S) - pi(S)``, so that ``bound = sum(pi) + k m(pi)`` (None and -inf
        when no exact pricing ran).
    """

    bound: float
    labels: np.ndarray
    objective: float
    n_columns: int
    iterations: int
    converged: bool
    clock_stopped: bool = False
    prices: np.ndarray | None = None
    price_min: float = -np.inf


# ---------------------------------------------------------------------------
# pricing: branch and bound over the family centre
# ---------------------------------------------------------------------------


def _box_dist2(X: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Squared distance of every point to every box: (boxes, points)."""
    gap = np.maximum(lo[:, None, :] - X[None, :, :], 0) + np.maximum(
        X[None, :, :] - hi[:, None, :], 0)
    return np.einsum("bnd,bnd->bn", gap, gap)


class _Pricer:
    """Exact pricing for one problem (the prices change between calls)."""

    def __init__(self, P: engine.Problem) -> None:
        self.P = P
        self.unit = bool(np.all(P.w == 1))
        g = P.groups[:, 0] if P.groups.shape[1] else np.full(P.m, -1)
        self.g = g
        grouped = g >= 0
        # column order: grouped points sorted by group, then ungrouped points
        self.order = np.r_[np.flatnonzero(grouped)[np.argsort(g[grouped], kind="stable")],
                           np.flatnonzero(~grouped)]
        gs = g[self.order]
        n_grouped = int(grouped.sum())
        starts = np.flatnonzero(np.r_[True, gs[1:n_grouped] != gs[: n_grouped - 1]]) \
            if n_grouped else np.zeros(0, dtype=np.int64)
        self.starts = starts
        self.n_grouped = n_grouped
        blocks: dict = {}
        for i in range(P.m):
            blocks.setdefault(int(g[i]) if g[i] >= 0 else -1 - i, []).append(i)
        self.blocks = list(blocks.values())
        self.lo0 = P.X.min(axis=0)
        self.hi0 = P.X.max(axis=0)

    def _values(self, V: np.ndarray) -> np.ndarray:
        """Best admissible value per group (one per cannot-link group), sorted ascending:
        (boxes, slots)."""
        V = V[:, self.order]
        parts = []
        if self.n_grouped:
            parts.append(np.minimum.reduceat(V[:, : self.n_grouped], self.starts, axis=1))
        parts.append(V[:, self.n_grouped:])
        return np.sort(np.concatenate(parts, axis=1), axis=1)

    def _size_mins(self, V: np.ndarray) -> np.ndarray:
        """Lower bound (exact for unit weights with one group each) of the smallest total
        of an admissible selection of total weight s, for every s in the bounds and every
        row of V (boxes, points): (boxes, sizes)."""
        P = self.P
        L, U = P.size_min, P.size_max
        if self.unit:
            srt = self._values(V)
            cs = np.cumsum(srt[:, :U], axis=1)
            out = np.full((V.shape[0], U - L + 1), np.inf)
            avail = min(U, cs.shape[1])
            if avail >= L:
                out[:, : avail - L + 1] = cs[:, L - 1: avail]
            return out
        # exact-weight knapsack over the values, at most one item per (first) cannot-link
        # group; further groups of an item are relaxed
        best = np.full((V.shape[0], U + 1), np.inf)
        best[:, 0] = 0.0
        for members in self.blocks:
            nxt = best.copy()
            for i in members:
                wi = int(P.w[i])
                if wi > U:
                    continue
                cand = best[:, : U + 1 - wi] + V[:, i: i + 1]
                nxt[:, wi:] = np.minimum(nxt[:, wi:], cand)
            best = nxt
        return best[:, L:]

    def _set_at(self, c: np.ndarray, pi: np.ndarray) -> list[np.ndarray]:
        """Admissible families that are best for centre ``c`` (one per feasible size)."""
        P = self.P
        d = P.X - c
        val = P.w * np.einsum("ij,ij->i", d, d) - pi
        order = np.argsort(val, kind="stable")
        L, U = P.size_min, P.size_max
        used: set[int] = set()
        chosen: list[int] = []
        weight = 0
        out = []
        for i in order:
            wi = int(P.w[i])
            if weight + wi > U:
                continue
            gi = {int(v) for v in P.groups[i] if v >= 0}
            if gi & used:
                continue
            chosen.append(int(i))
            used |= gi
            weight += wi
            if weight >= L:
                out.append(np.array(sorted(chosen)))
            if weight == U:
                break
        return out

    def quick(self, pi: np.ndarray, centres: np.ndarray, rounds: int = 4
              ) -> list[tuple[float, np.ndarray]]:
        """Heuristic pricing: from each centre, the best admissible family of every size,
        then alternate "centre = mean of the family" and "family = best for the centre" a
        few times (unit weights with at most one group per point; otherwise the greedy
        choice of :meth:`_set_at`)."""
        P = self.P
        L, U = P.size_min, P.size_max
        out: dict[tuple, float] = {}
        if not self.unit or P.groups.shape[1] > 1:
            for c in centres:
                for mem in self._set_at(c, pi):
                    key = tuple(mem.tolist())
                    if key not in out:
                        out[key] = float(family_costs(P, mem[None, :])[0] - pi[mem].sum())
            return [(v, np.array(k)) for k, v in out.items()]
        g = self.g
        grouped = g >= 0
        for s in range(L, U + 1):
            C = centres
            for _ in range(rounds):
                diff = P.X[None, :, :] - C[:, None, :]
                V = np.einsum("bnd,bnd->bn", diff, diff) - pi
                if np.any(grouped):
                    Vo = V[:, self.order[: self.n_grouped]]
                    gmin = np.minimum.reduceat(Vo, self.starts, axis=1)
                    gid = np.repeat(np.arange(self.starts.size),
                                    np.diff(np.r_[self.starts, self.n_grouped]))
                    loser = Vo > gmin[:, gid]
                    V[:, self.order[: self.n_grouped]] = np.where(loser, np.inf, Vo)
                if np.sum(np.isfinite(V[0])) < s:
                    break
                mem = np.sort(np.argpartition(V, s - 1, axis=1)[:, :s], axis=1)
                C = P.X[mem].mean(axis=1)
            else:
                mem = np.unique(mem, axis=0)
                vals = family_costs(P, mem) - pi[mem].sum(axis=1)
                for v, row in zip(vals, mem, strict=True):
                    out.setdefault(tuple(row.tolist()), float(v))
        return [(v, np.array(k)) for k, v in out.items()]

    def price(self, pi: np.ndarray, tol: float, max_boxes: int = 400_000,
              time_limit: float = 5.0, n_cols: int = 60):
        """Lower bound on ``min_S SS(S) - pi(S)`` and families with small values.

        Returns ``(lower bound, best value found, list of (value, members))``.
        """
        P = self.P
        d = P.X.shape[1]
        t0 = time.perf_counter()
        split = max(1, int(round(4096 ** (1 / d))))
        grid = [np.linspace(self.lo0[j], self.hi0[j], split + 1) for j in range(d)]
        mesh = np.meshgrid(*[np.arange(split)] * d, indexing="ij")
        idx = np.stack([m.ravel() for m in mesh], axis=1)
        lo = np.stack([grid[j][idx[:, j]] for j in range(d)], axis=1)
        hi = np.stack([grid[j][idx[:, j] + 1] for j in range(d)], axis=1)
        best_val = np.inf
        found: dict[tuple, float] = {}
        lower = -np.inf
        n_seen = 0
        w = P.w.astype(float)
        sizes = np.arange(P.size_min, P.size_max + 1, dtype=float)[None, :]
        while lo.shape[0]:
            n_seen += lo.shape[0]
            lbs = []
            ubs = []
            for a in range(0, lo.shape[0], 4096):
                sl = slice(a, a + 4096)
                V = w * _box_dist2(P.X, lo[sl], hi[sl]) - pi
                c = (lo[sl] + hi[sl]) / 2
                diff = P.X[None, :, :] - c[:, None, :]
                Vc = w * np.einsum("bnd,bnd->bn", diff, diff) - pi
                at_c = self._size_mins(Vc)
                # a family whose centre m lies in the box: sum w|x - b|^2 = SS + W|m - b|^2,
                # so SS - pi >= (its value at the box centre b) - W r^2 (r: half-diagonal)
                r2 = np.sum((hi[sl] - lo[sl]) ** 2, axis=1)[:, None] / 4
                lbs.append(np.maximum(self._size_mins(V), at_c - sizes * r2).min(axis=1))
                ubs.append(at_c.min(axis=1))
            lb = np.concatenate(lbs)
            ub = np.concatenate(ubs)
            # actual families at the most promising centres
            cand = np.argsort(ub)[: max(4, n_cols // 4)]
            for b in cand:
                if not np.isfinite(ub[b]) or ub[b] > best_val + abs(best_val) + 1.0:
                    continue
                for mem in self._set_at((lo[b] + hi[b]) / 2, pi):
                    key = tuple(mem.tolist())
                    if key not in found:
                        v = float(family_costs(P, mem[None, :])[0] - pi[mem].sum())
                        found[key] = v
                        best_val = min(best_val, v)
            best_val = min(best_val, float(ub.min()) if ub.size else np.inf)
            keep = lb < best_val - tol
            lo, hi, lb = lo[keep], hi[keep], lb[keep]
            if not lo.shape[0]:
                lower = best_val - tol
                break
            lower = min(float(lb.min()), best_val)
            if n_seen > max_boxes or time.perf_counter() - t0 > time_limit:
                break
            # split every open box along its longest side
            span = hi - lo
            j = np.argmax(span, axis=1)
            mid = (lo[np.arange(lo.shape[0]), j] + hi[np.arange(lo.shape[0]), j]) / 2
            lo2, hi2 = lo.copy(), hi.copy()
            hi[np.arange(lo.shape[0]), j] = mid
            lo2[np.arange(lo.shape[0]), j] = mid
            lo = np.vstack([lo, lo2])
            hi = np.vstack([hi, hi2])
        cols = sorted(((v, np.array(k)) for k, v in found.items()), key=lambda t: t[0])
        self.clock_stopped = bool(lo.shape[0]) and n_seen <= max_boxes
        return lower, best_val, cols[:n_cols]


def pricing_bound(P: engine.Problem, pi: np.ndarray, tol: float = 1e-7,
                  time_limit: float = 10.0) -> float:
    """Lower bound on ``min over admissible S of SS(S) - pi(S)`` (exposed for tests)."""
    lower, _, _ = _Pricer(P).price(np.asarray(pi, dtype=float), tol, time_limit=time_limit,
                                   max_boxes=5_000_000)
    return lower


# ---------------------------------------------------------------------------
# column generation
# ---------------------------------------------------------------------------


def _admissible(P: engine.Problem, mem: np.ndarray) -> bool:
    wsum = int(P.w[mem].sum())
    if wsum < P.size_min or wsum > P.size_max:
        return False
    g = P.groups[mem].ravel()
    g = g[g >= 0]
    return g.size == np.unique(g).size


def _rmp(P: engine.Problem, cols: list[np.ndarray], costs: np.ndarray):
    rows = np.concatenate(cols)
    cidx = np.repeat(np.arange(len(cols)), [len(c) for c in cols])
    A = sparse.csr_matrix((np.ones(rows.size), (rows, cidx)), shape=(P.m, len(cols)))
    A_eq = sparse.vstack([A, sparse.csr_matrix(np.ones((1, len(cols))))], format="csr")
    b_eq = np.r_[np.ones(P.m), float(P.k)]
    res = linprog(costs, A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    if res.status != 0:  # pragma: no cover - the heuristic's families are always feasible
        raise engine.InfeasibleAssignment
    y = res.eqlin.marginals
    return float(res.fun), y[: P.m], float(y[P.m])


def _central_prices(P: engine.Problem, cols: list[np.ndarray], costs: np.ndarray, z: float,
                    n_dirs: int = 8) -> np.ndarray:
    """Prices from the middle of the optimal face of the master's dual.

    The master LP is highly degenerate: many prices are optimal for it, and an extreme one
    (what the simplex returns) can give a poor Lagrangian bound. This averages the extreme
    optimal prices reached in ``n_dirs`` fixed pseudo-random directions (deterministic).
    """
    m = P.m
    rows = np.concatenate(cols)
    cidx = np.repeat(np.arange(len(cols)), [len(c) for c in cols])
    # dual: max sum(pi) + k mu  s.t.  pi(S) + mu <= c_S ; sum(pi) + k mu >= z - eps
    A = sparse.csr_matrix((np.ones(rows.size), (cidx, rows)), shape=(len(cols), m))
    A = sparse.hstack([A, sparse.csr_matrix(np.ones((len(cols), 1)))], format="csr")
    opt = sparse.csr_matrix(np.r_[-np.ones(m), -float(P.k)][None, :])
    A_ub = sparse.vstack([A, opt], format="csr")
    b_ub = np.r_[costs, -(z - 1e-9 * max(1.0, abs(z)))]
    rng = np.random.default_rng(12345)
    acc = np.zeros(m + 1)
    n_ok = 0
    for _ in range(n_dirs):
        r = rng.normal(size=m + 1)
        res = linprog(r, A_ub=A_ub, b_ub=b_ub, bounds=(None, None), method="highs")
        if res.status == 0:
            acc += res.x
            n_ok += 1
    return acc[:m] / n_ok if n_ok else None


def certify(P: engine.Problem, labels: np.ndarray, seed: int | None = None,
            time_limit: float = 30.0, max_iter: int = 400, tol: float = 1e-6,
            integer: bool = True, gap_tol: float = 1e-3, node_limit: int = 2000,
            extra: list | None = None, rounds: int = 6) -> Certificate:
    """Lower bound on the SS of every admissible partition, by column generation.

    Parameters
    ----------
    P : Problem
    labels : ndarray
        A feasible partition (the heuristic's); its families start the master programme.
    seed : int, optional
        Unused by the algorithm (which is deterministic); kept for a uniform signature.
    time_limit : float
        Seconds after which column generation stops; the bound is valid at any point.
        Everything else is limited by counts (iterations, boxes, branch-and-bound nodes),
        so a run the clock did not stop gives the same result on every machine
        (``Certificate.clock_stopped`` is False).
    max_iter : int
        Largest number of column-generation iterations.
    tol : float
        Relative tolerance of convergence.
    gap_tol : float
        The exact pricing may stop once it is within ``gap_tol * LP value / k`` of the
        best family, which costs the bound at most a fraction ``gap_tol`` of itself.
    integer : bool
        Solve the restricted integer programme over the generated families (price and
        branch, at most ``node_limit`` nodes) and return its partition when it beats
        ``labels``.
    node_limit : int
        Branch-and-bound nodes of each restricted integer programme.
    rounds : int
        Largest number of neighbourhood rounds of the price-and-branch stage (see
        :func:`_price_and_branch`).
    extra : list of ndarray, optional
        Further feasible partitions (e.g. every start of the heuristic); their families
        join the master programme from the start, which gives the restricted integer
        programme good families that column generation alone need not produce.

    Notes
    -----
    Pricing alternates a fast heuristic (best families around every school and family
    centre for the simplex prices) with the exact branch and bound over the family centre
    at prices from the middle of the master's optimal dual face. The exact pricing runs
    whenever the heuristic finds no improving family or the master's value has stalled
    for three iterations; each exact pricing gives a valid Lagrangian bound, and the run
    stops when that bound meets the master's value (the LP relaxation is then solved).
    """
    t0 = time.perf_counter()
    labels = np.asarray(labels)
    obj0 = engine.objective(P, labels)
    ss0 = engine.within_ss(P, labels)
    cols: list[np.ndarray] = [np.flatnonzero(labels == j) for j in range(P.k)]
    seen = {tuple(c.tolist()) for c in cols}
    for other in extra or ():
        for j in range(P.k):
            mem = np.flatnonzero(np.asarray(other) == j)
            key = tuple(mem.tolist())
            if mem.size and key not in seen and _admissible(P, mem):
                seen.add(key)
                cols.append(mem)
    costs = list(family_costs_list(P, cols))
    pricer = _Pricer(P)
    for v, mem in pricer.quick(np.zeros(P.m), P.X, rounds=1):
        key = tuple(mem.tolist())
        if key not in seen and _admissible(P, mem):
            seen.add(key)
            cols.append(mem)
            costs.append(v)
    scale = max(ss0 / P.k, 1e-12)
    best = -np.inf
    converged = False
    clock = False
    it = 0
    exact_next = False
    exact_phase = False
    pi_in = None
    best_pi, best_min = None, -np.inf
    history: list[float] = []
    for it in range(1, max_iter + 1):
        z, pi, mu = _rmp(P, cols, np.asarray(costs))
        history.append(z)
        left = time_limit - (time.perf_counter() - t0)
        if left <= 0:
            clock = True
            break
        stalled = len(history) > 3 and history[-4] - z <= 1e-5 * max(abs(z), 1e-12)
        if not exact_phase and (exact_next or stalled):
            exact_phase = True
            if _CENTRAL:
                pi_in = _central_prices(P, cols, np.asarray(costs), z)
        C = np.vstack([P.X, np.vstack([P.X[c].mean(axis=0) for c in cols[-200:]])])
        if exact_phase:
            # in-out stabilisation: price at a point between the best prices so far and
            # the master's prices; the Lagrangian bound holds at any prices
            sep = pi if pi_in is None else _ALPHA * pi_in + (1 - _ALPHA) * pi
            lower, _, new = pricer.price(sep, gap_tol * z / P.k, time_limit=left,
                                         max_boxes=2_000_000)
            clock = clock or pricer.clock_stopped
            value = min(float(np.sum(sep) + P.k * lower), z)
            if value > best:
                best, pi_in = value, sep
                best_pi, best_min = sep, lower
            if _TRACE:
                print("exact", it, z, lower, best, len(new), time.perf_counter() - t0)
            if z - best <= (gap_tol + tol) * max(abs(z), 1e-12):
                converged = True
                break
            new = new + pricer.quick(sep, C, rounds=2)
        else:
            sep = pi
            new = pricer.quick(pi, C)
            if _TRACE:
                print("quick", it, z, len(new), min((v for v, _ in new), default=0) - mu,
                      len(cols), time.perf_counter() - t0)
        added = 0
        scored = []
        for v, mem in new:
            rc = v + float(sep[mem].sum() - pi[mem].sum()) - mu
            scored.append((rc, mem))
        for rc, mem in sorted(scored, key=lambda t: t[0]):
            key = tuple(mem.tolist())
            if rc < -tol * scale and key not in seen and _admissible(P, mem):
                seen.add(key)
                cols.append(mem)
                costs.append(float(family_costs(P, mem[None, :])[0]))
                added += 1
                if added >= 300:
                    break
        if added == 0 and exact_phase and sep is pi:
            break  # nothing improving even for the exact pricing: the bound is final
        exact_next = added == 0
    out_labels, out_obj = labels, obj0
    if integer and P.penalty == 0 and len(cols) > P.k:
        left = time_limit - (time.perf_counter() - t0)
        out_labels, out_obj, n_extra, ip_clock = _price_and_branch(
            P, cols, costs, seen, labels, best_pi, best_min, node_limit=node_limit,
            rounds=rounds, time_limit=max(5.0, left))
        clock = clock or ip_clock
        n_total = len(cols) + n_extra
    else:
        n_total = len(cols)
    return Certificate(bound=max(min(best, out_obj), 0.0), labels=out_labels, objective=out_obj,
                       n_columns=n_total, iterations=it, converged=converged,
                       clock_stopped=clock, prices=best_pi, price_min=best_min)


def family_costs_list(P: engine.Problem, cols: list[np.ndarray]) -> list[float]:
    """Weighted SS of each family in ``cols``."""
    return [float(family_costs(P, c[None, :])[0]) for c in cols]


# ---------------------------------------------------------------------------
# price and branch: restricted integer programmes over generated and nearby families
# ---------------------------------------------------------------------------


def _reduced(P: engine.Problem, cols: list[np.ndarray], costs: np.ndarray, pi: np.ndarray,
             m_pi: float) -> np.ndarray:
    """``cost(S) - pi(S) - m(pi)`` of each family (non-negative for every admissible one)."""
    rows = np.concatenate(cols)
    cidx = np.repeat(np.arange(len(cols)), [len(c) for c in cols])
    return costs - np.bincount(cidx, weights=pi[rows], minlength=len(cols)) - m_pi


def neighbour_families(P: engine.Problem, base: np.ndarray, pi: np.ndarray, m_pi: float,
                       limit: float, n_near: int = 16, depth: int = 1) -> list[np.ndarray]:
    """Admissible families within ``depth`` removals and ``depth`` additions of ``base``
    whose reduced cost ``cost(S) - pi(S) - m(pi)`` is below ``limit``.

    Additions are drawn from the ``n_near`` super-points nearest the base's centre.
    With ``limit = UB - L(pi)`` (``UB`` an objective reached, ``L(pi) = sum(pi) + k m(pi)``
    the Lagrangian bound) the families left out cannot belong to any better partition.
    """
    X, w = P.X, P.w.astype(float)
    S = np.asarray(base)
    s = S.size
    out_mask = np.ones(P.m, dtype=bool)
    out_mask[S] = False
    others = np.flatnonzero(out_mask)
    if others.size == 0:
        return []
    cen = (w[S] @ X[S]) / w[S].sum()
    d = np.einsum("ij,ij->i", X[others] - cen, X[others] - cen)
    near_pts = others[np.argsort(d, kind="stable")[:n_near]]
    # removal sets (positions in S) and addition sets (indices into near_pts), -1 = nobody
    rem = [(-1, -1)] + [(i, -1) for i in range(s)]
    add = [(-1, -1)] + [(j, -1) for j in range(near_pts.size)]
    if depth >= 2:
        rem += [(i, j) for i in range(s) for j in range(i + 1, s)]
        add += [(i, j) for i in range(near_pts.size) for j in range(i + 1, near_pts.size)]
    R = np.array(rem, dtype=np.int64)
    A = np.array(add, dtype=np.int64)
    sq = np.einsum("ij,ij->i", X, X)

    def parts(idx, pad):
        ok = idx >= 0
        ii = np.where(ok, idx, 0)
        pts = pad[ii]
        ww = w[pts] * ok
        return (pts, ok, ww.sum(axis=1), np.einsum("ab,abd->ad", ww, X[pts]),
                (ww * sq[pts]).sum(axis=1), (ok * pi[pts]).sum(axis=1))

    r_pts, r_ok, r_w, r_x, r_q, r_p = parts(R, S)
    a_pts, a_ok, a_w, a_x, a_q, a_p = parts(A, near_pts)
    W0, x0, q0, p0 = w[S].sum(), w[S] @ X[S], float(w[S] @ sq[S]), float(pi[S].sum())
    Wn = W0 - r_w[:, None] + a_w[None, :]
    ok = (Wn >= P.size_min - 1e-9) & (Wn <= P.size_max + 1e-9)
    ok[0, 0] = False  # the base itself is already known
    # cannot-link: an added point may not share a group with a kept member or the other
    # added point (bit masks over the base's positions)
    if P.n_groups and P.groups.shape[1]:
        G = P.groups
        def clash(a, b):
            return np.any((G[a][..., :, None] == G[b][..., None, :])
                          & (G[a][..., :, None] >= 0), axis=(-1, -2))
        conf = clash(near_pts[:, None], S[None, :])  # (n_near, s)
        bits = (conf * (1 << np.arange(s))[None, :]).sum(axis=1)
        rbits = np.zeros(len(R), dtype=np.int64)
        for t in range(2):
            rbits |= np.where(R[:, t] >= 0, 1 << np.maximum(R[:, t], 0), 0)
        abits = np.zeros(len(A), dtype=np.int64)
        for t in range(2):
            abits |= np.where(A[:, t] >= 0, bits[np.maximum(A[:, t], 0)], 0)
        ok &= (abits[None, :] & ~rbits[:, None]) == 0
        pair = np.zeros(len(A), dtype=bool)
        two = A[:, 1] >= 0
        if np.any(two):
            pair[two] = clash(near_pts[A[two, 0]], near_pts[A[two, 1]])
        ok &= ~pair[None, :]
    ri, ai = np.nonzero(ok)
    if ri.size == 0:
        return []
    Wv = Wn[ri, ai]
    xv = x0 - r_x[ri] + a_x[ai]
    cost = q0 - r_q[ri] + a_q[ai] - np.einsum("ij,ij->i", xv, xv) / Wv
    red = cost - (p0 - r_p[ri] + a_p[ai]) - m_pi
    good = np.flatnonzero(red < limit)
    fams = []
    for t in good:
        keep = np.ones(s, dtype=bool)
        keep[R[ri[t]][R[ri[t]] >= 0]] = False
        extra = near_pts[A[ai[t]][A[ai[t]] >= 0]]
        fams.append(np.sort(np.r_[S[keep], extra]))
    return fams


def _price_and_branch(P: engine.Problem, cols: list[np.ndarray], costs: list[float],
                      seen: set, labels: np.ndarray, pi: np.ndarray | None, m_pi: float,
                      node_limit: int, rounds: int, time_limit: float):
    """Better partitions from the generated families and their neighbours.

    Round 0 solves the set-partitioning integer programme over the generated families
    (HiGHS, at most ``node_limit`` nodes) and polishes its partition by the local search;
    each further round first adds to the pool the families one removal and/or one
    addition away from the incumbent's families and from the ``4 k`` families of least
    reduced cost, then solves the programme again. With the
    bound's prices ``pi`` (Lagrangian bound ``L = sum(pi) + k m(pi)``) only families of
    reduced cost below ``UB - L`` can belong to a partition better than the incumbent
    ``UB``, so the others are left out of the pool and of the programme (reduced-cost
    fixing: the programme's optimum over the pool is unchanged). Rounds stop when one
    with neighbours does not improve the incumbent, after ``rounds`` such rounds, or, as a safety limit only,
    at ``time_limit`` seconds (then ``clock`` is True).

    Returns ``(labels, objective, families added, clock)``.
    """
    t0 = time.perf_counter()
    ls_near = P.k if P.k <= 60 else 8
    cols = list(cols)
    costs = list(costs)
    best_lab = np.asarray(labels)
    best_obj = engine.objective(P, best_lab)
    n_start = len(cols)
    L = -np.inf if pi is None else float(np.sum(pi) + P.k * m_pi)
    clock = False

    def add(mem: np.ndarray) -> None:
        # a family enters the pool once, with its cost
        key = tuple(mem.tolist())
        if key not in seen:
            seen.add(key)
            cols.append(mem)
            costs.append(float(family_costs(P, mem[None, :])[0]))

    for r in range(rounds + 1):
        limit = best_obj - L + 1e-9 * max(1.0, abs(best_obj))
        if pi is not None:
            bases = [np.flatnonzero(best_lab == j) for j in range(P.k)]
            for mem in bases:
                add(mem)
            red = _reduced(P, cols, np.asarray(costs), pi, m_pi)
            # round 0: the generated families alone; then also the neighbours of the
            # incumbent's families and of the families of least reduced cost
            order = np.argsort(red, kind="stable")
            bases += [cols[i] for i in order[: 4 * P.k] if red[i] < limit]
            for base in bases if r else ():
                for mem in neighbour_families(P, base, pi, m_pi, limit):
                    add(mem)
            red = _reduced(P, cols, np.asarray(costs), pi, m_pi)
            use = np.flatnonzero(red < limit)
            if _TRACE:
                print("p&b round", len(cols), use.size, limit, time.perf_counter() - t0)
        else:
            use = np.arange(len(cols))
        # the incumbent's own families are always there (reduced cost below the limit)
        sub = [cols[i] for i in use]
        rows = np.concatenate(sub)
        cidx = np.repeat(np.arange(len(sub)), [len(c) for c in sub])
        left = time_limit - (time.perf_counter() - t0)
        if left <= 0:
            clock = True
            break
        t1 = time.perf_counter()
        try:
            chosen, obj, _, _ = solve_master(P, rows, cidx, np.asarray(costs)[use],
                                             np.full(len(sub), -1), time_limit=left,
                                             node_limit=node_limit)
        except engine.InfeasibleAssignment:  # pragma: no cover - incumbent's families
            break
        if time.perf_counter() - t1 >= 0.95 * left:
            clock = True
        lab = np.full(P.m, -1, dtype=np.int64)
        for j, c in enumerate(sorted(chosen, key=lambda c: int(sub[c].min()))):
            lab[sub[c]] = j
        if not np.all(lab >= 0) or any(engine.violations(P, lab).values()):
            break  # pragma: no cover - the programme's partitions are admissible
        if _TRACE:
            print("p&b ip", obj, time.perf_counter() - t1)
        lab = engine.local_search(P, lab, ls_near)
        obj = engine.objective(P, lab)
        if obj >= best_obj - 1e-12 * max(1.0, abs(best_obj)):
            if r or pi is None:
                break
            continue
        best_lab, best_obj = lab, obj
        if clock:
            break
    return best_lab, best_obj, len(cols) - n_start, clock
