"""The web's camera views (hub/core/camera_views.py) and keyset cursors (hub/core/keyset.py): pure, no I/O."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from hub.core import keyset
from hub.core.camera_views import CameraViews
from hub.core.db import to_db_time
from hub.core.persist import camera_model
from hub.core.serialize import camera_state_dict, camera_to_dict
from hub.core.state import CameraState


def cam(key: str, status: str = "ok", name: str | None = None, **kw: Any) -> dict[str, Any]:
    d, c, slug = key.split("/")
    return {"key": key, "district": d, "commune": c, "id": slug, "name": name, "status": status, **kw}


def everything(d: str, c: str) -> bool:
    return True


def test_state_dict_is_the_row_dict_the_api_shows() -> None:
    state = CameraState(
        "d/c/x", "d", "c", "x", "Cổng", "d/c/box", "problem", 1763880000.123456, ("frozen",), "đứng hình",
        True, 12.5, 640, 360, 812.0, 96.1, 311.2, 1.5, 1763880001.5, 1763880002.000001, 3, None, 1763880003.0,
    )  # fmt: skip
    assert camera_state_dict(state) == camera_to_dict(camera_model(state))
    assert camera_state_dict(state)["status_since"] == "2025-11-23T06:40:00.123456Z"
    assert to_db_time(1763880000.123456).microsecond == 123456


def test_put_encodes_once_and_counts_per_commune() -> None:
    v = CameraViews()
    assert v.put(cam("d1/c1/a", "ok"))
    assert v.put(cam("d1/c1/b", "offline"))
    assert v.put(cam("d1/c2/a", "problem"))
    first = v.version
    assert not v.put(cam("d1/c1/a", "ok"))  # same JSON: nothing changed, no new version
    assert v.version == first
    assert json.loads(v.get("d1/c1/a").json)["status"] == "ok"  # type: ignore[union-attr]
    assert v.areas[("d1", "c1")].counts == {"ok": 1, "problem": 0, "offline": 1, "stale": 0, "unknown": 0}

    # a metrics-only change moves the camera's and its commune's versions, not the summary's
    summary_before = v.summary_version
    v.take_summary_delta()
    assert v.put(cam("d1/c1/a", "ok", fps=12.0))
    assert v.summary_version == summary_before and v.take_summary_delta() is None
    assert v.areas[("d1", "c1")].rev == v.version and v.areas[("d1", "c2")].rev < v.version

    # a status change moves the summary, and the delta names only that commune
    assert v.put(cam("d1/c2/a", "ok"))
    delta = v.take_summary_delta()
    assert delta is not None
    since, version, areas = delta
    assert since == summary_before and version == v.summary_version
    assert [(a.district, a.commune, a.counts["ok"]) for a in areas] == [("d1", "c2", 1)]

    assert v.remove("d1/c1/b") and not v.remove("d1/c1/b")
    assert v.areas[("d1", "c1")].total == 1 and v.areas[("d1", "c1")].counts["offline"] == 0


def test_query_filters_counts_and_cursor_stable_under_inserts() -> None:
    v = CameraViews()
    for key, st in [
        ("b/x/1", "ok"),
        ("a/y/2", "offline"),
        ("a/y/1", "ok"),
        ("a-b/z/9", "problem"),
        ("a/x/5", "ok"),
    ]:
        v.put(cam(key, st, name="Chợ Phù Linh" if key == "a/x/5" else None))
    keys = [x.key for x in v.query(everything, limit=100).items]
    # sorted by (district, commune, id) as SQL does, not by the key string ("a-b" after "a")
    assert keys == ["a/x/5", "a/y/1", "a/y/2", "a-b/z/9", "b/x/1"]

    p1 = v.query(everything, limit=2)
    assert [x.key for x in p1.items] == ["a/x/5", "a/y/1"] and p1.total == 5
    v.put(cam("a/x/0", "ok"))  # inserted before the cursor: the next page neither repeats nor skips
    v.put(cam("a/y/3", "ok"))  # inserted after it: the next pages show it
    p2 = v.query(everything, after=p1.next_after, limit=2)
    p3 = v.query(everything, after=p2.next_after, limit=2)
    assert [x.key for x in p2.items + p3.items] == ["a/y/2", "a/y/3", "a-b/z/9", "b/x/1"]
    assert p3.next_after is None

    only_a = v.query(lambda d, c: d == "a", status="ok", limit=10)
    assert [x.key for x in only_a.items] == ["a/x/0", "a/x/5", "a/y/1", "a/y/3"]
    assert only_a.counts["offline"] == 1 and only_a.total == 4  # counts ignore the status filter
    found = v.query(everything, needle="cho phu", limit=10)
    assert [x.key for x in found.items] == ["a/x/5"] and found.total == 1
    by_name = v.query(everything, needle="xa tien", area_names={("b", "x"): "Xã Tiên Dược"}, limit=10)
    assert [x.key for x in by_name.items] == ["b/x/1"]


def test_summary_puts_problems_first_and_sync_reencodes_only_changed_rows() -> None:
    v = CameraViews()
    v.put(cam("d/quiet/1", "ok"))
    v.put(cam("d/bad/1", "offline"))
    v.put(cam("d/bad/2", "problem"))
    v.put(cam("d/half/1", "problem"))
    v.put(cam("d/half/2", "stale"))
    assert [a.commune for a in v.summary(everything)] == ["bad", "half", "quiet"]

    built: list[str] = []

    def row(key: str, status: str) -> tuple[str, Any, Any]:
        def build() -> dict[str, Any]:
            built.append(key)
            return cam(key, status)

        return key, (key, status), build

    s = CameraViews()
    assert s.sync([row("d/c/1", "ok"), row("d/c/2", "ok")]) == 2
    assert s.sync([row("d/c/1", "ok"), row("d/c/2", "offline")]) == 1
    assert built == ["d/c/1", "d/c/2", "d/c/2"]  # the unchanged row was not encoded again
    assert s.sync([row("d/c/2", "offline")]) == 1 and s.get("d/c/1") is None


def test_keyset_cursor_round_trip_and_refusals() -> None:
    key = ("d", 1, datetime(2026, 11, 2, 7, 0, 0, 123456), "x")
    text = keyset.encode_cursor(key)
    assert keyset.decode_cursor(text, (str, int, datetime, str)) == key
    for bad, types in [
        ("not-base64!!", (str,)),
        (keyset.encode_cursor(["a", "b"]), (str,)),
        (keyset.encode_cursor(["a"]), (int,)),
        (keyset.encode_cursor([True]), (int,)),
        ("x" * 700, (str,)),
    ]:
        with pytest.raises(ValueError):
            keyset.decode_cursor(bad, types)
    rows = list(range(5))
    assert keyset.page(rows, 4, lambda r: (r,)) == ([0, 1, 2, 3], keyset.encode_cursor([3]))
    assert keyset.page(rows[:3], 4, lambda r: (r,)) == ([0, 1, 2], None)


def test_update_counts_at_once_and_encodes_only_when_read() -> None:
    v = CameraViews()
    builds: list[str] = []

    def builder(state: tuple[str, str]) -> dict[str, Any]:
        builds.append(state[0])
        return cam(*state)

    for i in range(3):
        v.update(f"d/c/{i}", "d", "c", str(i), "ok", None, (f"d/c/{i}", "ok"), builder)
    v.update("d/c/1", "d", "c", "1", "offline", "Chợ", ("d/c/1", "offline"), builder)
    assert v.areas[("d", "c")].counts["offline"] == 1 and v.areas[("d", "c")].counts["ok"] == 2
    assert builds == []  # nothing encoded yet: nobody asked
    page = v.query(everything, needle="cho", limit=10)
    assert [x.key for x in page.items] == ["d/c/1"] and builds == []  # the search needs no JSON either
    assert json.loads(page.items[0].json)["status"] == "offline"
    assert json.loads(page.items[0].json)["status"] == "offline"
    assert builds == ["d/c/1"]  # built once, then reused


def test_a_camera_moved_by_a_commune_merge_leaves_its_old_commune() -> None:
    v = CameraViews()
    v.put(cam("yd/dinh-tan/cho", "problem"))
    v.put(cam("yd/dinh-long/ubnd"))
    # the merge keeps the key (the device's topics) and moves the camera to the target commune
    moved = {**cam("yd/dinh-tan/cho", "problem"), "commune": "dinh-long"}
    assert v.put(moved)
    assert [(a.commune, a.total) for a in v.summary(everything)] == [("dinh-long", 2)]
    assert {k: n for k, n in v.areas[("yd", "dinh-long")].counts.items() if n} == {"ok": 1, "problem": 1}
    assert not any(v.areas[("yd", "dinh-tan")].counts.values())
