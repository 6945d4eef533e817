"""SQL table of the recorders feature: the latest report of each recorder (NVR/DVR)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base


class RecorderRow(Base):
    """One row per recorder, replaced by each report. `report` is the whole `RecorderHealth` as sent; the
    columns beside it are what lists and filters need without opening it."""

    __tablename__ = "recorders"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # district/commune/id
    district: Mapped[str] = mapped_column(String(64))
    commune: Mapped[str] = mapped_column(String(64))
    slug: Mapped[str] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    online: Mapped[bool] = mapped_column(Boolean)
    ts: Mapped[datetime] = mapped_column(DateTime)  # device time of the report
    received: Mapped[datetime] = mapped_column(DateTime)  # hub time it arrived
    days_kept: Mapped[float | None] = mapped_column(Float)
    free_mb: Mapped[float | None] = mapped_column(Float)
    capacity_mb: Mapped[float | None] = mapped_column(Float)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (Index("ix_recorders_area", "district", "commune"),)
