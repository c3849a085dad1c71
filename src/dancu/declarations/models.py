"""Domestic travel declarations and the 72-hour passes issued for them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dancu.core.db import Base, UTCDateTime, utcnow

TRANSPORT_MODES = ("private_car", "motorbike", "coach", "train", "plane", "ship", "other")
SYMPTOMS = ("fever", "cough", "shortness_of_breath", "pneumonia", "sore_throat", "fatigue", "loss_of_taste_smell")
EXPOSURES = ("contact_with_case", "from_affected_area", "contact_with_symptomatic")


class Declaration(Base):
    __tablename__ = "declarations"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="RESTRICT"))
    declared_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), default=None)
    source: Mapped[str] = mapped_column(String(8), default="online")  # online | paper
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), default=None)
    phone: Mapped[str | None] = mapped_column(String(15), default=None)
    origin_unit_code: Mapped[str] = mapped_column(ForeignKey("units.code", ondelete="RESTRICT"))
    origin_address: Mapped[str] = mapped_column(String(300))
    destination_unit_code: Mapped[str] = mapped_column(ForeignKey("units.code", ondelete="RESTRICT"))
    destination_address: Mapped[str] = mapped_column(String(300))
    travel_date: Mapped[date] = mapped_column(Date)
    return_date: Mapped[date | None] = mapped_column(Date, default=None)
    transport: Mapped[str] = mapped_column(String(16))
    vehicle_plate: Mapped[str | None] = mapped_column(String(16), default=None)
    transport_detail: Mapped[str | None] = mapped_column(String(60), default=None)  # flight / train / seat
    purpose: Mapped[str] = mapped_column(String(200))
    places_visited: Mapped[str | None] = mapped_column(Text, default=None)
    symptoms: Mapped[list[str]] = mapped_column(JSON, default=list)
    exposures: Mapped[list[str]] = mapped_column(JSON, default=list)
    attested: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(8), default="valid")  # valid | revoked (expired = past expires_at)
    pass_id: Mapped[str] = mapped_column(String(24), unique=True)
    pass_code: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), default=None)
    revoke_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)

    __table_args__ = (
        CheckConstraint("source IN ('online', 'paper')", name="source"),
        CheckConstraint("status IN ('valid', 'revoked')", name="status"),
        CheckConstraint("origin_unit_code <> destination_unit_code", name="origin_differs"),
        Index("ix_declarations_person_id_created_at", "person_id", "created_at"),
        Index("ix_declarations_destination_unit_code_travel_date", "destination_unit_code", "travel_date"),
        Index("ix_declarations_origin_unit_code_travel_date", "origin_unit_code", "travel_date"),
    )
