"""Shapes of checkpoint, passage, green-lane and report data crossing the API and pages."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from dancu.checkpoints.models import CHECKPOINT_KINDS, REFUSAL_REASONS
from dancu.core.ids import RowId

CheckpointKind = Literal["provincial_border", "city_gateway", "internal"]
Decision = Literal["confirm", "refuse"]
Method = Literal["camera", "usb", "manual"]
Direction = Literal["in", "out"]
Verdict = Literal["green", "amber", "red"]
RefusalReason = Literal["no_pass", "expired", "revoked", "identity_mismatch", "symptoms", "wrong_route", "other"]
TestKind = Literal["pcr", "rapid"]
MAX_BATCH = 1000
IDEMPOTENCY_PATTERN = r"^[A-Za-z0-9_.:-]{8,64}$"

# The literal types above must list exactly the values the database accepts.
assert set(get_args(CheckpointKind)) == set(CHECKPOINT_KINDS)
assert set(get_args(RefusalReason)) == set(REFUSAL_REASONS)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _strip(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


class CheckpointCreate(BaseModel):
    name: str = Field(min_length=2, max_length=120)
    unit_code: str = Field(min_length=1, max_length=10)
    kind: CheckpointKind
    lat: float | None = Field(default=None, ge=8.0, le=24.0, description="WGS 84 latitude (Vietnam)")
    lon: float | None = Field(default=None, ge=102.0, le=118.0, description="WGS 84 longitude (Vietnam)")
    active: bool = True

    @field_validator("name", "unit_code")
    @classmethod
    def _trim(cls, v: str) -> str:
        return " ".join(v.split())

    @model_validator(mode="after")
    def _both_coordinates(self) -> CheckpointCreate:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both latitude and longitude, or neither")
        return self


class CheckpointUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=2, max_length=120)
    kind: CheckpointKind | None = None
    lat: float | None = Field(default=None, ge=8.0, le=24.0)
    lon: float | None = Field(default=None, ge=102.0, le=118.0)
    active: bool | None = None


class CheckpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    unit_code: str
    unit_name: str | None = None
    kind: str
    lat: float | None
    lon: float | None
    active: bool
    created_at: datetime


class OfficerOut(BaseModel):
    account_id: int
    username: str
    display_name: str
    unit_code: str
    assigned_at: datetime


class ScanIn(BaseModel):
    code: str = Field(min_length=1, max_length=7100, description="The scanned QR text, or a 12-digit ID number")
    method: Method = "camera"


class HolderOut(BaseModel):
    """What the officer compares with the ID card. Never the person's full record."""

    full_name: str | None = None
    dob: date | None = None
    birth_year: int | None = None
    id_last4: str | None = None


class ScanOut(BaseModel):
    verdict: Verdict
    reason: str
    message: str
    kind: str
    green_lane: bool = False
    already_scanned: bool = False
    holder: HolderOut | None = None
    origin_unit_code: str | None = None
    origin_name: str | None = None
    destination_unit_code: str | None = None
    destination_name: str | None = None
    valid_until: datetime | None = None
    vehicle_plate: str | None = None
    pass_id: str | None = None
    suggested_refusal: RefusalReason | None = None


