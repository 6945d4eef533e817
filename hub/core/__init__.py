"""The hub core: config, database, device registry and state, ingest, MQTT bridge, events, stats and the
InfluxDB writer. It knows no feature: alerts, notifications, edge commands and broadcasts plug into it."""
