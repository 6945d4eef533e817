"""Receiver configuration (YAML, validated; unknown keys are errors). See config/receiver.example.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from contract.configfile import StrictModel, load
from device_runtime.config import HubPublicKey, MqttSection, OutboxSection, Slug, check_hub_key
from device_runtime.provisioning import apply_provisioning


class ReceiverSection(StrictModel):
    id: Slug = Field(description="This receiver's id in MQTT topics")
    district: Slug
    commune: Slug
    name: str | None = Field(default=None, max_length=200, description="Display name, e.g. 'Cụm loa thôn 3'")
    village: Slug | None = Field(default=None, description="Village slug (as on the hub) where it stands")


class HubSection(StrictModel):
    allowed_urls: list[str] = Field(
        min_length=1,
        max_length=20,
        description="Base URLs audio may be downloaded from, e.g. http://hub.local:8080/media/",
    )
    connect_timeout_s: float = Field(default=5.0, gt=0, le=60)
    read_timeout_s: float = Field(default=20.0, gt=0, le=600, description="Longest silence in a download")
    retries: int = Field(default=3, ge=0, le=10, description="Further attempts after a failed download")
    retry_backoff_s: float = Field(default=1.0, ge=0, le=60, description="First wait between attempts")

    @field_validator("allowed_urls")
    @classmethod
    def _bases(cls, urls: list[str]) -> list[str]:
        for url in urls:
            try:
                parts = urlsplit(url)
                parts.port  # noqa: B018 - raises ValueError on a malformed port
            except ValueError as exc:
                raise ValueError(f"{url!r} is not a valid URL: {exc}") from exc
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{url!r} must be an http:// or https:// URL with a host")
            if parts.query or parts.fragment or parts.username or parts.password:
                raise ValueError(f"{url!r}: a base URL has no query, fragment or credentials")
        return urls


class CacheSection(StrictModel):
    dir: Path = Field(description="Audio cache (MP3 by sha256 and decoded PCM); relative to the config file")
    max_mb: float = Field(default=2048, ge=10, le=1_000_000, description="LRU eviction above this size")


class SinkSection(StrictModel):
    type: Literal["alsa", "file", "null"] = Field(
        description="alsa: a loudspeaker; file: a WAV per airing (tests, demo); null: plays nowhere"
    )
    device: str = Field(default="default", min_length=1, max_length=200, description="ALSA device name")
    path: str | None = Field(
        default=None,
        min_length=1,
        description="file sink: WAV path, '{airing}' is replaced by the airing id; relative to the config",
    )
    rate: int = Field(default=48000, ge=8000, le=192000, description="Sample rate of the PCM played")
    block_ms: float = Field(default=20.0, ge=5, le=200, description="Size of one write to the sink")
    spin_ms: float = Field(
        default=2.0, ge=0, le=50, description="Busy-wait this long before the pre-roll instant (sleep before)"
    )
    preroll_ms: float = Field(
        default=250.0,
        ge=0,
        le=5000,
        description="Start the sink on this much silence before the start instant, so a late wake-up cannot move it",
    )
    buffer_ms: float = Field(
        default=100.0, ge=0, le=1000, description="file/null sinks: written this far ahead of when heard"
    )

    realtime_priority: int = Field(
        default=10,
        ge=0,
        le=99,
        description="SCHED_FIFO priority for the wait and first write (0: normal scheduling)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> SinkSection:
        if self.type == "file" and self.path is None:
            raise ValueError("sink.path is required for the file sink")
        if self.type != "file" and self.path is not None:
            raise ValueError("sink.path only applies to the file sink")
        return self


class HealthSection(StrictModel):
    interval_s: float = Field(default=30.0, ge=1, le=3600)
    amplifier_file: Path | None = Field(
        default=None,
        description="File holding on/off/fault written by the amplifier monitor; unset: on while playing",
    )
    signal_file: Path | None = Field(
        default=None, description="File holding the modem's signal in dBm (e.g. from a modem script)"
    )
    clock_offset_file: Path | None = Field(
        default=None,
        description="File holding this clock's offset from NTP in ms (e.g. written each minute from "
        "`chronyc -c tracking`); unset: not reported",
    )


class PlaybackSection(StrictModel):
    late_grace_s: float = Field(
        default=2.0, ge=0, le=600, description="A normal airing ready after start_at plays if late by less"
    )
    volume: int = Field(default=80, ge=0, le=100, description="Volume at first start (then kept on disk)")
    prepare_timeout_s: float = Field(default=600.0, ge=5, le=7200, description="Download + decode limit")


class ReceiverConfig(StrictModel):
    receiver: ReceiverSection
    hub_public_key: HubPublicKey = None
    mqtt: MqttSection = Field(default_factory=MqttSection)
    hub: HubSection
    cache: CacheSection
    sink: SinkSection
    health: HealthSection = Field(default_factory=HealthSection)
    playback: PlaybackSection = Field(default_factory=PlaybackSection)
    outbox: OutboxSection = Field(default_factory=OutboxSection)

    @property
    def client_id(self) -> str:
        return self.mqtt.client_id or f"speaker-{self.receiver.id}"

    def secrets(self) -> list[str]:
        return self.mqtt.secrets()


def load_config(path: str | Path) -> ReceiverConfig:
    """Read and validate; raises contract.configfile.ConfigError naming file, line and key path. The `mqtt`
    section takes what the provisioning file it names holds (device_runtime/provisioning.py)."""
    cfg = load(ReceiverConfig, path)
    check_hub_key(cfg.hub_public_key, path)
    me = cfg.receiver
    mqtt = apply_provisioning(cfg.mqtt, Path(path).parent, "speaker", me.district, me.commune, me.id)
    return cfg if mqtt is cfg.mqtt else cfg.model_copy(update={"mqtt": mqtt})


def resolve(base_dir: Path, p: Path | str) -> Path:
    """A path from the config, relative to the config file's folder."""
    path = Path(p)
    return path if path.is_absolute() else base_dir / path
