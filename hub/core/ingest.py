"""Ingest: validate each MQTT message, apply it to the in-memory state, queue its InfluxDB point.

Runs in the event-loop thread, fed by hub/core/mqtt_bridge.py through its deque. Every message is checked against
the contract (size first, then topic, then payload); a bad one is counted by reason and logged with its topic
(rate-limited) and ingest carries on. SQL and events are not touched per message: hub/core/runtime.py flushes what
the state store marks as changed.
"""

from __future__ import annotations

import asyncio
import logging
import time
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
from hub.core.config import IngestConfig
from hub.core.influx import InfluxWriter
from hub.core.lineproto import line, series_key, ts_ms
from hub.core.mqtt_bridge import AckHandle, RawMessage
from hub.core.persist import SnapshotRow
from hub.core.quotas import CAMERAS, Quotas
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
    def __init__(
        self,
        store: StateStore,
        stats: HubStats,
        influx: InfluxWriter | None,
        config: IngestConfig | None = None,
    ) -> None:
        cfg = config or IngestConfig()
        self.max_future_s = cfg.max_future_s
        self.max_age_s = cfg.max_age_s
        self.store = store
        self.quotas = Quotas(cfg.quotas)
        self.stats = stats
        self.influx = influx
        self.inbox: deque[RawMessage] = deque()
        self.snapshots: dict[str, SnapshotRow] = {}  # latest per camera, waiting for the SQL flush
        # Messages handled since the last SQL flush, each with the number of InfluxDB points added up to it
        # (hub/core/influx_marks.py): acknowledged once that flush committed and those points are safe.
        self.acks: list[tuple[AckHandle, int]] = []
        self.handlers: dict[tuple[Kind, Channel], list[Handler]] = {}
        self.after_chunk: Callable[[], None] = lambda: None
        self._topics: dict[str, tuple[Topic, str]] = {}
        self._rlog = RateLimitedLog(log)
        self._drain_scheduled = False
        self.last_progress = (
            time.monotonic()
        )  # when messages were last applied (readiness: hub/core/health.py)

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
        marks = self.influx.marks if self.influx is not None else None
        n = min(len(inbox), CHUNK)
        if n:
            self.last_progress = time.monotonic()
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
                acks.append((item[5], marks.added if marks is not None else 0))
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
        device = self._device_of(t, key)
        over = self.quotas.message(device, received, len(payload) if t.channel is Channel.SNAPSHOT else 0)
        if over is not None:
            self._over_quota(device, over, topic)
            return
        try:
            value = decode(t, payload)
        except ContractError as exc:
            self._reject(exc.reason, topic, exc.detail)
            return
        kc = (t.kind, t.channel)
        if kc != _SNAPSHOT:
            why = self.time_refusal(getattr(value, "ts", None), received, t.channel is Channel.STATUS)
            if why is not None:
                self._reject(why, topic, f"ts {getattr(value, 'ts', None)} against the hub's {received:.0f}")
                return
        if kc == _HEALTH:
            health = cast(CameraHealth, value)
            if health.agent and self._camera_refused(t, key, health.agent):
                return
            if not self._health(t, key, health, received):
                return
        elif kc == _SNAPSHOT:
            if not self._snapshot(t, key, cast(bytes, value), props, received):
                return
        elif kc == _EDGE_STATUS:
            if not self._edge_status(t, self._within_camera_quota(t, cast(EdgeStatus, value)), received):
                return
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

    # quotas ---------------------------------------------------------------------------------------------
    def _device_of(self, t: Topic, key: str) -> str:
        """Whose quota a message counts against: the edge box of a camera (when known), else the device."""
        if t.kind is Kind.CAMERA:
            cam = self.store.cameras.get(key)
            return f"edge:{cam.agent_key}" if cam is not None and cam.agent_key else f"camera:{key}"
        return f"{t.kind.value}:{key}"

    def _over_quota(self, device: str, reason: str, topic: str | None) -> None:
        self.stats.rejected[reason] += 1
        if self.quotas.first_time(device, reason):
            log.warning("device %s over its quota (%s): dropping its messages until the minute ends (%r)",
                        device, reason, topic)  # fmt: skip

    def _camera_refused(self, t: Topic, key: str, agent_slug: str) -> bool:
        """A camera new to its box when the box already has all the cameras it may report."""
        agent_key = self.store.agent_key_of(t.district, t.commune, agent_slug)
        cam = self.store.cameras.get(key)
        if cam is not None and cam.agent_key == agent_key:
            return False
        if self.quotas.cameras_allowed(len(self.store.cameras_of(agent_key)), 1):
            return False
        self._over_quota(f"edge:{agent_key}", CAMERAS, str(t))
        return True

    def _within_camera_quota(self, t: Topic, s: EdgeStatus) -> EdgeStatus:
        """The status with its inventory cut to the cameras the box may still add (the rest counted)."""
        if not s.inventory:
            return s
        agent_key = f"{t.district}/{t.commune}/{t.id}"
        known = self.store.cameras_of(agent_key)
        new = [i for i in s.inventory if f"{t.district}/{i.commune}/{i.id}" not in known]
        allowed = self.quotas.cameras_allowed(len(known), len(new))
        if allowed == len(new):
            return s
        dropped = {id(i) for i in new[allowed:]}
        self.stats.rejected[CAMERAS] += len(dropped)
        if self.quotas.first_time(f"edge:{agent_key}", CAMERAS):
            log.warning("edge %s reports %d cameras more than its quota allows: they are not registered",
                        agent_key, len(dropped))  # fmt: skip
        return s.model_copy(update={"inventory": [i for i in s.inventory if id(i) not in dropped]})

    def time_refusal(self, ts: float | None, received: float, status: bool = False) -> str | None:
        """Why a device time is not believed: dated ahead of the hub's clock by more than the allowed skew (a
        report "from 2099" would otherwise outrank every real one after it), or absurdly old. A status is
        exempt from the age limit: a Last Will carries the time its connection began."""
        if ts is None:
            return None
        if ts > received + self.max_future_s:
            return "future_ts"
        if not status and ts < received - self.max_age_s:
            return "too_old"
        return None

    def _claim(self, t: Topic, agent: str | None) -> bool:
        why = self.store.report_refusal(t.district, t.commune, t.id, agent)
        if why is None:
            return True
        self._reject(why, str(t), f"camera report naming agent {agent!r}")
        return False

    def _camera(self, t: Topic, key: str) -> CameraState:
        cam = self.store.cameras.get(key)
        return cam if cam is not None else self.store.camera(t.district, t.commune, t.id)

    def _health(self, t: Topic, key: str, h: CameraHealth, received: float) -> bool:
        if not self._claim(t, h.agent):
            return False
        cam = self._camera(t, key)
        self.store.apply_health(cam, h, received)
        if self.influx is not None:
            self.influx.add(self.health_line(cam, h))
        return True

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
        why = self.time_refusal(meta.ts, received)
        if why is not None:
            self._reject(why, str(t), f"snapshot ts {meta.ts} against the hub's {received:.0f}")
            return False
        cam = self.store.cameras.get(key)
        # A snapshot names its box (user property `agent`); one that does not is only believed for a camera
        # the registry already assigns to a box, and never registers a camera.
        if meta.agent is not None or cam is None or cam.agent_key is None:
            if not self._claim(t, meta.agent):
                return False
        cam = self._camera(t, key)
        ts = meta.ts if meta.ts is not None else received
        if self.store.apply_snapshot(cam, ts):
            w, h = dims
            self.snapshots[key] = SnapshotRow(key, jpeg, ts, meta.width or w, meta.height or h)
            self.stats.snapshots += 1
        return True

    def _edge_status(self, t: Topic, s: EdgeStatus, received: float) -> bool:
        why = self.store.agent_refusal(t.district, t.commune, t.id)
        if why is not None:
            self._reject(why, str(t), "the box is registered in another district or commune")
            return False
        agent = self.store.apply_edge_status(t.district, t.commune, t.id, s, received)
        for reason, n in self.store.refused.items():
            self.stats.rejected[reason] += n
            self._rlog.log(
                logging.WARNING, reason, "box %s: %d inventory entries refused: %s", t.id, n, reason
            )
        self.store.refused.clear()
        if self.influx is None:
            return True
        # Tagged where the box belongs (after a merge, not its topic's commune).
        series = series_key(
            "edge_status", {"district": agent.district, "commune": agent.commune, "agent": t.id}
        )
        fields = {
            "state": s.state,
            "online": s.state == "online",
            "version": s.version,
            "cameras": s.cameras,
            "queue": s.queue,
            "seq_gaps": agent.seq_gaps,
            "device_ts": s.ts,
            "orders_refused": sum(s.orders_refused.values()) if s.orders_refused else 0,
        }
        # Timestamped with the hub's receive time: a Last Will carries the agent's connect time as `ts`.
        self.influx.add(line(series, fields, ts_ms(received)))
        return True
