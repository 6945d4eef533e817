"""The second labelled clip set for bench/camera_checks.py: scenes drawn by FFmpeg's lavfi sources, coded by x264.

Independent of the first set on purpose: no photographs, no OpenCV drawing and no JPEG coding. Each camera
views a static scene made by an FFmpeg generator (mandelbrot, life, cellauto, testsrc2 — a window of it
at 1280x720, desaturated), with temporal sensor noise (`noise` filter) and a burnt-in clock (`drawtext`
on the stream's timestamps, ticking every second), then coded with libx264 and decoded back by OpenCV's
FFmpeg reader, as the agent's probe reads a camera. Every clip is rendered from its own seed into a
temporary folder and deleted after use; nothing is committed as video.

Per clip: one video of the learning probes (healthy, daylight) and one of the test probes (the condition).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np

from edge_agent.probe import analysed_indices

W, H = 640, 360
FPS = 25
PROBE_FRAMES = 15  # frames read per probe at 25 fps: 0.56 s between the first and the last analysed frame
PROBE_GAP_S = 30
ANALYSED = 4
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
SCENES = ("mandelbrot", "life", "cellauto", "testsrc2")
FAULTS = (
    "black",
    "frozen",
    "covered",
    "blurred",
    "moved",
    "ptz_off_preset",
    "colour_cast",
    "noisy",
    "stripes",
    "overexposed",
)
NUISANCES = ("night", "rain", "dusk", "headlights", "still_clock")

Rng = np.random.Generator


def _scene(kind: str, seed: int) -> str:
    """A lavfi chain giving one still 1280x720 picture of a generated scene, repeated at 25 fps."""
    r = np.random.default_rng(seed)
    if kind == "mandelbrot":
        x, y = r.uniform(-0.8, -0.7), r.uniform(0.05, 0.2)
        scale = r.uniform(0.05, 0.3)
        src = (
            f"mandelbrot=s=1280x720:maxiter=120:start_x={x:.5f}:start_y={y:.5f}"
            f":start_scale={scale:.4f}:end_scale={scale:.4f}:rate={FPS}"
        )
    elif kind == "life":
        src = f"life=s=1280x720:seed={seed % 2**31}:ratio=0.3:mold=10:rate={FPS}:life_color=#c8c0b0:death_color=#303438:mold_color=#606860"
        src += ",trim=start_frame=12,setpts=PTS-STARTPTS,gblur=sigma=1.2"
    elif kind == "cellauto":
        src = (
            f"cellauto=s=1280x720:rule={int(r.choice([18, 30, 90, 110, 150]))}:seed={seed % 2**31}:rate={FPS}"
        )
        src += ",trim=start_frame=719,setpts=PTS-STARTPTS,gblur=sigma=1,lutyuv=y='val*0.6+50'"
    else:
        src = f"testsrc2=s=1280x720:rate={FPS}"
    return f"{src},trim=end_frame=1,loop=loop=-1:size=1,format=yuv420p,hue=s=0.45"


def _window(rng: Rng) -> tuple[int, int]:
    return int(rng.integers(0, 1280 - W + 1)), int(rng.integers(0, 720 - H + 1))


def _clock(offset: int) -> str:
    """A burnt-in date/time OSD. Probes are PROBE_FRAMES apart in the video but PROBE_GAP_S apart on the
    clock, as an agent probing every 30 s would see it."""
    t = f"({offset}+{PROBE_GAP_S}*floor(n/{PROBE_FRAMES})+mod(n\\,{PROBE_FRAMES})/{FPS})"
    parts = [f"mod(floor({t}/3600)\\,24)", f"mod(floor({t}/60)\\,60)", f"mod(floor({t})\\,60)"]
    text = "\\:".join(f"%{{eif\\:{p}\\:d\\:2}}" for p in parts)
    return (
        f"drawtext=fontfile={FONT}:text='07-12-2026 {text}':x=16:y=14:fontsize=22:fontcolor=white:borderw=2"
    )


class Clip:
    """The filter graphs of one clip, from its label and seed."""

    def __init__(self, rng: Rng, label: str) -> None:
        self.label = label
        self.seed = int(rng.integers(0, 2**31))
        self.kind = str(rng.choice(SCENES))
        self.win = _window(rng)
        self.noise = int(rng.integers(3, 8))
        self.crf = int(rng.integers(22, 31))
        self.clock = int(rng.integers(1_700_000_000, 1_800_000_000))
        self.rng = rng
        self.other: tuple[str, int, tuple[int, int]] = (self.kind, self.seed, self.win)
        if label in ("moved", "ptz_off_preset"):
            if label == "moved" and rng.random() < 0.5:
                kind = str(rng.choice([k for k in SCENES if k != self.kind]))
                self.other = (kind, self.seed + 1, _window(rng))
            else:  # the same scene, the camera turned/panned by at least 40 % of the view
                x, y = self.win
                nx = x + int(rng.choice([-1, 1]) * rng.integers(int(0.4 * W), int(0.6 * W)))
                self.other = (self.kind, self.seed, (int(np.clip(nx, 0, 1280 - W)), y))
                if abs(self.other[2][0] - x) < 0.4 * W:
                    self.other = (self.kind, self.seed, ((x + W) % (1280 - W + 1), 720 - H - y))

    def _view(self, which: tuple[str, int, tuple[int, int]]) -> str:
        kind, seed, (x, y) = which
        return f"{_scene(kind, seed)},crop={W}:{H}:{x}:{y}"

    def _live(self, sigma: int) -> str:
        return f"noise=alls={sigma}:allf=t:all_seed={self.seed % 65536}"

    def learn_graph(self) -> str:
        return f"{self._view((self.kind, self.seed, self.win))},{self._live(self.noise)},{_clock(self.clock)}"

    def test_graph(self) -> str:
        r, label = self.rng, self.label
        base = self._view((self.kind, self.seed, self.win))
        live, clock = self._live(self.noise), _clock(self.clock + 3 * PROBE_GAP_S)
        if label == "night":
            return f"{base},eq=brightness=-0.22:contrast=0.55:saturation=0.1,{self._live(int(r.integers(10, 18)))},{clock}"
        if label == "dusk":
            return (
                f"{base},eq=brightness='-0.06*t':contrast=0.8:eval=frame,"
                f"colorbalance=rm=0.12:gm=0.03:bm=-0.12,{live},{clock}"
            )
        if label == "still_clock":
            dim = "eq=brightness=-0.22:contrast=0.6," if r.random() < 0.5 else ""
            return f"{base},{dim}{self._live(int(r.integers(1, 4)))},{clock}"
        if label == "headlights":
            speed, y = int(r.integers(250, 500)), int(r.integers(200, 300))
            lights = (
                f"drawbox=x='mod(t*{speed}\\,900)-160':y={y}:w=46:h=24:color=white@0.95:t=fill,"
                f"drawbox=x='mod(t*{speed}\\,900)-80':y={y}:w=46:h=24:color=white@0.95:t=fill,"
                f"drawbox=x='mod(t*{speed}\\,900)-200':y={y - 40}:w=220:h=110:color=white@0.25:t=fill"
            )
            return f"{base},eq=brightness=-0.2:contrast=0.55:saturation=0.2,{lights},{self._live(10)},{clock}"
        if label == "rain":
            rain = (
                f"color=c=gray:s=320x180:r={FPS},noise=alls=100:allf=t+u:all_seed={self.seed % 997},"
                "lutyuv=y='if(gt(val\\,248)\\,235\\,128)':u=128:v=128,scale=640:360:flags=neighbor,"
                "avgblur=sizeX=1:sizeY=10,format=yuv420p"
            )
            return f"{base},eq=contrast=0.8[s];{rain}[r];[s][r]blend=all_mode=overlay,{live},{clock}"
        if label == "blurred":
            return f"{base},gblur=sigma={r.uniform(4, 8):.1f},{live},{clock}"
        if label in ("moved", "ptz_off_preset"):
            return f"{self._view(self.other)},{live},{clock}"
        if label == "colour_cast":
            drop = str(r.choice(["r=0", "g=0", "b=0", "r=0:g=0", "g=val*0.2:b=val*0.2"]))
            return f"{base},format=rgb24,lutrgb={drop},format=yuv420p,{live},{clock}"
        if label == "noisy":
            return f"{base},{self._live(int(r.integers(45, 75)))},{clock}"
        if label == "stripes":
            amp, period = r.uniform(14, 30), r.uniform(5, 18)
            bars = (
                f"color=c=gray:s=8x360:r={FPS},format=gray,"
                f"geq=lum='128+{amp:.1f}*sin(2*PI*(Y/{period:.2f}+N*0.11))',"
                "scale=640:360,format=yuv420p"
            )
            if r.random() < 0.5:  # vertical bars
                bars = bars.replace("s=8x360", "s=640x8").replace("Y/", "X/")
            return f"{base},{live}[s];{bars}[b];[s][b]blend=all_mode=overlay,{clock}"
        if label == "overexposed":
            return f"{base},lutyuv=y='val*{r.uniform(2.8, 4):.2f}+60',{live},{clock}"
        if label == "black":
            if r.random() < 0.5:
                return f"color=c=black:s={W}x{H}:r={FPS},format=yuv420p"
            return (
                f"color=c=0x1030c8:s={W}x{H}:r={FPS},format=yuv420p,"
                f"drawtext=fontfile={FONT}:text='NO SIGNAL':x=(w-tw)/2:y=(h-th)/2:fontsize=30:fontcolor=white"
            )
        if label == "covered":
            # A hand on the lens: warm, dark, a little texture, sliding slightly, over a live sensor.
            level = r.uniform(-0.35, -0.05)
            hand = (
                f"color=c=0xb07a5a:s={W}x{H}:r={FPS},format=yuv420p,noise=alls=30:all_seed={self.seed % 997},"
                f"gblur=sigma=14,vignette=a=PI/3,eq=brightness={level:.2f}:contrast=0.8,"
                "format=yuva420p,fade=in:st=0:d=0.5:alpha=1"
            )
            return (
                f"{base}[s];{hand}[h];[s][h]overlay=x='3*sin(t*4)':y='2*cos(t*3)',"
                f"{self._live(int(r.integers(2, 6)))},{clock}"
            )
        raise ValueError(f"unknown label {label}")


def _render(graph: str, frames: int, crf: int, path: Path) -> list[np.ndarray]:
    cmd = [
        "ffmpeg", "-v", "error", "-y", "-filter_complex", f"{graph}[out]", "-map", "[out]",
        "-frames:v", str(frames), "-c:v", "libx264", "-preset", "ultrafast", "-crf", str(crf),
        "-pix_fmt", "yuv420p", str(path),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    out = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(frame)
    cap.release()
    path.unlink(missing_ok=True)
    if len(out) < frames:
        raise RuntimeError(f"rendered {len(out)} of {frames} frames for {graph[:80]}")
    return out


def _probes(frames: list[np.ndarray], count: int) -> list[list[np.ndarray]]:
    idx = analysed_indices(PROBE_FRAMES, ANALYSED)
    return [[frames[p * PROBE_FRAMES + i] for i in idx] for p in range(count)]


def clip_probes(
    rng: Rng, label: str, learn: int, test: int, tmp: Path
) -> tuple[list[list[np.ndarray]], list[list[np.ndarray]]]:
    """The analysed BGR frames of each learning probe and each test probe of one clip."""
    clip = Clip(rng, label)
    learned = _probes(_render(clip.learn_graph(), learn * PROBE_FRAMES, clip.crf, tmp / "learn.mp4"), learn)
    if label == "frozen":
        # The encoder repeats one picture, clock included: the frame is looped and coded again by x264.
        still = tmp / "still.png"
        cv2.imwrite(str(still), learned[-1][-1])
        graph = f"movie={still},loop=loop=-1:size=1,fps={FPS},format=yuv420p"
        tested = _probes(_render(graph, test * PROBE_FRAMES, clip.crf, tmp / "test.mp4"), test)
        still.unlink(missing_ok=True)
    else:
        tested = _probes(_render(clip.test_graph(), test * PROBE_FRAMES, clip.crf, tmp / "test.mp4"), test)
    return learned, tested


def available() -> str | None:
    """Why the set cannot be made here, or None."""
    if shutil.which("ffmpeg") is None:
        return "ffmpeg not found"
    if not Path(FONT).exists():
        return f"font {FONT} missing (fonts-dejavu-core)"
    return None
