"""Published headers of the school-level summary statistics and their stable names.

Every edition from 2019 to 2024 names its columns a little differently: footnote numbers
(``Pupil roll(1)``), ``[Note N]`` suffixes, ``(%)`` units, typos (``SIMD not availble``,
``Unuathorised absence rate``) and real renames (``FTE Teachers`` became
``Teachers (Full Time Equivalent)``; the free-school-meal columns moved from P4-P7 to P5-P7
to P6-P7 as universal entitlement grew). :func:`normalise_header` strips the decoration and
:data:`HEADER_ALIASES` maps what is left to one snake_case name.

A header that is neither known nor blank is an error: the loader refuses to guess, and the
message says to add the new spelling here.
"""

from __future__ import annotations

import re

# ---------------------------------------------------------------------------
# Cell markers
# ---------------------------------------------------------------------------

#: Suppressed (confidential, a small number): the value exists but is not published.
SUPPRESSED_MARKERS = frozenset({"c", "C", "*", "[c]", "[C]"})
#: Not applicable (e.g. S1 count of a primary school): ``z`` since 2021, ``#`` before.
NOT_APPLICABLE_MARKERS = frozenset({"z", "Z", "#", "[z]"})
#: Not available / not collected (grant-aided schools): ``x`` and ``X`` (2022, 2023).
NOT_AVAILABLE_MARKERS = frozenset({"x", "X", "[x]", ":", "-", "..", "n/a", "N/A"})

MARKER_CLASSES = {
    "suppressed": SUPPRESSED_MARKERS,
    "not_applicable": NOT_APPLICABLE_MARKERS,
    "not_available": NOT_AVAILABLE_MARKERS,
}


def classify_marker(text: str) -> str | None:
    """Return the marker class of a cell's text, or None if it is not a marker.

    Surrounding white space is ignored, so ``" c"`` (published in 2021) is suppressed.

    Examples
    --------
    >>> classify_marker(" c"), classify_marker("z"), classify_marker("12")
    ('suppressed', 'not_applicable', None)
    """
    t = text.strip()
    for name, markers in MARKER_CLASSES.items():
        if t in markers:
            return name
    return None


# ---------------------------------------------------------------------------
# Header normalisation
# ---------------------------------------------------------------------------

_NOTE = re.compile(r"\[\s*note\s*\d*\s*\]", re.IGNORECASE)
_FOOTNOTE_NUMBER = re.compile(r"\(\d+\)")
_PERCENT_UNIT = re.compile(r"\(%\)")
_SPACES = re.compile(r"\s+")


def clean_text(value: str) -> str:
    """Undo the HTML entities and note markers found in published text cells.

    Examples
    --------
    >>> clean_text("St Mary&apos;s Primary School [Note 3]")
    "St Mary's Primary School"
    """
    text = (
        value.replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
        .replace("\ufeff", "")
        .replace("\xa0", " ")
    )
    text = _NOTE.sub("", text)
    return _SPACES.sub(" ", text).strip()


def normalise_header(header: object) -> str:
    """Reduce a published header to a lower-case key without notes or footnote numbers.

    Examples
    --------
    >>> normalise_header("Attendance rate (%)[Note 8] [Note 9]")
    'attendance rate'
    >>> normalise_header("Pupil roll(1)")
    'pupil roll'
    """
    if header is None:
        return ""
    text = clean_text(str(header))
    if text.lower().startswith("unnamed:"):
        return ""
    text = _FOOTNOTE_NUMBER.sub("", text)
    text = _PERCENT_UNIT.sub("", text)
    return _SPACES.sub(" ", text).strip().lower()


# ---------------------------------------------------------------------------
# School-level summary statistics
# ---------------------------------------------------------------------------

