"""The cameras as the web reads them: each camera's JSON encoded at most once per change, counts per commune,
versions.

A list, the live stream's hello or the province summary then costs a walk over ready bytes, not a
serialisation of every camera per request. The hub runtime (hub/core/runtime.py) feeds it after each SQL
flush from its in-memory state (`update`: the counts at once, the JSON when first asked for after the change,
so the ~700 cameras a second that report and that no page looks at cost no encoding); a process without the
runtime feeds it from SQL rows (hub/web/views.py, `sync`/`put`). Nothing here does I/O.

Versions: `version` grows with every change (ETags of lists and of one camera: `rev` per camera and per
commune); `summary_version` grows only when a commune's counts per status change, so a province wall is told
about status changes, not about every health report. `epoch` tells one process's numbers from another's.
"""

from __future__ import annotations

import json
import secrets
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hub.core.db import STATUSES
from hub.core.labels import fold

Area = tuple[str, str]  # district, commune
# Statuses that mean someone should look: they sort a commune to the top of a summary.
PROBLEM_STATUSES = ("offline", "problem")


def encode(camera: dict[str, Any]) -> bytes:
    return json.dumps(camera, ensure_ascii=False, default=str).encode()


@dataclass(slots=True)
class CameraView:
    key: str
    district: str
    commune: str
    slug: str
    status: str
    name: str | None
    rev: int
    # The camera's JSON shape is build(state), made when asked for. The state object stays the same from one
    # change to the next: an update allocates nothing the cyclic GC would have to walk.
    build: Callable[[Any], dict[str, Any]] | None = None
    state: Any = None
    encoded: bytes | None = None  # the camera's JSON (hub.core.serialize shape), ready to concatenate
    source: Any = None  # what it was built from, when fed from SQL rows: an unchanged row is not re-encoded
    folded: str | None = None

    @property
    def json(self) -> bytes:
        if self.encoded is None:
            assert self.build is not None
            self.encoded = encode(self.build(self.state))
        return self.encoded

    @property
    def search(self) -> str:
        """Folded id, name, commune, district (the commune's display name is added at query time)."""
        if self.folded is None:
            self.folded = fold(" ".join([self.slug, self.name or "", self.commune, self.district]))
        return self.folded


@dataclass(slots=True)
class AreaView:
    district: str
    commune: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    cameras: dict[str, CameraView] = field(default_factory=dict)  # slug → view
    rev: int = 0  # version of its latest change (kept at 0 cameras: a removal must change ETags too)
    order: list[str] | None = None  # sorted slugs; None after an insert or a removal
    encoded: tuple[str, bytes] | None = None  # (display name, its summary entry's JSON) until counts change

    @property
    def total(self) -> int:
        return len(self.cameras)

    def sorted_slugs(self) -> list[str]:
        if self.order is None:
            self.order = sorted(self.cameras)
        return self.order

    def summary(self) -> dict[str, Any]:
        return {
            "district": self.district,
            "commune": self.commune,
            "counts": dict(self.counts),
            "total": self.total,
        }

    def summary_json(self, name: str) -> bytes:
        """Its entry in a summary (with its display name), encoded once per change of its counts."""
        if self.encoded is None or self.encoded[0] != name:
            self.encoded = (name, encode({**self.summary(), "name": name}))
        return self.encoded[1]


def problem_rank(counts: dict[str, int]) -> tuple[int, int, int]:
    """Sort key of a commune in a summary: most offline + problem first, then most stale."""
    return (
        -(counts.get("offline", 0) + counts.get("problem", 0)),
        -counts.get("offline", 0),
        -counts["stale"],
    )


@dataclass
class Page:
    items: list[CameraView]
    next_after: tuple[str, str, str] | None  # sort key of the last item when more follow
    counts: dict[str, int]  # per status, after every filter but status
    total: int  # matches of every filter
    rev: int  # newest change among the communes the query covered


