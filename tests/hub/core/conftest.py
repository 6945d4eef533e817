"""Tests of the hub's core (hub/core/): ingest, state, SQL persistence, MQTT, InfluxDB writer, auth, reports."""
