"""The broadcast scheduler against a real SQLite file (and PostgreSQL for restart and leader lease): a daily programme across restarts (no double, no loss;
late within grace airs, past grace is missed), a job firing at T − prepare_lead, cancelling a prepared airing,
and the core's leader lease with two schedulers (two Database objects, as two hubs) on one database.

Schedulers run on a shifted clock (real time + offset), so "two minutes before 17:00" is now, without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from broadcast.airings.models import AIRING_CANCELLED, AIRING_MISSED, AIRING_SCHEDULED, Airing
from broadcast.config import ScheduleConfig
from broadcast.content.models import BroadcastContent
from broadcast.orders import AiringOrder, Priority
from broadcast.programmes.models import (
    STATE_APPROVED,
    STATE_CANCELLED,
    Programme,
    ProgrammeItem,
    ProgrammeSkip,
)
from broadcast.programmes.revision import bump_schedule_rev
from broadcast.scheduling.plan import insert_airing, new_airing
from broadcast.scheduling.scheduler import BroadcastScheduler
from hub.compose import open_database
from hub.core.db import Base, Database
from hub.core.lease_table import holder
from hub.core.leases import Leases
from hub.core.speaker_models import Speaker
from tests.fixtures_hub import wait_for

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
T = datetime(2026, 11, 23, 17, 0, tzinfo=TZ).timestamp()  # the daily occurrence under test
CFG = ScheduleConfig(check_s=0.3, replan_s=60)


class RecordingDispatcher:
    """The receiving end of the Dispatcher protocol (the real dispatcher has its own tests with receivers)."""

    def __init__(self) -> None:
        self.orders: list[AiringOrder] = []
        self.cancelled: list[str] = []

    async def dispatch(self, order: AiringOrder) -> None:
        self.orders.append(order)

    async def cancel(self, airing_id: str, reason: str) -> None:
        self.cancelled.append(airing_id)


def at(ts: float) -> Callable[[], float]:
    """A clock that reads `ts` now and runs at real speed."""
    offset = ts - time.time()
    return lambda: time.time() + offset


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite file by default; tests parametrized with "postgresql" (indirect) run on a real PostgreSQL."""
    kind = getattr(request, "param", "sqlite")
    url = f"sqlite:///{tmp_path / 'hub.db'}" if kind == "sqlite" else request.getfixturevalue("postgres_url")
    db = open_database(url)
    db.create_all()  # imports every feature's tables, so drop_all below knows them all
    if kind != "sqlite":
        Base.metadata.drop_all(db.engine)  # the cluster is shared by the session's tests
        db.create_all()
    with db.session() as s, s.begin():
        s.add(
            BroadcastContent(
                id=1,
                district="d",
                commune="c",
                title="Tin chiều",
                source="tts",
                original_path="o.wav",
                path="p.mp3",
                sha256="a" * 64,
                size=4000,
                duration_s=90.0,
                loudness_lufs=-16.0,
                true_peak_dbtp=-1.5,
                created_by="canbo",
            )
        )
        for slug in ("loa-1", "loa-2"):
            s.add(Speaker(key=f"d/c/{slug}", district="d", commune="c", slug=slug, status="online"))
        s.add(
            Programme(
                id=1,
                district="d",
                commune="c",
                title="Tin chiều",
                schedule={"kind": "daily", "times": ["17:00"]},
                repeats=2,
                gap_s=5.0,
                priority="normal",
                state=STATE_APPROVED,
                created_by="canbo",
                approved_by="chutich",
                approved_at=datetime(2026, 11, 23, 7, 0),  # 14:00 local, before the 17:00 occurrence
            )
        )
        s.add(ProgrammeItem(programme_id=1, position=0, content_id=1))
    db.close()
    return url


@pytest.fixture
def open_db(db_url: str) -> Iterator[Callable[[], Database]]:
    opened: list[Database] = []

    def make() -> Database:
        db = open_database(db_url)
        opened.append(db)
        return db

    yield make
    for db in opened:
        db.close()


def airings(db: Database) -> list[Airing]:
    with db.session() as s:
        return list(s.scalars(select(Airing).order_by(Airing.occurrence_at)))


