"""Ingest: validate each MQTT message, apply it to the in-memory state, queue its InfluxDB point.

Runs in the event-loop thread, fed by hub/core/mqtt_bridge.py through its deque. Every message is checked against
the contract (size first, then topic, then payload); a bad one is counted by reason and logged with its topic
(rate-limited) and ingest carries on. SQL and events are not touched per message: hub/core/runtime.py flushes what
the state store marks as changed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, cast

from pydantic import ValidationError

from contract import (
    MAX_SNAPSHOT_BYTES,
    CameraHealth,
    Channel,
    ContractError,
    EdgeStatus,
    Kind,
    Model,
    SnapshotMeta,
    Topic,
    TopicError,
    decode,
    format_validation_error,
    parse,
)
from hub.core.influx import InfluxWriter
from hub.core.lineproto import line, series_key, ts_ms
from hub.core.mqtt_bridge import AckHandle, RawMessage
from hub.core.persist import SnapshotRow
from hub.core.state import CameraState, StateStore, reported_status
from hub.core.stats import HubStats, RateLimitedLog

log = logging.getLogger("hub.ingest")

CHUNK = 2000  # messages per loop turn: other tasks (web, InfluxDB writer) get the loop in between
TOPIC_CACHE_MAX = 200_000

Handler = Callable[[Topic, Model | bytes, float], None]

_HEALTH = (Kind.CAMERA, Channel.HEALTH)
_SNAPSHOT = (Kind.CAMERA, Channel.SNAPSHOT)
_EDGE_STATUS = (Kind.EDGE, Channel.STATUS)
_FLOAT_FIELDS = (
    "fps",
    "expected_fps",
    "open_ms",
    "probe_ms",
    "brightness",
    "contrast",
    "sharpness",
    "motion",
)


def jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's frame header; None when the markers before it are broken or the image
    is cut short (no end-of-image marker near the end)."""
    if not data.startswith(b"\xff\xd8") or b"\xff\xd9" not in data[-64:]:
        return None
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
            continue
        seg = int.from_bytes(data[i + 2 : i + 4], "big")
        if seg < 2:
            return None
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            if i + 9 > n:
                return None
            h = int.from_bytes(data[i + 5 : i + 7], "big")
            w = int.from_bytes(data[i + 7 : i + 9], "big")
            return (w, h) if w and h else None
        if marker == 0xDA:  # scan data before any frame header
            return None
        i += 2 + seg
    return None


