"""The fake Zalo server answers like the real APIs (paths, headers, error shapes) and scripts faults."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from devtools.fakezalo import FakeZalo
from devtools.services import free_port, http_ok, terminate, wait_until
from tests.notify_support import big_jpeg


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def post(s: aiohttp.ClientSession, url: str, **kw: Any) -> tuple[int, Any]:
    async with s.post(url, **kw) as r:
        return r.status, await r.json(content_type=None)


async def test_oauth_refresh_token_is_single_use(client: aiohttp.ClientSession) -> None:
    fake = FakeZalo()
    await fake.start()
    try:
        rt = fake.state.refresh_token
        form = {"refresh_token": rt, "app_id": "fake-app", "grant_type": "refresh_token"}
        url = fake.url + "/v4/oa/access_token"
        status, body = await post(client, url, data=form, headers={"secret_key": "fake-secret"})
        assert status == 200 and body["refresh_token"] != rt and isinstance(body["expires_in"], str)
        _, again = await post(client, url, data=form, headers={"secret_key": "fake-secret"})
        assert again["error"] == -14014
        _, wrong = await post(
            client, url, data={**form, "refresh_token": body["refresh_token"]}, headers={"secret_key": "x"}
        )
        assert wrong["error"] == -14002

        msg_url = fake.url + "/v3.0/oa/group/message"
        payload = {"recipient": {"group_id": "g1"}, "message": {"text": "Xin chào"}}
        _, bad = await post(client, msg_url, json=payload, headers={"access_token": "nope"})
        assert bad["error"] == -216
        tok = {"access_token": body["access_token"]}
        _, ok = await post(client, msg_url, json=payload, headers=tok)
        assert ok["error"] == 0 and ok["data"]["message_id"]
        _, long = await post(client, msg_url, json={**payload, "message": {"text": "x" * 2001}}, headers=tok)
        assert long["error"] == -201

        fake.fail("group", "rate_limit")
        _, limited = await post(client, msg_url, json=payload, headers=tok)
        assert limited["error"] == -32
        fake.fail("group", "http_503")
        async with client.post(msg_url, json=payload, headers=tok) as r:
            assert r.status == 503
        fake.expire_access_tokens()
        _, expired = await post(client, msg_url, json=payload, headers=tok)
        assert expired["error"] == -216
        assert [m.text for m in fake.messages("oa")] == ["Xin chào"]
        with pytest.raises(ValueError, match="unknown fault"):
            fake.fail("group", "gremlins")
    finally:
        await fake.stop()


async def test_image_upload_and_media_template(client: aiohttp.ClientSession) -> None:
    fake = FakeZalo()
    await fake.start()
    try:
        tok = {"access_token": fake.issue_access_token()}
        url = fake.url + "/v2.0/oa/upload/image"
        form = aiohttp.FormData()
        form.add_field("file", big_jpeg(), filename="a.jpg", content_type="image/jpeg")
        _, big = await post(client, url, data=form, headers=tok)
        assert big["error"] == -201 and "1MB" in big["message"]
        form = aiohttp.FormData()
        form.add_field("file", b"\xff\xd8small\xff\xd9", filename="a.jpg", content_type="image/jpeg")
        _, up = await post(client, url, data=form, headers=tok)
        aid = up["data"]["attachment_id"]
        media = {
            "type": "template",
            "payload": {
                "template_type": "media",
                "elements": [{"media_type": "image", "attachment_id": aid}],
            },
        }
        msg = {"recipient": {"group_id": "g"}, "message": {"text": "ảnh", "attachment": media}}
        _, ok = await post(client, fake.url + "/v3.0/oa/group/message", json=msg, headers=tok)
        assert ok["error"] == 0 and fake.messages()[0].attachment_id == aid
        media["payload"]["elements"][0]["attachment_id"] = "att-unknown"  # type: ignore[index]
        _, bad = await post(client, fake.url + "/v3.0/oa/group/message", json=msg, headers=tok)
        assert bad["error"] == -201
    finally:
        await fake.stop()


def test_cli_serves_the_bot_api_and_lists_messages() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtools.fakezalo", "--port", str(port), "--bot-token", "42:abc"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/_fake/messages"), 15, "fakezalo up", proc)

        def call(path: str, body: dict[str, Any]) -> tuple[int, Any]:
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}{path}",
                json.dumps(body).encode(),
                {"Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())

        assert call("/bot42:abc/sendMessage", {"chat_id": "c1", "text": "Trực ban ơi"})[1]["ok"] is True
        assert call("/bot42:wrong/sendMessage", {"chat_id": "c1", "text": "x"})[0] == 401
        assert call("/bot42:abc/sendPhoto", {"chat_id": "c1", "photo": "not-a-url"})[0] == 400
        assert call("/_fake/fault", {"endpoint": "bot", "fault": "rate_limit"})[0] == 200
        assert call("/bot42:abc/sendMessage", {"chat_id": "c1", "text": "x"})[0] == 429
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_fake/messages", timeout=5) as r:
            msgs = json.loads(r.read())
        assert [(m["channel"], m["target"], m["text"]) for m in msgs] == [("bot", "c1", "Trực ban ơi")]
    finally:
        terminate(proc)
    out = proc.stdout.read().decode() if proc.stdout else ""
    assert "Trực ban ơi" in out  # the demo shows what arrived


async def test_file_upload_and_file_message_answer_like_zalo(client: aiohttp.ClientSession) -> None:
    fake = FakeZalo()
    await fake.start()
    try:
        tok = {"access_token": fake.issue_access_token()}
        url = fake.url + "/v2.0/oa/upload/file"

        def form(data: bytes, ctype: str) -> aiohttp.FormData:
            f = aiohttp.FormData()
            f.add_field("file", data, filename="bao-cao.pdf", content_type=ctype)
            return f

        _, ok = await post(client, url, data=form(b"%PDF-1.4 test", "application/pdf"), headers=tok)
        assert ok["error"] == 0 and ok["data"]["token"] in fake.state.files
        _, csv = await post(client, url, data=form(b"a,b\r\n", "text/csv"), headers=tok)
        assert csv["error"] == -201  # documents only: PDF, DOC, DOCX
        _, big = await post(
            client, url, data=form(b"%PDF" + b"0" * (5 * 1024 * 1024), "application/pdf"), headers=tok
        )
        assert big["error"] == -201 and "5MB" in big["message"]
        _, expired = await post(
            client, url, data=form(b"%PDF", "application/pdf"), headers={"access_token": "x"}
        )
        assert expired["error"] == -216
        fake.fail("upload_file", "http_503")
        async with client.post(url, data=form(b"%PDF", "application/pdf"), headers=tok) as r:
            assert r.status == 503

        msg_url = fake.url + "/v3.0/oa/group/message"
        file_msg = {"attachment": {"type": "file", "payload": {"token": ok["data"]["token"]}}}
        _, sent = await post(
            client, msg_url, json={"recipient": {"group_id": "g1"}, "message": file_msg}, headers=tok
        )
        assert sent["error"] == 0
        (m,) = fake.messages()
        assert (m.target, m.file_token) == ("g1", ok["data"]["token"])
        unknown = {"attachment": {"type": "file", "payload": {"token": "file-khong-co"}}}
        _, bad = await post(
            client, msg_url, json={"recipient": {"group_id": "g1"}, "message": unknown}, headers=tok
        )
        assert bad["error"] == -201
    finally:
        await fake.stop()
