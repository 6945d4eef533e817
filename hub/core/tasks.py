"""Long-running asyncio tasks that must survive their own bugs: one restart guard for the hub and its features."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def guarded(
    name: str,
    fn: Callable[[], Awaitable[None]],
    on_error: Callable[[str, Exception], None],
    restart_s: float,
) -> None:
    """Runs `fn` until it returns. An unexpected error goes to `on_error(name, exc)` (called inside the `except`,
    so `log.exception` there keeps the traceback) and `fn` starts again after `restart_s`; cancellation passes."""
    while True:
        try:
            await fn()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            on_error(name, exc)
            await asyncio.sleep(restart_s)
