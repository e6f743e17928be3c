"""Tests of nlc_eval.disclosure: property-based over random tables, plus classic cases."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlc_eval.disclosure import (
    attacker_bounds,
    check_published,
    display,
    format_suppressed,
    suppress,
    suppress_long,
    suppression_log,
)
from nlc_eval.errors import DataError, DisclosureError

# counts: many small values so primary suppression is common, some zeros, some large
cell = st.one_of(st.integers(0, 6), st.integers(0, 60))


@st.composite
def tables(draw, max_rows=6, max_cols=5):
    n_rows = draw(st.integers(1, max_rows))
    n_cols = draw(st.integers(1, max_cols))
    data = draw(st.lists(st.lists(cell, min_size=n_cols, max_size=n_cols),
                         min_size=n_rows, max_size=n_rows))
    return pd.DataFrame(np.array(data, dtype="int64"),
                        index=[f"r{i}" for i in range(n_rows)],
                        columns=[f"c{j}" for j in range(n_cols)])


def relations(out: pd.DataFrame) -> list[list[tuple[object, object, float]]]:
    """The published sums of a suppressed table, rebuilt independently of the module:
    each relation is a list of (row, column, sign) with sum(sign * value) == 0."""
    rec = out.attrs["disclosure"]
    cols, tr = rec["count_columns"], rec["total_row"]
    rels = []
    for total, members in rec["row_relations"]:
        for r in out.index:
            rels.append([(r, c, 1.0) for c in members] + [(r, total, -1.0)])
    if tr is not None:
        for c in cols:
            rels.append([(r, c, -1.0 if r == tr else 1.0) for r in out.index])
    return rels


def true_value(original: pd.DataFrame, out: pd.DataFrame, r, c) -> float:
    """The unsuppressed value of a cell of ``out``, margins recomputed from ``original``."""
    rec = out.attrs["disclosure"]
    members = {t: ms for t, ms in rec["row_relations"]}
    if r in original.index and c in original.columns:
        return float(original.loc[r, c])
    if r in original.index:  # added total column
        return float(original.loc[r, members[c]].sum())
    if c in original.columns:  # added total row
        return float(original[c].sum())
    return float(original[members[c]].to_numpy().sum())


def determined_cells(out: pd.DataFrame, original: pd.DataFrame | None = None
                     ) -> list[tuple[object, object]]:
    """Hidden cells whose value follows from the relations, by a rank test
    (e_k lies in the row space of the relations restricted to hidden cells). Given the
    original, hidden zeros count as known to the intruder (zeros="show" policy)."""
    cols = out.attrs["disclosure"]["count_columns"]
    hidden = [(r, c) for r in out.index for c in cols if out.loc[r, c] is pd.NA]
    if original is not None:
        hidden = [h for h in hidden if true_value(original, out, *h) != 0]
    if not hidden:
        return []
    pos = {h: k for k, h in enumerate(hidden)}
    rows = []
    for rel in relations(out):
        v = np.zeros(len(hidden))
        for r, c, sign in rel:
            if (r, c) in pos:
                v[pos[(r, c)]] = sign
        rows.append(v)
    a = np.array(rows) if rows else np.zeros((0, len(hidden)))
    base = np.linalg.matrix_rank(a) if len(rows) else 0
    found = []
    for k, h in enumerate(hidden):
        e = np.zeros(len(hidden))
        e[k] = 1.0
        if np.linalg.matrix_rank(np.vstack([a, e])) == base:
            found.append(h)
    return found


def assert_safe(original: pd.DataFrame, out: pd.DataFrame, threshold: int) -> None:
    cols = out.attrs["disclosure"]["count_columns"]
    block = out[cols]
    shown = block.astype("Float64")
    small = (shown >= 1) & (shown < threshold)
    assert not small.fillna(False).to_numpy(dtype=bool).any(), "visible small count"
    # every shown value equals the original (nothing altered)
    for c in original.columns:
        if c in cols:
            for r in original.index:
                v = out.loc[r, c]
                assert v is pd.NA or int(v) == int(original.loc[r, c])
    # no shown relation with exactly one hidden cell
    for rel in relations(out):
        n_hidden = sum(out.loc[r, c] is pd.NA for r, c, _ in rel)
        assert n_hidden != 1, f"relation {rel} reveals its only hidden cell"
    # stronger: no hidden cell determined by any combination of relations, even when the
    # intruder knows which hidden cells are zero (unless zeros are secret)
    assert determined_cells(out) == []
    if out.attrs["disclosure"]["zeros"] == "show":
        assert determined_cells(out, original) == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.sampled_from([3, 5, 10]), st.sampled_from([True, "row", "column", False]))
def test_random_tables_are_safe(table, threshold, margins):
    out = suppress(table, threshold=threshold, margins=margins)
    assert_safe(table, out, threshold)
    check_published(out, threshold)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(max_rows=5, max_cols=4))
def test_random_tables_line_rule_only(table):
    out = suppress(table, exact=False)
    cols = out.attrs["disclosure"]["count_columns"]
    assert not ((out[cols].astype("Float64") >= 1) & (out[cols].astype("Float64") < 5)) \
        .fillna(False).to_numpy(dtype=bool).any()
    for rel in relations(out):
        assert sum(out.loc[r, c] is pd.NA for r, c, _ in rel) != 1


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(max_rows=5, max_cols=4))
def test_random_tables_zeros_suppressed(table):
    out = suppress(table, zeros="suppress")
    assert_safe(table, out, 5)
    cols = out.attrs["disclosure"]["count_columns"]
    assert not (out[cols].astype("Float64") == 0).fillna(False).to_numpy(dtype=bool).any()
    # with consistent totals, non-negativity never pins a hidden value either
    bounds = attacker_bounds(out)
    assert ((bounds["upper"] - bounds["lower"]) >= 0.5).all()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(max_rows=5, max_cols=4))
def test_attacker_bounds_contain_truth_and_are_wide(table):
    out = suppress(table)
    bounds = attacker_bounds(out)
    for _, b in bounds.iterrows():
        true = table.loc[b["row"], b["column"]] if b["row"] in table.index \
            and b["column"] in table.columns else None
        if true is not None:
            assert b["lower"] - 1e-6 <= true <= b["upper"] + 1e-6
            if true > 0:  # zeros are shown by policy, so one inferred as 0 is allowed
                assert b["upper"] - b["lower"] >= 0.5


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(cell, cell, cell), min_size=1, max_size=6), st.booleans())
def test_two_breakdowns_of_one_total(rows, with_total_row):
    """supports = universal + intensive = ended + ongoing: two row relations on one total."""
    data = []
    for u, i, e in rows:
        total = u + i
        ended = min(e, total)
        data.append({"universal": u, "intensive": i, "ended": ended,
                     "ongoing": total - ended, "supports": total})
    t = pd.DataFrame(data, index=[f"g{k}" for k in range(len(rows))])
    margins = "row" if with_total_row else False
    two = suppress(t, margins=margins, count_columns=list(t.columns),
                   row_relations=[("supports", ["universal", "intensive"]),
                                  ("supports", ["ended", "ongoing"])])
    assert_safe(t, two, 5)
    check_published(two)


def test_group_size_hides_every_count_of_a_small_group():
    t = pd.DataFrame({"learners": [3, 40, 50], "sessions": [30, 400, 500],
                      "attended": [25, 350, 420]}, index=["a", "b", "c"])
    out = suppress(t, margins="row", group_size="learners")
    assert out.loc["a"].isna().all()
    reasons = suppression_log(out).set_index(["row", "column"])["reason"]
    assert reasons[("a", "sessions")] == "small group"
    assert_safe(t, out, 5)


def test_rate_list_spec_and_rate_of_rates():
    t = pd.DataFrame({"on": [30, 3], "off": [10, 20], "pct": [75.0, 13.0],
                      "gap": [5.0, 6.0]}, index=["a", "b"])
    out = suppress(t, margins=False, count_columns=["on", "off"],
                   rate_columns={"pct": ["on", "off"], "gap": ["pct"]})
    assert out.loc["b", "pct"] is pd.NA and out.loc["b", "gap"] is pd.NA
    assert out.loc["a", "gap"] == 5.0


def test_single_small_cell_in_row_and_column_gets_partners():
    t = pd.DataFrame({"boys": [3, 12, 20], "girls": [10, 14, 25]}, index=["A", "B", "C"])
    out = suppress(t)
    log = suppression_log(out)
    assert set(map(tuple, log[log.reason == "primary"][["row", "column"]].to_numpy())) == {
        ("A", "boys")}
    assert (log.reason == "secondary").sum() >= 2
    # totals computed before suppression are shown
    assert out.loc["Total", "boys"] == 35 and out.loc["A", "Total"] == 13
    assert_safe(t, out, 5)


def test_pattern_recoverable_by_combining_rows_is_broken():
    """Two rectangles of small cells joined by one more small cell (A, y): every row and
    column has at least two hidden cells, so the line rule is met, yet adding rows A and B
    and subtracting columns w and x gives (A, y) back. The exact check must catch it."""
    t = pd.DataFrame(
        [[2, 3, 2, 40, 50], [3, 2, 40, 41, 51], [30, 31, 2, 3, 60], [33, 34, 3, 2, 61]],
        index=list("ABCD"), columns=list("wxyzv"),
    )
    weak = suppress(t, exact=False)
    assert ("A", "y") in determined_cells(weak)  # the trap is real
    out = suppress(t)
    assert determined_cells(out) == []
    assert_safe(t, out, 5)


def test_existing_total_row_is_respected():
    t = pd.DataFrame({"learners": [3, 40, 57, 100]}, index=["c1", "c2", "c3", "Authority"])
    out = suppress(t, margins=False, total_row="Authority")
    assert out.loc["c1", "learners"] is pd.NA
    assert out.loc["c2", "learners"] is pd.NA  # smallest partner
    assert out.loc["c3", "learners"] == 57 and out.loc["Authority", "learners"] == 100


def test_rates_follow_their_counts_and_small_denominators():
    t = pd.DataFrame({
        "supports": [30, 3, 40],
        "ended_well": [3, 2, 20],
        "pct_well": [6.0, 66.7, 50.0],
        "median_days": [30.0, 12.0, 44.0],
    }, index=["x", "y", "z"])
    out = suppress(t, margins="row", count_columns=["supports", "ended_well"],
                   rate_columns={"pct_well": ("ended_well", "supports"),
                                 "median_days": (None, "supports")})
    assert out.loc["x", "pct_well"] is pd.NA  # 10% of 30 would give back 3
    assert out.loc["y", "median_days"] is pd.NA  # group of 3
    assert out.loc["x", "median_days"] == 30.0
    assert out.loc["z", "pct_well"] == 50.0
    reasons = suppression_log(out).set_index(["row", "column"])["reason"]
    assert reasons[("x", "pct_well")] == "rate"


def test_rate_mapped_to_count():
    t = pd.DataFrame({"n": [4, 30], "pct": [10.0, 20.0]}, index=["a", "b"])
    out = suppress(t, margins=False, rate_columns={"pct": "n"})
    assert out.loc["a", "pct"] is pd.NA and out.loc["b", "pct"] == 20.0


def test_zero_policy():
    t = pd.DataFrame({"a": [0, 10], "b": [12, 9]}, index=["p", "q"])
    assert suppress(t, zeros="show").loc["p", "a"] == 0
    out = suppress(t, zeros="suppress")
    assert out.loc["p", "a"] is pd.NA
    assert "zero" in set(suppression_log(out).reason)


def test_zeros_are_not_preferred_partners():
    t = pd.DataFrame({"a": [3, 20], "b": [0, 30], "c": [9, 25]}, index=["p", "q"])
    out = suppress(t)
    assert out.loc["p", "b"] == 0  # the 9 is chosen, not the zero
    assert out.loc["p", "c"] is pd.NA


def test_format_and_display():
    t = pd.DataFrame({"n": [3, 1200, 7]}, index=["a", "b", "c"])
    out = suppress(t, margins="row")
    text = format_suppressed(out)
    assert text.loc["a", "n"] == "c" and text.loc["b", "n"] == "1,200"
    view = display(out)
    assert "confidential" in view.footnote and "fewer than 5" in view.footnote
    assert "<table" in view.to_html() and "| c |" in view.to_markdown().replace("|  c", "| c")
    assert "c" in str(view)


def test_check_published_rejects_small_and_unprotected():
    with pytest.raises(DisclosureError, match="fewer than 5"):
        check_published(pd.DataFrame({"n": [3, 10]}, index=["a", "b"]))
    check_published(pd.DataFrame({"n": [0, 10]}))
    out = suppress(pd.DataFrame({"n": [3, 10, 12]}, index=list("abc")), margins="row")
    tampered = out.copy()
    tampered["n"] = tampered["n"].astype("Int64")
    tampered.loc["b", "n"] = 10  # un-hide the partner
    with pytest.raises(DisclosureError, match="recovered from the total"):
        check_published(tampered)
    with pytest.raises(DisclosureError):
        display(pd.DataFrame({"n": [2]}))


def test_suppress_long_with_and_without_across():
    data = pd.DataFrame({"cluster": ["x", "x", "y", "y", "z", "z"],
                         "level": ["universal", "intensive"] * 3,
                         "n": [30, 3, 25, 12, 40, 18]})
    out = suppress_long(data, "n", "cluster", "level")
    assert out.loc[(out.cluster == "x") & (out.level == "intensive"), "n"].isna().all()
    assert ((out.n >= 1) & (out.n < 5)).fillna(False).sum() == 0
    totals = out[out.cluster == "Total"]
    assert len(totals) == 3
    simple = suppress_long(data.groupby("cluster", as_index=False)["n"].sum().assign(
        n=[2, 37, 58]), "n", "cluster")
    assert simple.loc[simple.cluster == "x", "n"].isna().all()
    assert simple.loc[simple.cluster == "y", "n"].isna().all()
    assert int(simple.loc[simple.cluster == "Total", "n"].iloc[0]) == 97


def test_bad_input_names_column_and_row():
    with pytest.raises(DataError, match="column 'n', row b"):
        suppress(pd.DataFrame({"n": [1, -2]}, index=["a", "b"]), count_columns=["n"])
    with pytest.raises(DataError, match="fill absent counts with 0"):
        suppress(pd.DataFrame({"n": [1.0, np.nan]}), count_columns=["n"])
    with pytest.raises(DataError, match="unique"):
        suppress(pd.DataFrame({"n": [1, 2]}, index=["a", "a"]))
    with pytest.raises(DataError, match="zeros"):
        suppress(pd.DataFrame({"n": [1, 2]}), zeros="hide")
    with pytest.raises(DataError, match="not a count column"):
        suppress(pd.DataFrame({"n": [1, 2], "p": [0.5, 0.2]}), rate_columns={"p": "m"})
    with pytest.raises(DisclosureError):
        suppression_log(pd.DataFrame({"n": [1]}))


def test_one_cell_tables():
    out = suppress(pd.DataFrame({"n": [3]}, index=["a"]))
    assert out.loc["a", "n"] is pd.NA and out.loc["Total", "n"] is pd.NA
    out = suppress(pd.DataFrame({"n": [30]}, index=["a"]))
    assert out.loc["Total", "n"] == 30


# ---------------------------------------------------------------------------
# Nested groups
# ---------------------------------------------------------------------------

def _brute_force_leaks(counts: dict, groups: dict, threshold: int) -> list:
    """Every pair of groups, one inside the other, whose counts differ by 1..threshold-1."""
    out = []
    for a, b in itertools.permutations(groups, 2):
        if set(groups[b]) <= set(groups[a]) and counts[a] is not None \
                and counts[b] is not None and 1 <= counts[a] - counts[b] < threshold:
            out.append((a, b))
    return out


def test_nested_counts_merge_near_equal_nested_groups_only():
    from nlc_eval.disclosure import THRESHOLD, nested_counts

    g = {"all": range(100), "level": range(97), "cluster": range(40),
         "overlap": range(3, 101 - 3), "tiny": range(2), "equal": range(100)}
    out = nested_counts(g)
    assert out["level"] == out["all"] == 100                 # 3 short of all: merged
    assert out["cluster"] == 40 and out["equal"] == 100
    assert out["overlap"] == 95                             # inside "all", 5 short
    assert out["tiny"] == 2                                  # left to primary suppression
    assert _brute_force_leaks(out, g, THRESHOLD) == []
    # groups that overlap without one containing the other are not merged
    assert nested_counts({"a": range(0, 50), "b": range(3, 50 + 1)}) == {"a": 50, "b": 48}


def test_nested_counts_follow_chains_to_a_fixed_point():
    from nlc_eval.disclosure import nested_counts

    g = {"a": range(100), "b": range(97), "c": range(94), "d": range(80)}
    out = nested_counts(g)
    assert out == {"a": 100, "b": 100, "c": 100, "d": 80}
    assert _brute_force_leaks(out, g, 5) == []
    assert nested_counts(g, threshold=3) == {"a": 100, "b": 97, "c": 94, "d": 80}


@pytest.mark.parametrize("seed", range(30))
def test_nested_counts_leave_no_small_difference_on_random_families(seed):
    from nlc_eval.disclosure import nested_counts, nested_differences

    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 60))
    base = list(range(n))
    groups = {"all": base}
    for k in range(int(rng.integers(3, 9))):
        parent = groups[rng.choice(list(groups))]
        drop = int(rng.integers(0, 6))
        groups[f"g{k}"] = list(rng.permutation(parent)[: max(len(parent) - drop, 0)])
    out = nested_counts(groups)
    assert _brute_force_leaks(out, groups, 5) == []
    assert nested_differences(out, groups) == []
    raw = {k: len(v) for k, v in groups.items()}
    assert {(a, b) for a, b, _ in nested_differences(raw, groups)} == set(
        _brute_force_leaks(raw, groups, 5))
    # never shown smaller than the group, and unchanged where nothing nested is near
    assert all(out[k] >= raw[k] for k in groups)
    assert all(out[k] == raw[k] for k in groups
               if not any(1 <= abs(raw[k] - raw[j]) < 5 for j in groups))


def test_hidden_members_of_a_shown_total_never_add_up_to_a_small_group():
    # the total minus the shown cells is the hidden cells' sum: a group count, which must be
    # 0 or at least the threshold. Checked on random tables by summing what was hidden.
    from nlc_eval.disclosure import THRESHOLD

    rng = np.random.default_rng(5)
    seen_small_sums = 0
    for _ in range(300):
        n, k = int(rng.integers(2, 7)), int(rng.integers(1, 4))
        vals = rng.choice([0, 1, 2, 3, 4, 5, 6, 9, 20, 40], size=(n, k),
                          p=[.1, .15, .15, .1, .1, .1, .1, .1, .05, .05])
        t = pd.DataFrame(vals, index=[f"r{i}" for i in range(n)],
                         columns=[f"c{j}" for j in range(k)])
        out = suppress(t, margins="row", count_columns=list(t.columns))
        for col in t.columns:
            hidden = out.loc[t.index, col].isna()
            if out.loc["Total", col] is pd.NA or pd.isna(out.loc["Total", col]):
                continue
            group = int(t.loc[hidden, col].sum())
            seen_small_sums += int(hidden.sum() >= 2)
            assert group == 0 or group >= THRESHOLD, (t, out, col)
            assert int(out.loc["Total", col]) == int(t[col].sum())
    assert seen_small_sums > 50       # the check met many columns with several hidden cells
