"""District and commune names for the messages: the config's at once, then as people edited them (SQL `areas`
over the config), re-read every few minutes."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hub.core.db import Database
from hub.notify.render import AreaNames
from hub.web import queries

if TYPE_CHECKING:
    from hub.core.config import HubConfig

log = logging.getLogger("hub.notify")
NAMES_TTL_S = 300.0


def area_names(config: HubConfig) -> AreaNames:
    names: AreaNames = {}
    for d, dc in config.districts.items():
        names[(d, "")] = dc.name
        for c, cname in dc.communes.items():
            names[(d, c)] = cname
    return names


class AreaNameCache:
    def __init__(self, config: HubConfig, db: Database):
        self.config = config
        self.db = db
        self.names = area_names(config)
        self._names_at = 0.0

    async def refresh(self, now: float) -> None:
        """Re-reads the names when they are older than NAMES_TTL_S."""
        if now - self._names_at < NAMES_TTL_S:
            return
        self._names_at = now
        try:
            self.names = await self.db.run(lambda s: queries.area_names(s, self.config))
        except Exception as exc:  # names are cosmetic: keep the previous ones
            log.warning("notify: area names not refreshed: %r", exc)
