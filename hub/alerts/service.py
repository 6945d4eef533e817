"""The alert engine as a hub component: every `eval_interval_s` it gathers facts, steps the pure rules
(hub.alerts.rules, hub.alerts.grouping), hands notices to the notifier, then writes what changed to SQL.

Order matters for "never twice, never lost": notices go to the sink first (the notifier writes its outbox row,
keyed by event id), the new state is written after. A crash in between recomputes the same notices with the
same event ids after the restart, which the outbox ignores. A notice the sink refused keeps the groups where
they were, so the next round produces it again.

Several hubs: the engine runs on the hub holding the `alerts` leader lease (hub/core/leases.py). It loads the state
its predecessor left when it takes over and writes each slice of its state after checking its fencing token in the
same transaction; a notice handed over twice around a takeover has the same event id, which the outbox ignores.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hub.alerts.config import AlertsConfig, RuleSettings, effective
from hub.alerts.grouping import GroupState, step_groups
from hub.alerts.labels import alert_dict
from hub.alerts.rules import AlertState, inhibited, inhibiting_devices, prune, step_alerts
from hub.alerts.silences import VN, silenced_by
from hub.alerts.sources import AgentFacts, camera_facts
from hub.alerts.store import PeopleInput, load_people, load_state, save
from hub.core.facts import AlertNotice, Fact, FactKind, FactSource, NoticeSink
from hub.core.features import FactSources, ServiceKey
from hub.core.leases import Lead, LeaseLost, SoleLeader
from hub.core.stats import RateLimitedLog

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.core.db import Database
    from hub.core.events import EventBus
    from hub.core.state import StateStore
    from hub.core.stats import HubStats

log = logging.getLogger("hub.alerts")
PEOPLE_RELOAD_S = 15.0
SAVE_CHUNK = 500  # alert rows per SQL transaction  # silences, acks and rule changes are re-read this often even without a nudge


@dataclass
class AlertCounters:
    evaluations: int = 0
    notices: int = 0
    source_errors: int = 0
    sink_errors: int = 0
    sql_errors: int = 0
    eval_ms_max: float = 0.0


class AlertService:
    name = "alerts"

    def __init__(
        self,
        config: AlertsConfig,
        db: Database,
        events: EventBus,
        stats: HubStats,
        store: StateStore,
        sink: NoticeSink | None = None,
        others: FactSources | None = None,
        clock: Callable[[], float] = time.time,
        lead: Lead | None = None,
    ) -> None:
        self.lead: Lead = lead if lead is not None else SoleLeader()
        self.lead.on_change(self._lead_changed)
        self._enabled = False  # started (and enabled by configuration)
        self.config = config
        self.db = db
        self.events = events
        self.hub_stats = stats
        self.sink = sink
        self.clock = clock
        self.tz = (
            VN  # local times of recurring maintenance windows (the hub's `timezone`, set by the feature)
        )
        # The engine's own sources (cameras, edge agents); other features add theirs to `others`.
        self.own_sources: list[FactSource] = [
            lambda now: camera_facts(store, now),
            AgentFacts(store, self.settings),
        ]
        self.others = others if others is not None else FactSources()
        self.alerts: dict[str, AlertState] = {}
        self.groups: dict[str, GroupState] = {}
        self.people = PeopleInput()
        self.suppression: dict[str, tuple[int | None, bool]] = {}  # alert id → (silence id, inhibited)
        self.counters = AlertCounters()
        self.started_at: float | None = None
        self._settings_cache: dict[tuple[FactKind, str], RuleSettings] = {}
        self._people_due = 0.0
        self._dirty_alerts: set[str] = set()
        self._dirty_groups: set[str] = set()
        self._forget: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._rlog = RateLimitedLog(log)
        stats.gauges.update(
            alerts_active=lambda: sum(a.active for a in self.alerts.values()),
            alert_notices=lambda: self.counters.notices,
            alert_sink_errors=lambda: self.counters.sink_errors,
        )

    # interface for others ---------------------------------------------------------------------------------
    def add_source(self, fn: FactSource) -> None:
        """Register a fact source: called every round with `now`, returns the facts that hold then."""
        self.others.add(fn)

    @property
    def sources(self) -> list[FactSource]:
        return [*self.own_sources, *self.others.items]

    def refresh(self) -> None:
        """People changed silences, acknowledgements or rules: re-read them and evaluate now."""
        self._people_due = 0.0
        self._wake.set()

    def settings(self, kind: FactKind, district: str) -> RuleSettings:
        key = (kind, district)
        found = self._settings_cache.get(key)
        if found is None:
            base = self.config.rules[kind]
            try:
                found = effective(base, self.people.overrides.get((district, kind.value)))
            except ValueError as exc:  # stored before a stricter version: the configured settings apply
                self._rlog.log(logging.ERROR, f"rule-{key}", "rule override %s ignored: %s", key, exc)
                found = base
            self._settings_cache[key] = found
        return found

    # life cycle -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        if not self.config.enabled:
            log.info("alerts disabled by configuration")
            return
        self._enabled = True
        if self.lead.is_leader:
            await self._lead_changed(True)

    async def _lead_changed(self, leading: bool) -> None:
        if leading and self._enabled and self._task is None:
            await self.load()  # what the previous leader (or this hub before a restart) left
            self._task = asyncio.create_task(self._run(), name="hub-alerts")
        elif not leading and self._task is not None:
            log.warning("alert engine no longer leads; stopping it")
            await self._cancel()

    async def load(self) -> None:
        """Reads the stored state (alerts, groups) as the last run left it."""
        loaded = await self.db.run(load_state)
        self.alerts, self.groups = loaded.alerts, loaded.groups
        for a in self.alerts.values():
            self.suppression[a.id] = (None, False)
        self.started_at = self.clock()
        log.info(
            "alerts: %d known (%d active), %d groups",
            len(self.alerts),
            sum(a.active for a in self.alerts.values()),
            len(self.groups),
        )

    async def stop(self) -> None:
        self._enabled = False
        if self._task is not None:
            await self._cancel()
            await self._persist()

    async def _cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.hub_stats.error(f"alerts: {exc!r}")
                log.exception("alert evaluation failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.eval_interval_s)
            self._wake.clear()

    # one round --------------------------------------------------------------------------------------------
    async def tick(self, now: float | None = None) -> list[AlertNotice]:
        """One evaluation at `now` (default: the clock); returns the notices handed to the sink."""
        async with self._lock:
            return await self._tick(self.clock() if now is None else now)

    async def _tick(self, now: float) -> list[AlertNotice]:
        if self.started_at is None:
            self.started_at = now
        if now >= self._people_due:
            try:
                self.people = await self.db.run(lambda s: load_people(s, now, self.tz))
                self._settings_cache.clear()
                self._people_due = now + PEOPLE_RELOAD_S
            except Exception as exc:
                self.counters.sql_errors += 1
                self._rlog.log(logging.ERROR, "people", "reading silences/acks/rules failed: %r", exc)
        t0 = time.perf_counter()
        facts, complete = self._collect(now)
        may_resolve = complete and now >= self.started_at + self.config.startup_grace_s
        step = step_alerts(self.alerts, facts, self.settings, now, may_resolve=may_resolve)
        self.alerts = step.alerts
        self._dirty_alerts |= step.changed
        suppressed = self._suppress(now)
        acked = {a.id for a in self.alerts.values() if (a.id, a.episode) in self.people.acks}
        gstep = step_groups(
            self.groups, self.alerts.values(), self.settings, now, suppressed=suppressed, acked=acked
        )
        self.counters.evaluations += 1
        self.counters.eval_ms_max = max(self.counters.eval_ms_max, (time.perf_counter() - t0) * 1000)
        sent = await self._hand_over(gstep.notices)
        if sent:
            self.groups = gstep.groups
            self._dirty_groups |= gstep.changed
        for key in prune(self.alerts, now, self.config.resolved_keep_days * 86400):
            a = self.alerts.pop(key)
            self._forget.add(a.id)
            self.suppression.pop(a.id, None)
        self._announce(step.changed)
        await self._persist()
        return gstep.notices if sent else []

    def _collect(self, now: float) -> tuple[list[Fact], bool]:
        facts: list[Fact] = []
        complete = True
        for src in self.sources:
            try:
                facts.extend(src(now))
            except Exception as exc:
                complete = False  # its facts are unknown this round: nothing resolves for lack of them
                self.counters.source_errors += 1
                self._rlog.log(logging.ERROR, f"src-{id(src)}", "alert fact source %r failed: %r", src, exc)
        return facts, complete

    def _suppress(self, now: float) -> set[str]:
        parents = inhibiting_devices(self.alerts.values())
        out: set[str] = set()
        for key, a in self.alerts.items():
            sil = silenced_by(a, self.people.silences, now) if a.active else None
            inh = a.active and inhibited(a, parents)
            if sil is not None or inh:
                out.add(a.id)
            if self.suppression.get(a.id) != (sil, inh):
                self.suppression[a.id] = (sil, inh)
                self._dirty_alerts.add(key)
        return out

    async def _hand_over(self, notices: Iterable[AlertNotice]) -> bool:
        for n in notices:
            if self.sink is None:
                log.info(
                    "notice %s %s %s (%d items; no notifier)", n.status, n.kind, n.group_key, len(n.items)
                )
                continue
            try:
                await self.sink.submit(n)
            except Exception as exc:
                self.counters.sink_errors += 1
                self._rlog.log(logging.ERROR, "sink", "notifier refused notice %s: %r", n.event_id, exc)
                return False
            self.counters.notices += 1
        return True

    def _announce(self, keys: Iterable[str]) -> None:
        events = self.events
        if not events.subscribers:
            return
        for key in keys:
            a = self.alerts.get(key)
            if a is not None:
                sil, inh = self.suppression.get(a.id, (None, False))
                events.publish({"type": "alert", "alert": alert_dict(a, sil, inh)})

    async def _persist(self) -> None:
        if not (self._dirty_alerts or self._dirty_groups or self._forget):
            return
        alerts = [
            (a, *self.suppression.get(a.id, (None, False)))
            for k in self._dirty_alerts
            if (a := self.alerts.get(k)) is not None
        ]
        groups = [g for k in self._dirty_groups if (g := self.groups.get(k)) is not None]
        forget = list(self._forget)
        try:
            # A province-wide outage changes thousands of rows at once: the SQL thread (shared with ingest and
            # the web) is taken a slice at a time. Groups go with the last slice, after the alerts they tell.
            for i in range(0, max(len(alerts), 1), SAVE_CHUNK):
                part = alerts[i : i + SAVE_CHUNK]
                last = i + SAVE_CHUNK >= len(alerts)
                job = functools.partial(
                    self._save_fenced,
                    alerts=part,
                    groups=groups if last else [],
                    forget=forget if last else [],
                )
                await self.db.run(job)
        except LeaseLost:
            log.warning("alert state not written: another hub leads the alert engine now")
            return
        except Exception as exc:
            self.counters.sql_errors += 1
            self._rlog.log(
                logging.ERROR, "sql", "writing alert state failed (kept for the next round): %r", exc
            )
            return
        self._dirty_alerts.clear()
        self._dirty_groups.clear()
        self._forget.clear()

    def _save_fenced(self, s: Session, **rows: Any) -> None:
        self.lead.fence(s)  # only the leading hub writes the engine's state
        save(s, **rows)

    def stats(self) -> dict[str, Any]:
        return {
            **self.counters.__dict__,
            "active": sum(a.active for a in self.alerts.values()),
            "firing": sum(a.status == "firing" for a in self.alerts.values()),
        }


ALERTS = ServiceKey("alerts", AlertService)
