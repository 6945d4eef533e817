"""Hikvision ISAPI: the few documents that say how a recorder (NVR/DVR) keeps footage, read and parsed.

Four reads per look, all with HTTP Digest authentication (what Hikvision firmware requires by default):

| read | what we take |
|---|---|
| `GET /ISAPI/ContentMgmt/Storage` | each `hddList/hdd`: id, `status`, `capacity` and `freeSpace` (MB) |
| `GET /ISAPI/ContentMgmt/record/tracks` | each main-stream `Track` (id `<channel>01`): `Channel`, `Enable` |
| `GET /ISAPI/System/workingstatus` | each `ChanStatus`: `chanNo`, `record` (1 = writing now) |
| `POST /ISAPI/ContentMgmt/search` | per watched channel, a `CMSearchDescription` over all time, one result: the oldest
  `searchMatchItem/timeSpan/startTime` |

The parsers are pure functions over the XML text (namespaces ignored: firmware uses hikvision.com, std-cgi.com
or isapi.org ones). XML from the LAN is parsed with defusedxml (no entity expansion, no external entities).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from xml.etree.ElementTree import Element
from zoneinfo import ZoneInfo

from defusedxml.ElementTree import fromstring

from contract import RecorderDisk
from contract.recorder_payloads import DiskState

STORAGE = "/ISAPI/ContentMgmt/Storage"
TRACKS = "/ISAPI/ContentMgmt/record/tracks"
WORKING_STATUS = "/ISAPI/System/workingstatus"
SEARCH = "/ISAPI/ContentMgmt/search"

_OK = {"ok", "idle", "sleeping", "sleep"}
_FAILED = {"error", "abnormal", "offline", "smartfailed", "mismatch", "damaged", "exception", "nodisk"}
_STATES: dict[str, DiskState] = {
    "unformatted": "unformatted",
    "formating": "formatting",
    "formatting": "formatting",
}


class IsapiError(ValueError):
    """A document that is not what ISAPI sends (bad XML, missing element)."""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse(text: str | bytes, root: str) -> Element:
    try:
        el = fromstring(text)
    except Exception as exc:  # defusedxml raises ParseError or its own refusals (entities, DTDs)
        raise IsapiError(f"not an ISAPI XML document: {exc}") from exc
    if _local(el.tag) != root:
        raise IsapiError(f"expected <{root}>, got <{_local(el.tag)}>")
    return el


def _children(el: Element, name: str) -> list[Element]:
    return [c for c in el.iter() if _local(c.tag) == name]


def _text(el: Element, name: str) -> str | None:
    for c in el:
        if _local(c.tag) == name:
            return (c.text or "").strip()
    return None


def _num(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def disk_state(word: str) -> DiskState:
    w = word.strip().lower()
    if w in _OK:
        return "ok"
    if w in _FAILED:
        return "failed"
    if w == "notexist":
        return "missing"
    return _STATES.get(w, "other")


def parse_storage(text: str | bytes) -> list[RecorderDisk]:
    root = _parse(text, "storage")
    disks: list[RecorderDisk] = []
    for hdd in _children(root, "hdd"):
        raw = _text(hdd, "status") or ""
        disks.append(
            RecorderDisk(
                id=(_text(hdd, "id") or str(len(disks) + 1))[:32],
                state=disk_state(raw),
                raw=raw[:64] or None,
                capacity_mb=_num(_text(hdd, "capacity")),
                free_mb=_num(_text(hdd, "freeSpace")),
            )
        )
    return disks


def parse_tracks(text: str | bytes) -> dict[int, bool]:
    """Main-stream tracks (id `<channel>01`) by channel: whether recording is enabled."""
    root = _parse(text, "TrackList")
    out: dict[int, bool] = {}
    for track in _children(root, "Track"):
        tid = _num(_text(track, "id"))
        if tid is None or int(tid) % 100 != 1:
            continue  # sub-streams (102) and picture tracks (103) do not decide whether footage is kept
        ch = _num(_text(track, "Channel")) or int(tid) // 100
        out[int(ch)] = (_text(track, "Enable") or "").lower() == "true"
    return out


def parse_working_status(text: str | bytes) -> dict[int, bool]:
    """Channels by number: whether the recorder is writing them now (`record` 1)."""
    root = _parse(text, "WorkingStatus")
    out: dict[int, bool] = {}
    for chan in _children(root, "ChanStatus"):
        no = _num(_text(chan, "chanNo"))
        if no is not None:
            out[int(no)] = _text(chan, "record") == "1"
    return out


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def search_body(channel: int, until: float, search_id: str | None = None) -> str:
    """The search for a channel's oldest recording: the whole past, one result (results come oldest first)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<CMSearchDescription version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">'
        f"<searchID>{search_id or str(uuid.uuid4()).upper()}</searchID>"
        f"<trackList><trackID>{channel * 100 + 1}</trackID></trackList>"
        "<timeSpanList><timeSpan><startTime>2000-01-01T00:00:00Z</startTime>"
        f"<endTime>{iso(until)}</endTime></timeSpan></timeSpanList>"
        "<maxResults>1</maxResults><searchResultPostion>0</searchResultPostion>"
        "<metadataList><metadataDescriptor>//recordType.meta.std-cgi.com</metadataDescriptor></metadataList>"
        "</CMSearchDescription>"
    )


def parse_time(value: str, tz: ZoneInfo) -> float:
    """ISAPI times: `2024-05-01T08:00:00Z`, with an offset, or (older firmware) naive in the recorder's zone."""
    v = value.strip()
    if v.endswith("Z"):
        v = v[:-1] + "+00:00"
    dt = datetime.fromisoformat(v)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt.timestamp()


def parse_search(text: str | bytes, tz: ZoneInfo) -> float | None:
    """Start of the first match (epoch s), or None when the channel has no recording."""
    root = _parse(text, "CMSearchResult")
    for item in _children(root, "searchMatchItem"):
        for span in _children(item, "timeSpan"):
            start = _text(span, "startTime")
            if start:
                try:
                    return parse_time(start, tz)
                except ValueError as exc:
                    raise IsapiError(f"bad startTime {start!r}") from exc
    return None


def parse_error(text: str | bytes) -> str | None:
    """`statusString` (and `subStatusCode`) of an ISAPI ResponseStatus, when the body is one."""
    try:
        root = _parse(text, "ResponseStatus")
    except IsapiError:
        return None
    status, sub = _text(root, "statusString"), _text(root, "subStatusCode")
    return f"{status} ({sub})" if sub else status
