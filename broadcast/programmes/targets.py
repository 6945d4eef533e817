"""Where and when a programme airs: the speakers it reaches in its commune and its occurrences in a window, as
the slots conflict checking compares (the "targets and occurrences" stage of saving a programme)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcast.programmes.input import ProgrammeInput
from broadcast.programmes.models import STATE_DRAFT, TARGET_SPEAKERS, TARGET_VILLAGES, Programme
from broadcast.programmes.overlap import Slot, programme_length_s, slots_for
from broadcast.programmes.schedule import occurrences
from hub.core.speaker_models import Speaker


def naive(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo else dt


def aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def commune_speakers(s: Session, district: str, commune: str) -> list[Speaker]:
    """The commune's approved speakers: one that registered itself is in no programme until approved."""
    return list(
        s.scalars(
            select(Speaker)
            .where(Speaker.district == district, Speaker.commune == commune, Speaker.pending.is_(False))
            .order_by(Speaker.slug)
        )
    )


def order_id(p: Programme, sp: Speaker) -> str:
    """How an order names a speaker: its slug, or its whole key when its key (its topics) is another commune's
    because that commune was merged into this one (broadcast/orders.py `speaker_key_in`)."""
    return sp.slug if sp.key == f"{p.district}/{p.commune}/{sp.slug}" else sp.key


def target_speakers(p: Programme, speakers: Iterable[Speaker]) -> list[str]:
    """Speaker ids the programme reaches now (a speaker registered later is included)."""
    wanted = set(p.target_ids or [])
    if p.target_kind == TARGET_VILLAGES:
        return [order_id(p, sp) for sp in speakers if sp.village in wanted]
    if p.target_kind == TARGET_SPEAKERS:
        return [order_id(p, sp) for sp in speakers if sp.slug in wanted]
    return [order_id(p, sp) for sp in speakers]


def resolve_speakers(s: Session, p: Programme) -> list[str]:
    return target_speakers(p, commune_speakers(s, p.district, p.commune))


@dataclass(frozen=True)
class Placed:
    """A programme being saved, placed in its commune: the commune's speakers (conflict checking places the other
    programmes on them too), the window checked and the slots of its own occurrences in it."""

    speakers: list[Speaker]
    start: datetime  # aware UTC
    end: datetime
    slots: list[Slot]


def place(
    s: Session, inp: ProgrammeInput, durations: list[float], now: datetime, tz: ZoneInfo, horizon_days: int
) -> Placed:
    """The speakers and occurrences of `inp` in the next `horizon_days`."""
    start = now.replace(tzinfo=UTC)
    end = start + timedelta(days=horizon_days)
    speakers = commune_speakers(s, inp.district, inp.commune)
    probe = Programme(
        district=inp.district,
        commune=inp.commune,
        target_kind=inp.target_kind,
        target_ids=list(inp.target_ids),
    )
    mine = occurrences(inp.schedule, tz, start, end, anchor=start)
    slots = slots_for(
        None,
        inp.title,
        inp.priority,
        STATE_DRAFT,
        mine,
        programme_length_s(durations, inp.repeats, inp.gap_s),
        frozenset(target_speakers(probe, speakers)),
        inp.target_kind == "commune",
    )
    return Placed(speakers, start, end, slots)
