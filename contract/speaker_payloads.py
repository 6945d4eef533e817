"""Payload models of the loudspeaker receivers' channels (contract v1): `speaker/{speaker}/status`, `health`,
`cmd` (the order inside the hub's signed envelope, contract/orders.py) and `event`.

The shared building blocks (`Model`, `Timestamp`, `Slug` …) and the edge agents' payloads are in
contract/payloads.py; contract/codec.py maps each (kind, channel) to its model.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from contract.levels import AiringLevel, ClockOffset, IntervalLevel, SilentSeconds
from contract.payloads import Model, RefusalCounts, Slug, Timestamp, _finite, format_validation_error
from contract.relay_plan import RelayPlan


class SpeakerStatus(Model):
    """Retained on `speaker/{speaker}/status`. The Last Will carries the same shape with state=offline.

    `name` and `village` let the hub register a receiver on its first contact."""

    state: Literal["online", "offline"]
    ts: Timestamp
    version: str = Field(max_length=64, description="Receiver software version")
    boot: str | None = Field(default=None, max_length=64, description="Identifier of this receiver boot")
    name: str | None = Field(default=None, max_length=200, description="Display name, e.g. 'Cụm loa thôn 3'")
    village: Slug | None = Field(
        default=None, description="Village slug (hub/core/geo.py) in the same commune"
    )


class SpeakerHealth(Model):
    """Published on `speaker/{speaker}/health` every health interval (default 30 s, QoS 1, not retained)."""

    ts: Timestamp
    seq: int = Field(ge=0, description="Per receiver boot, increases by 1 with every health message")
    volume: int | None = Field(default=None, ge=0, le=100)
    amplifier: Literal["on", "off", "fault"] | None = None
    signal_dbm: float | None = Field(default=None, ge=-150, le=0)
    disk_free_mb: float | None = Field(default=None, ge=0)
    playing: str | None = Field(default=None, max_length=64, description="Airing id being played, if any")
    cache_mb: float | None = Field(default=None, ge=0, description="Size of the receiver's audio cache")
    queue: int | None = Field(default=None, ge=0, description="Events waiting in the receiver's disk outbox")
    orders_refused: RefusalCounts | None = None
    level_dbfs: IntervalLevel = None
    clock_offset_ms: ClockOffset = None

    @field_validator("signal_dbm", "disk_free_mb", "cache_mb", "level_dbfs", "clock_offset_ms")
    @classmethod
    def _no_nan(cls, v: float | None) -> float | None:
        return _finite(v)


SHA256_HEX = r"^[0-9a-f]{64}$"
MAX_PLAYLIST_ITEMS = 50
MAX_ITEM_BYTES = 200 * 1024 * 1024


class PlaylistItem(Model):
    """One processed MP3 to download from the hub (`/media/{sha256}.mp3`) and verify before it plays."""

    url: str = Field(
        max_length=2000, pattern=r"^https?://[^\s]+$", description="http(s) URL of the file on the hub"
    )
    sha256: str = Field(pattern=SHA256_HEX, description="Lower-case hex SHA-256 of the file")
    size: int = Field(
        gt=0, le=MAX_ITEM_BYTES, description="Exact size in bytes; a longer download is cut off"
    )
    duration_s: float = Field(gt=0, le=6 * 3600)

    @field_validator("duration_s")
    @classmethod
    def _no_nan(cls, v: float) -> float:
        _finite(v)
        return v


class PreparePlaylist(Model):
    """`data` of a `prepare` command: download, verify, decode ahead, play at `start_at`."""

    airing: Slug = Field(description="Airing id; every event about this playlist carries it")
    start_at: Timestamp = Field(description="Absolute planned start, epoch seconds UTC (float)")
    priority: Literal["normal", "priority", "emergency"]
    items: list[PlaylistItem] = Field(min_length=1, max_length=MAX_PLAYLIST_ITEMS)
    repeats: int = Field(default=1, ge=1, le=10, description="Plays of the whole item list")
    gap_s: float = Field(default=0.0, ge=0, le=600, description="Silence between repeats")

    @field_validator("gap_s")
    @classmethod
    def _no_nan(cls, v: float) -> float:
        _finite(v)
        return v


class StopData(Model):
    """`data` of a `stop` command: stop this airing (prepared or playing), or whatever plays when absent."""

    airing: Slug | None = None


class VolumeData(Model):
    """`data` of a `volume` command, and of the `reply` event that answers it."""

    volume: int = Field(ge=0, le=100)


class LiveData(Model):
    """`data` of a `live` command: play the hub's live stream (a Snapcast server) until a `stop` naming this
    session, or `until` at the latest (the hub's time limit, should the stop never arrive)."""

    airing: Slug = Field(description="Live session id; the receiver's events about it carry it")
    host: str = Field(
        min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:\[\]-]+$", description="Snapcast server host"
    )
    port: int = Field(ge=1, le=65535, description="Snapcast stream port")
    until: Timestamp = Field(description="Stop by this time, epoch seconds UTC")
    priority: Literal["normal", "priority", "emergency"]


