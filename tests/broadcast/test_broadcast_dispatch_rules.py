"""Rules of the proof of airing: receipt updates from receiver events, outcome, facts, stale speakers (pure),
and a prepare command the broker refused (SQLite, no broker)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from broadcast.airings.dispatcher import HubDispatcher
from broadcast.airings.models import Airing, AiringReceipt
from broadcast.airings.outcome import (
    REASON_OFFLINE,
    REASON_SILENT,
    ReceiptView,
    ReceiverReport,
    apply_report,
    mark_no_answer,
    outcome,
    planned_seconds,
)
from broadcast.airings.recent import FinishedAiring, airing_facts
from broadcast.config import DispatchConfig
from broadcast.orders import AiringOrder, PlayItem, Priority
from broadcast.speakers.registry import SpeakerLive, SpeakerRegistry, offline_facts, stale_speakers
from contract import Topic
from hub.compose import open_database
from hub.core.events import EventBus
from hub.core.facts import FactKind
from hub.core.mqtt_outbox import PublishError

T = datetime(2026, 11, 23, 10, 0, 0)


def _started(r: ReceiptView, offset_ms: float) -> None:
    at = T + timedelta(milliseconds=offset_ms)
    apply_report(r, ReceiverReport("started", at, first_sample_at=at, offset_ms=offset_ms))


def test_receipt_moves_forward_only() -> None:
    r = ReceiptView("d/c/a")
    assert apply_report(r, ReceiverReport("ready", T - timedelta(seconds=30)))
    assert r.state == "ready"
    _started(r, 1.5)
    assert (r.state, r.started_offset_ms) == ("started", 1.5)
    # a ready delivered late (disk outbox replay order) does not undo the start
    assert not apply_report(r, ReceiverReport("ready", T - timedelta(seconds=30)))
    assert r.state == "started"
    assert apply_report(r, ReceiverReport("finished", T + timedelta(seconds=31), played_s=31.0))
    assert (r.state, r.played_s) == ("finished", 31.0)
    # a stop after finishing changes nothing
    assert not apply_report(r, ReceiverReport("stopped", T + timedelta(seconds=40), reason="command"))


def test_no_answer_then_late_report_counts() -> None:
    r = ReceiptView("d/c/a")
    assert mark_no_answer(r, offline=True)
    assert (r.state, r.error) == ("no_answer", REASON_OFFLINE)
    _started(r, 2.0)
    assert (r.state, r.error) == ("started", None)
    silent = ReceiptView("d/c/b", state="ready")
    assert mark_no_answer(silent, offline=False) and silent.error == REASON_SILENT
    playing = ReceiptView("d/c/c")
    _started(playing, 0.0)
    assert not mark_no_answer(playing, offline=True)


def test_failed_reason_in_words_and_preemption() -> None:
    r = ReceiptView("d/c/a", state="ready")
    apply_report(r, ReceiverReport("failed", T, reason="checksum"))
    assert r.state == "failed" and r.error is not None and "sha256" in r.error
    r2 = ReceiptView("d/c/b")
    apply_report(r2, ReceiverReport("failed", T, reason="late", error="Chuẩn bị xong muộn 5 s"))
    assert r2.error == "Chuẩn bị xong muộn 5 s"  # the receiver's own Vietnamese text wins
    r3 = ReceiptView("d/c/c")
    _started(r3, 1.0)
    apply_report(r3, ReceiverReport("stopped", T + timedelta(seconds=5), reason="preempted", by="khan-cap-1"))
    assert r3.state == "stopped" and r3.error is not None
    assert "khẩn cấp" in r3.error and "khan-cap-1" in r3.error
    assert r3.started_at is not None  # it did air, part of it


def test_outcome_statuses_and_skew() -> None:
    a, b, c = ReceiptView("a"), ReceiptView("b"), ReceiptView("c")
    _started(a, -1.0)
    _started(b, 2.5)
    mark_no_answer(c, offline=True)
    res = outcome([a, b, c], interrupted=False)
    assert (res.status, res.targeted, res.played, res.skew_ms) == ("partial", 3, 2, 3.5)
    _started(c, 0.5)
    assert outcome([a, b, c], interrupted=False).status == "aired"
    assert outcome([a, b, c], interrupted=True).status == "interrupted"
    assert outcome([a, b, c], interrupted=False, cancelled=True).status == "cancelled"
    none = outcome([ReceiptView("x"), ReceiptView("y")], interrupted=False)
    assert (none.status, none.played, none.skew_ms) == ("failed", 0, None)
    assert outcome([], interrupted=False).status == "failed"


def test_planned_seconds() -> None:
    assert planned_seconds([10.0, 5.0], 3, 2.0) == 49.0
    assert planned_seconds([10.0], 1, 60.0) == 10.0


def test_airing_facts_window_and_kinds() -> None:
    now = 1_800_000_000.0
    items = [
        FinishedAiring("a1", "d", "c", "Tin sáng", "failed", 3, 0, now - 60),
        FinishedAiring("a2", "d", "c", "Tin chiều", "partial", 3, 2, now - 120),
        FinishedAiring("a3", "d", "c", "Tin cũ", "failed", 3, 0, now - 2 * 86400),
        FinishedAiring("a4", "d", "c", "Tin tốt", "aired", 3, 3, now - 60),
    ]
    facts = {f.device: f for f in airing_facts(items, now, 86400)}
    assert set(facts) == {"a1", "a2"}
    assert facts["a1"].kind is FactKind.BROADCAST_FAILED
    assert facts["a2"].kind is FactKind.BROADCAST_PARTIAL and "2/3" in facts["a2"].summary


def test_stale_and_offline_facts() -> None:
    now = 1_800_000_000.0
    fresh = SpeakerLive("d/c/a", "d", "c", "a", status="online", last_seen=now - 10)
    silent = SpeakerLive("d/c/b", "d", "c", "b", name="Cụm loa thôn 2", status="online", last_seen=now - 200)
    gone = SpeakerLive("d/c/c", "d", "c", "c", status="offline", status_since=now - 50)
    assert stale_speakers([fresh, silent, gone], now, 95) == [silent]
    silent.status, silent.status_since = "stale", now
    facts = {f.device: f for f in offline_facts([fresh, silent, gone], now)}
    assert set(facts) == {"d/c/b", "d/c/c"}
    assert facts["d/c/b"].name == "Cụm loa thôn 2" and facts["d/c/c"].since == now - 50
    assert all(f.kind is FactKind.SPEAKER_OFFLINE for f in facts.values())


async def test_prepare_the_broker_did_not_take_is_a_failed_receipt(tmp_path: Path) -> None:
    """The broker refuses one speaker's command (publish raises): that receipt fails with the reason, the others
    are sent, and dispatch itself does not fail (the scheduler would otherwise mark the whole airing failed)."""
    db = open_database(f"sqlite:///{tmp_path / 'hub.db'}")
    db.create_all()
    sent: list[str] = []

    async def publish(topic: Topic, payload: bytes) -> None:
        if topic.id == "loa-2":
            raise PublishError("no acknowledgement for loa-2 within 10 s (broker unreachable?)")
        sent.append(topic.id)

    registry = SpeakerRegistry(db, EventBus(), None, stale_after_s=95)
    dispatcher = HubDispatcher(db, publish, registry, EventBus(), None, DispatchConfig(), "http://hub:8080")
    item = PlayItem(1, "cd" * 32, 1000, 1.0, "Tin")
    order = AiringOrder("tb-x", 1, "Tin", "d", "c", ("loa-1", "loa-2"), (item,), 1, 0.0, time.time() + 600,
                        Priority.NORMAL)  # fmt: skip
    await dispatcher.start()
    try:
        await dispatcher.dispatch(order)
    finally:
        await dispatcher.stop()
        db.close()
    assert sent == ["loa-1"]
    with open_database(f"sqlite:///{tmp_path / 'hub.db'}").session() as s:
        rs = {r.speaker_key: r for r in s.scalars(select(AiringReceipt))}
        a = s.get(Airing, "tb-x")
    assert a is not None and (a.status, a.targeted) == ("dispatched", 2)
    assert rs["d/c/loa-1"].state == "sent"
    assert rs["d/c/loa-2"].state == "failed" and "Không gửi được lệnh" in (rs["d/c/loa-2"].error or "")
