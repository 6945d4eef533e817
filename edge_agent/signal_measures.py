"""Measures that tell a live picture from a dead one, and the signal-quality faults: pure numpy/OpenCV functions.

Why these exist beside edge_agent.checks' picture measures:
- a still scene (a quiet street at night) differs from a frozen encoder only in small things: sensor noise
  that moves every pixel a little, and a burnt-in clock that changes one corner; a whole-frame mean
  difference averages both away, so they are measured on their own (`changed`, `block_diff`, `noise`);
- a covered lens differs from signal loss in that a cover still passes light through a live sensor: some
  noise, some shading, the colour of skin or cloth, while a lost signal is one flat level (black or the
  recorder's blue screen) that does not move (`uniform`, `chroma_shift`, `noise`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

BLOCKS = 8  # the frame is cut into BLOCKS x BLOCKS blocks: an on-screen clock fills most of one
CHANGED_STEP = 2  # a pixel that moves by this much (luma) between frames counts as changed
NOISE_CLIP = 12  # larger frame differences are motion, not noise
UNIFORM_STEP = 3  # pixels within this of the frame's most common level count as the screen's one level
SATURATED = 240  # a white-out decoded from video range tops out a little under 255
STRIPE_SHARE = 0.5
STRIPE_LOW_BINS = 5  # slow changes across the frame (a gradient, a lamp, a vehicle) are not stripes


@dataclass(frozen=True, slots=True)
class SignalMeasures:
    changed: float  # largest share, over frame pairs, of pixels that moved by CHANGED_STEP or more
    block_diff: float  # largest block mean absolute difference over frame pairs (a ticking clock)
    noise: float  # temporal noise, luma sigma, of the quietest frame pair (0 with one frame)
    uniform: float  # share of pixels at the frame's most common level (+- UNIFORM_STEP), mean over frames
    saturated: float  # share of pixels at or above SATURATED, mean over frames
    stripes: float  # amplitude (luma) of a periodic row or column pattern drifting in every frame pair
    chroma_shift: float | None  # distance of the mean colour from gray (Lab a/b units); None without colour
    chroma_spread: float | None  # spread of the colours around that mean (Lab a/b units)
    chroma_ab: tuple[float, float] | None = None  # that mean colour (Lab a, b, 0 = gray)
    # The last frame: compared with the next probe's, tens of seconds later (`changed_since`).
    signature: np.ndarray | None = field(default=None, compare=False, repr=False)
    grain: float = 0.0  # temporal noise from the median frame difference: passing motion does not raise it


def largest_block_change(a: np.ndarray, b: np.ndarray) -> float:
    """How far the most changed block stands out of the picture's change, or its light moved.

    A clock's digit changing its strokes shows in the block's mean absolute difference (its mean
    brightness may not move at all) well above the other blocks'; fresh sensor noise raises every block's
    alike, so it is taken off as the median block's. A change of light moves the block means.
    """
    change = block_means(cv2.absdiff(a, b))
    local = float(change.max() - np.median(change))
    light = float(np.abs(block_means(a) - block_means(b)).max())
    return max(local, light)


def block_means(gray: np.ndarray) -> np.ndarray:
    h, w = gray.shape
    bh, bw = max(1, h // BLOCKS), max(1, w // BLOCKS)
    cells = gray[: bh * (h // bh), : bw * (w // bw)].astype(np.float32)
    out: np.ndarray = cells.reshape(h // bh, bh, w // bw, bw).mean(axis=(1, 3))
    return out


def _grain(frames: Sequence[np.ndarray]) -> float:
    """Noise sigma from the median absolute frame difference (|d| of N(0, 2 sigma^2) has median 0.954 sigma)."""
    best = float("inf")
    for a, b in zip(frames, frames[1:], strict=False):
        best = min(best, float(np.median(cv2.absdiff(a, b))) / 0.954)
    return 0.0 if best == float("inf") else best


def _pair_measures(frames: Sequence[np.ndarray]) -> tuple[float, float, float]:
    changed, block, noise = 0.0, 0.0, float("inf")
    for a, b in zip(frames, frames[1:], strict=False):
        d = cv2.absdiff(a, b)
        changed = max(changed, float(np.count_nonzero(d >= CHANGED_STEP)) / d.size)
        block = max(block, float(block_means(d).max()))
        # E|d| of two frames with Gaussian noise sigma is 2 sigma / sqrt(pi).
        clipped = np.minimum(d, NOISE_CLIP).astype(np.float32)
        noise = min(noise, float(clipped.mean()) * float(np.sqrt(np.pi)) / 2)
    return changed, block, (0.0 if noise == float("inf") else noise)


def _uniform_share(gray: np.ndarray) -> float:
    hist = np.bincount(gray.ravel(), minlength=256)
    level = int(hist.argmax())
    lo, hi = max(0, level - UNIFORM_STEP), min(255, level + UNIFORM_STEP)
    return float(hist[lo : hi + 1].sum()) / gray.size


def _tone(profile: np.ndarray) -> tuple[int, float]:
    """(bin, amplitude in luma) of the profile's one dominant tone; amplitude 0 when no tone dominates."""
    n = profile.size
    if n < 16:
        return 0, 0.0
    spectrum = np.abs(np.fft.rfft((profile - profile.mean()) * np.hanning(n)))
    band = spectrum[STRIPE_LOW_BINS:]
    if band.size < 4:
        return 0, 0.0
    k = int(band.argmax())
    power = band.astype(np.float64) ** 2
    total = float(power.sum())
    # One tone (with the window's leakage into its neighbours) holds most of the profile's power.
    if total <= 0 or float(power[max(0, k - 1) : k + 2].sum()) < STRIPE_SHARE * total:
        return k, 0.0
    return k, float(band[k]) * 4 / n  # hann's coherent gain 1/2, one-sided 2/n: amplitude


