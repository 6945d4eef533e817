"""SQL tables of the scheduled reports: each report made (its files live on disk, named by id), each delivery of
it (one row per Zalo group or e-mail address, retried until sent or given up), and the communes whose public
status page is switched on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base

# delivery states: only `pending` rows are tried; `failed` gave up (permanent error or attempts spent)
PENDING = "pending"
SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"  # the channel is not configured (no SMTP host, Zalo OA in dry run): shown, not retried
DELIVERY_STATES = (PENDING, SENT, FAILED, SKIPPED)
CHANNEL_ZALO = "zalo"
CHANNEL_EMAIL = "email"
CHANNELS = (CHANNEL_ZALO, CHANNEL_EMAIL)


class ReportRun(Base):
    __tablename__ = "report_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # weekly / monthly
    district: Mapped[str] = mapped_column(String(64), default="")  # "" with commune "": the whole hub
    commune: Mapped[str] = mapped_column(String(64), default="")
    period_start: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    period_end: Mapped[datetime] = mapped_column(DateTime)
    label: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    pdf_bytes: Mapped[int] = mapped_column(Integer, default=0)
    csv_bytes: Mapped[int] = mapped_column(Integer, default=0)
    cameras: Mapped[int] = mapped_column(Integer, default=0)
    availability: Mapped[str | None] = mapped_column(String(16))  # "97.4" (%), None with no data
    error: Mapped[str | None] = mapped_column(String(500))  # why making it failed (files absent)

    __table_args__ = (
        UniqueConstraint("kind", "district", "commune", "period_start", name="uq_report_run_period"),
        Index("ix_report_runs_area", "district", "commune", "period_start"),
    )


class ReportDelivery(Base):
    __tablename__ = "report_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report_runs.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(8))  # zalo / email
    target: Mapped[str] = mapped_column(String(200))  # group id / address
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        UniqueConstraint("report_id", "channel", "target", name="uq_report_delivery_target"),
        Index("ix_report_deliveries_due", "state", "next_try_at"),
    )


class PublicStatus(Base):
    """A commune whose public status page is on (opt-in: a row with `enabled` true)."""

    __tablename__ = "public_status_pages"
    district: Mapped[str] = mapped_column(String(64), primary_key=True)
    commune: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
