"""The verdict on a scanned code: pure logic over the signature check and what the database says.

`read_code` does the CPU work (recognise the code, verify its signature) and needs no database;
`assess` turns that reading plus the looked-up rows into a green/amber/red verdict with the reason in
words and what the officer must compare with the ID card. Both are pure, so the rules are unit-tested
without a server, and the group-commit recorder can look rows up for a whole batch at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Literal

from dancu.core.text import fold
from dancu.credentials.cwt import TrustLookup
from dancu.credentials.results import ScanResult
from dancu.credentials.scan import scan
from dancu.registry.idnumber import InvalidIdNumber, decode_id

Verdict = Literal["green", "amber", "red"]
MANUAL_ID = re.compile(r"\d{12}")
TEST_VALID = timedelta(hours=72)
ALREADY_SCANNED_WINDOW = timedelta(seconds=60)

# reason -> (verdict, message shown to the officer, the refusal reason to suggest)
REASONS: dict[str, tuple[Verdict, str, str | None]] = {
    "valid": ("green", "Valid travel pass", None),
    "green_lane": ("green", "Green lane — do not stop", None),
    "declaration_today": ("green", "Valid declaration for today (checked by ID number)", None),
    "no_declaration": ("amber", "No valid declaration for today", "no_pass"),
    "not_in_register": ("amber", "This ID number is not in the register", "no_pass"),
    "already_scanned": ("amber", "Already scanned here less than a minute ago", None),
    "card_mismatch": ("red", "The ID card does not match the register", "identity_mismatch"),
    "expired": ("red", "The pass has expired", "expired"),
    "not_yet_valid": ("red", "The pass is not valid yet", "no_pass"),
    "revoked": ("red", "The declaration was revoked", "revoked"),
    "tampered": ("red", "The signature does not match: the code was altered or forged", "other"),
    "damaged": ("red", "The code is damaged or was altered and cannot be read", "other"),
    "foreign": ("red", "Not signed by a trusted dancu key", "other"),
    "unknown_pass": ("red", "Signed, but no such pass exists in the system", "no_pass"),
    "hc1": ("red", "A health certificate (HC1) is not a travel pass", "no_pass"),
    "unrecognised": ("red", "Not a travel pass: the code is not recognised", "no_pass"),
    "invalid_id": ("red", "Not a valid 12-digit ID number", "no_pass"),
    "vehicle_inactive": ("red", "The vehicle is no longer registered for the green lane", "revoked"),
    "test_too_old": ("red", "The driver's test is older than 72 hours", "expired"),
}
_SIGNATURE_FAILURES = {
    "expired": "expired",
    "not_yet_valid": "not_yet_valid",
    "signature": "tampered",
    "unknown_kid": "foreign",
    "key_usage": "foreign",
}


@dataclass(frozen=True, slots=True)
class PassRecord:
    """A travel pass as the declarations domain knows it (`declarations.service.pass_status`)."""

    declaration_id: int
    person_id: int
    pass_id: str
    status: str  # valid | expired | revoked; expiry is judged again against expires_at at the scan time
    expires_at: datetime
    origin_unit_code: str
    destination_unit_code: str
    travel_date: date
    full_name: str
    dob: date
    id_last4: str
    vehicle_plate: str | None = None


@dataclass(frozen=True, slots=True)
class GreenLaneRecord:
    green_lane_pass_id: int
    pass_id: str
    plate: str
    vehicle_active: bool
    test_taken_at: datetime
    expires_at: datetime
    revoked: bool
    driver_person_id: int
    full_name: str
    dob: date
    national_id: str
    origin_unit_code: str
    destination_unit_code: str


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A person found by ID number, with today's valid declaration if any."""

    person_id: int
    full_name: str
    dob: date
    national_id: str
    declaration: PassRecord | None


@dataclass(frozen=True, slots=True)
class Reading:
    """A code after the CPU work (recognised, signature verified), before any database lookup."""

    kind: str  # travel_pass | green_lane | cccd | manual | hc1 | ticket | unrecognised
    result: ScanResult | None
    national_id: str | None = None
    pass_id: str | None = None  # only when the signature is valid

    @property
    def signed_ok(self) -> bool:
        return self.result is not None and self.result.ok


