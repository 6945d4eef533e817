"""A relay programme through the real scheduler: daily at 17:00 like any programme, its order carries the
allow-listed upstream (and the fallback), its airing lasts the relay's length; an upstream taken off the
allow-list makes the occurrence fail with the reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from broadcast.content.models import BroadcastContent
from broadcast.programmes.models import ProgrammeItem
from broadcast.relays.models import RelayUpstream
from hub.core.db import Database
from tests.broadcast import test_broadcast_scheduler as base
from tests.fixtures_hub import wait_for

# The scheduler tests' database (content 1, two speakers, programme 1 daily at 17:00), shared as fixtures.
db_url = base.db_url
open_db = base.open_db
CFG, T, RecordingDispatcher, airings, run_at = (
    base.CFG,
    base.T,
    base.RecordingDispatcher,
    base.airings,
    base.run_at,
)


def make_relay(db: Database, enabled: bool = True) -> None:
    with db.session() as s, s.begin():
        s.add(RelayUpstream(id=7, name="VOV1", url="http://vov.vn/vov1.mp3", protocol="http", enabled=enabled,
                            created_by="quantri", created_at=datetime(2026, 11, 1)))  # fmt: skip
        s.add(BroadcastContent(id=2, district="d", commune="c", title="Tiếp âm VOV", source="relay",
                               original_path="", path="", sha256="", size=0, duration_s=1800.0, loudness_lufs=0.0,
                               true_peak_dbtp=0.0, created_by="canbo", relay_upstream_id=7,
                               relay_fallback_id=1))  # fmt: skip
        item = s.get(ProgrammeItem, (1, 0)) or next(iter(s.query(ProgrammeItem).filter_by(programme_id=1)))
        item.content_id = 2


async def test_a_relay_programme_airs_as_a_relay(open_db: Callable[[], Database]) -> None:
    db, rec = open_db(), RecordingDispatcher()
    make_relay(db)
    sched = await run_at(db, T - CFG.prepare_lead_s - 0.5, rec)
    try:
        (order,) = await wait_for(lambda: rec.orders, 10, "the relay dispatched")
        assert order.items == () and order.relay is not None and order.start_at == T
        assert (order.relay.url, order.relay.duration_s, order.relay.name) == (
            "http://vov.vn/vov1.mp3",
            1800.0,
            "VOV1",
        )
        assert order.relay.fallback is not None and order.relay.fallback.sha256 == "a" * 64
        (a,) = airings(db)
        assert a.order is not None and a.order["relay"]["url"] == "http://vov.vn/vov1.mp3"
    finally:
        await sched.stop()


async def test_an_upstream_off_the_allow_list_fails_the_occurrence(open_db: Callable[[], Database]) -> None:
    db, rec = open_db(), RecordingDispatcher()
    make_relay(db, enabled=False)
    sched = await run_at(db, T - CFG.prepare_lead_s - 0.5, rec)
    try:
        (a,) = await wait_for(lambda: airings(db), 10, "the occurrence recorded")
        assert a.status == "failed" and "danh sách cho phép" in (a.reason or "") and rec.orders == []
    finally:
        await sched.stop()
