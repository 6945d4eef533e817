"""Edge agent: config validation with readable errors, `--check`, the config's secrets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from contract.configfile import ConfigError, parse_text
from edge_agent.commands import ReloadRefused, reload_plan
from edge_agent.config import EdgeConfig, load_config
from edge_agent.status import check_publishable

REPO = Path(__file__).resolve().parents[2]

GOOD = """
agent: {id: box-1, district: yen_dinh, commune: dinh_long, name: "Hộp xã Định Long"}
mqtt: {host: 127.0.0.1, port: 1883}
probe: {interval_s: 2, frames: 8}
cameras:
  - {id: cam-01, name: "Cổng UBND xã", url: "rtsp://admin:Pa55word@10.0.0.5:554/live", expected_fps: 15}
  - {id: cam-02, url: "http://10.0.0.6/video.mjpg", commune: dinh_tan, enabled: false}
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_text(EdgeConfig, text, "edge.yaml")
    return info.value.problems


def test_good_config_and_defaults() -> None:
    cfg = parse_text(EdgeConfig, GOOD, "edge.yaml")
    assert cfg.client_id == "edge-box-1"
    assert cfg.probe.interval_s == 2 and cfg.probe.concurrency == 6 and cfg.probe.open_timeout_s == 5
    assert cfg.probe.hard_cap_s == 2 * 5 + 5 + 10
    assert [c.id for c in cfg.enabled_cameras()] == ["cam-01"]
    assert cfg.commune_of(cfg.cameras[0]) == "dinh_long" and cfg.commune_of(cfg.cameras[1]) == "dinh_tan"
    assert cfg.secrets() == ["Pa55word"]


def test_errors_name_line_and_key_path() -> None:
    problems = errors_of(
        """agent:
  id: Box_1
  district: yen_dinh
  commune: dinh_long
  colour: red
probe:
  frames: 1
cameras:
  - id: cam1
    url: ftp://10.0.0.5/live
  - id: cam2
    url: "rtsp://10.0.0.5:99999/live"
"""
    )
    text = "\n".join(problems)
    assert "line 2: agent.id: String should match pattern" in text
    assert "line 5: agent.colour: Extra inputs are not permitted" in text
    assert "line 7: probe.frames: Input should be greater than or equal to 2" in text
    assert "line 10: cameras.0.url" in text and "scheme must be one of" in text
    assert "line 12: cameras.1.url" in text and "Port out of range" in text


def test_duplicate_camera_ids_are_an_error() -> None:
    problems = errors_of(
        """agent: {id: box-1, district: d, commune: c}
cameras:
  - {id: cam1, url: "rtsp://10.0.0.5/a"}
  - {id: cam2, url: "rtsp://10.0.0.6/a"}
  - {id: cam1, url: "rtsp://10.0.0.7/a"}
"""
    )
    assert len(problems) == 1
    assert "line 2: cameras" in problems[0] and "cameras.2.id 'cam1' repeats cameras.0.id" in problems[0]


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("mqtt: {username: u}", "username and password must be given together"),
        ("mqtt: {backoff_min_s: 10, backoff_max_s: 5}", "backoff_max_s must not be smaller"),
        ("probe: {frames: 3, analysed_frames: 5}", "analysed_frames must not exceed frames"),
        ("thresholds: {black_ratio: 1.5}", "thresholds.black_ratio"),
        ("cameras: [{id: c, url: 'rtsp:///nohost'}]", "URL has no host"),
        ("cameras: [{id: c, url: 'rtsp://h/a b'}]", "must not contain spaces"),
        ("cameras: [{id: c, url: 'rtsp://h/', expected_fps: 0}]", "cameras.0.expected_fps"),
    ],
)
def test_field_rules(snippet: str, expected: str) -> None:
    text = "agent: {id: box-1, district: d, commune: c}\n" + snippet + "\n"
    assert expected in "\n".join(errors_of(text))


def test_environment_variables_fill_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAM_PW", "from-env-123")
    cfg = parse_text(
        EdgeConfig,
        "agent: {id: b, district: d, commune: c}\ncameras: [{id: c1, url: 'rtsp://u:${CAM_PW}@h/x'}]\n",
    )
    assert cfg.cameras[0].url == "rtsp://u:from-env-123@h/x"
    assert "environment variable NOPE_PW is not set" in "\n".join(
        errors_of("agent: {id: b, district: d, commune: c}\nmqtt: {username: u, password: '${NOPE_PW}'}\n")
    )


def test_inventory_too_large_for_the_contract_is_refused() -> None:
    cams = "\n".join(
        f"  - {{id: cam-{i:04d}, name: '{'Đường liên xã ' * 10}', url: 'rtsp://h/{i}'}}" for i in range(400)
    )
    cfg = parse_text(EdgeConfig, "agent: {id: b, district: d, commune: c}\ncameras:\n" + cams + "\n")
    with pytest.raises(ConfigError, match="split the cameras over more agents"):
        check_publishable(cfg, "edge.yaml")


def test_reload_plan() -> None:
    old = parse_text(EdgeConfig, GOOD)
    new = parse_text(
        EdgeConfig,
        GOOD.replace("expected_fps: 15", "expected_fps: 12").replace("enabled: false", "enabled: true"),
    )
    plan = reload_plan(old, new)
    assert plan.added == ["cam-02"] and plan.changed == ["cam-01"] and plan.removed == []
    assert not plan.settings_changed
    with pytest.raises(ReloadRefused, match="mqtt"):
        reload_plan(old, parse_text(EdgeConfig, GOOD.replace("port: 1883", "port: 1884")))
    with pytest.raises(ReloadRefused, match="agent"):
        reload_plan(old, parse_text(EdgeConfig, GOOD.replace("box-1", "box-2")))


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge_agent", *args], capture_output=True, text=True, cwd=REPO, timeout=60
    )


def test_check_flag(tmp_path: Path) -> None:
    good = tmp_path / "edge.yaml"
    good.write_text(GOOD, encoding="utf-8")
    ok = run_cli("--config", str(good), "--check")
    assert ok.returncode == 0, ok.stderr
    assert "config OK" in ok.stdout and "2 cameras (1 enabled)" in ok.stdout

    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("commune: dinh_tan", "commune: Định Tân").replace("frames: 8", "frames: 0"))
    res = run_cli("--config", str(bad), "--check")
    assert res.returncode == 2
    assert f"invalid config {bad}" in res.stderr
    assert "line 4: probe.frames" in res.stderr and "line 7: cameras.1.commune" in res.stderr

    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "agent: {id: b, district: d, commune: c}\ncameras:\n  - url: rtsp://u:Pa55word@h/x\n  id: [\n"
    )
    res = run_cli("--config", str(broken), "--check")
    assert res.returncode == 2 and "not valid YAML" in res.stderr
    assert "Pa55word" not in res.stderr

    missing = run_cli("--config", str(tmp_path / "nope.yaml"), "--check")
    assert missing.returncode == 2 and "cannot read the file" in missing.stderr


def test_example_config_is_valid() -> None:
    cfg = load_config(REPO / "config" / "edge.example.yaml")
    assert cfg.agent.id == "box-dinh-long"
    check_publishable(cfg, "config/edge.example.yaml")