@dataclass(frozen=True, slots=True)
class Lookups:
    passes: Mapping[str, PassRecord] = field(default_factory=dict)
    green: Mapping[str, GreenLaneRecord] = field(default_factory=dict)
    persons: Mapping[str, PersonRecord] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Holder:
    full_name: str | None
    dob: date | None = None
    birth_year: int | None = None
    id_last4: str | None = None


@dataclass(frozen=True, slots=True)
class Assessment:
    verdict: Verdict
    reason: str
    kind: str
    holder: Holder | None = None
    person_id: int | None = None
    declaration_id: int | None = None
    green_lane_pass_id: int | None = None
    pass_id: str | None = None
    origin_unit_code: str | None = None
    destination_unit_code: str | None = None
    travel_date: date | None = None
    valid_until: datetime | None = None
    vehicle_plate: str | None = None

    @property
    def message(self) -> str:
        return REASONS[self.reason][1]

    @property
    def suggested_refusal(self) -> str | None:
        return REASONS[self.reason][2]

    @property
    def green_lane(self) -> bool:
        return self.green_lane_pass_id is not None

    @property
    def already_scanned(self) -> bool:
        return self.reason == "already_scanned"

    @property
    def code_kind(self) -> str:
        """The kind stored on the passage (passages.code_kind)."""
        return self.kind if self.kind in ("travel_pass", "green_lane", "cccd", "manual") else "unrecognised"


def read_code(code: str, *, keyring: TrustLookup, now: datetime) -> Reading:
    """Recognise a scanned code or a typed ID number, verifying any signature (no database)."""
    text = code.strip()
    if MANUAL_ID.fullmatch(text):
        return Reading("manual", None, national_id=text)
    result = scan(code, clock=now, keyring=keyring)
    if result.kind == "cccd":
        national_id = result.payload.get("national_id") if result.ok else None
        return Reading("cccd", result, national_id=str(national_id) if national_id else None)
    pass_id = result.payload.get("pass_id") if result.ok and result.kind in ("travel_pass", "green_lane") else None
    return Reading(result.kind, result, pass_id=str(pass_id) if pass_id else None)


def _holder_from_pass_payload(result: ScanResult) -> Holder | None:
    payload = result.payload
    name = payload.get("holder_name") or payload.get("driver_name")
    if not name:
        return None
    year = payload.get("birth_year")
    last4 = payload.get("id_last4") or payload.get("driver_id_last4")
    return Holder(
        full_name=str(name),
        birth_year=year if isinstance(year, int) else None,
        id_last4=str(last4) if last4 else None,
    )


def _person_holder(full_name: str, dob: date, id_last4: str) -> Holder:
    return Holder(full_name=full_name, dob=dob, birth_year=dob.year, id_last4=id_last4)


def _from_declaration(kind: str, record: PassRecord, reason: str) -> Assessment:
    return Assessment(
        verdict=REASONS[reason][0],
        reason=reason,
        kind=kind,
        holder=_person_holder(record.full_name, record.dob, record.id_last4),
        person_id=record.person_id,
        declaration_id=record.declaration_id,
        pass_id=record.pass_id,
        origin_unit_code=record.origin_unit_code,
        destination_unit_code=record.destination_unit_code,
        travel_date=record.travel_date,
        valid_until=record.expires_at,
        vehicle_plate=record.vehicle_plate,
    )


def _declaration_reason(record: PassRecord, now: datetime) -> str:
    if record.status == "revoked":
        return "revoked"
    if record.expires_at <= now:
        return "expired"
    return "valid"


def _signed_failure(reading: Reading) -> Assessment:
    result = reading.result
    assert result is not None
    reason = _SIGNATURE_FAILURES.get(result.failure or "", "damaged")
    payload = result.payload
    return Assessment(
        verdict="red",
        reason=reason,
        kind=reading.kind,
        holder=_holder_from_pass_payload(result) if reason in ("expired", "not_yet_valid") else None,
        origin_unit_code=payload.get("origin") if reason == "expired" else None,
        destination_unit_code=payload.get("destination") if reason == "expired" else None,
        valid_until=result.exp,
    )


def _assess_travel_pass(reading: Reading, lookups: Lookups, now: datetime) -> Assessment:
    if not reading.signed_ok or reading.pass_id is None:
        return _signed_failure(reading)
    record = lookups.passes.get(reading.pass_id)
    if record is None:
        return Assessment(verdict="red", reason="unknown_pass", kind=reading.kind, pass_id=reading.pass_id)
    return _from_declaration(reading.kind, record, _declaration_reason(record, now))


