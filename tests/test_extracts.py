"""Council pupil-level extracts: loading, validation, cross-table checks, pseudonymisation."""

from __future__ import annotations

import hashlib
import hmac

import pandas as pd
import pytest

from nlc_eval.data.extracts import (
    TABLES,
    Extracts,
    load_extracts,
    pseudonymise,
    session_of,
    term_of,
    validate_extracts,
)
from nlc_eval.data.synthetic import authority
from nlc_eval.errors import DataError

SALT = "a secret salt of some length"


@pytest.fixture(scope="module")
def small() -> Extracts:
    """A consistent slice of a synthetic authority: two small schools' pupils, all schools."""
    a = authority(seed=11)
    schools = a.schools
    small_codes = schools.sort_values("roll")["seed_code"].iloc[:2].tolist()
    pupils = a.pupils[a.pupils["seed_code"].isin(small_codes)].reset_index(drop=True)
    ids = set(pupils["pupil_id"])
    sup = a.supports[a.supports["pupil_id"].isin(ids)].reset_index(drop=True)
    if sup.empty:  # make sure supports exist to break: borrow one and point it at a pupil
        sup = a.supports.iloc[:1].copy()
        sup["pupil_id"] = pupils["pupil_id"].iloc[0]
        sup = sup.reset_index(drop=True)
    keep = {t: getattr(a, t)[getattr(a, t)["pupil_id"].isin(ids)].reset_index(drop=True)
            for t in ("attendance", "attainment")}
    return Extracts(schools=schools[["seed_code", "school_name", "sector", "cluster", "roll",
                                     "simd_q1", "fsm_pct"]].copy(),
                    pupils=pupils, supports=sup, **keep)


