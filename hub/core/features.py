"""How a feature plugs into the hub: one declaration (`Feature`), one setup call, one narrow interface.

The idea follows zigbee2mqtt's extensions (every extension gets the same few arguments from the controller)
and Home Assistant's integrations (one setup call registers what the integration brings). A feature declares:

- its config section (key and pydantic model), which the composition root adds to the hub's config model;
- its tables (modules whose import puts them on `hub.core.db.Base.metadata`);
- the folders of files it keeps (`file_dirs`: backups copy them);
- the services it provides and the services it needs (`ServiceKey`s), from which the start order is derived;
- `setup(ctx)`, which builds its parts from a `FeatureContext` (never the whole hub) and registers them:
  components to start and stop, MQTT handlers, fact sources for the alert engine, gauges, services;
- its web side: JSON API routes (documented in the OpenAPI file) and a function that adds its pages.

The core never imports a feature. Features never import each other: what they exchange (alert facts and
notices, digest sections) is typed here or in hub/core/facts.py, and reaches the other side as a service.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from contract import Channel, Kind, Model, Topic
from hub.core.facts import DigestSection, FactSource, FileSink, NoticeSink, ReportSection

if TYPE_CHECKING:
    from aiohttp import web

    from hub.core.config import CoreConfig
    from hub.core.db import Database
    from hub.core.events import EventBus
    from hub.core.influx import InfluxWriter
    from hub.core.ingest import Handler
    from hub.core.leases import Leases
    from hub.core.openapi import ApiRoute
    from hub.core.state import StateStore
    from hub.core.stats import HubStats

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class Component(Protocol):
    """A long-running part of a feature: started after MQTT is up, stopped before it, in reverse order."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class ServiceKey(Generic[T]):
    """The name and type of something a feature offers to others (and to its own web pages)."""

    name: str
    type: type[T]


class ServiceMissing(LookupError):
    pass


class Services:
    """Typed registry of what features provide. A key is provided once; lookups are by key, never by name."""

    def __init__(self) -> None:
        self._items: dict[str, Any] = {}

    def provide(self, key: ServiceKey[T], value: T) -> None:
        if key.name in self._items:
            raise ValueError(f"service {key.name!r} is provided twice")
        if not isinstance(value, key.type):
            raise TypeError(f"service {key.name!r} must be a {key.type.__name__}, not {type(value).__name__}")
        self._items[key.name] = value

    def find(self, key: ServiceKey[T]) -> T | None:
        value = self._items.get(key.name)
        return value if isinstance(value, key.type) else None

    def get(self, key: ServiceKey[T]) -> T:
        value = self.find(key)
        if value is None:
            raise ServiceMissing(f"no feature provides {key.name!r}")
        return value

    def __contains__(self, key: ServiceKey[Any]) -> bool:
        return key.name in self._items


class FactSources:
    """The alert engine's inputs. Any feature adds sources; the engine reads the list at every round."""

    def __init__(self) -> None:
        self.items: list[FactSource] = []

    def add(self, fn: FactSource) -> None:
        self.items.append(fn)


class DigestSections:
    """Lines other features add to the notifier's daily digest (in the order they were added)."""

    def __init__(self) -> None:
        self.items: list[DigestSection] = []

    def add(self, fn: DigestSection) -> None:
        self.items.append(fn)


class ReportSections:
    """Tables other features add to the scheduled reports (in the order they were added)."""

    def __init__(self) -> None:
        self.items: list[ReportSection] = []

    def add(self, fn: ReportSection) -> None:
        self.items.append(fn)


# Services shared between features: the keys live in the core so that neither side imports the other.
FACT_SOURCES = ServiceKey("fact-sources", FactSources)
DIGEST_SECTIONS = ServiceKey("digest-sections", DigestSections)
REPORT_SECTIONS = ServiceKey("report-sections", ReportSections)
# Where report files go to chat groups (the notifier provides it). A protocol, checked at run time.
FILE_SINK: ServiceKey[FileSink] = ServiceKey("file-sink", FileSink)  # type: ignore[type-abstract]
# Where alert notices go (the notifier provides it). A protocol, checked at run time.
NOTICE_SINK: ServiceKey[NoticeSink] = ServiceKey("notice-sink", NoticeSink)  # type: ignore[type-abstract]


