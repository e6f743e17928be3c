"""Pandera schemas of every tidy table the kit produces or accepts.

Official (school-level) tables come first, then the council's pupil-level extracts.
Loaders validate with ``lazy=True`` and turn pandera's failure cases into
:class:`nlc_eval.errors.DataError` messages naming file, column and row.
"""

from __future__ import annotations

import pandera.pandas as pa

# ---------------------------------------------------------------------------
# Official school-level tables (nlc_eval.data.official)
# ---------------------------------------------------------------------------

# ---- end of official schemas ----

# ---------------------------------------------------------------------------
# Council pupil-level extracts (nlc_eval.data.extracts)
# ---------------------------------------------------------------------------

#: Allowed values of the extracts' categorical columns (documented in data/README.md).
EXTRACT_SECTORS = ("primary", "secondary", "special")
EXTRACT_STAGES = tuple([f"P{i}" for i in range(1, 8)] + [f"S{i}" for i in range(1, 7)])
EXTRACT_SEXES = ("F", "M", "X")
EXTRACT_TERMS = (1, 2, 3)
EXTRACT_ORGANISERS = ("reading", "writing", "listening_talking", "numeracy", "senior_phase")
EXTRACT_PROVIDERS = ("cluster_support_teacher", "ciil", "family_engagement_worker", "partner")
EXTRACT_LEVELS = ("universal", "additional", "intensive")
EXTRACT_DRIVERS = ("community_leadership", "wellbeing", "attainment")
EXTRACT_STATUSES = ("ongoing", "ended_successful", "ended_other")
_X_YEAR = pa.Check.in_range(2000, 2100)
_X_COUNT = pa.Check.ge(0)
_X_SEED = pa.Check.str_matches(r"^\d{5,8}$")
_X_ID = pa.Check.str_length(min_value=1)

EXTRACT_SCHOOLS = pa.DataFrameSchema(
    {
        "seed_code": pa.Column(str, _X_SEED, unique=True),
        "school_name": pa.Column(str, _X_ID),
        "sector": pa.Column(str, pa.Check.isin(EXTRACT_SECTORS)),
        "cluster": pa.Column(str, _X_ID),
        "roll": pa.Column("Int64", _X_COUNT, required=False, nullable=True),
        "simd_q1": pa.Column("Int64", _X_COUNT, required=False, nullable=True),
        "simd_q2": pa.Column("Int64", _X_COUNT, required=False, nullable=True),
        "simd_q3": pa.Column("Int64", _X_COUNT, required=False, nullable=True),
        "simd_q4": pa.Column("Int64", _X_COUNT, required=False, nullable=True),
        "simd_q5": pa.Column("Int64", _X_COUNT, required=False, nullable=True),
        "fsm_pct": pa.Column(float, pa.Check.in_range(0, 100), required=False, nullable=True),
        "attendance_rate": pa.Column(float, pa.Check.in_range(0, 100), required=False,
                                     nullable=True),
    },
    name="schools",
    strict=False,
)
EXTRACT_PUPILS = pa.DataFrameSchema(
    {
        "pupil_id": pa.Column(str, _X_ID),
        "seed_code": pa.Column(str, _X_SEED),
        "year": pa.Column("int64", _X_YEAR),
        "stage": pa.Column(str, pa.Check.isin(EXTRACT_STAGES)),
        "sex": pa.Column(str, pa.Check.isin(EXTRACT_SEXES)),
        "simd_decile": pa.Column("Int64", pa.Check.in_range(1, 10), nullable=True),
        "fsm": pa.Column(bool),
        "asn": pa.Column(bool),
        "eal": pa.Column(bool),
        "care_experienced": pa.Column(bool),
    },
    name="pupils",
    unique=["pupil_id", "year"],
    strict=False,
)
EXTRACT_ATTENDANCE = pa.DataFrameSchema(
    {
        "pupil_id": pa.Column(str, _X_ID),
        "year": pa.Column("int64", _X_YEAR),
        "term": pa.Column("int64", pa.Check.isin(EXTRACT_TERMS)),
        "possible_sessions": pa.Column("int64", _X_COUNT),
        "attended_sessions": pa.Column("int64", _X_COUNT),
        "exclusions": pa.Column("int64", _X_COUNT),
        "exclusion_incidents": pa.Column("int64", _X_COUNT),
    },
    name="attendance",
    unique=["pupil_id", "year", "term"],
    strict=False,
)
EXTRACT_ATTAINMENT = pa.DataFrameSchema(
    {
        "pupil_id": pa.Column(str, _X_ID),
        "year": pa.Column("int64", _X_YEAR),
        "organiser": pa.Column(str, pa.Check.isin(EXTRACT_ORGANISERS)),
        "on_track": pa.Column("boolean", nullable=True),
        "tariff_points": pa.Column(float, _X_COUNT, nullable=True),
    },
    name="attainment",
    unique=["pupil_id", "year", "organiser"],
    strict=False,
)
EXTRACT_SUPPORTS = pa.DataFrameSchema(
    {
        "support_id": pa.Column(str, _X_ID, unique=True),
        "pupil_id": pa.Column(str, _X_ID),
        "cluster": pa.Column(str, _X_ID),
        "provider": pa.Column(str, pa.Check.isin(EXTRACT_PROVIDERS)),
        "level": pa.Column(str, pa.Check.isin(EXTRACT_LEVELS)),
        "driver": pa.Column(str, pa.Check.isin(EXTRACT_DRIVERS)),
        "start_date": pa.Column(pa.DateTime),
        "end_date": pa.Column(pa.DateTime, nullable=True),
        "status": pa.Column(str, pa.Check.isin(EXTRACT_STATUSES)),
        "sessions_planned": pa.Column("int64", _X_COUNT),
        "sessions_attended": pa.Column("int64", _X_COUNT),
    },
    name="supports",
    strict=False,
)
#: The five extract schemas by table name.
EXTRACT_SCHEMAS = {
    "schools": EXTRACT_SCHOOLS,
    "pupils": EXTRACT_PUPILS,
    "attendance": EXTRACT_ATTENDANCE,
    "attainment": EXTRACT_ATTAINMENT,
    "supports": EXTRACT_SUPPORTS,
}

# ---- end of extract schemas ----
