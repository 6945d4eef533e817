"""Edge agent configuration (YAML, validated; unknown keys are errors). See config/edge.example.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator

from contract.configfile import StrictModel, load
from device_runtime.config import HubPublicKey, MqttSection, OutboxSection, Slug, check_hub_key
from device_runtime.provisioning import apply_provisioning
from device_runtime.redact import url_secrets

STREAM_SCHEMES = frozenset({"rtsp", "rtsps", "http", "https"})


class AgentSection(StrictModel):
    id: Slug = Field(description="This box's id in MQTT topics")
    district: Slug
    commune: Slug = Field(description="Commune of the box; default commune of its cameras")
    name: str | None = Field(
        default=None, max_length=200, description="Display name, e.g. 'Hộp xã Định Long'"
    )


class ProbeSection(StrictModel):
    interval_s: float = Field(default=30.0, ge=0.5, le=3600, description="Time between probes of one camera")
    open_timeout_s: float = Field(default=5.0, gt=0, le=60, description="Connect + stream open limit")
    read_timeout_s: float = Field(default=5.0, gt=0, le=60, description="Limit for one frame to arrive")
    frames: int = Field(default=15, ge=2, le=500, description="Frames read per probe")
    analysed_frames: int = Field(
        default=4, ge=2, le=50, description="Of those, evenly spaced frames decoded to pixels and analysed"
    )
    recheck_s: float = Field(
        default=10.0,
        ge=0,
        le=300,
        description="A camera that was online and fails a probe is probed again this much later and reported "
        "offline only if that fails too (a shorter outage is not reported); at most interval_s; 0 reports the first "
        "failure",
    )
    concurrency: int = Field(default=6, ge=1, le=64, description="Probes running at the same time")
    max_probe_s: float | None = Field(
        default=None, gt=0, le=600, description="Hard wall-clock cap of one probe; default derived"
    )
    snapshot_every: int = Field(
        default=10, ge=0, description="Publish a snapshot every N probes (0: only on change or command)"
    )
    snapshot_width: int = Field(default=640, ge=64, le=3840)
    analysis_width: int = Field(default=320, ge=32, le=1920, description="Frames are shrunk to this first")
    jpeg_quality: int = Field(default=75, ge=10, le=100)

    @model_validator(mode="after")
    def _consistent(self) -> ProbeSection:
        if self.analysed_frames > self.frames:
            raise ValueError("analysed_frames must not exceed frames")
        return self

    @property
    def hard_cap_s(self) -> float:
        """Wall-clock limit after which a probe is reported as failed, whatever its thread is doing."""
        if self.max_probe_s is not None:
            return self.max_probe_s
        # preflight + open each bounded by open_timeout, one read timeout, plus time for the frames themselves
        return 2 * self.open_timeout_s + self.read_timeout_s + 10.0


class Thresholds(StrictModel):
    black_luma: float = Field(
        default=24.0, ge=0, le=255, description="Pixels darker than this count as black"
    )
    black_ratio: float = Field(default=0.98, gt=0, le=1, description="Share of black pixels for `black`")
    frozen_diff: float = Field(
        default=0.15, ge=0, le=255, description="Largest mean abs difference between frames for `frozen`"
    )
    low_fps_ratio: float = Field(default=0.5, gt=0, le=1, description="`low_fps` below ratio x expected_fps")
    frozen_block_diff: float = Field(
        default=1.5,
        ge=0,
        le=255,
        description="Not `frozen` when any block of the picture (an on-screen clock) changes by more than this",
    )
    frozen_changed: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="Not `frozen` when more than this share of pixels changes by 2+ luma (live sensor noise)",
    )
    frozen_since_diff: float = Field(
        default=4.0,
        ge=0,
        le=255,
        description="Not `frozen` when any block changed by more than this since the previous probe",
    )
    covered_focus_ratio: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="A view unlike the reference with fine detail below ratio x the reference's is `covered`",
    )
    signal_loss_noise: float = Field(
        default=0.35, ge=0, le=255, description="`black` screens carry less temporal noise than this (luma)"
    )
    signal_loss_uniform: float = Field(
        default=0.96,
        gt=0,
        le=1,
        description="Share of pixels at the screen's one level for a `black`/blue screen",
    )
    black_mean_max: float = Field(
        default=12.0, ge=0, le=255, description="A dark picture brighter than this on average is `covered`"
    )
    black_chroma_max: float = Field(
        default=6.0, ge=0, le=255, description="A dark picture with more colour than this (Lab) is `covered`"
    )
    colour_cast_min: float = Field(
        default=20.0,
        ge=0,
        le=255,
        description="`colour_cast` when the mean colour is this far from gray and from the reference view's (Lab)",
    )
    colour_cast_ratio: float = Field(
        default=2.5,
        ge=0,
        le=100,
        description="... and the distance from gray is at least this many times the colours' spread",
    )
    noisy_sigma: float = Field(
        default=10.0,
        ge=0,
        le=255,
        description="`noisy` when the temporal noise (luma sigma, median-based) is above this",
    )
    stripes_amplitude: float = Field(
        default=2.5,
        ge=0,
        le=255,
        description="`stripes` when a periodic row/column pattern is this strong (luma)",
    )
    overexposed_ratio: float = Field(
        default=0.6, gt=0, le=1, description="`overexposed` when this share of pixels is saturated (>= 250)"
    )
    overexposed_detail_ratio: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="... and its edge detail below ratio x the reference view's (washed out)",
    )
    ptz: bool = Field(
        default=False, description="A PTZ camera on a preset: a view off the reference is `ptz_off_preset`"
    )
    covered_detail_min: float = Field(
        default=0.012, ge=0, le=1, description="`covered` below this edge detail whatever the reference"
    )
    covered_ratio: float = Field(
        default=0.2, ge=0, le=1, description="`covered` below ratio x the reference view's edge detail"
    )
    blurred_ratio: float = Field(
        default=0.45, ge=0, le=1, description="`blurred` below ratio x the reference view's focus"
    )
    moved_similarity: float = Field(
        default=0.4,
        ge=-1,
        le=1,
        description="`moved` when the view's edges correlate less with the reference",
    )
    raise_after: int = Field(default=2, ge=1, le=100, description="Probes a problem must hold to be reported")
    clear_after: int = Field(default=2, ge=1, le=100, description="Probes without it before it is cleared")


class ThresholdOverrides(StrictModel):
    """Per-camera changes to the agent's thresholds; what is not given comes from the agent's section."""

    black_luma: float | None = Field(default=None, ge=0, le=255)
    black_ratio: float | None = Field(default=None, gt=0, le=1)
    frozen_diff: float | None = Field(default=None, ge=0, le=255)
    low_fps_ratio: float | None = Field(default=None, gt=0, le=1)
    frozen_block_diff: float | None = Field(default=None, ge=0, le=255)
    frozen_changed: float | None = Field(default=None, ge=0, le=1)
    frozen_since_diff: float | None = Field(default=None, ge=0, le=255)
    covered_focus_ratio: float | None = Field(default=None, ge=0, le=1)
    signal_loss_noise: float | None = Field(default=None, ge=0, le=255)
    signal_loss_uniform: float | None = Field(default=None, gt=0, le=1)
    black_mean_max: float | None = Field(default=None, ge=0, le=255)
    black_chroma_max: float | None = Field(default=None, ge=0, le=255)
    colour_cast_min: float | None = Field(default=None, ge=0, le=255)
    colour_cast_ratio: float | None = Field(default=None, ge=0, le=100)
    noisy_sigma: float | None = Field(default=None, ge=0, le=255)
    stripes_amplitude: float | None = Field(default=None, ge=0, le=255)
    overexposed_ratio: float | None = Field(default=None, gt=0, le=1)
    overexposed_detail_ratio: float | None = Field(default=None, ge=0, le=1)
    ptz: bool | None = None
    covered_detail_min: float | None = Field(default=None, ge=0, le=1)
    covered_ratio: float | None = Field(default=None, ge=0, le=1)
    blurred_ratio: float | None = Field(default=None, ge=0, le=1)
    moved_similarity: float | None = Field(default=None, ge=-1, le=1)
    raise_after: int | None = Field(default=None, ge=1, le=100)
    clear_after: int | None = Field(default=None, ge=1, le=100)


class ReferenceSection(StrictModel):
    dir: str | None = Field(
        default=None,
        min_length=1,
        description="Directory under the agent's data dir where reference views are kept across restarts",
    )
    learn_probes: int = Field(
        default=3, ge=1, le=100, description="Healthy probes a new camera's reference view is learned from"
    )


class CameraConfig(StrictModel):
    id: Slug
    name: str | None = Field(default=None, max_length=200, description="Display name, e.g. 'Cổng UBND xã'")
    url: str = Field(
        min_length=1, max_length=2000, description="rtsp://, rtsps://, http:// or https:// stream"
    )
    commune: Slug | None = Field(default=None, description="Default: the agent's commune")
    expected_fps: float | None = Field(default=None, gt=0, le=1000)
    enabled: bool = True
    thresholds: ThresholdOverrides = Field(default_factory=ThresholdOverrides)

    @field_validator("url")
    @classmethod
    def _stream_url(cls, v: str) -> str:
        try:
            parts = urlsplit(v)
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError as exc:
            raise ValueError(f"not a valid URL: {exc}") from exc
        if parts.scheme not in STREAM_SCHEMES:
            raise ValueError(
                f"scheme must be one of {sorted(STREAM_SCHEMES)}, not {parts.scheme or '(none)'!r}"
            )
        if not parts.hostname:
            raise ValueError("URL has no host")
        if any(c.isspace() for c in v):
            raise ValueError("URL must not contain spaces (percent-encode them)")
        return v


class RecorderConfig(StrictModel):
    """An NVR/DVR the agent watches (docs/EDGE_AGENT.md "Recorders")."""

    id: Slug
    name: str | None = Field(default=None, max_length=200, description="Display name ('Đầu ghi UBND xã')")
    api: Literal["isapi", "dahua"] = Field(
        default="isapi", description="Interface it speaks: Hikvision ISAPI, or the Dahua HTTP API (CGI)"
    )
    url: str = Field(min_length=1, max_length=500, description="http(s)://host[:port] of its web interface")
    username: str = Field(min_length=1, max_length=64)
    password: SecretStr = Field(description="Kept out of logs and of every message")
    commune: Slug | None = Field(default=None, description="Default: the agent's commune")
    channels: dict[int, Slug] = Field(
        default_factory=dict, description="Recorder channel number → the camera id it records"
    )
    # At most 30 min: the hub counts a recorder not reported for an hour as lost (hub/alerts/recorder_rules.py).
    interval_s: float = Field(default=300, ge=10, le=1800, description="Time between two looks")
    timeout_s: float = Field(default=5, gt=0, le=60, description="Limit for each HTTP request")
    time_zone: str = Field(
        default="Asia/Ho_Chi_Minh", description="Zone of the recorder's clock, for times it sends without one"
    )
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        try:
            parts = urlsplit(v)
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError as exc:
            raise ValueError(f"not a valid URL: {exc}") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be http:// or https:// with a host")
        if parts.username or parts.password:
            raise ValueError("give the account in username/password, not in the URL")
        return v.rstrip("/")

    @field_validator("channels")
    @classmethod
    def _channel_numbers(cls, v: dict[int, str]) -> dict[int, str]:
        bad = [n for n in v if not 1 <= n <= 1024]
        if bad:
            raise ValueError(f"channel numbers run from 1 to 1024, not {bad}")
        return v

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v


class EdgeConfig(StrictModel):
    agent: AgentSection
    hub_public_key: HubPublicKey = None
    mqtt: MqttSection = Field(default_factory=MqttSection)
    probe: ProbeSection = Field(default_factory=ProbeSection)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    reference: ReferenceSection = Field(default_factory=ReferenceSection)
    outbox: OutboxSection = Field(default_factory=OutboxSection)
    cameras: list[CameraConfig] = Field(default_factory=list, max_length=2000)
    recorders: list[RecorderConfig] = Field(default_factory=list, max_length=200)

    @field_validator("cameras")
    @classmethod
    def _unique_ids(cls, cams: list[CameraConfig]) -> list[CameraConfig]:
        first: dict[str, int] = {}
        repeats = []
        for i, cam in enumerate(cams):
            if cam.id in first:
                repeats.append(f"cameras.{i}.id {cam.id!r} repeats cameras.{first[cam.id]}.id")
            else:
                first[cam.id] = i
        if repeats:
            raise ValueError("duplicate camera ids: " + "; ".join(repeats))
        return cams

    @field_validator("recorders")
    @classmethod
    def _unique_recorders(cls, recs: list[RecorderConfig]) -> list[RecorderConfig]:
        ids = [r.id for r in recs]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"duplicate recorder ids: {twice}")
        return recs

    @property
    def client_id(self) -> str:
        return self.mqtt.client_id or f"edge-{self.agent.id}"

    def commune_of(self, cam: CameraConfig) -> str:
        return cam.commune or self.agent.commune

    def thresholds_of(self, cam: CameraConfig) -> Thresholds:
        overrides = cam.thresholds.model_dump(exclude_none=True)
        return self.thresholds.model_copy(update=overrides) if overrides else self.thresholds

    def enabled_cameras(self) -> list[CameraConfig]:
        return [c for c in self.cameras if c.enabled]

    def secrets(self) -> list[str]:
        """Every secret string in this config, so logs can scrub them wherever they turn up."""
        found = self.mqtt.secrets()
        for cam in self.cameras:
            found += url_secrets(cam.url)
        found += [r.password.get_secret_value() for r in self.recorders]
        return found


def load_config(path: str | Path) -> EdgeConfig:
    """Read and validate; raises contract.configfile.ConfigError naming file, line and key path. The `mqtt`
    section takes what the provisioning file it names holds (device_runtime/provisioning.py)."""
    cfg = load(EdgeConfig, path)
    check_hub_key(cfg.hub_public_key, path)
    me = cfg.agent
    mqtt = apply_provisioning(cfg.mqtt, Path(path).parent, "edge", me.district, me.commune, me.id)
    return cfg if mqtt is cfg.mqtt else cfg.model_copy(update={"mqtt": mqtt})
