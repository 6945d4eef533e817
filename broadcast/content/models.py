"""Audio content: one row per recording, upload or text-to-speech item, with the original kept beside the
processed MP3 that receivers play."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base, utcnow


class BroadcastContent(Base):
    __tablename__ = "broadcast_content"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    district: Mapped[str] = mapped_column(String(64))
    commune: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))  # recording / upload / tts
    text: Mapped[str | None] = mapped_column(Text)  # the TTS input, when source == tts
    tts_voice: Mapped[str | None] = mapped_column(String(64))  # the voice that spoke it, when source == tts
    tts_speed: Mapped[float | None] = mapped_column(Float)  # its speed (1.0: the hub's tts_rate_wpm)
    original_name: Mapped[str | None] = mapped_column(String(255))  # file name the user gave (display only)
    original_path: Mapped[str] = mapped_column(String(500))  # relative to the content dir
    path: Mapped[str] = mapped_column(String(500))  # processed MP3, relative to the content dir
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # of the processed MP3
    size: Mapped[int] = mapped_column(Integer)  # bytes of the processed MP3
    duration_s: Mapped[float] = mapped_column(Float)
    loudness_lufs: Mapped[float] = mapped_column(Float)  # measured on the processed file
    true_peak_dbtp: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
    # source == relay: no file of its own (path, sha256 empty, size 0); it plays this allow-listed upstream
    # (broadcast/relays) for duration_s, and the recording `relay_fallback_id` fills the upstream's gaps.
    relay_upstream_id: Mapped[int | None] = mapped_column(Integer)
    relay_fallback_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_content_area", "district", "commune"),)
