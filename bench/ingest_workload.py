"""The fleet the ingest bench simulates (bench/ingest.py, bench/ingest_cluster.py): 20,000 cameras behind
1,000 edge boxes in 4 districts × 25 communes, their topics and a realistic health payload."""

from __future__ import annotations

CAMERAS = 20_000
PER_CAMERA = 5
AGENTS = 1_000
PER_AGENT = (
    CAMERAS // AGENTS
)  # cameras of one agent: all in its commune (the hub refuses a box's camera elsewhere)
DISTRICTS = 4
COMMUNES = 25  # per district


def agent_of(i: int) -> int:
    """Camera i's box: cameras i, i+1000, i+2000 … share one (the same district and commune, as camera_topic)."""
    return i % AGENTS


def slot_of(i: int) -> int:
    """Camera i's place among its box's cameras (its seq numbers follow the box's)."""
    return i // AGENTS


def camera_topic(i: int) -> str:
    d, c = i % DISTRICTS, (i // DISTRICTS) % COMMUNES
    return f"ops/v1/d{d}/c{d}-{c}/camera/cam{i:05d}/health"


def health_payload(i: int, seq: int, ts: float) -> bytes:
    # Realistic size and fields (~260 bytes), one problem every 7th camera.
    problems = '["frozen"]' if i % 7 == 0 else "[]"
    return (
        f'{{"ts":{ts:.3f},"seq":{seq},"online":true,"agent":"box{agent_of(i):04d}","boot":"b1",'
        f'"problems":{problems},"fps":14.8,"expected_fps":15,"width":640,"height":360,"open_ms":812.0,'
        f'"probe_ms":2140.0,"brightness":96.1,"contrast":41.7,"sharpness":311.2,"motion":1.5}}'
    ).encode()
