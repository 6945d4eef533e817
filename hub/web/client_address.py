"""Who the client is: the peer address, or — only when the peer is a configured trusted reverse proxy
(`http.trusted_proxies`) — the last address in X-Forwarded-For that is not itself a trusted proxy.

A header from anyone else is ignored: otherwise every client could pick the address the login limit counts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(t, strict=False) for t in trusted)


def _trusted(address: str, nets: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in n for n in nets)


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[str]) -> str:
    """Pure: the client's address from the peer and the X-Forwarded-For header."""
    nets = _networks(tuple(trusted))
    if not peer or not forwarded_for or not _trusted(peer, nets):
        return peer or "?"
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):  # nearest first: each trusted proxy appended the address it saw
        if not _trusted(hop, nets):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a forged or broken entry: count the proxy itself
    return hops[0] if hops else peer


def request_client(request: web.Request, trusted: Sequence[str]) -> str:
    return client_address(request.remote, request.headers.get("X-Forwarded-For"), trusted)
