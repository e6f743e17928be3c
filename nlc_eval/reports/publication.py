"""The last check before a report is published: nothing disclosive, no code.

Every report page is scanned after it is rendered and before it is written under
``--out``; a page that fails is not published (the report is marked failed, naming what was
found). The scan is a second line of defence: tables are already protected by
:func:`nlc_eval.disclosure.suppress` inside the notebooks. It looks for

- pupil identifiers: any token of the page (or of the results sidecar) that is one of the
  batch's pupil ids (ids shorter than six characters are too ambiguous to scan for);
- small counts: a value from 1 to ``threshold - 1`` in a table column whose header names a
  count of people or supports (:data:`COUNT_HEADERS`; suppressed cells show ``c``);
- code: highlighted source or input areas left in the HTML.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

#: Table headers (prefixes) that hold counts of pupils, learners or supports in the reports.
COUNT_HEADERS = ("Pupils", "Learners", "Comparison learners", "Supports", "Universal",
                 "Additional", "Intensive", "Sessions planned", "Sessions attended",
                 "Ended successfully", "Ended otherwise", "Ongoing", "Supported pupils",
                 "Supported care-experienced", "Community leadership supports",
                 "Number of", "Supported learners")
# elements (not stylesheet rules) that only source code produces
_CODE = re.compile(r'class="[^"]*\b(highlight|jp-CodeMirrorEditor|jp-InputArea-editor|input_area)\b')
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-/]{5,}")
_NUMBER = re.compile(r"^-?[\d,]+(\.\d+)?$")
MIN_ID_LENGTH = 6


def _tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
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
        Counts below this (and above zero) must not be shown (the suppression threshold).
    """

    pupil_ids: frozenset[str] = field(default_factory=frozenset)
    threshold: int = 5

    @classmethod
    def for_ids(cls, ids: Iterable, threshold: int = 5) -> PublicationCheck:
        return cls(frozenset(str(i) for i in ids if len(str(i)) >= MIN_ID_LENGTH), threshold)

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
