"""Broadcast settings: the `broadcast:` section of the hub config. Each part of the broadcast feature has its own
sub-section (content here; programmes, dispatch and receivers add theirs)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from broadcast.bulletins.config import BulletinsConfig
from broadcast.live.config import LiveConfig
from contract.configfile import StrictModel
from hub.core.config import CoreConfig, feature_section

SPEED_MIN, SPEED_MAX = 0.5, 1.5  # of the normal speaking rate; beyond these espeak-ng stops being followable


class ContentConfig(StrictModel):
    content_dir: Path | None = Field(
        default=None,
        description="Where originals and processed MP3s are kept; default: <hub data_dir>/broadcast-content",
    )
    max_upload_mb: float = Field(default=50, gt=0, le=1024, description="Largest upload accepted (MB)")
    max_duration_s: float = Field(default=1800, gt=0, le=4 * 3600, description="Longest audio accepted")
    min_duration_s: float = Field(default=0.5, gt=0, description="Shorter audio is refused as empty")
    target_lufs: float = Field(default=-16.0, ge=-40, le=-5, description="Integrated loudness target")
    true_peak_dbtp: float = Field(default=-1.5, ge=-9, le=0, description="True-peak ceiling")
    loudness_range_lu: float = Field(default=11.0, ge=1, le=50, description="loudnorm LRA target")
    silence_lufs: float = Field(
        default=-60.0, le=-20, description="Input quieter than this (integrated) is refused as silent"
    )
    highpass_hz: int = Field(default=100, ge=20, le=1000, description="Band limit for horn speakers (low)")
    lowpass_hz: int = Field(
        default=8000, ge=2000, le=20000, description="Band limit for horn speakers (high)"
    )
    denoise: bool = Field(default=True, description="Apply ffmpeg afftdn before levelling")
    mp3_bitrate_kbps: Literal[48, 64, 80, 96, 112, 128] = 64
    sample_rate_hz: Literal[22050, 32000, 44100, 48000] = 44100
    ffmpeg_timeout_s: float = Field(default=300, gt=0, le=3600, description="Per ffmpeg/ffprobe run")
    max_parallel_jobs: int = Field(default=1, ge=1, le=8, description="Processing jobs at once (CPU bound)")
    max_jobs_per_user: int = Field(
        default=3, ge=1, le=100, description="Processing jobs one person may have waiting or running at once"
    )
    tts_engine: Literal["espeak-ng"] = Field(default="espeak-ng", description="Offline text-to-speech engine")
    tts_voice: Literal["vi", "vi-vn-x-central", "vi-vn-x-south"] = Field(
        default="vi", description="Default voice: espeak-ng's northern, central or southern Vietnamese"
    )
    tts_rate_wpm: int = Field(
        default=150, ge=80, le=300, description="Speaking rate at speed 1.0 (words per minute)"
    )
    tts_speed: float = Field(
        default=1.0, ge=SPEED_MIN, le=SPEED_MAX, description="Default speed, a factor of tts_rate_wpm"
    )
    tts_max_chars: int = Field(default=5000, ge=10, le=50_000, description="Longest text accepted for TTS")
    tts_preview_max_chars: int = Field(
        default=400, ge=10, le=5000, description="Longest text the voice preview reads (a sentence or two)"
    )
    tts_previews_per_minute: int = Field(
        default=10, ge=1, le=600, description="Voice previews one person may ask for per minute (each hub)"
    )

    @model_validator(mode="after")
    def _band(self) -> ContentConfig:
        if self.highpass_hz >= self.lowpass_hz:
            raise ValueError("highpass_hz must be below lowpass_hz")
        if self.min_duration_s >= self.max_duration_s:
            raise ValueError("min_duration_s must be below max_duration_s")
        return self

    def directory(self, data_dir: Path) -> Path:
        return self.content_dir if self.content_dir is not None else data_dir / "broadcast-content"


class ScheduleConfig(StrictModel):
    """Programmes and scheduling (broadcast/scheduling/scheduler.py)."""

    prepare_lead_s: float = Field(
        default=120,
        ge=5,
        le=3600,
        description="Airings are created and sent to receivers this long before start",
    )
    misfire_grace_s: float = Field(
        default=300,
        ge=0,
        le=3600,
        description="A normal/priority occurrence missed by more than this (hub down) is reported missed, not "
        "aired late; emergencies always air",
    )
    late_start_lead_s: float = Field(
        default=15, ge=1, le=300, description="A late (within grace) airing starts this long after dispatch"
    )
    emergency_lead_s: float = Field(
        default=2, ge=0.5, le=30, description="An emergency aired now starts this long after dispatch"
    )
    plan_horizon_h: float = Field(default=36, ge=1, le=24 * 14, description="Jobs are created this far ahead")
    replan_s: float = Field(default=600, ge=5, le=3600, description="How often the job list is rebuilt")
    missed_lookback_h: float = Field(
        default=24, ge=0, le=24 * 7, description="On start, occurrences this far back are checked for misses"
    )
    conflict_horizon_days: int = Field(
        default=14, ge=1, le=90, description="Conflicts are looked for this many days ahead when saving"
    )
    check_s: float = Field(
        default=5,
        gt=0,
        le=300,
        description="How often the leading hub looks for programmes changed on another hub (the leader lease "
        "itself is cluster.lease_ttl_s/lease_renew_s)",
    )


class DispatchConfig(StrictModel):
    """Dispatch to receivers and the proof of airing (broadcast/airings/dispatcher.py, broadcast/speakers/registry.py)."""

    answer_margin_s: float = Field(
        default=10,
        ge=1,
        le=600,
        description="A speaker that has not reported 'started' this long after the planned start is marked "
        "not answering (offline ones: 'loa mất kết nối'); a later report still counts",
    )
    finish_margin_s: float = Field(
        default=30,
        ge=1,
        le=3600,
        description="The airing is totalled this long after its planned end (late reports update it)",
    )
    speaker_stale_after_s: float = Field(
        default=95,
        ge=5,
        le=3600,
        description="An online receiver silent this long is shown as not reporting (health comes every 30 s)",
    )
    command_reply_s: float = Field(
        default=5,
        gt=0,
        le=60,
        description="How long the API waits for a receiver's answer to a volume command",
    )
    failure_facts_h: float = Field(
        default=24,
        ge=1,
        le=24 * 7,
        description="Failed or partial airings that finished within this many hours are alert facts",
    )


class SpeakerAlertConfig(StrictModel):
    """When a receiver's own reports make an alert fact (broadcast/speakers/health_facts.py). How long a
    condition must hold and how it is told are the alert rules' (`alerts.rules.speaker_*`, docs/ALERTS.md)."""

    signal_min_dbm: float = Field(
        default=-105, ge=-150, le=0, description="Mobile signal below this (dBm) is weak"
    )
    disk_min_mb: float = Field(default=200, ge=0, description="Free space on the cache disk below this (MB)")
    content_due_s: float = Field(
        default=30,
        ge=0,
        le=3600,
        description="A speaker that has not reported its playlist ready this long before air time lacks it",
    )
    reference_dbfs: float = Field(
        default=-20,
        ge=-60,
        le=0,
        description="RMS level of content at full volume (speech levelled to content.target_lufs −16 LUFS "
        "measures about −20 dBFS); the expected level is this plus the speaker's volume gain",
    )
    level_margin_db: float = Field(
        default=20, gt=0, le=100, description="A speaker this far below its expected level plays too quietly"
    )
    silence_dbfs: float = Field(
        default=-60, ge=-120, le=-20, description="A speaker sending less than this played silence"
    )
    level_max_age_h: float = Field(
        default=24, gt=0, le=24 * 30, description="A level measured longer ago than this no longer alerts"
    )
    clock_budget_ms: float = Field(
        default=10,
        gt=0,
        le=60_000,
        description="Sync budget: a receiver clock off its time source by more than this (ms) alerts",
    )