def stripe_amplitude(change: np.ndarray) -> float:
    """The strongest periodic row or column pattern in a change between two frames, in luma.

    Interference bars drift over the picture and run across its whole width (or height): the change
    between two frames then carries one tone, the same in both halves of the picture. Measured on the
    change, not the picture, because scenes have still periodic patterns of their own (brick walls,
    fences, printed text) that are no fault; a shaking camera moves such a pattern only where it is,
    so requiring the tone in both halves keeps that out too.
    """
    h, w = change.shape
    best = 0.0
    for halves, axis in (
        ((change[:, : w // 2], change[:, w // 2 :]), 1),
        ((change[: h // 2], change[h // 2 :]), 0),
    ):
        (k1, a1), (k2, a2) = (_tone(part.mean(axis=axis)) for part in halves)
        if abs(k1 - k2) <= 1:
            best = max(best, min(a1, a2))
    return best


def _chroma(colours: Sequence[np.ndarray]) -> tuple[float, float, tuple[float, float]]:
    shifts, spreads, sa, sb = [], [], [], []
    for bgr in colours:
        lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2LAB).reshape(-1, 3).astype(np.float32)
        a, b = lab[:, 1] - 128, lab[:, 2] - 128
        shifts.append(float(np.hypot(a.mean(), b.mean())))
        spreads.append(float(np.hypot(a.std(), b.std())))
        sa.append(float(a.mean()))
        sb.append(float(b.mean()))
    n = len(shifts)
    return sum(shifts) / n, sum(spreads) / n, (sum(sa) / n, sum(sb) / n)


def signal_measures(
    grays: Sequence[np.ndarray], colours: Sequence[np.ndarray] | None = None
) -> SignalMeasures:
    """Measure gray uint8 frames (and, when given, the same frames in BGR at the same size)."""
    changed, block, noise = _pair_measures(grays)
    n = len(grays)
    shift: float | None = None
    spread: float | None = None
    ab: tuple[float, float] | None = None
    if colours:
        shift, spread, ab = _chroma(colours)
    return SignalMeasures(
        changed=changed,
        block_diff=block,
        noise=noise,
        uniform=sum(_uniform_share(g) for g in grays) / n,
        saturated=sum(float(np.count_nonzero(g >= SATURATED)) / g.size for g in grays) / n,
        # Drifting bars change every pair of frames; a passing vehicle's outline rarely does in the same way.
        stripes=min(
            (
                stripe_amplitude(a.astype(np.float32) - b.astype(np.float32))
                for a, b in zip(grays, grays[1:], strict=False)
            ),
            default=0.0,
        ),
        chroma_shift=shift,
        chroma_spread=spread,
        chroma_ab=ab,
        signature=grays[-1].copy(),
        grain=_grain(grays),
    )
