"""The relay report of an airing (SQL side): minutes relayed, gaps and fallback as the re-streamer recorded
them, and the speakers that played it (their receipts)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcast.airings.models import RECEIPT_FINISHED, RECEIPT_STARTED, RECEIPT_STOPPED, Airing, AiringReceipt
from broadcast.orders import AiringOrder
from broadcast.relays.models import RelaySession
from hub.core.access import in_scope
from hub.core.auth import Principal
from hub.core.db import to_db_time
from hub.core.serialize import iso

if TYPE_CHECKING:
    from broadcast.relays.monitor import Watch

PLAYED = (RECEIPT_STARTED, RECEIPT_FINISHED, RECEIPT_STOPPED)


def save_session(s: Session, order: AiringOrder, watch: Watch, started: Any, ended: Any) -> None:
    assert order.relay is not None
    row = s.get(RelaySession, order.airing_id)
    if row is None:
        row = RelaySession(airing_id=order.airing_id, upstream_id=order.relay.upstream_id, url=order.relay.url,
                           started_at=started)  # fmt: skip
        s.add(row)
    row.ended_at = ended
    row.relayed_s, row.gap_s, row.fallback_s = watch.relayed_s, watch.gap_s, watch.fallback_s
    row.gaps = [g.as_dict() for g in watch.gaps]


def _iso_ts(ts: Any) -> str | None:
    return iso(to_db_time(float(ts))) if isinstance(ts, int | float) else None


def relay_report(s: Session, p: Principal, airing_id: str) -> dict[str, Any] | None:
    a = s.get(Airing, airing_id)
    row = s.get(RelaySession, airing_id)
    if a is None or row is None or not in_scope(p, a.district, a.commune):
        return None
    receipts = list(s.scalars(select(AiringReceipt).where(AiringReceipt.airing_id == airing_id)))
    relay = (a.order or {}).get("relay") or {}
    return {
        "airing": a.id, "title": a.title, "status": a.status, "upstream": relay.get("name"), "url": row.url,
        "started_at": iso(row.started_at), "ended_at": iso(row.ended_at) if row.ended_at else None,
        "minutes_relayed": round(row.relayed_s / 60, 2), "gap_minutes": round(row.gap_s / 60, 2),
        "fallback_minutes": round(row.fallback_s / 60, 2),
        "gaps": [{**g, "start": _iso_ts(g.get("start")), "end": _iso_ts(g.get("end"))} for g in row.gaps or []],
        "targeted": a.targeted, "played": a.played,
        "speakers_played": sorted(r.speaker_key.rsplit("/", 1)[-1] for r in receipts if r.state in PLAYED),
        "speakers_missing": sorted(r.speaker_key.rsplit("/", 1)[-1] for r in receipts if r.state not in PLAYED),
    }  # fmt: skip
