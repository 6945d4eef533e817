"""Programmes (what to air, where, when, at which priority) and their approval record.

A programme belongs to one commune. Its content is an ordered list of `ProgrammeItem`s (content ids), its target
is the whole commune, chosen villages or chosen speakers (resolved to speaker ids from the `speakers` table at
dispatch time, so a speaker added later is included), and its schedule is JSON (broadcast/programmes/schedule.py).

States: draft → pending_approval → approved | rejected; any of them → cancelled. Editing an approved programme
sends it back to pending_approval. Every step is an `ApprovalStep` row plus an audit entry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base, utcnow

STATE_DRAFT = "draft"
STATE_PENDING = "pending_approval"
STATE_APPROVED = "approved"
STATE_REJECTED = "rejected"
STATE_CANCELLED = "cancelled"
STATES = (STATE_DRAFT, STATE_PENDING, STATE_APPROVED, STATE_REJECTED, STATE_CANCELLED)
STATE_LABELS = {
    STATE_DRAFT: "Bản nháp",
    STATE_PENDING: "Chờ duyệt",
    STATE_APPROVED: "Đã duyệt",
    STATE_REJECTED: "Bị từ chối",
    STATE_CANCELLED: "Đã huỷ",
}
PRIORITY_LABELS = {"normal": "Thông thường", "priority": "Ưu tiên", "emergency": "Khẩn cấp"}

TARGET_COMMUNE = "commune"
TARGET_VILLAGES = "villages"
TARGET_SPEAKERS = "speakers"
TARGET_KINDS = (TARGET_COMMUNE, TARGET_VILLAGES, TARGET_SPEAKERS)
TARGET_LABELS = {
    TARGET_COMMUNE: "Toàn xã",
    TARGET_VILLAGES: "Các thôn đã chọn",
    TARGET_SPEAKERS: "Các cụm loa đã chọn",
}

# ApprovalStep.action values
STEP_CREATE = "create"
STEP_EDIT = "edit"
STEP_SUBMIT = "submit"
STEP_APPROVE = "approve"
STEP_REJECT = "reject"
STEP_CANCEL = "cancel"
STEP_EMERGENCY = "air_emergency"  # aired at once without prior approval
STEP_REVIEW = "review"  # an approver looked at an emergency afterwards
STEP_REPLACE = "replace"  # this programme took other occurrences' place (conflict resolution)
STEP_LABELS = {
    STEP_CREATE: "Tạo",
    STEP_EDIT: "Sửa",
    STEP_SUBMIT: "Gửi duyệt",
    STEP_APPROVE: "Duyệt",
    STEP_REJECT: "Từ chối",
    STEP_CANCEL: "Huỷ",
    STEP_EMERGENCY: "Phát khẩn cấp",
    STEP_REVIEW: "Xem lại sau phát khẩn cấp",
    STEP_REPLACE: "Thay thế chương trình khác",
}


class Programme(Base):
    __tablename__ = "programmes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    district: Mapped[str] = mapped_column(String(64))
    commune: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    target_kind: Mapped[str] = mapped_column(String(16), default=TARGET_COMMUNE)
    target_ids: Mapped[list[str]] = mapped_column(JSON, default=list)  # village or speaker slugs
    schedule: Mapped[dict[str, Any]] = mapped_column(
        JSON
    )  # broadcast/programmes/schedule.py Schedule.to_json()
    repeats: Mapped[int] = mapped_column(Integer, default=1)
    gap_s: Mapped[float] = mapped_column(Float, default=0.0)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    state: Mapped[str] = mapped_column(String(20), default=STATE_DRAFT)
    # The moment a `now` programme airs (approval time, or the emergency air-now time); naive UTC.
    anchor_at: Mapped[datetime | None] = mapped_column(DateTime)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)  # aired as an emergency, not reviewed
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)  # bumped on every change (stale-edit check)

    __table_args__ = (Index("ix_programmes_area_state", "district", "commune", "state"),)


class ProgrammeItem(Base):
    __tablename__ = "programme_items"
    programme_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("programmes.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0-based play order
    content_id: Mapped[int] = mapped_column(Integer, index=True)  # broadcast_content.id


class ApprovalStep(Base):
    __tablename__ = "programme_steps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    programme_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("programmes.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str | None] = mapped_column(String(1000))


class ProgrammeSkip(Base):
    """One occurrence of a programme given up on some speakers because another programme replaced it.

    It takes effect only while the replacing programme is approved (a rejected replacement gives the slot back).
    """

    __tablename__ = "programme_skips"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    programme_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("programmes.id", ondelete="CASCADE"), index=True
    )
    occurrence_at: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    speakers: Mapped[list[str] | None] = mapped_column(JSON)  # None: every speaker of the occurrence
    by_programme_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("programmes.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
