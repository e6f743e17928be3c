"""The SIMD profile figure never lets a reader work out a hidden 1-4 pupils.

A row of the figure's data is a school's shares of pupils in SIMD quintiles 1-5, which add up
to 100%; the profile table beside it prints the quintile 1 count and share, so the denominator
is known. 100 minus the shown shares, times that denominator, is then the number hidden.
"""
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from nlc_eval.reports import measures
from nlc_eval.reports.sections._common import simd_figure_data


def _frames(rows, also_hidden=()):
    """Frames for ``simd_figure_data``; ``also_hidden``: (row, quintile) the profile table hides
    to protect another cell (a complementary cell, 5 or more pupils)."""
    names = [f"School {i}" for i in range(len(rows))]
    schools = pd.DataFrame({"school_name": names, "seed_code": [str(1000 + i) for i in
                                                                range(len(rows))]})
    counts = np.array(rows, dtype=float)
    total = counts.sum(axis=1)
    for q in range(5):
        schools[f"simd_q{q + 1}"] = counts[:, q]
        schools[f"simd_q{q + 1}_share"] = counts[:, q] / total
    prof = pd.DataFrame(index=names)
    for q in (1, 5):
        c = counts[:, q - 1]
        pct = np.round(100 * c / total, 1)
        extra = np.array([(r, q) in set(also_hidden) for r in range(len(rows))], dtype=bool)
        prof[measures.label(f"simd_q{q}_pct")] = np.where((c >= 1) & (c < 5) | extra, np.nan,
                                                          pct)
    return prof, schools, counts


def _attack(fig, counts):
    """What a reader can work out from the published numbers: the pupils hidden per row."""
    out = []
    shares = fig[[f"simd_q{q}_share" for q in range(1, 6)]].to_numpy(dtype=float)
    for r in range(len(fig)):
        hidden = np.isnan(shares[r])
        if not hidden.any():
            out.append((0, 0.0))
            continue
        q1 = counts[r, 0]  # the profile table prints it (when not hidden there)
        pct = shares[r, 0]
        denom = q1 / (pct / 100) if np.isfinite(pct) and pct > 0 else np.nan
        out.append((int(counts[r, hidden].sum()), (100 - np.nansum(shares[r])) / 100 * denom))
    return out


def test_single_hidden_quintile_is_protected_by_a_second():
    # a family page of the demo: 73 / 35 / 17 / 21 / 3 pupils; quintile 5 (3) hidden
    prof, schools, counts = _frames([[73, 35, 17, 21, 3], [90, 60, 18, 22, 9]])
    fig = simd_figure_data(prof, schools)
    row = fig.iloc[0]
    assert np.isnan(row["simd_q5_share"])
    hidden_pupils, derived = _attack(fig, counts)[0]
    assert hidden_pupils >= 5, "a second quintile must be hidden with quintile 5"
    assert not (1 <= round(derived) <= 4)
    # the other school hides nothing and shows every share
    assert fig.iloc[1][[f"simd_q{q}_share" for q in range(1, 6)]].notna().all()
    # quintile 3 (17 pupils, the smallest shown of quintiles 2-4) is the one added
    assert np.isnan(row["simd_q3_share"]) and row["simd_q2_share"] == 23.5


def test_a_cell_the_table_hides_to_protect_another_is_not_given_by_the_other_shares():
    # a cluster page of the demo: the table hides quintile 5 (9 pupils) to protect a small
    # count elsewhere in its column; with quintiles 1-4 shown, 100 - 95.5 = 4.5% = 9 pupils
    prof, schools, counts = _frames([[90, 60, 18, 22, 9]], also_hidden=[(0, 5)])
    fig = simd_figure_data(prof, schools)
    shares = fig[[f"simd_q{q}_share" for q in range(1, 6)]].iloc[0]
    assert shares.isna().sum() == 2
    assert np.isnan(shares["simd_q5_share"]) and np.isnan(shares["simd_q3_share"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.integers(0, 40), min_size=5, max_size=5), min_size=1, max_size=8),
       st.lists(st.tuples(st.integers(0, 7), st.sampled_from([1, 5])), max_size=4))
def test_no_row_gives_away_a_small_hidden_total(rows, also_hidden):
    rows = [r for r in rows if sum(r) > 0]
    if not rows:
        return
    prof, schools, counts = _frames(rows, also_hidden)
    fig = simd_figure_data(prof, schools)
    shares = fig[[f"simd_q{q}_share" for q in range(1, 6)]].to_numpy(dtype=float)
    for r, (hidden_pupils, _) in enumerate(_attack(fig, counts)):
        small = (counts[r] >= 1) & (counts[r] < 5)
        # every 1-4 count is hidden
        assert np.isnan(shares[r][small]).all()
        if np.isnan(shares[r, 1:4]).all():
            continue  # nothing left to hide in the figure (the table shows quintiles 1, 5)
        assert hidden_pupils == 0 or hidden_pupils >= 5, (rows[r], shares[r])
        # a single hidden share is 100 minus the others: never the only one in its row
        assert np.isnan(shares[r]).sum() != 1, (rows[r], shares[r])
