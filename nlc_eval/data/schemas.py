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

# Built from the column lists in nlc_eval.data._official_columns, so the schema and the
# loader cannot drift apart. Every official loader calls validate_official_table().


def _official_school_statistics() -> pa.DataFrameSchema:
    from nlc_eval.data import _official_columns as oc

    pct = [pa.Check.in_range(0, 100)]
    cols: dict[str, pa.Column] = {
        "year": pa.Column("int64", pa.Check.in_range(2000, 2100)),
        "seed_code": pa.Column("string", pa.Check.str_matches(r"^\d+$")),
        "school_name": pa.Column("string", nullable=False),
        "local_authority": pa.Column("string", nullable=False),
        "sector": pa.Column("string", pa.Check.isin(["primary", "secondary", "special"])),
        "fsm_stages": pa.Column("string", nullable=True),
        "attendance_session": pa.Column("string", pa.Check.str_matches(r"^\d{4}/\d{2}$")),
        "fsm_universal_stages": pa.Column("string", nullable=True),
        "simd_status": pa.Column("string", pa.Check.isin(
            ["complete", "reconstructed", "reconstructed_wide", "infeasible", "incomplete",
             "not_collected"])),
        "simd_sum_mismatch": pa.Column("boolean"),
        "n_suppressed": pa.Column("Int64", pa.Check.ge(0)),
        "suppressed_columns": pa.Column("string"),
    }
    for c in oc.COUNT_COLUMNS:
        cols[c] = pa.Column("Int64", pa.Check.ge(0), nullable=c != "roll")
    for c in oc.FLOAT_COLUMNS:
        checks = pct if c.endswith(("_pct", "_rate")) else [pa.Check.ge(0)]
        cols[c] = pa.Column("Float64", checks, nullable=True)
    for c in oc.SIMD_SHARES:
        cols[c] = pa.Column("Float64", pa.Check.in_range(0, 1), nullable=True)
    for c in oc.SIMD_IMPUTED:
        cols[c] = pa.Column("boolean")
    for b in oc.URBAN_BANDS:
        cols[f"{b}_pct_band"] = pa.Column("string", nullable=True)
        cols[f"{b}_pct_low"] = pa.Column("Float64", pct, nullable=True)
        cols[f"{b}_pct_high"] = pa.Column("Float64", pct, nullable=True)
    for c in ("urban_rural_6fold", "urban_rural_8fold", "denomination",
              "fsm_local_initiative"):
        cols[c] = pa.Column("string", nullable=True)
    missing = set(oc.OUTPUT_COLUMNS) - set(cols)
    if missing:  # a programming error, caught by the tests
        raise RuntimeError(f"schema lacks {sorted(missing)}")
    return pa.DataFrameSchema(
        {c: cols[c] for c in oc.OUTPUT_COLUMNS}, strict=True, ordered=True,
        unique=["year", "seed_code", "sector"], report_duplicates="exclude_first",
        name="school_statistics")


#: tidy school-level summary statistics (nlc_eval.data.official.load_school_statistics)
SCHOOL_STATISTICS = _official_school_statistics()

_SEED = pa.Check.str_matches(r"^\d+$")
_PCT = pa.Check.in_range(0, 100)

#: ACEL by school: one row per (seed_code, stage, organiser)
ACEL = pa.DataFrameSchema(
    {
        "session": pa.Column("string", pa.Check.str_matches(r"^\d{4}/\d{2}$")),
        "stage": pa.Column("string", pa.Check.isin(["P1, P4 & P7 combined", "S3"])),
        "local_authority": pa.Column("string"),
        "seed_code": pa.Column("string", _SEED),
        "school_name": pa.Column("string"),
        "organiser": pa.Column("string", pa.Check.isin(
            ["Reading", "Writing", "Listening and Talking", "Numeracy"])),
        "pct": pa.Column("Float64", _PCT, nullable=True),
        "pct_low": pa.Column("Float64", _PCT, nullable=True),
        "pct_high": pa.Column("Float64", _PCT, nullable=True),
        "pct_band": pa.Column("string", nullable=True),
        "banded": pa.Column("boolean"),
        "suppressed": pa.Column("boolean"),
    },
    checks=[pa.Check(lambda d: (d["pct_low"] <= d["pct_high"]).fillna(True),
                     name="pct_low_le_pct_high")],
    strict=True, unique=["seed_code", "stage", "organiser"], name="acel")

