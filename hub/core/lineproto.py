"""InfluxDB line protocol, written by hand because it is on the ingest hot path.

influxdb_client's `Point` builds the same text (tests compare both) at several times the cost per point; here the
tag part of a camera's line is built once and reused. Timestamps are integer milliseconds (`precision=ms`).
"""

from __future__ import annotations

from collections.abc import Mapping

FieldValue = bool | int | float | str

PRECISION = "ms"

_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": " ", "\r": " "})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "\n": " ", "\r": " "})


def escape_tag(value: str) -> str:
    """Escapes a tag key, tag value or field key. Line breaks cannot be represented and become spaces."""
    # Backslashes stay as they are: InfluxDB reads `\` before anything but , = and space literally.
    return value.translate(_TAG_ESCAPES)


def escape_measurement(value: str) -> str:
    return value.translate(_MEASUREMENT_ESCAPES)


def quote_string(value: str) -> str:
    """A string field value. Line breaks would end the line early in InfluxDB 1.x: they become spaces."""
    v = value.replace("\\", "\\\\").replace('"', '\\"')
    if "\n" in v or "\r" in v:
        v = v.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return f'"{v}"'


def format_value(value: FieldValue) -> str:
    # bool before int: bool is a subclass of int.
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    return quote_string(value)


def series_key(measurement: str, tags: Mapping[str, str | None]) -> str:
    """`measurement,k=v,...` with tags sorted by key (InfluxDB's own order, cheapest to index); empty tags
    are left out because line protocol cannot hold an empty tag value."""
    parts = [escape_measurement(measurement)]
    for k in sorted(tags):
        v = tags[k]
        if v:
            parts.append(f"{escape_tag(k)}={escape_tag(v)}")
    return ",".join(parts)


def format_fields(fields: Mapping[str, FieldValue | None]) -> str:
    return ",".join(f"{escape_tag(k)}={format_value(v)}" for k, v in fields.items() if v is not None)


def line(series: str, fields: Mapping[str, FieldValue | None], ts_ms: int) -> str:
    """One point; raises ValueError when no field has a value (line protocol needs at least one)."""
    body = format_fields(fields)
    if not body:
        raise ValueError(f"point {series!r} has no field values")
    return f"{series} {body} {ts_ms}"


def ts_ms(ts: float) -> int:
    return int(round(ts * 1000))
