"""Size-bounded partitioning engine behind :class:`nlc_eval.families.FamilyFormer`.

The objective is the within-family sum of squares (SS) of a standardised feature matrix,
plus an optional churn penalty for leaving a previous family, subject to hard bounds on
family sizes, optional cannot-link groups (at most one member of a group per family) and
must-link pairs (contracted beforehand into weighted super-points).

One run:

1. initial centres by weighted k-means++ (or the centroids of a warm-start partition);
2. Lloyd-style alternation: a size-feasible assignment solved as a transportation linear
   programme on a sparse graph of each point's nearest centres (HiGHS), then centre updates.
   With unit weights the programme is a network flow (point -> (group, family) -> family ->
   sink with bounds), hence totally unimodular and its vertex solutions are integral;
   with weighted super-points it is solved as an integer programme;
3. local search with exact gains: batches of improving single-point moves and pairwise
   swaps, each batch touching every family at most once so that gains computed from the
   current sufficient statistics stay exact when applied together.

The best of ``n_init`` runs is kept. Everything here works on plain arrays; the public
module validates inputs and turns solver failures into :class:`ConstraintError`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import LinearConstraint, milp
from scipy.spatial import cKDTree

_EPS = 1e-9

#: Problems with more (point, family) pairs than this start from a balanced bisection and
#: end their LP stage early (see :func:`run_once`).
LARGE = 2_000_000
#: Fraction of points an LP assignment must move for the LP stage of a large problem to go on.
LARGE_MIN_MOVED = 0.05


@dataclass
class Problem:
    """A partitioning problem over (super-)points.

    Attributes
    ----------
    X : ndarray (m, d)
        Mean feature vector of each super-point.
    w : ndarray (m,)
        Number of schools in each super-point (1 without must-link).
    groups : ndarray (m, g)
        Cannot-link group ids of each super-point, ``-1`` padded; shape (m, 0) when unused.
    n_groups : int
        Number of distinct groups.
    k, size_min, size_max : int
        Number of families and the bounds on their sizes (in schools).
    prev : ndarray (m,)
        Warm-start family index of each super-point (``-1`` when none).
    penalty : float
        Churn penalty per school assigned to a family other than ``prev``.
    """

    X: np.ndarray
    w: np.ndarray
    groups: np.ndarray
    n_groups: int
    k: int
    size_min: int
    size_max: int
    prev: np.ndarray
    penalty: float = 0.0

    @property
    def m(self) -> int:
        return self.X.shape[0]


class InfeasibleAssignment(Exception):
    """No assignment satisfies the bounds and constraints (even on the full graph)."""


# ---------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------


def centres_of(P: Problem, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted centres and sizes (in schools) of each family."""
    W = np.bincount(labels, weights=P.w, minlength=P.k)
    S = np.zeros((P.k, P.X.shape[1]))
    np.add.at(S, labels, P.X * P.w[:, None])
    C = S / np.maximum(W, _EPS)[:, None]
    return C, W


def within_ss(P: Problem, labels: np.ndarray) -> float:
    """Weighted within-family sum of squares of the super-points (excludes the constant
    spread inside super-points)."""
    C, _ = centres_of(P, labels)
    diff = P.X - C[labels]
    return float(np.sum(P.w * np.einsum("ij,ij->i", diff, diff)))


def churn(P: Problem, labels: np.ndarray) -> float:
    """Number of schools not in their warm-start family."""
    has = P.prev >= 0
    return float(np.sum(P.w[has] * (labels[has] != P.prev[has])))


def objective(P: Problem, labels: np.ndarray) -> float:
    """Within-family SS plus the churn penalty."""
    return within_ss(P, labels) + P.penalty * churn(P, labels)


def group_counts(P: Problem, labels: np.ndarray) -> np.ndarray:
    """Array (k, n_groups + 1) of how many members of each group sit in each family; the
    last column (padding id -1) is always zero."""
    cnt = np.zeros((P.k, P.n_groups + 1), dtype=np.int64)
    for t in range(P.groups.shape[1]):
        g = P.groups[:, t]
        ok = g >= 0
        np.add.at(cnt, (labels[ok], g[ok]), 1)
    return cnt


