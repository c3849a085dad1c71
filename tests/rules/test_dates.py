"""Date-time parsing, normalisation and offsetting (`plusTime`, `dccDateOfBirth`)."""

from __future__ import annotations

import pytest

from dancu.rules import CertLogicEvaluationError, evaluate_logic
from dancu.rules.dates import DateTimeValue, parse_date_time, parse_instant


def iso(text: str, amount: int = 0, unit: str = "day") -> str:
    value = evaluate_logic({"plusTime": [{"var": ""}, amount, unit]}, text)
    assert isinstance(value, DateTimeValue)
    return value.isoformat()


def dob(text: object) -> str:
    value = evaluate_logic({"dccDateOfBirth": [{"var": ""}]}, text)
    assert isinstance(value, DateTimeValue)
    return value.isoformat()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021", "2021-12-31T00:00:00.000Z"),
        ("2021-02", "2021-02-28T00:00:00.000Z"),
        ("2020-02", "2020-02-29T00:00:00.000Z"),
        ("2021-06-01", "2021-06-01T00:00:00.000Z"),
        ("2021-06-01T10:20:30", "2021-06-01T10:20:30.000Z"),
        ("2021-06-01T10:20:30Z", "2021-06-01T10:20:30.000Z"),
        ("2021-06-01T10:20:30+2", "2021-06-01T08:20:30.000Z"),
        ("2021-06-01T10:20:30-02", "2021-06-01T12:20:30.000Z"),
        ("2021-06-01T10:20:30+530", "2021-06-01T04:50:30.000Z"),
        ("2021-06-01T10:20:30+0700", "2021-06-01T03:20:30.000Z"),
        ("2021-06-01T10:20:30-1:30", "2021-06-01T11:50:30.000Z"),
        ("2021-06-01T10:20:30+07:00", "2021-06-01T03:20:30.000Z"),
        ("2021-06-01T10:20:30.5", "2021-06-01T10:20:30.500Z"),
        ("2021-06-01T10:20:30.1Z", "2021-06-01T10:20:30.100Z"),
        ("2021-06-01T10:20:30.12+2", "2021-06-01T08:20:30.120Z"),
        ("2021-06-01T10:20:30.123-02", "2021-06-01T12:20:30.123Z"),
        ("2021-06-01T10:20:30.1239+530", "2021-06-01T04:50:30.123Z"),
        ("2021-06-01T10:20:30.999999+0700", "2021-06-01T03:20:30.999Z"),
        ("2021-06-01T10:20:30.0-1:30", "2021-06-01T11:50:30.000Z"),
        ("2021-06-01T00:20:30.000001+07:00", "2021-05-31T17:20:30.000Z"),
    ],
)
def test_every_allowed_format_is_normalised_to_utc_milliseconds(text: str, expected: str) -> None:
    assert iso(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "21",
        "2021-6-01",
        "2021-06-01T10:20",
        "2021-06-01 10:20:30",
        "2021-06-01t10:20:30z",
        "2021-06-01T10:20:30.Z",
        "2021-06-01T10:20:30+07:0",
        "2021-06-01T10:20:30+123456",
        "2021-06-01T10:20:30 +07:00",
        "2021-13",
        "2021-09-99",
        "2021-02-29",
        "2021-06-01T24:00:00Z",
        "2021-06-01T23:60:00Z",
        "2021-06-01T23:59:60Z",
        "2021-06-01T10:20:30+24:00",
        "0000-01-01",
        "\uff12\uff10\uff12\uff11",  # full-width digits are not ASCII digits
        " 2021-06-01",
    ],
)
def test_anything_else_is_an_error(text: str) -> None:
    with pytest.raises(CertLogicEvaluationError, match="invalid date"):
        evaluate_logic({"plusTime": [{"var": ""}, 0, "day"]}, text)


@pytest.mark.parametrize("operand", [None, 20210601, True, ["2021"], {"d": "2021"}])
def test_plus_time_needs_a_string(operand: object) -> None:
    with pytest.raises(CertLogicEvaluationError, match="plusTime must be a date"):
        evaluate_logic({"plusTime": [{"var": "d"}, 0, "day"]}, {"d": operand})


