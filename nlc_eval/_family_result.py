"""Results of :func:`nlc_eval.families.form_families`: assignments, profiles, quality,
explanations and a map."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nlc_eval import _family_solver as solver
from nlc_eval.errors import DataError
from nlc_eval.similarity import FEATURE_LABELS

__all__ = ["FamilyResult", "GroupFit", "Explanation"]


@dataclass
class GroupFit:
    """One partitioned group (usually a sector)."""

    name: str
    schools: pd.DataFrame
    X: pd.DataFrame
    former: object
    cannot_link: pd.Series | None
    previous: pd.Series | None
    prefix: str
    family_ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        f = self.former
        k = f.n_families_
        kept = [str(v) for v in getattr(f, "previous_families_", [])]
        locked = {j: str(v) for v, j in getattr(f, "locked_families_", {}).items()}
        taken = set(kept) | set(locked.values())
        if self.previous is not None:
            taken |= {str(v) for v in self.previous.dropna()}
        raw = self.X.attrs["raw"]
        key_col = "simd_mean_quintile" if "simd_mean_quintile" in raw.columns else raw.columns[0]
        size_col = "roll" if "roll" in raw.columns else raw.columns[0]
        lab = f.labels_
        order_key = []
        for j in range(len(kept), k):
            if j in locked:
                continue
            rows = lab == j
            order_key.append((float(raw[key_col].to_numpy()[rows].mean()),
                              float(raw[size_col].to_numpy()[rows].mean()), j))
        ids = kept + [""] * (k - len(kept))
        for j, name in locked.items():
            ids[j] = name
        num = 0
        for _, _, j in sorted(order_key):
            num += 1
            while f"{self.prefix}{num:02d}" in taken:
                num += 1
            ids[j] = f"{self.prefix}{num:02d}"
        self.family_ids = ids

    @property
    def labels(self) -> np.ndarray:
        return self.former.labels_

    @property
    def family(self) -> pd.Series:
        return pd.Series(np.asarray(self.family_ids, dtype=object)[self.labels],
                         index=self.schools.index, name="family")


@dataclass
class Explanation:
    """Why a school is in its family (see :meth:`FamilyResult.explain`)."""

    seed_code: str
    school_name: str
    group: str
    family: str
    family_size: int
    distance_to_centre: float
    median_distance_in_family: float
    nearest_members: pd.DataFrame
    nearest_other: dict
    move_change: float
    swap_change: float
    blocked: list[str]
    reason: str
    features: pd.DataFrame

    def text(self) -> str:
        """The explanation in plain English."""
        mem = ", ".join(f"{r.school_name} ({r.distance:.2f})"
                        for r in self.nearest_members.head(3).itertuples())
        o = self.nearest_other
        feats = "; ".join(
            f"{FEATURE_LABELS.get(r.Index, r.Index)} {_fmt(r.school)} vs family {_fmt(r.family)}"
            for r in self.features.itertuples())
        if self.reason == "worse_fit":
            why = ("moving it there, or swapping the two, would make the families less alike "
                   f"(within-family spread up by {min(self.move_change, self.swap_change):.3f})")
            if self.blocked:
                why += "; also " + "; ".join(self.blocked)
        elif self.reason == "blocked":
            why = "; ".join(self.blocked)
        else:
            why = ("a move or swap would tighten the families slightly (the search only tries "
                   "the nearest families in large problems)")
        return (f"{self.school_name} is in family {self.family} ({self.family_size} schools; "
                f"{feats}). It is {self.distance_to_centre:.2f} from the family centre (family "
                f"median {self.median_distance_in_family:.2f}); its nearest family members are "
                f"{mem}. The most similar school in another family is {o['school_name']} "
                f"(family {o['family']}, distance {o['distance']:.2f}): it is not there because "
                f"{why}.")

    def __str__(self) -> str:
        return self.text()


def _fmt(v: float) -> str:
    v = float(v)
    if abs(v) >= 20:
        return f"{v:.0f}"
    if abs(v) <= 1:
        return f"{100 * v:.0f}%"
    return f"{v:.1f}"


class FamilyResult:
    """Families formed by :func:`nlc_eval.families.form_families`.

    Attributes
    ----------
    assignments : Series
        seed_code -> family id (a seed code with two departments appears once per sector).
    members : DataFrame
        One row per school: seed_code, school_name, sector, group, family, distance to the
        family centre, cannot-link group, previous family and whether it changed, and the
        raw feature values.
    excluded : DataFrame
        Schools left out, with the reason.
    changed : DataFrame
        Schools whose family differs from ``previous`` (empty without it).
    """

    def __init__(self, fits: dict[str, GroupFit], excluded: pd.DataFrame, spec=None,
                 random_state=None) -> None:
        self.groups = fits
        self.excluded = excluded
        self.spec = spec
        self.random_state = random_state
        parts = []
        for g, fit in fits.items():
            s = fit.schools
            X = fit.X.to_numpy()
            centres = fit.former.cluster_centers_[fit.labels]
            df = pd.DataFrame({
                "seed_code": s["seed_code"].astype(str).to_numpy(),
                "school_name": (s["school_name"] if "school_name" in s.columns
                                else s["seed_code"]).astype(str).to_numpy(),
                "sector": s["sector"].astype(str).to_numpy(),
                "group": g,
                "family": fit.family.to_numpy(),
                "distance_to_centre": np.sqrt(((X - centres) ** 2).sum(axis=1)),
            }, index=s.index)
            if fit.cannot_link is not None:
                df["cannot_link_group"] = fit.cannot_link.to_numpy()
            if fit.previous is not None:
                prev = fit.previous.map(lambda v: None if pd.isna(v) else str(v))
                df["previous_family"] = prev.to_numpy()
                df["changed"] = prev.notna().to_numpy() & (prev.to_numpy() != df["family"])
            raw = fit.X.attrs["raw"]
            for c in raw.columns:
                df[c] = raw[c].to_numpy()
            parts.append(df)
        self.members = pd.concat(parts) if parts else pd.DataFrame(
            columns=["seed_code", "school_name", "sector", "group", "family"])
        self.assignments = pd.Series(self.members["family"].to_numpy(),
                                     index=pd.Index(self.members["seed_code"], name="seed_code"),
                                     name="family")
        if "changed" in self.members.columns:
            ch = self.members[self.members["changed"].fillna(False).astype(bool)]
            self.changed = ch[["seed_code", "school_name", "sector", "previous_family",
                               "family"]].reset_index(drop=True)
        else:
            self.changed = pd.DataFrame(columns=["seed_code", "school_name", "sector",
                                                 "previous_family", "family"])

    @property
    def n_changed(self) -> int:
        """Number of schools whose family changed from ``previous``."""
        return len(self.changed)

    # ------------------------------------------------------------------ table
    def table(self) -> pd.DataFrame:
        """Each family's profile: size, roll and SIMD summaries, spread, members."""
        m = self.members
        agg = {"n_schools": ("seed_code", "size"),
               "mean_distance": ("distance_to_centre", "mean"),
               "max_distance": ("distance_to_centre", "max")}
        if "roll" in m.columns:
            agg |= {"roll_mean": ("roll", "mean"), "roll_min": ("roll", "min"),
                    "roll_max": ("roll", "max")}
        for c in ("simd_mean_quintile", "simd_q1_share", "fsm_pct", "attendance_rate"):
            if c in m.columns:
                agg[f"{c}_mean"] = (c, "mean")
        if "cannot_link_group" in m.columns:
            agg["n_cannot_link_groups"] = ("cannot_link_group", "nunique")
        out = m.groupby(["group", "family"], sort=True).agg(**agg).reset_index()
        names = m.groupby(["group", "family"])["school_name"].apply(
            lambda s: "; ".join(sorted(s))).reset_index(drop=True)
        out["members"] = names.to_numpy()
        return out

    # ------------------------------------------------------------------ quality
    def quality(self, n_random: int = 200) -> pd.DataFrame:
        """Within-family dispersion against baselines, one row per group.

        Columns: ``n_schools``, ``n_families``, ``size_min``/``size_max`` (observed),
        ``within_ss`` (standardised units), ``random_ss`` (mean over ``n_random`` random
        partitions with the same family sizes) and ``ratio_to_random`` with a 95% range
        (``ratio_to_random_low``/``_high``, from the random partitions' 2.5 and 97.5
        percentiles; well below 1 = families far tighter than chance), ``kmeans_ss``
        (unconstrained k-means, same k) and ``ratio_to_kmeans`` (the price of the size
        bounds, at least about 1), ``silhouette``, ``cannot_link_violations`` and
        ``changed`` (schools that changed family, when ``previous`` was given), and the
        certificate: ``solver`` (``"exact"`` = proven optimal by enumeration and set
        partitioning; ``"heuristic"``; ``"heuristic+columns"`` = improved by the
        set-partitioning programme over the families of the bound), ``objective`` (within-family
        SS plus any churn penalty), ``lower_bound`` (no admissible partition has a smaller
        objective), ``gap`` = (objective - lower_bound) / objective (0 = proven optimal; NaN
        when no bound was computed) and ``gap_note`` (why a gap above 10% is reported, or
        why there is none).
        """
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score

        rows = []
        rng = np.random.default_rng(self.random_state)
        for g, fit in self.groups.items():
            X = fit.X.to_numpy()
            lab = fit.labels
            k = fit.former.n_families_
            n = X.shape[0]
            ss = _ss(X, lab, k)
            rand = np.array([_ss(X, rng.permutation(lab), k) for _ in range(n_random)])
            lo, hi = np.percentile(rand, [2.5, 97.5])
            km = (KMeans(n_clusters=k, n_init=10, random_state=0).fit(X).inertia_
                  if k > 1 else ss)
            sizes = np.bincount(lab, minlength=k)
            viol = 0
            if fit.cannot_link is not None:
                cl = fit.cannot_link
                known = cl.notna().to_numpy()
                pairs = pd.DataFrame({"g": cl.to_numpy()[known], "f": lab[known]})
                viol = int((pairs.value_counts() - 1).clip(lower=0).sum())
            f = fit.former
            gap = float(getattr(f, "gap_", np.nan))
            note = ""
            if np.isnan(gap):
                note = ("no bound computed (bound=False, or more than 1,500 schools); the "
                        "families are a heuristic optimum")
            else:
                note = _gap_note(f, gap)
            if fit.previous is not None and getattr(f, "stability", 0) > 0 and not np.isnan(gap):
                note = ("objective and gap include the churn penalty (stability > 0); "
                        + note).rstrip("; ")
            rows.append({
                "group": g, "n_schools": n, "n_families": k,
                "size_min": int(sizes.min()), "size_max": int(sizes.max()),
                "within_ss": ss, "random_ss": float(rand.mean()),
                "ratio_to_random": ss / float(rand.mean()),
                "ratio_to_random_low": ss / hi if hi > 0 else np.nan,
                "ratio_to_random_high": ss / lo if lo > 0 else np.nan,
                "kmeans_ss": float(km), "ratio_to_kmeans": ss / km if km > 0 else np.nan,
                "silhouette": float(silhouette_score(X, lab)) if 1 < k < n else np.nan,
                "cannot_link_violations": viol,
                "changed": int(self.members.loc[self.members["group"] == g, "changed"].sum())
                if "changed" in self.members.columns else np.nan,
                "solver": getattr(f, "solver_", "heuristic"),
                "objective": float(getattr(f, "objective_", ss)),
                "lower_bound": float(getattr(f, "lower_bound_", np.nan)),
                "gap": gap, "gap_note": note,
            })
        return pd.DataFrame(rows).set_index("group")

    def summary(self) -> str:
        """A short plain-text quality summary."""
        q = self.quality()
        lines = []
        for r in q.reset_index().itertuples():
            g = r.group
            line = (f"{g}: {r.n_schools} schools in {r.n_families} families of "
                    f"{r.size_min}-{r.size_max}; within-family spread {r.ratio_to_random:.2f} "
                    f"of random families of the same sizes (95% range "
                    f"{r.ratio_to_random_low:.2f}-{r.ratio_to_random_high:.2f}), "
                    f"{r.ratio_to_kmeans:.2f} x unconstrained k-means; silhouette "
                    f"{r.silhouette:.2f}")
            if "cannot_link_group" in self.members.columns:
                line += f"; cannot-link violations {int(r.cannot_link_violations)}"
            if not pd.isna(r.changed):
                line += f"; {int(r.changed)} schools changed family"
            if r.solver == "exact":
                line += "; proven optimal (exact solve)"
            elif not pd.isna(r.gap):
                line += (f"; certified gap {100 * r.gap:.1f}% (no partition can have a "
                         f"within-family SS below {r.lower_bound:.3f})")
            lines.append(line + ".")
        if len(self.excluded):
            lines.append(f"{len(self.excluded)} schools excluded: "
                         f"{self.excluded['reason'].iloc[0]}.")
        return "\n".join(lines)

    # ------------------------------------------------------------------ explain
    def _locate(self, seed_code: str, sector: str | None) -> tuple[GroupFit, int]:
        code = str(seed_code)
        hits = []
        for fit in self.groups.values():
            sc = fit.schools["seed_code"].astype(str).to_numpy()
            for pos in np.flatnonzero(sc == code):
                if sector is None or str(fit.schools["sector"].iloc[pos]) == sector:
                    hits.append((fit, int(pos)))
        if not hits:
            ex = self.excluded[self.excluded["seed_code"] == code]
            why = f" It was excluded: {ex['reason'].iloc[0]}." if len(ex) else ""
            raise DataError(f"seed code {code!r} is in no family.{why}", table="families",
                            column="seed_code", fix="check the seed code.")
        if len(hits) > 1:
            raise DataError(f"seed code {code!r} is in several groups.", table="families",
                            column="seed_code", fix="pass sector='primary' or 'secondary'.")
        return hits[0]

    def explain(self, seed_code: str, sector: str | None = None, n_members: int = 3
                ) -> Explanation:
        """Why this school is in its family.

        Gives its distance to the family centre, its nearest family members, the nearest
        school in another family, and why it is not in that family: the exact change in
        within-family spread (plus churn penalty) of moving it there or swapping the two,
        or the constraint (size bound, cannot-link, must-link) that forbids it.
        """
        fit, pos = self._locate(seed_code, sector)
        f = fit.former
        P = f.problem_
        X = fit.X.to_numpy()
        lab = fit.labels
        names = (fit.schools["school_name"] if "school_name" in fit.schools.columns
                 else fit.schools["seed_code"]).astype(str).to_numpy()
        codes = fit.schools["seed_code"].astype(str).to_numpy()
        a = lab[pos]
        d = np.sqrt(((X - X[pos]) ** 2).sum(axis=1))
        same = np.flatnonzero((lab == a) & (np.arange(len(lab)) != pos))
        same = same[np.lexsort((codes[same], d[same]))]
        nearest = pd.DataFrame({"seed_code": codes[same], "school_name": names[same],
                                "distance": d[same]}).head(n_members)
        other = np.flatnonzero(lab != a)
        t = other[np.lexsort((codes[other], d[other]))][0] if other.size else None
        dc = np.sqrt(((X - f.cluster_centers_[lab]) ** 2).sum(axis=1))
        raw = fit.X.attrs["raw"]
        feats = pd.DataFrame({"school": raw.iloc[pos],
                              "family": raw[lab == a].mean()})
        feats = feats.drop(index=[c for c in feats.index if c == "log_roll"
                                  and "roll" in feats.index])
        if t is None:
            return Explanation(codes[pos], names[pos], fit.name, fit.family_ids[a],
                               int(np.sum(lab == a)), float(dc[pos]),
                               float(np.median(dc[lab == a])), nearest, {}, np.nan, np.nan,
                               [], "only_family", feats)
        b = lab[t]
        move, swap, blocked = _move_swap(P, f, fit, pos, t)
        feasible = [v for v in (move, swap) if not np.isnan(v)]
        if not feasible:
            reason = "blocked"
        elif min(feasible) >= -1e-9:
            reason = "worse_fit"
        else:
            reason = "improvable"
        return Explanation(
            seed_code=codes[pos], school_name=names[pos], group=fit.name,
            family=fit.family_ids[a], family_size=int(np.sum(lab == a)),
            distance_to_centre=float(dc[pos]),
            median_distance_in_family=float(np.median(dc[lab == a])),
            nearest_members=nearest,
            nearest_other={"seed_code": codes[t], "school_name": names[t],
                           "family": fit.family_ids[b], "distance": float(d[t])},
            move_change=move, swap_change=swap, blocked=blocked, reason=reason,
            features=feats)

    # ------------------------------------------------------------------ plot
    def plot(self, ax=None, group: str | None = None, highlight: str | None = None):
        """Map of families: roll (log scale) against the share in SIMD quintile 1."""
        from nlc_eval.plots import family_map

        m = self.members
        if group is None and m["group"].nunique() > 1:
            group = sorted(m["group"].unique())[0]
        if group is not None:
            m = m[m["group"] == group]
        if "roll" not in m.columns or "simd_q1_share" not in m.columns:
            raise DataError("the map needs roll and simd_q1_share features.",
                            table="families", fix="use the default feature spec.")
        title = f"Family groups by size and deprivation ({group})" if group else None
        kw = {"title": title} if title else {}
        return family_map(m, x="roll", y="simd_q1_share", family="family",
                          highlight=highlight, ax=ax, **kw)


