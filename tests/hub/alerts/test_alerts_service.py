"""The alert service over a real Hub's state store and SQLite: facts from cameras and agents, notices handed to
a sink, state kept across restarts with the same event ids, a refused notice offered again."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select

from hub.alerts.models import AlertAck, AlertRow, Silence
from hub.alerts.service import AlertService
from hub.compose import Hub
from hub.core.db import to_db_time
from hub.core.facts import AlertNotice, FactKind
from hub.core.state import AgentState, CameraState
from tests.fixtures_hub import make_hub_config

T0 = 1_800_000_000.0
AGENT = "soc-son/phu-linh/box-1"


class RecordingSink:
    """Stands where hub/notify's notifier stands: keeps what it was handed, can refuse like a failing one."""

    def __init__(self) -> None:
        self.notices: list[AlertNotice] = []
        self.refuse = 0

    async def submit(self, notice: AlertNotice) -> None:
        if self.refuse:
            self.refuse -= 1
            raise RuntimeError("outbox write failed")
        self.notices.append(notice)


def make_hub(tmp_path: Path, db_name: str = "hub.db") -> Hub:
    cfg = make_hub_config(tmp_path, 1883, None)
    cfg = cfg.model_copy(
        update={"database": cfg.database.model_copy(update={"url": f"sqlite:///{tmp_path / db_name}"})}
    )
    hub = Hub(cfg)
    hub.db.create_all()
    return hub


def cameras(hub: Hub, n: int, status: str = "offline", since: float = T0) -> None:
    cams = [
        CameraState(
            f"soc-son/phu-linh/cam-{i}",
            "soc-son",
            "phu-linh",
            f"cam-{i}",
            name=f"Camera {i}",
            agent_key=AGENT,
            status=status,
            status_since=since,
            online=status != "offline",
            problems=("unreachable",) if status == "offline" else (),
        )
        for i in range(n)
    ]
    agent = AgentState(
        AGENT, "soc-son", "phu-linh", "box-1", state="online", reported="online", state_since=T0
    )
    hub.store.cameras.clear()
    hub.store.agents.clear()
    hub.store.load(cams, [agent])


async def service(hub: Hub, sink: RecordingSink, start: float = T0) -> AlertService:
    svc = AlertService(hub.config.alerts, hub.db, hub.events, hub.stats, hub.store, sink, clock=lambda: start)
    await svc.load()
    return svc


async def test_commune_outage_is_one_notice_and_survives_a_restart(tmp_path: Path) -> None:
    hub = make_hub(tmp_path)
    sink = RecordingSink()
    cameras(hub, 12)
    svc = await service(hub, sink)
    for dt in range(0, 14, 2):
        await svc.tick(T0 + dt)
    assert len(sink.notices) == 1
    n = sink.notices[0]
    assert n.status == "firing" and n.kind == FactKind.CAMERA_OFFLINE and len(n.items) == 12
    assert n.items[0].summary.startswith("Không kết nối được")
    assert n.snapshot_camera == "soc-son/phu-linh/cam-0"
    with hub.db.session() as s:
        rows = s.scalars(select(AlertRow)).all()
        assert len(rows) == 12 and {r.status for r in rows} == {"firing"}
    hub.db.close()

    # A restart: nothing told again, the state comes back as it was.
    hub2 = make_hub(tmp_path)
    cameras(hub2, 12)
    svc2 = await service(hub2, sink, start=T0 + 20)
    for dt in range(20, 200, 2):
        await svc2.tick(T0 + dt)
    assert len(sink.notices) == 1
    # Recovery: one resolved notice for the twelve, with the next event id of the group.
    cameras(hub2, 12, status="ok", since=T0 + 200)
    for dt in range(200, 400, 2):
        await svc2.tick(T0 + dt)
    assert [x.status for x in sink.notices] == ["firing", "resolved"]
    assert len(sink.notices[1].items) == 12 and sink.notices[1].open_items == 0
    assert sink.notices[1].event_id != sink.notices[0].event_id
    hub2.db.close()


