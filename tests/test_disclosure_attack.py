"""An attacker against published pages: can a count of 1-4 pupils be worked out?

The attacker here is written independently of the publication gate: it reads a page with its
own parser and, by brute force, tries exactly the derivations the gate is meant to stop --
a count of people times a share shown beside it (in a sentence, or in rows of the page's
tables with the same row header), and a table's total minus its visible cells. Hand-made
pages that leak must be caught by both the attacker and the gate; pages rendered from
suppressed tables (and from the report sections' own profile table) must give the attacker
nothing, and pass the gate.
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from nlc_eval.disclosure import suppress
from nlc_eval.reports import present
from nlc_eval.reports.publication import PublicationCheck

THRESHOLD = 5


# ---------------------------------------------------------------------------
# The attacker
# ---------------------------------------------------------------------------

def _num(text: str):
    t = text.replace(",", "").replace("%", "").strip()
    try:
        return float(t)
    except ValueError:
        return None


def _counts_from_share(n: int, share: str) -> set[int]:
    """Every whole k of n whose share, printed as the page prints it, reads ``share``."""
    decimals = len(share.split(".")[1]) if "." in share else 0
    return {k for k in range(0, n + 1) if f"{100 * k / n:.{decimals}f}" == share}


def _leaks(ks: set[int]) -> bool:
    return bool(ks) and all(1 <= k < THRESHOLD for k in ks)


def _page_tables(soup):
    out = []
    for table in soup.find_all("table"):
        head = [th.get_text(" ", strip=True) for th in table.find("thead").find_all("th")]
        rows = [[c.get_text(" ", strip=True) for c in tr.find_all(["th", "td"])]
                for tr in table.find("tbody").find_all("tr")]
        out.append((head, rows))
    return out


def attack(html: str) -> list[str]:
    """Every small count the attacker can work out from the page."""
    soup = BeautifulSoup(html, "html.parser")
    leaks = []
    # 1. a count of people and a share in one sentence
    for p in soup.find_all("p"):
        if p.find_parent("table"):
            continue
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z])", p.get_text(" ", strip=True)):
            ns = [int(m.replace(",", "")) for m in
                  re.findall(r"(\d[\d,]*)\s+(?:\w+\s+)?(?:pupils|learners)", sentence)]
            shares = re.findall(r"(\d+(?:\.\d+)?)%", sentence)
            for n, s in itertools.product(ns, shares):
                if n and _leaks(_counts_from_share(n, s)):
                    leaks.append(f"sentence: {n} x {s}%")
    # 2. a count and a share in rows with the same header, anywhere on the page
    rows: dict[str, dict[str, str]] = {}
    tables = _page_tables(soup)
    for head, body in tables:
        for r in body:
            for h, v in zip(head[1:], r[1:], strict=False):
                rows.setdefault(r[0], {}).setdefault(h, v)
    for name, cells in rows.items():
        people = [int(_num(v)) for h, v in cells.items()
                  if re.search(r"pupils|learners", h, re.I) and "%" not in h
                  and _num(v) is not None]
        shares = [v.replace("%", "").strip() for h, v in cells.items()
                  if "%" in h and not re.search(r"attend|session", h, re.I)
                  and _num(v) is not None]
        # a share in a row is a share of the row's whole group: its largest count
        n = max(people, default=0)
        for s in shares:
            if n and _leaks(_counts_from_share(n, s)):
                leaks.append(f"row {name}: {n} x {s}%")
    # 3. total minus visible cells, by brute force over the hidden cells of each column
    for head, body in tables:
        totals = [r for r in body if r[0].lower() == "total"]
        if len(totals) != 1:
            continue
        total = totals[0]
        for j, h in enumerate(head):
            if j == 0 or not re.search(r"pupils|learners", h, re.I) or "%" in h:
                continue
            col = [r[j] for r in body if r is not total]
            t = _num(total[j])
            if t is None:
                continue
            hidden = [i for i, v in enumerate(col) if v == "c"]
            known = sum(_num(v) for v in col if v != "c")
            if not hidden or len(hidden) > 3:
                continue
            left = int(t - known)
            feasible = [v for v in itertools.product(range(left + 1), repeat=len(hidden))
                        if sum(v) == left and all(x == 0 or x >= 1 for x in v)]
            # each hidden cell was suppressed, so it is 1-4 or protects one that is
            for pos in range(len(hidden)):
                values = {v[pos] for v in feasible}
                if _leaks(values):
                    leaks.append(f"column {h}: hidden cell is {sorted(values)}")
    return leaks


def _gate(html: str) -> list[str]:
    return PublicationCheck(threshold=THRESHOLD).problems(html)


def _page(*parts: str) -> str:
    return "<html><body><main>" + "".join(parts) + "</main></body></html>"


def _table(head: list[str], rows: list[list[str]]) -> str:
    h = "".join(f'<th scope="col">{x}</th>' for x in head)
    b = "".join("<tr>" + f'<th scope="row">{r[0]}</th>' + "".join(
        f"<td>{v}</td>" for v in r[1:]) + "</tr>" for r in rows)
    return f"<table><caption>Table 1. T</caption><thead><tr>{h}</tr></thead><tbody>{b}</tbody></table>"


# ---------------------------------------------------------------------------
# Hand-made pages that leak: both the attacker and the gate must see it
# ---------------------------------------------------------------------------

LEAKY = {
    "share in a sentence": _page("<p>The school has 30 pupils on roll; 10.0% of them are "
                                 "registered for free school meals.</p>"),
    "share beside roll in a row": _page(_table(
        ["School", "Pupils on roll", "% in SIMD Q5"], [["A", "40", "5.0"], ["B", "200", "30.0"]])),
    "share in another table's row": _page(
        _table(["School", "Pupils on roll"], [["A", "62", ], ["B", "300"]]),
        _table(["School", "% in SIMD Q3"], [["A", "3.2"], ["B", "20.0"]])),
    "total minus visible": _page(_table(
        ["Cluster", "Pupils in SIMD Q1"], [["A", "10"], ["B", "c"], ["C", "12"],
                                           ["Total", "25"]])),
}


@pytest.mark.parametrize("name", sorted(LEAKY))
def test_leaky_page_is_attacked_and_refused(name):
    html = LEAKY[name]
    assert attack(html), f"the attacker found nothing in {name}"
    assert _gate(html), f"the gate let {name} through"


@pytest.mark.parametrize("text", [
    "In 2024/25, c learners were supported.",
    "Attendance was nan in 2024/25.",
])
def test_marker_or_missing_value_in_a_sentence_is_refused(text):
    assert _gate(_page(f"<p>{text}</p>"))


@pytest.mark.parametrize("html", [
    # 2% of 220 reads as 4 or 5 pupils: not a disclosure
    _page("<p>The school has 220 pupils; 2% of them live in SIMD quintile 5.</p>"),
    # two hidden cells in a column with a total: neither is pinned to 1-4
    _page(_table(["Cluster", "Pupils in SIMD Q1"], [["A", "10"], ["B", "c"], ["C", "c"],
                                                    ["Total", "30"]])),
    _page("<p>Numbers about fewer than five pupils are not shown (shown as c).</p>"),
])
def test_safe_pages_pass_both(html):
    assert attack(html) == []
    assert _gate(html) == []


# ---------------------------------------------------------------------------
# Pages rendered from suppressed tables give the attacker nothing
# ---------------------------------------------------------------------------

def _random_profile(rng) -> pd.DataFrame:
    n = int(rng.integers(3, 8))
    roll = rng.integers(8, 400, size=n)
    q1 = np.array([rng.integers(0, max(r // 3, 1) + 1) for r in roll])
    q5 = np.array([rng.integers(0, min(6, r - q) + 1) for r, q in zip(roll, q1, strict=True)])
    t = pd.DataFrame({"Pupils on roll": roll, "Pupils in SIMD Q1": q1,
                      "% in SIMD Q1": (100 * q1 / roll).round(1),
                      "Pupils in SIMD Q5": q5, "% in SIMD Q5": (100 * q5 / roll).round(1)},
                     index=pd.Index([f"School {i}" for i in range(n)], name="School"))
    return suppress(t, margins="row", count_columns=["Pupils on roll", "Pupils in SIMD Q1",
                                                     "Pupils in SIMD Q5"],
                    rate_columns={"% in SIMD Q1": ("Pupils in SIMD Q1", "Pupils on roll"),
                                  "% in SIMD Q5": ("Pupils in SIMD Q5", "Pupils on roll")})


@pytest.mark.parametrize("seed", range(25))
def test_rendered_suppressed_tables_give_nothing_away(seed):
    rng = np.random.default_rng(seed)
    present.start(f"attack-{seed}")
    t = _random_profile(rng)
    html = _page(present.table_html(t, caption="Schools, census 2024/25", source="Census",
                                    index=True))
    assert attack(html) == []
    assert _gate(html) == []


def test_the_sections_profile_table_gives_nothing_away():
    """The report sections' own profile table, with tiny schools and small shares."""
    from nlc_eval.reports.sections._common import school_profiles

    class Ctx:
        source, pupil_source, year = "official", "synthetic", 2024

    rng = np.random.default_rng(7)
    n = 12
    roll = rng.integers(12, 90, size=n)
    shares = rng.dirichlet(np.ones(5) * 0.6, size=n)
    counts = np.floor(shares * roll[:, None]).astype(int)
    counts[:, 2] += roll - counts.sum(axis=1)
    s = pd.DataFrame({"seed_code": [str(8000000 + i) for i in range(n)],
                      "school_name": [f"School {i}" for i in range(n)],
                      "sector": ["special"] * 4 + ["primary"] * 8, "roll": roll,
                      # free school meals: 1-4 pupils in half the schools, more elsewhere
                      "fsm_pct": (100 * np.where(np.arange(n) % 2 == 0,
                                                 rng.integers(1, 5, size=n),
                                                 rng.integers(5, 12, size=n)) / roll).round(1),
                      "attendance_rate": rng.uniform(80, 95, size=n).round(1),
                      **{f"simd_q{i + 1}": counts[:, i] for i in range(5)}})
    present.start("attack-profiles")
    html = _page(present.table_html(school_profiles(Ctx(), s), caption="Profiles, 2024/25",
                                    source="Census", index=True))
    assert attack(html) == []
    assert _gate(html) == []
    # the attack is not vacuous: without the profile's protection it finds the leaks
    bare = s.assign(**{"Pupils on roll": s["roll"], "% registered for free school meals":
                       s["fsm_pct"]}).set_index("school_name").rename_axis("School")[
        ["Pupils on roll", "% registered for free school meals"]]
    present.start("attack-bare")
    leaky = _page(present.table_html(bare, caption="Profiles, 2024/25", source="Census",
                                     index=True))
    assert attack(leaky) and _gate(leaky)