def _gap_note(f, gap: float) -> str:
    """Why a certified gap above 1% is what it is (empty when the gap is at most 1%)."""
    extra = getattr(f, "bound_note_", "")
    if gap <= 0.01:
        return extra
    pct = f"{100 * gap:.1f}%"
    if getattr(f, "bound_clock_stopped_", False):
        note = (f"gap {pct}: the time limit (bound_time = {getattr(f, 'bound_time', '?')} s) "
                "stopped the bound's column generation before it converged, so the bound "
                "is loose, not necessarily the families; raise bound_time")
    elif getattr(f, "bound_converged_", False):
        note = (f"gap {pct}: column generation converged, so the bound is the linear "
                "relaxation's value (within 0.1%); the gap is that relaxation's integrality "
                "gap plus however far the families are from the optimum, and the "
                "families are at most this far from it")
    else:
        note = (f"gap {pct}: column generation stopped at its iteration limit before it "
                "converged, so part of the gap is the bound's")
    return (note + "; " + extra) if extra else note


def _ss(X: np.ndarray, lab: np.ndarray, k: int) -> float:
    n_j = np.bincount(lab, minlength=k).astype(float)
    S = np.zeros((k, X.shape[1]))
    np.add.at(S, lab, X)
    return float(np.sum(X * X) - np.sum(np.sum(S * S, axis=1) / np.maximum(n_j, 1)))


