"""dancu travel passes (`VNT1:`) and green-lane freight passes (`VNG1:`).

The container is the HC1 one (COSE_Sign1 in a CWT, zlib, Base45) with dancu's own prefix and private claim
key (-70001 travel, -70002 green lane), so no DCC verifier mistakes a pass for a health certificate, and the
signed claim key must agree with the prefix. Claims use small integer keys to keep the QR small and hold
the least a checkpoint officer needs to match the pass to the person or vehicle in front of them: a masked
name, the last 4 ID digits, the birth year, origin and destination unit codes, the plate. Never the full
ID number, an address or health data. Only a DSC with dancu's pass usage may sign a pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Literal

import cbor2

from dancu.config import get_settings
from dancu.core.errors import ValidationFailed
from dancu.core.text import fold
from dancu.credentials.container import strip_prefix, unwrap, wrap
from dancu.credentials.cose import is_map, parse_sign1
from dancu.credentials.cwt import (
    CLAIM_EXP,
    CLAIM_IAT,
    CLAIM_ISS,
    TrustLookup,
    check_times,
    find_signer,
    read_claims,
    signing_window,
    utc_clock,
)
from dancu.credentials.keys import Keyring
from dancu.credentials.results import CredentialFailure, ScanResult

PassKind = Literal["travel_pass", "green_lane"]
TRAVEL_PREFIX = "VNT1:"
GREEN_LANE_PREFIX = "VNG1:"
CLAIM_TRAVEL = -70001
CLAIM_GREEN_LANE = -70002
PREFIXES: dict[PassKind, str] = {"travel_pass": TRAVEL_PREFIX, "green_lane": GREEN_LANE_PREFIX}
CLAIM_KEYS: dict[PassKind, int] = {"travel_pass": CLAIM_TRAVEL, "green_lane": CLAIM_GREEN_LANE}
MAX_HOURS = 24 * 31

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
_UNIT = re.compile(r"[A-Za-z0-9.-]{1,16}\Z")
_PLATE = re.compile(r"[0-9A-Z.-]{4,16}\Z")
# Exactly the outputs of mask_name: a word, or a word, initials ("V. "), and a last word.
_MASKED = re.compile(r"[A-Z0-9]+(?:(?: [A-Z0-9]\.)* [A-Z0-9]+)?\Z")
_LAST4 = re.compile(r"[0-9]{4}\Z")


def mask_name(full_name: str) -> str:
    """'Nguyễn Thị Minh Khai' -> 'NGUYEN T. M. KHAI': family and given name kept, middle names as initials,
    diacritics folded, upper case. Idempotent, so a masked name masks to itself."""
    words = [w for w in (re.sub(r"[^A-Z0-9]", "", token) for token in fold(full_name).upper().split()) if w]
    if not words:
        raise ValidationFailed("the name has no letters", field="full_name")
    if len(words) == 1:
        return words[0]
    return " ".join([words[0], *(f"{w[0]}." for w in words[1:-1]), words[-1]])


def normalize_plate(plate: str) -> str:
    return re.sub(r"\s+", "", plate).upper()


def _check(value: object, pattern: re.Pattern[str], field: str, what: str) -> None:
    if not isinstance(value, str) or not pattern.match(value):
        raise ValidationFailed(f"{field} must be {what}", field=field)


def _check_name(value: object, field: str) -> None:
    if not isinstance(value, str) or len(value) > 64 or not _MASKED.match(value):
        raise ValidationFailed(f"{field} must be a masked name: use mask_name()", field=field)


@dataclass(frozen=True, slots=True)
class TravelPassClaims:
    pass_id: str
    declaration_id: str
    holder_name: str  # masked, e.g. "NGUYEN V. A"
    id_last4: str
    birth_year: int
    origin: str  # administrative unit codes
    destination: str
    vehicle_plate: str | None = None

    def __post_init__(self) -> None:
        _check(self.pass_id, _ID, "pass_id", "1-64 letters, digits, '-' or '_'")
        _check(self.declaration_id, _ID, "declaration_id", "1-64 letters, digits, '-' or '_'")
        _check_name(self.holder_name, "holder_name")
        _check(self.id_last4, _LAST4, "id_last4", "the last 4 digits of the ID number")
        year = self.birth_year
        if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2100:
            raise ValidationFailed("birth_year must be a year between 1900 and 2100", field="birth_year")
        _check(self.origin, _UNIT, "origin", "an administrative unit code")
        _check(self.destination, _UNIT, "destination", "an administrative unit code")
        if self.vehicle_plate is not None:
            _check(self.vehicle_plate, _PLATE, "vehicle_plate", "a plate such as 51F-123.45 (upper case)")

    @classmethod
    def for_person(
        cls,
        *,
        pass_id: str,
        declaration_id: str,
        full_name: str,
        national_id: str,
        birth_year: int,
        origin: str,
        destination: str,
        vehicle_plate: str | None = None,
    ) -> TravelPassClaims:
        """Build the claims from register data, reducing it to what the pass may carry."""
        return cls(
            pass_id,
            declaration_id,
            mask_name(full_name),
            national_id.strip()[-4:],
            birth_year,
            origin,
            destination,
            normalize_plate(vehicle_plate) if vehicle_plate else None,
        )


@dataclass(frozen=True, slots=True)
class GreenLaneClaims:
    pass_id: str
    vehicle_plate: str
    driver_name: str  # masked
    driver_id_last4: str
    origin: str
    destination: str
    declaration_id: str | None = None

    @classmethod
    def for_driver(
        cls,
        *,
        pass_id: str,
        vehicle_plate: str,
        full_name: str,
        national_id: str,
        origin: str,
        destination: str,
        declaration_id: str | None = None,
    ) -> GreenLaneClaims:
        """Build the claims from register data, reducing it to what the pass may carry."""
        return cls(
            pass_id,
            normalize_plate(vehicle_plate),
            mask_name(full_name),
            national_id.strip()[-4:],
            origin,
            destination,
            declaration_id,
        )

    def __post_init__(self) -> None:
        _check(self.pass_id, _ID, "pass_id", "1-64 letters, digits, '-' or '_'")
        _check(self.vehicle_plate, _PLATE, "vehicle_plate", "a plate such as 51F-123.45 (upper case)")
        _check_name(self.driver_name, "driver_name")
        _check(self.driver_id_last4, _LAST4, "driver_id_last4", "the last 4 digits of the driver's ID number")
        _check(self.origin, _UNIT, "origin", "an administrative unit code")
        _check(self.destination, _UNIT, "destination", "an administrative unit code")
        if self.declaration_id is not None:
            _check(self.declaration_id, _ID, "declaration_id", "1-64 letters, digits, '-' or '_'")


# Short CBOR keys; the two kinds share numbers for the same meaning.
_KEYS: dict[str, int] = {
    "pass_id": 1,
    "declaration_id": 2,
    "holder_name": 3,
    "driver_name": 3,
    "id_last4": 4,
    "driver_id_last4": 4,
    "birth_year": 5,
    "origin": 6,
    "destination": 7,
    "vehicle_plate": 8,
}
_FIELDS: dict[PassKind, tuple[str, ...]] = {
    "travel_pass": tuple(f.name for f in fields(TravelPassClaims)),
    "green_lane": tuple(f.name for f in fields(GreenLaneClaims)),
}


def _issue(
    kind: PassKind,
    claims: TravelPassClaims | GreenLaneClaims,
    keyring: Keyring,
    now: datetime | None,
    hours: int | None,
) -> str:
    hours = get_settings().travel_pass_hours if hours is None else hours
    if isinstance(hours, bool) or not isinstance(hours, int) or not 0 < hours <= MAX_HOURS:
        raise ValidationFailed(f"a pass is valid for 1 to {MAX_HOURS} hours", field="hours")
    iat = utc_clock(now)
    exp = iat + timedelta(hours=hours)
    signer = keyring.signer_for(kind)
    exp = signing_window(signer.dsc, iat, exp)
    body = {_KEYS[name]: value for name in _FIELDS[kind] if (value := getattr(claims, name)) is not None}
    cwt = {
        CLAIM_ISS: keyring.country,
        CLAIM_IAT: int(iat.timestamp()),
        CLAIM_EXP: int(exp.timestamp()),
        CLAIM_KEYS[kind]: body,
    }
    return wrap(PREFIXES[kind], signer.sign1(cbor2.dumps(cwt)))


def issue_travel_pass(
    claims: TravelPassClaims, *, keyring: Keyring, now: datetime | None = None, hours: int | None = None
) -> str:
    """A signed `VNT1:` pass, valid from `now` for `hours` (default settings.travel_pass_hours, 72)."""
    return _issue("travel_pass", claims, keyring, now, hours)


def issue_green_lane_pass(
    claims: GreenLaneClaims, *, keyring: Keyring, now: datetime | None = None, hours: int | None = None
) -> str:
    """A signed `VNG1:` freight pass for a vehicle and driver; checkpoints wave it through while valid."""
    return _issue("green_lane", claims, keyring, now, hours)


def _decode_claims(kind: PassKind, raw: Mapping[Any, Any]) -> dict[str, Any]:
    other: PassKind = "green_lane" if kind == "travel_pass" else "travel_pass"
    if CLAIM_KEYS[other] in raw:
        raise CredentialFailure("format", f"the signed claims are a {other}, not what the prefix says")
    body = raw.get(CLAIM_KEYS[kind])
    if not is_map(body):
        raise CredentialFailure("format", f"no {kind} claim ({CLAIM_KEYS[kind]}) in the CWT")
    values: dict[str, Any] = {name: body.get(_KEYS[name]) for name in _FIELDS[kind]}
    try:  # the claim classes validate every value
        TravelPassClaims(**values) if kind == "travel_pass" else GreenLaneClaims(**values)
    except ValidationFailed as exc:
        raise CredentialFailure("format", f"the pass claims are malformed ({exc.message})") from None
    decoded = {name: value for name, value in values.items() if value is not None}
    return {**decoded, "green_lane": True} if kind == "green_lane" else decoded


def verify_pass(text: str, kind: PassKind, *, trust: TrustLookup, clock: datetime | None = None) -> ScanResult:
    """Every check for a travel or green-lane pass; the result names the first that failed."""
    at = utc_clock(clock)
    found: dict[str, Any] = {}
    try:
        sign1 = parse_sign1(unwrap(strip_prefix(text, PREFIXES[kind])))
        found["kid"] = sign1.kid
        claims = read_claims(sign1)
        found.update(issuer=claims.iss, iat=claims.iat, exp=claims.exp)
        found["payload"] = _decode_claims(kind, claims.raw)
        dsc = find_signer(sign1, trust)
        check_times(claims, dsc, at)
        if not dsc.may_sign_passes:
            raise CredentialFailure("key_usage", "the signer is not authorised to sign dancu passes")
    except CredentialFailure as failure:
        return ScanResult.failed(kind, failure.code, failure.detail, **found)
    what = "green-lane pass: wave through" if kind == "green_lane" else "travel pass"
    expires = claims.exp.isoformat(" ", "minutes").replace("+00:00", " UTC") if claims.exp else "?"
    return ScanResult(kind=kind, ok=True, failure=None, detail=f"valid {what} until {expires}", **found)
