"""Tables of relays: the allow-list of upstream streams an administrator manages, and one report per relayed
airing (minutes relayed, gaps, fallback)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base, utcnow


class RelayUpstream(Base):
    """One upstream station stream that relays may use (VOV, the province's station …)."""

    __tablename__ = "relay_upstreams"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(1000), unique=True)
    protocol: Mapped[str] = mapped_column(String(8))  # http / hls / rtsp
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)


class RelaySession(Base):
    """What the hub relayed for one airing: written as it goes (every few seconds) and at its end."""

    __tablename__ = "relay_sessions"
    airing_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    upstream_id: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(String(1000))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    relayed_s: Mapped[float] = mapped_column(Float, default=0.0)  # upstream audio sent on
    gap_s: Mapped[float] = mapped_column(Float, default=0.0)  # upstream lost or silent beyond the limit
    fallback_s: Mapped[float] = mapped_column(Float, default=0.0)  # of the gaps, filled by the fallback
    gaps: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # [{start, end, kind, fallback}]
