"""Creates and keeps InfluxDB 1.x's layout: retention policies per tier, continuous queries, `rp_config`.

Idempotent, so every hub (and every restart) runs it: a missing policy is created, one whose horizon changed in
the config is altered (shards already written keep their size), `raw` is made the database's default (queries
and writers that name no policy read and write raw points), continuous queries named with the hub's prefix but
not wanted any more are dropped and the wanted ones created. Several hubs racing through it converge.

`backfill` runs the continuous queries' SELECT … INTO over a past range: for points that arrived later than
the queries look back (an edge box replaying a long outage), and for tests (the tests' influxd runs no CQs).
InfluxDB 2.x: hub/core/influx_retention_v2.py.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from hub.core.config import InfluxConfig
from hub.core.influx_downsample import PREFIX, all_groups, cq_name, create_cq, select_into
from hub.core.influx_read import identifier, time_literal
from hub.core.influx_send import InfluxUnavailable
from hub.core.influx_tiers import META_RP, RAW, TIERS, Tier, rp_config_lines
from hub.core.lineproto import PRECISION

log = logging.getLogger("hub.influx")

FieldTypes = Callable[[], Mapping[str, type]]
BACKFILL_CHUNK = timedelta(days=1)


class InfluxSchemaError(Exception):
    """InfluxDB refused a layout statement (no admin rights, bad statement): said in the log and the stats; the
    hub keeps writing."""


_DURATION = re.compile(r"(\d+)([hms])")


def duration_s(text: str) -> int:
    """InfluxDB's `168h0m0s` in seconds; `0s` (infinite) is 0."""
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(int(n) * units[u] for n, u in _DURATION.findall(text))


def rp_statements(existing: Mapping[str, tuple[int, int, bool]], cfg: InfluxConfig) -> list[str]:
    """What brings the policies to the config. `existing`: name → (duration s, shard duration s, default)."""
    r, db = cfg.retention, identifier(cfg.database)
    out = []
    for t in TIERS:
        want = (t.days(r) * 86400, duration_s(t.shard_duration(r)), t is RAW)
        name, default = identifier(t.name), " DEFAULT" if t is RAW else ""
        shard = f"SHARD DURATION {t.shard_duration(r)}"
        have = existing.get(t.name)
        if have is None:
            out.append(
                f"CREATE RETENTION POLICY {name} ON {db} DURATION {t.duration(r)} REPLICATION 1 {shard}{default}"
            )
        elif have[:2] != want[:2] or (t is RAW and not have[2]):
            out.append(f"ALTER RETENTION POLICY {name} ON {db} DURATION {t.duration(r)} {shard}{default}")
    if META_RP not in existing:
        out.append(f"CREATE RETENTION POLICY {identifier(META_RP)} ON {db} DURATION INF REPLICATION 1")
    return out


def cq_statements(existing: list[str], cfg: InfluxConfig, fields: Mapping[str, type]) -> list[str]:
    """Drops the hub's continuous queries that are not wanted any more, creates the missing ones."""
    db = cfg.database
    wanted: dict[str, str] = {}
    for t in TIERS[1:]:
        for g in all_groups(fields):
            wanted[cq_name(g, t, db)] = create_cq(g, t, db)
    drops = [
        f"DROP CONTINUOUS QUERY {identifier(n)} ON {identifier(db)}"
        for n in existing
        if n.startswith(PREFIX) and n not in wanted
    ]
    return drops + [q for n, q in wanted.items() if n not in existing]


