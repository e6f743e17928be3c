"""An attacker against published pages: can a count of 1-4 pupils be worked out?

The attacker here is written independently of the publication gate: it reads a page with its
own parser and, by brute force, tries exactly the derivations the gate is meant to stop --
a count of people times a share shown beside it (in a sentence, or in rows of the page's
tables with the same row header), a table's total minus its visible cells, and the
difference of two counts of nested groups (all supports and one level, the authority and a
cluster, a group and the same group less a school, a row total and a column total, a count
in a sentence and the same count in a table). Hand-made pages that leak must be caught by
both the attacker and the gate; pages rendered from suppressed tables (and from the report
sections' own profile table, and the impact and cluster pages built from the synthetic
authority) must give the attacker nothing, and pass the gate.
"""

from __future__ import annotations

import copy
import itertools
import re
from contextlib import nullcontext
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from nlc_eval.disclosure import THRESHOLD, nested_counts, suppress
from nlc_eval.reports import present
from nlc_eval.reports.publication import PublicationCheck

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
    # 1. a count of people and a share in one sentence (or a figure's text alternative)
    texts = [p.get_text(" ", strip=True) for p in soup.find_all("p") if not p.find_parent("table")]
    texts += [img["alt"] for img in soup.find_all("img", alt=True)]
    for text in texts:
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text):
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
            if not hidden and 1 <= abs(t - known) < THRESHOLD:
                # all shown: the total and its rows disagree by a group counted twice or left out
                leaks.append(f"column {h}: total {t:.0f} against rows adding to {known:.0f}")
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
    # 4. differences of counts of nested groups
    leaks += _differencing(soup, tables)
    # 5. a row of shares that add up to 100% with some hidden
    leaks += _completing_shares(soup, tables)
    return leaks


_SIMD_Q = re.compile(r"simd\D*([1-5])\b", re.I)


def _group_sizes(soup, tables) -> dict[str, set[int]]:
    """Sizes of each row's group the page lets a reader find: a roll, or by brute force
    every n for which a count and the share beside it ("Pupils in SIMD Q1" k, "% in SIMD
    Q1" p) print as they do."""
    sizes: dict[str, set[int]] = {}
    for head, body in tables:
        for r in body:
            cells = dict(zip(head[1:], r[1:], strict=False))
            for h, v in cells.items():
                if re.search(r"on roll", h, re.I) and _num(v) is not None:
                    sizes.setdefault(r[0], set()).add(int(_num(v)))
                m = re.match(r"(?:pupils|learners)\s+(in .+)$", h, re.I)
                share = cells.get(f"% {m.group(1)}") if m else None
                if m and _num(v) and share is not None and _num(share) is not None:
                    k = int(_num(v))
                    d = len(share.split(".")[1]) if "." in share else 0
                    sizes.setdefault(r[0], set()).update(
                        n for n in range(max(k, 1), 20_001) if f"{100 * k / n:.{d}f}" == share)
    for p in soup.find_all("p"):
        text = p.get_text(" ", strip=True)
        for n in re.findall(r"(\d[\d,]*) pupils on roll", text):
            for label in {r[0] for _, body in tables for r in body}:
                if len(label) > 3 and label in text:
                    sizes.setdefault(label, set()).add(int(n.replace(",", "")))
    return sizes


def _completing_shares(soup, tables) -> list[str]:
    """Quintile shares of a row add up to 100%: a reader who knows the group's size works
    out, by brute force over the whole counts each shown share can stand for, how many pupils
    the hidden shares hold; a single hidden share is given away whatever the size."""
    leaks = []
    sizes = None
    for head, body in tables:
        quint = {int(m.group(1)): j for j, h in enumerate(head)
                 if "%" in h and (m := _SIMD_Q.search(h))}
        if sorted(quint) != [1, 2, 3, 4, 5]:
            continue
        for r in body:
            vals = [r[quint[q]] for q in range(1, 6)]
            hidden = [q for q, v in zip(range(1, 6), vals, strict=True) if v in ("c", "")]
            if not hidden:
                continue
            if len(hidden) == 1:
                leaks.append(f"row {r[0]}: hidden quintile {hidden[0]} is 100% less the others")
                continue
            if sizes is None:
                sizes = _group_sizes(soup, tables)
            totals = set()
            for n in sizes.get(r[0], ()):
                options = [_counts_from_share(n, v) for v in vals if v not in ("c", "")]
                for ks in itertools.product(*options):
                    if sum(ks) <= n:
                        totals.add(n - sum(ks))
            if _leaks(totals):
                leaks.append(f"row {r[0]}: hidden quintiles {hidden} hold {sorted(totals)}")
    return leaks


