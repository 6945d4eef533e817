"""Vietnamese announcement text made speakable before any TTS engine reads it: numbers, dates, times, ranges,
money, units, telephone numbers, Roman numerals and the administrative abbreviations (UBND, HTX, THCS, CAX …).

Written here because neither library on PyPI fits (checked 2026-12): `vinorm` 2.0.7 works offline but ships
its own ICU binaries under a "free for non-commercial use" licence, lowercases everything and turns "đồng/hộ"
into "đồng , hộ"; `vietnormalizer` 0.2.3 (MIT) reads "Định Long" as "định lon", "HTX" as "hát tê ích" and
"0912 345 678" as three numbers; `soe-vinorm` downloads its model from Hugging Face at run time.

`normalise` is a pure function: the same text always gives the same words. Vietnamese writes 1.200 for twelve
hundred and 12,5 for twelve and a half; that is what is assumed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from broadcast.content.vi_numbers import (
    MAX_DIGITS,
    read_decimal,
    read_digits,
    read_int,
    read_month,
    read_ordinal,
    roman_value,
)

# Upper-case abbreviations of local government, police, schools and farming, as an announcer says them.
ABBREVIATIONS: dict[str, str] = {
    "UBND": "ủy ban nhân dân",
    "HĐND": "hội đồng nhân dân",
    "MTTQ": "mặt trận tổ quốc",
    "HTX": "hợp tác xã",
    "THCS": "trung học cơ sở",
    "THPT": "trung học phổ thông",
    "CAX": "công an xã",
    "CAH": "công an huyện",
    "CAT": "công an tỉnh",
    "CAND": "công an nhân dân",
    "BCH": "ban chỉ huy",
    "CHQS": "chỉ huy quân sự",
    "DQTV": "dân quân tự vệ",
    "PCCC": "phòng cháy chữa cháy",
    "PCCR": "phòng cháy chữa rừng",
    "PCTT": "phòng chống thiên tai",
    "TKCN": "tìm kiếm cứu nạn",
    "BHYT": "bảo hiểm y tế",
    "BHXH": "bảo hiểm xã hội",
    "CCCD": "căn cước công dân",
    "CMND": "chứng minh nhân dân",
    "SĐT": "số điện thoại",
    "TTYT": "trung tâm y tế",
    "TYT": "trạm y tế",
    "ATGT": "an toàn giao thông",
    "ANTT": "an ninh trật tự",
    "KTXH": "kinh tế xã hội",
    "GPMB": "giải phóng mặt bằng",
    "NTM": "nông thôn mới",
    "NN&PTNT": "nông nghiệp và phát triển nông thôn",
    "TN&MT": "tài nguyên và môi trường",
    "GD&ĐT": "giáo dục và đào tạo",
    "LĐTB&XH": "lao động thương binh và xã hội",
    "BTTTT": "bộ thông tin và truyền thông",
    "QĐ": "quyết định",
    "NĐ": "nghị định",
    "CP": "chính phủ",
    "TW": "trung ương",
    "TP": "thành phố",
    "VN": "việt nam",
    "ĐTN": "đoàn thanh niên",
    "HLHPN": "hội liên hiệp phụ nữ",
    "LHPN": "liên hiệp phụ nữ",
    "HND": "hội nông dân",
    "HCCB": "hội cựu chiến binh",
    "CCB": "cựu chiến binh",
    "CBCC": "cán bộ công chức",
    "KDC": "khu dân cư",
    "TDP": "tổ dân phố",
    "ATTP": "an toàn thực phẩm",
    "VSATTP": "vệ sinh an toàn thực phẩm",
    "DTLCP": "dịch tả lợn châu phi",
    "LMLM": "lở mồm long móng",
    "QL": "quốc lộ",
    "ĐH": "đại học",
    "CĐ": "cao đẳng",
    "VNĐ": "đồng",
    "VND": "đồng",
    "USD": "đô la Mỹ",
    "COVID": "cô vít",
}
# Units written after a number (case matters: "m" is a metre, "M" is not a unit here).
UNITS: dict[str, str] = {
    "mm": "mi li mét",
    "cm": "xen ti mét",
    "m": "mét",
    "km": "ki lô mét",
    "m2": "mét vuông",
    "m²": "mét vuông",
    "km2": "ki lô mét vuông",
    "km²": "ki lô mét vuông",
    "m3": "mét khối",
    "m³": "mét khối",
    "ha": "héc ta",
    "kg": "ki lô gam",
    "g": "gam",
    "mg": "mi li gam",
    "l": "lít",
    "ml": "mi li lít",
    "°C": "độ xê",
    "°": "độ",
    "%": "phần trăm",
    "kW": "ki lô oát",
    "kWh": "ki lô oát giờ",
    "W": "oát",
    "V": "vôn",
    "h": "giờ",
    "s": "giây",
    "đ": "đồng",
    "₫": "đồng",
    "đồng": "đồng",
    "VNĐ": "đồng",
    "VND": "đồng",
    "USD": "đô la Mỹ",
    "$": "đô la",
}
# A unit over one of these is a rate ("trên"); over anything else it is a share ("mỗi": đồng/hộ → đồng mỗi hộ).
CURRENCY = {"đ", "₫", "đồng", "VNĐ", "VND", "USD", "$"}
PER_TIME = {"h": "giờ", "s": "giây", "giờ": "giờ", "giây": "giây", "phút": "phút", "ngày": "ngày"}
LETTERS = {
    "A": "a", "B": "bê", "C": "xê", "D": "dê", "Đ": "đê", "E": "e", "F": "ép", "G": "gờ", "H": "hát", "I": "i",
    "J": "giây", "K": "ca", "L": "lờ", "M": "mờ", "N": "nờ", "O": "ô", "P": "pê", "Q": "quy", "R": "rờ",
    "S": "ét", "T": "tê", "U": "u", "V": "vê", "W": "vê kép", "X": "ích", "Y": "i dài", "Z": "dét",
}  # fmt: skip
ROMAN_AFTER = (
    r"(?:quý|cấp|khóa|khoá|kỳ|đợt|lần|phần|chương|mục|thế kỷ|Quý|Cấp|Khóa|Khoá|Kỳ|Đợt|Lần|Phần|Chương)"
)
DAY_WORDS = r"(?:[Nn]gày|[Tt]ừ|đến|tới|[Ss]áng|[Tt]rưa|[Cc]hiều|[Tt]ối|[Đđ]êm|hôm|[Hh]ạn)"
PHONE_WORDS = r"(?:gọi|điện thoại|hotline|đường dây nóng|số máy|Gọi|Điện thoại|Hotline|Đường dây nóng)"

_W = r"[^\W\d_]"  # a letter, in any script
NUM = r"\d+(?:[.,]\d+)*"
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
_PER_ALT = "|".join(re.escape(u) for u in sorted({*UNITS, *PER_TIME}, key=len, reverse=True))


def number_words(s: str) -> str:
    """A number as written in Vietnamese text (1.200 · 12,5 · 2025 · 0912…) in words."""
    if len(s) > MAX_DIGITS:  # past "tỷ tỷ" nobody reads it as a number (and int() refuses 4,300 digits)
        return " ".join(read_digits(part) for part in re.split(r"[.,]", s) if part)
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?", s):
        whole, _, frac = s.partition(",")
        return read_decimal(whole.replace(".", ""), frac)
    if re.fullmatch(r"\d+[,.]\d+", s):
        whole, frac = re.split(r"[,.]", s)
        return read_decimal(whole, frac)
    if re.fullmatch(r"\d+", s):
        if len(s) >= 3 and s.startswith("0"):
            return read_digits(s)  # a code or a number written with its leading zeros
        return read_int(int(s))
    if s.count(",") > 1 and "." not in s:
        return ", ".join(number_words(p) for p in s.split(","))  # a list: thôn 1,2,3
    # 1.2.3 (a clause number): each part, "chấm" between
    return " chấm ".join(number_words(p) for p in re.split(r"[.,]", s) if p)


def _date(d: str, m: str, y: str | None, said_day: bool) -> str | None:
    day, month = int(d), int(m)
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return None
    out = ("" if said_day else "ngày ") + f"{read_int(day)} tháng {read_month(month)}"
    return out + (f" năm {read_int(int(y))}" if y else "")


def _time(h: str, m: str | None) -> str | None:
    hour, minute = int(h), int(m or 0)
    if hour > 24 or minute > 59:
        return None
    return f"{read_int(hour)} giờ" + (f" {read_int(minute)} phút" if minute else "")


def _sub(pattern: str, fn: Callable[[re.Match[str]], str | None], text: str) -> str:
    """re.sub where the callback may decline (None keeps the match as it was)."""

    def repl(m: re.Match[str]) -> str:
        out = fn(m)
        return m.group(0) if out is None else out

    return re.sub(pattern, repl, text)


def _abbreviations(text: str) -> str:
    alt = "|".join(re.escape(a) for a in sorted(ABBREVIATIONS, key=len, reverse=True))
    text = re.sub(rf"(?<![\w&])({alt})(?![\w&])", lambda m: ABBREVIATIONS[m.group(1)], text)
    return text


def _phones(text: str) -> str:
    # 0912 345 678, 0912.345.678, 02373 851 234, +84 912 345 678: always digit by digit
    phone = r"(?:\+84\s?|0)\d{2,4}(?:[ .]?\d{2,4}){1,3}"
    text = _sub(
        rf"(?<![\d.,])({phone})(?![\d.,]\d)",
        lambda m: _phone_words(m.group(1)) if 9 <= sum(ch.isdigit() for ch in m.group(1)) <= 12 else None,
        text,
    )
    # short service numbers (113, 114, 115, 1900 xxxx) after a word that says they are to be dialled
    return _sub(
        rf"({PHONE_WORDS}:?\s+(?:số\s+)?)(\d[\d .]{{1,12}}\d|\d{{3}})(?![\d,])",
        lambda m: m.group(1) + read_digits(m.group(2)),
        text,
    )


def _phone_words(s: str) -> str:
    return ("cộng " + read_digits(s[1:])) if s.startswith("+") else read_digits(s)


def _dates(text: str) -> str:
    said = r"((?:[Nn]gày)\s+)?"
    # ngày 15-16/8/2025 → ngày mười lăm đến mười sáu tháng tám năm …
    text = _sub(
        rf"{said}(\d{{1,2}})\s*[-–]\s*(\d{{1,2}})/(\d{{1,2}})(?:/(\d{{4}}))?(?![\d/])",
        lambda m: (
            None
            if (d := _date(m.group(3), m.group(4), m.group(5), True)) is None or int(m.group(2)) > 31
            else f"{m.group(1) or 'ngày '}{read_int(int(m.group(2)))} đến {d}"
        ),
        text,
    )
    # 15/8/2025, 15-8-2025, 15.8.2025
    text = _sub(
        rf"{said}(?<![\d/.])(\d{{1,2}})([/.-])(\d{{1,2}})\3(\d{{4}})(?![\d/])",
        lambda m: (
            None
            if (d := _date(m.group(2), m.group(4), m.group(5), m.group(1) is not None)) is None
            else (m.group(1) or "") + d
        ),
        text,
    )
    # tháng 8/2025 and a bare 8/2025
    text = _sub(
        r"(?<![\d/])(?:([Tt]háng)\s+)?(\d{1,2})/(\d{4})(?![\d/])",
        lambda m: (
            None
            if not 1 <= int(m.group(2)) <= 12
            else f"{m.group(1) or 'tháng'} {read_month(int(m.group(2)))} năm {read_int(int(m.group(3)))}"
        ),
        text,
    )
    # 15/8 only after a word that announces a day (a bare 3/2 may be a house number or a fraction)
    text = _sub(
        rf"({DAY_WORDS}\s+)(\d{{1,2}})/(\d{{1,2}})(?![\d/])",
        lambda m: None if (d := _date(m.group(2), m.group(3), None, True)) is None else m.group(1) + d,
        text,
    )
    # any other 19/19, 24/24: "trên"
    return re.sub(r"(?<![\d/.,])(\d+)/(\d+)(?![\d/])", r"\1 trên \2", text)


def _times(text: str) -> str:
    clock = r"(\d{1,2})(?::|\s?(?:h|g|giờ)\s?)(\d{2})(?:\s?(?:'|p\b|phút))?"
    hour = r"(\d{1,2})\s?h(?![\w/])"
    # 05:00–06:00, 7h-9h30: the dash is "đến"
    text = re.sub(r"(\d{1,2}(?:[:hg]\d{2})?h?)\s*[-–]\s*(?=\d{1,2}\s?(?:h|:|g\d|giờ))", r"\1 đến ", text)
    text = _sub(rf"(?<![\d:.,]){clock}(?![\d:])", lambda m: _time(m.group(1), m.group(2)), text)
    return _sub(rf"(?<![\d.,]){hour}", lambda m: _time(m.group(1), None), text)


def _units(text: str) -> str:
    def unit(m: re.Match[str]) -> str:
        words = f"{number_words(m.group(1))} {UNITS[m.group(2)]}"
        per = m.group(3)
        if per:
            share = m.group(2) in CURRENCY or per not in UNITS
            words += f" {'mỗi' if share else 'trên'} {PER_TIME.get(per) or UNITS.get(per, per)}"
        return words

    # 2 lần/tuần, 68,5 tạ/ha, 100 triệu đồng/hộ: "mỗi"
    text = _sub(
        rf"(\d\s(?:{_W}+\s)?)({_W}+)/({_W}+)(?![\w²³])",
        lambda m: (
            None
            if m.group(2) in UNITS and m.group(3) in PER_TIME
            else f"{m.group(1)}{m.group(2)} mỗi {UNITS.get(m.group(3), m.group(3))}"
        ),
        text,
    )
    # "$5" and "5 $"
    text = re.sub(rf"\$\s?({NUM})", lambda m: f"{number_words(m.group(1))} đô la", text)
    return re.sub(
        rf"(?<![\d.,])({NUM})\s?({_UNIT_ALT})(?:/({_PER_ALT}|{_W}+))?(?![\w²³])",
        unit,
        text,
    )


def _money_words(text: str) -> str:
    # 1,5 tỷ đ / 200 triệu đồng: the scale word is read with the number, "đ" becomes "đồng"
    return re.sub(r"(?<=\s)(nghìn|ngàn|triệu|tỷ)\s?(?:đ|₫|VNĐ|VND)(?![\w])", r"\1 đồng", text)


def _ranges(text: str) -> str:
    # 30-40 mm, 3 – 5 ngày: "đến"; a year span 2021-2025 too
    return re.sub(rf"(?<![\d.,/])({NUM})\s?[-–]\s?(?=\d)", r"\1 đến ", text)


def _numbers(text: str) -> str:
    text = _sub(
        rf"({ROMAN_AFTER}\s+)([IVXLC]+)(?![\w])",
        lambda m: None if (v := roman_value(m.group(2))) is None else m.group(1) + read_int(v),
        text,
    )
    text = re.sub(
        r"([Tt]hứ\s+)(\d{1,2})(?![\d.,]\d)", lambda m: m.group(1) + read_ordinal(int(m.group(2))), text
    )
    text = re.sub(
        r"([Tt]háng\s+)(\d{1,2})(?![\d.,]\d)", lambda m: m.group(1) + read_month(int(m.group(2))), text
    )
    return re.sub(rf"(?<![\w]){NUM}(?![\w])|{NUM}", lambda m: number_words(m.group(0)), text)


def _letters(text: str) -> str:
    """Upper-case words: a heading in capitals is read as words; an unknown acronym in a sentence is spelled."""
    lines = []
    for line in text.split("\n"):
        letters = [ch for ch in line if ch.isalpha()]
        upper = sum(ch.isupper() for ch in letters)
        if len(line.split()) >= 2 and letters and upper / len(letters) > 0.6:
            lines.append(line.lower())
            continue
        lines.append(
            re.sub(
                r"(?<!\w)([A-ZĐ]{2,5})(?!\w)",
                lambda m: " ".join(LETTERS.get(ch, ch) for ch in m.group(1)),
                line,
            )
        )
    return "\n".join(lines)


def _symbols(text: str) -> str:
    text = text.replace("&", " và ").replace("№", "số ")
    text = re.sub(r"(?<=\d)\s?\+\s?(?=\d)", " cộng ", text)
    text = re.sub(r"\s[-–—]\s", ", ", text)  # a dash between words is a pause
    text = re.sub(r"(?<=\w)/(?=\w)", " ", text)
    text = re.sub(r"(?<=\w)-(?=\w)", " ", text)  # COVID-19, KT-XH
    text = re.sub(r"[*•#_~^|<>{}\[\]]", " ", text)
    return text


def normalise(text: str) -> str:
    """Text as a Vietnamese announcer would read it aloud; what is already words is left as it was."""
    text = _abbreviations(text)
    text = _phones(text)
    text = _dates(text)
    text = _times(text)
    text = _money_words(text)
    text = _ranges(text)
    text = _units(text)
    text = _numbers(text)
    text = _letters(text)
    text = _symbols(text)
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r" ([,.;:!?])", r"\1", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()
