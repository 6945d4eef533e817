"""The Chromium the browser tests drive: Debian's /usr/bin/chromium through Playwright, headless, and the folder
their screenshots go to. A test module that records sound overrides `chromium_args` with `MEDIA_ARGS` added."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--headless=new",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
MEDIA_ARGS = [
    "--use-fake-device-for-media-stream",  # a beeping microphone for the recording page
    "--use-fake-ui-for-media-stream",  # and its permission prompt answered yes
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture
def chromium_args() -> list[str]:
    return CHROMIUM_ARGS


@pytest.fixture
async def browser(chromium_args: list[str]) -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=chromium_args)
        yield b
        await b.close()
