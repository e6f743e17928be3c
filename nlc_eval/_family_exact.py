"""Exact family formation by enumeration and set partitioning (HiGHS).

When the number of admissible families is small (the authority's secondaries: 23 schools in
trios and quads, 10,626 subsets before cannot-link), every admissible family is enumerated
and the best partition is found by a set-partitioning integer programme::

    minimise   sum_S cost(S) x_S
    subject to sum_{S contains i} x_S = 1     for every (super-)point i
               sum_S x_S = k
               x_S in {0, 1}

where ``cost(S)`` is the weighted within-family sum of squares of ``S`` (plus the churn
penalty of its members when a previous partition is given). HiGHS solves it to a relative
gap of zero, so the result is a proven global optimum and its dual bound is returned.

With a churn penalty a family also needs a *label* (which previous family it continues), so
each subset appears once as a new family and once for every previous family among its
members, with the constraint that each previous label is used at most once.

Everything works on a :class:`nlc_eval._family_solver.Problem`; the public module decides
when to use it (:func:`n_candidates` below the limit).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import LinearConstraint, milp

from nlc_eval._family_solver import InfeasibleAssignment, Problem

__all__ = ["ExactResult", "n_candidates", "enumerate_families", "family_costs", "solve_exact",
           "solve_master"]

#: Default largest number of admissible families that is enumerated.
EXACT_LIMIT = 250_000


@dataclass
class ExactResult:
    """Outcome of :func:`solve_exact`.

    Attributes
    ----------
    labels : ndarray (m,)
        Family index of each super-point.
    objective : float
        Objective (weighted SS of the super-points plus churn penalty).
    bound : float
        HiGHS's dual bound on the objective (equal to ``objective`` up to rounding when
        optimal).
    n_columns : int
        Admissible families enumerated.
    """

    labels: np.ndarray
    objective: float
    bound: float
    n_columns: int


def n_candidates(w: np.ndarray, size_min: int, size_max: int) -> int:
    """Number of subsets of super-points whose total weight lies in the bounds.

    Cannot-link constraints are ignored, so this is an upper bound on the number of
    admissible families (exact without them).

    >>> n_candidates(np.ones(23, dtype=int), 3, 4)
    10626
    """
    counts = [1] + [0] * size_max
    for wi in (int(v) for v in w):
        for t in range(size_max, wi - 1, -1):
            counts[t] += counts[t - wi]
    return int(sum(counts[size_min:size_max + 1]))


def _group_masks(P: Problem) -> list[int]:
    masks = []
    for row in P.groups:
        mask = 0
        for g in row:
            if g >= 0:
                mask |= 1 << int(g)
        masks.append(mask)
    return masks


def enumerate_families(P: Problem, limit: int = EXACT_LIMIT) -> list[np.ndarray]:
    """Every admissible family: weight within the bounds, no two members sharing a group.

    Returns a list of 2-D integer arrays, one per member count ``r``, each row the sorted
    super-point indices of one family. Raises :class:`OverflowError` past ``limit``.
    """
    L, U = P.size_min, P.size_max
    m = P.m
    unit = bool(np.all(P.w == 1))
    single = P.groups.shape[1] <= 1
    out: list[np.ndarray] = []
    total = 0
    if unit and single:
        g = P.groups[:, 0] if P.groups.shape[1] else np.full(m, -1)
        for r in range(max(L, 1), min(U, m) + 1):
            if math.comb(m, r) > 4 * limit + 1_000_000:
                raise OverflowError
            combos = np.fromiter(itertools.chain.from_iterable(
                itertools.combinations(range(m), r)), dtype=np.int64).reshape(-1, r)
            if np.any(g >= 0) and r > 1:
                gg = np.sort(g[combos], axis=1)
                clash = np.any((gg[:, 1:] == gg[:, :-1]) & (gg[:, 1:] >= 0), axis=1)
                combos = combos[~clash]
            total += len(combos)
            if total > limit:
                raise OverflowError
            if len(combos):
                out.append(combos)
        return out
    w = [int(v) for v in P.w]
    masks = _group_masks(P)
    found: dict[int, list[tuple[int, ...]]] = {}
    stack: list[tuple[int, tuple[int, ...], int, int]] = [(0, (), 0, 0)]
    while stack:
        start, members, weight, mask = stack.pop()
        for i in range(start, m):
            wi = weight + w[i]
            if wi > U or mask & masks[i]:
                continue
            mem = (*members, i)
            if wi >= L:
                found.setdefault(len(mem), []).append(mem)
                total += 1
                if total > limit:
                    raise OverflowError
            if wi < U:
                stack.append((i + 1, mem, wi, mask | masks[i]))
    for r in sorted(found):
        out.append(np.array(sorted(found[r]), dtype=np.int64).reshape(-1, r))
    return out


def family_costs(P: Problem, combos: np.ndarray) -> np.ndarray:
    """Weighted within-family SS of each row of ``combos`` (super-point indices)."""
    X = P.X[combos]  # (C, r, d)
    w = P.w[combos].astype(float)  # (C, r)
    c = np.einsum("cr,crd->cd", w, X) / w.sum(axis=1)[:, None]
    diff = X - c[:, None, :]
    return np.einsum("cr,crd,crd->c", w, diff, diff)


def _columns(P: Problem, fams: list[np.ndarray]):
    """Incidence (rows = super-points), costs, member lists and labels of every column."""
    rows, cols, costs, labels, members = [], [], [], [], []
    start = 0
    has_prev = P.penalty > 0 and bool(np.any(P.prev >= 0))
    for combos in fams:
        ss = family_costs(P, combos)
        C, r = combos.shape
        if not has_prev:
            idx = np.arange(start, start + C)
            rows.append(combos.ravel())
            cols.append(np.repeat(idx, r))
            costs.append(ss)
            labels.append(np.full(C, -1))
            members.extend(combos)
            start += C
            continue
        wv = P.w[combos]
        pv = P.prev[combos]
        with_prev = np.sum(wv * (pv >= 0), axis=1)
        # one "new family" column per subset
        options = [(np.full(C, -1), P.penalty * with_prev)]
        # and one per distinct previous label among its members
        for t in range(r):
            lab = pv[:, t]
            keep = lab >= 0
            for u in range(t):  # skip labels already offered by an earlier member
                keep &= pv[:, u] != lab
            stay = np.sum(wv * (pv == lab[:, None]), axis=1)
            options.append((np.where(keep, lab, -2), P.penalty * (with_prev - stay)))
        for lab, pen in options:
            ok = lab != -2
            n_ok = int(ok.sum())
            idx = np.arange(start, start + n_ok)
            rows.append(combos[ok].ravel())
            cols.append(np.repeat(idx, r))
            costs.append(ss[ok] + pen[ok])
            labels.append(lab[ok])
            members.extend(combos[ok])
            start += n_ok
    return (np.concatenate(rows), np.concatenate(cols), np.concatenate(costs),
            np.concatenate(labels), members)


def solve_master(P: Problem, rows: np.ndarray, cols: np.ndarray, costs: np.ndarray,
                 labels: np.ndarray, time_limit: float | None = None,
                 node_limit: int | None = None):
    """Solve the set-partitioning programme over the given columns.

    Returns ``(chosen column indices, objective, dual bound, optimal?)``; raises
    :class:`InfeasibleAssignment` when no partition of the columns exists.
    """
    n_col = costs.size
    A = sparse.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(P.m, n_col))
    cons = [LinearConstraint(A, 1, 1),
            LinearConstraint(sparse.csr_matrix(np.ones((1, n_col))), P.k, P.k)]
    used = labels >= 0
    if np.any(used):
        nl = int(labels.max()) + 1
        B = sparse.csr_matrix((np.ones(int(used.sum())), (labels[used], np.flatnonzero(used))),
                              shape=(nl, n_col))
        cons.append(LinearConstraint(B, 0, 1))
    options = {"presolve": True, "mip_rel_gap": 0.0}
    if time_limit is not None:
        options["time_limit"] = float(time_limit)
    if node_limit is not None:
        options["node_limit"] = int(node_limit)
    res = milp(costs, integrality=np.ones(n_col), bounds=(0, 1), constraints=cons,
               options=options)
    if res.x is None:
        if res.status == 2:
            raise InfeasibleAssignment
        raise InfeasibleAssignment  # time limit without a feasible point
    chosen = np.flatnonzero(res.x > 0.5)
    bound = getattr(res, "mip_dual_bound", None)
    bound = float(res.fun) if bound is None or not np.isfinite(bound) else float(bound)
    return chosen, float(res.fun), min(bound, float(res.fun)), res.status == 0


def labels_from_columns(P: Problem, chosen: np.ndarray, members: list, col_labels: np.ndarray
                        ) -> np.ndarray:
    """Turn chosen columns into labels 0..k-1: continued previous families keep their label,
    new families take the labels left over, in order of their smallest member."""
    labels = np.full(P.m, -1, dtype=np.int64)
    taken = {int(col_labels[c]) for c in chosen if col_labels[c] >= 0}
    free = iter(j for j in range(P.k) if j not in taken)
    for c in sorted(chosen, key=lambda c: (col_labels[c] < 0, int(np.min(members[c])))):
        lab = int(col_labels[c]) if col_labels[c] >= 0 else next(free)
        labels[members[c]] = lab
    return labels


def lp_reduced_costs(P: Problem, rows: np.ndarray, cols: np.ndarray, costs: np.ndarray,
                     labels: np.ndarray) -> tuple[float, np.ndarray]:
    """LP relaxation of the set-partitioning programme: its value and the reduced cost of
    every column (non-negative at the LP optimum)."""
    from scipy.optimize import linprog

    n_col = costs.size
    A = sparse.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(P.m, n_col))
    A_eq = sparse.vstack([A, sparse.csr_matrix(np.ones((1, n_col)))], format="csr")
    b_eq = np.r_[np.ones(P.m), float(P.k)]
    used = labels >= 0
    kw = {}
    B = None
    if np.any(used):
        nl = int(labels.max()) + 1
        B = sparse.csr_matrix((np.ones(int(used.sum())), (labels[used], np.flatnonzero(used))),
                              shape=(nl, n_col))
        kw = {"A_ub": B, "b_ub": np.ones(nl)}
    res = linprog(costs, A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method="highs", **kw)
    if res.status != 0:
        raise InfeasibleAssignment
    y = res.eqlin.marginals
    rc = costs - A_eq.T @ y
    value = float(b_eq @ y)
    if B is not None:
        z = res.ineqlin.marginals
        rc = rc - B.T @ z
        value += float(np.sum(z))
    return value, rc


def solve_exact(P: Problem, limit: int = EXACT_LIMIT, incumbent: np.ndarray | None = None
                ) -> ExactResult:
    """Proven optimal partition of ``P`` by enumeration and set partitioning.

    The LP relaxation is solved first; a column whose LP value plus reduced cost exceeds
    the objective of ``incumbent`` (any feasible labelling; the heuristic's when omitted)
    cannot belong to a better partition and is dropped before the integer programme
    (reduced-cost fixing), so the optimum over the remaining columns is the optimum over
    all of them.

    Raises :class:`OverflowError` when more than ``limit`` admissible families exist and
    :class:`~nlc_eval._family_solver.InfeasibleAssignment` when no partition exists.
    """
    from nlc_eval import _family_solver as engine

    fams = enumerate_families(P, limit)
    if not fams:
        raise InfeasibleAssignment
    rows, cols, costs, labels, members = _columns(P, fams)
    n_all = costs.size
    if incumbent is None:
        incumbent, _ = engine.solve(P, 2, 0)
    upper = engine.objective(P, incumbent)
    lp, rc = lp_reduced_costs(P, rows, cols, costs, labels)
    keep = lp + rc <= upper + 1e-9 * max(1.0, abs(upper))
    idx = np.flatnonzero(keep)
    remap = np.full(n_all, -1)
    remap[idx] = np.arange(idx.size)
    on = keep[cols]
    chosen, obj, bound, optimal = solve_master(P, rows[on], remap[cols[on]], costs[idx],
                                               labels[idx])
    if not optimal:  # pragma: no cover - no time limit is set here
        raise InfeasibleAssignment
    lab = labels_from_columns(P, idx[chosen], members, labels)
    return ExactResult(labels=lab, objective=obj, bound=min(bound, obj),
                       n_columns=int(sum(len(f) for f in fams)))
