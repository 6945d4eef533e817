"""The software version a device reports in its retained status (the installed `commune-ops` package)."""

from __future__ import annotations

from importlib import metadata


def agent_version() -> str:
    try:
        return metadata.version("commune-ops")
    except metadata.PackageNotFoundError:
        return "0+unknown"


VERSION = agent_version()
