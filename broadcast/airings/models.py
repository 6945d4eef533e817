"""Airings (one occurrence of a programme on its speakers) and per-speaker receipts: the proof of what aired.

The scheduler creates an `Airing` once per programme occurrence (unique programme_id + occurrence_at, so a
restart can never double it) and the dispatcher fills in the outcome from what each receiver reported.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base, utcnow

# Airing.status values
AIRING_SCHEDULED = "scheduled"  # created, not yet sent to receivers
AIRING_DISPATCHED = "dispatched"  # playlist sent, waiting for start
AIRING_PLAYING = "playing"
AIRING_AIRED = "aired"  # every targeted speaker played it
AIRING_PARTIAL = "partial"  # some speakers played it
AIRING_FAILED = "failed"  # no speaker played it
AIRING_MISSED = "missed"  # not aired: the hub was down past the misfire grace, or no approval in time
AIRING_CANCELLED = "cancelled"
AIRING_INTERRUPTED = "interrupted"  # preempted by an emergency
AIRING_STATUSES = (
    AIRING_SCHEDULED,
    AIRING_DISPATCHED,
    AIRING_PLAYING,
    AIRING_AIRED,
    AIRING_PARTIAL,
    AIRING_FAILED,
    AIRING_MISSED,
    AIRING_CANCELLED,
    AIRING_INTERRUPTED,
)


class Airing(Base):
    __tablename__ = "airings"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # slug, also used on MQTT
    programme_id: Mapped[int] = mapped_column(Integer, index=True)
    occurrence_at: Mapped[datetime] = mapped_column(DateTime)  # scheduled start (naive UTC)
    start_at: Mapped[datetime] = mapped_column(DateTime)  # actual planned start sent to receivers
    district: Mapped[str] = mapped_column(String(64))
    commune: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    priority: Mapped[str] = mapped_column(String(16))  # broadcast/orders.py Priority
    status: Mapped[str] = mapped_column(String(16), default=AIRING_SCHEDULED)
    reason: Mapped[str | None] = mapped_column(
        String(300)
    )  # why missed / cancelled / interrupted (Vietnamese)
    targeted: Mapped[int] = mapped_column(Integer, default=0)
    played: Mapped[int] = mapped_column(Integer, default=0)
    skew_ms: Mapped[float | None] = mapped_column(Float)  # max - min of first-sample times among players
    interrupted_by: Mapped[str | None] = mapped_column(String(64))  # airing id of the emergency
    order: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the AiringOrder as sent (items, speakers)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        UniqueConstraint("programme_id", "occurrence_at", name="uq_airing_occurrence"),
        Index("ix_airings_area_start", "district", "commune", "start_at"),
    )


# AiringReceipt.state values
RECEIPT_SENT = "sent"
RECEIPT_READY = "ready"
RECEIPT_STARTED = "started"
RECEIPT_FINISHED = "finished"
RECEIPT_FAILED = "failed"
RECEIPT_NO_ANSWER = "no_answer"  # offline or silent at air time
RECEIPT_STOPPED = "stopped"  # stopped by a command or preempted


class AiringReceipt(Base):
    __tablename__ = "airing_receipts"
    airing_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("airings.id", ondelete="CASCADE"), primary_key=True
    )
    speaker_key: Mapped[str] = mapped_column(String(200), primary_key=True)  # district/commune/speaker
    state: Mapped[str] = mapped_column(String(16), default=RECEIPT_SENT)
    ready_at: Mapped[datetime | None] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)  # receiver clock: first sample played
    started_offset_ms: Mapped[float | None] = mapped_column(Float)  # first sample time minus planned start
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    error: Mapped[str | None] = mapped_column(String(300))
    played_s: Mapped[float | None] = mapped_column(Float)  # seconds of audio played (finished / stopped)
    level_dbfs: Mapped[float | None] = mapped_column(Float)  # RMS sent to the amplifier over the airing
    reported_at: Mapped[datetime | None] = mapped_column(DateTime)  # when the hub heard the latest event
