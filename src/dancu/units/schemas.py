"""Unit shapes for the API and the unit picker."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class UnitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    short_name: str
    level: str
    parent_code: str | None
