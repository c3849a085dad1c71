"""Administrative units: a depth-agnostic tree (country → province → [district →] commune)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dancu.core.db import Base

COUNTRY_CODE = "VN"


class Unit(Base):
    __tablename__ = "units"

    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(200))
    search_name: Mapped[str] = mapped_column(String(200), index=True)
    level: Mapped[str] = mapped_column(String(16))  # country | province | district | commune
    parent_code: Mapped[str | None] = mapped_column(
        ForeignKey("units.code", ondelete="RESTRICT"), index=True, default=None
    )
    # Materialised path of codes from the root, '/'-separated with a trailing '/': "VN/01/00097/".
    path: Mapped[str] = mapped_column(String(120))
    depth: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_units_path", "path"),)


class IdProvince(Base):
    """A pre-2025 province code that prefixes personal ID numbers, mapped to its current province."""

    __tablename__ = "id_provinces"

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    current_province_code: Mapped[str] = mapped_column(ForeignKey("units.code", ondelete="RESTRICT"))
