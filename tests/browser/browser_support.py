"""The Chromium the browser tests drive (Debian's /usr/bin/chromium through Playwright, headless; the fixtures
are in conftest.py) and the folder their screenshots go to."""

from __future__ import annotations

from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
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
