"""Three hub processes on one PostgreSQL and one Mosquitto; the one leading the notifier is SIGKILLed during
steady traffic. Its partitions and leader duties move to the two others within the lease time plus a few
seconds; every health message sent is exactly one transition in SQL (none lost, none doubled); no Zalo message
goes out twice; both surviving hubs' live streams show a change in a partition that moved.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from devtools.fakezalo import FakeZalo
from devtools.hubcluster import (
    HubProcess,
    Traffic,
    compare,
    holdings,
    hub_yaml,
    sql,
    transitions,
)
from devtools.services import Service
from hub.compose import open_database
from hub.core import auth
from hub.core.db import utcnow

TTL_S = 2.0
DISTRICTS = 6
CAMERAS = [(f"d{i}", "x", f"cam-{j}") for i in range(1, DISTRICTS + 1) for j in (1, 2)]


async def until(cond: Any, within: float, what: str) -> Any:
    """Polls `cond` (quick, synchronous) without blocking the loop the fake Zalo server runs on."""
    deadline = time.monotonic() + within
    while True:
        value = await asyncio.to_thread(cond)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(0.1)


def notify(fake: FakeZalo) -> dict[str, Any]:
    return {
        "oa": {
            "app_id": fake.state.app_id,
            "secret_key": fake.state.secret_key,
            "refresh_token": fake.state.refresh_token,
            "base_url": fake.url,
            "oauth_url": fake.url,
            "timeout_s": 1.0,
            "attach_snapshot": False,
        },
        "groups": {"police": {f"d{i}": f"g-d{i}" for i in range(1, DISTRICTS + 1)}},
        "retry": {"base_s": 0.2, "max_s": 1.0, "rate_limit_s": 0.5, "max_attempts": 5},
        "digest": {"enabled": False},
    }


ALERTS = {
    "eval_interval_s": 0.2,
    "startup_grace_s": 0,
    "rules": {"camera_offline": {"group_wait_s": 0.5, "group_interval_s": 0, "clear_s": 0, "repeat_s": 60}},
}


def api_token(db_url: str) -> str:
    """An administrator's API token, written straight into the shared database."""
    db = open_database(db_url)
    try:
        db.create_all()
        with db.session() as s, s.begin():
            now = utcnow()
            auth.add_user(s, "quantri", auth.hash_password("mat-khau-rat-dai-2024"), "admin", now=now)
            _row, token = auth.create_token(s, "quantri", "test", now)
        return token
    finally:
        db.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeZalo]:
    f = FakeZalo()
    await f.start()
    yield f
    await f.stop()


async def watch(session: aiohttp.ClientSession, port: int, token: str, seen: list[dict[str, Any]]) -> None:
    """Collects the camera events of one hub's live stream."""
    url = f"http://127.0.0.1:{port}/api/v1/events?cameras=false"
    async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
        event = ""
        async for raw in resp.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "camera":
                seen.append(json.loads(line[6:])["camera"])


