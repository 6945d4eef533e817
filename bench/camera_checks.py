"""Image-check accuracy on a labelled clip set: `.venv/bin/python bench/camera_checks.py [--seed N] [--clips N]`.

Clips are made reproducibly from the seed out of the natural photographs that ship inside scikit-image
(`skimage/data/*.png|jpg`, no download). Each clip is one camera: `LEARN` healthy probes from which the
agent's real code learns the reference view, then `TEST` probes of one condition. A probe is `FRAMES` frames
rendered at 640x360, JPEG-coded like a camera's stream, then shrunk and grayed exactly as the probe does
(edge_agent.probe.shrink), measured by edge_agent.checks.picture_metrics and judged by
edge_agent.judgement.CameraJudge (reference learning and N-probe confirmation included).

Fault classes: black, frozen, covered (dark cloth, paper/bright, hand, spray), blurred (defocus), moved
(turned to another part of the scene or another scene). Nuisance-only clips, label `ok`: sensor noise, JPEG
artefacts, day->night IR switch, slow light change, small shake, rain, people/vehicles passing.

Prints per-class precision and recall, a confusion matrix, the false-alarm rate on nuisance clips (a clip
counts when any probe of it reported any problem), and one JSON line at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_agent.checks import picture_metrics
from edge_agent.config import Thresholds
from edge_agent.judgement import CameraJudge
from edge_agent.probe import ProbeResult, shrink
from edge_agent.reference import ReferenceStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
import camera_clips_lavfi as lavfi
from camera_scoring import score

W, H = 640, 360
FRAMES = 4  # analysed frames per probe (the agent's default)
ANALYSIS_WIDTH = 320
LEARN, TEST = 3, 4
FAULTS = ("black", "frozen", "covered", "blurred", "moved")
NUISANCES = ("noise", "jpeg", "night_ir", "light_change", "shake", "rain", "traffic")
CLASSES = ("ok", *FAULTS)
PHOTOS = (
    "astronaut.png",
    "camera.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "coins.png",
    "page.png",
    "brick.png",
    "gravel.png",
    "grass.png",
    "retina.jpg",
    "ihc.png",
    "text.png",
    "moon.png",
)

Rng = np.random.Generator


def load_photos() -> list[np.ndarray]:
    import skimage  # the package is the data source; imported here so the agent never needs it

    folder = Path(skimage.__file__).parent / "data"
    photos = []
    for name in PHOTOS:
        img = cv2.imread(str(folder / name), cv2.IMREAD_COLOR)
        if img is None:
            raise SystemExit(f"scikit-image data image missing: {folder / name}")
        photos.append(img)
    return photos


class Scene:
    """A camera's view: a window onto a photo, up-scaled to 640x360 (cameras see wider than the photos)."""

    def __init__(self, photo: np.ndarray, rng: Rng) -> None:
        self.photo = photo
        ph, pw = photo.shape[:2]
        self.win_w = int(pw * rng.uniform(0.55, 0.8))
        self.win_h = min(ph, int(self.win_w * H / W))
        self.x = int(rng.integers(0, pw - self.win_w + 1))
        self.y = int(rng.integers(0, ph - self.win_h + 1))

    def render(self, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
        """The view, shifted by (dx, dy) output pixels (sub-pixel, for shake)."""
        sx, sy = self.win_w / W, self.win_h / H
        m = np.array([[sx, 0, self.x + dx * sx], [0, sy, self.y + dy * sy]], np.float32)
        out: np.ndarray = cv2.warpAffine(
            self.photo,
            m,
            (W, H),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REFLECT,
        )
        return out

    def turned(self, rng: Rng) -> Scene | None:
        """The same photo seen from a window moved by at least 40 % of its size (camera turned); None when
        the photo is too small for that."""
        other = Scene.__new__(Scene)
        other.photo, other.win_w, other.win_h = self.photo, self.win_w, self.win_h
        ph, pw = self.photo.shape[:2]
        for _ in range(50):
            x = int(rng.integers(0, pw - self.win_w + 1))
            y = int(rng.integers(0, ph - self.win_h + 1))
            if abs(x - self.x) >= 0.4 * self.win_w or abs(y - self.y) >= 0.4 * self.win_h:
                other.x, other.y = x, y
                return other
        return None


def sensor(frame: np.ndarray, rng: Rng, sigma: float) -> np.ndarray:
    """Gaussian sensor noise. OpenCV's generator (seeded in main) is ten times faster than numpy's here."""
    noise = np.empty(frame.shape, np.int16)
    spread = np.full(3, sigma, np.float64)  # per channel: a scalar fills only the first
    cv2.randn(noise, np.zeros(3, np.float64), spread)
    out: np.ndarray = np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    return out


def jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if out is None:
        raise RuntimeError("JPEG decoding failed")
    return np.asarray(out)


def blobs(frame: np.ndarray, rng: Rng, count: int, t: float, seeds: list[tuple[float, ...]]) -> np.ndarray:
    """People and vehicles: solid shapes crossing the view; `t` 0..1 moves them along."""
    out = frame.copy()
    for i in range(count):
        y0, size, speed, b, g, r = seeds[i]
        cx = int((speed * t * 3 + y0 * 7) % 1.2 * W - 0.1 * W)
        cy = int(y0 * H)
        w, h = int(size * W * 0.6), int(size * H)
        cv2.rectangle(out, (cx, cy), (cx + w, cy + h), (b, g, r), -1)
    return out


def rain(frame: np.ndarray, rng: Rng, streaks: int) -> np.ndarray:
    out = frame.copy()
    for _ in range(streaks):
        x, y = int(rng.integers(0, W)), int(rng.integers(0, H))
        cv2.line(out, (x, y), (x + 3, y + 18), (200, 200, 200), 1)
    out = cv2.addWeighted(out, 0.85, np.full_like(out, 120), 0.15, 0)  # wet haze
    return out


def night_ir(frame: np.ndarray, gain: float) -> np.ndarray:
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32) * gain
    return np.asarray(cv2.cvtColor(np.clip(gray, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR))


def cover(rng: Rng, kind: str, view: np.ndarray) -> Callable[[int], np.ndarray]:
    """A lens cover: each call gives the next frame (noise differs, the cover stays)."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    if kind == "spray":
        sigma = rng.uniform(25, 45)
        paint = np.array(rng.integers(20, 230, 3), np.float32)
        base = cv2.GaussianBlur(view, (0, 0), sigma).astype(np.float32) * 0.2 + paint * 0.8
    else:
        level = {"dark": rng.uniform(26, 60), "paper": rng.uniform(150, 235), "hand": rng.uniform(90, 170)}[
            kind
        ]
        tint = np.array([0.8, 0.9, 1.1] if kind == "hand" else [1.0, 1.0, 1.0], np.float32)
        shade = 1 + rng.uniform(-0.25, 0.25) * (xx / W - 0.5) + rng.uniform(-0.25, 0.25) * (yy / H - 0.5)
        base = (level * shade)[..., None] * tint
    noise = rng.uniform(2, 6)

    def frame(_: int) -> np.ndarray:
        return sensor(np.clip(base, 0, 255).astype(np.uint8), rng, noise)

    return frame


def probe_frames(rng: Rng, scene: Scene, label: str, step: int, ctx: dict[str, object]) -> list[np.ndarray]:
    """The frames of one probe. `step` < 0 while learning (healthy), else the test probe's index."""
    noise = float(ctx["noise"])  # type: ignore[arg-type]
    quality = int(ctx["quality"])  # type: ignore[call-overload]
    traffic = ctx["traffic"]
    assert isinstance(traffic, list)
    testing = step >= 0
    kind = label if testing else "healthy"
    if kind == "frozen":
        still = jpeg(sensor(scene.render(), rng, noise), quality)
        return [still] * FRAMES
    if kind == "covered":
        make = cover(rng, str(ctx["cover"]), scene.render())
        return [jpeg(make(i), quality) for i in range(FRAMES)]
    if kind == "black":
        return [
            jpeg(sensor(np.full((H, W, 3), rng.uniform(0, 10), np.uint8), rng, 2), quality)
            for _ in range(FRAMES)
        ]
    view = ctx["moved_to"] if kind == "moved" else scene
    assert isinstance(view, Scene)
    frames = []
    for i in range(FRAMES):
        t = (max(step, 0) * FRAMES + i) / (TEST * FRAMES)
        dx = dy = 0.0
        if kind == "shake":
            dx, dy = rng.uniform(-4, 4, 2)
        frame = view.render(dx, dy)
        if kind == "blurred":
            frame = cv2.GaussianBlur(frame, (0, 0), float(ctx["blur"]))  # type: ignore[arg-type]
        if kind == "light_change":
            frame = cv2.convertScaleAbs(frame, alpha=1 + (float(ctx["gain"]) - 1) * (step + 1) / TEST)  # type: ignore[arg-type]
        if kind == "night_ir":
            frame = night_ir(frame, float(ctx["gain"]))  # type: ignore[arg-type]
        if kind == "rain":
            frame = rain(frame, rng, int(rng.integers(80, 250)))
        if traffic or kind == "traffic":
            count = len(traffic) if kind != "traffic" else len(traffic)
            frame = blobs(frame, rng, count, t + i * 0.05, traffic)
        sigma = noise * (2.5 if kind in ("night_ir", "noise") else 1.0)
        q = int(rng.integers(12, 30)) if kind == "jpeg" else quality
        frames.append(jpeg(sensor(frame, rng, sigma), q))
    return frames


def make_clip(rng: Rng, photos: list[np.ndarray], label: str) -> tuple[Scene, dict[str, object]]:
    idx = int(rng.integers(0, len(photos)))
    scene = Scene(photos[idx], rng)
    traffic_count = int(rng.integers(1, 4)) if label == "traffic" else int(rng.integers(0, 2))
    traffic = [
        (
            rng.uniform(0.1, 0.8),
            rng.uniform(0.05, 0.25),
            rng.uniform(0.5, 2),
            *rng.integers(0, 255, 3).tolist(),
        )
        for _ in range(traffic_count)
    ]
    other = int(rng.integers(0, len(photos) - 1))
    moved_to = scene.turned(rng) if rng.random() < 0.6 else None
    if moved_to is None:
        moved_to = Scene(photos[other + (other >= idx)], rng)  # pointed at another place altogether
    ctx: dict[str, object] = {
        "noise": rng.uniform(1.5, 4),
        "quality": int(rng.integers(45, 90)),
        "traffic": traffic,
        "cover": ("dark", "paper", "hand", "spray")[int(rng.integers(0, 4))],
        "blur": rng.uniform(3, 7),
        "gain": rng.uniform(0.3, 0.55)
        if label == "night_ir"
        else rng.choice([rng.uniform(0.5, 0.75), rng.uniform(1.3, 1.6)]),
        "moved_to": moved_to,
    }
    return scene, ctx


def judge_probes(
    learn: list[list[np.ndarray]], test: list[list[np.ndarray]], th: Thresholds
) -> tuple[list[str], bool]:
    """Run the agent's judgement over a clip's BGR probes: (problems reported at the end, any problem ever)."""
    judge = CameraJudge.open("bench", "rtsp://bench/1", ReferenceStore(None), LEARN, th)
    reported: list[str] = []
    any_problem = False
    for step, frames in enumerate([*learn, *test]):
        smalls = [shrink(f, ANALYSIS_WIDTH) for f in frames]
        grays = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in smalls]
        m = picture_metrics(grays, th.black_luma, smalls)
        result = ProbeResult(True, fps=25.0, frames=15, span_s=0.56, metrics=m)
        reported = [p.value for p in judge.step(result, 25.0, th, now=1.8e9 + step * 30)]
        any_problem = any_problem or bool(reported)
    return reported, any_problem


