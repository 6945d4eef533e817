"""Pure rules of hub/core/state.py with fixed times: status derivation, staleness, transitions."""

from __future__ import annotations

from typing import Any

import pytest

from contract import CameraHealth, EdgeStatus
from hub.core.ingest import jpeg_dimensions
from hub.core.state import StateStore, derive_agent_state, derive_status, reported_status

NOW = 1_763_880_000.0
STALE = 180.0


@pytest.mark.parametrize(
    ("online", "problems", "agent", "age", "expected"),
    [
        (None, [], "online", 0, "unknown"),
        (True, [], "online", 10, "ok"),
        (True, [], None, 10, "ok"),
        (True, ["frozen"], "online", 10, "problem"),
        (True, ["frozen", "no_frames"], "online", 10, "offline"),
        (False, [], "online", 10, "offline"),
        (True, ["auth_failed"], "unknown", 10, "offline"),
        (True, [], "offline", 10, "stale"),
        (False, ["unreachable"], "offline", 10, "stale"),
        (True, [], "online", STALE + 1, "stale"),
        (True, [], "online", STALE, "ok"),
    ],
)
def test_derive_status(
    online: bool | None, problems: list[str], agent: str, age: float, expected: str
) -> None:
    assert derive_status(online, problems, agent, NOW - age, NOW, STALE) == expected


def test_derive_agent_state() -> None:
    assert derive_agent_state(None, None, NOW, STALE) == "unknown"
    assert derive_agent_state("online", NOW - 5, NOW, STALE) == "online"
    assert derive_agent_state("online", NOW - STALE - 1, NOW, STALE) == "stale"
    assert derive_agent_state("offline", NOW - 5, NOW, STALE) == "offline"
    assert reported_status(True, []) == "ok"


def h(ts: float, seq: int, **kw: Any) -> CameraHealth:
    return CameraHealth.model_validate(
        {"ts": ts, "seq": seq, "online": True, "agent": "box", "boot": "b", **kw}
    )


def status(state: str, **kw: Any) -> EdgeStatus:
    return EdgeStatus.model_validate({"state": state, "ts": NOW, "version": "1", "boot": "b", **kw})


def test_transitions_agent_offline_makes_cameras_stale_and_back() -> None:
    s = StateStore(STALE)
    s.apply_edge_status("d", "c", "box", status("online", inventory=[{"id": "k2", "commune": "c"}]), NOW)
    cam = s.camera("d", "c", "k1")
    s.apply_health(cam, h(NOW + 1, 0), NOW + 1)
    s.apply_health(cam, h(NOW + 2, 1, problems=["blurred"]), NOW + 2)
    s.apply_health(cam, h(NOW + 3, 2, problems=["moved"]), NOW + 3)  # same status, other problems
    s.apply_edge_status("d", "c", "box", status("offline"), NOW + 10)
    assert cam.status == "stale" and s.cameras["d/c/k2"].status == "unknown"
    s.apply_edge_status("d", "c", "box", status("online"), NOW + 20)
    assert cam.status == "problem"  # heard from 17 s ago: its last report stands again
    got = [(t.kind, t.key, t.from_status, t.to_status, t.problems, t.at) for t in s.drain().transitions]
    assert got == [
        ("edge", "d/c/box", "unknown", "online", (), NOW),
        ("camera", "d/c/k1", "unknown", "ok", (), NOW + 1),  # device time
        ("camera", "d/c/k1", "ok", "problem", ("blurred",), NOW + 2),
        ("camera", "d/c/k1", "problem", "problem", ("moved",), NOW + 3),
        ("edge", "d/c/box", "online", "offline", (), NOW + 10),  # hub receive time
        ("camera", "d/c/k1", "problem", "stale", ("moved",), NOW + 10),
        ("edge", "d/c/box", "offline", "online", (), NOW + 20),
        ("camera", "d/c/k1", "stale", "problem", ("moved",), NOW + 20),
    ]
    assert s.cameras["d/c/k2"].agent_key == "d/c/box"


def test_check_stale_with_fixed_now() -> None:
    s = StateStore(STALE)
    s.apply_edge_status("d", "c", "box", status("online"), NOW)
    cam = s.camera("d", "c", "k1")
    s.apply_health(cam, h(NOW, 0), NOW)
    s.drain()
    assert s.check_stale(NOW + STALE) == 0
    assert s.check_stale(NOW + STALE + 1) == 2  # the agent (silent) and its camera
    assert cam.status == "stale" and s.agents["d/c/box"].state == "stale"
    assert s.check_stale(NOW + STALE + 60) == 0  # no repeated transitions
    s.apply_health(cam, h(NOW + 300, 1), NOW + 300)
    assert cam.status == "ok" and s.agents["d/c/box"].state == "online"


def test_old_messages_do_not_rewind_state() -> None:
    s = StateStore(STALE)
    cam = s.camera("d", "c", "k1")
    assert s.apply_health(cam, h(NOW + 10, 5, online=False), NOW + 10)
    assert not s.apply_health(cam, h(NOW + 5, 4), NOW + 11)
    assert not s.apply_health(cam, h(NOW + 10, 5, online=False), NOW + 12)
    assert cam.status == "offline" and (s.out_of_order, s.duplicates) == (1, 1)


def test_seq_tracking_disabled_for_shared_subscriptions() -> None:
    s = StateStore(STALE, track_seq=False)
    cam = s.camera("d", "c", "k1")
    s.apply_health(cam, h(NOW, 0), NOW)
    s.apply_health(cam, h(NOW + 1, 10), NOW + 1)
    assert s.seq_gaps == 0


def test_jpeg_dimensions() -> None:
    import cv2
    import numpy as np

    ok, buf = cv2.imencode(".jpg", np.zeros((36, 64, 3), np.uint8))
    data = bytes(buf)
    assert jpeg_dimensions(data) == (64, 36)
    assert jpeg_dimensions(data[:200]) is None  # cut short
    assert jpeg_dimensions(b"\xff\xd8\xff\xd9") is None  # no frame header
    assert jpeg_dimensions(b"\xff\xd8\xff\xe0\x00\x01" + b"\x00" * 80 + b"\xff\xd9") is None  # bad length


def test_split_changes_keeps_order_and_snapshot_rows() -> None:
    from hub.core.batching import split_changes
    from hub.core.state import Changes, Transition

    ts = [Transition("camera", f"k{i}", "d", "c", NOW + i, "ok", "stale") for i in range(4)]
    ch = Changes(transitions=list(ts), cameras={"a", "b", "snap"}, metrics={"m1", "m2"}, agents={"x"})
    assert split_changes(Changes(transitions=ts[:2], cameras={"a"}), 5) is None
    rest = split_changes(ch, 5, must_keep={"snap"})
    assert rest is not None
    assert ch.transitions == ts[:4] and "snap" in ch.cameras and ch.agents == {"x"}
    assert len(ch.transitions) + len(ch.cameras) + len(ch.metrics) <= 5
    # nothing lost, nothing twice
    assert ch.cameras | rest.cameras == {"a", "b", "snap"} and not ch.cameras & rest.cameras
    assert ch.metrics | rest.metrics == {"m1", "m2"} and not ch.metrics & rest.metrics
    big = Changes(transitions=list(ts))
    rest = split_changes(big, 3)
    assert rest is not None and big.transitions == ts[:3] and rest.transitions == ts[3:]
