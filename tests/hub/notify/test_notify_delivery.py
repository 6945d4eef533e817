"""The notifier against the fake Zalo server: outbox, tokens, every error path, restart, dry run, quiet hours."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update

from devtools.fakezalo import FakeZalo
from hub.core.db import Database, to_db_time
from hub.core.facts import FactKind, Severity
from hub.notify.config import BotConfig, QuietHours, Receiver, RouteConfig
from hub.notify.models import ChannelToken, OutboxRow
from tests.fixtures_hub import wait_for
from tests.notify_support import (
    NotifierFactory,
    add_camera,
    big_jpeg,
    db,
    fake,
    make_notifier,
    notice,
    notify_config,
    rows,
)

__all__ = ["db", "fake", "make_notifier"]  # fixtures used by name below


def states(d: Database) -> list[str]:
    return [r.state for r in rows(d)]


def token_row(d: Database) -> ChannelToken | None:
    with d.session() as s:
        return s.get(ChannelToken, "oa")


async def test_camera_alert_goes_to_police_group_with_shrunk_snapshot(
    fake: FakeZalo, db: Database, make_notifier: NotifierFactory
) -> None:
    jpeg = big_jpeg()
    assert len(jpeg) > 1_000_000
    add_camera(db, "yen_dinh/dinh_long/cam1", "Cổng UBND xã", jpeg)
    n = await make_notifier(notify_config(fake))
    await n.submit(notice(snapshot="yen_dinh/dinh_long/cam1"))
    await wait_for(lambda: states(db) == ["sent"], what="row sent")
    [msg] = fake.messages("oa")
    assert msg.target == "g-police"
    assert msg.attachment_id is not None
    assert "Camera mất kết nối — Xã Định Long, Huyện Yên Định" in msg.text
    assert "http://hub.example:8080/alerts/7" in msg.text
    [upload] = fake.requests("upload")
    assert 0 < upload.body["file_bytes"] <= 1_000_000
    [row] = rows(db)
    assert row.message_id == msg.message_id and row.attempts == 1 and row.image and "kèm ảnh" in row.image
    assert fake.state.refreshes == 1  # the first send had no access token yet


async def test_same_event_twice_is_stored_and_sent_once(
    fake: FakeZalo, db: Database, make_notifier: NotifierFactory
) -> None:
    cfg = notify_config(fake)
    n = await make_notifier(cfg)
    await n.submit(notice("ev-dup"))
    await n.submit(notice("ev-dup"))
    other = await make_notifier(cfg, start=False)  # a restarted hub submitting the same event again
    await other.submit(notice("ev-dup"))
    await wait_for(lambda: states(db) == ["sent"], what="one row sent")
    await asyncio.sleep(0.3)
    assert len(fake.messages()) == 1


async def test_refresh_is_serialised_and_the_new_refresh_token_persisted(
    fake: FakeZalo, db: Database, make_notifier: NotifierFactory
) -> None:
    cfg = notify_config(fake)
    first_rt = fake.state.refresh_token
    n = await make_notifier(cfg)
    # Two receivers at once (police group and the on-call chat via a critical route), both need a token.
    await asyncio.gather(n.submit(notice("ev-a")), n.submit(notice("ev-b", kind=FactKind.SPEAKER_OFFLINE)))
    await wait_for(lambda: states(db) == ["sent", "sent"], what="both sent")
    assert fake.state.refreshes == 1
    tok = token_row(db)
    assert tok is not None and tok.refresh_token == fake.state.refresh_token != first_rt
    assert tok.generation == 1 and tok.refresh_started_at is None

    fake.expire_access_tokens()  # the next send answers -216: refresh once, retry
    await n.submit(notice("ev-c"))
    await wait_for(lambda: states(db).count("sent") == 3, what="third sent")
    assert fake.state.refreshes == 2
    tok = token_row(db)
    assert tok is not None and tok.refresh_token == fake.state.refresh_token and tok.generation == 2
    await n.stop()

    # After a restart the stored (newest) tokens are used, not the spent configured one.
    n2 = await make_notifier(cfg)
    await n2.submit(notice("ev-d"))
    await wait_for(lambda: states(db).count("sent") == 4, what="sent after restart")
    assert fake.state.refreshes == 2
    assert not [r for r in fake.requests("oauth") if r.answer and r.answer.get("error")]


async def test_concurrent_token_requests_share_one_refresh(
    fake: FakeZalo, db: Database, make_notifier: NotifierFactory
) -> None:
    n = await make_notifier(notify_config(fake))
    a, b, c = await asyncio.gather(n.tokens.token(), n.tokens.token(), n.tokens.token())
    assert a == b == c and fake.state.refreshes == 1
    # Three sends told at once that this token is invalid: one refresh, all get the new token.
    x, y, z = await asyncio.gather(*(n.tokens.after_rejected(a) for _ in range(3)))
    assert x == y == z != a and fake.state.refreshes == 2
    assert not [r for r in fake.requests("oauth") if r.answer and r.answer.get("error")]


async def test_scripted_minus_216_then_success(
    fake: FakeZalo, db: Database, make_notifier: NotifierFactory
) -> None:
    n = await make_notifier(notify_config(fake))
    await n.submit(notice("ev-0"))
    await wait_for(lambda: states(db) == ["sent"], what="first")
    fake.fail("group", "token_expired")
    await n.submit(notice("ev-1"))
    await wait_for(lambda: states(db) == ["sent", "sent"], what="second")
    assert fake.state.refreshes == 2
    assert rows(db)[1].attempts == 1  # refreshed and resent within the same attempt


async def test_rate_limit_then_5xx_then_timeout_are_retried(
    fake: FakeZalo, db: Database, make_notifier: NotifierFactory
) -> None:
    n = await make_notifier(notify_config(fake))
    await n.submit(notice("ev-0"))
    await wait_for(lambda: states(db) == ["sent"], what="first")
    fake.fail("group", "rate_limit")
    fake.fail("group", "http_502")
    fake.fail("group", "hang")  # the client gives up after oa.timeout_s
    await n.submit(notice("ev-1"))
    await wait_for(lambda: states(db) == ["sent", "sent"], within=15, what="sent after three failures")
    row = rows(db)[1]
    assert row.attempts == 4
    assert len(fake.messages()) == 2
    assert n.health["oa"].retried == 3 and n.channel_facts(time.time()) == []


async def test_permanent_error_is_not_retried_and_repeated_ones_raise_a_channel_fact(
    fake: FakeZalo, db: Database, make_notifier: NotifierFactory
) -> None:
    fake.state.groups = {"g-police"}  # the officers' group id is wrong: -237
    n = await make_notifier(notify_config(fake))
    for i in range(3):
        await n.submit(notice(f"ev-{i}", kind=FactKind.SPEAKER_OFFLINE))
    await wait_for(lambda: states(db) == ["failed"] * 3, what="three failed")
    assert all(r.attempts == 1 and r.last_code == -237 for r in rows(db))
    [fact] = n.channel_facts(time.time())
    assert fact.kind == FactKind.CHANNEL_FAILING and fact.device == "notify/oa"
    assert "3 tin liên tiếp" in fact.summary


async def test_retries_exhausted_is_dead(
    fake: FakeZalo, db: Database, make_notifier: NotifierFactory
) -> None:
    n = await make_notifier(notify_config(fake, retry={"base_s": 0.02, "max_s": 0.05, "max_attempts": 3}))
    await n.submit(notice("ev-0"))
    await wait_for(lambda: states(db) == ["sent"], what="first")
    fake.fail("group", "http_503", times=5)
    await n.submit(notice("ev-1"))
    await wait_for(lambda: states(db) == ["sent", "dead"], what="dead")
    assert rows(db)[1].attempts == 3


async def test_reauth_stops_the_channel_until_a_new_refresh_token_is_configured(
    fake: FakeZalo, db: Database, make_notifier: NotifierFactory
) -> None:
    cfg = notify_config(fake)
    n = await make_notifier(cfg)
    await n.submit(notice("ev-0"))
    await wait_for(lambda: states(db) == ["sent"], what="first")
    fake.fail("group", "reauth")
    await n.submit(notice("ev-1"))
    await wait_for(lambda: n.paused() == {"oa"}, what="channel blocked")
    await n.submit(notice("ev-2"))
    await wait_for(lambda: states(db) == ["sent", "pending", "pending"], what="rows kept")  # not failed
    await asyncio.sleep(0.3)
    assert states(db) == ["sent", "pending", "pending"]
    assert len(fake.requests("group")) == 2
    [fact] = n.channel_facts(time.time())
    assert "cấp quyền lại" in fact.summary and fact.detail["reason"] == "reauth"
    assert n.status()[0]["mode"] == "blocked"
    await n.stop()

    tok = token_row(db)
    assert tok is not None and tok.blocked_reason
    again = await make_notifier(cfg)  # same configuration: still blocked
    assert again.paused() == {"oa"}
    await again.stop()

    # The OA admin authorised the app again: a new refresh token in the configuration lifts the block.
    fake.state.refresh_token = "rt-after-reauth"
    fresh = await make_notifier(notify_config(fake))
    await wait_for(lambda: states(db) == ["sent"] * 3, what="waiting rows sent")
    assert fresh.channel_facts(time.time()) == []


async def test_refresh_token_refused_blocks_and_reports(
    fake: FakeZalo, db: Database, make_notifier: NotifierFactory
) -> None:
    cfg = notify_config(fake)
    fake.state.used_refresh_tokens.add(fake.state.refresh_token)  # already spent elsewhere: -14014
    n = await make_notifier(cfg)
    await n.submit(notice("ev-0"))
    await wait_for(lambda: n.paused() == {"oa"}, what="blocked")
    await wait_for(lambda: states(db) == ["pending"], what="row back to pending")  # kept, attempt not counted
    assert rows(db)[0].attempts == 0
    [fact] = n.channel_facts(time.time())
    assert "-14014" in fact.summary
    # A person pastes the token of the new authorisation (web page or API): the waiting row goes out.
    fake.state.refresh_token = "rt-pasted"
    await n.replace_refresh_token("rt-pasted")
    await wait_for(lambda: states(db) == ["sent"], what="sent after the new token")
    assert n.channel_facts(time.time()) == [] and n.paused() == frozenset()


async def test_old_finished_rows_are_pruned_but_waiting_ones_kept(
    db: Database, make_notifier: NotifierFactory
) -> None:
    n = await make_notifier(notify_config(None), start=False)
    for i in range(3):
        await n.submit(notice(f"ev-{i}"))
    with db.session() as s, s.begin():
        s.execute(update(OutboxRow).values(created_at=to_db_time(time.time() - 100 * 86400)))
        s.execute(update(OutboxRow).where(OutboxRow.event_id == "ev-1").values(state="pending"))
    assert await n.prune() == 2
    assert [r.event_id for r in rows(db)] == ["ev-1"]


async def test_pending_row_after_a_crash_is_sent_once_and_an_interrupted_send_is_unknown(
    fake: FakeZalo, db: Database, make_notifier: NotifierFactory
) -> None:
    cfg = notify_config(fake)
    crashed = await make_notifier(cfg, start=False)  # stored its rows, died before sending
    await crashed.submit(notice("ev-pending"))
    await crashed.submit(notice("ev-in-flight", commune="dinh_tan"))
    with db.session() as s, s.begin():
        s.execute(
            update(OutboxRow).where(OutboxRow.event_id == "ev-in-flight").values(state="sending", attempts=1)
        )
    n = await make_notifier(cfg)
    await wait_for(lambda: sorted(states(db)) == ["sent", "unknown"], what="recovered")
    await n.submit(notice("ev-pending"))  # the engine submits it again after its own restart
    await asyncio.sleep(0.3)
    assert len(fake.messages()) == 1
    unknown = [r for r in rows(db) if r.state == "unknown"][0]
    assert unknown.event_id == "ev-in-flight" and "không tự gửi lại" in (unknown.last_error or "")


async def test_dry_run_without_credentials_stores_what_would_be_sent(
    db: Database, make_notifier: NotifierFactory
) -> None:
    n = await make_notifier(notify_config(None))
    await n.submit(notice("ev-dry", n=2))
    [row] = rows(db)
    assert row.state == "dry_run" and row.channel == "oa" and row.target == "g-police"
    assert "2 camera, từ " in row.text and "Camera số 2" in row.text
    assert [c["mode"] for c in n.status()] == ["dry_run", "dry_run"]
    assert n.channel_facts(time.time()) == []


async def test_quiet_hours_hold_warnings_but_not_critical(
    fake: FakeZalo, db: Database, make_notifier: NotifierFactory
) -> None:
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    local = datetime.now(UTC).astimezone(tz)
    start, end = (
        (local - timedelta(hours=1)).strftime("%H:%M"),
        (local + timedelta(hours=1)).strftime("%H:%M"),
    )
    route = RouteConfig(
        name="quiet",
        receivers=[Receiver(oa_group="g-night")],
        quiet_hours=QuietHours(start=start, end=end),
    )
    n = await make_notifier(notify_config(fake, routes=[route]))
    await n.submit(notice("ev-warn"))
    await n.submit(notice("ev-crit", severity=Severity.CRITICAL))
    await wait_for(lambda: "sent" in states(db), what="critical sent")
    held, crit = rows(db)
    assert crit.state == "sent" and held.state == "pending"
    assert held.held_until is not None and held.next_try_at == held.held_until
    assert held.held_until > to_db_time(time.time()) + timedelta(minutes=50)
    assert len(fake.messages()) == 1


async def test_channel_failing_goes_to_the_oncall_bot(
    fake: FakeZalo, db: Database, make_notifier: NotifierFactory
) -> None:
    n = await make_notifier(notify_config(fake))
    ev = notice("ev-ch", kind=FactKind.CHANNEL_FAILING, severity=Severity.CRITICAL, commune="")
    await n.submit(ev)
    await wait_for(lambda: states(db) == ["sent"], what="bot message")
    [msg] = fake.messages("bot")
    assert msg.target == "chat-1" and "Kênh thông báo Zalo gặp sự cố" in msg.text


async def test_bot_token_refused_blocks_the_bot(
    fake: FakeZalo, db: Database, make_notifier: NotifierFactory
) -> None:
    n = await make_notifier(
        notify_config(fake, bot=BotConfig(token="999:wrong", base_url=fake.url, timeout_s=1))
    )
    await n.submit(notice("ev-ch", kind=FactKind.CHANNEL_FAILING, commune=""))
    await wait_for(lambda: n.paused() == {"bot"}, what="bot blocked")
    [fact] = n.channel_facts(time.time())
    assert fact.device == "notify/bot"


async def test_receiver_missing_from_the_directory_is_kept_as_unrouted(
    fake: FakeZalo, db: Database, make_notifier: NotifierFactory
) -> None:
    n = await make_notifier(notify_config(fake))
    await n.submit(notice("ev-x", kind=FactKind.SPEAKER_OFFLINE, commune="dinh_tan"))
    [row] = rows(db)
    assert row.state == "unrouted" and "dinh_tan" in (row.last_error or "")
    assert "Cụm loa mất kết nối" in row.text
