"""The client's address, as the login limits and the audit log see it.

Behind a reverse proxy every request comes from the proxy: the limits would then apply to all users at once
(and one stranger could slow everyone). When `http.trusted_proxies` lists the proxy, its `X-Forwarded-For` is
believed, read from the right: the first address that is not a trusted proxy is the client. A header from
anyone else is ignored (a client could write any address in it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(values: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


def _trusted(addr: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(addr.strip())
    except ValueError:
        return False
    return any(ip in n for n in trusted)


def client_address(request: web.Request, trusted: tuple[Network, ...]) -> str:
    peer = request.remote or "?"
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for v in request.headers.getall("X-Forwarded-For", []) for h in v.split(",")]
    for hop in reversed(hops):
        if not hop:
            continue
        if not _trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage after the last trusted hop: not an address to key limits on
    return peer
