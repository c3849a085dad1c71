"""The register import contract: the file's columns and the check of one row.

`RowValidator.check` runs once per imported row (a million times for a large file), so it avoids regular
expressions and per-row allocations where a `str` method or a precomputed set does the job, and it collects
every problem of a row at once so the person fixing the error file sees them all. Imports call `check_fast`:
the same results, with a shorter path for the usual clean row.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from dancu.core.errors import DomainError
from dancu.core.text import fold
from dancu.registry.idnumber import FOREIGN_BIRTH_CODES, DecodedId, InvalidIdNumber, Sex, validate_id
from dancu.units.id_provinces import ID_PROVINCES

# The columns of an import file, in the order the template writes them (files may order them freely).
COLUMNS: tuple[str, ...] = (
    "id", "old_id", "full_name", "dob", "sex", "birth_province", "permanent_unit", "permanent_address",
    "current_unit", "current_address", "household_id", "household_relation", "phone",
)
# Two rows that pass validation, for the template (real commune codes: 00004 Ba Đình, 25747 Thủ Dầu Một).
EXAMPLE_ROWS: tuple[tuple[str, ...], ...] = (
    ("001090123456", "012345678", "Nguyễn Văn An", "1990-05-17", "Nam", "001", "00004",
     "Số 12 phố Điện Biên Phủ", "", "", "HK-00004-0001", "Chủ hộ", "0912345678"),
    ("036192004321", "", "Trần Thị Bình", "08/03/1992", "Nữ", "036", "00004",
     "Số 12 phố Điện Biên Phủ", "25747", "Số 5 đường Yersin", "HK-00004-0001", "Vợ", "+84 987 654 321"),
)
# The column the error file adds; an import ignores it, so a corrected error file imports as it is.
ERROR_COLUMN = "error"
# The persons-table columns a clean row fills, in the order of `PersonRow`.
PERSON_COLUMNS: tuple[str, ...] = (
    "national_id", "old_id", "full_name", "search_name", "dob", "sex", "birth_province",
    "permanent_unit_code", "permanent_address", "current_unit_code", "current_address", "household_id",
    "household_relation", "phone",
)
PersonRow = tuple[
    str, str | None, str, str, date, Sex, str, str, str, str, str, str | None, str | None, str | None
]

NAME_MAX = 120
ADDRESS_MAX = 300
RELATION_MAX = 40
HOUSEHOLD_ID_MAX = 20
EARLIEST_DOB = date(1900, 1, 1)

_SEX: dict[str, Sex] = {"nam": "M", "m": "M", "nữ": "F", "nu": "F", "f": "F"}
_BIRTH_CODES = frozenset(ID_PROVINCES) | frozenset(f"{n:03d}" for n in FOREIGN_BIRTH_CODES)
# Bidirectional overrides let a name display as something other than what it is: treated as control.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_PHONE_SEPARATORS = str.maketrans("", "", " .-()")
# What an ID's digits 4 to 6 (century/sex digit, year) say: "099" -> (1999, "M"), "304" -> (2004, "F").
_ID_YEAR_SEX: dict[str, tuple[int, Sex]] = {
    f"{g}{yy:02d}": (1900 + 100 * (g // 2) + yy, "M" if g % 2 == 0 else "F") for g in range(10) for yy in range(100)
}
# Numbers Excel stripped of leading zeros get them back, up to the contract's width for the column.
_CODE_WIDTHS = {"id": 12, "old_id": 9, "birth_province": 3, "permanent_unit": 5, "current_unit": 5,
                "phone": 10}
_EXCEL_HINT = " (if the file went through Excel, format the column as Text so leading zeros stay)"


class ImportFileError(DomainError):
    """The file as a whole cannot be imported (unreadable, not UTF-8, wrong columns); no row was read."""

    status_code = 422
    code = "import_file_invalid"


def _show(value: str) -> str:
    return value if len(value) <= 40 else value[:40] + "…"


def _control_char(value: str) -> str | None:
    """The first control character in a value (called only when `isprintable()` already said no)."""
    for ch in value:
        if ch in _BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cs"):
            return ch
    return None


_fold_cache: dict[str, str] = {}


def fold_name(name: str) -> str:
    """`dancu.core.text.fold` of a normalised name, word by word through a bounded cache (names repeat)."""
    parts = []
    for word in name.split(" "):
        folded = _fold_cache.get(word)
        if folded is None:
            if len(_fold_cache) >= 10_000:
                _fold_cache.clear()
            folded = _fold_cache[word] = fold(word)
        if folded:
            parts.append(folded)
    return " ".join(parts)


def _plain(value: str, limit: int) -> str | None:
    """`value` when `RowValidator._text` would keep it exactly as it is (printable, single spaces, NFC, not
    too long); None when `check` has to look at it."""
    if (len(value) <= limit and value.isprintable() and "  " not in value
            and (value.isascii() or unicodedata.is_normalized("NFC", value))):
        return value
    return None


def normalize_phone(value: str) -> str | None:
    """A phone number as its 10 digits (0 + 9): '+84 912 345 678' -> '0912345678'; None when it is not a
    Vietnamese number. (The register's and the declarations' one rule.)"""
    digits = value.translate(_PHONE_SEPARATORS)
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    if len(digits) == 10 and digits[0] == "0" and digits.isascii() and digits.isdigit():
        return digits
    return None


def parse_dob(value: str) -> date:
    """`YYYY-MM-DD` or `dd/mm/yyyy` (day and month may have one digit). Raises ValueError with the reason."""
    if len(value) == 10 and value[4] == "-" and value[7] == "-":
        y, m, d = value[:4], value[5:7], value[8:]
    else:
        parts = value.split("/")
        if len(parts) != 3 or len(parts[2]) != 4 or not (0 < len(parts[0]) <= 2 and 0 < len(parts[1]) <= 2):
            raise ValueError(f"{_show(value)} is not a date (write YYYY-MM-DD or dd/mm/yyyy)")
        d, m, y = parts
    if not (y + m + d).isascii() or not (y + m + d).isdigit():
        raise ValueError(f"{_show(value)} is not a date (write YYYY-MM-DD or dd/mm/yyyy)")
    try:
        return date(int(y), int(m), int(d))
    except ValueError:
        raise ValueError(f"{value} is not a real date") from None


class RowValidator:
    """Checks rows against the contract. Build one per import: it holds the known commune codes."""

    def __init__(self, commune_codes: Collection[str], *, allowed: Collection[str] | None = None,
                 today: date | None = None) -> None:
        """`allowed`: the units the importing account may place people in (None: anywhere)."""
        self.communes = frozenset(commune_codes)
        self.allowed = None if allowed is None else frozenset(allowed)
        self.today = today or date.today()
        self._dobs: dict[str, date] = {}  # dates of birth already parsed and in range (check_fast)

    def _text(self, errors: list[str], column: str, value: str, limit: int, required: bool) -> str | None:
        if not value:
            if required:
                errors.append(f"{column}: required")
            return None
        printable = value.isprintable()
        if not printable:
            bad = _control_char(value)
            if bad is not None:
                errors.append(f"{column}: contains a control character (U+{ord(bad):04X})")
                return None
        if not value.isascii():
            value = unicodedata.normalize("NFC", value)
        if not printable or "  " in value:
            value = " ".join(value.split())
            if not value:
                if required:
                    errors.append(f"{column}: required")
                return None
        if len(value) > limit:
            errors.append(f"{column}: longer than {limit} characters ({len(value)})")
            return None
        return value

    def _unit(self, errors: list[str], column: str, value: str) -> str:
        if not value:
            errors.append(f"{column}: required (the 5-digit code of the commune or ward)")
        elif value not in self.communes:
            errors.append(f"{column}: {_show(value)} is not a known commune code")
        return value

    def check(self, values: Sequence[str]) -> PersonRow | list[str]:
        """One row as strings in `COLUMNS` order -> a persons row, or the reasons it was rejected."""
        nid, old_id, name, dob_s, sex_s, bprov, punit, paddr, cunit, caddr, hh, rel, phone = [
            v.strip() for v in values
        ]
        errors: list[str] = []
        dob: date | None = None
        if not dob_s:
            errors.append("dob: required")
        else:
            try:
                dob = parse_dob(dob_s)
            except ValueError as exc:
                errors.append(f"dob: {exc}")
            else:
                if dob > self.today:
                    errors.append(f"dob: {dob_s} is in the future")
                    dob = None
                elif dob < EARLIEST_DOB:
                    errors.append(f"dob: {dob_s} is before 1900")
                    dob = None
        sex = _SEX.get(sex_s.lower())
        if sex is None:
            sex = _SEX.get(unicodedata.normalize("NFC", sex_s).lower())
            if sex is None:
                errors.append(f"sex: {_show(sex_s)} is not Nam or Nữ" if sex_s else "sex: required")
        decoded: DecodedId | None = None
        try:
            decoded = validate_id(nid, dob=dob, sex=sex)
        except InvalidIdNumber as exc:
            hint = _EXCEL_HINT if nid.isdigit() and 9 <= len(nid) < 12 else ""
            errors.append(f"id: {exc.message}{hint}")
        if not bprov:
            bprov = decoded.province_code if decoded else ""
        elif bprov not in _BIRTH_CODES:
            errors.append(f"birth_province: {_show(bprov)} is not a 3-digit ID province code")
        elif decoded is not None and bprov != decoded.province_code:
            errors.append(f"birth_province: {bprov} is not the ID's first 3 digits ({decoded.province_code})")
        full_name = self._text(errors, "full_name", name, NAME_MAX, True)
        self._unit(errors, "permanent_unit", punit)
        permanent_address = self._text(errors, "permanent_address", paddr, ADDRESS_MAX, True)
        if cunit:
            self._unit(errors, "current_unit", cunit)
        else:
            cunit = punit
        if self.allowed is not None and punit not in self.allowed and cunit not in self.allowed:
            errors.append(f"permanent_unit: neither {_show(punit)} nor current_unit {_show(cunit)} is "
                          "in your jurisdiction")
        current_address = self._text(errors, "current_address", caddr, ADDRESS_MAX, False)
        if current_address is None and not caddr:
            if cunit == punit:
                current_address = permanent_address
            else:
                errors.append("current_address: required when current_unit differs from permanent_unit")
        if old_id and (len(old_id) != 9 or not old_id.isascii() or not old_id.isdigit()):
            errors.append(f"old_id: {_show(old_id)} is not 9 digits")
        if hh and (len(hh) > HOUSEHOLD_ID_MAX or not hh.isascii() or not hh.replace("-", "").isalnum()):
            errors.append(f"household_id: {_show(hh)} must be at most 20 letters, digits or '-'")
        relation = self._text(errors, "household_relation", rel, RELATION_MAX, False)
        if phone:
            phone = self._phone(errors, phone)
        if errors:
            return errors
        assert full_name is not None and dob is not None and sex is not None
        assert permanent_address is not None and current_address is not None
        return (nid, old_id or None, full_name, fold_name(full_name), dob, sex, bprov, punit,
                permanent_address, cunit, current_address, hh or None, relation, phone or None)

    @staticmethod
    def _phone(errors: list[str], value: str) -> str:
        digits = normalize_phone(value)
        if digits is not None:
            return digits
        errors.append(f"phone: {_show(value)} is not a Vietnamese number (0 + 9 digits, or +84 + 9 digits)")
        return value

    def check_fast(self, values: Sequence[str]) -> PersonRow | list[str]:
        """`check`, about 1.5 times as fast on the usual clean row. A row it cannot vouch for cheaply (any doubt:
        odd spacing, non-NFC text, an unusual phone or date form, any error) goes to `check`, so the results
        are exactly the same (tests/registry/test_bulkload.py compares the two)."""
        row = self._usual(values)
        return self.check(values) if row is None else row

    def _usual(self, values: Sequence[str]) -> PersonRow | None:
        """A clean row in the common shape, or None (then `check` decides). Mirrors `check` step by step."""
        nid, old_id, name, dob_s, sex_s, bprov, punit, paddr, cunit, caddr, hh, rel, phone = map(str.strip, values)
        dob = self._dobs.get(dob_s)
        if dob is None:
            try:
                dob = parse_dob(dob_s)
            except ValueError:
                return None
            if not EARLIEST_DOB <= dob <= self.today:
                return None
            if len(self._dobs) >= 50_000:
                self._dobs.clear()
            self._dobs[dob_s] = dob
        sex = _SEX.get(sex_s.lower())
        if (sex is None or len(nid) != 12 or not nid.isascii() or not nid.isdigit() or nid[:3] not in _BIRTH_CODES
                or _ID_YEAR_SEX[nid[3:6]] != (dob.year, sex) or (bprov and bprov != nid[:3])):
            return None
        communes = self.communes
        if not punit or punit not in communes or (cunit and cunit not in communes):
            return None
        cunit = cunit or punit
        if self.allowed is not None and punit not in self.allowed and cunit not in self.allowed:
            return None
        full_name, permanent_address = _plain(name, NAME_MAX), _plain(paddr, ADDRESS_MAX)
        if not full_name or not permanent_address:
            return None
        if caddr:
            current_address = permanent_address if caddr == paddr else _plain(caddr, ADDRESS_MAX)
        else:
            current_address = permanent_address if cunit == punit else None
        relation = _plain(rel, RELATION_MAX) if rel else None
        if (not current_address or (rel and not relation)
                or (old_id and (len(old_id) != 9 or not old_id.isascii() or not old_id.isdigit()))
                or (hh and (len(hh) > HOUSEHOLD_ID_MAX or not hh.isascii() or not hh.replace("-", "").isalnum()))):
            return None
        if phone and (len(phone) != 10 or phone[0] != "0" or not phone.isascii() or not phone.isdigit()):
            phone = normalize_phone(phone) or ""
            if not phone:
                return None
        return (nid, old_id or None, full_name, fold_name(full_name), dob, sex, nid[:3], punit, permanent_address,
                cunit, current_address, hh or None, relation, phone or None)

    def validate(self, row: Mapping[str, str | None]) -> dict[str, Any] | list[str]:
        """A row keyed by column name -> a clean dict for the persons table, or the reasons."""
        result = self.check([row.get(c) or "" for c in COLUMNS])
        if isinstance(result, list):
            return result
        return dict(zip(PERSON_COLUMNS, result, strict=True))


def validate_row(
    row: Mapping[str, str | None], commune_codes: Collection[str], *, today: date | None = None
) -> dict[str, Any] | list[str]:
    """Validate one row (for one-off use; an import builds one `RowValidator` and reuses it)."""
    return RowValidator(commune_codes, today=today).validate(row)


def as_import_row(row: PersonRow) -> list[str]:
    """A persons row back in the import file's `COLUMNS` order (sample files, error files, benchmarks)."""
    (nid, old_id, name, _, dob, sex, birth, punit, paddr, cunit, caddr, household, relation, phone) = row
    return [nid, old_id or "", name, dob.isoformat(), "Nam" if sex == "M" else "Nữ", birth, punit, paddr,
            cunit, caddr, household or "", relation or "", phone or ""]


