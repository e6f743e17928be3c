"""One definition per measure: its name on the page, where it comes from, its period.

Every report section labels its columns and sentences from this registry, so a measure
reads the same, and has the same value for a school and period, on every page; and every
number a page shows says where it comes from. Two figures that differ because they are
different measures (census attendance and attendance in the pupil records; learners
supported from August to December and learners in a three-session impact estimate) carry
different names here, never the same one.

Sources
-------
``census``
    The Scottish Government's school statistics (September pupil census): roll, SIMD,
    free school meals. Period: the census year, read as the session it opens ("2024/25").
``attendance_statistics``
    The Scottish Government's attendance and absence statistics (published every other
    session): a school's attendance rate for the session named in the file.
``pupil_extract``
    The council's pupil-level records (or the synthetic authority's): attendance sessions,
    ACEL judgements, SIMD of each pupil. Period: a school session.
``supports_extract``
    The cluster supports records (cluster dashboard). Period: the dashboard period
    (August to December of the latest session unless stated).
``estimate``
    Figures of an impact estimate (entry-cohort design) over its sessions.

Examples
--------
>>> label("roll")
'Pupils on roll'
>>> session(2024)
'2024/25'
>>> get("comparison_learners").unit
'learners'
"""

from __future__ import annotations

from dataclasses import dataclass

from nlc_eval.errors import ReportError

#: Kinds of unit a measure has (counts of people are "pupils" or "learners").
COUNT_UNITS = ("pupils", "learners", "supports", "sessions", "schools", "incidents")


@dataclass(frozen=True)
class Measure:
    """A measure as the reports publish it.

    Attributes
    ----------
    key : str
        The registry key sections use.
    label : str
        Its heading in tables and its name in sentences (unique across the registry).
    source : str
        One of ``census``, ``attendance_statistics``, ``pupil_extract``,
        ``supports_extract``, ``estimate``.
    period : str
        ``census`` (September census), ``session``, ``dashboard`` (dashboard period) or
        ``sessions`` (the sessions of an estimate).
    unit : str
        ``pupils``, ``learners``, ``supports``, ``sessions``, ``schools``, ``incidents``
        (counts), ``%``, ``percentage points`` or ``per 1,000 pupils``.
    denominator : str
        What a rate is out of ("" for counts).
    """

    key: str
    label: str
    source: str
    period: str
    unit: str
    denominator: str = ""

    @property
    def is_count(self) -> bool:
        """True for a count of people, supports, sessions or incidents."""
        return self.unit in COUNT_UNITS


_M = Measure
MEASURES: dict[str, Measure] = {m.key: m for m in (
    # school statistics (census)
    _M("roll", "Pupils on roll", "census", "census", "pupils"),
    _M("simd_q1_pupils", "Pupils in SIMD Q1", "census", "census", "pupils"),
    _M("simd_q5_pupils", "Pupils in SIMD Q5", "census", "census", "pupils"),
    _M("simd_q1_pct", "% in SIMD Q1", "census", "census", "%",
       "pupils with a known SIMD quintile"),
    _M("simd_q5_pct", "% in SIMD Q5", "census", "census", "%",
       "pupils with a known SIMD quintile"),
    _M("fsm_pct", "% registered for free school meals", "census", "census", "%",
       "pupils in stages where registration is not universal"),
    _M("schools", "Schools", "census", "census", "schools"),
    _M("census_attendance", "Attendance % (school statistics)", "attendance_statistics",
       "session", "%", "half-day sessions possible"),
    # pupil records
    _M("pupils", "Pupils in the records", "pupil_extract", "session", "pupils"),
    _M("pupil_attendance", "Attendance % (pupil records)", "pupil_extract", "session", "%",
       "half-day sessions possible"),
    _M("attendance_vs_family", "Attendance vs family (points)", "pupil_extract", "session",
       "percentage points"),
    _M("attendance_vs_expected", "Attendance vs expected (points)", "pupil_extract",
       "session", "percentage points"),
    _M("acel_assessed", "Pupils assessed (ACEL)", "pupil_extract", "session", "pupils"),
    _M("acel_on_track", "Pupils on track in all ACEL areas", "pupil_extract", "session",
       "pupils"),
    _M("acel_on_track_pct", "% on track in all ACEL areas", "pupil_extract", "session", "%",
       "pupils assessed at P1, P4, P7 and S3"),
    _M("acel_vs_expected", "On track vs expected (points)", "pupil_extract", "session",
       "percentage points"),
    _M("literacy_pct", "Literacy on track %", "pupil_extract", "session", "%",
       "pupils assessed in literacy"),
    _M("numeracy_pct", "Numeracy on track %", "pupil_extract", "session", "%",
       "pupils assessed in numeracy"),
    _M("exclusions_per_1000", "Exclusion incidents per 1,000 pupils", "pupil_extract",
       "session", "per 1,000 pupils"),
    # cluster supports (dashboard)
    _M("learners_supported", "Learners supported", "supports_extract", "dashboard",
       "learners"),
    _M("supports", "Supports", "supports_extract", "dashboard", "supports"),
    _M("sessions_planned", "Support sessions planned", "supports_extract", "dashboard",
       "sessions"),
    _M("sessions_attended", "Support sessions attended", "supports_extract", "dashboard",
       "sessions"),
    _M("support_attendance", "Support session attendance %", "supports_extract",
       "dashboard", "%", "support sessions planned, all levels"),
    _M("support_attendance_ai", "Support session attendance % (additional and intensive)",
       "supports_extract", "dashboard", "%",
       "support sessions planned at additional or intensive level"),
    _M("success_pct", "Supports ended successfully %", "supports_extract", "dashboard", "%",
       "supports that ended in the period"),
    # impact estimates
    _M("learners_in_estimate", "Learners supported (in the estimate)", "estimate",
       "sessions", "learners"),
    _M("comparison_learners", "Comparison learners (not yet supported)", "estimate",
       "sessions", "learners"),
    _M("effect", "Effect on attendance (points)", "estimate", "sessions",
       "percentage points"),
)}