SpeakerAction = Literal["prepare", "relay", "stop", "volume", "live"]
_COMMAND_DATA: dict[str, type[Model]] = {
    "prepare": PreparePlaylist,
    "relay": RelayPlan,
    "stop": StopData,
    "volume": VolumeData,
    "live": LiveData,
}


class SpeakerCommand(Model):
    """Hub → receiver on `speaker/{speaker}/cmd` (QoS 1). `data` is typed by `action`:
    prepare → PreparePlaylist, relay → RelayPlan, stop → StopData, volume → VolumeData, live → LiveData."""

    transaction: str = Field(min_length=1, max_length=64)
    action: SpeakerAction
    ts: Timestamp
    data: PreparePlaylist | RelayPlan | StopData | VolumeData | LiveData = Field(default_factory=StopData)

    @model_validator(mode="before")
    @classmethod
    def _data_by_action(cls, raw: Any) -> Any:
        # The action decides the data model, so a bad prepare reports the prepare fields that are wrong,
        # not every member of the union.
        if isinstance(raw, dict) and isinstance(raw.get("data"), dict):
            action = raw.get("action")
            # Only a string names an action (a list or an object is refused below, never looked up: unhashable).
            model = _COMMAND_DATA.get(action) if isinstance(action, str) else None
            if model is not None:
                try:
                    return {**raw, "data": model.model_validate(raw["data"], strict=True)}
                except ValidationError as exc:
                    raise ValueError(f"data: {format_validation_error(exc)}") from None
        return raw

    @model_validator(mode="after")
    def _data_matches_action(self) -> SpeakerCommand:
        if not isinstance(self.data, _COMMAND_DATA[self.action]):
            raise ValueError(f"data does not fit action {self.action!r}")
        return self


class FailReason(StrEnum):
    """`data.reason` of a `failed` or `stopped` event (the `error` field carries the Vietnamese text)."""

    INVALID = "invalid"  # the command broke the contract (`error` says which field)
    HOST_NOT_ALLOWED = "host_not_allowed"  # download URL outside the receiver's allow-list
    DOWNLOAD = "download"  # HTTP error, timeout, connection lost, after the retries
    SIZE = "size"  # the file is not the declared size
    CHECKSUM = "checksum"  # sha256 mismatch
    DECODE = "decode"  # ffmpeg could not decode the file
    DISK = "disk"  # cache full (what is prepared cannot be evicted) or disk error
    LATE = "late"  # ready after start_at + late_grace_s (normal/priority only)
    SINK = "sink"  # the audio output failed while playing
    BUSY = "busy"  # overlaps an airing of equal or higher priority that is prepared or playing
    PREEMPTED = "preempted"  # stopped: an emergency took the speaker (`by` names it)
    COMMAND = "command"  # stopped: a stop command
    REPLACED = "replaced"  # stopped: a new prepare for the same airing id replaced this one
    SHUTDOWN = "shutdown"  # stopped: the receiver was shut down while playing


class SpeakerEventData(Model):
    """`data` of a receiver event; which fields appear depends on the event (all optional)."""

    first_sample_at: Timestamp | None = Field(
        default=None, description="started: receiver clock when the first sample went to the sink"
    )
    offset_ms: float | None = Field(
        default=None, ge=-86_400_000, le=86_400_000, description="started: first_sample_at − start_at in ms"
    )
    preroll_ms: float | None = Field(
        default=None,
        ge=0,
        le=3_600_000,
        description="started: silence the sink played before the first sample (what was left of the pre-roll "
        "when the player woke; 0: it woke after the start)",
    )
    start_at: Timestamp | None = Field(default=None, description="ready/started: the planned start")
    played_s: float | None = Field(
        default=None, ge=0, description="finished/stopped: seconds of audio played"
    )
    downloaded_bytes: int | None = Field(default=None, ge=0, description="ready: bytes fetched for it")
    prepare_ms: float | None = Field(default=None, ge=0, description="ready: command → ready, in ms")
    reason: FailReason | None = Field(default=None, description="failed/stopped: why")
    by: Slug | None = Field(default=None, description="stopped with reason preempted: the emergency airing")
    volume: int | None = Field(default=None, ge=0, le=100, description="reply to a volume command")
    level_dbfs: AiringLevel = None
    silent_s: SilentSeconds = None

    @field_validator("offset_ms", "played_s", "prepare_ms", "level_dbfs", "silent_s")
    @classmethod
    def _no_nan(cls, v: float | None) -> float | None:
        return _finite(v)


class SpeakerEvent(Model):
    """Receiver → hub on `speaker/{speaker}/event` (QoS 1). Queued on the receiver's disk while it is offline
    and sent later: `ts` is when it happened, not when it was sent."""

    event: Literal["ready", "started", "finished", "failed", "stopped", "reply"]
    ts: Timestamp
    transaction: str | None = Field(default=None, max_length=64, description="Command that caused it")
    airing: str | None = Field(default=None, max_length=64)
    data: SpeakerEventData = Field(default_factory=SpeakerEventData)
    error: str | None = Field(default=None, max_length=500, description="Vietnamese text for people")
