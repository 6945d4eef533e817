"""Audit log: every change made by a person (web or API), with who, when, what, and the record before/after.

Call `record_change` inside the same SQL transaction as the change itself, so a change is never stored
without its audit row (and a rolled-back change leaves none).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.core.db import Base

# Keys never written to the audit log, whatever record they come from.
SECRET_KEYS = frozenset(
    {"password", "password_hash", "token", "token_hash", "secret", "access_token", "csrf"}
)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    actor: Mapped[str] = mapped_column(String(64))  # username, or "system" / "cli"
    action: Mapped[str] = mapped_column(
        String(64)
    )  # e.g. "user.create", "silence.create", "programme.approve"
    target: Mapped[str] = mapped_column(String(300))  # what was changed, e.g. "user:congan" or "programme:12"
    district: Mapped[str | None] = mapped_column(String(64))  # scope of the target, for scoped audit views
    commune: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_audit_at", "at"), Index("ix_audit_target", "target"))


def _clean(record: dict[str, Any] | None) -> dict[str, Any] | None:
    if record is None:
        return None
    out: dict[str, Any] = {}
    for k, v in record.items():
        if k in SECRET_KEYS:
            continue
        out[k] = v.isoformat() if isinstance(v, datetime) else v
    return out


def record_change(
    s: Session,
    *,
    actor: str,
    action: str,
    target: str,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    district: str | None = None,
    commune: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=now,
        actor=actor,
        action=action,
        target=target,
        district=district,
        commune=commune,
        before=_clean(before),
        after=_clean(after),
    )
    s.add(entry)
    return entry
