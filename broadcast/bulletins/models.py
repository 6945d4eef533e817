"""One row per bulletin received: the upstream id makes a resend answer with the same receipt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base


class Bulletin(Base):
    __tablename__ = "bulletins"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    upstream_id: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(16))  # api / folder
    submitted_by: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    title: Mapped[str] = mapped_column(String(200))
    level: Mapped[int] = mapped_column(Integer)  # TT39 1 thông thường, 2 ưu tiên, 3 khẩn cấp
    text: Mapped[str | None] = mapped_column(Text)
    valid_from: Mapped[datetime] = mapped_column(DateTime)
    valid_until: Mapped[datetime] = mapped_column(DateTime)
    communes: Mapped[list[str]] = mapped_column(JSON)  # "district/commune"
    # [{"district", "commune", "programme_id", "content_id"}]: what it landed as
    programmes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("upstream_id", name="uq_bulletins_upstream_id"),)