@dataclass
class FeatureContext:
    """The narrow interface a feature's setup receives: the core's parts it may use, and where to register."""

    feature: str
    config: CoreConfig
    section: BaseModel | None  # this feature's own config section (None when it declares none)
    db: Database
    events: EventBus
    stats: HubStats
    influx: InfluxWriter | None
    store: StateStore  # camera and agent state (read it; ingest writes it)
    publish: Callable[[Topic, bytes, int, bool], Awaitable[None]]
    services: Services
    # Leader leases of work that must run once among all hubs: `ctx.leases.leader("duty")` (hub/core/leases.py).
    leases: Leases
    # Orders to devices go through here, never through `publish`: the core signs them (contract/orders.py).
    send_order: Callable[[Topic, Model], Awaitable[None]] | None = None
    components: list[Component] = field(default_factory=list)
    # Several hubs: whether this hub holds the partition of a district now (device state there is its to
    # change; elsewhere read it from SQL). Alone: always true.
    owns: Callable[[str], bool] = lambda district: True
    _add_handler: Callable[[Kind, Channel, Handler], None] | None = None
    _replies: Callable[[Topic, Handler], AbstractAsyncContextManager[None]] | None = None

    def settings(self, model: type[M]) -> M:
        """This feature's config section, typed."""
        if not isinstance(self.section, model):
            raise TypeError(f"feature {self.feature} has no config section of type {model.__name__}")
        return self.section

    def add_component(self, component: Component) -> None:
        self.components.append(component)

    def add_handler(self, kind: Kind, channel: Channel, fn: Handler) -> None:
        """Messages of this kind and channel (validated by the contract) go to `fn` on the event loop."""
        assert self._add_handler is not None
        self._add_handler(kind, channel, fn)

    def replies(self, topic: Topic, fn: Handler) -> AbstractAsyncContextManager[None]:
        """While inside, messages on `topic` (a device's reply or event channel) reach `fn` even when another hub
        owns that device's partition; alone, the handlers registered with `add_handler` already get them."""
        if self._replies is None:
            return contextlib.nullcontext()
        return self._replies(topic, fn)

    def add_gauges(self, **gauges: Callable[[], float | int]) -> None:
        """Numbers written with every `hub_stats` point (read every few seconds: keep them cheap)."""
        self.stats.gauges.update(gauges)

    def add_fact_source(self, fn: FactSource) -> None:
        self.services.get(FACT_SOURCES).add(fn)

    def add_digest_section(self, fn: DigestSection) -> None:
        self.services.get(DIGEST_SECTIONS).add(fn)

    def add_report_section(self, fn: ReportSection) -> None:
        self.services.get(REPORT_SECTIONS).add(fn)


def _no_pages(app: web.Application, config: CoreConfig) -> None:
    return None


def _no_dirs(section: Any, data_dir: Path) -> Sequence[Path]:
    return ()


@dataclass(frozen=True)
class Feature:
    """Everything a feature brings to the hub, declared in one place (the feature's `feature.py`)."""

    name: str
    setup: Callable[[FeatureContext], None]
    config_key: str | None = None
    config_model: type[BaseModel] | None = None
    config_description: str = ""
    tables: tuple[str, ...] = ()
    provides: tuple[ServiceKey[Any], ...] = ()
    needs: tuple[ServiceKey[Any], ...] = ()  # must be provided by a feature set up earlier
    after: tuple[ServiceKey[Any], ...] = ()  # used when present: set up after whoever provides them
    api_routes: Sequence[ApiRoute] = ()
    add_pages: Callable[[web.Application, CoreConfig], None] = _no_pages
    # Folders of files the feature keeps, from its config section and the hub's data_dir (backups copy them).
    file_dirs: Callable[[Any, Path], Sequence[Path]] = _no_dirs


def setup_order(features: Iterable[Feature], available: Iterable[ServiceKey[Any]] = ()) -> list[Feature]:
    """Features in an order where each comes after the providers of what it needs or wants.

    `available` are services the composition root provides before any feature. Ties keep the declared
    order, so the order is stable from one start to the next."""
    feats = list(features)
    given = {k.name for k in available}
    providers: dict[str, Feature] = {}
    for f in feats:
        for key in f.provides:
            if key.name in providers:
                raise ValueError(f"{key.name!r} is provided by both {providers[key.name].name} and {f.name}")
            providers[key.name] = f
    graph: TopologicalSorter[str] = TopologicalSorter()
    for f in feats:
        deps = []
        for key in f.needs:
            if key.name in given:
                continue
            if key.name not in providers:
                raise ValueError(f"feature {f.name} needs {key.name!r}, which no feature provides")
            deps.append(providers[key.name].name)
        deps += [providers[k.name].name for k in f.after if k.name in providers]
        graph.add(f.name, *[d for d in deps if d != f.name])
    try:
        graph.prepare()
    except CycleError as exc:
        raise ValueError(f"features depend on each other in a cycle: {exc.args[1]}") from exc
    by_name = {f.name: f for f in feats}
    rank = {f.name: i for i, f in enumerate(feats)}
    out: list[Feature] = []
    while graph.is_active():
        for name in sorted(graph.get_ready(), key=rank.__getitem__):
            out.append(by_name[name])
            graph.done(name)
    return out
