#!/bin/bash
# Runs once, after the InfluxDB 2.x image's own setup (DOCKER_INFLUXDB_INIT_MODE=setup) created the org, the
# bucket and the admin token. It maps the v1 database name to the bucket (DBRP) so InfluxQL dashboards work, and
# gives Grafana a read-only v1 account instead of the admin token.
set -euo pipefail
: "${INFLUX_V1_DB:=ops}"
: "${GRAFANA_INFLUX_PASSWORD:?GRAFANA_INFLUX_PASSWORD must be set (see docker/env.example)}"

influx v1 dbrp create \
  --org "$DOCKER_INFLUXDB_INIT_ORG" \
  --bucket-id "$DOCKER_INFLUXDB_INIT_BUCKET_ID" \
  --db "$INFLUX_V1_DB" \
  --rp autogen \
  --default

influx v1 auth create \
  --org "$DOCKER_INFLUXDB_INIT_ORG" \
  --username grafana \
  --password "$GRAFANA_INFLUX_PASSWORD" \
  --read-bucket "$DOCKER_INFLUXDB_INIT_BUCKET_ID" \
  --description "Grafana (read only)"
