"""The scheduler's leader lock: one row in `scheduler_lease` per lock name, holder id + expiry.

Several hub workers share one database; each runs a `BroadcastScheduler`, and only the worker holding the lease
runs jobs. A holder renews well before expiry; a worker that dies stops renewing, and another takes over once
the lease has expired. Plain UPDATE/INSERT with a unique key, so it behaves the same on SQLite and PostgreSQL
(the row update is atomic; two workers inserting the first row at once: one gets the IntegrityError).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import DateTime, String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.core.db import Base


class SchedulerLease(Base):
    __tablename__ = "scheduler_lease"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    acquired_at: Mapped[datetime] = mapped_column(DateTime)


def try_acquire(s: Session, name: str, holder: str, now: datetime, ttl_s: float) -> bool:
    """Takes or renews the lease; True when `holder` holds it until now + ttl_s."""
    expires = now + timedelta(seconds=ttl_s)
    renewed = s.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, SchedulerLease.holder == holder)
        .values(expires_at=expires)
    )
    if renewed.rowcount:  # type: ignore[attr-defined]
        return True
    taken = s.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, SchedulerLease.expires_at < now)
        .values(holder=holder, expires_at=expires, acquired_at=now)
    )
    if taken.rowcount:  # type: ignore[attr-defined]
        return True
    if s.get(SchedulerLease, name) is not None:
        return False
    try:
        with s.begin_nested():
            s.add(SchedulerLease(name=name, holder=holder, expires_at=expires, acquired_at=now))
    except IntegrityError:
        return False
    return True


def holds(s: Session, name: str, holder: str, now: datetime) -> bool:
    row = s.execute(select(SchedulerLease).where(SchedulerLease.name == name)).scalar_one_or_none()
    return row is not None and row.holder == holder and row.expires_at >= now


def release(s: Session, name: str, holder: str) -> None:
    """Gives the lease up at once (clean stop), so another worker need not wait for expiry."""
    s.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, SchedulerLease.holder == holder)
        .values(expires_at=datetime(1970, 1, 1))
    )


def current(s: Session, name: str) -> SchedulerLease | None:
    return s.get(SchedulerLease, name)
