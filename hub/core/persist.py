"""Moves the in-memory state (hub/core/state.py) to and from SQL: load at start, batched writes afterwards.

Rows are built in the event-loop thread (`FlushBatch.collect`), so the SQL thread never reads state that ingest
is changing. Statements are plain SQLAlchemy Core/ORM bulk INSERT/UPDATE by primary key: portable between SQLite
and PostgreSQL, and one executemany per table per flush instead of one statement per message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from hub.core.area_tree import AreaAlias
from hub.core.bulk import BulkWriter
from hub.core.camera_points import DETAIL_FIELDS
from hub.core.config import DistrictConfig
from hub.core.db import Agent, Area, Camera, Snapshot, Transition, to_db_time, utc
from hub.core.snapshots import SnapshotRow, StoredSnapshot
from hub.core.state import AGENT_OFFLINE, AGENT_ONLINE, AgentState, CameraState, StateStore
from hub.core.state import Transition as StateTransition

__all__ = ["SnapshotRow"]  # ingest's pending snapshots, defined beside the store that writes them

IN_CHUNK = 500  # keys per `IN (...)`: well under every database's parameter limit

# Columns a health message changes; written every flush for cameras with no other change.
METRIC_COLUMNS = (
    "online",
    "fps",
    "width",
    "height",
    "open_ms",
    "brightness",
    "sharpness",
    "motion",
    "reason",
    "last_ts",
    "last_seen",
    "last_seq",
)


def _statements(table: Table, pk: str, columns: Iterable[str] | None = None) -> tuple[Any, Any]:
    """INSERT and UPDATE-by-key statements with one named parameter per column (`b_key` for the key in the
    WHERE clause: SQLAlchemy reserves the column's own name for SET). Built once: BulkWriter caches them."""
    cols = list(columns) if columns is not None else [c.name for c in table.columns if c.name != "id"]
    ins = insert(table).values({c: bindparam(c) for c in cols})
    upd = (
        update(table)
        .where(table.c[pk] == bindparam("b_key"))
        .values({c: bindparam(c) for c in cols if c != pk})
    )
    return ins, upd


# A camera's point, purpose, owner and maintainer are the registry's (admin pages, CSV import): the state flush
# neither knows nor writes them.
_CAMERA_STATE_COLUMNS = [c.name for c in Camera.__table__.columns if c.name not in DETAIL_FIELDS]
_CAMERA_INSERT, _CAMERA_UPDATE = _statements(Camera.__table__, "key", _CAMERA_STATE_COLUMNS)  # type: ignore[arg-type]
_, _METRICS_UPDATE = _statements(Camera.__table__, "key", METRIC_COLUMNS)  # type: ignore[arg-type]
_AGENT_INSERT, _AGENT_UPDATE = _statements(Agent.__table__, "key")  # type: ignore[arg-type]
_SNAPSHOT_INSERT, _SNAPSHOT_UPDATE = _statements(Snapshot.__table__, "camera_key")  # type: ignore[arg-type]
_TRANSITION_INSERT, _ = _statements(Transition.__table__, "id")  # type: ignore[arg-type]
_bulk = BulkWriter()


def _dt(ts: float | None) -> datetime | None:
    return to_db_time(ts) if ts is not None else None


def _ts(dt: datetime | None) -> float | None:
    d = utc(dt)
    return d.timestamp() if d is not None else None


def camera_state(row: Camera) -> CameraState:
    return CameraState(
        key=row.key,
        district=row.district,
        commune=row.commune,
        slug=row.slug,
        name=row.name,
        agent_key=row.agent_key,
        status=row.status,
        status_since=_ts(row.status_since),
        problems=tuple(row.problems or ()),
        reason=row.reason,
        online=row.online,
        fps=row.fps,
        width=row.width,
        height=row.height,
        open_ms=row.open_ms,
        brightness=row.brightness,
        sharpness=row.sharpness,
        motion=row.motion,
        last_ts=_ts(row.last_ts),
        last_seen=_ts(row.last_seen),
        last_seq=row.last_seq,
        snapshot_ts=_ts(row.snapshot_ts),
        in_db=True,
    )


def agent_state(row: Agent) -> AgentState:
    reported = row.state if row.state in (AGENT_ONLINE, AGENT_OFFLINE) else None
    if row.state == "stale":
        reported = AGENT_ONLINE  # it went silent while online; the next message decides
    return AgentState(
        key=row.key,
        district=row.district,
        commune=row.commune,
        slug=row.slug,
        state=row.state,
        reported=reported,
        state_since=_ts(row.state_since),
        version=row.version,
        boot=row.boot,
        cameras=row.cameras,
        queue=row.queue,
        last_seen=_ts(row.last_seen),
        seq_gaps=row.seq_gaps or 0,
        in_db=True,
    )


def load_registry(s: Session) -> tuple[list[CameraState], list[AgentState]]:
    cams = [camera_state(r) for r in s.scalars(select(Camera))]
    agents = [agent_state(r) for r in s.scalars(select(Agent))]
    return cams, agents


def camera_row(c: CameraState) -> dict[str, Any]:
    return {
        "key": c.key,
        "district": c.district,
        "commune": c.commune,
        "slug": c.slug,
        "name": c.name,
        "agent_key": c.agent_key,
        "status": c.status,
        "status_since": _dt(c.status_since),
        "problems": list(c.problems),
        "reason": c.reason,
        "online": c.online,
        "fps": c.fps,
        "width": c.width,
        "height": c.height,
        "open_ms": c.open_ms,
        "brightness": c.brightness,
        "sharpness": c.sharpness,
        "motion": c.motion,
        "last_ts": _dt(c.last_ts),
        "last_seen": _dt(c.last_seen),
        "last_seq": c.last_seq,
        "snapshot_ts": _dt(c.snapshot_ts),
    }


def metrics_values(c: CameraState) -> tuple[Any, ...]:
    """METRIC_COLUMNS then the key; times stay epoch floats (converted in the SQL thread)."""
    return (
        c.online,
        c.fps,
        c.width,
        c.height,
        c.open_ms,
        c.brightness,
        c.sharpness,
        c.motion,
        c.reason,
        c.last_ts,
        c.last_seen,
        c.last_seq,
        c.key,
    )


_TIME_INDEXES = (METRIC_COLUMNS.index("last_ts"), METRIC_COLUMNS.index("last_seen"))


def _sqlite_time(ts: float | None) -> str | None:
    # SQLAlchemy's SQLite storage text for DateTime, without the +00:00 that isoformat adds for aware times.
    return datetime.fromtimestamp(ts, UTC).isoformat(" ", "microseconds")[:26] if ts is not None else None


_metrics_compiled: dict[str, tuple[str, Callable[[list[Any]], tuple[Any, ...]]]] = {}


def _metrics_sql(conn: Connection) -> tuple[str, Callable[[list[Any]], tuple[Any, ...]]]:
    """The compiled UPDATE and a function putting a metrics_values() row into its parameter order."""
    hit = _metrics_compiled.get(conn.dialect.name)
    if hit is None:
        compiled = _METRICS_UPDATE.compile(dialect=conn.dialect)
        names = list(getattr(compiled, "positiontup", None) or [])
        ours = [*METRIC_COLUMNS, "b_key"]
        hit = _metrics_compiled[conn.dialect.name] = (
            compiled.string,
            itemgetter(*[ours.index(n) for n in names]),
        )
    return hit


def update_metrics(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """The hottest statement (one row per camera that reported since the last flush): on SQLite the rows go
    straight to the driver as tuples, elsewhere through SQLAlchemy with datetimes."""
    if not rows:
        return
    if conn.dialect.name == "sqlite" and conn.dialect.paramstyle == "qmark":
        sql, pick = _metrics_sql(conn)
        i, j = _TIME_INDEXES
        params = []
        for r in rows:
            v = list(r)
            v[i] = _sqlite_time(v[i])
            v[j] = _sqlite_time(v[j])
            params.append(pick(v))
        conn.exec_driver_sql(sql, params)
        return
    dicts = []
    for r in rows:
        d = dict(zip((*METRIC_COLUMNS, "b_key"), r, strict=True))
        d["last_ts"], d["last_seen"] = _dt(d["last_ts"]), _dt(d["last_seen"])
        dicts.append(d)
    conn.execute(_METRICS_UPDATE, dicts)


def camera_model(c: CameraState) -> Camera:
    """A detached ORM object for hub.serialize.camera_to_dict (events); never added to a session."""
    return Camera(**camera_row(c))


def agent_row(a: AgentState) -> dict[str, Any]:
    return {
        "key": a.key,
        "district": a.district,
        "commune": a.commune,
        "slug": a.slug,
        "state": a.state,
        "state_since": _dt(a.state_since),
        "version": a.version,
        "boot": a.boot,
        "cameras": a.cameras,
        "queue": a.queue,
        "last_seen": _dt(a.last_seen),
        "seq_gaps": a.seq_gaps,
    }


def agent_model(a: AgentState) -> Agent:
    return Agent(**agent_row(a))


def transition_row(t: StateTransition) -> dict[str, Any]:
    return {
        "subject_kind": t.kind,
        "subject_key": t.key,
        "district": t.district,
        "commune": t.commune,
        "at": to_db_time(t.at),
        "from_status": t.from_status,
        "to_status": t.to_status,
        "problems": list(t.problems),
        "reason": t.reason,
    }


@dataclass
class FlushBatch:
    cameras: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[tuple[Any, ...]] = field(default_factory=list)
    agents: list[dict[str, Any]] = field(default_factory=list)
    transitions: list[dict[str, Any]] = field(default_factory=list)
    snapshots: list[StoredSnapshot] = field(default_factory=list)
    camera_keys: list[str] = field(default_factory=list)
    agent_keys: list[str] = field(default_factory=list)
    known_cameras: set[str] = field(default_factory=set)  # already in the table when collected
    known_agents: set[str] = field(default_factory=set)

    def __len__(self) -> int:
        return (
            len(self.cameras)
            + len(self.metrics)
            + len(self.agents)
            + len(self.transitions)
            + len(self.snapshots)
        )

    @classmethod
    def collect(
        cls,
        store: StateStore,
        camera_keys: Iterable[str],
        metric_keys: Iterable[str],
        agent_keys: Iterable[str],
        transitions: Iterable[StateTransition],
        snapshots: Iterable[StoredSnapshot],
    ) -> FlushBatch:
        b = cls()
        for k in agent_keys:
            a = store.agents.get(k)
            if a is not None:
                b.agents.append(agent_row(a))
                b.agent_keys.append(k)
                if a.in_db:
                    b.known_agents.add(k)
        for k in camera_keys:
            c = store.cameras.get(k)
            if c is not None:
                b.cameras.append(camera_row(c))
                b.camera_keys.append(k)
                if c.in_db:
                    b.known_cameras.add(k)
        full = set(b.camera_keys)
        for k in metric_keys:
            c = store.cameras.get(k)
            if c is not None and k not in full:
                if c.in_db:
                    b.metrics.append(metrics_values(c))
                else:  # written whole with the flush that registers it
                    b.cameras.append(camera_row(c))
                    b.camera_keys.append(k)
        b.transitions = [transition_row(t) for t in transitions]
        b.snapshots = list(snapshots)
        return b


def _existing(s: Session, column: Any, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(keys), IN_CHUNK):
        found.update(s.scalars(select(column).where(column.in_(keys[i : i + IN_CHUNK]))))
    return found


def _upsert(
    s: Session, statements: tuple[Any, Any], column: Any, rows: list[dict[str, Any]], known: set[str]
) -> None:
    """Rows whose key is in `known` (loaded or written before) are updated; the others are checked against the
    table first, so a row another hub worker inserted meanwhile is updated rather than inserted twice."""
    pk = column.key
    fresh = [r for r in rows if r[pk] not in known]
    there = _existing(s, column, [r[pk] for r in fresh]) if fresh else set()
    inserts = [r for r in fresh if r[pk] not in there]
    updates = [{**r, "b_key": r[pk]} for r in rows if r[pk] in known or r[pk] in there]
    conn = s.connection()
    _bulk.executemany(conn, statements[0], inserts)
    _bulk.executemany(conn, statements[1], updates)


def write_batch(s: Session, batch: FlushBatch) -> None:
    """One transaction: agents, cameras, snapshots (they reference cameras), transitions."""
    if batch.agents:
        _upsert(s, (_AGENT_INSERT, _AGENT_UPDATE), Agent.key, batch.agents, batch.known_agents)
    if batch.cameras:
        _upsert(s, (_CAMERA_INSERT, _CAMERA_UPDATE), Camera.key, batch.cameras, batch.known_cameras)
    conn = s.connection()
    update_metrics(conn, batch.metrics)
    if batch.snapshots:
        rows = [
            {
                "camera_key": r.camera_key,
                "path": r.path,
                "size": r.size,
                "sha256": r.sha256,
                "ts": to_db_time(r.ts),
                "width": r.width,
                "height": r.height,
            }
            for r in batch.snapshots
        ]
        _upsert(s, (_SNAPSHOT_INSERT, _SNAPSHOT_UPDATE), Snapshot.camera_key, rows, set())
    _bulk.executemany(conn, _TRANSITION_INSERT, batch.transitions)


def sync_areas(s: Session, districts: Mapping[str, DistrictConfig]) -> None:
    """Display names from the config into `areas` (district rows have commune "")."""
    wanted: dict[tuple[str, str], str] = {}
    for d_slug, d in districts.items():
        wanted[(d_slug, "")] = d.name
        for c_slug, c_name in d.communes.items():
            wanted[(d_slug, c_slug)] = c_name
    # A commune merged into another on the admin page stays merged though the file still names it.
    for old_d, old_c in s.execute(select(AreaAlias.district, AreaAlias.commune)).all():
        if old_d is not None and old_c is not None:
            wanted.pop((old_d, old_c), None)
    if not wanted:
        return
    have = {(a.district, a.commune): a for a in s.scalars(select(Area))}
    for (district, commune), name in wanted.items():
        row = have.get((district, commune))
        if row is None:
            s.add(Area(district=district, commune=commune, name=name))
        elif row.name != name:
            row.name = name
