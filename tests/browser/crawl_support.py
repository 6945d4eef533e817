"""The crawler of tests/browser/test_role_crawl.py (no tests here): one signed-in Chromium page walks every
same-origin link it can reach, breadth-first and bounded, and notes every way a page fails its user.

Links that would download a file or change something are not followed; whether the user's role may use them
(and every form's action) is read from the live router instead, so the check costs no request."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from playwright.async_api import ConsoleMessage, Page, Request

from hub.core.access import ROLE_PERMS, SIGNED_IN
from hub.web.access import PUBLIC, access_of

MAX_PAGES = 60  # per role
MAX_VARIANTS = 3  # query-string variants of one path (calendar weeks, filters, pagers) followed
SETTLE_S = 5.0  # at most this long for a page's own fetches to answer before its links are read
PHONE_WIDTH = 360
NOT_FOLLOWED_PREFIXES = ("/api/", "/media/", "/static/")  # files and data, not pages
NOT_FOLLOWED_SUFFIXES = (".csv", ".pdf", ".mp3")
NOT_FOLLOWED_PATHS = frozenset({"/logout", "/login"})

# Everything on a page that points somewhere: links (with whether they download) and forms (method, action).
READ_TARGETS = """() => ({
  links: [...document.querySelectorAll('a[href]')].map(a => [a.href, a.hasAttribute('download')]),
  forms: [...document.querySelectorAll('form')].map(f => [(f.getAttribute('method') || 'get').toUpperCase(),
                                                         f.action]),
})"""


@dataclass
class CrawlResult:
    visited: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    checked_by_router: set[tuple[str, str]] = field(default_factory=set)


class InFlight:
    """The page's own fetch/XHR requests still waiting for an answer (live event streams are not counted)."""

    def __init__(self, page: Page) -> None:
        self.pending: set[Request] = set()
        self.idle = asyncio.Event()
        self.idle.set()
        page.on("request", self._start)
        page.on("requestfinished", self._end)
        page.on("requestfailed", self._end)

    def _start(self, r: Request) -> None:
        if r.resource_type in ("fetch", "xhr"):
            self.pending.add(r)
            self.idle.clear()

    def _end(self, r: Request) -> None:
        self.pending.discard(r)
        if not self.pending:
            self.idle.set()

    async def settle(self, within_s: float) -> None:
        """Until they have answered, or `within_s` (then the links are read as they are; a slow answer is no
        failure here: timings belong to bench/)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle.wait(), within_s)
        self.pending.clear()
        self.idle.set()


def may_use(role: str, access: str | None) -> bool:
    return access in (PUBLIC, SIGNED_IN) or access in ROLE_PERMS[role]


async def route_access(app: web.Application, method: str, path_qs: str) -> str | None:
    """The access a route declares (hub/web/access.py), or None when no route answers that method and path."""
    match = await app.router.resolve(make_mocked_request(method, path_qs, app=app))
    if match.http_exception is not None:
        return None
    return access_of(match.handler)


def _local(url: str, origin: str) -> str | None:
    """Path and query of a same-origin URL, without its fragment; None for another origin or scheme."""
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != origin:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _followed(path_qs: str, download: bool) -> bool:
    path = urlsplit(path_qs).path
    return not (
        download
        or path in NOT_FOLLOWED_PATHS
        or path.startswith(NOT_FOLLOWED_PREFIXES)
        or path.endswith(NOT_FOLLOWED_SUFFIXES)
    )


async def crawl(page: Page, app: web.Application, origin: str, role: str, start: str) -> CrawlResult:
    """Breadth-first from `start` (already open in `page`). Each page must answer below 400 without sending the
    user to the login form, raise no console or page error and fit a phone's width; every link and form on it
    must be one the role may use."""
    out = CrawlResult()
    errors: list[str] = []
    page.on("console", lambda m: _console(m, page, errors))
    page.on("pageerror", lambda e: errors.append(f"{page.url}: uncaught {e}"))
    inflight = InFlight(page)
    queue: deque[str] = deque([start])
    seen = {start}
    variants: Counter[str] = Counter({urlsplit(start).path: 1})
    while queue and len(out.visited) < MAX_PAGES:
        target = queue.popleft()
        problem = await _open(page, origin, target, inflight)
        out.visited.append(target)
        if problem:
            out.problems.append(f"{role}: {target} {problem}")
            continue
        width = await page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE_WIDTH:
            out.problems.append(f"{role}: {target} is {width} px wide at {PHONE_WIDTH} px")
        found: dict[str, Any] = await page.evaluate(READ_TARGETS)
        for url, download in found["links"]:
            local = _local(url, origin)
            if local is None:
                continue
            if not _followed(local, download):
                await _check_by_router(app, role, "GET", local, target, out)
            elif local not in seen and variants[urlsplit(local).path] < MAX_VARIANTS:
                seen.add(local)
                variants[urlsplit(local).path] += 1
                queue.append(local)
        for method, action in found["forms"]:
            local = _local(action, origin)
            if local is not None:
                await _check_by_router(app, role, method, local, target, out)
    # an error logged after the crawl moved on is still caught, with the address it happened on
    out.problems.extend(f"{role}: {e}" for e in errors)
    return out


def _console(m: ConsoleMessage, page: Page, errors: list[str]) -> None:
    if m.type == "error":
        errors.append(f"{page.url}: console error {m.text}")


async def _open(page: Page, origin: str, target: str, inflight: InFlight) -> str | None:
    resp = await page.goto(origin + target, wait_until="load")
    if resp is None:
        return "gave no response"
    if resp.status >= 400:
        heading = await page.locator("h1").first.inner_text() if await page.locator("h1").count() else ""
        return f"answered {resp.status} ({heading})"
    landed = urlsplit(page.url).path
    if landed == "/login":
        return "sent the user to the login form"
    await inflight.settle(SETTLE_S)
    return None


async def _check_by_router(
    app: web.Application, role: str, method: str, path_qs: str, on: str, out: CrawlResult
) -> None:
    key = (method, path_qs)
    if key in out.checked_by_router:
        return
    out.checked_by_router.add(key)
    access = await route_access(app, method, path_qs)
    if access is None:
        out.problems.append(f"{role}: {on} points to {method} {path_qs}, which no route answers")
    elif not may_use(role, access):
        out.problems.append(f"{role}: {on} offers {method} {path_qs}, which needs {access}")