def _assess_green_lane(reading: Reading, lookups: Lookups, now: datetime) -> Assessment:
    if not reading.signed_ok or reading.pass_id is None:
        return _signed_failure(reading)
    record = lookups.green.get(reading.pass_id)
    if record is None:
        return Assessment(verdict="red", reason="unknown_pass", kind=reading.kind, pass_id=reading.pass_id)
    if record.revoked:
        reason = "revoked"
    elif not record.vehicle_active:
        reason = "vehicle_inactive"
    elif record.expires_at <= now:
        reason = "expired"
    elif record.test_taken_at + TEST_VALID <= now:
        reason = "test_too_old"
    else:
        reason = "green_lane"
    return Assessment(
        verdict=REASONS[reason][0],
        reason=reason,
        kind=reading.kind,
        holder=_person_holder(record.full_name, record.dob, record.national_id[-4:]),
        person_id=record.driver_person_id,
        green_lane_pass_id=record.green_lane_pass_id,
        pass_id=record.pass_id,
        origin_unit_code=record.origin_unit_code,
        destination_unit_code=record.destination_unit_code,
        travel_date=None,
        valid_until=min(record.expires_at, record.test_taken_at + TEST_VALID),
        vehicle_plate=record.plate,
    )


def _assess_by_id(reading: Reading, lookups: Lookups, now: datetime) -> Assessment:
    """A chip ID card QR or a typed ID number: who it is, and their valid declaration for today if any."""
    kind = reading.kind
    card = reading.result.payload if reading.result is not None else {}
    card_holder = None
    if card.get("full_name"):
        card_dob = date.fromisoformat(str(card["dob"])) if card.get("dob") else None
        card_holder = Holder(
            full_name=str(card["full_name"]),
            dob=card_dob,
            birth_year=card_dob.year if card_dob else None,
            id_last4=str(card.get("national_id", ""))[-4:] or None,
        )
    national_id = reading.national_id
    if national_id is None:
        return Assessment(verdict="red", reason="damaged", kind=kind)
    try:
        decode_id(national_id)
    except InvalidIdNumber:
        return Assessment(verdict="red", reason="invalid_id", kind=kind, holder=card_holder)
    person = lookups.persons.get(national_id)
    if person is None:
        return Assessment(verdict="amber", reason="not_in_register", kind=kind, holder=card_holder)
    if card_holder is not None and (
        fold(card_holder.full_name or "") != fold(person.full_name) or card_holder.dob != person.dob
    ):
        return Assessment(
            verdict="red", reason="card_mismatch", kind=kind, holder=card_holder, person_id=person.person_id
        )
    declaration = person.declaration
    if declaration is not None and _declaration_reason(declaration, now) == "valid":
        return _from_declaration(kind, declaration, "declaration_today")
    return Assessment(
        verdict="amber",
        reason="no_declaration",
        kind=kind,
        holder=_person_holder(person.full_name, person.dob, person.national_id[-4:]),
        person_id=person.person_id,
    )


def assess(reading: Reading, lookups: Lookups, now: datetime) -> Assessment:
    """The verdict on one reading, given the rows looked up for it."""
    if reading.kind == "travel_pass":
        return _assess_travel_pass(reading, lookups, now)
    if reading.kind == "green_lane":
        return _assess_green_lane(reading, lookups, now)
    if reading.kind in ("cccd", "manual"):
        if reading.kind == "cccd" and not (reading.result and reading.result.ok):
            return Assessment(verdict="red", reason="damaged", kind="cccd")
        return _assess_by_id(reading, lookups, now)
    if reading.kind == "hc1":
        return Assessment(verdict="red", reason="hc1", kind="hc1")
    return Assessment(verdict="red", reason="unrecognised", kind=reading.kind)


def as_already_scanned(assessment: Assessment) -> Assessment:
    """A pass confirmed here within the last minute: warn instead of waving through twice."""
    if assessment.verdict == "red":
        return assessment
    return replace(assessment, verdict="amber", reason="already_scanned")


def dedupe_key(assessment: Assessment) -> tuple[str, str | int] | None:
    """What identifies "the same pass" for the already-scanned rule: the pass, else the person."""
    if assessment.pass_id:
        return ("pass", assessment.pass_id)
    if assessment.person_id is not None:
        return ("person", assessment.person_id)
    return None