def cell_text(value: Any, column: str) -> str:
    """A spreadsheet cell as contract text: numbers in code columns get back the leading zeros Excel drops,
    date cells become YYYY-MM-DD."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value).zfill(_CODE_WIDTHS.get(column, 0))
    if isinstance(value, datetime):
        value = value.date()
    return value.isoformat() if isinstance(value, date) else "" if value is None else str(value)


def write_template(path: Path) -> None:
    """The header row and two example rows that pass validation (UTF-8 with BOM, so Excel reads it right)."""
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        writer.writerows(EXAMPLE_ROWS)


def column_order(header: Sequence[str]) -> list[int]:
    """Where each contract column sits in a file's header row; raise ImportFileError when they differ."""
    names = [h.strip().lstrip("\ufeff").strip().lower() for h in header]
    while names and not names[-1]:
        names.pop()  # trailing empty header cells (spreadsheets)
    dupes = sorted({n for n in names if names.count(n) > 1})
    missing = [c for c in COLUMNS if c not in names]
    extra = [n or "(empty)" for n in names if n not in COLUMNS and n != ERROR_COLUMN]
    problems = []
    if missing:
        problems.append("missing column(s): " + ", ".join(missing))
    if extra:
        problems.append("unknown column(s): " + ", ".join(_show(e) for e in extra))
    if dupes:
        problems.append("repeated column(s): " + ", ".join(dupes))
    if problems:
        raise ImportFileError(
            "the header row does not match the import format (" + "; ".join(problems)
            + "). Expected columns: " + ",".join(COLUMNS),
            details={"missing": missing, "unknown": extra, "repeated": dupes},
        )
    return [names.index(c) for c in COLUMNS]