class PassageIn(BaseModel):
    """One decision at a checkpoint, as sent by a scanning device (online, or from its offline queue)."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=7100)
    decision: Decision
    reason: RefusalReason | None = Field(default=None, validate_default=True)
    reason_text: str | None = Field(default=None, max_length=300, validate_default=True)
    method: Method
    direction: Direction = "in"
    scanned_at: datetime
    idempotency_key: str = Field(pattern=IDEMPOTENCY_PATTERN, description="8-64 characters, unique per passage")
    device: str | None = Field(default=None, max_length=80)

    @field_validator("reason", mode="before")
    @classmethod
    def _empty_reason(cls, v: object) -> object:
        return None if v == "" else v

    @field_validator("reason_text", "device")
    @classmethod
    def _trim(cls, v: str | None, info: ValidationInfo) -> str | None:
        # Stored in the group-committed batch: NUL there would fail every device's passages in it (PostgreSQL
        # refuses NUL in text), and these routes answer before core.inputs.NulGuard.
        v = _strip(v)
        if v is not None and (_CONTROL if info.field_name == "device" else _CONTROL_BUT_LINES).search(v):
            raise ValueError("must not contain control characters")
        return v

    @field_validator("reason", "reason_text", mode="after")
    @classmethod
    def _reason_matches_decision(cls, v: str | None, info: ValidationInfo) -> str | None:
        decision = info.data.get("decision")
        if info.field_name == "reason" and decision == "refuse" and v is None:
            raise ValueError("a refusal needs a reason")
        if decision == "confirm" and v is not None:
            raise ValueError("a reason is given only when refusing")
        return v

    @field_validator("scanned_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("scanned_at needs a time zone (e.g. 2021-08-20T08:15:00+07:00)")
        return v


class PassageOut(BaseModel):
    id: int
    idempotency_key: str
    checkpoint_id: int
    officer_id: int
    code_kind: str
    pass_id: str | None
    verdict: Verdict
    decision: Decision
    reason: str | None
    method: Method
    direction: Direction
    green_lane: bool
    scanned_at: datetime
    recorded_at: datetime


class PassageResult(BaseModel):
    status: Literal["created", "duplicate"]
    detail: Literal["recorded", "idempotency_key_reused", "already_scanned"]
    passage: PassageOut


class BatchIn(BaseModel):
    """An offline device's queue; each item is checked on its own (one bad item fails alone)."""

    items: list[Any] = Field(min_length=1, max_length=MAX_BATCH)


class BatchItemOut(BaseModel):
    index: int
    idempotency_key: str | None = None
    status: Literal["created", "duplicate", "error"]
    detail: str | None = None
    message: str | None = None
    field: str | None = None
    passage: PassageOut | None = None


class BatchOut(BaseModel):
    created: int
    duplicate: int
    error: int
    items: list[BatchItemOut]


class VehicleCreate(BaseModel):
    plate: str = Field(min_length=1, max_length=20)
    vehicle_type: str = Field(min_length=2, max_length=40)
    owner_company: str = Field(min_length=2, max_length=200)
    unit_code: str = Field(min_length=1, max_length=10)

    @field_validator("vehicle_type", "owner_company", "unit_code")
    @classmethod
    def _trim(cls, v: str) -> str:
        return " ".join(v.split())


class VehicleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    plate: str
    vehicle_type: str
    owner_company: str
    unit_code: str
    active: bool
    created_at: datetime


class GreenLaneIssue(BaseModel):
    driver_national_id: str = Field(min_length=12, max_length=12, pattern=r"^\d{12}$")
    origin_unit_code: str = Field(min_length=1, max_length=10)
    destination_unit_code: str = Field(min_length=1, max_length=10)
    test_kind: TestKind
    test_taken_at: datetime

    @field_validator("origin_unit_code", "destination_unit_code", "driver_national_id", mode="before")
    @classmethod
    def _trim(cls, v: object) -> object:
        return v.strip() if isinstance(v, str) else v

    @field_validator("test_taken_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("test_taken_at needs a time zone (e.g. 2021-08-20T08:15:00+07:00)")
        return v


class GreenLanePassOut(BaseModel):
    id: int
    pass_id: str
    vehicle_id: int
    vehicle_plate: str
    driver_name: str  # masked, as on the pass
    driver_id_last4: str
    origin_unit_code: str
    destination_unit_code: str
    test_kind: str
    test_taken_at: datetime
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    code: str


# Reports cover days of passages: none before the system, none past this century (and date arithmetic on
# 0001-01-01 or 9999-12-31 overflows).
REPORT_FIRST_DAY = date(2000, 1, 1)
REPORT_LAST_DAY = date(2099, 12, 31)


class ReportQuery(BaseModel):
    date_from: date | None = Field(default=None, alias="from", ge=REPORT_FIRST_DAY, le=REPORT_LAST_DAY)
    date_to: date | None = Field(default=None, alias="to", ge=REPORT_FIRST_DAY, le=REPORT_LAST_DAY)
    checkpoint_id: RowId | None = None

    model_config = ConfigDict(populate_by_name=True)


class ReportRow(BaseModel):
    key: str
    label: str
    scanned: int = 0
    confirmed: int = 0
    refused: int = 0
    green_lane: int = 0


class ReportOut(BaseModel):
    date_from: date
    date_to: date
    checkpoint_id: int | None
    totals: ReportRow
    refused_by_reason: dict[str, int]
    by_day: list[ReportRow]
    by_hour: list[ReportRow]
    by_checkpoint: list[ReportRow]
    by_origin_province: list[ReportRow]
