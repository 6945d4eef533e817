"""CSV exports that a spreadsheet opens as data, never as formulas.

A cell starting with = + - @ (or a tab or carriage return, which some spreadsheets skip before reading one of
those) would run as a formula when the file is opened (CSV injection): a camera or speaker name chosen by a
stolen box, or a programme title, could then fetch a URL or run a command. Every text cell of every export
goes through `safe_cell`, which puts an apostrophe before such a value (OWASP's advice).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_TRIGGERS):
        return "'" + value
    return value


def csv_bytes(rows: Iterable[Iterable[Any]]) -> bytes:
    """UTF-8 with BOM (Excel reads the Vietnamese), CRLF, every cell escaped."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf, lineterminator="\r\n")
    for row in rows:
        w.writerow([safe_cell(v) for v in row])
    return buf.getvalue().encode("utf-8")