#: normalised published header -> stable column name
HEADER_ALIASES: dict[str, str] = {
    "local authority": "local_authority",
    "seedcode": "seed_code",
    "seed code": "seed_code",
    "school name": "school_name",
    "school type": "sector",
    "fte teachers": "fte_teachers",
    "teachers (full time equivalent)": "fte_teachers",
    "pupil roll": "roll",
    "pupil teacher ratio": "pupil_teacher_ratio",
    "average class size": "average_class_size",
    "female": "female",
    "male": "male",
    **{f"p{i}": f"p{i}" for i in range(1, 8)},
    **{f"s{i}": f"s{i}" for i in range(1, 7)},
    "special school pupils": "special_pupils",
    "pupils with an additional support need recorded": "asn",
    "pupils with no additional support needs recorded": "no_asn",
    "pupils from minority ethnic groups": "minority_ethnic",
    "minority ethnic": "minority_ethnic",
    "white - british": "white_british",
    "white - other": "white_other",
    "not known/not disclosed": "ethnicity_not_known",
    "pupils with english as an additional language": "eal",
    "pupils without english as an additional language": "no_eal",
    "pupils taught in gaelic": "gaelic",
    "pupils with no gaelic taught": "no_gaelic",
    # free school meals: older stages (the informative measure) -> fsm_count / fsm_pct
    "number of p4-p7/s1-s6/sp pupils registered for fsm": "fsm_count|P4-S6",
    "percentage of p4-p7/s1-s6/sp pupils registered for fsm": "fsm_pct|P4-S6",
    "p5-p7/s1-s6/sp pupils registered for free school meals": "fsm_count|P5-S6",
    "percentage of p5-p7/s1-s6/sp pupils registered for free school meals": "fsm_pct|P5-S6",
    "p6-p7/s1-s6/sp pupils registered for free school meals": "fsm_count|P6-S6",
    "percentage of p6-p7/s1-s6/sp pupils registered for free school meals": "fsm_pct|P6-S6",
    # younger stages, universally entitled: registration says little about poverty
    "p1-p4 pupils registered for free school meals": "fsm_universal_count|P1-P4",
    "percentage of p1-p4 pupils registered for free school meals": "fsm_universal_pct|P1-P4",
    "p1-p5 pupils registered for free school meals": "fsm_universal_count|P1-P5",
    "percentage of p1-p5 pupils registered for free school meals": "fsm_universal_pct|P1-P5",
    "local initiatives to extend fsm eligibility": "fsm_local_initiative",
    **{f"simd quintile {i}": f"simd_q{i}" for i in range(1, 6)},
    "simd not availble": "simd_unknown",
    "simd not available": "simd_unknown",
    "urban": "urban_pct_band",
    "small town": "small_town_pct_band",
    "rural": "rural_pct_band",
    "urban/rural classification not available": "urban_rural_unknown_pct_band",
    "attendance rate": "attendance_rate",
    "authorised absence rate": "authorised_absence_rate",
    "unauthorised absence rate": "unauthorised_absence_rate",
    "unuathorised absence rate": "unauthorised_absence_rate",
    "temporary exclusion rate": "exclusion_absence_rate",
    "absence due to temporary exclusion rate": "exclusion_absence_rate",
    "school's 6-fold urban/rural classification": "urban_rural_6fold",
    "school's 8-fold urban/rural classification": "urban_rural_8fold",
    "denomination of school": "denomination",
}

STAGES = [f"p{i}" for i in range(1, 8)] + [f"s{i}" for i in range(1, 7)]
SIMD_COUNTS = [f"simd_q{i}" for i in range(1, 6)]
SIMD_CELLS = SIMD_COUNTS + ["simd_unknown"]
SIMD_SHARES = [f"simd_q{i}_share" for i in range(1, 6)]
SIMD_IMPUTED = [f"{c}_imputed" for c in SIMD_CELLS]
URBAN_BANDS = ["urban", "small_town", "rural", "urban_rural_unknown"]

#: counts (whole numbers of pupils)
COUNT_COLUMNS = [
    "roll", "female", "male", *STAGES, "special_pupils", "asn", "no_asn", "eal", "no_eal",
    "gaelic", "no_gaelic", "minority_ethnic", "white_british", "white_other",
    "ethnicity_not_known", "fsm_count", "fsm_universal_count", *SIMD_CELLS,
]
#: measured quantities with decimals (teachers, ratios, percentages)
FLOAT_COLUMNS = [
    "fte_teachers", "pupil_teacher_ratio", "average_class_size", "fsm_pct",
    "fsm_universal_pct", "attendance_rate", "authorised_absence_rate",
    "unauthorised_absence_rate", "exclusion_absence_rate",
]
TEXT_COLUMNS = [
    "local_authority", "school_name", "urban_rural_6fold", "urban_rural_8fold",
    "denomination", "fsm_local_initiative",
]
BAND_COLUMNS = [f"{b}_pct_band" for b in URBAN_BANDS]