def _write(ex: Extracts, folder, fmt: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for t in TABLES:
        df = getattr(ex, t).copy()
        for c in df.columns:
            if pd.api.types.is_datetime64_any_dtype(df[c]):
                df[c] = df[c].dt.strftime("%Y-%m-%d")
        if fmt == "csv":
            df.to_csv(folder / f"{t}.csv", index=False)
        else:
            df.to_excel(folder / f"{t}.xlsx", index=False, sheet_name=t)


def _copy(ex: Extracts) -> Extracts:
    return Extracts(**{t: getattr(ex, t).copy() for t in TABLES})


# ---------------------------------------------------------------------------
# Pseudonymisation
# ---------------------------------------------------------------------------

def test_pseudonymise_is_keyed_hmac_sha256_and_stable():
    ids = ["123456789", " 123456789 ", "987654321"]
    out = pseudonymise(ids, SALT)
    expected = "P" + hmac.new(SALT.encode(), b"123456789", hashlib.sha256).hexdigest()[:16].upper()
    assert out[0] == expected
    assert out[1] == out[0]                     # surrounding spaces ignored
    assert out[2] != out[0]
    assert pseudonymise(ids, SALT) == out       # stable for the same salt
    assert pseudonymise(ids, SALT + "x")[0] != out[0]
    assert pseudonymise([1], SALT, prefix="X", length=8)[0].startswith("X")
    assert len(pseudonymise([1], SALT, length=8)[0]) == 9


@pytest.mark.parametrize("salt", ["", "short", b"123"])
def test_pseudonymise_refuses_empty_or_short_salt(salt):
    with pytest.raises(DataError, match="salt"):
        pseudonymise(["1"], salt)


def test_pseudonymise_refuses_missing_identifier():
    with pytest.raises(DataError, match="row 1"):
        pseudonymise(["1", None], SALT)


# ---------------------------------------------------------------------------
# Calendar
# ---------------------------------------------------------------------------

def test_session_and_term_of_dates():
    d = pd.to_datetime(["2022-08-01", "2022-12-31", "2023-01-02", "2023-03-31", "2023-04-01",
                        "2023-07-31"])
    assert session_of(d).tolist() == [2022] * 6
    assert term_of(d).tolist() == [1, 1, 2, 2, 3, 3]


# ---------------------------------------------------------------------------
# Loading and validation
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_round_trip_from_files(small, tmp_path, fmt):
    _write(small, tmp_path, fmt)
    got = load_extracts(tmp_path)
    want = validate_extracts(small)
    for t in TABLES:
        pd.testing.assert_frame_equal(getattr(got, t), getattr(want, t), check_dtype=False)
    assert got.sources["pupils"].endswith(f"pupils.{fmt}")
    assert got.supports["start_date"].dtype.kind == "M"
    assert got.pupils["fsm"].dtype == bool


def _break(table, column, value, row=0):
    def f(ex):
        df = getattr(ex, table)
        if column in df.columns and pd.api.types.is_datetime64_any_dtype(df[column]):
            df[column] = df[column].astype(object)
        if pd.api.types.is_bool_dtype(df[column]) or pd.api.types.is_integer_dtype(df[column]):
            df[column] = df[column].astype(object)
        df.loc[row, column] = value
        return table, column, row
    return f


def _break_attended(ex):
    a = ex.attendance
    a.loc[3, "attended_sessions"] = a.loc[3, "possible_sessions"] + 1
    return "attendance", "attended_sessions", 3


def _break_end_before_start(ex):
    s = ex.supports
    s.loc[0, "end_date"] = s.loc[0, "start_date"] - pd.Timedelta(days=3)
    s.loc[0, "status"] = "ended_other"
    return "supports", "end_date", 0


def _break_sessions(ex):
    s = ex.supports
    s.loc[0, "sessions_attended"] = s.loc[0, "sessions_planned"] + 2
    return "supports", "sessions_attended", 0


def _break_date_outside(ex):
    s = ex.supports
    s.loc[0, "start_date"] = pd.Timestamp("2015-09-01")
    return "supports", "start_date", 0


def _break_unknown_pupil(ex):
    ex.attainment.loc[2, "pupil_id"] = "PNOTAPUPIL"
    return "attainment", "pupil_id", 2


def _break_unknown_pupil_support(ex):
    ex.supports.loc[0, "pupil_id"] = "PNOTAPUPIL"
    return "supports", "pupil_id", 0


def _break_not_on_roll(ex):
    ex.attendance.loc[1, "year"] = 2010
    return "attendance", "year", 1


def _break_duplicate(ex):
    ex.attendance.loc[1, ["pupil_id", "year", "term"]] = ex.attendance.loc[
        0, ["pupil_id", "year", "term"]].to_numpy()
    return "attendance", None, None


BREAKS = {
    "unknown pupil in attainment": _break_unknown_pupil,
    "unknown pupil in supports": _break_unknown_pupil_support,
    "pupil not on roll that session": _break_not_on_roll,
    "attended > possible": _break_attended,
    "end before start": _break_end_before_start,
    "attended > planned sessions": _break_sessions,
    "date outside school years": _break_date_outside,
    "invalid stage": _break("pupils", "stage", "P8", 4),
    "invalid level": _break("supports", "level", "high"),
    "invalid sex": _break("pupils", "sex", "male", 2),
    "invalid term": _break("attendance", "term", 4, 5),
    "not a number": _break("attendance", "possible_sessions", "lots", 6),
    "not a boolean": _break("pupils", "asn", "maybe", 7),
    "not a date": _break("supports", "start_date", "soon"),
    "blank required": _break("pupils", "stage", "", 3),
    "duplicate key": _break_duplicate,
}


#: every rule on CSV; a sample of them on Excel as well
CASES = [(n, "csv") for n in BREAKS] + [
    (n, "xlsx") for n in ("attended > possible", "invalid stage", "unknown pupil in attainment",
                          "not a date", "end before start")]


@pytest.mark.parametrize(("name", "fmt"), CASES)
def test_broken_copies_are_caught_with_location_and_fix(small, tmp_path, fmt, name):
    ex = _copy(small)
    table, column, row = BREAKS[name](ex)
    _write(ex, tmp_path, fmt)
    with pytest.raises(DataError) as info:
        load_extracts(tmp_path)
    msg = str(info.value)
    assert f"{table}.{fmt}" in msg
    assert f"table {table!r}" in msg
    if column is not None:
        assert f"column {column!r}" in msg
    if row is not None:
        assert f"row {row + 2}" in msg           # spreadsheet row: header is row 1
    assert "Fix:" in msg


def test_in_memory_validation_names_index_label(small):
    ex = _copy(small)
    _break_attended(ex)
    with pytest.raises(DataError, match=r"table 'attendance', column 'attended_sessions', row 3"):
        validate_extracts(ex)
    assert "file" not in str(pytest.raises(DataError, validate_extracts, ex).value)


def test_missing_column_file_and_duplicate_files(small, tmp_path):
    _write(small, tmp_path, "csv")
    (tmp_path / "supports.xlsx").write_bytes(b"")
    with pytest.raises(DataError, match="two files for the supports table"):
        load_extracts(tmp_path)
    (tmp_path / "supports.xlsx").unlink()
    small.pupils.drop(columns="care_experienced").to_csv(tmp_path / "pupils.csv", index=False)
    with pytest.raises(DataError, match="column 'care_experienced'.*missing.*Fix:"):
        load_extracts(tmp_path)
    (tmp_path / "attendance.csv").unlink()
    with pytest.raises(DataError, match="attendance"):
        load_extracts(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        load_extracts(tmp_path / "nowhere")


def test_nothing_is_dropped(small, tmp_path):
    _write(small, tmp_path, "csv")
    got = load_extracts(tmp_path)
    for t in TABLES:
        assert len(getattr(got, t)) == len(getattr(small, t))


def test_booleans_accept_common_spellings(small):
    ex = _copy(small)
    ex.pupils["fsm"] = ex.pupils["fsm"].map({True: "Yes", False: "n"})
    ex.pupils["eal"] = ex.pupils["eal"].map({True: "1", False: "0"})
    got = validate_extracts(ex)
    assert got.pupils["fsm"].tolist() == small.pupils["fsm"].tolist()
    assert got.pupils["eal"].tolist() == small.pupils["eal"].tolist()


def test_dates_in_uk_order_are_read_day_first(small):
    ex = _copy(small)
    ex.supports["start_date"] = ex.supports["start_date"].dt.strftime("%d/%m/%Y")
    got = validate_extracts(ex)
    assert got.supports["start_date"].tolist() == small.supports["start_date"].tolist()