class CameraViews:
    def __init__(self) -> None:
        self.epoch = secrets.token_hex(4)
        self.version = 0
        self.summary_version = 0
        self.cameras: dict[str, CameraView] = {}
        self.areas: dict[Area, AreaView] = {}
        self._area_order: list[Area] | None = None
        self._summary_changed: set[Area] = set()
        self._summary_sent = 0

    # changes ------------------------------------------------------------------------------------------------
    def put(self, camera: dict[str, Any], source: Any = None) -> bool:
        """Stores one camera (the API's JSON shape), encoded now; False when its JSON did not change."""
        data = encode(camera)
        old = self.cameras.get(camera["key"])
        if old is not None and old.encoded == data:
            old.source = source
            return False
        view = self._store(
            camera["key"], camera["district"], camera["commune"], camera["id"], camera["status"]
        )
        if view.name != camera.get("name"):
            view.name, view.folded = camera.get("name"), None
        view.encoded, view.source = data, source
        return True

    def update(
        self,
        key: str,
        district: str,
        commune: str,
        slug: str,
        status: str,
        name: str | None,
        state: Any,
        build: Callable[[Any], dict[str, Any]],
    ) -> None:
        """The camera changed: counts follow now, its JSON is `build(state)` when first asked for."""
        view = self._store(key, district, commune, slug, status)
        if view.name != name:
            view.name, view.folded = name, None
        view.state, view.build, view.encoded = state, build, None

    def _store(self, key: str, district: str, commune: str, slug: str, status: str) -> CameraView:
        view = self.cameras.get(key)
        if view is not None and (view.district, view.commune, view.slug) != (district, commune, slug):
            # A commune merge moves a camera (its key, its topics, stay): out of the old commune's counts.
            self.remove(key)
            view = None
        self.version += 1
        area = self._area(district, commune)
        if view is None:
            view = CameraView(key, district, commune, slug, status, None, 0)
            self.cameras[key] = area.cameras[slug] = view
            area.order = None
            self._count(area, status, 1)
        elif view.status != status:
            self._count(area, view.status, -1)
            self._count(area, status, 1)
            view.status = status
        view.rev = area.rev = self.version
        return view

    def remove(self, key: str) -> bool:
        view = self.cameras.pop(key, None)
        if view is None:
            return False
        self.version += 1
        area = self.areas[(view.district, view.commune)]
        del area.cameras[view.slug]
        area.order = None
        area.rev = self.version
        self._count(area, view.status, -1)
        return True

    def sync(self, rows: Iterable[tuple[str, Any, Callable[[], dict[str, Any]]]]) -> int:
        """Makes the views hold exactly `rows`: (key, source, build), `source` compared with what the view was
        built from (a row's values) and `build` called only when they differ. Returns how many changed."""
        seen: set[str] = set()
        changed = 0
        for key, source, build in rows:
            seen.add(key)
            old = self.cameras.get(key)
            if old is not None and old.source == source:
                continue
            changed += self.put(build(), source)
        for key in [k for k in self.cameras if k not in seen]:
            changed += self.remove(key)
        return changed

    def _area(self, district: str, commune: str) -> AreaView:
        area = self.areas.get((district, commune))
        if area is None:
            area = self.areas[(district, commune)] = AreaView(district, commune)
            self._area_order = None
        return area

    def _count(self, area: AreaView, status: str, n: int) -> None:
        area.counts[status] = area.counts.get(status, 0) + n
        area.encoded = None
        self.summary_version = self.version
        self._summary_changed.add((area.district, area.commune))

    # reads --------------------------------------------------------------------------------------------------
    def get(self, key: str) -> CameraView | None:
        return self.cameras.get(key)

    def area_order(self) -> list[Area]:
        if self._area_order is None:
            self._area_order = sorted(self.areas)
        return self._area_order

    def select_areas(self, keep: Callable[[str, str], bool]) -> list[AreaView]:
        return [self.areas[a] for a in self.area_order() if keep(*a)]

    def counts(self, keep_area: Callable[[str, str], bool]) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for area in self.select_areas(keep_area):
            for st, n in area.counts.items():
                counts[st] = counts.get(st, 0) + n
        return counts

    def query(
        self,
        keep_area: Callable[[str, str], bool],
        status: str | None = None,
        needle: str | None = None,
        area_names: dict[Area, str] | None = None,
        after: tuple[str, str, str] | None = None,
        limit: int = 200,
    ) -> Page:
        """Cameras of the communes `keep_area` accepts, sorted by district, commune, id; `needle` is a folded
        search string (also matched against the commune's display name), `after` the sort key to start after."""
        areas = self.select_areas(keep_area)
        counts = dict.fromkeys(STATUSES, 0)
        rev = 0
        matches: dict[Area, list[CameraView]] = {}
        for area in areas:
            rev = max(rev, area.rev)
            if needle is None:
                for st, n in area.counts.items():
                    counts[st] = counts.get(st, 0) + n
                continue
            extra = " " + fold(area_names.get((area.district, area.commune), "")) if area_names else ""
            found = [v for v in area.cameras.values() if needle in v.search + extra]
            matches[(area.district, area.commune)] = found
            for v in found:
                counts[v.status] += 1
        total = counts[status] if status else sum(counts.values())
        items = list(self._walk(areas, status, matches if needle is not None else None, after, limit + 1))
        more = len(items) > limit
        items = items[:limit]
        last = items[-1] if more and items else None
        return Page(items, (last.district, last.commune, last.slug) if last else None, counts, total, rev)

    def _walk(
        self,
        areas: list[AreaView],
        status: str | None,
        matches: dict[Area, list[CameraView]] | None,
        after: tuple[str, str, str] | None,
        n: int,
    ) -> Iterator[CameraView]:
        for area in areas:
            a = (area.district, area.commune)
            if after is not None and a < after[:2]:
                continue
            slugs = area.sorted_slugs()
            start = bisect_right(slugs, after[2]) if after is not None and a == after[:2] else 0
            allowed = {v.slug for v in matches.get(a, [])} if matches is not None else None
            for slug in slugs[start:]:
                v = area.cameras[slug]
                if (status is None or v.status == status) and (allowed is None or slug in allowed):
                    yield v
                    n -= 1
                    if n == 0:
                        return

    # summary ------------------------------------------------------------------------------------------------
    def summary(self, keep_area: Callable[[str, str], bool]) -> list[AreaView]:
        """Communes with at least one camera, problems first (then by district, commune)."""
        areas = [a for a in self.select_areas(keep_area) if a.cameras]
        areas.sort(key=lambda a: problem_rank(a.counts))  # stable: ties keep district/commune order
        return areas

    def take_summary_delta(self) -> tuple[int, int, list[AreaView]] | None:
        """The communes whose counts changed since the last call, with the version range they cover; None when
        nothing changed."""
        if not self._summary_changed:
            return None
        changed, self._summary_changed = self._summary_changed, set()
        since, self._summary_sent = self._summary_sent, self.summary_version
        return since, self.summary_version, [self.areas[a] for a in sorted(changed)]
