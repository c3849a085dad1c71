"""Shapes of declaration data crossing the API, the pages and the checkpoint hot path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dancu.declarations.models import EXPOSURES, SYMPTOMS, TRANSPORT_MODES

Transport = Literal["private_car", "motorbike", "coach", "train", "plane", "ship", "other"]
Symptom = Literal[
    "fever", "cough", "shortness_of_breath", "pneumonia", "sore_throat", "fatigue", "loss_of_taste_smell"
]
Exposure = Literal["contact_with_case", "from_affected_area", "contact_with_symptomatic"]
Status = Literal["valid", "expired", "revoked"]
Source = Literal["online", "paper"]

# The literal types must list exactly the values the models define.
assert get_args(Transport) == TRANSPORT_MODES
assert get_args(Symptom) == SYMPTOMS
assert get_args(Exposure) == EXPOSURES

ROAD_MODES = frozenset({"private_car", "motorbike", "coach", "other"})  # a plate may be given
DETAIL_REQUIRED = frozenset({"coach", "train", "plane", "ship"})  # flight / train / seat number needed
MAX_DAYS_AHEAD = 30


def _blank_to_none(value: object) -> object:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


class DeclarationIn(BaseModel):
    """One travel declaration, as the citizen, the API client or the officer (from paper) gives it.

    `full_name` and `dob` are checked against the register; a citizen declaring for a household member
    may leave them out (they come from the register). An officer entering a paper form must give them.
    """

    national_id: str = Field(max_length=20, description="12-digit personal ID number of the traveller")
    full_name: str | None = Field(default=None, max_length=120)
    dob: date | None = None
    phone: str | None = Field(default=None, max_length=20)
    origin_unit_code: str = Field(max_length=10, description="Commune (or ward) of departure")
    origin_address: str = Field(max_length=300)
    destination_unit_code: str = Field(max_length=10, description="Commune (or ward) of arrival")
    destination_address: str = Field(max_length=300)
    travel_date: date
    return_date: date | None = None
    transport: Transport
    vehicle_plate: str | None = Field(default=None, max_length=20)
    transport_detail: str | None = Field(default=None, max_length=60, description="Flight/train/seat number")
    purpose: str = Field(max_length=200)
    places_visited: str | None = Field(default=None, max_length=2000, description="In the last 14 days")
    symptoms: list[Symptom] = Field(default_factory=list, max_length=len(SYMPTOMS))
    exposures: list[Exposure] = Field(default_factory=list, max_length=len(EXPOSURES))
    attested: bool = Field(default=False, description="The declarant confirms the attestation (required)")

    @field_validator("full_name", "phone", "vehicle_plate", "transport_detail", "places_visited",
                     "return_date", "dob", mode="before")
    @classmethod
    def _optional(cls, value: object) -> object:
        return _blank_to_none(value)

    @field_validator("national_id", "origin_unit_code", "destination_unit_code", "origin_address",
                     "destination_address", "purpose", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("symptoms", "exposures")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class RevokeIn(BaseModel):
    reason: str | None = Field(default=None, max_length=200)

    @field_validator("reason", mode="before")
    @classmethod
    def _optional(cls, value: object) -> object:
        return _blank_to_none(value)


class DeclarationQuery(BaseModel):
    """Officials' list: declarations whose origin or destination is in their jurisdiction."""

    date_from: date | None = None
    date_to: date | None = None
    origin: str | None = Field(default=None, max_length=10, description="Commune or province code")
    destination: str | None = Field(default=None, max_length=10, description="Commune or province code")
    status: Status | None = None
    page: int = Field(default=1, ge=1, le=100_000)
    size: int = Field(default=20, ge=1, le=200)

    @field_validator("date_from", "date_to", "origin", "destination", "status", mode="before")
    @classmethod
    def _optional(cls, value: object) -> object:
        return _blank_to_none(value)


class DeclarationSummary(BaseModel):
    id: int
    person_id: int
    full_name: str
    id_last4: str
    source: Source
    origin_unit_code: str
    origin_name: str
    destination_unit_code: str
    destination_name: str
    travel_date: date
    transport: str
    status: Status
    expires_at: datetime
    created_at: datetime


class DeclarationOut(DeclarationSummary):
    model_config = ConfigDict(from_attributes=True)

    dob: date
    phone: str | None
    origin_address: str
    destination_address: str
    return_date: date | None
    vehicle_plate: str | None
    transport_detail: str | None
    purpose: str
    places_visited: str | None
    symptoms: list[str]
    exposures: list[str]
    pass_id: str
    pass_code: str | None = Field(
        default=None, description="The signed pass (for the traveller and the officer who entered it only)")
    issued_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None
    declared_by_id: int | None
    entered_by_id: int | None


class PaperImportOut(BaseModel):
    token: str
    filename: str
    read: int
    imported: int
    duplicates: int
    rejected: int
    declaration_ids: list[int]
    duplicate_ids: list[int]
    error_file: str | None = Field(default=None, description="URL of the rejected rows (CSV), if any")
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PassStatus:
    """What a checkpoint needs to judge a scanned travel pass, from one indexed query."""

    declaration_id: int
    person_id: int
    pass_id: str
    status: Status  # "expired" is derived: now >= expires_at
    expires_at: datetime
    revoked_at: datetime | None
    origin_unit_code: str
    destination_unit_code: str
    travel_date: date
    full_name: str
    dob: date
    id_last4: str
    vehicle_plate: str | None


@dataclass(frozen=True, slots=True)
class HouseholdOption:
    person_id: int
    national_id: str
    full_name: str
    dob: date
    is_self: bool
