"""InfluxDB in and out of a backup set: `influxd backup -portable` / `influxd restore -portable` for 1.x, over
its RPC port (8088 unless told, on the host of `influx.url`). InfluxDB 2.x/3.x keeps its own tokens and
tooling (`influx backup`, which needs the operator token): the set then says so and holds no metrics."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from urllib.error import URLError

from hub.core.config import InfluxConfig
from hub.maintenance.manifest import InfluxPart

FOLDER = "influx"
RPC_PORT = 8088
TIMEOUT_S = 3600.0


class InfluxFailed(Exception):
    pass


def rpc_address(cfg: InfluxConfig, override: str | None) -> str:
    if override:
        return override
    host = urllib.parse.urlsplit(cfg.url).hostname or "127.0.0.1"
    return f"{host}:{RPC_PORT}"


def why_not(cfg: InfluxConfig) -> str | None:
    """Why this config's metrics cannot go into a set, or None when they can."""
    if not cfg.enabled:
        return "InfluxDB tắt (influx.enabled: false): không có số liệu để sao lưu"
    if cfg.api != "v1":
        return (
            "InfluxDB 2.x/3.x (influx.api: v2): sao lưu riêng bằng `influx backup` với token quản trị "
            "(docs/OPERATIONS.md); bộ sao lưu này không có số liệu"
        )
    return None


def _influxd(args: list[str], what: str) -> None:
    binary = shutil.which("influxd")
    if binary is None:
        raise InfluxFailed("không tìm thấy influxd (gói Debian influxdb); dùng --no-influx để bỏ qua số liệu")
    try:
        done = subprocess.run([binary, *args], capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise InfluxFailed(f"{what}: quá {TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        out = (done.stderr or done.stdout).strip()[-2000:]
        raise InfluxFailed(f"{what} thất bại (mã {done.returncode}): {out}")


def backup(cfg: InfluxConfig, folder: Path, rpc: str | None) -> InfluxPart:
    reason = why_not(cfg)
    if reason is not None:
        return InfluxPart(saved=False, note=reason)
    address = rpc_address(cfg, rpc)
    _influxd(
        ["backup", "-portable", "-host", address, "-database", cfg.database, str(folder / FOLDER)],
        f"influxd backup ({address})",
    )
    return InfluxPart(
        saved=True, note=f"influxd backup -portable từ {address}", database=cfg.database, folder=FOLDER
    )


def _query(cfg: InfluxConfig, q: str, db: str | None = None) -> list[list[object]]:
    """The values of the first result's series, all together."""
    params = {"q": q, **({"db": db} if db else {})}
    if cfg.username:
        params |= {"u": cfg.username, "p": cfg.password or ""}
    req = urllib.request.Request(
        cfg.url.rstrip("/") + "/query", data=urllib.parse.urlencode(params).encode(), method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=cfg.timeout_s) as r:
            body = json.loads(r.read())
    except (URLError, OSError, ValueError) as exc:
        raise InfluxFailed(f"không hỏi được InfluxDB ở {cfg.url}: {exc}") from None
    result = (body.get("results") or [{}])[0]
    if "error" in result:
        raise InfluxFailed(f"InfluxDB trả lời lỗi cho {q!r}: {result['error']}")
    return [list(row) for s in result.get("series") or [] for row in s.get("values") or []]


def database_state(cfg: InfluxConfig) -> str:
    """absent, empty (created by a hub start, nothing written) or data."""
    if [cfg.database] not in _query(cfg, "SHOW DATABASES"):
        return "absent"
    return "data" if _query(cfg, "SHOW MEASUREMENTS LIMIT 1", db=cfg.database) else "empty"


def restore(cfg: InfluxConfig, set_dir: Path, part: InfluxPart, rpc: str | None, replace: bool) -> str:
    """Loads the set's metrics into the configured database (dropped first when `replace`). Returns a note."""
    if not part.saved or part.folder is None or part.database is None:
        return f"không có số liệu InfluxDB trong bộ sao lưu ({part.note})"
    reason = why_not(cfg)
    if reason is not None:
        return f"bỏ qua số liệu InfluxDB: {reason}"
    if replace:
        _query(cfg, f'DROP DATABASE "{cfg.database}"')
    address = rpc_address(cfg, rpc)
    args = ["restore", "-portable", "-host", address, "-db", part.database]
    if cfg.database != part.database:
        args += ["-newdb", cfg.database]
    _influxd([*args, str(set_dir / part.folder)], f"influxd restore ({address})")
    return f"số liệu InfluxDB đã khôi phục vào {cfg.database!r} qua {address}"
