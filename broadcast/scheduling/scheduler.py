"""The broadcast scheduler: turns approved programmes into airings at the right moment, on exactly one worker.

- APScheduler 3.x `AsyncIOScheduler` in the commune's time zone, one date job per upcoming occurrence (job id
  `occ:{programme}:{epoch}`), rebuilt on start, on `reload()`, when another worker changed programmes (a revision
  counter in `settings`) and every `replan_s`.
- A job fires at T − prepare_lead: it INSERTs the `Airing` (unique programme_id + occurrence_at, so a second
  worker or a restart cannot double it) and calls `dispatcher.dispatch(AiringOrder(start_at=T))`.
- Leader lease `leader:broadcast` (hub/core/leases.py, shared with the dispatcher's timers): only the leading hub
  has jobs. A hub that loses the lease drops its jobs; one that gains it plans at once. Every airing is inserted
  in a transaction that first checks the lease's fencing token, so a hub that lost it cannot insert one.
- Misfires: every decision goes through broadcast/scheduling/misfire.py `decide` with the current time, so occurrences
  missed while no worker ran are aired late within `misfire_grace_s` or recorded as missed (emergency: always
  aired) — on start, on takeover and when a job itself fires late.

`clock` gives epoch seconds; APScheduler runs on the real clock, so job times are translated by the offset
between the two (tests run the scheduler on a shifted clock without waiting for real hours).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcast.airings.models import (
    AIRING_CANCELLED,
    AIRING_DISPATCHED,
    AIRING_FAILED,
    AIRING_MISSED,
    AIRING_SCHEDULED,
    Airing,
)
from broadcast.config import ScheduleConfig
from broadcast.orders import Dispatcher
from broadcast.programmes import revision, targets
from broadcast.programmes.input import ProgrammeError
from broadcast.programmes.models import STATE_APPROVED, Programme
from broadcast.programmes.schedule import occurrences
from broadcast.programmes.store import record_emergency_air
from broadcast.scheduling import plan
from broadcast.scheduling.misfire import Action, MisfirePolicy, decide
from broadcast.scheduling.occurrence import NO_SPEAKERS, OccurrenceAirings, Prepared, set_status
from hub.core.db import Database, to_db_time
from hub.core.leases import Lead, LeaseLost, SoleLeader

log = logging.getLogger("broadcast.scheduler")


class BroadcastScheduler:
    def __init__(
        self,
        db: Database,
        dispatcher: Dispatcher,
        tz: ZoneInfo,
        config: ScheduleConfig,
        clock: Callable[[], float] = time.time,
        lead: Lead | None = None,
    ) -> None:
        self.db = db
        self.dispatcher = dispatcher
        self.tz = tz
        self.config = config
        self.clock = clock
        self.lead: Lead = lead if lead is not None else SoleLeader()
        self.lead.on_change(self._lead_changed)
        self.policy = MisfirePolicy(
            config.prepare_lead_s, config.misfire_grace_s, config.late_start_lead_s, config.emergency_lead_s
        )
        self.planned = False  # jobs were planned under the current lead
        self.counters: dict[str, int] = {
            "dispatched": 0,
            "missed": 0,
            "failed": 0,
            "cancelled": 0,
            "doubles_avoided": 0,
            "plans": 0,
        }
        self.airings = OccurrenceAirings(tz, self.policy, clock, self.counters)
        self._aps: AsyncIOScheduler | None = None
        self._task: asyncio.Task[None] | None = None
        self._plan_lock = asyncio.Lock()
        self._rev: str | None = None
        self._last_plan = 0.0
        self._inflight: set[asyncio.Task[None]] = set()

    # lifecycle --------------------------------------------------------------------------------------------
    @property
    def is_leader(self) -> bool:
        return self.lead.is_leader

    async def start(self) -> None:
        self._aps = AsyncIOScheduler(timezone=self.tz, job_defaults={"misfire_grace_time": None})
        self._aps.start()
        if self.lead.is_leader:
            await self._lead_changed(True)
        self._task = asyncio.create_task(self._check_loop(), name="broadcast-scheduler-check")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None
        for t in list(self._inflight):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(t, 10.0)
        self.planned = False

    async def reload(self) -> None:
        """Call after a programme was saved, approved, rejected or cancelled. On the leader it replans now; on
        another hub the leader notices the revision bump within `check_s`."""
        if self.is_leader and self.planned:
            await self._plan()

    def stats(self) -> dict[str, Any]:
        jobs = len(self._aps.get_jobs()) if self._aps is not None else 0
        return {"leader": self.is_leader, "token": self.lead.token, "jobs": jobs, **self.counters}

    def jobs(self) -> list[tuple[str, datetime]]:
        """(job id, real fire time) of the planned occurrences, for the status page and tests."""
        if self._aps is None:
            return []
        return sorted((j.id, j.next_run_time) for j in self._aps.get_jobs() if j.next_run_time is not None)

    # leader lease -----------------------------------------------------------------------------------------
    def _now_dt(self) -> datetime:
        return to_db_time(self.clock())

    async def _lead_changed(self, leading: bool) -> None:
        if leading and self._aps is not None and not self.planned:
            log.info("broadcast scheduler leads (token %s)", self.lead.token)
            self.planned = True
            await self._plan()
        elif not leading:
            if self.planned:
                log.warning("broadcast scheduler no longer leads; dropping jobs")
            self._drop_leadership()

    async def _check_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.check_s)
            try:
                await self._check()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduler check failed")

    async def _check(self) -> None:
        if not self.planned:
            return
        if not self.is_leader:  # expired locally before the lease loop told us
            self._drop_leadership()
            return
        rev = await self.db.run(revision.schedule_rev)
        if rev != self._rev or self.clock() - self._last_plan >= self.config.replan_s:
            await self._plan()

    def _drop_leadership(self) -> None:
        self.planned = False
        if self._aps is not None:
            self._aps.remove_all_jobs()

    # planning ---------------------------------------------------------------------------------------------
    async def _plan(self) -> None:
        async with self._plan_lock:
            now = self.clock()
            now_dt = datetime.fromtimestamp(now, UTC)
            horizon = now_dt + timedelta(hours=self.config.plan_horizon_h)
            lookback = now_dt - timedelta(hours=self.config.missed_lookback_h)

            def load(s: Session) -> tuple[str, list[plan.PlanEntry], set[tuple[int, datetime]]]:
                entries = plan.approved_programmes(s)
                done = plan.existing_occurrences(s, [e.programme_id for e in entries], lookback)
                return revision.schedule_rev(s), entries, done

            rev, entries, done = await self.db.run(load)
            # Pure and CPU-bound at province scale (thousands of programmes): off the event loop.
            wanted, due_now = await asyncio.to_thread(self._expand, entries, done, lookback, horizon, now)
            self._sync_jobs(wanted, now)
            self._rev, self._last_plan = rev, now
            self.counters["plans"] += 1
            await self._cancel_withdrawn(now)
        for pid, occ in due_now:
            await self._fire(pid, occ)

    def _expand(
        self,
        entries: list[plan.PlanEntry],
        done: set[tuple[int, datetime]],
        lookback: datetime,
        horizon: datetime,
        now: float,
    ) -> tuple[dict[str, datetime], list[tuple[int, datetime]]]:
        """Occurrences without an airing: job id → occurrence for those ahead, and those due at once."""
        wanted: dict[str, datetime] = {}
        due_now: list[tuple[int, datetime]] = []
        for e in entries:
            since = max(lookback, e.approved_at.replace(microsecond=0))
            for occ in occurrences(e.schedule, self.tz, since, horizon, e.anchor_at):
                if (e.programme_id, occ) in done:
                    continue
                d = decide(occ.timestamp(), e.priority, now, self.policy)
                if d.action == Action.PREPARE_AT:
                    wanted[f"occ:{e.programme_id}:{int(occ.timestamp())}"] = occ
                else:
                    due_now.append((e.programme_id, occ))
        return wanted, due_now

    def _sync_jobs(self, wanted: dict[str, datetime], now: float) -> None:
        aps = self._aps
        if aps is None:
            return
        have = set()
        for job in aps.get_jobs():
            if job.id in wanted:
                have.add(job.id)  # same id = same programme and occurrence: already planned
            else:
                job.remove()
        real_now = datetime.now(UTC)
        for job_id, occ in wanted.items():
            if job_id in have:
                continue
            fire_at = occ.timestamp() - self.policy.prepare_lead_s
            run_at = real_now + timedelta(seconds=fire_at - now)
            pid = int(job_id.split(":")[1])
            aps.add_job(
                self._job,
                DateTrigger(run_date=run_at, timezone=self.tz),
                args=[pid, occ.isoformat()],
                id=job_id,
            )

    async def _job(self, programme_id: int, occurrence_iso: str) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            if self.is_leader:
                await self._fire(programme_id, datetime.fromisoformat(occurrence_iso))
        except Exception:
            log.exception("airing job %s at %s failed", programme_id, occurrence_iso)
        finally:
            if task is not None:
                self._inflight.discard(task)

    # one occurrence -----------------------------------------------------------------------------------------
    async def _fire(self, programme_id: int, occ: datetime) -> None:
        now = self.clock()
        prepared = await self.db.run(lambda s: self._prepare(s, programme_id, occ, now))
        await self._send(prepared)

    def _prepare(self, s: Session, programme_id: int, occ: datetime, now: float) -> Prepared:
        try:
            self.lead.fence(s)  # the airing row is only inserted while this hub still leads
        except LeaseLost:
            return Prepared(None, None, None)
        return self.airings.prepare(s, programme_id, occ, now)

    async def _send(self, prepared: Prepared) -> None:
        if prepared.status == AIRING_MISSED:
            self.counters["missed"] += 1
            log.warning("airing %s missed (hub not running at air time)", prepared.airing_id)
        elif prepared.status in (AIRING_FAILED, AIRING_CANCELLED):
            self.counters["failed" if prepared.status == AIRING_FAILED else "cancelled"] += 1
        order = prepared.order
        if order is None:
            return
        try:
            await self.dispatcher.dispatch(order)
        except Exception as exc:
            log.exception("dispatch of %s failed", order.airing_id)
            self.counters["failed"] += 1
            reason = f"Không gửi được lệnh phát tới các cụm loa: {type(exc).__name__}"
            await self.db.run(lambda s: set_status(s, order.airing_id, AIRING_FAILED, reason, self._now_dt()))
            return
        self.counters["dispatched"] += 1
        log.info("airing %s dispatched to %d speakers", order.airing_id, len(order.speakers))

    async def _cancel_withdrawn(self, now: float) -> None:
        """Prepared airings whose programme is no longer approved (edited, cancelled) are called off."""

        def find(s: Session) -> list[str]:
            rows = s.execute(
                select(Airing.id)
                .join(Programme, Programme.id == Airing.programme_id)
                .where(
                    Airing.status.in_((AIRING_SCHEDULED, AIRING_DISPATCHED)),
                    Airing.start_at > to_db_time(now),
                    Programme.state != STATE_APPROVED,
                )
            )
            return [r[0] for r in rows]

        reason = "Chương trình đã bị sửa hoặc huỷ trước giờ phát"
        for airing in await self.db.run(find):
            with contextlib.suppress(Exception):
                await self.dispatcher.cancel(airing, reason)
            await self.db.run(
                functools.partial(
                    set_status, airing_id=airing, status=AIRING_CANCELLED, reason=reason, now=self._now_dt()
                )
            )
            self.counters["cancelled"] += 1

    # emergency ----------------------------------------------------------------------------------------------
    async def air_now(self, programme_id: int, actor: str) -> str:
        """Airs an emergency programme at once (start in ~emergency_lead_s), on any worker, without prior
        approval: the step is recorded and the programme is marked for review. Returns the airing id.
        Raises ProgrammeError (Vietnamese message) when the programme cannot be aired."""
        now = self.clock()
        occ = datetime.fromtimestamp(int(now), UTC)
        start = datetime.fromtimestamp(now + self.policy.min_start_lead_s, UTC)

        def prepare(s: Session) -> Prepared:
            p = s.get(Programme, programme_id)
            if p is None:
                raise ProgrammeError("id", "Không tìm thấy chương trình", 404, "not_found")
            record_emergency_air(s, p, actor, to_db_time(now), targets.naive(occ))
            prepared = self.airings.build(s, p, occ, start, 0.0)
            if prepared.airing_id is None:
                raise ProgrammeError("id", "Chương trình vừa được phát khẩn cấp; hãy đợi một giây", 409)
            if prepared.order is None:
                raise ProgrammeError("id", prepared.reason or NO_SPEAKERS, 409)  # rolled back: nothing aired
            revision.bump_schedule_rev(s)
            return prepared

        prepared = await self.db.run(prepare)
        await self._send(prepared)
        assert prepared.airing_id is not None
        return prepared.airing_id
