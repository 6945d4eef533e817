"""Edge agent: view checks (covered, blurred, moved), reference views on disk, confirmation with hysteresis."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from contract import Problem
from edge_agent.checks import PictureMetrics, judge, picture_metrics, view_similarity
from edge_agent.config import EdgeConfig, ProbeSection, Thresholds
from edge_agent.confirm import Confirmation
from edge_agent.judgement import CameraJudge
from edge_agent.probe import ProbeResult, run_probe
from edge_agent.reference import ReferenceStore, learn
from tests.fixtures_camsim import CamSimFactory

TH = Thresholds()
URL = "rtsp://10.0.0.5/stream1"


def world(seed: int = 3, shape: tuple[int, int] = (360, 960)) -> np.ndarray:
    """A wide natural-looking gray scene: smooth shapes at several scales plus hard-edged objects."""
    rng = np.random.default_rng(seed)
    img = np.zeros(shape, np.float32)
    for scale in (64, 16, 4):
        small = rng.uniform(0, 1, (shape[0] // scale + 1, shape[1] // scale + 1)).astype(np.float32)
        img += cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)[: shape[0], : shape[1]]
    for _ in range(40):
        x, y = int(rng.integers(0, shape[1] - 40)), int(rng.integers(0, shape[0] - 40))
        cv2.rectangle(
            img,
            (x, y),
            (x + int(rng.integers(8, 40)), y + int(rng.integers(8, 40))),
            float(rng.uniform(0, 3)),
            -1,
        )
    img = (img - img.min()) / (img.max() - img.min()) * 200 + 25
    return np.asarray(img, np.uint8)


def view(
    x: int = 0, gain: float = 1.0, blur: float = 0.0, noise: float = 2.0, seed: int = 0
) -> list[np.ndarray]:
    """Four 320x180 gray probe frames of the world seen from offset `x` (the probe's analysis size)."""
    rng = np.random.default_rng(seed)
    frame = world()[:, x : x + 640].astype(np.float32) * gain
    if blur:
        frame = np.asarray(cv2.GaussianBlur(frame, (0, 0), blur), np.float32)
    frames = []
    for _ in range(4):
        noisy = np.clip(frame + rng.normal(0, noise, frame.shape), 0, 255).astype(np.uint8)
        frames.append(cv2.resize(noisy, (320, 180), interpolation=cv2.INTER_AREA))
    return frames


def flat(level: float, noise: float = 3.0) -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    ramp = np.linspace(-0.15, 0.15, 320, dtype=np.float32)[None, :] * level + level
    return [np.clip(ramp + rng.normal(0, noise, (180, 320)), 0, 255).astype(np.uint8) for _ in range(4)]


def metrics(frames: list[np.ndarray]) -> PictureMetrics:
    return picture_metrics(frames, TH.black_luma)


@pytest.fixture(scope="module")
def reference() -> object:
    return learn([metrics(view(seed=s)) for s in range(3)], now=1.8e9)


def problems(frames: list[np.ndarray], ref: object) -> list[Problem]:
    return judge(metrics(frames), 0.5, 25.0, 25.0, TH, ref)  # type: ignore[arg-type]


def test_the_learned_view_itself_is_healthy(reference: object) -> None:
    assert problems(view(seed=9), reference) == []


@pytest.mark.parametrize(
    "frames",
    [
        pytest.param(view(gain=0.35, noise=6.0), id="night-ir-darker-noisier"),
        pytest.param(view(gain=1.4), id="bright-daylight"),
        pytest.param(view(x=3), id="small-shake"),
    ],
)
def test_nuisances_are_not_faults(frames: list[np.ndarray], reference: object) -> None:
    assert problems(frames, reference) == []


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        pytest.param(flat(40), Problem.COVERED, id="dark-cloth-above-black"),
        pytest.param(flat(200), Problem.COVERED, id="paper"),
        pytest.param(view(blur=5.0), Problem.BLURRED, id="defocus"),
        pytest.param(view(x=300), Problem.MOVED, id="turned-away"),
    ],
)
def test_view_faults(frames: list[np.ndarray], expected: Problem, reference: object) -> None:
    assert problems(frames, reference) == [expected]


def test_without_a_reference_only_absolute_checks_run() -> None:
    assert problems(view(x=300), None) == []
    assert problems(view(blur=5.0), None) == []
    assert problems(flat(200), None) == [Problem.COVERED]


def test_similarity_is_gain_free_and_falls_for_another_view() -> None:
    a = metrics(view()).thumb
    assert a is not None
    same = metrics(view(gain=0.4, seed=2)).thumb
    other = metrics(view(x=320)).thumb
    assert same is not None and other is not None
    assert view_similarity(a, same) > 0.9
    assert view_similarity(a, other) < TH.moved_similarity


def test_confirmation_raises_after_n_and_clears_with_hysteresis() -> None:
    c = Confirmation(raise_after=3, clear_after=2)
    assert c.step([Problem.COVERED]) == []
    assert c.step([Problem.COVERED]) == []
    assert c.step([]) == []  # a glitch restarts the count
    assert [c.step([Problem.COVERED]) for _ in range(3)][-1] == [Problem.COVERED]
    assert c.step([]) == [Problem.COVERED]  # one good probe does not clear it
    assert c.step([Problem.COVERED]) == [Problem.COVERED]  # and resets the clearing count
    assert c.step([]) == [Problem.COVERED]
    assert c.step([]) == []
    c.step([Problem.FROZEN, Problem.LOW_FPS])
    c.step([Problem.FROZEN, Problem.LOW_FPS])
    assert c.step([Problem.LOW_FPS, Problem.FROZEN]) == [Problem.LOW_FPS, Problem.FROZEN]
    with pytest.raises(ValueError):
        Confirmation(raise_after=0, clear_after=1)


