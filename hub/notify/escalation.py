"""Escalation: a firing notice that a route escalates (`routes[].escalate`) and that nobody acknowledges within
`after_min` goes, once, to the route's next level (commune → province command centre).

- `plan` (pure): the escalation rows a firing notice starts, one per matched route that escalates.
- `Escalator.check(now)`: the rows due; for each, asks the alert engine's side (`ALERT_ACKS`, found lazily: the
  features never import each other) which of its devices still fire unacknowledged. None: the row is closed. Some:
  the escalation text goes into the outbox for the next level's receivers and the row is marked escalated, with
  an audit entry, in one transaction. Rows live in SQL (`notify_escalations`), so a restarted hub (or the next
  `notify` leader) picks up the clock where it was; the outbox's event ids keep a repeat from being sent twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.core.audit import record_change
from hub.core.db import Database, to_db_time
from hub.core.escalation import AlertAcks
from hub.core.facts import AlertNotice, FactKind, NoticeItem, Severity
from hub.notify import outbox
from hub.notify.config import NotifyConfig
from hub.notify.models import CHANNEL_NONE, DRY_RUN, ESC_CLOSED, ESC_SENT, ESC_WAITING, PENDING, UNROUTED
from hub.notify.models import EscalationRow as Row
from hub.notify.outbox import NewRow
from hub.notify.render import render_notice
from hub.notify.routing import matched_routes, resolve

log = logging.getLogger("hub.notify")
CHECK_S = 15.0
ACTOR = "hệ thống"


def plan(cfg: NotifyConfig, notice: AlertNotice, now: datetime) -> list[dict[str, Any]]:
    """Rows (as column values) for the routes of a firing notice that escalate. Pure."""
    if notice.status != "firing":
        return []
    out = []
    for r in matched_routes(cfg.routes, notice.kind, notice.severity, notice.district, notice.commune):
        if r.escalate is None:
            continue
        out.append(
            {
                "event_id": notice.event_id,
                "route": r.name,
                "kind": str(notice.kind),
                "severity": str(notice.severity),
                "district": notice.district,
                "commune": notice.commune,
                "notice": {
                    "items": [asdict(i) for i in notice.items],
                    "link_path": notice.link_path,
                    "group_key": notice.group_key,
                    "created_at": notice.created_at,
                },  # fmt: skip
                "after_min": r.escalate.after_min,
                "created_at": now,
                "due_at": now + timedelta(minutes=r.escalate.after_min),
                "state": ESC_WAITING,
            }
        )
    return out


def store_plan(s: Session, rows: list[dict[str, Any]]) -> int:
    added = 0
    for values in rows:
        if s.scalar(select(Row.id).where(Row.event_id == values["event_id"], Row.route == values["route"])):
            continue  # the same notice submitted again (a restart, another hub)
        try:
            with s.begin_nested():
                s.add(Row(**values))
            added += 1
        except IntegrityError:
            continue
    return added


def escalation_notice(row: Row, open_devices: list[str], now: float) -> AlertNotice:
    items = tuple(NoticeItem(**i) for i in row.notice["items"] if i["device"] in open_devices)
    return AlertNotice(
        event_id=f"{row.event_id}:escalate:{row.route}",
        group_key=row.notice.get("group_key", ""),
        status="firing",
        kind=FactKind(row.kind),
        severity=Severity(row.severity),
        district=row.district,
        commune=row.commune,
        items=items,
        created_at=now,
        link_path=row.notice.get("link_path", "/alerts"),
        quiet_hours_exempt=True,  # nobody answered: the next level must hear it now
        open_items=len(items),
    )


class Escalator:
    def __init__(
        self,
        cfg: NotifyConfig,
        db: Database,
        tz: ZoneInfo,
        public_url: str,
        clock: Callable[[], float],
        names: Callable[[], dict[tuple[str, str], str]],
        live: Callable[[str], bool],
        wake: Callable[[], None],
    ) -> None:
        self.cfg = cfg
        self.db = db
        self.tz = tz
        self.public_url = public_url
        self.clock = clock
        self.names = names
        self.live = live
        self.wake = wake
        self.acks: Callable[[], AlertAcks | None] = lambda: None
        self.escalated = 0

    def _routes(self) -> dict[str, Any]:
        return {r.name: r for r in self.cfg.routes}

    async def check(self) -> int:
        """Decides every row that is due; returns how many were escalated."""
        acks = self.acks()
        if acks is None:
            return 0  # no alert engine in this process: nothing can say who acknowledged
        now = self.clock()
        now_dt = to_db_time(now)
        routes = self._routes()

        def decide(s: Session) -> int:
            sent = 0
            due = s.scalars(
                select(Row)
                .where(Row.state == ESC_WAITING, Row.due_at <= now_dt)
                .order_by(Row.due_at)
                .limit(100)
            ).all()
            for row in due:
                devices = [i["device"] for i in row.notice["items"]]
                still = acks.open_unacknowledged(s, row.kind, row.district, row.commune, devices)
                route = routes.get(row.route)
                row.decided_at = now_dt
                if not still or route is None or route.escalate is None:
                    row.state = ESC_CLOSED  # acknowledged or over (or the route no longer escalates)
                    continue
                row.state, row.devices = ESC_SENT, still
                notice = escalation_notice(row, still, now)
                outbox.store(s, self._rows(notice, route.escalate.receivers, row), now_dt)
                record_change(s, actor=ACTOR, action="alert.escalate", target=f"escalation:{row.id}", now=now_dt,
                              after={"event_id": row.event_id, "route": row.route, "kind": row.kind,
                                     "devices": still, "after_min": row.after_min},
                              district=row.district, commune=row.commune)  # fmt: skip
                sent += 1
            return sent

        sent = await self.db.run(decide)
        if sent:
            self.escalated += sent
            log.warning("notify: %d alert group(s) escalated: nobody acknowledged them in time", sent)
            self.wake()
        return sent

    def _rows(self, notice: AlertNotice, receivers: list[Any], row: Row) -> list[NewRow]:
        after = f"{row.after_min:g}"
        text = (f"⏫ [Chuyển cấp] Chưa ai xác nhận sau {after} phút\n"
                + render_notice(notice, self.names(), self.tz, self.public_url, self.cfg.max_chars - 60))  # fmt: skip
        out = []
        for rcv in receivers:
            pairs, why = resolve(rcv, self.cfg.groups, notice.district, notice.commune)
            for channel, target in pairs:
                out.append(self._row(notice, text, channel, target, rcv.name or target, row.route,
                                     PENDING if self.live(channel) else DRY_RUN, None))  # fmt: skip
            if why is not None:
                out.append(self._row(notice, text, CHANNEL_NONE, why[:100], "", row.route, UNROUTED, why))
        return out

    def _row(self, n: AlertNotice, text: str, channel: str, target: str, name: str, route: str, state: str,
             error: str | None) -> NewRow:  # fmt: skip
        now = to_db_time(self.clock())
        return NewRow(event_id=n.event_id, channel=channel, target=target, target_name=name,
                      route=f"{route} (chuyển cấp)"[:100], kind=str(n.kind), severity=str(n.severity),
                      notice_status="escalated", district=n.district, commune=n.commune, text=text,
                      snapshot_camera=None, state=state, next_try_at=now, held_until=None,
                      last_error=error)  # fmt: skip

    async def run(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(CHECK_S)