async def test_kill_one_of_three_hubs(
    cluster_db: str, mosquitto: Service, fake: FakeZalo, tmp_path: Path
) -> None:
    hubs = []
    for i in (1, 2, 3):
        cfg, port = hub_yaml(
            tmp_path, f"h{i}", cluster_db, mosquitto.port, DISTRICTS, TTL_S,
            extra={"notify": notify(fake), "alerts": ALERTS},
        )  # fmt: skip
        hubs.append(HubProcess(f"h{i}", cfg, port, tmp_path / f"h{i}.log"))
    token = await asyncio.to_thread(api_token, cluster_db)
    for h in hubs:
        h.start()
    traffic: Traffic | None = None
    streams: list[asyncio.Task[None]] = []
    session = aiohttp.ClientSession()
    try:
        for h in hubs:
            await asyncio.to_thread(h.wait_http)

        def balanced() -> bool:
            x = holdings(cluster_db)
            return len(x.leaders) == 3 and all(len(x.of(h.hub_id)) == 2 for h in hubs)

        await until(balanced, 30, "two partitions on each hub and every leader duty held")
        seen: dict[str, list[dict[str, Any]]] = {h.hub_id: [] for h in hubs}
        streams = [asyncio.create_task(watch(session, h.port, token, seen[h.hub_id])) for h in hubs]

        traffic = Traffic(mosquitto.port, CAMERAS, period_s=0.25)
        traffic.start()
        await until(lambda: len(fake.messages("oa")) >= 2, 30, "alert messages before the kill")
        before = holdings(cluster_db)
        victim = next(h for h in hubs if h.hub_id == before.leaders["notify"])
        moved = before.of(victim.hub_id)
        victim.kill()
        killed_at = time.monotonic()

        def taken_over() -> bool:
            x = holdings(cluster_db)
            return (
                len(x.partitions) == DISTRICTS
                and len(x.leaders) == 3
                and victim.hub_id not in {*x.partitions.values(), *x.leaders.values()}
            )

        await until(taken_over, TTL_S + 10, "the dead hub's partitions and duties to move")
        took_s = time.monotonic() - killed_at
        assert took_s <= TTL_S + 5, f"failover took {took_s:.1f} s"
        sent_before = len(fake.messages("oa"))
        await asyncio.sleep(3)  # traffic and alerts go on under the new owners
        traffic.finish()

        try:
            lost_doubled = await until(
                lambda: (r := compare(traffic.sent, transitions(cluster_db)))[0] == 0 and r,
                30,
                "every message",
            )
        except AssertionError:
            rec = transitions(cluster_db)
            kill_wall = time.time() - (time.monotonic() - killed_at)
            for key, times in traffic.sent.items():
                missing = sorted(set(times) - set(rec.get(key, [])))
                if missing:
                    print(key, len(times), len(rec.get(key, [])), [round(t - kill_wall, 2) for t in missing])
            raise
        assert lost_doubled == (0, 0), f"lost, doubled: {lost_doubled}"

        # A change in a partition that moved reaches the live streams of both surviving hubs.
        marker = ("kill-test", moved[0])
        mark = Traffic(mosquitto.port, [(moved[0], "x", "marker")], period_s=1)
        mark.send_round()
        mark.finish()
        survivors = [h for h in hubs if h is not victim]
        for h in survivors:
            await until(
                lambda h=h: any(c["key"] == f"{marker[1]}/x/marker" for c in seen[h.hub_id]),
                15,
                f"hub {h.hub_id}'s live stream to show the change",
            )

        # Zalo: messages went out after the kill too, and none twice.
        await until(lambda: len(fake.messages("oa")) > sent_before, 20, "messages sent by the new leader")
        await asyncio.sleep(2)
        rows = sql(cluster_db, "SELECT state, message_id FROM notify_outbox WHERE channel = 'oa'")
        ids = [m.message_id for m in fake.messages("oa")]
        assert len(ids) == len(set(ids))
        recorded = [mid for _, mid in rows if mid is not None]
        assert len(recorded) == len(set(recorded))
        orphans = set(ids) - set(recorded)  # delivered, but the sender died before it wrote the id down
        in_doubt = sum(1 for state, _ in rows if state == "unknown")
        assert len(orphans) <= in_doubt, f"{len(orphans)} messages sent twice or not recorded"
        assert not any(state == "sending" for state, _ in rows)
        # One alert engine, on one hub, saw the cameras of every partition (its own, and the others' from SQL).
        assert {m.target for m in fake.messages("oa")} == {f"g-d{i}" for i in range(1, DISTRICTS + 1)}
        print(
            f"failover {took_s:.1f} s; {traffic.total} messages; {len(ids)} Zalo messages, {in_doubt} in doubt"
        )
    finally:
        if traffic is not None and traffic.is_alive():
            traffic.finish()
        for t in streams:
            t.cancel()
        await session.close()
        for h in hubs:
            h.stop()
        for h in hubs:
            print(f"--- {h.hub_id}\n{h.tail(30)}")
