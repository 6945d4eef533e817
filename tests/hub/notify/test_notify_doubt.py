"""Zalo slow, failing, or timing out after it received a message (fake Zalo): no notice is lost, and a retry
after an answer that never came is counted as a possible duplicate (Zalo's message API has no idempotency key),
on the row, in the channel status and in the hub_stats gauges."""

from __future__ import annotations

from devtools.fakezalo import FakeZalo
from hub.core.db import Database
from tests.fixtures_hub import wait_for
from tests.notify_support import NotifierFactory, db, fake, make_notifier, notice, notify_config, rows

__all__ = ["db", "fake", "make_notifier"]  # fixtures used by name below


def oa_status(n: object) -> dict[str, object]:
    return next(i for i in n.status() if i["channel"] == "oa")  # type: ignore[attr-defined]


async def test_timeout_after_delivery_is_retried_and_counted_as_possible_duplicate(
    fake: FakeZalo, db: Database, make_notifier: NotifierFactory
) -> None:
    n = await make_notifier(notify_config(fake))
    fake.fail("group", "deliver_then_hang")  # Zalo delivers, the answer never comes (oa.timeout_s: 1 s)
    await n.submit(notice("ev-0"))
    await wait_for(lambda: [r.state for r in rows(db)] == ["sent"], within=15, what="sent after the timeout")
    [row] = rows(db)
    assert row.attempts == 2 and row.doubtful == 1
    texts = [m.text for m in fake.messages("oa")]
    assert len(texts) == 2 and texts[0] == texts[1]  # the duplicate Zalo's API cannot prevent
    status = oa_status(n)
    assert status["in_doubt"] == 1 and status["possible_duplicates"] == 1
    gauges = n.channels.gauges()
    assert gauges["notify_possible_duplicates"]() == 1 and gauges["notify_in_doubt"]() == 1


async def test_slow_and_failing_zalo_loses_nothing_and_duplicates_nothing(
    fake: FakeZalo, db: Database, make_notifier: NotifierFactory
) -> None:
    n = await make_notifier(notify_config(fake))
    fake.fail("group", "http_503", times=2)  # refused before anything was done: not in doubt
    fake.fail("group", "rate_limit")
    for i in range(3):
        await n.submit(notice(f"ev-{i}"))
    await wait_for(lambda: [r.state for r in rows(db)] == ["sent"] * 3, within=15, what="all three sent")
    assert all(r.doubtful == 0 for r in rows(db))
    assert len(fake.messages("oa")) == 3
    status = oa_status(n)
    assert status["in_doubt"] == 0 and status["possible_duplicates"] == 0 and status["retried"] == 3
