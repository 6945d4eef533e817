"""The RTSP camera simulator seen through OpenCV/FFmpeg, as the edge agent sees a camera.

One simulator serves the module; each test uses its own camera (or puts the state back), so the order of tests
does not matter.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest

from devtools.camsim_client import (
    SERVER_PYTHON,
    CamSim,
    CamSimError,
    camsim_config,
    make_h264_clip,
    rtsp_describe,
)
from devtools.camsim_spec import ConfigError, parse_camera_arg, parse_config
from devtools.services import wait_until
from tests.fixtures_camsim import CamSimFactory

# fpsprobesize 0: FFmpeg otherwise reads ~20 frames (2 s at 10 fps) to guess the frame rate the SDP/SPS gives.
CAPTURE_OPTIONS = "rtsp_transport;tcp|fpsprobesize;0"
SECRET = "admin:m4t-khau"
CAMERAS = {
    "normal": "normal",
    "black": "black",
    "frozen": "frozen",
    "flaky": "flaky",
    "switch": "normal",
    "faults": {"behaviour": "normal", "blur": True},
    "locked": {"behaviour": "normal", "auth": SECRET},
    "fresh": "normal",
    "idle": "normal",
}
LINGER_S = 1.0


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_h264_clip(tmp_path_factory.mktemp("clips") / "street.h264", 320, 180, 10, seconds=2)


@pytest.fixture(scope="module")
def sim(camsim_module_factory: CamSimFactory, clip: Path) -> CamSim:
    clip_camera = {"clip": str(clip), "width": 320, "height": 180, "fps": 10}
    return camsim_module_factory({**CAMERAS, "clip": clip_camera}, linger_s=LINGER_S)


@pytest.fixture(autouse=True)
def _tcp_capture(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", CAPTURE_OPTIONS)


def open_capture(url: str, timeout_ms: int = 5000) -> cv2.VideoCapture:
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
    return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)


@contextmanager
def capture(url: str) -> Iterator[cv2.VideoCapture]:
    cap = open_capture(url)
    try:
        assert cap.isOpened(), f"could not open {url}"
        yield cap
    finally:
        cap.release()


def gray_frames(cap: cv2.VideoCapture, n: int, shape: tuple[int, int] = (360, 640)) -> list[np.ndarray]:
    frames = []
    for i in range(n):
        ok, frame = cap.read()
        assert ok, f"read {i} of {n} failed"
        assert frame.shape == (*shape, 3)
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    return frames


def diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(cv2.absdiff(a, b).mean())


def sharpness(gray: np.ndarray) -> float:
    return float(cv2.Laplacian(gray, cv2.CV_32F).var())


def test_normal_camera_gives_a_moving_picture(sim: CamSim) -> None:
    with capture(sim.url("normal")) as cap:
        frames = gray_frames(cap, 8)
    diffs = [diff(a, b) for a, b in zip(frames, frames[1:], strict=False)]
    assert min(diffs) > 0.3, f"consecutive frames too alike: {diffs}"
    looks = [(round(f.mean()), round(sharpness(f))) for f in frames]
    assert all(m > 40 and sh > 100 for m, sh in looks), f"expected a bright, detailed scene: {looks}"


def test_black_camera_gives_dark_frames(sim: CamSim) -> None:
    with capture(sim.url("black")) as cap:
        frames = gray_frames(cap, 3)
    for f in frames:
        assert np.count_nonzero(f < 24) / f.size > 0.99 and f.mean() < 5


def test_frozen_camera_repeats_one_picture_at_full_rate(sim: CamSim) -> None:
    with capture(sim.url("frozen")) as cap:
        frames = gray_frames(cap, 12)
        stamps = cap.get(cv2.CAP_PROP_POS_MSEC)
    assert max(diff(frames[0], f) for f in frames[1:]) < 0.1
    assert frames[0].mean() > 40 and sharpness(frames[0]) > 100, "frozen is a real picture, not a blank one"
    assert stamps >= 1000, "stream time must advance while the picture stands still"


def switch(sim: CamSim, cap: cv2.VideoCapture, name: str, behaviour: str) -> list[np.ndarray]:
    """Switch a camera and return frames from after the change reached the reader.

    What a reader sees lags by the frames FFmpeg buffered while opening plus the pipeline latency (~0.5 s),
    so skip well past that.
    """
    assert sim.set_behaviour(name, behaviour)["behaviour"] == behaviour
    return gray_frames(cap, 20)[-4:]


def test_behaviour_switches_live_for_a_connected_reader(sim: CamSim) -> None:
    try:
        with capture(sim.url("switch")) as cap:
            normal = gray_frames(cap, 2)[-1]
            assert all(f.mean() < 5 for f in switch(sim, cap, "switch", "black"))
            still = switch(sim, cap, "switch", "frozen")
            assert max(diff(still[0], f) for f in still[1:]) < 0.1
            assert diff(still[0], normal) < 5, "frozen shows the camera's own scene"
            moving = switch(sim, cap, "switch", "normal")
            assert min(diff(a, b) for a, b in zip(moving, moving[1:], strict=False)) > 0.3
        assert sim.camera("switch")["behaviour"] == "normal"
    finally:
        sim.set_behaviour("switch", "normal")


def test_fault_behaviours_look_like_their_names(sim: CamSim) -> None:
    try:
        with capture(sim.url("faults")) as cap:
            scene = gray_frames(cap, 2)[-1]
            covered = switch(sim, cap, "faults", "covered")[-1]
            assert 15 < covered.mean() < 45 and covered.std() < 10, "covered: dark and flat"
            assert np.count_nonzero(covered < 24) / covered.size < 0.5, "covered must not pass for black"
            blurred = switch(sim, cap, "faults", "blurred")[-1]
            assert sharpness(blurred) < 0.2 * sharpness(scene) and abs(blurred.mean() - scene.mean()) < 15
            moved = switch(sim, cap, "faults", "moved")[-1]
            assert diff(moved, scene) > 20 and sharpness(moved) > 100, "moved: another, still sharp, view"
            sim.set_behaviour("faults", "slow")
            stamps = [cap.get(cv2.CAP_PROP_POS_MSEC)]
            while len(stamps) < 20 and (len(stamps) < 4 or min(np.diff(stamps[-4:])) < 400):
                assert cap.read()[0]
                stamps.append(cap.get(cv2.CAP_PROP_POS_MSEC))
            steps = np.diff(stamps[-4:])
            assert steps.min() >= 400, f"slow must deliver about 2 fps of stream time, got steps {steps}"
    finally:
        sim.set_behaviour("faults", "normal")


def test_clip_camera_serves_the_file_as_it_is_in_a_loop(sim: CamSim, clip: Path) -> None:
    source = cv2.VideoCapture(str(clip), cv2.CAP_FFMPEG)
    originals = []
    while (frame := source.read()[1]) is not None:
        originals.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    source.release()
    assert len(originals) == 20
    with capture(sim.url("clip")) as cap:
        served, stamps = [], []
        for _ in range(30):  # 3 s of a 2 s clip: it must loop
            served += gray_frames(cap, 1, shape=(180, 320))
            stamps.append(cap.get(cv2.CAP_PROP_POS_MSEC))
    # Bit for bit the file's frames (no re-encoding), with stream time running on through the loop.
    assert all(min(diff(f, o) for o in originals) < 0.01 for f in served)
    assert set(np.diff(stamps[10:]).round()) == {100.0}
    with pytest.raises(CamSimError) as err:
        sim.set_behaviour("clip", "black")
    assert err.value.status == 409


def test_stop_drops_connected_readers_and_refuses_new_ones_until_resume(sim: CamSim) -> None:
    try:
        cap = open_capture(sim.url("flaky"))
        try:
            assert cap.isOpened() and cap.read()[0]
            assert sim.camera("flaky")["sessions"] == 1
            state = sim.stop_stream("flaky")
            assert state["streaming"] is False and state["sessions"] == 0
            reads = [cap.read()[0] for _ in range(30)]
            assert not all(reads), "a connected reader kept getting frames from a stopped camera"
        finally:
            cap.release()
        assert rtsp_describe(sim.url("flaky"))[0] == 404
        refused = open_capture(sim.url("flaky"))
        assert not refused.isOpened()
        refused.release()
        assert sim.resume_stream("flaky")["streaming"] is True
        with capture(sim.url("flaky")) as cap:
            gray_frames(cap, 2)
    finally:
        sim.resume_stream("flaky")


def test_back_to_back_clients_never_see_a_half_torn_down_stream(sim: CamSim) -> None:
    # A preflight DESCRIBE immediately followed by the real open: GStreamer's shared media answers 503 when a
    # client arrives while the previous one's pipeline is being torn down, unless the simulator keeps it.
    statuses = [rtsp_describe(sim.url("fresh"))[0] for _ in range(8)]
    assert statuses == [200] * 8


def test_idle_pipelines_are_released_without_refusing_anyone(sim: CamSim) -> None:
    # DESCRIBE alone opens no session, so the pipeline is released every linger period while clients keep
    # coming: each release must hand new clients a fresh pipeline, never the one shutting down (503).
    def releases() -> int:
        return sim.log_tail(1000).count("camera idle: nobody watched")

    before, statuses = releases(), set()
    deadline = time.monotonic() + 30
    while releases() < before + 2 and time.monotonic() < deadline:
        for _ in range(20):
            statuses.add(rtsp_describe(sim.url("idle"))[0])
    assert releases() >= before + 2, "no pipeline was released while clients kept coming"
    assert statuses == {200}
    wait_until(lambda: sim.camera("idle")["pipelines"] == 0, 10 * LINGER_S, "idle pipeline release")


def test_basic_auth_camera(sim: CamSim) -> None:
    status, headers = rtsp_describe(sim.url("locked", credentials=False))
    assert status == 401 and headers["www-authenticate"].startswith("Basic ")
    assert rtsp_describe(sim.url("locked", credentials="admin:wrong"))[0] == 401
    assert rtsp_describe(sim.url("locked"))[0] == 200
    assert rtsp_describe(sim.url("normal", credentials=SECRET))[0] == 200, "open cameras ignore credentials"
    wrong = open_capture(sim.url("locked", credentials="admin:wrong"))
    assert not wrong.isOpened()
    wrong.release()
    with capture(sim.url("locked")) as cap:
        gray_frames(cap, 1)


def test_unknown_path_is_404(sim: CamSim) -> None:
    assert rtsp_describe(sim.url("nope"))[0] == 404


def test_hang_port_accepts_and_never_answers(sim: CamSim) -> None:
    with socket.create_connection(("127.0.0.1", sim.hang_port), timeout=2) as sock:
        sock.sendall(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(1)
    result: dict[str, bool] = {}

    def try_open() -> None:
        cap = open_capture(sim.hang_url, timeout_ms=1000)
        result["opened"] = cap.isOpened()
        cap.release()

    opener = threading.Thread(target=try_open, daemon=True)
    opener.start()
    opener.join(30)  # the open timeout is 1 s: still blocked after 30 s means the timeout did not apply
    assert result == {"opened": False}


def test_refused_port_refuses(sim: CamSim) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", sim.refused_port), timeout=2).close()
    cap = open_capture(sim.refused_url, timeout_ms=2000)
    assert not cap.isOpened()
    cap.release()


def test_control_api_lists_cameras_and_rejects_bad_requests(sim: CamSim) -> None:
    listed = {c["name"]: c for c in sim.cameras()}
    assert set(listed) == {*CAMERAS, "clip"}
    assert listed["locked"]["auth"] is True and listed["black"]["behaviour"] == "black"
    assert listed["normal"]["url"] == sim.url("normal")
    before = sim.health()["rejected_requests"]
    cases = [
        (lambda: sim.stop_stream("nope"), 404, "unknown camera 'nope'"),
        (lambda: sim.camera("nope"), 404, "unknown camera"),
        (lambda: sim.set_behaviour("normal", "sideways"), 400, "unknown behaviour 'sideways'"),
        (lambda: sim.set_behaviour("normal", "blurred"), 409, "blur"),
        (
            lambda: sim.request("POST", "/cameras/normal/behaviour", {"behaviour": "black", "x": 1}),
            400,
            "one key",
        ),
        (lambda: sim.request("GET", "/cameras/normal/stop"), 405, "POST"),
        (lambda: sim.request("DELETE", "/cameras"), 405, "GET"),
        (lambda: sim.request("GET", "/nothing"), 404, "no such resource"),
    ]
    for call, status, text in cases:
        with pytest.raises(CamSimError) as err:
            call()
        assert err.value.status == status and text in err.value.message, err.value
    raw = urllib.request.Request(
        sim.control_url + "/cameras/normal/behaviour", data=b"{not json", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as http_err:
        urllib.request.urlopen(raw, timeout=5)
    assert http_err.value.code == 400 and "not valid JSON" in json.loads(http_err.value.read())["error"]
    health = sim.health()
    assert health["rejected_requests"] == before + len(cases) + 1
    assert sim.camera("normal")["behaviour"] == "normal", "a rejected request changed nothing"


def test_sigterm_stops_promptly_and_drops_clients(camsim_factory: CamSimFactory) -> None:
    own = camsim_factory({"cam": "normal"})
    cap = open_capture(own.url("cam"))
    try:
        assert cap.read()[0]
        own.stop(timeout=5)
        assert own.service.proc.returncode == 0, own.log_tail()
        assert not all(cap.read()[0] for _ in range(30))
    finally:
        cap.release()
    assert "shut down: 1 client(s) closed" in own.log_tail()


def run_server(*args: str) -> subprocess.CompletedProcess[str]:
    repo = Path(__file__).resolve().parents[2]
    cmd = [SERVER_PYTHON, "-m", "devtools.camsim", "--rtsp-port", "0", "--control-port", "0", *args]
    return subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=30)


def test_server_rejects_bad_configuration_with_a_clear_message(tmp_path: Path) -> None:
    bad = run_server("--camera", "Gate 1=normal")
    assert bad.returncode == 2 and "name 'Gate 1'" in bad.stderr
    conf = tmp_path / "c.json"
    conf.write_text('{"cameras": [{"name": "a", "behaviour": "normal", "colour": "red"}]}')
    bad = run_server("--config", str(conf))
    assert bad.returncode == 2 and "unknown key(s) ['colour']" in bad.stderr


def test_server_reports_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_server("--camera", "a=normal", "--control-port", str(port))
    assert result.returncode == 1 and "cannot start" in result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gate=black", {"name": "gate", "behaviour": "black"}),
        ("gate=normal,auth=u:p,fps=15", {"name": "gate", "behaviour": "normal", "auth": "u:p", "fps": "15"}),
    ],
)
def test_camera_argument_parsing(text: str, expected: dict[str, str]) -> None:
    assert parse_camera_arg(text) == expected


@pytest.mark.parametrize(
    ("cameras", "message"),
    [
        ([], "non-empty list"),
        ([{"name": "a", "behaviour": "sideways"}], "unknown behaviour 'sideways'"),
        ([{"name": "a"}, {"name": "a"}], "listed twice"),
        ([{"name": "a", "width": 641}], "must be even"),
        ([{"name": "a", "fps": 0}], "fps must be between 1 and 60"),
        ([{"name": "a", "auth": "nopassword"}], "'user:password'"),
        ([{"name": "a", "blur": "maybe"}], "blur must be true or false"),
        ([{"name": "a", "clip": "/nonexistent/a.h264"}], "not a readable file"),
        ([{"name": "a", "clip": "a.mp4"}], "not a container"),
    ],
)
def test_configuration_errors_name_the_culprit(cameras: list[dict[str, object]], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({"cameras": cameras})


def test_client_validates_before_spawning() -> None:
    with pytest.raises(ConfigError, match="unknown behaviour"):
        camsim_config({"a": "upside-down"})
    config = camsim_config({"a": "normal", "b": {"behaviour": "black", "fps": 15}}, width=320, height=180)
    spec = parse_config(config)
    assert [(c.name, c.width, c.fps) for c in spec.cameras] == [("a", 320, 10), ("b", 320, 15)]
