"""Counters of the hub's runtime (ingest, MQTT, InfluxDB, SQL) and a rate-limited logger for floods.

Counters are plain ints bumped from the event-loop thread (the MQTT thread only touches the ones it owns), so
no locks: a snapshot may be a few messages behind, never wrong.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

# A flood of bad messages must not flood the log: one line per reason per window, with a count of the rest.
LOG_WINDOW_S = 10.0


class RateLimitedLog:
    """Logs at most one line per key per `window` seconds; the next line says how many were suppressed."""

    def __init__(self, logger: logging.Logger, window: float = LOG_WINDOW_S) -> None:
        self._logger = logger
        self._window = window
        self._last: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()

    def log(self, level: int, key: str, msg: str, *args: Any, now: float | None = None) -> bool:
        """Returns True when the line was written."""
        t = time.monotonic() if now is None else now
        last = self._last.get(key)
        if last is not None and t - last < self._window:
            self._suppressed[key] += 1
            return False
        self._last[key] = t
        skipped = self._suppressed.pop(key, 0)
        if skipped:
            self._logger.log(
                level, "%s (%d more like this in the last %.0f s)", msg % args, skipped, self._window
            )
        else:
            self._logger.log(level, msg, *args)
        return True


class HubStats:
    """What the hub did since it started. `snapshot()` is served by the API and written to InfluxDB."""

    def __init__(self) -> None:
        self.started = time.time()
        # MQTT
        self.received = 0
        self.mqtt_connected = False
        self.mqtt_connects = 0
        self.mqtt_disconnects = 0
        self.backpressure_waits = 0
        # ingest
        self.accepted = 0
        self.rejected: Counter[str] = Counter()
        self.unhandled = 0
        self.retained_cleared = 0
        self.handler_errors = 0
        self.out_of_order = 0
        self.duplicates = 0
        self.seq_gaps = 0
        self.transitions = 0
        self.events = 0
        self.snapshots = 0
        # SQL
        self.sql_flushes = 0
        self.sql_rows = 0
        self.sql_errors = 0
        self.sql_flush_ms_max = 0.0
        self.sql_flush_ms_last = 0.0
        # InfluxDB (points)
        self.influx_written = 0
        self.influx_dropped = 0
        self.influx_rejected = 0
        self.influx_failed_writes = 0
        self.influx_batches = 0
        self.influx_up = False
        # filled in by whoever owns the live value
        self.queue_depth = 0
        self.influx_buffered = 0
        self.cameras = 0
        self.agents = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        # Live values read at snapshot time (queue depth, buffer sizes…), registered by their owners. A name
        # that is not one of the counters above (e.g. `alerts_firing`, `notify_outbox_pending`) becomes a field
        # of its own in the API's stats and the `hub_stats` measurement: numbers or booleans only.
        self.gauges: dict[str, Callable[[], Any]] = {}

    def reject(self, reason: str) -> None:
        self.rejected[reason] += 1

    def error(self, text: str, now: float | None = None) -> None:
        self.last_error = text[:500]
        self.last_error_at = time.time() if now is None else now

    def snapshot(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        for name, read in self.gauges.items():
            try:
                value = read()
            except Exception as exc:  # a feature's gauge must not break the hub's own counters
                self.error(f"gauge {name}: {exc!r}")
                continue
            if name in _OWN_FIELDS:
                setattr(self, name, value)
            else:
                extra[name] = value
        return {
            "uptime_s": round(time.time() - self.started, 1),
            "received": self.received,
            "accepted": self.accepted,
            "rejected": dict(self.rejected),
            "rejected_total": sum(self.rejected.values()),
            "unhandled": self.unhandled,
            "retained_cleared": self.retained_cleared,
            "handler_errors": self.handler_errors,
            "out_of_order": self.out_of_order,
            "duplicates": self.duplicates,
            "seq_gaps": self.seq_gaps,
            "transitions": self.transitions,
            "events": self.events,
            "snapshots": self.snapshots,
            "queue_depth": self.queue_depth,
            "backpressure_waits": self.backpressure_waits,
            "mqtt_connected": self.mqtt_connected,
            "mqtt_connects": self.mqtt_connects,
            "mqtt_disconnects": self.mqtt_disconnects,
            "cameras": self.cameras,
            "agents": self.agents,
            "sql_flushes": self.sql_flushes,
            "sql_rows": self.sql_rows,
            "sql_errors": self.sql_errors,
            "sql_flush_ms_max": round(self.sql_flush_ms_max, 1),
            "sql_flush_ms_last": round(self.sql_flush_ms_last, 1),
            "influx_up": self.influx_up,
            "influx_written": self.influx_written,
            "influx_buffered": self.influx_buffered,
            "influx_dropped": self.influx_dropped,
            "influx_rejected": self.influx_rejected,
            "influx_failed_writes": self.influx_failed_writes,
            "influx_batches": self.influx_batches,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            **extra,
        }


# Counters of HubStats itself that a gauge may keep current (the rest of the gauges are extra fields).
_OWN_FIELDS = frozenset(vars(HubStats()))
