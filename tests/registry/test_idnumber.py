from __future__ import annotations

from datetime import date

import pytest

from dancu.registry.cccd import CccdFormatError, parse_cccd_qr
from dancu.registry.idnumber import InvalidIdNumber, decode_id, encode_id, validate_id

GOOD_QR = "001090123456|012345678|Nguyễn Văn A|17051990|Nam|Phường X, Quận Y, Hà Nội|15042021"


def test_decode_says_what_the_id_encodes() -> None:
    d = decode_id("079305012345")
    assert (d.province_code, d.century, d.sex, d.year_two_digits) == ("079", 2000, "F", 5)
    assert "Hồ Chí Minh" in d.province_name
    assert decode_id("101090000001").foreign_birth


@pytest.mark.parametrize(
    ("number", "fragment"),
    [("", "empty"), ("12345678901", "exactly 12"), ("0010901234567", "exactly 12"), ("00109012345a", "digits"),
     ("003090123456", "province code 003"), ("300090123456", "province code 300"), ("００1090123456", "digits")],
)
def test_structure_errors_name_the_reason(number: str, fragment: str) -> None:
    with pytest.raises(InvalidIdNumber) as err:
        decode_id(number)
    assert fragment in err.value.message


def test_digits_must_agree_with_dob_and_sex() -> None:
    validate_id("001090123456", dob=date(1990, 5, 17), sex="M")
    with pytest.raises(InvalidIdNumber, match="century"):
        validate_id("001290123456", dob=date(1990, 5, 17))
    with pytest.raises(InvalidIdNumber, match="year"):
        validate_id("001091123456", dob=date(1990, 5, 17))
    with pytest.raises(InvalidIdNumber, match="sex"):
        validate_id("001090123456", sex="F")


def test_encode_round_trips() -> None:
    for dob, sex in [(date(1950, 1, 1), "M"), (date(2004, 2, 29), "F"), (date(2101, 6, 1), "M")]:
        number = encode_id("048", dob, sex, 42)
        assert validate_id(number, dob=dob, sex=sex).sex == sex  # type: ignore[arg-type]


def test_cccd_qr_parses_and_tolerates_scanner_whitespace() -> None:
    card = parse_cccd_qr("  " + GOOD_QR + "\r\n")
    assert card.national_id == "001090123456" and card.old_id == "012345678"
    assert card.dob == date(1990, 5, 17) and card.sex == "M" and card.issue_date == date(2021, 4, 15)
    assert parse_cccd_qr(GOOD_QR.replace("|012345678|", "||")).old_id is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (GOOD_QR.rsplit("|", 1)[0], "this one has 6"),
        (GOOD_QR + "|extra", "this one has 8"),
        (GOOD_QR.replace("17051990", "31021990"), "not a real date"),
        (GOOD_QR.replace("|Nam|", "|Male|"), "sex must be"),
        (GOOD_QR.replace("|Nam|", "|Nữ|"), "sex digit"),
        (GOOD_QR.replace("17051990", "17051991"), "year"),
        (GOOD_QR.replace("012345678", "12345"), "old ID"),
        (GOOD_QR.replace("Nguyễn Văn A", " "), "name is empty"),
        ("x" * 5000, "too long"),
    ],
)
def test_cccd_qr_rejections_say_why(text: str, fragment: str) -> None:
    with pytest.raises(CccdFormatError) as err:
        parse_cccd_qr(text)
    assert fragment in err.value.message
