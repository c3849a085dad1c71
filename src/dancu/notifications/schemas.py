"""Shapes of notices and webhooks crossing the API and pages."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dancu.core.ids import BigRowId, RowId

NoticeKind = Literal["arrival", "departure"]
MAX_BULK = 500


def _blank_to_none(v: object) -> object:
    if isinstance(v, str):
        v = v.strip()
        return v or None
    return v


class NoticeFilter(BaseModel):
    """The inbox filters; the same set drives the list, the live stream and the export."""

    date_from: date | None = Field(default=None, description="Travel date from (inclusive)")
    date_to: date | None = Field(default=None, description="Travel date to (inclusive)")
    kind: NoticeKind | None = None
    checkpoint_id: RowId | None = None
    origin_province: str | None = Field(default=None, max_length=10, pattern=r"^[0-9]{1,10}$")
    handled: bool | None = Field(default=None, description="true: handled only; false: not yet handled")

    @field_validator("date_from", "date_to", "kind", "checkpoint_id", "origin_province", "handled",
                     mode="before")
    @classmethod
    def _blank(cls, v: object) -> object:
        return _blank_to_none(v)

    @model_validator(mode="after")
    def _range(self) -> NoticeFilter:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from must not be after date_to")
        return self

    def as_query(self) -> dict[str, str]:
        """The non-empty filters as query parameters (for links that keep the current filter)."""
        out: dict[str, str] = {}
        for key, value in self.model_dump().items():
            if value is None:
                continue
            out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return out


class NoticeQuery(NoticeFilter):
    page: int = Field(default=1, ge=1, le=100_000)
    size: int = Field(default=20, ge=1, le=200)


class NoticeOut(BaseModel):
    """One inbox row. The person's ID number is included: the commune follows the person up."""

    id: int
    kind: str
    source: str
    unit_code: str
    person_id: int
    person_name: str
    national_id: str
    origin_unit_code: str
    origin_name: str | None
    origin_province: str
    destination_unit_code: str
    destination_name: str | None
    travel_date: date
    checkpoint_id: int | None
    checkpoint_name: str | None
    declaration_id: int | None
    passage_id: int | None
    created_at: datetime
    handled_at: datetime | None
    handled_by_id: int | None


class HandledIn(BaseModel):
    ids: list[BigRowId] = Field(min_length=1, max_length=MAX_BULK)  # notices: BIGINT

    @field_validator("ids")
    @classmethod
    def _unique(cls, v: list[int]) -> list[int]:
        return sorted({i for i in v if i > 0})


class HandledOut(BaseModel):
    updated: list[int]
    already_handled: list[int]
    not_found: list[int] = Field(description="Unknown ids and notices outside your jurisdiction")


class WebhookCreate(BaseModel):
    url: str = Field(max_length=500)
    unit_code: str | None = Field(default=None, max_length=10, description="Defaults to your own unit")

    @field_validator("url", "unit_code", mode="before")
    @classmethod
    def _strip(cls, v: object) -> object:
        return _blank_to_none(v)


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    unit_code: str
    url: str
    active: bool
    created_at: datetime
    pending: int = 0
    delivered: int = 0
    failed: int = 0


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Shown once: the key of the HMAC-SHA256 signature of each delivery")
