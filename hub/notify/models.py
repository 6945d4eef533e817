"""SQL tables of the notifier: the outbox (one row per notice, channel and receiver) and the token store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base

# Outbox row states. Only `pending` rows are ever sent; `sending` is committed before the request goes out,
# so a row found in `sending` at start was interrupted mid-send and becomes `unknown` (never resent blindly).
PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"  # permanent error from Zalo (bad group, not a member, forbidden)
DEAD = "dead"  # retries exhausted
UNKNOWN = "unknown"  # the hub stopped while sending: it may or may not have arrived
DRY_RUN = "dry_run"  # channel without credentials, or notify.dry_run: rendered, not sent
UNROUTED = "unrouted"  # no route/receiver matched: kept so nothing is silently lost
STATES = (PENDING, SENDING, SENT, FAILED, DEAD, UNKNOWN, DRY_RUN, UNROUTED)
RETRYABLE = (FAILED, DEAD, UNKNOWN)  # a person may send these again
PRUNABLE = (SENT, FAILED, DEAD, UNKNOWN, DRY_RUN, UNROUTED)  # deleted after notify.keep_days

CHANNEL_OA = "oa"
CHANNEL_BOT = "bot"
CHANNEL_NONE = "none"
CHANNELS = (CHANNEL_OA, CHANNEL_BOT, CHANNEL_NONE)


class OutboxRow(Base):
    __tablename__ = "notify_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(8))
    target: Mapped[str] = mapped_column(String(100))  # group id / chat id ("" when unrouted)
    target_name: Mapped[str] = mapped_column(String(200), default="")
    route: Mapped[str] = mapped_column(String(100), default="")
    kind: Mapped[str] = mapped_column(String(32))  # FactKind or "digest"
    severity: Mapped[str] = mapped_column(String(16))
    notice_status: Mapped[str] = mapped_column(String(16))  # firing / resolved / repeat / digest
    district: Mapped[str] = mapped_column(String(64), default="")
    commune: Mapped[str] = mapped_column(String(64), default="")
    text: Mapped[str] = mapped_column(Text)
    snapshot_camera: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Attempts that ended in doubt (hub/notify/zalo.py `Result.in_doubt`: Zalo may have delivered it without
    # saying so). A row sent after one may have reached its group twice.
    doubtful: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    next_try_at: Mapped[datetime] = mapped_column(DateTime)
    held_until: Mapped[datetime | None] = mapped_column(DateTime)  # quiet hours
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_code: Mapped[int | None] = mapped_column(Integer)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    message_id: Mapped[str | None] = mapped_column(String(100))  # the provider's id of what it delivered
    image: Mapped[str | None] = mapped_column(String(300))  # what happened to the picture (Vietnamese)
    # The fencing token of the `notify` leader lease under which the row was claimed: after a crash, only rows of
    # earlier leaders are in doubt (hub/notify/outbox.py `recover_interrupted`).
    claim_token: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("event_id", "channel", "target", name="uq_notify_event_target"),
        Index("ix_notify_state_due", "state", "next_try_at"),
        Index("ix_notify_area_created", "district", "commune", "created_at"),
    )


class ChannelToken(Base):
    """The OA's tokens. The refresh token is single-use: each refresh stores the new one before the new access
    token is used. `refresh_started_at` is set while a refresh is in flight (visible after a crash)."""

    __tablename__ = "notify_tokens"
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    access_token: Mapped[str | None] = mapped_column(Text)
    access_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    seed_hash: Mapped[str | None] = mapped_column(String(64))  # sha256 of the configured refresh token
    generation: Mapped[int] = mapped_column(Integer, default=0)
    refresh_started_at: Mapped[datetime | None] = mapped_column(DateTime)
    refreshed_at: Mapped[datetime | None] = mapped_column(DateTime)
    blocked_reason: Mapped[str | None] = mapped_column(String(300))  # re-authorisation needed
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)


# Escalation states: waiting until due; then escalated (sent to the next level), or closed without sending because
# every alert of it was acknowledged or resolved meanwhile.
ESC_WAITING = "waiting"
ESC_SENT = "escalated"
ESC_CLOSED = "closed"


class EscalationRow(Base):
    """One firing notice that a route escalates unless acknowledged: kept in SQL so a restart keeps the clock."""

    __tablename__ = "notify_escalations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(200))  # the firing notice's
    route: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    district: Mapped[str] = mapped_column(String(64))
    commune: Mapped[str] = mapped_column(String(64))
    notice: Mapped[dict[str, Any]] = mapped_column(JSON)  # items and link, to render the escalation
    after_min: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    due_at: Mapped[datetime] = mapped_column(DateTime)
    state: Mapped[str] = mapped_column(String(16), default=ESC_WAITING)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    devices: Mapped[list[str] | None] = mapped_column(JSON)  # escalated: those still open and unacknowledged

    __table_args__ = (
        UniqueConstraint("event_id", "route"),
        Index("ix_notify_escalations_due", "state", "due_at"),
    )
