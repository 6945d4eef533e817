"""InfluxDB 2.x's side of the layout: one bucket per tier, downsampling tasks, DBRP mappings, `rp_config`.

The raw bucket is `influx.bucket` (points are written there); the others are named after it: `<bucket>_5m`,
`<bucket>_1h` and `<bucket>_meta` (never expires; holds `rp_config`). Each bucket is mapped to the v1 database
name `influx.database` with the tier's name as its retention policy (`raw`, `m5`, `h1`, `forever`), so the
InfluxQL of the dashboards and of the camera page reads `"m5"."camera_health"` on 2.x as on 1.x. Tasks carry the
same aggregates as the 1.x continuous queries (hub/core/influx_downsample.py `flux_task`).

InfluxDB 2.x cannot run here (see docs/INFLUX.md): the statements are built by tested pure functions; this
module only sends them through influxdb-client, in a thread, like hub/core/influx_v2.py.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from hub.core.config import InfluxConfig
from hub.core.influx_downsample import PREFIX, all_groups, flux_body, flux_task
from hub.core.influx_retention import FieldTypes, InfluxSchemaError, align
from hub.core.influx_send import InfluxUnavailable
from hub.core.influx_tiers import H1, M5, META_RP, RAW, TIERS, rp_config_lines

log = logging.getLogger("hub.influx")


def bucket_names(bucket: str) -> dict[str, str]:
    """tier or `forever` → bucket name."""
    return {RAW.name: bucket, M5.name: f"{bucket}_5m", H1.name: f"{bucket}_1h", META_RP: f"{bucket}_meta"}


def wanted_tasks(cfg: InfluxConfig, fields: dict[str, type]) -> dict[str, str]:
    """task name → Flux, for every downsampled tier and group."""
    assert cfg.bucket and cfg.org
    buckets = bucket_names(cfg.bucket)
    out = {}
    for t in TIERS[1:]:
        for g in all_groups(fields):
            name, flux = flux_task(g, t, buckets, cfg.org)
            out[name] = flux
    return out


class RetentionV2:
    def __init__(self, cfg: InfluxConfig, fields: FieldTypes) -> None:
        if not (cfg.token and cfg.org and cfg.bucket):
            raise ValueError("influx api v2 needs token, org and bucket")
        self._cfg = cfg
        self._fields = fields

    async def apply(self, now_ms: int) -> list[str]:
        fields = dict(self._fields())
        try:
            return await asyncio.to_thread(self._apply, now_ms, fields)
        except InfluxSchemaError:
            raise
        except Exception as exc:
            status = getattr(exc, "status", None)
            if status is not None and 400 <= int(status) < 500:
                raise InfluxSchemaError(f"HTTP {status}: {getattr(exc, 'body', exc)!s:.300}") from exc
            raise InfluxUnavailable(f"{self._cfg.url}: {exc!r}") from exc

    def _apply(self, now_ms: int, fields: dict[str, type]) -> list[str]:
        from influxdb_client import BucketRetentionRules, DBRPCreate, DBRPsService, InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS
        from influxdb_client.domain.task_create_request import TaskCreateRequest

        cfg, r = self._cfg, self._cfg.retention
        assert cfg.bucket and cfg.org and cfg.token
        done: list[str] = []
        with InfluxDBClient(
            url=cfg.url, token=cfg.token, org=cfg.org, timeout=int(cfg.timeout_s * 1000)
        ) as c:
            orgs = c.organizations_api().find_organizations(org=cfg.org)
            if not orgs:
                raise InfluxSchemaError(f"organisation {cfg.org!r} not found")
            org_id = orgs[0].id
            buckets_api = c.buckets_api()
            ids: dict[str, str] = {}
            for tier_name, name in bucket_names(cfg.bucket).items():
                seconds = (
                    0
                    if tier_name == META_RP
                    else next(t for t in TIERS if t.name == tier_name).days(r) * 86400
                )
                rules = [BucketRetentionRules(type="expire", every_seconds=seconds)] if seconds else []
                b: Any = buckets_api.find_bucket_by_name(name)
                if b is None:
                    b = buckets_api.create_bucket(bucket_name=name, retention_rules=rules, org_id=org_id)
                    done.append(f"create bucket {name} ({seconds} s)")
                elif _expiry(b) != seconds:
                    b.retention_rules = rules
                    buckets_api.update_bucket(b)
                    done.append(f"set bucket {name} to {seconds} s")
                ids[tier_name] = b.id
            dbrps = DBRPsService(c.api_client)
            mapped = {
                d.retention_policy for d in dbrps.get_dbr_ps(org_id=org_id, db=cfg.database).content or []
            }
            for rp, bucket_id in ids.items():
                if rp not in mapped:
                    dbrps.post_dbrp(
                        DBRPCreate(
                            org_id=org_id,
                            database=cfg.database,
                            retention_policy=rp,
                            bucket_id=bucket_id,
                            default=rp == RAW.name,
                        )  # fmt: skip
                    )
                    done.append(f"map {cfg.database}/{rp}")
            tasks_api = c.tasks_api()
            have = {
                t.name: t.id
                for t in tasks_api.find_tasks(org_id=org_id, limit=500)
                if t.name.startswith(PREFIX)
            }
            want = wanted_tasks(cfg, fields)
            for name, task_id in have.items():
                if name not in want:
                    tasks_api.delete_task(task_id)
                    done.append(f"delete task {name}")
            for name, flux in want.items():
                if name not in have:
                    tasks_api.create_task(
                        task_create_request=TaskCreateRequest(org_id=org_id, flux=flux, status="active")
                    )
                    done.append(f"create task {name}")
            body = "\n".join(rp_config_lines(now_ms, r))
            c.write_api(write_options=SYNCHRONOUS).write(
                bucket=bucket_names(cfg.bucket)[META_RP], org=cfg.org, record=body, write_precision="ms"
            )
        for d in done:
            log.info("InfluxDB: %s", d)
        return done

    async def backfill(self, start: datetime, end: datetime) -> int:
        """The tasks' Flux over [start, end), 5-minute buckets first; returns the number of scripts run (the
        query API does not say how many points `to()` wrote)."""
        return await asyncio.to_thread(self._backfill, start, end, dict(self._fields()))

    def _backfill(self, start: datetime, end: datetime, fields: dict[str, type]) -> int:
        from influxdb_client import InfluxDBClient

        cfg = self._cfg
        assert cfg.bucket and cfg.org and cfg.token
        n = 0
        with InfluxDBClient(
            url=cfg.url, token=cfg.token, org=cfg.org, timeout=int(cfg.timeout_s * 1000)
        ) as c:
            q = c.query_api()
            for t in TIERS[1:]:
                # whole buckets: a partial one would overwrite the bucket with part of its points
                span = f"start: {_rfc3339(align(start, t, True))}, stop: {_rfc3339(align(end, t, False))}"
                for g in all_groups(fields):
                    q.query(flux_body(g, t, bucket_names(cfg.bucket), cfg.org, span), org=cfg.org)
                    n += 1
        return n


def _rfc3339(dt: datetime) -> str:
    aware = dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _expiry(bucket: Any) -> int:
    for rule in bucket.retention_rules or []:
        if rule.type == "expire":
            return int(rule.every_seconds or 0)
    return 0
