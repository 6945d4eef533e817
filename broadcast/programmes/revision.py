"""The schedule revision: a counter in the settings table that every programme change bumps, so the scheduler
leader (on any worker) sees that programmes changed and replans."""

from __future__ import annotations

from sqlalchemy.orm import Session

from hub.core.db import Setting

SCHEDULE_REV_KEY = "broadcast.schedule_rev"


def bump_schedule_rev(s: Session) -> None:
    """Tells every scheduler (on any worker) that programmes changed; the leader replans within seconds."""
    row = s.get(Setting, SCHEDULE_REV_KEY)
    if row is None:
        s.add(Setting(key=SCHEDULE_REV_KEY, value="1"))
    else:
        row.value = str(int(row.value) + 1 if row.value.isdigit() else 1)


def schedule_rev(s: Session) -> str:
    row = s.get(Setting, SCHEDULE_REV_KEY)
    return row.value if row is not None else "0"
