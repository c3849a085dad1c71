"""The import contract, row by row: every rule has a case that passes and a case that is rejected."""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Any

import pytest

from dancu.core.text import fold
from dancu.registry.validation import (
    COLUMNS,
    EXAMPLE_ROWS,
    ImportFileError,
    RowValidator,
    column_order,
    fold_name,
    validate_row,
)
from dancu.units.loader import read_units

TODAY = date(2025, 7, 1)
COMMUNES = frozenset(u["code"] for u in read_units() if u["level"] == "commune")
HANOI = frozenset(u["code"] for u in read_units() if u["parent_code"] == "01")
GOOD = dict(zip(COLUMNS, EXAMPLE_ROWS[0], strict=True))
SQL_BITS = "Robert'); DROP TABLE persons;-- \" % _ \\ /* */ ; OR 1=1"


def check(**changes: str) -> dict[str, Any] | list[str]:
    return validate_row({**GOOD, **changes}, COMMUNES, today=TODAY)


def reasons(**changes: str) -> list[str]:
    result = check(**changes)
    assert isinstance(result, list), f"expected a rejection, got {result}"
    return result


def clean(**changes: str) -> dict[str, object]:
    result = check(**changes)
    assert isinstance(result, dict), f"expected a clean row, got {result}"
    return result


def test_example_rows_are_valid_and_clean_into_persons_columns() -> None:
    first = clean()
    assert first == {
        "national_id": "001090123456", "old_id": "012345678", "full_name": "Nguyễn Văn An",
        "search_name": "nguyen van an", "dob": date(1990, 5, 17), "sex": "M", "birth_province": "001",
        "permanent_unit_code": "00004", "permanent_address": "Số 12 phố Điện Biên Phủ",
        "current_unit_code": "00004", "current_address": "Số 12 phố Điện Biên Phủ",
        "household_id": "HK-00004-0001", "household_relation": "Chủ hộ", "phone": "0912345678",
    }
    second = validate_row(dict(zip(COLUMNS, EXAMPLE_ROWS[1], strict=True)), COMMUNES, today=TODAY)
    assert isinstance(second, dict)
    assert (second["dob"], second["sex"], second["phone"], second["old_id"]) == (date(1992, 3, 8), "F",
                                                                                 "0987654321", None)
    assert (second["current_unit_code"], second["current_address"]) == ("25747", "Số 5 đường Yersin")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("00109012345", "exactly 12 digits (got 11)"),
        ("0010901234567", "exactly 12 digits (got 13)"),
        ("00109012345a", "digits only"),
        ("001 090 123 456", "digits only"),
        ("", "empty"),
        ("003090123456", "unknown birth-registration province code 003"),
        ("001290123456", "century digit"),  # 2000s, but born 1990
        ("001091123456", "year digits are 91"),
        ("001190123456", "sex digit says female"),
    ],
)
def test_bad_ids_are_rejected_with_the_reason(value: str, fragment: str) -> None:
    got = reasons(id=value)
    assert any(r.startswith("id: ") and fragment in r for r in got), got


def test_an_id_shortened_by_excel_gets_a_hint() -> None:
    assert any("format the column as Text" in r for r in reasons(id="1090123456"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("31/02/1990", "dob: 31/02/1990 is not a real date"),
        ("1990-02-30", "dob: 1990-02-30 is not a real date"),
        ("2025-07-02", "dob: 2025-07-02 is in the future"),
        ("1899-12-31", "dob: 1899-12-31 is before 1900"),
        ("17-05-1990", "dob: 17-05-1990 is not a date (write YYYY-MM-DD or dd/mm/yyyy)"),
        ("1990/05/17", "dob: 1990/05/17 is not a date (write YYYY-MM-DD or dd/mm/yyyy)"),
        ("", "dob: required"),
    ],
)
def test_bad_dates_are_rejected(value: str, message: str) -> None:
    assert message in reasons(dob=value)


