"""Broadcast settings: the `broadcast:` section of the hub config. Each part of the broadcast feature has its own
sub-section (content here; programmes, dispatch and receivers add theirs)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from broadcast.bulletins.config import BulletinsConfig
from contract.configfile import StrictModel
from hub.core.config import CoreConfig, feature_section


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
    tts_voice: str = Field(default="vi", min_length=1, max_length=32, description="espeak-ng voice")
    tts_rate_wpm: int = Field(default=150, ge=80, le=300, description="Speaking rate (words per minute)")
    tts_max_chars: int = Field(default=5000, ge=10, le=50_000, description="Longest text accepted for TTS")

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


class BroadcastConfig(StrictModel):
    content: ContentConfig = Field(default_factory=ContentConfig)
    dispatch: DispatchConfig = Field(default_factory=DispatchConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    bulletins: BulletinsConfig = Field(default_factory=BulletinsConfig)


def broadcast_settings(config: CoreConfig) -> BroadcastConfig:
    """The `broadcast` section of the hub config."""
    return feature_section(config, "broadcast", BroadcastConfig)
