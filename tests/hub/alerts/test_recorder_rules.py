"""Recorder alert rules (hub/alerts/recorder_rules.py): pure functions of reports, camera state and a fixed `now`."""

from __future__ import annotations

from typing import Any

from contract import RecorderHealth
from hub.alerts.config import AlertsConfig
from hub.alerts.recorder_rules import STALE_S, RecorderFacts, recorder_facts
from hub.core.facts import FactKind
from hub.core.recorder_state import RecorderStates, RecorderView
from hub.core.state import StateStore
from hub.core.state_model import CameraState

NOW = 1_780_000_000.0
D, C = "yen_dinh", "dinh_long"


def report(**kw: Any) -> RecorderHealth:
    doc: dict[str, Any] = {
        "ts": NOW - 10, "seq": 1, "agent": "box1", "api": "isapi", "online": True, "name": "Đầu ghi UBND",
        "disks": [{"id": "1", "state": "ok", "capacity_mb": 953869, "free_mb": 0}],
        "channels": [{"channel": 1, "camera": "cong", "enabled": True, "recording": True},
                     {"channel": 2, "camera": "cho", "enabled": True, "recording": False},
                     {"channel": 3, "camera": None, "enabled": True, "recording": False}],
        "oldest_ts": NOW - 20 * 86400, "days_kept": 20.0,
    }  # fmt: skip
    return RecorderHealth.model_validate({**doc, **kw})


def view(h: RecorderHealth, received: float = NOW - 9) -> RecorderView:
    return RecorderView(f"{D}/{C}/nvr1", D, C, "nvr1", h, received)


def cams(**status: str) -> dict[str, CameraState]:
    return {s: CameraState(f"{D}/{C}/{s}", D, C, s, name=s.upper(), status=st) for s, st in status.items()}


def run(h: RecorderHealth, min_days: float | None = 15, received: float = NOW - 9, **status: str) -> list:  # type: ignore[type-arg]
    known = cams(**status)
    return recorder_facts(
        [view(h, received)],
        lambda d, c, s: known.get(s),
        lambda r: f"{D}/{C}/box1",
        lambda d, c: min_days,
        NOW,
    )


def kinds(facts: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return sorted((f.kind.value, f.device) for f in facts)


def test_streams_but_not_recording_only_for_a_healthy_camera() -> None:
    facts = run(report(), cong="ok", cho="ok")
    assert kinds(facts) == [("recorder_not_recording", f"{D}/{C}/cho")]
    f = facts[0]
    assert f.parent == f"{D}/{C}/box1" and f.detail == {"recorder": f"{D}/{C}/nvr1", "channel": 2}
    assert "kênh 2" in f.summary and f.name == "CHO"
    assert run(report(), cong="ok", cho="offline") == []  # no picture: camera_offline says it already
    assert run(report(), cong="ok") == []  # a channel whose camera the hub does not know
    off = report(channels=[{"channel": 1, "camera": "cong", "enabled": False, "recording": False}])
    assert "lịch ghi đang tắt" in run(off, cong="ok")[0].summary


def test_disk_failed_missing_unformatted_or_none() -> None:
    bad = report(
        disks=[{"id": "1", "state": "failed", "raw": "smartFailed"}, {"id": "2", "state": "unformatted"}]
    )
    facts = [f for f in run(bad) if f.kind is FactKind.RECORDER_DISK_FAILED]
    assert [f.summary for f in facts] == ["Đầu ghi: ổ 1 hỏng, ổ 2 chưa định dạng"]
    assert [f.summary for f in run(report(disks=[]))] == ["Đầu ghi: không có ổ cứng"]
    assert run(report(disks=[{"id": "1", "state": "ok"}])) == []


def test_footage_below_the_commune_requirement() -> None:
    assert (
        run(report(days_kept=20.0), min_days=30)[0].summary
        == "Đầu ghi chỉ còn lưu 20.0 ngày (yêu cầu 30 ngày)"
    )
    assert run(report(days_kept=20.0), min_days=15) == []
    assert run(report(days_kept=None, oldest_ts=None), min_days=30) == []  # nothing searched: nothing claimed
    assert run(report(days_kept=1.0), min_days=None) == []


def test_offline_and_stale_recorders_say_only_that() -> None:
    down = report(online=False, error="Không kết nối được tới đầu ghi", disks=[], channels=[])
    assert [(f.kind, f.summary) for f in run(down, cho="ok")] == [
        (FactKind.RECORDER_OFFLINE, "Không kết nối được tới đầu ghi")
    ]
    stale = run(report(), received=NOW - STALE_S - 1, cho="ok")
    assert [(f.kind, f.detail) for f in stale] == [(FactKind.RECORDER_OFFLINE, {"stale": True})]


def test_the_source_remembers_since_when_and_the_commune_threshold() -> None:
    states, store = RecorderStates(), StateStore(60)
    cfg = AlertsConfig.model_validate({"footage_min_days": {f"{D}/{C}": 25}})
    src = RecorderFacts(states, store, lambda k, d: cfg.rules[k], cfg)
    states.put(view(report(ts=NOW - 100)))
    first = src(NOW)
    assert kinds(first) == [("recorder_footage_short", f"{D}/{C}/nvr1")]  # 20 days < 25 for this commune
    states.put(view(report(ts=NOW + 200, seq=2, days_kept=19.0), received=NOW + 201))
    again = src(NOW + 300)
    assert again[0].since == first[0].since == NOW - 100  # began with the first report that showed it
    states.put(view(report(ts=NOW + 400, seq=3, days_kept=26.0), received=NOW + 401))
    assert src(NOW + 500) == []
    other = AlertsConfig.model_validate({})
    assert (
        RecorderFacts(states, store, lambda k, d: other.rules[k], other)(NOW + 500) == []
    )  # default 15 days
