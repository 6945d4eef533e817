"""Browser tests: real Chromium through Playwright (all marked `browser`). The `browser` fixture launches it; a
test module that records sound overrides `chromium_args` with `MEDIA_ARGS` added."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

from tests.browser.browser_support import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture
def chromium_args() -> list[str]:
    return CHROMIUM_ARGS


@pytest.fixture
async def browser(chromium_args: list[str]) -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=chromium_args)
        yield b
        await b.close()
