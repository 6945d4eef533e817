"""The parent side of the ingest bench (bench/ingest.py, bench/ingest_cluster.py): its child processes (the
bench file run with `--role`), the hub child and its stats lines, and what is counted back from InfluxDB and
polled from the hub's SQL; the hub child's CPU per thread."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INGEST_BENCH = ROOT / "bench" / "ingest.py"  # runs the child roles


def child(role: str, *extra: str) -> subprocess.Popen[str]:
    from devtools.lifeline import die_with_parent

    return subprocess.Popen(
        [sys.executable, str(INGEST_BENCH), "--role", role, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if role != "hub" else None,
        text=True,
        cwd=ROOT,
        preexec_fn=die_with_parent(),
    )


def last_json(p: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    out, _ = p.communicate(timeout=timeout)
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    return dict(json.loads(lines[-1])) if lines else {}


class HubProcess:
    """The hub child; a reader thread keeps its stats lines (one every 0.1 s)."""

    def __init__(self, config: dict[str, Any], wait: bool = True) -> None:
        self.proc = child("hub", "--config", json.dumps(config))
        self.lines: list[dict[str, Any]] = []
        self.started = threading.Event()
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()
        if wait:
            self.wait_started()

    def wait_started(self) -> None:
        if not self.started.wait(120):  # a hub loading 20,000 cameras on a loaded machine
            raise RuntimeError("hub child did not start")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for ln in self.proc.stdout:
            if not ln.startswith("{"):
                continue
            d = json.loads(ln)
            if d.get("event") == "started":
                self.started.set()
            self.lines.append(d)

    def latest(self) -> dict[str, Any]:
        return self.lines[-1] if self.lines else {}

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> dict[str, Any]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._t.join(5)
        return self.latest()


def wait(cond: Any, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return False


def influx_count(port: int, db: str) -> int:
    """Points counted back from InfluxDB; -1 when the query fails (influxd busy on a loaded machine)."""
    from devtools.services import influx_query

    try:
        res: Any = influx_query(port, db, "SELECT count(problem_count) FROM camera_health")
    except (OSError, ValueError):
        return -1
    series = res["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def measure_lag(db_path: Path, since: float, expected: int, until: float) -> list[float]:
    """Polls the hub's database like the API would; lag = first seen in SQL − ts (= publish time)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    seen: dict[str, float] = {}
    watermark = datetime.fromtimestamp(since, UTC).replace(tzinfo=None).isoformat(" ")
    while time.time() < until and len(seen) < expected:
        rows = conn.execute("SELECT key, last_ts FROM cameras WHERE last_ts >= ?", (watermark,)).fetchall()
        now = time.time()
        newest = watermark
        for key, last_ts in rows:
            if key not in seen:
                ts = datetime.fromisoformat(last_ts).replace(tzinfo=UTC).timestamp()
                seen[key] = now - ts
            newest = max(newest, last_ts)
        # Rows are committed at most one flush apart: keep a 3 s window behind the newest seen.
        if rows:
            cutoff = datetime.fromisoformat(newest).replace(tzinfo=UTC).timestamp() - 3
            watermark = max(
                watermark, datetime.fromtimestamp(cutoff, UTC).replace(tzinfo=None).isoformat(" ")
            )
        time.sleep(0.05)
    conn.close()
    return list(seen.values())


def threads_cpu() -> dict[str, float]:
    """CPU seconds per thread of this process (network thread, event loop, SQL thread…)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for t in threading.enumerate():
        try:
            f = Path(f"/proc/self/task/{t.native_id}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[t.name] = round((int(f[11]) + int(f[12])) / tick, 2)
    return out
