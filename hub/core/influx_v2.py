"""InfluxDB 2.x/3.x writes through influxdb_client's WriteApi in SYNCHRONOUS mode, run in a thread.

SYNCHRONOUS, not the client's batching mode: batching only logs failed writes and loses the points, while
here every result is checked and the buffering/retry policy stays in hub/core/influx.py, the same as for v1.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

from hub.core.config import InfluxConfig
from hub.core.influx_send import InfluxRejected, InfluxUnavailable
from hub.core.lineproto import PRECISION


class V2Sender:
    name = "v2"

    def __init__(self, cfg: InfluxConfig) -> None:
        from influxdb_client import InfluxDBClient, WritePrecision
        from influxdb_client.client.write_api import SYNCHRONOUS

        self._cfg = cfg
        # InfluxConfig refuses api v2 without these; the checks only narrow the types.
        token = cfg.write_token()
        if not (token and cfg.org and cfg.bucket):
            raise ValueError("influx api v2 needs token, org and bucket")
        self._bucket, self._org = cfg.bucket, cfg.org
        self._precision: Any = WritePrecision.MS  # a str constant; its annotation says otherwise
        assert PRECISION == "ms"
        self._client = InfluxDBClient(
            url=cfg.url, token=token, org=cfg.org, timeout=int(cfg.timeout_s * 1000), retries=False
        )
        self._api = self._client.write_api(write_options=SYNCHRONOUS)
        # One thread: writes stay ordered and never hold up the SQL thread or the default executor.
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="influx-v2")

    async def prepare(self) -> None:
        """Buckets are made by whoever runs InfluxDB 2.x (docker-compose.yml); a missing one shows up as a
        404 on write and is retried, never dropped."""

    def _write(self, body: bytes) -> None:
        self._api.write(bucket=self._bucket, org=self._org, record=body, write_precision=self._precision)

    async def send(self, body: bytes) -> None:
        from influxdb_client.rest import ApiException

        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._pool, self._write, body)
        except ApiException as exc:
            status = int(exc.status or 0)
            text = _body_text(exc)
            if status in (400, 413, 422):
                raise InfluxRejected(status, text) from exc
            raise InfluxUnavailable(f"HTTP {status} from {self._cfg.url}: {text[:300]}") from exc
        except Exception as exc:  # urllib3 connection errors and timeouts have no common base worth naming
            raise InfluxUnavailable(f"{self._cfg.url} unreachable: {exc!r}") from exc

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._pool, self._client.close)
        self._pool.shutdown(wait=False)


def _body_text(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")[:2000]
    return str(body or exc.reason or "")[:2000]