def violations(P: Problem, labels: np.ndarray) -> dict[str, int]:
    """Counts of broken constraints (all zero for a valid partition)."""
    _, W = centres_of(P, labels)
    cnt = group_counts(P, labels)[:, :-1] if P.n_groups else np.zeros((P.k, 0))
    return {
        "too_small": int(np.sum(W < P.size_min - _EPS)),
        "too_large": int(np.sum(W > P.size_max + _EPS)),
        "cannot_link": int(np.sum(np.maximum(cnt - 1, 0))),
    }


# ---------------------------------------------------------------------------
# initialisation
# ---------------------------------------------------------------------------


def kmeanspp(P: Problem, rng: np.random.Generator) -> np.ndarray:
    """Weighted greedy k-means++ seeding (``2 + log k`` candidates per centre)."""
    X, w = P.X, P.w.astype(float)
    m, k = P.m, P.k
    trials = 2 + int(np.log(k))
    centres = np.empty((k, X.shape[1]))
    first = int(rng.choice(m, p=w / w.sum()))
    centres[0] = X[first]
    d2 = np.einsum("ij,ij->i", X - X[first], X - X[first])
    for c in range(1, k):
        pot = w * d2
        total = float(pot.sum())
        if total <= 0:
            centres[c:] = X[rng.choice(m, size=k - c)]
            break
        cand = np.minimum(np.searchsorted(np.cumsum(pot), rng.random(trials) * total), m - 1)
        diff = X[None, :, :] - X[cand][:, None, :]
        dc = np.minimum(d2[None, :], np.einsum("tij,tij->ti", diff, diff))
        best = int(np.argmin(dc @ w))
        centres[c] = X[cand[best]]
        d2 = dc[best]
    return centres


# ---------------------------------------------------------------------------
# assignment step: transportation LP / network flow on a sparse candidate graph
# ---------------------------------------------------------------------------


def assign(
    P: Problem,
    centres: np.ndarray,
    current: np.ndarray | None,
    n_near: int,
) -> np.ndarray:
    """Size-feasible assignment minimising sum of w_i ||x_i - c_j||^2 plus churn penalty.

    Candidate families of each point are its ``n_near`` nearest centres plus its current and
    warm-start families; the candidate set doubles until the programme is feasible, ending
    with the full bipartite graph. Raises :class:`InfeasibleAssignment` when even the full
    graph has no feasible assignment.
    """
    k = P.k
    tree = cKDTree(centres)
    near = max(1, min(n_near, k))
    if current is None and near < k and not np.any(P.w != 1) and P.groups.shape[1] == 0:
        current = chunk_labels(P, centres)
    while True:
        rows, fams = _candidates(P, tree, centres, near, current)
        labels = _solve_assignment(P, centres, rows, fams)
        if labels is not None:
            return labels
        if near >= k:
            raise InfeasibleAssignment
        near = min(k, near * 2)


def bisection_labels(P: Problem, rng: np.random.Generator, jitter: float = 0.3) -> np.ndarray:
    """A compact, size-feasible labelling by recursive balanced bisection (unit weights).

    Each part due to hold ``q`` families is cut along its principal axis (randomly tilted by
    ``jitter`` so that restarts differ) into parts for ``q // 2`` and ``q - q // 2`` families,
    the cut placed proportionally and clipped so that both sides stay feasible. Costs
    O(m d log k).
    """
    L, U = P.size_min, P.size_max
    labels = np.empty(P.m, dtype=np.int64)
    stack = [(np.arange(P.m), P.k, 0)]
    while stack:
        idx, q, first = stack.pop()
        if q == 1:
            labels[idx] = first
            continue
        Y = P.X[idx]
        Y = Y - Y.mean(axis=0)
        _, _, vt = np.linalg.svd(Y[: min(len(Y), 2000)], full_matrices=False)
        axis = vt[0] + jitter * rng.normal(size=vt.shape[1]) / np.sqrt(vt.shape[1])
        order = idx[np.argsort(Y @ axis, kind="stable")]
        q1 = q // 2
        q2 = q - q1
        n = idx.size
        cut = int(round(n * q1 / q))
        cut = min(max(cut, q1 * L, n - q2 * U), q1 * U, n - q2 * L)
        stack.append((order[:cut], q1, first))
        stack.append((order[cut:], q2, first + q1))
    return labels


def _unit(P: Problem) -> bool:
    return not np.any(P.w != 1) and P.groups.shape[1] == 0


