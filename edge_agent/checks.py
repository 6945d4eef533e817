"""Picture measurements and the health checks: pure functions on gray uint8 numpy frames.

The probe shrinks every analysed frame and converts it to gray once; everything here works on those small
frames, so it costs well under a millisecond per frame.

The image checks (`covered`, `blurred`, `moved`) compare a probe with the camera's own reference view
(edge_agent.reference), never with fixed absolute figures alone, and use only measures that a change of
gain does not move: night IR mode (gray, darker), daylight and exposure changes scale the picture's
brightness and contrast but leave its edges where they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from contract import Problem
from edge_agent.config import Thresholds
from edge_agent.signal_measures import SignalMeasures, largest_block_change, signal_measures

THUMB_WIDTH = 64  # the scene's layout at this size: shake of a few pixels and sensor noise average out


@dataclass(frozen=True, slots=True)
class PictureMetrics:
    brightness: float  # mean luma 0-255, averaged over the analysed frames
    contrast: float  # luma standard deviation
    sharpness: float  # variance of the Laplacian
    motion: float  # mean absolute difference between consecutive analysed frames (0 with one frame)
    max_diff: float  # largest of those differences: the frozen check needs every pair to be still
    dark_ratio: float  # share of pixels darker than the black threshold
    frames: int  # analysed frames behind these figures
    # Edges per unit of brightness on the thumbnail (gain-free): a cover or a flat field has almost none.
    detail: float | None = None  # None: not measured (metrics built by hand)
    # Fine detail at analysis size over coarse edges on the thumbnail (gain-free): falls when out of focus.
    focus: float | None = None
    # Temporal mean of the analysed frames at THUMB_WIDTH (float32): the view compared with the reference.
    thumb: np.ndarray | None = field(default=None, compare=False, repr=False)
    # Thumbnail-sized mask, 1 where the picture stayed still during the probe (passing lights, vehicles: 0).
    still: np.ndarray | None = field(default=None, compare=False, repr=False)
    # Liveness and signal-quality measures (edge_agent.signal_measures); None: not measured.
    signal: SignalMeasures | None = None


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        raise ValueError(f"frames differ in shape: {a.shape} vs {b.shape}")
    return float(cv2.absdiff(a, b).mean())


def picture_metrics(
    frames: Sequence[np.ndarray], black_luma: float, colours: Sequence[np.ndarray] | None = None
) -> PictureMetrics:
    """Measure gray uint8 frames (same shape, in capture order); `colours`: the same frames in BGR, when
    the stream has colour (the colour checks need it)."""
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
    detail, focus, thumb = view_measures(frames)
    return PictureMetrics(
        brightness=sum(means) / n,
        contrast=sum(stds) / n,
        sharpness=sum(sharp) / n,
        motion=sum(diffs) / len(diffs) if diffs else 0.0,
        max_diff=max(diffs) if diffs else 0.0,
        dark_ratio=sum(dark) / n,
        frames=n,
        detail=detail,
        focus=focus,
        thumb=thumb,
        still=still_mask(frames, thumb.shape),
        signal=signal_measures(frames, colours),
    )


def _gradient_magnitude(img: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)
    out: np.ndarray = cv2.magnitude(gx, gy) / 8.0  # Sobel's kernel weighs 8: back to luma steps per pixel
    return out


def view_measures(frames: Sequence[np.ndarray]) -> tuple[float, float, np.ndarray]:
    """(detail, focus, thumbnail) of the temporal mean of the frames.

    Averaging the frames first halves sensor noise (which would pass for detail) and smears passing people
    and vehicles into the background instead of letting them dominate one frame.
    """
    mean = np.mean(np.stack(frames).astype(np.float32), axis=0)
    h, w = mean.shape
    height = max(2, round(h * THUMB_WIDTH / w))
    thumb = cv2.resize(mean, (THUMB_WIDTH, height), interpolation=cv2.INTER_AREA)
    edges = _gradient_magnitude(thumb)
    coarse = float(edges.mean())
    fine = float(np.abs(cv2.Laplacian(mean, cv2.CV_32F, ksize=1)).mean())
    detail = _spread_detail(edges) / max(float(thumb.mean()), 16.0)
    # Coarse edges scale with the shrink factor; dividing by it keeps focus comparable across sizes.
    focus = fine / max(coarse * THUMB_WIDTH / w, 1e-3)
    return detail, focus, thumb


DETAIL_GRID = (4, 8)  # rows, columns of the blocks whose edges are compared
DETAIL_QUANTILE = 75  # detail found in a quarter of the picture counts; an on-screen clock fills < 1/8


def _spread_detail(edges: np.ndarray) -> float:
    """The edge strength that at least a quarter of the picture's blocks reach.

    A mean would let a burnt-in clock or camera name, which stays sharp on a covered lens, pass for a
    scene; a quantile over blocks needs detail spread over the picture.
    """
    rows, cols = DETAIL_GRID
    h, w = edges.shape
    bh, bw = max(1, h // rows), max(1, w // cols)
    cells = edges[: bh * (h // bh), : bw * (w // bw)]
    means = cells.reshape(h // bh, bh, w // bw, bw).mean(axis=(1, 3))
    return float(np.percentile(means, DETAIL_QUANTILE))


MOVING_STEP = 12.0  # luma change within a probe that marks a thumbnail pixel as moving


def still_mask(frames: Sequence[np.ndarray], shape: tuple[int, ...]) -> np.ndarray | None:
    """1 where the picture stayed still over the probe, at thumbnail size: headlights sweeping a dark
    street or a bus crossing change the view's edges for a moment, not where the camera looks."""
    if len(frames) < 2:
        return None
    stack = np.stack(frames).astype(np.int16)
    spread = (stack.max(axis=0) - stack.min(axis=0)).astype(np.float32)
    small = cv2.resize(spread, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    moving = cv2.dilate((small > MOVING_STEP).astype(np.uint8), np.ones((3, 3), np.uint8))
    out: np.ndarray = (moving == 0).astype(np.float32)
    return out


def view_similarity(
    a: np.ndarray, b: np.ndarray, max_shift: int = 2, still: np.ndarray | None = None
) -> float:
    """How much two thumbnails show the same scene: correlation of their edge maps, -1..1.

    Edge strength, not brightness, so gain, IR mode and polarity changes (colours that turn to other grays)
    matter little; the best of small shifts, so a shaking pole is not a moved camera.
    """
    if a.shape != b.shape:
        b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
    ea = _gradient_magnitude(cv2.GaussianBlur(a.astype(np.float32), (3, 3), 0))
    eb = _gradient_magnitude(cv2.GaussianBlur(b.astype(np.float32), (3, 3), 0))
    s = max_shift
    if still is not None and still.shape == eb.shape and still.mean() >= 0.25:
        # Compare only where the probe's picture stayed still (at least a quarter of it must have).
        ea, eb = ea * still, eb * still
    core = ea[s : ea.shape[0] - s, s : ea.shape[1] - s]
    core = core - core.mean()
    best = -1.0
    for dy in range(-s, s + 1):
        for dx in range(-s, s + 1):
            win = eb[s + dy : eb.shape[0] - s + dy, s + dx : eb.shape[1] - s + dx]
            win = win - win.mean()
            denom = float(np.sqrt((core * core).sum() * (win * win).sum()))
            if denom > 0:
                best = max(best, float((core * win).sum()) / denom)
    return best


def is_black(m: PictureMetrics, th: Thresholds) -> bool:
    """Signal loss: one flat, dead level (black, or a recorder's blue "no signal" screen), or a picture so
    dark and colourless that nothing tells it from one.

    A hand or cloth on the lens is dark too, but a live sensor behind it still shows noise, some light
    and the colour of skin or fabric: that is `covered` (tampering), not a cable fault.
    """
    sig = m.signal
    if sig is not None and sig.uniform >= th.signal_loss_uniform and sig.noise <= th.signal_loss_noise:
        if m.brightness <= 2 * th.black_luma or _blue_screen(sig):
            return True
    if m.dark_ratio < th.black_ratio:
        return False
    if sig is None:
        return True  # no measures beyond darkness (metrics built by hand): the old rule
    if m.brightness > th.black_mean_max:
        return False
    return sig.chroma_shift is None or sig.chroma_shift <= th.black_chroma_max


def _blue_screen(sig: SignalMeasures) -> bool:
    # Lab b below zero is blue; recorders' "no signal" screens are strongly so.
    return sig.chroma_shift is not None and sig.chroma_shift >= 40


def is_low_fps(fps: float | None, expected_fps: float | None, th: Thresholds) -> bool:
    if fps is None or expected_fps is None:
        return False
    return fps < th.low_fps_ratio * expected_fps


def is_frozen(m: PictureMetrics, span_s: float, th: Thresholds) -> bool:
    """Every analysed frame equals the previous one although stream time passed between them.

    Equal means more than a small mean difference: a still scene still has sensor noise moving many
    pixels a little (`changed`) and a burnt-in clock changing one block (`block_diff`); a stuck encoder
    repeats the very same picture, clock included.
    """
    if not (m.frames >= 2 and span_s > 0 and m.max_diff <= th.frozen_diff):
        return False
    sig = m.signal
    if sig is None:
        return True
    return sig.block_diff <= th.frozen_block_diff and sig.changed <= th.frozen_changed


def changed_since(previous: np.ndarray | None, m: PictureMetrics, th: Thresholds) -> bool:
    """Whether the picture changed since the previous probe (`previous`: its signal signature).

    One probe lasts half a second and may fall between two ticks of an on-screen clock; the previous
    probe was tens of seconds earlier, so a live clock or any slow change of light shows there, while a
    stuck encoder still sends the very same picture.
    """
    sig = m.signal
    if previous is None or sig is None or sig.signature is None or previous.shape != sig.signature.shape:
        return False
    return largest_block_change(sig.signature, previous) > th.frozen_block_diff


def is_overexposed(m: PictureMetrics, ref: ViewReference | None, th: Thresholds) -> bool:
    """Mostly saturated white and washed out: with a reference, its edge detail must have fallen too, so a
    camera facing a white wall or a sunlit page that still shows its edges is no fault."""
    if m.signal is None or m.signal.saturated < th.overexposed_ratio:
        return False
    return ref is None or m.detail is None or m.detail < th.overexposed_detail_ratio * ref.detail


def is_noisy(m: PictureMetrics, th: Thresholds) -> bool:
    return m.signal is not None and m.signal.grain > th.noisy_sigma


def has_stripes(m: PictureMetrics, th: Thresholds) -> bool:
    return m.signal is not None and m.signal.stripes >= th.stripes_amplitude


def stripe_free(m: PictureMetrics, th: Thresholds) -> bool:
    return not has_stripes(m, th)


def has_colour_cast(m: PictureMetrics, ref: ViewReference | None, th: Thresholds) -> bool:
    """The whole picture leans to one colour it did not have (a lost colour channel, a bad cable).

    Only against the reference's own mean colour, so a camera facing an orange wall or a green field is
    no fault, and only a lean beyond `colour_cast_ratio` x the colours' own spread. A gray night picture
    has no colour to lean.
    """
    sig = m.signal
    if sig is None or sig.chroma_shift is None or sig.chroma_spread is None or sig.chroma_ab is None:
        return False
    if sig.chroma_shift < th.colour_cast_min or sig.chroma_shift < th.colour_cast_ratio * sig.chroma_spread:
        return False
    if ref is None or ref.chroma is None:
        return False  # this camera's normal colour is not known yet
    da, db = sig.chroma_ab[0] - ref.chroma[0], sig.chroma_ab[1] - ref.chroma[1]
    return float(np.hypot(da, db)) >= th.colour_cast_min


class ViewReference(Protocol):
    """What the image checks need from a camera's reference view (edge_agent.reference.Reference)."""

    @property
    def detail(self) -> float: ...
    @property
    def focus(self) -> float: ...
    @property
    def thumb(self) -> np.ndarray: ...
    @property
    def chroma(self) -> tuple[float, float] | None: ...


def is_covered(m: PictureMetrics, ref: ViewReference | None, th: Thresholds) -> bool:
    """Almost no edges left, dark or bright: a hand, paper, tape, spray, a dark cloth.

    Against the camera's own normal when it has one; the absolute floor alone before (a flat field has
    essentially no edges at any gain, while any real scene, even at night, has many).
    """
    if m.detail is None:
        return False
    limit = th.covered_detail_min
    if ref is not None:
        limit = max(limit, th.covered_ratio * ref.detail)
    if m.detail < limit:
        return True
    # Soft shading (a hand's, a cloth's) passes for coarse edges; but the familiar view is gone and
    # no fine texture is left, where a camera turned elsewhere still sees a sharp scene.
    return (
        ref is not None
        and m.focus is not None
        and m.focus < th.covered_focus_ratio * ref.focus
        and is_moved(m, ref, th)
    )


def is_moved(m: PictureMetrics, ref: ViewReference | None, th: Thresholds) -> bool:
    if ref is None or m.thumb is None:
        return False
    return view_similarity(ref.thumb, m.thumb, still=m.still) < th.moved_similarity


def is_blurred(m: PictureMetrics, ref: ViewReference | None, th: Thresholds) -> bool:
    if ref is None or m.focus is None:
        return False
    return m.focus < th.blurred_ratio * ref.focus


def judge(
    m: PictureMetrics,
    span_s: float,
    fps: float | None,
    expected_fps: float | None,
    th: Thresholds,
    ref: ViewReference | None = None,
) -> list[Problem]:
    """Problems of a probe that decoded frames. `span_s`: stream time between first and last analysed frame.

    A black picture is also still, so it is reported as black only; and identical frames only mean a frozen
    picture when frames arrive at a normal rate (at a trickle, low_fps says more); a covered lens is not
    called frozen either. Of the view problems
    only the most telling one is reported: a covered lens also has no focus and no familiar edges, and a
    camera turned to another scene has another focus.
    """
    problems: list[Problem] = []
    low = is_low_fps(fps, expected_fps, th)
    if low:
        problems.append(Problem.LOW_FPS)
    if is_black(m, th):
        problems.append(Problem.BLACK)
        return problems
    if is_overexposed(m, ref, th):
        # A white-out has no edges either: it is not a cover, and nothing else can be judged.
        problems.append(Problem.OVEREXPOSED)
        return problems
    if is_covered(m, ref, th):
        # A cover is flat and still: identical frames say nothing more about the encoder.
        problems.append(Problem.COVERED)
        return problems
    if not low and is_frozen(m, span_s, th):
        problems.append(Problem.FROZEN)
    if has_stripes(m, th):
        problems.append(Problem.STRIPES)  # drifting bars change every pixel: not noise besides
    elif is_noisy(m, th):
        problems.append(Problem.NOISY)
    if has_colour_cast(m, ref, th):
        # A lost colour channel also changes the gray picture's edges: the view cannot be judged.
        problems.append(Problem.COLOUR_CAST)
        return problems
    if is_moved(m, ref, th):
        problems.append(Problem.PTZ_OFF_PRESET if th.ptz else Problem.MOVED)
    elif is_blurred(m, ref, th):
        problems.append(Problem.BLURRED)
    return problems
