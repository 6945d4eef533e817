"""When cameras were in a maintenance window, for the uptime reports (the `MAINTENANCE_WINDOWS` service).

Only windows of type `maintenance` count (an ad-hoc silence quiets messages, it does not excuse an outage), and
only those that apply to camera alerts: no kind, or a camera kind. A window ended early counts until it ended.
Runs in the SQL thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub.alerts.models import Silence
from hub.core.db import to_db_time, utc
from hub.core.facts import FactKind
from hub.core.maintenance_rules import Interval, Recurrence, Window, merge, window_intervals

CAMERA_KINDS = (None, FactKind.CAMERA_OFFLINE.value, FactKind.CAMERA_PROBLEM.value)


def _aware(dt: datetime) -> datetime:
    u = utc(dt)
    assert u is not None
    return u


def maintenance_intervals(
    s: Session, cameras: Sequence[tuple[str, str, str]], start: datetime, end: datetime, tz: ZoneInfo
) -> dict[str, list[Interval]]:
    lo, hi = _aware(start), _aware(end)
    rows = list(
        s.scalars(
            select(Silence).where(
                Silence.type == "maintenance",
                Silence.starts_at < to_db_time(hi.timestamp()),
                Silence.ends_at > to_db_time(lo.timestamp()),
                or_(Silence.kind.is_(None), Silence.kind.in_([k for k in CAMERA_KINDS if k])),
            )
        )
    )
    windows = []
    for x in rows:
        try:
            rule = Recurrence.model_validate(x.recurrence) if x.recurrence else None
        except ValueError:
            continue
        w = Window(_aware(x.starts_at), _aware(x.expired_at or x.ends_at), rule)
        windows.append((x, window_intervals(w, lo, hi, tz)))
    out: dict[str, list[Interval]] = {}
    for key, district, commune in cameras:
        got = [
            iv
            for x, ivs in windows
            if (x.district is None or x.district == district)
            and (x.commune is None or x.commune == commune)
            and (x.device is None or x.device == key)
            for iv in ivs
        ]
        if got:
            out[key] = merge(got)
    return out
