"""Broker accounts of the device registry: one row per edge box, loudspeaker receiver and hub process that
has (or had) an account. Passwords are not here: the broker keeps its own hash, the device its provisioning
file.

A registry device (agents, speakers) without a row here, or with a revoked one, is *pending*: the broker
refuses it until an administrator gives it an account (hub/core/provisioning.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base

ACTIVE = "active"
REVOKED = "revoked"


class BrokerAccountRow(Base):
    __tablename__ = "broker_accounts"
    username: Mapped[str] = mapped_column(String(256), primary_key=True)  # also the bound client id
    kind: Mapped[str] = mapped_column(String(16))  # edge / speaker / hub
    device_key: Mapped[str] = mapped_column(String(200))  # district/commune/id, or the hub process name
    district: Mapped[str | None] = mapped_column(String(64))
    commune: Mapped[str | None] = mapped_column(String(64))
    communes: Mapped[list[str]] = mapped_column(JSON, default=list)  # edge: communes whose cameras it reports
    state: Mapped[str] = mapped_column(String(16), default=ACTIVE)  # active / revoked
    created_at: Mapped[datetime] = mapped_column(DateTime)
    password_set_at: Mapped[datetime] = mapped_column(DateTime)  # last add or rotate
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    issued_by: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_broker_accounts_device", "kind", "device_key"),)