@pytest.mark.parametrize("value", ["17/05/1990", "17/5/1990", " 1990-05-17 "])
def test_both_date_formats_are_accepted(value: str) -> None:
    assert clean(dob=value)["dob"] == date(1990, 5, 17)


@pytest.mark.parametrize("value", ["Nam", "NAM", "nam", "M", "m"])
def test_male_spellings(value: str) -> None:
    assert clean(sex=value)["sex"] == "M"


@pytest.mark.parametrize("value", ["Nữ", "NỮ", "nu", "F", unicodedata.normalize("NFD", "Nữ")])
def test_female_spellings(value: str) -> None:
    assert clean(id="001190123456", sex=value)["sex"] == "F"


def test_unknown_sex_is_rejected() -> None:
    assert "sex: X is not Nam or Nữ" in reasons(sex="X")
    assert "sex: required" in reasons(sex="")


def test_birth_province_comes_from_the_id_or_must_match_it() -> None:
    assert clean(birth_province="")["birth_province"] == "001"
    assert any("is not the ID's first 3 digits (001)" in r for r in reasons(birth_province="079"))
    assert any("999 is not a 3-digit ID province code" in r for r in reasons(birth_province="999"))
    assert any("not a 3-digit" in r for r in reasons(birth_province="1"))


def test_units_must_be_known_communes() -> None:
    assert "permanent_unit: 99999 is not a known commune code" in reasons(permanent_unit="99999")
    assert "permanent_unit: 01 is not a known commune code" in reasons(permanent_unit="01")  # a province
    assert "current_unit: 4 is not a known commune code" in reasons(current_unit="4")
    assert any(r.startswith("permanent_unit: required") for r in reasons(permanent_unit=""))


def test_current_residence_defaults_to_the_permanent_one() -> None:
    row = clean(current_unit="", current_address="")
    assert (row["current_unit_code"], row["current_address"]) == ("00004", "Số 12 phố Điện Biên Phủ")
    assert clean(current_unit="00004", current_address="")["current_address"] == "Số 12 phố Điện Biên Phủ"
    assert "current_address: required when current_unit differs from permanent_unit" in reasons(
        current_unit="25747", current_address="")


def test_html_and_script_in_names_are_stored_as_given() -> None:
    name = "<script>alert('x')</script> <b>Lê</b> &amp;"
    assert clean(full_name=name)["full_name"] == name
    assert clean(permanent_address="<img src=x onerror=alert(1)>")["permanent_address"] == \
        "<img src=x onerror=alert(1)>"


@pytest.mark.parametrize("bad", ["Nguyễn\x07An", "Nguyễn\tAn", "Nguyễn\nAn", "An\x7f", "An\u202egnauh",
                                 "\x1b[31m"])
def test_control_characters_are_rejected(bad: str) -> None:
    assert any(r.startswith("full_name: contains a control character") for r in reasons(full_name=bad))
    assert any(r.startswith("permanent_address: contains a control") for r in reasons(permanent_address=bad))


def test_names_are_normalised_to_nfc_with_single_spaces() -> None:
    row = clean(full_name=unicodedata.normalize("NFD", "  Nguyễn   Thị\u00a0Ánh  "))
    assert row["full_name"] == "Nguyễn Thị Ánh"
    assert row["search_name"] == "nguyen thi anh"


def test_length_limits() -> None:
    assert len(str(clean(full_name="A" * 120)["full_name"])) == 120
    assert "full_name: longer than 120 characters (121)" in reasons(full_name="A" * 121)
    assert "permanent_address: longer than 300 characters (301)" in reasons(permanent_address="x" * 301)
    assert "household_relation: longer than 40 characters (41)" in reasons(household_relation="y" * 41)
    assert "full_name: required" in reasons(full_name="   ")


@pytest.mark.parametrize(("value", "stored"), [("0912 345 678", "0912345678"), ("+84912345678", "0912345678"),
                                               ("+84 91-234.5678", "0912345678"), ("", None)])