class Ingest:
    def __init__(self, store: StateStore, stats: HubStats, influx: InfluxWriter | None) -> None:
        self.store = store
        self.stats = stats
        self.influx = influx
        self.inbox: deque[RawMessage] = deque()
        self.snapshots: dict[str, SnapshotRow] = {}  # latest per camera, waiting for the SQL flush
        # Partition sessions' messages handled since the last SQL flush: acknowledged once it committed.
        self.acks: list[AckHandle] = []
        self.handlers: dict[tuple[Kind, Channel], list[Handler]] = {}
        self.after_chunk: Callable[[], None] = lambda: None
        self._topics: dict[str, tuple[Topic, str]] = {}
        self._rlog = RateLimitedLog(log)
        self._drain_scheduled = False

    def add_handler(self, kind: Kind, channel: Channel, fn: Handler) -> None:
        """Extra consumer of validated messages (speaker events, command replies…); called in the event loop
        after the hub's own handling, so it must be quick. Its errors are counted and logged, never fatal."""
        self.handlers.setdefault((kind, channel), []).append(fn)

    # draining ---------------------------------------------------------------------------------------------
    def drain(self) -> None:
        """Processes up to CHUNK queued messages, then yields the loop if more are waiting."""
        self._drain_scheduled = False
        inbox = self.inbox
        handle = self.handle
        acks = self.acks
        n = min(len(inbox), CHUNK)
        for _ in range(n):
            item = inbox.popleft()
            try:
                handle(*item)
            except Exception:  # a bug must cost one message, not stop ingest
                self.stats.handler_errors += 1
                self.stats.error(f"ingest failed on {item[0]!r}")
                if self._rlog.log(logging.ERROR, "bug", "ingest failed on %r", item[0]):
                    log.exception("ingest failed on %r", item[0])
            if item[5] is not None:
                acks.append(item[5])
        self.stats.queue_depth = len(inbox)
        self.after_chunk()
        if inbox and not self._drain_scheduled:
            self._drain_scheduled = True
            asyncio.get_running_loop().call_soon(self.drain)

    def _reject(self, reason: str, topic: str | None, detail: str) -> None:
        self.stats.rejected[reason] += 1
        self._rlog.log(logging.WARNING, reason, "rejected message on %r: %s: %s", topic, reason, detail)

    # one message ------------------------------------------------------------------------------------------
    def handle(
        self, topic: str | None, payload: bytes, props: Any, received: float, retain: bool, _ack: Any = None
    ) -> None:
        if topic is None:
            self._reject("bad_topic", topic, "topic is not valid UTF-8")
            return
        if len(payload) > MAX_SNAPSHOT_BYTES:  # before anything reads it
            self._reject("too_large", topic, f"{len(payload)} bytes > {MAX_SNAPSHOT_BYTES}")
            return
        entry = self._topics.get(topic)
        if entry is None:
            try:
                t = parse(topic)
            except TopicError as exc:
                self._reject("bad_topic", topic, str(exc))
                return
            entry = (t, f"{t.district}/{t.commune}/{t.id}")
            if len(self._topics) >= TOPIC_CACHE_MAX:
                self._topics.clear()
            self._topics[topic] = entry
        t, key = entry
        if not payload and t.retained:
            # An empty retained message is how a retained one is deleted (a device removed from the registry):
            # nothing to apply, and not a contract violation.
            self.stats.retained_cleared += 1
            return
        try:
            value = decode(t, payload)
        except ContractError as exc:
            self._reject(exc.reason, topic, exc.detail)
            return
        kc = (t.kind, t.channel)
        if kc == _HEALTH:
            self._health(t, key, cast(CameraHealth, value), received)
        elif kc == _SNAPSHOT:
            if not self._snapshot(t, key, cast(bytes, value), props, received):
                return
        elif kc == _EDGE_STATUS:
            self._edge_status(t, cast(EdgeStatus, value), received)
        elif kc not in self.handlers:
            self.stats.unhandled += 1
        self.stats.accepted += 1
        handlers = self.handlers.get(kc)
        if handlers:
            for fn in handlers:
                try:
                    fn(t, value, received)
                except Exception:
                    self.stats.handler_errors += 1
                    log.exception("handler %r failed on %s", fn, topic)

    def _camera(self, t: Topic, key: str) -> CameraState:
        cam = self.store.cameras.get(key)
        return cam if cam is not None else self.store.camera(t.district, t.commune, t.id)

    def _health(self, t: Topic, key: str, h: CameraHealth, received: float) -> None:
        cam = self._camera(t, key)
        self.store.apply_health(cam, h, received)
        if self.influx is not None:
            self.influx.add(self.health_line(cam, h))

    def health_line(self, cam: CameraState, h: CameraHealth) -> str:
        series = cam.series
        if series is None:
            agent = cam.agent_key.rsplit("/", 1)[-1] if cam.agent_key else None
            series = cam.series = series_key(
                "camera_health",
                {"district": cam.district, "commune": cam.commune, "camera": cam.slug, "agent": agent},
            )
        d = h.__dict__  # pydantic keeps field values here; plain dict reads are the cheapest
        online = d["online"]
        probs = d["problems"]
        if probs:
            codes = [p.value for p in probs]
            head = (
                f"{series} online={'true' if online else 'false'},"
                f'status="{reported_status(online, codes)}",problem_count={len(codes)}i,'
                f'problems="{",".join(codes)}"'
            )
        else:
            head = (
                f"{series} online={'true' if online else 'false'},"
                f'status="{"ok" if online else "offline"}",problem_count=0i,problems=""'
            )
        parts = [head]
        for name in _FLOAT_FIELDS:
            v = d[name]
            if v is not None:
                parts.append(f"{name}={v!r}")
        if d["width"] is not None:
            parts.append(f"width={d['width']}i")
        if d["height"] is not None:
            parts.append(f"height={d['height']}i")
        return f"{','.join(parts)} {int(d['ts'] * 1000 + 0.5)}"

    def _snapshot(self, t: Topic, key: str, jpeg: bytes, props: Any, received: float) -> bool:
        raw = getattr(props, "UserProperty", None) or []
        try:
            meta = SnapshotMeta.model_validate(dict(raw))
        except ValidationError as exc:
            self._reject("invalid_meta", str(t), format_validation_error(exc))
            return False
        dims = jpeg_dimensions(jpeg)
        if dims is None:
            self._reject("bad_jpeg", str(t), "not a complete JPEG image (no frame header or end marker)")
            return False
        cam = self._camera(t, key)
        ts = meta.ts if meta.ts is not None else received
        if self.store.apply_snapshot(cam, ts):
            w, h = dims
            self.snapshots[key] = SnapshotRow(key, jpeg, ts, meta.width or w, meta.height or h)
            self.stats.snapshots += 1
        return True

    def _edge_status(self, t: Topic, s: EdgeStatus, received: float) -> None:
        agent = self.store.apply_edge_status(t.district, t.commune, t.id, s, received)
        if self.influx is None:
            return
        series = series_key("edge_status", {"district": t.district, "commune": t.commune, "agent": t.id})
        fields = {
            "state": s.state,
            "online": s.state == "online",
            "version": s.version,
            "cameras": s.cameras,
            "queue": s.queue,
            "seq_gaps": agent.seq_gaps,
            "device_ts": s.ts,
        }
        # Timestamped with the hub's receive time: a Last Will carries the agent's connect time as `ts`.
        self.influx.add(line(series, fields, ts_ms(received)))
