"""Programme scheduling at province scale: `.venv/bin/python bench/broadcast_schedule.py [COMMUNES]` (default 600).

Each commune gets 3 speakers and 4 approved programmes (05:00 and 17:00 Monday–Saturday, a daily 11:00 one, a
weekly Sunday one and a one-off), so a 36 h horizon plans several thousand APScheduler jobs. Measured, on a SQLite
file in the hub's one SQL thread: the first plan when the scheduler starts (leader lease + expansion + jobs), a
replan with nothing changed, and the conflict check of saving one more programme in a busy commune. The last line
is JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from broadcast.config import ScheduleConfig
from broadcast.content.models import BroadcastContent
from broadcast.orders import AiringOrder
from broadcast.programmes.input import parse_programme
from broadcast.programmes.models import STATE_APPROVED, Programme, ProgrammeItem
from broadcast.programmes.save import check_conflicts
from broadcast.scheduling.scheduler import BroadcastScheduler
from hub.compose import open_database
from hub.core.db import Database
from hub.core.speaker_models import Speaker

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SCHEDULES = [
    {"kind": "weekly", "times": ["05:00", "17:00"], "weekdays": [1, 2, 3, 4, 5, 6]},
    {"kind": "daily", "times": ["11:00"]},
    {"kind": "weekly", "times": ["07:30"], "weekdays": [7]},
    {"kind": "once", "date": "2030-01-02", "times": ["09:00"]},
]


class NullDispatcher:
    async def dispatch(self, order: AiringOrder) -> None:
        return None

    async def cancel(self, airing_id: str, reason: str) -> None:
        return None


def fill(db: Database, communes: int) -> None:
    approved = datetime(2020, 1, 1)
    with db.session() as s, s.begin():
        pid = 0
        for i in range(communes):
            d, c = f"huyen-{i // 30:02d}", f"xa-{i:03d}"
            s.add(
                BroadcastContent(
                    id=i + 1,
                    district=d,
                    commune=c,
                    title="Tin",
                    source="tts",
                    original_path="o",
                    path="p",
                    sha256="0" * 64,
                    size=1,
                    duration_s=300.0,
                    loudness_lufs=-16,
                    true_peak_dbtp=-2,
                    created_by="bench",
                )
            )
            for k in range(3):
                s.add(Speaker(key=f"{d}/{c}/loa-{k}", district=d, commune=c, slug=f"loa-{k}"))
            for sched in SCHEDULES:
                pid += 1
                s.add(
                    Programme(
                        id=pid,
                        district=d,
                        commune=c,
                        title=f"Chương trình {pid}",
                        schedule=sched,
                        state=STATE_APPROVED,
                        created_by="bench",
                        approved_at=approved,
                    )
                )
                s.add(ProgrammeItem(programme_id=pid, position=0, content_id=i + 1))


async def main(communes: int) -> dict[str, float | int]:
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(f"sqlite:///{Path(tmp) / 'hub.db'}")
        db.create_all()
        fill(db, communes)
        sched = BroadcastScheduler(db, NullDispatcher(), TZ, ScheduleConfig(missed_lookback_h=0))
        t0 = time.perf_counter()
        await sched.start()
        first = time.perf_counter() - t0
        jobs = len(sched.jobs())
        t0 = time.perf_counter()
        await sched.reload()
        replan = time.perf_counter() - t0
        now = datetime.now(UTC)
        body = {
            "district": "huyen-00",
            "commune": "xa-000",
            "title": "Mới",
            "items": [1],
            "schedule": {"kind": "daily", "times": ["17:00"]},
        }
        inp = parse_programme(body, now, TZ)
        t0 = time.perf_counter()
        conflicts = await db.run(
            lambda s: check_conflicts(s, inp, [300.0], None, now.replace(tzinfo=None), TZ, 14)
        )
        check = time.perf_counter() - t0
        await sched.stop()
        db.close()
    return {
        "communes": communes,
        "programmes": communes * len(SCHEDULES),
        "jobs_planned": jobs,
        "first_plan_s": round(first, 3),
        "replan_s": round(replan, 3),
        "conflict_check_ms": round(check * 1000, 1),
        "conflicts_found": len(conflicts),
    }


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    result = asyncio.run(main(n))
    print(json.dumps(result))