def predicted_class(reported: list[str], faults: tuple[str, ...]) -> str:
    """The set's fault class reported, else any other problem reported (a wrong call), else `ok`."""
    return next((c for c in faults if c in reported), reported[0] if reported else "ok")


def run_clip(rng: Rng, photos: list[np.ndarray], label: str, th: Thresholds) -> tuple[str, bool]:
    """(predicted class at the end, whether any probe reported a problem)."""
    scene, ctx = make_clip(rng, photos, label)
    learn = [probe_frames(rng, scene, label, step, ctx) for step in range(-LEARN, 0)]
    test = [probe_frames(rng, scene, label, step, ctx) for step in range(TEST)]
    reported, any_problem = judge_probes(learn, test, th)
    return predicted_class(reported, FAULTS), any_problem


def run_lavfi_clip(rng: Rng, label: str, th: Thresholds, tmp: Path) -> tuple[str, bool]:
    learn, test = lavfi.clip_probes(rng, label, LEARN, TEST, tmp)
    if label == "ptz_off_preset":
        th = th.model_copy(update={"ptz": True})  # this camera is configured as a PTZ on a preset
    reported, any_problem = judge_probes(learn, test, th)
    return predicted_class(reported, lavfi.FAULTS), any_problem


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument(
        "--clips", type=int, default=12, help="set 1: clips per fault class and per nuisance kind"
    )
    parser.add_argument("--lavfi-clips", type=int, default=8, help="set 2: clips per fault class")
    parser.add_argument(
        "--lavfi-nuisance-clips", type=int, default=17, help="set 2: clips per nuisance kind (5 kinds)"
    )
    args = parser.parse_args()
    cv2.setNumThreads(1)
    cv2.setRNGSeed(args.seed)
    started = time.monotonic()
    photos = load_photos()
    th = Thresholds()
    rng = np.random.default_rng(args.seed)
    print("== set 1: scikit-image photographs, OpenCV drawing, JPEG")
    set1 = score(
        FAULTS,
        NUISANCES,
        dict.fromkeys((*FAULTS, *NUISANCES), args.clips),
        lambda label, _: run_clip(rng, photos, label, th),
    )
    set1["seconds"] = round(time.monotonic() - started, 1)
    summary: dict[str, object] = {"seed": args.seed, "photos": set1}
    why_not = lavfi.available()
    if why_not:
        raise SystemExit(f"set 2 cannot be made: {why_not}")
    print("== set 2: FFmpeg lavfi scenes, drawtext clock, x264")
    started2 = time.monotonic()
    labels = list(lavfi.FAULTS) + list(lavfi.NUISANCES)
    clips_per = {
        **dict.fromkeys(lavfi.FAULTS, args.lavfi_clips),
        **dict.fromkeys(lavfi.NUISANCES, args.lavfi_nuisance_clips),
    }
    with tempfile.TemporaryDirectory(prefix="camclips-") as tmp:

        def one(label: str, i: int) -> tuple[str, bool]:
            clip_rng = np.random.default_rng([args.seed, labels.index(label), i])
            folder = Path(tmp) / f"{label}-{i}"  # threads render side by side
            folder.mkdir()
            return run_lavfi_clip(clip_rng, label, th, folder)

        set2 = score(lavfi.FAULTS, lavfi.NUISANCES, clips_per, one, workers=3)
    set2["seconds"] = round(time.monotonic() - started2, 1)
    summary["lavfi"] = set2
    summary["goal_met"] = bool(set1["goal_met"] and set2["goal_met"])
    summary["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(summary, ensure_ascii=False))
    return 0 if summary["goal_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
