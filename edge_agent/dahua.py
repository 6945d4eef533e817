"""Dahua HTTP API (CGI, also Amcrest and other Dahua-made recorders): the reads that say how footage is kept.

Answers are `key=value` lines (`list.info[0].State=Success`), with HTTP Digest authentication:

| read | what we take |
|---|---|
| `GET /cgi-bin/storageDevice.cgi?action=getDeviceAllInfo` | each `list.info[n]`: `Name`, `State` (Success → ok, Error → failed …), and over its `Detail[m]` partitions `TotalBytes`, `UsedBytes`, `IsError` |
| `GET /cgi-bin/configManager.cgi?action=getConfig&name=RecordMode` | `table.RecordMode[c].Mode` per channel (0-based): 0 schedule, 1 manual, 2 stopped → `enabled` |
| `GET /cgi-bin/mediaFileFind.cgi?action=factory.create`, `findFile`, `findNextFile&count=1`, `close`, `destroy` | per watched channel (1-based), files from 2000 to now: the first item's `StartTime` (local time of the recorder) |

The CGI tells whether recording is configured, not whether the recorder is writing this second: `recording` stays
unknown (ISAPI's `workingstatus` says it); a stopped RecordMode counts as not recording.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from contract import RecorderDisk
from contract.recorder_payloads import DiskState

STORAGE = "/cgi-bin/storageDevice.cgi?action=getDeviceAllInfo"
RECORD_MODE = "/cgi-bin/configManager.cgi?action=getConfig&name=RecordMode"
FIND = "/cgi-bin/mediaFileFind.cgi"
_LINE = re.compile(r"^\s*([^=\s][^=]*?)\s*=\s*(.*?)\s*$")
_INFO = re.compile(r"^list\.info\[(\d+)\]\.(.+)$")
_DETAIL = re.compile(r"^Detail\[(\d+)\]\.(\w+)$")
_MODE = re.compile(r"^table\.RecordMode\[(\d+)\]\.Mode$")
MB = 1024 * 1024


class DahuaError(ValueError):
    """An answer that is not what the Dahua CGI sends."""


def parse_lines(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def _state(word: str, any_error: bool) -> DiskState:
    w = word.strip().lower()
    if w in ("error", "fault", "abnormal") or any_error:
        return "failed"
    if w in ("success", "normal", "ok", "running", "sleeping"):
        return "ok"
    if w in ("unformatted", "noformat"):
        return "unformatted"
    return "other"


def parse_storage(text: str) -> list[RecorderDisk]:
    disks: dict[int, dict[str, str]] = {}
    parts: dict[int, dict[int, dict[str, str]]] = {}
    for key, value in parse_lines(text).items():
        m = _INFO.match(key)
        if not m:
            continue
        n, rest = int(m.group(1)), m.group(2)
        d = _DETAIL.match(rest)
        if d:
            parts.setdefault(n, {}).setdefault(int(d.group(1)), {})[d.group(2)] = value
        else:
            disks.setdefault(n, {})[rest] = value
    if not disks and not parts and "list" not in text:
        raise DahuaError("no list.info[…] lines in the storage answer")
    out = []
    for n in sorted(set(disks) | set(parts)):
        info, details = disks.get(n, {}), parts.get(n, {}).values()
        total = sum(float(p.get("TotalBytes", 0) or 0) for p in details)
        used = sum(float(p.get("UsedBytes", 0) or 0) for p in details)
        error = any(p.get("IsError", "false").lower() == "true" for p in details)
        raw = info.get("State", "")
        out.append(
            RecorderDisk(
                id=(info.get("Name") or str(n + 1))[:32],
                state=_state(raw, error),
                raw=raw[:64] or None,
                capacity_mb=round(total / MB, 1) if details else None,
                free_mb=round((total - used) / MB, 1) if details else None,
            )
        )
    return out


def parse_record_mode(text: str) -> dict[int, bool]:
    """1-based channel → recording configured (Mode 0 schedule or 1 manual; 2 is stopped)."""
    out = {}
    for key, value in parse_lines(text).items():
        m = _MODE.match(key)
        if m:
            out[int(m.group(1)) + 1] = value.strip() != "2"
    return out


def local_time(ts: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M:%S")


def parse_object(text: str) -> str:
    found = parse_lines(text).get("result")
    if not found or not found.isdigit():
        raise DahuaError(f"factory.create gave no object id: {text[:80]!r}")
    return found


def parse_first_start(text: str, tz: ZoneInfo) -> float | None:
    lines = parse_lines(text)
    if lines.get("found", "0").strip() in ("0", ""):
        return None
    start = lines.get("items[0].StartTime")
    if not start:
        return None
    try:
        return datetime.strptime(start.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz).timestamp()
    except ValueError as exc:
        raise DahuaError(f"bad StartTime {start!r}") from exc
