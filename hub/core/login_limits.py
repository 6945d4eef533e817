"""Failed logins per client address, in SQL: every hub of a cluster counts the same failures, so an attacker
cannot spread guesses over the hubs behind a load balancer, and a restart does not reset the count.

The web's limiter (hub/web/ratelimit.py) decides with these rows; the per-account lockout is hub/core/auth.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import DateTime, Index, Integer, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.core.db import Base


class LoginFailure(Base):
    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(
        String(64)
    )  # the client's address (behind a trusted proxy: the forwarded one)
    at: Mapped[datetime] = mapped_column(DateTime)  # naive UTC

    __table_args__ = (Index("ix_login_failures_client_at", "client", "at"),)


def failures_since(s: Session, client: str, since: datetime) -> tuple[int, datetime | None]:
    """How many failures `client` had after `since`, and the oldest of them."""
    n, oldest = s.execute(
        select(func.count(), func.min(LoginFailure.at)).where(
            LoginFailure.client == client, LoginFailure.at > since
        )
    ).one()
    return int(n), oldest


def record_failure(s: Session, client: str, now: datetime, window: timedelta) -> None:
    """One more failure; this client's failures older than the window go (the table stays small)."""
    s.execute(delete(LoginFailure).where(LoginFailure.client == client, LoginFailure.at <= now - window))
    s.add(LoginFailure(client=client[:64], at=now))


def prune(s: Session, before: datetime) -> int:
    res = s.execute(delete(LoginFailure).where(LoginFailure.at < before))
    return int(getattr(res, "rowcount", 0) or 0)
