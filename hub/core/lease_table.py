"""Leases in SQL: one row per lease (a partition of the device traffic, a leader duty, a hub's membership), with
its owner, its expiry and a fencing token.

Every decision uses the database's clock (PostgreSQL `clock_timestamp()`), never a host's: hubs on machines whose
clocks disagree still agree on who holds what. SQLite (one process, no cluster) uses this host's clock.

- `acquire` takes a free or expired lease (the token goes up by one: a new epoch) or renews one's own.
- `renew` extends a lease only while it is still one's own, with the same token, and not expired.
- `fence` is called inside the transaction of a write that only the holder may make: it takes the lease's
  advisory lock in shared mode (PostgreSQL `pg_advisory_xact_lock_shared`, held until that transaction ends)
  and checks owner, token and expiry. A takeover — a change of owner — takes the same advisory lock exclusively
  before it changes the row, so it waits until every fenced write in flight has committed, and every write that
  starts after it sees the new owner and fails. A write fenced this way never lands after another owner took over.
  Renewals take no advisory lock: a long write never holds its own hub's renewals back.
- Advisory locks are taken in name order (`fence_many`), so fenced writes never deadlock on each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, DateTime, String, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.core.db import Base, utcnow

PARTITION = "partition:"  # partition:{name}
LEADER = "leader:"  # leader:{duty}
MEMBER = "member:"  # member:{hub_id}: a live ingest hub (counted for the fair share of partitions)
_LOCK_CLASS = 0x4C45  # first key of the leases' advisory locks (the second is hashtext(name))


class LeaseRow(Base):
    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(160), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(160))  # the holding process: "{hub_id}/{instance}"
    token: Mapped[int] = mapped_column(BigInteger, default=0)  # fencing token: +1 at every change of owner
    expires_at: Mapped[datetime] = mapped_column(DateTime)  # naive UTC, the database's clock
    acquired_at: Mapped[datetime | None] = mapped_column(DateTime)
    renewed_at: Mapped[datetime | None] = mapped_column(DateTime)


class LeaseLost(RuntimeError):
    """The lease a write depends on is no longer held by this process (expired, released or taken over)."""


@dataclass(frozen=True)
class Held:
    name: str
    token: int
    expires_at: datetime  # database clock
    now: datetime  # database clock at the decision


@dataclass(frozen=True)
class LeaseInfo:
    name: str
    owner: str | None
    token: int
    expires_at: datetime
    live: bool  # held (owner set and not expired) at the database's `now`


def db_now(s: Session) -> datetime:
    """The database's current time as naive UTC."""
    if s.get_bind().dialect.name == "postgresql":
        value = s.execute(text("SELECT timezone('utc', clock_timestamp())")).scalar_one()
        assert isinstance(value, datetime)
        return value
    return utcnow()


def _advisory(s: Session, name: str, shared: bool) -> None:
    """The lease's advisory lock for the rest of the transaction (PostgreSQL; SQLite has one writer anyway)."""
    if s.get_bind().dialect.name != "postgresql":
        return
    fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    s.execute(text(f"SELECT {fn}(:c, hashtext(:n))"), {"c": _LOCK_CLASS, "n": name})


def _locked(s: Session, name: str) -> LeaseRow | None:
    return s.execute(select(LeaseRow).where(LeaseRow.name == name).with_for_update()).scalar_one_or_none()


def acquire(s: Session, name: str, owner: str, ttl_s: float) -> Held | None:
    """Renews `name` when `owner` holds it, takes it when it is free or expired; None when another holds it."""
    now = db_now(s)
    expires = now + timedelta(seconds=ttl_s)
    row = _locked(s, name)
    if row is None:
        try:
            with s.begin_nested():
                s.add(
                    LeaseRow(
                        name=name, owner=owner, token=1, expires_at=expires, acquired_at=now, renewed_at=now
                    )
                )
        except IntegrityError:  # another process created it a moment ago: its row decides
            row = _locked(s, name)
            if row is None:
                return None
        else:
            return Held(name, 1, expires, now)
    if row.owner == owner and row.expires_at > now:
        row.expires_at, row.renewed_at = expires, now
        return Held(name, row.token, expires, now)
    if row.owner is not None and row.expires_at > now:
        return None
    _advisory(s, name, shared=False)  # a new epoch: fenced writes of the last one finish first
    row.owner, row.token = owner, row.token + 1
    row.expires_at, row.acquired_at, row.renewed_at = expires, now, now
    return Held(name, row.token, expires, now)


