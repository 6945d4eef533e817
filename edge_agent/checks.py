"""Picture measurements and the first health checks: pure functions on gray uint8 numpy frames.

The probe shrinks every analysed frame and converts it to gray once; everything here works on those small
frames, so it costs well under a millisecond per frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from contract import Problem
from edge_agent.config import Thresholds


@dataclass(frozen=True, slots=True)
class PictureMetrics:
    brightness: float  # mean luma 0-255, averaged over the analysed frames
    contrast: float  # luma standard deviation
    sharpness: float  # variance of the Laplacian
    motion: float  # mean absolute difference between consecutive analysed frames (0 with one frame)
    max_diff: float  # largest of those differences: the frozen check needs every pair to be still
    dark_ratio: float  # share of pixels darker than the black threshold
    frames: int  # analysed frames behind these figures


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        raise ValueError(f"frames differ in shape: {a.shape} vs {b.shape}")
    return float(cv2.absdiff(a, b).mean())


def picture_metrics(frames: Sequence[np.ndarray], black_luma: float) -> PictureMetrics:
    """Measure gray uint8 frames (same shape, in capture order)."""
    if not frames:
        raise ValueError("no frames to measure")
    means, stds, sharp, dark = [], [], [], []
    for gray in frames:
        if gray.ndim != 2 or gray.dtype != np.uint8:
            raise ValueError(f"expected a gray uint8 frame, got shape {gray.shape} dtype {gray.dtype}")
        mean, std = cv2.meanStdDev(gray)
        means.append(float(mean[0][0]))
        stds.append(float(std[0][0]))
        sharp.append(float(cv2.Laplacian(gray, cv2.CV_32F).var()))
        dark.append(float(np.count_nonzero(gray < black_luma)) / gray.size)
    diffs = [mean_abs_diff(a, b) for a, b in zip(frames, frames[1:], strict=False)]
    n = len(frames)
    return PictureMetrics(
        brightness=sum(means) / n,
        contrast=sum(stds) / n,
        sharpness=sum(sharp) / n,
        motion=sum(diffs) / len(diffs) if diffs else 0.0,
        max_diff=max(diffs) if diffs else 0.0,
        dark_ratio=sum(dark) / n,
        frames=n,
    )


def is_black(m: PictureMetrics, th: Thresholds) -> bool:
    """Mostly very dark and flat: signal loss, a dead sensor, a lens cap."""
    return m.dark_ratio >= th.black_ratio


def is_low_fps(fps: float | None, expected_fps: float | None, th: Thresholds) -> bool:
    if fps is None or expected_fps is None:
        return False
    return fps < th.low_fps_ratio * expected_fps


def is_frozen(m: PictureMetrics, span_s: float, th: Thresholds) -> bool:
    """Every analysed frame equals the previous one although stream time passed between them."""
    return m.frames >= 2 and span_s > 0 and m.max_diff <= th.frozen_diff


def judge(
    m: PictureMetrics, span_s: float, fps: float | None, expected_fps: float | None, th: Thresholds
) -> list[Problem]:
    """Problems of a probe that decoded frames. `span_s`: stream time between first and last analysed frame.

    A black picture is also still, so it is reported as black only; and identical frames only mean a frozen
    picture when frames arrive at a normal rate (at a trickle, low_fps says more).
    """
    problems: list[Problem] = []
    low = is_low_fps(fps, expected_fps, th)
    if low:
        problems.append(Problem.LOW_FPS)
    if is_black(m, th):
        problems.append(Problem.BLACK)
    elif not low and is_frozen(m, span_s, th):
        problems.append(Problem.FROZEN)
    return problems
