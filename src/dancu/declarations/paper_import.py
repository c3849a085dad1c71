"""Paper declarations in bulk: a CSV (UTF-8) or XLSX file of paper forms, typed in by officers.

The first row names the columns (any order; letter case and spaces around names do not matter):

    national_id          required  12-digit personal ID number
    full_name            required  as on the ID card (checked against the register; accents and case ignored)
    dob                  required  date of birth: YYYY-MM-DD or dd/mm/yyyy
    phone                optional  0 and 9 digits, or +84 and 9 digits
    origin_unit          required  5-digit code of the commune or ward of departure
    origin_address       required  house number and street, or village
    destination_unit     required  5-digit code of the commune or ward of arrival
    destination_address  required
    travel_date          required  YYYY-MM-DD or dd/mm/yyyy; from today to 30 days ahead
    return_date          optional  on or after travel_date
    transport            required  private_car, motorbike, coach, train, plane, ship or other (or in
                                   Vietnamese: ô tô, xe máy, xe khách, tàu hỏa, máy bay, tàu thủy, khác)
    vehicle_plate        optional  a Vietnamese plate (e.g. 30A-123.45), for road vehicles
    transport_detail     optional  flight, train or seat number; required for coach, train, plane and ship
    purpose              required  why the person travels
    places_visited       optional  places visited in the last 14 days
    symptoms             optional  codes separated by ';': fever, cough, shortness_of_breath, pneumonia,
                                   sore_throat, fatigue, loss_of_taste_smell
    exposures            optional  codes separated by ';': contact_with_case, from_affected_area,
                                   contact_with_symptomatic
    attested             required  x, yes, 1 or có: the traveller signed the attestation on the paper form

Each row is checked like a form typed on the page. Rejected rows are written to an error file (UTF-8 with a
byte-order mark, so Excel reads it right): the file's own columns plus `error`. Fix the rows there and
import the error file itself; its `error` column is ignored. A row for a person who already holds a valid
pass for the same travel date and destination is reported as a duplicate and not imported again, so
importing the same file twice creates nothing new.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Actor, Permission
from dancu.audit.service import record_event
from dancu.config import Settings
from dancu.core.db import utcnow
from dancu.core.errors import Conflict, DomainError, Forbidden, NotFound, PayloadTooLarge, ValidationFailed
from dancu.core.files import data_folder
from dancu.core.text import fold
from dancu.credentials.keys import Keyring
from dancu.declarations.schemas import DeclarationIn
from dancu.declarations.service import create_paper_declaration
from dancu.registry.validation import parse_dob

COLUMNS: tuple[str, ...] = (
    "national_id", "full_name", "dob", "phone", "origin_unit", "origin_address", "destination_unit",
    "destination_address", "travel_date", "return_date", "transport", "vehicle_plate", "transport_detail",
    "purpose", "places_visited", "symptoms", "exposures", "attested",
)
REQUIRED: frozenset[str] = frozenset({
    "national_id", "full_name", "dob", "origin_unit", "origin_address", "destination_unit",
    "destination_address", "travel_date", "transport", "purpose", "attested",
})
ERROR_COLUMN = "error"
# Real commune codes: 00004 Phường Ba Đình (Hà Nội), 25747 Phường Thủ Dầu Một (TP Hồ Chí Minh).
EXAMPLE_ROW = ("001090123456", "Nguyễn Văn An", "17/05/1990", "0912345678", "00004", "Số 12 phố Huế",
               "25747", "Số 5 đường Yersin", "{travel_date}", "", "xe máy", "29B1-234.56", "", "Về quê",
               "", "", "", "x")
MAX_ROWS = 5000
MAX_BYTES = 5 * 1024 * 1024
_WIDTHS = {"national_id": 12, "origin_unit": 5, "destination_unit": 5, "phone": 10}
_TRANSPORT_ALIASES = {
    "o to": "private_car", "oto": "private_car", "xe o to": "private_car", "car": "private_car",
    "xe may": "motorbike", "xe khach": "coach", "tau hoa": "train", "tau": "train", "may bay": "plane",
    "tau thuy": "ship", "thuyen": "ship", "khac": "other",
}
_YES = frozenset({"x", "yes", "y", "1", "true", "co", "dong y"})
_LIST_SPLIT = re.compile(r"[;,|]")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16}\Z")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class PaperFileError(ValidationFailed):
    code = "import_file_invalid"


@dataclass
class ImportResult:
    token: str
    account_id: int
    filename: str
    created_at: str
    read: int = 0
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    declaration_ids: list[int] = field(default_factory=list)
    duplicate_ids: list[int] = field(default_factory=list)
    has_error_file: bool = False


# --- reading the file ---------------------------------------------------------------------------------

def _cell(value: Any, width: int) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value).zfill(width) if width else str(value)
    if isinstance(value, datetime):
        value = value.date()
    return value.isoformat() if isinstance(value, date) else "" if value is None else str(value)


def _read_rows(filename: str, data: bytes) -> tuple[list[str], Iterator[list[str]]]:
    suffix = Path(filename or "").suffix.lower()
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        try:
            ws = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, IndexError):
            raise PaperFileError("The file is not a readable .xlsx workbook.", field="file") from None
        values = ws.iter_rows(values_only=True)
        header = [_cell(v, 0) for v in next(values, None) or ()]
        widths = [_WIDTHS.get(h.strip().lower(), 0) for h in header]
        return header, ([_cell(v, w) for v, w in zip(row, widths, strict=False)] for row in values)
    if suffix != ".csv":
        raise PaperFileError("Upload a .csv or .xlsx file (got {name}).", field="file",
                             params={"name": (filename or "")[:80]})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PaperFileError("The file is not UTF-8: save it as 'CSV UTF-8'.", field="file") from None
    first = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=max((",", ";", "\t"), key=first.count))
    header = next(reader, [])
    return header, reader


def _column_map(header: list[str]) -> dict[str, int]:
    names = [h.strip().lstrip("\ufeff").strip().lower() for h in header]
    while names and not names[-1]:
        names.pop()
    unknown = [n or "(empty)" for n in names if n not in COLUMNS and n != ERROR_COLUMN]
    missing = sorted(REQUIRED - set(names))
    repeated = sorted({n for n in names if names.count(n) > 1})
    if not names or unknown or missing or repeated:
        raise PaperFileError(
            "The header row does not match the paper form columns (missing: {missing}; unknown: {unknown}; "
            "repeated: {repeated}). Expected: {expected}.", field="file",
            params={"missing": ", ".join(missing) or "-", "unknown": ", ".join(unknown)[:200] or "-",
                    "repeated": ", ".join(repeated) or "-", "expected": ",".join(COLUMNS)})
    return {n: i for i, n in enumerate(names) if n in COLUMNS}


# --- one row --------------------------------------------------------------------------------------------

def _date(value: str, name: str, errors: list[str]) -> str | None:
    if not value:
        return None
    try:
        return parse_dob(value).isoformat()
    except ValueError as exc:
        errors.append(f"{name}: {exc}")
        return None


def row_to_input(values: dict[str, str]) -> DeclarationIn | list[str]:
    """A row's cells by column name -> the declaration input, or the problems found while reading it."""
    errors: list[str] = []
    transport = values.get("transport", "")
    transport = _TRANSPORT_ALIASES.get(fold(transport), fold(transport).replace(" ", "_"))
    payload: dict[str, Any] = {
        "national_id": values.get("national_id", ""), "full_name": values.get("full_name"),
        "dob": _date(values.get("dob", ""), "dob", errors), "phone": values.get("phone"),
        "origin_unit_code": values.get("origin_unit", ""), "origin_address": values.get("origin_address", ""),
        "destination_unit_code": values.get("destination_unit", ""),
        "destination_address": values.get("destination_address", ""),
        "travel_date": _date(values.get("travel_date", ""), "travel_date", errors),
        "return_date": _date(values.get("return_date", ""), "return_date", errors),
        "transport": transport, "vehicle_plate": values.get("vehicle_plate"),
        "transport_detail": values.get("transport_detail"), "purpose": values.get("purpose", ""),
        "places_visited": values.get("places_visited"),
        "symptoms": [s.strip() for s in _LIST_SPLIT.split(values.get("symptoms", "")) if s.strip()],
        "exposures": [s.strip() for s in _LIST_SPLIT.split(values.get("exposures", "")) if s.strip()],
        "attested": fold(values.get("attested", "")) in _YES,
    }
    if not values.get("dob"):
        errors.append("dob: required")
    if not values.get("travel_date"):
        errors.append("travel_date: required")
    if errors:
        return errors
    try:
        return DeclarationIn.model_validate(payload)
    except ValidationError as exc:
        return [f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in exc.errors()]


