"""Vietnamese words for numbers, as an announcer reads them: 2025 → "hai nghìn không trăm hai mươi lăm".

Written here rather than taken from num2words, whose Vietnamese reads 2025 as "hai nghìn lẻ hai mươi lăm" and
12,5 as "mười hai phẩy năm mươi" (checked with num2words 0.5.14); the rules are short and fully tested.
"""

from __future__ import annotations

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
# Each step of three digits; past "tỷ" Vietnamese repeats: nghìn tỷ, triệu tỷ.
SCALES = ("", "nghìn", "triệu", "tỷ", "nghìn tỷ", "triệu tỷ", "tỷ tỷ")
MAX_DIGITS = 3 * len(SCALES)


def _two(n: int, after_hundreds: bool) -> list[str]:
    """0–99; `after_hundreds` says a hundreds word precedes (then 5 → "lẻ năm" and 0 is silent)."""
    tens, unit = divmod(n, 10)
    if tens == 0:
        if unit == 0:
            return []
        return ["lẻ", DIGITS[unit]] if after_hundreds else [DIGITS[unit]]
    words = ["mười"] if tens == 1 else [DIGITS[tens], "mươi"]
    if unit == 1 and tens > 1:
        words.append("mốt")
    elif unit == 4 and tens > 1:
        words.append("tư")
    elif unit == 5:
        words.append("lăm")
    elif unit:
        words.append(DIGITS[unit])
    return words


def _three(n: int, full: bool) -> list[str]:
    """0–999; `full` reads a leading zero hundreds ("không trăm") as inside a larger number."""
    hundreds, rest = divmod(n, 100)
    if hundreds == 0 and not full:
        return _two(rest, after_hundreds=False)
    return [DIGITS[hundreds], "trăm", *_two(rest, after_hundreds=True)]


def read_int(n: int) -> str:
    """A whole number in words; negative numbers get "âm"."""
    if n < 0:
        return "âm " + read_int(-n)
    if n == 0:
        return DIGITS[0]
    if len(str(n)) > MAX_DIGITS:
        return read_digits(str(n))
    groups: list[int] = []
    while n:
        n, g = divmod(n, 1000)
        groups.append(g)
    words: list[str] = []
    top = len(groups) - 1
    for i in range(top, -1, -1):
        g = groups[i]
        if g == 0:
            continue
        words += _three(g, full=i != top)
        if SCALES[i]:
            words.append(SCALES[i])
    return " ".join(words)


def read_digits(digits: str) -> str:
    """Digit by digit (telephone numbers, codes): "0912" → "không chín một hai"."""
    return " ".join(DIGITS[int(d)] for d in digits if d.isdigit())


def read_decimal(whole: str, fraction: str) -> str:
    """12,5 → "mười hai phẩy năm"; 0,05 → "không phẩy không năm" (leading zeros of the fraction are read)."""
    head = read_int(int(whole)) if len(whole) <= MAX_DIGITS else read_digits(whole)
    if not fraction:
        return head
    zeros = len(fraction) - len(fraction.lstrip("0"))
    rest = fraction.lstrip("0")
    tail = [DIGITS[0]] * zeros
    if rest:
        tail.append(read_int(int(rest)) if len(rest) <= 3 else read_digits(rest))
    return f"{head} phẩy {' '.join(tail)}"


def read_ordinal(n: int) -> str:
    """After "thứ": 1 → "nhất", 4 → "tư", else the number."""
    return {1: "nhất", 4: "tư"}.get(n, read_int(n))


def read_month(n: int) -> str:
    """After "tháng": 4 → "tư" (tháng tư), else the number."""
    return "tư" if n == 4 else read_int(n)


ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}


def roman_value(s: str) -> int | None:
    """I–XXXIX-style numerals used for quarters, grades and rounds; None when `s` is not a canonical numeral."""
    if not s or any(ch not in ROMAN for ch in s):
        return None
    total = 0
    for i, ch in enumerate(s):
        v = ROMAN[ch]
        total += -v if i + 1 < len(s) and ROMAN[s[i + 1]] > v else v
    return total if 0 < total < 100 and to_roman(total) == s else None


def to_roman(n: int) -> str:
    out = []
    for value, sym in (
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ):
        while n >= value:
            out.append(sym)
            n -= value
    return "".join(out)
