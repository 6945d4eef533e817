"""Speakers that say what is wrong: the pure rules (fixed times), the level meter, and the whole path on a real
hub: receiver health over MQTT → registry → facts → the alert engine, routed to the officers' group."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from broadcast.airings.outcome import ReceiptView, ReceiverReport, apply_report
from broadcast.config import SpeakerAlertConfig
from broadcast.receiver.level import LevelMeter
from broadcast.receiver.player import volume_gain
from broadcast.speakers.health_facts import HealthFacts, expected_level, speaker_conditions
from broadcast.speakers.live import SpeakerLive
from broadcast.speakers.readiness import Readiness
from contract import Channel, SpeakerHealth, encode
from contract.levels import volume_db
from contract.topics import speaker_topic
from devtools.services import Service
from hub.alerts.config import RuleSettings
from hub.compose import Hub
from hub.core.facts import FactKind
from hub.notify.config import default_routes
from hub.notify.routing import route_matches
from tests.fixtures_hub import Publisher, make_hub_config, started_hub, wait_for

T0 = 1_780_000_000.0  # a fixed "now"
CFG = SpeakerAlertConfig()
D, C = "dinh-hoa", "dinh-long"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def live(**kw: object) -> SpeakerLive:
    base: dict[str, object] = {"key": f"{D}/{C}/loa-1", "district": D, "commune": C, "slug": "loa-1"}
    sp = SpeakerLive(**{**base, "status": "online", "name": "Cụm loa thôn 1", "volume": 80})  # type: ignore[arg-type]
    for k, v in kw.items():
        setattr(sp, k, v)
    return sp


def kinds(sp: SpeakerLive, now: float = T0) -> list[FactKind]:
    return [c.kind for c in speaker_conditions(sp, now, CFG)]


def test_healthy_speaker_has_nothing_to_say() -> None:
    sp = live(amplifier="on", signal_dbm=-80, disk_free_mb=5000, level_dbfs=-22.0, level_at=T0 - 5,
              clock_offset_ms=2.0)  # fmt: skip
    assert kinds(sp) == []


@pytest.mark.parametrize(
    ("change", "kind", "words"),
    [
        ({"amplifier": "fault"}, FactKind.SPEAKER_AMPLIFIER, "khuếch đại"),
        ({"signal_dbm": -110.0}, FactKind.SPEAKER_SIGNAL_WEAK, "-110 dBm"),
        ({"disk_free_mb": 150.0}, FactKind.SPEAKER_DISK_LOW, "150 MB"),
        ({"clock_offset_ms": -37.5}, FactKind.SPEAKER_CLOCK_OFF, "-38 ms"),
        ({"level_dbfs": -120.0, "level_at": T0 - 60, "level_airing": "tb-1"}, FactKind.SPEAKER_LEVEL_LOW,
         "im lặng (chương trình tb-1)"),
        # volume 80 → expected −20 − 3.9 dB; 25 dB further down is far below it
        ({"level_dbfs": -49.0, "level_at": T0 - 60}, FactKind.SPEAKER_LEVEL_LOW, "thấp hơn mức dự kiến -24"),
    ],
)  # fmt: skip
def test_each_condition(change: dict[str, object], kind: FactKind, words: str) -> None:
    [c] = speaker_conditions(live(**change), T0, CFG)
    assert c.kind == kind and words in c.summary


def test_thresholds_are_strict_and_levels_age() -> None:
    assert kinds(live(signal_dbm=-105.0, disk_free_mb=200.0, clock_offset_ms=10.0)) == []
    # A quiet speaker turned down on purpose plays what is expected of it; a muted one expects nothing.
    assert expected_level(25, CFG) == pytest.approx(-20 + 40 * math.log10(0.25))
    assert kinds(live(volume=25, level_dbfs=-45.0, level_at=T0)) == []
    assert kinds(live(volume=0, level_dbfs=-120.0, level_at=T0)) == []
    old = T0 - CFG.level_max_age_h * 3600 - 1
    assert kinds(live(level_dbfs=-120.0, level_at=old)) == []


def test_contract_volume_law_matches_the_receiver() -> None:
    for v in (1, 10, 35, 50, 80, 100):
        assert volume_db(v) == pytest.approx(20 * math.log10(volume_gain(v)))


def test_facts_keep_their_start_and_skip_offline_or_unapproved_speakers() -> None:
    facts = HealthFacts(CFG)
    sp = live(signal_dbm=-120.0, level_dbfs=-120.0, level_at=T0 - 30)
    first = {f.kind: f for f in facts([sp], T0)}
    assert first[FactKind.SPEAKER_SIGNAL_WEAK].since == T0
    assert first[FactKind.SPEAKER_LEVEL_LOW].since == T0 - 30  # since the measurement that showed it
    later = {f.kind: f for f in facts([sp], T0 + 60)}
    assert later[FactKind.SPEAKER_SIGNAL_WEAK].since == T0
    assert later[FactKind.SPEAKER_SIGNAL_WEAK].device == f"{D}/{C}/loa-1"
    sp.signal_dbm = -70.0
    assert [f.kind for f in facts([sp], T0 + 90)] == [FactKind.SPEAKER_LEVEL_LOW]
    sp.signal_dbm = -120.0
    assert {f.kind: f for f in facts([sp], T0 + 120)}[FactKind.SPEAKER_SIGNAL_WEAK].since == T0 + 120
    assert facts([live(status="offline", amplifier="fault")], T0) == []
    assert facts([live(pending=True, amplifier="fault")], T0) == []


def test_content_missing_before_air_time() -> None:
    r = Readiness(TZ)
    start = T0 + 120
    keys = [f"{D}/{C}/loa-{i}" for i in (1, 2, 3)]
    r.expect("tb-1", "Thông báo tiêm chủng", start, start + 60, keys)

    def missing(now: float) -> dict[str, str]:
        return {f.device: f.summary for f in r.facts(lambda k: None, now, 30)}

    assert missing(T0) == {}  # well before air time nobody lacks anything yet
    r.report(keys[0], "tb-1", "ready", None, T0 + 10, None)
    r.report(keys[1], "tb-1", "failed", "checksum", T0 + 20, "Sai mã kiểm tra")
    assert list(missing(T0 + 30)) == [keys[1]]  # a content failure tells at once
    late = missing(start - 30)
    assert sorted(late) == sorted(keys[1:])
    assert "Chưa tải xong “Thông báo tiêm chủng” phát lúc" in late[keys[2]]
    assert "Sai mã kiểm tra" in late[keys[1]]
    r.report(keys[2], "tb-1", "ready", None, start - 5, None)
    assert list(missing(start - 5)) == [keys[1]]
    assert missing(start + 61) == {} and r.expected == {}  # its time is over


def test_level_meter_measures_what_went_out() -> None:
    m = LevelMeter(48000)
    assert m.airing() is None and m.take_interval() is None
    t = np.arange(48000) / 48000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2").tobytes()
    m.add(tone)
    m.add(bytes(48000))  # half a second of digital silence
    lvl = m.airing()
    assert lvl is not None
    assert lvl.level_dbfs == pytest.approx(20 * math.log10(0.5 / math.sqrt(2) * math.sqrt(1 / 1.5)), abs=0.1)
    assert lvl.silent_s == pytest.approx(0.5)
    first = m.take_interval()
    assert first is not None and first.seconds == pytest.approx(1.5)
    assert m.take_interval() is None  # a new window: nothing went out since
    m.add(bytes(960))
    again = m.take_interval()
    assert again is not None and again.level_dbfs == -120.0


def test_new_kinds_go_to_the_officers_group() -> None:
    routes = default_routes()
    new = [k for k in FactKind if k.startswith("speaker_")]
    for kind in new:
        matched = [r for r in routes if route_matches(r, kind, "warning", D, C)]
        assert [rc.oa_group for r in matched for rc in r.receivers] == ["@officers"], kind


@pytest.fixture
async def hub(tmp_path: Path, mosquitto: Service) -> AsyncIterator[Hub]:
    cfg = make_hub_config(tmp_path, mosquitto.port, None)
    cfg.alerts.startup_grace_s = 0
    cfg.alerts.eval_interval_s = 0.2
    quick = {"for_s": 0, "clear_s": 0, "group_wait_s": 0}
    for kind in FactKind:
        if kind.startswith("speaker_"):
            cfg.alerts.rules[kind] = RuleSettings(**{**cfg.alerts.rules[kind].model_dump(), **quick})
    async with started_hub(cfg) as h:
        yield h


async def test_receiver_reports_become_alerts(hub: Hub, mosquitto: Service) -> None:
    bc = hub.broadcast
    key = f"{D}/{C}/loa-1"
    p = Publisher(mosquitto.port, client_id=f"rx-{time.monotonic_ns()}")
    topic = str(speaker_topic(D, C, "loa-1", Channel.HEALTH))
    bad = {"volume": 80, "amplifier": "fault", "signal_dbm": -118.0, "disk_free_mb": 90.0,
           "playing": "tb-9", "level_dbfs": -120.0, "clock_offset_ms": 250.0}  # fmt: skip
    p.publish(topic, encode(SpeakerHealth(ts=time.time(), seq=1, **bad)))  # type: ignore[arg-type]
    sp = await wait_for(lambda: bc.speakers.get(key), what="speaker registered")
    assert sp.pending and bc.speakers.facts(time.time()) == []  # unapproved: named in no alert
    sp.pending = False
    want = {FactKind.SPEAKER_AMPLIFIER, FactKind.SPEAKER_SIGNAL_WEAK, FactKind.SPEAKER_DISK_LOW,
            FactKind.SPEAKER_LEVEL_LOW, FactKind.SPEAKER_CLOCK_OFF}  # fmt: skip
    firing = await wait_for(
        lambda: (x := {a.kind for a in hub.alerts.alerts.values() if a.status == "firing"}) >= want and x,
        what="five speaker alerts firing",
    )
    assert want <= firing
    [level] = [a for a in hub.alerts.alerts.values() if a.kind == FactKind.SPEAKER_LEVEL_LOW]
    assert level.device == key and "im lặng (chương trình tb-9)" in level.summary
    # A good report clears them (clear_s 0 in this hub; the defaults hold a while, docs/ALERTS.md).
    good = {"volume": 80, "amplifier": "on", "signal_dbm": -75.0, "disk_free_mb": 900.0,
            "playing": "tb-10", "level_dbfs": -24.0, "clock_offset_ms": 1.5}  # fmt: skip
    p.publish(topic, encode(SpeakerHealth(ts=time.time(), seq=2, **good)))  # type: ignore[arg-type]
    await wait_for(
        lambda: not any(a.active for a in hub.alerts.alerts.values() if a.kind in want),
        what="speaker alerts resolved",
    )
    p.close()


def test_the_airing_report_keeps_each_speakers_level() -> None:
    at = datetime(2026, 12, 7, 22, 0)
    r = ReceiptView("d/c/loa-1", state="started", started_at=at)
    assert apply_report(r, ReceiverReport("finished", at, played_s=30.0, level_dbfs=-23.4))
    assert (r.state, r.level_dbfs) == ("finished", -23.4)
    late_stop = ReceiverReport("stopped", at, played_s=1.0, level_dbfs=-80.0)
    assert not apply_report(r, late_stop)  # a finished airing is not reopened by a late stop
