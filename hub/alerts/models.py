"""SQL tables of the alert engine. The engine alone writes `alerts` and `alert_groups`; people (web/API) alone
write acknowledgements, silences and rule overrides, so the two never overwrite each other's columns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base


class AlertRow(Base):
    """Current (or last) episode of one alert identity."""

    __tablename__ = "alerts"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # hash of key (hub.alerts.rules.alert_id)
    key: Mapped[str] = mapped_column(String(600), unique=True)  # kind|district|commune|device
    kind: Mapped[str] = mapped_column(String(32))
    district: Mapped[str] = mapped_column(String(64))
    commune: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(300))
    name: Mapped[str] = mapped_column(String(200), default="")
    summary: Mapped[str] = mapped_column(String(500), default="")
    parent: Mapped[str | None] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # pending / firing / resolved
    episode: Mapped[int] = mapped_column(Integer)
    since: Mapped[datetime] = mapped_column(DateTime)
    last_true: Mapped[datetime] = mapped_column(DateTime)
    fired_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    flaps: Mapped[list[float]] = mapped_column(JSON, default=list)
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    silenced_by: Mapped[int | None] = mapped_column(Integer)  # silence id while one applies
    inhibited: Mapped[bool] = mapped_column(Boolean, default=False)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        Index("ix_alerts_status", "status"),
        Index("ix_alerts_area", "district", "commune"),
    )


class AlertGroupRow(Base):
    __tablename__ = "alert_groups"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # kind|district|commune
    kind: Mapped[str] = mapped_column(String(32))
    district: Mapped[str] = mapped_column(String(64))
    commune: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_notice_at: Mapped[datetime | None] = mapped_column(DateTime)
    told: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # alert id → device/name/summary/since


class AlertAck(Base):
    """A person acknowledged one episode of an alert: no more repeats of it."""

    __tablename__ = "alert_acks"
    alert_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    episode: Mapped[int] = mapped_column(Integer, primary_key=True)
    by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime)
    note: Mapped[str] = mapped_column(String(500), default="")


class Silence(Base):
    """Silence (ad hoc) or maintenance window (planned): alerts matching every given field are not told."""

    __tablename__ = "alert_silences"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(16))  # silence / maintenance
    district: Mapped[str | None] = mapped_column(String(64))  # None: the whole province (admins only)
    commune: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str | None] = mapped_column(String(32))
    device: Mapped[str | None] = mapped_column(String(300))
    starts_at: Mapped[datetime] = mapped_column(DateTime)
    ends_at: Mapped[datetime] = mapped_column(DateTime)
    author: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expired_at: Mapped[datetime | None] = mapped_column(DateTime)  # ended early by a person
    expired_by: Mapped[str | None] = mapped_column(String(64))
    # A recurring maintenance window (hub/core/maintenance_rules.py Recurrence): it holds only during its
    # occurrences between starts_at and ends_at. None: the whole time.
    recurrence: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_alert_silences_ends", "ends_at"),)


class AlertRuleOverride(Base):
    """A district's changes to the configured rule settings of one kind (only the keys given)."""

    __tablename__ = "alert_rule_overrides"
    district: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
