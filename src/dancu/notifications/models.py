"""Notices to communes (arrivals and departures), written in the same transaction as their cause
(a transactional outbox), and webhook subscriptions with their delivery attempts."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dancu.core.db import Base, UTCDateTime, utcnow

BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class Notice(Base):
    __tablename__ = "notices"

    # An outbox row: every reference is a copy of its source row's (the declaration or the passage, written in
    # the same statement), which carries the foreign keys. Its own would cost five row-lock checks per notice,
    # two notices per passage, on the checkpoint hot path (docs/architecture.md, "Foreign keys").
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    unit_code: Mapped[str] = mapped_column(String(10))  # the commune told
    kind: Mapped[str] = mapped_column(String(10))  # arrival | departure
    source: Mapped[str] = mapped_column(String(12))  # declaration | passage
    person_id: Mapped[int] = mapped_column(Integer)
    declaration_id: Mapped[int | None] = mapped_column(Integer, default=None)
    passage_id: Mapped[int | None] = mapped_column(BigIntId, default=None)
    checkpoint_id: Mapped[int | None] = mapped_column(Integer, default=None)
    origin_unit_code: Mapped[str] = mapped_column(String(10))
    origin_province: Mapped[str] = mapped_column(String(10))
    destination_unit_code: Mapped[str] = mapped_column(String(10))
    travel_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), default=None)

    __table_args__ = (
        CheckConstraint("kind IN ('arrival', 'departure')", name="kind"),
        Index("ix_notices_unit_code_id", "unit_code", "id"),
        Index("ix_notices_unit_code_travel_date", "unit_code", "travel_date"),
    )


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code", ondelete="RESTRICT"))  # notices of its subtree
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    notice_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("notices.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    __table_args__ = (Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),)
