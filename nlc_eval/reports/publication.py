"""The last check before a report is published: nothing disclosive, no code.

Every report page is scanned after it is rendered and before it is written under
``--out``; a page that fails is not published (the report is marked failed, naming what was
found). The scan is a second line of defence: tables are already protected by
:func:`nlc_eval.disclosure.suppress` inside the notebooks. It looks for

- pupil identifiers: any token of the page (or of the results sidecar) that is one of the
  batch's pupil ids (ids shorter than six characters are too ambiguous to scan for);
- small counts: a value from 1 to ``threshold - 1`` in a table column whose header names a
  count of people or supports (:data:`COUNT_HEADERS`; suppressed cells show ``c``);
- code: highlighted source or input areas left in the HTML;
- a suppression marker (``c``) or a missing value (``nan``, ``None``) inside a sentence;
- small counts derivable from what is shown beside each other (:func:`derived_counts`): a
  count of people and a share in the same sentence, or in rows of the page's tables with
  the same row header (roll x share, whose possible counts are all 1 to
  ``threshold - 1``); and a hidden cell of a table with a total row that the total minus
  the visible cells gives away;
- small counts derivable by differencing (:func:`nested_differences`): two counts of the
  same measure (the same count header, or people in a sentence) for groups where one
  contains the other that differ by 1 to ``threshold - 1``. Groups are taken to be nested
  when one row names a whole (``Total``, ``All``, ``All supports``, ``Authority``,
  ``... all supports``, ``... overall``; not a name such as ``All Saints Primary School``)
  and the other is a row of the same column; when one row names a group less a part
  (``... excluding ...``, ``... without ...``); when two tables have under the same header
  two wholes, a whole and a row sharing a word with it (``Cluster 01, all supports`` and
  ``Cluster 01, additional support``), or a row of the same name in tables about the same
  thing (the same caption after its number: a school's pupils assessed at P1 and at P4
  are different groups); when in one row a column headed ``Total ...`` or ``All ...``
  stands beside other counts of people; or when a sentence's count of people names a
  table's measure (its noun and other words) and the row's group (its name, unless the
  row is a whole). In a table with a total row whose cells are all shown, the total and the
  sum of the other rows must not differ by 1 to ``threshold - 1`` (a group counted twice,
  or left out). Learners and learner-terms are different measures and are never compared;
- hidden shares that the rest of their row gives away (:func:`share_completions`): a row of
  a partition (shares adding up to 100%, such as SIMD quintiles 1-5) with one share hidden,
  or with several hidden that hold 1 to ``threshold - 1`` pupils together for a size of the
  row's group the page shows (a roll, or a count beside its share).

Sentences include the figures' text alternatives (``alt``), which a screen reader reads out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np

#: Table headers (prefixes) that hold counts of pupils, learners or supports in the reports.
COUNT_HEADERS = ("Pupils", "Learners", "Comparison learners", "Supports", "Universal",
                 "Additional", "Intensive", "Sessions planned", "Sessions attended",
                 "Ended successfully", "Ended otherwise", "Ongoing", "Supported pupils",
                 "Supported care-experienced", "Community leadership supports",
                 "Number of", "Supported learners", "Support sessions", "Universal supports",
                 "Additional supports", "Intensive supports", "Supports ended",
                 "Supports ongoing")
# elements (not stylesheet rules) that only source code produces
_CODE = re.compile(r'class="[^"]*\b(highlight|jp-CodeMirrorEditor|jp-InputArea-editor|input_area)\b')
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-/]{5,}")
_NUMBER = re.compile(r"^-?[\d,]+(\.\d+)?$")
MIN_ID_LENGTH = 6


_MARKER_IN_PROSE = re.compile(r"(?<![\w'’.-])c(?![\w'’-])")
# a sentence that explains the marker ("shown as c", "marked c") is not using it
_EXPLAINED = re.compile(r"\b(shown as|marked|marker|as)\s+[\W_]*c\b[\W_]*|^c:", re.IGNORECASE)
_MISSING_IN_PROSE = re.compile(r"(?<![\w-])(nan|NaN|None)(?![\w-])")
_PEOPLE = r"(?:pupils?|learners?|children|young people)"
_COUNT_IN_PROSE = re.compile(r"(?<![\d.,])(\d{1,3}(?:,\d{3})*|\d+)(?:\s+[a-z-]+){0,2}?\s+"
                             + _PEOPLE + r"\b")
_PCT_IN_PROSE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)%")
# shares that are not shares of people (sessions attended, intervals, gaps)
_NOT_PEOPLE = ("attend", "session", "interval", "gap", "point", "vs ", "against", "ci ")


def _soup(text: str):
    from bs4 import BeautifulSoup

    return BeautifulSoup(text, "html.parser")


def _prose(soup) -> list[str]:
    """Sentences of the page outside tables, captions, code and style, and of the figures'
    text alternatives (a screen reader reads them out like any sentence)."""
    out = []
    for el in soup.find_all(["p", "li", "h1", "h2", "h3", "h4", "figcaption", "summary"]):
        if el.find_parent(["table", "style", "script"]) is not None:
            continue
        text = el.get_text(" ", strip=True)
        out.extend(t for t in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text) if t)
    for img in soup.find_all("img", alt=True):
        out.extend(t for t in re.split(r"(?<=[.!?])\s+(?=[A-Z])", img["alt"]) if t)
    return out


def candidates(n: float, pct_text: str) -> list[int]:
    """Whole counts ``k`` consistent with a share ``pct_text`` % of ``n`` after rounding.

    >>> candidates(30, "10.0")
    [3]
    >>> candidates(220, "2")
    [4, 5]
    """
    decimals = len(pct_text.split(".")[1]) if "." in pct_text else 0
    p, half = float(pct_text), 0.5 * 10 ** -decimals
    lo, hi = n * max(p - half, 0) / 100, n * (p + half) / 100
    return [k for k in range(int(np.floor(lo)), int(np.ceil(hi)) + 1)
            if lo - 1e-9 <= k <= hi + 1e-9 and (k == 0 or 100 * k / n >= p - half - 1e-9)]


def _small(ks: list[int], threshold: int) -> bool:
    return bool(ks) and all(1 <= k < threshold for k in ks)


def _number(text: str) -> float | None:
    t = text.replace(",", "").strip()
    return float(t) if _NUMBER.match(t) else None


def _share_header(h: str) -> bool:
    low = h.lower()
    return ("%" in h or "share" in low) and not any(w in low for w in _NOT_PEOPLE)


def _people_header(h: str) -> bool:
    return _is_count_header(h) and any(w in h.lower() for w in ("pupil", "learner"))


def derived_counts(html_text: str, threshold: int | None = None) -> list[str]:
    """Small counts a reader can work out from what the page shows (see the module doc)."""
    threshold = _threshold(threshold)
    soup = _soup(html_text)
    found: list[str] = []
    for sentence in _prose(soup):
        counts = [m.group(1) for m in _COUNT_IN_PROSE.finditer(sentence)]
        for pm in _PCT_IN_PROSE.finditer(sentence):
            after = sentence[pm.end():pm.end() + 45].lower()
            if any(w in after for w in ("attend", "session")):
                continue
            for c in counts:
                n = float(c.replace(",", ""))
                if n > 0 and _small(candidates(n, pm.group(1)), threshold):
                    found.append(f"sentence gives away a count below {threshold}: {c} and "
                                 f"{pm.group(0)} in {sentence[:90]!r}")
    rows: dict[str, dict[str, str]] = {}
    for header, body in _tables(html_text):
        offset = 1 if body and header and len(body[0]) == len(header) + 1 else 0
        names = ([""] * offset) + header
        for row in body:
            if not row:
                continue
            key = row[0].strip()
            entry = rows.setdefault(key, {})
            for h, v in zip(names[1:] if not offset else names[offset:], row[1:], strict=False):
                entry.setdefault(h, v)
        found += _total_minus_visible(header, body, threshold)
        found += _total_minus_sum(header, body, threshold)
    for key, entry in rows.items():
        people = [(h, _number(v)) for h, v in entry.items()
                  if _people_header(h) and _number(v)]
        shares = [(h, v.replace("%", "").strip()) for h, v in entry.items()
                  if _share_header(h)]
        # a share in a row is a share of the row's whole group: its largest count
        for ph, n in sorted(people, key=lambda x: -x[1])[:1]:
            for sh, p in shares:
                if _NUMBER.match(p) and _small(candidates(n, p), threshold):
                    found.append(f"row {key!r}: '{ph}' {n:,.0f} and '{sh}' {p}% give away a "
                                 f"count below {threshold}")
    found += nested_differences(html_text, threshold)
    found += share_completions(html_text, threshold)
    return found


# a share cell as printed: "12.3", "12.3%"; a hidden one: the marker or blank
_SHARE = re.compile(r"^(\d+(?:\.\d+)?)\s*%?$")
_ROLL_IN_PROSE = re.compile(r"(\d[\d,]*)\s+pupils\s+on\s+(?:the\s+|its\s+)?roll|"
                            r"\broll\s+(?:of|is|was)\s+(\d[\d,]*)", re.IGNORECASE)
#: Share columns of one table tried together as a partition (all subsets up to this many).
MAX_PARTITION_COLUMNS = 10


def _share(text: str) -> tuple[float, float] | None:
    """A printed share as (value, half its last printed unit), or None."""
    m = _SHARE.match(text.replace(",", "").strip())
    if not m:
        return None
    digits = m.group(1).split(".")
    return float(m.group(1)), 0.5 * 10.0 ** -(len(digits[1]) if len(digits) > 1 else 0)


def _hidden_cell(text: str) -> bool:
    return text.strip() in ("c", "")


def _measure_words(header: str) -> frozenset[str]:
    """What a count or share header is of: "Pupils in SIMD Q1" and "% in SIMD Q1" give
    {"simd", "q1"}."""
    low = re.sub(r"\([^)]*\)", " ", header.lower())
    words = set(re.findall(r"[a-z0-9]+", low))
    return frozenset(words - {"pupils", "pupil", "learners", "learner", "in", "of", "share",
                              "the", "pct", "percent", "number"})


def _family_key(header: str) -> str:
    """A share header without its notes and numbers: "% in SIMD Q1 (most deprived)" and
    "% in SIMD Q5 (least deprived)" are both "% in simd q"."""
    return re.sub(r"\s+", " ", re.sub(r"\d+", "", re.sub(r"\([^)]*\)", "", header.lower()))
                  ).strip()


def _partitions(header: list[str], body: list[list[str]], offset: int) -> list[list[int]]:
    """Sets of a table's share columns that add up to 100% in every row showing them all.

    A reader learns a partition from the headers or from the data. From the headers: three
    or more share columns that differ only by a number ("% in SIMD Q1" ... "Q5"), where no
    row shows shares adding up to more than 100 and every row showing them all adds up to
    100 (within the rounding of its cells). From the data: any other set of two or more
    share columns that at least two rows show in full, each adding up to 100. Largest sets
    first; no set inside one already found.
    """
    cols = [i + offset for i, h in enumerate(header) if _share_header(h) and i + offset > 0]
    if len(cols) < 2:
        return []
    rows = [r for r in body if r and len(r) > max(cols)]
    names = [""] * offset + header

    def adds_up(subset, need: int) -> bool:
        full, partial_ok = 0, True
        for r in rows:
            vals = [_share(r[j]) for j in subset]
            shown = [v for v in vals if v is not None]
            if sum(x - h for x, h in shown) > 100 + 1e-6:
                partial_ok = False
            if len(shown) == len(vals):
                if abs(sum(x for x, _ in shown) - 100) > sum(h for _, h in shown) + 1e-6:
                    return False
                full += 1
        return partial_ok and full >= need

    found: list[list[int]] = []
    families: dict[str, list[int]] = {}
    for j in cols:
        families.setdefault(_family_key(names[j]), []).append(j)
    for members in families.values():
        if len(members) >= 3 and adds_up(members, 0):
            found.append(members)
    rest = [j for j in cols if not any(j in f for f in found)]
    if len(rest) > MAX_PARTITION_COLUMNS:
        return found
    for size in range(len(rest), 1, -1):
        for subset in combinations(rest, size):
            if any(set(subset) <= set(f) for f in found):
                continue
            if adds_up(subset, 2):
                found.append(list(subset))
    return found


def _denominators(html_text: str) -> dict[str, set[int]]:
    """Every whole group size a reader can find on the page for each row label.

    A roll or count of pupils in a column headed as the whole group ("Pupils on roll",
    "Pupils", "Learners"); a count beside the share of the same measure ("Pupils in SIMD
    Q1" 12 and "% in SIMD Q1" 8.1 give the sizes whose 8.1% is 12); a roll in a sentence
    that names the row ("... has 149 pupils on roll").
    """
    out: dict[str, set[int]] = {}
    tables = _tables(html_text)
    labels: set[str] = set()
    for header, body in tables:
        offset = 1 if body and header and len(body[0]) == len(header) + 1 else 0
        names = [""] * offset + header
        for row in body:
            if not row or not row[0].strip():
                continue
            key = row[0].strip()
            labels.add(key)
            counts, shares = {}, {}
            for j, h in enumerate(names[:len(row)]):
                if j == 0:
                    continue
                if _people_header(h):
                    v = _number(row[j])
                    if v is not None:
                        words = _measure_words(h)
                        counts[words] = v
                        if not words - {"on", "roll", "total", "all"}:
                            out.setdefault(key, set()).add(int(v))
                elif _share_header(h):
                    sv = _share(row[j])
                    if sv is not None:
                        shares[_measure_words(h)] = sv
            for words, k in counts.items():
                if words in shares and k > 0:
                    p, half = shares[words]
                    if p - half <= 0:
                        continue
                    lo, hi = 100 * k / (p + half), 100 * k / (p - half)
                    sizes = {n for n in range(int(np.ceil(lo - 1e-9)), int(np.floor(hi + 1e-9)) + 1)
                             if n >= k}
                    if 0 < len(sizes) <= 10_000:
                        out.setdefault(key, set()).update(sizes)
    for sentence in _prose(_soup(html_text)):
        for m in _ROLL_IN_PROSE.finditer(sentence):
            n = int((m.group(1) or m.group(2)).replace(",", ""))
            for key in labels:
                if len(key) >= 4 and key.lower() in sentence.lower():
                    out.setdefault(key, set()).add(n)
    return out


def share_completions(html_text: str, threshold: int | None = None) -> list[str]:
    """Hidden shares that the rest of their row gives away.

    A row's shares of a partition (SIMD quintiles 1-5) add up to 100%, so one hidden share
    is 100 less the shown ones, and several hidden shares have that total. One hidden share
    is always refused (it undoes the protection of its cell). Several are refused when a
    size of the row's group found on the page (:func:`_denominators`) makes every count
    they can hold together 1 to ``threshold - 1``.
    """
    threshold = _threshold(threshold)
    sizes = None
    found: list[str] = []
    for header, body in _tables(html_text):
        offset = 1 if body and header and len(body[0]) == len(header) + 1 else 0
        names = [""] * offset + header
        for part in _partitions(header, body, offset):
            for row in body:
                if len(row) <= max(part) or not row[0].strip():
                    continue
                hidden = [j for j in part if _hidden_cell(row[j])]
                shown = [_share(row[j]) for j in part if not _hidden_cell(row[j])]
                if not hidden or any(v is None for v in shown):
                    continue
                lo = 100 - sum(v + h for v, h in shown)
                hi = 100 - sum(v - h for v, h in shown)
                key = row[0].strip()
                if len(hidden) == 1:
                    found.append(f"row {key!r}: the hidden '{names[hidden[0]]}' is 100% less "
                                 f"the row's other shares ({max(lo, 0):.1f}-{hi:.1f}%)")
                    continue
                if sizes is None:
                    sizes = _denominators(html_text)
                ks = {k for n in sizes.get(key, ()) if n > 0
                      for k in range(max(int(np.ceil(n * lo / 100 - 1e-9)), 0),
                                     int(np.floor(n * hi / 100 + 1e-9)) + 1)}
                if _small(sorted(ks), threshold):
                    cols = ", ".join(f"'{names[j]}'" for j in hidden)
                    found.append(f"row {key!r}: the hidden {cols} hold {sorted(ks)} pupils "
                                 f"together (100% less the row's other shares, of a group "
                                 f"size shown on the page), fewer than {threshold}")
    return found


# a row naming a whole: "Total", "All", "All supports", "Authority", "... overall"; not a
# name that merely begins with the word ("All Saints Primary School")
_GROUP_NOUNS = (r"(supports?|schools?|pupils?|learners?|levels?|stages?|clusters?|sectors?|"
                r"famil(?:y|ies)|years?|sessions?|organisers?|groups?)")
_WHOLE = re.compile(r"^(total\b|all(\s+" + _GROUP_NOUNS + r")?\s*(,|$)|authority\b|overall\b|"
                    r"whole\b)|\ball supports$|\boverall$|\btotal$", re.IGNORECASE)
_LESS = re.compile(r"^(.*?)[\s,(]+(?:excluding|without|except|less|minus)\b", re.IGNORECASE)


# words before a number that make it a bound of a rule, not a count ("fewer than 5 pupils")
_BOUND = re.compile(r"\b(than|under|least|most|below|above)\s*$", re.IGNORECASE)


def _measure(header: str) -> str:
    """A count header as the measure it names: lower case, without notes in brackets."""
    return re.sub(r"\s+", " ", re.sub(r"\([^)]*\)", "", header)).strip().lower()


def _nested_rows(a: str, b: str) -> bool:
    """Whether two row labels of one count column describe groups one inside the other."""
    if _WHOLE.search(a.strip()) or _WHOLE.search(b.strip()):
        return True
    for x, y in ((a, b), (b, a)):
        m = _LESS.match(x.strip())
        if m and m.group(1).strip().lower() == y.strip().lower():
            return True
    return False


def _threshold(threshold: int | None = None) -> int:
    """``threshold``, or the kit's suppression threshold (imported late: a large module)."""
    if threshold is not None:
        return int(threshold)
    from nlc_eval.disclosure import THRESHOLD

    return THRESHOLD


def _stems(label: str) -> set[str]:
    return {w.rstrip("s") for w in re.findall(r"[a-z0-9]+", label.lower())} - {
        "all", "total", "authority", "overall", "whole", "the", "of", "and", "in"}


def _whole_and_part(a: str, b: str) -> bool:
    """Rows of two tables: two wholes, or a whole and a row that shares a word with it
    ("Cluster 01, all supports" and "Cluster 01, additional support")."""
    wa, wb = bool(_WHOLE.search(a.strip())), bool(_WHOLE.search(b.strip()))
    return (wa and wb) or ((wa or wb) and bool(_stems(a) & _stems(b)))


def _small_gap(x: float, y: float, threshold: int) -> bool:
    return 1 <= abs(x - y) < threshold


def nested_differences(html_text: str, threshold: int | None = None) -> list[str]:
    """Small counts that the difference of two counts of nested groups gives away.

    See the module doc for which pairs of counts are taken to be nested; ``threshold``
    defaults to :data:`nlc_eval.disclosure.THRESHOLD`.
    """
    threshold = _threshold(threshold)
    cells: list[tuple[int, str, str, float]] = []   # (table, measure, row, value)
    found: list[str] = []
    # rows of the same name in two tables describe the same group only when the tables are
    # about the same thing (the same caption after "Table N."): a school's pupils assessed
    # at P1 and at P4, or in two sessions, are different groups; a whole and a part of it
    # ("Cluster 01, all supports", "Cluster 01, additional support") are nested wherever
    # they stand
    subjects = _subjects(html_text)
    for t, (header, body) in enumerate(_tables(html_text)):
        found += _row_total_vs_columns(header, body, threshold)
        offset = 1 if body and header and len(body[0]) == len(header) + 1 else 0
        for i, h in enumerate(header):
            if not _is_count_header(h):
                continue
            j = i + offset
            for row in body:
                if j < len(row) and row[0].strip() and j > 0:
                    v = _number(row[j])
                    if v is not None:
                        cells.append((t, _measure(h), row[0].strip(), v))
    seen: set = set()

    def flag(text: str) -> None:
        if text not in seen:
            seen.add(text)
            found.append(text)

    for a in range(len(cells)):
        ta, ma, ra, va = cells[a]
        for b in range(a + 1, len(cells)):
            tb, mb, rb, vb = cells[b]
            if ma != mb or not _small_gap(va, vb, threshold):
                continue
            same_table = ta == tb and _nested_rows(ra, rb)
            same_group = ta != tb and (
                (subjects[ta] == subjects[tb] and ra.lower() == rb.lower())
                or _whole_and_part(ra, rb))
            if same_table or same_group:
                flag(f"'{ma}' of '{ra}' ({va:,.0f}) and of '{rb}' ({vb:,.0f}) differ by "
                     f"{abs(va - vb):.0f}, a group of fewer than {threshold}")
    people = [(m, r, v) for _, m, r, v in cells if any(w in m for w in ("pupil", "learner"))]
    for sentence in _prose(_soup(html_text)):
        for m in _COUNT_IN_PROSE.finditer(sentence):
            n = float(m.group(1).replace(",", ""))
            if (n < threshold or "term" in m.group(0).lower()
                    or _BOUND.search(sentence[:m.start()])):
                continue
            said = set(re.findall(r"[\w-]+", sentence.lower()))
            for measure, row, v in people:
                # a named group (a school, a cluster) only against a sentence that names
                # it; a whole (all supports, the authority) against any sentence
                named = bool(_WHOLE.search(row)) or row.lower() in sentence.lower()
                if "term" not in measure and named and _names(said, m.group(0), measure) \
                        and _small_gap(n, v, threshold):
                    flag(f"the sentence's {m.group(0)!r} and '{measure}' of '{row}' "
                         f"({v:,.0f}) differ by {abs(n - v):.0f}, a group of fewer than "
                         f"{threshold}")
    return found


def _row_total_vs_columns(header: list[str], body: list[list[str]], threshold: int
                          ) -> list[str]:
    """In one row, a column headed as a whole (``Total ...``, ``All ...``) against the
    row's other counts of people: they count groups inside it."""
    offset = 1 if body and header and len(body[0]) == len(header) + 1 else 0
    def counts_people(h: str) -> bool:
        low = h.lower()
        return (any(w in low for w in ("pupil", "learner")) and "term" not in low
                and "%" not in h and "rate" not in low and "per" not in low.split())

    people = [(i + offset, h) for i, h in enumerate(header)
              if counts_people(h) and i + offset > 0]
    wholes = [(j, h) for j, h in people if re.match(r"(total|all)\b", h, re.IGNORECASE)]
    out = []
    for row in body:
        for j, h in wholes:
            w = _number(row[j]) if j < len(row) else None
            for k, g in people:
                v = _number(row[k]) if k != j and k < len(row) else None
                if w is not None and v is not None and _small_gap(w, v, threshold):
                    out.append(f"row {row[0]!r}: '{h}' {w:,.0f} and '{g}' {v:,.0f} differ by "
                               f"{abs(w - v):.0f}, a group of fewer than {threshold}")
    return out


_STOP = frozenset({"in", "on", "of", "the", "a", "an", "and", "with", "for", "by"})


def _names(said: set[str], count: str, measure: str) -> bool:
    """Whether a sentence with words ``said`` and the count ``count`` ("37 learners") names
    a table's ``measure``: the same noun, and every other word of the measure."""
    words = set(re.findall(r"[\w-]+", measure)) - _STOP
    nouns = {w.rstrip("s") for w in words if w.rstrip("s") in ("pupil", "learner")}
    noun = re.findall(r"(pupil|learner)s?\b", count.lower())
    return bool(noun) and noun[-1] in nouns and {
        w for w in words if w.rstrip("s") not in ("pupil", "learner")} <= said


def _total_minus_sum(header: list[str], body: list[list[str]], threshold: int) -> list[str]:
    """A total row that differs from the sum of its (all shown) rows by a small count."""
    totals = [r for r in body if r and r[0].strip().lower() in ("total", "authority", "all")]
    if len(totals) != 1 or not header or len(body) < 3:
        return []
    offset = 1 if len(body[0]) == len(header) + 1 else 0
    out = []
    for i, h in enumerate(header):
        j = i + offset
        if not _is_count_header(h) or j >= len(totals[0]):
            continue
        t = _number(totals[0][j])
        parts = [_number(r[j]) if j < len(r) else None for r in body if r is not totals[0]]
        if t is None or any(v is None for v in parts):
            continue
        if _small_gap(t, sum(parts), threshold):
            out.append(f"column '{h}': the total and the sum of its rows differ by "
                       f"{abs(t - sum(parts)):.0f}, a group of fewer than {threshold}")
    return out


def _total_minus_visible(header: list[str], body: list[list[str]], threshold: int
                         ) -> list[str]:
    """A hidden count that its column's total minus the visible cells gives away."""
    totals = [r for r in body if r and r[0].strip().lower() in ("total", "authority", "all")]
    if len(totals) != 1 or not header:
        return []
    offset = 1 if len(body[0]) == len(header) + 1 else 0
    out = []
    total = totals[0]
    for i, h in enumerate(header):
        j = i + offset
        if not _is_count_header(h) or j >= len(total):
            continue
        t = _number(total[j])
        if t is None:
            continue
        cells = [r[j] for r in body if r is not total and j < len(r)]
        hidden = [c for c in cells if c.strip() == "c"]
        shown = [_number(c) for c in cells if c.strip() != "c"]
        if len(hidden) == 1 and all(v is not None for v in shown):
            left = t - sum(shown)
            if 1 <= left < threshold:
                out.append(f"column '{h}': the total minus the visible cells gives the hidden "
                           f"count {left:.0f}")
    return out


def _subjects(text: str) -> list[str]:
    """Each table's caption without its number ("Table 3. "), in the order of :func:`_tables`."""
    out = []
    for table in _soup(text).find_all("table"):
        cap = table.find("caption")
        words = cap.get_text(" ", strip=True) if cap is not None else ""
        out.append(re.sub(r"^\s*table\s+\d+[a-z]?[.:]?\s*", "", words, flags=re.IGNORECASE)
                   .strip().lower())
    return out


def _tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    soup = _soup(text)
    out = []
    for table in soup.find_all("table"):
        head = table.find("thead")
        header = [th.get_text(" ", strip=True) for th in head.find_all("th")] if head else []
        if head is not None:
            # a two-line pandas header: keep the line with the column names
            lines = head.find_all("tr")
            if len(lines) > 1:
                header = [th.get_text(" ", strip=True) for th in lines[0].find_all("th")]
        body = table.find("tbody") or table
        rows = [[c.get_text(" ", strip=True) for c in tr.find_all(["th", "td"])]
                for tr in body.find_all("tr") if tr.find_parent("thead") is None]
        out.append((header, rows))
    return out


def _is_count_header(h: str) -> bool:
    return (h.startswith(COUNT_HEADERS) and not h.endswith("%") and "rate" not in h.lower()
            and "(%)" not in h and "per" not in h.split())


@dataclass(frozen=True)
class PublicationCheck:
    """Scan rendered report HTML (and its results sidecar) for disclosure problems.

    Parameters
    ----------
    pupil_ids : iterable of str
        The batch's pupil identifiers; none may appear in a published page.
    threshold : int
        Counts below this (and above zero) must not be shown (default the suppression
        threshold, :data:`nlc_eval.disclosure.THRESHOLD`).
    """

    pupil_ids: frozenset[str] = field(default_factory=frozenset)
    threshold: int = field(default_factory=_threshold)

    @classmethod
    def for_ids(cls, ids: Iterable, threshold: int | None = None) -> PublicationCheck:
        return cls(frozenset(str(i) for i in ids if len(str(i)) >= MIN_ID_LENGTH),
                   _threshold(threshold))

    def problems(self, html_text: str, sidecar: str = "") -> list[str]:
        """What would make this page unsafe to publish (empty when it is fine)."""
        found: list[str] = []
        if self.pupil_ids:
            for where, text in (("page", html_text), ("results file", sidecar)):
                hits = sorted({t for t in _TOKEN.findall(text) if t in self.pupil_ids})
                if hits:
                    found.append(f"{len(hits)} pupil identifier(s) in the {where}")
        if _CODE.search(html_text):
            found.append("code cells in the page")
        for sentence in _prose(_soup(html_text)):
            if _MARKER_IN_PROSE.search(_EXPLAINED.sub("", sentence)):
                found.append(f"suppression marker 'c' in a sentence: {sentence[:90]!r}")
            if _MISSING_IN_PROSE.search(sentence):
                found.append(f"missing value in a sentence: {sentence[:90]!r}")
        found += derived_counts(html_text, self.threshold)
        for t, (header, rows) in enumerate(_tables(html_text), start=1):
            cols = [i for i, h in enumerate(header) if _is_count_header(h)]
            offset = 0
            if rows and header and len(rows[0]) == len(header) + 1:
                offset = 1                                   # an index column
            for row in rows:
                for i in cols:
                    j = i + offset
                    if j >= len(row):
                        continue
                    cell = row[j].replace(",", "")
                    if _NUMBER.match(cell) and 1 <= float(cell) < self.threshold:
                        found.append(f"table {t}: count {row[j]} under '{header[i]}' is below "
                                     f"the suppression threshold {self.threshold}")
                        break
        return found


def scan_directory(out_dir: str | Path, check: PublicationCheck | None = None) -> dict:
    """Problems of every published page under ``out_dir`` (``{file name: [problems]}``)."""
    check = check or PublicationCheck()
    out = {}
    for page in sorted(Path(out_dir).glob("*.html")):
        if page.name == "index.html":
            probs = check.problems(page.read_text(encoding="utf-8"))
        else:
            side = page.with_suffix(".json")
            probs = check.problems(page.read_text(encoding="utf-8"),
                                   side.read_text(encoding="utf-8") if side.is_file() else "")
        if probs:
            out[page.name] = probs
    return out
