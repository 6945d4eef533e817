"""Helpers for the role journeys (tests/browser/test_browser_journeys.py; no tests here): a real Hub with its web app on a
free loopback port (what `python -m hub run` serves), users of each role, and Chromium contexts signed in as them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect
from pydantic import TypeAdapter

from devtools.services import free_port
from hub.compose import Hub, HubConfig, create_app
from hub.core import auth
from tests.browser.browser_support import ARTIFACTS
from tests.fixtures_hub import make_hub_config
from tests.fixtures_web import PASSWORD

PHONE: ViewportSize = {"width": 360, "height": 780}
COMMAND_ROOM: ViewportSize = {"width": 1920, "height": 1080}


def journey_config(tmp_path: Path, mqtt_port: int, **sections: Any) -> HubConfig:
    """The test hub's settings (no InfluxDB) with the web app on a free port and `sections` validated on top."""
    base = make_hub_config(tmp_path, mqtt_port, None)
    port = free_port()
    base.http.port, base.http.public_url = port, f"http://127.0.0.1:{port}"
    update: dict[str, Any] = {}
    for name, value in sections.items():
        annotation: Any = HubConfig.model_fields[name].annotation
        update[name] = TypeAdapter(annotation).validate_python(value)
    return base.model_copy(update=update)


@asynccontextmanager
async def running_hub_app(config: HubConfig) -> AsyncIterator[tuple[Hub, web.Application]]:
    """The hub runtime and its web app on config.http, as hub.web.server.serve starts them."""
    hub = Hub(config)
    await hub.start()
    app = create_app(config, hub.db, hub.events, hub.stats.snapshot, hub=hub)
    runner = web.AppRunner(app)
    try:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", config.http.port).start()
        yield hub, app
    finally:
        await runner.cleanup()
        await hub.stop()


@asynccontextmanager
async def running_hub(config: HubConfig) -> AsyncIterator[Hub]:
    async with running_hub_app(config) as (hub, _app):
        yield hub


def add_user(
    hub: Hub, password_hash: str, username: str, role: str, district: str | None, commune: str | None = None
) -> None:
    with hub.db.session() as s, s.begin():
        auth.add_user(
            s, username, password_hash, role, district=district, commune=commune, full_name=None,
            now=datetime.now(UTC).replace(tzinfo=None),
        )  # fmt: skip


class PageErrors:
    """JavaScript errors of the pages it watches; a journey ends by asserting there were none."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Page) -> Page:
        page.on("pageerror", lambda e: self.errors.append(f"{page.url}: {e}"))
        return page


async def signed_in(
    browser: Browser, base: str, username: str, path: str, viewport: ViewportSize, **ctx_args: Any
) -> tuple[BrowserContext, Page]:
    """A fresh browser context that opens `path`, is sent to the login form and signs in there."""
    ctx = await browser.new_context(viewport=viewport, locale="vi-VN", **ctx_args)
    page = await ctx.new_page()
    await page.goto(base + path)
    await expect(page.locator("#username")).to_be_visible()
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(base + path)
    return ctx, page


async def phone_copy(browser: Browser, ctx: BrowserContext) -> BrowserContext:
    """A 360 px phone context carrying the same session as `ctx` (one person, two screens)."""
    phone = await browser.new_context(viewport=PHONE, locale="vi-VN", is_mobile=True, has_touch=True)
    await phone.add_cookies(await ctx.cookies())  # type: ignore[arg-type]
    return phone


async def shot(page: Page, name: str, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"journey-{name}.png"), full_page=full_page)


async def no_sideways_scroll(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} scrolls sideways on a phone ({width}px wide)"


async def reload_until(page: Page, selector: str, within_s: float = 45.0, **filters: Any) -> None:
    """Reloads a server-rendered page until `selector` (optionally has_text=…) is on it."""
    loc = page.locator(selector, **filters)
    deadline = asyncio.get_running_loop().time() + within_s
    while await loc.count() == 0:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{selector} {filters} did not appear on {page.url} within {within_s:.0f} s")
        await asyncio.sleep(0.5)
        await page.reload()
