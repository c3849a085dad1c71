"""Shapes of account data crossing the API."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from dancu.accounts.permissions import Role
from dancu.core.ids import RowId


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class ClaimIn(BaseModel):
    """A citizen claims their register record: all three must match the register."""

    national_id: str = Field(min_length=1, max_length=20)
    full_name: str = Field(min_length=1, max_length=120)
    dob: date
    password: str = Field(min_length=1, max_length=256)


class AccountCreate(BaseModel):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]+$")
    display_name: str = Field(min_length=1, max_length=120)
    role: Role
    unit_code: str = Field(min_length=1, max_length=10)
    password: str = Field(min_length=1, max_length=256)


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: str
    unit_code: str
    unit_name: str | None = None
    is_active: bool
    created_at: datetime


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    account_id: RowId | None = None
    days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenOut):
    token: str


class MeOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    unit_code: str
    permissions: list[str]
    person_id: int | None
