"""Builds the aiohttp application: middlewares, pages, JSON API, live stream, static assets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aiohttp import web

from hub.core import openapi
from hub.core.config import CoreConfig
from hub.core.db import Database
from hub.core.events import EventBus
from hub.core.features import Feature, Services
from hub.web import files
from hub.web.admin import accounts as admin_accounts
from hub.web.admin import area_merge as admin_area_merge
from hub.web.admin import areas as admin_areas
from hub.web.admin import audit as admin_audit
from hub.web.admin import csv_import as admin_import
from hub.web.admin import devices as admin_devices
from hub.web.admin import points as admin_points
from hub.web.admin import users as admin_users
from hub.web.api import cameras as api_cameras
from hub.web.api import events as api_events
from hub.web.api import history as api_history
from hub.web.api import misc as api_misc
from hub.web.api import points as api_points
from hub.web.api import reports as api_reports
from hub.web.api import snapshots as api_snapshots
from hub.web.context import CTX, WebContext
from hub.web.errors import errors_middleware
from hub.web.pages import account, login
from hub.web.pages import cameras as pages
from hub.web.pages import reports as reports_page
from hub.web.render import asset_hashes, make_environment
from hub.web.security import add_security_headers, auth_middleware
from hub.web.validation import checked
from hub.web.views import ViewSource

if TYPE_CHECKING:
    from hub.core.runtime import HubCore

# The core's own API; each feature adds its routes after these (Feature.api_routes).
CORE_API_ROUTES: list[openapi.ApiRoute] = [
    *api_cameras.ROUTES,
    *api_misc.ROUTES,
    *api_events.ROUTES,
    *api_reports.ROUTES,
    *api_history.ROUTES,
    *api_snapshots.ROUTES,
    *api_points.ROUTES,
    *admin_audit.ROUTES,
    *admin_import.ROUTES,
    *admin_accounts.ROUTES,
    *admin_area_merge.ROUTES,
]
# Without the hub runtime in the process, the camera views follow SQL this far behind (with it: its flushes).
VIEWS_MAX_AGE_S = 2.0
MAX_REQUEST_BYTES = 64 * 1024  # forms only so far; uploads (audio) get their own limit on their route


def api_routes(features: Sequence[Feature] = ()) -> list[openapi.ApiRoute]:
    """The JSON API: the core's routes, then each feature's (what the app registers and documents)."""
    return [*CORE_API_ROUTES, *(r for f in features for r in f.api_routes)]


async def _on_shutdown(app: web.Application) -> None:
    app[CTX].closing.set()  # live streams end, so shutdown does not wait for them


def create_app(
    config: CoreConfig,
    db: Database,
    events: EventBus,
    stats: Callable[[], dict[str, Any]],
    hub: HubCore | None = None,
    services: Services | None = None,
    features: Sequence[Feature] = (),
) -> web.Application:
    """The core's pages and API plus each feature's (the composition root, hub/compose.py, passes them)."""
    tz = ZoneInfo(config.timezone)
    assets = asset_hashes()
    app = web.Application(middlewares=[errors_middleware, auth_middleware], client_max_size=MAX_REQUEST_BYTES)
    app[CTX] = WebContext(
        config,
        db,
        events,
        stats,
        make_environment(assets, tz),
        tz,
        assets,
        ViewSource(db, config, hub.web_views if hub is not None else None, VIEWS_MAX_AGE_S),
        hub=hub,
        services=services if services is not None else Services(),
    )
    routes = api_routes(features)
    app[api_misc.ROUTE_TABLE] = routes
    app.on_response_prepare.append(add_security_headers)
    app.on_shutdown.append(_on_shutdown)

    files.add_routes(app)
    app.router.add_get("/login", login.login_form)
    app.router.add_post("/login", login.login_submit)
    app.router.add_post("/logout", login.logout)
    app.router.add_get("/", pages.wall)
    app.router.add_get("/reports", reports_page.report_page)
    slug = api_cameras.SLUG
    app.router.add_get(
        f"/cameras/{{district:{slug}}}/{{commune:{slug}}}/{{camera:{slug}}}", pages.camera_page
    )
    for module in (
        admin_users,
        admin_areas,
        admin_area_merge,
        admin_devices,
        admin_points,
        admin_accounts,
        admin_import,
        admin_audit,
        account,
    ):
        module.add_routes(app)
    for feature in features:
        feature.add_pages(app, config)
    for route in routes:
        app.router.add_route(route.method, route.full_path, checked(route))
    return app
