"""District and commune names for the messages: the config's at once, then the one rule of hub.core.areas
(the `areas` rows, the config file winning for the areas it names), re-read every few minutes."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hub.core.areas import area_names, config_area_names
from hub.core.db import Database
from hub.notify.render import AreaNames

if TYPE_CHECKING:
    from hub.core.config import CoreConfig

log = logging.getLogger("hub.notify")
NAMES_TTL_S = 300.0


class AreaNameCache:
    def __init__(self, config: CoreConfig, db: Database):
        self.config = config
        self.db = db
        self.names: AreaNames = config_area_names(config)
        self._names_at = 0.0

    async def refresh(self, now: float) -> None:
        """Re-reads the names when they are older than NAMES_TTL_S."""
        if now - self._names_at < NAMES_TTL_S:
            return
        self._names_at = now
        try:
            self.names = await self.db.run(lambda s: area_names(s, self.config))
        except Exception as exc:  # names are cosmetic: keep the previous ones
            log.warning("notify: area names not refreshed: %r", exc)
