"""Shapes of register data crossing the API and pages."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dancu.accounts.permissions import Purpose


class PersonSearch(BaseModel):
    q: str | None = Field(
        default=None, max_length=120, description="Name (any case, with or without diacritics) or a 12-digit ID"
    )
    year: int | None = Field(default=None, ge=1900, le=2100)
    dob: date | None = None
    household_id: str | None = Field(default=None, max_length=20)
    page: int = Field(default=1, ge=1, le=10_000)
    size: int = Field(default=20, ge=1, le=100)

    @field_validator("q", "household_id")
    @classmethod
    def _strip(cls, v: str | None) -> str | None:
        v = (v or "").strip()
        return v or None


class PersonSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    national_id: str
    full_name: str
    dob: date
    sex: str
    current_unit_code: str
    household_id: str | None


class PersonOut(PersonSummary):
    old_id: str | None
    birth_province: str
    birth_province_name: str | None = None
    permanent_unit_code: str
    permanent_unit_name: str | None = None
    permanent_address: str
    current_unit_name: str | None = None
    current_address: str
    household_relation: str | None
    phone: str | None
    status: str
    updated_at: datetime


class ReadRequest(BaseModel):
    purpose: Purpose


class ReadEventOut(BaseModel):
    at: datetime
    action: str
    actor_role: str | None
    actor_unit: str | None
    actor_unit_name: str | None = None
    purpose: str | None
    outcome: str


class ImportJobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    filename: str
    status: str
    rows_read: int
    rows_imported: int
    rows_updated: int
    rows_rejected: int
    bytes_total: int
    bytes_done: int
    message: str | None
    has_error_file: bool = False
    created_at: datetime
    finished_at: datetime | None

    @property
    def percent(self) -> int:
        return (
            100 if self.status == "done" else int(100 * self.bytes_done / self.bytes_total) if self.bytes_total else 0
        )
