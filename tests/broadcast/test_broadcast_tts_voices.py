"""Voices: which engine speaks a voice, the default, the fallback to espeak-ng when a preferred engine fails,
speed, the normaliser in front of every engine; the preview's limiter; and the API: the preview's length and
rate limits and its answer headers, the voice and speed stored with the content."""

from __future__ import annotations

import asyncio
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from broadcast.content.audio_input import AudioError
from broadcast.content.models import BroadcastContent
from broadcast.content.preview_limit import PreviewLimiter
from broadcast.content.tts import EspeakEngine, VoiceBook
from broadcast.web.content.create import PREVIEW_LIMIT
from tests.broadcast.test_broadcast_content_api import officer
from tests.fixtures_web import WebEnv


class BrokenEngine:
    """An engine whose synthesis fails the way a missing model or a crashed runtime does."""

    name = "broken"

    def __init__(self, code: str = "tts_failed") -> None:
        self.code = code
        self.voices = {"neural-a": "Giọng thử"}
        self.asked: list[tuple[str, str, float]] = []

    async def synthesize(self, text: str, voice: str, speed: float) -> bytes:
        self.asked.append((text, voice, speed))
        raise AudioError(self.code, "engine failed")


def wav_seconds(wav: bytes) -> float:
    # espeak-ng writes a 44-byte header of 16-bit mono at 22,050 Hz
    assert wav[:4] == b"RIFF" and int.from_bytes(wav[22:24], "little") == 1
    rate = int.from_bytes(wav[24:28], "little")
    return (len(wav) - 44) / 2 / rate


def test_voice_book_selects_engines_and_defaults() -> None:
    espeak = EspeakEngine(150, 30)
    book = VoiceBook([BrokenEngine(), espeak], "vi")
    assert list(book.voices) == ["neural-a", "vi", "vi-vn-x-central", "vi-vn-x-south"]
    assert book.resolve(None) == "vi" and book.resolve("") == "vi" and book.resolve("neural-a") == "neural-a"
    with pytest.raises(AudioError) as exc:
        book.resolve("en-us")
    assert exc.value.code == "voice"
    with pytest.raises(ValueError, match="default voice"):
        VoiceBook([espeak], "neural-a")
    with pytest.raises(ValueError):
        VoiceBook([], "vi")


def test_espeak_speaks_the_normalised_text_at_the_asked_speed() -> None:
    book = VoiceBook([EspeakEngine(150, 30)], "vi")
    slow = asyncio.run(book.speak("UBND xã họp lúc 7h30 ngày 15/8.", None, 0.6))
    fast = asyncio.run(book.speak("UBND xã họp lúc 7h30 ngày 15/8.", "vi-vn-x-south", 1.4))
    assert slow.spoken_text == "ủy ban nhân dân xã họp lúc bảy giờ ba mươi phút ngày mười lăm tháng tám."
    assert (slow.voice, slow.speed, slow.engine, slow.fell_back) == ("vi", 0.6, "espeak-ng", False)
    assert (fast.voice, fast.speed) == ("vi-vn-x-south", 1.4)
    assert wav_seconds(slow.wav) > 1.5 * wav_seconds(fast.wav)
    assert (
        EspeakEngine(150, 30).wpm(0.1) == 80 and EspeakEngine(300, 30).wpm(2) == 450
    )  # espeak-ng's own limits


def test_a_failing_preferred_engine_falls_back_to_espeak() -> None:
    broken = BrokenEngine()
    book = VoiceBook([broken, EspeakEngine(150, 30)], "neural-a", default_speed=0.9)
    speech = asyncio.run(book.speak("Thôn 3 họp.", None))
    assert broken.asked == [("Thôn ba họp.", "neural-a", 0.9)]  # the preferred engine got the normalised text
    assert (speech.engine, speech.voice, speech.speed, speech.fell_back) == ("espeak-ng", "vi", 0.9, True)
    assert wav_seconds(speech.wav) > 0.3
    # the configured default is an espeak voice: the fallback speaks with it
    book = VoiceBook([BrokenEngine("timeout"), EspeakEngine(150, 30)], "vi-vn-x-central")
    assert asyncio.run(book.speak("Xin chào.", "neural-a")).voice == "vi-vn-x-central"


