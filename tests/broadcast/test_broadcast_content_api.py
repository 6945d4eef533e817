"""Content API and pages over a real app and SQLite: upload → processed MP3 served by hash (with Range),
original kept, audited; refusals counted and leaving nothing behind; scope; delete refused while a programme
uses the content; TTS create and preview."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from broadcast.content.models import BroadcastContent
from broadcast.content.store import ContentStore
from broadcast.programmes.models import Programme, ProgrammeItem
from broadcast.web.content.create import CONTENT_STORE
from hub.core.audit import AuditEntry
from tests.fixtures_web import T0, WebEnv

AREA = {"district": "soc-son", "commune": "phu-linh"}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("clip") / "voice.m4a"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error"]
        + ["-f", "lavfi", "-i", "sine=frequency=300:duration=2", "-f", "lavfi", "-i", "anoisesrc=d=2:a=0.03"]
        + ["-filter_complex", "[0][1]amix=inputs=2,volume=0.2", "-c:a", "aac", str(path)],
        check=True,
        timeout=60,
    )
    return path.read_bytes()


def form(data: bytes | None, name: str = "Thông báo họp.m4a", **fields: str) -> aiohttp.FormData:
    f = aiohttp.FormData(default_to_multipart=True)
    for k, v in fields.items():
        f.add_field(k, v)
    if data is not None:
        f.add_field("file", data, filename=name, content_type="application/octet-stream")
    return f


async def login_as(web: WebEnv, name: str) -> None:
    web.client.session.cookie_jar.clear()
    resp = await web.login(name)
    assert resp.status == 303


async def officer(web: WebEnv, name: str = "vanhoa", commune: str = "phu-linh") -> dict[str, str]:
    web.add_user(name, "officer", district="soc-son", commune=commune)
    await login_as(web, name)
    return {"X-CSRF-Token": await web.page_csrf("/broadcasts/content")}


def store(web: WebEnv) -> ContentStore:
    app = web.client.app
    assert app is not None
    found: ContentStore = app[CONTENT_STORE]
    return found


def content_dir(web: WebEnv) -> Path:
    return store(web).root


def leftovers(web: WebEnv) -> list[Path]:
    return list((content_dir(web) / "tmp").glob("*"))


async def upload(web: WebEnv, headers: dict[str, str], data: bytes | None, **fields: str) -> Any:
    return await web.client.post("/api/v1/content", data=form(data, **fields), headers=headers)


async def test_upload_processes_stores_serves_and_audits(web: WebEnv, clip: bytes) -> None:
    h = await officer(web)
    resp = await upload(web, h, clip, title="  Họp   thôn Đông  ", source="recording")
    assert resp.status == 201, await resp.text()
    item = await resp.json()
    assert item["title"] == "Họp thôn Đông" and item["source"] == "recording"
    assert (item["district"], item["commune"], item["created_by"]) == ("soc-son", "phu-linh", "vanhoa")
    assert abs(item["loudness_lufs"] + 16) <= 1 and item["true_peak_dbtp"] <= -1.0
    assert 1.9 <= item["duration_s"] <= 2.2 and item["original_name"] == "Thông báo họp.m4a"

    # the processed MP3: public by hash, verified by its sha256, Range answered
    media = await web.client.get(item["media_url"])
    body = await media.read()
    assert media.status == 200 and media.headers["Content-Type"] == "audio/mpeg"
    assert hashlib.sha256(body).hexdigest() == item["sha256"] and len(body) == item["size"]
    part = await web.client.get(item["media_url"], headers={"Range": "bytes=0-99"})
    assert part.status == 206 and len(await part.read()) == 100
    assert (await web.client.get("/media/" + "0" * 64 + ".mp3")).status == 404

    # the original is kept byte for byte, and downloadable by people who may see it
    orig = await web.client.get(item["original_url"])
    assert orig.status == 200 and await orig.read() == clip
    assert "attachment" in orig.headers["Content-Disposition"]

    listed = await (await web.client.get("/api/v1/content")).json()
    assert [i["id"] for i in listed["items"]] == [item["id"]] and listed["total"] == 1
    one = await (await web.client.get(f"/api/v1/content/{item['id']}")).json()
    assert one["used_by"] == [] and one["sha256"] == item["sha256"]
    with web.db.session() as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "content.create")).one()
        assert audit.actor == "vanhoa" and audit.target == f"content:{item['id']}"
    assert leftovers(web) == []
    assert (content_dir(web) / "media" / f"{item['sha256']}.mp3").is_file()


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        (b"#EXTM3U\n#EXTINF:2,\nfile:///etc/passwd\n", "playlist", "danh sách phát"),
        (b"ffconcat version 1.0\nfile /etc/passwd\n", "playlist", "danh sách phát"),
        (b"\x00\x01not audio at all" * 20, "not_audio", "không phải âm thanh"),
    ],
)
async def test_bad_files_refused_counted_and_nothing_left(
    web: WebEnv, data: bytes, code: str, words: str
) -> None:
    h = await officer(web)
    resp = await upload(web, h, data, title="Thử")
    assert resp.status == 422  # a well-formed upload whose file is not usable audio
    err = (await resp.json())["error"]
    assert err["code"] == code and words in err["message"]
    assert web.ctx.counters[f"content_rejected_{code}"] == 1
    assert leftovers(web) == []
    assert list((content_dir(web) / "media").glob("*")) == []
    with web.db.session() as s:
        assert s.scalars(select(BroadcastContent)).all() == []


async def test_upload_limits_and_form_errors(web: WebEnv, clip: bytes) -> None:
    h = await officer(web)
    lib = store(web)
    lib.cfg = lib.cfg.model_copy(update={"max_upload_mb": 0.01})  # ~10 KB
    big = await upload(web, h, clip + b"\0" * 20_000, title="Quá lớn")
    assert big.status == 413 and "quá lớn" in (await big.json())["error"]["message"]
    lib.cfg = lib.cfg.model_copy(update={"max_upload_mb": 50})

    checks = [
        (form(None, title="Không có tệp"), 400, "no_file"),
        (form(clip, title=""), 422, "bad_title"),
        (form(clip, title="x", source="radio"), 400, "bad_field"),  # not in the document's list
        (form(clip, title="x", colour="xanh"), 400, "bad_form"),
        (form(clip, title="x", commune="tien-duoc"), 403, "forbidden"),  # not the officer's commune
    ]
    for data, status, code in checks:
        resp = await web.client.post("/api/v1/content", data=data, headers=h)
        assert resp.status == status, (code, await resp.text())
        assert (await resp.json())["error"]["code"] == code
    no_csrf = await web.client.post("/api/v1/content", data=form(clip, title="x"))
    assert no_csrf.status == 403
    assert leftovers(web) == []
    assert web.ctx.counters["content_rejected_too_large"] == 1


async def test_scope_roles_and_delete_guard(web: WebEnv, clip: bytes) -> None:
    h = await officer(web)
    item = await (await upload(web, h, clip, title="Lịch tiêm phòng")).json()

    # an officer of another commune neither sees nor reaches it; police may not see broadcasts at all
    web.add_user("khac", "officer", district="soc-son", commune="tien-duoc")
    web.add_user("congan", "police", district="soc-son")
    await login_as(web, "khac")
    assert (await (await web.client.get("/api/v1/content")).json())["items"] == []
    assert (await web.client.get(f"/api/v1/content/{item['id']}")).status == 404
    await login_as(web, "congan")
    assert (await web.client.get("/api/v1/content")).status == 403

    # a programme still to air uses it: delete refused, naming the programme
    with web.db.session() as s, s.begin():
        prog = Programme(
            district="soc-son", commune="phu-linh", title="Bản tin chiều", schedule={}, created_by="vanhoa"
        )
        prog.state = "approved"
        s.add(prog)
        s.flush()
        s.add(ProgrammeItem(programme_id=prog.id, position=0, content_id=item["id"]))
        prog_id = prog.id
    await login_as(web, "vanhoa")
    h = {"X-CSRF-Token": await web.page_csrf("/broadcasts/content")}
    refused = await web.client.delete(f"/api/v1/content/{item['id']}", headers=h)
    assert refused.status == 409 and "Bản tin chiều" in (await refused.json())["error"]["message"]

    with web.db.session() as s, s.begin():
        prog2 = s.get(Programme, prog_id)
        assert prog2 is not None
        prog2.state = "cancelled"
    web.set_clock(lambda: T0)
    gone = await web.client.delete(f"/api/v1/content/{item['id']}", headers=h)
    assert gone.status == 200 and (await gone.json())["deleted_at"] == "2026-11-02T07:00:00Z"
    assert (await web.client.get(item["media_url"])).status == 404
    assert (await (await web.client.get("/api/v1/content")).json())["items"] == []
    kept = await (await web.client.get("/api/v1/content?include_deleted=true")).json()
    assert [i["id"] for i in kept["items"]] == [item["id"]]
    assert (await web.client.delete(f"/api/v1/content/{item['id']}", headers=h)).status == 404
    with web.db.session() as s:
        assert s.scalars(select(AuditEntry.action).where(AuditEntry.action == "content.delete")).all() == [
            "content.delete"
        ]


async def test_tts_create_preview_and_limits(web: WebEnv) -> None:
    h = await officer(web)
    text = "Loa truyền thanh xã Phù Linh xin thông báo: sáng mai tiêm phòng cho trâu bò."
    preview = await web.client.post("/api/v1/content/tts/preview", json={"text": text}, headers=h)
    assert preview.status == 200 and preview.headers["Content-Type"] == "audio/mpeg"
    assert len(await preview.read()) > 5000
    with web.db.session() as s:
        assert s.scalars(select(BroadcastContent)).all() == []  # a preview stores nothing

    created = await web.client.post(
        "/api/v1/content/tts", json={"title": "Tiêm phòng", "text": text, "voice": "vi-vn-x-south"}, headers=h
    )
    assert created.status == 201, await created.text()
    item = await created.json()
    assert item["source"] == "tts" and item["text"] == text and abs(item["loudness_lufs"] + 16) <= 1

    for body, status, code in (
        ({"title": "x", "text": "a" * 5001}, 422, "text_too_long"),  # this hub's tts_max_chars
        ({"title": "x", "text": "   "}, 422, "text_empty"),
        ({"title": "x", "text": "xin chào", "voice": "en"}, 400, "bad_body"),  # not in the document's list
        ({"title": "x", "text": "xin chào", "speed": "2"}, 400, "bad_body"),
    ):
        resp = await web.client.post("/api/v1/content/tts", json=body, headers=h)
        assert resp.status == status and (await resp.json())["error"]["code"] == code
    assert leftovers(web) == []


async def test_pages_for_people(web: WebEnv, clip: bytes) -> None:
    h = await officer(web)
    await upload(web, h, clip, title="Thông báo lịch cắt điện")
    page = await web.client.get("/broadcasts/content")
    html = await page.text()
    assert page.status == 200 and "Thông báo lịch cắt điện" in html and "LUFS" in html
    assert "media-src 'self' blob:" in page.headers["Content-Security-Policy"]
    rec = await web.client.get("/broadcasts/content/record")
    assert rec.status == 200 and "microphone=(self)" in rec.headers["Permissions-Policy"]
    assert "Bắt đầu ghi" in await rec.text()
    new = await web.client.get("/broadcasts/content/new")
    assert new.status == 200 and "Giọng miền Nam" in await new.text()
    assert "microphone=()" in new.headers["Permissions-Policy"]  # only the recording page gets the mic

    # TTS without JavaScript: a form post, errors shown on the form with what was typed
    bad = await web.client.post(
        "/broadcasts/content/tts", data={"title": "Bão", "text": " ", "csrf": h["X-CSRF-Token"]}
    )
    assert bad.status == 422 and "Hãy nhập nội dung cần đọc" in await bad.text()
    ok = await web.client.post(
        "/broadcasts/content/tts",
        data={"title": "Bão số 5", "text": "Bà con chú ý phòng chống bão.", "csrf": h["X-CSRF-Token"]},
        allow_redirects=False,
    )
    assert ok.status == 303 and ok.headers["Location"].startswith("/broadcasts/content?created=")
    listed = await (await web.client.get(ok.headers["Location"])).text()
    assert "Bão số 5" in listed and "Đã lưu và xử lý" in listed

    web.add_user("kythuat", "technician", district="soc-son")
    await login_as(web, "kythuat")
    assert (await web.client.get("/broadcasts/content", allow_redirects=False)).status == 403