class RelayConfig(StrictModel):
    """Relays of upstream stations (broadcast/relays/streamer.py): the hub re-streams the upstream as timed
    chunks that every receiver plays at the same instants (docs/BROADCAST.md "Relays")."""

    chunk_s: float = Field(default=2.0, ge=0.5, le=10, description="Length of one chunk of the re-stream")
    delay_s: float = Field(
        default=8.0,
        ge=2,
        le=120,
        description="The hub starts reading the upstream this long before air time: receivers have "
        "delay_s − chunk_s to fetch each chunk (rides out a link stall that long)",
    )
    rate_hz: Literal[16000, 22050, 24000, 32000, 44100, 48000] = Field(
        default=16000, description="PCM rate of the chunks (16 kHz mono = 256 kbit/s; horns stop at 8 kHz)"
    )
    gap_after_s: float = Field(
        default=4.0, ge=0.5, le=120, description="Upstream lost or silent this long is a gap: logged, alerted"
    )
    silence_dbfs: float = Field(
        default=-55.0, ge=-120, le=-20, description="A chunk quieter than this is silent"
    )
    reconnect_s: float = Field(default=1.0, gt=0, le=60, description="Wait before reopening a lost upstream")
    open_timeout_s: float = Field(default=5.0, gt=0, le=60, description="ffmpeg's network timeout")
    keep_chunks_s: float = Field(
        default=600, ge=60, le=86400, description="Chunks are deleted this long after the relay ended"
    )

    @model_validator(mode="after")
    def _margin(self) -> RelayConfig:
        if self.delay_s <= self.chunk_s:
            raise ValueError("delay_s must be longer than chunk_s")
        return self


class BroadcastConfig(StrictModel):
    content: ContentConfig = Field(default_factory=ContentConfig)
    speaker_alerts: SpeakerAlertConfig = Field(default_factory=SpeakerAlertConfig)
    relay: RelayConfig = Field(default_factory=RelayConfig)
    dispatch: DispatchConfig = Field(default_factory=DispatchConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    live: LiveConfig = Field(default_factory=LiveConfig)
    bulletins: BulletinsConfig = Field(default_factory=BulletinsConfig)


def broadcast_settings(config: CoreConfig) -> BroadcastConfig:
    """The `broadcast` section of the hub config."""
    return feature_section(config, "broadcast", BroadcastConfig)
