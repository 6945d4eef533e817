"""The broker's queue limits: the arithmetic, and the deployment's mosquitto.conf holding its result."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from devtools.broker_limits import DISTRICT, Fleet, conf_lines, limits, main

ROOT = Path(__file__).resolve().parents[2]


def test_an_hour_of_a_district() -> None:
    lim = limits(DISTRICT)
    # 1,000 cameras: 120 health + 12 snapshots an hour each; 40 boxes: 60 status; 250 speakers: 120 health
    assert lim.raw_messages == 120_000 + 12_000 + 2_400 + 30_000
    assert lim.raw_bytes == 120_000 * 300 + 12_000 * 40_000 + 2_400 * 2_500 + 30_000 * 250
    assert lim.messages >= lim.raw_messages * 1.25 and lim.messages % 10_000 == 0
    assert lim.bytes >= lim.raw_bytes * 1.25 and lim.bytes % (1 << 26) == 0
    # twice the outage, twice the queue
    longer = limits(Fleet(DISTRICT.cameras, DISTRICT.boxes, DISTRICT.speakers, 2.0))
    assert longer.raw_bytes == 2 * lim.raw_bytes


def test_deployment_config_holds_the_district_limits() -> None:
    conf = (ROOT / "docker/mosquitto/mosquitto.conf").read_text(encoding="utf-8")
    settings = dict(re.findall(r"^(max_\w+) (\d+)$", conf, re.M))
    for wanted in conf_lines(limits(DISTRICT)):
        key, value = wanted.split()
        assert settings.get(key) == value, f"docker/mosquitto/mosquitto.conf: {key} should be {value}"
    assert re.search(r"^persistence true$", conf, re.M)


def test_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--cameras", "20000", "--boxes", "800", "--speakers", "5000", "--outage-h", "0.25"])
    out = capsys.readouterr().out
    assert "822,000 messages" in out and "max_queued_messages 1030000" in out