def renew(s: Session, name: str, owner: str, token: int, ttl_s: float) -> Held | None:
    """Extends a lease still held by `owner` with `token`; None when it was lost meanwhile."""
    now = db_now(s)
    expires = now + timedelta(seconds=ttl_s)
    res = s.execute(
        update(LeaseRow)
        .where(
            LeaseRow.name == name,
            LeaseRow.owner == owner,
            LeaseRow.token == token,
            LeaseRow.expires_at > now,
        )
        .values(expires_at=expires, renewed_at=now)
    )
    if not getattr(res, "rowcount", 0):
        return None
    return Held(name, token, expires, now)


def renew_many(s: Session, owner: str, held: dict[str, int], ttl_s: float) -> set[str]:
    """Extends, in one statement, every lease of `held` (name → token) that `owner` still holds; returns those."""
    now = db_now(s)
    rows = s.execute(
        update(LeaseRow)
        .where(LeaseRow.owner == owner, LeaseRow.expires_at > now, LeaseRow.name.in_(sorted(held)))
        .values(expires_at=now + timedelta(seconds=ttl_s), renewed_at=now)
        .returning(LeaseRow.name, LeaseRow.token)
    )
    return {n for n, t in rows if held.get(n) == t}


def release(s: Session, name: str, owner: str, token: int) -> bool:
    """Gives a lease up at once (clean stop, rebalancing): the next owner need not wait for the expiry."""
    now = db_now(s)
    res = s.execute(
        update(LeaseRow)
        .where(LeaseRow.name == name, LeaseRow.owner == owner, LeaseRow.token == token)
        .values(owner=None, expires_at=now)
    )
    return bool(getattr(res, "rowcount", 0))


def fence_many(s: Session, held: Iterable[tuple[str, int]], owner: str) -> set[str]:
    """Of the (name, token) pairs, the leases `owner` still holds; no takeover of them can commit before the
    caller's transaction ends (shared advisory locks, taken in name order)."""
    wanted = dict(held)
    if not wanted:
        return set()
    for name in sorted(wanted):
        _advisory(s, name, shared=True)
    now = db_now(s)
    q = select(LeaseRow.name, LeaseRow.token).where(
        LeaseRow.name.in_(sorted(wanted)), LeaseRow.owner == owner, LeaseRow.expires_at > now
    )
    return {n for n, t in s.execute(q) if wanted.get(n) == t}


def fence(s: Session, name: str, owner: str, token: int) -> None:
    """Raises LeaseLost unless `owner` still holds `name` with `token`; no takeover can commit before the
    caller's transaction (and its write) does."""
    if name not in fence_many(s, [(name, token)], owner):
        raise LeaseLost(f"lease {name!r} (token {token}) is no longer held by {owner}")


def list_leases(s: Session, prefixes: Iterable[str]) -> list[LeaseInfo]:
    """Every lease whose name starts with one of `prefixes`, as the database sees it now."""
    now = db_now(s)
    out: list[LeaseInfo] = []
    for prefix in prefixes:
        for r in s.scalars(select(LeaseRow).where(LeaseRow.name.startswith(prefix)).order_by(LeaseRow.name)):
            live = r.owner is not None and r.expires_at > now
            out.append(LeaseInfo(r.name, r.owner, r.token, r.expires_at, live))
    return out


def holder(s: Session, name: str) -> LeaseInfo | None:
    for info in list_leases(s, [name]):
        if info.name == name:
            return info
    return None
