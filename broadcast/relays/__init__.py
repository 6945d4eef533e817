"""Relays of upstream stations (tiếp âm): the administrators' allow-list, relay content, the hub's re-streamer
that watches the upstream, and the per-airing relay report."""
