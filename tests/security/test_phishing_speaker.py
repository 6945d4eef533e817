"""A receiver nobody registered appears with a phishing name: it waits for approval, in no programme and no
alert, its name cleaned; an administrator's approve button lets it in."""

from __future__ import annotations

import time
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from broadcast.programmes.targets import commune_speakers
from devtools.services import Service
from hub.compose import Hub, create_app
from hub.core import auth
from hub.core.speaker_models import Speaker
from tests.fixtures_hub import Publisher, wait_for
from tests.fixtures_web import T0
from tests.security.conftest import HOME, D, topic

PHISHING = "Loa UBND\u202e moc.knab-xa\u202c\x1b[31m — gọi ngay 0912 345 678 để nhận trợ cấp" + "!" * 40
KEY = f"{D}/{HOME}/loa-gia"


async def test_a_phishing_speaker_waits_for_approval(strict_hub: Hub, mosquitto: Service) -> None:
    h = strict_hub
    reg = h.broadcast.speakers
    fake = Publisher(mosquitto.port, will=(topic(HOME, "speaker", "loa-gia", "status"), b""))
    st = {"state": "online", "ts": time.time(), "version": "9", "name": PHISHING, "village": "thon-1"}
    fake.publish(topic(HOME, "speaker", "loa-gia", "status"), st, retain=True)
    await wait_for(lambda: reg.get(KEY) is not None, what="registered on first contact")
    sp = reg.get(KEY)
    assert sp is not None and sp.pending
    assert sp.name is not None and len(sp.name) <= 200
    assert not any(ch in sp.name for ch in "\u202e\u202c\x1b"), sp.name
    await reg.flush()
    with h.db.session() as s:
        row = s.get(Speaker, KEY)
        assert row is not None and row.pending
        assert commune_speakers(s, D, HOME) == []  # whole-commune programmes do not reach it

    # It goes silent: no alert names it.
    fake.publish(topic(HOME, "speaker", "loa-gia", "status"), {**st, "state": "offline"}, retain=True)
    await wait_for(lambda: reg.get(KEY) is not None and reg.get(KEY).status == "offline")  # type: ignore[union-attr]
    assert reg.facts(time.time()) == []

    # The same receiver id turning up in another commune is refused.
    fake.publish(topic("dinh_tan", "speaker", "loa-gia", "status"), st)
    await wait_for(lambda: h.stats.rejected["speaker_elsewhere"] == 1, what="a second home refused")
    assert f"{D}/dinh_tan/loa-gia" not in reg.speakers

    # The administrator approves it on the devices page.
    with h.db.session() as s, s.begin():
        auth.add_user(s, "quantri", "x", "admin", now=T0)
        _, token = auth.create_token(s, "quantri", "test", T0)
    client: TestClient[Any, Any] = TestClient(
        TestServer(create_app(h.config, h.db, h.events, h.stats.snapshot, hub=h))
    )
    await client.start_server()
    try:
        bearer = {"Authorization": f"Bearer {token}"}
        page = await (await client.get("/admin/devices?kind=speakers&pending=1", headers=bearer)).text()
        assert "loa-gia" in page and "Chờ duyệt" in page and "\u202e" not in page
        r = await client.post(f"/admin/devices/speakers/{KEY}/approve", headers=bearer, allow_redirects=False)
        assert r.status == 303
    finally:
        await client.close()
    with h.db.session() as s:
        assert [sp.slug for sp in commune_speakers(s, D, HOME)] == ["loa-gia"]
        assert s.scalar(select(Speaker.pending).where(Speaker.key == KEY)) is False
    await reg.reconcile(time.time())
    assert [f.device for f in reg.facts(time.time())] == [KEY]
    fake.close()