#: columns every edition must provide (the agreed interface); others are kept when present
REQUIRED = [
    "local_authority", "seed_code", "school_name", "sector", "roll", "fte_teachers",
    "pupil_teacher_ratio", "average_class_size", "female", "male", *STAGES, "asn", "eal",
    "fsm_pct", *SIMD_CELLS, "attendance_rate", "authorised_absence_rate",
    "unauthorised_absence_rate", "exclusion_absence_rate", "urban_pct_band",
    "urban_rural_6fold", "urban_rural_8fold", "denomination",
]

#: output column order of the tidy table
OUTPUT_COLUMNS = [
    "year", "seed_code", "school_name", "local_authority", "sector", "roll", "fte_teachers",
    "pupil_teacher_ratio", "average_class_size", "female", "male", *STAGES, "special_pupils",
    "asn", "no_asn", "eal", "no_eal", "gaelic", "no_gaelic", "minority_ethnic",
    "white_british", "white_other", "ethnicity_not_known", "fsm_count", "fsm_pct",
    "fsm_stages", "fsm_universal_count", "fsm_universal_pct", "fsm_universal_stages",
    "fsm_local_initiative", *SIMD_CELLS, *SIMD_SHARES, *SIMD_IMPUTED, "simd_status",
    "simd_sum_mismatch", "attendance_rate", "authorised_absence_rate",
    "unauthorised_absence_rate", "exclusion_absence_rate", "attendance_session",
    *[f"{b}_pct_{part}" for b in URBAN_BANDS for part in ("band", "low", "high")],
    "urban_rural_6fold", "urban_rural_8fold", "denomination", "n_suppressed",
    "suppressed_columns",
]

#: School session the attendance and absence columns of each edition describe. Attendance
#: was collected every two years until 2022/23, and the editions in between repeat the
#: previous figures (2020 repeats 2019's, 2022 repeats 2021's; the tests check this
#: against the files). Use this column to avoid counting a session twice.
ATTENDANCE_SESSION = {2019: "2018/19", 2020: "2018/19", 2021: "2020/21", 2022: "2020/21",
                      2023: "2022/23", 2024: "2023/24"}


def attendance_session(year: int) -> str:
    """Session of the attendance figures in the ``year`` edition (annual from 2022/23)."""
    if year in ATTENDANCE_SESSION:
        return ATTENDANCE_SESSION[year]
    return f"{year - 1}/{year % 100:02d}"


#: Authority names that drift between editions -> the spelling of the latest edition, so
#: that an authority is one series across years ("City of Edinburgh" in 2020 and 2021).
LOCAL_AUTHORITY_ALIASES = {"City of Edinburgh": "Edinburgh City"}

SECTORS = {"primary": "primary", "secondary": "secondary", "special": "special"}

#: published band text such as ``90-100%``, ``50 - <55%``, ``>20%``, ``0%``
BAND_PATTERN = re.compile(
    r"^\s*(?:(?P<low>\d+(?:\.\d+)?)\s*-\s*(?P<lt><)?\s*(?P<high>\d+(?:\.\d+)?)"
    r"|(?P<gt>>)\s*(?P<above>\d+(?:\.\d+)?)|(?P<exact>\d+(?:\.\d+)?))\s*%?\s*$"
)


def parse_band(text: str) -> tuple[float, float] | None:
    """Parse a published percentage band into (low, high); None if it is not a band.

    ``50 - <55%`` gives (50, 55) (the upper end is exclusive, as published); ``>20%`` gives
    (20, 100); an exact ``0%`` gives (0, 0).

    Examples
    --------
    >>> parse_band("90-100%"), parse_band("50 - <55%"), parse_band(">20%"), parse_band("x")
    ((90.0, 100.0), (50.0, 55.0), (20.0, 100.0), None)
    """
    m = BAND_PATTERN.match(text)
    if m is None:
        return None
    if m.group("exact") is not None:
        v = float(m.group("exact"))
        return (v, v)
    if m.group("gt") is not None:
        return (float(m.group("above")), 100.0)
    return (float(m.group("low")), float(m.group("high")))
