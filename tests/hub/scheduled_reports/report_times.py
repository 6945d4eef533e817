"""Local times of the scheduled-report tests (Asia/Ho_Chi_Minh)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def at(s: str) -> float:
    return datetime.fromisoformat(s).replace(tzinfo=TZ).timestamp()