_WHOLE_WORDS = {"all", "total", "authority", "overall"}
_LESS_WORDS = ("excluding", "without", "except", "less", "minus")


def _words(label: str) -> set[str]:
    return set(re.findall(r"[a-z]+", label.lower()))


def _is_whole(label: str) -> bool:
    # a whole word that starts a proper name ("All Saints Primary School") names no whole
    for m in re.finditer(r"[A-Za-z]+", label):
        if m.group(0).lower() in _WHOLE_WORDS:
            rest = label[m.end():].lstrip()
            if not rest[:1].isupper():
                return True
    return False


def _less(a: str, b: str) -> bool:
    """``a`` is ``b`` with a part taken out ("2024/25 excluding School 3" and "2024/25")."""
    low = a.lower()
    for w in _LESS_WORDS:
        if f" {w} " in f" {low} ":
            return low.split(f" {w} ")[0].strip(" ,(") == b.lower().strip()
    return False


def _people(head: str) -> bool:
    # learner-terms are not learners: a different measure, never set against learners
    return (bool(re.search(r"pupils|learners", head, re.I)) and "%" not in head
            and not re.search(r"learner-terms|pupil-terms", head, re.I))


def _differencing(soup, tables) -> list[str]:
    """Every pair of counts of nested groups (same measure) that differ by 1 .. THRESHOLD-1.

    A count is (table, column header, row label, value). Pairs taken as nested: in one
    column, a row naming a whole ("All ...", "Total", "Authority") and any other row, or a
    row "X excluding Y" and the row "X"; the same header in two tables, for rows of the same
    name, two wholes, or a whole and a row sharing a word with it; in one row, a column headed as a whole ("Total", "All ...") and the
    other count columns; a count of people in a sentence and a count in a table whose header
    the sentence names (its noun and its other words).
    """
    # what each table is about: its caption without "Table N." (two tables about different
    # things, P1 and P4 assessments say, hold different groups under the same row name)
    about = [re.sub(r"^table \d+\.\s*", "", (tb.find("caption").get_text(" ", strip=True)
                                               if tb.find("caption") else "").lower())
             for tb in soup.find_all("table")]
    counts = []
    for t, (head, body) in enumerate(tables):
        for j, h in enumerate(head):
            if j == 0 or not _people(h):
                continue
            for r in body:
                v = _num(r[j]) if j < len(r) and r[j] != "c" else None
                if v is not None:
                    counts.append((t, " ".join(h.split()), r[0], v, _is_whole(h)))
    leaks = []
    for (ta, ha, ra, va, wa), (tb, hb, rb, vb, wb) in itertools.combinations(counts, 2):
        if not 1 <= abs(va - vb) < THRESHOLD:
            continue
        nested = False
        if ha == hb and ta == tb:
            nested = _is_whole(ra) or _is_whole(rb) or _less(ra, rb) or _less(rb, ra)
        elif ha == hb:
            # two tables: the same group (in tables about the same thing), two wholes, or a
            # whole and a part of the same thing
            shared = {w.rstrip("s") for w in _words(ra)} & {w.rstrip("s") for w in _words(rb)}
            nested = (ra == rb and about[ta] == about[tb]) or (_is_whole(ra) and _is_whole(rb)) or (
                (_is_whole(ra) or _is_whole(rb)) and bool(shared - _WHOLE_WORDS))
        elif ta == tb and ra == rb:
            nested = wa or wb                    # a row total against a column total
        if nested:
            leaks.append(f"{ha!r} {ra} {va:.0f} vs {hb!r} {rb} {vb:.0f}")
    # a count of people in a sentence against every count of people in a table
    for p in soup.find_all("p"):
        if p.find_parent("table"):
            continue
        text = p.get_text(" ", strip=True)
        for m in re.finditer(r"(\d[\d,]*)\s+(?:[\w-]+\s+){0,2}?(pupils|learners)\b", text):
            n = int(m.group(1).replace(",", ""))
            # a rule's bound ("fewer than 5 pupils") counts nobody
            if n < THRESHOLD or re.search(r"(than|under|least|most)\s*$", text[:m.start()]):
                continue
            said = _words(text)
            for _, h, r, v, _ in counts:
                # the table's count of the same measure: its noun and its other words;
                # a named group only when the sentence names it too
                named = _words(re.sub(r"\([^)]*\)", "", h)) - {"in", "on", "of", "the"}
                if not (_is_whole(r) or r.lower() in text.lower()):
                    continue
                if m.group(2) in named and named - {m.group(2)} <= said \
                        and 1 <= abs(n - v) < THRESHOLD:
                    leaks.append(f"sentence {m.group(0)!r} vs {h!r} {r} {v:.0f}")
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

