"""Tests of nlc_eval.tracking: hand-computed cases and the synthetic authority."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nlc_eval import tracking
from nlc_eval.data.synthetic import authority
from nlc_eval.disclosure import check_published, suppression_log
from nlc_eval.errors import DataError, DisclosureError

PERIOD = ("2024-08-01", "2024-12-31")


def _supports(rows):
    cols = ["support_id", "pupil_id", "cluster", "provider", "level", "driver", "start_date",
            "end_date", "status", "sessions_planned", "sessions_attended"]
    df = pd.DataFrame(rows, columns=cols)
    df["start_date"] = pd.to_datetime(df["start_date"])
    df["end_date"] = pd.to_datetime(df["end_date"])
    return df


def _hand_table() -> pd.DataFrame:
    """Cluster A: 12 supports for 10 pupils, cluster B: 8 supports for 8 pupils, plus
    supports outside the period that must not count."""
    rows = []
    k = 0
    for i in range(12):  # cluster A
        pupil = f"a{i % 10}"
        level = ["universal", "additional", "intensive"][i % 3]
        status = "ended_successful" if i < 6 else ("ended_other" if i < 9 else "ongoing")
        end = "2024-10-31" if status != "ongoing" else None
        rows.append([f"S{k}", pupil, "A", "ciil" if i < 4 else "partner", level, "wellbeing",
                     "2024-09-01", end, status, 10, 8])
        k += 1
    for i in range(8):  # cluster B
        status = "ended_successful" if i < 2 else "ended_other"
        rows.append([f"S{k}", f"b{i}", "B", "cluster_support_teacher", "additional",
                     "attainment", "2024-08-20", "2025-02-01", status, 5, 5])
        k += 1
    # outside the period: ended before it / started after it
    rows.append([f"S{k}", "z1", "A", "ciil", "universal", "wellbeing", "2023-09-01",
                 "2024-06-30", "ended_successful", 4, 4])
    rows.append([f"S{k + 1}", "z2", "B", "ciil", "universal", "wellbeing", "2025-01-10",
                 None, "ongoing", 4, 4])
    return _supports(rows)


def test_summary_by_hand():
    table = tracking.support_summary(_hand_table(), period=PERIOD, publish=False)
    a, b, auth = table.loc["A"], table.loc["B"], table.loc["Authority"]
    assert (a["learners"], a["supports"]) == (10, 12)
    assert (a["universal"], a["additional"], a["intensive"]) == (4, 4, 4)
    assert (a["ended_successfully"], a["ended_otherwise"], a["ongoing"]) == (6, 3, 3)
    assert a["attendance_pct"] == pytest.approx(80.0)
    assert a["success_pct"] == pytest.approx(50.0)
    assert a["median_days"] == 60  # 1 Sept to 31 Oct
    assert (b["learners"], b["supports"], b["sessions_planned"]) == (8, 8, 40)
    assert b["attendance_pct"] == pytest.approx(100.0)
    assert (auth["learners"], auth["supports"]) == (18, 20)
    assert auth["success_pct"] == pytest.approx(40.0)
    assert auth["attendance_pct"] == pytest.approx(100 * (96 + 40) / (120 + 40))
    assert a["attendance_vs_authority"] == pytest.approx(80.0 - auth["attendance_pct"])
    # Wilson interval around 50% of 12
    assert a["success_pct_low"] == pytest.approx(25.4, abs=0.1)
    assert a["success_pct_high"] == pytest.approx(74.6, abs=0.1)
    # status as it stood at the period end: cluster B's supports ended in February
    at_end = tracking.support_summary(_hand_table(), period=PERIOD, publish=False,
                                      status="at_period_end")
    assert at_end.loc["B", "ongoing"] == 8 and at_end.loc["B", "ended_successfully"] == 0


def test_summary_published_hides_small_counts_and_their_partners():
    table = tracking.support_summary(_hand_table(), period=PERIOD)
    check_published(table)
    # cluster B: 2 ended successfully -> hidden, and so is its partner in the row relation
    assert table.loc["B", "ended_successfully"] is pd.NA
    assert table.loc["B", "success_pct"] is pd.NA
    log = suppression_log(table)
    assert {"primary", "secondary"} <= set(log.reason)
    # the authority total stays visible; session counts of groups of 5+ are shown
    assert table.loc["Authority", "supports"] == 20
    assert table.loc["B", "sessions_planned"] == 40


def test_headline_by_hand_and_refusal():
    h = tracking.headline(_hand_table(), period=PERIOD)
    assert h["learners_supported"] == 18
    assert h["learners_cst_or_ciil"] == 12  # a0..a3 (ciil) + b0..b7
    assert h["sessions_additional_intensive"] == 8 * 10 + 8 * 5
    assert h["attendance_pct"] == pytest.approx(100 * (64 + 40) / (80 + 40))
    assert "18 learners" in h["sentence"] and "95% interval" in h["sentence"]
    small = _hand_table().iloc[:3]
    with pytest.raises(DisclosureError, match="fewer than 5"):
        tracking.headline(small, period=PERIOD)


def test_trend_by_hand():
    trend = tracking.support_trend(_hand_table(), by="cluster", period=PERIOD, publish=False)
    assert trend.loc["2024-09", "A"] == 12 and trend.loc["2024-08", "B"] == 8
    assert trend.to_numpy().sum() == 20
    active = tracking.support_trend(_hand_table(), period=PERIOD, measure="active",
                                    publish=False)
    assert active.loc["2024-08", "Authority"] == 8
    assert active.loc["2024-10", "Authority"] == 20
    assert active.loc["2024-11", "Authority"] == 3 + 8
    ended = tracking.support_trend(_hand_table(), period=PERIOD,
                                   measure="ended_successfully", publish=False)
    assert ended.loc["2024-10", "Authority"] == 6
    published = tracking.support_trend(_hand_table(), by="cluster", period=PERIOD)
    check_published(published)
    assert published.loc["Total", "Total"] == 20


def test_bad_input():
    t = _hand_table()
    with pytest.raises(DataError, match="column 'level'"):
        tracking.support_summary(t.assign(level="lots"), period=PERIOD)
    with pytest.raises(DataError, match="sessions_attended"):
        tracking.support_summary(t.assign(sessions_attended=99), period=PERIOD)
    with pytest.raises(DataError, match="needs the pupils table"):
        tracking.support_summary(t, by="school", period=PERIOD)
    with pytest.raises(DataError, match="missing columns"):
        tracking.support_summary(t.drop(columns="status"))
    with pytest.raises(DataError, match="grouping"):
        tracking.support_summary(t, by="colour")
    with pytest.raises(DataError, match="ends before"):
        tracking.support_summary(t, period=("2025-01-01", "2024-01-01"))


@pytest.fixture(scope="module")
def synth():
    return authority(seed=0)


def test_synthetic_headline_reads_like_published(synth):
    """Published (Aug-Dec): 1,531 learners supported; 956 by cluster support teachers or
    CIILs; 2,442 sessions at additional or intensive level with 84% attendance; 39% ended
    successfully."""
    h = tracking.headline(synth.supports)
    assert h["period"] == ("2024-08-01", "2024-12-31")
    assert abs(h["learners_supported"] - 1531) / 1531 < 0.15
    assert abs(h["learners_cst_or_ciil"] - 956) / 956 < 0.15
    assert abs(h["sessions_additional_intensive"] - 2442) / 2442 < 0.15
    assert abs(h["attendance_pct"] - 84) < 4
    assert abs(h["success_pct"] - 39) < 5
    lo, hi = h["attendance_ci"]
    assert lo < h["attendance_pct"] < hi


def test_synthetic_summary_is_consistent_and_safe(synth):
    raw = tracking.support_summary(synth.supports, publish=False)
    clusters = raw.drop(index="Authority")
    assert len(clusters) == synth.schools["cluster"].nunique()
    for col in ("supports", "sessions_planned", "ended_successfully"):
        assert clusters[col].sum() == raw.loc["Authority", col]
    assert (raw["universal"] + raw["additional"] + raw["intensive"] == raw["supports"]).all()
    h = tracking.headline(synth.supports)
    assert raw.loc["Authority", "learners"] == h["learners_supported"]
    for by in ("cluster", "driver", "level", "provider"):
        check_published(tracking.support_summary(synth.supports, by=by))
    school = tracking.support_summary(synth.supports, by="school", pupils=synth.pupils)
    check_published(school)
    small = school["learners"].isna()
    assert small.any()  # small schools are hidden ...
    assert school.loc[small, "sessions_planned"].isna().all()  # ... with all their counts


def test_synthetic_driver_measures(synth):
    d = tracking.driver_measures(synth)
    check_published(d)
    auth = d.loc["Authority"]
    year = d.attrs["year"]
    # independent check of the authority attendance rate
    att = synth.attendance[synth.attendance["year"] == year]
    ids = synth.pupils.loc[synth.pupils["year"] == year, "pupil_id"]
    att = att[att["pupil_id"].isin(ids)]
    expected = 100 * att["attended_sessions"].sum() / att["possible_sessions"].sum()
    assert auth["attendance_pct"] == pytest.approx(expected, abs=1e-6)
    assert auth["attendance_pct_low"] < auth["attendance_pct"] < auth["attendance_pct_high"]
    # supported pupils (selected on need) attend less than the authority as a whole
    assert auth["attendance_supported_pct"] < auth["attendance_pct"]
    # literacy: on track in all three organisers, so no higher than reading alone
    read = synth.attainment[(synth.attainment["year"] == year)
                            & (synth.attainment["organiser"] == "reading")]["on_track"]
    assert auth["literacy_pct"] <= 100 * read.dropna().astype(float).mean() + 1e-9
    assert set(d.attrs["not_measured"]) == set(tracking.DRIVERS)
    raw = tracking.driver_measures(synth, publish=False)
    assert (raw["literacy_on_track"] + raw["literacy_not_on_track"]
            == raw["literacy_assessed"]).all()
    assert np.isfinite(raw["exclusions_per_1000"]).all()
