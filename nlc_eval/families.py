"""Family groups: shared, size-bounded groups of similar schools.

:class:`FamilyFormer` partitions a feature matrix into families whose sizes always lie within
``[size_min, size_max]``, minimising the within-family sum of squares (SS), optionally with
cannot-link groups (e.g. keep schools of the same cluster apart so families look outwards),
must-link pairs and a warm start from last year's families that trades a little SS for much
less churn. :func:`form_families` is the school-table front end (one partition per sector)
returning a :class:`~nlc_eval._family_result.FamilyResult`.

The engine (:mod:`nlc_eval._family_solver`) alternates a size-feasible assignment, solved
exactly as a transportation linear programme on a sparse graph of each school's nearest
family centres, with centre updates, then runs an exact-gain local search of single moves
and pairwise swaps; the best of ``n_init`` starts is kept.

Examples
--------
>>> import numpy as np
>>> X = np.random.default_rng(0).normal(size=(40, 2))
>>> ff = FamilyFormer(size_min=6, size_max=10, random_state=0).fit(X)
>>> sizes = np.bincount(ff.labels_)
>>> bool(sizes.min() >= 6 and sizes.max() <= 10), ff.n_families_
(True, 5)
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Hashable, Iterable, Mapping

import numpy as np
import pandas as pd

from nlc_eval import _family_solver as solver
from nlc_eval._family_exact import EXACT_LIMIT, n_candidates, solve_exact
from nlc_eval._family_result import FamilyResult, GroupFit
from nlc_eval.errors import ConstraintError, DataError
from nlc_eval.similarity import FeatureSpec, _check_schools, feature_matrix

__all__ = ["FamilyFormer", "form_families", "feasible_counts", "group_seed", "FamilyResult",
           "SECTOR_SIZES"]

#: The authority's practice: primaries in families of 6-10, secondaries in trios and quads.
SECTOR_SIZES = {"primary": (6, 10), "secondary": (3, 4), "special": (3, 7)}


def feasible_counts(n: int, size_min: int, size_max: int) -> range:
    """Numbers of families into which ``n`` schools can be split with sizes in bounds.

    >>> feasible_counts(20, 6, 10)
    range(2, 4)
    """
    return range(math.ceil(n / size_max), n // size_min + 1)


def group_seed(random_state: int | None, group: str) -> int:
    """The seed of one group's own random stream, from ``random_state`` and its name.

    A group's families therefore do not depend on which other groups are formed in the
    same call (secondaries alone give the same families as secondaries with primaries).

    >>> group_seed(0, "secondary") == group_seed(0, "secondary")
    True
    """
    name = zlib.crc32(str(group).encode("utf-8"))
    seq = np.random.SeedSequence(None if random_state is None else [int(random_state), name])
    return int(seq.generate_state(1, dtype=np.uint32)[0])


def _sizes_message(n: int, size_min: int, size_max: int, k: int | None) -> str:
    """Say which family counts, or which bounds, would work for ``n`` schools."""
    ks = feasible_counts(n, size_min, size_max)
    if len(ks):
        counts = f"{ks.start}" if len(ks) == 1 else f"{ks.start} to {ks.stop - 1}"
        return (f"{n} schools can form {counts} families of {size_min}-{size_max}"
                + (f", not {k}." if k is not None else "."))
    hints = []
    if n >= size_min:
        hints.append(f"size_max >= {math.ceil(n / (n // size_min))} (keeping size_min "
                     f"{size_min})")
    lo = n // math.ceil(n / size_max)
    if lo >= 1:
        hints.append(f"size_min <= {lo} (keeping size_max {size_max})")
    return (f"{n} schools cannot be split into families of {size_min}-{size_max} (k families "
            f"hold between k*{size_min} and k*{size_max} schools, and no whole k fits). "
            f"Possible with {' or '.join(hints)}.")


class FamilyFormer:
    """Size-bounded clustering (scikit-learn style).

    Parameters
    ----------
    n_families : int, optional
        Number of families; default ``round(n / mid-size)`` clipped to the feasible range.
    size_min, size_max : int
        Hard bounds on family sizes (in schools).
    n_init : int
        Independent starts; the best objective is kept.
    random_state : int, optional
        Seed; the same seed and data give the same families.
    stability : float
        With ``previous`` in :meth:`fit`: the penalty for each school that leaves its
        previous family, in units of the previous partition's average within-family
        squared distance per school. 0 ignores the previous families except as a start.
    max_iter : int
        Maximum assignment/centre-update alternations per start.
    solver : {"auto", "exact", "heuristic"}
        ``"exact"`` enumerates every admissible family and solves the set-partitioning
        integer programme (a proven optimum; raises when there are more than
        ``exact_limit`` admissible families); ``"heuristic"`` runs the LP-assignment and
        local-search engine; ``"auto"`` (default) is exact whenever at most
        ``exact_limit`` admissible families exist, otherwise heuristic.
    exact_limit : int
        Largest number of admissible families that is enumerated.
    bound : bool or "auto"
        After a heuristic solve, compute a certified lower bound on the objective by column
        generation (:mod:`nlc_eval._family_bound`) and solve the set-partitioning programme
        over the families it generated and, in further rounds, over the families one school
        away from the best partition's and from the generated ones of least reduced cost
        (those the bound's prices rule out are left out: price and branch); its partition,
        polished by the local search, replaces the heuristic's when it is better. ``"auto"`` does so for up
        to 1,500 (super-)points, and replaces the families only when every step stopped by
        its own count (iterations, boxes, branch-and-bound nodes) rather than by
        ``bound_time``, so the families depend on ``random_state`` and the group alone and
        are the same on every machine; if the clock stopped a step, the heuristic's
        families are kept and ``bound_note_`` says so. ``True`` always keeps the better
        partition (which may then depend on the machine's speed). Default False.
    bound_time : float
        Seconds allowed for the bound, a safety limit (the bound is valid whenever it
        stops).

    Attributes
    ----------
    labels_ : ndarray of int
        Family index (0..k-1) of each row.
    cluster_centers_ : ndarray (k, d)
        Family centres.
    inertia_ : float
        Within-family sum of squares.
    n_families_ : int
    churn_ : int or None
        Rows whose family differs from ``previous`` (None without ``previous``).
    previous_families_ : list
        Previous family ids kept as families 0..len-1 (warm start only).
    solver_ : str
        Which solver produced ``labels_``: ``"exact"`` (enumeration + set partitioning,
        proven optimal), ``"heuristic"``, ``"heuristic+columns"`` (improved by the
        set-partitioning programme over the columns of the bound) or ``"single"`` (one
        family).
    lower_bound_ : float
        Lower bound on the objective of every admissible partition (NaN when not
        computed); equals the objective for exact solves.
    gap_ : float
        ``(objective - lower_bound_) / objective`` (0 = proven optimal, NaN without a bound).
    n_columns_ : int
        Admissible families enumerated (exact) or generated (bound).
    closed_families_ : list
        Locked names whose families were closed (kept exactly as given).
    bound_note_ : str
        Set when the bound found better families that were not used (see ``bound``).
    """

    def __init__(self, n_families: int | None = None, size_min: int = 6, size_max: int = 10,
                 n_init: int = 10, random_state: int | None = None, stability: float = 1.0,
                 max_iter: int = 30, solver: str = "auto", exact_limit: int = EXACT_LIMIT,
                 bound: bool | str = False, bound_time: float = 300.0) -> None:
        self.n_families = n_families
        self.size_min = size_min
        self.size_max = size_max
        self.n_init = n_init
        self.random_state = random_state
        self.stability = stability
        self.max_iter = max_iter
        self.solver = solver
        self.exact_limit = exact_limit
        self.bound = bound
        self.bound_time = bound_time

    # ------------------------------------------------------------------ checks
    def _check_params(self, n: int) -> int:
        L, U = self.size_min, self.size_max
        for name, v in (("size_min", L), ("size_max", U), ("n_init", self.n_init)):
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ConstraintError(f"{name} must be a whole number of at least 1 (got {v!r}).")
        if L > U:
            raise ConstraintError(f"size_min ({L}) is larger than size_max ({U}).")
        if self.stability < 0:
            raise ConstraintError(f"stability must be 0 or more (got {self.stability}).")
        if self.solver not in ("auto", "exact", "heuristic"):
            raise ConstraintError(f"solver must be 'auto', 'exact' or 'heuristic' (got "
                                  f"{self.solver!r}).")
        if self.bound not in (True, False, "auto"):
            raise ConstraintError(f"bound must be True, False or 'auto' (got {self.bound!r}).")
        ks = feasible_counts(n, L, U)
        if self.n_families is None:
            if not len(ks):
                raise ConstraintError(_sizes_message(n, L, U, None))
            return int(min(max(round(n / ((L + U) / 2)), ks.start), ks.stop - 1))
        k = self.n_families
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise ConstraintError(f"n_families must be a whole number of at least 1 (got {k!r}).")
        if k not in ks:
            raise ConstraintError(_sizes_message(n, L, U, int(k)))
        return int(k)

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, *, cannot_link=None, must_link: Iterable[tuple[int, int]] = (),
            previous=None, locked=None, closed="auto") -> FamilyFormer:
        """Form families.

        Parameters
        ----------
        X : array-like (n, d)
            Standardised features.
        y : ignored
        cannot_link : array-like (n,), optional
            Group label of each row (None/NaN = none); at most one row of a group per family.
        must_link : iterable of (i, j)
            Row pairs that must share a family.
        previous : array-like (n,), optional
            Previous family id of each row (None/NaN = new row): warm start and churn penalty.
        locked : array-like (n,), optional
            Locked family name of each row (None/NaN = free): rows with one name always
            share a family, rows with different names never do; the other rows are formed
            around them. ``locked_families_`` maps each name to its family index.
        closed : "auto", bool or iterable of names
            Which locked families are *closed* (exactly as listed: no member leaves and no
            other row joins). ``"auto"`` (default): a name given to at least ``size_min``
            rows is a whole family and is closed, a name given to fewer rows is a partial
            family that the other rows fill up to the bounds. ``True``: every locked family
            is closed (each must then have ``size_min`` to ``size_max`` rows); ``False``:
            none is (every locked family may gain rows up to ``size_max``); a list names
            the closed ones. ``closed_families_`` lists the closed names.
        """
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[0] == 0:
            raise ConstraintError(f"X must be a non-empty 2-D array (got shape {X.shape}).")
        if not np.all(np.isfinite(X)):
            raise ConstraintError("X contains missing or infinite values; impute them first.")
        n = X.shape[0]
        self.closed_families_ = []
        if locked is not None:
            shut = self._closed_names(list(locked), n, closed)
            if shut:
                return self._fit_closed(X, cannot_link, list(must_link or ()), previous,
                                        list(locked), shut)
        k = self._check_params(n)
        must_link = list(must_link or ())
        lock_names: list = []
        if locked is not None:
            lk = list(locked)
            if len(lk) != n:
                raise ConstraintError(f"locked has {len(lk)} entries for {n} rows.")
            pairs, first = _lock_pairs(lk)
            must_link += pairs
            lock_names = list(first)
            if len(lock_names) > k:
                raise ConstraintError(
                    f"{len(lock_names)} locked families but only {k} families; lock fewer "
                    "families or form more.")
            self._lock_rows = first
        comp = _components(n, must_link)
        lock_sp = None
        if lock_names:
            lock_sp = np.array([comp[self._lock_rows[v]] for v in lock_names])
        P, row_sp = self._problem(X, k, comp, cannot_link, previous, lock_sp)
        init = None
        if previous is not None:
            init = P.prev.copy()
        self.lower_bound_ = np.nan
        self.n_columns_ = 0
        try:
            if P.k == 1:
                sp_labels = np.zeros(P.m, dtype=np.int64)
                self.solver_ = "single"
                self.lower_bound_ = solver.objective(P, sp_labels)
            else:
                sp_labels = self._solve(P, init)
        except solver.InfeasibleAssignment:
            raise ConstraintError(self._why_infeasible(P, n)) from None
        self.problem_ = P
        self.super_of_ = row_sp
        self.super_labels_ = sp_labels
        self.labels_ = sp_labels[row_sp]
        self.locked_families_ = {v: int(self.labels_[self._lock_rows[v]]) for v in lock_names}
        self.n_families_ = k
        self.cluster_centers_ = np.vstack([X[self.labels_ == j].mean(axis=0) for j in range(k)])
        d = X - self.cluster_centers_[self.labels_]
        self.inertia_ = float(np.sum(d * d))
        # objective of the super-points plus the constant spread inside them
        inner = self.inertia_ - solver.within_ss(P, sp_labels)
        self.objective_ = solver.objective(P, sp_labels) + inner
        if np.isfinite(self.lower_bound_):
            self.lower_bound_ = min(self.lower_bound_ + inner, self.objective_)
            self.gap_ = ((self.objective_ - self.lower_bound_) / self.objective_
                         if self.objective_ > 0 else 0.0)
        else:
            self.gap_ = np.nan
        self.churn_ = None
        if previous is not None:
            prev_rows = P.prev[row_sp]
            known = np.asarray([not _missing(v) for v in previous])
            same = (prev_rows >= 0) & (self.labels_ == prev_rows)
            self.churn_ = int(np.sum(known & ~same))
        return self

    # ------------------------------------------------------------------ closed families
    def _closed_names(self, lk: list, n: int, closed) -> list:
        """Locked names whose families are closed, in order of first appearance."""
        if len(lk) != n:
            raise ConstraintError(f"locked has {len(lk)} entries for {n} rows.")
        counts: dict = {}
        for v in lk:
            if not _missing(v):
                counts[v] = counts.get(v, 0) + 1
        if isinstance(closed, str) and closed == "auto":
            return [v for v, c in counts.items() if c >= self.size_min]
        if closed is True or closed is False or closed is None:
            shut = list(counts) if closed else []
        elif isinstance(closed, Iterable) and not isinstance(closed, (str, bytes)):
            wanted = list(closed)
            unknown = [v for v in wanted if v not in counts]
            if unknown:
                raise ConstraintError(f"closed names families that are not locked: "
                                      f"{unknown[:5]}; lock their schools first.")
            shut = [v for v in counts if v in set(wanted)]
        else:
            raise ConstraintError(f"closed must be 'auto', True, False or a list of locked "
                                  f"family names (got {closed!r}).")
        small = [f"{v!r} ({counts[v]})" for v in shut if counts[v] < self.size_min]
        if small:
            raise ConstraintError(
                f"closed families must have at least size_min={self.size_min} schools: "
                f"{', '.join(small[:5])}; add schools to them or leave them open.")
        return shut

    def _fit_closed(self, X, cannot_link, must_link, previous, lk, shut) -> FamilyFormer:
        """Fit with closed families: they are set aside exactly as listed, the other rows
        are partitioned into the remaining families, and the two are put together. The
        optimum of the whole problem is the closed families' SS plus the optimum of the
        rest, so exact solves and bounds of the rest carry over."""
        n = X.shape[0]
        self._check_params_only()
        shut_set = set(shut)
        in_closed = np.array([not _missing(v) and v in shut_set for v in lk])
        free = np.flatnonzero(~in_closed)
        cl = None if cannot_link is None else list(cannot_link)
        if cl is not None and len(cl) != n:
            raise ConstraintError(f"cannot_link has {len(cl)} entries for {n} rows.")
        closed_rows = {v: np.flatnonzero(np.array([u == v if not _missing(u) else False
                                                   for u in lk])) for v in shut}
        for v, rows in closed_rows.items():
            if rows.size > self.size_max:
                raise ConstraintError(
                    f"locked family {v!r} has {rows.size} schools, more than "
                    f"size_max={self.size_max}; unlock some or raise size_max.")
            if cl is not None:
                g = [cl[i] for i in rows if not _missing(cl[i])]
                if len(g) != len(set(g)):
                    raise ConstraintError(
                        f"locked family {v!r} has two schools of the same cannot-link group; "
                        "a family cannot both keep them together and apart.")
        for pair in must_link:
            i, j = (int(t) for t in pair)
            if not (0 <= i < n and 0 <= j < n):
                raise ConstraintError(f"must-link pair {pair!r} refers to a row outside "
                                      f"0..{n - 1}.")
            if in_closed[i] != in_closed[j] or (in_closed[i] and lk[i] != lk[j]):
                raise ConstraintError(
                    f"must-link pair ({i}, {j}) would add a school to a closed family (or join "
                    "two of them); unlock the family, or drop the pair.")
        n_free = free.size
        n_shut = len(shut)
        if self.n_families is None:
            k_free = None
        else:
            k_free = int(self.n_families) - n_shut
            ks = feasible_counts(n_free, self.size_min, self.size_max)
            if n_free == 0 and k_free != 0 or n_free and k_free not in ks:
                raise ConstraintError(
                    f"{n_shut} closed families leave {n_free} schools, which can form "
                    + (f"{ks.start}-{ks.stop - 1}" if len(ks) else "no")
                    + f" families of {self.size_min}-{self.size_max}, so n_families="
                    f"{self.n_families} is not possible.")
        pos = {int(i): t for t, i in enumerate(free)}
        sub = None
        if n_free:
            sub = FamilyFormer(
                n_families=k_free, size_min=self.size_min, size_max=self.size_max,
                n_init=self.n_init, random_state=self.random_state, stability=self.stability,
                max_iter=self.max_iter, solver=self.solver, exact_limit=self.exact_limit,
                bound=self.bound, bound_time=self.bound_time)
            pv = None
            if previous is not None:
                pv_all = list(previous)
                if len(pv_all) != n:
                    raise ConstraintError(f"previous has {len(pv_all)} entries for {n} rows.")
                # a closed family's name is taken: its former members elsewhere start afresh
                pv = [None if _missing(pv_all[i]) or pv_all[i] in shut_set else pv_all[i]
                      for i in free]
            sub.fit(X[free], cannot_link=None if cl is None else [cl[i] for i in free],
                    must_link=[(pos[int(i)], pos[int(j)]) for i, j in must_link
                               if not in_closed[int(i)]],
                    previous=pv, locked=[lk[i] for i in free], closed=False)
        k_sub = sub.n_families_ if sub is not None else 0
        k = k_sub + n_shut
        labels = np.empty(n, dtype=np.int64)
        if sub is not None:
            labels[free] = sub.labels_
        for t, v in enumerate(shut):
            labels[closed_rows[v]] = k_sub + t
        # the whole problem, for explanations: locks as must-link and one shared group
        lock_links, first = _lock_pairs(lk)
        pairs = list(must_link) + lock_links
        comp = _components(n, pairs)
        lock_sp = np.array([comp[first[v]] for v in first])
        P, row_sp = self._problem(X, k, comp, cl, None, lock_sp)
        sp_labels = np.empty(P.m, dtype=np.int64)
        sp_labels[row_sp] = labels
        self._lock_rows = first
        self.problem_ = P
        self.super_of_ = row_sp
        self.super_labels_ = sp_labels
        self.labels_ = labels
        self.n_families_ = k
        self.closed_families_ = list(shut)
        self.closed_labels_ = [k_sub + t for t in range(n_shut)]
        self.locked_families_ = {v: int(labels[first[v]]) for v in first}
        self.previous_families_ = list(sub.previous_families_) if sub is not None else []
        self.cluster_centers_ = np.vstack([X[labels == j].mean(axis=0) for j in range(k)])
        d = X - self.cluster_centers_[labels]
        self.inertia_ = float(np.sum(d * d))
        ss_shut = self.inertia_ - (sub.inertia_ if sub is not None else 0.0)
        self.objective_ = ss_shut + (sub.objective_ if sub is not None else 0.0)
        if sub is None:
            self.solver_, self.lower_bound_, self.n_columns_ = "exact", self.objective_, 0
        else:
            self.solver_ = sub.solver_
            self.lower_bound_ = ss_shut + sub.lower_bound_
            self.n_columns_ = sub.n_columns_
            for name in ("bound_note_", "bound_converged_", "bound_clock_stopped_"):
                if hasattr(sub, name):
                    setattr(self, name, getattr(sub, name))
        if np.isfinite(self.lower_bound_):
            self.lower_bound_ = min(self.lower_bound_, self.objective_)
            self.gap_ = ((self.objective_ - self.lower_bound_) / self.objective_
                         if self.objective_ > 0 else 0.0)
        else:
            self.gap_ = np.nan
        self.churn_ = None
        if previous is not None:
            pv_all = list(previous)
            ch = sub.churn_ if sub is not None and sub.churn_ is not None else 0
            ch += sum(1 for i in free if not _missing(pv_all[i]) and pv_all[i] in shut_set)
            ch += sum(1 for i in np.flatnonzero(in_closed)
                      if not _missing(pv_all[i]) and pv_all[i] != lk[i])
            self.churn_ = int(ch)
        return self

    def _check_params_only(self) -> None:
        """The checks of :meth:`_check_params` that do not depend on the row count."""
        saved = self.n_families
        try:
            self.n_families = None
            self._check_params(max(self.size_min, 1))
        finally:
            self.n_families = saved

    def _solve(self, P: solver.Problem, init) -> np.ndarray:
        """Exact when cheap (or asked), else the heuristic, then the bound."""
        want_exact = self.solver == "exact"
        if self.solver == "auto":
            want_exact = n_candidates(P.w, P.size_min, P.size_max) <= self.exact_limit
        if want_exact:
            try:
                start = None
                if init is not None and np.all(init >= 0) and not any(
                        solver.violations(P, init).values()):
                    start = init
                res = solve_exact(P, self.exact_limit, incumbent=start)
            except OverflowError:
                if self.solver == "exact":
                    raise ConstraintError(
                        f"more than exact_limit={self.exact_limit} admissible families; "
                        "raise exact_limit or use solver='heuristic'.") from None
            else:
                self.solver_ = "exact"
                self.lower_bound_ = res.bound
                self.n_columns_ = res.n_columns
                return res.labels
        runs: list = []
        labels, _ = solver.solve(P, self.n_init, self.random_state, init_labels=init,
                                 max_iter=self.max_iter, runs=runs)
        self.solver_ = "heuristic"
        if self.bound is True or (self.bound == "auto" and P.m <= 1500):
            from nlc_eval._family_bound import certify

            cert = certify(P, labels, seed=self.random_state, time_limit=self.bound_time,
                           extra=runs)
            self.lower_bound_ = cert.bound
            self.n_columns_ = cert.n_columns
            self.bound_converged_ = cert.converged
            self.bound_clock_stopped_ = cert.clock_stopped
            better = cert.objective < solver.objective(P, labels) - 1e-12
            if better and (self.bound is True or not cert.clock_stopped):
                ls_near = P.k if P.k <= 60 else 8
                labels = solver.local_search(P, cert.labels, ls_near)
                self.solver_ = "heuristic+columns"
            elif better:
                self.bound_note_ = (
                    "the time limit stopped the bound's column generation, so the better "
                    "families it found were not used (they would depend on the machine's "
                    "speed); raise bound_time")
        return labels

    def fit_predict(self, X, y=None, **kwargs) -> np.ndarray:
        """Fit and return ``labels_``."""
        return self.fit(X, y, **kwargs).labels_

    def _problem(self, X, k, comp, cannot_link, previous, lock_sp=None):
        n = X.shape[0]
        n_sp = int(comp.max()) + 1
        w = np.bincount(comp, minlength=n_sp)
        S = np.zeros((n_sp, X.shape[1]))
        np.add.at(S, comp, X)
        Xs = S / w[:, None]
        if w.max() > self.size_max:
            big = int(np.argmax(w))
            rows = np.flatnonzero(comp == big)[:8].tolist()
            raise ConstraintError(
                f"must-link pairs chain {w.max()} rows together (rows {rows} ...), more than "
                f"size_max={self.size_max}; remove some pairs or raise size_max.")
        groups = np.zeros((n_sp, 0), dtype=np.int64)
        n_groups = 0
        codes: dict[Hashable, int] = {}
        per_sp: list[list[int]] = [[] for _ in range(n_sp)]
        if cannot_link is not None:
            cl = list(cannot_link)
            if len(cl) != n:
                raise ConstraintError(f"cannot_link has {len(cl)} entries for {n} rows.")
            for i, g in enumerate(cl):
                if _missing(g):
                    continue
                gi = codes.setdefault(g, len(codes))
                if gi in per_sp[comp[i]]:
                    raise ConstraintError(
                        f"must-link joins rows of the same cannot-link group {g!r} (row {i}); "
                        "a family cannot both keep them together and apart.")
                per_sp[comp[i]].append(gi)
        if lock_sp is not None:
            # locked families stay apart: one extra group shared by every locked super-point
            gi = len(codes)
            codes[("locked", "families")] = gi
            for sp in lock_sp:
                per_sp[sp].append(gi)
        if codes:
            n_groups = len(codes)
            width = max((len(p) for p in per_sp), default=0)
            groups = np.full((n_sp, width), -1, dtype=np.int64)
            for s, p in enumerate(per_sp):
                groups[s, : len(p)] = p
            if n_groups:
                gsize = np.bincount(groups[groups >= 0], minlength=n_groups)
                worst = int(np.argmax(gsize))
                if gsize[worst] > k:
                    name = [g for g, c in codes.items() if c == worst][0]
                    raise ConstraintError(
                        f"cannot-link group {name!r} has {gsize[worst]} members but there are "
                        f"only {k} families, so two of them would have to share one; use more "
                        "families (smaller size_max) or drop the constraint.")
        prev = np.full(n_sp, -1, dtype=np.int64)
        penalty = 0.0
        self.previous_families_ = []
        if previous is not None:
            pv = list(previous)
            if len(pv) != n:
                raise ConstraintError(f"previous has {len(pv)} entries for {n} rows.")
            ser = pd.Series([None if _missing(v) else v for v in pv], dtype=object)
            sizes = ser.dropna().value_counts()
            kept = sorted(sizes.index, key=lambda f: (-sizes[f], str(f)))[:k]
            index = {f: j for j, f in enumerate(kept)}
            self.previous_families_ = kept
            for i, v in enumerate(ser):
                if v is not None and v in index:
                    # a super-point follows the previous family of its first member
                    if prev[comp[i]] < 0:
                        prev[comp[i]] = index[v]
            penalty = self.stability * _per_school_spread(X, ser, kept)
        P = solver.Problem(X=Xs, w=w, groups=groups, n_groups=n_groups, k=k,
                           size_min=self.size_min, size_max=self.size_max, prev=prev,
                           penalty=penalty)
        return P, comp

    def _why_infeasible(self, P: solver.Problem, n: int) -> str:
        parts = [f"no partition of {n} rows into {P.k} families of {P.size_min}-{P.size_max}"]
        if P.n_groups:
            parts.append("keeps every cannot-link group apart")
        if np.any(P.w > 1):
            parts.append(f"keeps the must-link groups (sizes {sorted(set(P.w[P.w > 1]))}) "
                         "together")
        return (" and ".join(parts) + ". " + _sizes_message(n, P.size_min, P.size_max, None)
                + " Loosen the size bounds, change the number of families or drop a constraint.")



def _lock_pairs(locked) -> tuple[list[tuple[int, int]], dict]:
    """Locks as must-link pairs (each school to the first of its family) and the first row
    of each locked family, in order of appearance."""
    pairs: list[tuple[int, int]] = []
    first: dict = {}
    for i, v in enumerate(locked):
        if _missing(v):
            continue
        if v in first:
            pairs.append((first[v], i))
        else:
            first[v] = i
    return pairs, first

def _missing(v) -> bool:
    if v is None:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _per_school_spread(X: np.ndarray, prev: pd.Series, kept: list) -> float:
    """Average squared distance of a school to its previous family's centre."""
    total, count = 0.0, 0
    for f in kept:
        rows = np.flatnonzero((prev == f).to_numpy())
        if rows.size:
            d = X[rows] - X[rows].mean(axis=0)
            total += float(np.sum(d * d))
            count += rows.size
    if count and total > 0:
        return total / count
    return float(np.mean(np.sum((X - X.mean(axis=0)) ** 2, axis=1))) / 10 or 1.0


def _components(n: int, pairs: Iterable[tuple[int, int]]) -> np.ndarray:
    """Connected components of the must-link graph, numbered by first row."""
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for pair in pairs or ():
        i, j = (int(v) for v in pair)
        if not (0 <= i < n and 0 <= j < n):
            raise ConstraintError(f"must-link pair {pair!r} refers to a row outside 0..{n - 1}.")
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    roots = np.array([find(i) for i in range(n)])
    _, comp = np.unique(roots, return_inverse=True)
    return comp.astype(np.int64)


# ---------------------------------------------------------------------------
# school-table front end
# ---------------------------------------------------------------------------

_PREFIX = {"primary": "P", "secondary": "S", "special": "X"}


def _sizes_for(size, group: str) -> tuple[int, int]:
    if isinstance(size, Mapping):
        if group not in size:
            raise ConstraintError(f"no size bounds given for {group!r} (size has "
                                  f"{sorted(size)}); add e.g. size[{group!r}] = (6, 10).")
        size = size[group]
    try:
        lo, hi = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ConstraintError(f"size must be a pair (min, max), got {size!r}.") from None
    return lo, hi


def _cannot_link_values(schools: pd.DataFrame, cannot_link) -> pd.Series | None:
    if cannot_link is None:
        return None
    if isinstance(cannot_link, str):
        if cannot_link not in schools.columns:
            raise DataError("the cannot-link column is missing.", table="schools",
                            column=cannot_link,
                            fix="add the cluster of each school, e.g. merge "
                            "nlc_eval.data.clusters.approximate_clusters(schools, locations) "
                            "on seed_code and sector.")
        return schools[cannot_link]
    s = pd.Series(cannot_link)
    if s.index.equals(schools.index):
        return s
    codes = schools["seed_code"].astype(str)
    s.index = s.index.astype(str)
    if s.index.duplicated().any():
        raise DataError("cannot_link has a seed code more than once.", table="cannot_link",
                        fix="give one group per seed code, or a column name.")
    return pd.Series(codes.map(s).to_numpy(), index=schools.index)


def _previous_values(schools: pd.DataFrame, previous, name: str = "previous"
                     ) -> pd.Series | None:
    if previous is None:
        return None
    if isinstance(previous, FamilyResult):
        previous = previous.members[["seed_code", "sector", "family"]]
    if isinstance(previous, pd.DataFrame):
        if not {"seed_code", "family"} <= set(previous.columns):
            raise DataError(f"{name} needs columns seed_code and family.", table=name,
                            fix="pass a FamilyResult, its .members, or a Series "
                            "seed_code -> family.")
        on = ["seed_code", "sector"] if "sector" in previous.columns else ["seed_code"]
        left = schools[on].astype(str).reset_index()
        right = previous[[*on, "family"]].astype({c: str for c in on})
        if right.duplicated(on).any():
            raise DataError(f"{name} has a school more than once.", table=name,
                            column="seed_code", fix="keep one row per seed code and sector.")
        merged = left.merge(right, on=on, how="left").set_index("index")
        return merged["family"].reindex(schools.index)
    s = pd.Series(previous)
    s.index = s.index.astype(str)
    if s.index.duplicated().any():
        raise DataError(f"{name} has a seed code more than once.", table=name,
                        fix="pass a DataFrame with seed_code, sector and family.")
    return pd.Series(schools["seed_code"].astype(str).map(s).to_numpy(), index=schools.index)


def form_families(
    schools: pd.DataFrame,
    size=(6, 10),
    by: str | None = "sector",
    features: FeatureSpec | Iterable[str] | None = None,
    cannot_link=None,
    must_link: Iterable[tuple[str, str]] = (),
    previous=None,
    random_state: int | None = 0,
    *,
    special: str = "separate",
    n_families: int | Mapping[str, int] | None = None,
    n_init: int = 10,
    stability: float = 1.0,
    fixed=None,
    closed="auto",
    solver: str = "auto",
    bound: bool | str = "auto",
    bound_time: float = 300.0,
) -> FamilyResult:
    """Form family groups of similar schools.

    Parameters
    ----------
    schools : DataFrame
        One census year, one row per (seed_code, sector), e.g. from
        :func:`nlc_eval.data.official.load_school_statistics` filtered to an authority.
    size : (min, max) or mapping
        Family size bounds, or per-group bounds such as :data:`SECTOR_SIZES`.
    by : str or None
        Column whose groups are partitioned separately (default ``"sector"``).
    features : FeatureSpec or list of extra feature names, optional
        Similarity features (default size and SIMD profile; a list adds extras).
    cannot_link : str or Series, optional
        A column name (e.g. ``"cluster"``) or a Series (seed_code or row index -> group):
        schools of the same group are kept in different families.
    must_link : iterable of (seed_code, seed_code)
        Pairs kept in the same family.
    previous : FamilyResult, DataFrame (seed_code[, sector], family) or Series, optional
        Last year's families: warm start plus a churn penalty (see ``stability``).
    random_state : int, optional
        Seed (the same seed gives the same families).
    special : {"separate", "exclude"}
        Special schools get families of their own (the default; bounds from ``size``) or are
        excluded, listed in ``result.excluded`` with the reason.
    n_families : int or mapping, optional
        Number of families (per group); default chosen from the bounds.
    n_init : int
        Independent starts.
    stability : float
        Churn penalty per school, in units of the average within-family squared distance.
    fixed : mapping, Series, DataFrame (seed_code[, sector], family) or FamilyResult, optional
        Locked schools: schools given one family name always share that family (which
        keeps the name), schools given different names never share one, and the other
        schools are formed around them. Schools not listed are free. See ``closed`` for
        whether a listed family may gain schools.
    closed : "auto", bool or list of family names
        Which listed families are closed, i.e. kept exactly as listed (no member leaves,
        no other school joins). ``"auto"`` (default): a family listed with at least the
        group's minimum size is a whole family and is closed; one listed with fewer schools
        (e.g. a single school) is filled up with other schools to the size bounds.
        ``True`` closes every listed family, ``False`` none (every listed family may gain
        schools up to the maximum size), a list closes the families it names.
    solver : {"auto", "exact", "heuristic"}
        See :class:`FamilyFormer`; ``"auto"`` solves exactly (proven optimal) whenever the
        admissible families are few enough to enumerate (always for the authority's
        secondary and special schools).
    bound : bool or "auto"
        Certify heuristic solves with a lower bound (``quality()`` columns ``lower_bound``
        and ``gap``); ``"auto"`` for groups of up to 1,500 schools. See
        :class:`FamilyFormer` for when the families of the bound replace the heuristic's.
    bound_time : float
        Seconds allowed for each group's bound: a safety limit (the bound's own steps are
        limited by counts, so on an ordinary machine it finishes well within it).

    Returns
    -------
    FamilyResult

    Raises
    ------
    DataError
        Missing columns or duplicated schools.
    ConstraintError
        The bounds, counts or constraints cannot be met; the message says which sizes or
        counts are possible.
    """
    _check_schools(schools)
    if special not in ("separate", "exclude"):
        raise ConstraintError(f"special must be 'separate' or 'exclude' (got {special!r}).")
    if isinstance(features, FeatureSpec) or features is None:
        spec = features or FeatureSpec()
    else:
        spec = FeatureSpec(extras=tuple(features))
    if by is not None and by not in schools.columns:
        raise DataError("the grouping column is missing.", table="schools", column=by,
                        fix="pass by=None or a column of the table.")
    sector = schools["sector"].astype(str).str.lower()
    excluded = []
    work = schools
    if special == "exclude":
        is_sp = sector == "special"
        for idx in schools.index[is_sp.to_numpy()]:
            excluded.append({"seed_code": str(schools.loc[idx, "seed_code"]),
                             "school_name": schools.loc[idx].get("school_name", ""),
                             "sector": "special",
                             "reason": "special school excluded (special='exclude'): serves "
                             "pupils from across the authority, not comparable on size and "
                             "SIMD with mainstream schools"})
        work = schools[~is_sp]
    group_of = work[by].astype(str) if by is not None else pd.Series("all", index=work.index)
    if by is not None and work[by].isna().any():
        idx = work.index[work[by].isna().to_numpy()][0]
        raise DataError("missing value in the grouping column.", table="schools", column=by,
                        row=idx, fix="fill it or drop the school.")
    cl_all = _cannot_link_values(work, cannot_link)
    prev_all = _previous_values(work, previous)
    fixed_all = _previous_values(work, fixed, name="fixed")
    pairs = [(str(a), str(b)) for a, b in must_link]
    fits: dict[str, GroupFit] = {}
    for g in sorted(group_of.unique()):
        rows = work[group_of == g]
        seeds = rows["seed_code"].astype(str)
        pos = {s: i for i, s in enumerate(seeds)}
        ml = []
        for a, b in pairs:
            if a in pos and b in pos:
                ml.append((pos[a], pos[b]))
            elif (a in pos) != (b in pos):
                other = b if a in pos else a
                if other in set(work["seed_code"].astype(str)):
                    raise ConstraintError(
                        f"must-link pair ({a}, {b}) spans two groups of {by!r}; families are "
                        "formed separately per group.")
        lo, hi = _sizes_for(size, g)
        k = n_families.get(g) if isinstance(n_families, Mapping) else n_families
        X = feature_matrix(rows, spec, table=f"schools ({by} = {g})" if by else "schools")
        former = FamilyFormer(n_families=k, size_min=lo, size_max=hi, n_init=n_init,
                              random_state=group_seed(random_state, g), stability=stability,
                              solver=solver, bound=bound, bound_time=bound_time)
        cl = None if cl_all is None else cl_all.loc[rows.index].tolist()
        pv = None if prev_all is None else prev_all.loc[rows.index].tolist()
        lk = None if fixed_all is None else fixed_all.loc[rows.index].tolist()
        if lk is not None and all(_missing(v) for v in lk):
            lk = None
        try:
            former.fit(X.to_numpy(), cannot_link=cl, must_link=ml, previous=pv, locked=lk,
                       closed=closed)
        except ConstraintError as exc:
            raise ConstraintError(f"{by or 'schools'} {g!r}: {exc}") from None
        fits[g] = GroupFit(name=g, schools=rows, X=X, former=former,
                           cannot_link=None if cl is None else pd.Series(cl, index=rows.index),
                           previous=None if pv is None else pd.Series(pv, index=rows.index),
                           prefix=_PREFIX.get(g, f"{g}-"))
    return FamilyResult(fits, pd.DataFrame(
        excluded, columns=["seed_code", "school_name", "sector", "reason"]),
        spec=spec, random_state=random_state)
