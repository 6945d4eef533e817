"""Edge agent: still scene vs frozen encoder, covered lens vs signal loss, and the signal-quality checks
(colour cast, noise, stripes, over-exposure, PTZ off its preset), on small synthetic frames."""

from __future__ import annotations

import cv2
import numpy as np

from contract import Problem
from edge_agent.checks import changed_since, judge, picture_metrics, stripe_free
from edge_agent.config import Thresholds
from edge_agent.judgement import CameraJudge
from edge_agent.probe import ProbeResult
from edge_agent.reference import ReferenceStore, learn
from edge_agent.signal_measures import largest_block_change

TH = Thresholds()
H, W = 180, 320


def street(seed: int = 1, level: float = 1.0) -> np.ndarray:
    """A colour scene with edges spread over the picture (blocks of random colour), scaled by `level`."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 220, size=(H // 12 + 1, W // 12 + 1, 3)).astype(np.float32)
    img = np.kron(base, np.ones((12, 12, 1), np.float32))[:H, :W]
    out: np.ndarray = np.clip(img * level, 0, 255).astype(np.uint8)
    return out


def with_noise(frame: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out: np.ndarray = np.clip(frame + rng.normal(0, sigma, frame.shape), 0, 255).astype(np.uint8)
    return out


def draw_clock(frame: np.ndarray, seconds: int) -> np.ndarray:
    out = frame.copy()
    text = f"23:14:{seconds:02d}"
    cv2.putText(out, text, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
    return out


def measure(frames: list[np.ndarray]):  # type: ignore[no-untyped-def]
    grays = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]
    return picture_metrics(grays, TH.black_luma, frames)


def problems(frames: list[np.ndarray], th: Thresholds = TH, ref=None) -> list[Problem]:  # type: ignore[no-untyped-def]
    return judge(measure(frames), 0.56, 25.0, 25.0, th, ref)


# -- reported mistake (a): a still night street is not a frozen encoder ---------------------------------


def night_street(seconds: int, seed: int, sigma: float = 1.2) -> np.ndarray:
    return draw_clock(with_noise(street(3, 0.25), sigma, seed), seconds)


def test_still_night_scene_with_sensor_noise_is_not_frozen() -> None:
    frames = [night_street(10, seed) for seed in range(4)]  # the clock does not tick in this half second
    m = measure(frames)
    assert m.max_diff <= TH.frozen_diff * 10  # the whole-frame difference alone is small
    assert Problem.FROZEN not in problems(frames)


def test_still_scene_whose_clock_ticks_is_not_frozen_even_without_noise() -> None:
    still = street(3, 0.25)
    frames = [draw_clock(still, 10), draw_clock(still, 10), draw_clock(still, 11), draw_clock(still, 11)]
    assert Problem.FROZEN not in problems(frames)


def test_frozen_encoder_repeats_the_picture_clock_included() -> None:
    frame = night_street(10, 1)
    assert problems([frame] * 4) == [Problem.FROZEN]


def test_clock_changed_since_the_last_probe_clears_frozen_in_the_judge() -> None:
    """No noise and no tick within either probe, but 30 s between probes: the clock shows it."""
    still = street(3, 0.25)
    judge_ = CameraJudge.open("c", "rtsp://x/1", ReferenceStore(None), 1, TH)
    seen: list[list[Problem]] = []
    for step, sec in enumerate((10, 40, 10, 40)):
        m = measure([draw_clock(still, sec)] * 4)
        result = ProbeResult(True, fps=25.0, frames=15, span_s=0.56, metrics=m)
        seen.append(judge_.step(result, 25.0, TH, now=1.8e9 + 30 * step))
    assert all(Problem.FROZEN not in s for s in seen)
    previous = measure([draw_clock(still, 10)] * 2).signal
    assert previous is not None
    assert changed_since(previous.signature, measure([draw_clock(still, 40)] * 2), TH)
    assert not changed_since(previous.signature, measure([draw_clock(still, 10)] * 2), TH)


def test_frozen_encoder_is_reported_across_probes() -> None:
    frame = night_street(10, 1)
    judge_ = CameraJudge.open("c", "rtsp://x/1", ReferenceStore(None), 1, TH)
    seen = []
    for step in range(4):
        result = ProbeResult(True, fps=25.0, frames=15, span_s=0.56, metrics=measure([frame] * 4))
        seen.append(judge_.step(result, 25.0, TH, now=1.8e9 + 30 * step))
    assert seen[-1] == [Problem.FROZEN]


# -- reported mistake (b): a hand on the lens is tampering, not signal loss --------------------------------


def hand(seed: int, level: float = 14.0) -> np.ndarray:
    """A dark warm hand over the lens of a live sensor: skin colour, soft shading, sensor noise."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    shade = 1 + 0.4 * np.exp(-(((xx - 160) / 120) ** 2 + ((yy - 90) / 80) ** 2))
    skin = np.array([0.55, 0.8, 1.35], np.float32) * level  # BGR: warm
    return with_noise(shade[..., None] * skin, 1.5, seed)


def test_dark_hand_on_the_lens_is_covered_not_black() -> None:
    ref = learn([measure([night_street(10, s) for s in range(4)]) for _ in range(2)], 1.8e9)
    frames = [hand(seed) for seed in range(4)]
    m = measure(frames)
    assert m.dark_ratio >= TH.black_ratio  # the old rule called this black
    assert problems(frames, TH, ref) == [Problem.COVERED]