def test_refusals_and_the_last_engine_failing_are_not_hidden() -> None:
    book = VoiceBook([BrokenEngine("text_too_long"), EspeakEngine(150, 30)], "vi")
    with pytest.raises(AudioError) as exc:  # a refusal of the text is the person's to fix, not a fallback
        asyncio.run(book.speak("Xin chào.", "neural-a"))
    assert exc.value.code == "text_too_long"
    only = VoiceBook([BrokenEngine()], "neural-a")
    with pytest.raises(AudioError) as exc:
        asyncio.run(only.speak("Xin chào.", None))
    assert exc.value.code == "tts_failed"


def test_preview_limiter_window_per_user() -> None:
    lim = PreviewLimiter(per_minute=2)
    assert lim.take("a", 0.0) is None and lim.take("a", 10.0) is None
    assert lim.take("a", 20.0) == pytest.approx(40.0)  # until the first of the two leaves the window
    assert lim.take("b", 20.0) is None  # each person has their own
    assert lim.take("a", 60.0) is None and lim.take("a", 65.0) == pytest.approx(5.0)
    small = PreviewLimiter(per_minute=1, max_users=2)
    assert small.take("x", 0.0) is None and small.take("y", 100.0) is None
    assert small.take("z", 101.0) is None  # "x", idle longest, is forgotten
    assert set(small._seen) == {"y", "z"}


async def test_preview_and_create_with_voice_and_speed(web: WebEnv) -> None:
    h = await officer(web)
    resp = await web.client.post(
        "/api/v1/content/tts/preview",
        json={"text": "HTX họp lúc 14h ngày 2/9.", "voice": "vi-vn-x-central", "speed": 0.8},
        headers=h,
    )
    assert resp.status == 200, await resp.text()
    assert resp.headers["X-Voice"] == "vi-vn-x-central" and resp.headers["X-Speed"] == "0.8"
    assert unquote(resp.headers["X-Spoken-Text"]) == "hợp tác xã họp lúc mười bốn giờ ngày hai tháng chín."

    created = await web.client.post(
        "/api/v1/content/tts", json={"title": "Họp", "text": "Thôn 2 họp.", "speed": 1.2}, headers=h
    )
    assert created.status == 201, await created.text()
    item = await created.json()
    assert (item["voice"], item["speed"], item["text"]) == ("vi", 1.2, "Thôn 2 họp.")  # the text as written
    with web.db.session() as s:
        row = s.scalars(select(BroadcastContent)).one()
        assert (row.tts_voice, row.tts_speed) == ("vi", 1.2)
    got = await (await web.client.get(f"/api/v1/content/{item['id']}", headers=h)).json()
    assert (got["voice"], got["speed"]) == ("vi", 1.2)


async def test_preview_validation_and_rate_limit(web: WebEnv) -> None:
    h = await officer(web)
    url = "/api/v1/content/tts/preview"
    for body, status, code in (
        ({"text": "Câu dài. " * 60}, 422, "preview_too_long"),  # over tts_preview_max_chars (400)
        ({"text": "xin chào", "speed": 0.2}, 400, "bad_body"),  # outside the documented range
        ({"text": "xin chào", "speed": "1"}, 400, "bad_body"),  # JSON carries a number
        ({"text": "xin chào", "voice": "en"}, 400, "bad_body"),
        ({"text": "xin chào", "pitch": 2}, 400, "bad_body"),
        ({"text": "   "}, 422, "text_empty"),
    ):
        resp = await web.client.post(url, json=body, headers=h)
        assert resp.status == status, (body, await resp.text())
        assert (await resp.json())["error"]["code"] == code
    # a form sends the speed as a string: checked by the handler
    for speed in ("abc", "nan", "1.6", "0,4"):
        resp = await web.client.post(url, data={"text": "xin chào", "speed": speed}, headers=h)
        assert resp.status == 422 and (await resp.json())["error"]["code"] == "speed", speed
    resp = await web.client.post(url, data={"text": "xin chào", "speed": "0,9"}, headers=h)
    assert resp.status == 200 and resp.headers["X-Speed"] == "0.9"

    web.client.server.app[PREVIEW_LIMIT].per_minute = 2  # type: ignore[union-attr]
    resp = await web.client.post(url, json={"text": "xin chào"}, headers=h)
    assert resp.status == 200  # the second in this minute (refusals above counted nothing)
    resp = await web.client.post(url, json={"text": "xin chào"}, headers=h)
    assert resp.status == 429 and (await resp.json())["error"]["code"] == "preview_rate"
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    assert web.ctx.counters["content_rejected_preview_rate"] == 1  # counted like every refusal
    other = await officer(web, "vanhoa2")
    assert (await web.client.post(url, json={"text": "xin chào"}, headers=other)).status == 200
