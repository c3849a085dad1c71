"""Parser for the QR string printed on the chip ID card (CCCD).

`ID|old 9-digit ID (may be empty)|Full name|DOB ddmmyyyy|Nam or Nữ|permanent address|issue date ddmmyyyy`
USB scanners type it followed by Enter, so surrounding whitespace and a trailing newline are tolerated.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date

from dancu.core.errors import ValidationFailed
from dancu.core.text import normalize_name
from dancu.registry.idnumber import InvalidIdNumber, Sex, validate_id

MAX_LENGTH = 1000
SEX_WORDS: dict[str, Sex] = {"nam": "M", "nữ": "F", "nu": "F"}


class CccdFormatError(ValidationFailed):
    code = "invalid_cccd_qr"


@dataclass(frozen=True, slots=True)
class CccdCard:
    national_id: str
    old_id: str | None
    full_name: str
    dob: date
    sex: Sex
    permanent_address: str
    issue_date: date


def parse_ddmmyyyy(value: str, field: str) -> date:
    if len(value) != 8 or not value.isascii() or not value.isdigit():
        raise CccdFormatError(f"{field} must be 8 digits ddmmyyyy (got {value[:20]!r})", field=field)
    try:
        return date(int(value[4:]), int(value[2:4]), int(value[:2]))
    except ValueError:
        raise CccdFormatError(f"{field} is not a real date ({value})", field=field) from None


def parse_cccd_qr(text: str) -> CccdCard:
    """Parse and cross-check a chip-card QR string; raise CccdFormatError with the reason otherwise."""
    if not isinstance(text, str):
        raise CccdFormatError("the code is not text")
    if len(text) > MAX_LENGTH:
        raise CccdFormatError(f"the code is too long for an ID card QR ({len(text)} characters)")
    raw = unicodedata.normalize("NFC", text.strip())
    parts = raw.split("|")
    if len(parts) != 7:
        raise CccdFormatError(f"an ID card QR has 7 fields separated by '|', this one has {len(parts)}")
    nid, old_id, name, dob_s, sex_s, address, issued_s = (p.strip() for p in parts)
    if old_id and (not old_id.isascii() or not old_id.isdigit() or len(old_id) != 9):
        raise CccdFormatError("the old ID number must be 9 digits or empty", field="old_id")
    name = normalize_name(name)
    if not name:
        raise CccdFormatError("the full name is empty", field="full_name")
    dob = parse_ddmmyyyy(dob_s, "dob")
    sex = SEX_WORDS.get(sex_s.lower())
    if sex is None:
        raise CccdFormatError(f"sex must be 'Nam' or 'Nữ' (got {sex_s[:10]!r})", field="sex")
    issued = parse_ddmmyyyy(issued_s, "issue_date")
    if issued < dob:
        raise CccdFormatError("the issue date is before the date of birth", field="issue_date")
    try:
        validate_id(nid, dob=dob, sex=sex, field="id")
    except InvalidIdNumber as exc:
        raise CccdFormatError(exc.message, field="id") from None
    return CccdCard(nid, old_id or None, name, dob, sex, address, issued)
