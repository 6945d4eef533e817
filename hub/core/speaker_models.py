"""The speaker registry and latest known state of each loudspeaker receiver (one row per receiver).

Rows are created when a receiver first reports (MQTT status/health; `pending` until an administrator approves
it) or by an administrator (CSV import / admin page); the hub's broadcast dispatcher keeps the state columns
current.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, Index, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import STATUS_UNKNOWN, Base


class Speaker(Base):
    __tablename__ = "speakers"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # district/commune/speaker
    district: Mapped[str] = mapped_column(String(64))
    commune: Mapped[str] = mapped_column(String(64))
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    village: Mapped[str | None] = mapped_column(String(64))  # hub/core/geo.py Village slug, same commune
    status: Mapped[str] = mapped_column(String(16), default=STATUS_UNKNOWN)  # online/offline/stale/unknown
    status_since: Mapped[datetime | None] = mapped_column(DateTime)
    version: Mapped[str | None] = mapped_column(String(64))
    volume: Mapped[int | None] = mapped_column(Integer)
    amplifier: Mapped[str | None] = mapped_column(String(16))  # on / off / fault
    signal_dbm: Mapped[float | None] = mapped_column(Float)
    disk_free_mb: Mapped[float | None] = mapped_column(Float)
    playing: Mapped[str | None] = mapped_column(String(64))  # airing id
    last_seen: Mapped[datetime | None] = mapped_column(DateTime)
    # A receiver that registered itself (first MQTT contact) waits for an administrator's approval: until then
    # it is in no programme and no alert names it (its name and village are its own word).
    pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Where it stands, for the map (optional: both or neither; hub/core/camera_points.py SpeakerLocation).
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("ix_speakers_area", "district", "commune"),)
