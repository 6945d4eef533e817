"""One probe of one camera: open with OpenCV/FFmpeg, sample frames, measure. Blocking: run in a thread.

Cheap by construction: frames that are not analysed are only `grab()`bed (demuxed and decoded, never converted
to BGR, which is most of the per-frame cost); the analysed ones are `retrieve()`d, shrunk first and turned gray
once. Every blocking call is bounded: CAP_PROP_OPEN_TIMEOUT_MSEC and CAP_PROP_READ_TIMEOUT_MSEC in FFmpeg, socket
deadlines in the diagnosis, and a soft deadline between frames.

The protocol diagnosis (edge_agent.preflight) runs only after FFmpeg failed to open the stream, not before every
probe: a DESCRIBE right before FFmpeg's own made the GStreamer RTSP server answer FFmpeg with 503 while it tore
down the first session (measured with devtools/camsim), and cheap cameras limit concurrent RTSP sessions.
Healthy cameras thus cost one connection per probe; broken ones get an exact reason.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from contract import Problem
from device_runtime.redact import redact_url
from edge_agent.checks import PictureMetrics, picture_metrics
from edge_agent.config import ProbeSection
from edge_agent.preflight import preflight

log = logging.getLogger(__name__)

DIAGNOSIS_AFTER_TIMEOUT_S = 2.0


def configure_opencv() -> None:
    """Process-wide OpenCV/FFmpeg settings; call once at start-up, before the first stream is opened."""
    # UDP RTP through NAT and lossy links loses packets and smears frames; TCP interleaving is what works.
    os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
    # FFmpeg's own messages go straight to stderr, unscrubbed, and may quote stream URLs: keep them quiet.
    # The preflight gives people the reason in words instead.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    # Probes run in parallel threads already; OpenCV's own thread pool would only oversubscribe the cores.
    cv2.setNumThreads(1)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    online: bool  # frames were decoded
    problem: Problem | None = None  # the offline cause when not online
    reason: str | None = None
    open_ms: float | None = None
    probe_ms: float = 0.0
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    frames: int = 0  # frames read (grabbed)
    span_s: float = 0.0  # stream time between the first and last analysed frame
    metrics: PictureMetrics | None = None
    # Last analysed frame shrunk to the snapshot width, as JPEG: encoded here in the worker, where it costs a
    # few ms of a core the agent's loop does not need, and small to hand over.
    snapshot_jpeg: bytes | None = None
    snapshot_width: int | None = None
    snapshot_height: int | None = None


def analysed_indices(frames: int, analysed: int) -> list[int]:
    """Evenly spaced frame indices from the first to the last frame read."""
    if analysed <= 1 or frames <= 1:
        return [0]
    return sorted({round(i * (frames - 1) / (analysed - 1)) for i in range(analysed)})


def shrink(frame: np.ndarray, width: int) -> np.ndarray:
    h, w = frame.shape[:2]
    if w <= width:
        return frame
    height = max(1, round(h * width / w))
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)


def measured_fps(walls: Sequence[float], pts_ms: Sequence[float | None]) -> float | None:
    """Frames per second from the read times and stream timestamps of consecutive frames.

    Right after opening, FFmpeg hands over the frames it buffered while probing the stream (seconds of video
    for RTSP) as fast as we ask, so wall time alone overstates a live camera's rate and is meaningless for a
    file. Stream timestamps are right in both cases but cannot show a camera that stalls in delivery; wall
    time does. A stream cannot deliver faster than real time, so the longer of the two spans is the honest one.
    The first frame is left out: FFmpeg reports the same timestamp for the first two frames after opening.
    """
    if len(walls) < 3:
        return None
    span = walls[-1] - walls[1]
    first, last = pts_ms[1], pts_ms[-1]
    if first is not None and last is not None and last > first:
        span = max(span, (last - first) / 1000.0)
    if span <= 0:
        return None
    return (len(walls) - 2) / span


class _Sampler:
    """Reads frames from an open capture and keeps what the checks need."""

    def __init__(self, settings: ProbeSection) -> None:
        self.settings = settings
        self.grays: list[np.ndarray] = []
        self.colours: list[np.ndarray] = []  # the same frames in BGR (empty for a gray stream)
        self.analysed_pts: list[float | None] = []
        self.analysed_wall: list[float] = []
        self.last_frame: np.ndarray | None = None
        self.walls: list[float] = []  # read time of every frame
        self.pts: list[float | None] = []  # its stream timestamp (ms), when FFmpeg knows it
        self.cut_short = False  # the stream ended (or a read timed out) before all frames were read

    @property
    def read(self) -> int:
        return len(self.walls)

    def run(self, cap: cv2.VideoCapture, deadline: float) -> None:
        wanted = set(analysed_indices(self.settings.frames, self.settings.analysed_frames))
        for i in range(self.settings.frames):
            if time.monotonic() > deadline:
                break
            if not cap.grab():
                self.cut_short = True
                break
            now = time.monotonic()
            pts = cap.get(cv2.CAP_PROP_POS_MSEC)  # 0.0 for the first frame of a stream is a real timestamp
            pts_ms = float(pts) if pts is not None and pts >= 0 else None
            self.walls.append(now)
            self.pts.append(pts_ms)
            if i in wanted:
                self._analyse(cap, now, pts_ms)

    def _analyse(self, cap: cv2.VideoCapture, now: float, pts_ms: float | None) -> None:
        ok, frame = cap.retrieve()
        if not ok or frame is None or frame.size == 0:
            return  # not decodable: if none is, the probe says so
        small = shrink(frame, self.settings.analysis_width)
        gray = small if small.ndim == 2 else cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        if self.grays and gray.shape != self.grays[0].shape:
            # Resolution changed mid-probe (camera reconfigured): compare like with like only.
            self.grays, self.analysed_pts, self.analysed_wall, self.colours = [], [], [], []
        self.grays.append(gray)
        if small.ndim == 3:
            self.colours.append(small)
        self.analysed_pts.append(pts_ms)
        self.analysed_wall.append(now)
        self.last_frame = frame

    def span_s(self) -> float:
        first, last = self.analysed_pts[0], self.analysed_pts[-1]
        if first is not None and last is not None and last > first:
            return (last - first) / 1000.0
        return self.analysed_wall[-1] - self.analysed_wall[0]


def run_probe(url: str, settings: ProbeSection, black_luma: float, deadline: float) -> ProbeResult:
    """Probe one stream. `deadline` is a time.monotonic() value after which no further frame is read."""
    started = time.monotonic()

    def elapsed_ms() -> float:
        return (time.monotonic() - started) * 1000

    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(settings.open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(settings.read_timeout_s * 1000),
        cv2.CAP_PROP_N_THREADS,
        1,
    ]
    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
    open_ms = elapsed_ms()
    sampler = _Sampler(settings)
    try:
        opened = cap.isOpened()
        if opened:
            sampler.run(cap, deadline)
    finally:
        cap.release()
    if not opened:
        return _diagnose(url, settings, open_ms, started)
    if sampler.read == 0:
        reason = f"Đã mở luồng nhưng không nhận được khung hình nào trong {settings.read_timeout_s:g} s"
        return ProbeResult(False, Problem.NO_FRAMES, reason, open_ms=open_ms, probe_ms=elapsed_ms())
    if not sampler.grays or sampler.last_frame is None:
        if sampler.cut_short:
            # The stream broke off before a picture could be decoded: no frames, not a codec problem.
            reason = f"Luồng video bị ngắt sau {sampler.read} khung hình, chưa giải mã được khung nào"
            return ProbeResult(False, Problem.NO_FRAMES, reason, open_ms=open_ms, probe_ms=elapsed_ms())
        reason = f"Nhận được {sampler.read} khung hình nhưng không giải mã được khung nào"
        return ProbeResult(False, Problem.DECODE_ERROR, reason, open_ms=open_ms, probe_ms=elapsed_ms())
    height, width = sampler.last_frame.shape[:2]
    fps = measured_fps(sampler.walls, sampler.pts)
    snapshot = shrink(sampler.last_frame, settings.snapshot_width)
    return ProbeResult(
        True,
        open_ms=open_ms,
        probe_ms=elapsed_ms(),
        width=width,
        height=height,
        fps=fps,
        frames=sampler.read,
        span_s=sampler.span_s(),
        metrics=picture_metrics(
            sampler.grays, black_luma, sampler.colours if len(sampler.colours) == len(sampler.grays) else None
        ),
        snapshot_jpeg=encode_jpeg(snapshot, settings.jpeg_quality),
        snapshot_width=snapshot.shape[1],
        snapshot_height=snapshot.shape[0],
    )


def _diagnose(url: str, settings: ProbeSection, open_ms: float, started: float) -> ProbeResult:
    """FFmpeg could not open the stream: ask the camera ourselves to tell people why."""
    timeout = settings.open_timeout_s
    if open_ms >= 900 * settings.open_timeout_s:
        # FFmpeg already waited the whole open timeout: whether the camera refuses, is silent or unknown shows
        # within a short wait, and a dead camera should not hold a worker twice as long as a live one.
        timeout = min(timeout, DIAGNOSIS_AFTER_TIMEOUT_S)
    check = preflight(url, timeout)
    probe_ms = (time.monotonic() - started) * 1000
    if not check.ok:
        return ProbeResult(False, check.problem, check.reason, probe_ms=probe_ms)
    answer = f" (camera trả lời {check.status})" if check.status else ""
    reason = f"Camera trả lời nhưng không mở được luồng video{answer}: định dạng lạ hoặc luồng chưa sẵn sàng"
    return ProbeResult(False, Problem.NO_FRAMES, reason, open_ms=open_ms, probe_ms=probe_ms)


def safe_probe(url: str, settings: ProbeSection, black_luma: float, deadline: float) -> ProbeResult:
    """run_probe for a worker thread: an unexpected error becomes a reported result, never a dead worker."""
    started = time.monotonic()
    try:
        return run_probe(url, settings, black_luma, deadline)
    except Exception as exc:  # a bug or an OpenCV surprise; the agent must keep probing the other cameras
        log.exception("probe crashed url=%s", redact_url(url))
        return ProbeResult(
            False,
            Problem.DECODE_ERROR,
            f"Lỗi nội bộ khi đọc luồng: {type(exc).__name__}",
            probe_ms=(time.monotonic() - started) * 1000,
        )


def encode_jpeg(frame: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buf)
