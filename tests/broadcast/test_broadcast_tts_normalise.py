"""The Vietnamese normaliser run before every TTS engine: numbers, dates, times, money, units, telephone numbers
and abbreviations, as an announcer would read them (pure functions, exact expected words)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.tts_sentences import SENTENCES
from broadcast.content.vi_normalise import ABBREVIATIONS, normalise
from broadcast.content.vi_numbers import read_decimal, read_int, roman_value

NUMBERS = [
    (0, "không"),
    (5, "năm"),
    (10, "mười"),
    (11, "mười một"),
    (15, "mười lăm"),
    (21, "hai mươi mốt"),
    (24, "hai mươi tư"),
    (25, "hai mươi lăm"),
    (101, "một trăm lẻ một"),
    (105, "một trăm lẻ năm"),
    (110, "một trăm mười"),
    (1000, "một nghìn"),
    (1005, "một nghìn không trăm lẻ năm"),
    (1010, "một nghìn không trăm mười"),
    (2025, "hai nghìn không trăm hai mươi lăm"),
    (500_000, "năm trăm nghìn"),
    (1_263_600, "một triệu hai trăm sáu mươi ba nghìn sáu trăm"),
    (1_000_005, "một triệu không trăm lẻ năm"),
    (1_500_000_000, "một tỷ năm trăm triệu"),
    (2_000_000_000_000, "hai nghìn tỷ"),
]


@pytest.mark.parametrize(("n", "words"), NUMBERS)
def test_numbers_read_as_announcers_do(n: int, words: str) -> None:
    assert read_int(n) == words


def test_decimals_and_roman_numerals() -> None:
    assert read_decimal("12", "5") == "mười hai phẩy năm"
    assert read_decimal("0", "05") == "không phẩy không năm"
    assert [roman_value(r) for r in ("I", "III", "IV", "IX", "XX", "IIII", "VV", "ABC")] == [
        1, 3, 4, 9, 20, None, None, None,
    ]  # fmt: skip


CASES = [
    # abbreviations
    ("UBND xã thông báo", "ủy ban nhân dân xã thông báo"),
    ("HTX Định Long", "hợp tác xã Định Long"),
    ("trường THCS và THPT", "trường trung học cơ sở và trung học phổ thông"),
    ("báo CAX ngay", "báo công an xã ngay"),
    ("Ban CHQS xã", "Ban chỉ huy quân sự xã"),
    ("Sở NN&PTNT", "Sở nông nghiệp và phát triển nông thôn"),
    ("đài VTV", "đài vê tê vê"),  # an unknown acronym is spelled
    ("THÔNG BÁO KHẨN", "thông báo khẩn"),  # a heading in capitals is read as words
    ("UBNDX", "u bê nờ dê ích"),  # only whole words are expanded
    # dates
    ("ngày 15/8/2025", "ngày mười lăm tháng tám năm hai nghìn không trăm hai mươi lăm"),
    ("hạn 01-04-2026", "hạn ngày một tháng tư năm hai nghìn không trăm hai mươi sáu"),
    ("ngày 2/9", "ngày hai tháng chín"),
    ("tháng 8/2025", "tháng tám năm hai nghìn không trăm hai mươi lăm"),
    ("ngày 15-16/8", "ngày mười lăm đến mười sáu tháng tám"),
    ("từ 3/3 đến 7/3", "từ ba tháng ba đến bảy tháng ba"),
    ("ngày 32/13", "ngày ba mươi hai trên mười ba"),  # not a date
    # times
    ("lúc 7h30", "lúc bảy giờ ba mươi phút"),
    ("lúc 17:45", "lúc mười bảy giờ bốn mươi lăm phút"),
    ("lúc 8 giờ 00", "lúc tám giờ"),
    ("lúc 14h", "lúc mười bốn giờ"),
    ("từ 05:00–06:00", "từ năm giờ đến sáu giờ"),
    ("từ 7h-11h30", "từ bảy giờ đến mười một giờ ba mươi phút"),
    # money
    ("500.000 đồng/hộ", "năm trăm nghìn đồng mỗi hộ"),
    ("25.000đ/kg", "hai mươi lăm nghìn đồng mỗi ki lô gam"),
    ("1,5 tỷ đ", "một phẩy năm tỷ đồng"),
    ("100 triệu đồng/hộ", "một trăm triệu đồng mỗi hộ"),
    ("$20", "hai mươi đô la"),
    ("200 USD", "hai trăm đô la Mỹ"),
    # units
    ("150mm", "một trăm năm mươi mi li mét"),
    ("12,5 m", "mười hai phẩy năm mét"),
    ("38°C", "ba mươi tám độ xê"),
    ("40 km/h", "bốn mươi ki lô mét trên giờ"),
    ("250 m3/s", "hai trăm năm mươi mét khối trên giây"),
    ("35,5 ha", "ba mươi lăm phẩy năm héc ta"),
    ("85%", "tám mươi lăm phần trăm"),
    ("68,5 tạ/ha", "sáu mươi tám phẩy năm tạ mỗi héc ta"),
    ("2 lần/tuần", "hai lần mỗi tuần"),
    ("50 g muối", "năm mươi gam muối"),
    # telephone numbers
    ("số 0912 345 678", "số không chín một hai ba bốn năm sáu bảy tám"),
    ("0915.678.910", "không chín một năm sáu bảy tám chín một không"),
    ("gọi 114", "gọi một một bốn"),
    ("+84 912 345 678", "cộng tám bốn chín một hai ba bốn năm sáu bảy tám"),
    # ranges, ordinals, lists, Roman numerals
    ("30-40 mm", "ba mươi đến bốn mươi mi li mét"),
    (
        "giai đoạn 2021-2025",
        "giai đoạn hai nghìn không trăm hai mươi mốt đến hai nghìn không trăm hai mươi lăm",
    ),
    ("thứ 2", "thứ hai"),
    ("thứ 4", "thứ tư"),
    ("lần thứ 1", "lần thứ nhất"),
    ("thôn 1,2,3", "thôn một, hai, ba"),
    ("quý III", "quý ba"),
    ("khóa XX", "khóa hai mươi"),
    ("19/19 tiêu chí", "mười chín trên mười chín tiêu chí"),
    ("COVID-19", "cô vít mười chín"),
    # text without anything to change stays as it was
    ("Bà con chú ý.", "Bà con chú ý."),
]


@pytest.mark.parametrize(("text", "spoken"), CASES)
def test_normalise_cases(text: str, spoken: str) -> None:
    assert normalise(text) == spoken


def test_whole_announcement() -> None:
    text = "UBND xã Định Long thông báo: từ 7h30 ngày 15/8/2025, HTX cấp 1.200 kg phân bón cho 45 hộ."
    assert normalise(text) == (
        "ủy ban nhân dân xã Định Long thông báo: từ bảy giờ ba mươi phút ngày mười lăm tháng tám năm hai nghìn "
        "không trăm hai mươi lăm, hợp tác xã cấp một nghìn hai trăm ki lô gam phân bón cho bốn mươi lăm hộ."
    )


def test_any_text_gives_words() -> None:
    # digit runs longer than any number, long runs of separators and symbols: read, never an exception
    assert normalise("9" * 5000 + " kg") == " ".join(["chín"] * 5000) + " ki lô gam"
    assert normalise("1" * 30 + ",5") == " ".join(["một"] * 30) + " năm"
    for text in ("1." * 3000, "-1" * 3000, "/" * 3000, "0" * 3000, "AB " * 2000, "12:" * 2000):
        spoken = normalise(text)
        assert not re.search(r"\d", spoken), text[:12]


ANNOUNCEMENT_CHARS = st.sampled_from(list("0123456789 .,:;/-–%°$&+hgkmđĐUBNDHTXIVtháng ngày giờ\n"))


@settings(max_examples=300, deadline=None)
@given(st.text(ANNOUNCEMENT_CHARS, max_size=80) | st.text(max_size=80))
def test_normalise_never_fails_and_leaves_no_digit(text: str) -> None:
    spoken = normalise(text)
    assert not re.search(r"[0-9]", spoken), (text, spoken)


@pytest.mark.parametrize("sentence", SENTENCES)
def test_real_announcements_leave_nothing_unspeakable(sentence: str) -> None:
    spoken = normalise(sentence)
    assert not re.search(r"[0-9%°/$&]", spoken), spoken
    assert not any(re.search(rf"(?<!\w){re.escape(a)}(?!\w)", spoken) for a in ABBREVIATIONS), spoken
    assert normalise(spoken) == spoken  # words are never touched again
    assert spoken[-1] in ".!?", spoken  # the sentence still ends as it did