#: SIMD data zones: one row per data zone (indicator columns pass through, checked >= 0)
SIMD_DATAZONES = pa.DataFrameSchema(
    {
        "data_zone": pa.Column("string", pa.Check.str_matches(r"^S01\d{6}$"), unique=True),
        "intermediate_zone": pa.Column("string"),
        "council_area": pa.Column("string"),
        "total_population": pa.Column("Int64", pa.Check.ge(0)),
        "working_age_population": pa.Column("Int64", pa.Check.ge(0)),
        "simd_rank": pa.Column("Int64", pa.Check.ge(1)),
        "simd_percentile": pa.Column("Int64", pa.Check.in_range(1, 100)),
        "simd_vigintile": pa.Column("Int64", pa.Check.in_range(1, 20)),
        "simd_decile": pa.Column("Int64", pa.Check.in_range(1, 10)),
        "simd_quintile": pa.Column("Int64", pa.Check.in_range(1, 5)),
        # domain ranks share tied places (e.g. 5955.5), so they are floats
        r"^.*_domain_rank$": pa.Column("Float64", pa.Check.ge(1), nullable=True, regex=True),
    },
    strict=False, name="simd_datazones")

#: school roll and locations: one row per (seed_code, sector)
SCHOOL_LOCATIONS = pa.DataFrameSchema(
    {
        "seed_code": pa.Column("string", _SEED),
        "school_uid": pa.Column("string", nullable=True),
        "sector": pa.Column("string", pa.Check.isin(["primary", "secondary", "special"])),
        "centre_type": pa.Column("string", nullable=True),
        "school_name": pa.Column("string"),
        "local_authority": pa.Column("string"),
        "la_code": pa.Column("string", nullable=True),
        "data_zone": pa.Column("string", nullable=True),
        "denomination": pa.Column("string", nullable=True),
        "fte_teachers": pa.Column("Float64", pa.Check.ge(0), nullable=True),
        "roll": pa.Column("Int64", pa.Check.ge(0), nullable=True),
        "latitude": pa.Column("Float64", pa.Check.in_range(54.0, 61.5), nullable=True),
        "longitude": pa.Column("Float64", pa.Check.in_range(-9.0, 0.0), nullable=True),
        "easting": pa.Column("Float64", nullable=True),
        "northing": pa.Column("Float64", nullable=True),
    },
    strict=False, unique=["seed_code", "sector"], name="school_locations")

#: official contact list, open schools: one row per seed code
CONTACT_LIST = pa.DataFrameSchema(
    {
        "seed_code": pa.Column("string", _SEED, unique=True),
        "local_authority": pa.Column("string"),
        "centre_type": pa.Column("string", nullable=True),
        "school_name": pa.Column("string"),
        "postcode": pa.Column("string", nullable=True),
        "denomination": pa.Column("string", nullable=True),
        "primary_department": pa.Column("boolean"),
        "secondary_department": pa.Column("boolean"),
        "special_department": pa.Column("boolean"),
    },
    strict=False, name="contact_list")


#: cluster membership (nlc_eval.data.clusters): one row per (seed_code, sector)
CLUSTERS = pa.DataFrameSchema(
    {
        "seed_code": pa.Column("string", _SEED),
        "sector": pa.Column("string", pa.Check.isin(["primary", "secondary", "special"])),
        "school_name": pa.Column("string"),
        "cluster": pa.Column("string", pa.Check.str_length(min_value=1)),
        "cluster_id": pa.Column("string", pa.Check.str_matches(r"^[a-z0-9-]+$")),
        "approximate": pa.Column("bool"),
        "distance_km": pa.Column("float64", pa.Check.ge(0), required=False),
    },
    strict=False, unique=["seed_code", "sector"], name="clusters")


def validate_official_table(frame, schema: pa.DataFrameSchema, *, file=None, sheet=None,
                            file_rows=None):
    """Validate ``frame`` against ``schema``; failures become one :class:`DataError`.

    The message names the file (and sheet), the first failing column and row, the check
    that failed and how many cells failed in all. ``file_rows`` (a sequence aligned with
    the frame's positions) turns a table row into the row number shown in the file.
    """
    from pandera.errors import SchemaError, SchemaErrors

    from nlc_eval.errors import DataError

    try:
        return schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        first = cases.iloc[0]
        column = first.get("column")
        index = first.get("index")
        row = None if index is None or (isinstance(index, float) and index != index) else index
        if row is not None and file_rows is not None:
            try:
                row = int(file_rows[int(row)])
            except (ValueError, IndexError, TypeError):
                row = f"{row} (table row)"
        elif row is not None:
            row = f"{row} (table row)"
        raise DataError(
            f"{len(cases)} value(s) fail the {schema.name} schema; first: check "
            f"{first.get('check')!r} failed for value {first.get('failure_case')!r}.",
            file=file, sheet=sheet, table=schema.name,
            column=None if column is None else str(column),
            row=row,
            fix="correct the file, or give the edition exactly as published.") from exc
    except SchemaError as exc:  # pragma: no cover - lazy=True collects into SchemaErrors
        raise DataError(str(exc), file=file, sheet=sheet, table=schema.name) from exc


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
