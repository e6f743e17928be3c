"""Funnel plots of ACEL judgements: limits, over-dispersion, flag rates, sections.

Limits are checked against scipy.stats.binom computed here, the over-dispersion estimate
against Spiegelhalter's formulas written out by hand and against statsmodels'
DerSimonian-Laird estimate, and the flag rates against simulated schools whose true rates
are known.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from scipy.special import expit, logit

from nlc_eval import acel_consistency as ac
from nlc_eval import plots
from nlc_eval.errors import DataError


def simulate(seed: int, *, groups: int = 40, schools: int = 150, sd: float = 0.0,
             shifted: float = 0.0, shift: float = 0.0, n_range=(15, 150)) -> pd.DataFrame:
    """Schools with known true rates: logit(p) = logit(p0) + N(0, sd); a share ``shifted``
    of schools is moved by ``shift`` on the share scale (out of control)."""
    rng = np.random.default_rng(seed)
    parts = []
    for g in range(groups):
        p0 = rng.uniform(0.65, 0.85)
        n = rng.integers(*n_range, schools)
        p = expit(logit(p0) + rng.normal(0, sd, schools)) if sd else np.full(schools, p0)
        out = rng.random(schools) < shifted
        p = np.where(out, np.clip(p + shift, 0, 1), p)
        parts.append(pd.DataFrame({
            "seed_code": [f"s{i}" for i in range(schools)], "year": 2000 + g,
            "stage": "P4", "organiser": "reading", "assessed": n,
            "achieved": rng.binomial(n, p), "expected": p0, "in_control": ~out}))
    return pd.concat(parts, ignore_index=True)


def rates(res: ac.FunnelResult, mask=None) -> tuple[float, float]:
    s = res.schools if mask is None else res.schools[mask]
    return float(s["outside_95"].mean()), float(s["outside_998"].mean())


# ---------------------------------------------------------------------------
# Limits against scipy.stats.binom
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("n,t", [(8, 0.8), (25, 0.7), (60, 0.85), (150, 0.6), (400, 0.75)])
@pytest.mark.parametrize("level", [0.95, 0.998])
def test_exact_limits_are_the_mid_p_binomial_limits(n, t, level):
    a = (1 - level) / 2
    k = np.arange(n + 1)
    upper_tail = stats.binom.sf(k, n, t) + 0.5 * stats.binom.pmf(k, n, t)
    lower_tail = stats.binom.cdf(k - 1, n, t) + 0.5 * stats.binom.pmf(k, n, t)
    above_scipy = upper_tail < a
    below_scipy = lower_tail < a
    lo, hi = ac.exact_limits(n, t, level)
    assert np.array_equal(k / n > hi, above_scipy)
    assert np.array_equal(k / n < lo, below_scipy)
    # flagged through the funnel exactly when scipy's mid-p tail is below (1 - level) / 2
    z = ac.mid_p_z(k, np.full(k.shape, n), np.full(k.shape, t))
    zl = stats.norm.ppf(1 - a)
    assert np.array_equal(z > zl, above_scipy)
    assert np.array_equal(z < -zl, below_scipy)
    # and within two pupils of Spiegelhalter's interpolated limits from binom.ppf
    r = stats.binom.ppf(1 - a, n, t)
    f, f1 = stats.binom.cdf(r, n, t), stats.binom.cdf(r - 1, n, t)
    spiegel_hi = (r - (f - (1 - a)) / (f - f1)) / n
    if r < n:
        assert abs(hi - spiegel_hi) <= 2 / n


def test_exact_limits_cannot_flag_a_full_small_school():
    # 10 of 10 at a target of 90% happens 35% of the time: never above the 99.8% limit
    lo, hi = ac.exact_limits(10, 0.9, 0.998)
    assert hi == 1.0 and 1.0 > lo
    d = pd.DataFrame({"seed_code": [str(i) for i in range(12)], "year": 2023, "stage": "P1",
                      "organiser": "reading", "assessed": 10, "achieved": [10] + [9] * 11})
    res = ac.funnel(d, method="none")
    assert not res.schools["outside_998"].any()


# ---------------------------------------------------------------------------
# Over-dispersion against hand computation and statsmodels
# ---------------------------------------------------------------------------

def test_overdispersion_matches_spiegelhalter_by_hand():
    z = np.array([-3.1, -1.7, -1.2, -0.8, -0.5, -0.3, -0.1, 0.0, 0.2, 0.4,
                  0.6, 0.7, 0.9, 1.1, 1.3, 1.5, 1.8, 2.2, 2.9, 4.5])
    s = np.linspace(0.03, 0.12, 20)
    # 10th and 90th percentiles by linear interpolation (h = (I - 1) p): h = 1.9 and 17.1
    zs = np.sort(z)
    p10 = zs[1] + 0.9 * (zs[2] - zs[1])
    p90 = zs[17] + 0.1 * (zs[18] - zs[17])
    zw = np.array([min(max(v, p10), p90) for v in z])
    phi = sum(v * v for v in zw) / 20
    w = 1 / s**2
    tau2 = max(0.0, (20 * phi - 19) / (w.sum() - (w**2).sum() / w.sum()))
    r = ac.overdispersion(z, s, winsor=0.1, consistent=False)
    assert r["phi"] == pytest.approx(phi, rel=1e-12)
    assert r["phi_winsorised"] == pytest.approx(phi, rel=1e-12)
    assert r["tau2"] == pytest.approx(tau2, rel=1e-12)
    assert r["p_value"] == pytest.approx(stats.chi2.sf(20 * phi, 19))
    c = ac.overdispersion(z, s, winsor=0.1)
    assert c["phi"] == pytest.approx(phi / c["consistency"])


def test_winsor_consistency_against_numerical_integration():
    for f in (0.05, 0.1, 0.2):
        q = stats.norm.ppf(1 - f)
        inner = integrate.quad(lambda v: v * v * stats.norm.pdf(v), -q, q)[0]
        assert ac.winsor_consistency(f) == pytest.approx(inner + 2 * f * q * q, rel=1e-8)
    assert ac.winsor_consistency(0) == 1.0


def test_additive_tau2_is_dersimonian_laird_of_statsmodels():
    from statsmodels.stats.meta_analysis import combine_effects

    d = simulate(3, groups=1, schools=60, sd=0.4)
    res = ac.funnel(d, target="authority", method="additive", winsor=0, consistent=False)
    y = d["achieved"] / d["assessed"]
    t = d["achieved"].sum() / d["assessed"].sum()
    v = t * (1 - t) / d["assessed"]
    dl = combine_effects(y.to_numpy(), v.to_numpy(), method_re="dl")
    assert res.dispersion["tau2"].iloc[0] == pytest.approx(max(dl.tau2, 0.0), rel=1e-9)
    z = (y - t) / np.sqrt(v + res.dispersion["tau2"].iloc[0])
    assert np.allclose(res.schools["z_adjusted"], z)


# ---------------------------------------------------------------------------
# Simulated schools with known true rates
# ---------------------------------------------------------------------------

def test_in_control_schools_exact_limits_flag_at_nominal_rates():
    res = ac.funnel(simulate(11), method="none")
    r95, r998 = rates(res)
    assert 0.04 <= r95 <= 0.06, r95
    assert 0.0005 <= r998 <= 0.0045, r998


@pytest.mark.parametrize("target", ["authority", "simd"])
def test_over_dispersed_in_control_schools_flag_at_nominal_rates(target):
    d = simulate(12, sd=0.3)
    res = ac.funnel(d, target=target, method="additive")
    r95, r998 = rates(res)
    assert 0.04 <= r95 <= 0.06, r95
    assert 0.0005 <= r998 <= 0.0045, r998
    assert (res.dispersion["tau2"] > 0).mean() > 0.9
    # without allowing for over-dispersion ordinary variation is flagged far too often
    r95_none, _ = rates(ac.funnel(d, target=target, method="none"))
    assert r95_none > 0.1
    # and the published winsorised phi, uncorrected, leaves limits too narrow
    r95_raw, _ = rates(ac.funnel(d, target=target, method="additive", consistent=False))
    assert r95_raw > 0.07


def test_multiplicative_adjustment_flags_at_nominal_rate():
    r95, r998 = rates(ac.funnel(simulate(13, sd=0.3), method="multiplicative"))
    assert 0.035 <= r95 <= 0.065, r95
    assert r998 <= 0.006


def test_out_of_control_schools_are_found_and_in_control_ones_are_not():
    d = simulate(14, sd=0.25, shifted=0.05, shift=-0.25, n_range=(40, 150))
    res = ac.funnel(d, method="additive")
    inc = d["in_control"].to_numpy()
    r95, r998 = rates(res, inc)
    # the out-of-control schools widen the limits a little: in-control rate at most nominal
    assert 0.02 <= r95 <= 0.06, r95
    assert r998 <= 0.006
    found = res.schools.loc[~inc, "outside_95"].mean()
    assert found > 0.8, found
    assert (res.schools.loc[~inc & res.schools["outside_95"].to_numpy(), "z_adjusted"] < 0).all()


# ---------------------------------------------------------------------------
# Positions, limits, publishing
# ---------------------------------------------------------------------------

def test_a_school_is_outside_the_drawn_limits_exactly_when_flagged():
    for method in ac.METHODS:
        for target in ac.TARGETS:
            s = ac.funnel(simulate(15, groups=3, sd=0.3), target=target,
                          method=method).schools
            outside = (s["plotted"] > s["high_95"]) | (s["plotted"] < s["low_95"])
            assert np.array_equal(outside.to_numpy(), s["outside_95"].to_numpy()), \
                (method, target)
            outside = (s["plotted"] > s["high_998"]) | (s["plotted"] < s["low_998"])
            assert np.array_equal(outside.to_numpy(), s["outside_998"].to_numpy())


def test_small_groups_are_not_adjusted_and_say_so():
    d = simulate(16, groups=1, schools=ac.MIN_SCHOOLS - 1, sd=0.5)
    res = ac.funnel(d)
    assert not res.dispersion["adjusted"].iloc[0]
    assert "too few" in res.dispersion["adjustment"].iloc[0]


def test_publishable_hides_shares_that_give_a_small_count_away():
    d = pd.DataFrame({"seed_code": list("abcdefghijkl"), "year": 2023, "stage": "P1",
                      "organiser": "numeracy",
                      "assessed": [3, 20, 20, 20, 40, 40, 40, 40, 40, 40, 40, 40],
                      "achieved": [3, 17, 20, 3, 30, 31, 29, 28, 30, 32, 27, 30]})
    pub = ac.funnel(d).publishable()
    shown = dict(zip(pub["seed_code"], pub["shown"], strict=True))
    assert not shown["a"]          # 3 assessed
    assert not shown["b"]          # 3 did not achieve
    assert shown["c"]              # 0 did not achieve: a zero is not disclosive
    assert not shown["d"]          # 3 achieved
    assert all(shown[k] for k in "efghijkl")
    hidden = pub[~pub["shown"]]
    assert hidden[["share", "plotted", "z", "z_adjusted"]].isna().all().all()
    assert hidden["position"].isna().all()
    assert pd.isna(pub.loc[pub["seed_code"] == "a", "assessed"].item())


def test_bad_input_raises_the_kits_errors():
    d = simulate(17, groups=1, schools=12)
    with pytest.raises(DataError, match="method"):
        ac.funnel(d, method="bayes")
    with pytest.raises(DataError, match="target"):
        ac.funnel(d, target="national")
    with pytest.raises(DataError, match="achieved"):
        ac.funnel(d.assign(achieved=d["assessed"] + 1))
    with pytest.raises(DataError, match="assessed"):
        ac.funnel(d.drop(columns="assessed"))
    with pytest.raises(DataError, match="expected"):
        ac.funnel(d.drop(columns="expected"), target="simd")
    with pytest.raises(DataError, match="twice"):
        ac.funnel(pd.concat([d, d.iloc[:1]]))
    with pytest.raises(DataError, match="one session"):
        ac.year_to_year(d)
    with pytest.raises(DataError, match="no ACEL judgement"):
        ac.pupil_counts(pd.DataFrame({"pupil_id": ["p"], "year": [2023], "organiser": ["art"],
                                      "on_track": [True]}),
                        pd.DataFrame({"pupil_id": ["p"], "year": [2023], "seed_code": ["1"],
                                      "stage": ["P1"]}))
    with pytest.raises(DataError, match="organiser"):
        ac.official_counts(pd.DataFrame({"seed_code": ["1"], "stage": ["S3"],
                                         "organiser": ["Art"], "n_pupils": [50],
                                         "actual": [80.0], "expected": [75.0]})
                           .pipe(lambda f: f.__setattr__("attrs", {"acel_model": {
                               "session": "2021/22"}}) or f))


# ---------------------------------------------------------------------------
# Year to year
# ---------------------------------------------------------------------------

def test_year_to_year_flags_planted_moves_at_nominal_rates_otherwise():
    rng = np.random.default_rng(21)
    schools, sessions = 400, 3
    n = rng.integers(20, 120, (sessions, schools))
    base = expit(logit(0.75) + rng.normal(0, 0.3, schools))
    p = np.clip(base + rng.normal(0, 0.02, (sessions, schools)), 0, 1)
    moved = np.zeros(schools, bool)
    moved[:20] = True
    p[2, moved] = np.clip(p[1, moved] - 0.3, 0, 1)
    x = rng.binomial(n, p)
    d = pd.DataFrame({"seed_code": np.tile([f"s{i}" for i in range(schools)], sessions),
                      "year": np.repeat(2021 + np.arange(sessions), schools), "stage": "P7",
                      "organiser": "writing", "assessed": n.ravel(), "achieved": x.ravel()})
    ch = ac.year_to_year(d)
    c = ch.changes
    assert set(c["year"]) == {2022, 2023}
    moved_rows = c["seed_code"].isin([f"s{i}" for i in range(20)]).to_numpy() & (
        c["year"] == 2023).to_numpy()
    # a fall of 30 points is found in most schools (cohorts of 20 to 120 pupils)
    assert c.loc[moved_rows, "outside_95"].mean() > 0.6
    r95 = c.loc[~moved_rows, "outside_95"].mean()
    assert 0.02 <= r95 <= 0.07, r95
    # the change and its standard error, written out for one school
    row = c.iloc[0]
    n0, x0 = row["assessed_before"], row["achieved_before"]
    n1, x1 = row["assessed"], row["achieved"]
    pp = (x0 + x1 + 0.5) / (n0 + n1 + 1)
    z = (x1 / n1 - x0 / n0 - row["target_change"]) / np.sqrt(pp * (1 - pp) * (1 / n0 + 1 / n1))
    assert row["z"] == pytest.approx(z)


# ---------------------------------------------------------------------------
# Figures, pupil records and the report section
# ---------------------------------------------------------------------------

def test_figure_colours_contrast_and_alt_text_from_data():
    for colour in (plots.BASE, plots.PALETTE[1], plots.PALETTE[2], plots.REFERENCE):
        assert plots.contrast(colour, plots.BACKGROUND) >= 3
    assert plots.contrast(plots.HIGHLIGHT, plots.BACKGROUND) >= 3
    import matplotlib

    matplotlib.use("Agg")
    d = simulate(18, groups=1, schools=40, sd=0.5)
    d["school_name"] = "School " + d["seed_code"]
    res = ac.funnel(d)
    fig = ac.funnel_figure(res, "P4", 2000, highlight="s1")
    axes = [a for a in fig.axes if a.get_visible()]
    assert len(axes) == 1
    markers = {c.get_paths()[0].vertices.shape for c in axes[0].collections}
    assert len(markers) >= 2                     # shapes, not colour alone
    alt = ac.funnel_alt_text(res, "P4", 2000, highlight="s1", caption="Reading")
    row = res.schools[res.schools["seed_code"] == "s1"].iloc[0]
    assert f"School s1 (highlighted) {100 * row['plotted']:.1f}%, {row['position']}" in alt
    assert f"{100 * res.dispersion['target_mean'].iloc[0]:.1f}%" in alt
    n_above = int(res.schools["position"].str.startswith("above").sum())
    assert f"{n_above} above" in alt
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_pupil_counts_from_records():
    att = pd.DataFrame({"pupil_id": ["a", "b", "c", "a", "d"], "year": 2023,
                        "organiser": ["reading", "reading", "reading", "numeracy", "reading"],
                        "on_track": pd.array([True, False, True, True, None],
                                             dtype="boolean")})
    pup = pd.DataFrame({"pupil_id": ["a", "b", "c", "d"], "year": 2023,
                        "seed_code": ["1", "1", "2", "2"], "stage": ["P4", "P4", "P4", "P5"]})
    c = ac.pupil_counts(att, pup).set_index(["seed_code", "organiser"])
    assert c.loc[("1", "reading"), "assessed"] == 2
    assert c.loc[("1", "reading"), "achieved"] == 1
    assert c.loc[("2", "reading"), "assessed"] == 1     # d is in P5 and not judged
    assert c.loc[("1", "numeracy"), "achieved"] == 1


@pytest.fixture(scope="module")
def ctx():
    from nlc_eval.reports.context import build_context

    return build_context(None, None, seed=0, families=False, models=False)


def test_authority_section_tables_are_safe_to_publish(ctx):
    from nlc_eval.reports.sections import consistency as cons

    sec = cons.funnels(ctx, highlight=[ctx.schools["seed_code"].iloc[0]])
    assert "not a verdict" in sec.text
    assert {"funnel_p1", "funnel_p4", "funnel_p7", "funnel_s3"} <= set(sec.figures)
    flagged = sec.tables["flagged"].data
    n = flagged["Pupils assessed (ACEL)"].astype(float)
    k = (flagged["% achieving expected level"].astype(float) / 100 * n).round()
    assert ((k == 0) | (k >= 5)).all() and ((n - k == 0) | (n - k >= 5)).all()
    for f in sec.figures.values():
        data = f.data
        n = data["Pupils assessed (ACEL)"].astype(float)
        for col in [c for c in data.columns if c.endswith(" %")
                    and "expected" not in c]:
            share = data[col].astype(float)
            k = (share / 100 * n).round()
            ok = share.isna() | (((k == 0) | (k >= 5)) & ((n - k == 0) | (n - k >= 5)))
            assert ok.all(), col
    assert sec.results["outside_95"] >= sec.results["outside_998"]
    ch = cons.changes(ctx)
    assert ch.results["changes"] > 0


def test_authority_page_section_renders(ctx):
    import matplotlib

    matplotlib.use("Agg")
    from nlc_eval.reports import present
    from nlc_eval.reports.sections import consistency as cons

    present.start("test-consistency")
    sec = cons.funnels(ctx)
    sec.show_figure("funnel_p4")
    sec.show_table("flagged")
    assert present.state()["figures"] == 1


def test_official_acel_file_against_simd_expectation(official_dir: Path):
    from nlc_eval.acel_model import expected_acel
    from nlc_eval.data import official

    d = official_dir
    acel = official.load_acel(d)
    census = official.load_school_statistics(d, years=2021)
    exp = expected_acel(acel, census, bands="midpoint", publish=False)
    counts = ac.official_counts(exp)
    res = ac.funnel(counts, target="simd", local_authority="North Lanarkshire")
    s = res.schools
    assert set(s["local_authority"]) == {"North Lanarkshire"}
    assert set(s["stage"]) == {"P1, P4 and P7", "S3"}
    assert len(res.dispersion) == 8
    # Scottish schools differ far more than binomial chance: phi well above 1 everywhere
    assert (res.dispersion["phi"] > 2).all()
    assert (res.dispersion["schools_in_estimate"] > 200).all()
    # the adjusted z-score, written out for one school
    row = s.iloc[0]
    g = res.dispersion[(res.dispersion["stage"] == row["stage"])
                       & (res.dispersion["organiser"] == row["organiser"])].iloc[0]
    t, n = row["target"], row["assessed"]
    assert row["z_adjusted"] == pytest.approx(
        (row["share"] - t) / np.sqrt(t * (1 - t) / n + g["tau2"]))
    # after the adjustment a few, not most, of the authority's results are outside
    r95 = s["outside_95"].mean()
    assert 0.01 < r95 < 0.2
    unadjusted = ac.funnel(counts, target="simd", method="none",
                           local_authority="North Lanarkshire").schools["outside_95"].mean()
    assert unadjusted > 2 * r95
    pub = res.publishable()
    assert pub["shown"].mean() > 0.9
