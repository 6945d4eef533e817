"""From a probe result to the contract's CameraHealth, and when to send a snapshot. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass

from contract import CameraHealth, Problem, SnapshotMeta
from contract.payloads import TS_MAX, TS_MIN
from edge_agent.checks import judge
from edge_agent.config import CameraConfig, Thresholds
from edge_agent.probe import ProbeResult

REASON_MAX = 300


def _clamp(value: float | None, high: float, digits: int) -> float | None:
    if value is None:
        return None
    return round(min(max(value, 0.0), high), digits)


def clock_is_sane(ts: float) -> bool:
    """The contract refuses timestamps outside 2017..2100: a box without a real-time clock starts in 1970
    until NTP sets it, and its messages must wait rather than carry a false time."""
    return TS_MIN <= ts <= TS_MAX


def problems_of(result: ProbeResult, expected_fps: float | None, th: Thresholds) -> list[Problem]:
    if not result.online:
        return [result.problem or Problem.NO_FRAMES]
    if result.metrics is None:
        return []
    return judge(result.metrics, result.span_s, result.fps, expected_fps, th)


def build_health(
    cam: CameraConfig,
    result: ProbeResult,
    problems: list[Problem],
    *,
    ts: float,
    seq: int,
    agent: str,
    boot: str,
) -> CameraHealth:
    m = result.metrics
    reason = result.reason[:REASON_MAX] if result.reason and not result.online else None
    return CameraHealth(
        ts=ts,
        seq=seq,
        online=result.online,
        problems=problems,
        agent=agent,
        boot=boot,
        reason=reason,
        fps=_clamp(result.fps, 1000, 2),
        expected_fps=cam.expected_fps,
        width=result.width,
        height=result.height,
        open_ms=_clamp(result.open_ms, 600_000, 1),
        probe_ms=_clamp(result.probe_ms, 600_000, 1),
        brightness=_clamp(m.brightness, 255, 2) if m else None,
        contrast=_clamp(m.contrast, 255, 2) if m else None,
        sharpness=round(m.sharpness, 2) if m else None,
        motion=_clamp(m.motion, 255, 3) if m else None,
    )


@dataclass
class CameraState:
    """What the agent remembers about a camera between probes (for snapshots and change logging)."""

    probes: int = 0
    last_key: tuple[bool, tuple[str, ...]] | None = None


def state_key(online: bool, problems: list[Problem]) -> tuple[bool, tuple[str, ...]]:
    return online, tuple(sorted(p.value for p in problems))


def recheck_first(
    last_key: tuple[bool, tuple[str, ...]] | None,
    online: bool,
    rechecking: bool,
    forced: bool,
    recheck_s: float,
) -> bool:
    """Whether a failed probe is held back for a second look rather than reported: only when the camera was
    online (or not yet seen), the failure is not already a re-check, and no one asked for this probe."""
    if recheck_s <= 0 or online or rechecking or forced:
        return False
    return last_key is None or last_key[0]


def describe_key(key: tuple[bool, tuple[str, ...]] | None) -> str:
    """`ok`, `black,frozen`, `offline:unreachable` or `unknown`, for log lines."""
    if key is None:
        return "unknown"
    online, problems = key
    text = ",".join(problems) or "ok"
    return text if online else f"offline:{text}"


def snapshot_wanted(state: CameraState, key: tuple[bool, tuple[str, ...]], forced: bool, every: int) -> bool:
    """On command, on any change of status (the first probe after start counts as one), and every N probes.

    `state.probes` already counts the probe being judged.
    """
    if forced or key != state.last_key:
        return True
    return every > 0 and state.probes % every == 0


def snapshot_properties(meta: SnapshotMeta) -> tuple[tuple[str, str], ...]:
    """MQTT 5 user properties for a snapshot (all strings on the wire)."""
    return tuple((k, str(v)) for k, v in meta.model_dump(exclude_none=True).items())
