"""Checkpoints, officer assignments, passages (the movement history), green-lane vehicles and daily counts."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dancu.core.db import Base, UTCDateTime, utcnow

BigIntId = BigInteger().with_variant(Integer(), "sqlite")
CHECKPOINT_KINDS = ("provincial_border", "city_gateway", "internal")
REFUSAL_REASONS = ("no_pass", "expired", "revoked", "identity_mismatch", "symptoms", "wrong_route", "other")


class Checkpoint(Base):
    __tablename__ = "checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("kind IN ('provincial_border', 'city_gateway', 'internal')", name="kind"),
    )


class CheckpointAssignment(Base):
    __tablename__ = "checkpoint_assignments"

    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True,
                                            index=True)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), default=None)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Vehicle(Base):
    """A freight vehicle registered for the green lane by a transport official."""

    __tablename__ = "vehicles"

    id: Mapped[int] = mapped_column(primary_key=True)
    plate: Mapped[str] = mapped_column(String(16), unique=True)
    vehicle_type: Mapped[str] = mapped_column(String(40))
    owner_company: Mapped[str] = mapped_column(String(200))
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code", ondelete="RESTRICT"))
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"),
                                                         default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GreenLanePass(Base):
    __tablename__ = "green_lane_passes"

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id", ondelete="RESTRICT"), index=True)
    driver_person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="RESTRICT"), index=True)
    origin_unit_code: Mapped[str] = mapped_column(ForeignKey("units.code", ondelete="RESTRICT"))
    destination_unit_code: Mapped[str] = mapped_column(ForeignKey("units.code", ondelete="RESTRICT"))
    test_kind: Mapped[str] = mapped_column(String(16))  # pcr | rapid
    test_taken_at: Mapped[datetime] = mapped_column(UTCDateTime)
    pass_id: Mapped[str] = mapped_column(String(24), unique=True)
    pass_code: Mapped[str] = mapped_column(Text)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), default=None)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Passage(Base):
    """One decision at a checkpoint. The movement history contact tracing reads later."""

    __tablename__ = "passages"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    # No foreign keys to the checkpoint and the officer: every concurrent batch would lock the same few rows
    # (docs/architecture.md, "Foreign keys"). Both come from the access check of the request that recorded it.
    checkpoint_id: Mapped[int] = mapped_column(Integer)
    officer_id: Mapped[int] = mapped_column(Integer)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="RESTRICT"), default=None)
    declaration_id: Mapped[int | None] = mapped_column(ForeignKey("declarations.id", ondelete="RESTRICT"),
                                                       default=None)
    green_lane_pass_id: Mapped[int | None] = mapped_column(ForeignKey("green_lane_passes.id", ondelete="RESTRICT"),
                                                           default=None)
    pass_id: Mapped[str | None] = mapped_column(String(24), default=None)
    code_kind: Mapped[str] = mapped_column(String(16))  # travel_pass | green_lane | cccd | manual | unrecognised
    direction: Mapped[str] = mapped_column(String(3))
    decision: Mapped[str] = mapped_column(String(8))
    verdict: Mapped[str] = mapped_column(String(8))  # green | amber | red
    reason: Mapped[str | None] = mapped_column(String(24), default=None)
    reason_text: Mapped[str | None] = mapped_column(String(300), default=None)
    method: Mapped[str] = mapped_column(String(8))
    origin_unit_code: Mapped[str | None] = mapped_column(String(10), default=None)
    destination_unit_code: Mapped[str | None] = mapped_column(String(10), default=None)
    device: Mapped[str | None] = mapped_column(String(80), default=None)
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("direction IN ('in', 'out')", name="direction"),
        CheckConstraint("decision IN ('confirm', 'refuse')", name="decision"),
        CheckConstraint("method IN ('camera', 'usb', 'manual')", name="method"),
        Index("ix_passages_person_id_scanned_at", "person_id", "scanned_at"),
        Index("ix_passages_checkpoint_id_scanned_at", "checkpoint_id", "scanned_at"),
        Index("ix_passages_pass_id_scanned_at", "pass_id", "scanned_at"),
    )


class PassageCount(Base):
    """Pre-aggregated daily counts per checkpoint, so reports over millions of passages are instant."""

    __tablename__ = "passage_counts"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    checkpoint_id: Mapped[int] = mapped_column(Integer)  # derived data, no foreign key (architecture.md)
    hour: Mapped[int] = mapped_column(Integer)
    origin_province: Mapped[str] = mapped_column(String(10))  # "" when unknown
    decision: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(24))  # "" when confirmed
    green_lane: Mapped[bool] = mapped_column(Boolean)
    count: Mapped[int] = mapped_column(Integer, default=0)
    # Concurrent batches add to different rows of the same key (one shard per transaction), so they do not
    # wait for each other's row lock until commit; readers sum over shards.
    shard: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")

    __table_args__ = (
        UniqueConstraint("day", "checkpoint_id", "hour", "origin_province", "decision", "reason", "green_lane",
                         "shard", name="uq_passage_counts_key"),
    )
