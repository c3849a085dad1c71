"""CertLogic date-times: parsing (`plusTime`, `dccDateOfBirth`), offsetting and rendering.

Date-time values only come out of `plusTime` and `dccDateOfBirth`; they are `DateTimeValue`s (a UTC instant
with millisecond precision), never plain strings, so nothing else in the data context compares as a date.
Offsetting follows the JavaScript `Date.setUTC<unit>(getUTC<unit>() + amount)` semantics the spec fixes:
day and hour are fixed-length UTC steps; month and year keep the day of the month and roll an overflowing
day over into the next month (2020-01-31 + 1 month = 2020-03-02, 2020-02-29 + 1 year = 2021-03-01).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

from dancu.rules.errors import CertLogicEvaluationError

TimeUnit = Literal["year", "month", "day", "hour"]
TIME_UNITS: tuple[TimeUnit, ...] = ("year", "month", "day", "hour")

_PARTIAL_DATE = re.compile(r"(?P<year>[0-9]{4})(?:-(?P<month>[0-9]{2})(?:-(?P<day>[0-9]{2}))?)?", re.ASCII)
_DATE_TIME = re.compile(
    r"""
    (?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})
    T(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})
    (?:\.(?P<fraction>[0-9]+))?
    (?:
        (?P<zulu>Z)
      | (?P<sign>[+-])(?:(?P<oh>[0-9]{1,2}):(?P<om>[0-9]{2})|(?P<compact>[0-9]{1,4}))
    )?
    """,
    re.ASCII | re.VERBOSE,
)


@dataclass(frozen=True, order=True, slots=True)
class DateTimeValue:
    """A CertLogic date-time: an aware UTC instant truncated to whole milliseconds."""

    instant: datetime

    def isoformat(self) -> str:
        """`2021-06-01T00:00:00.000Z`, the rendering of JavaScript's `toISOString`."""
        i = self.instant
        return f"{i:%Y-%m-%dT%H:%M:%S}.{i.microsecond // 1000:03d}Z"

    def __str__(self) -> str:
        return self.isoformat()


def _fail(text: str, why: str) -> CertLogicEvaluationError:
    return CertLogicEvaluationError(f"invalid date(-time) {text!r}: {why}")


def _utc(text: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
         millisecond: int = 0, offset: timedelta = timedelta(0)) -> DateTimeValue:
    try:
        local = datetime(year, month, day, hour, minute, second, millisecond * 1000, tzinfo=timezone(offset))
        return DateTimeValue(local.astimezone(UTC))
    except (ValueError, OverflowError) as exc:
        raise _fail(text, str(exc)) from None


def parse_dcc_date_of_birth(text: str) -> DateTimeValue:
    """`YYYY` -> Dec 31, `YYYY-MM` -> last day of that month, `YYYY-MM-DD` as-is; midnight UTC."""
    match = _PARTIAL_DATE.fullmatch(text)
    if match is None:
        raise _fail(text, "expected YYYY, YYYY-MM or YYYY-MM-DD")
    year = int(match["year"])
    if match["month"] is None:
        return _utc(text, year, 12, 31)
    month = int(match["month"])
    if not 1 <= month <= 12:
        raise _fail(text, "month must be 01..12")
    if match["day"] is None:
        if year < 1:
            raise _fail(text, "year 0000 is out of range")
        return _utc(text, year, month, calendar.monthrange(year, month)[1])
    return _utc(text, year, month, int(match["day"]))


def _offset(match: re.Match[str], text: str) -> timedelta:
    if match["sign"] is None:
        return timedelta(0)  # no offset (or `Z`): UTC is assumed
    if match["compact"] is not None:
        digits = match["compact"]
        hours, minutes = (digits, "0") if len(digits) <= 2 else (digits[:-2], digits[-2:])
    else:
        hours, minutes = match["oh"], match["om"]
    h, m = int(hours), int(minutes)
    if h > 23 or m > 59:
        raise _fail(text, "timezone offset out of range")
    sign = -1 if match["sign"] == "-" else 1
    return sign * timedelta(hours=h, minutes=m)


def parse_date_time(text: str) -> DateTimeValue:
    """Parse one of the date(-time) formats `plusTime` allows; anything else is an error.

    Partial dates are read as `dccDateOfBirth` reads them; a missing offset means `Z`; sub-second digits
    beyond the third are dropped (rounding down to the millisecond).
    """
    if "T" not in text:
        return parse_dcc_date_of_birth(text)
    return parse_instant(text)


def parse_instant(text: str) -> DateTimeValue:
    """Like `parse_date_time`, but only the full `YYYY-MM-DDThh:mm:ss...` formats (no bare dates)."""
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise _fail(text, "not in an allowed CertLogic date-time format")
    hour, minute, second = int(match["hour"]), int(match["minute"]), int(match["second"])
    if hour > 23 or minute > 59 or second > 59:
        raise _fail(text, "time of day out of range")
    fraction = match["fraction"] or "0"
    millisecond = int((fraction + "00")[:3])
    return _utc(text, int(match["year"]), int(match["month"]), int(match["day"]), hour, minute, second,
                millisecond, _offset(match, text))


def _with_calendar_fields(value: datetime, year: int, month: int) -> datetime:
    """Set year/month keeping day and time; an overflowing day rolls over like JavaScript's Date."""
    first = value.replace(year=year, month=month, day=1)
    return first + timedelta(days=value.day - 1)


def plus_time(value: DateTimeValue, amount: int, unit: TimeUnit) -> DateTimeValue:
    """Offset a date-time by `amount` (may be negative) of `unit`; out-of-range results are errors."""
    i = value.instant
    try:
        if unit == "day":
            shifted = i + timedelta(days=amount)
        elif unit == "hour":
            shifted = i + timedelta(hours=amount)
        elif unit == "month":
            year, month0 = divmod(i.year * 12 + (i.month - 1) + amount, 12)
            shifted = _with_calendar_fields(i, year, month0 + 1)
        else:
            shifted = _with_calendar_fields(i, i.year + amount, i.month)
    except (ValueError, OverflowError):
        raise CertLogicEvaluationError(
            f"plusTime: {value.isoformat()} plus {amount} {unit}(s) is outside the supported range "
            "(years 0001-9999)"
        ) from None
    return DateTimeValue(shifted)
