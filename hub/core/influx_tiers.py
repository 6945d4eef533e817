"""The resolutions InfluxDB keeps (raw, 5-minute and 1-hour series) and which one a time range reads.

One table, `TIERS`, drives everything that depends on it: the retention policies (1.x) or buckets (2.x) the hub
creates (hub/core/influx_retention.py), the downsampling between them (hub/core/influx_downsample.py), the
camera page's history (hub/web/api/history.py) and Grafana's `$rp` variable, which reads the `rp_config`
points written here. Pure functions; times are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.core.config import InfluxRetention
from hub.core.lineproto import FieldValue, line, series_key

DAY_S = 86400


@dataclass(frozen=True)
class Tier:
    name: str  # retention policy (1.x) or DBRP retention-policy name of its bucket (2.x)
    step_s: int  # aggregation interval; 0 for raw points
    max_span_s: int  # the longest time range read from this tier (a 7-day chart of raw points is too heavy)
    shard_s: int  # InfluxDB shard group duration: longer for sparse series, fewer files

    def days(self, r: InfluxRetention) -> int:
        return {"raw": r.raw_days, "m5": r.m5_days, "h1": r.h1_days}[self.name]

    def duration(self, r: InfluxRetention) -> str:
        return f"{self.days(r)}d"

    def shard_duration(self, r: InfluxRetention) -> str:
        # InfluxDB refuses a shard group longer than the policy's own duration.
        return f"{min(self.shard_s, self.days(r) * DAY_S) // 3600}h"


RAW = Tier("raw", 0, DAY_S, DAY_S)
M5 = Tier("m5", 300, 7 * DAY_S, 7 * DAY_S)
H1 = Tier("h1", 3600, 100 * 365 * DAY_S, 30 * DAY_S)
TIERS = (RAW, M5, H1)
BY_NAME = {t.name: t for t in TIERS}
# Where each downsampled tier is computed from: the 1-hour series from the 5-minute one (12x fewer points to read).
SOURCE = {"m5": RAW, "h1": M5}
# Holds `rp_config` (a few points that never expire) for Grafana's choice of tier.
META_RP = "forever"
RP_CONFIG = "rp_config"


def pick_tier(start: datetime, end: datetime, now: datetime, r: InfluxRetention) -> Tier:
    """The finest tier that still holds `start` and whose points a range of this length can afford to scan;
    the 1-hour series when none does."""
    span = (end - start).total_seconds()
    for t in TIERS:
        if span <= t.max_span_s and start >= now - timedelta(days=t.days(r)):
            return t
    return H1


def rp_config_lines(now_ms: int, r: InfluxRetention) -> list[str]:
    """Grafana's `$rp` query picks the first of these (by time: raw, m5, h1) whose `max_span_ms` covers the
    dashboard's range and whose `oldest_ms` is not after its start. The hub rewrites them every hour so that
    `oldest_ms` follows the clock; the 1-hour tier always qualifies."""
    out = []
    for i, t in enumerate(TIERS):
        oldest = 0 if t is H1 else now_ms - t.days(r) * DAY_S * 1000
        fields: dict[str, FieldValue | None] = {
            "rp": t.name,
            "max_span_ms": t.max_span_s * 1000,
            "oldest_ms": max(oldest, 0),
        }
        out.append(line(series_key(RP_CONFIG, {"tier": t.name}), fields, i))
    return out


# What dashboards use as their `$rp` template variable (dashboards/grafana_json.py builds it from this).
RP_VARIABLE_QUERY = (
    f'SELECT first("rp") FROM "{META_RP}"."{RP_CONFIG}" '
    'WHERE "max_span_ms" >= $__to - $__from AND "oldest_ms" <= $__from'
)