def chunk_labels(P: Problem, centres: np.ndarray) -> np.ndarray:
    """A size-feasible labelling (unit weights, no groups) used only to make the sparse
    candidate graph feasible: points sorted along the first principal axis are cut into
    consecutive runs of admissible sizes, run j going to the j-th centre in the same order."""
    m, k = P.m, P.k
    mu = P.X.mean(axis=0)
    _, _, vt = np.linalg.svd(P.X - mu, full_matrices=False)
    axis = vt[0]
    order = np.argsort((P.X - mu) @ axis, kind="stable")
    base, extra = divmod(m, k)
    sizes = np.full(k, base)
    sizes[:extra] += 1
    run = np.repeat(np.arange(k), sizes)
    corder = np.argsort((centres - mu) @ axis, kind="stable")
    labels = np.empty(m, dtype=np.int64)
    labels[order] = corder[run]
    return labels


def _candidates(
    P: Problem, tree: cKDTree, centres: np.ndarray, near: int, current: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """(point, family) candidate pairs: each point's nearest centres, each centre's nearest
    points (so that no family starts short of candidates), current and warm-start families."""
    k, m = P.k, P.m
    if near >= k:
        return np.repeat(np.arange(m), k), np.tile(np.arange(k), m)
    _, idx = tree.query(P.X, k=near)
    idx = np.asarray(idx).reshape(m, near)
    rows = [np.repeat(np.arange(m), near)]
    fams = [idx.ravel()]
    r = min(m, 2 * P.size_max)
    _, pidx = cKDTree(P.X).query(centres, k=r)
    pidx = np.asarray(pidx).reshape(k, r)
    rows.append(pidx.ravel())
    fams.append(np.repeat(np.arange(k), r))
    if current is not None:
        rows.append(np.arange(m))
        fams.append(current)
    has = P.prev >= 0
    if np.any(has):
        rows.append(np.flatnonzero(has))
        fams.append(P.prev[has])
    return np.concatenate(rows), np.concatenate(fams)


def _solve_assignment(
    P: Problem, centres: np.ndarray, rows: np.ndarray, fam: np.ndarray
) -> np.ndarray | None:
    m, k = P.m, P.k
    # drop duplicate (point, family) candidates
    key = rows.astype(np.int64) * k + fam
    key, first = np.unique(key, return_index=True)
    rows, fam = rows[first], fam[first]
    nv = rows.size
    diff = P.X[rows] - centres[fam]
    cost = P.w[rows] * np.einsum("ij,ij->i", diff, diff)
    if P.penalty > 0:
        pv = P.prev[rows]
        cost = cost + P.penalty * P.w[rows] * ((pv >= 0) & (pv != fam))
    var = np.arange(nv)
    blocks = [
        sparse.csr_matrix((np.ones(nv), (rows, var)), shape=(m, nv)),
        sparse.csr_matrix((P.w[rows].astype(float), (fam, var)), shape=(k, nv)),
    ]
    lb = [np.ones(m), np.full(k, float(P.size_min))]
    ub = [np.ones(m), np.full(k, float(P.size_max))]
    if P.n_groups and P.groups.shape[1]:
        gr_r, gr_v = [], []
        for t in range(P.groups.shape[1]):
            g = P.groups[rows, t]
            ok = g >= 0
            gr_r.append(fam[ok].astype(np.int64) * P.n_groups + g[ok])
            gr_v.append(var[ok])
        gr_r = np.concatenate(gr_r)
        gr_v = np.concatenate(gr_v)
        uniq, inv = np.unique(gr_r, return_inverse=True)
        counts = np.bincount(inv)
        keep = counts[inv] > 1  # rows with one candidate can never bind
        if np.any(keep):
            uniq2, inv2 = np.unique(inv[keep], return_inverse=True)
            blocks.append(
                sparse.csr_matrix(
                    (np.ones(int(keep.sum())), (inv2, gr_v[keep])), shape=(uniq2.size, nv)
                )
            )
            lb.append(np.zeros(uniq2.size))
            ub.append(np.ones(uniq2.size))
    A = sparse.vstack(blocks, format="csr")
    lo, hi = np.concatenate(lb), np.concatenate(ub)
    weighted = bool(np.any(P.w != 1))
    multi_group = P.groups.shape[1] > 1 and bool(np.any(P.groups[:, 1] >= 0))
    integral_needed = weighted or multi_group
    for integrality in ([1] if integral_needed else [0, 1]):
        res = milp(
            cost,
            integrality=np.full(nv, integrality),
            bounds=(0, 1),
            constraints=LinearConstraint(A, lo, hi),
            options={"presolve": True},
        )
        if res.status == 2 or res.x is None:  # infeasible
            return None
        x = res.x
        if np.all(np.abs(x - np.round(x)) < 1e-6):
            chosen = x > 0.5
            labels = np.full(m, -1)
            labels[rows[chosen]] = fam[chosen]
            if np.all(labels >= 0):
                return labels
    return None  # pragma: no cover - integer programme returned nothing usable


# ---------------------------------------------------------------------------
# local search with exact gains
# ---------------------------------------------------------------------------


def _delta_side(
    Wj: np.ndarray, out_w: np.ndarray, u_out: np.ndarray, in_w: np.ndarray, u_in: np.ndarray
) -> np.ndarray:
    """Exact change of one family's SS when super-point ``out`` leaves and ``in`` joins.

    ``u_*`` are positions relative to the family's current centre; weights of 0 mean
    "nobody". SS' - SS = w_in |u_in|^2 - w_out |u_out|^2 - |w_in u_in - w_out u_out|^2 / W'.
    """
    Wn = Wj - out_w + in_w
    s = in_w[:, None] * u_in - out_w[:, None] * u_out
    val = (
        in_w * np.einsum("ij,ij->i", u_in, u_in)
        - out_w * np.einsum("ij,ij->i", u_out, u_out)
        - np.einsum("ij,ij->i", s, s) / np.maximum(Wn, _EPS)
    )
    return val


def _churn_delta(P: Problem, pts: np.ndarray, old: np.ndarray, new: np.ndarray) -> np.ndarray:
    if P.penalty <= 0:
        return np.zeros(pts.size)
    pv = P.prev[pts]
    has = pv >= 0
    return P.penalty * P.w[pts] * has * ((new != pv).astype(float) - (old != pv))


def _conflict_free(
    P: Problem, cnt: np.ndarray, pts: np.ndarray, fam: np.ndarray, leaving: np.ndarray | None
) -> np.ndarray:
    """True where super-point ``pts`` may join ``fam`` (after ``leaving`` has left it)."""
    if not P.n_groups or P.groups.shape[1] == 0:
        return np.ones(pts.size, dtype=bool)
    ok = np.ones(pts.size, dtype=bool)
    G = P.groups
    for t in range(G.shape[1]):
        g = G[pts, t]
        c = cnt[fam, g].copy()  # padding id -1 maps to the always-zero last column
        if leaving is not None:
            for s in range(G.shape[1]):
                c = c - ((G[leaving, s] == g) & (g >= 0))
        ok &= c <= 0
    return ok


def _pick_disjoint(fa: np.ndarray, fb: np.ndarray, gain: np.ndarray, k: int) -> np.ndarray:
    """Greedy choice of improving operations, best first, each family used at most once."""
    order = np.argsort(gain, kind="stable")
    used = np.zeros(k, dtype=bool)
    chosen = []
    for o in order:
        a, b = fa[o], fb[o]
        if used[a] or used[b]:
            continue
        used[a] = used[b] = True
        chosen.append(o)
    return np.asarray(chosen, dtype=np.int64)


def local_search(P: Problem, labels: np.ndarray, n_near: int, max_rounds: int = 200) -> np.ndarray:
    """Improve ``labels`` by exact-gain moves and swaps until no candidate improves.

    Candidate target families of a point are its ``n_near`` nearest family centres (all
    families when ``n_near >= k - 1``). Bounds and cannot-link constraints hold throughout.
    """
    labels = labels.copy()
    k = P.k
    near = max(1, min(n_near, k - 1))
    if k < 2:
        return labels
    for _ in range(max_rounds):
        improved = False
        cand = _near_families(P, labels, near)
        for kind in ("move", "swap"):
            while True:
                n_applied = _sweep(P, labels, cand, kind)
                if n_applied == 0:
                    break
                improved = True
        if not improved:
            break
    return labels


def _near_families(P: Problem, labels: np.ndarray, near: int) -> np.ndarray:
    """Candidate target families of each point: its ``near + 1`` nearest centres."""
    k, m = P.k, P.m
    if near >= k - 1:
        return np.tile(np.arange(k), (m, 1))
    C, _ = centres_of(P, labels)
    _, cand = cKDTree(C).query(P.X, k=near + 1)
    return np.asarray(cand).reshape(m, near + 1)


def _sweep(P: Problem, labels: np.ndarray, cand: np.ndarray, kind: str) -> int:
    k = P.k
    C, W = centres_of(P, labels)
    cnt = group_counts(P, labels)
    m = P.m
    pts = np.repeat(np.arange(m), cand.shape[1])
    fb = cand.ravel()
    fa = labels[pts]
    keep = fb != fa
    pts, fa, fb = pts[keep], fa[keep], fb[keep]
    wp = P.w[pts].astype(float)
    if kind == "move":
        ok = (W[fa] - wp >= P.size_min - _EPS) & (W[fb] + wp <= P.size_max + _EPS)
        pts, fa, fb, wp = pts[ok], fa[ok], fb[ok], wp[ok]
        ok = _conflict_free(P, cnt, pts, fb, None)
        pts, fa, fb, wp = pts[ok], fa[ok], fb[ok], wp[ok]
        if pts.size == 0:
            return 0
        zero = np.zeros(pts.size)
        ua = P.X[pts] - C[fa]
        ub = P.X[pts] - C[fb]
        gain = _delta_side(W[fa], wp, ua, zero, ua) + _delta_side(W[fb], zero, ub, wp, ub)
        gain = gain + _churn_delta(P, pts, fa, fb)
        good = gain < -1e-10 * (1.0 + np.abs(gain))
        if not np.any(good):
            return 0
        pts, fa, fb, gain = pts[good], fa[good], fb[good], gain[good]
        sel = _pick_disjoint(fa, fb, gain, k)
        labels[pts[sel]] = fb[sel]
        return int(sel.size)
    # swaps: point i in family a with member y of family b. Only pairs (i, b) where i would
    # gain by joining b (bounds aside) are tried: an improving swap has at least one such side.
    zero = np.zeros(pts.size)
    ua = P.X[pts] - C[fa]
    ub = P.X[pts] - C[fb]
    pull = _delta_side(W[fa], wp, ua, zero, ua) + _delta_side(W[fb], zero, ub, wp, ub)
    pull = pull + _churn_delta(P, pts, fa, fb)
    keep = pull < 0
    pts, fa, fb = pts[keep], fa[keep], fb[keep]
    members = _members(labels, k)
    ys = members[fb]  # (ncand, max_size)
    ii = np.repeat(pts, ys.shape[1])
    aa = np.repeat(fa, ys.shape[1])
    bb = np.repeat(fb, ys.shape[1])
    yy = ys.ravel()
    ok = yy >= 0
    ii, aa, bb, yy = ii[ok], aa[ok], bb[ok], yy[ok]
    if ii.size == 0:
        return 0
    wi = P.w[ii].astype(float)
    wy = P.w[yy].astype(float)
    ok = np.ones(ii.size, dtype=bool)
    if np.any(P.w != 1):
        ok = (
            (W[aa] - wi + wy >= P.size_min - _EPS)
            & (W[aa] - wi + wy <= P.size_max + _EPS)
            & (W[bb] - wy + wi >= P.size_min - _EPS)
            & (W[bb] - wy + wi <= P.size_max + _EPS)
        )
    ok &= _conflict_free(P, cnt, ii, bb, yy) & _conflict_free(P, cnt, yy, aa, ii)
    ii, aa, bb, yy, wi, wy = ii[ok], aa[ok], bb[ok], yy[ok], wi[ok], wy[ok]
    if ii.size == 0:
        return 0
    gain = _delta_side(W[aa], wi, P.X[ii] - C[aa], wy, P.X[yy] - C[aa]) + _delta_side(
        W[bb], wy, P.X[yy] - C[bb], wi, P.X[ii] - C[bb]
    )
    gain = gain + _churn_delta(P, ii, aa, bb) + _churn_delta(P, yy, bb, aa)
    good = gain < -1e-10 * (1.0 + np.abs(gain))
    if not np.any(good):
        return 0
    ii, aa, bb, yy, gain = ii[good], aa[good], bb[good], yy[good], gain[good]
    sel = _pick_disjoint(aa, bb, gain, k)
    labels[ii[sel]] = bb[sel]
    labels[yy[sel]] = aa[sel]
    return int(sel.size)


def _members(labels: np.ndarray, k: int) -> np.ndarray:
    """Padded (k, max size) array of member indices, -1 padded."""
    order = np.argsort(labels, kind="stable")
    sizes = np.bincount(labels, minlength=k)
    width = int(sizes.max()) if sizes.size else 0
    out = np.full((k, max(width, 1)), -1, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pos = np.arange(labels.size) - np.repeat(starts, sizes)
    out[labels[order], pos] = order
    return out


# ---------------------------------------------------------------------------
# one run and restarts
# ---------------------------------------------------------------------------


def run_once(
    P: Problem,
    rng: np.random.Generator,
    init_labels: np.ndarray | None = None,
    max_iter: int = 30,
    tol: float = 1e-4,
    n_near: int = 10,
    ls_near: int = 8,
) -> tuple[np.ndarray, float, int]:
    """One initialisation: Lloyd with LP assignments, then exact local search.

    ``init_labels`` (``-1`` for unknown) seeds the centres; when it is itself feasible it is
    also the starting partition. Large unit-weight problems without a warm start begin from
    a recursive balanced bisection. Returns labels, objective and the number of LP
    assignments solved.

    On large problems (``k * m`` above :data:`LARGE`) the LP stage ends as soon as an
    assignment moves fewer than :data:`LARGE_MIN_MOVED` of the points: the later LPs
    move a few points each at the full cost of a transportation programme, while the
    local search makes the same kind of improvement with exact gains far more cheaply.
    The rule counts points, not seconds, so the result is the same on every machine.
    """
    labels = None
    large = P.k * P.m > LARGE
    if init_labels is None and large and _unit(P):
        init_labels = bisection_labels(P, rng)
    if init_labels is not None:
        known = init_labels >= 0
        lab = np.where(known, init_labels, 0)
        W = np.bincount(lab[known], weights=P.w[known], minlength=P.k)
        S = np.zeros((P.k, P.X.shape[1]))
        np.add.at(S, lab[known], P.X[known] * P.w[known, None])
        centres = S / np.maximum(W, _EPS)[:, None]
        empty = W <= 0
        if np.any(empty):
            centres[empty] = kmeanspp(P, rng)[: int(empty.sum())]
        if np.all(known) and not any(violations(P, init_labels).values()):
            labels = init_labels.copy()
    else:
        centres = kmeanspp(P, rng)
    best_obj = np.inf if labels is None else objective(P, labels)
    n_lp = 0
    while n_lp < max_iter or labels is None:
        new = assign(P, centres, labels, n_near)
        n_lp += 1
        obj = objective(P, new)
        if large and labels is not None and obj < best_obj and (
                np.count_nonzero(new != labels) < LARGE_MIN_MOVED * P.m):
            labels, best_obj = new, obj
            break
        if labels is not None and (np.array_equal(new, labels) or obj > best_obj * (1 - tol)):
            if obj < best_obj:
                labels, best_obj = new, obj
            break
        labels, best_obj = new, obj
        centres, _ = centres_of(P, labels)
    labels = local_search(P, labels, ls_near)
    return labels, objective(P, labels), n_lp


def solve(
    P: Problem,
    n_init: int,
    seed: int | None,
    init_labels: np.ndarray | None = None,
    n_near: int | None = None,
    ls_near: int | None = None,
    max_iter: int = 30,
    tol: float = 1e-3,
    runs: list | None = None,
) -> tuple[np.ndarray, float]:
    """Best of ``n_init`` runs (the first run warm-started when ``init_labels`` is given).

    When ``runs`` is a list, every run's labels are appended to it (their families are
    useful columns for the set-partitioning programme of the bound)."""
    rng = np.random.default_rng(seed)
    if n_near is None:
        n_near = P.k if P.k <= 60 else 5
    if ls_near is None:
        ls_near = P.k if P.k <= 60 else 8
    best = None
    for r in range(n_init):
        start = init_labels if (r == 0 and init_labels is not None) else None
        labels, obj, _ = run_once(
            P, np.random.default_rng(rng.integers(2**63)), start, max_iter, tol, n_near, ls_near
        )
        if runs is not None:
            runs.append(labels)
        if best is None or obj < best[1] - 1e-12:
            best = (labels, obj)
    return best
