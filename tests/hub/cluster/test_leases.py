"""Leases on a real PostgreSQL (hub/core/lease_table.py, hub/core/leases.py) and the partition plan
(hub/core/partitions.py): taking, renewing, expiring by the database's clock, fencing a write against a
takeover, leader duties moving between two processes' lease managers, and the fair share."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from hub.compose import open_database
from hub.core import lease_table as lt
from hub.core.db import Database
from hub.core.lease_table import LeaseInfo, LeaseLost
from hub.core.leases import Leases
from hub.core.partitions import fair_targets, plan_partitions
from tests.fixtures_hub import wait_for


@pytest.fixture
def db(cluster_db: str) -> Iterator[Database]:
    database = open_database(cluster_db)
    database.create_all()
    yield database
    database.close()


def run(db: Database, fn):  # type: ignore[no-untyped-def]
    with db.session() as s, s.begin():
        return fn(s)


def test_acquire_renew_expire_by_database_clock(db: Database) -> None:
    a = run(db, lambda s: lt.acquire(s, "partition:p1", "a/1", 0.5))
    assert a is not None and a.token == 1
    assert run(db, lambda s: lt.acquire(s, "partition:p1", "b/1", 0.5)) is None
    assert run(db, lambda s: lt.renew(s, "partition:p1", "a/1", 1, 0.5)) is not None
    time.sleep(0.6)  # expired by the database's clock: another takes it, with the next token
    b = run(db, lambda s: lt.acquire(s, "partition:p1", "b/1", 5))
    assert b is not None and b.token == 2
    assert run(db, lambda s: lt.renew(s, "partition:p1", "a/1", 1, 5)) is None
    with pytest.raises(LeaseLost):
        run(db, lambda s: lt.fence(s, "partition:p1", "a/1", 1))
    run(db, lambda s: lt.fence(s, "partition:p1", "b/1", 2))
    assert run(db, lambda s: lt.release(s, "partition:p1", "b/1", 2))
    c = run(db, lambda s: lt.acquire(s, "partition:p1", "a/1", 5))  # given back: taken at once
    assert c is not None and c.token == 3


def test_a_fenced_write_finishes_before_any_takeover(db: Database) -> None:
    """A write fenced by the holder holds any takeover back until it committed, so it can never land after
    another owner took over (and the old owner's next write fails); the holder's own renewals are not held."""
    assert run(db, lambda s: lt.acquire(s, "leader:alerts", "a/1", 1.0)) is not None
    committed: list[float] = []
    fenced = threading.Event()

    def slow_write() -> None:
        def write(s):  # type: ignore[no-untyped-def]
            lt.fence(s, "leader:alerts", "a/1", 1)
            fenced.set()
            time.sleep(1.5)  # the lease expires meanwhile
            s.execute(text("SELECT 1"))

        run(db, write)
        committed.append(time.monotonic())

    writer = threading.Thread(target=slow_write)
    writer.start()
    assert fenced.wait(5)
    assert run(db, lambda s: lt.renew(s, "leader:alerts", "a/1", 1, 0.4)) is not None
    assert not committed  # renewed while the write was still in flight: not held back by it
    time.sleep(0.6)  # expired now, the write still running
    got = run(db, lambda s: lt.acquire(s, "leader:alerts", "b/1", 5))  # waits until the write committed
    taken = time.monotonic()
    writer.join()
    assert got is not None and got.token == 2
    assert committed[0] <= taken
    with pytest.raises(LeaseLost):
        run(db, lambda s: lt.fence(s, "leader:alerts", "a/1", 1))


async def test_leader_duty_moves_when_its_holder_stops_renewing(cluster_db: str) -> None:
    db_a, db_b = open_database(cluster_db), open_database(cluster_db)
    db_a.create_all()
    a, b = Leases(db_a, "a", 1.0, 0.2), Leases(db_b, "b", 1.0, 0.2)
    lead_a, lead_b = a.leader("alerts"), b.leader("alerts")
    told: list[tuple[str, bool]] = []

    async def tell_a(leading: bool) -> None:
        told.append(("a", leading))

    async def tell_b(leading: bool) -> None:
        told.append(("b", leading))

    lead_a.on_change(tell_a)
    lead_b.on_change(tell_b)
    await a.start()
    await b.start()
    try:
        await wait_for(lambda: ("a", True) in told, 5, "a to lead")
        assert lead_a.is_leader and not lead_b.is_leader
        a.freeze()  # a hangs: it renews nothing from now on
        await wait_for(lambda: lead_b.is_leader, 5, "b to take over")
        assert not lead_a.is_leader  # a's own clock stopped it before b could take over
        assert lead_b.token == 2
        with db_b.session() as s, s.begin():
            assert lead_b.fence(s) == 2
            with pytest.raises(LeaseLost):
                lead_a.fence(s)
        await wait_for(lambda: ("b", True) in told, 5, "b's duty to be told")
    finally:
        await b.stop()
        await a.stop()
        db_a.close()
        db_b.close()


def info(name: str, owner: str | None, live: bool = True) -> LeaseInfo:
    return LeaseInfo(name, owner, 1, datetime(2026, 1, 1) + timedelta(hours=1), live)


def test_fair_share_and_plan() -> None:
    assert fair_targets(["h2", "h1", "h3"], 7) == {"h1": 3, "h2": 2, "h3": 2}
    assert fair_targets(["h1", "h2", "h3", "h4"], 2) == {"h1": 1, "h2": 1, "h3": 0, "h4": 0}
    parts = ["p1", "p2", "p3", "p4"]
    members = [info("member:h1", "h1/x"), info("member:h2", "h2/y")]
    held_by_h1 = [info(f"partition:{p}", "h1/x") for p in parts]
    # h1 alone held everything; h2 joined: h1 gives up the two above its share, h2 takes none yet.
    assert plan_partitions("h1", "h1/x", parts, members + held_by_h1).release == ("p3", "p4")
    assert plan_partitions("h2", "h2/y", parts, members + held_by_h1).acquire == ()
    half = [info("partition:p1", "h1/x"), info("partition:p2", "h1/x")]
    assert sorted(plan_partitions("h2", "h2/y", parts, members + half).acquire) == ["p3", "p4"]
    # A dead member's partitions are expired leases: free for the others.
    dead = [info("partition:p3", "h9/z", live=False), info("partition:p4", "h9/z", live=False)]
    assert sorted(plan_partitions("h2", "h2/y", parts, members + half + dead).acquire) == ["p3", "p4"]
    # Not counted as a member yet: takes nothing.
    assert plan_partitions("h3", "h3/w", parts, members).acquire == ()


async def test_outbox_recovery_touches_only_earlier_senders_rows(db: Database) -> None:
    from hub.notify.models import SENDING, UNKNOWN, OutboxRow
    from hub.notify.outbox import recover_interrupted

    now = datetime(2026, 11, 23, 10, 0)
    with db.session() as s, s.begin():
        for i, token in enumerate((1, 2, 3, None)):
            s.add(
                OutboxRow(
                    event_id=f"e{i}",
                    channel="oa",
                    target="g",
                    kind="camera_offline",
                    severity="warning",
                    notice_status="firing",
                    text="x",
                    snapshot_camera=None,
                    state=SENDING,
                    attempts=1,
                    created_at=now,
                    next_try_at=now,
                    claim_token=token,
                )  # fmt: skip
            )
    assert run(db, lambda s: recover_interrupted(s, now, 3)) == 3  # tokens 1, 2 and an unfenced row
    with db.session() as s:
        states = {r.event_id: r.state for r in s.query(OutboxRow)}
    assert states == {"e0": UNKNOWN, "e1": UNKNOWN, "e2": SENDING, "e3": UNKNOWN}


def test_cluster_needs_postgresql() -> None:
    from hub.compose import HubConfig

    with pytest.raises(ValueError, match="cluster.enabled needs PostgreSQL"):
        HubConfig.model_validate(
            {"cluster": {"enabled": True, "hub_id": "h1"}, "districts": {"d1": {"name": "D"}}}
        )
    with pytest.raises(ValueError, match="hub_id is required"):
        HubConfig.model_validate({"cluster": {"enabled": True}})
    with pytest.raises(ValueError, match="two partitions"):
        HubConfig.model_validate({"cluster": {"partitions": {"a": ["d1"], "b": ["d1"]}}})


def test_check_config_says_several_hubs_need_postgresql(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hub.cli import main

    cfg = tmp_path / "hub.yaml"
    body = "cluster: {enabled: true, hub_id: h1}\ndistricts: {d1: {name: D}, d2: {name: E}}\n"
    cfg.write_text(body)
    assert main(["--config", str(cfg), "check-config"]) == 2
    assert "cluster.enabled needs PostgreSQL" in capsys.readouterr().err
    cfg.write_text(body + "database: {url: 'postgresql+psycopg://hub@db/hub'}\n")
    assert main(["--config", str(cfg), "check-config"]) == 0
    assert "Nhiều hub: hub_id h1, 2 phân vùng (d1, d2)" in capsys.readouterr().out
    cfg.write_text("database: {url: 'sqlite:///x.db'}\n")
    assert main(["--config", str(cfg), "run", "--role", "web"]) == 2  # roles need the cluster
    assert "cluster.enabled" in capsys.readouterr().err


def test_hubs_starting_together_on_a_new_database(cluster_db: str) -> None:
    """Every hub creates the tables it misses at start; on PostgreSQL concurrent CREATE TABLEs collide, so one
    creates them while the others wait."""
    dbs = [open_database(cluster_db) for _ in range(3)]
    errors: list[BaseException] = []

    def create(d: Database) -> None:
        try:
            d.create_all()
        except BaseException as exc:  # collected: the test reports it
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(d,)) for d in dbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for d in dbs:
        d.close()
    assert errors == []