def get(key: str) -> Measure:
    """The registered measure ``key``.

    Raises
    ------
    ReportError
        For an unknown key, listing the registered ones.
    """
    try:
        return MEASURES[key]
    except KeyError:
        raise ReportError(f"unknown measure {key!r}; registered measures: "
                          f"{', '.join(sorted(MEASURES))}. Fix: add it to "
                          "nlc_eval/reports/measures.py.") from None


def label(key: str) -> str:
    """The heading of measure ``key`` (see :data:`MEASURES`)."""
    return get(key).label


def session(year: int) -> str:
    """The session that starts in ``year``: ``2024`` -> ``'2024/25'``."""
    y = int(year)
    return f"{y}/{str(y + 1)[-2:]}"


def sessions(first: int, last: int) -> str:
    """A run of sessions: ``(2022, 2024)`` -> ``'2022/23 to 2024/25'``."""
    return session(first) if int(first) == int(last) else (
        f"{session(first)} to {session(last)}")


def period_words(period) -> str:
    """A dashboard period ``(start, end)`` in words: ``'August to December 2024'``."""
    import pandas as pd

    if not period or len(period) != 2:
        return ""
    a, b = (pd.Timestamp(p) for p in period)
    if a.year == b.year:
        return f"{a:%B} to {b:%B %Y}"
    return f"{a:%B %Y} to {b:%B %Y}"


_SOURCES = {
    ("census", "official"): "Scottish Government school statistics (pupil census, "
                            "September {year})",
    ("census", "synthetic"): "an invented estate shaped like the authority's (not real "
                             "schools), census of September {year}",
    ("attendance_statistics", "official"): "Scottish Government attendance and absence "
                                           "statistics, session {session}",
    ("attendance_statistics", "synthetic"): "an invented estate's attendance, session "
                                            "{session}",
    ("pupil_extract", "extracts"): "council pupil records",
    ("pupil_extract", "synthetic"): "synthetic pupil records (not real pupils)",
    ("supports_extract", "extracts"): "council cluster supports records",
    ("supports_extract", "synthetic"): "synthetic cluster supports records (not real "
                                       "pupils)",
    ("estimate", "extracts"): "council pupil and supports records, entry-cohort estimate",
    ("estimate", "synthetic"): "synthetic pupil and supports records (not real pupils), "
                               "entry-cohort estimate",
}


def source_line(key: str, *, school_source: str = "official", pupil_source: str = "synthetic",
                year: int | None = None, attendance_session: str = "") -> str:
    """Where measure ``key`` comes from, as a source line ("Source: ..." without the word).

    Parameters
    ----------
    key : str
        A registered measure.
    school_source : {"official", "synthetic"}
        Where the school statistics came from (``ReportContext.source``).
    pupil_source : {"extracts", "synthetic"}
        Where the pupil records came from (``ReportContext.pupil_source``).
    year : int, optional
        Census year; ``attendance_session`` the session of the attendance statistics.
    """
    m = get(key)
    side = school_source if m.source in ("census", "attendance_statistics") else pupil_source
    text = _SOURCES.get((m.source, side))
    if text is None:
        raise ReportError(f"no source text for measure {key!r} with source {side!r}; "
                          "valid: official/synthetic schools, extracts/synthetic pupils.")
    text = text.replace("{year}", str(year) if year else "the reference year")
    text = text.replace("{session}", attendance_session or "of the file")
    return text[:1].upper() + text[1:]


def sources(keys, **kwargs) -> str:
    """The distinct source lines of several measures, joined with "; "."""
    out: list[str] = []
    for k in keys:
        line = source_line(k, **kwargs)
        if line not in out:
            out.append(line)
    return "; ".join(out)
