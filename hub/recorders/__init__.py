"""Recorder (NVR/DVR) health as a hub feature: ingest, SQL, InfluxDB, API and page (docs/ALERTS.md, PROTOCOL.md)."""
