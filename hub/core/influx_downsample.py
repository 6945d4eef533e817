"""What the 5-minute and 1-hour series hold, and the queries that build them (InfluxQL and Flux).

Each measurement's downsampled points keep the raw field names for the value a chart wants (the mean of a number,
the last of a state), so that one dashboard query reads any tier; the extremes and counts get their own names
(`fps_min`, `fps_max`, `probes`, `online_probes` …; docs/INFLUX.md lists them). The 1-hour series is built from
the 5-minute one: means of means (probes come at a steady rate, so the error is small), min of mins, sums of
counts.

Names of continuous queries and tasks end with a hash of their text, so the hub can tell its current ones from
those an older version left behind and replace them (hub/core/influx_retention.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from hub.core.influx_read import identifier, string_literal
from hub.core.influx_tiers import SOURCE, Tier

PREFIX = "ops_ds_"  # continuous queries (1.x) and tasks (2.x) the hub owns


@dataclass(frozen=True)
class Out:
    """One output field: InfluxQL function over the finer tier's field, with its name there."""

    name: str
    fn: str  # on raw points: mean, min, max, last, count, sum
    src: str  # the raw field it reads
    rollup_fn: str  # on the 5-minute series, over the field `name`

    def expr(self, rollup: bool) -> str:
        fn, field = (self.rollup_fn, self.name) if rollup else (self.fn, self.src)
        return f"{fn}({identifier(field)}) AS {identifier(self.name)}"


def mean(f: str) -> Out:
    return Out(f, "mean", f, "mean")


def last(f: str) -> Out:
    return Out(f, "last", f, "last")


def low(f: str, name: str | None = None) -> Out:
    return Out(name or f"{f}_min", "min", f, "min")


def high(f: str, name: str | None = None) -> Out:
    return Out(name or f"{f}_max", "max", f, "max")


def count(f: str, name: str) -> Out:
    return Out(name, "count", f, "sum")


@dataclass(frozen=True)
class Where:
    """A condition on one field of the raw points (a conditional count); InfluxQL and Flux both render it."""

    field: str
    op: str  # = or >
    value: bool | int | str

    def influxql(self) -> str:
        v = self.value
        lit = (
            ("true" if v else "false")
            if isinstance(v, bool)
            else str(v)
            if isinstance(v, int)
            else string_literal(v)
        )
        return f"{identifier(self.field)} {self.op} {lit}"

    def flux(self) -> str:
        v = self.value
        lit = (
            ("true" if v else "false")
            if isinstance(v, bool)
            else str(v)
            if isinstance(v, int)
            else flux_string(v)
        )
        return f"r._value {'==' if self.op == '=' else self.op} {lit}"


@dataclass(frozen=True)
class Group:
    """Outputs computed by one continuous query (one WHERE clause)."""

    measurement: str
    outs: tuple[Out, ...]
    where: Where | None = None
    late_s: int = 0  # how late points may arrive and still be aggregated (RESAMPLE FOR)
    key: str = "main"

    def __post_init__(self) -> None:
        # Flux sees one field per row: a condition can only be on the field being aggregated.
        if self.where is not None and any(o.src != self.where.field for o in self.outs):
            raise ValueError(
                f"{self.measurement}/{self.key}: a conditional output must read {self.where.field}"
            )


NUMERIC_CAMERA = ("fps", "brightness", "contrast", "sharpness", "motion", "open_ms", "probe_ms")
# How far back each run of a continuous query / task recomputes. Messages take seconds to arrive, so the bucket
# that just closed is computed again one step later (each 5-minute bucket twice: the CPU cost doubles, see
# bench/disk_budget.py). Longer gaps (an edge box replaying hours of queue) are for `hub influx-backfill`.
# Airings are written when they end, up to ~35 minutes after their planned start (their timestamp).
LATE_DEFAULT_S = 10 * 60
LATE_AIRING_S = 2 * 3600


def static_groups() -> list[Group]:
    cam = (
        last("online"),
        last("status"),
        last("problems"),
        last("problem_count"),
        count("problem_count", "probes"),
        last("width"),
        last("height"),
        *(o for f in NUMERIC_CAMERA for o in (mean(f), low(f), high(f))),
    )
    return [
        Group("camera_health", cam, late_s=LATE_DEFAULT_S),
        Group(
            "camera_health",
            (count("online", "online_probes"),),
            Where("online", "=", True),
            LATE_DEFAULT_S,
            "online",
        ),
        Group(
            "camera_health",
            (count("problem_count", "problem_probes"),),
            Where("problem_count", ">", 0),
            LATE_DEFAULT_S,
            "problem",
        ),
        Group(
            "edge_status",
            (
                last("state"),
                last("online"),
                last("version"),
                last("cameras"),
                high("queue", "queue"),
                high("seq_gaps", "seq_gaps"),
                count("state", "reports"),
            ),
            late_s=LATE_DEFAULT_S,
        ),
        Group(
            "edge_status",
            (count("online", "offline_reports"),),
            Where("online", "=", False),
            LATE_DEFAULT_S,
            "offline",
        ),
        Group(
            "speaker_health",
            (
                last("online"),
                Out("online_ratio", "mean", "online", "mean"),
                last("volume"),
                last("amplifier"),
                mean("signal_dbm"),
                low("signal_dbm"),
                low("disk_free_mb", "disk_free_mb"),
                last("cache_mb"),
                mean("level_dbfs"),
                low("level_dbfs"),
                mean("clock_offset_ms"),
                count("online", "reports"),
            ),
            late_s=LATE_DEFAULT_S,
        ),
        Group(
            "speaker_health",
            (count("amplifier", "amplifier_faults"),),
            Where("amplifier", "=", "fault"),
            LATE_DEFAULT_S,
            "fault",
        ),
        Group(
            "airing",
            (
                Out("targeted", "sum", "targeted", "sum"),
                Out("played", "sum", "played", "sum"),
                high("skew_ms", "skew_ms"),
                last("status"),
                last("airing"),
                count("targeted", "airings"),
            ),
            late_s=LATE_AIRING_S,
        ),
    ]