def test_signal_loss_black_and_blue_screens_are_black() -> None:
    black = np.zeros((H, W, 3), np.uint8)
    assert problems([black] * 4) == [Problem.BLACK]
    blue = np.zeros((H, W, 3), np.uint8)
    blue[:] = (200, 48, 16)  # BGR: a recorder's "no signal" screen
    cv2.putText(blue, "NO SIGNAL", (90, 95), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
    assert problems([blue] * 4) == [Problem.BLACK]


def test_gray_dark_picture_without_colour_stays_black() -> None:
    frames = [with_noise(np.full((H, W, 3), 5, np.float32), 1.5, seed) for seed in range(4)]
    assert problems(frames) == [Problem.BLACK]


# -- signal-quality checks ---------------------------------------------------------------------------


def live(frame: np.ndarray, n: int = 4, sigma: float = 2.0) -> list[np.ndarray]:
    return [with_noise(frame, sigma, seed) for seed in range(n)]


def test_healthy_scene_raises_nothing() -> None:
    assert problems(live(street())) == []


def test_colour_cast_from_a_lost_channel_against_the_reference() -> None:
    gray = cv2.cvtColor(cv2.cvtColor(street(), cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    muted = cv2.addWeighted(street(), 0.3, gray, 0.7, 0)  # a street's muted colours
    ref = learn([measure(live(muted)) for _ in range(2)], 1.8e9)
    assert ref.chroma is not None
    frames = live(muted)
    for f in frames:
        f[..., 1] = 0  # green lost: magenta picture
    assert problems(frames, TH, ref) == [Problem.COLOUR_CAST]
    assert problems(frames) == []  # no reference yet: this camera's normal colour is unknown


def test_a_camera_that_always_sees_one_colour_has_no_cast() -> None:
    orange = np.zeros((H, W, 3), np.uint8)
    orange[:] = (40, 120, 220)
    wall = cv2.addWeighted(street(), 0.25, orange, 0.75, 0)
    ref = learn([measure(live(wall)) for _ in range(2)], 1.8e9)
    assert problems(live(wall), TH, ref) == []


def test_heavy_noise_is_noisy_and_normal_noise_is_not() -> None:
    assert problems(live(street(), sigma=20)) == [Problem.NOISY]
    assert problems(live(street(), sigma=3)) == []


def rolling_bars(frame: np.ndarray, phase: float, period: float = 9.0, amp: float = 20.0) -> np.ndarray:
    rows = np.arange(H, dtype=np.float32)[:, None, None]
    out: np.ndarray = np.clip(frame + amp * np.sin(2 * np.pi * (rows / period + phase)), 0, 255).astype(
        np.uint8
    )
    return out


def test_drifting_stripes_are_stripes_and_still_patterns_are_not() -> None:
    frames = [rolling_bars(f, 0.3 * i) for i, f in enumerate(live(street()))]
    assert problems(frames) == [Problem.STRIPES]
    fence = [rolling_bars(f, 0.0) for f in live(street())]  # a fence or a brick wall does not move
    assert Problem.STRIPES not in problems(fence)
    assert stripe_free(measure(fence), TH)


def test_over_exposure() -> None:
    gray = cv2.cvtColor(cv2.cvtColor(street(), cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    frames = live(np.clip(gray.astype(np.int16) * 3, 0, 255).astype(np.uint8))
    assert problems(frames) == [Problem.OVEREXPOSED]


def test_ptz_camera_off_its_preset() -> None:
    ref = learn([measure(live(street(1))) for _ in range(2)], 1.8e9)
    elsewhere = live(street(9))
    assert problems(elsewhere, TH, ref) == [Problem.MOVED]
    ptz = TH.model_copy(update={"ptz": True})
    assert problems(elsewhere, ptz, ref) == [Problem.PTZ_OFF_PRESET]
    assert problems(live(street(1)), ptz, ref) == []


def test_reference_keeps_its_mean_colour_on_disk(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = ReferenceStore(tmp_path)
    ref = learn([measure(live(street())) for _ in range(2)], 1.8e9)
    store.save("c1", "rtsp://x/1", ref)
    loaded = store.load("c1", "rtsp://x/1")
    assert loaded is not None and loaded.chroma is not None and ref.chroma is not None
    assert np.allclose(loaded.chroma, ref.chroma)


def test_every_problem_code_has_a_vietnamese_label() -> None:
    from hub.core.labels import PROBLEM_LABELS

    assert {p.value for p in Problem} <= set(PROBLEM_LABELS)


def test_change_since_the_last_probe_sees_a_clock_not_fresh_noise() -> None:
    still = street(3, 0.25)
    a = cv2.cvtColor(with_noise(draw_clock(still, 10), 3, 1), cv2.COLOR_BGR2GRAY)
    same = cv2.cvtColor(with_noise(draw_clock(still, 10), 3, 2), cv2.COLOR_BGR2GRAY)
    later = cv2.cvtColor(with_noise(draw_clock(still, 40), 3, 2), cv2.COLOR_BGR2GRAY)
    assert largest_block_change(a, same) < TH.frozen_since_diff
    assert largest_block_change(a, later) > TH.frozen_since_diff


def test_a_white_page_with_its_edges_is_not_overexposed() -> None:
    page = np.full((H, W, 3), 252, np.uint8)
    for y in range(10, H, 14):
        cv2.line(page, (10, y), (W - 10, y), (20, 20, 20), 2)
        cv2.line(page, (10 + (y * 7) % 100, y - 6), (10 + (y * 7) % 100, y + 6), (20, 20, 20), 2)
    ref = learn([measure(live(page, sigma=1)) for _ in range(2)], 1.8e9)
    assert problems(live(page, sigma=1), TH, ref) == []
    washed = [np.full((H, W, 3), 250, np.uint8)] * 4
    assert problems(washed, TH, ref) == [Problem.OVEREXPOSED]