def online(frames: list[np.ndarray]) -> ProbeResult:
    return ProbeResult(True, fps=25.0, frames=15, span_s=0.5, metrics=metrics(frames))


async def test_judge_learns_stores_and_survives_a_restart(tmp_path: Path) -> None:
    store = ReferenceStore(tmp_path / "refs")
    cam = CameraJudge.open("gate", URL, store, 2, TH)
    moved = view(x=300)
    for _ in range(3):
        assert cam.step(online(moved), 25.0, TH, now=1.8e9) == []  # learning: nothing to compare with
        await cam.save_learned()
    assert cam.reference is not None and (tmp_path / "refs" / "gate.npz").exists()
    # The turned view was learned as the camera's normal; a new process loads it and judges against it.
    again = CameraJudge.open("gate", URL, ReferenceStore(tmp_path / "refs"), 2, TH)
    assert again.reference is not None
    assert again.step(online(view()), 25.0, TH, now=1.8e9) == []
    assert again.step(online(view(seed=4)), 25.0, TH, now=1.8e9) == [Problem.MOVED]
    # An offline probe reports its cause at once and leaves the view problems' counts alone.
    offline = ProbeResult(False, Problem.UNREACHABLE, "timeout")
    assert again.step(offline, 25.0, TH, now=1.8e9) == [Problem.UNREACHABLE]
    assert again.step(online(view(seed=5)), 25.0, TH, now=1.8e9) == [Problem.MOVED]
    # Relearn: the file goes, the next healthy probes teach the present view, the problem clears.
    await again.relearn()
    assert not (tmp_path / "refs" / "gate.npz").exists()
    for s in range(4):
        again.step(online(view(seed=s)), 25.0, TH, now=1.8e9)
    assert again.reference is not None and again.confirmation.current() == []


def test_a_stored_reference_for_another_stream_or_damaged_is_not_used(tmp_path: Path) -> None:
    store = ReferenceStore(tmp_path)
    store.save("gate", URL, learn([metrics(view())], now=1.8e9))
    assert store.load("gate", URL) is not None
    assert store.load("gate", "rtsp://10.0.0.6/stream1") is None
    (tmp_path / "gate.npz").write_bytes(b"not a numpy file")
    assert store.load("gate", URL) is None
    assert ReferenceStore(None).load("gate", URL) is None
    assert ReferenceStore("refs", base=tmp_path).directory == tmp_path / "refs"  # from the config's folder


def test_thresholds_are_configurable_per_camera() -> None:
    config = EdgeConfig.model_validate(
        {
            "agent": {"id": "box", "district": "d", "commune": "c"},
            "thresholds": {"blurred_ratio": 0.5, "raise_after": 3},
            "reference": {"dir": "/var/lib/edge/reference", "learn_probes": 4},
            "cameras": [
                {"id": "a", "url": URL, "thresholds": {"blurred_ratio": 0.3}},
                {"id": "b", "url": URL},
            ],
        }
    )
    a, b = config.cameras
    assert config.thresholds_of(a).blurred_ratio == 0.3 and config.thresholds_of(a).raise_after == 3
    assert config.thresholds_of(b) == config.thresholds
    with pytest.raises(ValueError, match="blurred_ratio"):
        EdgeConfig.model_validate(
            {
                "agent": {"id": "box", "district": "d", "commune": "c"},
                "cameras": [{"id": "a", "url": URL, "thresholds": {"blurred_ratio": 2}}],
            }
        )


def test_simulated_cover_move_and_defocus_are_raised_and_cleared(camsim_factory: CamSimFactory) -> None:
    """Real RTSP streams through the agent's probe: learn, then each view fault raised after 2 probes."""
    sim = camsim_factory({"cam": {"behaviour": "normal", "blur": True}}, fps=25)
    settings = ProbeSection(frames=10, analysed_frames=4, open_timeout_s=5, read_timeout_s=5)
    cam = CameraJudge.open("cam", sim.url("cam"), ReferenceStore(None), 2, TH)
    seen: list[tuple[str, list[str]]] = []
    for behaviour in ["normal"] * 2 + ["covered"] * 2 + ["moved"] * 2 + ["blurred"] * 2 + ["normal"] * 2:
        if not seen or seen[-1][0] != behaviour:
            sim.set_behaviour("cam", behaviour)
            time.sleep(1.0)  # the pipeline's latency: the change reaches a new reader within about 0.8 s
        result = run_probe(sim.url("cam"), settings, TH.black_luma, time.monotonic() + 20)
        assert result.online, result
        seen.append((behaviour, [p.value for p in cam.step(result, 25.0, TH, now=time.time())]))
    assert [problems for _, problems in seen] == [
        [],
        [],  # reference learned from these two
        [],
        ["covered"],
        ["covered"],  # one probe without it does not clear it (hysteresis) ...
        ["moved"],  # ... the second does, and the move is confirmed
        ["moved"],
        ["blurred"],
        ["blurred"],
        [],
    ], seen


def test_a_still_cover_is_covered_not_frozen(reference: object) -> None:
    still = flat(60, noise=0.0)
    assert problems([still[0]] * 4, reference) == [Problem.COVERED]
