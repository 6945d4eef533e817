"""The emergency policy: with `broadcast.bulletins.emergency: air_now`, a level-3 bulletin is aired at once on
every commune it landed in, as an officer with `broadcasts.emergency` would from the programme page (the
programme is marked for review afterwards); otherwise it waits for approval like the others."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from broadcast.bulletins import intake
from broadcast.bulletins.models import Bulletin
from broadcast.programmes.input import ProgrammeError
from broadcast.scheduling.scheduler import BroadcastScheduler
from hub.core.db import Database

log = logging.getLogger("broadcast.bulletins")


async def air_now(
    db: Database, sched: BroadcastScheduler | None, rec: dict[str, Any], actor: str
) -> dict[str, Any]:
    """Airs each landed programme now; the receipt (stored too) gets `airing_id` or `air_error` per commune."""
    if sched is None:  # a web-only process: the programmes stay pending, an approver airs them
        log.warning("bulletin %s: no scheduler here to air it now; left for approval", rec["upstream_id"])
        return rec
    landed: list[dict[str, Any]] = []
    for entry in rec["programmes"]:
        entry = dict(entry)
        try:
            entry["airing_id"] = await sched.air_now(int(entry["programme_id"]), actor)
        except ProgrammeError as exc:  # no speaker in that commune, or aired a second ago
            entry["air_error"] = exc.message
            log.warning("bulletin %s not aired in %s: %s", rec["upstream_id"], entry["commune"], exc.message)
        landed.append(entry)

    def store(s: Session) -> dict[str, Any]:
        row = s.get(Bulletin, rec["bulletin_id"])
        assert row is not None
        row.programmes = landed
        return intake.receipt(row, False)

    return dict(await db.run(store))