def _problem_text(exc: DomainError, gettext: Callable[[str], str]) -> str:
    if isinstance(exc.details, list) and exc.details:
        return "; ".join(f"{d.get('field')}: {d.get('message')}" for d in exc.details if isinstance(d, dict))
    return f"{exc.field}: {exc.localized(gettext)}" if exc.field else exc.localized(gettext)


# --- the import -----------------------------------------------------------------------------------------

def _folder(settings: Settings) -> Path:
    """Results and error files of paper imports, kept RETENTION_DAYS (they hold names and ID numbers)."""
    return data_folder(settings.data_dir, "paper-imports")


async def import_paper_forms(
    session: AsyncSession, actor: Actor, settings: Settings, filename: str, data: bytes, *, keyring: Keyring,
    gettext: Callable[[str], str] = str, now: datetime | None = None,
) -> ImportResult:
    """Import a file of paper forms in the caller's transaction; the result is kept for its result page."""
    if not actor.can(Permission.DECLARATIONS_PAPER):
        raise Forbidden("Your role does not allow entering paper declarations.")
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge("The file is larger than {mb} MB: split it.", field="file",
                              params={"mb": MAX_BYTES // (1024 * 1024)})
    if not data:
        raise PaperFileError("The file is empty.", field="file")
    header, rows = _read_rows(filename, data)
    columns = _column_map(header)
    keep = [i for i, h in enumerate(header) if h.strip().lstrip("\ufeff").strip().lower() != ERROR_COLUMN]
    token = secrets.token_urlsafe(12)
    result = ImportResult(token=token, account_id=actor.account_id, created_at=(now or utcnow()).isoformat(),
                          filename=_UNSAFE.sub("_", Path(filename or "upload").name)[-100:])
    rejected: list[list[str]] = []
    for row_no, raw in enumerate(rows, start=2):
        if not any((c or "").strip() for c in raw):
            continue  # a blank line
        result.read += 1
        if result.read > MAX_ROWS:
            raise PaperFileError("The file has more than {n} rows: split it.", field="file",
                                 params={"n": MAX_ROWS})
        values = {name: (raw[i] if i < len(raw) else "").strip() for name, i in columns.items()}
        parsed = row_to_input(values)
        problem: str | None = None
        if isinstance(parsed, list):
            problem = "; ".join(parsed)
        else:
            try:
                declaration = await create_paper_declaration(session, actor, parsed, keyring=keyring, now=now)
            except Conflict as exc:
                result.duplicates += 1
                if isinstance(exc.details, dict):
                    result.duplicate_ids.append(int(exc.details["declaration_id"]))
                continue
            except DomainError as exc:
                problem = _problem_text(exc, gettext)
            else:
                result.imported += 1
                result.declaration_ids.append(declaration.id)
        if problem is not None:
            result.rejected += 1
            rejected.append([*(raw[i] if i < len(raw) else "" for i in keep), f"row {row_no}: {problem}"])
    folder = _folder(settings)
    if rejected:
        with (folder / f"{token}.errors.csv").open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow([header[i] for i in keep] + [ERROR_COLUMN])
            writer.writerows(rejected)
        result.has_error_file = True
    (folder / f"{token}.json").write_text(json.dumps(asdict(result)), encoding="utf-8")
    await record_event(session, actor, "declarations:paper_import", subject_type="paper_import",
                       subject_id=token, details={
                           "file": result.filename, "read": result.read, "imported": result.imported,
                           "duplicates": result.duplicates, "rejected": result.rejected})
    return result


def load_result(actor: Actor, settings: Settings, token: str) -> ImportResult:
    """A finished import's result, for the officer who ran it."""
    path = settings.data_dir / "paper-imports" / f"{token}.json"
    if not _TOKEN.match(token) or not path.is_file():
        raise NotFound("No such import.")
    result = ImportResult(**json.loads(path.read_text("utf-8")))
    if result.account_id != actor.account_id:
        raise NotFound("No such import.")
    return result


def error_file(actor: Actor, settings: Settings, token: str) -> Path:
    result = load_result(actor, settings, token)
    path = settings.data_dir / "paper-imports" / f"{token}.errors.csv"
    if not result.has_error_file or not path.is_file():
        raise NotFound("This import has no rejected rows.")
    return path


def template_csv(today: date) -> bytes:
    """The header row and one example row, UTF-8 with a byte-order mark (Excel then reads the accents)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerow([c.format(travel_date=today.strftime("%d/%m/%Y")) for c in EXAMPLE_ROW])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
