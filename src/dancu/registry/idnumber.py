"""The 12-digit personal ID number (CCCD): PPP G YY RRRRRR.

PPP is the province where the birth was registered (pre-2025 63-province list, or 101-295 for births
abroad), G encodes century and sex (0/1 = 1900s male/female, 2/3 = 2000s, 4/5 = 2100s, 6/7 = 2200s,
8/9 = 2300s), YY the last two digits of the birth year, then six random digits. There is no check digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from dancu.core.errors import ValidationFailed
from dancu.units.id_provinces import ID_PROVINCES

Sex = Literal["M", "F"]

FOREIGN_BIRTH_CODES = range(101, 296)


class InvalidIdNumber(ValidationFailed):
    code = "invalid_id_number"

    def __init__(self, message: str, field: str = "id") -> None:
        super().__init__(message, field=field)


@dataclass(frozen=True, slots=True)
class DecodedId:
    number: str
    province_code: str
    province_name: str
    foreign_birth: bool
    century: int  # 1900, 2000, ...
    sex: Sex
    year_two_digits: int

    def birth_year_candidates(self) -> int:
        return self.century + self.year_two_digits


def decode_id(number: str, *, field: str = "id") -> DecodedId:
    """Validate the structure of an ID number and say what it encodes."""
    raw = number.strip() if isinstance(number, str) else ""
    if not raw:
        raise InvalidIdNumber("the ID number is empty", field)
    if not raw.isascii() or not raw.isdigit():
        raise InvalidIdNumber("the ID number must contain digits only", field)
    if len(raw) != 12:
        raise InvalidIdNumber(f"the ID number must have exactly 12 digits (got {len(raw)})", field)
    pcode = raw[:3]
    pnum = int(pcode)
    if pcode in ID_PROVINCES:
        pname, foreign = ID_PROVINCES[pcode][0], False
    elif pnum in FOREIGN_BIRTH_CODES:
        pname, foreign = "Foreign birth", True
    else:
        raise InvalidIdNumber(f"unknown birth-registration province code {pcode}", field)
    g = int(raw[3])
    century = 1900 + 100 * (g // 2)
    sex: Sex = "M" if g % 2 == 0 else "F"
    return DecodedId(raw, pcode, pname, foreign, century, sex, int(raw[4:6]))


def validate_id(number: str, *, dob: date | None = None, sex: Sex | None = None, field: str = "id") -> DecodedId:
    """Decode the ID and check that its century/sex digit and year agree with dob and sex when given."""
    decoded = decode_id(number, field=field)
    if dob is not None:
        if dob.year // 100 * 100 != decoded.century:
            raise InvalidIdNumber(
                f"the ID's century digit says born in the {decoded.century}s, but date of birth is {dob.isoformat()}",
                field,
            )
        if dob.year % 100 != decoded.year_two_digits:
            raise InvalidIdNumber(
                f"the ID's year digits are {decoded.year_two_digits:02d}, but the year of birth is {dob.year}",
                field,
            )
    if sex is not None and sex != decoded.sex:
        said = "male" if decoded.sex == "M" else "female"
        raise InvalidIdNumber(f"the ID's sex digit says {said}, which contradicts the given sex", field)
    return decoded


def encode_id(province_code: str, dob: date, sex: Sex, serial: int) -> str:
    """Build a valid ID number (used by the synthetic population and tests)."""
    g = (dob.year - 1900) // 100 * 2 + (1 if sex == "F" else 0)
    if not 0 <= g <= 9:
        raise ValueError("year of birth out of range for an ID number")
    return f"{province_code}{g}{dob.year % 100:02d}{serial % 1_000_000:06d}"
