"""Hub: MQTT ingest, state in SQL, metrics in InfluxDB, web app and JSON API."""