def test_phone_formats(value: str, stored: str | None) -> None:
    assert clean(phone=value)["phone"] == stored


@pytest.mark.parametrize("value", ["091234567", "09123456789", "1912345678", "+8591234567", "hotline",
                                   "０912345678"])
def test_bad_phones(value: str) -> None:
    assert any(r.startswith("phone: ") for r in reasons(phone=value))


def test_old_id_and_household_id() -> None:
    assert clean(old_id="")["old_id"] is None
    assert any(r.startswith("old_id: ") for r in reasons(old_id="12345678"))
    assert any(r.startswith("old_id: ") for r in reasons(old_id="12345678a"))
    assert clean(household_id="HK-01-ab")["household_id"] == "HK-01-ab"
    assert clean(household_id="")["household_id"] is None
    for bad in ("H" * 21, "HK 01", "HK-ÂB", "HK_01", "HK;--"):
        assert any(r.startswith("household_id: ") for r in reasons(household_id=bad)), bad


def test_sql_metacharacters_are_just_data() -> None:
    row = clean(full_name=SQL_BITS, permanent_address=SQL_BITS, current_address=SQL_BITS,
                household_relation=SQL_BITS[:39])
    assert row["full_name"] == row["permanent_address"] == row["current_address"] == SQL_BITS
    assert row["household_relation"] == SQL_BITS[:39]
    for column in ("id", "old_id", "dob", "sex", "birth_province", "permanent_unit", "phone", "household_id"):
        assert any(r.startswith(f"{column}: ") for r in reasons(**{column: "1' OR '1'='1"})), column


def test_every_problem_of_a_row_is_reported_and_names_its_column() -> None:
    got = reasons(id="12", dob="31/02/1990", sex="?", permanent_unit="0", full_name="", phone="1")
    assert {r.split(":")[0] for r in got} >= {"id", "dob", "sex", "permanent_unit", "full_name", "phone"}
    assert all(r.split(":")[0] in COLUMNS for r in got)


def test_jurisdiction_needs_one_of_the_two_units() -> None:
    validator = RowValidator(COMMUNES, allowed=HANOI, today=TODAY)
    values = list(EXAMPLE_ROWS[1])  # permanent in Hà Nội, current in HCMC: allowed
    assert not isinstance(validator.check(values), list)
    values[6] = values[8] = "25747"  # both in HCMC
    got = validator.check(values)
    assert isinstance(got, list) and any("jurisdiction" in r for r in got)


def test_column_order_accepts_any_order_case_bom_and_the_error_column() -> None:
    header = ["\ufeffPhone", *reversed(COLUMNS[:-1]), "error"]
    order = column_order(header)
    assert [header[i].lstrip("\ufeff").lower() for i in order] == list(COLUMNS)
    assert column_order([*COLUMNS, "", ""]) == list(range(len(COLUMNS)))


@pytest.mark.parametrize(
    ("header", "fragments"),
    [
        (COLUMNS[:-2], ["missing column(s): household_relation, phone"]),
        ((*COLUMNS, "email", "note"), ["unknown column(s): email, note"]),
        ((*COLUMNS, "phone"), ["repeated column(s): phone"]),
        (("ID", "Họ tên"), ["missing column(s): old_id, full_name", "unknown column(s): họ tên"]),
    ],
)
def test_wrong_headers_are_file_level_errors(header: tuple[str, ...], fragments: list[str]) -> None:
    with pytest.raises(ImportFileError) as err:
        column_order(list(header))
    for fragment in fragments:
        assert fragment in err.value.message


@pytest.mark.parametrize("name", ["Nguyễn Văn An", "ĐẶNG THỊ Ửng", "Lê  Ánh", "O'Brien Ōno", "Ả\u0301"])
def test_fold_name_agrees_with_fold(name: str) -> None:
    normal = " ".join(unicodedata.normalize("NFC", name).split())
    assert fold_name(normal) == fold(normal)