def hub_stats_group(fields: Mapping[str, type]) -> Group | None:
    """`hub_stats` holds totals since start and gauges: the maximum per bucket keeps both meaningful
    (`non_negative_derivative(max(x))` still gives rates); booleans keep their last value. Strings are left."""
    outs = []
    for name in sorted(fields):
        kind = fields[name]
        if kind is bool:
            outs.append(last(name))
        elif kind in (int, float):
            outs.append(high(name, name))
    return Group("hub_stats", tuple(outs), late_s=LATE_DEFAULT_S) if outs else None


def all_groups(hub_fields: Mapping[str, type]) -> list[Group]:
    groups = static_groups()
    hs = hub_stats_group(hub_fields)
    return [*groups, hs] if hs is not None else groups


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _resample(tier: Tier, late_s: int) -> str:
    # Recompute every bucket that may still receive points; at least the bucket that just closed.
    return f"RESAMPLE EVERY {tier.step_s}s FOR {max(late_s, tier.step_s * 2)}s"


def select_into(g: Group, tier: Tier, database: str, time_range: str = "") -> str:
    """The SELECT … INTO … GROUP BY time(step), * of one group into `tier` (a backfill gives `time_range`)."""
    src = SOURCE[tier.name]
    rollup = src.step_s > 0
    conds = [g.where.influxql()] if g.where is not None and not rollup else []
    if time_range:
        conds.append(time_range)
    where = f" WHERE {' AND '.join(conds)}" if conds else ""
    fields = ", ".join(o.expr(rollup) for o in g.outs)
    m = identifier(g.measurement)
    db = identifier(database)
    return (
        f"SELECT {fields} INTO {db}.{identifier(tier.name)}.{m} FROM {db}.{identifier(src.name)}.{m}"
        f"{where} GROUP BY time({tier.step_s}s), *"
    )


def cq_name(g: Group, tier: Tier, database: str) -> str:
    return f"{PREFIX}{tier.name}_{g.measurement}_{g.key}_{_hash(continuous_query_body(g, tier, database))}"


def continuous_query_body(g: Group, tier: Tier, database: str) -> str:
    return f"{_resample(tier, g.late_s)} BEGIN {select_into(g, tier, database)} END"


def create_cq(g: Group, tier: Tier, database: str) -> str:
    name = cq_name(g, tier, database)
    body = continuous_query_body(g, tier, database)
    return f"CREATE CONTINUOUS QUERY {identifier(name)} ON {identifier(database)} {body}"


# Flux (InfluxDB 2.x tasks) ----------------------------------------------------------------------------------


def flux_string(value: str) -> str:
    if any(c in value for c in "\n\r\x00"):
        raise ValueError("line breaks and NUL cannot appear in a Flux string")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${") + '"'


def flux_task(g: Group, tier: Tier, buckets: Mapping[str, str], org: str) -> tuple[str, str]:
    """(task name, Flux script) downsampling `g` into `tier`'s bucket; `buckets` maps tier name → bucket."""
    every = f"{tier.step_s}s"
    # Whole buckets only, like a continuous query: from `late` before the last bucket boundary up to it (a range
    # starting mid-bucket would overwrite that bucket with part of its points).
    late = f"{max(g.late_s, tier.step_s * 2)}s"
    body = flux_body(
        g,
        tier,
        buckets,
        org,
        f"start: date.sub(d: {late}, from: date.truncate(t: now(), unit: {every})), "
        f"stop: date.truncate(t: now(), unit: {every})",
    )
    name = f"{PREFIX}{tier.name}_{g.measurement}_{g.key}_{_hash(body)}"
    head = f'import "date"\n\noption task = {{name: {flux_string(name)}, every: {every}, offset: 30s}}\n\n'
    return name, head + body


def flux_body(g: Group, tier: Tier, buckets: Mapping[str, str], org: str, range_: str) -> str:
    """The Flux that aggregates `g` over `range_` (`start: -15m`, or `start: <RFC3339>, stop: <RFC3339>` for a
    backfill) into `tier`'s bucket."""
    src = SOURCE[tier.name]
    rollup = src.step_s > 0
    every = f"{tier.step_s}s"
    parts = []
    for o in g.outs:
        fn, field = (o.rollup_fn, o.name) if rollup else (o.fn, o.src)
        cond = f" and {g.where.flux()}" if g.where is not None and not rollup else ""
        parts.append(
            f"    data |> filter(fn: (r) => r._field == {flux_string(field)}{cond})\n"
            f'      |> aggregateWindow(every: {every}, fn: {fn}, createEmpty: false, timeSrc: "_start")\n'
            f'      |> set(key: "_field", value: {flux_string(o.name)})'
        )
    return (
        f"data = from(bucket: {flux_string(buckets[src.name])})\n"
        f"  |> range({range_})\n"
        f"  |> filter(fn: (r) => r._measurement == {flux_string(g.measurement)})\n"
        "union(tables: [\n" + ",\n".join(parts) + "\n])\n"
        f"  |> to(bucket: {flux_string(buckets[tier.name])}, org: {flux_string(org)})\n"
    )
