"""The checks of a declaration that need no database: trip, dates, transport, text fields.

`check_trip` collects every problem at once (a paper-import row shows them all); the service raises the
first as a ValidationFailed naming its field, with all of them in `details`. Administrative units come from
a per-process cache (`places`), so a declaration costs no unit query.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dancu.core.errors import ValidationFailed
from dancu.core.plates import InvalidPlate, normalize_plate
from dancu.declarations.schemas import DETAIL_REQUIRED, MAX_DAYS_AHEAD, ROAD_MODES, DeclarationIn
from dancu.registry.idnumber import InvalidIdNumber, decode_id
from dancu.registry.validation import normalize_phone
from dancu.units.service import Place, unit_tree

MAX_RETURN_DAYS = 366


async def places(session: AsyncSession) -> dict[str, Place]:
    """Every administrative unit by code (the units domain's cached tree)."""
    return await unit_tree(session)


def place_label(units: dict[str, Place], code: str) -> str:
    """'Phường Ba Đình, Thành phố Hà Nội' (the commune and its province), or the code if unknown."""
    unit = units.get(code)
    if unit is None:
        return code
    parent = units.get(unit.parent_code or "")
    return f"{unit.name}, {parent.name}" if parent is not None and parent.level != "country" else unit.name


class Problems:
    """Problems of one declaration, in field order; `raise_first` turns them into one ValidationFailed."""

    def __init__(self) -> None:
        self.items: list[ValidationFailed] = []

    def add(self, field: str, message: str, **params: Any) -> None:
        self.items.append(ValidationFailed(message, field=field, params=params or None))

    def __bool__(self) -> bool:
        return bool(self.items)

    def as_text(self) -> str:
        return "; ".join(f"{p.field}: {p.message}" for p in self.items)

    def raise_first(self) -> None:
        if self.items:
            raise DeclarationInvalid(self.items)


class DeclarationInvalid(ValidationFailed):
    """Every problem of a declaration: the first is the message, all are in `details` and `problems`."""

    def __init__(self, problems: list[ValidationFailed]) -> None:
        first = problems[0]
        super().__init__(first.template, field=first.field, params=first.params or None,
                         details=[{"field": p.field, "message": p.message} for p in problems])
        self.problems = problems


@dataclass(slots=True)
class CleanTrip:
    national_id: str
    phone: str | None
    vehicle_plate: str | None
    transport_detail: str | None


def _has_control(text: str, *, multiline: bool = False) -> bool:
    allowed = "\n\r\t" if multiline else ""
    return any(unicodedata.category(ch) in ("Cc", "Cf") and ch not in allowed for ch in text)


def check_trip(data: DeclarationIn, units: dict[str, Place], today: date, problems: Problems) -> CleanTrip:
    """Everything about the declaration that the register is not needed for. `today` is the local date."""
    clean = CleanTrip(national_id=data.national_id, phone=None, vehicle_plate=None, transport_detail=None)
    try:
        clean.national_id = decode_id(data.national_id, field="national_id").number
    except InvalidIdNumber as exc:
        problems.add("national_id", exc.template)
    if data.phone:
        clean.phone = normalize_phone(data.phone)
        if clean.phone is None:
            problems.add("phone", "{phone} is not a Vietnamese phone number (0 and 9 digits).",
                         phone=data.phone[:20])
    for side in ("origin", "destination"):
        code = getattr(data, f"{side}_unit_code")
        unit = units.get(code)
        if not code:
            problems.add(f"{side}_unit_code", "Choose the commune or ward.")
        elif unit is None:
            problems.add(f"{side}_unit_code", "Unknown unit code {code}.", code=code[:10])
        elif unit.level != "commune":
            problems.add(f"{side}_unit_code", "{name} is not a commune or ward: choose the commune.",
                         name=unit.name)
        address = getattr(data, f"{side}_address")
        if not address:
            problems.add(f"{side}_address", "Write the house number and street (or village).")
        elif _has_control(address):
            problems.add(f"{side}_address", "The address contains control characters.")
    if data.origin_unit_code and data.origin_unit_code == data.destination_unit_code:
        problems.add("destination_unit_code", "The destination must differ from the place of departure.")
    if data.travel_date < today:
        problems.add("travel_date", "The travel date is in the past.")
    elif data.travel_date > today + timedelta(days=MAX_DAYS_AHEAD):
        problems.add("travel_date", "The travel date can be at most {days} days ahead.", days=MAX_DAYS_AHEAD)
    if data.return_date is not None:
        if data.return_date < data.travel_date:
            problems.add("return_date", "The return date is before the travel date.")
        elif data.return_date > data.travel_date + timedelta(days=MAX_RETURN_DAYS):
            problems.add("return_date", "The return date is more than a year after the travel date.")
    _check_transport(data, clean, problems)
    if not data.purpose:
        problems.add("purpose", "Say why you travel.")
    elif _has_control(data.purpose):
        problems.add("purpose", "The purpose contains control characters.")
    if data.places_visited and _has_control(data.places_visited, multiline=True):
        problems.add("places_visited", "The places visited contain control characters.")
    if not data.attested:
        problems.add("attested", "Confirm the attestation: a false declaration is against the law.")
    return clean


def _check_transport(data: DeclarationIn, clean: CleanTrip, problems: Problems) -> None:
    if data.transport in ROAD_MODES and data.vehicle_plate:
        try:
            clean.vehicle_plate = normalize_plate(data.vehicle_plate, field="vehicle_plate")
        except InvalidPlate as exc:
            problems.add("vehicle_plate", exc.template, **exc.params)
    # A plate given with a train, plane or ship is dropped: it cannot belong to that trip.
    detail = data.transport_detail
    if detail and _has_control(detail):
        problems.add("transport_detail", "The flight, train or seat number contains control characters.")
    elif data.transport in DETAIL_REQUIRED and not detail:
        problems.add("transport_detail", "Give the flight, train or seat number for this means of transport.")
    clean.transport_detail = detail
