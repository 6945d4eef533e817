"""Payload models of contract v1 (pydantic v2, unknown fields forbidden): the shared building blocks (`Model`,
`Timestamp`, `Slug`, limits, `ContractError`) and the edge agents' channels. The loudspeaker receivers' models are
in contract/speaker_payloads.py, the recorders' in contract/recorder_payloads.py.

contract/codec.py maps each (kind, channel) to its model and decodes and encodes payloads. On the `cmd`
channels the model is the order that travels inside the hub's signed envelope (contract/orders.py
`SignedOrder`): devices open it with `contract.orders.open_order`, never with `decode`.
"""

from __future__ import annotations

import json
import math
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

CONTRACT_VERSION = 1

# Size caps: JSON documents are small; a snapshot is a 640x360-ish JPEG. Larger messages are refused unread.
MAX_JSON_BYTES = 64 * 1024
MAX_SNAPSHOT_BYTES = 2 * 1024 * 1024

# Timestamps far outside this window are a clock fault on the device, not data to store.
TS_MIN = 1_500_000_000.0  # 2017-07
TS_MAX = 4_102_444_800.0  # 2100-01-01


class ContractError(ValueError):
    """A payload that does not satisfy the contract. `reason` is a short machine-friendly code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class Problem(StrEnum):
    UNREACHABLE = "unreachable"  # DNS failure, refused, timeout: detail in `reason`
    AUTH_FAILED = "auth_failed"
    NO_FRAMES = "no_frames"  # stream opened but produced no frame in time
    DECODE_ERROR = "decode_error"
    LOW_FPS = "low_fps"
    FROZEN = "frozen"
    BLACK = "black"
    COVERED = "covered"
    BLURRED = "blurred"
    MOVED = "moved"
    PTZ_OFF_PRESET = "ptz_off_preset"  # a PTZ camera's view is off its preset (the reference view)
    COLOUR_CAST = "colour_cast"  # the whole picture leans to one colour (a lost colour channel, a bad cable)
    NOISY = "noisy"  # heavy noise or snow (interference, a failing sensor)
    STRIPES = "stripes"  # periodic rows or columns across the picture (electrical interference)
    OVEREXPOSED = "overexposed"  # most of the picture saturated white


# Problems that mean there is no picture at all (the camera is "offline" for people).
OFFLINE_PROBLEMS = frozenset(
    {Problem.UNREACHABLE, Problem.AUTH_FAILED, Problem.NO_FRAMES, Problem.DECODE_ERROR}
)


class Model(BaseModel):
    # NaN and ±Infinity are not JSON (RFC 8259) though parsers read them: refused in every number field, so
    # nothing downstream (line protocol, the API's JSON) has to carry them.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _finite(v: float | None) -> float | None:
    if v is not None and not math.isfinite(v):
        raise ValueError("must be a finite number")
    return v


Timestamp = Annotated[
    float,
    Field(ge=TS_MIN, le=TS_MAX, description="Seconds since the Unix epoch, UTC, as measured on the device"),
]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
# Orders a device refused, by reason (contract/orders.py `Refusal`): unsigned, bad_signature, expired …
RefusalCounts = Annotated[
    dict[Annotated[str, Field(pattern=r"^[a-z_]{1,32}$")], Annotated[int, Field(ge=0)]],
    Field(
        max_length=16, description="Orders refused since the device started, by reason (contract/orders.py)"
    ),
]


class CameraInfo(Model):
    """One camera in an agent's inventory (birth certificate), so the hub knows cameras that never reported."""

    id: Slug
    commune: Slug
    name: str | None = Field(default=None, max_length=200, description="Display name, e.g. 'Cổng UBND xã'")
    expected_fps: float | None = Field(default=None, gt=0, le=1000)


