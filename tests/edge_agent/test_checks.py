"""Edge agent: picture checks, frame-rate measurement and health building, on synthetic frames (pure functions)."""

from __future__ import annotations

import numpy as np
import pytest

from contract import CameraHealth, Problem, SnapshotMeta, decode, encode, topics
from edge_agent.checks import PictureMetrics, is_black, is_frozen, is_low_fps, judge, picture_metrics
from edge_agent.config import CameraConfig, Thresholds
from edge_agent.health import (
    CameraState,
    build_health,
    clock_is_sane,
    describe_key,
    problems_of,
    snapshot_properties,
    snapshot_wanted,
    state_key,
)
from edge_agent.probe import ProbeResult, analysed_indices, measured_fps, shrink

TH = Thresholds()
RNG = np.random.default_rng(7)


def scene(seed: int = 1, shape: tuple[int, int] = (180, 320)) -> np.ndarray:
    """A textured gray picture, like a street: mid brightness, plenty of edges."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 220, size=(shape[0] // 10, shape[1] // 10), dtype=np.uint8)
    return np.kron(base, np.ones((10, 10), dtype=np.uint8))


def noisy(frame: np.ndarray, amplitude: int) -> np.ndarray:
    noise = RNG.integers(-amplitude, amplitude + 1, size=frame.shape)
    out: np.ndarray = np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    return out


def test_black_frames_are_black_and_not_frozen() -> None:
    frames = [noisy(np.full((180, 320), 4, np.uint8), 3) for _ in range(4)]
    m = picture_metrics(frames, TH.black_luma)
    assert m.dark_ratio == 1.0
    assert m.brightness < 8
    assert is_black(m, TH)
    assert judge(m, span_s=1.0, fps=10, expected_fps=10, th=TH) == [Problem.BLACK]


def test_night_scene_with_lights_is_not_black() -> None:
    night = np.full((180, 320), 6, np.uint8)
    night[20:60, 40:120] = 200  # a lit window, a street lamp: 5.6 % of the picture
    m = picture_metrics([night, night.copy()], TH.black_luma)
    assert 0.9 < m.dark_ratio < TH.black_ratio
    assert not is_black(m, TH)


def test_identical_frames_over_time_are_frozen() -> None:
    still = scene()
    m = picture_metrics([still, still.copy(), still.copy()], TH.black_luma)
    assert m.max_diff == 0.0 and m.motion == 0.0
    assert is_frozen(m, span_s=1.2, th=TH)
    assert judge(m, 1.2, fps=10, expected_fps=10, th=TH) == [Problem.FROZEN]


def test_sensor_noise_and_motion_are_not_frozen() -> None:
    base = scene()
    moving = [np.roll(base, shift, axis=1) for shift in (0, 4, 8, 12)]
    m = picture_metrics(moving, TH.black_luma)
    assert m.motion > 5
    assert judge(m, 1.2, fps=10, expected_fps=10, th=TH) == []
    grainy = [noisy(base, 6) for _ in range(4)]
    assert not is_frozen(picture_metrics(grainy, TH.black_luma), 1.2, TH)


def test_frozen_needs_time_between_frames_and_two_frames() -> None:
    still = scene()
    assert not is_frozen(picture_metrics([still, still.copy()], TH.black_luma), span_s=0.0, th=TH)
    assert not is_frozen(picture_metrics([still], TH.black_luma), span_s=1.0, th=TH)


def test_low_fps_against_expected_rate() -> None:
    assert is_low_fps(2.0, 10.0, TH)
    assert not is_low_fps(9.0, 10.0, TH)
    assert not is_low_fps(2.0, None, TH)  # nothing to compare with
    assert not is_low_fps(None, 10.0, TH)


def test_low_fps_reports_no_frozen_but_black_still_counts() -> None:
    still = scene()
    m = picture_metrics([still, still.copy()], TH.black_luma)
    assert judge(m, 3.0, fps=1.0, expected_fps=10, th=TH) == [Problem.LOW_FPS]
    dark = np.zeros((90, 160), np.uint8)
    m = picture_metrics([dark, dark.copy()], TH.black_luma)
    assert judge(m, 3.0, fps=1.0, expected_fps=10, th=TH) == [Problem.LOW_FPS, Problem.BLACK]


def test_metrics_figures() -> None:
    flat = np.full((100, 100), 128, np.uint8)
    m = picture_metrics([flat], TH.black_luma)
    assert m.brightness == pytest.approx(128) and m.contrast == pytest.approx(0)
    assert m.sharpness == pytest.approx(0) and m.frames == 1
    sharp = picture_metrics([scene()], TH.black_luma).sharpness
    blurred_frame = np.kron(scene()[::4, ::4], np.ones((4, 4), np.uint8))
    assert picture_metrics([blurred_frame], TH.black_luma).sharpness < sharp


def test_metrics_refuse_bad_frames() -> None:
    with pytest.raises(ValueError, match="no frames"):
        picture_metrics([], TH.black_luma)
    with pytest.raises(ValueError, match="gray uint8"):
        picture_metrics([np.zeros((10, 10, 3), np.uint8)], TH.black_luma)
    with pytest.raises(ValueError, match="differ in shape"):
        picture_metrics([np.zeros((10, 10), np.uint8), np.zeros((10, 12), np.uint8)], TH.black_luma)


def test_measured_fps_is_honest_for_buffered_live_files_and_stalls() -> None:
    pts = [0.0, 0.0, 100.0, 200.0, 300.0, 400.0]  # FFmpeg repeats the first timestamp after opening
    # Frames FFmpeg buffered while opening arrive at once: the stream timestamps tell the rate.
    assert measured_fps([5.0, 5.001, 5.002, 5.003, 5.004, 5.005], pts) == pytest.approx(10.0)
    # A stall in delivery shows in wall time, whatever the timestamps say.
    assert measured_fps([0.0, 0.1, 0.2, 2.2, 2.3, 2.4], pts) == pytest.approx(4 / 2.3)
    # Without timestamps, wall time is all there is.
    assert measured_fps([0.0, 0.1, 0.2, 0.3], [None] * 4) == pytest.approx(10.0)
    assert measured_fps([0.0, 0.1], [0.0, 100.0]) is None


def test_analysed_indices_and_shrink() -> None:
    assert analysed_indices(15, 4) == [0, 5, 9, 14]
    assert analysed_indices(3, 5) == [0, 1, 2]
    assert analysed_indices(10, 1) == [0]
    big = np.zeros((720, 1280, 3), np.uint8)
    assert shrink(big, 320).shape == (180, 320, 3)
    small = np.zeros((90, 160), np.uint8)
    assert shrink(small, 320) is small


CAM = CameraConfig(id="cam-01", name="Cổng UBND xã", url="rtsp://10.0.0.5/live", expected_fps=10)


def _online(**over: object) -> ProbeResult:
    m = PictureMetrics(
        brightness=120.0, contrast=40.0, sharpness=300.0, motion=3.0, max_diff=4.0, dark_ratio=0.05, frames=4
    )
    base: dict[str, object] = {
        "online": True,
        "open_ms": 800.0,
        "probe_ms": 2100.0,
        "width": 1280,
        "height": 720,
        "fps": 9.97,
        "frames": 15,
        "span_s": 1.3,
        "metrics": m,
    }
    base.update(over)
    return ProbeResult(**base)  # type: ignore[arg-type]


def test_build_health_is_a_valid_contract_message() -> None:
    result = _online()
    problems = problems_of(result, CAM.expected_fps, TH)
    health = build_health(CAM, result, problems, ts=1_763_880_000.0, seq=41, agent="box-1", boot="b7f3")
    topic = topics.camera_health("yen_dinh", "dinh_long", "cam-01")
    again = decode(topic, encode(health))
    assert isinstance(again, CameraHealth)
    assert again.online and again.problems == [] and again.seq == 41 and again.fps == 9.97
    assert again.expected_fps == 10 and again.reason is None and again.width == 1280


def test_offline_health_carries_the_reason_and_clamps_figures() -> None:
    result = ProbeResult(False, Problem.UNREACHABLE, "x" * 400, probe_ms=900_000.0)
    problems = problems_of(result, 10, TH)
    health = build_health(CAM, result, problems, ts=1_763_880_000.0, seq=0, agent="box-1", boot="b")
    assert problems == [Problem.UNREACHABLE]
    assert health.reason is not None and len(health.reason) == 300
    assert health.probe_ms == 600_000 and health.fps is None and health.brightness is None


def test_snapshot_policy() -> None:
    state = CameraState(probes=1, last_key=None)
    ok = state_key(True, [])
    assert snapshot_wanted(state, ok, forced=False, every=10)  # first probe after start
    state.last_key = ok
    state.probes = 2
    assert not snapshot_wanted(state, ok, forced=False, every=10)
    assert snapshot_wanted(state, ok, forced=True, every=10)
    assert snapshot_wanted(state, state_key(True, [Problem.FROZEN]), forced=False, every=10)
    state.probes = 10
    assert snapshot_wanted(state, ok, forced=False, every=10)
    assert not snapshot_wanted(state, ok, forced=False, every=0)
    assert describe_key(state_key(False, [Problem.UNREACHABLE])) == "offline:unreachable"
    assert describe_key(ok) == "ok" and describe_key(None) == "unknown"


def test_snapshot_properties_are_strings_matching_the_contract() -> None:
    props = snapshot_properties(SnapshotMeta(ts=1_763_880_000.5, width=640, height=360, seq=7))
    assert dict(props) == {"ts": "1763880000.5", "width": "640", "height": "360", "seq": "7"}
    assert SnapshotMeta.model_validate(dict(props)).seq == 7


def test_clock_sanity() -> None:
    assert clock_is_sane(1_763_880_000.0)
    assert not clock_is_sane(86_400.0)  # a box without a real-time clock, before NTP: 1970
    assert not clock_is_sane(5_000_000_000.0)