async def run_at(db: Database, now: float, rec: RecordingDispatcher) -> BroadcastScheduler:
    sched = BroadcastScheduler(db, rec, TZ, CFG, clock=at(now))  # holder: host:pid:random, unique
    await sched.start()
    return sched


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
async def test_restart_within_grace_airs_once_late(open_db: Callable[[], Database]) -> None:
    db, rec = open_db(), RecordingDispatcher()
    first = await run_at(db, T - 600, rec)
    assert first.is_leader and [j for j, _ in first.jobs()][:1] == [f"occ:1:{int(T)}"]
    await first.stop()  # hub stopped 10 minutes before 17:00 …
    assert airings(db) == [] and rec.orders == []
    second = await run_at(db, T + 60, rec)  # … and back one minute after
    await second.stop()
    (a,) = airings(db)
    assert a.id == "p1-20261123t100000" and a.status == AIRING_SCHEDULED
    assert a.reason and "muộn" in a.reason
    (order,) = rec.orders
    assert order.speakers == ("loa-1", "loa-2") and order.repeats == 2 and order.gap_s == 5.0
    assert T + 60 + 14 < order.start_at < T + 60 + 20  # starts late_start_lead_s after dispatch, not at T
    third = await run_at(db, T + 90, rec)  # another restart inside the grace: nothing doubled
    await third.stop()
    assert len(airings(db)) == 1 and len(rec.orders) == 1


async def test_restart_after_grace_reports_missed(open_db: Callable[[], Database]) -> None:
    db, rec = open_db(), RecordingDispatcher()
    sched = await run_at(db, T + 600, rec)
    await sched.stop()
    (a,) = airings(db)
    assert a.status == AIRING_MISSED and a.start_at == a.occurrence_at
    assert a.reason and "Không phát" in a.reason and "10 phút" in a.reason
    assert rec.orders == [] and sched.counters["missed"] == 1
    again = await run_at(db, T + 700, rec)
    await again.stop()
    assert len(airings(db)) == 1  # the miss is recorded once


async def test_job_fires_before_start_and_cancel_calls_it_off(open_db: Callable[[], Database]) -> None:
    db, rec = open_db(), RecordingDispatcher()
    sched = await run_at(db, T - CFG.prepare_lead_s - 0.5, rec)
    try:
        await wait_for(lambda: rec.orders, 10, "the 16:58 job to dispatch the 17:00 airing")
        (order,) = rec.orders
        assert order.start_at == T and order.priority == Priority.NORMAL
        assert order.items[0].sha256 == "a" * 64
        (a,) = airings(db)
        assert a.targeted == 2 and a.order is not None and a.order["start_at"] == T
        with db.session() as s, s.begin():
            p = s.get(Programme, 1)
            assert p is not None
            p.state = STATE_CANCELLED
            bump_schedule_rev(s)
        await sched.reload()
        assert rec.cancelled == [a.id]
        assert airings(db)[0].status == AIRING_CANCELLED
        assert sched.jobs() == []  # tomorrow's job is gone too
    finally:
        await sched.stop()


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
async def test_leader_lease_two_hubs(open_db: Callable[[], Database]) -> None:
    db_a, db_b = open_db(), open_db()
    leases_a, leases_b = Leases(db_a, "a", 2.0, 0.3), Leases(db_b, "b", 2.0, 0.3)
    rec_a, rec_b = RecordingDispatcher(), RecordingDispatcher()
    now = T - CFG.prepare_lead_s - 1.5
    a = BroadcastScheduler(db_a, rec_a, TZ, CFG, clock=at(now), lead=leases_a.leader("broadcast"))
    b = BroadcastScheduler(db_b, rec_b, TZ, CFG, clock=at(now), lead=leases_b.leader("broadcast"))
    await a.start()
    await b.start()
    await leases_a.start()
    await leases_b.start()
    try:
        await wait_for(lambda: a.is_leader and a.jobs(), 5, "the first hub to lead and plan")
        assert not b.is_leader and b.jobs() == []
        await wait_for(lambda: rec_a.orders, 10, "the leader to dispatch")
        assert rec_b.orders == [] and len(airings(db_a)) == 1
        # The leader dies without giving its lease back (no clean stop): the other takes over after expiry.
        leases_a.freeze()
        await wait_for(lambda: b.is_leader and b.jobs(), 10, "the second hub to take the lease and plan")
        assert not a.is_leader  # its own clock said so before the other could take over
        with db_b.session() as s:
            info = holder(s, "leader:broadcast")
            assert info is not None and info.owner == leases_b.owner and info.token == 2
        assert [j for j, _ in b.jobs()][:1] == [f"occ:1:{int(T + 86400)}"]  # tomorrow; today's already aired
        assert len(airings(db_b)) == 1 and rec_b.orders == []
    finally:
        await b.stop()
        await a.stop()
        await leases_b.stop()
        await leases_a.stop()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_leader_dies_before_the_airing_and_the_next_one_airs_it(
    open_db: Callable[[], Database],
) -> None:
    db_a, db_b = open_db(), open_db()
    leases_a, leases_b = Leases(db_a, "a", 2.0, 0.3), Leases(db_b, "b", 2.0, 0.3)
    rec_a, rec_b = RecordingDispatcher(), RecordingDispatcher()
    now = T - CFG.prepare_lead_s - 1.0  # the job fires in a second
    a = BroadcastScheduler(db_a, rec_a, TZ, CFG, clock=at(now), lead=leases_a.leader("broadcast"))
    b = BroadcastScheduler(db_b, rec_b, TZ, CFG, clock=at(now), lead=leases_b.leader("broadcast"))
    await a.start()
    await leases_a.start()
    await b.start()
    await leases_b.start()
    try:
        await wait_for(lambda: a.jobs(), 5, "the first hub to plan")
        leases_a.freeze()  # the leader dies: nothing renewed, nothing given back, its jobs never run
        assert a._aps is not None
        a._aps.shutdown(wait=False)
        a._aps = None
        await wait_for(lambda: rec_b.orders, 15, "the next leader to air the occurrence")
        (order,) = rec_b.orders
        assert order.start_at == T and rec_a.orders == []  # within the prepare window: on time, not late
        assert len(airings(db_b)) == 1
    finally:
        await b.stop()
        await a.stop()
        await leases_b.stop()
        await leases_a.stop()