_QUINTILES = [f"% in SIMD quintile {q}" for q in range(1, 6)]

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
    # differencing: two counts of nested groups that differ by 1-4
    "all supports against a level": _page(_table(
        ["Group", "Learners supported (in the estimate)", "Comparison learners (not yet supported)"],
        [["All supports, authority", "6,804", "54,692"], ["Universal support", "3,405", "54,692"],
         ["Intensive support", "1,023", "54,689"]])),
    "the same group in two tables": _page(
        _table(["Estimate", "Comparison learners"], [["North Lanarkshire, all supports", "54,692"]]),
        _table(["Estimate", "Comparison learners"], [["North Lanarkshire, all supports", "54,690"]])),
    "a cluster and one of its levels in another table": _page(
        _table(["Group", "Comparison learners"], [["Cluster 01, all supports", "2,225"]]),
        _table(["Estimate", "Comparison learners"], [["Cluster 01, additional support", "2,222"]])),
    "a session and the same session less a school": _page(_table(
        ["Session", "Pupils on roll"], [["2024/25", "1,204"], ["2024/25 excluding School 3", "1,201"]])),
    "a row total against a column total": _page(_table(
        ["Level", "Universal learners", "Total learners"], [["Total", "97", "100"]])),
    "a count in a sentence and in a table": _page(
        "<p>The estimate compares 6,804 supported learners with others.</p>",
        _table(["Group", "Learners supported"], [["All supports", "6,801"]])),
    "a count and a share in a figure's text alternative": _page(
        '<figure><img src="" alt="Share of pupils in SIMD quintile 5: Aird School (40 '
        'pupils) 5.0%."><figcaption>Figure 1. Shares.</figcaption></figure>'),
    # a row of quintile shares adds up to 100%
    "one hidden share in a row of quintiles": _page(_table(
        ["School", *_QUINTILES], [["A", "10.0", "20.0", "30.0", "38.0", "c"],
                                  ["B", "20.0", "20.0", "20.0", "20.0", "20.0"]])),
    "hidden shares and the group's size from a count and its share": _page(
        _table(["School", *_QUINTILES], [["Aird School", "10.0", "20.0", "c", "69.5", "c"],
                                         ["Bell School", "20.0", "20.0", "20.0", "20.0", "20.0"]]),
        _table(["School", "Pupils in SIMD Q1", "% in SIMD Q1"], [["Aird School", "45", "10.0"]])),
    "hidden shares and a roll in a sentence": _page(
        "<p>Aird School has 150 pupils on roll.</p>",
        _table(["School", *_QUINTILES], [["Aird School", "10.0", "20.0", "c", "68.0", "c"],
                                         ["Bell School", "20.0", "20.0", "20.0", "20.0", "20.0"]])),
    "total and rows that overlap": _page(_table(
        ["Cluster", "Learners supported"], [["A", "20"], ["B", "30"], ["Total", "53"]])),
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


