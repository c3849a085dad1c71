"""The population register: one row per person, unique on the 12-digit personal ID number."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from dancu.core.db import Base, UTCDateTime, utcnow


def _code(length: int) -> TypeEngine[str]:
    """A code or folded text compared byte by byte: on PostgreSQL in the "C" collation (SQLite's default,
    BINARY, is the same). Sorting in the database's linguistic collation made each of persons' indexes
    2-2.5x slower to build (bulk loads rebuild six), and a btree in it cannot serve `LIKE 'prefix%'`."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class Person(Base):
    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    national_id: Mapped[str] = mapped_column(_code(12), unique=True)
    old_id: Mapped[str | None] = mapped_column(String(9), default=None)
    full_name: Mapped[str] = mapped_column(String(120))
    search_name: Mapped[str] = mapped_column(_code(120))
    dob: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))
    birth_province: Mapped[str] = mapped_column(String(3))
    permanent_unit_code: Mapped[str] = mapped_column(_code(10), ForeignKey("units.code", ondelete="RESTRICT"))
    permanent_address: Mapped[str] = mapped_column(String(300))
    current_unit_code: Mapped[str] = mapped_column(_code(10), ForeignKey("units.code", ondelete="RESTRICT"))
    current_address: Mapped[str] = mapped_column(String(300))
    household_id: Mapped[str | None] = mapped_column(_code(20), default=None)
    household_relation: Mapped[str | None] = mapped_column(String(40), default=None)
    phone: Mapped[str | None] = mapped_column(String(15), default=None)
    status: Mapped[str] = mapped_column(String(10), default="alive")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint("sex IN ('M', 'F')", name="sex"),
        CheckConstraint("status IN ('alive', 'deceased')", name="status"),
        Index("ix_persons_dob_search_name", "dob", "search_name"),
        Index("ix_persons_search_name", "search_name"),
        Index("ix_persons_household_id", "household_id"),
        Index("ix_persons_current_unit_code", "current_unit_code"),
        Index("ix_persons_permanent_unit_code", "permanent_unit_code"),
    )


class ImportJob(Base):
    """One register import (CLI or web upload): its progress and outcome."""

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), default="registry")
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), default=None)
    unit_code: Mapped[str | None] = mapped_column(String(10), default=None)
    filename: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|running|done|failed
    rows_read: Mapped[int] = mapped_column(default=0)
    rows_imported: Mapped[int] = mapped_column(default=0)
    rows_updated: Mapped[int] = mapped_column(default=0)
    rows_rejected: Mapped[int] = mapped_column(default=0)
    bytes_total: Mapped[int] = mapped_column(default=0)
    bytes_done: Mapped[int] = mapped_column(default=0)
    error_file: Mapped[str | None] = mapped_column(String(500), default=None)
    message: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
