"""/api/v1/speakers/{d}/{c}/{id}/history: one speaker's health over time (signal, free disk, output level, clock
offset, volume) from `speaker_health` in InfluxDB, for the trend chart on the speakers page.

Same shape, ranges and tiers as the camera history (hub/web/api/history.py), so the page draws it with the same
vendored chart code (static/chart.js). The speaker is looked up in SQL within the caller's scope first (404
otherwise); its tags reach InfluxQL only through `tag_conditions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hub.core.influx_read import InfluxReader, InfluxReadError, identifier, tag_conditions, time_literal
from hub.core.influx_tiers import RAW, pick_tier
from hub.core.openapi import ApiRoute, Param
from hub.core.speaker_models import Speaker
from hub.web import params
from hub.web.access import Perm, in_scope, principal, requires
from hub.web.api.history import (
    DEFAULT_RANGE,
    HISTORY_SCHEMA,
    NO_LAYOUT_YET,
    RANGES,
    history_unavailable,
    shape_points,
)
from hub.web.context import ctx
from hub.web.errors import not_found
from hub.web.jsonout import json_response

MEASUREMENT = "speaker_health"
SLUG = params.SLUG_PATTERN


@dataclass(frozen=True)
class Metric:
    field: str
    low: str  # the downsampled series' field holding the bucket's minimum (hub/core/influx_downsample.py)
    label: str
    unit: str


METRICS: dict[str, Metric] = {
    "signal_dbm": Metric("signal_dbm", "signal_dbm_min", "Cường độ sóng", "dBm"),
    "level_dbfs": Metric("level_dbfs", "level_dbfs_min", "Mức âm thanh ra loa (khi phát)", "dBFS"),
    "disk_free_mb": Metric("disk_free_mb", "disk_free_mb", "Bộ nhớ còn trống", "MB"),
    "clock_offset_ms": Metric("clock_offset_ms", "clock_offset_ms", "Lệch đồng hồ so với giờ chuẩn", "ms"),
    "volume": Metric("volume", "volume", "Âm lượng", ""),
}


def speaker_query(
    metric: str, range_: str, tags: dict[str, str], now: datetime, managed: Any
) -> tuple[str, Any]:
    """InfluxQL for one speaker's metric and the tier it reads (`managed`: the retention settings when the hub
    manages InfluxDB's tiers, else None)."""
    span, step = RANGES[range_]
    end = (now if now.tzinfo is not None else now.replace(tzinfo=UTC)).astimezone(UTC)
    start = end - span
    tier = pick_tier(start, end, end, managed) if managed is not None else RAW
    m = METRICS[metric]
    src = identifier(MEASUREMENT) if managed is None else f"{identifier(tier.name)}.{identifier(MEASUREMENT)}"
    f = identifier(m.field)
    lo = f if tier is RAW else identifier(m.low)
    where = f"{tag_conditions(tags)} AND time >= {time_literal(start)} AND time < {time_literal(end)}"
    text = (
        f'SELECT mean({f}) AS "mean", min({lo}) AS "min", max({f}) AS "max" FROM {src} WHERE {where} '
        f"GROUP BY time({step}s) fill(none)"
    )
    return text, (tier, start, end, step)


@requires(Perm.VIEW_SPEAKERS)
async def get_history(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    d, co, sp = request.match_info["district"], request.match_info["commune"], request.match_info["speaker"]
    key = f"{d}/{co}/{sp}"
    if not in_scope(p, d, co) or await c.db.run(lambda s: s.get(Speaker, key)) is None:
        raise not_found("Không tìm thấy loa")
    metric = params.choice(request, "metric", tuple(METRICS)) or "signal_dbm"
    range_ = params.choice(request, "range", tuple(RANGES)) or DEFAULT_RANGE
    influx = c.config.influx
    if not influx.enabled:
        raise history_unavailable("Hub chưa bật InfluxDB nên chưa có lịch sử số đo")
    managed = influx.retention if influx.retention.manage else None
    text, (tier, start, end, step) = speaker_query(metric, range_, {"district": d, "commune": co, "speaker": sp},
                                                   c.clock(), managed)  # fmt: skip
    try:
        results = await InfluxReader(influx).query(text)
    except InfluxReadError as exc:
        if not any(m in str(exc) for m in NO_LAYOUT_YET):
            c.count("history_influx_errors")
            raise history_unavailable(f"Không đọc được lịch sử số đo: {exc}") from None
        results = []  # the hub has not written anything yet
    m = METRICS[metric]
    return json_response(
        {
            "speaker": key,
            "metric": metric,
            "label": m.label,
            "unit": m.unit,
            "range": range_,
            "step_s": step,
            "source": tier.name,
            "from": start.isoformat().replace("+00:00", "Z"),
            "to": end.isoformat().replace("+00:00", "Z"),
            "points": shape_points(metric, results),
        }
    )


_SCHEMA = {
    **HISTORY_SCHEMA,
    "required": ["speaker", *(k for k in HISTORY_SCHEMA["required"] if k != "camera")],
    "properties": {
        **{k: v for k, v in HISTORY_SCHEMA["properties"].items() if k != "camera"},
        "speaker": {"type": "string", "description": "the speaker's key (district/commune/id)"},
        "metric": {"type": "string", "enum": list(METRICS)},
    },
}
ROUTES = [
    ApiRoute(
        "GET",
        f"/speakers/{{district:{SLUG}}}/{{commune:{SLUG}}}/{{speaker:{SLUG}}}/history",
        get_history,
        "One speaker's health over time from InfluxDB (mean/min/max per bucket); 503 when InfluxDB is "
        "disabled or unreachable",
        params=(
            Param("district", "District", params.SLUG, where="path", example="soc-son"),
            Param("commune", "Commune", params.SLUG, where="path", example="phu-linh"),
            Param("speaker", "Speaker id", params.SLUG, where="path", example="loa-cho"),
            Param("metric", "What to chart (default signal_dbm)", {"type": "string", "enum": list(METRICS)}),
            Param("range", "How far back (default 24h)", {"type": "string", "enum": list(RANGES)}),
        ),
        response=_SCHEMA,
        errors=(400, 401, 403, 404, 503),
    ),
]