def _move_swap(P, former, fit: GroupFit, pos: int, t: int) -> tuple[float, float, list[str]]:
    """Exact objective changes of moving row ``pos`` to row ``t``'s family and of swapping
    them (NaN when forbidden), with the reasons for anything forbidden."""
    sp_lab = former.super_labels_
    s, st = former.super_of_[pos], former.super_of_[t]
    a, b = sp_lab[s], sp_lab[st]
    C, W = solver.centres_of(P, sp_lab)
    cnt = solver.group_counts(P, sp_lab)
    fid = fit.family_ids
    blocked: list[str] = []
    ws, wt = float(P.w[s]), float(P.w[st])
    S = np.array([s])
    T = np.array([st])
    if ws > 1:
        blocked.append(f"it is must-linked to {int(ws) - 1} other school(s), which would "
                       "have to move with it")
    shut = set(getattr(former, "closed_labels_", []))
    closed_why = [f"family {fid[j]} is closed (kept exactly as listed)" for j in (a, b)
                  if j in shut]
    if closed_why:
        blocked.append("a move or swap is not allowed: " + " and ".join(closed_why))
        return np.nan, np.nan, blocked
    # move
    move = np.nan
    why = []
    if W[b] + ws > P.size_max:
        why.append(f"family {fid[b]} already has {int(W[b])} schools (the maximum is "
                   f"{P.size_max})")
    if W[a] - ws < P.size_min:
        why.append(f"family {fid[a]} would drop below {P.size_min} schools")
    if not solver._conflict_free(P, cnt, S, np.array([b]), None)[0]:
        why.append(f"family {fid[b]} already has a school of the same "
                   f"{_cl_word(fit)} ({_cl_value(fit, pos)})")
    if not why:
        zero = np.zeros(1)
        ua, ub = P.X[S] - C[a], P.X[S] - C[b]
        wv = np.array([ws])
        move = float((solver._delta_side(W[a], wv, ua, zero, ua)
                      + solver._delta_side(W[b], zero, ub, wv, ub)
                      + solver._churn_delta(P, S, np.array([a]), np.array([b])))[0])
    else:
        blocked.append("a move is not allowed: " + " and ".join(why))
    # swap
    swap = np.nan
    why = []
    for fam, new in ((a, W[a] - ws + wt), (b, W[b] - wt + ws)):
        if new < P.size_min or new > P.size_max:
            why.append(f"family {fid[fam]} would have {int(new)} schools")
    if not solver._conflict_free(P, cnt, S, np.array([b]), T)[0]:
        why.append(f"family {fid[b]} would still hold a school of the same {_cl_word(fit)}")
    if not solver._conflict_free(P, cnt, T, np.array([a]), S)[0]:
        why.append(f"family {fid[a]} already has a school of the other school's "
                   f"{_cl_word(fit)}")
    if not why:
        d = (solver._delta_side(W[a], np.array([ws]), P.X[S] - C[a], np.array([wt]),
                                P.X[T] - C[a])
             + solver._delta_side(W[b], np.array([wt]), P.X[T] - C[b], np.array([ws]),
                                  P.X[S] - C[b])
             + solver._churn_delta(P, S, np.array([a]), np.array([b]))
             + solver._churn_delta(P, T, np.array([b]), np.array([a])))
        swap = float(d[0])
    else:
        blocked.append("a swap is not allowed: " + " and ".join(why))
    return move, swap, blocked


def _cl_word(fit: GroupFit) -> str:
    return "cannot-link group"


def _cl_value(fit: GroupFit, pos: int) -> str:
    if fit.cannot_link is None:
        return ""
    return str(fit.cannot_link.iloc[pos])