async def test_crash_between_hand_over_and_save_gives_the_same_event_id(tmp_path: Path) -> None:
    hub = make_hub(tmp_path)
    sink = RecordingSink()
    cameras(hub, 1)
    svc = await service(hub, sink)
    for dt in range(0, 10, 2):
        await svc.tick(T0 + dt)
    assert sink.notices == []
    hub.db.close()
    # The database as it was just before the round that tells: a hub killed after handing the notice over
    # and before writing its state restarts from this.
    shutil.copy(tmp_path / "hub.db", tmp_path / "crashed.db")
    hub = make_hub(tmp_path)
    cameras(hub, 1)
    svc = await service(hub, sink, start=T0 + 10)
    await svc.tick(T0 + 10)
    assert len(sink.notices) == 1
    hub.db.close()
    again = make_hub(tmp_path, "crashed.db")
    cameras(again, 1)
    svc = await service(again, sink, start=T0 + 10)
    await svc.tick(T0 + 12)
    assert len(sink.notices) == 2 and sink.notices[1].event_id == sink.notices[0].event_id
    again.db.close()


async def test_refused_notice_is_offered_again_with_the_same_id(tmp_path: Path) -> None:
    hub = make_hub(tmp_path)
    sink = RecordingSink()
    sink.refuse = 1
    cameras(hub, 2)
    svc = await service(hub, sink)
    for dt in range(0, 14, 2):
        await svc.tick(T0 + dt)
    assert svc.counters.sink_errors == 1
    assert len(sink.notices) == 1 and len(sink.notices[0].items) == 2
    hub.db.close()


async def test_agent_facts_inhibition_disk_and_backlog(tmp_path: Path) -> None:
    hub = make_hub(tmp_path)
    sink = RecordingSink()
    cameras(hub, 3)
    svc = await service(hub, sink)
    agent = hub.store.agents[AGENT]
    # The box goes away (its cameras turn stale in the store): the box alerts, its cameras are held quiet.
    agent.state, agent.state_since = "offline", T0
    for cam in hub.store.cameras.values():
        cam.status = "stale"
    for dt in range(0, 100, 2):
        await svc.tick(T0 + dt)
    assert [(n.kind, len(n.items)) for n in sink.notices] == [(FactKind.AGENT_OFFLINE, 1)]
    with hub.db.session() as s:
        cams = s.scalars(select(AlertRow).where(AlertRow.kind == "camera_offline")).all()
        assert len(cams) == 3 and all(r.inhibited for r in cams)
    # Back, but its disk is almost full and its queue long.
    agent.state, agent.queue, agent.disk_free_mb = "online", 5000, 120.0
    facts = {f.kind for f in svc.sources[1](T0 + 200)}
    assert facts == {FactKind.AGENT_BACKLOG, FactKind.AGENT_DISK_LOW}
    hub.db.close()


async def test_silence_and_ack_from_sql_apply_without_restart(tmp_path: Path) -> None:
    hub = make_hub(tmp_path)
    sink = RecordingSink()
    cameras(hub, 1)
    with hub.db.session() as s, s.begin():
        s.add(
            Silence(
                type="maintenance",
                district="soc-son",
                commune="phu-linh",
                starts_at=to_db_time(T0 - 60),
                ends_at=to_db_time(T0 + 100),
                author="congan",
                reason="Thay nguồn",
                created_at=to_db_time(T0 - 60),
            )
        )
    svc = await service(hub, sink)
    for dt in range(0, 90, 2):
        await svc.tick(T0 + dt)
    assert sink.notices == []
    with hub.db.session() as s:
        assert s.scalars(select(AlertRow)).one().silenced_by is not None
    for dt in range(100, 130, 2):
        await svc.tick(T0 + dt)
    assert [n.status for n in sink.notices] == ["firing"]
    # An acknowledgement written by the API stops the repeats.
    with hub.db.session() as s, s.begin():
        row = s.scalars(select(AlertRow)).one()
        s.add(AlertAck(alert_id=row.id, episode=row.episode, by="congan", at=to_db_time(T0 + 130), note=""))
    svc.refresh()
    repeat = svc.config.rules[FactKind.CAMERA_OFFLINE].repeat_s
    await svc.tick(T0 + 140)
    await svc.tick(T0 + 140 + repeat + 10)
    assert [n.status for n in sink.notices] == ["firing"]
    hub.db.close()
