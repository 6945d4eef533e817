"""SQL schema (SQLAlchemy 2.0) and the one place the hub talks to the database.

Domain tables are the source of truth: registry, current state, transitions, users. All times are stored as
naive UTC datetimes (SQLite has no time zones); `utc()` converts on the way out.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

T = TypeVar("T")

# Camera/agent status values shown to people.
STATUS_OK = "ok"
STATUS_PROBLEM = "problem"
STATUS_OFFLINE = "offline"
STATUS_STALE = "stale"  # the hub has not heard from the camera's agent recently, or the agent is offline
STATUS_UNKNOWN = "unknown"  # registered but never reported
STATUSES = (STATUS_OK, STATUS_PROBLEM, STATUS_OFFLINE, STATUS_STALE, STATUS_UNKNOWN)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def to_db_time(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


def utc(dt: datetime | None) -> datetime | None:
    """Attach UTC to a naive datetime read from the database."""
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class Area(Base):
    """Display names of districts (commune = "") and communes, keyed by their slugs."""

    __tablename__ = "areas"
    district: Mapped[str] = mapped_column(String(64), primary_key=True)
    commune: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    name: Mapped[str] = mapped_column(String(200))


class Agent(Base):
    __tablename__ = "agents"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # district/commune/agent
    district: Mapped[str] = mapped_column(String(64), index=True)
    commune: Mapped[str] = mapped_column(String(64))
    slug: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(
        String(16), default=STATUS_UNKNOWN
    )  # online / offline / stale / unknown
    state_since: Mapped[datetime | None] = mapped_column(DateTime)
    version: Mapped[str | None] = mapped_column(String(64))
    boot: Mapped[str | None] = mapped_column(String(64))
    cameras: Mapped[int | None] = mapped_column(Integer)
    queue: Mapped[int | None] = mapped_column(Integer)
    last_seen: Mapped[datetime | None] = mapped_column(DateTime)
    seq_gaps: Mapped[int] = mapped_column(Integer, default=0)


class Camera(Base):
    __tablename__ = "cameras"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # district/commune/camera
    district: Mapped[str] = mapped_column(String(64))
    commune: Mapped[str] = mapped_column(String(64))
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    agent_key: Mapped[str | None] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(16), default=STATUS_UNKNOWN)
    status_since: Mapped[datetime | None] = mapped_column(DateTime)
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)
    reason: Mapped[str | None] = mapped_column(String(300))
    online: Mapped[bool | None] = mapped_column(Boolean)
    fps: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    open_ms: Mapped[float | None] = mapped_column(Float)
    brightness: Mapped[float | None] = mapped_column(Float)
    sharpness: Mapped[float | None] = mapped_column(Float)
    motion: Mapped[float | None] = mapped_column(Float)
    last_ts: Mapped[datetime | None] = mapped_column(DateTime)  # device time of the latest health message
    last_seen: Mapped[datetime | None] = mapped_column(DateTime)  # hub time it arrived
    last_seq: Mapped[int | None] = mapped_column(Integer)
    snapshot_ts: Mapped[datetime | None] = mapped_column(DateTime)
    # Where it hangs, what it is for, who paid and who keeps it working (hub/core/camera_points.py).
    point: Mapped[str | None] = mapped_column(String(64))  # a CameraPoint slug of the same commune
    purpose: Mapped[str | None] = mapped_column(String(16))
    owner_kind: Mapped[str | None] = mapped_column(String(16))
    owner_name: Mapped[str | None] = mapped_column(String(200))
    maintainer_name: Mapped[str | None] = mapped_column(String(200))
    maintainer_phone: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (
        UniqueConstraint("district", "commune", "slug"),
        Index("ix_cameras_area_status", "district", "commune", "status"),
    )


class Snapshot(Base):
    """Where the latest JPEG of each camera is: the bytes are a file of hub/core/snapshots.py's store (with the
    camera's older ones), this row is its index, so the wall and ETags never read the disk."""

    __tablename__ = "snapshots"
    camera_key: Mapped[str] = mapped_column(
        String(200), ForeignKey("cameras.key", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(String(300))  # relative to the store's folder
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column(DateTime)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)


class Transition(Base):
    """Every change of a camera's or agent's status; availability reports are computed from this log."""

    __tablename__ = "transitions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_kind: Mapped[str] = mapped_column(String(16))  # camera / edge
    subject_key: Mapped[str] = mapped_column(String(200))
    district: Mapped[str] = mapped_column(String(64))
    commune: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime)  # when it happened (device time where known)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)
    reason: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (
        Index("ix_transitions_subject_at", "subject_kind", "subject_key", "at"),
        Index("ix_transitions_area_at", "district", "commune", "at"),
    )


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))  # admin / police / officer / approver / technician / leader
    district: Mapped[str | None] = mapped_column(String(64))  # scope; None = province-wide
    commune: Mapped[str | None] = mapped_column(String(64))
    # The area-tree node the scope comes from (hub/core/area_tree.py); district/commune above follow it.
    area_id: Mapped[int | None] = mapped_column(Integer)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class WebSession(Base):
    __tablename__ = "web_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie value
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(
        String(64), unique=True
    )  # sha256 hex; the token itself is never stored
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists so people can tell tokens apart
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class Setting(Base):
    """Small key/value facts the hub must keep across restarts."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL: readers (web) do not block the ingest writer; NORMAL sync is crash-safe in WAL mode.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


# The core's own tables outside this module. Features declare theirs (`Feature.tables`); the composition root
# passes the whole list to `Database`, so create_all sees every table whatever was imported before.
CORE_TABLE_MODULES: tuple[str, ...] = (
    "hub.core.audit",
    "hub.core.camera_points",
    "hub.core.geo",
    "hub.core.lease_table",
    "hub.core.login_limits",
    "hub.core.speaker_models",
    "hub.core.account_models",
    "hub.core.area_tree",
)


_CREATE_LOCK = 0x4855_4243  # advisory lock key held while the tables are created


class Database:
    """Engine + sessions. Blocking calls go through `run`, which uses one worker thread so SQLite writes are
    serialised and the event loop never blocks on SQL."""

    def __init__(self, url: str, table_modules: Iterable[str] = ()) -> None:
        self.url = url
        self.table_modules = (*CORE_TABLE_MODULES, *(m for m in table_modules if m not in CORE_TABLE_MODULES))
        kwargs: dict[str, Any] = {"future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False}
        else:
            # A server restarted (or a connection cut by a firewall) leaves dead connections in the pool: each
            # is tested when taken, so the next transaction gets a live one instead of failing once per
            # pooled connection. A transaction cut mid-way still fails; its caller retries (the SQL flush
            # keeps its rows and acknowledges nothing until they are committed).
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sql")
        # Reads the web needs on every request (who is calling) must not queue behind ingest's flushes. An
        # in-memory SQLite database lives in one connection: its reads stay in the SQL thread.
        memory = url.startswith("sqlite") and self.engine.url.database in (None, "", ":memory:")
        self._reader = (
            None
            if memory
            else concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sql-read")
        )

    def create_all(self) -> None:
        for name in self.table_modules:
            importlib.import_module(name)  # registers the feature's tables on Base.metadata
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Several hubs starting together on a new database: one creates the tables, the others wait
                # for it (DDL is transactional there) and then find them.
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CREATE_LOCK})
            Base.metadata.create_all(conn)

    def session(self) -> Session:
        return self.sessions()

    async def run(self, fn: Callable[[Session], T]) -> T:
        """Run `fn(session)` in the SQL thread and commit; the session is closed afterwards."""

        def call() -> T:
            with self.sessions() as s, s.begin():
                return fn(s)

        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    async def read(self, fn: Callable[[Session], T]) -> T:
        """Run a read-only `fn(session)` in a reader thread of its own, beside the SQL thread (SQLite's WAL mode
        lets one reader run while the writer commits); nothing is committed."""
        if self._reader is None:
            return await self.run(fn)

        def call() -> T:
            with self.sessions() as s:  # closing ends the transaction; loaded objects keep their values
                return fn(s)

        return await asyncio.get_running_loop().run_in_executor(self._reader, call)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if self._reader is not None:
            self._reader.shutdown(wait=True)
        self.engine.dispose()
