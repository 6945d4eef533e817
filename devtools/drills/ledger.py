"""The books of a drill: what the devices say they published against what the hub stored and told.

- health published: the edge agent's own record, one DEBUG line `probe camera=… seq=…` per health message,
  written only once the message is in its outbox (on disk): what a power cut cannot take back;
- health stored: points of `camera_health` in InfluxDB, per camera (a point is keyed by camera and device time,
  so a redelivered message overwrites itself and cannot be counted twice);
- transitions, alerts and Zalo notices from the hub's SQL and the fake Zalo (a notice sent twice is a duplicate).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from devtools.drills.stack import AGENT_KEY, INFLUX_DB, Stack
from devtools.services import influx_query

PROBE_RE = re.compile(r"probe camera=(?P<camera>\S+) seq=(?P<seq>\d+)")
BOOT_RE = re.compile(r"edge agent starting agent=\S+ boot=(?P<boot>\w+)")


@dataclass
class Books:
    published: Counter[str] = field(default_factory=Counter)  # camera → health messages the box queued
    stored: Counter[str] = field(default_factory=Counter)  # camera → points in InfluxDB
    boots: int = 0

    @property
    def lost(self) -> int:
        return sum(max(0, n - self.stored[c]) for c, n in self.published.items())

    @property
    def total_published(self) -> int:
        return sum(self.published.values())

    @property
    def total_stored(self) -> int:
        return sum(self.stored[c] for c in self.published)


def health_books(stack: Stack) -> Books:
    books = Books()
    text = (stack.workdir / "agent.log").read_text(errors="replace")
    books.boots = len(BOOT_RE.findall(text))
    for m in PROBE_RE.finditer(text):
        books.published[m["camera"]] += 1
    for result in _series(stack, 'SELECT count("online") FROM "camera_health" GROUP BY "camera"'):
        books.stored[result[0]] = int(result[1])
    return books


def _series(stack: Stack, q: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    results: Any = influx_query(stack.influx_port, INFLUX_DB, q).get("results", [])
    for res in results:
        for s in res.get("series", []):
            out.extend((s["tags"]["camera"], v[1]) for v in s["values"])
    return out


def settle(stack: Stack, within: float, allowed: int = 0) -> tuple[Books, float | None]:
    """Wait until everything the box queued is stored but `allowed` (or `within` passes): the books and the
    seconds it took (None when the books did not balance in time)."""
    t0 = time.monotonic()
    books = health_books(stack)
    while time.monotonic() - t0 < within:
        books = health_books(stack)
        if books.total_published and books.lost <= allowed:
            return books, time.monotonic() - t0
        time.sleep(0.5)
    return books, None


def transitions(stack: Stack, kind: str) -> list[tuple[str, float, str | None, str]]:
    """(subject, at as epoch seconds, from, to) of every recorded change of `kind` (camera / edge)."""
    rows = stack.sql(
        "SELECT subject_key, at, from_status, to_status FROM transitions WHERE subject_kind = ? ORDER BY at, id",
        kind,
    )
    return [(r[0], epoch(r[1]), r[2], r[3]) for r in rows]


def epoch(value: Any) -> float:
    if isinstance(value, datetime):
        dt = value
    else:
        dt = datetime.fromisoformat(str(value))
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def transitions_twice(stack: Stack) -> int:
    """Transitions recorded more than once (same subject, time and change): a replay applied twice."""
    rows = stack.sql("SELECT subject_kind, subject_key, at, from_status, to_status FROM transitions")
    seen = Counter(tuple(str(v) for v in r) for r in rows)
    return sum(n - 1 for n in seen.values() if n > 1)


def agent_state(stack: Stack) -> str | None:
    rows = stack.sql("SELECT state FROM agents WHERE key = ?", AGENT_KEY)
    return str(rows[0][0]) if rows else None


def camera_states(stack: Stack) -> dict[str, str]:
    return {str(k): str(v) for k, v in stack.sql("SELECT slug, status FROM cameras")}


def alerts_fired(stack: Stack) -> Counter[str]:
    """Alert kind → episodes that fired and were not held back by inhibition (what was told)."""
    rows = stack.sql("SELECT kind, episode, inhibited, fired_at FROM alerts")
    return Counter(str(k) for k, ep, inhibited, fired in rows if fired is not None and not inhibited)


def notices(stack: Stack) -> tuple[int, int]:
    """(messages the fake Zalo accepted, of which duplicates: the same text to the same target again)."""
    msgs = stack.zalo_messages()
    seen = Counter((m.get("target"), m.get("text")) for m in msgs)
    return len(msgs), sum(n - 1 for n in seen.values() if n > 1)
