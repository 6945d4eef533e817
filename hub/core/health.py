"""Is the hub doing its job? The readiness behind `GET /readyz` (hub/web/files.py).

`/healthz` says the process and its database answer (liveness: restart it if not). Readiness says whether the
data path works: messages come in from the broker, ingest applies them, SQL takes the state and InfluxDB the
points. Each failing part is a reason code; none means `ok`. Pure: the inputs are read from the running hub
by `inputs_of`, and the time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.core.runtime import HubCore

MQTT_DISCONNECTED = "mqtt_disconnected"
INGEST_STALLED = "ingest_stalled"
SQL_FAILING = "sql_failing"
INFLUX_FAILING = "influx_failing"
INFLUX_BACKLOG = "influx_backlog"
DATABASE_UNAVAILABLE = "database_unavailable"
# A writer that keeps up holds less than a couple of batches; more than this many is InfluxDB falling behind.
BACKLOG_BATCHES = 4


@dataclass(frozen=True)
class HealthInputs:
    mqtt_connected: bool
    queue_depth: int  # messages waiting between MQTT and ingest
    last_progress: float  # monotonic time ingest last applied messages (or started)
    sql_failing: bool  # the latest SQL flush failed
    influx_enabled: bool
    influx_up: bool
    influx_failed_writes: int
    influx_buffered: int
    influx_batch: int
    stall_after_s: float


def reasons(i: HealthInputs, now: float) -> list[str]:
    """What is wrong, in a stable order; empty when the hub is ready. `now` is monotonic."""
    out = []
    if not i.mqtt_connected:
        out.append(MQTT_DISCONNECTED)
    if i.queue_depth > 0 and now - i.last_progress > i.stall_after_s:
        out.append(INGEST_STALLED)
    if i.sql_failing:
        out.append(SQL_FAILING)
    if i.influx_enabled:
        # Not yet written is not failing: a hub with nothing to write yet is ready.
        if not i.influx_up and i.influx_failed_writes > 0:
            out.append(INFLUX_FAILING)
        if i.influx_buffered > BACKLOG_BATCHES * i.influx_batch:
            out.append(INFLUX_BACKLOG)
    return out


def inputs_of(hub: HubCore) -> HealthInputs:
    st = hub.stats
    return HealthInputs(
        mqtt_connected=st.mqtt_connected,
        queue_depth=len(hub.bridge.inbox),
        last_progress=hub.ingest.last_progress,
        sql_failing=hub.sql_failing,
        influx_enabled=hub.influx is not None,
        influx_up=st.influx_up,
        influx_failed_writes=st.influx_failed_writes,
        influx_buffered=hub.influx.buffered if hub.influx is not None else 0,
        influx_batch=hub.config.influx.batch_size,
        stall_after_s=hub.config.ingest.stall_after_s,
    )