@pytest.mark.parametrize(
    ("start", "amount", "unit", "expected"),
    [
        # the spec's leap-day table
        ("2020-02-29", 1, "day", "2020-03-01T00:00:00.000Z"),
        ("2020-02-29", 1, "month", "2020-03-29T00:00:00.000Z"),
        ("2020-02-29", 1, "year", "2021-03-01T00:00:00.000Z"),
        # JavaScript Date roll-over of an overflowing day of the month
        ("2020-01-31", 1, "month", "2020-03-02T00:00:00.000Z"),
        ("2021-01-31", 1, "month", "2021-03-03T00:00:00.000Z"),
        ("2021-03-31", -1, "month", "2021-03-03T00:00:00.000Z"),
        ("2021-01-15T10:00:00Z", -1, "month", "2020-12-15T10:00:00.000Z"),
        ("2021-01-15T10:00:00Z", 25, "month", "2023-02-15T10:00:00.000Z"),
        ("2021-01-15T10:00:00Z", -13, "month", "2019-12-15T10:00:00.000Z"),
        ("2024-02-29", -18, "year", "2006-03-01T00:00:00.000Z"),
        ("2024-02-29", 4, "year", "2028-02-29T00:00:00.000Z"),
        # hours and days are fixed UTC steps, DST plays no part
        ("2021-03-27T12:00:00+01:00", 1, "day", "2021-03-28T11:00:00.000Z"),
        ("2021-06-01T23:30:00Z", 1, "hour", "2021-06-02T00:30:00.000Z"),
        ("2021-06-01T00:00:00Z", -49, "hour", "2021-05-29T23:00:00.000Z"),
        ("2021-06-01T00:00:00Z", 0, "year", "2021-06-01T00:00:00.000Z"),
        ("2021-06-01T00:00:00.123456Z", 1, "hour", "2021-06-01T01:00:00.123Z"),
    ],
)
def test_plus_time_offsets(start: str, amount: int, unit: str, expected: str) -> None:
    assert iso(start, amount, unit) == expected


def test_plus_time_out_of_range_is_an_error() -> None:
    with pytest.raises(CertLogicEvaluationError, match="outside the supported range"):
        iso("9999-06-01", 1, "year")
    with pytest.raises(CertLogicEvaluationError, match="outside the supported range"):
        iso("0001-01-01", -1, "day")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2004", "2004-12-31T00:00:00.000Z"),
        ("2004-02", "2004-02-29T00:00:00.000Z"),
        ("2003-02", "2003-02-28T00:00:00.000Z"),
        ("2004-04", "2004-04-30T00:00:00.000Z"),
        ("2004-01-01", "2004-01-01T00:00:00.000Z"),
    ],
)
def test_dcc_date_of_birth_is_the_last_consistent_date(text: str, expected: str) -> None:
    assert dob(text) == expected


@pytest.mark.parametrize("text", ["", "2004-13", "2004-02-30", "2004-01-01T00:00:00Z", "04", "2004-1"])
def test_dcc_date_of_birth_rejects_other_strings(text: str) -> None:
    with pytest.raises(CertLogicEvaluationError, match="invalid date"):
        dob(text)


@pytest.mark.parametrize("operand", [None, 2004, False])
def test_dcc_date_of_birth_needs_a_string(operand: object) -> None:
    with pytest.raises(CertLogicEvaluationError, match="dccDateOfBirth must be a string"):
        dob(operand)


def test_date_times_compare_by_instant_across_offsets() -> None:
    expr = {"not-after": [{"plusTime": ["2021-06-01T07:00:00+07:00", 0, "hour"]},
                          {"plusTime": ["2021-06-01T00:00:00Z", 0, "hour"]}]}
    assert evaluate_logic(expr, None) is True
    expr_after = {"after": expr["not-after"]}
    assert evaluate_logic(expr_after, None) is False


def test_parse_instant_refuses_bare_dates_but_parse_date_time_accepts_them() -> None:
    assert parse_date_time("2021-06-01").isoformat() == "2021-06-01T00:00:00.000Z"
    with pytest.raises(CertLogicEvaluationError):
        parse_instant("2021-06-01")
