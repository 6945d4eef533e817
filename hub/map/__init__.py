"""The map feature: camera points and loudspeakers on an offline map with live status (docs/MAP.md)."""