class RetentionV1:
    """The hub's side of InfluxDB 1.x's layout, over the same HTTP API the writer uses."""

    def __init__(self, cfg: InfluxConfig, fields: FieldTypes) -> None:
        self._cfg = cfg
        self._fields = fields
        self._base = cfg.url.rstrip("/")
        self._auth = aiohttp.BasicAuth(cfg.username, cfg.password or "") if cfg.username is not None else None
        self._timeout = aiohttp.ClientTimeout(total=max(cfg.timeout_s, 30.0))

    async def _post(self, path: str, params: dict[str, str], data: Any) -> tuple[int, str]:
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout, auth=self._auth) as http,
                http.post(f"{self._base}{path}", params=params, data=data) as resp,
            ):
                return resp.status, await resp.text()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise InfluxUnavailable(f"{self._base} unreachable: {exc!r}") from exc

    async def query(self, q: str) -> list[dict[str, Any]]:
        """Runs statements; returns InfluxDB's `results`. Raises InfluxSchemaError on a refused statement."""
        status, text = await self._post("/query", {"db": self._cfg.database}, {"q": q})
        if status >= 500:
            raise InfluxUnavailable(f"HTTP {status} from {self._base}/query: {text[:300]}")
        try:
            doc = json.loads(text)
        except ValueError:
            raise InfluxSchemaError(f"HTTP {status}: {text[:300]}") from None
        if status != 200 or "error" in doc:
            raise InfluxSchemaError(f"HTTP {status}: {doc.get('error', text)[:300]}")
        results: list[dict[str, Any]] = doc.get("results") or []
        for res in results:
            if "error" in res:
                raise InfluxSchemaError(f"{res['error'][:300]} (in {q[:200]})")
        return results

    async def _existing_rps(self) -> dict[str, tuple[int, int, bool]]:
        res = await self.query(f"SHOW RETENTION POLICIES ON {identifier(self._cfg.database)}")
        out = {}
        for s in res[0].get("series") or []:
            cols = s["columns"]
            for v in s.get("values") or []:
                row = dict(zip(cols, v, strict=False))
                out[row["name"]] = (
                    duration_s(row["duration"]),
                    duration_s(row["shardGroupDuration"]),
                    bool(row["default"]),
                )
        return out

    async def _existing_cqs(self) -> list[str]:
        res = await self.query("SHOW CONTINUOUS QUERIES")
        return [
            v[0]
            for s in res[0].get("series") or []
            if s.get("name") == self._cfg.database
            for v in s.get("values") or []
        ]

    async def apply(self, now_ms: int) -> list[str]:
        """Brings policies, continuous queries and `rp_config` to the config; returns the statements run."""
        db = identifier(self._cfg.database)
        await self.query(f"CREATE DATABASE {db}")
        run = rp_statements(await self._existing_rps(), self._cfg)
        run += cq_statements(await self._existing_cqs(), self._cfg, await self._hub_fields())
        for q in run:
            try:
                await self.query(q)
            except InfluxSchemaError as exc:
                if "already exists" not in str(exc):  # another hub got there first
                    raise
            log.info("InfluxDB: %s", q[:160])
        await self.write_rp_config(now_ms)
        return run

    async def write_rp_config(self, now_ms: int) -> None:
        body = "\n".join(rp_config_lines(now_ms, self._cfg.retention)).encode()
        params = {"db": self._cfg.database, "rp": META_RP, "precision": PRECISION}
        status, text = await self._post("/write", params, body)
        if status >= 500:
            raise InfluxUnavailable(f"HTTP {status} writing rp_config: {text[:300]}")
        if status != 204:
            raise InfluxSchemaError(f"writing rp_config: HTTP {status}: {text[:300]}")

    async def stored_field_types(self, measurement: str) -> dict[str, type]:
        """The numeric and boolean fields InfluxDB holds for `measurement` in the raw series (a tool that is
        not the running hub does not know its gauges)."""
        res = await self.query(f"SHOW FIELD KEYS FROM {identifier(RAW.name)}.{identifier(measurement)}")
        kinds = {"integer": int, "float": float, "boolean": bool}
        return {
            str(v[0]): kinds[v[1]]
            for s in res[0].get("series") or []
            for v in s.get("values") or []
            if v[1] in kinds
        }

    async def _hub_fields(self) -> dict[str, type]:
        """This hub's `hub_stats` fields and those InfluxDB already holds: hub processes that register other
        gauges (or an older version) then agree on one downsampling query instead of replacing each other's."""
        stored = await self.stored_field_types("hub_stats") if RAW.name in await self._existing_rps() else {}
        return {**stored, **self._fields()}

    async def backfill(self, start: datetime, end: datetime) -> int:
        """Runs every continuous query's SELECT … INTO over [start, end), a day at a time, 5-minute series
        first (the hourly one reads it). Returns the points written."""
        written = 0
        db, fields = self._cfg.database, await self._hub_fields()
        for tier in TIERS[1:]:
            t0, t1 = align(start, tier, floor=True), align(end, tier, floor=False)
            while t0 < t1:
                t_next = min(t0 + BACKFILL_CHUNK, t1)
                span = f"time >= {time_literal(t0)} AND time < {time_literal(t_next)}"
                for g in all_groups(fields):
                    for res in await self.query(select_into(g, tier, db, span)):
                        for s in res.get("series") or []:
                            written += sum(int(v[1]) for v in s.get("values") or [])
                t0 = t_next
        return written


def align(dt: datetime, tier: Tier, floor: bool) -> datetime:
    """`dt` on a bucket boundary of `tier`: down (`floor`) or up."""
    aware = dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
    ts = int(aware.timestamp())
    step = tier.step_s
    ts = ts - ts % step if floor else -(-ts // step) * step
    return datetime.fromtimestamp(ts, UTC)
