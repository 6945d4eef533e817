"""Shapes shared between the alert engine, the parts of the hub that feed it and the notifier.

Sources of facts (cameras and agents from the state store, speakers and airings from broadcast, the
notification channels themselves) each return the conditions that hold *now*; a condition that is no longer
returned has ended. The engine turns facts into alerts (pending, firing, resolved) and hands `AlertNotice`s to
the notifier, which routes, renders, stores in its outbox and sends them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, or_, true
from sqlalchemy.orm import InstrumentedAttribute, Session


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class FactKind(StrEnum):
    CAMERA_OFFLINE = "camera_offline"
    CAMERA_PROBLEM = "camera_problem"  # frozen, black, covered, blurred, moved, low_fps …
    AGENT_OFFLINE = "agent_offline"
    AGENT_BACKLOG = "agent_backlog"  # the edge agent's disk queue is growing (link trouble)
    AGENT_DISK_LOW = "agent_disk_low"
    SPEAKER_OFFLINE = "speaker_offline"
    # What a receiver's own reports say is wrong (broadcast/speakers/health_facts.py)
    SPEAKER_AMPLIFIER = "speaker_amplifier"  # the amplifier reports a fault
    SPEAKER_SIGNAL_WEAK = "speaker_signal_weak"  # mobile signal below the threshold
    SPEAKER_DISK_LOW = "speaker_disk_low"
    SPEAKER_CONTENT_MISSING = "speaker_content_missing"  # what is due to air is not in its cache
    SPEAKER_LEVEL_LOW = "speaker_level_low"  # played silence, or far below the level expected
    SPEAKER_CLOCK_OFF = "speaker_clock_off"  # clock off by more than the sync budget
    RELAY_UPSTREAM_LOST = "relay_upstream_lost"  # a relayed upstream lost or silent beyond a few seconds
    BROADCAST_FAILED = "broadcast_failed"  # an airing that no speaker played
    BROADCAST_PARTIAL = "broadcast_partial"  # aired on fewer speakers than targeted
    CHANNEL_FAILING = "channel_failing"  # a notification channel cannot deliver (token, re-auth, quota)
    RECORDER_OFFLINE = "recorder_offline"  # an NVR/DVR does not answer its edge box (or is not reported)
    RECORDER_DISK_FAILED = "recorder_disk_failed"  # a recorder disk failed, is missing or unformatted
    RECORDER_NOT_RECORDING = (
        "recorder_not_recording"  # the camera streams, its recorder channel is not written
    )
    RECORDER_FOOTAGE_SHORT = "recorder_footage_short"  # fewer days of footage kept than required


@dataclass(frozen=True, slots=True)
class Fact:
    """A condition that holds now. `device` is the full key of what it is about (district/commune/id for a
    camera, agent or speaker; an airing id; a channel name). `parent` names the device whose own fact inhibits
    this one (a camera's edge agent). `since` is when the condition began (epoch seconds, UTC)."""

    kind: FactKind
    district: str
    commune: str
    device: str
    since: float
    name: str = ""  # what people call the device ("Cổng UBND xã")
    summary: str = ""  # Vietnamese, one line: "Mất tín hiệu: kết nối bị từ chối"
    parent: str | None = None
    detail: dict[str, str | int | float | bool | None] = field(default_factory=dict)


FactSource = Callable[[float], Iterable[Fact]]  # now → the facts that hold at `now`


@dataclass(frozen=True, slots=True)
class NoticeItem:
    device: str
    name: str
    summary: str
    since: float
    until: float | None = None  # set when this device recovered


@dataclass(frozen=True, slots=True)
class AlertNotice:
    """One message-worthy change of an alert group. `event_id` is stable for the same change across hub
    restarts: the notifier stores at most one outbox row per (event_id, channel, target)."""

    event_id: str
    group_key: str
    status: Literal["firing", "resolved", "repeat"]
    kind: FactKind
    severity: Severity
    district: str
    commune: str  # "" when the group spans a district
    items: tuple[NoticeItem, ...]
    created_at: float
    link_path: str  # path on the hub's web app, e.g. "/alerts/123"; the notifier prefixes http.public_url
    snapshot_camera: str | None = None  # camera key whose latest snapshot goes with the message
    quiet_hours_exempt: bool = False  # critical alerts pass quiet hours
    # Alerts of the group still firing after this notice: 0 on a resolved notice means the whole group is over.
    open_items: int = 0


@runtime_checkable
class NoticeSink(Protocol):
    async def submit(self, notice: AlertNotice) -> None: ...


NoticeCallback = Callable[[AlertNotice], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DigestScope:
    """The area one daily digest covers: communes ("district/commune"), else whole districts, else all."""

    districts: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()

    def where(
        self, district_col: InstrumentedAttribute[str], commune_col: InstrumentedAttribute[str]
    ) -> ColumnElement[bool]:
        if self.communes:
            pairs = (x.split("/", 1) for x in self.communes)
            return or_(*(and_(district_col == d, commune_col == c) for d, c in pairs))
        if self.districts:
            return district_col.in_(self.districts)
        return true()


class DigestSection(Protocol):
    """A feature's lines in the daily digest of its own kind of work (broadcasts: airings of the day).

    Runs in the SQL thread; `start`/`end` are the day in naive UTC; `tz` is for the times it prints."""

    def __call__(
        self, s: Session, scope: DigestScope, start: datetime, end: datetime, tz: ZoneInfo
    ) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class ReportTable:
    """A feature's part of a scheduled report (broadcasts: airings of the period). `columns` and `rows` go
    into the PDF as a table; `totals` are the numbers others may show (the public status page reads
    `played` and `targeted` of the broadcasts' table)."""

    key: str  # "broadcasts"
    title: str  # Vietnamese heading
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    totals: dict[str, int] = field(default_factory=dict)


class ReportSection(Protocol):
    """Runs in the SQL thread; `start`/`end` are the period in naive UTC; `tz` is for the times it prints."""

    def __call__(
        self, s: Session, scope: DigestScope, start: datetime, end: datetime, tz: ZoneInfo
    ) -> ReportTable: ...


@dataclass(frozen=True, slots=True)
class FileSent:
    """What happened to a file handed to a `FileSink`: `retry` says whether trying later may help."""

    ok: bool
    retry: bool = False
    message: str = ""
    message_id: str | None = None


@runtime_checkable
class FileSink(Protocol):
    """Sends a document (PDF) to a chat group (the notifier: the Zalo OA's file upload, then a group message)."""

    def live(self) -> bool: ...

    async def send_file(self, group_id: str, filename: str, data: bytes, caption: str) -> FileSent: ...