class EdgeStatus(Model):
    """Retained on `edge/{agent}/status`. The Last Will carries the same shape with state=offline."""

    state: Literal["online", "offline"]
    ts: Timestamp
    version: str = Field(max_length=64, description="Agent software version")
    boot: str | None = Field(
        default=None, max_length=64, description="Identifier of this agent boot; `seq` restarts with it"
    )
    cameras: int | None = Field(default=None, ge=0, description="Cameras this agent watches")
    queue: int | None = Field(default=None, ge=0, description="Messages waiting in the agent's disk queue")
    queue_dropped: int | None = Field(
        default=None,
        ge=0,
        description="Messages the agent's queue has dropped for space so far (oldest first): a gap in the data",
    )
    queue_gap_from: Timestamp | None = Field(
        default=None,
        description="Device time of the oldest message the queue dropped (for space or a full disk): the gap in "
        "the data starts here",
    )
    queue_gap_to: Timestamp | None = Field(
        default=None, description="Device time of the newest message the queue dropped: the gap ends here"
    )
    worker_restarts: int | None = Field(
        default=None,
        ge=0,
        description="Probe worker processes restarted after a crash or hang since the agent started",
    )
    workers_failing: bool | None = Field(
        default=None,
        description="True while lost probe workers are not restarted: the restart budget is spent",
    )
    inventory: list[CameraInfo] | None = Field(
        default=None, max_length=2000, description="Cameras this agent watches (sent with state=online)"
    )
    disk_free_mb: float | None = Field(
        default=None, ge=0, description="Free space (MiB) on the disk holding the agent's queue and data"
    )
    orders_refused: RefusalCounts | None = None


class CameraHealth(Model):
    """One probe result, published on `camera/{camera}/health` (QoS 1, not retained)."""

    ts: Timestamp
    seq: int = Field(ge=0, description="Per agent boot, increases by 1 with every health message")
    online: bool = Field(description="True when frames were decoded in this probe")
    problems: list[Problem] = Field(default_factory=list, max_length=16)
    agent: Slug | None = Field(default=None, description="Edge agent that produced this probe")
    boot: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(
        default=None, max_length=300, description="Human-readable detail of an offline cause"
    )
    fps: float | None = Field(default=None, ge=0, le=1000)
    expected_fps: float | None = Field(default=None, ge=0, le=1000)
    width: int | None = Field(default=None, ge=0, le=16384)
    height: int | None = Field(default=None, ge=0, le=16384)
    open_ms: float | None = Field(default=None, ge=0, le=600_000, description="Time to open the stream")
    probe_ms: float | None = Field(default=None, ge=0, le=600_000, description="Wall time of the whole probe")
    brightness: float | None = Field(default=None, ge=0, le=255, description="Mean luma 0-255")
    contrast: float | None = Field(default=None, ge=0, le=255, description="Luma standard deviation")
    sharpness: float | None = Field(default=None, ge=0, description="Variance of the Laplacian")
    motion: float | None = Field(
        default=None, ge=0, le=255, description="Mean absolute difference between frames"
    )

    @field_validator(
        "fps", "expected_fps", "open_ms", "probe_ms", "brightness", "contrast", "sharpness", "motion"
    )
    @classmethod
    def _no_nan(cls, v: float | None) -> float | None:
        return _finite(v)

    @field_validator("problems")
    @classmethod
    def _unique(cls, v: list[Problem]) -> list[Problem]:
        if len(set(v)) != len(v):
            raise ValueError("problem codes must not repeat")
        return v


class SnapshotMeta(Model):
    """MQTT 5 user properties on a retained `camera/{camera}/snapshot` JPEG (all optional)."""

    ts: Timestamp | None = None
    width: int | None = Field(default=None, ge=0)
    height: int | None = Field(default=None, ge=0)
    seq: int | None = Field(default=None, ge=0)
    agent: Slug | None = Field(default=None, description="Edge agent that took it (as in camera health)")


class EdgeCommand(Model):
    """Hub → edge on `edge/{agent}/cmd`."""

    transaction: str = Field(min_length=1, max_length=64)
    action: Literal["snapshot", "probe", "relearn", "reload"]
    camera: Slug | None = Field(default=None, description="Target camera; all cameras when omitted")
    ts: Timestamp


class CommandReply(Model):
    """Edge/receiver → hub on `.../reply`, answering the command with the same `transaction`."""

    transaction: str = Field(min_length=1, max_length=64)
    status: Literal["ok", "error"]
    ts: Timestamp
    data: dict[str, Any] = Field(default_factory=dict)
    error: str | None = Field(default=None, max_length=500)

    @field_validator("data")
    @classmethod
    def _finite_data(cls, v: dict[str, Any]) -> dict[str, Any]:
        json.dumps(v, allow_nan=False)  # ValueError on NaN/Infinity: the API shows `data` as JSON
        return v


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem, each naming the path of the bad key, e.g. `fps: Input should be a valid number`."""
    parts = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{path}: {err['msg']}")
    return "; ".join(parts)