def test_a_figures_text_alternative_is_read_like_a_sentence():
    alt = "Pupils in SIMD quintile 5: Aird School c, Bell School 12."
    assert _gate(_page(f'<figure><img src="" alt="{alt}"></figure>'))
    assert _gate(_page('<figure><img src="" alt="Attendance: Aird School nan."></figure>'))
    assert _gate(_page('<figure><img src="" alt="Attendance: Aird School 91.2%."></figure>')) == []


@pytest.mark.parametrize("html", [
    # 2% of 220 reads as 4 or 5 pupils: not a disclosure
    _page("<p>The school has 220 pupils; 2% of them live in SIMD quintile 5.</p>"),
    # two hidden cells in a column with a total: neither is pinned to 1-4
    _page(_table(["Cluster", "Pupils in SIMD Q1"], [["A", "10"], ["B", "c"], ["C", "c"],
                                                    ["Total", "30"]])),
    _page("<p>Numbers about fewer than five pupils are not shown (shown as c).</p>"),
    # nested groups shown with equal counts, or five or more apart
    _page(_table(["Group", "Comparison learners (not yet supported)"],
                 [["All supports, authority", "54,692"], ["Universal support", "54,692"],
                  ["Intensive support", "54,682"]])),
    # learners and learner-terms are different measures: never set against each other
    _page(_table(["Group", "Comparison learners", "Comparison learner-terms"],
                 [["All supports", "54,692", "54,694"]])),
    # two schools of nearly the same size are not nested
    _page(_table(["School", "Pupils on roll"], [["School 1", "120"], ["School 2", "122"]])),
    # ... even when one school's name begins with "All" (a real North Lanarkshire name)
    _page(_table(["School", "Pupils on roll"], [["All Saints Primary School", "201"],
                                                ["Langloan Primary School", "205"]])),
    # the same school in tables about different things (P1 and P4 assessments)
    _page(_table(["School", "Pupils assessed"], [["Abronhill Primary School", "20"]])
          .replace("Table 1. T", "Table 1. P1 literacy, 2021/22"),
          _table(["School", "Pupils assessed"], [["Abronhill Primary School", "16"]])
          .replace("Table 1. T", "Table 2. P4 literacy, 2021/22")),
    # two hidden quintile shares holding 5 or more pupils between them (6.0% of 150 = 9),
    # or with no size of the group anywhere on the page
    _page(_table(["School", *_QUINTILES], [["Aird School", "10.0", "20.0", "c", "64.0", "c"],
                                           ["Bell School", "20.0", "20.0", "20.0", "20.0",
                                            "20.0"]]),
          _table(["School", "Pupils on roll"], [["Aird School", "150"]])),
    _page(_table(["School", *_QUINTILES], [["Aird School", "10.0", "20.0", "c", "68.0", "c"],
                                           ["Bell School", "20.0", "20.0", "20.0", "20.0",
                                            "20.0"]])),
    # shares that are not a partition: one hidden among them is not the rest's complement
    _page(_table(["School", "% in SIMD Q1", "% registered for free school meals"],
                 [["Aird School", "40.0", "c"], ["Bell School", "30.0", "25.0"]])),
    # a sentence about one school against another school's roll
    _page("<p>Mavisbank School (30 pupils) has more pupils than the family's average.</p>",
          _table(["School", "Pupils on roll"], [["Mavisbank School", "30"],
                                                ["Willowbank School", "26"]])),
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


# ---------------------------------------------------------------------------
# Differencing: the impact tables' counts of nested groups
# ---------------------------------------------------------------------------

def _effects_page(n_treated: dict, n_control: dict) -> str:
    """The impact page's effects table as the page renders it, from the given counts."""
    rows = ["All supports, authority", "Universal support", "Additional support",
            "Intensive support"]
    t = pd.DataFrame({"Learners supported (in the estimate)": pd.array(
                          [n_treated[r] for r in rows], dtype="Int64"),
                      "Comparison learners (not yet supported)": pd.array(
                          [n_control[r] for r in rows], dtype="Int64"),
                      "Effect on attendance (points)": [1.3, 0.7, 1.6, 3.0]},
                     index=pd.Index(rows, name="Group"))
    t = suppress(t, margins=False, count_columns=list(t.columns[:2]),
                 rate_columns={t.columns[2]: (None, t.columns[0])})
    present.start("attack-effects")
    return _page(present.table_html(t, caption="Effect of supports, 2022/23 to 2024/25",
                                    source="Council extracts", index=True))


def _nested_groups(rng) -> tuple[dict, dict]:
    """Supported and comparison learners of all supports and of each level, as sets: levels
    partition the supported; a level's comparison learners are all supports' less a few."""
    levels = ["Universal support", "Additional support", "Intensive support"]
    supported = rng.permutation(6000)
    cuts = np.sort(rng.choice(np.arange(100, 6000), size=2, replace=False))
    parts = np.split(supported, cuts)
    treated = {"All supports, authority": set(supported.tolist())}
    treated.update({lv: set(p.tolist()) for lv, p in zip(levels, parts, strict=True)})
    n = 50000
    control = {"All supports, authority": set(range(n))}
    for lv in levels:
        control[lv] = set(range(n - int(rng.integers(0, THRESHOLD))))  # 0 to 4 fewer
    control["Intensive support"] = set(range(n - int(rng.integers(1, THRESHOLD))))
    return treated, control


@pytest.mark.parametrize("seed", range(5))
def test_nested_counts_differing_by_less_than_the_threshold_are_found_then_protected(seed):
    treated, control = _nested_groups(np.random.default_rng(seed))
    raw = _effects_page({k: len(v) for k, v in treated.items()},
                        {k: len(v) for k, v in control.items()})
    # the unprotected page leaks: intensive's comparison group is 1-4 short of all supports'
    assert attack(raw), "the attacker missed a difference of nested groups"
    assert _gate(raw), "the gate let a difference of nested groups through"
    safe = _effects_page(nested_counts(treated), nested_counts(control))
    assert attack(safe) == [] and _gate(safe) == []
    # what is shown is still true where it can be: equal groups and the supported learners
    shown = nested_counts(control)
    assert shown["All supports, authority"] == len(control["All supports, authority"])
    assert nested_counts(treated) == {k: len(v) for k, v in treated.items()}


# ---------------------------------------------------------------------------
# Real pages built from the synthetic authority: the impact and cluster pages
# ---------------------------------------------------------------------------

def _shown(calls) -> str:
    """Run the notebook's display calls, collecting the HTML each one shows, as a page."""
    shown: list[str] = []
    with mock.patch("IPython.display.display",
                    side_effect=lambda obj, **kw: shown.append(obj["text/html"])):
        for call in calls:
            call()
    return _page(*shown)


@pytest.fixture(scope="module")
def synthetic_pages():
    """The impact pages (authority; one cluster's intensive support) and a cluster page,
    shown section by section as their notebooks show them, on the synthetic authority."""
    import matplotlib

    matplotlib.use("Agg")
    from nlc_eval import plots
    from nlc_eval.reports import impact_models
    from nlc_eval.reports.context import build_context
    from nlc_eval.reports.sections import cluster as cluster_sections
    from nlc_eval.reports.sections import impact as impact_sections

    with pytest.MonkeyPatch.context() as mp:     # the synthetic estate, even under make test
        mp.delenv("NLC_EVAL_OFFICIAL_DATA", raising=False)
        ctx = build_context(None, None, seed=0, families=False, models=False)
    cl = ctx.clusters[0]
    design = impact_models.entry_cohort_design(ctx)
    ctx.models = {"effects": impact_models.effects_table(ctx, clusters=[cl], design=design,
                                                         n_boot=99)}
    plots.use_house_style()
    # the same page with every count as its estimate counts it, unprotected
    groups = impact_models.estimate_groups(design=design, clusters=ctx.clusters)
    raw = {k: (len(t), len(c)) for k, (t, c) in groups.items()}
    bare = copy.copy(ctx)
    bare.models = {"effects": impact_models.with_published_counts(ctx.models["effects"], raw)}
    pages, sections = {}, {}
    for name, cluster, level, c in (("impact", "", "", ctx),
                                    ("impact-cluster", cl, "additional", ctx),
                                    ("impact-cluster-unprotected", cl, "additional", bare)):
        present.start(name)
        with mock.patch.object(impact_models, "report_counts",
                               side_effect=lambda *a, **k: raw) if c is bare else nullcontext():
            summary = impact_sections.summary(c, cluster=cluster)
            evaluation = impact_sections.evaluation(c, level=level, cluster=cluster)
        sections[name] = (summary, evaluation)
        pages[name] = _shown([
            summary.show_text, lambda s=summary: s.show_figure("levels"),
            lambda s=summary: s.show_table("effects"), evaluation.show_text,
            lambda e=evaluation: e.show_table("estimate"),
            lambda e=evaluation: e.show_figure("event"),
            lambda e=evaluation: e.show_table("baseline"),
            impact_sections.method(ctx).show_text])
    present.start("cluster")
    parts = [cluster_sections.who(ctx, cl), cluster_sections.dashboard(ctx, cl),
             cluster_sections.drivers(ctx, cl), cluster_sections.gaps(ctx, cl),
             cluster_sections.impact(ctx, cl)]
    calls = []
    for sec in parts:
        calls.append(sec.show_text)
        calls += [lambda s=sec, n=n: s.show_table(n) for n in sec.tables]
        calls += [lambda s=sec, n=n: s.show_figure(n) for n in sec.figures]
    pages["cluster"] = _shown(calls)
    return ctx, design, cl, pages, sections


@pytest.mark.slow
def test_the_real_page_unprotected_leaks(synthetic_pages):
    """Cluster 01's additional-support page with the estimates' own counts: its comparison
    learners are 1-4 fewer than the cluster's all-supports ones, and both are on the page."""
    ctx, design, cl, pages, _ = synthetic_pages
    assert 1 <= (_comparison_learners(design, None, cl)
                 - _comparison_learners(design, "additional", cl)) < THRESHOLD
    html = pages["impact-cluster-unprotected"]
    assert attack(html), "the attacker missed the difference on the unprotected page"
    assert _gate(html), "the gate let the unprotected page through"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["impact", "impact-cluster", "cluster"])
def test_real_pages_give_the_attacker_nothing(synthetic_pages, name):
    ctx, _, _, pages, _ = synthetic_pages
    html = pages[name]
    assert "<table" in html and "Comparison learners" in html
    assert attack(html) == []
    assert PublicationCheck.for_ids(ctx.data.pupils["pupil_id"]).problems(html) == []


def _comparison_learners(design: pd.DataFrame, level: str | None, cluster: str | None) -> int:
    """Distinct learners not yet supported in the entry terms and clusters (schools, for one
    cluster) where a learner started support (at ``level``), counted here from the design."""
    d = design if cluster is None else design[design["cluster"] == cluster]
    by = "cluster" if cluster is None else "seed_code"
    start = d["treated"].eq(1) & (d["level"].eq(level) if level else True)
    strata = set(map(tuple, d.loc[start, ["cohort", by]].to_numpy()))
    in_used = pd.Series([k in strata for k in map(tuple, d[["cohort", by]].to_numpy())],
                        index=d.index)
    return int(d.loc[in_used & d["treated"].eq(0), "pupil_id"].nunique())


@pytest.mark.slow
def test_real_pages_show_one_count_of_learners_per_group(synthetic_pages):
    from nlc_eval.disclosure import nested_differences
    from nlc_eval.reports import impact_models

    ctx, design, cl, pages, sections = synthetic_pages
    col = "Comparison learners (not yet supported)"
    summary, evaluation = sections["impact"]
    effects = summary.tables["effects"].data
    estimate = evaluation.tables["estimate"].data
    # the same group has the same count in both tables of the page ...
    assert effects.loc["All supports, authority", col] == estimate.iloc[0][col]
    # ... and it is distinct learners, counted independently from the design (nothing
    # nested in it is within the threshold here, so the count is exact)
    groups = impact_models.estimate_groups(design=design, clusters=ctx.clusters)
    assert estimate.iloc[0][col] == _comparison_learners(design, None, None)
    assert effects.loc["All supports, authority", col] < design["treated"].eq(0).sum()
    # a cluster's intensive-support estimate: the group's published count, never raw
    published = impact_models.published_counts(groups)
    _, evaluation = sections["impact-cluster"]
    row = evaluation.tables["estimate"].data.iloc[0]
    assert row[col] == published[(cl, "additional")][1]
    # shown with the cluster's all-supports count, the larger of the two nested groups
    assert row[col] == _comparison_learners(design, None, cl) > _comparison_learners(
        design, "additional", cl)
    # over every estimate the reports can show, published counts leave no small difference
    for i in (0, 1):
        sets = {k: v[i] for k, v in groups.items()}
        assert nested_differences({k: v[i] for k, v in published.items()}, sets) == []


# ---------------------------------------------------------------------------
# The SIMD profile figure on every cluster page: a row's shares add up to 100%
# ---------------------------------------------------------------------------

def _figure_hides_only_what_the_table_hides(profiles, schools):
    """The SIMD figure's data as first published: a share hidden only where the profile
    table hides it or its own count is 1-4 (100 less the others could then give it away)."""
    from nlc_eval.reports import measures
    from nlc_eval.reports.sections import _common

    s = schools.copy()
    s["label"] = _common.unique_labels(s["school_name"].astype(str), s["seed_code"]).to_numpy()
    s = s.set_index("label")
    shown = profiles.index.intersection(s.index)
    out = s.loc[shown, list(_common.SHARES)].astype(float)
    for q in (1, 5):
        out.loc[profiles.loc[shown, measures.label(f"simd_q{q}_pct")].isna().to_numpy(),
                f"simd_q{q}_share"] = np.nan
    counts = s.loc[shown, [f"simd_q{i}" for i in range(1, 6)]].apply(pd.to_numeric,
                                                                      errors="coerce")
    for i in (2, 3, 4):
        out.loc[((counts[f"simd_q{i}"] >= 1) & (counts[f"simd_q{i}"] < 5)).to_numpy(),
                f"simd_q{i}_share"] = np.nan
    return (100 * out).round(1).reset_index().rename(columns={"label": "school_name"})


@pytest.mark.slow
def test_cluster_pages_simd_figure_gives_nothing_away():
    """On every cluster's "who" section (official estate under ``make test``), the figure's
    shares with the profile table: the attacker and the gate find the same rows on the
    pages as first published (they leak), and nothing on the kit's pages."""
    import matplotlib

    matplotlib.use("Agg")
    from nlc_eval import plots
    from nlc_eval.reports.context import build_context
    from nlc_eval.reports.publication import share_completions
    from nlc_eval.reports.sections import cluster as cluster_sections

    ctx = build_context(None, None, seed=0, families=False, models=False)
    plots.use_house_style()

    def page(cl):
        present.start("cluster")
        sec = cluster_sections.who(ctx, cl)
        return _shown([sec.show_text, *[lambda n=n: sec.show_table(n) for n in sec.tables],
                       *[lambda n=n: sec.show_figure(n) for n in sec.figures]])

    def rows(found):
        # the gate quotes a row as Python does ("St Andrew's ..." in double quotes)
        return sorted(re.match(r"""row ['"]?(.+?)['"]?: """, f).group(1) for f in found)

    leaked = 0
    for cl in ctx.clusters:
        html = page(cl)
        soup = BeautifulSoup(html, "html.parser")
        assert "% in SIMD Q2" in html
        assert _completing_shares(soup, _page_tables(soup)) == [], cl
        assert share_completions(html) == [], cl
        with mock.patch.object(cluster_sections, "simd_figure_data",
                               _figure_hides_only_what_the_table_hides):
            old = page(cl)
        soup = BeautifulSoup(old, "html.parser")
        by_attacker = rows(_completing_shares(soup, _page_tables(soup)))
        assert by_attacker == rows(share_completions(old)), cl
        leaked += bool(by_attacker)
    assert leaked >= 5, "the figure as first published should leak on several cluster pages"
