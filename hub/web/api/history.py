"""/api/v1/cameras/{d}/{c}/{id}/history: one camera's measurements over time, read back from InfluxDB.

`metric` and `range` come from fixed tables; the camera is looked up in SQL within the caller's scope first
(404 otherwise), and its tag values reach InfluxQL only through `string_literal`. When InfluxDB is disabled or
cannot answer, the route says so with a 503 and a Vietnamese message; the page shows it instead of a chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from hub.core.config import InfluxRetention
from hub.core.db import Camera
from hub.core.influx_read import (
    InfluxReader,
    InfluxReadError,
    Series,
    finite,
    identifier,
    tag_conditions,
    time_literal,
)
from hub.core.influx_tiers import RAW, pick_tier
from hub.core.openapi import ApiRoute, Param
from hub.web import params
from hub.web.access import Perm, requires
from hub.web.api.cameras import CAMERA_PARAMS, CAMERA_PATH, _camera_or_404
from hub.web.context import ctx
from hub.web.errors import ApiError
from hub.web.jsonout import json_response

MEASUREMENT = "camera_health"


@dataclass(frozen=True)
class Metric:
    field: str
    label: str  # shown on the page
    unit: str


NUMERIC_METRICS: dict[str, Metric] = {
    "fps": Metric("fps", "Số khung hình/giây", "fps"),
    "brightness": Metric("brightness", "Độ sáng (0–255)", ""),
    "contrast": Metric("contrast", "Độ tương phản (0–255)", ""),
    "sharpness": Metric("sharpness", "Độ nét", ""),
    "motion": Metric("motion", "Chuyển động (0–255)", ""),
    "open_ms": Metric("open_ms", "Thời gian mở luồng", "ms"),
    "probe_ms": Metric("probe_ms", "Thời gian kiểm tra", "ms"),
}
STATUS_METRIC = "status"  # last status per bucket and the share of probes that had a picture
METRICS = (*NUMERIC_METRICS, STATUS_METRIC)

# Range → bucket: about 120–170 points whatever the range, enough for a chart a phone can draw.
RANGES: dict[str, tuple[timedelta, int]] = {
    "6h": (timedelta(hours=6), 120),
    "24h": (timedelta(hours=24), 600),
    "7d": (timedelta(days=7), 3600),
    "30d": (timedelta(days=30), 6 * 3600),
}
DEFAULT_RANGE = "24h"


@dataclass(frozen=True)
class HistoryQuery:
    metric: str
    range: str
    start: datetime  # aware UTC
    end: datetime
    step_s: int
    text: str  # InfluxQL, one or two statements
    source: str  # the tier read: raw, m5, h1 (hub/core/influx_tiers.py); raw when the layout is not managed


def build_query(
    metric: str, range_: str, tags: dict[str, str], now: datetime, retention: InfluxRetention | None = None
) -> HistoryQuery:
    """The InfluxQL for one camera's history; `now` is aware or naive UTC. With `retention` (the hub manages
    InfluxDB's tiers) a long range reads the 5-minute or 1-hour series instead of every probe. Raises KeyError
    on an unknown metric or range (the handler validated both already)."""
    span, step = RANGES[range_]
    end = (now if now.tzinfo is not None else now.replace(tzinfo=UTC)).astimezone(UTC)
    start = end - span
    tier = pick_tier(start, end, end, retention) if retention is not None else RAW
    raw = tier is RAW
    where = f"{tag_conditions(tags)} AND time >= {time_literal(start)} AND time < {time_literal(end)}"
    group = f"GROUP BY time({step}s) fill(none)"
    src = identifier(MEASUREMENT)
    if retention is not None:
        src = f"{identifier(tier.name)}.{src}"
    if metric == STATUS_METRIC and raw:
        text = (
            f'SELECT last("status") AS "status", last("problems") AS "problems", count("problem_count") AS "probes" '
            f"FROM {src} WHERE {where} {group}; "
            f'SELECT count("problem_count") AS "online" FROM {src} WHERE {where} AND "online" = true {group}'
        )
    elif metric == STATUS_METRIC:
        # downsampled points carry their probe counts (hub/core/influx_downsample.py)
        text = (
            f'SELECT last("status") AS "status", last("problems") AS "problems", sum("probes") AS "probes", '
            f'sum("online_probes") AS "online" FROM {src} WHERE {where} {group}'
        )
    else:
        name = NUMERIC_METRICS[metric].field
        f = identifier(name)
        lo, hi = (f, f) if raw else (identifier(f"{name}_min"), identifier(f"{name}_max"))
        text = f'SELECT mean({f}) AS "mean", min({lo}) AS "min", max({hi}) AS "max" FROM {src} WHERE {where} {group}'
    return HistoryQuery(metric, range_, start, end, step, text, tier.name)


def _iso_ms(ms: Any) -> str:
    return datetime.fromtimestamp(float(ms) / 1000, UTC).isoformat().replace("+00:00", "Z")


def _rows(results: list[list[Series]], i: int) -> list[dict[str, Any]]:
    if i >= len(results):
        return []
    return [row for s in results[i] for row in s.rows()]


def shape_points(metric: str, results: list[list[Series]]) -> list[dict[str, Any]]:
    """Points in time order: {t, mean, min, max} or {t, status, problems, probes, online_ratio}."""
    if metric != STATUS_METRIC:
        return [
            {
                "t": _iso_ms(r["time"]),
                "mean": finite(r.get("mean")),
                "min": finite(r.get("min")),
                "max": finite(r.get("max")),
            }
            for r in _rows(results, 0)
        ]
    rows = _rows(results, 0)
    if len(results) > 1:
        online = {r["time"]: int(r.get("online") or 0) for r in _rows(results, 1)}
    else:  # one statement (downsampled): the count is a column of its own
        online = {r["time"]: int(r.get("online") or 0) for r in rows}
    points = []
    for r in rows:
        probes = int(r.get("probes") or 0)
        problems = r.get("problems")
        points.append(
            {
                "t": _iso_ms(r["time"]),
                "status": r.get("status") if isinstance(r.get("status"), str) else None,
                "problems": [p for p in problems.split(",") if p] if isinstance(problems, str) else [],
                "probes": probes,
                "online_ratio": round(online.get(r["time"], 0) / probes, 4) if probes else None,
            }
        )
    return points


def history_unavailable(message: str) -> ApiError:
    return ApiError(503, "history_unavailable", message)


# InfluxDB's words when the retention layout does not exist yet ("not executed": the statements after the one
# that found no retention policy).
NO_LAYOUT_YET = ("retention policy not found", "not executed")


@requires(Perm.VIEW_CAMERAS)
async def get_history(request: web.Request) -> web.Response:
    cam: Camera = await _camera_or_404(request)
    c = ctx(request)
    metric = params.choice(request, "metric", METRICS) or "fps"
    range_ = params.choice(request, "range", tuple(RANGES)) or DEFAULT_RANGE
    if not c.config.influx.enabled:
        raise history_unavailable("Hub chưa bật InfluxDB nên chưa có lịch sử số đo")
    tags = {"district": cam.district, "commune": cam.commune, "camera": cam.slug}
    influx = c.config.influx
    q = build_query(metric, range_, tags, c.clock(), influx.retention if influx.retention.manage else None)
    try:
        results = await InfluxReader(c.config.influx).query(q.text)
    except InfluxReadError as exc:
        if any(m in str(exc) for m in NO_LAYOUT_YET):
            # The hub creates its retention layout before its first write: nothing was ever written yet.
            results = []
        else:
            c.count("history_influx_errors")
            raise history_unavailable(f"Không đọc được lịch sử số đo: {exc}") from None
    info = NUMERIC_METRICS.get(metric)
    return json_response(
        {
            "camera": cam.key,
            "metric": metric,
            "label": info.label if info else "Trạng thái",
            "unit": info.unit if info else "",
            "range": range_,
            "step_s": q.step_s,
            "source": q.source,
            "from": q.start.isoformat().replace("+00:00", "Z"),
            "to": q.end.isoformat().replace("+00:00", "Z"),
            "points": shape_points(metric, results),
        }
    )


_N = {"type": ["number", "null"]}
POINT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["t"],
    "properties": {
        "t": {"type": "string", "format": "date-time", "description": "Start of the bucket (UTC)"},
        "mean": _N,
        "min": _N,
        "max": _N,
        "status": {"type": ["string", "null"], "description": "metric=status: last status in the bucket"},
        "problems": {"type": "array", "items": {"type": "string"}},
        "probes": {"type": "integer", "description": "metric=status: probes in the bucket"},
        "online_ratio": {**_N, "description": "metric=status: share of probes that decoded frames"},
    },
}
HISTORY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["camera", "metric", "label", "unit", "range", "step_s", "source", "from", "to", "points"],
    "properties": {
        "camera": {"type": "string"},
        "metric": {"type": "string", "enum": list(METRICS)},
        "label": {"type": "string"},
        "unit": {"type": "string"},
        "range": {"type": "string", "enum": list(RANGES)},
        "step_s": {"type": "integer"},
        "source": {
            "type": "string",
            "enum": ["raw", "m5", "h1"],
            "description": "InfluxDB series read: every probe, 5-minute or 1-hour aggregates (docs/INFLUX.md)",
        },
        "from": {"type": "string", "format": "date-time"},
        "to": {"type": "string", "format": "date-time"},
        "points": {"type": "array", "items": POINT_SCHEMA},
    },
}

ROUTES = [
    ApiRoute(
        "GET",
        CAMERA_PATH + "/history",
        get_history,
        "One camera's measurements over time from InfluxDB (mean/min/max per bucket, or status per bucket); "
        "503 when InfluxDB is disabled or unreachable",
        params=(
            *CAMERA_PARAMS,
            Param("metric", "What to chart (default fps)", {"type": "string", "enum": list(METRICS)}),
            Param("range", "How far back (default 24h)", {"type": "string", "enum": list(RANGES)}),
        ),
        response=HISTORY_SCHEMA,
        errors=(400, 401, 403, 404, 503),
    ),
]
