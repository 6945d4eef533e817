"""Where web handlers get the camera views (hub/core/camera_views.py) and the area names, cheaply.

With the hub runtime in the process, its views are current as of its last SQL flush: nothing to read. Without
it (a web-only process, tests over a bare database) the views follow the `cameras` table: at most every
`max_age_s` the rows are read again and only those that differ from what a view was built from are encoded.
Area display names change rarely (an administrator renames one): they are read at most every
`NAMES_MAX_AGE_S`, so a rename shows within that.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.areas import area_names
from hub.core.camera_views import CameraViews
from hub.core.config import CoreConfig
from hub.core.db import Camera, Database
from hub.core.serialize import camera_to_dict

Names = dict[tuple[str, str], str]
NAMES_MAX_AGE_S = 5.0
ANSWERS_KEPT = 32


def _rows(s: Session) -> list[Any]:
    return list(s.execute(select(*Camera.__table__.columns)))


class ViewSource:
    """The views of the hub runtime when given, else views kept in step with SQL."""

    def __init__(
        self, db: Database, config: CoreConfig, hub_views: CameraViews | None, max_age_s: float
    ) -> None:
        self.db = db
        self.config = config
        self.hub_views = hub_views
        self.own = CameraViews() if hub_views is None else None
        self.max_age_s = max_age_s
        self._synced = float("-inf")
        self._lock = asyncio.Lock()
        self._names: Names = {}
        self._names_tag = 0
        self._names_at = float("-inf")
        self.names_max_age_s = NAMES_MAX_AGE_S
        self._answers: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()

    async def views(self) -> CameraViews:
        if self.hub_views is not None:
            return self.hub_views
        own = self.own
        assert own is not None
        if time.monotonic() - self._synced >= self.max_age_s:
            async with self._lock:
                if time.monotonic() - self._synced >= self.max_age_s:
                    started = time.monotonic()
                    rows = await self.db.read(_rows)
                    own.sync((r.key, tuple(r), _builder(r)) for r in rows)
                    self._synced = started
        return own

    async def names(self) -> Names:
        if time.monotonic() - self._names_at >= self.names_max_age_s:
            self._names = await self.db.read(lambda s: area_names(s, self.config))
            self._names_tag = zlib.crc32(repr(sorted(self._names.items())).encode())
            self._names_at = time.monotonic()
        return self._names

    def invalidate(self) -> None:
        """Read SQL and the names again at the next request (a change made through this process, such as a
        commune merge, shows at once rather than after max_age_s)."""
        self._synced = float("-inf")
        self._names_at = float("-inf")

    def answer(self, key: tuple[Any, ...], build: Callable[[], bytes]) -> bytes:
        """An answer built once per key (which must hold the versions it depends on): ten walls asking for
        the province summary after each change cost one build."""
        hit = self._answers.get(key)
        if hit is None:
            hit = self._answers[key] = build()
            if len(self._answers) > ANSWERS_KEPT:
                self._answers.popitem(last=False)
        return hit

    @property
    def names_tag(self) -> int:
        """Changes when the names do (part of ETags of answers that carry names)."""
        return self._names_tag


def _builder(row: Any) -> Callable[[], dict[str, Any]]:
    return lambda: camera_to_dict(cast(Camera, row))