async def test_emergency_missed_long_ago_still_airs(open_db: Callable[[], Database]) -> None:
    db = open_db()
    with db.session() as s, s.begin():
        p = s.get(Programme, 1)
        assert p is not None
        p.priority = "emergency"
    rec = RecordingDispatcher()
    sched = await run_at(db, T + 3600, rec)
    await sched.stop()
    (order,) = rec.orders
    assert order.priority == Priority.EMERGENCY
    assert order.start_at - (T + 3600) < CFG.emergency_lead_s + 1
    assert airings(db)[0].occurrence_at == datetime(2026, 11, 23, 10, 0)


@pytest.mark.parametrize(
    ("replacer_state", "speakers"), [("approved", ("loa-1",)), ("pending_approval", ("loa-1", "loa-2"))]
)
async def test_replaced_speakers_skip_only_while_the_replacement_is_approved(
    open_db: Callable[[], Database], replacer_state: str, speakers: tuple[str, ...]
) -> None:
    db = open_db()
    with db.session() as s, s.begin():
        s.add(
            Programme(
                id=2,
                district="d",
                commune="c",
                title="Bão số 5",
                schedule={"kind": "once", "date": "2026-11-23", "times": ["17:00"]},
                target_kind="speakers",
                target_ids=["loa-2"],
                priority="priority",
                state=replacer_state,
                created_by="canbo",
                approved_at=datetime(2026, 11, 23, 7, 0),
            )
        )
        s.add(ProgrammeItem(programme_id=2, position=0, content_id=1))
        s.add(
            ProgrammeSkip(
                programme_id=1,
                occurrence_at=datetime(2026, 11, 23, 10, 0),
                speakers=["loa-2"],
                by_programme_id=2,
                created_by="canbo",
            )
        )
    rec = RecordingDispatcher()
    sched = await run_at(db, T + 30, rec)
    await sched.stop()
    by_programme = {o.programme_id: o for o in rec.orders}
    assert by_programme[1].speakers == speakers
    assert (2 in by_programme) == (replacer_state == "approved")
    # A second worker racing for the same occurrence hits the unique key and sends nothing.
    with db.session() as s, s.begin():
        p = s.get(Programme, 1)
        assert p is not None
        occ = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
        assert not insert_airing(s, new_airing(p, occ, occ))


class FailingDispatcher(RecordingDispatcher):
    async def dispatch(self, order: AiringOrder) -> None:
        raise ConnectionError("broker unreachable")


async def test_failed_dispatch_and_no_speakers_are_recorded(open_db: Callable[[], Database]) -> None:
    db = open_db()
    sched = await run_at(db, T + 30, FailingDispatcher())
    await sched.stop()
    (a,) = airings(db)
    assert a.status == "failed" and a.reason and "ConnectionError" in a.reason
    with db.session() as s, s.begin():
        p = s.get(Programme, 1)
        assert p is not None
        p.target_kind, p.target_ids = "villages", ["thon-khong-co-loa"]
    rec = RecordingDispatcher()
    sched = await run_at(db, T + 86_400 + 30, rec)  # the next day's occurrence
    await sched.stop()
    assert rec.orders == []
    assert (
        airings(db)[-1].status == "failed"
        and airings(db)[-1].reason == "Không có cụm loa nào trong vùng phát của chương trình"
    )
